//! Login, lock and shifts through the pure `update`: right and wrong PIN, the lockout after
//! five, the lock key, the idle lock, switching cashier, and the shift flows (open with a
//! float, no sale without a shift, paid-in/out, X report, the blind close).

mod console_support;

use chrono::Duration;
use console_support::*;
use crossterm::event::KeyCode;
use kassa::tui::action::{Action, Command};
use kassa::tui::keymap::Context;
use kassa::tui::state::State;
use kassa::tui::update;

/// Feeds actions, answering every command from the store, until nothing is left.
fn run(st: &mut State, store: &mut FakeStore, actions: Vec<Action>) -> Vec<Command> {
    let mut sent = Vec::new();
    let mut todo: std::collections::VecDeque<Action> = actions.into();
    while let Some(a) = todo.pop_front() {
        for c in update(st, a) {
            sent.push(c.clone());
            if let Some(answer) = store.answer(&c) {
                todo.push_back(answer);
            }
        }
    }
    sent
}

/// A shift already open on the till (opened before the console started).
fn open_shift(store: &mut FakeStore) {
    let cmd = Command::OpenShift {
        staff_id: None,
        float_cents: 10000,
    };
    store.answer(&cmd);
}

fn locked_state(store: &FakeStore, idle: u64) -> State {
    let mut st = state(80, 24, false);
    st.staff = Some(store.gate(idle));
    st
}

fn pin_checks(cmds: &[Command]) -> usize {
    cmds.iter()
        .filter(|c| matches!(c, Command::CheckPin { .. }))
        .count()
}

fn message(st: &State) -> String {
    st.staff
        .as_ref()
        .and_then(|g| g.login.message.clone())
        .unwrap_or_default()
}

fn current(st: &State) -> Option<String> {
    st.staff
        .as_ref()
        .and_then(|g| g.current.as_ref().map(|s| s.name.clone()))
}

#[test]
fn without_staff_there_is_no_login() {
    let st = state(80, 24, false);
    assert!(!st.locked());
    assert_eq!(st.context(), Context::SalesEntry);
}

#[test]
fn the_console_opens_locked_and_the_right_pin_logs_in() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    open_shift(&mut store);
    let mut st = locked_state(&store, 0);
    assert!(st.locked());
    assert_eq!(st.context(), Context::Login);
    // Keys meant for a sale do nothing while locked: no lookup is sent.
    let cmds = run(&mut st, &mut store, keys("4001"));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(st.sales.cart.is_empty());
    // What was typed is the PIN field's (wrong: 4001), masked.
    let gate = st.staff.as_ref().expect("gate");
    assert_eq!(gate.login.pin.masked(), "••••");
    let cmds = run(&mut st, &mut store, vec![key(KeyCode::Esc)]);
    assert!(cmds.is_empty());
    let cmds = run(&mut st, &mut store, keys("1234\n"));
    assert_eq!(pin_checks(&cmds), 1);
    assert_eq!(current(&st).as_deref(), Some("Anna Berg"));
    assert!(!st.locked());
    assert_eq!(st.context(), Context::SalesEntry);
    assert!(st.staff.as_ref().expect("gate").login.pin.is_empty());
}

#[test]
fn a_pin_never_shows_in_a_commands_debug() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 0);
    let cmds = run(&mut st, &mut store, keys("1234\n"));
    let text = format!("{cmds:?} {:?}", st);
    assert!(text.contains("Pin(***)"), "{text}");
    assert!(!text.contains("1234"), "{text}");
}

#[test]
fn a_wrong_pin_says_so_and_counts_down() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 0);
    run(&mut st, &mut store, keys("1111\n"));
    assert!(st.locked());
    assert_eq!(message(&st), "wrong PIN · 4 tries left");
    run(&mut st, &mut store, keys("2222\n"));
    assert_eq!(message(&st), "wrong PIN · 3 tries left");
}

#[test]
fn a_short_pin_or_a_letter_is_not_a_try() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 0);
    let cmds = run(&mut st, &mut store, keys("12\n"));
    assert_eq!(pin_checks(&cmds), 0);
    assert_eq!(message(&st), "a PIN has at least 4 digits");
    let cmds = run(&mut st, &mut store, keys("x"));
    assert!(cmds.is_empty());
    assert_eq!(message(&st), "a PIN is digits only");
    assert_eq!(store.staff[0].wrong, 0);
}

#[test]
fn five_wrong_pins_lock_that_person_out_and_the_right_one_no_longer_helps() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 0);
    for _ in 0..5 {
        run(&mut st, &mut store, keys("0000\n"));
    }
    // 17:30 UTC + 15 min, shown at UTC+1.
    assert_eq!(message(&st), "Anna Berg is locked out until 18:45");
    let listed = &st.staff.as_ref().expect("gate").staff[0];
    assert!(listed.locked_until.is_some());
    // The right PIN now is not even sent: the console knows the lockout.
    let cmds = run(&mut st, &mut store, keys("1234\n"));
    assert_eq!(pin_checks(&cmds), 0);
    assert!(st.locked());
    assert_eq!(message(&st), "Anna Berg is locked out until 18:45");
    // Someone else can still log in.
    run(&mut st, &mut store, vec![key(KeyCode::Down)]);
    run(&mut st, &mut store, keys("9876\n"));
    assert_eq!(current(&st).as_deref(), Some("Max Ruiz"));
}

#[test]
fn the_lock_key_locks_and_another_cashier_logs_in_without_quitting() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    open_shift(&mut store);
    let mut st = locked_state(&store, 0);
    run(&mut st, &mut store, keys("1234\n"));
    // Anna starts a sale.
    run(&mut st, &mut store, keys("4001\n"));
    assert_eq!(st.sales.cart.lines().len(), 1);
    run(&mut st, &mut store, vec![key(KeyCode::F(12))]);
    assert!(st.locked());
    assert!(!st.quit);
    assert_eq!(message(&st), "locked: Anna Berg was logged in");
    run(&mut st, &mut store, vec![key(KeyCode::Down)]);
    run(&mut st, &mut store, keys("9876\n"));
    assert_eq!(current(&st).as_deref(), Some("Max Ruiz"));
    // The cart waited behind the lock.
    assert_eq!(st.sales.cart.lines().len(), 1);
}

#[test]
fn the_idle_time_locks_and_a_key_restarts_it() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 60);
    assert!(!st.needs_tick(), "no idle clock while locked");
    run(&mut st, &mut store, keys("1234\n"));
    assert!(st.needs_tick());
    run(
        &mut st,
        &mut store,
        vec![Action::Tick(now() + Duration::seconds(59))],
    );
    assert!(!st.locked());
    // A key at 59 s starts the idle time again.
    st.now = now() + Duration::seconds(59);
    run(&mut st, &mut store, keys("4"));
    run(
        &mut st,
        &mut store,
        vec![Action::Tick(now() + Duration::seconds(100))],
    );
    assert!(!st.locked());
    run(
        &mut st,
        &mut store,
        vec![Action::Tick(now() + Duration::seconds(119))],
    );
    assert!(st.locked());
    assert_eq!(
        message(&st),
        "locked after 60 s without a key: Anna Berg was logged in"
    );
}

#[test]
fn ctrl_c_still_quits_from_the_login() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = locked_state(&store, 0);
    let cmds = run(&mut st, &mut store, vec![ctrl('c')]);
    assert!(st.quit);
    assert_eq!(cmds, vec![Command::Quit]);
}

fn popup(st: &State) -> Option<kassa::tui::state::Popup> {
    st.popup.clone()
}

fn logged_in(store: &mut FakeStore) -> State {
    let mut st = locked_state(store, 0);
    run(&mut st, store, keys("1234\n"));
    st
}

#[test]
fn login_without_an_open_shift_offers_one_and_no_sale_rings_up_before() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = logged_in(&mut store);
    assert_eq!(st.context(), Context::ShiftOpen);
    // Not now: then a sale is refused and the form comes back.
    run(&mut st, &mut store, vec![key(KeyCode::Esc)]);
    assert_eq!(st.context(), Context::SalesEntry);
    let cmds = run(&mut st, &mut store, keys("4001\n"));
    assert!(
        !cmds.iter().any(|c| matches!(c, Command::LookupCode { .. })),
        "{cmds:?}"
    );
    assert_eq!(st.context(), Context::ShiftOpen);
    let flash = st
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert_eq!(flash, "no open shift: count the opening float first");
    // A bad float is one clear line and nothing is sent.
    let cmds = run(&mut st, &mut store, keys("abc\n"));
    assert!(cmds.is_empty());
    assert_eq!(st.context(), Context::ShiftOpen);
    run(&mut st, &mut store, vec![key(KeyCode::Esc)]);
    run(&mut st, &mut store, vec![key(KeyCode::F(11))]);
    let cmds = run(&mut st, &mut store, keys("150.00\n"));
    assert!(cmds.contains(&Command::OpenShift {
        staff_id: Some(store.staff[0].view.id),
        float_cents: 15000
    }));
    assert!(st.staff.as_ref().expect("gate").shift.is_some());
    // Now the sale goes ahead: the code typed before is still in the field.
    assert_eq!(st.sales.input.value(), "4001");
    let cmds = run(&mut st, &mut store, keys("\n"));
    assert!(cmds.iter().any(|c| matches!(c, Command::LookupCode { .. })));
    assert_eq!(st.sales.cart.lines().len(), 1);
}

#[test]
fn paid_out_needs_a_reason_and_the_x_report_shows_the_totals() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = logged_in(&mut store);
    run(&mut st, &mut store, keys("100\n"));
    run(&mut st, &mut store, vec![key(KeyCode::F(11))]);
    assert_eq!(st.context(), Context::ShiftMenu);
    run(&mut st, &mut store, keys("o"));
    assert_eq!(st.context(), Context::ShiftCash);
    // Amount, Enter moves to the reason; Enter without one is refused.
    let cmds = run(&mut st, &mut store, keys("12.50\n\n"));
    assert!(cmds.is_empty());
    assert_eq!(
        st.flash.as_ref().map(|f| f.text.as_str()),
        Some("a paid-out needs a reason")
    );
    let cmds = run(&mut st, &mut store, keys("window cleaner\n"));
    assert!(cmds.contains(&Command::CashMovement {
        staff_id: Some(store.staff[0].view.id),
        kind: kassa::tui::model::CashKind::Out,
        amount_cents: 1250,
        reason: "window cleaner".into(),
        approved_by: None,
    }));
    assert_eq!(store.paid_out, 1250);
    run(&mut st, &mut store, vec![key(KeyCode::F(11))]);
    run(&mut st, &mut store, keys("x"));
    match popup(&st) {
        Some(kassa::tui::state::Popup::Shift(kassa::tui::shift::ShiftForm::Report(Some(t)))) => {
            assert_eq!(t.expected_cash_cents, 10000 - 1250);
        }
        other => panic!("no X report: {other:?}"),
    }
}

#[test]
fn the_blind_close_sends_the_count_before_anything_expected_is_known() {
    let mut store = FakeStore {
        staff: two_staff(),
        ..FakeStore::default()
    };
    let mut st = logged_in(&mut store);
    run(&mut st, &mut store, keys("100\n"));
    run(&mut st, &mut store, vec![key(KeyCode::F(11))]);
    run(&mut st, &mut store, keys("c"));
    assert_eq!(st.context(), Context::ShiftCount);
    // By denomination: 1 × 50.00, 2 × 20.00, 1 × 5.00 = 95.00.
    run(&mut st, &mut store, vec![key(KeyCode::Tab)]);
    run(
        &mut st,
        &mut store,
        vec![key(KeyCode::Down), key(KeyCode::Down), key(KeyCode::Down)],
    );
    run(&mut st, &mut store, keys("1"));
    run(&mut st, &mut store, vec![key(KeyCode::Down)]);
    run(&mut st, &mut store, keys("2"));
    run(
        &mut st,
        &mut store,
        vec![key(KeyCode::Down), key(KeyCode::Down)],
    );
    run(&mut st, &mut store, keys("1"));
    let cmds = run(&mut st, &mut store, vec![key(KeyCode::Enter)]);
    assert!(cmds.contains(&Command::CloseShift {
        staff_id: Some(store.staff[0].view.id),
        counted_cents: 9500
    }));
    match popup(&st) {
        Some(kassa::tui::state::Popup::Shift(kassa::tui::shift::ShiftForm::Closed(c))) => {
            assert_eq!(c.expected_cents, 10000);
            assert_eq!(c.over_short_cents, -500);
        }
        other => panic!("no close result: {other:?}"),
    }
    assert!(st.staff.as_ref().expect("gate").shift.is_none());
}
