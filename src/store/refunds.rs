//! Refunds against a receipt and without one: what a receipt still allows, the checks the till
//! makes itself, and the commit (one transaction, like a sale).
//!
//! The till refuses, with nothing written: an unknown receipt, a voided sale, more units than
//! were sold minus what this till already refunded (minus what the server's lookup said other
//! tills refunded, when this till looked the sale up), a blind refund without a reason or above
//! `refunds.blind_max_cents`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use uuid::Uuid;

use super::documents::{chain_head, insert_refund};
use super::sales::{read_sale, sale_seq};
use super::{timestamp, Db, StoreError, StoreEvent};
use crate::domain::{
    Attribution, CartLine, CompletedSale, Document, LookedUpSale, OpKind, ReceiptRef, Refund,
    RefundPick, RefundPolicy, RefundableLine, TenderKind,
};

/// Which units of a receipt to refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundItems {
    /// Everything still refundable, all going back to stock (`restock`) or all written off.
    All { restock: bool },
    /// These lines and quantities.
    Picks(Vec<RefundPick>),
}

/// One item of a refund without a receipt: a SKU or barcode of the catalog and a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlindItem {
    pub code: String,
    pub qty: i64,
    pub restock: bool,
}

/// A sale as a refund sees it: its lines with what is already refunded, and where it is from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundableSale {
    pub sale: CompletedSale,
    /// This till's seq of the sale; `None` for another till's sale (looked up on the server).
    pub seq: Option<i64>,
    /// For a looked-up sale: the server's id of the till that sold it.
    pub device_id: Option<String>,
    pub voided: bool,
    /// Per sale line: `refunded_qty` = this till's refunds + other tills' (when known).
    pub lines: Vec<RefundableLine>,
}

impl RefundableSale {
    /// True when no unit is left to refund.
    pub fn fully_refunded(&self) -> bool {
        self.lines.iter().all(|l| l.remaining_qty() == 0)
    }
}

/// What the cashier (and `kassa refund --json`) is told once the refund is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundReceipt {
    pub seq: i64,
    /// The refunded sale's seq at this till, when it is this till's.
    pub original_seq: Option<i64>,
    pub paid_back_cents: i64,
    #[serde(flatten)]
    pub refund: Refund,
}

/// This till's refunded quantity per line of `sale_id` (all its refunds, sent or not).
fn refunded_here(conn: &Connection, sale_id: &str) -> Result<BTreeMap<i64, i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT l.original_line_no, sum(l.qty) FROM refund_lines l
         JOIN refunds r ON r.refund_id = l.refund_id
         WHERE r.original_sale_id = ?1 AND l.original_line_no IS NOT NULL
         GROUP BY l.original_line_no",
    )?;
    let rows = st.query_map([sale_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// This till's refunded quantity per line of `sale_id` in refunds the server has confirmed.
fn refunded_here_sent(conn: &Connection, sale_id: &str) -> Result<BTreeMap<i64, i64>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT l.original_line_no, sum(l.qty) FROM refund_lines l
         JOIN refunds r ON r.refund_id = l.refund_id
         JOIN outbox o ON o.seq = r.seq
         WHERE r.original_sale_id = ?1 AND l.original_line_no IS NOT NULL AND o.state = 'sent'
         GROUP BY l.original_line_no",
    )?;
    let rows = st.query_map([sale_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

type Cached = (LookedUpSale, BTreeMap<i64, i64>, bool);

fn cached_lookup(conn: &Connection, sale_id: &str) -> Result<Option<Cached>, StoreError> {
    let row: Option<(String, String, bool)> = conn
        .prepare_cached(
            "SELECT sale, refunded_elsewhere, voided FROM looked_up_sales WHERE sale_id = ?1",
        )?
        .query_row([sale_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(sale, elsewhere, voided)| {
        let sale: LookedUpSale = serde_json::from_str(&sale)
            .map_err(|e| StoreError::Corrupt(format!("looked-up sale {sale_id}: {e}")))?;
        let elsewhere: BTreeMap<String, i64> = serde_json::from_str(&elsewhere)
            .map_err(|e| StoreError::Corrupt(format!("looked-up sale {sale_id}: {e}")))?;
        let elsewhere = elsewhere
            .into_iter()
            .filter_map(|(k, v)| k.parse().ok().map(|k: i64| (k, v)))
            .collect();
        Ok((sale, elsewhere, voided))
    })
    .transpose()
}

/// The sale a receipt names, with what is left to refund; `None` when the till knows no such
/// sale (neither its own nor one it looked up).
pub(super) fn refundable_in(
    conn: &Connection,
    receipt: &ReceiptRef,
) -> Result<Option<RefundableSale>, StoreError> {
    let own_seq = match receipt {
        ReceiptRef::Seq(n) => Some(*n),
        ReceiptRef::SaleId(id) => sale_seq(conn, id)?,
    };
    let own = match own_seq {
        Some(seq) => read_sale(conn, seq)?.map(|s| (seq, s)),
        None => None,
    };
    let (sale, seq, device_id, mut voided, elsewhere) = match own {
        Some((seq, sale)) => {
            let id = sale.sale_id.to_string();
            let cached = cached_lookup(conn, &id)?;
            let elsewhere = cached.map(|c| c.1).unwrap_or_default();
            (sale, Some(seq), None, false, elsewhere)
        }
        None => {
            let ReceiptRef::SaleId(id) = receipt else {
                return Ok(None);
            };
            let Some((looked, elsewhere, voided)) = cached_lookup(conn, &id.to_string())? else {
                return Ok(None);
            };
            (
                looked.to_sale(),
                None,
                Some(looked.device_id.clone()),
                voided,
                elsewhere,
            )
        }
    };
    let id = sale.sale_id.to_string();
    if seq.is_some() {
        voided = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM sale_voids WHERE sale_id = ?1)")?
            .query_row([&id], |r| r.get(0))?;
    }
    let here = refunded_here(conn, &id)?;
    let lines = sale
        .lines
        .iter()
        .map(|l| RefundableLine {
            line: l.clone(),
            refunded_qty: here.get(&l.line_no).copied().unwrap_or(0)
                + elsewhere.get(&l.line_no).copied().unwrap_or(0),
        })
        .collect();
    Ok(Some(RefundableSale {
        sale,
        seq,
        device_id,
        voided,
        lines,
    }))
}

/// Everything still refundable of `rs`, as picks.
fn all_picks(rs: &RefundableSale, restock: bool) -> Vec<RefundPick> {
    rs.lines
        .iter()
        .filter(|l| l.remaining_qty() > 0)
        .map(|l| RefundPick {
            original_line_no: l.line.line_no,
            qty: l.remaining_qty(),
            restock,
        })
        .collect()
}

fn plan(
    conn: &Connection,
    receipt: &ReceiptRef,
    items: &RefundItems,
    tender: TenderKind,
    reason: &str,
    policy: &RefundPolicy,
    now: DateTime<Utc>,
) -> Result<(Refund, Option<i64>), StoreError> {
    let rs = refundable_in(conn, receipt)?.ok_or_else(|| unknown_receipt(receipt))?;
    if rs.voided {
        return Err(StoreError::Invalid(format!(
            "sale {} was voided: nothing to refund",
            describe(&rs)
        )));
    }
    let picks = match items {
        RefundItems::All { restock } => {
            let picks = all_picks(&rs, *restock);
            if picks.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "sale {} is already fully refunded",
                    describe(&rs)
                )));
            }
            picks
        }
        RefundItems::Picks(p) => p.clone(),
    };
    for p in &picks {
        let Some(l) = rs
            .lines
            .iter()
            .find(|l| l.line.line_no == p.original_line_no)
        else {
            return Err(StoreError::Invalid(format!(
                "sale {} has no line {}",
                describe(&rs),
                p.original_line_no
            )));
        };
        if p.qty > 0 && p.qty > l.remaining_qty() {
            return Err(StoreError::Invalid(format!(
                "line {} ({}) of sale {}: {} sold, {} already refunded, {} asked",
                l.line.line_no,
                l.line.sku,
                describe(&rs),
                l.line.qty,
                l.refunded_qty,
                p.qty
            )));
        }
    }
    let refund = Refund::against_sale(
        Uuid::now_v7(),
        timestamp(now),
        &rs.sale,
        &rs.lines,
        &picks,
        tender,
        policy.cash_rounding,
        reason,
    )?;
    Ok((refund, rs.seq))
}

fn describe(rs: &RefundableSale) -> String {
    match rs.seq {
        Some(seq) => format!("#{seq}"),
        None => rs.sale.sale_id.to_string(),
    }
}

pub(super) fn unknown_receipt(receipt: &ReceiptRef) -> StoreError {
    StoreError::Invalid(match receipt {
        ReceiptRef::Seq(n) => format!("unknown receipt #{n}: no sale of this till has that number"),
        ReceiptRef::SaleId(id) => format!(
            "unknown receipt {id}: not a sale of this till (another till's sale can be refunded \
             once looked up on the server)"
        ),
    })
}

impl Db {
    /// The sale a receipt names, with each line's already-refunded quantity; `None` when this
    /// till knows no such sale (neither its own nor one it looked up on the server).
    pub fn refundable_sale(
        &self,
        receipt: &ReceiptRef,
    ) -> Result<Option<RefundableSale>, StoreError> {
        refundable_in(&self.conn, receipt)
    }

    /// The refund [`commit_refund`](Self::commit_refund) would make, with the same checks,
    /// writing nothing (for the console's confirmation step). Not sealed.
    pub fn preview_refund(
        &self,
        receipt: &ReceiptRef,
        items: &RefundItems,
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        now: DateTime<Utc>,
    ) -> Result<Refund, StoreError> {
        Ok(plan(&self.conn, receipt, items, tender, reason, policy, now)?.0)
    }

    /// Commits a refund against a receipt: refund rows, outbox op, stock deltas (+qty for
    /// restocked lines) and chain link in ONE transaction. Durable when it returns `Ok`;
    /// `StoreError::Invalid` (nothing written) for what the till knows is wrong. Recorded
    /// against nobody (see [`commit_refund_as`](Self::commit_refund_as)).
    pub fn commit_refund(
        &mut self,
        receipt: &ReceiptRef,
        items: &RefundItems,
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        now: DateTime<Utc>,
    ) -> Result<RefundReceipt, StoreError> {
        self.commit_refund_as(
            receipt,
            items,
            tender,
            reason,
            policy,
            &Attribution::default(),
            now,
        )
    }

    /// [`commit_refund`](Self::commit_refund) recorded against `who` (staff, approving
    /// manager) in the open shift; needs an open shift when the store has staff.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_refund_as(
        &mut self,
        receipt: &ReceiptRef,
        items: &RefundItems,
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<RefundReceipt, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let shift = super::shifts::require_shift(&tx, who)?;
        let (refund, original_seq) = plan(&tx, receipt, items, tender, reason, policy, now)?;
        let receipt = write_refund(tx, refund, original_seq, who, shift)?;
        self.notify_refund(receipt.seq);
        Ok(receipt)
    }

    /// The blind refund [`commit_blind_refund`](Self::commit_blind_refund) would make, writing
    /// nothing. Not sealed.
    pub fn preview_blind_refund(
        &self,
        items: &[BlindItem],
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<Refund, StoreError> {
        let mut lines = Vec::with_capacity(items.len());
        for it in items {
            let p = self
                .find_product(&it.code)?
                .ok_or_else(|| StoreError::Invalid(format!("unknown item {:?}", it.code)))?;
            let line = CartLine::from_product(&p, it.qty)
                .map_err(|e| StoreError::Invalid(format!("{}: {e}", it.code)))?;
            lines.push((line, it.restock));
        }
        Ok(Refund::blind(
            Uuid::now_v7(),
            timestamp(now),
            currency,
            &lines,
            tender,
            policy.cash_rounding,
            reason,
            policy.blind_max_cents,
        )?)
    }

    /// Commits a refund without a receipt: items priced from the catalog, a reason required,
    /// at most `policy.blind_max_cents` paid back. One transaction, like a sale. Recorded
    /// against nobody (see [`commit_blind_refund_as`](Self::commit_blind_refund_as)).
    pub fn commit_blind_refund(
        &mut self,
        items: &[BlindItem],
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        currency: &str,
        now: DateTime<Utc>,
    ) -> Result<RefundReceipt, StoreError> {
        self.commit_blind_refund_as(
            items,
            tender,
            reason,
            policy,
            currency,
            &Attribution::default(),
            now,
        )
    }

    /// [`commit_blind_refund`](Self::commit_blind_refund) recorded against `who` in the open
    /// shift; needs an open shift when the store has staff.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_blind_refund_as(
        &mut self,
        items: &[BlindItem],
        tender: TenderKind,
        reason: &str,
        policy: &RefundPolicy,
        currency: &str,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<RefundReceipt, StoreError> {
        let refund = self.preview_blind_refund(items, tender, reason, policy, currency, now)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let shift = super::shifts::require_shift(&tx, who)?;
        let receipt = write_refund(tx, refund, None, who, shift)?;
        self.notify_refund(receipt.seq);
        Ok(receipt)
    }

    /// Keeps another till's sale as the server's lookup returned it, so that it can be refunded
    /// here (also offline, later). What other tills refunded is the server's `refunded_qty`
    /// less this till's refunds the server already confirmed.
    pub fn cache_looked_up_sale(
        &mut self,
        sale: &LookedUpSale,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = sale.sale_id.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mine = refunded_here_sent(&tx, &id)?;
        let elsewhere: BTreeMap<String, i64> = sale
            .lines
            .iter()
            .map(|l| {
                let own = mine.get(&l.line.line_no).copied().unwrap_or(0);
                (l.line.line_no.to_string(), (l.refunded_qty - own).max(0))
            })
            .collect();
        tx.execute(
            "INSERT INTO looked_up_sales (sale_id, device_id, seq, sale, refunded_elsewhere,
                 voided, looked_up_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (sale_id) DO UPDATE SET device_id = excluded.device_id,
                 seq = excluded.seq, sale = excluded.sale,
                 refunded_elsewhere = excluded.refunded_elsewhere, voided = excluded.voided,
                 looked_up_at = excluded.looked_up_at",
            params![
                id,
                sale.device_id,
                sale.seq,
                to_json(sale)?,
                to_json(&elsewhere)?,
                sale.voided,
                timestamp(now)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn notify_refund(&mut self, seq: i64) {
        self.notify(StoreEvent::RefundCommitted(seq));
        self.notify(StoreEvent::OutboxChanged);
        self.notify(StoreEvent::StockChanged);
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("cannot encode: {e}")))
}

/// Seals and writes a planned refund in `tx` and commits.
fn write_refund(
    tx: rusqlite::Transaction<'_>,
    mut refund: Refund,
    original_seq: Option<i64>,
    who: &Attribution,
    shift: Option<Uuid>,
) -> Result<RefundReceipt, StoreError> {
    refund.approved_by = who.approved_by.map(|u| u.to_string());
    refund.seal(&chain_head(&tx)?);
    let payload = super::sales::stamped(&refund, who, shift)?;
    let seq = super::outbox::insert_document_op(
        &tx,
        OpKind::Refund,
        &payload,
        &refund.created_at,
        -refund.paid_back_cents(),
    )?;
    insert_refund(&tx, seq, &refund)?;
    tx.execute(
        "UPDATE refunds SET staff_id = ?2, shift_id = ?3, operator = ?4 WHERE seq = ?1",
        rusqlite::params![
            seq,
            who.staff_id.map(|u| u.to_string()),
            shift.map(|u| u.to_string()),
            who.operator
        ],
    )?;
    let mut deltas: BTreeMap<&str, i64> = BTreeMap::new();
    for l in refund.lines.iter().filter(|l| l.restock) {
        *deltas.entry(l.sku.as_str()).or_default() += l.qty;
    }
    super::sales::insert_stock_deltas(&tx, seq, &deltas)?;
    tx.commit()?;
    Ok(RefundReceipt {
        seq,
        original_seq,
        paid_back_cents: refund.paid_back_cents(),
        refund,
    })
}
