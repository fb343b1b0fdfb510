//! `POST /auth/v1/token?grant_type=password|refresh_token`: sign-in and refresh, with GoTrue's
//! refresh-token rotation and reuse detection.
//!
//! Rotation, as in GoTrue's `RefreshTokenGrant` (internal/tokens/service.go), under a lock on
//! the session row:
//! - an active token is revoked and a child (`parent` = it) is issued;
//! - a revoked token that is the parent of the session's active token means the client did not
//!   get to store the last answer: the active token is returned again, nothing new is issued;
//! - another revoked token used within the reuse interval of its revocation gets a new child;
//! - later than that it is a reuse: every token of the session is revoked (the family is dead,
//!   committed) and the answer is `refresh_token_already_used`.
//!
//! Unknown tokens (also those of a deleted session or user) are `refresh_token_not_found`,
//! a banned user is `user_banned`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::AuthError;
use super::user::{access_claims, user_json, USER_COLUMNS};
use super::{check_apikey, conn, AuthState, Shared};
use crate::jwt::now_secs;

pub(crate) async fn token(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let r = async {
        check_apikey(&state, &headers)?;
        let grant = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let params = params(&headers, &body)?;
        let field = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
        match grant.as_str() {
            "password" => {
                let email = field("email").unwrap_or_default();
                let password = field("password").unwrap_or_default();
                password_grant(&state, &email, &password).await
            }
            "refresh_token" => {
                let token = field("refresh_token").unwrap_or_default();
                if token.is_empty() {
                    return Err(AuthError::bad_request(
                        "validation_failed",
                        "refresh_token required",
                    ));
                }
                refresh_grant(&state, &token).await
            }
            _ => Err(AuthError::bad_request(
                "invalid_credentials",
                "unsupported_grant_type",
            )),
        }
    }
    .await;
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.respond(&headers),
    }
}

/// The request's parameters: a JSON object, or a form (GoTrue accepts both).
fn params(headers: &HeaderMap, body: &[u8]) -> Result<Value, AuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form {
        let map = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Value::Object(map));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(AuthError::bad_request(
            "bad_json",
            "Could not parse request body as JSON",
        )),
    }
}

fn invalid_login() -> AuthError {
    AuthError::bad_request("invalid_credentials", "Invalid login credentials")
}

/// A new opaque refresh token (GoTrue's legacy form is 12 characters; clients treat it as
/// opaque).
fn new_refresh_token() -> String {
    let a = Uuid::new_v4().simple().to_string();
    let b = Uuid::new_v4().simple().to_string();
    format!("{}{}", &a[..16], &b[..16])
}

async fn password_grant(
    state: &AuthState,
    email: &str,
    password: &str,
) -> Result<Value, AuthError> {
    if email.is_empty() {
        return Err(AuthError::bad_request(
            "validation_failed",
            "missing email or phone",
        ));
    }
    let mut c = conn(state).await?;
    let tx = c.transaction().await?;
    let row = tx
        .query_opt(
            "select u.id, u.encrypted_password = extensions.crypt($2, u.encrypted_password), \
                    coalesce(u.banned_until > now(), false) \
             from auth.users u where lower(u.email) = lower($1) and u.deleted_at is null \
               and u.encrypted_password is not null and u.encrypted_password <> ''",
            &[&email, &password],
        )
        .await?;
    let Some(row) = row else {
        return Err(invalid_login());
    };
    let user_id: Uuid = row.get(0);
    let ok: Option<bool> = row.get(1);
    let banned: bool = row.get(2);
    if banned {
        return Err(AuthError::bad_request("user_banned", "User is banned"));
    }
    if ok != Some(true) {
        return Err(invalid_login());
    }
    let session_id = Uuid::new_v4();
    tx.execute(
        "insert into auth.sessions (id, user_id, created_at, updated_at, refreshed_at, aal) \
         values ($1, $2, now(), now(), now() at time zone 'UTC', 'aal1')",
        &[&session_id, &user_id],
    )
    .await?;
    let refresh = new_refresh_token();
    tx.execute(
        "insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, session_id) \
         values ($1, $2::uuid::text, false, now(), now(), $3)",
        &[&refresh, &user_id, &session_id],
    )
    .await?;
    tx.execute(
        "update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1",
        &[&user_id],
    )
    .await?;
    let user = load_user(&tx, user_id).await?;
    tx.commit().await?;
    Ok(token_response(
        state,
        &user,
        session_id,
        &refresh,
        now_secs(),
    ))
}

async fn refresh_grant(state: &AuthState, token: &str) -> Result<Value, AuthError> {
    let reuse = state.config.refresh_token_reuse_interval;
    let mut c = conn(state).await?;
    let tx = c.transaction().await?;
    let not_found = || {
        AuthError::bad_request(
            "refresh_token_not_found",
            "Invalid Refresh Token: Refresh Token Not Found",
        )
    };
    let Some(row) = tx
        .query_opt(
            "select t.session_id, s.user_id from auth.refresh_tokens t \
             join auth.sessions s on s.id = t.session_id where t.token = $1",
            &[&token],
        )
        .await?
    else {
        return Err(not_found());
    };
    let session_id: Uuid = row.get(0);
    let user_id: Uuid = row.get(1);
    // Serialise refreshes of one session (GoTrue locks the token and session rows).
    let Some(s) = tx
        .query_opt(
            "select extract(epoch from coalesce(s.created_at, now()))::bigint, \
                    s.not_after is not null and s.not_after <= now(), \
                    coalesce(u.banned_until > now(), false), u.deleted_at is not null \
             from auth.sessions s join auth.users u on u.id = s.user_id \
             where s.id = $1 for update of s",
            &[&session_id],
        )
        .await?
    else {
        return Err(AuthError::bad_request(
            "session_not_found",
            "Invalid Refresh Token: No Valid Session Found",
        ));
    };
    let signed_in_at: i64 = s.get(0);
    if s.get::<_, bool>(3) {
        return Err(not_found());
    }
    if s.get::<_, bool>(2) {
        return Err(AuthError::bad_request(
            "user_banned",
            "Invalid Refresh Token: User Banned",
        ));
    }
    if s.get::<_, bool>(1) {
        return Err(AuthError::bad_request(
            "session_expired",
            "Invalid Refresh Token: Session Expired",
        ));
    }
    // Re-read the token now that the session is locked.
    let t = tx
        .query_one(
            "select revoked, now() > updated_at + make_interval(secs => $2) \
             from auth.refresh_tokens where token = $1",
            &[&token, &(reuse as f64)],
        )
        .await?;
    let revoked: bool = t.get::<_, Option<bool>>(0).unwrap_or(false);
    let past_reuse: bool = t.get(1);
    let mut issued: Option<String> = None;
    if revoked {
        let active = tx
            .query_opt(
                "select token, parent from auth.refresh_tokens \
                 where session_id = $1 and not revoked order by id desc limit 1",
                &[&session_id],
            )
            .await?;
        match active {
            Some(a) if a.get::<_, Option<String>>(1).as_deref() == Some(token) => {
                issued = Some(a.get(0));
            }
            _ if past_reuse => {
                tx.execute(
                    "update auth.refresh_tokens set revoked = true, updated_at = now() \
                     where session_id = $1 and not revoked",
                    &[&session_id],
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(%session_id, "refresh token reused: session family revoked");
                return Err(AuthError::bad_request(
                    "refresh_token_already_used",
                    "Invalid Refresh Token: Already Used",
                ));
            }
            _ => {}
        }
    }
    let refresh = match issued {
        Some(t) => t,
        None => {
            tx.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = now() where token = $1",
                &[&token],
            )
            .await?;
            let child = new_refresh_token();
            tx.execute(
                "insert into auth.refresh_tokens \
                   (token, user_id, revoked, created_at, updated_at, parent, session_id) \
                 values ($1, $2::uuid::text, false, now(), now(), $3, $4)",
                &[&child, &user_id, &token, &session_id],
            )
            .await?;
            child
        }
    };
    tx.execute(
        "update auth.sessions set refreshed_at = now() at time zone 'UTC', updated_at = now() \
         where id = $1",
        &[&session_id],
    )
    .await?;
    let user = load_user(&tx, user_id).await?;
    tx.commit().await?;
    Ok(token_response(
        state,
        &user,
        session_id,
        &refresh,
        signed_in_at,
    ))
}

async fn load_user(tx: &tokio_postgres::Transaction<'_>, id: Uuid) -> Result<Value, AuthError> {
    let row = tx
        .query_one(
            &format!("select {USER_COLUMNS} from auth.users u where u.id = $1"),
            &[&id],
        )
        .await?;
    Ok(user_json(&row))
}

fn token_response(
    state: &AuthState,
    user: &Value,
    session_id: Uuid,
    refresh: &str,
    signed_in_at: i64,
) -> Value {
    let expires_in = state.config.jwt_exp;
    let exp = now_secs() + expires_in;
    let access = state.keys.mint(&access_claims(
        &state.issuer,
        user,
        session_id,
        exp,
        signed_in_at,
    ));
    json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": exp,
        "refresh_token": refresh,
        "user": user,
    })
}
