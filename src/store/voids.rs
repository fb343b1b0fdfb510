//! Post-voids: the whole sale reversed, by the till that sold it, on the same business day.
//! One transaction: the void rows, the outbox op, the stock back for every line, the chain link.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::TransactionBehavior;
use serde::Serialize;
use uuid::Uuid;

use super::documents::{chain_head, insert_void};
use super::refunds::unknown_receipt;
use super::sales::{read_sale, sale_seq};
use super::{timestamp, Db, StoreError, StoreEvent};
use crate::domain::{Attribution, Document, OpKind, ReceiptRef, SaleVoid};
use crate::timefmt::Zone;

/// What the cashier (and `kassa void --json`) is told once the void is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoidReceipt {
    pub seq: i64,
    /// The voided sale's seq at this till.
    pub sale_seq: i64,
    #[serde(flatten)]
    pub void: SaleVoid,
}

impl Db {
    /// Voids a sale of this till made on the same local business day (`zone`'s date of
    /// `now`). Refuses, with nothing written: an unknown receipt, another till's sale, a sale
    /// already voided or already (partly) refunded, a sale of another day, no reason.
    /// Recorded against nobody (see [`commit_void_as`](Self::commit_void_as)).
    pub fn commit_void(
        &mut self,
        receipt: &ReceiptRef,
        reason: &str,
        zone: Zone,
        now: DateTime<Utc>,
    ) -> Result<VoidReceipt, StoreError> {
        self.commit_void_as(receipt, reason, zone, &Attribution::default(), now)
    }

    /// [`commit_void`](Self::commit_void) recorded against `who` (staff, approving manager) in
    /// the open shift; needs an open shift when the store has staff.
    pub fn commit_void_as(
        &mut self,
        receipt: &ReceiptRef,
        reason: &str,
        zone: Zone,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<VoidReceipt, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let shift = super::shifts::require_shift(&tx, who)?;
        let seq = match receipt {
            ReceiptRef::Seq(n) => Some(*n),
            ReceiptRef::SaleId(id) => sale_seq(&tx, id)?,
        };
        let sale = match seq {
            Some(n) => read_sale(&tx, n)?.map(|s| (n, s)),
            None => None,
        };
        let Some((sale_seq, sale)) = sale else {
            if let ReceiptRef::SaleId(id) = receipt {
                let known: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM looked_up_sales WHERE sale_id = ?1)",
                    [id.to_string()],
                    |r| r.get(0),
                )?;
                if known {
                    return Err(StoreError::Invalid(format!(
                        "sale {id} is another till's: only the till that sold it can void it \
                         (refund it instead)"
                    )));
                }
            }
            return Err(unknown_receipt(receipt));
        };
        let id = sale.sale_id.to_string();
        let (voided, refunded): (bool, bool) = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sale_voids WHERE sale_id = ?1),
                    EXISTS (SELECT 1 FROM refunds WHERE original_sale_id = ?1)",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if voided {
            return Err(StoreError::Invalid(format!(
                "sale #{sale_seq} is already voided"
            )));
        }
        if refunded {
            return Err(StoreError::Invalid(format!(
                "sale #{sale_seq} was already partly refunded: refund the rest instead of voiding"
            )));
        }
        let sold_at = DateTime::parse_from_rfc3339(&sale.created_at)
            .map_err(|_| StoreError::Corrupt(format!("sale #{sale_seq} time")))?
            .with_timezone(&Utc);
        let day = |t: DateTime<Utc>| t.with_timezone(&zone.offset_at(t)).date_naive();
        if day(sold_at) != day(now) {
            return Err(StoreError::Invalid(format!(
                "sale #{sale_seq} is from {}, not today: only a sale of the same business day \
                 can be voided (refund it instead)",
                day(sold_at)
            )));
        }
        let mut void = SaleVoid::of_sale(Uuid::now_v7(), timestamp(now), &sale, reason)?;
        void.approved_by = who.approved_by.map(|u| u.to_string());
        void.seal(&chain_head(&tx)?);
        let payload = super::sales::stamped(&void, who, shift)?;
        let seq = super::outbox::insert_document_op(
            &tx,
            OpKind::VoidSale,
            &payload,
            &void.created_at,
            -void.total_cents,
        )?;
        insert_void(&tx, seq, &void)?;
        tx.execute(
            "UPDATE sale_voids SET staff_id = ?2, shift_id = ?3, operator = ?4 WHERE seq = ?1",
            rusqlite::params![
                seq,
                who.staff_id.map(|u| u.to_string()),
                shift.map(|u| u.to_string()),
                who.operator
            ],
        )?;
        let mut deltas: BTreeMap<&str, i64> = BTreeMap::new();
        for l in &sale.lines {
            *deltas.entry(l.sku.as_str()).or_default() += l.qty;
        }
        super::sales::insert_stock_deltas(&tx, seq, &deltas)?;
        tx.commit()?;
        self.notify(StoreEvent::VoidCommitted(seq));
        self.notify(StoreEvent::OutboxChanged);
        self.notify(StoreEvent::StockChanged);
        Ok(VoidReceipt {
            seq,
            sale_seq,
            void,
        })
    }
}
