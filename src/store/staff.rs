//! Staff at this till: local members (`kassa staff add`) and those pulled from the server, PIN
//! checks with a lockout kept in the database (a restart does not reset it), and the checks of
//! who a document is recorded against.
//!
//! No function here returns or logs a PIN or a PIN hash: [`StaffMember`] carries neither.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use uuid::Uuid;

use super::{timestamp, Db, StoreError};
use crate::domain::{Attribution, LockoutPolicy, Pin, Role, StaffMember};

/// The outcome of a PIN check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PinCheck {
    /// The PIN is right: this member is logged in (their wrong-PIN count is reset).
    Accepted { staff: StaffMember },
    /// The PIN is wrong; this many more wrong PINs lock the member out.
    Wrong { attempts_left: i64 },
    /// Too many wrong PINs in a row: no PIN is checked until `until` (RFC 3339 UTC).
    LockedOut { until: String },
}

/// The outcome of a manager's approval on the spot ([`Db::check_approver`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalCheck {
    /// The PIN is right and the member is a manager.
    Approved { manager: StaffMember },
    /// The PIN is right, but the member may not approve (a cashier, a technician).
    NotAManager { staff: StaffMember },
    /// The PIN is wrong; this many more wrong PINs lock the member out.
    Wrong { attempts_left: i64 },
    /// Locked out until `until` (RFC 3339 UTC), now or by this very try.
    LockedOut { until: String },
}

/// A staff row as the server sends it in the pull's `staff` section (already checked).
/// `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffUpdate {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// An Argon2id PHC string.
    pub pin_hash: String,
    pub active: bool,
    pub version: i64,
}

impl std::fmt::Debug for StaffUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffUpdate")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("pin_hash", &"<redacted>")
            .field("active", &self.active)
            .field("version", &self.version)
            .finish()
    }
}

fn row_member(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_member(
    (id, name, role, active): (String, String, String, bool),
) -> Result<StaffMember, StoreError> {
    Ok(StaffMember {
        id: Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("staff id {id:?}")))?,
        name,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("staff role {role:?}")))?,
        active,
    })
}

/// The staff member `id` (active or not), if known.
pub(super) fn member(conn: &Connection, id: &Uuid) -> Result<Option<StaffMember>, StoreError> {
    conn.prepare_cached("SELECT id, name, role, active FROM staff WHERE id = ?1")?
        .query_row([id.to_string()], row_member)
        .optional()?
        .map(to_member)
        .transpose()
}

/// True when the store has at least one active staff member (then sales need an open shift).
pub(super) fn has_staff(conn: &Connection) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM staff WHERE active = 1)")?
        .query_row([], |r| r.get(0))?)
}

/// Checks who a document is recorded against: the staff member must be known and active, the
/// approver a known, active manager. `StoreError::Invalid` otherwise.
pub(super) fn check_attribution(conn: &Connection, who: &Attribution) -> Result<(), StoreError> {
    if let Some(id) = &who.staff_id {
        let m = member(conn, id)?
            .ok_or_else(|| StoreError::Invalid(format!("unknown staff id {id}")))?;
        if !m.active {
            return Err(StoreError::Invalid(format!(
                "staff member {id} is disabled"
            )));
        }
    }
    if let Some(id) = &who.approved_by {
        let m = member(conn, id)?
            .ok_or_else(|| StoreError::Invalid(format!("unknown approver staff id {id}")))?;
        if !m.active || !m.role.can_approve() {
            return Err(StoreError::Invalid(format!(
                "staff member {id} cannot approve: only an active manager can"
            )));
        }
    }
    if let Some(op) = &who.operator {
        if op.chars().count() > 100 || op.chars().any(char::is_control) {
            return Err(StoreError::Invalid("bad operator name".into()));
        }
    }
    Ok(())
}

fn unix_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl Db {
    /// True when the store has at least one active staff member. Then every sale, refund and
    /// void needs an open shift, and the console asks for a PIN.
    pub fn has_staff(&self) -> Result<bool, StoreError> {
        has_staff(&self.conn)
    }

    /// Every staff member (active or not), by name. Never carries a PIN or hash.
    pub fn list_staff(&self) -> Result<Vec<StaffMember>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, role, active FROM staff ORDER BY name COLLATE NOCASE, id",
        )?;
        let rows = st.query_map([], row_member)?;
        rows.map(|r| to_member(r?)).collect()
    }

    /// The staff member `id` (active or not), if known.
    pub fn staff_member(&self, id: &Uuid) -> Result<Option<StaffMember>, StoreError> {
        member(&self.conn, id)
    }

    /// Adds a local staff member with a new id; the PIN is stored only as its Argon2id hash
    /// (random salt). `StoreError::Invalid` for a bad name.
    pub fn add_staff(
        &mut self,
        name: &str,
        role: Role,
        pin: &Pin,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, StoreError> {
        let name = crate::domain::staff::clean_name(name)?;
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let hash = pin.hash(&salt)?;
        let m = StaffMember {
            id: Uuid::now_v7(),
            name,
            role,
            active: true,
        };
        self.conn.execute(
            "INSERT INTO staff (id, name, role, pin_hash, active, source, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, 'local', ?5)",
            params![
                m.id.to_string(),
                m.name,
                role.as_str(),
                hash,
                timestamp(now)
            ],
        )?;
        tracing::info!(staff_id = %m.id, role = role.as_str(), "staff member added");
        Ok(m)
    }

    /// Disables a staff member (they can no longer log in, approve or be recorded on a new
    /// document). `StoreError::Invalid` for an unknown id; disabling twice is fine.
    pub fn disable_staff(
        &mut self,
        id: &Uuid,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, StoreError> {
        let n = self.conn.execute(
            "UPDATE staff SET active = 0, updated_at = ?2 WHERE id = ?1",
            params![id.to_string(), timestamp(now)],
        )?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("unknown staff id {id}")));
        }
        tracing::info!(staff_id = %id, "staff member disabled");
        member(&self.conn, id)?.ok_or_else(|| StoreError::Invalid(format!("unknown staff id {id}")))
    }

    /// Checks `pin_text` for staff member `id`. A PIN of the wrong format, an unknown or a
    /// disabled member: `StoreError::Invalid`, nothing counted. While locked out no PIN is
    /// checked. A wrong PIN counts (in the database); `policy.max_attempts` wrong PINs in a
    /// row lock the member for `policy.lockout_seconds`. A right one resets the count.
    pub fn check_pin(
        &mut self,
        id: &Uuid,
        pin_text: &str,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<PinCheck, StoreError> {
        let pin = Pin::parse(pin_text).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String, String, bool, String)> = tx
            .prepare_cached("SELECT id, name, role, active, pin_hash FROM staff WHERE id = ?1")?
            .query_row([id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((sid, name, role, active, hash)) = row else {
            return Err(StoreError::Invalid(format!("unknown staff id {id}")));
        };
        let m = to_member((sid.clone(), name, role, active))?;
        if !m.active {
            return Err(StoreError::Invalid(format!(
                "staff member {id} is disabled"
            )));
        }
        let (failed, locked): (i64, Option<i64>) = tx
            .prepare_cached(
                "SELECT failed_attempts, locked_until_ms FROM staff_lockout WHERE staff_id = ?1",
            )?
            .query_row([&sid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, None));
        if let Some(until) = locked.filter(|u| *u > unix_ms(now)) {
            let until = DateTime::from_timestamp_millis(until).unwrap_or(now);
            return Ok(PinCheck::LockedOut {
                until: timestamp(until),
            });
        }
        // A lock that has run out starts the count again.
        let failed = if locked.is_some() { 0 } else { failed };
        let outcome = if pin.matches(&hash) {
            tx.execute("DELETE FROM staff_lockout WHERE staff_id = ?1", [&sid])?;
            PinCheck::Accepted { staff: m }
        } else {
            let failed = failed + 1;
            let max = policy.max_attempts.max(1);
            if failed >= max {
                let until = now + Duration::seconds(policy.lockout_seconds.max(0));
                tx.execute(
                    "INSERT INTO staff_lockout (staff_id, failed_attempts, locked_until_ms)
                     VALUES (?1, 0, ?2)
                     ON CONFLICT (staff_id) DO UPDATE SET failed_attempts = 0,
                         locked_until_ms = excluded.locked_until_ms",
                    params![sid, unix_ms(until)],
                )?;
                tracing::warn!(staff_id = %sid, "staff member locked out after wrong PINs");
                PinCheck::LockedOut {
                    until: timestamp(until),
                }
            } else {
                tx.execute(
                    "INSERT INTO staff_lockout (staff_id, failed_attempts, locked_until_ms)
                     VALUES (?1, ?2, NULL)
                     ON CONFLICT (staff_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
                         locked_until_ms = NULL",
                    params![sid, failed],
                )?;
                tracing::info!(staff_id = %sid, failed, "wrong PIN");
                PinCheck::Wrong {
                    attempts_left: max - failed,
                }
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// A manager's approval on the spot, as a typed answer (the console shows each case in
    /// its own words): checks `pin_text` for `approver_id` like [`check_pin`](Self::check_pin)
    /// (a wrong PIN counts toward that member's lockout the same way) and then the role.
    pub fn check_approver(
        &mut self,
        approver_id: &Uuid,
        pin_text: &str,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<ApprovalCheck, StoreError> {
        Ok(match self.check_pin(approver_id, pin_text, policy, now)? {
            PinCheck::Accepted { staff } if staff.role.can_approve() => {
                tracing::info!(staff_id = %staff.id, "override approved");
                ApprovalCheck::Approved { manager: staff }
            }
            PinCheck::Accepted { staff } => ApprovalCheck::NotAManager { staff },
            PinCheck::Wrong { attempts_left } => ApprovalCheck::Wrong { attempts_left },
            PinCheck::LockedOut { until } => ApprovalCheck::LockedOut { until },
        })
    }

    /// A manager's approval on the spot: checks `pin_text` for `manager_id` like
    /// [`check_pin`](Self::check_pin) (counting wrong PINs the same way) and that the member is
    /// a manager. Returns the manager; a wrong PIN, a lockout or another role is
    /// `StoreError::Invalid` (the wrong PIN is still counted).
    pub fn approve_by_manager(
        &mut self,
        manager_id: &Uuid,
        pin_text: &str,
        policy: &LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, StoreError> {
        match self.check_approver(manager_id, pin_text, policy, now)? {
            ApprovalCheck::Approved { manager } => Ok(manager),
            ApprovalCheck::NotAManager { .. } => Err(StoreError::Invalid(format!(
                "staff member {manager_id} is not a manager and cannot approve"
            ))),
            ApprovalCheck::Wrong { attempts_left } => Err(StoreError::Invalid(format!(
                "wrong PIN ({attempts_left} more wrong PINs lock staff member {manager_id} out)"
            ))),
            ApprovalCheck::LockedOut { until } => Err(StoreError::Invalid(format!(
                "staff member {manager_id} is locked out until {until}"
            ))),
        }
    }

    /// When staff member `id` is locked out (RFC 3339 UTC), or `None`.
    pub fn locked_until(
        &self,
        id: &Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let until: Option<Option<i64>> = self
            .conn
            .prepare_cached("SELECT locked_until_ms FROM staff_lockout WHERE staff_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(until
            .flatten()
            .filter(|u| *u > unix_ms(now))
            .and_then(DateTime::from_timestamp_millis)
            .map(timestamp))
    }

    /// The pull's staff cursor (the last staff version seen; 0 = from the start).
    pub fn staff_cursor(&self) -> Result<i64, StoreError> {
        Ok(self
            .meta_get("sync_cursor_staff")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Stores one pulled page of staff rows and the staff cursor in one transaction.
    pub fn apply_staff_page(
        &mut self,
        rows: &[StaffUpdate],
        cursor: i64,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = upsert_staff(&tx, rows, now)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('sync_cursor_staff', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [cursor.max(0).to_string()],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// Stores staff rows pulled from the server (newer versions replace older ones; a row of
    /// a local member with the same id is taken over by the server's). Returns how many
    /// changed.
    pub fn apply_staff_updates(
        &mut self,
        rows: &[StaffUpdate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = upsert_staff(&tx, rows, now)?;
        tx.commit()?;
        Ok(n)
    }
}

fn upsert_staff(
    tx: &rusqlite::Transaction<'_>,
    rows: &[StaffUpdate],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO staff (id, name, role, pin_hash, active, source, version, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'server', ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                     pin_hash = excluded.pin_hash, active = excluded.active, source = 'server',
                     version = excluded.version, updated_at = excluded.updated_at
                 WHERE staff.source = 'local' OR staff.version < excluded.version",
        )?;
        for r in rows {
            n += st.execute(params![
                r.id.to_string(),
                r.name,
                r.role.as_str(),
                r.pin_hash,
                r.active,
                r.version,
                timestamp(now)
            ])?;
        }
    }
    Ok(n)
}
