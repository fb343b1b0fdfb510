//! Key sequences through the pure `update`: what the console's state and commands become.

mod console_support;

use console_support::*;
use crossterm::event::KeyCode;
use kassa::domain::{OpKind, OpState, Payment};
use kassa::tui::action::{Action, Command};
use kassa::tui::sales::SalesMode;
use kassa::tui::state::{FlashLevel, Focus, Popup};
use kassa::tui::update;

#[test]
fn a_scanned_barcode_and_enter_adds_the_line_when_the_lookup_answers() {
    let mut st = state(80, 24, false);
    let mut cmds = Vec::new();
    for a in keys("4000000000017\n") {
        cmds.extend(update(&mut st, a));
    }
    assert_eq!(
        cmds,
        vec![Command::LookupCode {
            code: "4000000000017".into(),
            qty: 1
        }]
    );
    assert!(
        st.sales.cart.is_empty(),
        "nothing is added before the answer"
    );
    assert!(st.sales.in_progress());
    let mut store = FakeStore::default();
    let answer = store.answer(&cmds[0]).expect("answer");
    update(&mut st, answer);
    assert_eq!(st.sales.cart.lines().len(), 1);
    assert_eq!(st.sales.cart.lines()[0].name, "Milk 1L");
}

#[test]
fn scanner_bursts_queue_lookups_in_order() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    let mut cmds = Vec::new();
    for a in keys("4001\n4002\n4003\n") {
        cmds.extend(update(&mut st, a));
    }
    assert_eq!(cmds.len(), 3);
    assert_eq!(st.sales.lookups_in_flight, 3);
    for c in &cmds {
        let a = store.answer(c).expect("answer");
        update(&mut st, a);
    }
    let names: Vec<_> = st
        .sales
        .cart
        .lines()
        .iter()
        .map(|l| l.sku.as_str())
        .collect();
    assert_eq!(names, ["4001", "4002", "4003"]);
}

#[test]
fn an_unknown_code_says_so_and_adds_nothing() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("999\n"));
    assert!(st.sales.cart.is_empty());
    let flash = st.flash.as_ref().expect("a message");
    assert!(flash.text.contains("unknown code 999"), "{}", flash.text);
}

#[test]
fn star_sets_the_quantity_of_the_next_item() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("3*4001\n"));
    assert_eq!(st.sales.cart.lines()[0].qty, 3);
    assert_eq!(st.sales.pending_qty, None);
}

#[test]
fn plus_minus_and_delete_edit_the_selected_line() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n4002\n"));
    store.drive(&mut st, key(KeyCode::Up));
    assert_eq!(st.sales.selected, Some(0));
    store.drive_all(&mut st, keys("++"));
    assert_eq!(st.sales.cart.lines()[0].qty, 3);
    store.drive_all(&mut st, keys("-"));
    assert_eq!(st.sales.cart.lines()[0].qty, 2);
    store.drive(&mut st, key(KeyCode::Delete));
    assert_eq!(st.sales.cart.lines().len(), 1);
    assert_eq!(st.sales.cart.lines()[0].sku, "4002");
}

#[test]
fn minus_never_takes_a_line_below_one() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n-"));
    assert_eq!(st.sales.cart.lines()[0].qty, 1);
    assert!(st.flash.is_some());
}

#[test]
fn price_override_needs_its_key_and_marks_the_line() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4003\n"));
    store.drive(&mut st, key(KeyCode::F(7)));
    assert_eq!(
        st.sales.mode,
        SalesMode::Amount(kassa::tui::sales::AmountKind::UnitPrice)
    );
    store.drive_all(&mut st, keys("4.99\n"));
    let line = &st.sales.cart.lines()[0];
    assert!(line.price_overridden);
    assert_eq!(line.unit_price_cents, 499);
    assert_eq!(st.sales.mode, SalesMode::Entry);
}

#[test]
fn discount_takes_an_amount_or_a_percentage() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("2*4003\n"));
    store.drive(&mut st, key(KeyCode::F(8)));
    store.drive_all(&mut st, keys("10%\n"));
    assert_eq!(st.sales.cart.lines()[0].discount_cents, 120);
    store.drive(&mut st, key(KeyCode::F(8)));
    store.drive_all(&mut st, keys("0.50\n"));
    assert_eq!(st.sales.cart.lines()[0].discount_cents, 50);
}

#[test]
fn cash_with_an_amount_commits_and_shows_saved_only_after_the_answer() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n4002\n4003\n"));
    update(&mut st, key(KeyCode::F(5)));
    let mut cmds = Vec::new();
    for a in keys("20\n") {
        cmds.extend(update(&mut st, a));
    }
    let [Command::CommitSale {
        cart,
        settlement,
        approved_by: None,
    }] = cmds.as_slice()
    else {
        panic!("expected one commit, got {cmds:?}");
    };
    assert_eq!(cart.lines().len(), 3);
    assert_eq!(settlement.due_cents, 967);
    assert_eq!(settlement.change_cents, 1033);
    assert_eq!(st.sales.mode, SalesMode::Committing);
    assert!(
        st.sales.last_saved.is_none(),
        "not saved before the store answers"
    );
    assert!(!screen_text(&st, 80, 24).contains("saved #"));
    let answer = store.answer(&cmds[0]).expect("answer");
    store.drive(&mut st, answer);
    let saved = st.sales.last_saved.clone().expect("saved");
    assert_eq!(saved.change_cents, 1033);
    assert!(st.sales.cart.is_empty());
    assert!(screen_text(&st, 80, 24).contains("saved #1"));
}

#[test]
fn too_little_cash_keeps_the_sale_open() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4003\n"));
    store.drive(&mut st, key(KeyCode::F(5)));
    store.drive_all(&mut st, keys("1\n"));
    assert_eq!(st.sales.cart.lines().len(), 1);
    assert!(store.ops.is_empty());
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("less than")));
}

#[test]
fn card_pays_the_exact_total() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    let cmds = update(&mut st, key(KeyCode::F(6)));
    let [Command::CommitSale { settlement, .. }] = cmds.as_slice() else {
        panic!("expected a commit");
    };
    assert_eq!(settlement.change_cents, 0);
    assert_eq!(settlement.tenders[0].kind, kassa::domain::TenderKind::Card);
    let _ = Payment::Card;
}

#[test]
fn paying_while_a_lookup_is_in_flight_is_refused() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    for a in keys("4002\n") {
        update(&mut st, a);
    }
    let cmds = update(&mut st, key(KeyCode::F(6)));
    assert!(cmds.is_empty());
    assert_ne!(st.sales.mode, SalesMode::Committing);
}

#[test]
fn a_failed_commit_keeps_the_cart_and_says_not_saved() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    update(&mut st, key(KeyCode::F(6)));
    update(&mut st, Action::SaleCommitted(Err("disk full".into())));
    assert_eq!(st.sales.cart.lines().len(), 1);
    assert_eq!(st.sales.mode, SalesMode::Entry);
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("NOT saved")));
}

#[test]
fn search_by_name_adds_the_chosen_product() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("/"));
    assert!(matches!(st.sales.mode, SalesMode::Search { .. }));
    store.drive_all(&mut st, keys("bre"));
    let SalesMode::Search { results, .. } = &st.sales.mode else {
        panic!("still searching");
    };
    assert_eq!(results.len(), 1);
    store.drive(&mut st, key(KeyCode::Enter));
    assert_eq!(st.sales.cart.lines()[0].sku, "4002");
    assert_eq!(st.sales.mode, SalesMode::Entry);
}

#[test]
fn q_with_a_sale_in_progress_asks_first() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.drive_all(&mut st, keys("4001\n"));
    assert!(update(&mut st, key(KeyCode::Char('q'))).is_empty());
    assert!(matches!(st.popup, Some(Popup::Confirm(_))));
    update(&mut st, key(KeyCode::Char('n')));
    assert!(!st.quit);
    update(&mut st, ctrl('c'));
    let cmds = update(&mut st, key(KeyCode::Char('y')));
    assert_eq!(cmds, vec![Command::Quit]);
    assert!(st.quit);
}

#[test]
fn q_with_nothing_in_progress_quits_at_once() {
    let mut st = state(80, 24, false);
    assert_eq!(
        update(&mut st, key(KeyCode::Char('q'))),
        vec![Command::Quit]
    );
}

#[test]
fn q_inside_a_code_is_just_a_character() {
    let mut st = state(80, 24, false);
    update(&mut st, key(KeyCode::Char('a')));
    update(&mut st, key(KeyCode::Char('q')));
    assert_eq!(st.sales.input.value(), "aq");
    assert!(!st.quit);
}

#[test]
fn tab_and_function_keys_move_the_focus() {
    let mut st = state(80, 24, false);
    update(&mut st, key(KeyCode::Tab));
    assert_eq!(st.focus, Focus::Queue);
    update(&mut st, key(KeyCode::F(3)));
    assert_eq!(st.focus, Focus::Conflicts);
    update(&mut st, key(KeyCode::F(1)));
    assert_eq!(st.focus, Focus::Sales);
}

#[test]
fn technician_mode_opens_on_the_queue() {
    let st = state(80, 24, true);
    assert_eq!(st.focus, Focus::Queue);
}

#[test]
fn help_opens_and_closes() {
    let mut st = state(80, 24, false);
    update(&mut st, key(KeyCode::Char('?')));
    assert_eq!(st.popup, Some(Popup::Help));
    update(&mut st, key(KeyCode::Esc));
    assert_eq!(st.popup, None);
}

#[test]
fn the_queue_loads_only_the_visible_window() {
    let mut st = state(80, 24, true);
    let mut store = FakeStore::default();
    for _ in 0..500 {
        store.push_op(OpKind::Sale, OpState::Sent, Some(100));
    }
    store.start(&mut st);
    let page = st.queue.page;
    assert!(page < 20, "page {page}");
    assert_eq!(st.queue.rows.len(), page);
    assert_eq!(st.queue.total, 500);
    store.commands.clear();
    for _ in 0..page - 1 {
        store.drive(&mut st, key(KeyCode::Down));
    }
    assert!(
        store.commands.is_empty(),
        "moving inside the window reads nothing"
    );
    store.drive(&mut st, key(KeyCode::Down));
    assert_eq!(
        store.commands,
        vec![Command::LoadQueue {
            filter: kassa::tui::model::QueueFilterView::All,
            offset: 1,
            limit: page
        }]
    );
    store.drive(&mut st, key(KeyCode::End));
    assert_eq!(st.queue.selected, 499);
    assert_eq!(st.queue.selected_row().map(|r| r.seq), Some(1));
}

#[test]
fn a_rejected_op_can_be_retried_and_others_cannot() {
    let mut st = state(80, 24, true);
    let mut store = FakeStore::default();
    store.push_op(OpKind::Sale, OpState::Sent, Some(100));
    let bad = store.push_op(OpKind::Sale, OpState::Rejected, Some(200));
    store.start(&mut st);
    assert_eq!(st.queue.selected_row().map(|r| r.seq), Some(bad));
    store.drive(&mut st, key(KeyCode::Char('r')));
    assert!(store.commands.contains(&Command::RetryOp { seq: bad }));
    assert_eq!(
        st.queue.selected_row().map(|r| r.state),
        Some(OpState::Pending)
    );
    store.commands.clear();
    store.drive(&mut st, key(KeyCode::Down));
    store.drive(&mut st, key(KeyCode::Char('r')));
    assert!(!store
        .commands
        .iter()
        .any(|c| matches!(c, Command::RetryOp { .. })));
}

#[test]
fn enter_on_the_queue_opens_the_detail_view() {
    let mut st = state(80, 24, true);
    let mut store = FakeStore::default();
    store.push_op(OpKind::Sale, OpState::Pending, Some(100));
    store.start(&mut st);
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(matches!(st.popup, Some(Popup::OpDetail { .. })));
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(st.popup.is_none());
}

#[test]
fn resolving_a_conflict_asks_for_confirmation_and_queues_the_op() {
    let mut st = state(80, 24, true);
    let mut store = FakeStore::default();
    store.conflicts.push(conflict(
        "c0ffee00-0000-4000-8000-000000000001",
        "oversold",
        "4001",
        serde_json::json!({"on_hand": -2, "sold_qty": 3}),
    ));
    store.start(&mut st);
    store.drive(&mut st, key(KeyCode::F(3)));
    // A resolution this kind does not allow is refused with the ones it does.
    store.drive(&mut st, key(KeyCode::Char('m')));
    assert!(st.popup.is_none());
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("accept, recount")));
    store.drive(&mut st, key(KeyCode::Char('c')));
    assert!(matches!(st.popup, Some(Popup::Resolve(_))));
    // Enter without the counted quantity is refused; nothing is queued.
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(matches!(st.popup, Some(Popup::Resolve(_))));
    store.drive_all(&mut st, keys("14"));
    store.drive(&mut st, key(KeyCode::Tab));
    store.drive_all(&mut st, keys("shelf counted"));
    store.drive(&mut st, key(KeyCode::Enter));
    assert!(store.commands.contains(&Command::QueueResolution {
        conflict_id: "c0ffee00-0000-4000-8000-000000000001".into(),
        action: "recount".into(),
        qty: Some(14),
        sku: None,
        note: Some("shelf counted".into()),
    }));
    assert_eq!(st.conflicts.open_count(), 0);
    assert!(st
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("queued as #")));
}

#[test]
fn escape_in_the_resolution_form_queues_nothing() {
    let mut st = state(80, 24, true);
    let mut store = FakeStore::default();
    store.conflicts.push(conflict(
        "c1",
        "price_mismatch",
        "4003",
        serde_json::json!({}),
    ));
    store.start(&mut st);
    store.drive(&mut st, key(KeyCode::F(3)));
    store.drive(&mut st, key(KeyCode::Char('a')));
    store.drive(&mut st, key(KeyCode::Esc));
    assert!(!store
        .commands
        .iter()
        .any(|c| matches!(c, Command::QueueResolution { .. })));
}

#[test]
fn the_tick_is_needed_only_while_something_ages() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.start(&mut st);
    assert!(!st.needs_tick());
    store.push_op(OpKind::Sale, OpState::Pending, Some(100));
    store.drive(&mut st, Action::StoreChanged);
    assert!(st.needs_tick());
}

fn skipped(skipped: usize, cleared: usize, total: i64) -> Action {
    Action::ProductsSkipped {
        skipped,
        cleared,
        total,
    }
}

#[test]
fn products_skipped_by_a_pull_are_announced_and_the_status_reloaded() {
    let mut st = state(80, 24, false);
    let mut store = FakeStore::default();
    store.start(&mut st);
    assert_eq!(st.heartbeat.local.skipped_products, 0);

    // The engine's event becomes the console's action.
    let event = kassa::sync::SyncEvent::ProductsSkipped {
        skipped: 3,
        cleared: 0,
        total: 3,
        skus: vec!["1002".into(), "BIG1".into(), "X".into()],
    };
    let action = kassa::tui::notice::event_action(&event).expect("an action");
    assert_eq!(action, skipped(3, 0, 3));
    let cmds = update(&mut st, action.clone());
    assert_eq!(cmds, vec![Command::LoadStatus], "update only asks for it");
    let flash = st.flash.clone().expect("a notice");
    assert_eq!(flash.level, FlashLevel::Info);
    assert_eq!(
        flash.text,
        "3 products from the server skipped (run kassa doctor)"
    );

    store.skipped_products = 3;
    store.drive(&mut st, action);
    assert_eq!(st.heartbeat.local.skipped_products, 3, "the reloaded count");

    // Cleared by a later pull: said so, and the count reloads to 0.
    store.skipped_products = 0;
    store.drive(&mut st, skipped(0, 3, 0));
    let flash = st.flash.clone().expect("a notice");
    assert_eq!(flash.level, FlashLevel::Success);
    assert!(flash.text.contains("cleared"), "{}", flash.text);
    assert_eq!(st.heartbeat.local.skipped_products, 0);
}

#[test]
fn the_skipped_products_notice_counts_in_words() {
    let text = |a: Action| {
        let mut st = state(80, 24, false);
        update(&mut st, a);
        st.flash.map(|f| f.text)
    };
    assert_eq!(
        text(skipped(1, 0, 1)).as_deref(),
        Some("1 product from the server skipped (run kassa doctor)")
    );
    assert_eq!(
        text(skipped(2, 0, 5)).as_deref(),
        Some("2 products from the server skipped, 5 in all (run kassa doctor)")
    );
    assert_eq!(
        text(skipped(0, 1, 2)).as_deref(),
        Some("1 product cleared, 2 products still skipped from the server (run kassa doctor)")
    );
    assert!(
        text(skipped(2, 0, 0)).is_some_and(|t| t.contains("cleared")),
        "skipped and cleared again within one pull"
    );
    assert_eq!(text(skipped(0, 0, 4)), None, "nothing changed: no notice");
    // Other engine events are still flash lines only.
    let rejected = kassa::sync::SyncEvent::OpRejected {
        seq: 7,
        code: "invalid_payload".into(),
        message: "bad".into(),
    };
    assert!(matches!(
        kassa::tui::notice::event_action(&rejected),
        Some(Action::Notice(FlashLevel::Error, _))
    ));
    assert_eq!(
        kassa::tui::notice::event_action(&kassa::sync::SyncEvent::LeaseAcquired),
        None
    );
}
