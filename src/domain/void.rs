//! A post-void: the whole sale reversed by the till that sold it, the same business day (the
//! customer walked away). Everything that was paid goes back by the tenders it came in.
//!
//! Canonical form and hash: docs/protocol.md ("Canonical refund and void forms").

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chain::Document;
use super::refund::{clean_reason, RefundTender};
use super::sale::CompletedSale;
use super::DomainError;

/// A void as committed and as sent in a `void_sale` op's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleVoid {
    pub void_id: Uuid,
    pub sale_id: Uuid,
    /// RFC 3339 UTC with milliseconds, from the till's clock.
    pub created_at: String,
    pub reason: String,
    /// What the voided sale took: its `total_cents + rounding_cents`.
    pub total_cents: i64,
    /// What went back, per tender of the sale (amount given minus change).
    pub tenders: Vec<RefundTender>,
    pub approved_by: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl SaleVoid {
    /// The void of `sale`; needs a reason. The hash is filled in by [`seal`](Self::seal).
    pub fn of_sale(
        void_id: Uuid,
        created_at: String,
        sale: &CompletedSale,
        reason: &str,
    ) -> Result<SaleVoid, DomainError> {
        let reason = clean_reason(reason)?;
        if reason.is_empty() {
            return Err(DomainError::Invalid {
                field: "reason",
                reason: "a void needs a reason".into(),
            });
        }
        let mut tenders: Vec<RefundTender> = sale
            .tenders
            .iter()
            .map(|t| RefundTender {
                kind: t.kind,
                amount_cents: t.amount_cents - t.change_cents,
            })
            .collect();
        let total = sale.due_cents();
        let paid: i64 = tenders.iter().map(|t| t.amount_cents).sum();
        if paid != total {
            // A sale without tenders (or an odd one): everything back as cash.
            tenders = vec![RefundTender {
                kind: super::TenderKind::Cash,
                amount_cents: total,
            }];
        }
        Ok(SaleVoid {
            void_id,
            sale_id: sale.sale_id,
            created_at,
            reason,
            total_cents: total,
            tenders,
            approved_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }
}

impl Document for SaleVoid {
    fn canonical(&self) -> String {
        let mut out = format!(
            "kassa-void-v1|{}|{}|{}|{}",
            self.void_id, self.created_at, self.sale_id, self.total_cents
        );
        for t in &self.tenders {
            out.push_str(&format!("\nT|{}|{}|0", t.kind.as_str(), t.amount_cents));
        }
        out
    }

    fn link(&self) -> (&str, &str) {
        (&self.prev_hash, &self.hash)
    }

    fn set_link(&mut self, prev_hash: String, hash: String) {
        self.prev_hash = prev_hash;
        self.hash = hash;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Tender, TenderKind, GENESIS_HASH};

    #[test]
    fn a_void_gives_back_what_was_paid_and_hashes_as_documented() {
        let sale = CompletedSale {
            sale_id: Uuid::parse_str("0193a5b0-0000-7000-8000-000000000001").unwrap(),
            created_at: "2026-11-28T17:30:00.123Z".into(),
            currency: "EUR".into(),
            total_cents: 1234,
            tax_cents: 81,
            rounding_cents: 0,
            lines: vec![],
            tenders: vec![Tender {
                kind: TenderKind::Cash,
                amount_cents: 2000,
                change_cents: 766,
            }],
            prev_hash: String::new(),
            hash: String::new(),
        };
        let id = Uuid::parse_str("0193a5b0-0000-7000-8000-0000000000b1").unwrap();
        let mut v = SaleVoid::of_sale(
            id,
            "2026-11-28T17:35:00.000Z".into(),
            &sale,
            "customer left",
        )
        .unwrap();
        assert_eq!(
            v.canonical(),
            "kassa-void-v1|0193a5b0-0000-7000-8000-0000000000b1|2026-11-28T17:35:00.000Z|\
             0193a5b0-0000-7000-8000-000000000001|1234\n\
             T|cash|1234|0"
        );
        v.seal(GENESIS_HASH);
        assert_eq!(
            v.hash,
            "79cfee65be22c6e6f0bd752e72ded2c9fbd2b1cee02b51431820371908d41e92"
        );
        assert!(v.verify(GENESIS_HASH));
        assert!(SaleVoid::of_sale(id, "T".into(), &sale, "  ").is_err());
    }
}
