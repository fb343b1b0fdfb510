//! Amounts (cash given, price override, discount) and the start of a commit.

use super::{type_into, AmountKind, SalesMode};
use crate::domain::money::div_round_half_away;
use crate::domain::tender::settle;
use uuid::Uuid;

use crate::domain::{Cart, Currency, Guarded, Payment};
use crate::tui::action::Command;
use crate::tui::approval::{self, percent, Pending};
use crate::tui::keymap::KeyCmd;
use crate::tui::state::{FlashLevel, State};

pub(super) fn ready_to_pay(st: &mut State) -> bool {
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

pub(super) fn amount_key(
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
    let cents = if kind == AmountKind::Discount {
        discount_amount(&st.sales.cart, i, &text, currency)
    } else {
        currency.parse(&text)
    };
    // Tried on a copy first: a bad amount is refused before anyone is asked to approve it.
    let mut trial = st.sales.cart.clone();
    let tried = cents.and_then(|c| edit_line(&mut trial, i, kind, c).map(|()| c));
    let (cents, line) = match (tried, trial.lines().get(i)) {
        (Ok(c), Some(line)) => (c, line.clone()),
        (Err(e), _) => {
            st.flash(FlashLevel::Error, e.to_string());
            return Vec::new();
        }
        (Ok(_), None) => return Vec::new(),
    };
    let list_price = st
        .sales
        .catalog_prices
        .get(&line.sku)
        .copied()
        .unwrap_or(line.unit_price_cents);
    let list = list_price.saturating_mul(line.qty);
    let charged = line
        .gross_before_discount()
        .unwrap_or(list)
        .saturating_sub(line.discount_cents);
    let guarded = Guarded::line_discount(list, charged);
    let share = match guarded {
        Guarded::Discount { basis_points } => percent(basis_points),
        _ => String::new(),
    };
    let what = match kind {
        AmountKind::UnitPrice => format!(
            "a price of {} for {} ({share} off)",
            currency.format(cents),
            line.name
        ),
        _ => format!("a discount of {share} on {}", line.name),
    };
    let pending = Pending::LineEdit {
        line: i,
        kind,
        cents,
    };
    approval::guard(st, guarded, what, pending)
}

fn edit_line(
    cart: &mut Cart,
    i: usize,
    kind: AmountKind,
    cents: i64,
) -> Result<(), crate::domain::DomainError> {
    match kind {
        AmountKind::Discount => cart.set_discount(i, cents),
        _ => cart.override_price(i, cents),
    }
}

/// Sets the new price or discount of line `i` (checked, approved if it had to be) and goes
/// back to entering codes; the approver, if any, is recorded on the sale.
pub(crate) fn apply_line_edit(
    st: &mut State,
    i: usize,
    kind: AmountKind,
    cents: i64,
    approved_by: Option<Uuid>,
) {
    match edit_line(&mut st.sales.cart, i, kind, cents) {
        Ok(()) => {
            st.sales.mode = SalesMode::Entry;
            st.sales.reset_field();
            if approved_by.is_some() {
                st.sales.approved_by = approved_by;
            }
        }
        Err(e) => st.flash(FlashLevel::Error, e.to_string()),
    }
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

pub(super) fn start_commit(st: &mut State, payment: Payment) -> Vec<Command> {
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
                approved_by: st.sales.approved_by,
            }]
        }
        Err(e) => {
            st.flash(FlashLevel::Error, e.to_string());
            Vec::new()
        }
    }
}
