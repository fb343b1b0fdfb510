//! Who is at the till: the PIN login, the lock (on a key and after an idle time) and switching
//! cashier without quitting.
//!
//! Only when the store has staff ([`StaffGate`] present); without staff the console works as
//! it always did. The PIN is typed into a masked field (only `•` is drawn), goes to the store
//! in a [`Pin`] whose `Debug` hides it, and is dropped as soon as it is sent. The store checks
//! it, counts wrong tries and keeps the lockout (five wrong in a row) in the database; the
//! console only shows what the store answered.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};

use super::action::Command;
use super::keymap::KeyCmd;
use super::model::{Pin, PinRefusal, ShiftView, StaffView};
use super::state::{FlashLevel, State};
use crate::domain::{Role, RoleLimits};
use crate::timefmt::Zone;

/// The longest PIN the field takes; the store decides what a valid PIN is.
pub const PIN_MAX: usize = 12;
/// The shortest PIN sent to the store (shorter is a typing slip, not a try).
pub const PIN_MIN: usize = 4;

/// The masked PIN field: digits only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinField {
    digits: Option<Pin>,
}

impl PinField {
    pub fn len(&self) -> usize {
        self.digits.as_ref().map_or(0, |p| p.expose().len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What is drawn: one `•` per digit.
    pub fn masked(&self) -> String {
        "•".repeat(self.len())
    }

    /// Types a key; `Err` with a message for a key that is not a digit.
    pub fn key(&mut self, key: &KeyEvent) -> Result<(), &'static str> {
        match key.code {
            KeyCode::Char(c) if c.is_ascii_digit() => {
                if self.len() >= PIN_MAX {
                    return Err("a PIN has at most 12 digits");
                }
                let mut s = self.digits.take().map_or_else(String::new, |p| {
                    let s: &str = p.expose();
                    s.to_string()
                });
                s.push(c);
                self.digits = Some(Pin::new(s));
                Ok(())
            }
            KeyCode::Backspace => {
                if let Some(p) = self.digits.take() {
                    let mut s = p.expose().to_string();
                    s.pop();
                    if !s.is_empty() {
                        self.digits = Some(Pin::new(s));
                    }
                }
                Ok(())
            }
            KeyCode::Char(_) => Err("a PIN is digits only"),
            _ => Ok(()),
        }
    }

    /// Takes the PIN out of the field (the field is empty afterwards).
    pub fn take(&mut self) -> Option<Pin> {
        self.digits.take()
    }

    pub fn clear(&mut self) {
        self.digits = None;
    }
}

/// The login screen: whom to log in, their PIN, and the last answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginForm {
    pub selected: usize,
    pub pin: PinField,
    /// What the last try said ("wrong PIN · 4 tries left", "locked until 18:05").
    pub message: Option<String>,
    /// A PIN is with the store; keys wait for its answer.
    pub checking: bool,
}

/// Staff, who is logged in and when they last touched a key.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffGate {
    pub staff: Vec<StaffView>,
    /// Logged in; `None` while the console is locked.
    pub current: Option<StaffView>,
    pub login: LoginForm,
    /// Lock after this many seconds without a key (0: never).
    pub idle_lock_s: u64,
    pub last_activity: DateTime<Utc>,
    /// The till's open shift (the store's record).
    pub shift: Option<ShiftView>,
    /// A cashier's limits (`[staff]`): beyond them a manager approves on the spot.
    pub limits: RoleLimits,
}

impl StaffGate {
    pub fn new(staff: Vec<StaffView>, idle_lock_s: u64, now: DateTime<Utc>) -> StaffGate {
        StaffGate {
            staff,
            current: None,
            login: LoginForm::default(),
            idle_lock_s,
            last_activity: now,
            shift: None,
            limits: RoleLimits::default(),
        }
    }

    pub fn locked(&self) -> bool {
        self.current.is_none()
    }

    pub fn selected(&self) -> Option<&StaffView> {
        self.staff.get(self.login.selected)
    }

    /// The role of whoever is logged in (`None` while locked). A role the till does not
    /// know is held to a cashier's limits.
    pub fn role(&self) -> Option<Role> {
        self.current
            .as_ref()
            .map(|s| Role::parse(&s.role).unwrap_or(Role::Cashier))
    }

    /// The idle lock is armed: the clock alone can change the screen.
    pub fn ticks(&self) -> bool {
        self.current.is_some() && self.idle_lock_s > 0
    }
}

/// `HH:MM` of `t` in the till's zone.
pub fn clock(zone: Zone, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone.offset_at(t))
        .format("%H:%M")
        .to_string()
}

/// A key on the login screen.
pub fn on_key(st: &mut State, cmd: Option<KeyCmd>, key: &KeyEvent) -> Vec<Command> {
    let Some(gate) = st.staff.as_mut() else {
        return Vec::new();
    };
    if gate.login.checking {
        return Vec::new();
    }
    match cmd {
        Some(KeyCmd::Up) => {
            gate.login.selected = gate.login.selected.saturating_sub(1);
            gate.login.pin.clear();
            gate.login.message = None;
        }
        Some(KeyCmd::Down) => {
            if gate.login.selected + 1 < gate.staff.len() {
                gate.login.selected += 1;
            }
            gate.login.pin.clear();
            gate.login.message = None;
        }
        Some(KeyCmd::Cancel) => {
            gate.login.pin.clear();
            gate.login.message = None;
        }
        Some(KeyCmd::Submit) => return submit(st),
        _ => {
            if let Err(e) = gate.login.pin.key(key) {
                gate.login.message = Some(e.to_string());
            }
        }
    }
    Vec::new()
}

fn submit(st: &mut State) -> Vec<Command> {
    let now = st.now;
    let zone = st.settings.zone;
    let Some(gate) = st.staff.as_mut() else {
        return Vec::new();
    };
    let Some(who) = gate.selected().cloned() else {
        gate.login.message = Some("no staff member to log in".into());
        return Vec::new();
    };
    if let Some(until) = who.locked_until.filter(|u| *u > now) {
        gate.login.pin.clear();
        gate.login.message = Some(format!(
            "{} is locked out until {}",
            who.name,
            clock(zone, until)
        ));
        return Vec::new();
    }
    if gate.login.pin.len() < PIN_MIN {
        gate.login.message = Some(format!("a PIN has at least {PIN_MIN} digits"));
        return Vec::new();
    }
    let Some(pin) = gate.login.pin.take() else {
        return Vec::new();
    };
    gate.login.checking = true;
    gate.login.message = Some("checking…".into());
    vec![Command::CheckPin {
        staff_id: who.id,
        pin,
    }]
}

/// The store's answer to a login PIN.
pub fn on_checked(st: &mut State, staff_id: uuid::Uuid, result: Result<StaffView, PinRefusal>) {
    let now = st.now;
    let zone = st.settings.zone;
    let Some(gate) = st.staff.as_mut() else {
        return;
    };
    gate.login.checking = false;
    gate.login.pin.clear();
    let name = gate
        .staff
        .iter()
        .find(|s| s.id == staff_id)
        .map_or_else(|| "that staff member".to_string(), |s| s.name.clone());
    match result {
        Ok(who) => {
            if let Some(s) = gate.staff.iter_mut().find(|s| s.id == who.id) {
                s.locked_until = None;
            }
            let text = format!("logged in: {} ({})", who.name, who.role);
            gate.current = Some(who);
            gate.login.message = None;
            gate.last_activity = now;
            let no_shift = gate.shift.is_none();
            st.flash(FlashLevel::Success, text);
            if no_shift {
                super::shift::offer_open(st);
            }
        }
        Err(PinRefusal::Wrong { left }) => {
            let tries = if left == 1 { "try" } else { "tries" };
            gate.login.message = Some(format!("wrong PIN · {left} {tries} left"));
        }
        Err(PinRefusal::Locked { until }) => {
            if let Some(s) = gate.staff.iter_mut().find(|s| s.id == staff_id) {
                s.locked_until = Some(until);
            }
            gate.login.message = Some(format!("{name} is locked out until {}", clock(zone, until)));
        }
        Err(PinRefusal::NotAllowed(e)) | Err(PinRefusal::Failed(e)) => {
            gate.login.message = Some(format!("not logged in: {e}"));
        }
    }
}

/// Locks the console (the lock key, the idle time); the cart stays as it is.
pub fn lock(st: &mut State, why: &str) {
    let Some(gate) = st.staff.as_mut() else {
        return;
    };
    if let Some(who) = gate.current.take() {
        // A form open behind the lock must not stay usable; nothing in one is saved yet.
        st.popup = None;
        if let Some(i) = gate.staff.iter().position(|s| s.id == who.id) {
            gate.login.selected = i;
        }
        gate.login.pin.clear();
        gate.login.message = Some(format!("{why}: {} was logged in", who.name));
    }
}

/// Every key counts as activity for the idle lock.
pub fn touched(st: &mut State) {
    let now = st.now;
    if let Some(gate) = st.staff.as_mut() {
        gate.last_activity = now;
    }
}

/// The clock moved: lock when nobody touched a key for the idle time.
pub fn on_tick(st: &mut State) {
    let now = st.now;
    let Some(gate) = st.staff.as_ref() else {
        return;
    };
    if !gate.ticks() {
        return;
    }
    let idle = now.signed_duration_since(gate.last_activity);
    if idle.num_seconds() >= i64::try_from(gate.idle_lock_s).unwrap_or(i64::MAX) {
        let why = format!("locked after {} s without a key", gate.idle_lock_s);
        lock(st, &why);
    }
}
