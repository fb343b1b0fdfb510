//! Supabase Auth (GoTrue) errors as it sends them: `{"code": 400, "error_code": "...", "msg":
//! "..."}` for clients that send no API version, `{"code": "...", "message": "..."}` for those
//! that send `X-Supabase-Api-Version: 2024-01-01` or later (supabase-js, supabase-auth), which
//! also get the header echoed back. Every error carries `x-sb-error-code`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The header clients use to ask for the newer error shape.
pub const API_VERSION_HEADER: &str = "x-supabase-api-version";
/// The newest API version this stand-in knows (the one that changed the error shape).
pub const API_VERSION_2024_01_01: &str = "2024-01-01";

/// An error of the auth API.
#[derive(Debug, Clone)]
pub struct AuthError {
    pub status: StatusCode,
    /// GoTrue's `error_code`, e.g. `invalid_credentials`, `refresh_token_already_used`.
    pub code: &'static str,
    pub message: String,
}

impl AuthError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal(detail: impl std::fmt::Display) -> AuthError {
        tracing::error!("auth: {detail}");
        AuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Database error",
        )
    }

    /// The response for a request with these headers.
    pub fn respond(self, headers: &HeaderMap) -> Response {
        let new_shape = wants_2024_shape(headers);
        let body = if new_shape {
            json!({"code": self.code, "message": self.message})
        } else {
            json!({"code": self.status.as_u16(), "error_code": self.code, "msg": self.message})
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut()
            .insert("x-sb-error-code", HeaderValue::from_static(self.code));
        if new_shape {
            resp.headers_mut().insert(
                API_VERSION_HEADER,
                HeaderValue::from_static(API_VERSION_2024_01_01),
            );
        }
        resp
    }
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(e: tokio_postgres::Error) -> AuthError {
        AuthError::internal(e)
    }
}

/// Whether the client asked for API version 2024-01-01 or later (dates compare as strings).
pub fn wants_2024_shape(headers: &HeaderMap) -> bool {
    headers
        .get(API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .is_some_and(|v| {
            v.len() == 10
                && v.as_bytes()[4] == b'-'
                && v.as_bytes()[7] == b'-'
                && v >= API_VERSION_2024_01_01
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_shape_follows_the_api_version_header() {
        let mut h = HeaderMap::new();
        assert!(!wants_2024_shape(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("2024-01-01"));
        assert!(wants_2024_shape(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("2023-12-31"));
        assert!(!wants_2024_shape(&h));
        h.insert(API_VERSION_HEADER, HeaderValue::from_static("garbage"));
        assert!(!wants_2024_shape(&h));
    }
}
