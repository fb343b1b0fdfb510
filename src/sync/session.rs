//! An enrolled till's access token, kept fresh: [`SessionKeeper`] refreshes it through
//! Supabase Auth before it expires, and [`Shared::call`] wraps every RPC so that a 401 for an
//! expired JWT leads to one refresh and one retry instead of `unauthorized`.
//!
//! Crash safety rests on two rules. The rotated refresh token is stored (one SQLite
//! transaction, `synchronous=FULL`) before the new access token is used, and a refresh always
//! starts from the token stored in the database. So the stored token is always the session's
//! active one or, after a crash between Auth's answer and the store, its parent, which Auth
//! accepts again and answers with the active one: a `kill -9` at any moment never locks the
//! till out. The store is a compare-and-swap on the token the refresh started from, so two
//! processes on one database never overwrite a newer token with an older one.
//!
//! When Auth refuses the session for good (`refresh_token_already_used`,
//! `refresh_token_not_found`, `user_banned`, ...), the reason is stored and every call fails
//! with an auth-class error naming it: the engine shows `unauthorized`, pushing stops, sales
//! keep queueing. A new `kassa enroll` on the same database is picked up at the next call.

use std::sync::Mutex;

use chrono::Utc;

use super::shared::Shared;
use crate::config::RemoteConfig;
use crate::remote::{AuthClient, AuthError, ErrorClass, RemoteClient, RemoteError};
use crate::store::{StoreHandle, StoredSession};

/// What the keeper knows about the token the client sends now.
#[derive(Debug, Clone)]
struct Current {
    /// The refresh token stored with the current access token.
    refresh_token: String,
    expires_at: i64,
    expires_in: i64,
    /// Auth refused the session for good: why.
    revoked: Option<String>,
}

/// Keeps an enrolled till's access token fresh.
pub(crate) struct SessionKeeper {
    auth: AuthClient,
    /// One refresh at a time in this process.
    refreshing: tokio::sync::Mutex<()>,
    current: Mutex<Current>,
}

impl std::fmt::Debug for SessionKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeeper").finish_non_exhaustive()
    }
}

/// How long before expiry the token is refreshed: a quarter of its lifetime, 5 s to 60 s.
pub(crate) fn refresh_margin(expires_in: i64) -> i64 {
    (expires_in / 4).clamp(5, 60)
}

fn auth_refused(code: &str, why: &str) -> RemoteError {
    RemoteError::Api {
        status: 401,
        code: Some(code.to_string()),
        message: why.to_string(),
        retry_after: None,
        class: ErrorClass::Auth,
    }
}

fn revoked_error(reason: &str) -> RemoteError {
    auth_refused(
        "session_revoked",
        &format!(
            "the till's session was refused by Supabase Auth: {reason}; enrol again (kassa enroll)"
        ),
    )
}

/// A failed refresh as the engine classifies it. Only a refusal by Auth ends the session.
fn refresh_error(e: &AuthError) -> RemoteError {
    match e {
        AuthError::Unreachable { detail, .. } => RemoteError::Connect(detail.clone()),
        AuthError::Unavailable { status, detail } => RemoteError::Api {
            status: *status,
            code: None,
            message: format!("token refresh: {detail}"),
            retry_after: None,
            class: ErrorClass::Transient,
        },
        AuthError::Malformed(d) => RemoteError::BadResponse {
            status: 200,
            detail: format!("token refresh: {d}"),
        },
        AuthError::NotSupabase { status, .. } => RemoteError::Api {
            status: *status,
            code: None,
            message: format!("token refresh: {e}"),
            retry_after: None,
            class: ErrorClass::Transient,
        },
        AuthError::BadKey { .. } => auth_refused("invalid_api_key", &e.to_string()),
        AuthError::Config(m) => RemoteError::Config(m.clone()),
        AuthError::Refused { .. } => revoked_error(&e.to_string()),
    }
}

impl SessionKeeper {
    pub fn new(s: &StoredSession, cfg: &RemoteConfig) -> Result<SessionKeeper, RemoteError> {
        let auth = AuthClient::new(&s.url, &s.anon_key, cfg).map_err(|e| match e {
            AuthError::Config(m) => RemoteError::Config(m),
            other => RemoteError::Config(other.to_string()),
        })?;
        Ok(SessionKeeper {
            auth,
            refreshing: tokio::sync::Mutex::new(()),
            current: Mutex::new(Current {
                refresh_token: s.refresh_token.clone(),
                expires_at: s.expires_at,
                expires_in: s.expires_in,
                revoked: s.revoked_reason.clone(),
            }),
        })
    }

    fn current(&self) -> Current {
        match self.current.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_current(&self, c: Current) {
        match self.current.lock() {
            Ok(mut g) => *g = c,
            Err(p) => *p.into_inner() = c,
        }
    }

    /// Starts using the stored session's access token.
    fn adopt(&self, client: &RemoteClient, s: &StoredSession) -> Result<(), RemoteError> {
        client.set_token(&s.access_token)?;
        self.set_current(Current {
            refresh_token: s.refresh_token.clone(),
            expires_at: s.expires_at,
            expires_in: s.expires_in,
            revoked: s.revoked_reason.clone(),
        });
        Ok(())
    }

    fn is_fresh(expires_at: i64, expires_in: i64) -> bool {
        Utc::now().timestamp() + refresh_margin(expires_in) < expires_at
    }

    /// Before a call: refreshes when the token is about to expire; fails at once (auth class)
    /// while the session is revoked, unless the till was enrolled again meanwhile.
    pub async fn ensure_fresh(
        &self,
        store: &StoreHandle,
        client: &RemoteClient,
    ) -> Result<(), RemoteError> {
        let c = self.current();
        if c.revoked.is_none() && Self::is_fresh(c.expires_at, c.expires_in) {
            return Ok(());
        }
        self.refresh(store, client, false).await
    }

    /// Refreshes from the stored session (or adopts a newer one that another process or a
    /// new enrolment stored). `forced`: the server refused the current access token, so a
    /// stored token that looks fresh is not good enough unless it is a different one.
    pub async fn refresh(
        &self,
        store: &StoreHandle,
        client: &RemoteClient,
        forced: bool,
    ) -> Result<(), RemoteError> {
        let _one = self.refreshing.lock().await;
        let stored = store
            .call(|db| db.device_session())
            .await
            .and_then(|r| r)
            .map_err(|e| RemoteError::Config(format!("cannot read the till's session: {e}")))?;
        let Some(stored) = stored else {
            return Err(auth_refused(
                "not_enrolled",
                "the till is no longer enrolled (kassa enroll)",
            ));
        };
        if let Some(reason) = &stored.revoked_reason {
            self.adopt(client, &stored)?;
            return Err(revoked_error(reason));
        }
        let mine = self.current();
        let newer = stored.refresh_token != mine.refresh_token || mine.revoked.is_some();
        if newer {
            self.adopt(client, &stored)?;
            if Self::is_fresh(stored.expires_at, stored.expires_in) {
                tracing::info!("using the session stored by another process or a new enrolment");
                return Ok(());
            }
        } else if !forced && Self::is_fresh(stored.expires_at, stored.expires_in) {
            return Ok(());
        }
        let from = stored.refresh_token.clone();
        match self.auth.refresh(&from).await {
            Ok(new) => {
                let (access, refresh) = (new.access_token.clone(), new.refresh_token.clone());
                let (expires_in, expires_at) = (new.expires_in, new.expires_at);
                let from2 = from.clone();
                // Durable first: only a stored token may ever be used.
                let saved = store
                    .call(move |db| {
                        db.rotate_session(
                            &from2,
                            &access,
                            &refresh,
                            expires_in,
                            expires_at,
                            Utc::now(),
                        )
                    })
                    .await
                    .and_then(|r| r)
                    .map_err(|e| {
                        RemoteError::Config(format!("cannot store the refreshed session: {e}"))
                    })?;
                let now_stored = store
                    .call(|db| db.device_session())
                    .await
                    .and_then(|r| r)
                    .map_err(|e| {
                        RemoteError::Config(format!("cannot read the till's session: {e}"))
                    })?;
                match now_stored {
                    Some(s) => {
                        self.adopt(client, &s)?;
                        if saved {
                            tracing::info!(expires_in, "access token refreshed");
                        }
                        Ok(())
                    }
                    None => Err(auth_refused(
                        "not_enrolled",
                        "the till is no longer enrolled (kassa enroll)",
                    )),
                }
            }
            Err(e @ AuthError::Refused { .. }) => {
                let reason = e.to_string();
                tracing::warn!("Supabase Auth refused the till's session: {reason}");
                let (f, r) = (from.clone(), reason.clone());
                let _ = store.call(move |db| db.revoke_session(&f, &r)).await;
                let mut c = self.current();
                c.revoked = Some(reason.clone());
                self.set_current(c);
                Err(revoked_error(&reason))
            }
            Err(e) => {
                tracing::info!("token refresh failed: {e}");
                Err(refresh_error(&e))
            }
        }
    }
}

/// A 401 that says the JWT expired (PostgREST `PGRST303`; older versions `PGRST301` with
/// "JWT expired").
fn is_expired_jwt(e: &RemoteError) -> bool {
    match e {
        RemoteError::Api {
            status: 401,
            code,
            message,
            ..
        } => code.as_deref() == Some("PGRST303") || message.contains("JWT expired"),
        _ => false,
    }
}

/// The kassa RPCs' answer to an access token whose Auth session was ended.
fn is_session_revoked(e: &RemoteError) -> bool {
    matches!(e, RemoteError::Api { code: Some(c), message, .. }
        if c == "42501" && message.starts_with("session revoked"))
}

impl Shared {
    /// Runs one remote call with the till's credentials: for an enrolled till the access
    /// token is refreshed first when it is about to expire, and a 401 for an expired JWT
    /// refreshes once and retries once. A refused session comes back as an auth error that
    /// names Auth's reason.
    pub(crate) async fn call<T, F, Fut>(&self, f: F) -> Result<T, RemoteError>
    where
        F: Fn(RemoteClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, RemoteError>>,
    {
        let Some(client) = self.client.clone() else {
            return Err(RemoteError::Config("no remote configured".into()));
        };
        let Some(keeper) = &self.session else {
            return f(client).await;
        };
        keeper.ensure_fresh(&self.store, &client).await?;
        match f(client.clone()).await {
            Err(e) if is_expired_jwt(&e) => {
                tracing::info!("the server says the access token expired: refreshing");
                keeper.refresh(&self.store, &client, true).await?;
                f(client).await
            }
            Err(e) if is_session_revoked(&e) => {
                // Ask Auth why; its refusal is the better message.
                keeper.refresh(&self.store, &client, true).await?;
                Err(e)
            }
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_margin_is_a_quarter_of_the_lifetime_within_bounds() {
        assert_eq!(refresh_margin(3600), 60);
        assert_eq!(refresh_margin(60), 15);
        assert_eq!(refresh_margin(8), 5);
    }

    #[test]
    fn expired_jwts_and_revoked_sessions_are_told_apart() {
        let e = RemoteError::from_response(
            401,
            None,
            br#"{"code":"PGRST303","message":"JWT expired"}"#,
            Utc::now(),
        );
        assert!(is_expired_jwt(&e));
        let e = RemoteError::from_response(
            403,
            None,
            br#"{"code":"42501","message":"session revoked"}"#,
            Utc::now(),
        );
        assert!(!is_expired_jwt(&e));
        assert!(is_session_revoked(&e));
        let e = refresh_error(&AuthError::Refused {
            status: 400,
            code: "refresh_token_already_used".into(),
            message: "Invalid Refresh Token: Already Used".into(),
        });
        assert_eq!(e.class(), ErrorClass::Auth);
        assert!(e.to_string().contains("refresh_token_already_used"), "{e}");
        let e = refresh_error(&AuthError::Unreachable {
            url: "u".into(),
            detail: "refused".into(),
        });
        assert!(e.is_transient());
    }
}
