//! The refund's last step: what goes back and how, a reason, and Enter to commit (Esc goes
//! back to the lines, nothing saved).

use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::{paid_back, RefundState};
use crate::domain::refund::MAX_REASON_CHARS;
use crate::domain::{Guarded, TenderKind};
use crate::tui::action::Command;
use crate::tui::approval::Pending;
use crate::tui::keymap::KeyCmd;
use crate::tui::model::{RefundOrder, RefundOrderLine};
use crate::tui::state::{FlashLevel, Popup, State};

/// The confirmation popup of a refund.
#[derive(Debug, Clone)]
pub struct RefundForm {
    pub tender: TenderKind,
    pub reason: Input,
    /// Without a receipt a reason is required.
    pub blind: bool,
}

impl PartialEq for RefundForm {
    fn eq(&self, other: &Self) -> bool {
        self.tender == other.tender
            && self.blind == other.blind
            && self.reason.value() == other.reason.value()
    }
}

pub(super) fn open(st: &mut State, tender: TenderKind) {
    let blind = st.refund.as_ref().is_some_and(|r| r.receipt.is_none());
    st.popup = Some(Popup::Refund(RefundForm {
        tender,
        reason: Input::default(),
        blind,
    }));
}

/// The order the store is asked to commit: the lines with something coming back.
pub fn order(r: &RefundState, tender: TenderKind, reason: String) -> RefundOrder {
    RefundOrder {
        sale_id: r.receipt.as_ref().map(|v| v.sale_id),
        lines: r
            .lines
            .iter()
            .filter(|l| l.qty > 0)
            .map(|l| RefundOrderLine {
                original_line_no: l.original_line_no,
                sku: l.sku.clone(),
                qty: l.qty,
                restock: l.restock,
            })
            .collect(),
        tender,
        reason,
    }
}

/// A key into a reason field: editing keys always, characters up to the longest reason a
/// refund or void may carry.
pub fn type_reason(reason: &mut Input, key: &crossterm::event::KeyEvent) {
    let full = reason.value().chars().count() >= MAX_REASON_CHARS;
    if !full || !matches!(key.code, crossterm::event::KeyCode::Char(_)) {
        reason.handle_event(&crossterm::event::Event::Key(*key));
    }
}

/// Keys inside the refund's confirmation.
pub fn on_form_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(Popup::Refund(form)) = &mut st.popup else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Cancel) => {
            st.popup = None;
            st.flash(
                FlashLevel::Info,
                "not refunded yet: change the lines or pay",
            );
            Vec::new()
        }
        Some(KeyCmd::Submit) => submit(st),
        _ => {
            type_reason(&mut form.reason, key);
            Vec::new()
        }
    }
}

fn submit(st: &mut State) -> Vec<Command> {
    let Some(Popup::Refund(form)) = &st.popup else {
        return Vec::new();
    };
    let reason = form.reason.value().trim().to_string();
    if form.blind && reason.is_empty() {
        st.flash(
            FlashLevel::Error,
            "a refund without a receipt needs a reason: type it, then Enter",
        );
        return Vec::new();
    }
    let tender = form.tender;
    st.popup = None;
    let Some(r) = &st.refund else {
        return Vec::new();
    };
    let order = order(r, tender, reason);
    let currency = st.currency();
    let policy = st.refund_policy;
    // What the manager would approve: a refund without a receipt, or one above the limit.
    let (guarded, what) = if order.sale_id.is_none() {
        (
            Guarded::BlindRefund,
            "a refund without a receipt".to_string(),
        )
    } else {
        let amount_cents = paid_back(r, tender, policy.cash_rounding).unwrap_or(0);
        (
            Guarded::Refund { amount_cents },
            format!(
                "a refund of {} {}",
                currency.format(amount_cents),
                super::tender_phrase(tender)
            ),
        )
    };
    let pending = Pending::Refund {
        order,
        currency,
        policy,
    };
    crate::tui::approval::guard(st, guarded, what, pending)
}
