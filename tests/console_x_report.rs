//! The X report of a shift with refunds, as `kassa report x` prints it and as the console's X
//! card shows it (F11 x), from the same database: cash and card refunds are shown (the card
//! once showed 0 for card refunds and counted cash voids as refunds), and both agree.

mod console_support;
mod support;

use chrono::Utc;
use crossterm::event::KeyCode;
use kassa::domain::tender::settle;
use kassa::domain::{Attribution, Cart, Currency, Payment, Pin, ReceiptRef, Role, TenderKind};
use kassa::store::{Db, RefundItems, StoreHandle, StoreOptions};
use kassa::tui::exec;
use kassa::tui::login::StaffGate;
use kassa::tui::update;

/// Float 100.00; cash sale #2 of 3 milk (3.57), card sale #3 of 2 milk (2.38); one milk of
/// each refunded the way it was paid; a paid-in of 5.00.
fn shift_with_refunds(till: &support::Till) {
    let mut db = Db::open(&till.db, &StoreOptions::default()).expect("open");
    let now = Utc::now();
    let ana = db
        .add_staff(
            "Anna Berg",
            Role::Cashier,
            &Pin::parse("2468").expect("pin"),
            now,
        )
        .expect("staff");
    let who = Attribution::staff(ana.id);
    db.open_shift(10_000, None, &who, now).expect("shift");
    let milk = db.find_product("1001").expect("find").expect("milk");
    for (qty, pay) in [(3, Payment::Cash { given: None }), (2, Payment::Card)] {
        let mut cart = Cart::new(Currency::EUR);
        cart.add(&milk, qty).expect("add");
        let total = cart.totals().expect("totals").total_cents;
        let paid = settle(total, pay, 0, Currency::EUR).expect("settle");
        db.commit_sale_as(&cart, &paid, &who, now).expect("sale");
    }
    let policy = kassa::domain::RefundPolicy {
        cash_rounding: 0,
        blind_max_cents: 5000,
    };
    for (seq, tender) in [(2, TenderKind::Cash), (3, TenderKind::Card)] {
        let picks = vec![kassa::domain::RefundPick {
            original_line_no: 1,
            qty: 1,
            restock: true,
        }];
        db.commit_refund_as(
            &ReceiptRef::Seq(seq),
            &RefundItems::Picks(picks),
            tender,
            "changed mind",
            &policy,
            &who,
            now,
        )
        .expect("refund");
    }
    db.cash_movement(
        kassa::domain::CashMovementKind::PaidIn,
        500,
        "change",
        &who,
        now,
    )
    .expect("paid-in");
}

#[test]
fn the_x_report_shows_cash_and_card_refunds_in_the_cli_and_on_the_console() {
    let till = support::Till::new();
    shift_with_refunds(&till);

    let x = till.json(&["report", "x", "--json"]);
    let shift = &x["shift"];
    assert_eq!(shift["refunds"], 2, "{x}");
    assert_eq!(shift["tally"]["cash_refunds_cents"], 119, "{x}");
    assert_eq!(shift["card_refunds_cents"], 119, "{x}");
    // 100.00 + 3.57 − 1.19 + 5.00
    assert_eq!(shift["expected_cents"], 10_738, "{x}");
    let text = String::from_utf8(till.run(&["report", "x"]).stdout).expect("utf-8");
    assert!(text.contains("cash refunds (2)"), "{text}");
    assert!(text.contains("card refunds"), "{text}");

    // The console's X card, from the same database through the executor.
    let store = StoreHandle::open(&till.db, StoreOptions::default()).expect("store");
    let gate = store
        .call_blocking(|db| {
            let staff = exec::staff_views(db)?;
            let mut gate = StaffGate::new(staff, 0, Utc::now());
            gate.current = gate.staff.first().cloned();
            gate.shift = db.current_shift()?.map(|s| exec::shift_view(db, &s));
            Ok::<_, kassa::store::StoreError>(gate)
        })
        .expect("store")
        .expect("staff");
    let mut st = console_support::state(80, 24, false);
    st.staff = Some(gate);
    let mut todo = std::collections::VecDeque::from([
        console_support::key(KeyCode::F(11)),
        console_support::key(KeyCode::Char('x')),
    ]);
    while let Some(a) = todo.pop_front() {
        for c in update(&mut st, a) {
            todo.extend(exec::execute_blocking(&store, c));
        }
    }
    let screen = console_support::screen_text(&st, 80, 24);
    let row = |label: &str| {
        screen
            .lines()
            .find(|l| l.contains(label))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("Refunds (2)").contains("Refunds (2)"), "{screen}");
    let cash_lines: Vec<&str> = screen.lines().filter(|l| l.contains("  cash ")).collect();
    assert!(
        cash_lines.iter().any(|l| l.contains("1.19")),
        "cash refunds on the card:\n{screen}"
    );
    let card_lines: Vec<&str> = screen.lines().filter(|l| l.contains("  card ")).collect();
    assert!(
        card_lines.iter().any(|l| l.contains("1.19")),
        "card refunds on the card:\n{screen}"
    );
    assert!(row("Voids (0)").contains("0.00"), "{screen}");
    assert!(row("Expected cash").contains("107.38"), "{screen}");
}
