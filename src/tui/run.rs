//! The event loop: terminal input, store results, store change events, the sync status and
//! a 1 Hz tick (only while something on screen ages) in one `select!`; one draw per batch
//! of events, and only when something changed.
//!
//! Commands go to one executor task that runs them on the store worker in order, so a
//! scanner's lookups come back in the order they were typed and the UI never waits.

use std::time::Duration;

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::{broadcast, mpsc, watch};

use super::action::{Action, Command};
use super::heartbeat::SyncView;
use super::login::StaffGate;
use super::notice::event_action;
use super::state::{Settings, State};
use super::{draw, exec, init, update};
use crate::config::Config;
use crate::remote::RemoteClient;
use crate::store::{StoreEvent, StoreHandle};
use crate::sync::{SyncEngine, SyncEvent, SyncStatus};

/// Opens the full-screen console on `store` until the user quits, with the sync engine
/// running in the same process (it reports "not configured" when no server is set up).
pub fn run(store: StoreHandle, settings: Settings, config: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .wrap_err("cannot start the console's runtime")?;
    // ratatui::init enters raw mode and the alternate screen, and wraps the panic hook
    // (color-eyre's, installed in main) so that a panic restores the terminal first.
    let mut terminal = ratatui::init();
    let result = runtime.block_on(async {
        let engine = SyncEngine::start(store.clone(), config);
        let status = engine.status();

        // A receipt of another till is looked up on the server, when there is one.
        let remote = if config.remote.is_configured() {
            RemoteClient::new(&config.remote).ok()
        } else {
            None
        };
        let result = event_loop(
            &mut terminal,
            store,
            settings,
            config,
            remote,
            status,
            &engine,
        )
        .await;
        engine.shutdown().await;
        result
    });
    ratatui::restore();
    result
}

/// Where the console's commands go: store work to the executor, engine requests to the
/// engine, a server lookup of another till's sale to a task of its own.
struct Outlets<'a> {
    commands: mpsc::UnboundedSender<Command>,
    engine: &'a SyncEngine,
    remote: Option<RemoteClient>,
    store: StoreHandle,
    actions: mpsc::UnboundedSender<Action>,
}

fn send_all(out: &Outlets, cmds: Vec<Command>) {
    let tx = &out.commands;
    for c in cmds {
        match c {
            Command::SyncNow => out.engine.sync_now(),
            Command::LookupSaleOnServer { sale_id } => {
                let (remote, store, actions) =
                    (out.remote.clone(), out.store.clone(), out.actions.clone());
                tokio::spawn(async move {
                    let a = exec::look_up_on_server(remote.as_ref(), &store, sale_id).await;
                    let _ = actions.send(a);
                });
            }
            // The executor only stops when the loop does.
            c => {
                let _ = tx.send(c);
            }
        }
    }
}

async fn executor(
    store: StoreHandle,
    mut commands: mpsc::UnboundedReceiver<Command>,
    actions: mpsc::UnboundedSender<Action>,
    mut session: exec::Session,
) {
    // `session.who`: who the documents that follow are recorded against (the logged-in
    // staff member).
    while let Some(cmd) = commands.recv().await {
        if session.take_staff(&cmd) {
            continue;
        }
        if let Some(a) = exec::execute_as(&store, cmd, &session).await {
            if actions.send(a).is_err() {
                break;
            }
        }
    }
}

async fn sync_changed(sync: &mut Option<watch::Receiver<SyncStatus>>) -> Option<SyncView> {
    match sync {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(SyncView::from(&*rx.borrow_and_update())),
            Err(_) => {
                *sync = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

/// How often the console checks whether another process (a technician's console, `kassa
/// sell`, `kassa sync`) changed the database: one `PRAGMA data_version` on the store thread.
const OTHER_PROCESS_POLL: Duration = Duration::from_secs(2);

/// Turns commits by other processes into `StoreChanged` (the store's own events only cover
/// this process). `data_version` changes only when another connection commits.
async fn watch_other_processes(store: StoreHandle, actions: mpsc::UnboundedSender<Action>) {
    let read = |db: &mut crate::store::Db| -> Option<i64> {
        db.conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .ok()
    };
    let mut last = store.call(read).await.ok().flatten();
    let mut every = tokio::time::interval(OTHER_PROCESS_POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Ok(now) = store.call(read).await else {
            return;
        };
        if now != last {
            last = now;
            if actions.send(Action::StoreChanged).is_err() {
                return;
            }
        }
    }
}

async fn sync_event(rx: &mut Option<broadcast::Receiver<SyncEvent>>) -> Option<SyncEvent> {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    loop {
        match r.recv().await {
            Ok(e) => return Some(e),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => {
                *rx = None;
                return None;
            }
        }
    }
}

/// Waits for the next store change; a burst of changes counts as one reload.
async fn store_changed(rx: &mut Option<broadcast::Receiver<StoreEvent>>) -> Option<()> {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    match r.recv().await {
        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
            while r.try_recv().is_ok() {}
            Some(())
        }
        Err(broadcast::error::RecvError::Closed) => {
            *rx = None;
            None
        }
    }
}

async fn staff_gate(
    store: &StoreHandle,
    idle_lock_s: u64,
    limits: crate::domain::RoleLimits,
) -> Result<Option<StaffGate>> {
    let read =
        move |db: &mut crate::store::Db| -> Result<Option<StaffGate>, crate::store::StoreError> {
            if !db.has_staff()? {
                return Ok(None);
            }
            let staff = exec::staff_views(db)?;
            let shift = db.current_shift()?.map(|s| exec::shift_view(db, &s));
            let mut gate = StaffGate::new(staff, idle_lock_s, Utc::now());
            gate.shift = shift;
            gate.limits = limits;
            Ok(Some(gate))
        };
    store
        .call(read)
        .await
        .wrap_err("cannot read the staff")?
        .wrap_err("cannot read the staff")
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    store: StoreHandle,
    settings: Settings,
    config: &Config,
    remote: Option<RemoteClient>,
    mut status: watch::Receiver<SyncStatus>,
    engine: &SyncEngine,
) -> Result<()> {
    let policy = config.refund_policy();
    let idle_lock_s = config.staff.idle_lock_seconds;
    let size = terminal.size().wrap_err("cannot read the terminal size")?;
    let mut st = State::new(settings, Utc::now(), size.width, size.height);
    st.refund_policy = policy;
    st.server_lookup = remote.is_some();
    // With staff the console opens locked: read them (and the open shift) before the first
    // draw, so that nothing of the till shows before a PIN.
    st.staff = staff_gate(&store, idle_lock_s, config.staff.limits()).await?;
    st.heartbeat.sync = SyncView::from(&*status.borrow_and_update());
    let mut sync = Some(status);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (act_tx, mut act_rx) = mpsc::unbounded_channel();
    let mut store_events = Some(store.subscribe());
    let mut sync_events = Some(engine.events());
    tokio::spawn(watch_other_processes(store.clone(), act_tx.clone()));
    let out = Outlets {
        commands: cmd_tx,
        engine,
        remote,
        store: store.clone(),
        actions: act_tx.clone(),
    };
    // Receipts: laid out from config, printed by a worker whose outcomes come back as actions.
    let printer = super::printing::start(config, act_tx.clone());
    st.receipts.printer = printer.is_some();
    st.receipts.print_after_sale = config.printer.print_after_sale;
    let session = exec::Session {
        lockout: config.staff.lockout(),
        receipt: crate::receipt::ReceiptSetup::from_config(config),
        printer,
        ..exec::Session::default()
    };
    tokio::spawn(executor(store, cmd_rx, act_tx, session));
    send_all(&out, init(&mut st));

    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        if st.dirty {
            terminal
                .draw(|f| draw(f, &st))
                .wrap_err("cannot draw the console")?;
            st.dirty = false;
        }
        if st.quit {
            return Ok(());
        }
        let ticking = st.needs_tick();
        let action = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => Action::Key(key),
                Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).wrap_err("cannot read the terminal"),
                None => return Ok(()),
            },
            Some(a) = act_rx.recv() => a,
            Some(()) = store_changed(&mut store_events) => Action::StoreChanged,
            Some(view) = sync_changed(&mut sync) => Action::SyncChanged(view),
            Some(ev) = sync_event(&mut sync_events) => match event_action(&ev) {
                Some(a) => a,
                None => continue,
            },
            _ = tick.tick(), if ticking => Action::Tick(Utc::now()),
        };
        st.now = Utc::now();
        send_all(&out, update(&mut st, action));
        // Take everything else that is already there before drawing once.
        while let Ok(a) = act_rx.try_recv() {
            send_all(&out, update(&mut st, a));
        }
    }
}
