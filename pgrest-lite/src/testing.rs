//! A throw-away server stack for tests: a fresh PostgreSQL database with the Supabase setup,
//! kassa's migrations and the seed, and an in-process gateway in front of it.
//!
//! The gateway and the database connections run on a runtime of their own (a background
//! thread), so a test may block its own thread (spawn the `kassa` binary, sleep, use a
//! blocking client) without stalling the server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgrest_lite::testing::TestError> {
//! let mut stack = pgrest_lite::testing::TestStack::start().await?;
//! let till = &stack.devices[0];
//! // POST {stack.url}/rest/v1/rpc/kassa_push with apikey: stack.anon_key and
//! // Authorization: Bearer {till.token} ...
//! stack.stop_gateway().await;      // connections refused
//! stack.start_gateway().await?;    // same port again
//! let db = stack.client().await?;  // superuser connection for assertions
//! let n: i64 = db.query_one("select count(*) from sales", &[]).await?.get(0);
//! stack.cleanup().await;           // drops the database
//! # let _ = n; Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::runtime::Runtime;
use tokio_postgres::NoTls;
use uuid::Uuid;

use crate::jwt::JwtKeys;
use crate::server::{serve, Config, ServerHandle};

/// Errors of the testing helpers.
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

/// The demo store of `supabase/seed.sql`.
pub const DEMO_STORE: Uuid = Uuid::from_u128(0x5a1e0000_0000_4000_8000_000000000001);
/// The second store of `supabase/seed.sql`.
pub const OTHER_STORE: Uuid = Uuid::from_u128(0x5a1e0000_0000_4000_8000_000000000002);
/// The three tills of the demo store, then the till of the second store.
pub const DEVICES: [Uuid; 4] = [
    Uuid::from_u128(0xde71ce00_0000_4000_8000_000000000001),
    Uuid::from_u128(0xde71ce00_0000_4000_8000_000000000002),
    Uuid::from_u128(0xde71ce00_0000_4000_8000_000000000003),
    Uuid::from_u128(0xde71ce00_0000_4000_8000_000000000004),
];

/// The JWT secret of test stacks (at least 32 characters, like Supabase's).
pub const TEST_JWT_SECRET: &str = "pgrest-lite-test-secret-0123456789abcdef";

/// Admin URL of the test cluster: `$KASSA_TEST_PG` or `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn admin_url() -> String {
    std::env::var("KASSA_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A device of the seed and a valid token for it (1 hour).
#[derive(Debug, Clone)]
pub struct Device {
    pub id: Uuid,
    pub store_id: Uuid,
    pub token: String,
}

/// A fresh database plus a gateway. See the module docs.
pub struct TestStack {
    /// `http://127.0.0.1:PORT` (append `/rest/v1/rpc/kassa_push` etc.).
    pub url: String,
    /// The project's anon API key (send as `apikey`).
    pub anon_key: String,
    /// The service_role key (bypasses RLS; head-office style).
    pub service_key: String,
    pub jwt_secret: String,
    pub db_name: String,
    /// Superuser URL of the maintenance database (`KASSA_TEST_PG`).
    pub admin_url: String,
    /// Superuser URL of this stack's database.
    pub db_url: String,
    pub store_id: Uuid,
    pub other_store_id: Uuid,
    /// The demo store's three tills.
    pub devices: Vec<Device>,
    pub other_store_device: Device,
    port: u16,
    keys: JwtKeys,
    gateway_config: Config,
    gateway: Option<ServerHandle>,
    runtime: Option<Runtime>,
    cleaned: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_config(url: &str) -> Result<tokio_postgres::Config, TestError> {
    Ok(url.parse::<tokio_postgres::Config>()?)
}

/// The same server with another user and database, as a URL.
fn url_for(admin: &tokio_postgres::Config, user: &str, db: &str) -> String {
    let (host, port) = match (admin.get_hosts().first(), admin.get_ports().first()) {
        (Some(tokio_postgres::config::Host::Tcp(h)), p) => (h.clone(), p.copied().unwrap_or(5432)),
        #[cfg(unix)]
        (Some(tokio_postgres::config::Host::Unix(p)), port) => {
            (p.display().to_string(), port.copied().unwrap_or(5432))
        }
        _ => ("127.0.0.1".to_string(), 5432),
    };
    if host.starts_with('/') {
        format!("postgres://{user}@/{db}?host={host}&port={port}")
    } else {
        format!("postgres://{user}@{host}:{port}/{db}")
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, TestError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn drop_database(admin_url: String, db_name: String) {
    if let Ok(admin) = connect(&admin_url).await {
        let _ = admin
            .batch_execute(&format!(
                "drop database if exists {} with (force)",
                crate::schema::quote_ident(&db_name)
            ))
            .await;
    }
}

/// Settings of a [`TestStack`] beyond the defaults.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Access-token lifetime of the auth stand-in, in seconds (Supabase: 3600).
    pub jwt_exp: i64,
    /// Refresh-token reuse interval, in seconds (Supabase: 10).
    pub refresh_token_reuse_interval: i64,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            jwt_exp: 3600,
            refresh_token_reuse_interval: 10,
        }
    }
}

/// The password of the device users that [`TestStack::create_device_users`] makes.
pub const TEST_DEVICE_PASSWORD: &str = "till-password-1";

/// The e-mail address of a device's auth user in test stacks and the dev stack.
pub fn device_email(device: Uuid) -> String {
    format!("till-{}@kassa.test", &device.simple().to_string()[20..])
}

impl TestStack {
    /// A fresh database (setup SQL + migrations + seed) and a gateway on 127.0.0.1 (free port).
    pub async fn start() -> Result<TestStack, TestError> {
        Self::start_with(StackOptions::default()).await
    }

    /// [`TestStack::start`] with other auth lifetimes.
    pub async fn start_with(opts: StackOptions) -> Result<TestStack, TestError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pgrest-lite-test")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let init = handle.spawn(Self::init(opts));
        let mut stack = match init.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                runtime.shutdown_background();
                return Err(e);
            }
            Err(e) => {
                runtime.shutdown_background();
                return Err(Box::new(e));
            }
        };
        stack.runtime = Some(runtime);
        Ok(stack)
    }

    /// [`TestStack::start`] for code outside any tokio runtime.
    pub fn start_blocking() -> Result<TestStack, TestError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(Self::start())
    }

    async fn init(opts: StackOptions) -> Result<TestStack, TestError> {
        let admin_url = admin_url();
        let admin_cfg = pg_config(&admin_url)?;
        let db_name = format!(
            "kassa_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        let admin = connect(&admin_url).await?;
        admin
            .batch_execute(&format!(
                "create database {}",
                crate::schema::quote_ident(&db_name)
            ))
            .await?;
        let super_user = admin_cfg.get_user().unwrap_or("postgres").to_string();
        let db_url = url_for(&admin_cfg, &super_user, &db_name);
        let result: Result<TestStack, TestError> = async {
            let client = connect(&db_url).await?;
            crate::sql::apply_all(&admin, &client, true).await?;
            let keys = JwtKeys::new(TEST_JWT_SECRET)?;
            let token = |d: Uuid, s: Uuid| keys.device_token(d, s, 3600);
            let devices = DEVICES[..3]
                .iter()
                .map(|&id| Device {
                    id,
                    store_id: DEMO_STORE,
                    token: token(id, DEMO_STORE),
                })
                .collect();
            let other_store_device = Device {
                id: DEVICES[3],
                store_id: OTHER_STORE,
                token: token(DEVICES[3], OTHER_STORE),
            };
            let mut gateway_config = Config::new(
                &url_for(&admin_cfg, "authenticator", &db_name),
                TEST_JWT_SECRET,
            )?;
            gateway_config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            gateway_config.pool_size = 4;
            gateway_config.auth.pg =
                pg_config(&url_for(&admin_cfg, "supabase_auth_admin", &db_name))?;
            gateway_config.auth.jwt_exp = opts.jwt_exp;
            gateway_config.auth.refresh_token_reuse_interval = opts.refresh_token_reuse_interval;
            gateway_config.auth.pool_size = 2;
            let gateway = serve(gateway_config.clone()).await?;
            let port = gateway.local_addr().port();
            gateway_config.listen = SocketAddr::from(([127, 0, 0, 1], port));
            Ok(TestStack {
                url: gateway.url(),
                anon_key: keys.api_key("anon", 10 * 365 * 86400),
                service_key: keys.api_key("service_role", 10 * 365 * 86400),
                jwt_secret: TEST_JWT_SECRET.to_string(),
                db_name: db_name.clone(),
                admin_url: admin_url.clone(),
                db_url: db_url.clone(),
                store_id: DEMO_STORE,
                other_store_id: OTHER_STORE,
                devices,
                other_store_device,
                port,
                keys,
                gateway_config,
                gateway: Some(gateway),
                runtime: None,
                cleaned: false,
            })
        }
        .await;
        if result.is_err() {
            drop_database(admin_url, db_name).await;
        }
        result
    }

    fn handle(&self) -> Result<tokio::runtime::Handle, TestError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| "the test stack's runtime is gone".into())
    }

    /// The gateway's port (stable across stop/start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Takes the gateway down: the listener closes and open connections are cut, so
    /// new connections are refused until [`TestStack::start_gateway`].
    pub async fn stop_gateway(&mut self) {
        if let (Some(g), Ok(h)) = (self.gateway.take(), self.handle()) {
            let _ = h.spawn(g.shutdown()).await;
        }
    }

    /// Brings the gateway back on the same port.
    pub async fn start_gateway(&mut self) -> Result<(), TestError> {
        if self.gateway.is_some() {
            return Ok(());
        }
        let h = self.handle()?;
        let cfg = self.gateway_config.clone();
        let mut last: Option<TestError> = None;
        // The port can stay busy for a moment after the old listener closed.
        for _ in 0..50 {
            match h.spawn(serve(cfg.clone())).await? {
                Ok(g) => {
                    self.gateway = Some(g);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(Box::new(e));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| "cannot restart the gateway".into()))
    }

    /// Whether the gateway is up.
    pub fn gateway_running(&self) -> bool {
        self.gateway.is_some()
    }

    /// A superuser connection to this stack's database (driven by the stack's runtime).
    pub async fn client(&self) -> Result<tokio_postgres::Client, TestError> {
        let url = self.db_url.clone();
        self.handle()?
            .spawn(async move { connect(&url).await })
            .await?
    }

    /// A device token (valid for an hour) for any device/store pair, registered or not.
    pub fn token_for(&self, device: Uuid, store: Uuid) -> String {
        self.keys.device_token(device, store, 3600)
    }

    /// A device token that expired two minutes ago (past the 30 s leeway).
    pub fn expired_token_for(&self, device: Uuid, store: Uuid) -> String {
        self.keys.device_token(device, store, -120)
    }

    /// A token with arbitrary claims, signed with the stack's secret.
    pub fn token_with_claims(&self, claims: &Value) -> String {
        self.keys.mint(claims)
    }

    /// Makes an auth user for each seeded device (id = the device id, `app_metadata` with its
    /// `store_id` and `device_id`, e-mail [`device_email`], password [`TEST_DEVICE_PASSWORD`]),
    /// as the admin API would. Returns the e-mail addresses in [`DEVICES`] order.
    pub async fn create_device_users(&self) -> Result<Vec<String>, TestError> {
        let db = self.client().await?;
        let mut emails = Vec::new();
        let all = self
            .devices
            .iter()
            .chain(std::iter::once(&self.other_store_device));
        for d in all {
            let email = device_email(d.id);
            crate::auth::admin::insert_user(
                &db,
                d.id,
                &email,
                TEST_DEVICE_PASSWORD,
                true,
                &crate::auth::admin::device_app_metadata(d.store_id, d.id),
                &serde_json::json!({}),
                None,
            )
            .await?;
            emails.push(email);
        }
        Ok(emails)
    }

    /// Stops the gateway and drops the database.
    pub async fn cleanup(mut self) {
        self.stop_gateway().await;
        if let Ok(h) = self.handle() {
            let _ = h
                .spawn(drop_database(self.admin_url.clone(), self.db_name.clone()))
                .await;
        }
        self.cleaned = true;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // Best effort, also when a test panicked: cut the gateway and drop the database on a
        // helper thread (this may run inside an async context).
        let admin_url = self.admin_url.clone();
        let db_name = self.db_name.clone();
        let gateway = self.gateway.take();
        if let Some(rt) = self.runtime.take() {
            let _ = std::thread::spawn(move || {
                rt.block_on(async move {
                    if let Some(g) = gateway {
                        g.shutdown().await;
                    }
                    drop_database(admin_url, db_name).await;
                });
                rt.shutdown_background();
            })
            .join();
        }
    }
}
