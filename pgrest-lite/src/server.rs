//! The gateway's life cycle: [`Config`], [`serve`] (router, accept loop) and the
//! [`ServerHandle`] that stops it. What happens to one request is in the submodules:
//! `state` (pool, keys, schema cache), `auth` (apikey and JWT → role), `request` (one
//! transaction per request, the response) and the handlers `rpc` and `tables`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, RwLock};
use tokio::task::{JoinHandle, JoinSet};
use tokio_postgres::NoTls;

use crate::auth::AuthConfig;
use crate::error::ApiError;
use crate::jwt::JwtKeys;
use crate::Error;
use state::AppState;

mod auth;
mod request;
mod rpc;
mod state;
mod tables;

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
    /// The Supabase Auth stand-in under `/auth/v1` (see [`crate::auth`]).
    pub auth: AuthConfig,
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
    /// `anon`, the auth stand-in on the same database as `supabase_auth_admin` with
    /// Supabase's lifetimes.
    pub fn new(database_url: &str, jwt_secret: &str) -> Result<Config, Error> {
        let pg: tokio_postgres::Config = database_url.parse().map_err(Error::Db)?;
        let auth = AuthConfig::for_database(&pg);
        Ok(Config {
            auth,
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
    if let Err(e) = state.reload_schema().await {
        tracing::warn!(error = %e.message, "schema cache not loaded yet; will retry on demand");
    }

    let auth = crate::auth::router(
        config.auth.clone(),
        JwtKeys::new(&config.jwt_secret)?,
        format!("http://{local_addr}/auth/v1"),
    )?;
    let app = Router::new()
        .route("/rest/v1/rpc/{function}", post(rpc::rpc))
        .route(
            "/rest/v1/{table}",
            get(tables::read_table).post(tables::insert_table),
        )
        .route("/health", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
        .merge(auth);

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

async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "PGRST125",
        "Invalid path specified in request URL",
    )
    .into_response()
}
