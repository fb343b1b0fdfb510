//! Tenders: how a sale is paid, change due, and optional cash rounding.
//!
//! Cash rounding (e.g. to 5 cents where small coins are out of use) applies to cash only and is
//! its own line on the receipt: `due = total + rounding`. Card always pays the exact total.

use serde::{Deserialize, Serialize};

use super::money::{div_round_half_away, to_minor, Currency};
use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenderKind {
    Cash,
    Card,
}

impl TenderKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            TenderKind::Cash => "cash",
            TenderKind::Card => "card",
        }
    }
}

/// One payment recorded on a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tender {
    pub kind: TenderKind,
    pub amount_cents: i64,
    pub change_cents: i64,
}

/// What the cashier says the customer pays with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// Cash; `given: None` means the exact amount due.
    Cash {
        given: Option<i64>,
    },
    Card,
}

/// The outcome of paying: rounding line, amount due, tenders and change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub rounding_cents: i64,
    pub due_cents: i64,
    pub tenders: Vec<Tender>,
    pub change_cents: i64,
}

/// Rounds `total` to the nearest multiple of `increment` (half away from zero) and returns
/// the difference; an increment of 0 or 1 means no rounding.
pub fn cash_rounding(total: i64, increment: i64) -> Result<i64, DomainError> {
    if increment <= 1 {
        return Ok(0);
    }
    let inc = i128::from(increment);
    let rounded = div_round_half_away(i128::from(total), inc) * inc;
    to_minor(rounded - i128::from(total))
}

/// Settles a sale of `total` minor units with one payment.
pub fn settle(
    total: i64,
    payment: Payment,
    cash_rounding_increment: i64,
    currency: Currency,
) -> Result<Settlement, DomainError> {
    if total < 0 {
        return Err(DomainError::Overflow);
    }
    match payment {
        Payment::Card => Ok(Settlement {
            rounding_cents: 0,
            due_cents: total,
            tenders: vec![Tender {
                kind: TenderKind::Card,
                amount_cents: total,
                change_cents: 0,
            }],
            change_cents: 0,
        }),
        Payment::Cash { given } => {
            let rounding = cash_rounding(total, cash_rounding_increment)?;
            let due = total.checked_add(rounding).ok_or(DomainError::Overflow)?;
            let given = given.unwrap_or(due);
            if given < due {
                return Err(DomainError::InsufficientCash {
                    given: currency.format(given),
                    due: currency.format(due),
                });
            }
            let change = given - due;
            Ok(Settlement {
                rounding_cents: rounding,
                due_cents: due,
                tenders: vec![Tender {
                    kind: TenderKind::Cash,
                    amount_cents: given,
                    change_cents: change,
                }],
                change_cents: change,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cash_gives_change() {
        let s = settle(837, Payment::Cash { given: Some(1000) }, 0, Currency::EUR).unwrap();
        assert_eq!(s.change_cents, 163);
        assert_eq!(s.due_cents, 837);
    }

    #[test]
    fn too_little_cash_is_refused() {
        let e = settle(837, Payment::Cash { given: Some(500) }, 0, Currency::EUR).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cash given 5.00 is less than the amount due 8.37"
        );
    }

    #[test]
    fn cash_rounding_is_its_own_line_and_card_is_exact() {
        let s = settle(837, Payment::Cash { given: None }, 5, Currency::CHF).unwrap();
        assert_eq!(s.rounding_cents, -2);
        assert_eq!(s.due_cents, 835);
        assert_eq!(s.change_cents, 0);
        let s = settle(838, Payment::Cash { given: None }, 5, Currency::CHF).unwrap();
        assert_eq!(s.rounding_cents, 2);
        let s = settle(837, Payment::Card, 5, Currency::CHF).unwrap();
        assert_eq!(s.rounding_cents, 0);
        assert_eq!(s.due_cents, 837);
    }
}
