//! Refund mode of the sales pane: the receipt number, the lines that come back (partial
//! returns, restock or damaged per line), tender, a reason and a confirmation.
//!
//! Without a receipt ("blind"), lines are added by SKU like a sale and a reason is required.
//! The store checks and commits the refund in one transaction; "refunded #seq" is shown only
//! when it has answered, and a refusal (more than is left, a voided sale, an unknown receipt,
//! over the blind limit) is a notice that changes nothing.

use tui_input::Input;

mod amounts;
mod blind;
pub mod form;
mod lines;
mod receipt;

pub use amounts::{amounts, paid_back};
pub use form::RefundForm;
pub use receipt::{on_receipt, on_server_receipt};

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::{ReceiptView, RefundSaved};
use super::state::{FlashLevel, State};
use crate::domain::{Product, ReceiptRef, RefundableLine, TenderKind};

/// Where refund mode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStep {
    /// Typing or scanning the receipt number.
    Receipt,
    /// The receipt's lines: choosing what comes back.
    Lines,
    /// No receipt: lines by SKU.
    Blind,
}

/// One line of the refund being put together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLine {
    /// The receipt's line (`None` without a receipt).
    pub original_line_no: Option<i64>,
    pub sku: String,
    pub name: String,
    /// Units coming back (0: this receipt line stays with the customer).
    pub qty: i64,
    /// Back to stock (default) or damaged (written off).
    pub restock: bool,
    /// Without a receipt: the product as the catalog has it.
    pub product: Option<Product>,
}

#[derive(Debug, Clone)]
pub struct RefundState {
    pub step: RefundStep,
    /// The receipt number, a typed quantity (lines) or a code (blind).
    pub input: Input,
    pub receipt: Option<ReceiptView>,
    pub lines: Vec<ReturnLine>,
    pub selected: usize,
    /// Blind: quantity typed before `*`, for the next code.
    pub pending_qty: Option<i64>,
    /// Blind: code lookups not yet answered.
    pub lookups_in_flight: usize,
    /// The receipt being looked up.
    pub looking_up: Option<ReceiptRef>,
    /// The commit is with the store; nothing changes until it answers.
    pub committing: bool,
}

impl Default for RefundState {
    fn default() -> Self {
        RefundState {
            step: RefundStep::Receipt,
            input: Input::default(),
            receipt: None,
            lines: Vec::new(),
            selected: 0,
            pending_qty: None,
            lookups_in_flight: 0,
            looking_up: None,
            committing: false,
        }
    }
}

impl RefundState {
    /// Something was chosen that quitting would throw away.
    pub fn in_progress(&self) -> bool {
        self.committing || self.lookups_in_flight > 0 || self.lines.iter().any(|l| l.qty > 0)
    }

    /// Units coming back, over all lines.
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.qty).sum()
    }

    /// The receipt line behind a return line.
    pub fn receipt_line(&self, line: &ReturnLine) -> Option<&RefundableLine> {
        let no = line.original_line_no?;
        self.receipt
            .as_ref()?
            .lines
            .iter()
            .find(|l| l.line.line_no == no)
    }

    /// Units of `line` that can still come back.
    pub fn refundable(&self, line: &ReturnLine) -> i64 {
        match self.receipt_line(line) {
            Some(r) => r.remaining_qty(),
            None => crate::domain::MAX_QTY,
        }
    }

    fn back_to_receipt(&mut self) {
        *self = RefundState::default();
    }
}

/// F10 in the sales pane: refund mode, unless a sale is being rung up.
pub fn open(st: &mut State) -> Vec<Command> {
    if st.sales.in_progress() {
        st.flash(
            FlashLevel::Error,
            "a sale is open: pay it or void it (F4) before a refund",
        );
        return Vec::new();
    }
    st.refund = Some(RefundState::default());
    st.sales.last_saved = None;
    st.sales.last_refund = None;
    Vec::new()
}

/// A key in refund mode (receipt, lines or blind step).
pub fn on_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(r) = &st.refund else {
        return Vec::new();
    };
    if r.committing {
        st.flash(FlashLevel::Info, "saving the refund…");
        return Vec::new();
    }
    match r.step {
        RefundStep::Receipt => receipt::receipt_key(st, cmd, key),
        RefundStep::Lines => lines::lines_key(st, cmd, key),
        RefundStep::Blind => blind::blind_key(st, cmd, key),
    }
}

/// The store's answer to a code typed for a refund without a receipt.
pub fn on_item(st: &mut State, code: &str, qty: i64, product: Option<Product>) {
    let Some(r) = &mut st.refund else {
        return;
    };
    r.lookups_in_flight = r.lookups_in_flight.saturating_sub(1);
    if r.step != RefundStep::Blind {
        return;
    }
    let Some(p) = product else {
        st.flash(
            FlashLevel::Error,
            format!("unknown code {code}: nothing added"),
        );
        return;
    };
    blind::add_blind(st, p, qty);
}

/// The store's answer to a refund commit: only now is it "refunded".
pub fn on_committed(st: &mut State, result: Result<RefundSaved, String>) -> Vec<Command> {
    let Some(r) = &mut st.refund else {
        return Vec::new();
    };
    r.committing = false;
    match result {
        Ok(saved) => {
            st.flash(
                FlashLevel::Success,
                format!(
                    "refunded #{} · {} back {}",
                    saved.seq,
                    st.currency().format(saved.paid_back_cents),
                    tender_phrase(saved.tender)
                ),
            );
            st.refund = None;
            st.sales.last_refund = Some(saved);
            vec![Command::LoadStatus, st.queue.load()]
        }
        Err(e) => {
            st.flash(
                FlashLevel::Error,
                format!("NOT refunded: {e} (nothing was saved)"),
            );
            Vec::new()
        }
    }
}

/// How the money goes back, in words: `in cash`, `to the card`.
pub fn tender_phrase(tender: TenderKind) -> &'static str {
    match tender {
        TenderKind::Cash => "in cash",
        TenderKind::Card => "to the card",
    }
}

/// Esc at the receipt step: back to selling.
fn leave(st: &mut State) {
    st.refund = None;
}
