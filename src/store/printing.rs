//! Receipts to print: finding a committed document by the number a cashier types or scans,
//! and the local record of prints that failed (until one succeeds).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use super::documents::{load_refund, load_void};
use super::sales::{read_sale, sale_seq};
use super::{timestamp, Db, StoreError};
use crate::domain::{CompletedSale, ReceiptRef, Refund, SaleVoid};

/// A committed document of this till, as a receipt prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printable {
    Sale(CompletedSale),
    Refund(Refund),
    /// A void and the currency of the sale it voided.
    Void(SaleVoid, String),
}

impl Printable {
    pub fn kind(&self) -> &'static str {
        match self {
            Printable::Sale(_) => "sale",
            Printable::Refund(_) => "refund",
            Printable::Void(..) => "void",
        }
    }
}

/// A receipt that could not be printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintFailure {
    pub seq: i64,
    pub kind: String,
    pub first_failed_at: String,
    pub last_failed_at: String,
    pub attempts: i64,
    pub last_error: String,
}

/// Cap on a stored print error (one line).
const MAX_ERROR_CHARS: usize = 300;

impl Db {
    /// The document `receipt` names: a seq (sale, refund or void), or a sale, refund or void
    /// id (hyphenated or the 32-hex code printed on receipts).
    pub fn printable(&self, receipt: ReceiptRef) -> Result<Option<(i64, Printable)>, StoreError> {
        let seq = match receipt {
            ReceiptRef::Seq(seq) => seq,
            ReceiptRef::SaleId(id) => match self.seq_of_document(&id)? {
                Some(seq) => seq,
                None => return Ok(None),
            },
        };
        if let Some(sale) = read_sale(&self.conn, seq)? {
            return Ok(Some((seq, Printable::Sale(sale))));
        }
        if let Some(refund) = load_refund(&self.conn, seq)? {
            return Ok(Some((seq, Printable::Refund(refund))));
        }
        if let Some(void) = load_void(&self.conn, seq)? {
            let currency: Option<String> = self
                .conn
                .prepare_cached("SELECT currency FROM sales WHERE sale_id = ?1")?
                .query_row([void.sale_id.to_string()], |r| r.get(0))
                .optional()?;
            let currency = currency.ok_or_else(|| {
                StoreError::Corrupt(format!("void #{seq} names a sale this till does not have"))
            })?;
            return Ok(Some((seq, Printable::Void(void, currency))));
        }
        Ok(None)
    }

    fn seq_of_document(&self, id: &Uuid) -> Result<Option<i64>, StoreError> {
        if let Some(seq) = sale_seq(&self.conn, id)? {
            return Ok(Some(seq));
        }
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq FROM refunds WHERE refund_id = ?1
                 UNION ALL SELECT seq FROM sale_voids WHERE void_id = ?1",
            )?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?)
    }

    /// Records that printing document `seq` failed (again).
    pub fn record_print_failure(
        &mut self,
        seq: i64,
        kind: &str,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let line: String = error
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(MAX_ERROR_CHARS)
            .collect();
        let at = timestamp(now);
        self.conn
            .prepare_cached(
                "INSERT INTO print_failures (seq, kind, first_failed_at, last_failed_at, attempts,
                                             last_error)
                 VALUES (?1, ?2, ?3, ?3, 1, ?4)
                 ON CONFLICT (seq) DO UPDATE SET last_failed_at = excluded.last_failed_at,
                     attempts = attempts + 1, last_error = excluded.last_error",
            )?
            .execute(params![seq, kind, at, line])?;
        Ok(())
    }

    /// Document `seq` printed: its failure, if any, is cleared. True when there was one.
    pub fn clear_print_failure(&mut self, seq: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM print_failures WHERE seq = ?1")?
            .execute([seq])?
            > 0)
    }

    /// Receipts whose last print failed, oldest first.
    pub fn print_failures(&self) -> Result<Vec<PrintFailure>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, kind, first_failed_at, last_failed_at, attempts, last_error
             FROM print_failures ORDER BY seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok(PrintFailure {
                seq: r.get(0)?,
                kind: r.get(1)?,
                first_failed_at: r.get(2)?,
                last_failed_at: r.get(3)?,
                attempts: r.get(4)?,
                last_error: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
