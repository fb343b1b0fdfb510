//! [`RemoteClient`]: `POST {url}/rest/v1/rpc/kassa_*` over reqwest + rustls.
//!
//! Every request carries `apikey` and `Authorization: Bearer`, marked sensitive so that no
//! debug output of reqwest shows them; [`RemoteClient`]'s own `Debug` shows only the URL.
//! Plain `http://` is refused unless the host is loopback or `remote.allow_insecure_http`.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{body_excerpt, RemoteError};
use super::types::{HeartbeatReply, HeartbeatStatus, PullCursors, PullReply, PushOp, PushResult};
use crate::config::RemoteConfig;

/// A call's answer with when it was sent and how long it took (for latency and clock skew).
#[derive(Debug, Clone)]
pub struct Timed<T> {
    pub value: T,
    pub sent_at: DateTime<Utc>,
    pub latency: Duration,
}

/// The data-API client of one device. Cheap to clone (reqwest's pool is shared).
#[derive(Clone)]
pub struct RemoteClient {
    http: reqwest::Client,
    rpc_base: String,
    request_timeout_ms: u64,
    /// `Authorization: Bearer ...`, shared by the clones: an enrolled till's access token is
    /// replaced when the sync engine refreshes it.
    bearer: Arc<RwLock<HeaderValue>>,
}

impl std::fmt::Debug for RemoteClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteClient")
            .field("rpc_base", &self.rpc_base)
            .field("credentials", &"<redacted>")
            .finish()
    }
}

#[derive(Serialize)]
struct HeartbeatArgs<'a> {
    p_status: &'a HeartbeatStatus,
}

#[derive(Serialize)]
struct PushArgs<'a> {
    p_ops: &'a [PushOp],
}

#[derive(Serialize)]
struct LookupArgs<'a> {
    p_sale_id: &'a str,
}

#[derive(Serialize)]
struct PullArgs<'a> {
    p_cursors: &'a PullCursors,
}

impl RemoteClient {
    /// Checks the settings and builds the client; no network traffic yet.
    pub fn new(cfg: &RemoteConfig) -> Result<RemoteClient, RemoteError> {
        let url = cfg
            .url
            .as_deref()
            .ok_or_else(|| RemoteError::Config("remote.url is not set".into()))?;
        let key = cfg
            .anon_key
            .as_deref()
            .ok_or_else(|| RemoteError::Config("remote.anon_key is not set".into()))?;
        let token = cfg
            .device_token
            .as_deref()
            .ok_or_else(|| RemoteError::Config("remote.device_token is not set".into()))?;
        RemoteClient::with_token(url, key, token, cfg)
    }

    /// A client for `url` with the anon key and a bearer token (an enrolled till's access
    /// token: see [`RemoteClient::set_token`]); timeouts and the plain-http rule from `cfg`.
    pub fn with_token(
        url: &str,
        key: &str,
        token: &str,
        cfg: &RemoteConfig,
    ) -> Result<RemoteClient, RemoteError> {
        check_url(url, cfg.allow_insecure_http)?;
        let mut headers = HeaderMap::new();
        headers.insert("apikey", secret_header(key, "remote.anon_key")?);
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("kassa/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.request_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| RemoteError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(RemoteClient {
            http,
            rpc_base: format!("{}/rest/v1/rpc/", url.trim_end_matches('/')),
            request_timeout_ms: cfg.request_timeout_ms,
            bearer: Arc::new(RwLock::new(bearer_header(token)?)),
        })
    }

    /// Replaces the bearer token of this client and all its clones.
    pub fn set_token(&self, token: &str) -> Result<(), RemoteError> {
        let v = bearer_header(token)?;
        match self.bearer.write() {
            Ok(mut b) => *b = v,
            Err(poisoned) => *poisoned.into_inner() = v,
        }
        Ok(())
    }

    fn bearer(&self) -> HeaderValue {
        match self.bearer.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// `kassa_heartbeat`: server time and the minimum client schema.
    pub async fn heartbeat(
        &self,
        status: &HeartbeatStatus,
    ) -> Result<Timed<HeartbeatReply>, RemoteError> {
        self.call("kassa_heartbeat", &HeartbeatArgs { p_status: status })
            .await
    }

    /// `kassa_push`: one result per op, checked to be in the same order as `ops`.
    pub async fn push(&self, ops: &[PushOp]) -> Result<Timed<Vec<PushResult>>, RemoteError> {
        let answer: Timed<Vec<PushResult>> =
            self.call("kassa_push", &PushArgs { p_ops: ops }).await?;
        check_results(ops, &answer.value)?;
        Ok(answer)
    }

    /// `kassa_pull`: one page of each section since `cursors`.
    pub async fn pull(&self, cursors: &PullCursors) -> Result<Timed<PullReply>, RemoteError> {
        self.call("kassa_pull", &PullArgs { p_cursors: cursors })
            .await
    }

    /// `kassa_sale_lookup`: a sale of any till of the device's store by its id (hyphenated or
    /// compact), with what all tills refunded of each line; `None` when the store has no such
    /// sale.
    pub async fn sale_lookup(
        &self,
        sale_id: &str,
    ) -> Result<Timed<Option<crate::domain::LookedUpSale>>, RemoteError> {
        self.call("kassa_sale_lookup", &LookupArgs { p_sale_id: sale_id })
            .await
    }

    async fn call<A: Serialize, T: DeserializeOwned>(
        &self,
        function: &str,
        args: &A,
    ) -> Result<Timed<T>, RemoteError> {
        let sent_at = Utc::now();
        let started = Instant::now();
        let resp = self
            .http
            .post(format!("{}{function}", self.rpc_base))
            .header(AUTHORIZATION, self.bearer())
            .json(args)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        let latency = started.elapsed();
        if !(200..300).contains(&status) {
            return Err(RemoteError::from_response(
                status,
                retry_after.as_deref(),
                &body,
                Utc::now(),
            ));
        }
        let value = serde_json::from_slice(&body).map_err(|e| RemoteError::BadResponse {
            status,
            detail: if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok() {
                format!("{function}: {e}")
            } else {
                body_excerpt(&body)
            },
        })?;
        Ok(Timed {
            value,
            sent_at,
            latency,
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> RemoteError {
        if e.is_timeout() {
            return RemoteError::Timeout(self.request_timeout_ms);
        }
        let detail = error_chain(e);
        if e.is_connect() {
            RemoteError::Connect(detail)
        } else {
            RemoteError::Network(detail)
        }
    }
}

fn bearer_header(token: &str) -> Result<HeaderValue, RemoteError> {
    secret_header(&format!("Bearer {token}"), "the device token")
}

/// Plain `http://` only for loopback hosts unless `allow_insecure_http`.
pub(crate) fn check_url(url: &str, allow_insecure_http: bool) -> Result<(), RemoteError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| RemoteError::Config(format!("remote.url {url:?}: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(RemoteError::Config(format!(
            "plain http:// is only allowed for loopback addresses (got {url:?}); \
             use https:// or set remote.allow_insecure_http = true"
        ))),
        other => Err(RemoteError::Config(format!(
            "remote.url scheme {other:?} is not http(s)"
        ))),
    }
}

pub(crate) fn secret_header(value: &str, name: &str) -> Result<HeaderValue, RemoteError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        RemoteError::Config(format!(
            "{name} contains characters not allowed in a header"
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false),
        None => false,
    }
}

/// The error and its causes on one line ("error sending request: connection refused").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

fn check_results(ops: &[PushOp], results: &[PushResult]) -> Result<(), RemoteError> {
    let bad = |detail: String| RemoteError::BadResponse {
        status: 200,
        detail,
    };
    if ops.len() != results.len() {
        return Err(bad(format!(
            "kassa_push returned {} results for {} ops",
            results.len(),
            ops.len()
        )));
    }
    for (op, r) in ops.iter().zip(results) {
        if op.op_id != r.op_id || op.seq != r.seq {
            return Err(bad(format!(
                "kassa_push result for seq {} does not match op seq {}",
                r.seq, op.seq
            )));
        }
        if r.outcome().is_none() {
            return Err(bad(format!("kassa_push status {:?} is unknown", r.status)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> RemoteConfig {
        RemoteConfig {
            url: Some(url.into()),
            anon_key: Some("anon-secret-key".into()),
            device_token: Some("device-secret-token".into()),
            ..RemoteConfig::default()
        }
    }

    #[test]
    fn plain_http_is_accepted_only_for_loopback_unless_allowed() {
        assert!(RemoteClient::new(&cfg("http://127.0.0.1:3000")).is_ok());
        assert!(RemoteClient::new(&cfg("http://localhost:3000/")).is_ok());
        assert!(RemoteClient::new(&cfg("http://[::1]:3000")).is_ok());
        assert!(RemoteClient::new(&cfg("https://x.supabase.co")).is_ok());
        let e = RemoteClient::new(&cfg("http://shop.example:3000")).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        let mut c = cfg("http://shop.example:3000");
        c.allow_insecure_http = true;
        assert!(RemoteClient::new(&c).is_ok());
    }

    #[test]
    fn the_client_never_shows_its_credentials() {
        let c = RemoteClient::new(&cfg("http://127.0.0.1:3000")).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn missing_settings_are_named() {
        let mut c = cfg("https://x.example");
        c.device_token = None;
        let e = RemoteClient::new(&c).unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote not usable: remote.device_token is not set"
        );
    }
}
