//! Refund mode's lines step: how many of each receipt line come back, restock or damaged,
//! and paying back (shared with the refund without a receipt).

use super::{form, RefundState, RefundStep};
use crate::domain::{TenderKind, MAX_QTY};
use crate::tui::action::Command;
use crate::tui::keymap::KeyCmd;
use crate::tui::sales::type_into;
use crate::tui::state::{FlashLevel, State};

pub(super) fn refund(st: &mut State) -> Option<&mut RefundState> {
    st.refund.as_mut()
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

pub(super) fn move_selection(r: &mut RefundState, down: bool) {
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

pub(super) fn toggle_restock(st: &mut State) {
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

pub(super) fn pay(st: &mut State, tender: TenderKind) {
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
