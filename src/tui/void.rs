//! Post-void of a completed sale (the customer walked away): the whole sale is reversed and
//! its stock goes back. Destructive, so it goes through a form that says what will happen,
//! needs a reason and Enter; Esc changes nothing. The store refuses what it must (another
//! till's or another day's sale, a sale already voided) and nothing is written then.
//!
//! Reached from refund mode (F4 on a looked-up receipt), the queue (`v` on a sale) and an
//! op's detail (`v`).

use tui_input::Input;

use super::action::Command;
use super::approval::Pending;
use super::keymap::KeyCmd;
use super::model::{ReceiptPurpose, ReceiptView, VoidSaved};
use super::state::{FlashLevel, Popup, State};
use crate::domain::{Guarded, OpKind, ReceiptRef};

/// The confirmation popup of a post-void.
#[derive(Debug, Clone)]
pub struct VoidForm {
    pub receipt: ReceiptView,
    pub reason: Input,
}

impl PartialEq for VoidForm {
    fn eq(&self, other: &Self) -> bool {
        self.receipt == other.receipt && self.reason.value() == other.reason.value()
    }
}

/// Opens the form for a looked-up sale, unless it is already voided.
pub fn open(st: &mut State, receipt: ReceiptView) {
    if receipt.voided {
        st.flash(
            FlashLevel::Error,
            format!("sale {} is already voided", receipt.label()),
        );
        return;
    }
    if receipt.lines.iter().any(|l| l.refunded_qty > 0) {
        st.flash(
            FlashLevel::Error,
            format!(
                "sale {} was already partly refunded: refund the rest instead of voiding",
                receipt.label()
            ),
        );
        return;
    }
    st.popup = Some(Popup::Void(VoidForm {
        receipt,
        reason: Input::default(),
    }));
}

/// `v` in the queue or the op detail: look the selected sale up, then open the form.
pub fn start_from_queue(st: &mut State) -> Vec<Command> {
    let row = match &st.popup {
        Some(Popup::OpDetail { detail, .. }) => Some(detail.item.clone()),
        _ => st.queue.selected_row().cloned(),
    };
    let Some(row) = row else {
        return Vec::new();
    };
    if row.kind != OpKind::Sale {
        st.flash(
            FlashLevel::Error,
            format!(
                "#{} is a {}: only a sale can be voided",
                row.seq,
                row.kind.as_str()
            ),
        );
        return Vec::new();
    }
    if let Some(Popup::OpDetail { .. }) = st.popup {
        st.popup = None;
    }
    vec![Command::LookupReceipt {
        receipt: ReceiptRef::Seq(row.seq),
        purpose: ReceiptPurpose::Void,
    }]
}

/// The store's answer to a lookup for a void.
pub fn on_receipt(
    st: &mut State,
    receipt: ReceiptRef,
    result: Result<Option<ReceiptView>, String>,
) {
    match result {
        Ok(Some(view)) if st.popup.is_none() => open(st, view),
        // Another window was opened meanwhile: leave it alone.
        Ok(Some(_)) => {}
        Ok(None) => st.flash(
            FlashLevel::Error,
            format!("no sale {receipt} on this till: nothing voided"),
        ),
        Err(e) => st.flash(FlashLevel::Error, e),
    }
}

/// Keys inside the void form.
pub fn on_form_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(Popup::Void(form)) = &mut st.popup else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Cancel) => {
            st.popup = None;
            st.flash(FlashLevel::Info, "not voided");
            Vec::new()
        }
        Some(KeyCmd::Submit) => {
            let reason = form.reason.value().trim().to_string();
            if reason.is_empty() {
                st.flash(
                    FlashLevel::Error,
                    "a void needs a reason: type it, then Enter",
                );
                return Vec::new();
            }
            let sale_id = form.receipt.sale_id;
            let what = format!("the post-void of sale {}", form.receipt.label());
            st.popup = None;
            let pending = Pending::Void {
                sale_id,
                reason,
                zone: st.settings.zone,
            };
            super::approval::guard(st, Guarded::PostVoid, what, pending)
        }
        _ => {
            super::refund::form::type_reason(&mut form.reason, key);
            Vec::new()
        }
    }
}

/// The store's answer to a void: only now is the sale voided.
pub fn on_committed(st: &mut State, result: Result<VoidSaved, String>) -> Vec<Command> {
    match result {
        Ok(saved) => {
            st.flash(
                FlashLevel::Success,
                format!(
                    "voided sale {} as #{} · {} paid back",
                    saved.sale,
                    saved.seq,
                    st.currency().format(saved.paid_back_cents)
                ),
            );
            // A refund open on the voided sale has nothing left to do.
            let open_on_it = st.refund.as_ref().and_then(|r| r.receipt.as_ref());
            if open_on_it.is_some_and(|v| v.sale_id == saved.sale_id) {
                st.refund = None;
            }
            vec![Command::LoadStatus, st.queue.load()]
        }
        Err(e) => {
            st.flash(
                FlashLevel::Error,
                format!("NOT voided: {e} (nothing changed)"),
            );
            Vec::new()
        }
    }
}
