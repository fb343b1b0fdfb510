//! Tests of the sync engine's local reads and writes.

use chrono::{Duration, Utc};

use super::*;
use crate::domain::tender::settle;
use crate::domain::{Cart, Currency, Payment};
use crate::store::{ProductSkip, QueueFilter, StoreOptions, MAX_SKIP_REASON_CHARS};

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db"), &StoreOptions::default()).unwrap();
    (dir, db)
}

fn sell(db: &mut Db, sku: &str, qty: i64) -> i64 {
    let p = db.find_product(sku).unwrap().unwrap();
    let mut cart = Cart::new(Currency::EUR);
    cart.add(&p, qty).unwrap();
    let total = cart.totals().unwrap().total_cents;
    let s = settle(total, Payment::Card, 0, Currency::EUR).unwrap();
    db.commit_sale(&cart, &s, Utc::now()).unwrap().seq
}

#[test]
fn the_pending_batch_is_in_seq_order_and_bounded_by_count_and_bytes() {
    let (_d, mut db) = db();
    let seqs: Vec<i64> = (0..5).map(|_| sell(&mut db, "1001", 1)).collect();
    let b = db.pending_batch(3, usize::MAX).unwrap();
    assert_eq!(b.iter().map(|o| o.seq).collect::<Vec<_>>(), seqs[..3]);
    let one = b[0].wire_bytes();
    let b = db.pending_batch(100, one * 2 + 1).unwrap();
    assert_eq!(b.len(), 2);
    let b = db.pending_batch(100, 1).unwrap();
    assert_eq!(
        b.len(),
        1,
        "the first op goes even when it alone is too big"
    );
}

#[test]
fn results_mark_ops_sent_or_quarantined_and_the_queue_moves_past_them() {
    let (_d, mut db) = db();
    let a = sell(&mut db, "1001", 1);
    let b = sell(&mut db, "1001", 1);
    let c = sell(&mut db, "1001", 1);
    db.record_push_failure(a, c, "timeout").unwrap();
    let tally = db
        .record_push_results(
            &[
                (a, OpResult::Sent { note: None }),
                (
                    b,
                    OpResult::Rejected {
                        code: "bad_hash".into(),
                        message: "hash".into(),
                    },
                ),
                (
                    c,
                    OpResult::Sent {
                        note: Some("already_resolved".into()),
                    },
                ),
            ],
            Utc::now(),
        )
        .unwrap();
    assert_eq!((tally.sent, tally.rejected), (2, 1));
    assert_eq!(tally.notes, vec![(c, "already_resolved".to_string())]);
    assert_eq!(db.queue_count(QueueFilter::Pending).unwrap(), 0);
    let rejected = db.queue_window(QueueFilter::Rejected, 0, 10).unwrap();
    assert_eq!(rejected[0].seq, b);
    assert_eq!(rejected[0].reject_code.as_deref(), Some("bad_hash"));
    assert_eq!(rejected[0].attempts, 2);
    let st = db.status(Utc::now()).unwrap();
    assert!(st.last_sync_at.is_some());
    assert_eq!(st.last_error, None);
    assert!(db.pending_batch(10, usize::MAX).unwrap().is_empty());
}

#[test]
fn a_transient_failure_counts_an_attempt_and_keeps_the_error() {
    let (_d, mut db) = db();
    let a = sell(&mut db, "1001", 1);
    db.record_push_failure(a, a, "cannot connect").unwrap();
    let row = &db.queue_window(QueueFilter::Pending, 0, 1).unwrap()[0];
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_error.as_deref(), Some("cannot connect"));
    assert_eq!(
        db.status(Utc::now()).unwrap().last_error.as_deref(),
        Some("cannot connect")
    );
}

#[test]
fn a_pull_page_updates_catalog_stock_conflicts_and_cursors_in_one_go() {
    let (_d, mut db) = db();
    let page = PullPage {
        products: vec![ProductUpdate {
            product: crate::domain::Product {
                sku: "1001".into(),
                barcode: Some("4000000010012".into()),
                name: "Whole milk 1L".into(),
                price_cents: 129,
                tax_rate_bp: 700,
                price_includes_tax: true,
                active: true,
            },
            version: 5,
        }],
        stock: vec![StockUpdate {
            sku: "1001".into(),
            on_hand: 40,
            version: 6,
        }],
        conflicts: vec![ConflictUpdate {
            id: "c1".into(),
            kind: "oversold".into(),
            status: "open".into(),
            sku: Some("1001".into()),
            sale_id: None,
            details: serde_json::json!({"on_hand": -1}),
            resolution: None,
            version: 7,
            ..ConflictUpdate::default()
        }],
        skipped: vec![],
        cursors: SyncCursors {
            catalog: 5,
            stock: 6,
            conflicts: 7,
        },
        complete: true,
    };
    db.apply_pull_page(&page, Utc::now()).unwrap();
    assert_eq!(db.find_product("1001").unwrap().unwrap().price_cents, 129);
    assert_eq!(db.sync_cursors().unwrap(), page.cursors);
    let c = db.conflicts(false).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].conflict.details["on_hand"], -1);
    // An older version of the conflict never overwrites a newer one.
    let mut stale = page.clone();
    stale.conflicts[0].status = "resolved".into();
    stale.conflicts[0].version = 3;
    db.apply_pull_page(&stale, Utc::now()).unwrap();
    assert_eq!(db.conflicts(false).unwrap().len(), 1);
}

#[test]
fn the_servers_line_count_and_times_of_a_conflict_are_stored_and_follow_later_pulls() {
    let (_d, mut db) = db();
    let page = |c: ConflictUpdate| PullPage {
        conflicts: vec![c],
        ..PullPage::default()
    };
    let raised = ConflictUpdate {
        id: "c1".into(),
        kind: "count_discrepancy".into(),
        status: "open".into(),
        sku: Some("1001".into()),
        details: serde_json::json!({"counted_qty": 14, "expected_qty": 17}),
        version: 7,
        line_no: Some(2),
        count_id: Some("0190f3a4-0000-7000-8000-00000000000a".into()),
        created_at: Some("2026-11-28T17:02:11.123Z".into()),
        ..ConflictUpdate::default()
    };
    db.apply_pull_page(&page(raised.clone()), Utc::now())
        .unwrap();
    let stored = db.conflicts(true).unwrap().remove(0).conflict;
    assert_eq!(stored, raised, "every field as pulled");

    // Resolved on the server: the next version carries resolved_at.
    let resolved = ConflictUpdate {
        status: "resolved".into(),
        resolution: Some(serde_json::json!({"action": "accept"})),
        version: 9,
        resolved_at: Some("2026-11-28T17:10:00.000Z".into()),
        ..raised.clone()
    };
    db.apply_pull_page(&page(resolved.clone()), Utc::now())
        .unwrap();
    assert_eq!(db.conflicts(true).unwrap().remove(0).conflict, resolved);

    // A corrected value replaces the old one; an older version changes nothing.
    let corrected = ConflictUpdate {
        version: 10,
        created_at: Some("2026-11-28T17:02:12.000Z".into()),
        ..resolved.clone()
    };
    db.apply_pull_page(&page(corrected.clone()), Utc::now())
        .unwrap();
    let stale = ConflictUpdate {
        version: 8,
        created_at: Some("2020-01-01T00:00:00.000Z".into()),
        resolved_at: None,
        ..corrected.clone()
    };
    db.apply_pull_page(&page(stale), Utc::now()).unwrap();
    assert_eq!(db.conflicts(true).unwrap().remove(0).conflict, corrected);

    // A newer version without them (an older server, a value the till left out) keeps what
    // the server raised it about and when; resolved_at follows the newest version.
    let silent = ConflictUpdate {
        version: 11,
        line_no: None,
        count_id: None,
        created_at: None,
        resolved_at: None,
        ..corrected.clone()
    };
    db.apply_pull_page(&page(silent), Utc::now()).unwrap();
    let kept = db.conflicts(true).unwrap().remove(0).conflict;
    assert_eq!(kept.version, 11);
    assert_eq!(kept.line_no, Some(2));
    assert_eq!(kept.count_id, corrected.count_id);
    assert_eq!(kept.created_at, corrected.created_at);
    assert_eq!(kept.resolved_at, None);
}

#[test]
fn a_complete_pull_absorbs_the_deltas_of_ops_the_server_already_had() {
    let (_d, mut db) = db();
    let a = sell(&mut db, "1001", 2);
    let b = sell(&mut db, "1001", 3);
    db.record_push_results(&[(a, OpResult::Sent { note: None })], Utc::now())
        .unwrap();
    let deltas = |db: &mut Db| -> i64 {
        db.conn()
            .query_row("SELECT count(*) FROM stock_deltas", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(deltas(&mut db), 2);
    let page = PullPage {
        complete: true,
        ..PullPage::default()
    };
    db.apply_pull_page(&page, Utc::now() + Duration::milliseconds(5))
        .unwrap();
    assert_eq!(deltas(&mut db), 1, "op {b} is still unsent");
}

#[test]
fn one_live_holder_keeps_the_lease_and_an_expired_or_dead_one_loses_it() {
    let (_d, mut db) = db();
    let now = Utc::now();
    let me = std::process::id();
    assert_eq!(
        db.acquire_sync_lease("a", me, 5000, now).unwrap(),
        LeaseState::Acquired
    );
    assert!(matches!(
        db.acquire_sync_lease("b", me, 5000, now).unwrap(),
        LeaseState::HeldBy { .. }
    ));
    assert_eq!(
        db.acquire_sync_lease("a", me, 5000, now).unwrap(),
        LeaseState::Acquired,
        "renewal"
    );
    let later = now + Duration::milliseconds(6000);
    assert_eq!(
        db.acquire_sync_lease("b", me, 5000, later).unwrap(),
        LeaseState::Acquired,
        "expired lease is taken over"
    );
    // A holder whose process is gone loses the lease at once.
    db.conn()
        .execute("UPDATE sync_lease SET pid = 999999999", [])
        .unwrap();
    assert_eq!(
        db.acquire_sync_lease("c", me, 5000, later).unwrap(),
        LeaseState::Acquired
    );
    db.release_sync_lease("c").unwrap();
    assert_eq!(
        db.acquire_sync_lease("d", me, 5000, later).unwrap(),
        LeaseState::Acquired
    );
}

fn skip(sku: &str, reason: &str, version: i64) -> ProductSkip {
    ProductSkip {
        sku: sku.into(),
        reason: reason.into(),
        version,
        active: true,
    }
}

fn usable(sku: &str, price_cents: i64, version: i64) -> ProductUpdate {
    ProductUpdate {
        product: crate::domain::Product {
            sku: sku.into(),
            barcode: None,
            name: format!("Product {sku}"),
            price_cents,
            tax_rate_bp: 700,
            price_includes_tax: true,
            active: true,
        },
        version,
    }
}

fn catalog_page(products: Vec<ProductUpdate>, skipped: Vec<ProductSkip>, cursor: i64) -> PullPage {
    PullPage {
        products,
        skipped,
        cursors: SyncCursors {
            catalog: cursor,
            ..SyncCursors::default()
        },
        complete: true,
        ..PullPage::default()
    }
}

#[test]
fn skipped_products_are_recorded_seen_again_and_cleared_by_a_usable_version() {
    let (_d, mut db) = db();
    assert_eq!(db.skipped_count().unwrap(), 0);
    let page = catalog_page(
        vec![],
        vec![
            skip(
                "1002",
                "tax rate must be between 0 and 10000 basis points, got 20000",
                5,
            ),
            skip(
                "X 1",
                "invalid sku: \"X 1\" must be 1 to 64 characters without spaces or '|'",
                6,
            ),
        ],
        6,
    );
    let t = db.apply_pull_page(&page, Utc::now()).unwrap();
    assert_eq!((t.skipped, t.cleared, t.total), (2, 0, 2));
    assert_eq!(db.sync_cursors().unwrap().catalog, 6, "same transaction");
    assert_eq!(db.status(Utc::now()).unwrap().skipped_products, 2);
    let list = db.skipped_products(10).unwrap();
    assert_eq!(list.len(), 2);
    let (a, b) = (&list[0], &list[1]);
    assert_eq!((a.sku.as_str(), a.version), ("1002", 5));
    assert!(a.reason.contains("20000"));
    assert!(a.older_copy_on_sale, "the demo catalog's 1002 still sells");
    assert_eq!(a.first_seen_at, a.last_seen_at);
    assert_eq!(b.sku, "X 1");
    assert!(!b.older_copy_on_sale);
    assert_eq!(db.skipped_products(1).unwrap().len(), 1, "the limit holds");

    // Seen again (a newer, still unusable version): last seen and reason move, first stays.
    std::thread::sleep(std::time::Duration::from_millis(5));
    let again = catalog_page(
        vec![],
        vec![skip(
            "1002",
            "price must be between 0 and 100000000000 minor units, got -1",
            8,
        )],
        8,
    );
    let t = db.apply_pull_page(&again, Utc::now()).unwrap();
    assert_eq!((t.skipped, t.cleared, t.total), (1, 0, 2));
    let now = &db.skipped_products(10).unwrap()[0];
    assert_eq!(now.first_seen_at, a.first_seen_at);
    assert!(now.last_seen_at > a.last_seen_at, "{now:?}");
    assert_eq!(now.version, 8);
    assert!(now.reason.contains("-1"));

    // An older usable row never clears a newer skip; a newer one does, with its product.
    let old = catalog_page(vec![usable("1002", 150, 7)], vec![], 8);
    assert_eq!(db.apply_pull_page(&old, Utc::now()).unwrap().cleared, 0);
    assert_eq!(db.skipped_count().unwrap(), 2);
    let fixed = catalog_page(vec![usable("1002", 155, 9)], vec![], 9);
    let t = db.apply_pull_page(&fixed, Utc::now()).unwrap();
    assert_eq!((t.skipped, t.cleared, t.total), (0, 1, 1));
    assert_eq!(db.find_product("1002").unwrap().unwrap().price_cents, 155);
    assert_eq!(db.skipped_products(10).unwrap()[0].sku, "X 1");
}

#[test]
fn a_product_the_server_takes_off_sale_clears_its_skip_and_leaves_sale_here_too() {
    let (_d, mut db) = db();
    let page = catalog_page(
        vec![],
        vec![
            skip("1004", "tax rate out of range", 5),
            skip("X 1", "sku", 6),
        ],
        6,
    );
    db.apply_pull_page(&page, Utc::now()).unwrap();
    assert!(
        db.find_product("1004").unwrap().is_some(),
        "older copy still sells"
    );
    // Deleted (or deactivated) on the server, still unusable: nothing left to warn about,
    // and the till stops selling its older copy.
    let mut gone = skip("1004", "tax rate out of range", 7);
    gone.active = false;
    let mut gone_bad_sku = skip("X 1", "sku", 8);
    gone_bad_sku.active = false;
    let t = db
        .apply_pull_page(
            &catalog_page(vec![], vec![gone, gone_bad_sku], 8),
            Utc::now(),
        )
        .unwrap();
    assert_eq!((t.skipped, t.cleared, t.total), (0, 2, 0));
    assert!(db.find_product("1004").unwrap().is_none());
    assert_eq!(db.status(Utc::now()).unwrap().skipped_products, 0);
}

#[test]
fn a_page_that_fails_records_no_skips_and_odd_input_is_capped() {
    let (_d, mut db) = db();
    // A row the local schema refuses (price < 0) fails the whole page: no skip, no cursor.
    let bad = catalog_page(vec![usable("1001", -1, 4)], vec![skip("X 1", "sku", 3)], 4);
    assert!(db.apply_pull_page(&bad, Utc::now()).is_err());
    assert_eq!(db.skipped_count().unwrap(), 0);
    assert_eq!(db.sync_cursors().unwrap().catalog, 0);

    let huge = format!("line one\nline two\u{1b}[2J {}", "x".repeat(100_000));
    let odd = catalog_page(
        vec![],
        vec![
            skip("", "invalid sku", i64::MIN),
            skip("a\nb\u{1b}[31m", &huge, 1),
            skip(&"9".repeat(100_000), "too long", i64::MAX),
            skip("ü|ß", "pipe", 0),
        ],
        5,
    );
    let t = db.apply_pull_page(&odd, Utc::now()).unwrap();
    assert_eq!(t.total, 4);
    for p in db.skipped_products(100).unwrap() {
        assert!(p.reason.chars().count() <= MAX_SKIP_REASON_CHARS, "{p:?}");
        assert!(!p.reason.chars().any(char::is_control), "{p:?}");
        assert!(!p.sku.chars().any(char::is_control), "{p:?}");
        assert!(
            p.sku.chars().count() <= crate::store::MAX_SKIP_SKU_CHARS,
            "{p:?}"
        );
    }
    // The same odd SKU finds its entry again.
    let mut gone = skip("a\nb\u{1b}[31m", "x", 2);
    gone.active = false;
    let t = db
        .apply_pull_page(&catalog_page(vec![], vec![gone], 6), Utc::now())
        .unwrap();
    assert_eq!((t.cleared, t.total), (1, 3));
}
