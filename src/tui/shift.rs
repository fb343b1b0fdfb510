//! Shifts at the console (only when the store has staff): open with a counted float, paid-in
//! and paid-out with a reason, the X report, and the close with a blind count.
//!
//! The blind count asks for the counted cash (a total, or a count per denomination) before
//! anything shows what was expected; only the store's answer to the close brings expected,
//! counted and the over/short. No sale is rung up without an open shift: the console offers
//! to open one. All the figures come from the store.

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::{CashKind, ShiftClosedView, ShiftTotalsView, ShiftView};
use super::sales::type_into;
use super::state::{FlashLevel, Popup, State};
use crate::domain::{Currency, Guarded};

/// Notes and coins counted in the blind count's denomination list, largest first (minor
/// units; the euro's and most two-decimal currencies' set).
pub const DENOMINATIONS: [i64; 15] = [
    50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1,
];

/// The blind count: a total typed in, or a count per denomination.
#[derive(Debug, Clone, Default)]
pub struct DrawerCount {
    pub total: Input,
    /// Counting by denomination: how many of each of [`DENOMINATIONS`].
    pub by_denomination: Option<Vec<i64>>,
    pub selected: usize,
}

impl PartialEq for DrawerCount {
    fn eq(&self, other: &Self) -> bool {
        self.total.value() == other.total.value()
            && self.by_denomination == other.by_denomination
            && self.selected == other.selected
    }
}

impl DrawerCount {
    /// The counted cash, or why it cannot be read.
    pub fn counted(&self, currency: Currency) -> Result<i64, String> {
        match &self.by_denomination {
            Some(counts) => counts
                .iter()
                .zip(DENOMINATIONS)
                .try_fold(0i64, |sum, (n, d)| {
                    n.checked_mul(d).and_then(|v| sum.checked_add(v))
                })
                .ok_or_else(|| "the count is too large".to_string()),
            None => {
                let text = self.total.value().trim();
                if text.is_empty() {
                    return Err("type the cash counted in the drawer".into());
                }
                let v = currency.parse(text).map_err(|e| e.to_string())?;
                if v < 0 {
                    return Err("the counted cash cannot be negative".into());
                }
                Ok(v)
            }
        }
    }
}

/// What the shift popup shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ShiftForm {
    /// No open shift: count the opening float.
    Open { float: InputEq },
    /// The shift's actions: close, paid-in, paid-out, X report.
    Menu,
    Cash {
        kind: CashKind,
        amount: InputEq,
        reason: InputEq,
        /// The reason field has the keyboard.
        on_reason: bool,
    },
    /// Closing: the blind count (nothing expected is shown).
    Count(DrawerCount),
    /// The close is with the store.
    Closing,
    /// The store closed the shift: expected vs counted.
    Closed(ShiftClosedView),
    /// The X report (`None` while the store adds it up).
    Report(Option<ShiftTotalsView>),
}

/// A text field compared by its value (tui-input's `Input` has no `PartialEq`).
#[derive(Debug, Clone, Default)]
pub struct InputEq(pub Input);

impl PartialEq for InputEq {
    fn eq(&self, other: &Self) -> bool {
        self.0.value() == other.0.value()
    }
}

/// The store has staff, someone is logged in, and no shift is open: no sale yet.
pub fn needs_shift(st: &State) -> bool {
    st.staff
        .as_ref()
        .is_some_and(|g| g.current.is_some() && g.shift.is_none())
}

/// The open shift, if the store has staff and one is open.
pub fn open_shift(st: &State) -> Option<&ShiftView> {
    st.staff.as_ref().and_then(|g| g.shift.as_ref())
}

/// Who is logged in (`None` without staff).
pub(super) fn staff_id(st: &State) -> Option<uuid::Uuid> {
    st.staff
        .as_ref()
        .and_then(|g| g.current.as_ref().map(|s| s.id))
}

/// Offers to open a shift (after login, or when a sale is tried without one).
pub fn offer_open(st: &mut State) {
    st.popup = Some(Popup::Shift(ShiftForm::Open {
        float: InputEq::default(),
    }));
}

/// The shift key: open one, or the menu of the open one.
pub fn start(st: &mut State) -> Vec<Command> {
    if st.staff.is_none() {
        st.flash(
            FlashLevel::Info,
            "shifts need staff (kassa staff add); this till runs without",
        );
        return Vec::new();
    }
    if open_shift(st).is_some() {
        st.popup = Some(Popup::Shift(ShiftForm::Menu));
    } else {
        offer_open(st);
    }
    Vec::new()
}

/// A key in the shift popup.
pub fn on_key(st: &mut State, cmd: Option<KeyCmd>, key: &KeyEvent) -> Vec<Command> {
    let Some(Popup::Shift(form)) = st.popup.clone() else {
        return Vec::new();
    };
    if matches!(cmd, Some(KeyCmd::Cancel)) {
        if form != ShiftForm::Closing {
            st.popup = None;
        }
        return Vec::new();
    }
    match form {
        ShiftForm::Open { mut float } => {
            if cmd == Some(KeyCmd::Submit) {
                return submit_open(st, &float);
            }
            type_into(&mut float.0, key);
            st.popup = Some(Popup::Shift(ShiftForm::Open { float }));
        }
        ShiftForm::Menu => {
            let next = match cmd {
                Some(KeyCmd::CloseShift) => Some(ShiftForm::Count(DrawerCount::default())),
                Some(KeyCmd::PaidIn) => Some(cash_form(CashKind::In)),
                Some(KeyCmd::PaidOut) => Some(cash_form(CashKind::Out)),
                Some(KeyCmd::NoSale) => {
                    st.popup = None;
                    let pending = super::approval::Pending::NoSale;
                    let what = "opening the drawer with no sale".to_string();
                    return super::approval::guard(st, Guarded::NoSale, what, pending);
                }
                Some(KeyCmd::XReport) => {
                    st.popup = Some(Popup::Shift(ShiftForm::Report(None)));
                    return vec![Command::LoadShiftTotals];
                }
                _ => None,
            };
            if let Some(f) = next {
                st.popup = Some(Popup::Shift(f));
            }
        }
        ShiftForm::Cash {
            kind,
            mut amount,
            mut reason,
            on_reason,
        } => {
            let mut on_reason = on_reason;
            match cmd {
                Some(KeyCmd::NextField) => on_reason = !on_reason,
                Some(KeyCmd::Submit) if !on_reason => on_reason = true,
                Some(KeyCmd::Submit) => return submit_cash(st, kind, &amount, &reason),
                _ => {
                    let field = if on_reason { &mut reason } else { &mut amount };
                    type_into(&mut field.0, key);
                }
            }
            st.popup = Some(Popup::Shift(ShiftForm::Cash {
                kind,
                amount,
                reason,
                on_reason,
            }));
        }
        ShiftForm::Count(mut count) => {
            match cmd {
                Some(KeyCmd::Submit) => return submit_count(st, &count),
                Some(KeyCmd::NextField) => {
                    count.by_denomination = match count.by_denomination {
                        Some(_) => None,
                        None => Some(vec![0; DENOMINATIONS.len()]),
                    };
                    count.selected = 0;
                }
                Some(KeyCmd::Up) if count.by_denomination.is_some() => {
                    count.selected = count.selected.saturating_sub(1);
                }
                Some(KeyCmd::Down) if count.by_denomination.is_some() => {
                    count.selected = (count.selected + 1).min(DENOMINATIONS.len() - 1);
                }
                _ => count_key(st, &mut count, key),
            }
            st.popup = Some(Popup::Shift(ShiftForm::Count(count)));
        }
        ShiftForm::Closing => st.flash(FlashLevel::Info, "closing the shift…"),
        ShiftForm::Closed(_) | ShiftForm::Report(_) => {
            if cmd.is_some() {
                st.popup = None;
            }
        }
    }
    Vec::new()
}

fn cash_form(kind: CashKind) -> ShiftForm {
    ShiftForm::Cash {
        kind,
        amount: InputEq::default(),
        reason: InputEq::default(),
        on_reason: false,
    }
}

/// Digits and Backspace for the selected denomination's count; the total field otherwise.
fn count_key(st: &mut State, count: &mut DrawerCount, key: &KeyEvent) {
    let selected = count.selected;
    let Some(counts) = count.by_denomination.as_mut() else {
        type_into(&mut count.total, key);
        return;
    };
    let Some(n) = counts.get_mut(selected) else {
        return;
    };
    match key.code {
        KeyCode::Char(c) if c.is_ascii_digit() => {
            let digit = i64::from(c as u8 - b'0');
            match n.checked_mul(10).and_then(|v| v.checked_add(digit)) {
                Some(v) if v <= 100_000 => *n = v,
                _ => st.flash(FlashLevel::Error, "at most 100000 of one denomination"),
            }
        }
        KeyCode::Backspace => *n /= 10,
        KeyCode::Char(_) => st.flash(FlashLevel::Error, "a count is digits only"),
        _ => {}
    }
}

fn submit_open(st: &mut State, float: &InputEq) -> Vec<Command> {
    let text = float.0.value().trim().to_string();
    if text.is_empty() {
        st.flash(
            FlashLevel::Error,
            "type the opening float counted (0 for none)",
        );
        return Vec::new();
    }
    match st.currency().parse(&text) {
        Ok(v) if v < 0 => st.flash(FlashLevel::Error, "the float cannot be negative"),
        Ok(float_cents) => {
            st.popup = None;
            st.flash(FlashLevel::Info, "opening the shift…");
            return vec![Command::OpenShift {
                staff_id: staff_id(st),
                float_cents,
            }];
        }
        Err(e) => st.flash(FlashLevel::Error, e.to_string()),
    }
    Vec::new()
}

fn submit_cash(st: &mut State, kind: CashKind, amount: &InputEq, reason: &InputEq) -> Vec<Command> {
    let reason = reason.0.value().trim().to_string();
    let amount_cents = match st.currency().parse(amount.0.value().trim()) {
        Ok(v) if v > 0 => v,
        Ok(_) => {
            st.flash(FlashLevel::Error, "the amount must be more than zero");
            return Vec::new();
        }
        Err(e) => {
            st.flash(FlashLevel::Error, e.to_string());
            return Vec::new();
        }
    };
    if reason.is_empty() {
        st.flash(
            FlashLevel::Error,
            format!("a {} needs a reason", kind.label()),
        );
        return Vec::new();
    }
    st.popup = None;
    vec![Command::CashMovement {
        staff_id: staff_id(st),
        kind,
        amount_cents,
        reason,
        approved_by: None,
    }]
}

fn submit_count(st: &mut State, count: &DrawerCount) -> Vec<Command> {
    match count.counted(st.currency()) {
        Ok(counted_cents) => {
            st.popup = Some(Popup::Shift(ShiftForm::Closing));
            vec![Command::CloseShift {
                staff_id: staff_id(st),
                counted_cents,
            }]
        }
        Err(e) => {
            st.flash(FlashLevel::Error, e);
            Vec::new()
        }
    }
}

/// The store's answer to opening a shift.
pub fn on_opened(st: &mut State, result: Result<ShiftView, String>) {
    match result {
        Ok(shift) => {
            let text = format!(
                "shift open · float {}",
                st.currency().format(shift.float_cents)
            );
            if let Some(g) = st.staff.as_mut() {
                g.shift = Some(shift);
            }
            st.flash(FlashLevel::Success, text);
        }
        Err(e) => st.flash(FlashLevel::Error, format!("shift NOT opened: {e}")),
    }
}

/// The store's answer to a paid-in or paid-out.
pub fn on_cash(st: &mut State, kind: CashKind, result: Result<i64, String>) {
    match result {
        Ok(_) if kind == CashKind::NoSale => {
            st.flash(FlashLevel::Success, "no-sale recorded");
        }
        Ok(amount) => {
            let text = format!("{} {} recorded", kind.label(), st.currency().format(amount));
            st.flash(FlashLevel::Success, text);
        }
        Err(e) => st.flash(
            FlashLevel::Error,
            format!("{} NOT recorded: {e}", kind.label()),
        ),
    }
}

/// The store's answer to the close: only now are expected and over/short shown.
pub fn on_closed(st: &mut State, result: Result<ShiftClosedView, String>) {
    match result {
        Ok(closed) => {
            if let Some(g) = st.staff.as_mut() {
                g.shift = None;
            }
            st.popup = Some(Popup::Shift(ShiftForm::Closed(closed)));
        }
        Err(e) => {
            if st.popup == Some(Popup::Shift(ShiftForm::Closing)) {
                st.popup = None;
            }
            st.flash(FlashLevel::Error, format!("shift NOT closed: {e}"));
        }
    }
}

pub fn on_totals(st: &mut State, result: Result<ShiftTotalsView, String>) {
    match result {
        Ok(t) => {
            if matches!(st.popup, Some(Popup::Shift(ShiftForm::Report(_)))) {
                st.popup = Some(Popup::Shift(ShiftForm::Report(Some(t))));
            }
        }
        Err(e) => {
            if matches!(st.popup, Some(Popup::Shift(ShiftForm::Report(_)))) {
                st.popup = None;
            }
            st.flash(FlashLevel::Error, format!("X report: {e}"));
        }
    }
}
