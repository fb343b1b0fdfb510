//! Who is asking: the `apikey` must be a valid anon or service_role key (as Supabase's API
//! gateway requires), and the `Authorization: Bearer` JWT (or, without one, the apikey itself)
//! decides the role and the claims, as in PostgREST.

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::state::AppState;
use crate::error::ApiError;

/// The authenticated identity of a request.
pub(super) struct Auth {
    pub(super) role: String,
    pub(super) claims: String,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Supabase's API gateway requires an `apikey` (header or query parameter) that is a valid
/// key of the project; the `Authorization: Bearer` JWT (or, without one, the apikey itself)
/// then decides the role, as in PostgREST.
pub(super) fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Auth, ApiError> {
    let apikey = header_str(headers, "apikey")
        .map(str::to_string)
        .or_else(|| query_param(query, "apikey"));
    let Some(apikey) = apikey else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_api_key",
            "No API key found in request",
        )
        .with_hint("No `apikey` request header or url param was found."));
    };
    let invalid_key = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "Invalid API key",
        )
        .with_hint("Double check your Supabase `anon` or `service_role` API key.")
    };
    let key_claims = state.keys.verify(&apikey).map_err(|_| invalid_key())?;
    if !matches!(
        key_claims.get("role").and_then(Value::as_str),
        Some("anon") | Some("service_role")
    ) {
        return Err(invalid_key());
    }
    let claims = match header_str(headers, "authorization") {
        Some(h) => {
            let token = h
                .strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::jwt_invalid("Authorization header is not a Bearer token")
                })?;
            state.keys.verify(token)?
        }
        None => key_claims,
    };
    let role = match claims.get("role") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        Some(Value::String(_)) | None => state.anon_role.clone(),
        Some(_) => return Err(ApiError::jwt_invalid("The JWT role claim must be a string")),
    };
    Ok(Auth {
        role,
        claims: claims.to_string(),
    })
}
