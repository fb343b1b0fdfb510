//! Refunds: money paid back for returned goods, with or without the original receipt.
//!
//! Rounding rule for a refund against a receipt (what the README writes down): a sale line of
//! `qty` units whose printed total is `T` and tax `X` gives back, for `u` units in all,
//! `f(u) = round(T × u / qty)` and `g(u) = round(X × u / qty)` (half away from zero). The
//! refund of `k` more units after `r` were already refunded is `f(r + k) − f(r)` and tax
//! `g(r + k) − g(r)` (cumulative rounding), so any number of partial refunds of a line add up to
//! exactly `T` and `X` once every unit is back, and never more. The tax rate is the one the line
//! was sold at. Cash refunds are cash-rounded like cash sales (`cash_rounding`), card refunds
//! pay back the exact total. A refund without a receipt is priced from the catalog like a sale.
//!
//! The canonical form and hash are specified in `docs/protocol.md` ("Canonical refund and void
//! forms"); the server recomputes them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cart::CartLine;
use super::chain::Document;
use super::money::{div_round_half_away, to_minor};
use super::sale::{CompletedSale, SaleLine};
use super::tender::{cash_rounding, TenderKind};
use super::{DomainError, MAX_LINES, MAX_QTY};

/// Longest reason a refund or void may carry, in characters.
pub const MAX_REASON_CHARS: usize = 200;

/// The configured limits of refunding (config `cash_rounding`, `refunds.blind_max_cents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    /// Cash refunds are rounded to this many minor units, like cash sales (0 = none).
    pub cash_rounding: i64,
    /// Most a refund without a receipt may pay back, in minor units.
    pub blind_max_cents: i64,
}

/// One returned line of a refund (docs/protocol.md, kind `refund`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLine {
    pub line_no: i64,
    /// The sale line this returns; `None` for a refund without a receipt.
    pub original_line_no: Option<i64>,
    pub sku: String,
    pub name: String,
    pub qty: i64,
    /// What the customer paid for these `qty` units (positive).
    pub amount_cents: i64,
    pub tax_rate_bp: i64,
    pub tax_cents: i64,
    /// The goods go back on the shelf (false: damaged, written off).
    pub restock: bool,
}

/// Money going back to the customer, by tender (no change on a refund).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundTender {
    pub kind: TenderKind,
    pub amount_cents: i64,
}

/// A refund as committed and as sent in a `refund` op's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: Uuid,
    /// RFC 3339 UTC with milliseconds, from the till's clock.
    pub created_at: String,
    pub currency: String,
    /// The sale refunded; `None` for a refund without a receipt ("blind").
    pub original_sale_id: Option<Uuid>,
    pub reason: String,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    pub lines: Vec<RefundLine>,
    pub tenders: Vec<RefundTender>,
    pub approved_by: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Which units of a sale line to take back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPick {
    /// The sale's `line_no`.
    pub original_line_no: i64,
    pub qty: i64,
    pub restock: bool,
}

/// A sale line as a refund sees it: the line and how many of its units were already taken back
/// (by this till's refunds, plus what the server said other tills refunded, when known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundableLine {
    pub line: SaleLine,
    pub refunded_qty: i64,
}

impl RefundableLine {
    /// Units still refundable (never negative).
    pub fn remaining_qty(&self) -> i64 {
        (self.line.qty - self.refunded_qty).max(0)
    }
}

/// `round(total × units / qty)`: what `units` of a line of `qty` units with `total` are worth.
/// The cumulative amount function `f` of the module header.
pub fn prorated(total: i64, units: i64, qty: i64) -> Result<i64, DomainError> {
    if qty <= 0 || units < 0 || units > qty {
        return Err(DomainError::BadQuantity(units));
    }
    to_minor(div_round_half_away(
        i128::from(total) * i128::from(units),
        i128::from(qty),
    ))
}

/// Amount and tax for `k` more units of `line` after `already` were refunded:
/// `(f(already + k) − f(already), g(already + k) − g(already))`.
pub fn refund_amounts(line: &SaleLine, already: i64, k: i64) -> Result<(i64, i64), DomainError> {
    check_qty(k)?;
    if already < 0 || already.checked_add(k).is_none_or(|u| u > line.qty) {
        return Err(DomainError::Invalid {
            field: "qty",
            reason: format!(
                "line {} sold {} and {} already refunded: at most {} more",
                line.line_no,
                line.qty,
                already,
                (line.qty - already).max(0)
            ),
        });
    }
    let amount = prorated(line.line_total_cents, already + k, line.qty)?
        - prorated(line.line_total_cents, already, line.qty)?;
    let tax = prorated(line.tax_cents, already + k, line.qty)?
        - prorated(line.tax_cents, already, line.qty)?;
    Ok((amount, tax))
}

fn check_qty(qty: i64) -> Result<(), DomainError> {
    if !(1..=MAX_QTY).contains(&qty) {
        return Err(DomainError::BadQuantity(qty));
    }
    Ok(())
}

/// A reason as stored: trimmed, one line, at most [`MAX_REASON_CHARS`] characters.
pub fn clean_reason(reason: &str) -> Result<String, DomainError> {
    let r = reason.trim();
    if r.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: "reason",
            reason: "must be one line of text".into(),
        });
    }
    if r.chars().count() > MAX_REASON_CHARS {
        return Err(DomainError::Invalid {
            field: "reason",
            reason: format!("longer than {MAX_REASON_CHARS} characters"),
        });
    }
    Ok(r.to_string())
}

/// How the refund pays back: the tender and its cash rounding; returns
/// `(rounding_cents, tenders)` for a refund of `total`.
fn pay_back(
    total: i64,
    tender: TenderKind,
    rounding_increment: i64,
) -> Result<(i64, Vec<RefundTender>), DomainError> {
    let rounding = match tender {
        TenderKind::Cash => cash_rounding(total, rounding_increment)?,
        TenderKind::Card => 0,
    };
    let amount = total.checked_add(rounding).ok_or(DomainError::Overflow)?;
    Ok((
        rounding,
        vec![RefundTender {
            kind: tender,
            amount_cents: amount,
        }],
    ))
}

impl Refund {
    /// A refund of `picks` of `sale`, whose lines were already refunded as `lines` say (same
    /// line numbers as the sale). Refuses a quantity above what is left, an unknown line, a line
    /// named twice, no lines. The hash is filled in by [`seal`](Self::seal).
    #[allow(clippy::too_many_arguments)]
    pub fn against_sale(
        refund_id: Uuid,
        created_at: String,
        sale: &CompletedSale,
        lines: &[RefundableLine],
        picks: &[RefundPick],
        tender: TenderKind,
        rounding_increment: i64,
        reason: &str,
    ) -> Result<Refund, DomainError> {
        if picks.is_empty() {
            return Err(DomainError::Invalid {
                field: "refund",
                reason: "nothing left to refund on this receipt".into(),
            });
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(picks.len());
        for (i, p) in picks.iter().enumerate() {
            if !seen.insert(p.original_line_no) {
                return Err(DomainError::Invalid {
                    field: "refund",
                    reason: format!("line {} is named twice", p.original_line_no),
                });
            }
            let l = lines
                .iter()
                .find(|l| l.line.line_no == p.original_line_no)
                .ok_or(DomainError::NoSuchLine(p.original_line_no.max(0) as usize))?;
            let (amount, tax) = refund_amounts(&l.line, l.refunded_qty, p.qty)?;
            out.push(RefundLine {
                line_no: i as i64 + 1,
                original_line_no: Some(l.line.line_no),
                sku: l.line.sku.clone(),
                name: l.line.name.clone(),
                qty: p.qty,
                amount_cents: amount,
                tax_rate_bp: l.line.tax_rate_bp,
                tax_cents: tax,
                restock: p.restock,
            });
        }
        Refund::build(
            refund_id,
            created_at,
            sale.currency.clone(),
            Some(sale.sale_id),
            out,
            tender,
            rounding_increment,
            clean_reason(reason)?,
        )
    }

    /// A refund without a receipt: `lines` priced as the catalog sells them today. Needs a
    /// reason, and the amount paid back may not exceed `max_cents`.
    #[allow(clippy::too_many_arguments)]
    pub fn blind(
        refund_id: Uuid,
        created_at: String,
        currency: &str,
        lines: &[(CartLine, bool)],
        tender: TenderKind,
        rounding_increment: i64,
        reason: &str,
        max_cents: i64,
    ) -> Result<Refund, DomainError> {
        let reason = clean_reason(reason)?;
        if reason.is_empty() {
            return Err(DomainError::Invalid {
                field: "reason",
                reason: "a refund without a receipt needs a reason".into(),
            });
        }
        if lines.is_empty() {
            return Err(DomainError::Invalid {
                field: "refund",
                reason: "no items to refund".into(),
            });
        }
        let mut out = Vec::with_capacity(lines.len());
        for (i, (l, restock)) in lines.iter().enumerate() {
            let a = l.amounts()?;
            out.push(RefundLine {
                line_no: i as i64 + 1,
                original_line_no: None,
                sku: l.sku.clone(),
                name: l.name.clone(),
                qty: l.qty,
                amount_cents: a.line_total_cents,
                tax_rate_bp: l.tax_rate_bp,
                tax_cents: a.tax_cents,
                restock: *restock,
            });
        }
        let r = Refund::build(
            refund_id,
            created_at,
            currency.to_string(),
            None,
            out,
            tender,
            rounding_increment,
            reason,
        )?;
        if r.paid_back_cents() > max_cents {
            return Err(DomainError::Invalid {
                field: "refund",
                reason: match super::Currency::from_code(currency) {
                    Ok(c) => format!(
                        "a refund without a receipt is limited to {} {c} \
                         (refunds.blind_max_cents), this one is {}",
                        c.format(max_cents),
                        c.format(r.paid_back_cents())
                    ),
                    Err(_) => format!(
                        "a refund without a receipt is limited to {max_cents} minor units \
                         (refunds.blind_max_cents), this one is {}",
                        r.paid_back_cents()
                    ),
                },
            });
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        refund_id: Uuid,
        created_at: String,
        currency: String,
        original_sale_id: Option<Uuid>,
        lines: Vec<RefundLine>,
        tender: TenderKind,
        rounding_increment: i64,
        reason: String,
    ) -> Result<Refund, DomainError> {
        if lines.len() > MAX_LINES {
            return Err(DomainError::TooManyLines);
        }
        let mut total: i64 = 0;
        let mut tax: i64 = 0;
        for l in &lines {
            total = total
                .checked_add(l.amount_cents)
                .ok_or(DomainError::Overflow)?;
            tax = tax.checked_add(l.tax_cents).ok_or(DomainError::Overflow)?;
        }
        let (rounding_cents, tenders) = pay_back(total, tender, rounding_increment)?;
        Ok(Refund {
            refund_id,
            created_at,
            currency,
            original_sale_id,
            reason,
            total_cents: total,
            tax_cents: tax,
            rounding_cents,
            lines,
            tenders,
            approved_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }

    /// What went back to the customer: total plus cash rounding (= the tenders' sum).
    pub fn paid_back_cents(&self) -> i64 {
        self.total_cents + self.rounding_cents
    }
}

impl Document for Refund {
    fn canonical(&self) -> String {
        let mut out = format!(
            "kassa-refund-v1|{}|{}|{}|{}|{}|{}|{}",
            self.refund_id,
            self.created_at,
            self.currency,
            self.original_sale_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            self.total_cents,
            self.tax_cents,
            self.rounding_cents
        );
        let mut lines: Vec<&RefundLine> = self.lines.iter().collect();
        lines.sort_by_key(|l| l.line_no);
        for l in lines {
            out.push_str(&format!(
                "\nR|{}|{}|{}|{}|{}|{}|{}|{}",
                l.line_no,
                l.original_line_no
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                l.sku,
                l.qty,
                l.amount_cents,
                l.tax_rate_bp,
                l.tax_cents,
                u8::from(l.restock)
            ));
        }
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

/// A sale of any till of the store as `kassa_sale_lookup` returns it (docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookedUpSale {
    pub sale_id: Uuid,
    /// The server's id of the till that sold it.
    pub device_id: String,
    /// That till's seq of the sale.
    pub seq: i64,
    pub created_at: String,
    pub currency: String,
    pub total_cents: i64,
    pub tax_cents: i64,
    #[serde(default)]
    pub rounding_cents: i64,
    #[serde(default)]
    pub voided: bool,
    pub lines: Vec<LookedUpLine>,
    #[serde(default)]
    pub tenders: Vec<super::Tender>,
}

/// One line of a looked-up sale, with what all refunds and voids the server has took back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookedUpLine {
    #[serde(flatten)]
    pub line: SaleLine,
    #[serde(default)]
    pub refunded_qty: i64,
}

impl LookedUpSale {
    /// The sale itself, as a refund sees it (no hash: it is not in this till's chain).
    pub fn to_sale(&self) -> CompletedSale {
        CompletedSale {
            sale_id: self.sale_id,
            created_at: self.created_at.clone(),
            currency: self.currency.clone(),
            total_cents: self.total_cents,
            tax_cents: self.tax_cents,
            rounding_cents: self.rounding_cents,
            lines: self.lines.iter().map(|l| l.line.clone()).collect(),
            tenders: self.tenders.clone(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }
}

/// A receipt as a cashier types or scans it: the till's seq (`17`), a sale id
/// (`0193a5b0-…`) or the compact 32-hex sale id printed on the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptRef {
    Seq(i64),
    SaleId(Uuid),
}

impl ReceiptRef {
    /// Parses a receipt code; anything else is a one-line error.
    pub fn parse(text: &str) -> Result<ReceiptRef, DomainError> {
        let t = text.trim();
        let bad = || DomainError::Invalid {
            field: "receipt",
            reason: format!("{text:?} is not a receipt number, a sale id or a 32-hex receipt code"),
        };
        if !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = t.parse().map_err(|_| bad())?;
            return if n >= 1 {
                Ok(ReceiptRef::Seq(n))
            } else {
                Err(bad())
            };
        }
        let hyphenated = t.len() == 36 && t.matches('-').count() == 4;
        let compact = t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit());
        if hyphenated || compact {
            return Uuid::parse_str(t)
                .map(ReceiptRef::SaleId)
                .map_err(|_| bad());
        }
        Err(bad())
    }

    /// The compact code printed on a receipt for a sale id: 32 lowercase hex digits.
    pub fn code(sale_id: &Uuid) -> String {
        sale_id.simple().to_string()
    }
}

impl std::fmt::Display for ReceiptRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceiptRef::Seq(n) => write!(f, "#{n}"),
            ReceiptRef::SaleId(id) => write!(f, "{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GENESIS_HASH;

    fn line(qty: i64, total: i64, tax: i64) -> SaleLine {
        SaleLine {
            line_no: 1,
            sku: "1001".into(),
            name: "Milk".into(),
            qty,
            unit_price_cents: 119,
            discount_cents: 0,
            price_overridden: false,
            tax_rate_bp: 700,
            price_includes_tax: true,
            line_total_cents: total,
            tax_cents: tax,
        }
    }

    #[test]
    fn receipt_codes_are_a_seq_a_sale_id_or_its_compact_form() {
        let id = Uuid::parse_str("0193a5b0-0000-7000-8000-000000000001").unwrap();
        assert_eq!(ReceiptRef::parse("17"), Ok(ReceiptRef::Seq(17)));
        assert_eq!(
            ReceiptRef::parse("0193a5b0-0000-7000-8000-000000000001"),
            Ok(ReceiptRef::SaleId(id))
        );
        assert_eq!(ReceiptRef::code(&id), "0193a5b0000070008000000000000001");
        assert_eq!(
            ReceiptRef::parse("0193A5B0000070008000000000000001"),
            Ok(ReceiptRef::SaleId(id))
        );
        for bad in [
            "",
            "0",
            "-3",
            "abc",
            "0193a5b0-0000-7000-8000-00000000000",
            "12x",
            "1e5",
        ] {
            assert!(ReceiptRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_lookup_answer_parses_with_its_refunded_quantities() {
        let v = serde_json::json!({"sale_id":"0193a5b0-0000-7000-8000-000000000001",
            "device_id":"d","seq":17,"created_at":"T","currency":"EUR",
            "total_cents":238,"tax_cents":16,"rounding_cents":0,"voided":false,
            "lines":[{"line_no":1,"sku":"4001","name":"Milk 1L","qty":2,"unit_price_cents":119,
               "discount_cents":0,"price_overridden":false,"tax_rate_bp":700,
               "price_includes_tax":true,"line_total_cents":238,"tax_cents":16,"refunded_qty":1}],
            "tenders":[{"kind":"cash","amount_cents":2000,"change_cents":1762}]});
        let s: LookedUpSale = serde_json::from_value(v).unwrap();
        assert_eq!(s.lines[0].refunded_qty, 1);
        assert_eq!(s.to_sale().lines[0].line_total_cents, 238);
    }

    #[test]
    fn partial_refunds_add_up_to_the_line_exactly() {
        // 3 units for 1.00 (a discount made it uneven): 0.33, 0.34, 0.33.
        let l = line(3, 100, 7);
        assert_eq!(refund_amounts(&l, 0, 1), Ok((33, 2)));
        assert_eq!(refund_amounts(&l, 1, 1), Ok((34, 3)));
        assert_eq!(refund_amounts(&l, 2, 1), Ok((33, 2)));
        assert_eq!(refund_amounts(&l, 0, 3), Ok((100, 7)));
        assert!(refund_amounts(&l, 2, 2).is_err());
        assert!(refund_amounts(&l, 0, 0).is_err());
        assert!(refund_amounts(&l, 0, -1).is_err());
    }

    #[test]
    fn a_blind_refund_needs_a_reason_and_stays_under_the_limit() {
        let cl = CartLine {
            sku: "1001".into(),
            name: "Milk".into(),
            qty: 2,
            unit_price_cents: 119,
            discount_cents: 0,
            price_overridden: false,
            tax_rate_bp: 700,
            price_includes_tax: true,
        };
        let id = Uuid::nil();
        let mk = |reason: &str, max| {
            Refund::blind(
                id,
                "T".into(),
                "EUR",
                &[(cl.clone(), true)],
                TenderKind::Cash,
                0,
                reason,
                max,
            )
        };
        assert!(mk("", 10_000).is_err());
        assert!(mk("no receipt", 237).is_err());
        let r = mk("no receipt", 238).unwrap();
        assert_eq!((r.total_cents, r.tax_cents), (238, 16));
        assert_eq!(r.lines[0].original_line_no, None);
    }

    /// The vector of docs/protocol.md's refund payload example.
    pub(crate) fn protocol_example() -> Refund {
        Refund {
            refund_id: Uuid::parse_str("0193a5b0-0000-7000-8000-0000000000a1").unwrap(),
            created_at: "2026-11-28T18:00:00.000Z".into(),
            currency: "EUR".into(),
            original_sale_id: Some(
                Uuid::parse_str("0193a5b0-0000-7000-8000-000000000001").unwrap(),
            ),
            reason: "wrong size".into(),
            total_cents: 238,
            tax_cents: 16,
            rounding_cents: 0,
            lines: vec![RefundLine {
                line_no: 1,
                original_line_no: Some(2),
                sku: "4001".into(),
                name: "Milk 1L".into(),
                qty: 2,
                amount_cents: 238,
                tax_rate_bp: 700,
                tax_cents: 16,
                restock: true,
            }],
            tenders: vec![RefundTender {
                kind: TenderKind::Cash,
                amount_cents: 238,
            }],
            approved_by: None,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn canonical_form_and_hash_are_the_documented_ones() {
        let mut r = protocol_example();
        assert_eq!(
            r.canonical(),
            "kassa-refund-v1|0193a5b0-0000-7000-8000-0000000000a1|2026-11-28T18:00:00.000Z|EUR|\
             0193a5b0-0000-7000-8000-000000000001|238|16|0\n\
             R|1|2|4001|2|238|700|16|1\n\
             T|cash|238|0"
        );
        r.seal(GENESIS_HASH);
        assert_eq!(
            r.hash,
            "299b4589458063684ddc253a87acf0d9ee23c9a9157768c50cda44b44be9dab6"
        );
        assert!(r.verify(GENESIS_HASH));
        let mut blind = r.clone();
        blind.original_sale_id = None;
        blind.lines[0].original_line_no = None;
        blind.lines[0].restock = false;
        assert_eq!(
            blind.canonical(),
            "kassa-refund-v1|0193a5b0-0000-7000-8000-0000000000a1|2026-11-28T18:00:00.000Z|EUR||238|16|0\n\
             R|1||4001|2|238|700|16|0\n\
             T|cash|238|0"
        );
        let mut tampered = r.clone();
        tampered.lines[0].qty = 1;
        assert!(!tampered.verify(GENESIS_HASH));
    }

    #[test]
    fn payload_is_the_protocols_shape() {
        let v = serde_json::to_value(protocol_example()).unwrap();
        assert_eq!(
            v["original_sale_id"],
            "0193a5b0-0000-7000-8000-000000000001"
        );
        assert_eq!(v["lines"][0]["original_line_no"], 2);
        assert_eq!(v["lines"][0]["restock"], true);
        assert_eq!(
            v["tenders"][0],
            serde_json::json!({"kind": "cash", "amount_cents": 238})
        );
        assert!(v["approved_by"].is_null());
    }
}
