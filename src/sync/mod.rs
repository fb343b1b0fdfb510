//! The sync engine: heartbeat, push and pull workers that move the outbox to the server and
//! the server's catalog, stock levels and conflicts back, under a single-syncer lease.
//!
//! - [`engine`]: [`SyncEngine`] — start, status/events channels, shutdown.
//! - [`status`]: [`SyncStatus`] (the heartbeat pane) and [`SyncEvent`]s.
//! - `heartbeat`, `push`, `pull`, `lease`: the workers; [`once`]: `kassa sync --once`.
//! - `session`: an enrolled till's access token, refreshed before it expires (and once more
//!   on a 401 for an expired JWT), the rotated refresh token stored before use.
//! - [`backoff`]: capped exponential full-jitter backoff honouring `Retry-After`.

pub mod backoff;
pub mod engine;
mod heartbeat;
mod lease;
pub mod once;
mod pull;
mod push;
mod session;
mod shared;
pub mod status;

pub use engine::SyncEngine;
pub use once::{sync_once, OnceReport};
pub use pull::PullCounts;
pub use shared::EngineOptions;
pub use status::{Connectivity, SyncEvent, SyncStatus};
