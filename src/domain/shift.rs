//! Shifts and the cash drawer: the opening float, paid-in / paid-out / no-sale movements, the
//! blind close, and what the drawer should hold (issue 11).
//!
//! Payloads and canonical forms: docs/protocol.md (kinds `shift_open`, `cash_movement`,
//! `shift_close`, "Canonical shift forms"). The three are documents of the till's one chain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chain::Document;
use super::refund::clean_reason;
use super::{DomainError, MAX_UNIT_PRICE};

/// Largest float, count or movement, in minor units.
pub const MAX_CASH_CENTS: i64 = MAX_UNIT_PRICE;

/// A count by denomination: denomination in minor units -> how many (serialised with string
/// keys, `{"5000":2,"100":12}`).
pub type Denominations = BTreeMap<i64, i64>;

fn invalid(field: &'static str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Checks an amount of cash: 0..=[`MAX_CASH_CENTS`].
pub fn check_cash(field: &'static str, cents: i64) -> Result<i64, DomainError> {
    if (0..=MAX_CASH_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(invalid(
            field,
            format!("must be between 0 and {MAX_CASH_CENTS} minor units"),
        ))
    }
}

/// Parses `5000x2,100x12` (denomination in minor units `x` count, comma-separated; each
/// denomination once, denominations >= 1, counts >= 0).
pub fn parse_denominations(text: &str) -> Result<Denominations, DomainError> {
    let mut out = Denominations::new();
    for part in text.split(',') {
        let part = part.trim();
        let bad = || {
            invalid(
                "denominations",
                format!("{part:?} is not DENOMINATIONxCOUNT (e.g. 5000x2,100x12)"),
            )
        };
        let (d, n) = part.split_once(['x', 'X']).ok_or_else(bad)?;
        let d: i64 = d.trim().parse().map_err(|_| bad())?;
        let n: i64 = n.trim().parse().map_err(|_| bad())?;
        if !(1..=MAX_CASH_CENTS).contains(&d) || !(0..=1_000_000).contains(&n) {
            return Err(bad());
        }
        if out.insert(d, n).is_some() {
            return Err(invalid(
                "denominations",
                format!("denomination {d} is given twice"),
            ));
        }
    }
    Ok(out)
}

/// The sum of a count by denomination; `None` on overflow or past [`MAX_CASH_CENTS`].
pub fn denominations_total(d: &Denominations) -> Option<i64> {
    d.iter()
        .try_fold(0i64, |acc, (den, n)| acc.checked_add(den.checked_mul(*n)?))
        .filter(|t| *t <= MAX_CASH_CENTS)
}

/// Checks that a count by denomination adds up to `amount` (the protocol requires it).
pub fn check_denominations(d: &Denominations, amount: i64) -> Result<(), DomainError> {
    match denominations_total(d) {
        Some(t) if t == amount => Ok(()),
        Some(t) => Err(invalid(
            "denominations",
            format!("they add up to {t}, not {amount}"),
        )),
        None => Err(invalid("denominations", "the total is out of range")),
    }
}

/// What moved through the drawer in one shift, in minor units, all >= 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashTally {
    pub float_cents: i64,
    /// Cash sales: cash tendered − change given.
    pub cash_sales_cents: i64,
    /// Cash paid back by refunds.
    pub cash_refunds_cents: i64,
    /// Cash paid back by post-voids.
    pub cash_voids_cents: i64,
    pub paid_in_cents: i64,
    pub paid_out_cents: i64,
}

impl CashTally {
    /// What the drawer should hold: float + cash sales − cash refunds − cash voids + paid-in
    /// − paid-out (docs/protocol.md, `expected_cents`). Saturating, never panics.
    pub fn expected_cents(&self) -> i64 {
        self.float_cents
            .saturating_add(self.cash_sales_cents)
            .saturating_sub(self.cash_refunds_cents)
            .saturating_sub(self.cash_voids_cents)
            .saturating_add(self.paid_in_cents)
            .saturating_sub(self.paid_out_cents)
    }
}

/// `shift_open`: the shift begins with a counted float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftOpen {
    pub shift_id: Uuid,
    pub staff_id: Option<Uuid>,
    /// RFC 3339 UTC with milliseconds, from the till's clock.
    pub opened_at: String,
    pub float_cents: i64,
    #[serde(default)]
    pub denominations: Option<Denominations>,
    #[serde(default)]
    pub approved_by: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl ShiftOpen {
    /// A new shift; the float must be 0..=[`MAX_CASH_CENTS`] and the denominations (when
    /// given) must add up to it. Not sealed.
    pub fn new(
        shift_id: Uuid,
        opened_at: String,
        staff_id: Option<Uuid>,
        float_cents: i64,
        denominations: Option<Denominations>,
    ) -> Result<ShiftOpen, DomainError> {
        check_cash("float", float_cents)?;
        if let Some(d) = &denominations {
            check_denominations(d, float_cents)?;
        }
        Ok(ShiftOpen {
            shift_id,
            staff_id,
            opened_at,
            float_cents,
            denominations,
            approved_by: None,
            operator: None,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }
}

fn opt_id(id: &Option<Uuid>) -> String {
    id.map(|u| u.to_string()).unwrap_or_default()
}

impl Document for ShiftOpen {
    fn canonical(&self) -> String {
        format!(
            "kassa-shift-open-v1|{}|{}|{}|{}",
            self.shift_id,
            self.opened_at,
            opt_id(&self.staff_id),
            self.float_cents
        )
    }
    fn link(&self) -> (&str, &str) {
        (&self.prev_hash, &self.hash)
    }
    fn set_link(&mut self, prev_hash: String, hash: String) {
        self.prev_hash = prev_hash;
        self.hash = hash;
    }
}

/// The kind of a cash movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashMovementKind {
    PaidIn,
    PaidOut,
    /// The drawer opened without a sale (amount 0).
    NoSale,
}

impl CashMovementKind {
    /// The protocol's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CashMovementKind::PaidIn => "paid_in",
            CashMovementKind::PaidOut => "paid_out",
            CashMovementKind::NoSale => "no_sale",
        }
    }
    /// Parses the protocol's name.
    pub fn parse(s: &str) -> Option<CashMovementKind> {
        match s {
            "paid_in" => Some(CashMovementKind::PaidIn),
            "paid_out" => Some(CashMovementKind::PaidOut),
            "no_sale" => Some(CashMovementKind::NoSale),
            _ => None,
        }
    }
}

/// `cash_movement`: cash into or out of the drawer outside a sale, or a no-sale opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashMovement {
    pub movement_id: Uuid,
    pub shift_id: Uuid,
    pub staff_id: Option<Uuid>,
    pub created_at: String,
    pub kind: CashMovementKind,
    pub amount_cents: i64,
    pub reason: String,
    #[serde(default)]
    pub approved_by: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl CashMovement {
    /// A movement of the open shift. Paid-in and paid-out need an amount >= 1 and a reason; a
    /// no-sale has amount 0 (the reason is optional). Not sealed.
    pub fn new(
        movement_id: Uuid,
        shift_id: Uuid,
        staff_id: Option<Uuid>,
        created_at: String,
        kind: CashMovementKind,
        amount_cents: i64,
        reason: &str,
    ) -> Result<CashMovement, DomainError> {
        let reason = clean_reason(reason)?;
        check_cash("amount", amount_cents)?;
        match kind {
            CashMovementKind::NoSale if amount_cents != 0 => {
                return Err(invalid("amount", "a no-sale moves no money"));
            }
            CashMovementKind::PaidIn | CashMovementKind::PaidOut if amount_cents == 0 => {
                return Err(invalid("amount", "must be more than 0"));
            }
            CashMovementKind::PaidIn | CashMovementKind::PaidOut if reason.is_empty() => {
                return Err(invalid("reason", "cash in and out need a reason"));
            }
            _ => {}
        }
        Ok(CashMovement {
            movement_id,
            shift_id,
            staff_id,
            created_at,
            kind,
            amount_cents,
            reason,
            approved_by: None,
            operator: None,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }
}

impl Document for CashMovement {
    fn canonical(&self) -> String {
        format!(
            "kassa-cash-v1|{}|{}|{}|{}|{}",
            self.movement_id,
            self.created_at,
            self.shift_id,
            self.kind.as_str(),
            self.amount_cents
        )
    }
    fn link(&self) -> (&str, &str) {
        (&self.prev_hash, &self.hash)
    }
    fn set_link(&mut self, prev_hash: String, hash: String) {
        self.prev_hash = prev_hash;
        self.hash = hash;
    }
}

/// `shift_close`: the blind count and what the till expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftClose {
    pub shift_id: Uuid,
    pub staff_id: Option<Uuid>,
    pub closed_at: String,
    pub counted_cents: i64,
    #[serde(default)]
    pub denominations: Option<Denominations>,
    pub expected_cents: i64,
    pub over_short_cents: i64,
    #[serde(default)]
    pub approved_by: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl ShiftClose {
    /// The close of a shift whose drawer should hold `tally.expected_cents()`; `counted` is the
    /// blind count (denominations, when given, must add up to it). Not sealed.
    pub fn new(
        shift_id: Uuid,
        closed_at: String,
        staff_id: Option<Uuid>,
        counted_cents: i64,
        denominations: Option<Denominations>,
        tally: &CashTally,
    ) -> Result<ShiftClose, DomainError> {
        check_cash("counted", counted_cents)?;
        if let Some(d) = &denominations {
            check_denominations(d, counted_cents)?;
        }
        let expected = tally.expected_cents();
        Ok(ShiftClose {
            shift_id,
            staff_id,
            closed_at,
            counted_cents,
            denominations,
            expected_cents: expected,
            over_short_cents: counted_cents.saturating_sub(expected),
            approved_by: None,
            operator: None,
            prev_hash: String::new(),
            hash: String::new(),
        })
    }
}

impl Document for ShiftClose {
    fn canonical(&self) -> String {
        format!(
            "kassa-shift-close-v1|{}|{}|{}|{}|{}|{}",
            self.shift_id,
            self.closed_at,
            opt_id(&self.staff_id),
            self.counted_cents,
            self.expected_cents,
            self.over_short_cents
        )
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
    use crate::domain::GENESIS_HASH;
    use proptest::prelude::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn canonical_forms_are_the_documented_ones() {
        let mut o = ShiftOpen::new(
            id(1),
            "2026-12-04T08:00:00.000Z".into(),
            Some(id(2)),
            15000,
            Some(Denominations::from([(5000, 2), (2000, 2), (1000, 1)])),
        )
        .unwrap();
        assert_eq!(
            o.canonical(),
            format!(
                "kassa-shift-open-v1|{}|2026-12-04T08:00:00.000Z|{}|15000",
                id(1),
                id(2)
            )
        );
        o.seal(GENESIS_HASH);
        assert!(o.verify(GENESIS_HASH));
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["denominations"]["5000"], 2);
        assert!(json.get("operator").is_none());
        let back: ShiftOpen = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);

        let m = CashMovement::new(
            id(3),
            id(1),
            None,
            "T".into(),
            CashMovementKind::PaidOut,
            2500,
            "window cleaner",
        )
        .unwrap();
        assert_eq!(
            m.canonical(),
            format!("kassa-cash-v1|{}|T|{}|paid_out|2500", id(3), id(1))
        );
        let tally = CashTally {
            float_cents: 15000,
            cash_sales_cents: 30000,
            paid_out_cents: 2500,
            ..CashTally::default()
        };
        let c = ShiftClose::new(id(1), "U".into(), None, 42480, None, &tally).unwrap();
        assert_eq!(c.expected_cents, 42500);
        assert_eq!(c.over_short_cents, -20);
        assert_eq!(
            c.canonical(),
            format!("kassa-shift-close-v1|{}|U||42480|42500|-20", id(1))
        );
    }

    #[test]
    fn bad_amounts_denominations_and_movements_are_refused() {
        assert!(ShiftOpen::new(id(1), "T".into(), None, -1, None).is_err());
        let d = parse_denominations("5000x2, 100x12").unwrap();
        assert_eq!(denominations_total(&d), Some(11200));
        assert!(ShiftOpen::new(id(1), "T".into(), None, 11200, Some(d.clone())).is_ok());
        assert!(ShiftOpen::new(id(1), "T".into(), None, 11201, Some(d)).is_err());
        for bad in [
            "",
            "5000",
            "x2",
            "5000x",
            "0x3",
            "5000x-1",
            "5000x2,5000x1",
            "ax2",
        ] {
            assert!(parse_denominations(bad).is_err(), "{bad:?}");
        }
        let mv = |k, a, r: &str| CashMovement::new(id(1), id(2), None, "T".into(), k, a, r);
        assert!(mv(CashMovementKind::PaidIn, 0, "float top-up").is_err());
        assert!(mv(CashMovementKind::PaidOut, 100, " ").is_err());
        assert!(mv(CashMovementKind::NoSale, 1, "").is_err());
        assert!(mv(CashMovementKind::NoSale, 0, "").is_ok());
        assert!(mv(CashMovementKind::PaidIn, -5, "x").is_err());
    }

    proptest! {
        #[test]
        fn expected_is_the_formula(
            f in 0i64..1_000_000, s in 0i64..1_000_000, r in 0i64..1_000_000,
            v in 0i64..1_000_000, i in 0i64..1_000_000, o in 0i64..1_000_000,
            counted in 0i64..5_000_000,
        ) {
            let t = CashTally { float_cents: f, cash_sales_cents: s, cash_refunds_cents: r,
                cash_voids_cents: v, paid_in_cents: i, paid_out_cents: o };
            prop_assert_eq!(t.expected_cents(), f + s - r - v + i - o);
            let c = ShiftClose::new(id(1), "T".into(), None, counted, None, &t).unwrap();
            prop_assert_eq!(c.over_short_cents, counted - (f + s - r - v + i - o));
        }
    }
}
