//! The enrolled till's Supabase Auth session (`device_session`, one row): written whole by
//! `kassa enroll` in one transaction, its tokens rotated by the sync engine with a
//! compare-and-swap on the refresh token it started from, so that two processes sharing the
//! database never overwrite a newer token with an older one. Tokens never leave through
//! `Debug`; [`StoredSession::summary`] is what may be shown.

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{timestamp, Db, StoreError};

/// The stored session.
#[derive(Clone, PartialEq)]
pub struct StoredSession {
    pub url: String,
    pub anon_key: String,
    pub email: String,
    pub user_id: String,
    pub store_id: Option<String>,
    pub access_token: String,
    pub refresh_token: String,
    /// Access-token lifetime in seconds, as last issued.
    pub expires_in: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub enrolled_at: String,
    pub refreshed_at: Option<String>,
    /// Set when Supabase Auth refused the session for good (e.g. `refresh_token_already_used`).
    pub revoked_reason: Option<String>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("url", &self.url)
            .field("email", &self.email)
            .field("user_id", &self.user_id)
            .field("store_id", &self.store_id)
            .field("expires_at", &self.expires_at)
            .field("revoked_reason", &self.revoked_reason)
            .field("tokens", &"<redacted>")
            .finish()
    }
}

/// What `kassa enroll --status` and `kassa doctor` may show: no token, no key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionSummary {
    pub url: String,
    pub email: String,
    pub device_id: String,
    pub store_id: Option<String>,
    /// When the current access token expires (RFC 3339 UTC).
    pub access_expires_at: String,
    pub access_expired: bool,
    pub enrolled_at: String,
    pub refreshed_at: Option<String>,
    pub revoked_reason: Option<String>,
}

impl StoredSession {
    pub fn summary(&self, now: chrono::DateTime<chrono::Utc>) -> SessionSummary {
        let at = chrono::DateTime::from_timestamp(self.expires_at, 0).unwrap_or_default();
        SessionSummary {
            url: self.url.clone(),
            email: self.email.clone(),
            device_id: self.user_id.clone(),
            store_id: self.store_id.clone(),
            access_expires_at: timestamp(at),
            access_expired: at <= now,
            enrolled_at: self.enrolled_at.clone(),
            refreshed_at: self.refreshed_at.clone(),
            revoked_reason: self.revoked_reason.clone(),
        }
    }
}

impl Db {
    /// The enrolled session, if any.
    pub fn device_session(&self) -> Result<Option<StoredSession>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT url, anon_key, email, user_id, store_id, access_token, refresh_token,
                        expires_in, expires_at, enrolled_at, refreshed_at, revoked_reason
                 FROM device_session WHERE id = 1",
                [],
                |r| {
                    Ok(StoredSession {
                        url: r.get(0)?,
                        anon_key: r.get(1)?,
                        email: r.get(2)?,
                        user_id: r.get(3)?,
                        store_id: r.get(4)?,
                        access_token: r.get(5)?,
                        refresh_token: r.get(6)?,
                        expires_in: r.get(7)?,
                        expires_at: r.get(8)?,
                        enrolled_at: r.get(9)?,
                        refreshed_at: r.get(10)?,
                        revoked_reason: r.get(11)?,
                    })
                },
            )
            .optional()?)
    }

    /// Replaces the session with a new one (enrolment), in one transaction.
    pub fn save_session(&mut self, s: &StoredSession) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM device_session", [])?;
        tx.execute(
            "INSERT INTO device_session (id, url, anon_key, email, user_id, store_id, access_token,
                 refresh_token, expires_in, expires_at, enrolled_at, refreshed_at, revoked_reason)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                s.url,
                s.anon_key,
                s.email,
                s.user_id,
                s.store_id,
                s.access_token,
                s.refresh_token,
                s.expires_in,
                s.expires_at,
                s.enrolled_at,
                s.refreshed_at,
                s.revoked_reason
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a refreshed session if the stored refresh token is still `from` (and the
    /// session is not revoked). False when another process rotated it first or the till was
    /// re-enrolled meanwhile: the caller re-reads instead.
    pub fn rotate_session(
        &mut self,
        from: &str,
        access_token: &str,
        refresh_token: &str,
        expires_in: i64,
        expires_at: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE device_session SET access_token = ?2, refresh_token = ?3, expires_in = ?4,
                 expires_at = ?5, refreshed_at = ?6
             WHERE id = 1 AND refresh_token = ?1 AND revoked_reason IS NULL",
            rusqlite::params![
                from,
                access_token,
                refresh_token,
                expires_in,
                expires_at,
                timestamp(now)
            ],
        )?;
        Ok(n == 1)
    }

    /// Records that Auth refused the session whose refresh token is `token` for good.
    pub fn revoke_session(&mut self, token: &str, reason: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE device_session SET revoked_reason = ?2 WHERE id = 1 AND refresh_token = ?1",
            [token, reason],
        )?;
        Ok(n == 1)
    }

    /// Removes the session (`kassa enroll --forget`). True if there was one.
    pub fn forget_session(&mut self) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM device_session", [])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;

    fn session(refresh: &str) -> StoredSession {
        StoredSession {
            url: "http://127.0.0.1:1".into(),
            anon_key: "anon-secret".into(),
            email: "till@x".into(),
            user_id: "de71ce00-0000-4000-8000-000000000001".into(),
            store_id: Some("5a1e0000-0000-4000-8000-000000000001".into()),
            access_token: "access.secret.token".into(),
            refresh_token: refresh.into(),
            expires_in: 60,
            expires_at: 1_900_000_000,
            enrolled_at: "2026-12-04T00:00:00.000Z".into(),
            refreshed_at: None,
            revoked_reason: None,
        }
    }

    #[test]
    fn a_rotation_applies_only_to_the_token_it_started_from() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("t.db"), &StoreOptions::default()).unwrap();
        assert_eq!(db.device_session().unwrap(), None);
        db.save_session(&session("r0")).unwrap();
        let now = chrono::Utc::now();
        assert!(db.rotate_session("r0", "a.b.c", "r1", 60, 1, now).unwrap());
        assert!(!db.rotate_session("r0", "x.y.z", "r1b", 60, 2, now).unwrap());
        let s = db.device_session().unwrap().unwrap();
        assert_eq!((s.refresh_token.as_str(), s.expires_at), ("r1", 1));
        assert!(db
            .revoke_session("r1", "refresh_token_already_used")
            .unwrap());
        assert!(!db.rotate_session("r1", "a.b.c", "r2", 60, 3, now).unwrap());
        let dbg = format!("{:?}", db.device_session().unwrap());
        assert!(!dbg.contains("secret") && !dbg.contains("r1"), "{dbg}");
        assert!(db.forget_session().unwrap());
        assert_eq!(db.device_session().unwrap(), None);
    }
}
