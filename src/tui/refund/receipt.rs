//! Refund mode's receipt step: the receipt number typed or scanned, the store's answer, and
//! for a sale id this till does not know, the server's (another till's receipt).

use super::lines::refund;
use super::{leave, RefundState, RefundStep, ReturnLine};
use crate::domain::ReceiptRef;
use crate::tui::action::Command;
use crate::tui::keymap::KeyCmd;
use crate::tui::model::{ReceiptPurpose, ReceiptView};
use crate::tui::sales::type_into;
use crate::tui::state::{FlashLevel, State};

pub(super) fn receipt_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(r) = refund(st) else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Submit) => {
            let text = r.input.value().trim().to_string();
            if text.is_empty() {
                return Vec::new();
            }
            // The receipt prints the seq as `#17`.
            let receipt = match ReceiptRef::parse(text.strip_prefix('#').unwrap_or(&text)) {
                Ok(receipt) => receipt,
                Err(e) => {
                    st.flash(FlashLevel::Error, format!("{e}: nothing looked up"));
                    return Vec::new();
                }
            };
            r.looking_up = Some(receipt);
            st.flash(FlashLevel::Info, format!("looking up receipt {receipt}…"));
            vec![Command::LookupReceipt {
                receipt,
                purpose: ReceiptPurpose::Refund,
            }]
        }
        Some(KeyCmd::Refund) => {
            *r = RefundState {
                step: RefundStep::Blind,
                ..RefundState::default()
            };
            Vec::new()
        }
        Some(KeyCmd::Cancel) => {
            if r.input.value().is_empty() {
                leave(st);
            } else {
                r.input.reset();
                r.looking_up = None;
            }
            Vec::new()
        }
        _ => {
            if type_into(&mut r.input, key) {
                // A new number: an answer to the old one no longer applies.
                r.looking_up = None;
            }
            Vec::new()
        }
    }
}

/// The store's answer to a receipt lookup for a refund. A sale id this till does not know is
/// asked of the server when one is configured (another till's receipt).
pub fn on_receipt(
    st: &mut State,
    receipt: ReceiptRef,
    result: Result<Option<ReceiptView>, String>,
) -> Vec<Command> {
    let asking = st
        .refund
        .as_ref()
        .is_some_and(|r| r.step == RefundStep::Receipt && r.looking_up == Some(receipt));
    if let (true, true, Ok(None), ReceiptRef::SaleId(sale_id)) =
        (asking, st.server_lookup, &result, receipt)
    {
        st.flash(
            FlashLevel::Info,
            "not a sale of this till: asking the server…",
        );
        return vec![Command::LookupSaleOnServer { sale_id }];
    }
    show_receipt(st, receipt, result, false);
    Vec::new()
}

/// The server's answer about another till's sale (already kept in the store when found).
pub fn on_server_receipt(
    st: &mut State,
    receipt: ReceiptRef,
    result: Result<Option<ReceiptView>, String>,
) {
    show_receipt(st, receipt, result, true);
}

fn show_receipt(
    st: &mut State,
    receipt: ReceiptRef,
    result: Result<Option<ReceiptView>, String>,
    asked_server: bool,
) {
    let Some(r) = &mut st.refund else {
        return;
    };
    if r.step != RefundStep::Receipt || r.looking_up != Some(receipt) {
        // An answer to a lookup the cashier has moved on from.
        return;
    }
    r.looking_up = None;
    match result {
        Ok(Some(view)) if view.voided => st.flash(
            FlashLevel::Error,
            format!("sale {} was voided: nothing to refund", view.label()),
        ),
        Ok(Some(view)) => {
            let left: i64 = view.lines.iter().map(|l| l.remaining_qty()).sum();
            r.lines = view
                .lines
                .iter()
                .map(|l| ReturnLine {
                    original_line_no: Some(l.line.line_no),
                    sku: l.line.sku.clone(),
                    name: l.line.name.clone(),
                    qty: 0,
                    restock: true,
                    product: None,
                })
                .collect();
            r.selected = 0;
            r.step = RefundStep::Lines;
            r.input.reset();
            let label = view.label();
            r.receipt = Some(view);
            if left == 0 {
                st.flash(
                    FlashLevel::Error,
                    format!("everything on {label} is already refunded"),
                );
            }
        }
        Ok(None) if matches!(receipt, ReceiptRef::SaleId(_)) && !asked_server => st.flash(
            FlashLevel::Error,
            format!(
                "unknown receipt {receipt}: not a sale of this till (another till's receipt \
                 needs a server to look it up)"
            ),
        ),
        Ok(None) if asked_server => st.flash(
            FlashLevel::Error,
            format!("unknown receipt {receipt}: no till of this store sold it"),
        ),
        Ok(None) => st.flash(
            FlashLevel::Error,
            format!("unknown receipt {receipt}: nothing to refund"),
        ),
        Err(e) => st.flash(FlashLevel::Error, e),
    }
}
