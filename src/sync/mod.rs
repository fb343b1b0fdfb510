//! The sync engine: heartbeat, push and pull workers that move the outbox to the server and
//! the server's catalog, stock levels and conflicts back.
//!
//! - [`backoff`]: capped exponential full-jitter backoff honouring `Retry-After`.

pub mod backoff;
