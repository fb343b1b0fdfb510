//! Staff, PIN lockout and shifts through the store's public API (issue 11): the rules, the
//! one-transaction commits, the chain over the shift documents, and a till without staff
//! working as before.

use chrono::{Duration, Utc};
use kassa::domain::tender::settle;
use kassa::domain::{
    Attribution, Cart, CashMovementKind, Currency, LockoutPolicy, Payment, Pin, ReceiptRef, Role,
};
use kassa::store::{Db, PinCheck, QueueFilter, StoreError, StoreOptions};
use kassa::timefmt::Zone;

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("till.db"), &StoreOptions::default()).unwrap();
    (dir, db)
}

fn cart(db: &Db) -> Cart {
    let mut cart = Cart::new(Currency::EUR);
    let p = db.find_product("1001").unwrap().expect("demo product");
    cart.add(&p, 2).unwrap();
    cart
}

fn ops(db: &Db) -> i64 {
    db.queue_count(QueueFilter::All).unwrap()
}

#[test]
fn without_staff_nothing_changes_and_with_staff_a_shift_is_needed() {
    let (_d, mut db) = open();
    assert!(!db.has_staff().unwrap());
    let c = cart(&db);
    let t = c.totals().unwrap().total_cents;
    let s = settle(t, Payment::Card, 0, Currency::EUR).unwrap();
    let r = db.commit_sale(&c, &s, Utc::now()).unwrap();
    let payload: String = db
        .conn()
        .query_row("SELECT payload FROM outbox WHERE seq = ?1", [r.seq], |x| {
            x.get(0)
        })
        .unwrap();
    assert!(!payload.contains("staff_id") && !payload.contains("shift_id"));

    let ana = db
        .add_staff(
            "Ana",
            Role::Cashier,
            &Pin::parse("1234").unwrap(),
            Utc::now(),
        )
        .unwrap();
    assert!(db.has_staff().unwrap());
    let before = ops(&db);
    let err = db
        .commit_sale_as(&c, &s, &Attribution::staff(ana.id), Utc::now())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("no open shift")),
        "{err}"
    );
    let err = db
        .cash_movement(
            CashMovementKind::PaidIn,
            100,
            "change",
            &Attribution::staff(ana.id),
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
    let err = db
        .close_shift(0, None, &Attribution::staff(ana.id), Utc::now())
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("no shift is open")),
        "{err}"
    );
    let unknown = Attribution::staff(uuid::Uuid::now_v7());
    assert!(matches!(
        db.open_shift(1000, None, &unknown, Utc::now()),
        Err(StoreError::Invalid(ref m)) if m.contains("unknown staff id")
    ));
    assert_eq!(ops(&db), before, "nothing written");

    let who = Attribution::staff(ana.id);
    let o = db.open_shift(15000, None, &who, Utc::now()).unwrap();
    assert!(
        db.open_shift(1, None, &who, Utc::now()).is_err(),
        "one open shift"
    );
    let r = db.commit_sale_as(&c, &s, &who, Utc::now()).unwrap();
    let payload: String = db
        .conn()
        .query_row("SELECT payload FROM outbox WHERE seq = ?1", [r.seq], |x| {
            x.get(0)
        })
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(v["staff_id"], ana.id.to_string());
    assert_eq!(v["shift_id"], o.open.shift_id.to_string());
    // A cashier cannot approve.
    assert!(db
        .commit_sale_as(&c, &s, &who.clone().approved(Some(ana.id)), Utc::now())
        .is_err());
}

#[test]
fn a_shift_counts_its_cash_and_closes_blind() {
    let (_d, mut db) = open();
    let ana = db
        .add_staff(
            "Ana",
            Role::Cashier,
            &Pin::parse("1234").unwrap(),
            Utc::now(),
        )
        .unwrap();
    let boss = db
        .add_staff(
            "Bo",
            Role::Manager,
            &Pin::parse("9876").unwrap(),
            Utc::now(),
        )
        .unwrap();
    let who = Attribution::staff(ana.id);
    db.open_shift(
        10000,
        Some(kassa::domain::shift::parse_denominations("5000x2").unwrap()),
        &who,
        Utc::now(),
    )
    .unwrap();
    let c = cart(&db);
    let t = c.totals().unwrap().total_cents;
    let cash = settle(t, Payment::Cash { given: Some(1000) }, 0, Currency::EUR).unwrap();
    let card = settle(t, Payment::Card, 0, Currency::EUR).unwrap();
    let s1 = db.commit_sale_as(&c, &cash, &who, Utc::now()).unwrap();
    db.commit_sale_as(&c, &card, &who, Utc::now()).unwrap();
    let s3 = db.commit_sale_as(&c, &cash, &who, Utc::now()).unwrap();
    db.commit_void_as(
        &ReceiptRef::Seq(s3.seq),
        "customer left",
        Zone::Fixed(chrono::FixedOffset::east_opt(0).unwrap()),
        &who.clone().approved(Some(boss.id)),
        Utc::now(),
    )
    .unwrap();
    let before = ops(&db);
    let x = db.current_shift().unwrap().unwrap();
    let big = x.expected_cents + 1;
    assert!(matches!(
        db.cash_movement(CashMovementKind::PaidOut, big, "too much", &who, Utc::now()),
        Err(StoreError::Invalid(ref m)) if m.contains("more than the drawer")
    ));
    assert_eq!(ops(&db), before);
    db.cash_movement(CashMovementKind::PaidIn, 500, "coins", &who, Utc::now())
        .unwrap();
    db.cash_movement(
        CashMovementKind::PaidOut,
        2500,
        "window cleaner",
        &who,
        Utc::now(),
    )
    .unwrap();
    db.cash_movement(CashMovementKind::NoSale, 0, "", &who, Utc::now())
        .unwrap();
    let x = db.current_shift().unwrap().unwrap();
    assert_eq!(x.sales, 3);
    assert_eq!(x.tally.cash_sales_cents, 2 * s1.due_cents);
    assert_eq!(x.tally.cash_voids_cents, s1.due_cents);
    assert_eq!(x.card_sales_cents, t);
    assert_eq!(x.expected_cents, 10000 + s1.due_cents + 500 - 2500);
    let close = db.close_shift(8000, None, &who, Utc::now()).unwrap();
    assert_eq!(close.close.expected_cents, x.expected_cents);
    assert_eq!(close.close.over_short_cents, 8000 - x.expected_cents);
    assert!(db.current_shift().unwrap().is_none());
    let z = db
        .shifts_between(
            Utc::now() - Duration::hours(1),
            Utc::now() + Duration::hours(1),
        )
        .unwrap();
    assert_eq!(z.len(), 1);
    assert_eq!(z[0].counted_cents, Some(8000));
    let v = db.verify().unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.shift_documents_checked, 5);
    assert_eq!(v.sales_checked, 3);
}

#[test]
fn five_wrong_pins_lock_out_and_the_lock_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    let policy = LockoutPolicy {
        max_attempts: 5,
        lockout_seconds: 600,
    };
    let now = Utc::now();
    let id = {
        let mut db = Db::open(&path, &StoreOptions::default()).unwrap();
        let ana = db
            .add_staff("Ana", Role::Cashier, &Pin::parse("1234").unwrap(), now)
            .unwrap();
        assert!(matches!(
            db.check_pin(&ana.id, "12x4", &policy, now),
            Err(StoreError::Invalid(_))
        ));
        for left in (1..5).rev() {
            assert_eq!(
                db.check_pin(&ana.id, "0000", &policy, now).unwrap(),
                PinCheck::Wrong {
                    attempts_left: left
                }
            );
        }
        assert!(matches!(
            db.check_pin(&ana.id, "0000", &policy, now).unwrap(),
            PinCheck::LockedOut { .. }
        ));
        ana.id
    };
    let mut db = Db::open(&path, &StoreOptions::default()).unwrap();
    // Even the right PIN is not checked while locked.
    assert!(matches!(
        db.check_pin(&id, "1234", &policy, now + Duration::seconds(10))
            .unwrap(),
        PinCheck::LockedOut { .. }
    ));
    assert!(db.locked_until(&id, now).unwrap().is_some());
    let later = now + Duration::seconds(601);
    assert!(matches!(
        db.check_pin(&id, "1234", &policy, later).unwrap(),
        PinCheck::Accepted { .. }
    ));
    assert!(
        db.approve_by_manager(&id, "1234", &policy, later).is_err(),
        "a cashier"
    );
    let listed = serde_json::to_string(&db.list_staff().unwrap()).unwrap();
    assert!(!listed.contains("argon2") && !listed.contains("1234"));
    db.disable_staff(&id, later).unwrap();
    assert!(!db.has_staff().unwrap());
    assert!(db.disable_staff(&uuid::Uuid::now_v7(), later).is_err());
}
