//! Finding a receipt: this till's sales of a period with what was refunded or voided of them
//! (`kassa sales`, the console's refund mode).

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;
use uuid::Uuid;

use super::documents::tender_kind;
use super::{timestamp, Db, StoreError};
use crate::domain::{ReceiptRef, Tender};

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
