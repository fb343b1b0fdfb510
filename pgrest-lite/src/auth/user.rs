//! Users as GoTrue shows them (the `user` object of token answers and the admin API), the
//! access token's claims, and the user's own endpoints: `GET /user` and `POST /logout`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio_postgres::Row;
use uuid::Uuid;

use super::error::AuthError;
use super::{bearer_claims, check_apikey, conn, Shared};
use crate::jwt::now_secs;

/// The columns [`user_json`] reads, for `select {USER_COLUMNS} from auth.users u`.
/// Times are RFC 3339 in UTC, as GoTrue sends them.
macro_rules! ts_col {
    ($c:literal) => {
        concat!(
            "to_char(",
            $c,
            r#" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#
        )
    };
}
pub const USER_COLUMNS: &str = concat!(
    "u.id, u.aud, u.role, u.email, ",
    ts_col!("u.email_confirmed_at"),
    ", ",
    ts_col!("u.last_sign_in_at"),
    ", coalesce(u.raw_app_meta_data, '{}'::jsonb), coalesce(u.raw_user_meta_data, '{}'::jsonb), ",
    ts_col!("u.banned_until"),
    ", ",
    ts_col!("u.created_at"),
    ", ",
    ts_col!("u.updated_at"),
    ", u.is_anonymous"
);

fn ts(row: &Row, i: usize) -> Value {
    match row.get::<_, Option<String>>(i) {
        Some(t) => Value::String(t),
        None => Value::Null,
    }
}

/// The user object of a row selected with [`USER_COLUMNS`].
pub fn user_json(row: &Row) -> Value {
    let id: Uuid = row.get(0);
    let email: Option<String> = row.get(3);
    let mut u = json!({
        "id": id.to_string(),
        "aud": row.get::<_, Option<String>>(1).unwrap_or_default(),
        "role": row.get::<_, Option<String>>(2).unwrap_or_default(),
        "email": email.clone().unwrap_or_default(),
        "phone": "",
        "app_metadata": row.get::<_, Value>(6),
        "user_metadata": row.get::<_, Value>(7),
        "identities": [],
        "created_at": ts(row, 9),
        "updated_at": ts(row, 10),
        "is_anonymous": row.get::<_, bool>(11),
    });
    for (key, i) in [
        ("email_confirmed_at", 4),
        ("confirmed_at", 4),
        ("last_sign_in_at", 5),
        ("banned_until", 8),
    ] {
        let v = ts(row, i);
        if !v.is_null() {
            u[key] = v;
        }
    }
    u
}

/// GoTrue's access-token claims for `user` (a [`user_json`]) and session.
pub fn access_claims(
    issuer: &str,
    user: &Value,
    session_id: Uuid,
    exp: i64,
    signed_in_at: i64,
) -> Value {
    json!({
        "iss": issuer,
        "aud": user["aud"],
        "sub": user["id"],
        "exp": exp,
        "iat": now_secs(),
        "email": user["email"],
        "phone": "",
        "app_metadata": user["app_metadata"],
        "user_metadata": user["user_metadata"],
        "role": user["role"],
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": signed_in_at}],
        "session_id": session_id.to_string(),
        "is_anonymous": user["is_anonymous"],
    })
}

/// `GET /auth/v1/user`: the caller's user, while its session exists.
pub(crate) async fn get_user(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let r = async {
        check_apikey(&state, &headers)?;
        let claims = bearer_claims(&state, &headers)?;
        let (user_id, session_id) = ids(&claims)?;
        let c = conn(&state).await?;
        let row = c
            .query_opt(
                &format!(
                    "select {USER_COLUMNS} from auth.users u join auth.sessions s on s.user_id = u.id \
                     where u.id = $1 and s.id = $2 and u.deleted_at is null"
                ),
                &[&user_id, &session_id],
            )
            .await?;
        match row {
            Some(row) => Ok(axum::Json(user_json(&row)).into_response()),
            None => Err(session_gone()),
        }
    }
    .await;
    r.unwrap_or_else(|e: AuthError| e.respond(&headers))
}

/// `POST /auth/v1/logout?scope=global|local|others`: ends the caller's sessions (204).
pub(crate) async fn logout(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let r = async {
        check_apikey(&state, &headers)?;
        let claims = bearer_claims(&state, &headers)?;
        let (user_id, session_id) = ids(&claims)?;
        let scope = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| "global".into());
        let c = conn(&state).await?;
        let sql = match scope.as_str() {
            "global" => "delete from auth.sessions where user_id = $1 and $2::uuid is not null",
            "local" => "delete from auth.sessions where user_id = $1 and id = $2",
            "others" => "delete from auth.sessions where user_id = $1 and id <> $2",
            _ => {
                return Err(AuthError::bad_request(
                    "validation_failed",
                    "Unsupported logout scope",
                ))
            }
        };
        c.execute(sql, &[&user_id, &session_id]).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    r.unwrap_or_else(|e: AuthError| e.respond(&headers))
}

fn ids(claims: &Value) -> Result<(Uuid, Uuid), AuthError> {
    let parse = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    match (parse("sub"), parse("session_id")) {
        (Some(u), Some(s)) => Ok((u, s)),
        _ => Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "bad_jwt",
            "invalid claim: missing sub or session_id claim",
        )),
    }
}

fn session_gone() -> AuthError {
    AuthError::new(
        StatusCode::FORBIDDEN,
        "session_not_found",
        "Session from session_id claim in JWT does not exist",
    )
}
