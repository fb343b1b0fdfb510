//! Keys of the sales pane while typing codes and while searching by name.

use super::pay::{ready_to_pay, start_commit};
use super::{add_product, type_into, AmountKind, SalesMode};
use crate::domain::product::validate_code;
use crate::domain::{Payment, MAX_QTY};
use crate::tui::action::Command;
use crate::tui::keymap::KeyCmd;
use crate::tui::state::{Confirm, FlashLevel, Popup, State};

pub(super) fn entry_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let s = &mut st.sales;
    match cmd {
        Some(KeyCmd::Submit) => {
            let code = s.input.value().trim().to_string();
            if code.is_empty() {
                return Vec::new();
            }
            s.reset_field();
            if let Err(e) = validate_code("code", &code) {
                st.flash(FlashLevel::Error, format!("{e}: nothing added"));
                return Vec::new();
            }
            let qty = s.pending_qty.take().unwrap_or(1);
            s.lookups_in_flight += 1;
            s.last_saved = None;
            vec![Command::LookupCode { code, qty }]
        }
        Some(KeyCmd::Quantity) => {
            let text = s.input.value().trim().to_string();
            match text.parse::<i64>() {
                Ok(q) if (1..=MAX_QTY).contains(&q) => {
                    s.pending_qty = Some(q);
                    s.reset_field();
                }
                _ => st.flash(
                    FlashLevel::Error,
                    format!("type a quantity from 1 to {MAX_QTY}, then *"),
                ),
            }
            Vec::new()
        }
        Some(KeyCmd::Up) => {
            let n = s.cart.lines().len();
            if n > 0 {
                s.selected = Some(s.target_line().unwrap_or(0).saturating_sub(1));
            }
            Vec::new()
        }
        Some(KeyCmd::Down) => {
            let n = s.cart.lines().len();
            if n > 0 {
                s.selected = Some((s.target_line().unwrap_or(0) + 1).min(n - 1));
            }
            Vec::new()
        }
        Some(KeyCmd::IncQty) | Some(KeyCmd::DecQty) => {
            let Some(i) = s.target_line() else {
                return Vec::new();
            };
            let qty = s.cart.lines()[i].qty;
            let new = if cmd == Some(KeyCmd::IncQty) {
                qty + 1
            } else {
                qty - 1
            };
            if new < 1 {
                st.flash(FlashLevel::Error, "quantity is 1: Del voids the line");
            } else if let Err(e) = s.cart.set_qty(i, new) {
                st.flash(FlashLevel::Error, e.to_string());
            } else {
                s.selected = Some(i);
            }
            Vec::new()
        }
        Some(KeyCmd::VoidLine) => {
            if let Some(i) = s.target_line() {
                if let Ok(line) = s.cart.remove(i) {
                    let n = s.cart.lines().len();
                    s.selected = if n == 0 { None } else { Some(i.min(n - 1)) };
                    if n == 0 {
                        // An approval was for this sale's lines, not the next sale's.
                        s.approved_by = None;
                    }
                    st.flash(
                        FlashLevel::Info,
                        format!("voided {} × {}", line.qty, line.name),
                    );
                }
            }
            Vec::new()
        }
        Some(KeyCmd::VoidSale) => {
            if !s.cart.is_empty() {
                st.popup = Some(Popup::Confirm(Confirm::VoidSale));
            } else if let Some(saved) = &s.last_saved {
                // Nothing rung up: the sale just saved is the one to post-void.
                return vec![Command::LookupReceipt {
                    receipt: crate::domain::ReceiptRef::Seq(saved.seq),
                    purpose: crate::tui::model::ReceiptPurpose::Void,
                }];
            }
            Vec::new()
        }
        Some(KeyCmd::Search) => {
            s.reset_field();
            s.mode = SalesMode::Search {
                results: Vec::new(),
                selected: 0,
            };
            Vec::new()
        }
        Some(KeyCmd::PayCash) => {
            if ready_to_pay(st) {
                st.sales.reset_field();
                st.sales.mode = SalesMode::Amount(AmountKind::CashGiven);
            }
            Vec::new()
        }
        Some(KeyCmd::PayCard) => {
            if ready_to_pay(st) {
                return start_commit(st, Payment::Card);
            }
            Vec::new()
        }
        Some(KeyCmd::PriceOverride) | Some(KeyCmd::Discount) => {
            match s.target_line() {
                Some(i) => {
                    s.selected = Some(i);
                    s.reset_field();
                    s.mode = SalesMode::Amount(if cmd == Some(KeyCmd::Discount) {
                        AmountKind::Discount
                    } else {
                        AmountKind::UnitPrice
                    });
                }
                None => st.flash(FlashLevel::Error, "no line to change"),
            }
            Vec::new()
        }
        Some(KeyCmd::Cancel) => {
            s.reset_field();
            s.pending_qty = None;
            Vec::new()
        }
        Some(KeyCmd::Refund) => crate::tui::refund::open(st),
        _ => {
            type_into(&mut s.input, key);
            Vec::new()
        }
    }
}

pub(super) fn search_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    let s = &mut st.sales;
    let SalesMode::Search { results, selected } = &mut s.mode else {
        return Vec::new();
    };
    match cmd {
        Some(KeyCmd::Up) => *selected = selected.saturating_sub(1),
        Some(KeyCmd::Down) if *selected + 1 < results.len() => *selected += 1,
        Some(KeyCmd::Cancel) => {
            s.mode = SalesMode::Entry;
            s.reset_field();
        }
        Some(KeyCmd::Submit) => {
            let Some(product) = results.get(*selected).cloned() else {
                st.flash(FlashLevel::Error, "no product chosen");
                return Vec::new();
            };
            s.mode = SalesMode::Entry;
            s.reset_field();
            let qty = s.pending_qty.take().unwrap_or(1);
            add_product(st, &product, qty);
        }
        _ => {
            if type_into(&mut s.input, key) {
                let query = s.input.value().trim().to_string();
                if query.is_empty() {
                    *results = Vec::new();
                    *selected = 0;
                } else {
                    return vec![Command::SearchProducts { query }];
                }
            }
        }
    }
    Vec::new()
}
