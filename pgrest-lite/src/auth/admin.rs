//! The admin API (`/auth/v1/admin/users`), for the project's `service_role` key only: create a
//! user with its `app_metadata` (a till: `store_id`, `device_id`), read, update (password,
//! metadata, `ban_duration`), delete. As in GoTrue, a banned user's refresh tokens get
//! `user_banned` and a deleted user's sessions go with it (`refresh_token_not_found`); the
//! kassa RPCs refuse the still-unexpired access tokens of both at once (see
//! `supabase/migrations/20261204001000_kassa_device_auth.sql`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::error::AuthError;
use super::user::{user_json, USER_COLUMNS};
use super::{bearer_claims, check_apikey, conn, AuthState, Shared};

fn require_admin(state: &AuthState, headers: &HeaderMap) -> Result<(), AuthError> {
    check_apikey(state, headers)?;
    let claims = bearer_claims(state, headers)?;
    match claims.get("role").and_then(Value::as_str) {
        Some("service_role") | Some("supabase_admin") => Ok(()),
        _ => Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "not_admin",
            "User not allowed",
        )),
    }
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, AuthError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(AuthError::bad_request(
            "bad_json",
            "Could not parse request body as JSON",
        )),
    }
}

/// `app_metadata` as GoTrue keeps it: `provider`/`providers` plus what the admin set.
fn app_metadata(given: Option<&Value>) -> Result<Value, AuthError> {
    let mut m = Map::new();
    m.insert("provider".into(), json!("email"));
    m.insert("providers".into(), json!(["email"]));
    match given {
        None | Some(Value::Null) => {}
        Some(Value::Object(g)) => m.extend(g.clone()),
        Some(_) => {
            return Err(AuthError::bad_request(
                "validation_failed",
                "app_metadata must be an object",
            ))
        }
    }
    Ok(Value::Object(m))
}

/// Go's `time.ParseDuration` for the forms an admin sends (`876000h`, `30m`, `90s`, `1h30m`);
/// `none` lifts a ban. Seconds, or `None` for `none`.
fn ban_seconds(s: &str) -> Result<Option<f64>, AuthError> {
    if s == "none" {
        return Ok(None);
    }
    let bad = || AuthError::bad_request("validation_failed", "invalid format for ban duration");
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return Err(bad());
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('h', _) => 3600.0,
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return Err(bad()),
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total += n * unit;
        num.clear();
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(Some(total))
}

async fn user_by_id<C: tokio_postgres::GenericClient>(c: &C, id: Uuid) -> Result<Value, AuthError> {
    let row = c
        .query_opt(
            &format!("select {USER_COLUMNS} from auth.users u where u.id = $1"),
            &[&id],
        )
        .await?;
    row.map(|r| user_json(&r))
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))
}

fn parse_id(id: &str) -> Result<Uuid, AuthError> {
    Uuid::parse_str(id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))
}

async fn run(
    headers: &HeaderMap,
    f: impl std::future::Future<Output = Result<Response, AuthError>>,
) -> Response {
    f.await.unwrap_or_else(|e| e.respond(headers))
}

/// Inserts a user as the admin API creates one (`password` empty: no password sign-in;
/// `ban_secs`: banned for that long). Also used by [`crate::testing::TestStack`].
#[allow(clippy::too_many_arguments)]
pub async fn insert_user<C: tokio_postgres::GenericClient>(
    c: &C,
    id: Uuid,
    email: &str,
    password: &str,
    email_confirm: bool,
    app_metadata: &Value,
    user_metadata: &Value,
    ban_secs: Option<f64>,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, \
           email_confirmed_at, raw_app_meta_data, raw_user_meta_data, banned_until, \
           created_at, updated_at) \
         values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', \
           $2, case when $3 = '' then '' else extensions.crypt($3, extensions.gen_salt('bf')) end, \
           case when $4 then now() end, $5, $6, \
           now() + make_interval(secs => $7::float8), now(), now())",
        &[
            &id,
            &email,
            &password,
            &email_confirm,
            app_metadata,
            user_metadata,
            &ban_secs,
        ],
    )
    .await?;
    Ok(())
}

/// The `app_metadata` of a till's user: GoTrue's provider fields, `store_id`, `device_id`.
pub fn device_app_metadata(store: Uuid, device: Uuid) -> Value {
    json!({"provider": "email", "providers": ["email"],
           "store_id": store.to_string(), "device_id": device.to_string()})
}

/// `POST /auth/v1/admin/users` `{id?, email, password, email_confirm, app_metadata,
/// user_metadata, ban_duration?}`.
pub(crate) async fn create_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&headers, async {
        require_admin(&state, &headers)?;
        let b = body_object(&body)?;
        let email = b
            .get("email")
            .and_then(Value::as_str)
            .map(str::trim)
            .unwrap_or("")
            .to_lowercase();
        if email.is_empty() || !email.contains('@') {
            return Err(AuthError::bad_request(
                "validation_failed",
                "Unable to validate email address: invalid format",
            ));
        }
        let password = b.get("password").and_then(Value::as_str).unwrap_or("");
        if !password.is_empty() && password.len() < 6 {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_password",
                "Password should be at least 6 characters.",
            ));
        }
        let id = match b.get("id").and_then(Value::as_str) {
            Some(s) => Uuid::parse_str(s)
                .map_err(|_| AuthError::bad_request("validation_failed", "id must be a UUID"))?,
            None => Uuid::new_v4(),
        };
        let app = app_metadata(b.get("app_metadata"))?;
        let user_meta = match b.get("user_metadata") {
            Some(v @ Value::Object(_)) => v.clone(),
            _ => json!({}),
        };
        let confirm = b
            .get("email_confirm")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let ban = match b.get("ban_duration").and_then(Value::as_str) {
            Some(s) => ban_seconds(s)?,
            None => None,
        };
        let c = conn(&state).await?;
        let taken = c
            .query_opt(
                "select id = $1 from auth.users where id = $1 or lower(email) = $2 limit 1",
                &[&id, &email],
            )
            .await?;
        if let Some(row) = taken {
            let (code, msg) = if row.get::<_, bool>(0) {
                ("user_already_exists", "A user with this id already exists")
            } else {
                (
                    "email_exists",
                    "A user with this email address has already been registered",
                )
            };
            return Err(AuthError::new(StatusCode::UNPROCESSABLE_ENTITY, code, msg));
        }
        insert_user(&**c, id, &email, password, confirm, &app, &user_meta, ban).await?;
        Ok(axum::Json(user_by_id(&**c, id).await?).into_response())
    })
    .await
}

/// `GET /auth/v1/admin/users`: every user (one page; this stand-in has few).
pub(crate) async fn list_users(State(state): State<Shared>, headers: HeaderMap) -> Response {
    run(&headers, async {
        require_admin(&state, &headers)?;
        let c = conn(&state).await?;
        let rows = c
            .query(
                &format!(
                    "select {USER_COLUMNS} from auth.users u where u.deleted_at is null \
                     order by u.created_at, u.id"
                ),
                &[],
            )
            .await?;
        let users: Vec<Value> = rows.iter().map(user_json).collect();
        Ok(axum::Json(json!({"users": users, "aud": "authenticated"})).into_response())
    })
    .await
}

/// `GET /auth/v1/admin/users/{id}`.
pub(crate) async fn get_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(&headers, async {
        require_admin(&state, &headers)?;
        let c = conn(&state).await?;
        Ok(axum::Json(user_by_id(&**c, parse_id(&id)?).await?).into_response())
    })
    .await
}

/// `PUT /auth/v1/admin/users/{id}` `{password?, app_metadata?, user_metadata?,
/// ban_duration?}` (`none` lifts a ban).
pub(crate) async fn update_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run(&headers, async {
        require_admin(&state, &headers)?;
        let id = parse_id(&id)?;
        let b = body_object(&body)?;
        let mut c = conn(&state).await?;
        let tx = c.transaction().await?;
        let current = user_by_id(&*tx, id).await?;
        if let Some(p) = b.get("password").and_then(Value::as_str) {
            tx.execute(
                "update auth.users set encrypted_password = \
                   extensions.crypt($2, extensions.gen_salt('bf')), updated_at = now() where id = $1",
                &[&id, &p],
            )
            .await?;
        }
        if let Some(given) = b.get("app_metadata") {
            let Value::Object(g) = given else {
                return Err(AuthError::bad_request(
                    "validation_failed",
                    "app_metadata must be an object",
                ));
            };
            let mut merged = current["app_metadata"].as_object().cloned().unwrap_or_default();
            merged.extend(g.clone());
            tx.execute(
                "update auth.users set raw_app_meta_data = $2, updated_at = now() where id = $1",
                &[&id, &Value::Object(merged)],
            )
            .await?;
        }
        if let Some(v @ Value::Object(_)) = b.get("user_metadata") {
            tx.execute(
                "update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1",
                &[&id, v],
            )
            .await?;
        }
        if let Some(s) = b.get("ban_duration").and_then(Value::as_str) {
            let secs = ban_seconds(s)?;
            tx.execute(
                "update auth.users set banned_until = now() + make_interval(secs => $2::float8), \
                   updated_at = now() where id = $1",
                &[&id, &secs],
            )
            .await?;
        }
        let user = user_by_id(&*tx, id).await?;
        tx.commit().await?;
        Ok(axum::Json(user).into_response())
    })
    .await
}

/// `DELETE /auth/v1/admin/users/{id}`: the user and (by cascade) its sessions and tokens.
pub(crate) async fn delete_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(&headers, async {
        require_admin(&state, &headers)?;
        let id = parse_id(&id)?;
        let c = conn(&state).await?;
        let user = user_by_id(&**c, id).await?;
        c.execute("delete from auth.users where id = $1", &[&id])
            .await?;
        Ok(axum::Json(user).into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ban_durations_parse_like_go() {
        assert_eq!(ban_seconds("876000h").unwrap(), Some(876000.0 * 3600.0));
        assert_eq!(ban_seconds("1h30m").unwrap(), Some(5400.0));
        assert_eq!(ban_seconds("90s").unwrap(), Some(90.0));
        assert_eq!(ban_seconds("none").unwrap(), None);
        assert!(ban_seconds("forever").is_err());
        assert!(ban_seconds("12").is_err());
        assert!(ban_seconds("").is_err());
    }
}
