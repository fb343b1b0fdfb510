//! A completed sale: what is committed, queued and pushed, and its tamper-evident hash.
//!
//! The canonical form and hash chain are specified in `docs/protocol.md`; the server recomputes
//! the same hash, so any change here is a protocol change.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cart::{Cart, CartLine};
use super::chain::Document;
use super::money::Currency;
use super::tender::{Settlement, Tender};
use super::DomainError;

/// The `prev_hash` of a till's first sale.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One printed line of a completed sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleLine {
    pub line_no: i64,
    pub sku: String,
    pub name: String,
    pub qty: i64,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    pub price_overridden: bool,
    pub tax_rate_bp: i64,
    pub price_includes_tax: bool,
    pub line_total_cents: i64,
    pub tax_cents: i64,
}

/// A sale as committed and as sent in a `sale` op's payload (docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedSale {
    pub sale_id: Uuid,
    /// RFC 3339 UTC with milliseconds, from the till's clock.
    pub created_at: String,
    pub currency: String,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    pub lines: Vec<SaleLine>,
    pub tenders: Vec<Tender>,
    pub prev_hash: String,
    pub hash: String,
}

impl CompletedSale {
    /// Freezes a cart and its settlement into a sale. The hash is filled in by [`seal`](Self::seal)
    /// when the store knows the previous sale's hash.
    pub fn new(
        sale_id: Uuid,
        created_at: String,
        cart: &Cart,
        settlement: &Settlement,
    ) -> Result<CompletedSale, DomainError> {
        if cart.is_empty() {
            return Err(DomainError::EmptyCart);
        }
        let totals = cart.totals()?;
        let expected_due = totals
            .total_cents
            .checked_add(settlement.rounding_cents)
            .ok_or(DomainError::Overflow)?;
        if expected_due != settlement.due_cents {
            return Err(DomainError::Invalid {
                field: "settlement",
                reason: "does not match the cart's total".into(),
            });
        }
        let lines = cart
            .lines()
            .iter()
            .zip(&totals.lines)
            .enumerate()
            .map(|(i, (l, a))| sale_line(i, l, a.line_total_cents, a.tax_cents))
            .collect();
        Ok(CompletedSale {
            sale_id,
            created_at,
            currency: cart.currency.code().to_string(),
            total_cents: totals.total_cents,
            tax_cents: totals.tax_cents,
            rounding_cents: settlement.rounding_cents,
            lines,
            tenders: settlement.tenders.clone(),
            prev_hash: String::new(),
            hash: String::new(),
        })
    }

    /// What the customer paid in the end: total plus cash rounding.
    pub fn due_cents(&self) -> i64 {
        self.total_cents + self.rounding_cents
    }

    pub fn change_cents(&self) -> i64 {
        self.tenders.iter().map(|t| t.change_cents).sum()
    }

    pub fn currency(&self) -> Result<Currency, DomainError> {
        Currency::from_code(&self.currency)
    }

    /// The canonical text the hash covers (docs/protocol.md, "Canonical sale form").
    pub fn canonical(&self) -> String {
        Document::canonical(self)
    }

    /// `hex(sha256(prev_hash + "\n" + canonical))`.
    pub fn compute_hash(&self, prev_hash: &str) -> String {
        Document::compute_hash(self, prev_hash)
    }

    /// Links this sale to the till's previous document.
    pub fn seal(&mut self, prev_hash: &str) {
        Document::seal(self, prev_hash)
    }

    /// True when the stored hash matches the content and the given previous hash.
    pub fn verify(&self, prev_hash: &str) -> bool {
        Document::verify(self, prev_hash)
    }
}

impl Document for CompletedSale {
    fn canonical(&self) -> String {
        let mut out = format!(
            "kassa-sale-v1|{}|{}|{}|{}|{}|{}",
            self.sale_id,
            self.created_at,
            self.currency,
            self.total_cents,
            self.tax_cents,
            self.rounding_cents
        );
        for l in &self.lines {
            out.push_str(&format!(
                "\nL|{}|{}|{}|{}|{}|{}|{}|{}",
                l.line_no,
                l.sku,
                l.qty,
                l.unit_price_cents,
                l.discount_cents,
                l.tax_rate_bp,
                l.line_total_cents,
                l.tax_cents
            ));
        }
        for t in &self.tenders {
            out.push_str(&format!(
                "\nT|{}|{}|{}",
                t.kind.as_str(),
                t.amount_cents,
                t.change_cents
            ));
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

fn sale_line(i: usize, l: &CartLine, total: i64, tax: i64) -> SaleLine {
    SaleLine {
        line_no: i as i64 + 1,
        sku: l.sku.clone(),
        name: l.name.clone(),
        qty: l.qty,
        unit_price_cents: l.unit_price_cents,
        discount_cents: l.discount_cents,
        price_overridden: l.price_overridden,
        tax_rate_bp: l.tax_rate_bp,
        price_includes_tax: l.price_includes_tax,
        line_total_cents: total,
        tax_cents: tax,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tender::{settle, Payment};
    use crate::domain::Product;

    fn sale() -> CompletedSale {
        let mut cart = Cart::new(Currency::EUR);
        let p = Product {
            sku: "1001".into(),
            barcode: None,
            name: "Milk".into(),
            price_cents: 119,
            tax_rate_bp: 700,
            price_includes_tax: true,
            active: true,
        };
        cart.add(&p, 2).unwrap();
        let s = settle(238, Payment::Cash { given: Some(500) }, 0, Currency::EUR).unwrap();
        let id = Uuid::parse_str("0193a5b0-0000-7000-8000-000000000001").unwrap();
        CompletedSale::new(id, "2026-11-28T17:30:00.123Z".into(), &cart, &s).unwrap()
    }

    #[test]
    fn canonical_form_is_the_documented_one() {
        assert_eq!(
            sale().canonical(),
            "kassa-sale-v1|0193a5b0-0000-7000-8000-000000000001|2026-11-28T17:30:00.123Z|EUR|238|16|0\n\
             L|1|1001|2|119|0|700|238|16\n\
             T|cash|500|262"
        );
    }

    #[test]
    fn hash_chains_and_detects_tampering() {
        let mut s = sale();
        s.seal(GENESIS_HASH);
        assert!(s.verify(GENESIS_HASH));
        let mut tampered = s.clone();
        tampered.lines[0].qty = 1;
        assert!(!tampered.verify(GENESIS_HASH));
        assert!(!s.verify(&s.hash.clone()));
    }
}
