//! The operator console: sales entry, live queue, heartbeat and conflicts in one screen.
//!
//! Shape (see docs/STYLE models): one [`state::State`] owner; a pure
//! [`update::update`] turning [`action::Action`]s into state changes and
//! [`action::Command`]s; renderers in [`view`] that only read; a key map ([`keymap`]) that
//! feeds the key handling, the status bar and the help. The event loop runs commands on the
//! store worker and draws only when something changed.

pub mod action;
pub mod approval;
pub mod conflicts;
pub mod exec;
pub mod heartbeat;
pub mod keymap;
pub mod layout;
pub mod login;
pub mod model;
pub mod notice;
pub mod printing;
pub mod queue;
pub mod receipt;
pub mod refund;
pub mod run;
pub mod sales;
pub mod shift;
pub mod state;
pub mod update;
pub mod view;
pub mod void;

pub use action::{Action, Command};
pub use state::{Settings, State};
pub use update::{init, update};
pub use view::draw;
