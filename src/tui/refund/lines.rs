//! Keys of refund mode: the receipt number, the receipt's lines and the lines without a receipt.

use super::{form, leave, RefundState, RefundStep, ReturnLine};
use crate::domain::product::validate_code;
use crate::domain::{Product, ReceiptRef, TenderKind, MAX_LINES, MAX_QTY};
use crate::tui::action::Command;
use crate::tui::keymap::KeyCmd;
use crate::tui::model::ReceiptPurpose;
use crate::tui::sales::type_into;
use crate::tui::state::{FlashLevel, State};

fn refund(st: &mut State) -> Option<&mut RefundState> {
    st.refund.as_mut()
}

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

/// Sets the selected line's quantity, within what is left to refund.
fn set_qty(st: &mut State, qty: i64) {
    let Some(r) = refund(st) else {
        return;
    };
    let Some(line) = r.lines.get(r.selected) else {
        return;
    };
    let left = r.refundable(line);
    let name = line.name.clone();
    if qty < 0 {
        return;
    }
    if qty > left {
        let text = if left == 0 {
            format!("{name}: nothing left to refund")
        } else {
            format!("{name}: only {left} left to refund")
        };
        st.flash(FlashLevel::Error, text);
        return;
    }
    if let Some(line) = r.lines.get_mut(r.selected) {
        line.qty = qty;
    }
}

fn selected_qty(st: &State) -> i64 {
    st.refund
        .as_ref()
        .and_then(|r| r.lines.get(r.selected))
        .map_or(0, |l| l.qty)
}

fn move_selection(r: &mut RefundState, down: bool) {
    let n = r.lines.len();
    if n == 0 {
        return;
    }
    r.selected = if down {
        (r.selected + 1).min(n - 1)
    } else {
        r.selected.saturating_sub(1)
    };
}

fn toggle_restock(st: &mut State) {
    let Some(r) = refund(st) else {
        return;
    };
    if let Some(line) = r.lines.get_mut(r.selected) {
        line.restock = !line.restock;
        let text = if line.restock {
            format!("{}: back to stock", line.name)
        } else {
            format!("{}: damaged, written off", line.name)
        };
        st.flash(FlashLevel::Info, text);
    }
}

fn pay(st: &mut State, tender: TenderKind) {
    let Some(r) = &st.refund else {
        return;
    };
    if r.lookups_in_flight > 0 {
        st.flash(
            FlashLevel::Error,
            "still looking up a code: pay back in a moment",
        );
    } else if r.units() == 0 {
        let text = match r.step {
            RefundStep::Blind => "add what comes back first (scan or type its code)",
            _ => "choose what comes back first (+ or a on a line)",
        };
        st.flash(FlashLevel::Error, text);
    } else {
        form::open(st, tender);
    }
}

pub(super) fn lines_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(r) = refund(st) else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Up) => move_selection(r, false),
        Some(KeyCmd::Down) => move_selection(r, true),
        Some(KeyCmd::IncQty) => {
            let q = selected_qty(st);
            set_qty(st, q + 1);
        }
        Some(KeyCmd::DecQty) => {
            let q = selected_qty(st);
            set_qty(st, q.saturating_sub(1).max(0));
        }
        Some(KeyCmd::AllUnits) => {
            let left = r.lines.get(r.selected).map_or(0, |l| r.refundable(l));
            if left == 0 {
                set_qty(st, 1);
            } else {
                set_qty(st, left);
            }
        }
        Some(KeyCmd::VoidLine) => set_qty(st, 0),
        Some(KeyCmd::Submit) => {
            let text = r.input.value().trim().to_string();
            if text.is_empty() {
                return Vec::new();
            }
            r.input.reset();
            match text.parse::<i64>() {
                Ok(q) if (0..=MAX_QTY).contains(&q) => set_qty(st, q),
                _ => st.flash(FlashLevel::Error, "type how many come back, then Enter"),
            }
        }
        Some(KeyCmd::Restock) => toggle_restock(st),
        Some(KeyCmd::PayCash) => pay(st, TenderKind::Cash),
        Some(KeyCmd::PayCard) => pay(st, TenderKind::Card),
        Some(KeyCmd::VoidCompleted) => {
            if let Some(view) = r.receipt.clone() {
                crate::tui::void::open(st, view);
            }
        }
        Some(KeyCmd::Cancel) => {
            if r.input.value().is_empty() {
                r.back_to_receipt();
            } else {
                r.input.reset();
            }
        }
        _ => {
            // The field takes a quantity: digits only.
            if let crossterm::event::KeyCode::Char(c) = key.code {
                if !c.is_ascii_digit() {
                    return Vec::new();
                }
            }
            type_into(&mut r.input, key);
        }
    }
    Vec::new()
}

/// Adds a product to a refund without a receipt (the same SKU adds to its line).
pub(super) fn add_blind(st: &mut State, product: Product, qty: i64) {
    let Some(r) = refund(st) else {
        return;
    };
    if let Some(i) = r.lines.iter().position(|l| l.sku == product.sku) {
        let new = r.lines[i].qty.saturating_add(qty);
        if new > MAX_QTY {
            st.flash(
                FlashLevel::Error,
                format!("quantity must be between 1 and {MAX_QTY}"),
            );
            return;
        }
        r.lines[i].qty = new;
        r.selected = i;
        return;
    }
    if r.lines.len() >= MAX_LINES {
        st.flash(
            FlashLevel::Error,
            format!("a refund holds at most {MAX_LINES} lines"),
        );
        return;
    }
    r.lines.push(ReturnLine {
        original_line_no: None,
        sku: product.sku.clone(),
        name: product.name.clone(),
        qty,
        restock: true,
        product: Some(product),
    });
    r.selected = r.lines.len() - 1;
}

pub(super) fn blind_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let Some(r) = refund(st) else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Submit) => {
            let code = r.input.value().trim().to_string();
            if code.is_empty() {
                return Vec::new();
            }
            r.input.reset();
            if let Err(e) = validate_code("code", &code) {
                st.flash(FlashLevel::Error, format!("{e}: nothing added"));
                return Vec::new();
            }
            let qty = r.pending_qty.take().unwrap_or(1);
            r.lookups_in_flight += 1;
            return vec![Command::LookupReturnItem { code, qty }];
        }
        Some(KeyCmd::Quantity) => {
            let text = r.input.value().trim().to_string();
            match text.parse::<i64>() {
                Ok(q) if (1..=MAX_QTY).contains(&q) => {
                    r.pending_qty = Some(q);
                    r.input.reset();
                }
                _ => st.flash(
                    FlashLevel::Error,
                    format!("type a quantity from 1 to {MAX_QTY}, then *"),
                ),
            }
        }
        Some(KeyCmd::Up) => move_selection(r, false),
        Some(KeyCmd::Down) => move_selection(r, true),
        Some(KeyCmd::IncQty) | Some(KeyCmd::DecQty) => {
            if let Some(line) = r.lines.get_mut(r.selected) {
                let new = if cmd == Some(KeyCmd::IncQty) {
                    line.qty + 1
                } else {
                    line.qty - 1
                };
                if new < 1 {
                    st.flash(FlashLevel::Error, "quantity is 1: Del removes the line");
                } else if new > MAX_QTY {
                    st.flash(
                        FlashLevel::Error,
                        format!("quantity must be between 1 and {MAX_QTY}"),
                    );
                } else {
                    line.qty = new;
                }
            }
        }
        Some(KeyCmd::VoidLine) => {
            if r.selected < r.lines.len() {
                r.lines.remove(r.selected);
                r.selected = r.selected.min(r.lines.len().saturating_sub(1));
            }
        }
        Some(KeyCmd::Restock) => toggle_restock(st),
        Some(KeyCmd::PayCash) => pay(st, TenderKind::Cash),
        Some(KeyCmd::PayCard) => pay(st, TenderKind::Card),
        Some(KeyCmd::Cancel) => {
            if !r.input.value().is_empty() || r.pending_qty.is_some() {
                r.input.reset();
                r.pending_qty = None;
            } else {
                let had_lines = !r.lines.is_empty();
                r.back_to_receipt();
                if had_lines {
                    st.flash(FlashLevel::Info, "refund discarded, nothing saved");
                }
            }
        }
        _ => {
            type_into(&mut r.input, key);
        }
    }
    Vec::new()
}
