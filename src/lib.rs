//! kassa — an offline-first point-of-sale till for the terminal.
//!
//! Layers, each knowing only those listed before it:
//! - [`domain`]: money, products, cart, tenders, sales, operations. Pure.
//! - [`config`]: where things live and how the till is set up.
//! - [`store`]: the local SQLite database on its own thread, reached by messages.
//! - [`remote`]: the Supabase / PostgREST client.
//! - [`sync`]: heartbeat, push, pull: the engine that moves the queue to the server.
//! - [`receipt`]: a committed document as a receipt: text lines and ESC/POS bytes. Pure.
//! - [`printer`]: sending receipt bytes to a printer (file, device, raw TCP) in a worker.
//! - [`timefmt`]: stored UTC times as people read them, in the till's time zone. Pure.
//! - [`tui`] and [`cli`]: the console and the headless commands, on top.

pub mod cli;
pub mod config;
pub mod domain;
pub mod printer;
pub mod receipt;
pub mod remote;
pub mod store;
pub mod sync;
pub mod timefmt;
pub mod tui;
