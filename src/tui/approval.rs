//! Manager override on the spot: an action above a cashier's limits (a discount or price
//! override beyond `[staff] max_discount_percent`, a refund above `refund_limit_cents` or
//! without a receipt, a post-void, opening the drawer with no sale) waits in a popup asking
//! for a manager's PIN. The store checks the PIN (a wrong one counts toward that member's
//! lockout; the right PIN of someone who is not a manager is refused); only on its approval
//! is the action carried out, with the manager recorded as `approved_by` on the document.
//!
//! Without staff, and for a manager logged in, nothing is asked. Esc, a refusal or the lock
//! leave everything as it was: nothing is written.

use crossterm::event::KeyEvent;
use uuid::Uuid;

use super::action::Command;
use super::keymap::KeyCmd;
use super::login::{clock, PinField, PIN_MIN};
use super::model::{CashKind, PinRefusal, RefundOrder, StaffView};
use super::sales::AmountKind;
use super::state::{FlashLevel, Popup, State};
use crate::domain::{Currency, Guarded, RefundPolicy};
use crate::timefmt::Zone;

/// What waits for a manager, carried out as it stands once one approves.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// A new unit price or discount (minor units) for line `line` of the cart.
    LineEdit {
        line: usize,
        kind: AmountKind,
        cents: i64,
    },
    Refund {
        order: RefundOrder,
        currency: Currency,
        policy: RefundPolicy,
    },
    Void {
        sale_id: Uuid,
        reason: String,
        zone: Zone,
    },
    /// Opening the drawer with no sale.
    NoSale,
}

/// The popup: what is to be approved, who approves and their masked PIN.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalForm {
    /// What the manager approves, in words ("a discount of 25 % on Milk 1L").
    pub what: String,
    pub pending: Pending,
    /// Who can be asked: the store's active staff, managers first.
    pub approvers: Vec<StaffView>,
    pub selected: usize,
    pub pin: PinField,
    /// The PIN is with the store; keys wait for its answer.
    pub checking: bool,
}

impl ApprovalForm {
    pub fn approver(&self) -> Option<&StaffView> {
        self.approvers.get(self.selected)
    }
}

/// True when `action` needs a manager's approval from whoever is logged in: never without
/// staff, never for a manager.
pub fn needed(st: &State, action: Guarded) -> bool {
    st.staff
        .as_ref()
        .is_some_and(|g| g.role().is_some_and(|r| g.limits.needs_manager(r, action)))
}

/// Carries `pending` out now when nobody needs to approve it, else asks for a manager's PIN.
pub fn guard(st: &mut State, action: Guarded, what: String, pending: Pending) -> Vec<Command> {
    if !needed(st, action) {
        return carry_out(st, pending, None);
    }
    let mut approvers = st
        .staff
        .as_ref()
        .map(|g| g.staff.clone())
        .unwrap_or_default();
    if !approvers.iter().any(StaffView::is_manager) {
        st.flash(
            FlashLevel::Error,
            format!("{what} needs a manager, and this till has none: nothing done"),
        );
        return Vec::new();
    }
    // Stable: managers first, each group in the login screen's order.
    approvers.sort_by_key(|s| !s.is_manager());
    st.flash(
        FlashLevel::Info,
        "above a cashier's limits: a manager approves with their PIN",
    );
    st.popup = Some(Popup::Approval(ApprovalForm {
        what,
        pending,
        approvers,
        selected: 0,
        pin: PinField::default(),
        checking: false,
    }));
    Vec::new()
}

/// A key in the approval popup.
pub fn on_key(st: &mut State, cmd: Option<KeyCmd>, key: &KeyEvent) -> Vec<Command> {
    let Some(Popup::Approval(form)) = &mut st.popup else {
        return Vec::new();
    };
    if form.checking {
        st.flash(FlashLevel::Info, "checking the PIN…");
        return Vec::new();
    }
    let mut problem = None;
    match cmd {
        Some(KeyCmd::Cancel) => {
            let text = format!("not approved: {} (nothing saved)", form.what);
            st.popup = None;
            st.flash(FlashLevel::Info, text);
            return Vec::new();
        }
        Some(KeyCmd::Up) => {
            form.selected = form.selected.saturating_sub(1);
            form.pin.clear();
        }
        Some(KeyCmd::Down) => {
            if form.selected + 1 < form.approvers.len() {
                form.selected += 1;
            }
            form.pin.clear();
        }
        Some(KeyCmd::Submit) => return submit(st),
        _ => problem = form.pin.key(key).err(),
    }
    if let Some(e) = problem {
        st.flash(FlashLevel::Error, e);
    }
    Vec::new()
}

fn submit(st: &mut State) -> Vec<Command> {
    let (now, zone) = (st.now, st.settings.zone);
    let Some(Popup::Approval(form)) = &mut st.popup else {
        return Vec::new();
    };
    let Some(who) = form.approver().cloned() else {
        st.flash(FlashLevel::Error, "nobody at this till can approve");
        return Vec::new();
    };
    if let Some(until) = who.locked_until.filter(|u| *u > now) {
        form.pin.clear();
        let text = format!(
            "not approved: {} is locked out until {}",
            who.name,
            clock(zone, until)
        );
        st.flash(FlashLevel::Error, text);
        return Vec::new();
    }
    if form.pin.len() < PIN_MIN {
        st.flash(
            FlashLevel::Error,
            format!("a PIN has at least {PIN_MIN} digits"),
        );
        return Vec::new();
    }
    let Some(pin) = form.pin.take() else {
        return Vec::new();
    };
    form.checking = true;
    st.flash(FlashLevel::Info, "checking the PIN…");
    vec![Command::CheckApproval {
        staff_id: who.id,
        pin,
    }]
}

/// The store's answer to a manager's PIN: carry the action out with the approver, or say why
/// not (the popup stays for another try or Esc). An answer for a popup that is gone (locked
/// meanwhile) carries nothing out.
pub fn on_checked(
    st: &mut State,
    staff_id: Uuid,
    result: Result<StaffView, PinRefusal>,
) -> Vec<Command> {
    let zone = st.settings.zone;
    let Some(Popup::Approval(form)) = &mut st.popup else {
        return Vec::new();
    };
    if !form.checking || form.approver().map(|s| s.id) != Some(staff_id) {
        return Vec::new();
    }
    form.checking = false;
    form.pin.clear();
    let name = form
        .approver()
        .map_or_else(|| "that staff member".to_string(), |s| s.name.clone());
    let refusal = match result {
        Ok(manager) => {
            let (pending, what) = (form.pending.clone(), form.what.clone());
            st.popup = None;
            let cmds = carry_out(st, pending, Some(manager.id));
            let failed = st
                .flash
                .as_ref()
                .is_some_and(|f| f.level == FlashLevel::Error);
            if !failed {
                st.flash(
                    FlashLevel::Success,
                    format!("approved by {}: {what}", manager.name),
                );
            }
            return cmds;
        }
        Err(PinRefusal::Wrong { left }) => {
            let tries = if left == 1 { "try" } else { "tries" };
            format!("wrong PIN for {name} · {left} {tries} left")
        }
        Err(PinRefusal::Locked { until }) => {
            for s in form.approvers.iter_mut().filter(|s| s.id == staff_id) {
                s.locked_until = Some(until);
            }
            if let Some(g) = st.staff.as_mut() {
                for s in g.staff.iter_mut().filter(|s| s.id == staff_id) {
                    s.locked_until = Some(until);
                }
            }
            format!("{name} is locked out until {}", clock(zone, until))
        }
        Err(PinRefusal::NotAllowed(e)) | Err(PinRefusal::Failed(e)) => e,
    };
    st.flash(
        FlashLevel::Error,
        format!("not approved: {refusal} (nothing saved)"),
    );
    Vec::new()
}

/// Does what waited, recording `approved_by` (`None`: nobody needed to approve).
fn carry_out(st: &mut State, pending: Pending, approved_by: Option<Uuid>) -> Vec<Command> {
    match pending {
        Pending::LineEdit { line, kind, cents } => {
            super::sales::apply_line_edit(st, line, kind, cents, approved_by);
            Vec::new()
        }
        Pending::Refund {
            order,
            currency,
            policy,
        } => {
            let Some(r) = st.refund.as_mut() else {
                return Vec::new();
            };
            r.committing = true;
            st.flash(FlashLevel::Info, "saving the refund…");
            vec![Command::CommitRefund {
                order,
                currency,
                policy,
                approved_by,
            }]
        }
        Pending::Void {
            sale_id,
            reason,
            zone,
        } => {
            st.flash(FlashLevel::Info, "voiding the sale…");
            vec![Command::CommitVoid {
                sale_id,
                reason,
                zone,
                approved_by,
            }]
        }
        Pending::NoSale => {
            st.flash(FlashLevel::Info, "recording the no-sale…");
            vec![Command::CashMovement {
                staff_id: super::shift::staff_id(st),
                kind: CashKind::NoSale,
                amount_cents: 0,
                reason: String::new(),
                approved_by,
            }]
        }
    }
}

/// A share in basis points as people read it: `25 %`, `10.1 %` (tenths rounded up).
pub fn percent(basis_points: i64) -> String {
    let tenths = basis_points.saturating_add(9) / 10;
    if tenths % 10 == 0 {
        format!("{} %", tenths / 10)
    } else {
        format!("{}.{} %", tenths / 10, tenths % 10)
    }
}
