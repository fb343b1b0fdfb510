//! The pure heart of the console: `update(&mut State, Action) -> Vec<Command>`.
//!
//! No I/O, no clock reads: time arrives in `Tick` actions and data in result actions, so every
//! key sequence can be replayed in a unit test.

use crossterm::event::{KeyEvent, KeyEventKind};
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::keymap::{self, Context, KeyCmd};
use super::layout;
use super::model::ReceiptPurpose;
use super::state::{Confirm, Focus, Popup, State};
use super::{approval, conflicts, login, notice, queue, receipt, refund, sales, shift, void};

/// The commands to send when the console starts: everything shown is loaded once.
pub fn init(st: &mut State) -> Vec<Command> {
    let mut cmds = vec![Command::LoadStatus, Command::LoadConflicts];
    cmds.extend(sync_layout(st));
    cmds.push(st.queue.load());
    cmds
}

pub fn update(st: &mut State, action: Action) -> Vec<Command> {
    let mut cmds = match action {
        Action::Key(key) => on_key(st, key),
        Action::Resize(w, h) => {
            st.width = w;
            st.height = h;
            Vec::new()
        }
        Action::Tick(now) => {
            st.now = now;
            login::on_tick(st);
            Vec::new()
        }
        Action::StoreChanged => {
            let mut c = vec![Command::LoadStatus, Command::LoadConflicts, st.queue.load()];
            if st.staff.is_some() {
                // A shift opened or closed by `kassa shift` in another process.
                c.push(Command::LoadShift);
            }
            c
        }
        Action::ProductLooked { code, qty, product } => {
            sales::on_product(st, &code, qty, product);
            Vec::new()
        }
        Action::SearchResults { query, products } => {
            sales::on_search(st, &query, products);
            Vec::new()
        }
        Action::SaleCommitted(result) => {
            let saved = result.as_ref().ok().map(|s| s.seq);
            let mut c = sales::on_committed(st, result);
            c.extend(receipt::after_sale(st, saved));
            c.push(st.queue.load());
            c
        }
        Action::ReceiptLoaded(result) => {
            receipt::on_loaded(st, result);
            Vec::new()
        }
        Action::PrintQueued { .. } => Vec::new(),
        Action::Printed { seq, result } => receipt::on_printed(st, seq, result),
        Action::PrintsRetried(result) => {
            receipt::on_retried(st, result);
            Vec::new()
        }
        Action::ReceiptLooked {
            receipt,
            purpose,
            result,
        } => match purpose {
            ReceiptPurpose::Refund => refund::on_receipt(st, receipt, result),
            ReceiptPurpose::Void => {
                void::on_receipt(st, receipt, result);
                Vec::new()
            }
        },
        Action::ServerSaleLooked { receipt, result } => {
            refund::on_server_receipt(st, receipt, result);
            Vec::new()
        }
        Action::ReturnItemLooked { code, qty, product } => {
            refund::on_item(st, &code, qty, product);
            Vec::new()
        }
        Action::RefundCommitted(result) => refund::on_committed(st, result),
        Action::ShiftLoaded(shift) => {
            if let Some(g) = st.staff.as_mut() {
                g.shift = shift;
            }
            Vec::new()
        }
        Action::ShiftOpened(result) => {
            shift::on_opened(st, result);
            vec![Command::LoadStatus]
        }
        Action::CashMoved { kind, result } => {
            shift::on_cash(st, kind, result);
            vec![Command::LoadStatus]
        }
        Action::ShiftClosed(result) => {
            shift::on_closed(st, result);
            vec![Command::LoadStatus]
        }
        Action::ShiftTotalsLoaded(result) => {
            shift::on_totals(st, result);
            Vec::new()
        }
        Action::PinChecked { staff_id, result } => {
            let accepted = result.as_ref().ok().map(|s| s.id);
            login::on_checked(st, staff_id, result);
            match accepted {
                Some(id) => vec![Command::SetStaff { staff_id: Some(id) }],
                None => Vec::new(),
            }
        }
        Action::ApprovalChecked { staff_id, result } => approval::on_checked(st, staff_id, result),
        Action::VoidCommitted(result) => void::on_committed(st, result),
        Action::QueueLoaded {
            filter,
            offset,
            total,
            rows,
        } => queue::on_loaded(st, filter, offset, total, rows),
        Action::OpDetailLoaded(detail) => {
            match detail {
                Some(detail) => st.popup = Some(Popup::OpDetail { detail, scroll: 0 }),
                None => st.flash(super::state::FlashLevel::Error, "that op is gone"),
            }
            Vec::new()
        }
        Action::OpRetried { seq, requeued } => queue::on_retried(st, seq, requeued),
        Action::ConflictsLoaded(items) => {
            conflicts::on_loaded(st, items);
            Vec::new()
        }
        Action::ResolutionQueued(result) => conflicts::on_queued(st, result),
        Action::StatusLoaded(local) => {
            let now = st.now;
            st.heartbeat.set_local(local, now);
            Vec::new()
        }
        Action::SyncChanged(view) => {
            st.heartbeat.sync = view;
            Vec::new()
        }
        Action::Failed(text) => {
            st.flash(super::state::FlashLevel::Error, text);
            Vec::new()
        }
        Action::Notice(level, text) => {
            st.flash(level, text);
            Vec::new()
        }
        Action::ProductsSkipped {
            skipped,
            cleared,
            total,
        } => {
            if let Some((level, text)) = notice::products_skipped(skipped, cleared, total) {
                st.flash(level, text);
            }
            // The heartbeat's count comes from the store, like the rest of the local status.
            vec![Command::LoadStatus]
        }
    };
    cmds.extend(sync_layout(st));
    st.dirty = true;
    cmds
}

/// Keeps the queue's page size equal to the rows on screen.
fn sync_layout(st: &mut State) -> Vec<Command> {
    let area = Rect::new(0, 0, st.width, st.height);
    let screen = layout::screen(area, st.focus, st.settings.technician);
    match screen.queue_rows() {
        Some(rows) => st.queue.set_page(rows),
        None => Vec::new(),
    }
}

fn input_empty(st: &State, ctx: Context) -> bool {
    match ctx {
        Context::SalesEntry => st.sales.input.value().is_empty(),
        Context::RefundLines | Context::RefundBlind => st
            .refund
            .as_ref()
            .is_none_or(|r| r.input.value().is_empty()),
        c if c.types_text() => false,
        _ => true,
    }
}

fn on_key(st: &mut State, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    st.flash = None;
    login::touched(st);
    let mut ctx = st.context();
    if ctx == Context::Receipt {
        if let Some(cmds) = receipt::on_key(st, keymap::lookup(ctx, &key, true)) {
            return cmds;
        }
        // Not a key of the receipt: it closed, and the key does what it does behind it.
        ctx = st.context();
    }
    let cmd = keymap::lookup(ctx, &key, input_empty(st, ctx));
    match cmd {
        Some(KeyCmd::Quit) => return quit(st),
        Some(KeyCmd::Help) => {
            st.popup = Some(Popup::Help);
            return Vec::new();
        }
        Some(KeyCmd::NextPane) => return focus(st, st.focus.next()),
        Some(KeyCmd::PrevPane) => return focus(st, st.focus.prev()),
        Some(KeyCmd::FocusSales) => return focus(st, Focus::Sales),
        Some(KeyCmd::FocusQueue) => return focus(st, Focus::Queue),
        Some(KeyCmd::FocusConflicts) => return focus(st, Focus::Conflicts),
        Some(KeyCmd::Lock) => {
            login::lock(st, "locked");
            return Vec::new();
        }
        Some(KeyCmd::RetryPrints) => return receipt::retry_failed(st),
        Some(KeyCmd::LastReceipt) => return receipt::show_last(st),
        Some(KeyCmd::ShowReceipt) => return receipt::show_selected(st),
        Some(KeyCmd::SyncNow) => {
            st.flash(super::state::FlashLevel::Info, "sync requested");
            return vec![Command::SyncNow];
        }
        _ => {}
    }
    match ctx {
        // Answered by `receipt::on_key` above.
        Context::Receipt => Vec::new(),
        Context::Help => {
            if cmd.is_some() {
                st.popup = None;
            }
            Vec::new()
        }
        Context::Confirm => on_confirm(st, cmd),
        Context::OpDetail => on_detail(st, cmd),
        Context::ResolveForm => conflicts::on_form_key(st, cmd, &key),
        Context::RefundForm => refund::form::on_form_key(st, cmd, &key),
        Context::VoidForm => void::on_form_key(st, cmd, &key),
        Context::Approval => approval::on_key(st, cmd, &key),
        Context::RefundReceipt | Context::RefundLines | Context::RefundBlind => {
            refund::on_key(st, cmd, &key)
        }
        Context::Login => login::on_key(st, cmd, &key),
        Context::ShiftOpen
        | Context::ShiftMenu
        | Context::ShiftCash
        | Context::ShiftCount
        | Context::ShiftResult => shift::on_key(st, cmd, &key),
        Context::Queue => queue::on_key(st, cmd),
        Context::Conflicts => conflicts::on_key(st, cmd),
        Context::SalesEntry | Context::SalesSearch | Context::SalesAmount | Context::Global => {
            if cmd == Some(KeyCmd::Shift) {
                return shift::start(st);
            }
            if shift::needs_shift(st) && rings_up(cmd) {
                shift::offer_open(st);
                st.flash(
                    super::state::FlashLevel::Error,
                    "no open shift: count the opening float first",
                );
                return Vec::new();
            }
            sales::on_key(st, cmd, &key)
        }
    }
}

/// Keys that start or pay a sale or a refund: not without an open shift (when staffed).
fn rings_up(cmd: Option<KeyCmd>) -> bool {
    matches!(
        cmd,
        Some(KeyCmd::Submit | KeyCmd::PayCash | KeyCmd::PayCard | KeyCmd::Refund)
    )
}

fn quit(st: &mut State) -> Vec<Command> {
    if st.refund.as_ref().is_some_and(|r| r.in_progress()) {
        st.popup = Some(Popup::Confirm(Confirm::QuitDiscardingRefund));
        Vec::new()
    } else if st.sales.in_progress() {
        st.popup = Some(Popup::Confirm(Confirm::QuitDiscardingSale));
        Vec::new()
    } else {
        st.quit = true;
        vec![Command::Quit]
    }
}

fn focus(st: &mut State, to: Focus) -> Vec<Command> {
    st.focus = to;
    Vec::new()
}

fn on_confirm(st: &mut State, cmd: Option<KeyCmd>) -> Vec<Command> {
    let Some(Popup::Confirm(what)) = st.popup else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Yes) => {
            st.popup = None;
            match what {
                Confirm::QuitDiscardingRefund => {
                    if st.refund.as_ref().is_some_and(|r| r.committing) {
                        st.flash(
                            super::state::FlashLevel::Info,
                            "the refund is being saved; quit after it is",
                        );
                        return Vec::new();
                    }
                    st.quit = true;
                    vec![Command::Quit]
                }
                Confirm::QuitDiscardingSale => {
                    if st.sales.mode == sales::SalesMode::Committing {
                        // The commit is already with the store: wait for its answer.
                        st.flash(
                            super::state::FlashLevel::Info,
                            "the sale is being saved; quit after it is",
                        );
                        return Vec::new();
                    }
                    st.quit = true;
                    vec![Command::Quit]
                }
                Confirm::VoidSale => {
                    if st.sales.mode != sales::SalesMode::Committing {
                        st.sales.cart.clear();
                        st.sales.selected = None;
                        st.sales.approved_by = None;
                        st.flash(super::state::FlashLevel::Info, "sale voided, nothing saved");
                    }
                    Vec::new()
                }
            }
        }
        Some(KeyCmd::No) => {
            st.popup = None;
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn on_detail(st: &mut State, cmd: Option<KeyCmd>) -> Vec<Command> {
    let Some(Popup::OpDetail { scroll, .. }) = &mut st.popup else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Cancel) => st.popup = None,
        Some(KeyCmd::Up) => *scroll = scroll.saturating_sub(1),
        Some(KeyCmd::Down) => *scroll = scroll.saturating_add(1).min(500),
        Some(KeyCmd::Retry) => return queue::retry_selected(st),
        Some(KeyCmd::VoidCompleted) => return void::start_from_queue(st),
        _ => {}
    }
    Vec::new()
}
