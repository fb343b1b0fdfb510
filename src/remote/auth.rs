//! The Supabase Auth (GoTrue) client of a till: `POST {url}/auth/v1/token?grant_type=password`
//! (enrolment) and `?grant_type=refresh_token` (the sync engine), and the store owner's admin
//! calls (`/auth/v1/admin/users`, with the service key, on the owner's machine).
//!
//! Tokens, keys and passwords travel only in request bodies and sensitive headers; no error,
//! `Debug` output or log line made here contains one. A token answer is checked to be what
//! Supabase sends (`access_token`, `refresh_token`, `expires_in` > 0, `user.id` a uuid) before
//! anyone may store it: a malformed answer is an error, never half a session.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{check_url, error_chain, secret_header};
use super::error::body_excerpt;
use crate::config::RemoteConfig;

/// A session as Supabase Auth hands it out.
#[derive(Clone, PartialEq)]
pub struct AuthSession {
    pub access_token: String,
    pub refresh_token: String,
    /// Access-token lifetime in seconds, as issued.
    pub expires_in: i64,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
    pub user_id: Uuid,
    pub email: String,
    /// `app_metadata.store_id`, when the user has one (a till must).
    pub store_id: Option<Uuid>,
}

impl std::fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("store_id", &self.store_id)
            .field("expires_at", &self.expires_at)
            .field("tokens", &"<redacted>")
            .finish()
    }
}

/// What went wrong talking to Supabase Auth.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The settings cannot work (bad URL, plain http to a remote host, a key unfit for a header).
    #[error("{0}")]
    Config(String),
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// Auth answered with one of its errors (`error_code` as GoTrue names it).
    #[error("{message} ({code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The API gateway refused the key (401 without a GoTrue error code).
    #[error("the project refused the anon key (HTTP {status}): check --anon-key")]
    BadKey { status: u16 },
    /// Something answered that is not Supabase Auth (404, HTML, ...).
    #[error("{url} is not a Supabase project (HTTP {status} from /auth/v1/token: {detail})")]
    NotSupabase {
        url: String,
        status: u16,
        detail: String,
    },
    /// A server error or rate limit: try again later.
    #[error("Supabase Auth is unavailable (HTTP {status}): {detail}")]
    Unavailable { status: u16, detail: String },
    /// A 2xx answer without a usable session in it.
    #[error("malformed token response: {0}")]
    Malformed(String),
}

impl AuthError {
    /// Worth trying again later with the same refresh token.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AuthError::Unreachable { .. } | AuthError::Unavailable { .. } | AuthError::Malformed(_)
        )
    }

    /// GoTrue's `error_code`, if Auth refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            AuthError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// GoTrue's error bodies: `{code: 400, error_code, msg}`, `{code: "...", message}` (API
/// version 2024-01-01) or OAuth's `{error, error_description}`.
#[derive(Deserialize)]
struct GotrueError {
    #[serde(default)]
    code: Option<Value>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// The client of one project's Auth API.
#[derive(Clone)]
pub struct AuthClient {
    http: reqwest::Client,
    url: String,
    auth_base: String,
}

impl std::fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthClient")
            .field("url", &self.url)
            .field("credentials", &"<redacted>")
            .finish()
    }
}

fn build_http(
    cfg: &RemoteConfig,
    key: &str,
    bearer: Option<&str>,
) -> Result<reqwest::Client, AuthError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "apikey",
        secret_header(key, "the anon key").map_err(|e| AuthError::Config(e.to_string()))?,
    );
    if let Some(b) = bearer {
        headers.insert(
            AUTHORIZATION,
            secret_header(&format!("Bearer {b}"), "the service key")
                .map_err(|e| AuthError::Config(e.to_string()))?,
        );
    }
    headers.insert("accept", HeaderValue::from_static("application/json"));
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("kassa/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
        .timeout(Duration::from_millis(cfg.request_timeout_ms))
        .build()
        .map_err(|e| AuthError::Config(format!("cannot build the HTTP client: {e}")))
}

impl AuthClient {
    /// A client for the project at `url` with its anon key; timeouts and the plain-http rule
    /// come from `cfg`. No network traffic yet.
    pub fn new(url: &str, anon_key: &str, cfg: &RemoteConfig) -> Result<AuthClient, AuthError> {
        check_url(url, cfg.allow_insecure_http).map_err(|e| AuthError::Config(e.to_string()))?;
        let url = url.trim_end_matches('/').to_string();
        Ok(AuthClient {
            http: build_http(cfg, anon_key, None)?,
            auth_base: format!("{url}/auth/v1"),
            url,
        })
    }

    /// `grant_type=password`: signs the till's user in.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<AuthSession, AuthError> {
        self.grant("password", &json!({"email": email, "password": password}))
            .await
    }

    /// `grant_type=refresh_token`: a new access token (and, rotated, a new refresh token).
    pub async fn refresh(&self, refresh_token: &str) -> Result<AuthSession, AuthError> {
        self.grant("refresh_token", &json!({"refresh_token": refresh_token}))
            .await
    }

    async fn grant(&self, grant: &str, body: &Value) -> Result<AuthSession, AuthError> {
        let (status, bytes) = self
            .send(
                self.http
                    .post(format!("{}/token?grant_type={grant}", self.auth_base))
                    .json(body),
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(self.error_for(status, &bytes));
        }
        parse_session(&bytes)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), AuthError> {
        let unreachable = |e: reqwest::Error| AuthError::Unreachable {
            url: self.url.clone(),
            detail: if e.is_timeout() {
                "no answer in time".to_string()
            } else {
                error_chain(&e)
            },
        };
        let resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        Ok((status, bytes.to_vec()))
    }

    fn error_for(&self, status: u16, body: &[u8]) -> AuthError {
        let parsed: Option<GotrueError> = serde_json::from_slice(body).ok();
        let code = parsed.as_ref().and_then(|e| {
            e.error_code
                .clone()
                .or_else(|| e.code.as_ref().and_then(Value::as_str).map(str::to_string))
                .or_else(|| e.error.clone())
        });
        let message = parsed
            .as_ref()
            .and_then(|e| {
                e.msg
                    .clone()
                    .or_else(|| e.message.clone())
                    .or_else(|| e.error_description.clone())
            })
            .unwrap_or_default();
        let one_line = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(200)
                .collect()
        };
        match (status, code) {
            (429 | 500..=599, _) => AuthError::Unavailable {
                status,
                detail: if message.is_empty() {
                    body_excerpt(body)
                } else {
                    one_line(&message)
                },
            },
            (401, Some(c)) if c == "no_api_key" || c == "invalid_api_key" => {
                AuthError::BadKey { status }
            }
            (400..=499, Some(c)) if status != 404 => AuthError::Refused {
                status,
                code: one_line(&c),
                message: one_line(&message),
            },
            (401 | 403, None) => AuthError::BadKey { status },
            _ => AuthError::NotSupabase {
                url: self.url.clone(),
                status,
                detail: if parsed.is_some() {
                    "no Supabase Auth error in the answer".into()
                } else {
                    body_excerpt(body)
                },
            },
        }
    }
}

/// Checks and reads a token answer.
pub fn parse_session(body: &[u8]) -> Result<AuthSession, AuthError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| AuthError::Malformed(body_excerpt(body)))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 16_384 && !s.contains(char::is_whitespace))
            .map(str::to_string)
            .ok_or_else(|| AuthError::Malformed(format!("no usable {k}")))
    };
    let access_token = text("access_token")?;
    let refresh_token = text("refresh_token")?;
    if access_token.split('.').count() != 3 {
        return Err(AuthError::Malformed("access_token is not a JWT".into()));
    }
    let expires_in = v
        .get("expires_in")
        .and_then(Value::as_i64)
        .filter(|n| *n > 0)
        .ok_or_else(|| AuthError::Malformed("no positive expires_in".into()))?;
    let now = chrono::Utc::now().timestamp();
    let expires_at = match v.get("expires_at") {
        None | Some(Value::Null) => now + expires_in,
        Some(x) => x
            .as_i64()
            .filter(|t| *t > 0)
            .ok_or_else(|| AuthError::Malformed("expires_at is not a time".into()))?,
    };
    let user = v
        .get("user")
        .filter(|u| u.is_object())
        .ok_or_else(|| AuthError::Malformed("no user".into()))?;
    let user_id = user
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| AuthError::Malformed("user.id is not a uuid".into()))?;
    let email = user
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let store_id = user
        .get("app_metadata")
        .and_then(|m| m.get("store_id"))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    Ok(AuthSession {
        access_token,
        refresh_token,
        expires_in,
        expires_at,
        user_id,
        email,
        store_id,
    })
}

/// The store owner's admin client: the service key as apikey and bearer. Run it on the owner's
/// machine, never on a till.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    url: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("url", &self.url)
            .field("service_key", &"<redacted>")
            .finish()
    }
}

impl AdminClient {
    pub fn new(url: &str, service_key: &str, cfg: &RemoteConfig) -> Result<AdminClient, AuthError> {
        check_url(url, cfg.allow_insecure_http).map_err(|e| AuthError::Config(e.to_string()))?;
        Ok(AdminClient {
            http: build_http(cfg, service_key, Some(service_key))?,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    fn auth(&self) -> AuthClient {
        AuthClient {
            http: self.http.clone(),
            auth_base: format!("{}/auth/v1", self.url),
            url: self.url.clone(),
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, AuthError> {
        let a = self.auth();
        let (status, bytes) = a.send(req).await?;
        if !(200..300).contains(&status) {
            return Err(a.error_for(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed(body_excerpt(&bytes)))
    }

    /// Creates the till's auth user (id = the device id) with `app_metadata.store_id` and
    /// `device_id`, e-mail confirmed, and registers the device in `public.devices`.
    pub async fn create_device_user(
        &self,
        device: Uuid,
        store: Uuid,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<(), AuthError> {
        self.call(
            self.http
                .post(format!("{}/auth/v1/admin/users", self.url))
                .json(&json!({
                    "id": device, "email": email, "password": password, "email_confirm": true,
                    "app_metadata": {"store_id": store, "device_id": device},
                })),
        )
        .await?;
        let r = self
            .http
            .post(format!("{}/rest/v1/devices", self.url))
            .header("Prefer", "return=minimal")
            .json(&json!({"id": device, "store_id": store, "name": name}))
            .send()
            .await
            .map_err(|e| AuthError::Unreachable {
                url: self.url.clone(),
                detail: error_chain(&e),
            })?;
        let status = r.status().as_u16();
        // 409: the device was registered before (a till that gets a user now).
        if (200..300).contains(&status) || status == 409 {
            Ok(())
        } else {
            let body = r.bytes().await.unwrap_or_default();
            Err(AuthError::Unavailable {
                status,
                detail: format!("registering the device failed: {}", body_excerpt(&body)),
            })
        }
    }

    /// Bans the till's user: its refreshes fail (`user_banned`) and the kassa RPCs refuse its
    /// access tokens at once. `until_lifted` false lifts the ban.
    pub async fn set_banned(&self, device: Uuid, banned: bool) -> Result<(), AuthError> {
        let duration = if banned { "876000h" } else { "none" };
        self.call(
            self.http
                .put(format!("{}/auth/v1/admin/users/{device}", self.url))
                .json(&json!({"ban_duration": duration})),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> AuthClient {
        AuthClient::new("http://127.0.0.1:9", "anon", &RemoteConfig::default()).unwrap()
    }

    #[test]
    fn gotrue_errors_of_both_shapes_are_read_by_their_code() {
        let c = client();
        let e = c.error_for(
            400,
            br#"{"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}"#,
        );
        assert_eq!(e.code(), Some("invalid_credentials"));
        assert_eq!(
            e.to_string(),
            "Invalid login credentials (invalid_credentials)"
        );
        let e = c.error_for(
            400,
            br#"{"code":"refresh_token_already_used","message":"Invalid Refresh Token: Already Used"}"#,
        );
        assert_eq!(e.code(), Some("refresh_token_already_used"));
        let e = c.error_for(400, br#"{"error":"invalid_grant","error_description":"x"}"#);
        assert_eq!(e.code(), Some("invalid_grant"));
        assert!(matches!(
            c.error_for(503, b"<html>"),
            AuthError::Unavailable { .. }
        ));
        assert!(matches!(
            c.error_for(404, br#"{"code":"PGRST125","message":"Invalid path"}"#),
            AuthError::NotSupabase { .. }
        ));
        assert!(matches!(
            c.error_for(404, b"<html>nope</html>"),
            AuthError::NotSupabase { .. }
        ));
        assert!(matches!(
            c.error_for(
                401,
                br#"{"code":"invalid_api_key","message":"Invalid API key"}"#
            ),
            AuthError::BadKey { .. }
        ));
    }

    #[test]
    fn a_token_answer_without_a_usable_session_is_malformed() {
        let good = br#"{"access_token":"a.b.c","token_type":"bearer","expires_in":60,"expires_at":1900000000,"refresh_token":"r1","user":{"id":"de71ce00-0000-4000-8000-000000000001","email":"t@x","app_metadata":{"store_id":"5a1e0000-0000-4000-8000-000000000001"}}}"#;
        let s = parse_session(good).unwrap();
        assert_eq!(s.expires_at, 1_900_000_000);
        assert!(s.store_id.is_some());
        assert!(!format!("{s:?}").contains("a.b.c"));
        for bad in [
            &br#"{"access_token":"a.b.c","expires_in":60,"user":{"id":"de71ce00-0000-4000-8000-000000000001"}}"#[..],
            br#"{"access_token":"nojwt","refresh_token":"r","expires_in":60,"user":{"id":"de71ce00-0000-4000-8000-000000000001"}}"#,
            br#"{"access_token":"a.b.c","refresh_token":"r","expires_in":0,"user":{"id":"de71ce00-0000-4000-8000-000000000001"}}"#,
            br#"{"access_token":"a.b.c","refresh_token":"r","expires_in":60,"user":{"id":"nope"}}"#,
            b"<html>",
            b"[]",
        ] {
            assert!(matches!(parse_session(bad), Err(AuthError::Malformed(_))));
        }
    }
}
