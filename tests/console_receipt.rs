//! The receipt in the console, through the pure `update` and a `TestBackend`: on screen after
//! a sale and on demand, printed after the sale and again as a copy, a failed print shown and
//! printed again from the console; an insta snapshot of the popup.

mod console_support;

use console_support::*;
use crossterm::event::KeyCode;
use kassa::tui::action::{Action, Command};
use kassa::tui::receipt::PrintState;
use kassa::tui::state::{Focus, Popup, State};

/// A console with a printer that prints each sale's receipt once it is saved.
fn with_printer(w: u16, h: u16, store: &mut FakeStore) -> State {
    let mut st = state(w, h, false);
    st.receipts.printer = true;
    st.receipts.print_after_sale = true;
    store.start(&mut st);
    st
}

/// Milk, bread and coffee paid with 20.00 in cash: sale #1.
fn sell(st: &mut State, store: &mut FakeStore) {
    store.drive_all(st, keys("4001\n4002\n4003\n"));
    store.drive(st, key(KeyCode::F(5)));
    store.drive_all(st, keys("20\n"));
}

fn receipt_lines(st: &State) -> Vec<String> {
    match &st.popup {
        Some(Popup::Receipt(p)) => p.shown.lines.clone(),
        other => panic!("no receipt on screen: {other:?}"),
    }
}

#[test]
fn a_saved_sale_shows_its_receipt_and_prints_it_once_it_is_saved() {
    let mut store = FakeStore::default();
    let mut st = with_printer(80, 24, &mut store);
    sell(&mut st, &mut store);
    let lines = receipt_lines(&st);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("RECEIPT") && l.ends_with("#1")));
    assert!(lines.iter().any(|l| l.contains("Coffee beans 250g")));
    // The commit came first; the print was asked for only after the store said "saved".
    let commit = store
        .commands
        .iter()
        .position(|c| matches!(c, Command::CommitSale { .. }))
        .expect("committed");
    let print = store
        .commands
        .iter()
        .position(|c| matches!(c, Command::PrintReceipt { .. }))
        .expect("printed");
    assert!(commit < print);
    assert_eq!(store.printed, vec![(1, false)]);
    assert_eq!(
        st.receipts.state_of(1),
        Some(&PrintState::Printed { copy: false })
    );
    let screen = screen_text(&st, 80, 24);
    assert!(screen.contains("Receipt #1"), "{screen}");
    assert!(screen.contains("p reprint (copy)"), "{screen}");
    // `p` prints it again: a copy.
    store.drive(&mut st, key(KeyCode::Char('p')));
    assert_eq!(store.printed, vec![(1, false), (1, true)]);
    assert!(screen_text(&st, 80, 24).contains("copy printed"));
    // Esc closes it; the sale stays saved and the till is ready for the next one.
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.popup.is_none());
    assert!(st.sales.cart.is_empty());
}

#[test]
fn the_next_scan_closes_the_receipt_and_starts_the_next_sale() {
    let mut store = FakeStore::default();
    let mut st = with_printer(80, 24, &mut store);
    sell(&mut st, &mut store);
    assert!(matches!(st.popup, Some(Popup::Receipt(_))));
    store.drive_all(&mut st, keys("4004\n"));
    assert!(st.popup.is_none());
    assert_eq!(st.sales.cart.lines().len(), 1);
    assert_eq!(st.sales.cart.lines()[0].sku, "4004");
}

#[test]
fn without_printing_after_sale_p_prints_the_original_then_copies() {
    let mut store = FakeStore::default();
    let mut st = state(80, 24, false);
    st.receipts.printer = true;
    st.receipts.print_after_sale = false;
    store.start(&mut st);
    sell(&mut st, &mut store);
    assert!(store.printed.is_empty(), "nothing prints on its own");
    assert!(screen_text(&st, 80, 24).contains("p print "));
    store.drive(&mut st, key(KeyCode::Char('p')));
    store.drive(&mut st, key(KeyCode::Char('p')));
    assert_eq!(store.printed, vec![(1, false), (1, true)]);
}

#[test]
fn a_failed_print_shows_and_is_printed_again_from_the_console() {
    let mut store = FakeStore {
        printer_down: Some("printer 127.0.0.1:9100: connection refused".into()),
        ..FakeStore::default()
    };
    let mut st = with_printer(80, 24, &mut store);
    sell(&mut st, &mut store);
    // The sale is saved all the same; the failure is on record and on screen.
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("receipt #1 NOT printed")));
    assert_eq!(store.print_failures, vec![1]);
    assert_eq!(st.heartbeat.local.print_failures, 1);
    let screen = screen_text(&st, 80, 24);
    assert!(
        screen.contains("NOT printed: printer 127.0.0.1:9100"),
        "{screen}"
    );
    assert!(screen.contains("receipts: 1 not printed"), "{screen}");
    // `p` on it prints the original again (it never printed), and fails again.
    store.drive(&mut st, key(KeyCode::Char('p')));
    assert_eq!(store.printed, vec![(1, false), (1, false)]);
    // The printer is back: Ctrl-P sends every failed receipt again, as originals.
    store.printer_down = None;
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive(&mut st, ctrl('p'));
    assert_eq!(store.printed.last(), Some(&(1, false)));
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("printing again: #1")));
    // Its outcome arrives from the print worker and clears the record.
    store.drive(
        &mut st,
        Action::Printed {
            seq: 1,
            result: Ok(()),
        },
    );
    assert!(store.print_failures.is_empty());
    assert_eq!(st.heartbeat.local.print_failures, 0);
}

#[test]
fn the_last_receipt_and_a_queued_sales_receipt_come_back_on_demand() {
    let mut store = FakeStore::default();
    let mut st = with_printer(80, 24, &mut store);
    sell(&mut st, &mut store);
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive(&mut st, ctrl('r'));
    assert!(receipt_lines(&st).iter().any(|l| l.ends_with("#1")));
    store.drive(&mut st, key(KeyCode::Esc));
    // From the queue: the selected sale's receipt.
    store.drive(&mut st, key(KeyCode::F(2)));
    assert_eq!(st.focus, Focus::Queue);
    store.drive(&mut st, key(KeyCode::Char('p')));
    assert!(receipt_lines(&st).iter().any(|l| l.ends_with("#1")));
}

#[test]
fn without_a_printer_the_receipt_shows_and_p_says_so() {
    let mut store = FakeStore::default();
    let mut st = state(80, 24, false);
    store.start(&mut st);
    sell(&mut st, &mut store);
    assert!(matches!(st.popup, Some(Popup::Receipt(_))));
    store.drive(&mut st, key(KeyCode::Char('p')));
    assert!(store.printed.is_empty());
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("no printer is configured")));
}

#[test]
fn receipt_popup_snapshot() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut store = FakeStore::default();
        let mut st = with_printer(w, h, &mut store);
        sell(&mut st, &mut store);
        insta::assert_snapshot!(format!("receipt_popup_{w}x{h}"), screen_text(&st, w, h));
    }
}

#[test]
fn a_receipt_arriving_after_the_cashier_moved_on_does_not_cover_what_they_opened() {
    let mut store = FakeStore::default();
    let mut st = state(80, 24, false);
    store.start(&mut st);
    store.drive_all(&mut st, keys("4001\n"));
    store.drive(&mut st, key(KeyCode::F(5)));
    // Enter pays; the store's answers come back one at a time, as from the executor.
    let mut pending: Vec<Command> = kassa::tui::update(&mut st, key(KeyCode::Enter));
    let mut load = None;
    while let Some(c) = pending.pop() {
        if matches!(c, Command::LoadReceipt { .. }) {
            load = Some(c);
            continue;
        }
        if let Some(a) = store.answer(&c) {
            pending.extend(kassa::tui::update(&mut st, a));
        }
    }
    let load = load.expect("the receipt is asked for after the sale is saved");
    // The cashier opens the help before the receipt arrives: the receipt does not cover it.
    store.drive(&mut st, key(KeyCode::Char('?')));
    assert_eq!(st.popup, Some(Popup::Help));
    let answer = store.answer(&load).expect("answer");
    store.drive(&mut st, answer);
    assert_eq!(st.popup, Some(Popup::Help));
    // Nor does it cover refund mode, opened (F10) before it arrived.
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive(&mut st, key(KeyCode::F(10)));
    assert!(st.refund.is_some());
    // (The same sale's receipt once more, as if it arrived only now.)
    let _ = kassa::tui::receipt::after_sale(&mut st, Some(1));
    let answer = store.answer(&load).expect("answer");
    store.drive(&mut st, answer);
    assert!(st.popup.is_none(), "{:?}", st.popup);
    store.drive(&mut st, key(KeyCode::Esc));
    // On demand it shows.
    store.drive(&mut st, ctrl('r'));
    assert!(matches!(st.popup, Some(Popup::Receipt(_))));
}
