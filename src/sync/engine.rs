//! [`SyncEngine`]: starts the lease, heartbeat, push and pull workers on the current tokio
//! runtime, hands out the status and event channels, and shuts everything down cleanly.

use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

use super::session::SessionKeeper;
use super::shared::{EngineOptions, Shared};
use super::status::{Connectivity, SyncEvent, SyncStatus};
use super::{heartbeat, lease, pull, push};
use crate::config::Config;
use crate::remote::RemoteClient;
use crate::store::StoreHandle;

/// The running sync engine of one till database.
pub struct SyncEngine {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Builds the shared context; without a usable remote the status says why.
pub(crate) fn shared(
    store: StoreHandle,
    config: &Config,
    opts: EngineOptions,
) -> (Arc<Shared>, watch::Sender<bool>) {
    let (client, session, connectivity, error) = credentials(&store, config);
    let mut status = SyncStatus::new(connectivity);
    status.last_error = error;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (events, _) = broadcast::channel(1024);
    let sh = Arc::new(Shared {
        store,
        client,
        session,
        opts,
        status: watch::channel(status).0,
        events,
        push_wake: Notify::new(),
        push_reset: AtomicBool::new(false),
        pull_wake: Notify::new(),
        skew_ms: AtomicI64::new(0),
        holder: uuid::Uuid::new_v4().to_string(),
        lease_held: AtomicBool::new(false),
        stopping: stop_rx,
    });
    (sh, stop_tx)
}

type Credentials = (
    Option<RemoteClient>,
    Option<SessionKeeper>,
    Connectivity,
    Option<String>,
);

/// The till's credentials: an enrolled session (`kassa enroll`, in the database) wins over a
/// static `remote.device_token`; without either the engine is unconfigured.
fn credentials(store: &StoreHandle, config: &Config) -> Credentials {
    let stored = store.call_wait(|db| db.device_session());
    let session = match stored {
        Ok(Ok(s)) => s,
        Ok(Err(e)) | Err(e) => {
            let why = format!("cannot read the till's session: {e}");
            return (None, None, Connectivity::Unconfigured, Some(why));
        }
    };
    if let Some(s) = session {
        let built = RemoteClient::with_token(&s.url, &s.anon_key, &s.access_token, &config.remote)
            .and_then(|c| SessionKeeper::new(&s, &config.remote).map(|k| (c, k)));
        return match built {
            Ok((c, k)) => (Some(c), Some(k), Connectivity::Connecting, None),
            Err(e) => (None, None, Connectivity::Unconfigured, Some(e.to_string())),
        };
    }
    if !config.remote.is_configured() {
        return (None, None, Connectivity::Unconfigured, None);
    }
    match RemoteClient::new(&config.remote) {
        Ok(c) => (Some(c), None, Connectivity::Connecting, None),
        Err(e) => (None, None, Connectivity::Unconfigured, Some(e.to_string())),
    }
}

fn rng(opts: &EngineOptions, stream: u64) -> StdRng {
    match opts.seed {
        Some(seed) => StdRng::seed_from_u64(seed.wrapping_add(stream)),
        None => StdRng::from_os_rng(),
    }
}

/// Runs a worker and restarts it (after a second) if it panics, until the engine stops.
/// `make` gets the shared context and the restart count.
fn supervise<F, Fut>(sh: Arc<Shared>, name: &'static str, make: F) -> JoinHandle<()>
where
    F: Fn(Arc<Shared>, u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut restarts = 0u64;
        loop {
            match tokio::spawn(make(sh.clone(), restarts)).await {
                Err(e) if e.is_panic() && !sh.is_stopping() => {
                    restarts += 1;
                    tracing::error!(worker = name, restarts, "sync worker panicked; restarting");
                    sh.status.send_modify(|s| {
                        s.last_error = Some(format!("the {name} worker crashed and was restarted"))
                    });
                    if sh.sleep_or_stop(Duration::from_secs(1)).await {
                        break;
                    }
                }
                _ => break,
            }
        }
    })
}

impl SyncEngine {
    /// Starts the engine with timings from the config. Must be called inside a tokio runtime.
    pub fn start(store: StoreHandle, config: &Config) -> SyncEngine {
        SyncEngine::start_with(store, config, EngineOptions::from_config(config))
    }

    pub fn start_with(store: StoreHandle, config: &Config, opts: EngineOptions) -> SyncEngine {
        let (sh, stop) = shared(store, config, opts);
        let mut tasks = Vec::new();
        if sh.client.is_some() {
            tasks.push(supervise(sh.clone(), "lease", |sh, _| lease::run(sh)));
            tasks.push(supervise(sh.clone(), "heartbeat", |sh, n| {
                let r = rng(&sh.opts, 10 + n);
                heartbeat::run(sh, r)
            }));
            tasks.push(supervise(sh.clone(), "push", |sh, n| {
                let r = rng(&sh.opts, 20 + n);
                push::run(sh, r)
            }));
            tasks.push(supervise(sh.clone(), "pull", |sh, n| {
                let r = rng(&sh.opts, 30 + n);
                pull::run(sh, r)
            }));
        } else {
            let s = sh.clone();
            tasks.push(tokio::spawn(async move {
                s.persist_status().await;
            }));
        }
        SyncEngine {
            shared: sh,
            stop,
            tasks,
        }
    }

    /// The status snapshot, updated as things change.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.shared.status.subscribe()
    }

    /// What the engine does, as it does it.
    pub fn events(&self) -> broadcast::Receiver<SyncEvent> {
        self.shared.events.subscribe()
    }

    /// Push now (e.g. the console's "sync now" key), skipping any backoff.
    pub fn sync_now(&self) {
        self.shared.wake_push(true);
        self.shared.pull_wake.notify_one();
    }

    /// Stops every worker (an in-flight request is abandoned: its ops stay pending and the
    /// server recognises them when they are sent again), releases the lease, persists status.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!("sync worker ended abnormally: {e}");
            }
        }
        self.shared.persist_status().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::store::StoreOptions;

    #[tokio::test]
    async fn a_worker_that_panics_is_restarted_and_the_crash_is_shown() {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreHandle::open(&dir.path().join("t.db"), StoreOptions::default()).unwrap();
        let config = Config::default();
        let (sh, _stop) = shared(store, &config, EngineOptions::from_config(&config));
        let runs = Arc::new(AtomicU64::new(0));
        let seen = runs.clone();
        let task = supervise(sh.clone(), "test", move |_, restarts| {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                assert!(restarts > 0, "first run crashes");
            }
        });
        task.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let err = sh.status.borrow().last_error.clone().unwrap_or_default();
        assert!(err.contains("restarted"), "{err}");
    }
}
