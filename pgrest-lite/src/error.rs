//! PostgREST-shaped errors: JSON `{code, message, details, hint}` with PostgREST's status mapping.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error as the data API returns it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Option<String>,
    pub hint: Option<String>,
    /// Value of a `WWW-Authenticate` header to send with the response, if any.
    pub www_authenticate: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
            hint: None,
            www_authenticate: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// PGRST100: the query string could not be parsed.
    pub fn parse(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "PGRST100", message)
    }

    /// PGRST301: the JWT could not be decoded or its signature is wrong.
    pub fn jwt_invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "PGRST301", message.clone());
        e.www_authenticate = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            message.replace('"', "'")
        ));
        e
    }

    /// PGRST303: JWT claims validation failed (expired).
    pub fn jwt_expired() -> Self {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "PGRST303", "JWT expired");
        e.www_authenticate =
            Some("Bearer error=\"invalid_token\", error_description=\"JWT expired\"".to_string());
        e
    }

    /// No usable connection to PostgreSQL.
    pub fn connection(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PGRST000",
            "Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL service not running.",
        )
        .with_details(detail)
    }

    /// Maps an error of tokio-postgres. `anon` tells whether the request ran as the anon role
    /// (42501 is 401 then, 403 otherwise).
    pub fn from_pg(err: &tokio_postgres::Error, anon: bool) -> Self {
        match err.as_db_error() {
            Some(db) => {
                let code = db.code().code().to_string();
                let (status, www) = status_for_sqlstate(&code, anon);
                let mut e = ApiError::new(status, &code, db.message());
                e.details = db.detail().map(str::to_string);
                e.hint = db.hint().map(str::to_string);
                if www {
                    e.www_authenticate = Some("Bearer".to_string());
                }
                e
            }
            None if err.is_closed() => ApiError::connection("the database connection was closed"),
            None => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PGRST001",
                "Database client error. Retrying the connection.",
            )
            .with_details(err.to_string()),
        }
    }
}

/// PostgREST's translation of SQLSTATEs into HTTP statuses; the bool says whether to send a
/// `WWW-Authenticate: Bearer` header (42501 as anon).
pub fn status_for_sqlstate(code: &str, anon: bool) -> (StatusCode, bool) {
    let s = |n: u16| StatusCode::from_u16(n).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // `PTxxx`: a custom status raised by a function.
    if let Some(rest) = code.strip_prefix("PT") {
        if let Ok(n) = rest.parse::<u16>() {
            if let Ok(st) = StatusCode::from_u16(n) {
                return (st, false);
            }
        }
    }
    let class = code.get(0..2).unwrap_or("");
    let st = match code {
        "23503" | "23505" => s(409),
        "25006" => s(405),
        "53400" => s(500),
        "P0001" => s(400),
        "42883" | "42P01" => s(404),
        "42P17" => s(500),
        "42501" => {
            return if anon {
                (s(401), true)
            } else {
                (s(403), false)
            };
        }
        _ => match class {
            "08" => s(503),
            "09" => s(500),
            "0L" | "0P" => s(403),
            "25" => s(500),
            "28" => s(403),
            "2D" | "38" | "39" | "3B" | "40" => s(500),
            "53" => s(503),
            "54" | "55" | "57" | "58" | "F0" | "HV" | "P0" | "XX" => s(500),
            _ => s(400),
        },
    };
    (st, false)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(w) = self.www_authenticate {
            if let Ok(v) = HeaderValue::from_str(&w) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_postgrest() {
        let cases = [
            ("23505", false, 409),
            ("23503", false, 409),
            ("P0001", false, 400),
            ("42501", true, 401),
            ("42501", false, 403),
            ("57014", false, 500),
            ("08006", false, 503),
            ("53300", false, 503),
            ("53400", false, 500),
            ("42883", false, 404),
            ("42P01", false, 404),
            ("22023", false, 400),
            ("25006", false, 405),
            ("40001", false, 500),
            ("PT402", false, 402),
        ];
        for (code, anon, want) in cases {
            assert_eq!(status_for_sqlstate(code, anon).0.as_u16(), want, "{code}");
        }
        assert!(status_for_sqlstate("42501", true).1);
    }
}
