//! One request, start to end: the transaction it runs in (role, request settings and the
//! role's own settings, all transaction-local, like PostgREST), the JSON response and the
//! log line. [`respond`] is the frame every handler runs in; [`Call::run`] its transaction.

use std::future::Future;
use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::auth::{authenticate, Auth};
use super::state::{pool_error, AppState};
use crate::error::ApiError;

/// Sets the role, the request settings and the role's own settings (`ALTER ROLE ... SET`,
/// database-specific ones last), all transaction-local, like PostgREST.
const SETUP_SQL: &str = r#"
select pg_catalog.set_config('role', $1, true),
       pg_catalog.set_config('request.jwt.claims', $2, true),
       pg_catalog.set_config('request.method', $3, true),
       pg_catalog.set_config('request.path', $4, true),
       pg_catalog.set_config('request.headers', $5, true),
       pg_catalog.set_config('request.cookies', '{}', true),
       (select count(pg_catalog.set_config(x.k, x.v, true)) from (
          select pg_catalog.split_part(c, '=', 1) as k,
                 pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1) as v
            from pg_catalog.pg_db_role_setting s
            cross join lateral pg_catalog.unnest(s.setconfig) as c
           where s.setrole = (select r.oid from pg_catalog.pg_roles r where r.rolname = $1)
             and s.setdatabase in (0, (select d.oid from pg_catalog.pg_database d
                                        where d.datname = pg_catalog.current_database()))
           order by s.setdatabase) x)
"#;

/// What a handler answers when it succeeds.
pub(super) struct Outcome {
    pub(super) status: StatusCode,
    pub(super) body: Option<String>,
    pub(super) content_range: Option<String>,
}

/// One authenticated request as a handler sees it: what the request settings are made of.
pub(super) struct Call<'a> {
    pub(super) state: &'a AppState,
    auth: Auth,
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
}

fn headers_json(headers: &HeaderMap) -> String {
    let mut m = Map::new();
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            m.insert(
                k.as_str().to_ascii_lowercase(),
                Value::String(v.to_string()),
            );
        }
    }
    Value::Object(m).to_string()
}

impl Call<'_> {
    /// Runs `sql` with `params` in one transaction prepared like PostgREST prepares it
    /// (read-only for GET). Returns the first row's first column (the JSON body) and, if there
    /// is one, its second (a count).
    pub(super) async fn run(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<(Option<String>, Option<i64>)>, ApiError> {
        let (state, auth) = (self.state, &self.auth);
        let anon = auth.role == state.anon_role;
        let pg = |e: tokio_postgres::Error| ApiError::from_pg(&e, anon);
        let mut client = state.pool.get().await.map_err(pool_error)?;
        let tx = client
            .build_transaction()
            .read_only(*self.method == Method::GET)
            .start()
            .await
            .map_err(pg)?;
        let setup = tx.prepare_cached(SETUP_SQL).await.map_err(pg)?;
        tx.query_one(
            &setup,
            &[
                &auth.role,
                &auth.claims,
                &self.method.as_str(),
                &self.path,
                &headers_json(self.headers),
            ],
        )
        .await
        .map_err(pg)?;
        let stmt = tx.prepare_cached(sql).await.map_err(pg)?;
        let row = tx.query_opt(&stmt, params).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(row.map(|r| {
            let body: Option<String> = r.get(0);
            let count: Option<i64> = if r.len() > 1 { r.get(1) } else { None };
            (body, count)
        }))
    }
}

/// PostgREST's "Empty or invalid json" (400, `PGRST102`).
pub(super) fn invalid_json() -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "PGRST102", "Empty or invalid json")
}

/// The request body as JSON, or [`invalid_json`] with the parser's complaint as details.
pub(super) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| invalid_json().with_details(e.to_string()))
}

/// The frame every handler runs in: authenticates the request (see [`super::auth`]), runs
/// `work` for it, logs how it went and turns the result into the HTTP response.
pub(super) async fn respond<'a, Fut>(
    state: &'a AppState,
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
    query: Option<&str>,
    work: impl FnOnce(Call<'a>) -> Fut,
) -> Response
where
    Fut: Future<Output = Result<Outcome, ApiError>>,
{
    let started = Instant::now();
    let result = match authenticate(state, headers, query) {
        Ok(auth) => {
            work(Call {
                state,
                auth,
                method,
                path,
                headers,
            })
            .await
        }
        Err(e) => Err(e),
    };
    log_request(method, path, started, &result);
    match result {
        Ok(o) => json_response(o),
        Err(e) => e.into_response(),
    }
}

fn json_response(o: Outcome) -> Response {
    let mut resp = match o.body {
        Some(b) => (o.status, b).into_response(),
        None => o.status.into_response(),
    };
    if o.status != StatusCode::NO_CONTENT {
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    if let Some(cr) = o.content_range {
        if let Ok(v) = HeaderValue::from_str(&cr) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

fn log_request(method: &Method, path: &str, started: Instant, result: &Result<Outcome, ApiError>) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(o) => tracing::info!(%method, path, status = o.status.as_u16(), ms, "request"),
        Err(e) => {
            tracing::info!(%method, path, status = e.status.as_u16(), code = %e.code, ms, "request failed")
        }
    }
}
