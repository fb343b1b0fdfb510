//! Refunds and voids through the store's public API: the checks, the one-transaction commit,
//! stock, the chain, and the migration that let the outbox carry them.

use chrono::{Duration, TimeZone, Utc};
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment, ReceiptRef, RefundPick, TenderKind};
use kassa::store::{
    BlindItem, QueueFilter, RefundItems, RefundPolicy, SaleReceipt, StoreError, StoreHandle,
    StoreOptions,
};
use kassa::timefmt::Zone;

const POLICY: RefundPolicy = RefundPolicy {
    cash_rounding: 0,
    blind_max_cents: 5000,
};

fn sell(store: &StoreHandle, items: &[(&str, i64)], discount_first: i64) -> SaleReceipt {
    let items: Vec<(String, i64)> = items.iter().map(|(c, q)| (c.to_string(), *q)).collect();
    store
        .call_blocking(move |db| {
            let mut cart = Cart::new(Currency::EUR);
            for (c, q) in &items {
                let p = db.find_product(c).unwrap().expect("demo product");
                cart.add(&p, *q).unwrap();
            }
            if discount_first > 0 {
                cart.set_discount(0, discount_first).unwrap();
            }
            let t = cart.totals().unwrap();
            let s = settle(t.total_cents, Payment::Card, 0, Currency::EUR).unwrap();
            db.commit_sale(&cart, &s, Utc::now())
        })
        .unwrap()
        .unwrap()
}

fn open() -> (tempfile::TempDir, StoreHandle) {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default()).unwrap();
    (dir, store)
}

fn outbox_len(store: &StoreHandle) -> i64 {
    store
        .call_blocking(|db| db.queue_count(QueueFilter::All).unwrap())
        .unwrap()
}

fn local_stock(store: &StoreHandle, sku: &'static str) -> i64 {
    store
        .call_blocking(move |db| {
            db.conn()
                .query_row(
                    "SELECT coalesce(sum(delta), 0) FROM stock_deltas WHERE sku = ?1",
                    [sku],
                    |r| r.get(0),
                )
                .unwrap()
        })
        .unwrap()
}

fn refund(
    store: &StoreHandle,
    receipt: ReceiptRef,
    items: RefundItems,
) -> Result<kassa::store::RefundReceipt, StoreError> {
    store
        .call_blocking(move |db| {
            db.commit_refund(&receipt, &items, TenderKind::Card, "", &POLICY, Utc::now())
        })
        .unwrap()
}

fn pick(line: i64, qty: i64) -> RefundItems {
    RefundItems::Picks(vec![RefundPick {
        original_line_no: line,
        qty,
        restock: true,
    }])
}

#[test]
fn partial_refunds_of_a_discounted_line_add_up_to_what_was_paid_and_no_more() {
    let (_dir, store) = open();
    // 3 × 1.19 = 3.57, less 0.07 discount = 3.50 paid for the line.
    let sale = sell(&store, &[("1001", 3), ("1003", 1)], 7);
    let r = ReceiptRef::Seq(sale.seq);
    let a = refund(&store, r, pick(1, 1)).unwrap();
    let b = refund(&store, r, pick(1, 1)).unwrap();
    let c = refund(&store, r, pick(1, 1)).unwrap();
    let amounts: Vec<i64> = [&a, &b, &c].iter().map(|x| x.refund.total_cents).collect();
    assert_eq!(amounts.iter().sum::<i64>(), 350);
    assert_eq!(amounts, vec![117, 116, 117]);
    let before = outbox_len(&store);
    let e = refund(&store, r, pick(1, 1)).unwrap_err().to_string();
    assert!(e.contains("3 sold, 3 already refunded"), "{e}");
    assert_eq!(outbox_len(&store), before, "nothing written");
    // Everything left: the other line only.
    let rest = refund(&store, r, RefundItems::All { restock: false }).unwrap();
    assert_eq!(rest.refund.lines.len(), 1);
    assert_eq!(rest.refund.lines[0].original_line_no, Some(2));
    assert_eq!(local_stock(&store, "1001"), -3 + 3);
    assert_eq!(
        local_stock(&store, "1003"),
        -1,
        "written off: not back in stock"
    );
    let e = refund(&store, r, RefundItems::All { restock: true })
        .unwrap_err()
        .to_string();
    assert!(e.contains("already fully refunded"), "{e}");
    let report = store.call_blocking(|db| db.verify().unwrap()).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.sales_checked, report.refunds_checked), (1, 4));
}

#[test]
fn a_void_puts_everything_back_and_is_refused_twice_or_after_a_refund() {
    let (_dir, store) = open();
    let sale = sell(&store, &[("1001", 2), ("1003", 1)], 0);
    let refunded = sell(&store, &[("1001", 1)], 0);
    let void = |r: ReceiptRef| {
        store
            .call_blocking(move |db| db.commit_void(&r, "customer left", Zone::Local, Utc::now()))
            .unwrap()
    };
    let v = void(ReceiptRef::SaleId(sale.sale_id)).unwrap();
    assert_eq!(v.sale_seq, sale.seq);
    assert_eq!(v.void.total_cents, sale.due_cents);
    assert_eq!(local_stock(&store, "1003"), 0);
    let before = outbox_len(&store);
    let again = void(ReceiptRef::Seq(sale.seq)).unwrap_err().to_string();
    assert!(again.contains("already voided"), "{again}");
    let e = refund(&store, ReceiptRef::Seq(sale.seq), pick(1, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("voided"), "{e}");
    refund(&store, ReceiptRef::Seq(refunded.seq), pick(1, 1)).unwrap();
    let e = void(ReceiptRef::Seq(refunded.seq)).unwrap_err().to_string();
    assert!(e.contains("refunded"), "{e}");
    assert!(void(ReceiptRef::Seq(999))
        .unwrap_err()
        .to_string()
        .contains("unknown receipt"));
    assert_eq!(
        outbox_len(&store),
        before + 1,
        "only the refund was written"
    );
}

#[test]
fn a_void_of_another_days_sale_is_refused() {
    let (_dir, store) = open();
    let sale = sell(&store, &[("1001", 1)], 0);
    let tomorrow = Utc::now() + Duration::days(1);
    let e = store
        .call_blocking(move |db| {
            db.commit_void(&ReceiptRef::Seq(sale.seq), "late", Zone::utc(), tomorrow)
        })
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not today"), "{e}");
}

#[test]
fn a_blind_refund_needs_a_reason_and_stays_under_the_limit() {
    let (_dir, store) = open();
    let blind = |qty: i64, reason: &'static str| {
        store
            .call_blocking(move |db| {
                db.commit_blind_refund(
                    &[BlindItem {
                        code: "1001".into(),
                        qty,
                        restock: true,
                    }],
                    TenderKind::Cash,
                    reason,
                    &POLICY,
                    "EUR",
                    Utc::now(),
                )
            })
            .unwrap()
    };
    assert!(blind(1, "").is_err());
    assert!(blind(100, "no receipt").is_err(), "119.00 > 50.00");
    assert_eq!(outbox_len(&store), 0);
    let r = blind(2, "no receipt").unwrap();
    assert_eq!((r.paid_back_cents, r.refund.original_sale_id), (238, None));
    assert_eq!(local_stock(&store, "1001"), 2);
}

#[test]
fn a_database_at_schema_4_gains_refunds_and_keeps_its_queue_and_references() {
    use kassa::store::schema::{schema_version, MIGRATIONS};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        // What the previous build left: a sent sale with its stock delta, a queued resolution
        // that a conflict references, a rejected count, and a seq counter past the last row.
        conn.execute_batch(
            "INSERT INTO meta (key, value) VALUES ('device_id', 'dev-1');
             INSERT INTO products (sku, name, price_cents, tax_rate_bp, price_includes_tax)
             VALUES ('7001', 'Old bread', 250, 700, 1);
             INSERT INTO outbox (seq, op_id, kind, payload, created_at, state, total_cents, note)
             VALUES (1, 'op-1', 'sale', '{}', '2026-11-28T17:00:00.000Z', 'sent', 250, NULL),
                    (2, 'op-2', 'resolve_conflict', '{\"conflict_id\":\"c1\",\"action\":\"accept\"}',
                     '2026-11-28T17:05:00.000Z', 'pending', NULL, 'x'),
                    (7, 'op-7', 'stock_count', '{}', '2026-11-28T17:06:00.000Z', 'rejected', NULL, NULL);
             UPDATE sqlite_sequence SET seq = 9 WHERE name = 'outbox';
             INSERT INTO sales VALUES ('0193a5b0-0000-7000-8000-000000000001', 1,
                 '2026-11-28T17:00:00.000Z', 'EUR', 250, 16, 0, 'p', 'h');
             INSERT INTO stock_deltas VALUES (1, '7001', -1);
             INSERT INTO conflicts (id, kind, status, details, version, queued_seq)
             VALUES ('c1', 'oversold', 'open', '{}', 3, 2);",
        )
        .unwrap();
    }
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let (version, fk_ok, kinds, seq_counter, next) = store
        .call_blocking(|db| {
            let c = db.conn();
            let version: i64 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            let fk_on: i64 = c
                .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
                .unwrap();
            let broken: i64 = c
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .unwrap();
            let kinds: Vec<(i64, String, String, Option<String>)> = c
                .prepare("SELECT seq, kind, state, note FROM outbox ORDER BY seq")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let counter: i64 = c
                .query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            let next = db.queue_stock_count("7001", 3, Utc::now()).unwrap();
            (version, fk_on == 1 && broken == 0, kinds, counter, next)
        })
        .unwrap();
    // Migrated to the current schema (5 added refunds; later migrations ride along).
    assert_eq!(version, schema_version());
    assert!(version >= 5);
    assert!(fk_ok, "foreign keys back on and intact");
    assert_eq!(
        kinds,
        vec![
            (1, "sale".into(), "sent".into(), None),
            (
                2,
                "resolve_conflict".into(),
                "pending".into(),
                Some("x".into())
            ),
            (7, "stock_count".into(), "rejected".into(), None),
        ]
    );
    assert_eq!(seq_counter, 9, "AUTOINCREMENT carried over");
    assert_eq!(next, 10, "no seq reused");
    let conflicts = store
        .call_blocking(|db| db.conflicts(false).unwrap())
        .unwrap();
    assert_eq!(conflicts[0].queued_action.as_deref(), Some("accept"));
    // The rebuilt outbox takes the new kinds; the old tables still reference it.
    let r = store
        .call_blocking(|db| {
            db.commit_blind_refund(
                &[BlindItem {
                    code: "7001".into(),
                    qty: 1,
                    restock: true,
                }],
                TenderKind::Card,
                "returned",
                &POLICY,
                "EUR",
                Utc.with_ymd_and_hms(2026, 11, 28, 18, 0, 0).unwrap(),
            )
        })
        .unwrap()
        .unwrap();
    assert_eq!(r.seq, 11);
    let bad_fk = store
        .call_blocking(|db| {
            db.conn()
                .execute("INSERT INTO stock_deltas VALUES (999, 'x', 1)", [])
                .is_err()
        })
        .unwrap();
    assert!(bad_fk, "stock_deltas still references outbox(seq)");
}
