//! Committing a sale: one transaction, one fsync, and the sale is a fact.
//!
//! The transaction holds the sale header, its lines and tenders, the outbox operation that
//! will carry it to the server, the local stock deltas and the hash-chain link. It starts with
//! `BEGIN IMMEDIATE`, so two processes on one file take turns (the busy timeout makes the second
//! wait) and the chain never forks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use uuid::Uuid;

use super::{timestamp, Db, StoreError, StoreEvent};
use crate::domain::{Attribution, Cart, CompletedSale, OpKind, Settlement};

/// What the cashier (and `kassa sell --json`) is told once the sale is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleReceipt {
    pub sale_id: Uuid,
    pub seq: i64,
    pub created_at: String,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    pub due_cents: i64,
    pub change_cents: i64,
    pub hash: String,
}

impl Db {
    /// Commits a paid cart as a sale. Durable when this returns `Ok`. Recorded against nobody
    /// (see [`commit_sale_as`](Self::commit_sale_as)).
    pub fn commit_sale(
        &mut self,
        cart: &Cart,
        settlement: &Settlement,
        now: DateTime<Utc>,
    ) -> Result<SaleReceipt, StoreError> {
        self.commit_sale_as(cart, settlement, &Attribution::default(), now)
    }

    /// Commits a paid cart as a sale recorded against `who`, in the open shift. When the store
    /// has staff and no shift is open, or `who` names an unknown or disabled staff member (or
    /// an approver who is not a manager): `StoreError::Invalid`, nothing written.
    pub fn commit_sale_as(
        &mut self,
        cart: &Cart,
        settlement: &Settlement,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<SaleReceipt, StoreError> {
        let mut sale = CompletedSale::new(Uuid::now_v7(), timestamp(now), cart, settlement)?;
        let op_id = Uuid::now_v7();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let shift = super::shifts::require_shift(&tx, who)?;
        sale.seal(&super::documents::chain_head(&tx)?);
        let payload = stamped(&sale, who, shift)?;
        tx.prepare_cached(
            "INSERT INTO outbox (op_id, kind, payload, created_at, total_cents)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            op_id.to_string(),
            OpKind::Sale.as_str(),
            payload,
            sale.created_at,
            sale.due_cents()
        ])?;
        let seq = tx.last_insert_rowid();
        let sale_id = sale.sale_id.to_string();
        tx.prepare_cached(
            "INSERT INTO sales (sale_id, seq, created_at, currency, total_cents, tax_cents,
                                rounding_cents, prev_hash, hash, staff_id, approved_by,
                                shift_id, operator)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            sale_id,
            seq,
            sale.created_at,
            sale.currency,
            sale.total_cents,
            sale.tax_cents,
            sale.rounding_cents,
            sale.prev_hash,
            sale.hash,
            who.staff_id.map(|u| u.to_string()),
            who.approved_by.map(|u| u.to_string()),
            shift.map(|u| u.to_string()),
            who.operator
        ])?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO sale_lines (sale_id, line_no, sku, name, qty, unit_price_cents,
                     discount_cents, price_overridden, tax_rate_bp, price_includes_tax,
                     line_total_cents, tax_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for l in &sale.lines {
                st.execute(params![
                    sale_id,
                    l.line_no,
                    l.sku,
                    l.name,
                    l.qty,
                    l.unit_price_cents,
                    l.discount_cents,
                    l.price_overridden,
                    l.tax_rate_bp,
                    l.price_includes_tax,
                    l.line_total_cents,
                    l.tax_cents
                ])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO tenders (sale_id, idx, kind, amount_cents, change_cents)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (i, t) in sale.tenders.iter().enumerate() {
                st.execute(params![
                    sale_id,
                    i as i64,
                    t.kind.as_str(),
                    t.amount_cents,
                    t.change_cents
                ])?;
            }
            let mut deltas: BTreeMap<&str, i64> = BTreeMap::new();
            for l in &sale.lines {
                *deltas.entry(l.sku.as_str()).or_default() -= l.qty;
            }
            insert_stock_deltas(&tx, seq, &deltas)?;
        }
        tx.commit()?;
        self.notify(StoreEvent::SaleCommitted(seq));
        self.notify(StoreEvent::OutboxChanged);
        Ok(SaleReceipt {
            sale_id: sale.sale_id,
            seq,
            created_at: sale.created_at.clone(),
            total_cents: sale.total_cents,
            tax_cents: sale.tax_cents,
            rounding_cents: sale.rounding_cents,
            due_cents: sale.due_cents(),
            change_cents: sale.change_cents(),
            hash: sale.hash,
        })
    }

    /// Reads a committed sale back from its rows (not from the outbox payload).
    pub fn load_sale(&self, seq: i64) -> Result<Option<CompletedSale>, StoreError> {
        read_sale(&self.conn, seq)
    }
}

/// A document's JSON payload with `who` and the shift added (docs/protocol.md "Who rang it
/// up"); a document recorded against nobody and no shift is encoded exactly as before.
pub(super) fn stamped<T: Serialize>(
    doc: &T,
    who: &Attribution,
    shift: Option<Uuid>,
) -> Result<String, StoreError> {
    let bad = |e: serde_json::Error| StoreError::Invalid(format!("cannot encode document: {e}"));
    if who == &Attribution::default() && shift.is_none() {
        return serde_json::to_string(doc).map_err(bad);
    }
    let mut v = serde_json::to_value(doc).map_err(bad)?;
    who.stamp(shift, &mut v);
    serde_json::to_string(&v).map_err(bad)
}

/// The seq of this till's sale `sale_id`, if it is one.
pub(super) fn sale_seq(conn: &Connection, sale_id: &Uuid) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT seq FROM sales WHERE sale_id = ?1")?
        .query_row([sale_id.to_string()], |r| r.get(0))
        .optional()?)
}

/// Reads this till's sale of `seq` back from its rows.
pub(super) fn read_sale(conn: &Connection, seq: i64) -> Result<Option<CompletedSale>, StoreError> {
    let head = conn
        .prepare_cached(
            "SELECT sale_id, created_at, currency, total_cents, tax_cents, rounding_cents,
                        prev_hash, hash FROM sales WHERE seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                CompletedSale {
                    sale_id: Uuid::nil(),
                    created_at: r.get(1)?,
                    currency: r.get(2)?,
                    total_cents: r.get(3)?,
                    tax_cents: r.get(4)?,
                    rounding_cents: r.get(5)?,
                    lines: Vec::new(),
                    tenders: Vec::new(),
                    prev_hash: r.get(6)?,
                    hash: r.get(7)?,
                },
            ))
        })
        .optional()?;
    let Some((id, mut sale)) = head else {
        return Ok(None);
    };
    sale.sale_id =
        Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("sale id {id:?}")))?;
    let mut st = conn.prepare_cached(
        "SELECT line_no, sku, name, qty, unit_price_cents, discount_cents, price_overridden,
                    tax_rate_bp, price_includes_tax, line_total_cents, tax_cents
             FROM sale_lines WHERE sale_id = ?1 ORDER BY line_no",
    )?;
    sale.lines = st
        .query_map([&id], |r| {
            Ok(crate::domain::sale::SaleLine {
                line_no: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                qty: r.get(3)?,
                unit_price_cents: r.get(4)?,
                discount_cents: r.get(5)?,
                price_overridden: r.get(6)?,
                tax_rate_bp: r.get(7)?,
                price_includes_tax: r.get(8)?,
                line_total_cents: r.get(9)?,
                tax_cents: r.get(10)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = conn.prepare_cached(
        "SELECT kind, amount_cents, change_cents FROM tenders WHERE sale_id = ?1 ORDER BY idx",
    )?;
    sale.tenders = st
        .query_map([&id], |r| {
            let kind: String = r.get(0)?;
            Ok((kind, r.get(1)?, r.get(2)?))
        })?
        .map(|row| {
            let (kind, amount_cents, change_cents) = row?;
            let kind = match kind.as_str() {
                "cash" => crate::domain::TenderKind::Cash,
                "card" => crate::domain::TenderKind::Card,
                other => return Err(StoreError::Corrupt(format!("tender kind {other:?}"))),
            };
            Ok(crate::domain::Tender {
                kind,
                amount_cents,
                change_cents,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(sale))
}

/// Records the stock a document moved (per SKU) inside the caller's transaction; zero
/// deltas are left out.
pub(super) fn insert_stock_deltas(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    deltas: &BTreeMap<&str, i64>,
) -> Result<(), StoreError> {
    let mut st =
        tx.prepare_cached("INSERT INTO stock_deltas (seq, sku, delta) VALUES (?1, ?2, ?3)")?;
    for (sku, delta) in deltas.iter().filter(|(_, d)| **d != 0) {
        st.execute(params![seq, sku, delta])?;
    }
    Ok(())
}
