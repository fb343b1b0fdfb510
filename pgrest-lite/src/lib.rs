//! # pgrest-lite
//!
//! A small, faithful stand-in for the subset of Supabase's data API (PostgREST behind the
//! Supabase API gateway) that kassa uses, in front of real PostgreSQL. For development,
//! tests and benchmarks; the database underneath is real.
//!
//! ## HTTP surface
//! - `POST /rest/v1/rpc/{function}` — JSON object of named arguments; the result of the
//!   function as JSON (204 for `void`). Overloads are resolved by argument names against a
//!   schema cache (reloaded on a miss), unknown ones are `PGRST202` / 404.
//! - `GET /rest/v1/{table}?select=a,b&col=eq.v&col=in.(x,y)&order=col.desc&limit=n&offset=m`
//!   — filters `eq neq gt gte lt lte like ilike in is` (and `not.`), values always bound as
//!   parameters and cast to the column type; identifiers checked against the schema cache.
//! - Every request needs an `apikey` (header or query parameter) that is a valid anon or
//!   service_role key (401 `no_api_key` / `invalid_api_key` otherwise, like Supabase's API
//!   gateway). `Authorization: Bearer <HS256 JWT>` (30 s leeway) decides the role; without it
//!   the apikey's role is used. Bad JWT: `PGRST301`/401, expired: `PGRST303`/401 with
//!   `WWW-Authenticate`.
//! - Per request ONE transaction (read-only for GET): `set_config('role', ...)`,
//!   `request.jwt.claims`, `request.method`, `request.path`, `request.headers`,
//!   `request.cookies`, then the role's own settings from `ALTER ROLE ... [IN DATABASE ...] SET`
//!   (e.g. `statement_timeout`), all transaction-local, then the statement, then COMMIT.
//! - Errors are PostgREST's: `{code, message, details, hint}` with its status mapping
//!   ([`error::status_for_sqlstate`]); no database connection → 503 `PGRST000`, pool
//!   exhausted → 504 `PGRST003`.
//!
//! - `/auth/v1/...` — the Supabase Auth subset (password and refresh-token grants with
//!   rotation and reuse detection, logout, the admin users API), its own module: [`auth`].
//!
//! ## Library
//! - [`serve`]`(`[`Config`]`) -> `[`ServerHandle`] starts the gateway on the current tokio
//!   runtime (used by the binary and by [`testing::TestStack`]).
//! - [`jwt::JwtKeys`] verifies tokens and mints device tokens / API keys.
//! - [`sql`] embeds `pgrest-lite/sql/supabase_setup.sql`, `supabase/migrations/*.sql` and
//!   `supabase/seed.sql`, with [`sql::apply_all`].
//! - [`testing::TestStack`] — for the till's sync tests:
//!
//! ```text
//! pub struct TestStack {
//!     pub url: String,            // http://127.0.0.1:PORT
//!     pub anon_key: String,       // send as `apikey`
//!     pub service_key: String,    // service_role key (bypasses RLS)
//!     pub jwt_secret: String,
//!     pub db_name: String,        // the fresh database
//!     pub admin_url: String,      // KASSA_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres)
//!     pub db_url: String,         // superuser URL of the fresh database
//!     pub store_id: Uuid,         // demo store
//!     pub other_store_id: Uuid,
//!     pub devices: Vec<Device>,   // the demo store's 3 tills, tokens valid 1 h
//!     pub other_store_device: Device,
//! }
//! pub struct Device { pub id: Uuid, pub store_id: Uuid, pub token: String }
//! TestStack::start().await -> Result<TestStack, TestError>   // also start_blocking()
//! stack.stop_gateway().await            // listener closed, open connections cut: refused
//! stack.start_gateway().await?          // back on the SAME port
//! stack.client().await? -> tokio_postgres::Client   // superuser, for assertions
//! stack.token_for(device, store) / expired_token_for(device, store) / token_with_claims(&json)
//! stack.port() / gateway_running()
//! stack.cleanup().await                 // drop the database (Drop does it best-effort too)
//! ```
//!
//! The gateway of a `TestStack` runs on a runtime of its own, so tests may block.

// ApiError is a plain PostgREST error record (a few strings); boxing it buys nothing here.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod error;
pub mod jwt;
pub mod query;
pub mod schema;
pub mod server;
pub mod sql;
pub mod testing;

pub use error::ApiError;
pub use server::{serve, Config, ServerHandle};

/// Errors of starting the gateway.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O: {0}")]
    Io(#[source] std::io::Error),
    #[error("database: {0}")]
    Db(#[source] tokio_postgres::Error),
    #[error("{0}")]
    Other(String),
}
