//! HS256 JWTs as Supabase uses them: verification (30 s leeway) and minting of device tokens
//! and API keys.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;

/// Leeway for `exp`/`nbf`, in seconds (PostgREST allows 30 s of clock skew).
pub const LEEWAY_SECS: u64 = 30;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Verifies and mints tokens for one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<secret>)")
    }
}

impl JwtKeys {
    /// Keys for an HS256 secret (must not be empty).
    pub fn new(secret: &str) -> Result<Self, crate::Error> {
        if secret.is_empty() {
            return Err(crate::Error::Other("the JWT secret is empty".into()));
        }
        let bad =
            |e: jsonwebtoken::errors::Error| crate::Error::Other(format!("bad JWT secret: {e}"));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        Ok(JwtKeys {
            encoding: EncodingKey::from_secret(secret.as_bytes()).map_err(bad)?,
            decoding: DecodingKey::from_secret(secret.as_bytes()).map_err(bad)?,
            validation,
        })
    }

    /// The claims of a valid token, or PGRST301 (invalid) / PGRST303 (expired).
    pub fn verify(&self, token: &str) -> Result<Value, ApiError> {
        if token.split('.').count() != 3 {
            return Err(ApiError::jwt_invalid(format!(
                "Expected 3 parts in JWT; got {}",
                token.split('.').count()
            )));
        }
        match decode::<Value>(token, &self.decoding, &self.validation) {
            Ok(data) => {
                if !data.claims.is_object() {
                    return Err(ApiError::jwt_invalid("JWT claims are not an object"));
                }
                Ok(data.claims)
            }
            Err(e) => match e.kind() {
                ErrorKind::ExpiredSignature => Err(ApiError::jwt_expired()),
                ErrorKind::ImmatureSignature => Err(ApiError::jwt_invalid("JWT not yet valid")),
                ErrorKind::InvalidSignature => {
                    Err(ApiError::jwt_invalid("JWT cryptographic operation failed"))
                }
                ErrorKind::InvalidAlgorithm => Err(ApiError::jwt_invalid(
                    "Wrong or unsupported encoding algorithm",
                )),
                _ => Err(ApiError::jwt_invalid("JWT could not be decoded")),
            },
        }
    }

    /// Signs arbitrary claims.
    pub fn mint(&self, claims: &Value) -> String {
        // Encoding a JSON object with HS256 cannot fail for a valid key.
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding).unwrap_or_default()
    }

    /// A device token: `role: authenticated`, `sub: device`, `app_metadata.store_id: store`,
    /// expiring `ttl_secs` from now (negative: already expired).
    pub fn device_token(&self, device: Uuid, store: Uuid, ttl_secs: i64) -> String {
        let now = now_secs();
        self.mint(&json!({
            "iss": "pgrest-lite",
            "role": "authenticated",
            "aud": "authenticated",
            "sub": device.to_string(),
            "app_metadata": {"store_id": store.to_string()},
            "iat": now.min(now + ttl_secs),
            "exp": now + ttl_secs,
        }))
    }

    /// An API key as Supabase issues them (`role: anon` or `role: service_role`).
    pub fn api_key(&self, role: &str, ttl_secs: i64) -> String {
        let now = now_secs();
        self.mint(&json!({
            "iss": "pgrest-lite",
            "role": role,
            "iat": now,
            "exp": now + ttl_secs,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_expiry_and_bad_signature() {
        let k = JwtKeys::new("a-secret-of-at-least-thirty-two-characters").expect("keys");
        let d = Uuid::new_v4();
        let s = Uuid::new_v4();
        let t = k.device_token(d, s, 3600);
        let c = k.verify(&t).expect("valid token");
        assert_eq!(c["sub"], d.to_string());
        assert_eq!(c["app_metadata"]["store_id"], s.to_string());

        // Within the leeway: still valid. Past it: PGRST303.
        assert!(k.verify(&k.device_token(d, s, -10)).is_ok());
        let e = k.verify(&k.device_token(d, s, -120)).expect_err("expired");
        assert_eq!(e.code, "PGRST303");
        assert!(e.www_authenticate.is_some());

        let other = JwtKeys::new("another-secret-of-at-least-thirty-two-chars").expect("keys");
        let e = other.verify(&t).expect_err("bad signature");
        assert_eq!(e.code, "PGRST301");
        assert_eq!(k.verify("garbage").expect_err("garbage").code, "PGRST301");

        // No exp at all is accepted, like PostgREST.
        assert!(k.verify(&k.mint(&json!({"role": "anon"}))).is_ok());
    }
}
