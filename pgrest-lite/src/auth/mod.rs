//! The Supabase Auth (GoTrue) subset that kassa's tills use, under `/auth/v1`, kept apart from
//! the data API: its own connection pool (as `supabase_auth_admin`, like GoTrue), its own
//! error shape, users and sessions in real tables (`auth.users`, `auth.sessions`,
//! `auth.refresh_tokens`, see `pgrest-lite/sql/supabase_auth.sql`).
//!
//! - `POST /auth/v1/token?grant_type=password` `{email, password}` and
//!   `?grant_type=refresh_token` `{refresh_token}` → `{access_token, token_type, expires_in,
//!   expires_at, refresh_token, user}`. Refresh tokens rotate; a revoked one is accepted again
//!   only when it is the parent of the session's active token (the client could not store the
//!   answer: the active token comes back, no new one) or within the reuse interval; otherwise
//!   the whole session's family is revoked and the answer is `refresh_token_already_used`,
//!   exactly as GoTrue does. See [`token`].
//! - `GET /auth/v1/user`, `POST /auth/v1/logout?scope=global|local|others` with the user's
//!   access token.
//! - Admin (Bearer = a `service_role` JWT): `POST /auth/v1/admin/users` (with `id`,
//!   `app_metadata`, `email_confirm`, `ban_duration`), `GET|PUT|DELETE
//!   /auth/v1/admin/users/{id}` (a banned user's refreshes get `user_banned`, a deleted
//!   user's sessions are gone). See
//!   [`admin`].
//! - Every request needs the project's `apikey`, as behind Supabase's API gateway.
//!
//! Access tokens are HS256 JWTs with GoTrue's claims (`aud`, `exp`, `iat`, `iss`, `sub`,
//! `email`, `app_metadata`, `user_metadata`, `role: authenticated`, `aal`, `amr`,
//! `session_id`, `is_anonymous`), signed with the project's JWT secret, so the data API and
//! RLS (`auth.jwt()`) see exactly what they see on Supabase. Lifetimes are configurable
//! ([`AuthConfig::jwt_exp`], GoTrue's `GOTRUE_JWT_EXP`) so that tests can use short ones.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value;
use tokio_postgres::NoTls;

use crate::jwt::JwtKeys;
use error::AuthError;

pub mod admin;
pub mod error;
pub mod token;
pub mod user;

/// Settings of the auth stand-in.
#[derive(Clone)]
pub struct AuthConfig {
    /// Where the auth tables are; connect as `supabase_auth_admin`.
    pub pg: tokio_postgres::Config,
    /// Access-token lifetime in seconds (GoTrue's `JWT_EXP`, 3600 on Supabase).
    pub jwt_exp: i64,
    /// Seconds during which a just-rotated refresh token may be used again (GoTrue's
    /// `SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, 10 on Supabase).
    pub refresh_token_reuse_interval: i64,
    pub pool_size: usize,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_exp", &self.jwt_exp)
            .field(
                "refresh_token_reuse_interval",
                &self.refresh_token_reuse_interval,
            )
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    /// Supabase's defaults (1 h access tokens, 10 s reuse interval) on the data API's database,
    /// connecting as `supabase_auth_admin`.
    pub fn for_database(data_api: &tokio_postgres::Config) -> AuthConfig {
        let mut pg = data_api.clone();
        pg.user("supabase_auth_admin");
        AuthConfig {
            pg,
            jwt_exp: 3600,
            refresh_token_reuse_interval: 10,
            pool_size: 4,
        }
    }
}

pub(crate) struct AuthState {
    pub(crate) pool: Pool,
    pub(crate) keys: JwtKeys,
    pub(crate) config: AuthConfig,
    /// `iss` of the access tokens.
    pub(crate) issuer: String,
}

pub(crate) type Shared = Arc<AuthState>;

/// The `/auth/v1` routes on their own pool.
pub(crate) fn router(
    config: AuthConfig,
    keys: JwtKeys,
    issuer: String,
) -> Result<Router, crate::Error> {
    let mgr = Manager::from_config(
        config.pg.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(mgr)
        .max_size(config.pool_size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| crate::Error::Other(format!("cannot build the auth connection pool: {e}")))?;
    let state = Arc::new(AuthState {
        pool,
        keys,
        config,
        issuer,
    });
    Ok(Router::new()
        .route("/auth/v1/token", post(token::token))
        .route("/auth/v1/user", get(user::get_user))
        .route("/auth/v1/logout", post(user::logout))
        .route("/auth/v1/health", get(health))
        .route(
            "/auth/v1/admin/users",
            post(admin::create_user).get(admin::list_users),
        )
        .route(
            "/auth/v1/admin/users/{id}",
            get(admin::get_user)
                .put(admin::update_user)
                .delete(admin::delete_user),
        )
        .with_state(state))
}

async fn health() -> axum::Json<Value> {
    axum::Json(serde_json::json!({
        "version": "pgrest-lite",
        "name": "GoTrue",
        "description": "pgrest-lite's stand-in for Supabase Auth"
    }))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The project's `apikey` must be there and valid (Supabase's gateway checks it before Auth).
pub(crate) fn check_apikey(state: &AuthState, headers: &HeaderMap) -> Result<Value, AuthError> {
    let Some(key) = header_str(headers, "apikey") else {
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "no_api_key",
            "No API key found in request",
        ));
    };
    let claims = state.keys.verify(key).map_err(|_| invalid_api_key())?;
    match claims.get("role").and_then(Value::as_str) {
        Some("anon") | Some("service_role") => Ok(claims),
        _ => Err(invalid_api_key()),
    }
}

fn invalid_api_key() -> AuthError {
    AuthError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        "Invalid API key",
    )
}

/// The claims of the `Authorization: Bearer` JWT (GoTrue: 401 `bad_jwt` / `no_authorization`).
pub(crate) fn bearer_claims(state: &AuthState, headers: &HeaderMap) -> Result<Value, AuthError> {
    let Some(h) = header_str(headers, "authorization") else {
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a valid Bearer token",
        ));
    };
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    state.keys.verify(token).map_err(|e| {
        let msg = if e.code == "PGRST303" {
            "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired"
        } else {
            "invalid JWT: unable to parse or verify signature"
        };
        AuthError::new(StatusCode::FORBIDDEN, "bad_jwt", msg)
    })
}

/// A connection from the auth pool.
pub(crate) async fn conn(state: &AuthState) -> Result<deadpool_postgres::Object, AuthError> {
    state.pool.get().await.map_err(AuthError::internal)
}
