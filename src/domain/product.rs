//! Catalog items as the till sells them.

use serde::{Deserialize, Serialize};

use super::{DomainError, MAX_UNIT_PRICE};

/// One sellable product. Prices are per unit in minor units; `price_includes_tax` says whether
/// the shelf price already contains the tax (gross pricing, usual in Europe) or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub barcode: Option<String>,
    pub name: String,
    pub price_cents: i64,
    pub tax_rate_bp: i64,
    pub price_includes_tax: bool,
    pub active: bool,
}

impl Product {
    /// Checks the invariants every product in the catalog must keep.
    pub fn validate(&self) -> Result<(), DomainError> {
        validate_code("sku", &self.sku)?;
        if let Some(b) = &self.barcode {
            validate_code("barcode", b)?;
        }
        if self.name.trim().is_empty() || self.name.len() > 200 || has_control(&self.name) {
            return Err(DomainError::Invalid {
                field: "name",
                reason: "must be 1 to 200 printable characters".into(),
            });
        }
        validate_price(self.price_cents)?;
        validate_tax_rate(self.tax_rate_bp)
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// SKUs and barcodes: 1–64 characters, no whitespace, no `|` (the canonical sale form's separator).
pub fn validate_code(field: &'static str, code: &str) -> Result<(), DomainError> {
    if code.is_empty()
        || code.len() > 64
        || code
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '|')
    {
        return Err(DomainError::Invalid {
            field,
            reason: format!("{code:?} must be 1 to 64 characters without spaces or '|'"),
        });
    }
    Ok(())
}

pub fn validate_price(price: i64) -> Result<(), DomainError> {
    if !(0..=MAX_UNIT_PRICE).contains(&price) {
        return Err(DomainError::BadPrice(price));
    }
    Ok(())
}

pub fn validate_tax_rate(bp: i64) -> Result<(), DomainError> {
    if !(0..=10_000).contains(&bp) {
        return Err(DomainError::BadTaxRate(bp));
    }
    Ok(())
}
