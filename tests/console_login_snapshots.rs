//! Snapshots (TestBackend 80x24, insta) of the login screen and of the header with a cashier
//! logged in. The PIN is drawn as dots only.

mod console_support;

use console_support::*;
use kassa::tui::action::Action;
use kassa::tui::state::State;
use kassa::tui::update;

fn snap(name: &str, st: &State) {
    let text = screen_text(st, st.width, st.height);
    insta::assert_snapshot!(format!("{name}_{}x{}", st.width, st.height), text);
}

fn run(st: &mut State, store: &mut FakeStore, actions: Vec<Action>) {
    let mut todo: std::collections::VecDeque<Action> = actions.into();
    while let Some(a) = todo.pop_front() {
        for c in update(st, a) {
            if let Some(answer) = store.answer(&c) {
                todo.push_back(answer);
            }
        }
    }
}

fn started(store: &mut FakeStore) -> State {
    store.staff = two_staff();
    let mut st = state(80, 24, false);
    st.staff = Some(store.gate(300));
    store.start(&mut st);
    st
}

#[test]
fn pin_prompt_with_digits_typed() {
    let mut store = FakeStore::default();
    let mut st = started(&mut store);
    run(&mut st, &mut store, keys("12"));
    let text = screen_text(&st, 80, 24);
    assert!(!text.contains("12 "), "digits are never drawn");
    snap("login_pin", &st);
}

#[test]
fn pin_prompt_after_a_wrong_pin() {
    let mut store = FakeStore::default();
    let mut st = started(&mut store);
    run(&mut st, &mut store, keys("5555\n"));
    snap("login_wrong", &st);
}

#[test]
fn pin_prompt_locked_out() {
    let mut store = FakeStore::default();
    let mut st = started(&mut store);
    for _ in 0..5 {
        run(&mut st, &mut store, keys("5555\n"));
    }
    snap("login_locked_out", &st);
}

#[test]
fn logged_in_header_shows_the_cashier() {
    let mut store = FakeStore::default();
    let mut st = started(&mut store);
    run(&mut st, &mut store, keys("1234\n"));
    let text = screen_text(&st, 80, 24);
    assert!(text.contains("Anna Berg (cashier)"), "{text}");
    snap("logged_in", &st);
}

fn with_shift(store: &mut FakeStore) -> State {
    let mut st = started(store);
    run(&mut st, store, keys("1234\n"));
    run(&mut st, store, keys("100\n"));
    st
}

#[test]
fn shift_open_offered_after_login() {
    let mut store = FakeStore::default();
    let mut st = started(&mut store);
    run(&mut st, &mut store, keys("1234\n150"));
    snap("shift_open", &st);
}

#[test]
fn blind_count_total_shows_nothing_expected() {
    let mut store = FakeStore::default();
    let mut st = with_shift(&mut store);
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::F(11))],
    );
    run(&mut st, &mut store, keys("c97.5"));
    let text = screen_text(&st, 80, 24);
    assert!(
        !text.contains("100.00"),
        "the blind count shows no expected figure"
    );
    snap("blind_count", &st);
}

#[test]
fn blind_count_by_denomination() {
    let mut store = FakeStore::default();
    let mut st = with_shift(&mut store);
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::F(11))],
    );
    run(&mut st, &mut store, keys("c"));
    run(
        &mut st,
        &mut store,
        vec![
            key(crossterm::event::KeyCode::Tab),
            key(crossterm::event::KeyCode::Down),
            key(crossterm::event::KeyCode::Down),
            key(crossterm::event::KeyCode::Down),
        ],
    );
    run(&mut st, &mut store, keys("1"));
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::Down)],
    );
    run(&mut st, &mut store, keys("2"));
    snap("blind_count_denominations", &st);
}

#[test]
fn over_short_after_the_close() {
    let mut store = FakeStore::default();
    let mut st = with_shift(&mut store);
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::F(11))],
    );
    run(&mut st, &mut store, keys("c97.50\n"));
    let text = screen_text(&st, 80, 24);
    assert!(
        text.contains("SHORT by €2.50") || text.contains("SHORT by"),
        "{text}"
    );
    snap("shift_closed_short", &st);
}

#[test]
fn manager_override_popup_with_a_pin_half_typed() {
    let mut store = FakeStore::default();
    let mut st = with_shift(&mut store);
    run(&mut st, &mut store, keys("4001\n"));
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::F(8))],
    );
    run(&mut st, &mut store, keys("50%\n98"));
    let text = screen_text(&st, 80, 24);
    assert!(
        text.contains("Manager PIN for a discount of 50 %"),
        "{text}"
    );
    assert!(
        !text.contains("98"),
        "the PIN is drawn as dots only:\n{text}"
    );
    snap("override_popup", &st);
}

#[test]
fn manager_override_popup_after_a_wrong_pin() {
    let mut store = FakeStore::default();
    let mut st = with_shift(&mut store);
    run(
        &mut st,
        &mut store,
        vec![key(crossterm::event::KeyCode::F(11))],
    );
    run(&mut st, &mut store, keys("n0000\n"));
    snap("override_wrong_pin", &st);
}
