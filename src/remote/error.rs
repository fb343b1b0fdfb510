//! Remote errors and their classification.
//!
//! The class comes first from the PostgREST / PostgreSQL error `code` in the JSON body and only
//! then from the HTTP status, because PostgREST maps several different situations onto the same
//! status (a statement timeout and a bug are both 500; a missing grant is 401 or 403).
//! Messages never contain the anon key or the device token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// What the sync engine does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try the same call again later (backoff, `Retry-After`).
    Transient,
    /// The request itself is wrong; retrying the same bytes will fail the same way.
    Permanent,
    /// The key or token is wrong or expired: stop calling until the config changes.
    Auth,
    /// The server no longer accepts this till's schema version.
    UpgradeRequired,
}

impl ErrorClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
            ErrorClass::Auth => "auth",
            ErrorClass::UpgradeRequired => "upgrade_required",
        }
    }
}

/// A failed remote call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    /// The remote settings are missing or unacceptable (e.g. plain http to a non-loopback host).
    #[error("remote not usable: {0}")]
    Config(String),
    #[error("cannot connect to the server: {0}")]
    Connect(String),
    #[error("no answer from the server within {0} ms")]
    Timeout(u64),
    #[error("network error: {0}")]
    Network(String),
    /// The server answered with an error (PostgREST error JSON, or at least a status).
    #[error("{}", api_message(*status, code.as_deref(), message))]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
        retry_after: Option<Duration>,
        class: ErrorClass,
    },
    /// The server answered 2xx, but not with what the protocol promises (not JSON, wrong shape).
    #[error("unexpected answer from the server (HTTP {status}): {detail}")]
    BadResponse { status: u16, detail: String },
    #[error("server requires client schema {min} or later (this till has {ours}); upgrade kassa")]
    UpgradeRequired { min: i64, ours: i64 },
}

fn api_message(status: u16, code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) => format!("server error {code} (HTTP {status}): {message}"),
        None => format!("server error (HTTP {status}): {message}"),
    }
}

impl RemoteError {
    pub fn class(&self) -> ErrorClass {
        match self {
            RemoteError::Config(_) => ErrorClass::Permanent,
            RemoteError::Connect(_)
            | RemoteError::Timeout(_)
            | RemoteError::Network(_)
            | RemoteError::BadResponse { .. } => ErrorClass::Transient,
            RemoteError::Api { class, .. } => *class,
            RemoteError::UpgradeRequired { .. } => ErrorClass::UpgradeRequired,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RemoteError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True for a permanent error that the data sent must have caused (a PostgreSQL data,
    /// integrity or raised exception), as opposed to a missing function or a bad request
    /// shape that every op would hit. Only the former may quarantine an op.
    pub fn blames_payload(&self) -> bool {
        match self {
            RemoteError::Api {
                class: ErrorClass::Permanent,
                code: Some(code),
                ..
            } => {
                code.starts_with("22")
                    || code.starts_with("23")
                    || code.starts_with("P0")
                    || code == "XX000"
            }
            _ => false,
        }
    }

    /// Builds the error for a non-2xx answer from its status, headers and body.
    pub fn from_response(
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> RemoteError {
        let parsed: Option<PgrstError> = serde_json::from_slice(body).ok();
        let (code, message) = match parsed {
            Some(e) => {
                let mut message = e.message.unwrap_or_default();
                if let Some(d) = e.details.filter(|d| !d.is_empty()) {
                    message = format!("{message} ({d})");
                }
                (e.code, message)
            }
            None => (None, body_excerpt(body)),
        };
        let class = classify(status, code.as_deref());
        RemoteError::Api {
            status,
            code,
            message,
            retry_after: retry_after_header.and_then(|h| parse_retry_after(h, now)),
            class,
        }
    }
}

/// PostgREST's error body: `{code, message, details, hint}`.
#[derive(Deserialize)]
struct PgrstError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<String>,
}

/// The first bytes of a body that is not an error JSON, printable and on one line.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "empty body".into();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(120)]);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("non-JSON body: {:?}", one_line.trim())
}

/// The class of an error answer: the error code first, the HTTP status when the code says
/// nothing we know.
pub fn classify(status: u16, code: Option<&str>) -> ErrorClass {
    if let Some(class) = code.and_then(classify_code) {
        return class;
    }
    match status {
        401 | 403 => ErrorClass::Auth,
        426 => ErrorClass::UpgradeRequired,
        408 | 425 | 429 => ErrorClass::Transient,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

fn classify_code(code: &str) -> Option<ErrorClass> {
    const TRANSIENT: &[&str] = &[
        "40001", "40P01", "57014", "57P01", "57P02", "57P03", "55P03", "55006", "PGRST000",
        "PGRST001", "PGRST002", "PGRST003",
    ];
    const AUTH: &[&str] = &["42501", "PGRST300", "PGRST301", "PGRST302", "PGRST303"];
    if TRANSIENT.contains(&code)
        || code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("58")
    {
        return Some(ErrorClass::Transient);
    }
    if AUTH.contains(&code) || code.starts_with("28") {
        return Some(ErrorClass::Auth);
    }
    if code.starts_with("22")
        || code.starts_with("23")
        || code.starts_with("P0")
        || code.starts_with("42")
        || code.starts_with("PGRST1")
        || code.starts_with("PGRST2")
    {
        return Some(ErrorClass::Permanent);
    }
    None
}

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?;
    let ms = (at.with_timezone(&Utc) - now).num_milliseconds().max(0);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> RemoteError {
        RemoteError::from_response(status, None, body.as_bytes(), Utc::now())
    }

    #[test]
    fn a_statement_timeout_is_transient_and_a_raised_exception_is_permanent() {
        let e = err(
            500,
            r#"{"code":"57014","message":"canceling statement due to statement timeout","details":null,"hint":null}"#,
        );
        assert_eq!(e.class(), ErrorClass::Transient);
        let e = err(
            400,
            r#"{"code":"P0001","message":"boom","details":null,"hint":null}"#,
        );
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(e.blames_payload());
    }

    #[test]
    fn serialization_failures_deadlocks_and_resource_errors_are_transient_whatever_the_status() {
        for code in ["40001", "40P01", "53300", "08006", "57P01", "PGRST003"] {
            let e = err(400, &format!(r#"{{"code":"{code}","message":"m"}}"#));
            assert_eq!(e.class(), ErrorClass::Transient, "{code}");
        }
    }

    #[test]
    fn bad_or_expired_tokens_and_missing_grants_are_auth_errors() {
        for (status, code) in [
            (401, "PGRST301"),
            (401, "PGRST303"),
            (403, "42501"),
            (401, "42501"),
        ] {
            let e = err(status, &format!(r#"{{"code":"{code}","message":"m"}}"#));
            assert_eq!(e.class(), ErrorClass::Auth, "{code}");
        }
        assert_eq!(err(401, "").class(), ErrorClass::Auth);
        assert_eq!(err(403, "<html>").class(), ErrorClass::Auth);
    }

    #[test]
    fn status_decides_when_the_body_has_no_code() {
        assert_eq!(err(503, "").class(), ErrorClass::Transient);
        assert_eq!(err(429, "slow down").class(), ErrorClass::Transient);
        assert_eq!(
            err(502, "<html>bad gateway</html>").class(),
            ErrorClass::Transient
        );
        assert_eq!(err(426, "").class(), ErrorClass::UpgradeRequired);
        assert_eq!(err(400, "").class(), ErrorClass::Permanent);
    }

    #[test]
    fn a_missing_function_is_permanent_but_does_not_blame_an_op() {
        let e = err(
            404,
            r#"{"code":"PGRST202","message":"Could not find the function"}"#,
        );
        assert_eq!(e.class(), ErrorClass::Permanent);
        assert!(!e.blames_payload());
    }

    #[test]
    fn a_garbage_error_body_gives_a_one_line_message() {
        let e = err(500, "<html>\n<body>Internal\u{0} error</body></html>");
        let msg = e.to_string();
        assert!(msg.contains("non-JSON body"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:50Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        let e = RemoteError::from_response(429, Some("3"), b"", now);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    }
}
