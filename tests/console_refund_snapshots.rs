//! Snapshots (TestBackend + insta, 80x24 like a till over SSH, and 120x40) of refund mode,
//! its confirmation, the post-void form, the queue with refunds and voids, and an
//! `over_refund` conflict with its two resolutions.

mod console_support;

use console_support::*;
use crossterm::event::KeyCode;
use kassa::tui::state::State;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn snap(name: &str, st: &State) {
    let text = screen_text(st, st.width, st.height);
    insta::assert_snapshot!(format!("{name}_{}x{}", st.width, st.height), text);
}

/// A till that sold 3 × milk, 1 × bread, 1 × coffee with a 10 % discount (#1, cash) and
/// 2 × dish soap (#2, card).
fn till_with_sales(w: u16, h: u16) -> (State, FakeStore) {
    let mut st = state(w, h, false);
    let mut store = FakeStore::default();
    store.start(&mut st);
    store.drive_all(&mut st, keys("3*4001\n4002\n4003\n"));
    store.drive(&mut st, key(KeyCode::F(8)));
    store.drive_all(&mut st, keys("10%\n"));
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive_all(&mut st, keys("20\n"));
    store.drive_all(&mut st, keys("2*4004\n"));
    store.drive(&mut st, key(KeyCode::F(6)));
    assert_eq!(store.sales.len(), 2);
    (st, store)
}

#[test]
fn refund_mode_asks_for_the_receipt() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("1"));
        snap("refund_receipt", &st);
    }
}

#[test]
fn refund_mode_shows_the_receipt_lines_with_what_is_left_and_what_comes_back() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        // One milk already came back in an earlier refund.
        store.sales[0].refunded[0] = 1;
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("1\n"));
        store.drive_all(&mut st, keys("a"));
        store.drive(&mut st, key(KeyCode::Down));
        store.drive(&mut st, key(KeyCode::Down));
        store.drive_all(&mut st, keys("+"));
        store.drive(&mut st, key(KeyCode::F(8)));
        snap("refund_lines", &st);
    }
}

#[test]
fn refund_confirmation_says_what_goes_back_and_asks_a_reason() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("1\n2\n"));
        store.drive(&mut st, key(KeyCode::Down));
        store.drive(&mut st, key(KeyCode::Down));
        store.drive_all(&mut st, keys("a"));
        store.drive(&mut st, key(KeyCode::F(8)));
        store.drive(&mut st, key(KeyCode::F(5)));
        store.drive_all(&mut st, keys("jar broken"));
        snap("refund_confirm", &st);
    }
}

#[test]
fn a_refund_without_a_receipt_lists_codes_and_needs_a_reason() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("2*4001\n4004\n"));
        snap("refund_blind", &st);
        store.drive(&mut st, key(KeyCode::F(6)));
        snap("refund_blind_confirm", &st);
    }
}

#[test]
fn after_a_refund_the_sales_pane_says_refunded() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("2\n+"));
        store.drive(&mut st, key(KeyCode::F(6)));
        store.drive(&mut st, key(KeyCode::Enter));
        snap("refund_saved", &st);
    }
}

#[test]
fn the_void_form_says_what_is_reversed_and_asks_a_reason() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(2)));
        store.drive(&mut st, key(KeyCode::Down));
        store.drive_all(&mut st, keys("v"));
        store.drive_all(&mut st, keys("customer left"));
        snap("void_form", &st);
    }
}

#[test]
fn the_queue_shows_each_op_kind_in_a_word() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("2\n+"));
        store.drive(&mut st, key(KeyCode::F(6)));
        store.drive(&mut st, key(KeyCode::Enter));
        store.drive(&mut st, key(KeyCode::F(2)));
        store.drive(&mut st, key(KeyCode::End));
        store.drive_all(&mut st, keys("v"));
        store.drive_all(&mut st, keys("walked out\n"));
        store.push_op(
            kassa::domain::OpKind::StockCount,
            kassa::domain::OpState::Pending,
            None,
        );
        store.push_op(
            kassa::domain::OpKind::ResolveConflict,
            kassa::domain::OpState::Pending,
            None,
        );
        store.drive(&mut st, kassa::tui::action::Action::StoreChanged);
        store.drive(&mut st, key(KeyCode::Home));
        snap("queue_kinds", &st);
    }
}

#[test]
fn an_over_refund_conflict_in_words_with_its_two_resolutions() {
    for (w, h) in SIZES {
        let mut store = FakeStore::default();
        let mut c = conflict(
            "0fe4f0d0-0000-4000-8000-000000000001",
            "over_refund",
            "4001",
            serde_json::json!({"refund_id": "8e1f0000-0000-4000-8000-000000000007",
                               "sold_qty": 2, "refunded_qty": 3, "this_refund_qty": 2,
                               "excess_qty": 1, "amount_cents": 119}),
        );
        c.line_no = Some(1);
        c.created_at = Some("2026-11-28T17:02:11.000Z".into());
        store.conflicts = vec![c];
        let mut st = state(w, h, false);
        store.start(&mut st);
        store.drive(&mut st, key(KeyCode::F(3)));
        snap("conflict_over_refund", &st);
        store.drive_all(&mut st, keys("l"));
        store.drive_all(&mut st, keys("booked as loss"));
        snap("resolve_over_refund", &st);
    }
}

#[test]
fn help_in_refund_mode_lists_its_keys_from_the_key_map() {
    for (w, h) in SIZES {
        let (mut st, mut store) = till_with_sales(w, h);
        store.drive(&mut st, key(KeyCode::F(10)));
        store.drive_all(&mut st, keys("1\n?"));
        snap("refund_help", &st);
    }
}
