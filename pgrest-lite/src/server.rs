//! The HTTP server: routes, authentication, one transaction per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use serde_json::{Map, Value};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, RwLock};
use tokio::task::{JoinHandle, JoinSet};
use tokio_postgres::NoTls;

use crate::error::ApiError;
use crate::jwt::JwtKeys;
use crate::query::ReadRequest;
use crate::schema::{rpc_sql, SchemaCache};
use crate::Error;

/// Gateway configuration.
#[derive(Clone)]
pub struct Config {
    /// Connection settings for the pool. Connect as `authenticator` (like PostgREST).
    pub pg: tokio_postgres::Config,
    /// HS256 secret that device tokens and API keys are signed with.
    pub jwt_secret: String,
    /// Where to listen; port 0 picks a free port (see [`ServerHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Maximum number of pooled connections.
    pub pool_size: usize,
    /// The exposed schema.
    pub schema: String,
    /// The role of requests without a JWT role claim.
    pub anon_role: String,
    /// How long a request waits for a pooled connection before 504 (PGRST003).
    pub pool_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .field("anon_role", &self.anon_role)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration for `database_url` (e.g. `postgres://authenticator@127.0.0.1:5432/kassa`)
    /// with the defaults: listen on 127.0.0.1:3000, 8 connections, schema `public`, anon role
    /// `anon`.
    pub fn new(database_url: &str, jwt_secret: &str) -> Result<Config, Error> {
        let pg: tokio_postgres::Config = database_url.parse().map_err(Error::Db)?;
        Ok(Config {
            pg,
            jwt_secret: jwt_secret.to_string(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            pool_size: 8,
            schema: "public".to_string(),
            anon_role: "anon".to_string(),
            pool_timeout: Duration::from_secs(10),
        })
    }
}

struct AppState {
    pool: Pool,
    keys: JwtKeys,
    schema_name: String,
    anon_role: String,
    cache: RwLock<Option<Arc<SchemaCache>>>,
}

/// A running gateway. Dropping it does NOT stop the server; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    pool: Pool,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting, drops every open connection at once (in-flight requests are cut off,
    /// as when a server dies) and closes the database pool. Returns when the port is free.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.pool.close();
    }

    /// Waits until the server stops (it only stops through [`ServerHandle::shutdown`]).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(Error::Io)?;
    socket.set_reuseaddr(true).map_err(Error::Io)?;
    socket.bind(addr).map_err(Error::Io)?;
    socket.listen(1024).map_err(Error::Io)
}

/// Starts the gateway on the current tokio runtime and returns once it is listening.
pub async fn serve(config: Config) -> Result<ServerHandle, Error> {
    let listener = bind(config.listen)?;
    let local_addr = listener.local_addr().map_err(Error::Io)?;
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
        .wait_timeout(Some(config.pool_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| Error::Other(format!("cannot build the connection pool: {e}")))?;
    let state = Arc::new(AppState {
        pool: pool.clone(),
        keys: JwtKeys::new(&config.jwt_secret)?,
        schema_name: config.schema.clone(),
        anon_role: config.anon_role.clone(),
        cache: RwLock::new(None),
    });
    if let Err(e) = reload_schema(&state).await {
        tracing::warn!(error = %e.message, "schema cache not loaded yet; will retry on demand");
    }

    let app = Router::new()
        .route("/rest/v1/rpc/{function}", post(rpc))
        .route("/rest/v1/{table}", get(read_table).post(insert_table))
        .route("/health", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state);

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(accept_loop(listener, app, stop_rx));
    tracing::info!(%local_addr, "pgrest-lite listening");
    Ok(ServerHandle {
        local_addr,
        stop: Some(stop_tx),
        task: Some(task),
        pool,
    })
}

async fn accept_loop(listener: TcpListener, app: Router, mut stop: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = TowerToHyperService::new(app.clone());
                conns.spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn reload_schema(state: &AppState) -> Result<Arc<SchemaCache>, ApiError> {
    let client = state.pool.get().await.map_err(pool_error)?;
    let cache = SchemaCache::load(&**client, &state.schema_name)
        .await
        .map_err(|e| ApiError::from_pg(&e, false))?;
    let cache = Arc::new(cache);
    *state.cache.write().await = Some(cache.clone());
    Ok(cache)
}

async fn schema(state: &AppState) -> Result<Arc<SchemaCache>, ApiError> {
    if let Some(c) = state.cache.read().await.clone() {
        return Ok(c);
    }
    reload_schema(state).await
}

/// Reloads after a miss (unknown function or table): objects created after start-up are
/// found without a restart. A miss is an error path, so the extra catalog read is cheap.
async fn reload_after_miss(state: &AppState) -> Result<Option<Arc<SchemaCache>>, ApiError> {
    reload_schema(state).await.map(Some)
}

fn pool_error(e: PoolError) -> ApiError {
    match e {
        PoolError::Timeout(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "PGRST003",
            "Timed out acquiring connection from connection pool.",
        ),
        PoolError::Backend(e) => ApiError::connection(e.to_string()),
        other => ApiError::connection(other.to_string()),
    }
}

/// The authenticated identity of a request.
struct Auth {
    role: String,
    claims: String,
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
fn authenticate(
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

struct Outcome {
    status: StatusCode,
    body: Option<String>,
    content_range: Option<String>,
}

/// Runs `sql` with `params` in one transaction prepared like PostgREST prepares it.
/// What the request settings are made of.
struct RequestCtx<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a HeaderMap,
    read_only: bool,
}

async fn run_in_request_tx(
    state: &AppState,
    auth: &Auth,
    ctx: &RequestCtx<'_>,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<(Option<String>, Option<i64>)>, ApiError> {
    let anon = auth.role == state.anon_role;
    let pg = |e: tokio_postgres::Error| ApiError::from_pg(&e, anon);
    let mut client = state.pool.get().await.map_err(pool_error)?;
    let tx = client
        .build_transaction()
        .read_only(ctx.read_only)
        .start()
        .await
        .map_err(pg)?;
    let setup = tx.prepare_cached(SETUP_SQL).await.map_err(pg)?;
    tx.query_one(
        &setup,
        &[
            &auth.role,
            &auth.claims,
            &ctx.method,
            &ctx.path,
            &headers_json(ctx.headers),
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

async fn rpc(
    State(state): State<Arc<AppState>>,
    Path(function): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let path = format!("/rpc/{function}");
    let result = rpc_inner(&state, &function, query.as_deref(), &headers, &body, &path).await;
    log_request(&Method::POST, &path, started, &result);
    match result {
        Ok(o) => json_response(o),
        Err(e) => e.into_response(),
    }
}

async fn rpc_inner(
    state: &AppState,
    function: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    path: &str,
) -> Result<Outcome, ApiError> {
    let auth = authenticate(state, headers, query)?;
    let args: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "PGRST102", "Empty or invalid json")
                .with_details(e.to_string())
        })?
    };
    let Value::Object(obj) = &args else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PGRST102",
            "The request body must be a JSON object of named arguments",
        ));
    };
    let mut keys: Vec<String> = obj.keys().cloned().collect();
    keys.sort();
    let mut cache = schema(state).await?;
    if cache.function(function, &keys).is_none() {
        if let Some(c) = reload_after_miss(state).await? {
            cache = c;
        }
    }
    let Some(def) = cache.function(function, &keys) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST202",
            format!(
                "Could not find the function {}.{}({}) in the schema cache",
                state.schema_name,
                function,
                keys.join(", ")
            ),
        )
        .with_hint(
            "If a new function was created in the database with this name and parameters, try reloading the schema cache.",
        ));
    };
    let sql = rpc_sql(&state.schema_name, def, &keys);
    let returns_void = def.returns_void;
    let args_text = args.to_string();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = if keys.is_empty() {
        Vec::new()
    } else {
        vec![&args_text]
    };
    let ctx = RequestCtx {
        method: "POST",
        path,
        headers,
        read_only: false,
    };
    let row = run_in_request_tx(state, &auth, &ctx, &sql, &params).await?;
    if returns_void {
        return Ok(Outcome {
            status: StatusCode::NO_CONTENT,
            body: None,
            content_range: None,
        });
    }
    let body = row
        .and_then(|(b, _)| b)
        .unwrap_or_else(|| "null".to_string());
    Ok(Outcome {
        status: StatusCode::OK,
        body: Some(body),
        content_range: None,
    })
}

async fn read_table(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let path = format!("/{table}");
    let result = read_inner(&state, &table, query.as_deref(), &headers, &path).await;
    log_request(&Method::GET, &path, started, &result);
    match result {
        Ok(o) => json_response(o),
        Err(e) => e.into_response(),
    }
}

async fn read_inner(
    state: &AppState,
    table: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Outcome, ApiError> {
    let auth = authenticate(state, headers, query)?;
    let req = ReadRequest::parse(query.unwrap_or(""))?;
    let mut cache = schema(state).await?;
    if !cache.tables.contains_key(table) {
        if let Some(c) = reload_after_miss(state).await? {
            cache = c;
        }
    }
    let Some(def) = cache.tables.get(table) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!(
                "Could not find the table '{}.{}' in the schema cache",
                state.schema_name, table
            ),
        ));
    };
    let (sql, params) = req.to_sql(&state.schema_name, def)?;
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_sql()).collect();
    let ctx = RequestCtx {
        method: "GET",
        path,
        headers,
        read_only: true,
    };
    let row = run_in_request_tx(state, &auth, &ctx, &sql, &refs).await?;
    let (body, count) = row.unwrap_or((None, None));
    let count = count.unwrap_or(0);
    let first = req.offset.unwrap_or(0);
    let content_range = if count == 0 {
        "*/*".to_string()
    } else {
        format!("{}-{}/*", first, first + count - 1)
    };
    Ok(Outcome {
        status: StatusCode::OK,
        body: Some(body.unwrap_or_else(|| "[]".to_string())),
        content_range: Some(content_range),
    })
}

async fn insert_table(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let path = format!("/{table}");
    let result = insert_inner(&state, &table, query.as_deref(), &headers, &body, &path).await;
    log_request(&Method::POST, &path, started, &result);
    match result {
        Ok(o) => json_response(o),
        Err(e) => e.into_response(),
    }
}

/// `POST /rest/v1/{table}` with a JSON object or array of objects: an INSERT of the given
/// columns (as PostgREST does it, through `jsonb_populate_recordset`), 201 without a body.
/// Enough for head-office style writes and for checking that devices cannot write.
async fn insert_inner(
    state: &AppState,
    table: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    path: &str,
) -> Result<Outcome, ApiError> {
    let auth = authenticate(state, headers, query)?;
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "PGRST102", "Empty or invalid json")
            .with_details(e.to_string())
    })?;
    let rows = match value {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST102",
                "Empty or invalid json",
            ))
        }
    };
    let mut columns: Vec<String> = match rows.first() {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    };
    columns.sort();
    if rows.is_empty() || columns.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PGRST102",
            "Empty or invalid json",
        ));
    }
    let mut cache = schema(state).await?;
    if !cache.tables.contains_key(table) {
        if let Some(c) = reload_after_miss(state).await? {
            cache = c;
        }
    }
    let Some(def) = cache.tables.get(table) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!(
                "Could not find the table '{}.{}' in the schema cache",
                state.schema_name, table
            ),
        ));
    };
    for c in &columns {
        if def.column_type(c).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "PGRST204",
                format!("Could not find the '{c}' column of '{table}' in the schema cache"),
            ));
        }
    }
    let cols = columns
        .iter()
        .map(|c| crate::schema::quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let qualified = format!(
        "{}.{}",
        crate::schema::quote_ident(&state.schema_name),
        crate::schema::quote_ident(table)
    );
    let sql = format!(
        "with _ins as (insert into {qualified} ({cols}) select {cols} from jsonb_populate_recordset(null::{qualified}, $1::text::jsonb) returning 1) select null::text, count(*) from _ins"
    );
    let rows_text = Value::Array(rows).to_string();
    let ctx = RequestCtx {
        method: "POST",
        path,
        headers,
        read_only: false,
    };
    run_in_request_tx(state, &auth, &ctx, &sql, &[&rows_text]).await?;
    Ok(Outcome {
        status: StatusCode::CREATED,
        body: None,
        content_range: None,
    })
}

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "PGRST125",
        "Invalid path specified in request URL",
    )
    .into_response()
}
