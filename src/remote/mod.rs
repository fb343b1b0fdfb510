//! The Supabase / PostgREST client: typed calls to `kassa_heartbeat`, `kassa_push` and
//! `kassa_pull` (payloads exactly as docs/protocol.md), with errors classified from the
//! PostgREST error `code` and the HTTP status so that the sync engine can branch on them.
//!
//! - [`types`]: the request and response payloads.
//! - [`error`]: [`RemoteError`] and its [`ErrorClass`] (transient / permanent / auth / upgrade).
//! - [`client`]: [`RemoteClient`], reqwest over rustls, secrets kept out of every log line.

pub mod client;
pub mod error;
pub mod types;

pub use client::{RemoteClient, Timed};
pub use error::{ErrorClass, RemoteError};
pub use types::{
    CatalogEntry, CatalogRow, HeartbeatReply, HeartbeatStatus, OpOutcome, PullCursors, PullReply,
    PullSection, PushOp, PushResult, RemoteConflict, StaffEntry, StaffRow, StockRow,
};
