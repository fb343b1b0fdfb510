//! Runs the console's [`Command`]s on the store worker and turns the answers into [`Action`]s.
//!
//! Each command becomes one job on the store thread; the console never waits for it. The
//! same mapping serves the async event loop ([`execute`]) and tests or tools without a
//! runtime ([`execute_blocking`]). The one network command, a lookup of another till's sale
//! on the server, is [`look_up_on_server`], which the event loop runs as its own task.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::action::{Action, Command};
use super::model::{CashKind, PinRefusal, ShiftClosedView, ShiftTotalsView, ShiftView, StaffView};
use super::model::{
    ConflictItem, LocalStatusView, OpDetailView, QueueFilterView, QueueItem, ReceiptView,
    RefundOrder, RefundSaved, SaleSaved, VoidSaved,
};
use crate::domain::{
    Attribution, CashMovementKind, Currency, LockoutPolicy, ReceiptRef, RefundPick, RefundPolicy,
};
use crate::remote::RemoteClient;
use crate::store::{ApprovalCheck, PinCheck, ShiftSummary};
use crate::store::{
    BlindItem, ConflictRow, Db, LocalStatus, QueueFilter, QueueRow, RefundItems, RefundableSale,
    StoreError, StoreHandle,
};

/// How many products a name search shows.
const SEARCH_LIMIT: usize = 20;

pub(super) type Job = Box<dyn FnOnce(&mut Db) -> Action + Send>;

fn filter(f: QueueFilterView) -> QueueFilter {
    match f {
        QueueFilterView::All => QueueFilter::All,
        QueueFilterView::Pending => QueueFilter::Pending,
        QueueFilterView::Rejected => QueueFilter::Rejected,
        QueueFilterView::Sent => QueueFilter::Sent,
    }
}

fn item(r: QueueRow) -> QueueItem {
    QueueItem {
        seq: r.seq,
        kind: r.kind,
        state: r.state,
        created_at: r.created_at,
        total_cents: r.total_cents,
        attempts: r.attempts,
        last_error: r.last_error,
        reject_code: r.reject_code,
    }
}

fn conflict(row: ConflictRow) -> ConflictItem {
    let c = row.conflict;
    ConflictItem {
        id: c.id,
        kind: c.kind,
        status: c.status,
        sku: c.sku,
        sale_id: c.sale_id,
        details: c.details,
        resolution: c.resolution,
        line_no: c.line_no,
        count_id: c.count_id,
        created_at: c.created_at,
        resolved_at: c.resolved_at,
        queued_action: row.queued_action,
    }
}

/// The local status as the heartbeat shows it.
pub fn local_status(s: LocalStatus) -> LocalStatusView {
    LocalStatusView {
        pending: s.pending,
        sent: s.sent,
        rejected: s.rejected,
        oldest_pending_age_s: s.oldest_pending_age_s,
        conflicts_open: s.conflicts_open,
        last_sync_at: s
            .last_sync_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        last_error: s.last_error,
        skipped_products: s.skipped_products,
        print_failures: 0,
        last_print_failure: None,
    }
}

fn receipt_view(s: RefundableSale) -> ReceiptView {
    ReceiptView {
        sale_id: s.sale.sale_id,
        seq: s.seq,
        paid_cents: s.sale.due_cents(),
        created_at: s.sale.created_at,
        tenders: s.sale.tenders,
        voided: s.voided,
        lines: s.lines,
    }
}

/// Commits the refund the cashier confirmed: against its receipt, or without one.
fn commit_refund(
    db: &mut Db,
    order: &RefundOrder,
    currency: Currency,
    policy: &RefundPolicy,
    who: &Attribution,
) -> Result<RefundSaved, String> {
    let now = Utc::now();
    let receipt = match order.sale_id {
        Some(sale_id) => {
            let picks = order
                .lines
                .iter()
                .filter_map(|l| {
                    Some(RefundPick {
                        original_line_no: l.original_line_no?,
                        qty: l.qty,
                        restock: l.restock,
                    })
                })
                .collect();
            db.commit_refund_as(
                &ReceiptRef::SaleId(sale_id),
                &RefundItems::Picks(picks),
                order.tender,
                &order.reason,
                policy,
                who,
                now,
            )
        }
        None => {
            let items: Vec<BlindItem> = order
                .lines
                .iter()
                .map(|l| BlindItem {
                    code: l.sku.clone(),
                    qty: l.qty,
                    restock: l.restock,
                })
                .collect();
            db.commit_blind_refund_as(
                &items,
                order.tender,
                &order.reason,
                policy,
                currency.code(),
                who,
                now,
            )
        }
    };
    receipt
        .map(|r| RefundSaved {
            seq: r.seq,
            paid_back_cents: r.paid_back_cents,
            tender: order.tender,
        })
        .map_err(|e| e.to_string())
}

fn failed(what: &str, e: StoreError) -> Action {
    Action::Failed(format!("{what}: {e}"))
}

/// The store job for a command; `None` for commands that are not store work.
/// What the executor keeps between commands: who is logged in, and the PIN lockout the
/// config sets (`[staff] max_pin_attempts`, `lockout_seconds`).
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub who: Attribution,
    pub lockout: LockoutPolicy,
    /// How receipts are laid out (`[receipt]`, `[printer] cash_drawer`).
    pub receipt: crate::receipt::ReceiptSetup,
    /// The print worker, when a printer is configured.
    pub printer: Option<std::sync::mpsc::Sender<crate::printer::PrintJob>>,
}

/// The local status with the receipts whose print failed, as the heartbeat shows it.
pub(super) fn load_status(db: &Db) -> Action {
    let read = || -> Result<LocalStatusView, StoreError> {
        let mut view = local_status(db.status(Utc::now())?);
        let failures = db.print_failures()?;
        view.print_failures = i64::try_from(failures.len()).unwrap_or(i64::MAX);
        view.last_print_failure = failures
            .iter()
            .max_by(|a, b| a.last_failed_at.cmp(&b.last_failed_at))
            .map(|f| format!("#{}: {}", f.seq, f.last_error));
        Ok(view)
    };
    match read() {
        Ok(view) => Action::StatusLoaded(view),
        Err(e) => failed("status", e),
    }
}

impl Session {
    /// Keeps who a `SetStaff` names for the documents that follow; true when `cmd` was one
    /// (then there is nothing to run).
    pub fn take_staff(&mut self, cmd: &Command) -> bool {
        let Command::SetStaff { staff_id } = cmd else {
            return false;
        };
        self.who = staff_id.map(Attribution::staff).unwrap_or_default();
        true
    }
}

fn job(cmd: Command, session: &Session) -> Option<Job> {
    if let Some(job) = super::printing::job(&cmd, session) {
        return Some(job);
    }
    let who = session.who.clone();
    let policy = session.lockout;
    Some(match cmd {
        Command::LookupCode { code, qty } => Box::new(move |db: &mut Db| {
            // An unreadable catalog row must not lose the count of lookups in flight.
            let product = db.find_product(&code).unwrap_or_else(|e| {
                tracing::warn!("lookup {code}: {e}");
                None
            });
            Action::ProductLooked { code, qty, product }
        }),
        Command::LookupReturnItem { code, qty } => Box::new(move |db: &mut Db| {
            let product = db.find_product(&code).unwrap_or_else(|e| {
                tracing::warn!("lookup {code}: {e}");
                None
            });
            Action::ReturnItemLooked { code, qty, product }
        }),
        Command::LookupReceipt { receipt, purpose } => Box::new(move |db: &mut Db| {
            let result = db
                .refundable_sale(&receipt)
                .map(|found| found.map(receipt_view))
                .map_err(|e| e.to_string());
            Action::ReceiptLooked {
                receipt,
                purpose,
                result,
            }
        }),
        Command::CommitRefund {
            order,
            currency,
            policy,
            approved_by,
        } => Box::new(move |db: &mut Db| {
            let who = who.approved(approved_by);
            Action::RefundCommitted(commit_refund(db, &order, currency, &policy, &who))
        }),
        Command::CommitVoid {
            sale_id,
            reason,
            zone,
            approved_by,
        } => Box::new(move |db: &mut Db| {
            let who = who.approved(approved_by);
            let result = db
                .commit_void_as(
                    &ReceiptRef::SaleId(sale_id),
                    &reason,
                    zone,
                    &who,
                    Utc::now(),
                )
                .map(|r| VoidSaved {
                    seq: r.seq,
                    sale_id,
                    sale: format!("#{}", r.sale_seq),
                    paid_back_cents: r.void.total_cents,
                })
                .map_err(|e| e.to_string());
            Action::VoidCommitted(result)
        }),
        Command::SearchProducts { query } => Box::new(move |db: &mut Db| {
            let products = db.search_products(&query, SEARCH_LIMIT).unwrap_or_default();
            Action::SearchResults { query, products }
        }),
        Command::CommitSale {
            cart,
            settlement,
            approved_by,
        } => Box::new(move |db: &mut Db| {
            let who = who.approved(approved_by);
            let result = db
                .commit_sale_as(&cart, &settlement, &who, Utc::now())
                .map(|r| SaleSaved {
                    seq: r.seq,
                    total_cents: r.total_cents,
                    due_cents: r.due_cents,
                    change_cents: r.change_cents,
                })
                .map_err(|e| e.to_string());
            Action::SaleCommitted(result)
        }),
        Command::LoadQueue {
            filter: f,
            offset,
            limit,
        } => Box::new(move |db: &mut Db| {
            let load = || -> Result<Action, StoreError> {
                let total = db.queue_count(filter(f))?;
                let rows = db.queue_window(filter(f), offset, limit)?;
                Ok(Action::QueueLoaded {
                    filter: f,
                    offset,
                    total: usize::try_from(total).unwrap_or(0),
                    rows: rows.into_iter().map(item).collect(),
                })
            };
            load().unwrap_or_else(|e| failed("queue", e))
        }),
        Command::LoadOpDetail { seq } => Box::new(move |db: &mut Db| match db.op_detail(seq) {
            Ok(d) => Action::OpDetailLoaded(d.map(|d| OpDetailView {
                op_id: d.row.op_id.clone(),
                item: item(d.row),
                payload: d.payload,
            })),
            Err(e) => failed("op detail", e),
        }),
        Command::RetryOp { seq } => Box::new(move |db: &mut Db| match db.retry_op(seq) {
            Ok(requeued) => Action::OpRetried { seq, requeued },
            Err(e) => failed("retry", e),
        }),
        Command::LoadConflicts => Box::new(|db: &mut Db| match db.conflicts(true) {
            Ok(rows) => Action::ConflictsLoaded(rows.into_iter().map(conflict).collect()),
            Err(e) => failed("conflicts", e),
        }),
        Command::QueueResolution {
            conflict_id,
            action,
            qty,
            sku,
            note,
        } => Box::new(move |db: &mut Db| {
            let result = db
                .queue_resolution(
                    &conflict_id,
                    &action,
                    qty,
                    sku.as_deref(),
                    note.as_deref(),
                    Utc::now(),
                )
                .map(|seq| (conflict_id, seq))
                .map_err(|e| e.to_string());
            Action::ResolutionQueued(result)
        }),
        Command::LoadStatus => Box::new(|db: &mut Db| load_status(db)),
        // Network, not store work: the event loop runs it (see `look_up_on_server`).
        Command::Quit | Command::SyncNow | Command::LookupSaleOnServer { .. } => return None,
        Command::CheckPin { staff_id, pin } => Box::new(move |db: &mut Db| {
            let result = match db.check_pin(&staff_id, pin.expose(), &policy, Utc::now()) {
                Ok(PinCheck::Accepted { staff }) => Ok(staff_view(db, staff)),
                Ok(PinCheck::Wrong { attempts_left }) => Err(PinRefusal::Wrong {
                    left: u32::try_from(attempts_left).unwrap_or(0),
                }),
                Ok(PinCheck::LockedOut { until }) => Err(locked(&until)),
                Err(e) => Err(PinRefusal::Failed(e.to_string())),
            };
            Action::PinChecked { staff_id, result }
        }),
        Command::CheckApproval { staff_id, pin } => Box::new(move |db: &mut Db| {
            let result = match db.check_approver(&staff_id, pin.expose(), &policy, Utc::now()) {
                Ok(ApprovalCheck::Approved { manager }) => Ok(staff_view(db, manager)),
                Ok(ApprovalCheck::NotAManager { staff }) => Err(PinRefusal::NotAllowed(format!(
                    "{} is not a manager",
                    staff.name
                ))),
                Ok(ApprovalCheck::Wrong { attempts_left }) => Err(PinRefusal::Wrong {
                    left: u32::try_from(attempts_left).unwrap_or(0),
                }),
                Ok(ApprovalCheck::LockedOut { until }) => Err(locked(&until)),
                Err(e) => Err(PinRefusal::Failed(e.to_string())),
            };
            Action::ApprovalChecked { staff_id, result }
        }),
        Command::LoadShift => Box::new(|db: &mut Db| match db.current_shift() {
            Ok(s) => Action::ShiftLoaded(s.map(|s| shift_view(db, &s))),
            Err(e) => failed("shift", e),
        }),
        Command::OpenShift {
            staff_id,
            float_cents,
        } => Box::new(move |db: &mut Db| {
            let result = db
                .open_shift(float_cents, None, &attribution(staff_id), Utc::now())
                .map_err(|e| e.to_string())
                .and_then(|_| db.current_shift().map_err(|e| e.to_string()))
                .and_then(|s| s.ok_or_else(|| "the shift did not stay open".to_string()))
                .map(|s| shift_view(db, &s));
            Action::ShiftOpened(result)
        }),
        Command::CashMovement {
            staff_id,
            kind,
            amount_cents,
            reason,
            approved_by,
        } => Box::new(move |db: &mut Db| {
            let store_kind = match kind {
                CashKind::In => CashMovementKind::PaidIn,
                CashKind::Out => CashMovementKind::PaidOut,
                CashKind::NoSale => CashMovementKind::NoSale,
            };
            let who = attribution(staff_id).approved(approved_by);
            let result = db
                .cash_movement(store_kind, amount_cents, &reason, &who, Utc::now())
                .map(|r| r.movement.amount_cents)
                .map_err(|e| e.to_string());
            Action::CashMoved { kind, result }
        }),
        Command::CloseShift {
            staff_id,
            counted_cents,
        } => Box::new(move |db: &mut Db| {
            let result = db
                .close_shift(counted_cents, None, &attribution(staff_id), Utc::now())
                .map(|r| ShiftClosedView {
                    counted_cents: r.close.counted_cents,
                    expected_cents: r.close.expected_cents,
                    over_short_cents: r.close.over_short_cents,
                })
                .map_err(|e| e.to_string());
            Action::ShiftClosed(result)
        }),
        Command::LoadShiftTotals => Box::new(|db: &mut Db| {
            let result = match db.current_shift() {
                Ok(Some(s)) => Ok(ShiftTotalsView {
                    float_cents: s.tally.float_cents,
                    sales: s.sales,
                    cash_sales_cents: s.tally.cash_sales_cents,
                    card_sales_cents: s.card_sales_cents,
                    refunds: s.refunds,
                    cash_refunds_cents: s.tally.cash_refunds_cents,
                    card_refunds_cents: s.card_refunds_cents,
                    voids: s.voids,
                    cash_voids_cents: s.tally.cash_voids_cents,
                    paid_in_cents: s.tally.paid_in_cents,
                    paid_out_cents: s.tally.paid_out_cents,
                    no_sales: s.no_sales,
                    expected_cash_cents: s.expected_cents,
                }),
                Ok(None) => Err("no shift is open".to_string()),
                Err(e) => Err(e.to_string()),
            };
            Action::ShiftTotalsLoaded(result)
        }),
        Command::SetStaff { .. } => return None,
        // Receipt commands are `printing::job`'s (answered above).
        Command::LoadReceipt { .. }
        | Command::PrintReceipt { .. }
        | Command::RecordPrint { .. }
        | Command::RetryFailedPrints => return None,
    })
}

/// Asks the server for another till's sale, keeps what it answers in the store (so that it
/// can be refunded here, also offline later) and reads it back like a local receipt.
pub async fn look_up_on_server(
    client: Option<&RemoteClient>,
    store: &StoreHandle,
    sale_id: Uuid,
) -> Action {
    let receipt = ReceiptRef::SaleId(sale_id);
    let asked = match client {
        None => Err("no server is configured to ask".to_string()),
        Some(c) => c
            .sale_lookup(&sale_id.to_string())
            .await
            .map(|t| t.value)
            .map_err(|e| e.to_string()),
    };
    let result = match asked {
        Err(e) => Err(format!(
            "unknown receipt {sale_id}: not a sale of this till, and the server could not be \
             asked ({e})"
        )),
        Ok(None) => Ok(None),
        Ok(Some(found)) if found.sale_id != sale_id => Err(format!(
            "the server answered the lookup of {sale_id} with sale {}",
            found.sale_id
        )),
        Ok(Some(found)) => store
            .call(move |db: &mut Db| {
                db.cache_looked_up_sale(&found, Utc::now())?;
                db.refundable_sale(&receipt)
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|found| found.map(receipt_view)),
    };
    Action::ServerSaleLooked { receipt, result }
}

/// A lockout the store reported (RFC 3339 UTC) as the console shows it.
fn locked(until: &str) -> PinRefusal {
    match crate::timefmt::parse(until) {
        Some(until) => PinRefusal::Locked { until },
        None => PinRefusal::Failed(format!("locked out until {until}")),
    }
}

fn attribution(staff_id: Option<Uuid>) -> Attribution {
    staff_id.map(Attribution::staff).unwrap_or_default()
}

fn staff_view(db: &Db, s: crate::domain::StaffMember) -> StaffView {
    let locked_until = db
        .locked_until(&s.id, Utc::now())
        .ok()
        .flatten()
        .and_then(|u| crate::timefmt::parse(&u));
    StaffView {
        id: s.id,
        name: s.name,
        role: s.role.as_str().to_string(),
        locked_until,
    }
}

/// The active staff members for the login screen, with any lockout.
pub fn staff_views(db: &Db) -> Result<Vec<StaffView>, StoreError> {
    Ok(db
        .list_staff()?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| staff_view(db, s))
        .collect())
}

pub fn shift_view(db: &Db, s: &ShiftSummary) -> ShiftView {
    let staff_name = match s.staff_id {
        Some(id) => db
            .staff_member(&id)
            .ok()
            .flatten()
            .map_or_else(|| id.to_string(), |m| m.name),
        None => s.operator.clone().unwrap_or_else(|| "technician".into()),
    };
    ShiftView {
        id: s.shift_id,
        opened_at: crate::timefmt::parse(&s.opened_at).unwrap_or_else(Utc::now),
        staff_name,
        float_cents: s.tally.float_cents,
    }
}

/// Runs one command on the store thread without blocking the caller's runtime.
pub async fn execute(store: &StoreHandle, cmd: Command) -> Option<Action> {
    execute_as(store, cmd, &Session::default()).await
}

/// Like [`execute`], recording sales, refunds and voids against the session's staff member
/// and checking PINs with its lockout policy.
pub async fn execute_as(store: &StoreHandle, cmd: Command, session: &Session) -> Option<Action> {
    let job = job(cmd, session)?;
    Some(store.call(job).await.unwrap_or_else(|e| failed("store", e)))
}

/// Runs one command and waits for it (tests, benchmarks: no runtime needed).
pub fn execute_blocking(store: &StoreHandle, cmd: Command) -> Option<Action> {
    execute_blocking_as(store, cmd, &Session::default())
}

/// Like [`execute_blocking`], with the session's staff member and lockout policy.
pub fn execute_blocking_as(store: &StoreHandle, cmd: Command, session: &Session) -> Option<Action> {
    let job = job(cmd, session)?;
    Some(
        store
            .call_blocking(job)
            .unwrap_or_else(|e| failed("store", e)),
    )
}
