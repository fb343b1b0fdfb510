//! Sales entry: the code field, quantities, line edits, search, tender and commit.
//!
//! A code typed or scanned and Enter asks the store to look it up; the line is added when the
//! answer comes back, so a scanner's digits-and-Enter bursts just queue lookups in order.
//! "saved #seq" is shown only when the store has returned the commit result.

use std::collections::BTreeMap;

use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;
use uuid::Uuid;

mod entry;
mod pay;

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::{RefundSaved, SaleSaved};
use super::state::{FlashLevel, State};
use crate::domain::{Cart, Currency, Product};
use entry::{entry_key, search_key};
use pay::amount_key;
pub(super) use pay::apply_line_edit;

/// Which amount the field is asking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountKind {
    CashGiven,
    UnitPrice,
    Discount,
}

impl AmountKind {
    pub fn prompt(self) -> &'static str {
        match self {
            AmountKind::CashGiven => "Cash given (Enter = exact)",
            AmountKind::UnitPrice => "New unit price",
            AmountKind::Discount => "Line discount (amount or N%)",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SalesMode {
    /// Typing or scanning codes.
    Entry,
    /// Typing a product name; results come from the store.
    Search {
        results: Vec<Product>,
        selected: usize,
    },
    /// Typing an amount for the tender or the selected line.
    Amount(AmountKind),
    /// The commit is with the store; nothing changes until it answers.
    Committing,
}

#[derive(Debug, Clone)]
pub struct SalesState {
    pub cart: Cart,
    pub input: Input,
    pub mode: SalesMode,
    /// Quantity typed before `*`, applied to the next item.
    pub pending_qty: Option<i64>,
    pub selected: Option<usize>,
    pub lookups_in_flight: usize,
    pub last_saved: Option<SaleSaved>,
    /// The refund just committed, until the next sale starts.
    pub last_refund: Option<RefundSaved>,
    /// The manager who approved a discount or price override above the cashier's limit in
    /// this sale (recorded on it as `approved_by`).
    pub approved_by: Option<Uuid>,
    /// The catalog's unit price of each SKU rung up: a line's discount is measured against
    /// it, however many overrides and discounts came between.
    pub catalog_prices: BTreeMap<String, i64>,
}

impl SalesState {
    pub fn new(currency: Currency) -> SalesState {
        SalesState {
            cart: Cart::new(currency),
            input: Input::default(),
            mode: SalesMode::Entry,
            pending_qty: None,
            selected: None,
            lookups_in_flight: 0,
            last_saved: None,
            last_refund: None,
            approved_by: None,
            catalog_prices: BTreeMap::new(),
        }
    }

    /// A sale has been started and not saved: quitting would lose it.
    pub fn in_progress(&self) -> bool {
        !self.cart.is_empty() || self.lookups_in_flight > 0 || self.mode == SalesMode::Committing
    }

    /// The line edits apply to: the selected one, else the last.
    pub(super) fn target_line(&self) -> Option<usize> {
        let n = self.cart.lines().len();
        match self.selected {
            Some(i) if i < n => Some(i),
            _ => n.checked_sub(1),
        }
    }

    pub(super) fn reset_field(&mut self) {
        self.input.reset();
    }
}

/// A key for the sales pane; `cmd` is what the key map made of it, if anything.
pub fn on_key(
    st: &mut State,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    match st.sales.mode.clone() {
        SalesMode::Committing => {
            st.flash(FlashLevel::Info, "saving the sale…");
            Vec::new()
        }
        SalesMode::Entry => entry_key(st, cmd, key),
        SalesMode::Search { .. } => search_key(st, cmd, key),
        SalesMode::Amount(kind) => amount_key(st, kind, cmd, key),
    }
}

pub(super) fn type_into(input: &mut Input, key: &crossterm::event::KeyEvent) -> bool {
    let before = input.value().len();
    let before_cursor = input.cursor();
    input.handle_event(&crossterm::event::Event::Key(*key));
    input.value().len() != before || input.cursor() != before_cursor
}

pub(super) fn add_product(st: &mut State, product: &Product, qty: i64) {
    st.sales
        .catalog_prices
        .insert(product.sku.clone(), product.price_cents);
    match st.sales.cart.add(product, qty) {
        Ok(i) => {
            st.sales.selected = Some(i);
            st.sales.last_saved = None;
            st.sales.last_refund = None;
        }
        Err(e) => st.flash(FlashLevel::Error, format!("{}: {e}", product.name)),
    }
}

/// The answer to a lookup: add the line, or say clearly that nothing was added.
pub fn on_product(st: &mut State, code: &str, qty: i64, product: Option<Product>) {
    st.sales.lookups_in_flight = st.sales.lookups_in_flight.saturating_sub(1);
    match product {
        Some(p) => add_product(st, &p, qty),
        None => st.flash(
            FlashLevel::Error,
            format!("unknown code {code}: nothing added"),
        ),
    }
}

pub fn on_search(st: &mut State, query: &str, products: Vec<Product>) {
    let current = st.sales.input.value().trim().to_string();
    if let SalesMode::Search { results, selected } = &mut st.sales.mode {
        if current == query {
            *results = products;
            *selected = 0;
        }
    }
}

/// The store's answer to a commit: only now is the sale "saved".
pub fn on_committed(st: &mut State, result: Result<SaleSaved, String>) -> Vec<Command> {
    st.sales.mode = SalesMode::Entry;
    match result {
        Ok(saved) => {
            let c = st.currency();
            let mut text = format!("saved #{} · total {}", saved.seq, c.format(saved.due_cents));
            if saved.change_cents > 0 {
                text.push_str(&format!(" · change {}", c.format(saved.change_cents)));
            }
            st.flash(FlashLevel::Success, text);
            st.sales.cart.clear();
            st.sales.selected = None;
            st.sales.pending_qty = None;
            st.sales.approved_by = None;
            st.sales.last_saved = Some(saved);
            vec![Command::LoadStatus]
        }
        Err(e) => {
            st.flash(
                FlashLevel::Error,
                format!("NOT saved: {e} (the sale is still open)"),
            );
            Vec::new()
        }
    }
}
