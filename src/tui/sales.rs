//! Sales entry: the code field, quantities, line edits, search, tender and commit.
//!
//! A code typed or scanned and Enter asks the store to look it up; the line is added when the
//! answer comes back, so a scanner's digits-and-Enter bursts just queue lookups in order.
//! "saved #seq" is shown only when the store has returned the commit result.

use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::SaleSaved;
use super::state::{Confirm, FlashLevel, Popup, State};
use crate::domain::money::div_round_half_away;
use crate::domain::product::validate_code;
use crate::domain::tender::settle;
use crate::domain::{Cart, Currency, Payment, Product, MAX_QTY};

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
        }
    }

    /// A sale has been started and not saved: quitting would lose it.
    pub fn in_progress(&self) -> bool {
        !self.cart.is_empty() || self.lookups_in_flight > 0 || self.mode == SalesMode::Committing
    }

    /// The line edits apply to: the selected one, else the last.
    fn target_line(&self) -> Option<usize> {
        let n = self.cart.lines().len();
        match self.selected {
            Some(i) if i < n => Some(i),
            _ => n.checked_sub(1),
        }
    }

    fn reset_field(&mut self) {
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

fn type_into(input: &mut Input, key: &crossterm::event::KeyEvent) -> bool {
    let before = input.value().len();
    let before_cursor = input.cursor();
    input.handle_event(&crossterm::event::Event::Key(*key));
    input.value().len() != before || input.cursor() != before_cursor
}

fn entry_key(
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
        _ => {
            type_into(&mut s.input, key);
            Vec::new()
        }
    }
}

fn ready_to_pay(st: &mut State) -> bool {
    if st.sales.cart.is_empty() {
        st.flash(FlashLevel::Error, "the cart is empty");
        false
    } else if st.sales.lookups_in_flight > 0 {
        st.flash(
            FlashLevel::Error,
            "still looking up a code: pay again in a moment",
        );
        false
    } else {
        true
    }
}

fn search_key(
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

fn amount_key(
    st: &mut State,
    kind: AmountKind,
    cmd: Option<KeyCmd>,
    key: &crossterm::event::KeyEvent,
) -> Vec<Command> {
    match cmd {
        Some(KeyCmd::Cancel) => {
            st.sales.mode = SalesMode::Entry;
            st.sales.reset_field();
            Vec::new()
        }
        Some(KeyCmd::Submit) => submit_amount(st, kind),
        _ => {
            type_into(&mut st.sales.input, key);
            Vec::new()
        }
    }
}

fn submit_amount(st: &mut State, kind: AmountKind) -> Vec<Command> {
    let currency = st.currency();
    let text = st.sales.input.value().trim().to_string();
    if kind == AmountKind::CashGiven {
        let given = if text.is_empty() {
            None
        } else {
            match currency.parse(&text) {
                Ok(v) => Some(v),
                Err(e) => {
                    st.flash(FlashLevel::Error, e.to_string());
                    return Vec::new();
                }
            }
        };
        return start_commit(st, Payment::Cash { given });
    }
    let Some(i) = st.sales.target_line() else {
        st.sales.mode = SalesMode::Entry;
        return Vec::new();
    };
    let result = if kind == AmountKind::Discount {
        discount_amount(&st.sales.cart, i, &text, currency)
            .and_then(|d| st.sales.cart.set_discount(i, d))
    } else {
        currency
            .parse(&text)
            .and_then(|p| st.sales.cart.override_price(i, p))
    };
    match result {
        Ok(()) => {
            st.sales.mode = SalesMode::Entry;
            st.sales.reset_field();
        }
        Err(e) => st.flash(FlashLevel::Error, e.to_string()),
    }
    Vec::new()
}

/// `1.50` is an amount off the line, `10%` a share of the line before discount.
fn discount_amount(
    cart: &Cart,
    idx: usize,
    text: &str,
    currency: Currency,
) -> Result<i64, crate::domain::DomainError> {
    match text.strip_suffix('%') {
        Some(pct) => {
            let pct: i64 = pct
                .trim()
                .parse()
                .ok()
                .filter(|p| (0..=100).contains(p))
                .ok_or_else(|| crate::domain::DomainError::BadAmount(text.to_string()))?;
            let gross = cart
                .lines()
                .get(idx)
                .ok_or(crate::domain::DomainError::NoSuchLine(idx))?
                .gross_before_discount()?;
            crate::domain::money::to_minor(div_round_half_away(
                i128::from(gross) * i128::from(pct),
                100,
            ))
        }
        None => currency.parse(text),
    }
}

fn start_commit(st: &mut State, payment: Payment) -> Vec<Command> {
    let totals = match st.sales.cart.totals() {
        Ok(t) => t,
        Err(e) => {
            st.flash(FlashLevel::Error, e.to_string());
            return Vec::new();
        }
    };
    let settings = st.settings;
    match settle(
        totals.total_cents,
        payment,
        settings.cash_rounding,
        settings.currency,
    ) {
        Ok(settlement) => {
            st.sales.mode = SalesMode::Committing;
            st.sales.reset_field();
            st.flash(FlashLevel::Info, "saving the sale…");
            vec![Command::CommitSale {
                cart: st.sales.cart.clone(),
                settlement,
            }]
        }
        Err(e) => {
            st.flash(FlashLevel::Error, e.to_string());
            Vec::new()
        }
    }
}

fn add_product(st: &mut State, product: &Product, qty: i64) {
    match st.sales.cart.add(product, qty) {
        Ok(i) => {
            st.sales.selected = Some(i);
            st.sales.last_saved = None;
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
