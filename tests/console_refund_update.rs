//! Refunds and post-voids through the pure `update`: key sequences, the commands they send
//! and what the console shows before and after the store answers.

mod console_support;

use console_support::*;
use crossterm::event::KeyCode;
use kassa::domain::{OpKind, OpState, ReceiptRef, TenderKind};
use kassa::tui::action::{Action, Command};
use kassa::tui::model::ReceiptPurpose;
use kassa::tui::refund::RefundStep;
use kassa::tui::state::{Confirm, FlashLevel, Popup, State};
use kassa::tui::update;

fn flash(st: &State) -> String {
    st.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

fn step(st: &State) -> Option<RefundStep> {
    st.refund.as_ref().map(|r| r.step)
}

/// A till that sold 3 × milk, 1 × bread (#1, cash) and 2 × coffee (#2, card).
fn till_with_sales() -> (State, FakeStore) {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.start(&mut st);
    store.drive_all(&mut st, keys("3*4001\n4002\n"));
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive(&mut st, key(KeyCode::Enter));
    store.drive_all(&mut st, keys("2*4003\n"));
    store.drive(&mut st, key(KeyCode::F(6)));
    assert_eq!(store.sales.len(), 2, "{}", flash(&st));
    (st, store)
}

/// Opens refund mode and looks up `receipt`.
fn look_up(st: &mut State, store: &mut FakeStore, receipt: &str) {
    store.drive(st, key(KeyCode::F(10)));
    assert_eq!(step(st), Some(RefundStep::Receipt));
    store.drive_all(st, keys(&format!("{receipt}\n")));
}

#[test]
fn f10_opens_refund_mode_but_not_while_a_sale_is_open() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    store.drive(&mut st, key(KeyCode::F(10)));
    assert!(st.refund.is_none());
    assert!(flash(&st).contains("pay it or void it"), "{}", flash(&st));
    assert_eq!(st.sales.cart.lines().len(), 1, "the sale is untouched");

    let mut st = state(80, 24, false);
    store.drive(&mut st, key(KeyCode::F(10)));
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    // Esc with an empty field goes back to selling.
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.refund.is_none());
}

#[test]
fn a_receipt_number_is_looked_up_and_its_lines_shown_with_what_is_left() {
    let (mut st, mut store) = till_with_sales();
    store.drive(&mut st, key(KeyCode::F(10)));
    let mut cmds = Vec::new();
    for a in keys("1\n") {
        cmds.extend(update(&mut st, a));
    }
    assert_eq!(
        cmds,
        vec![Command::LookupReceipt {
            receipt: ReceiptRef::Seq(1),
            purpose: ReceiptPurpose::Refund
        }]
    );
    assert_eq!(
        step(&st),
        Some(RefundStep::Receipt),
        "nothing before the answer"
    );
    let answer = store.answer(&cmds[0]).expect("answer");
    store.drive(&mut st, answer);
    let r = st.refund.as_ref().expect("refund mode");
    assert_eq!(r.step, RefundStep::Lines);
    assert_eq!(r.receipt.as_ref().and_then(|v| v.seq), Some(1));
    let skus: Vec<_> = r.lines.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["4001", "4002"]);
    assert!(r.lines.iter().all(|l| l.qty == 0 && l.restock));
}

#[test]
fn a_receipt_is_found_by_its_sale_id_with_or_without_hyphens() {
    let (mut st, mut store) = till_with_sales();
    let id = store.sales[1].sale_id();
    look_up(&mut st, &mut store, &id.simple().to_string().to_uppercase());
    let r = st.refund.as_ref().expect("refund mode");
    assert_eq!(r.step, RefundStep::Lines, "{}", flash(&st));
    assert_eq!(r.receipt.as_ref().map(|v| v.sale_id), Some(id));
    // The hyphenated form and `#seq` as printed work too.
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive_all(&mut st, keys(&format!("{id}\n")));
    assert_eq!(step(&st), Some(RefundStep::Lines), "{}", flash(&st));
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive_all(&mut st, keys("#2\n"));
    assert_eq!(step(&st), Some(RefundStep::Lines), "{}", flash(&st));
}

#[test]
fn an_unknown_receipt_says_so_and_changes_nothing() {
    let (mut st, mut store) = till_with_sales();
    let ops = store.ops.len();
    look_up(&mut st, &mut store, "99");
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    assert!(flash(&st).contains("unknown receipt #99"), "{}", flash(&st));
    assert_eq!(st.flash.as_ref().map(|f| f.level), Some(FlashLevel::Error));
    assert_eq!(store.ops.len(), ops);
}

#[test]
fn a_voided_sale_cannot_be_refunded() {
    let (mut st, mut store) = till_with_sales();
    store.sales[0].voided = true;
    look_up(&mut st, &mut store, "1");
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    assert!(flash(&st).contains("was voided"), "{}", flash(&st));
}

#[test]
fn return_quantities_stay_within_what_is_left_to_refund() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    let qty = |st: &State, i: usize| st.refund.as_ref().map(|r| r.lines[i].qty);
    store.drive_all(&mut st, keys("++"));
    assert_eq!(qty(&st, 0), Some(2));
    store.drive_all(&mut st, keys("++"));
    assert_eq!(qty(&st, 0), Some(3), "3 were sold");
    assert!(flash(&st).contains("only 3 left"), "{}", flash(&st));
    store.drive_all(&mut st, keys("-"));
    assert_eq!(qty(&st, 0), Some(2));
    // A typed number and Enter sets it; more than is left is refused.
    store.drive_all(&mut st, keys("7\n"));
    assert_eq!(qty(&st, 0), Some(2));
    store.drive_all(&mut st, keys("1\n"));
    assert_eq!(qty(&st, 0), Some(1));
    // `a` takes all that is left of a line, Del none of it; letters are not typed.
    store.drive(&mut st, key(KeyCode::Down));
    store.drive_all(&mut st, keys("a"));
    assert_eq!(qty(&st, 1), Some(1));
    store.drive(&mut st, key(KeyCode::Delete));
    assert_eq!(qty(&st, 1), Some(0));
    store.drive_all(&mut st, keys("xyz"));
    assert_eq!(
        st.refund.as_ref().map(|r| r.input.value().to_string()),
        Some(String::new())
    );
}

#[test]
fn what_other_refunds_took_back_is_not_refundable_again() {
    let (mut st, mut store) = till_with_sales();
    store.sales[0].refunded[0] = 2;
    look_up(&mut st, &mut store, "1");
    store.drive_all(&mut st, keys("a"));
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].qty), Some(1));
    store.drive_all(&mut st, keys("+"));
    assert!(flash(&st).contains("only 1 left"), "{}", flash(&st));
}

#[test]
fn f8_marks_a_line_damaged_and_back() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive(&mut st, key(KeyCode::F(8)));
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].restock), Some(false));
    assert!(flash(&st).contains("damaged"), "{}", flash(&st));
    store.drive(&mut st, key(KeyCode::F(8)));
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].restock), Some(true));
}

#[test]
fn paying_back_needs_something_chosen() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive(&mut st, key(KeyCode::F(5)));
    assert!(st.popup.is_none());
    assert!(
        flash(&st).contains("choose what comes back"),
        "{}",
        flash(&st)
    );
}

#[test]
fn a_partial_refund_is_confirmed_then_committed_and_refunded_only_after_the_answer() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive_all(&mut st, keys("2\n"));
    store.drive(&mut st, key(KeyCode::Down));
    store.drive_all(&mut st, keys("a"));
    store.drive(&mut st, key(KeyCode::F(8)));
    store.drive(&mut st, key(KeyCode::F(6)));
    assert!(matches!(st.popup, Some(Popup::Refund(_))), "{:?}", st.popup);
    let mut cmds = Vec::new();
    for a in keys("wrong size") {
        cmds.extend(update(&mut st, a));
    }
    assert!(cmds.is_empty(), "typing the reason commits nothing");
    cmds.extend(update(&mut st, key(KeyCode::Enter)));
    let [Command::CommitRefund { order, policy, .. }] = cmds.as_slice() else {
        panic!("one commit: {cmds:?}");
    };
    assert_eq!(order.sale_id, Some(store.sales[0].sale_id()));
    assert_eq!(*policy, st.refund_policy);
    assert_eq!(order.tender, TenderKind::Card);
    assert_eq!(order.reason, "wrong size");
    let lines: Vec<_> = order
        .lines
        .iter()
        .map(|l| (l.original_line_no, l.sku.as_str(), l.qty, l.restock))
        .collect();
    assert_eq!(
        lines,
        [(Some(1), "4001", 2, true), (Some(2), "4002", 1, false)]
    );
    // Before the store answers: saving, not refunded; keys change nothing.
    assert!(st.refund.as_ref().is_some_and(|r| r.committing));
    assert!(!flash(&st).contains("refunded"));
    store.drive_all(&mut st, keys("+"));
    assert!(st.refund.as_ref().is_some_and(|r| r.lines[0].qty == 2));

    let answer = store.answer(&cmds[0]).expect("answer");
    store.drive(&mut st, answer);
    assert!(st.refund.is_none(), "back to selling");
    // 2 of 3 milk at 1.19 and the bread: what was paid for them, back on the card.
    assert_eq!(flash(&st), "refunded #3 · 4.87 back to the card");
    assert_eq!(st.sales.last_refund.as_ref().map(|r| r.seq), Some(3));
    assert_eq!(store.sales[0].refunded, [2, 1]);
    // The queue and the status were reloaded after the commit.
    assert!(store
        .commands
        .iter()
        .rev()
        .take(3)
        .any(|c| matches!(c, Command::LoadQueue { .. })));
}

#[test]
fn esc_in_the_confirmation_goes_back_and_commits_nothing() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "2");
    store.drive_all(&mut st, keys("a"));
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive_all(&mut st, keys("changed mind"));
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.popup.is_none());
    assert_eq!(step(&st), Some(RefundStep::Lines));
    assert!(!store
        .commands
        .iter()
        .any(|c| matches!(c, Command::CommitRefund { .. })));
}

#[test]
fn a_refusal_by_the_store_keeps_the_refund_open_and_says_not_refunded() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive_all(&mut st, keys("3\n"));
    // Meanwhile another refund on this till took one back (the lookup is stale now).
    store.sales[0].refunded[0] = 1;
    let ops = store.ops.len();
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive(&mut st, key(KeyCode::Enter));
    let r = st.refund.as_ref().expect("still in refund mode");
    assert!(!r.committing);
    assert_eq!(r.lines[0].qty, 3);
    assert!(flash(&st).starts_with("NOT refunded"), "{}", flash(&st));
    assert!(flash(&st).contains("at most 2 more"), "{}", flash(&st));
    assert_eq!(store.ops.len(), ops, "nothing queued");
    assert_eq!(store.sales[0].refunded[0], 1);
}

#[test]
fn a_refund_without_a_receipt_takes_codes_and_needs_a_reason() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive(&mut st, key(KeyCode::F(10)));
    store.drive(&mut st, key(KeyCode::F(10)));
    assert_eq!(step(&st), Some(RefundStep::Blind));
    store.drive_all(&mut st, keys("2*4001\n4002\n4001\n999\n"));
    assert!(flash(&st).contains("unknown code 999"), "{}", flash(&st));
    let lines: Vec<_> = st
        .refund
        .as_ref()
        .map(|r| r.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect())
        .unwrap_or_default();
    assert_eq!(lines, [("4001".to_string(), 3), ("4002".to_string(), 1)]);
    // The line scanned last is selected: Del removes it.
    store.drive(&mut st, key(KeyCode::Delete));
    assert_eq!(st.refund.as_ref().map(|r| r.lines.len()), Some(1));
    store.drive(&mut st, key(KeyCode::F(5)));
    assert!(matches!(&st.popup, Some(Popup::Refund(f)) if f.blind));
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(flash(&st).contains("needs a reason"), "{}", flash(&st));
    assert!(
        matches!(st.popup, Some(Popup::Refund(_))),
        "the form stays open"
    );
    store.drive_all(&mut st, keys("no receipt, regular\n"));
    assert!(flash(&st).starts_with("refunded #1"), "{}", flash(&st));
    let order = &store.refunds[0];
    assert_eq!(order.sale_id, None);
    assert_eq!(order.reason, "no receipt, regular");
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].original_line_no, None);
    assert_eq!(
        (order.lines[0].sku.as_str(), order.lines[0].qty),
        ("4002", 1)
    );
}

#[test]
fn esc_steps_back_from_the_lines_to_the_receipt_and_out() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive_all(&mut st, keys("+"));
    store.drive(&mut st, key(KeyCode::Esc));
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    assert!(st.refund.as_ref().is_some_and(|r| r.lines.is_empty()));
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.refund.is_none());
}

#[test]
fn quitting_with_a_refund_chosen_asks_first() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive_all(&mut st, keys("+q"));
    assert_eq!(
        st.popup,
        Some(Popup::Confirm(Confirm::QuitDiscardingRefund))
    );
    assert!(!st.quit);
    store.drive_all(&mut st, keys("n"));
    assert!(st.popup.is_none());
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].qty), Some(1));
}

#[test]
fn f4_on_a_looked_up_receipt_voids_the_sale_after_a_reason_and_enter() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "2");
    store.drive(&mut st, key(KeyCode::F(4)));
    assert!(matches!(st.popup, Some(Popup::Void(_))), "{:?}", st.popup);
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(flash(&st).contains("needs a reason"), "{}", flash(&st));
    assert!(!store.sales[1].voided);
    let mut cmds = Vec::new();
    for a in keys("customer left\n") {
        cmds.extend(update(&mut st, a));
    }
    assert_eq!(
        cmds,
        vec![Command::CommitVoid {
            sale_id: store.sales[1].sale_id(),
            reason: "customer left".into(),
            zone: zone(),
            approved_by: None,
        }]
    );
    assert!(!flash(&st).contains("voided sale"), "not before the answer");
    let answer = store.answer(&cmds[0]).expect("answer");
    store.drive(&mut st, answer);
    assert!(store.sales[1].voided);
    assert!(
        flash(&st).starts_with("voided sale #2 as #3"),
        "{}",
        flash(&st)
    );
    assert!(
        st.refund.is_none(),
        "nothing left to refund of a voided sale"
    );
}

#[test]
fn v_on_a_sale_in_the_queue_opens_the_void_form_and_esc_changes_nothing() {
    let (mut st, mut store) = till_with_sales();
    store.drive(&mut st, key(KeyCode::F(2)));
    // Newest first: #2 is selected.
    store.drive_all(&mut st, keys("v"));
    let Some(Popup::Void(form)) = &st.popup else {
        panic!("void form: {:?} / {}", st.popup, flash(&st));
    };
    assert_eq!(form.receipt.seq, Some(2));
    store.drive_all(&mut st, keys("oops"));
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.popup.is_none());
    assert!(!store.sales.iter().any(|s| s.voided));
    assert!(!store
        .commands
        .iter()
        .any(|c| matches!(c, Command::CommitVoid { .. })));
}

#[test]
fn v_in_the_op_detail_voids_that_sale() {
    let (mut st, mut store) = till_with_sales();
    store.drive(&mut st, key(KeyCode::F(2)));
    store.drive(&mut st, key(KeyCode::Down));
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(matches!(st.popup, Some(Popup::OpDetail { .. })));
    store.drive_all(&mut st, keys("v"));
    assert!(matches!(&st.popup, Some(Popup::Void(f)) if f.receipt.seq == Some(1)));
    store.drive_all(&mut st, keys("walked out\n"));
    assert!(store.sales[0].voided);
}

#[test]
fn only_a_sale_can_be_voided_and_only_once() {
    let (mut st, mut store) = till_with_sales();
    store.push_op(OpKind::StockCount, OpState::Pending, None);
    store.drive(&mut st, key(KeyCode::F(2)));
    store.drive(&mut st, Action::StoreChanged);
    store.drive_all(&mut st, keys("v"));
    assert!(st.popup.is_none());
    assert!(
        flash(&st).contains("only a sale can be voided"),
        "{}",
        flash(&st)
    );

    store.sales[1].voided = true;
    store.drive(&mut st, key(KeyCode::Down));
    store.drive_all(&mut st, keys("v"));
    assert!(st.popup.is_none());
    assert!(flash(&st).contains("already voided"), "{}", flash(&st));
}

#[test]
fn a_partly_refunded_sale_is_not_offered_for_a_void() {
    let (mut st, mut store) = till_with_sales();
    store.sales[0].refunded[0] = 1;
    look_up(&mut st, &mut store, "1");
    store.drive(&mut st, key(KeyCode::F(4)));
    assert!(st.popup.is_none());
    assert!(
        flash(&st).contains("refund the rest instead"),
        "{}",
        flash(&st)
    );
}

#[test]
fn a_void_the_store_refuses_says_not_voided() {
    let (mut st, mut store) = till_with_sales();
    look_up(&mut st, &mut store, "1");
    store.drive(&mut st, key(KeyCode::F(4)));
    // Another console voided it meanwhile.
    store.sales[0].voided = true;
    let ops = store.ops.len();
    store.drive_all(&mut st, keys("again\n"));
    assert!(flash(&st).starts_with("NOT voided"), "{}", flash(&st));
    assert!(flash(&st).contains("already voided"), "{}", flash(&st));
    assert_eq!(store.ops.len(), ops);
}

#[test]
fn a_refund_without_a_receipt_over_the_limit_is_refused_and_stays_open() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    assert_eq!(
        st.refund_policy.blind_max_cents, 5000,
        "the config's default"
    );
    store.drive(&mut st, key(KeyCode::F(10)));
    store.drive(&mut st, key(KeyCode::F(10)));
    store.drive_all(&mut st, keys("9*4003\n"));
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive_all(&mut st, keys("gift\n"));
    assert!(flash(&st).starts_with("NOT refunded"), "{}", flash(&st));
    assert!(flash(&st).contains("limited to 50.00"), "{}", flash(&st));
    assert!(store.refunds.is_empty());
    assert_eq!(step(&st), Some(RefundStep::Blind));
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].qty), Some(9));
}

#[test]
fn cash_refunds_are_cash_rounded_like_cash_sales() {
    let mut st = state(80, 24, false);
    st.settings.cash_rounding = 5;
    st.refund_policy.cash_rounding = 5;
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    store.drive(&mut st, key(KeyCode::F(6)));
    store.drive(&mut st, key(KeyCode::F(10)));
    store.drive_all(&mut st, keys("1\na"));
    assert_eq!(
        kassa::tui::refund::paid_back(st.refund.as_ref().expect("refund"), TenderKind::Cash, 5),
        Ok(120),
        "1.19 in cash rounds to 1.20"
    );
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive(&mut st, key(KeyCode::Enter));
    assert_eq!(flash(&st), "refunded #2 · 1.20 back in cash");
}

/// Another till's sale of 2 × milk, as the server would return it.
fn other_tills_sale() -> FakeSale {
    let mut cart = kassa::domain::Cart::new(kassa::domain::Currency::EUR);
    cart.add(&catalog()[0], 2).expect("a line");
    let settlement =
        kassa::domain::tender::settle(238, kassa::domain::Payment::Card, 0, cart.currency)
            .expect("settled");
    let sale_id = uuid::Uuid::parse_str("0e4e0000-0000-4000-8000-000000000042").expect("uuid");
    FakeSale {
        seq: 42,
        sale: kassa::domain::CompletedSale::new(
            sale_id,
            "2026-11-28T16:00:00.000Z".into(),
            &cart,
            &settlement,
        )
        .expect("sale"),
        refunded: vec![1],
        voided: false,
        own: false,
    }
}

#[test]
fn another_tills_receipt_is_asked_of_the_server_and_then_refundable() {
    let mut st = state(80, 24, false);
    st.server_lookup = true;
    let mut store = FakeStore::default();
    let other = other_tills_sale();
    let code = other.sale_id().simple().to_string();
    store.server_sales.push(other);
    store.drive(&mut st, key(KeyCode::F(10)));
    store.drive_all(&mut st, keys(&format!("{code}\n")));
    assert!(store
        .commands
        .iter()
        .any(|c| matches!(c, Command::LookupSaleOnServer { .. })));
    let r = st.refund.as_ref().expect("refund mode");
    assert_eq!(r.step, RefundStep::Lines, "{}", flash(&st));
    let v = r.receipt.as_ref().expect("the receipt");
    assert_eq!(v.seq, None, "not this till's");
    assert_eq!(v.label(), "0e4e0000");
    // The other till already refunded one of the two.
    store.drive_all(&mut st, keys("a"));
    assert_eq!(st.refund.as_ref().map(|r| r.lines[0].qty), Some(1));
    store.drive(&mut st, key(KeyCode::F(6)));
    store.drive(&mut st, key(KeyCode::Enter));
    assert_eq!(flash(&st), "refunded #1 · 1.19 back to the card");
}

#[test]
fn another_tills_receipt_with_the_server_unreachable_or_unknown_says_why() {
    let mut st = state(80, 24, false);
    st.server_lookup = true;
    let mut store = FakeStore {
        server_down: true,
        ..FakeStore::default()
    };
    let code = other_tills_sale().sale_id().simple().to_string();
    look_up(&mut st, &mut store, &code);
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    assert!(flash(&st).contains("could not be asked"), "{}", flash(&st));

    store.server_down = false;
    store.drive_all(&mut st, keys("\n"));
    assert_eq!(step(&st), Some(RefundStep::Receipt));
    assert!(
        flash(&st).contains("no till of this store sold it"),
        "{}",
        flash(&st)
    );

    // Without a server, the console says so instead of asking.
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    look_up(&mut st, &mut store, &code);
    assert!(!store
        .commands
        .iter()
        .any(|c| matches!(c, Command::LookupSaleOnServer { .. })));
    assert!(flash(&st).contains("needs a server"), "{}", flash(&st));
}

#[test]
fn f4_right_after_a_sale_offers_to_void_that_sale() {
    let (mut st, mut store) = till_with_sales();
    store.drive(&mut st, key(KeyCode::F(4)));
    let Some(Popup::Void(form)) = &st.popup else {
        panic!("void form: {:?} / {}", st.popup, flash(&st));
    };
    assert_eq!(form.receipt.seq, Some(2), "the sale just saved");
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(!store.sales[1].voided);
    // Once the next sale has started, F4 is about that sale again.
    store.drive_all(&mut st, keys("4001\n"));
    store.drive(&mut st, key(KeyCode::F(4)));
    assert_eq!(st.popup, Some(Popup::Confirm(Confirm::VoidSale)));
}

#[test]
fn an_over_refund_is_resolved_with_l_or_u_through_the_confirmation_form() {
    let mut store = FakeStore {
        conflicts: vec![conflict(
            "0fe4f0d0-0000-4000-8000-000000000001",
            "over_refund",
            "4001",
            serde_json::json!({"refund_id": "8e1f0000-0000-4000-8000-000000000007",
                               "sold_qty": 2, "refunded_qty": 3, "this_refund_qty": 2,
                               "excess_qty": 1, "amount_cents": 119}),
        )],
        ..FakeStore::default()
    };
    let mut st = state(80, 24, false);
    store.start(&mut st);
    store.drive(&mut st, key(KeyCode::F(3)));
    // `a` belongs to other kinds: refused with the kind's own actions.
    store.drive_all(&mut st, keys("a"));
    assert!(st.popup.is_none());
    assert!(
        flash(&st).contains("over_refund allows: accept_loss, follow_up"),
        "{}",
        flash(&st)
    );
    store.drive_all(&mut st, keys("u"));
    assert!(matches!(&st.popup, Some(Popup::Resolve(f)) if f.action == "follow_up"));
    store.drive(&mut st, key(KeyCode::Esc));
    store.drive_all(&mut st, keys("lbooked\n"));
    let queued: Vec<_> = store
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::QueueResolution { action, note, .. } => Some((action.clone(), note.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        queued,
        [("accept_loss".to_string(), Some("booked".to_string()))]
    );
    assert_eq!(
        store.conflicts[0].queued_action.as_deref(),
        Some("accept_loss")
    );
}
