//! Finding a receipt: this till's sales of a period with what was refunded or voided of them
//! (`kassa sales`, the console's refund mode); and what a receipt prints besides the document
//! itself: who rang it up, in which shift, and the store's header as the server last sent it.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use uuid::Uuid;

use super::documents::tender_kind;
use super::printing::Printable;
use super::{timestamp, Db, StoreError};
use crate::domain::{ReceiptRef, Tender};

/// Who rang a document up and in which shift, as its receipt names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentBy {
    /// The staff member's name as the till knows it now (their id when it does not).
    pub staff_name: Option<String>,
    /// A headless document without staff: `technician:<unix user>`.
    pub operator: Option<String>,
    pub shift: Option<DocumentShift>,
}

/// The shift a document belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentShift {
    pub shift_id: Uuid,
    /// The seq of the shift's opening document on this till.
    pub open_seq: i64,
    /// Stored RFC 3339 UTC.
    pub opened_at: String,
}

/// The store's header as the server's store record gave it (each empty when it sent none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreRecord {
    pub name: String,
    pub address: String,
    pub tax_id: String,
}

impl StoreRecord {
    const KEYS: [&'static str; 3] = ["store_name", "store_address", "store_tax_id"];

    fn fields(&self) -> [&str; 3] {
        [&self.name, &self.address, &self.tax_id]
    }
}

/// A committed document with everything its receipt prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSource {
    pub seq: i64,
    pub doc: Printable,
    pub by: DocumentBy,
    /// The server's store record, once a pull brought one.
    pub store: Option<StoreRecord>,
}

/// One sale as `kassa sales` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleSummary {
    pub seq: i64,
    pub sale_id: Uuid,
    /// The compact code the receipt prints (32 hex digits).
    pub receipt_code: String,
    pub created_at: String,
    pub currency: String,
    pub total_cents: i64,
    /// What the customer paid: total plus cash rounding.
    pub due_cents: i64,
    pub tenders: Vec<Tender>,
    pub sold_qty: i64,
    /// Units this till refunded of it.
    pub refunded_qty: i64,
    /// Money this till paid back for it in refunds.
    pub refunded_cents: i64,
    pub voided: bool,
}

impl Db {
    /// The document `receipt` names (see [`Db::printable`]) with who rang it up, its shift
    /// and the store's record: all a receipt needs, in one read.
    pub fn receipt_source(&self, receipt: ReceiptRef) -> Result<Option<ReceiptSource>, StoreError> {
        let Some((seq, doc)) = self.printable(receipt)? else {
            return Ok(None);
        };
        Ok(Some(ReceiptSource {
            seq,
            by: self.document_by(seq)?,
            store: self.store_record()?,
            doc,
        }))
    }

    /// Who rang up document `seq` (a sale, refund or void) and in which shift; nobody and no
    /// shift for a till without staff.
    pub fn document_by(&self, seq: i64) -> Result<DocumentBy, StoreError> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = self
            .conn
            .prepare_cached(
                "SELECT staff_id, shift_id, operator FROM sales WHERE seq = ?1
                 UNION ALL SELECT staff_id, shift_id, operator FROM refunds WHERE seq = ?1
                 UNION ALL SELECT staff_id, shift_id, operator FROM sale_voids WHERE seq = ?1",
            )?
            .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((staff_id, shift_id, operator)) = row else {
            return Ok(DocumentBy::default());
        };
        let staff_name = match staff_id {
            Some(id) => Some(
                self.conn
                    .prepare_cached("SELECT name FROM staff WHERE id = ?1")?
                    .query_row([&id], |r| r.get(0))
                    .optional()?
                    .unwrap_or(id),
            ),
            None => None,
        };
        let shift = match shift_id {
            Some(id) => self
                .conn
                .prepare_cached("SELECT open_seq, opened_at FROM shifts WHERE shift_id = ?1")?
                .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .map(|(open_seq, opened_at)| -> Result<_, StoreError> {
                    Ok(DocumentShift {
                        shift_id: Uuid::parse_str(&id)
                            .map_err(|_| StoreError::Corrupt(format!("shift id {id:?}")))?,
                        open_seq,
                        opened_at,
                    })
                })
                .transpose()?,
            None => None,
        };
        Ok(DocumentBy {
            staff_name,
            operator,
            shift,
        })
    }

    /// The store's record as the server last sent it; `None` before any pull brought one.
    pub fn store_record(&self) -> Result<Option<StoreRecord>, StoreError> {
        let mut fields = [String::new(), String::new(), String::new()];
        let mut any = false;
        for (key, field) in StoreRecord::KEYS.iter().zip(fields.iter_mut()) {
            if let Some(v) = self.meta_get(key)? {
                any = true;
                *field = v;
            }
        }
        let [name, address, tax_id] = fields;
        Ok(any.then_some(StoreRecord {
            name,
            address,
            tax_id,
        }))
    }

    /// Keeps the server's store record (a pull's `store` section), replacing the last one;
    /// one transaction, and nothing written when it did not change (every pull brings it).
    pub fn set_store_record(&mut self, record: &StoreRecord) -> Result<(), StoreError> {
        if self.store_record()?.as_ref() == Some(record) {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (key, value) in StoreRecord::KEYS.iter().zip(record.fields()) {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// This till's sales made in `[from, to)`, oldest first, with refund and void marks.
    pub fn sales_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SaleSummary>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.seq, s.sale_id, s.created_at, s.currency, s.total_cents, s.rounding_cents,
                    (SELECT coalesce(sum(qty), 0) FROM sale_lines l WHERE l.sale_id = s.sale_id),
                    (SELECT coalesce(sum(rl.qty), 0) FROM refund_lines rl
                       JOIN refunds r ON r.refund_id = rl.refund_id
                      WHERE r.original_sale_id = s.sale_id),
                    (SELECT coalesce(sum(r.total_cents + r.rounding_cents), 0) FROM refunds r
                      WHERE r.original_sale_id = s.sale_id),
                    EXISTS (SELECT 1 FROM sale_voids v WHERE v.sale_id = s.sale_id)
             FROM sales s WHERE s.created_at >= ?1 AND s.created_at < ?2 ORDER BY s.seq",
        )?;
        let rows = st.query_map(params![timestamp(from), timestamp(to)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                [
                    r.get::<_, i64>(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ],
                r.get::<_, bool>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        let mut tenders = self.conn.prepare_cached(
            "SELECT kind, amount_cents, change_cents FROM tenders WHERE sale_id = ?1 ORDER BY idx",
        )?;
        for row in rows {
            let (seq, id, created_at, currency, [total, rounding, sold, refunded, back], voided) =
                row?;
            let sale_id =
                Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("sale id {id:?}")))?;
            let ts = tenders
                .query_map([&id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
                })?
                .map(|t| {
                    let (kind, amount_cents, change_cents) = t?;
                    Ok(Tender {
                        kind: tender_kind(&kind)?,
                        amount_cents,
                        change_cents,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            out.push(SaleSummary {
                seq,
                sale_id,
                receipt_code: ReceiptRef::code(&sale_id),
                created_at,
                currency,
                total_cents: total,
                due_cents: total + rounding,
                tenders: ts,
                sold_qty: sold,
                refunded_qty: refunded,
                refunded_cents: back,
                voided,
            });
        }
        Ok(out)
    }
}
