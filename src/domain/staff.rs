//! Staff: who may ring up sales, their roles and PINs, the limits of a cashier and who is
//! recorded on a document (issue 11, docs/protocol.md "Who rang it up").
//!
//! A PIN is 4 to 8 ASCII digits. It is kept only as an Argon2id PHC string (`$argon2id$...`);
//! the PIN itself never leaves [`Pin`] (whose `Debug` is redacted) and is never serialised.
//! Hashing and checking are pure: the caller brings the salt.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DomainError;

/// Shortest and longest PIN, in digits.
pub const PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=8;
/// Longest staff name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Manager,
    Technician,
}

impl Role {
    /// The protocol's name (`cashier`, `manager`, `technician`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Technician => "technician",
        }
    }

    /// Parses the protocol's name; anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "cashier" => Some(Role::Cashier),
            "manager" => Some(Role::Manager),
            "technician" => Some(Role::Technician),
            _ => None,
        }
    }

    /// True for the roles that may approve an override (manager; a technician is not staff on
    /// the shop floor and approves nothing).
    pub fn can_approve(&self) -> bool {
        matches!(self, Role::Manager)
    }
}

/// A staff member as the till knows them. Carries no PIN and no hash (so it can be printed,
/// logged and serialised freely).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

/// A PIN that has the right format. `Debug` never shows the digits; there is no `Display`
/// and no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl Pin {
    /// A PIN of 4 to 8 ASCII digits (surrounding whitespace, e.g. the newline of stdin, is
    /// ignored). Anything else is `DomainError::Invalid` whose message never echoes the input.
    pub fn parse(text: &str) -> Result<Pin, DomainError> {
        let t = text.trim();
        if !PIN_DIGITS.contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::Invalid {
                field: "PIN",
                reason: format!(
                    "a PIN is {} to {} digits",
                    PIN_DIGITS.start(),
                    PIN_DIGITS.end()
                ),
            });
        }
        Ok(Pin(t.to_string()))
    }

    /// The Argon2id PHC string of this PIN with the given salt (16 random bytes from the
    /// caller), default Argon2 parameters (m=19456 KiB, t=2, p=1).
    pub fn hash(&self, salt: &[u8; 16]) -> Result<String, DomainError> {
        let salt = SaltString::encode_b64(salt).map_err(|e| DomainError::Invalid {
            field: "salt",
            reason: e.to_string(),
        })?;
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| DomainError::Invalid {
                field: "PIN hash",
                reason: e.to_string(),
            })
    }

    /// True when `phc` (an Argon2id PHC string, whatever its parameters) is the hash of this
    /// PIN. A hash that is not a usable Argon2id PHC string never matches.
    pub fn matches(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if parsed.algorithm.as_str() != "argon2id" {
            return false;
        }
        Argon2::default()
            .verify_password(self.0.as_bytes(), &parsed)
            .is_ok()
    }
}

/// True when `phc` is an Argon2id PHC string the till can check PINs against (what a pulled
/// staff row must carry).
pub fn is_argon2id_phc(phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|p| p.algorithm.as_str() == "argon2id" && p.hash.is_some() && p.salt.is_some())
        .unwrap_or(false)
}

/// A staff name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn clean_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    let bad = |reason: &str| DomainError::Invalid {
        field: "name",
        reason: reason.into(),
    };
    if n.is_empty() {
        return Err(bad("a staff member needs a name"));
    }
    if n.chars().count() > MAX_NAME_CHARS {
        return Err(bad("longer than 60 characters"));
    }
    if n.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    Ok(n.to_string())
}

/// Who a document is recorded against (docs/protocol.md: `staff_id`, `approved_by`,
/// `operator`). `Default` is nobody: the till as it works without staff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// The staff member logged in (or given by `--staff`).
    pub staff_id: Option<Uuid>,
    /// The manager who approved an override on the spot.
    pub approved_by: Option<Uuid>,
    /// `technician:<unix user>` for a headless command run without `--staff`.
    pub operator: Option<String>,
}

impl Attribution {
    /// A staff member, nobody approving.
    pub fn staff(id: Uuid) -> Attribution {
        Attribution {
            staff_id: Some(id),
            ..Attribution::default()
        }
    }

    /// A technician's headless command: `operator = "technician:<user>"`, no staff id.
    pub fn technician(unix_user: &str) -> Attribution {
        Attribution {
            operator: Some(format!("technician:{unix_user}")),
            ..Attribution::default()
        }
    }

    /// The same, approved by `manager`.
    pub fn approved(mut self, manager: Option<Uuid>) -> Attribution {
        self.approved_by = manager;
        self
    }

    /// Adds the non-null fields (`staff_id`, `approved_by`, `shift_id`, `operator`) to a
    /// document's JSON payload; null ones are left out (absent = null in the protocol), so a
    /// till without staff sends exactly what it sent before.
    pub fn stamp(&self, shift_id: Option<Uuid>, payload: &mut serde_json::Value) {
        let Some(map) = payload.as_object_mut() else {
            return;
        };
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                map.insert(k.to_string(), serde_json::Value::String(v));
            }
        };
        put("staff_id", self.staff_id.map(|u| u.to_string()));
        put("approved_by", self.approved_by.map(|u| u.to_string()));
        put("shift_id", shift_id.map(|u| u.to_string()));
        put("operator", self.operator.clone());
    }
}

/// An action that may be above a cashier's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// A line discount or price override of this many basis points of the line's list
    /// amount (10000 = 100 %).
    Discount { basis_points: i64 },
    /// A refund against a receipt paying back this much.
    Refund { amount_cents: i64 },
    /// A refund without a receipt.
    BlindRefund,
    /// Voiding a completed sale.
    PostVoid,
    /// Opening the drawer without a sale.
    NoSale,
}

impl Guarded {
    /// The discount of a line charged `charged_cents` for what lists at `list_cents` (its
    /// quantity at the catalog price), whether it came from a discount, a price override or
    /// both. The share is the smallest one that rounds to the amount taken off (amounts are
    /// rounded half away from zero to the minor unit, as `10%` is), in whole basis points
    /// rounded up: `10%` of 1.19 takes 0.12 off and stays a 10 % discount, 0.13 is more.
    /// A line charged its list amount or more, or listing at nothing, has no discount.
    pub fn line_discount(list_cents: i64, charged_cents: i64) -> Guarded {
        let off = i128::from(list_cents) - i128::from(charged_cents);
        let basis_points = if list_cents <= 0 || off <= 0 {
            0
        } else {
            // ceil((off − ½) × 10000 / list) = ceil((2·off − 1) × 10000 / (2·list)).
            let num = (2 * off - 1) * 10_000;
            let den = 2 * i128::from(list_cents);
            i64::try_from((num + den - 1) / den).unwrap_or(i64::MAX)
        };
        Guarded::Discount { basis_points }
    }
}

/// A cashier's limits (config `[staff]`); a manager has none. A technician works headless and
/// is held to the cashier's limits unless a manager's PIN approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleLimits {
    /// Largest discount or price override a cashier may give alone, in percent of the line.
    pub cashier_max_discount_percent: i64,
    /// Largest refund against a receipt a cashier may give alone, in minor units.
    pub cashier_refund_limit_cents: i64,
    /// A refund without a receipt needs a manager.
    pub blind_refund_needs_manager: bool,
    /// A post-void needs a manager.
    pub post_void_needs_manager: bool,
    /// Opening the drawer with no sale needs a manager.
    pub no_sale_needs_manager: bool,
}

impl Default for RoleLimits {
    fn default() -> Self {
        RoleLimits {
            cashier_max_discount_percent: 10,
            cashier_refund_limit_cents: 5000,
            blind_refund_needs_manager: true,
            post_void_needs_manager: true,
            no_sale_needs_manager: true,
        }
    }
}

impl RoleLimits {
    /// True when `role` needs a manager's approval for `action`. A manager never does.
    pub fn needs_manager(&self, role: Role, action: Guarded) -> bool {
        if role == Role::Manager {
            return false;
        }
        match action {
            Guarded::Discount { basis_points } => {
                basis_points > self.cashier_max_discount_percent.saturating_mul(100)
            }
            Guarded::Refund { amount_cents } => amount_cents > self.cashier_refund_limit_cents,
            Guarded::BlindRefund => self.blind_refund_needs_manager,
            Guarded::PostVoid => self.post_void_needs_manager,
            Guarded::NoSale => self.no_sale_needs_manager,
        }
    }
}

/// Wrong PINs in a row before a staff member is locked out, and for how long (config
/// `[staff] max_pin_attempts`, `lockout_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    pub max_attempts: i64,
    pub lockout_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_attempts: 5,
            lockout_seconds: 300,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_format_is_four_to_eight_digits_and_never_echoed() {
        for ok in ["1234", "12345678", " 0000\n"] {
            assert!(Pin::parse(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "123", "123456789", "12a4", "12 34", "١٢٣٤", "-1234"] {
            let e = Pin::parse(bad).unwrap_err().to_string();
            assert!(e.contains("4 to 8 digits"), "{e}");
            if !bad.trim().is_empty() {
                assert!(!e.contains(bad.trim()), "{e}");
            }
        }
        assert_eq!(
            format!("{:?}", Pin::parse("4711").unwrap()),
            "Pin(<redacted>)"
        );
    }

    #[test]
    fn a_pin_matches_its_own_argon2id_hash_only() {
        let pin = Pin::parse("4711").unwrap();
        let phc = pin.hash(&[7u8; 16]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("4711"));
        assert!(is_argon2id_phc(&phc));
        assert!(pin.matches(&phc));
        assert!(!Pin::parse("4712").unwrap().matches(&phc));
        assert!(!pin.matches("not a hash"));
        assert!(!pin.matches(&phc.replace("argon2id", "argon2i")));
        assert!(!is_argon2id_phc(
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
        // Another salt, another string, still the same PIN.
        let other = pin.hash(&[8u8; 16]).unwrap();
        assert_ne!(other, phc);
        assert!(pin.matches(&other));
    }

    #[test]
    fn a_cashier_needs_a_manager_beyond_the_limits() {
        let l = RoleLimits::default();
        let c = Role::Cashier;
        assert!(!l.needs_manager(c, Guarded::Discount { basis_points: 1000 }));
        assert!(l.needs_manager(c, Guarded::Discount { basis_points: 1001 }));
        assert!(!l.needs_manager(c, Guarded::Refund { amount_cents: 5000 }));
        assert!(l.needs_manager(c, Guarded::Refund { amount_cents: 5001 }));
        assert!(l.needs_manager(c, Guarded::BlindRefund));
        assert!(l.needs_manager(c, Guarded::PostVoid));
        assert!(l.needs_manager(c, Guarded::NoSale));
        assert!(l.needs_manager(Role::Technician, Guarded::PostVoid));
        for a in [Guarded::PostVoid, Guarded::BlindRefund, Guarded::NoSale] {
            assert!(!l.needs_manager(Role::Manager, a));
        }
    }

    #[test]
    fn a_line_discount_is_measured_against_the_list_amount_as_typed_percentages_round() {
        let bp = |list, charged| match Guarded::line_discount(list, charged) {
            Guarded::Discount { basis_points } => basis_points,
            other => panic!("{other:?}"),
        };
        let l = RoleLimits::default();
        let needs =
            |list, charged| l.needs_manager(Role::Cashier, Guarded::line_discount(list, charged));
        // 10% of 1.19 is 0.12 off (rounded): still within a 10 % limit; 0.13 is not.
        assert!(!needs(119, 107));
        assert!(needs(119, 106));
        assert_eq!(bp(1000, 900), 995);
        assert!(!needs(1000, 900));
        assert!(needs(1000, 899));
        // A price override up, none, or a free line listing at nothing: no discount.
        assert_eq!(bp(1000, 1200), 0);
        assert_eq!(bp(1000, 1000), 0);
        assert_eq!(bp(0, 0), 0);
        // Everything off.
        assert!(bp(1000, 0) > 9_990);
        assert!(!l.needs_manager(Role::Manager, Guarded::line_discount(1000, 0)));
    }

    #[test]
    fn attribution_adds_only_what_is_set() {
        let mut v = serde_json::json!({"sale_id": "x"});
        Attribution::default().stamp(None, &mut v);
        assert_eq!(v, serde_json::json!({"sale_id": "x"}));
        let s = Uuid::from_u128(1);
        let m = Uuid::from_u128(2);
        let sh = Uuid::from_u128(3);
        Attribution::staff(s)
            .approved(Some(m))
            .stamp(Some(sh), &mut v);
        assert_eq!(v["staff_id"], s.to_string());
        assert_eq!(v["approved_by"], m.to_string());
        assert_eq!(v["shift_id"], sh.to_string());
        assert!(v.get("operator").is_none());
        let mut t = serde_json::json!({});
        Attribution::technician("ops").stamp(None, &mut t);
        assert_eq!(t, serde_json::json!({"operator": "technician:ops"}));
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("Manager"), None);
        assert!(clean_name("  Ana ").is_ok());
        assert!(clean_name(" ").is_err());
    }
}
