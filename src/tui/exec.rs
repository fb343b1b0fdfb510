//! Runs the console's [`Command`]s on the store worker and turns the answers into [`Action`]s.
//!
//! Each command becomes one job on the store thread; the console never waits for it. The
//! same mapping serves the async event loop ([`execute`]) and tests or tools without a
//! runtime ([`execute_blocking`]). The one network command, a lookup of another till's sale
//! on the server, is [`look_up_on_server`], which the event loop runs as its own task.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::action::{Action, Command};
use super::model::{
    ConflictItem, LocalStatusView, OpDetailView, QueueFilterView, QueueItem, ReceiptView,
    RefundOrder, RefundSaved, SaleSaved, VoidSaved,
};
use crate::domain::{Currency, ReceiptRef, RefundPick, RefundPolicy};
use crate::remote::RemoteClient;
use crate::store::{
    BlindItem, ConflictRow, Db, LocalStatus, QueueFilter, QueueRow, RefundItems, RefundableSale,
    StoreError, StoreHandle,
};

/// How many products a name search shows.
const SEARCH_LIMIT: usize = 20;

type Job = Box<dyn FnOnce(&mut Db) -> Action + Send>;

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
            db.commit_refund(
                &ReceiptRef::SaleId(sale_id),
                &RefundItems::Picks(picks),
                order.tender,
                &order.reason,
                policy,
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
            db.commit_blind_refund(
                &items,
                order.tender,
                &order.reason,
                policy,
                currency.code(),
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
fn job(cmd: Command) -> Option<Job> {
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
        } => Box::new(move |db: &mut Db| {
            Action::RefundCommitted(commit_refund(db, &order, currency, &policy))
        }),
        Command::CommitVoid {
            sale_id,
            reason,
            zone,
        } => Box::new(move |db: &mut Db| {
            let result = db
                .commit_void(&ReceiptRef::SaleId(sale_id), &reason, zone, Utc::now())
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
        Command::CommitSale { cart, settlement } => Box::new(move |db: &mut Db| {
            let result = db
                .commit_sale(&cart, &settlement, Utc::now())
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
        Command::LoadStatus => Box::new(|db: &mut Db| match db.status(Utc::now()) {
            Ok(s) => Action::StatusLoaded(local_status(s)),
            Err(e) => failed("status", e),
        }),
        // Network, not store work: the event loop runs it (see `look_up_on_server`).
        Command::Quit | Command::SyncNow | Command::LookupSaleOnServer { .. } => return None,
        Command::CheckPin { .. }
        | Command::LoadShift
        | Command::OpenShift { .. }
        | Command::CashMovement { .. }
        | Command::CloseShift { .. }
        | Command::LoadShiftTotals => return None,
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

/// Runs one command on the store thread without blocking the caller's runtime.
pub async fn execute(store: &StoreHandle, cmd: Command) -> Option<Action> {
    let job = job(cmd)?;
    Some(store.call(job).await.unwrap_or_else(|e| failed("store", e)))
}

/// Runs one command and waits for it (tests, benchmarks: no runtime needed).
pub fn execute_blocking(store: &StoreHandle, cmd: Command) -> Option<Action> {
    let job = job(cmd)?;
    Some(
        store
            .call_blocking(job)
            .unwrap_or_else(|e| failed("store", e)),
    )
}
