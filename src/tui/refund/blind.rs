//! Refund mode without a receipt: lines by code like a sale (`3*` then a code, `+`/`-`, Del),
//! priced from the catalog.

use super::lines::{move_selection, pay, refund, toggle_restock};
use super::ReturnLine;
use crate::domain::product::validate_code;
use crate::domain::{Product, TenderKind, MAX_LINES, MAX_QTY};
use crate::tui::action::Command;
use crate::tui::keymap::KeyCmd;
use crate::tui::sales::type_into;
use crate::tui::state::{FlashLevel, State};

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
