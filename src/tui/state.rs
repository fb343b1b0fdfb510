//! The console's one state owner: every pane's state, the popup, the flash line.
//!
//! Only `update` mutates it; renderers read it. Nothing here does I/O.

use chrono::{DateTime, Utc};

use super::approval::ApprovalForm;
use super::conflicts::{ConflictsState, ResolveForm};
use super::heartbeat::HeartbeatState;
use super::keymap::Context;
use super::login::StaffGate;
use super::model::OpDetailView;
use super::queue::QueueState;
use super::refund::{RefundForm, RefundState, RefundStep};
use super::sales::{SalesMode, SalesState};
use super::shift::ShiftForm;
use super::void::VoidForm;
use crate::domain::{Currency, RefundPolicy};
use crate::timefmt::Zone;

/// The pane with the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Sales,
    Queue,
    Conflicts,
}

impl Focus {
    pub fn next(self) -> Focus {
        match self {
            Focus::Sales => Focus::Queue,
            Focus::Queue => Focus::Conflicts,
            Focus::Conflicts => Focus::Sales,
        }
    }

    pub fn prev(self) -> Focus {
        match self {
            Focus::Sales => Focus::Conflicts,
            Focus::Queue => Focus::Sales,
            Focus::Conflicts => Focus::Queue,
        }
    }
}

/// What a yes/no popup asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Quit although a sale is in progress (it is discarded: nothing was saved).
    QuitDiscardingSale,
    /// Throw the whole cart away.
    VoidSale,
    /// Quit although a refund is being put together (nothing of it was saved).
    QuitDiscardingRefund,
}

/// A window over the panes; at most one at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Confirm(Confirm),
    OpDetail {
        detail: OpDetailView,
        scroll: u16,
    },
    Resolve(ResolveForm),
    /// The refund's reason and confirmation.
    Refund(RefundForm),
    /// A post-void's reason and confirmation.
    Void(VoidForm),
    /// Open, close (blind count), paid-in/out, X report.
    Shift(ShiftForm),
    /// A manager's PIN for an action above a cashier's limits.
    Approval(ApprovalForm),
    /// A receipt on screen, with the key to print it.
    Receipt(super::receipt::ReceiptPopup),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashLevel {
    Info,
    Success,
    Error,
}

/// A one-line message under the panes, kept until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub level: FlashLevel,
    pub text: String,
}

/// How the console was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub currency: Currency,
    pub cash_rounding: i64,
    pub technician: bool,
    pub color: bool,
    /// The zone times are shown in (stored times stay UTC): the system's, or fixed in tests.
    pub zone: Zone,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            currency: Currency::EUR,
            cash_rounding: 0,
            technician: false,
            color: true,
            zone: Zone::Local,
        }
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub settings: Settings,
    pub focus: Focus,
    pub popup: Option<Popup>,
    pub flash: Option<Flash>,
    pub sales: SalesState,
    /// Refund mode of the sales pane, while it is open.
    pub refund: Option<RefundState>,
    /// The refund limits of the config (the event loop sets them from `[refunds]`).
    pub refund_policy: RefundPolicy,
    /// A server is configured: a receipt of another till can be looked up there.
    pub server_lookup: bool,
    pub queue: QueueState,
    pub conflicts: ConflictsState,
    pub heartbeat: HeartbeatState,
    /// The printer as the console knows it, and what became of its prints.
    pub receipts: super::receipt::ReceiptsState,
    /// The store has staff: who is logged in, the login screen, the idle lock. `None`: the
    /// console works without login, as it always did.
    pub staff: Option<StaffGate>,
    pub now: DateTime<Utc>,
    pub width: u16,
    pub height: u16,
    /// Something changed since the last draw.
    pub dirty: bool,
    pub quit: bool,
}

impl State {
    pub fn new(settings: Settings, now: DateTime<Utc>, width: u16, height: u16) -> State {
        State {
            settings,
            focus: if settings.technician {
                Focus::Queue
            } else {
                Focus::Sales
            },
            popup: None,
            flash: None,
            sales: SalesState::new(settings.currency),
            refund: None,
            refund_policy: RefundPolicy {
                cash_rounding: settings.cash_rounding,
                blind_max_cents: crate::config::Config::default().refunds.blind_max_cents,
            },
            server_lookup: false,
            queue: QueueState::default(),
            conflicts: ConflictsState::default(),
            heartbeat: HeartbeatState::default(),
            receipts: Default::default(),
            staff: None,
            now,
            width,
            height,
            dirty: true,
            quit: false,
        }
    }

    pub fn flash(&mut self, level: FlashLevel, text: impl Into<String>) {
        self.flash = Some(Flash {
            level,
            text: text.into(),
        });
    }

    pub fn currency(&self) -> Currency {
        self.settings.currency
    }

    /// A stored UTC time as the person at the till reads it (see [`crate::timefmt`]).
    pub fn short_time(&self, stored: &str) -> String {
        self.settings.zone.short_text(stored, self.now)
    }

    /// The key-map context the next key is read in.
    pub fn context(&self) -> Context {
        match &self.popup {
            Some(Popup::Help) => Context::Help,
            Some(Popup::Confirm(_)) => Context::Confirm,
            Some(Popup::OpDetail { .. }) => Context::OpDetail,
            Some(Popup::Resolve(_)) => Context::ResolveForm,
            Some(Popup::Refund(_)) => Context::RefundForm,
            Some(Popup::Void(_)) => Context::VoidForm,
            Some(Popup::Approval(_)) => Context::Approval,
            Some(Popup::Receipt(_)) => Context::Receipt,
            Some(Popup::Shift(f)) => match f {
                ShiftForm::Open { .. } => Context::ShiftOpen,
                ShiftForm::Menu => Context::ShiftMenu,
                ShiftForm::Cash { .. } => Context::ShiftCash,
                ShiftForm::Count(_) => Context::ShiftCount,
                ShiftForm::Closing | ShiftForm::Closed(_) | ShiftForm::Report(_) => {
                    Context::ShiftResult
                }
            },
            None if self.locked() => Context::Login,
            None => self.pane_context(),
        }
    }

    /// The context of the focused pane, ignoring any popup (what the help describes).
    pub fn pane_context(&self) -> Context {
        match self.focus {
            Focus::Sales if self.refund.is_some() => match self.refund.as_ref().map(|r| r.step) {
                Some(RefundStep::Lines) => Context::RefundLines,
                Some(RefundStep::Blind) => Context::RefundBlind,
                _ => Context::RefundReceipt,
            },
            Focus::Sales => match self.sales.mode {
                SalesMode::Search { .. } => Context::SalesSearch,
                SalesMode::Amount(_) => Context::SalesAmount,
                SalesMode::Entry | SalesMode::Committing => Context::SalesEntry,
            },
            Focus::Queue => Context::Queue,
            Focus::Conflicts => Context::Conflicts,
        }
    }

    /// Whether something on screen changes with the clock alone: then the loop ticks at 1 Hz.
    pub fn needs_tick(&self) -> bool {
        self.heartbeat.ages() || self.staff.as_ref().is_some_and(StaffGate::ticks)
    }

    /// The store has staff and nobody is logged in: only the login screen is shown.
    pub fn locked(&self) -> bool {
        self.staff.as_ref().is_some_and(StaffGate::locked)
    }
}
