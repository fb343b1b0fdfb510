//! The local store through its public API: durability, the chain, concurrency, migrations.

use std::sync::Arc;
use std::thread;

use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment};
use kassa::store::{QueueFilter, StoreHandle, StoreOptions};

fn sell(store: &StoreHandle, codes: &[&str]) -> kassa::store::SaleReceipt {
    let codes: Vec<String> = codes.iter().map(|s| s.to_string()).collect();
    store
        .call_blocking(move |db| {
            let mut cart = Cart::new(Currency::EUR);
            for c in &codes {
                let p = db.find_product(c).unwrap().expect("demo product");
                cart.add(&p, 1).unwrap();
            }
            let t = cart.totals().unwrap();
            let s = settle(
                t.total_cents,
                Payment::Cash { given: None },
                0,
                Currency::EUR,
            )
            .unwrap();
            db.commit_sale(&cart, &s, chrono::Utc::now())
        })
        .unwrap()
        .unwrap()
}

#[test]
fn a_committed_sale_is_there_after_reopening_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    let receipts: Vec<_> = {
        let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
        (0..5)
            .map(|_| sell(&store, &["1001", "4000000010029", "1003"]))
            .collect()
    };
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let (n, report, window) = store
        .call_blocking(|db| {
            (
                db.queue_count(QueueFilter::Pending).unwrap(),
                db.verify().unwrap(),
                db.queue_window(QueueFilter::All, 0, 2).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(n, 5);
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.sales_checked, 5);
    assert_eq!(window.len(), 2);
    assert_eq!(window[0].seq, receipts[4].seq, "newest first");
    assert_eq!(window[0].total_cents, Some(receipts[4].due_cents));
}

#[test]
fn the_chain_detects_an_edited_sale() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    for _ in 0..3 {
        sell(&store, &["1001"]);
    }
    let report = store
        .call_blocking(|db| {
            db.conn()
                .execute("UPDATE sale_lines SET qty = 5 WHERE rowid IN (SELECT rowid FROM sale_lines LIMIT 1)", [])
                .ok();
            db.conn()
                .execute("UPDATE sales SET total_cents = 1 WHERE seq = 2", [])
                .unwrap();
            db.verify().unwrap()
        })
        .unwrap();
    assert!(!report.ok());
    assert_eq!(
        report.first_break.as_deref(),
        Some("sale #2: hash does not match its content")
    );
}

#[test]
fn two_connections_selling_at_once_lose_nothing_and_never_see_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("till.db"));
    // Create first so both start from a migrated, seeded file.
    drop(StoreHandle::open(&path, StoreOptions::default()).unwrap());
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let path = Arc::clone(&path);
            thread::spawn(move || {
                let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
                (0..150)
                    .map(|_| sell(&store, &["1001", "1002", "1003"]).seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<i64> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), 300, "every sale got its own seq");
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let report = store.call_blocking(|db| db.verify().unwrap()).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.sales_checked, 300);
}

#[test]
fn a_database_from_a_newer_kassa_is_refused_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    drop(StoreHandle::open(&path, StoreOptions::default()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = StoreHandle::open(&path, StoreOptions::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("newer kassa"), "{err}");
}

#[test]
fn stock_counts_and_resolutions_queue_as_ops() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::open(&dir.path().join("t.db"), StoreOptions::default()).unwrap();
    let now = chrono::Utc::now();
    let (seq, bad, res, dup) = store
        .call_blocking(move |db| {
            let seq = db.queue_stock_count("1001", 14, now).unwrap();
            let bad = db.queue_stock_count("nope", 1, now).unwrap_err().to_string();
            db.conn()
                .execute(
                    "INSERT INTO conflicts (id, kind, status, sku, details) VALUES ('c1', 'oversold', 'open', '1001', '{}')",
                    [],
                )
                .unwrap();
            let res = db.queue_resolution("c1", "recount", Some(3), None, Some("shelf"), now).unwrap();
            let dup = db.queue_resolution("c1", "accept", None, None, None, now).unwrap_err().to_string();
            (seq, bad, res, dup)
        })
        .unwrap();
    assert_eq!(seq, 1);
    assert_eq!(bad, "unknown sku \"nope\"");
    assert_eq!(res, 2);
    assert!(dup.contains("already queued"), "{dup}");
    let detail = store
        .call_blocking(|db| db.op_detail(2).unwrap().unwrap())
        .unwrap();
    assert_eq!(detail.payload["action"], "recount");
    assert_eq!(detail.payload["qty"], 3);
    let conflicts = store
        .call_blocking(|db| db.conflicts(false).unwrap())
        .unwrap();
    assert_eq!(conflicts[0].queued_action.as_deref(), Some("recount"));
}

/// A database file as the build before migration `before + 1` left it: migrations 1 to
/// `before` and then `seed` (SQL).
fn database_at_schema(path: &std::path::Path, before: usize, seed: &str) {
    use kassa::store::schema::MIGRATIONS;
    let conn = rusqlite::Connection::open(path).unwrap();
    for sql in &MIGRATIONS[..before] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", before as i64)
        .unwrap();
    conn.execute_batch(seed).unwrap();
}

fn user_version(store: &StoreHandle) -> i64 {
    store
        .call_blocking(|db| {
            db.conn()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap()
        })
        .unwrap()
}

#[test]
fn a_database_at_the_previous_schema_upgrades_in_place_and_keeps_its_data() {
    use kassa::store::schema::schema_version;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    // What the build before migration 3 left on disk: migrations 1 and 2, a catalog, a device.
    database_at_schema(
        &path,
        2,
        "INSERT INTO meta (key, value) VALUES ('device_id', 'dev-1'), ('sync_cursor_catalog', '41');
         INSERT INTO products (sku, name, price_cents, tax_rate_bp, price_includes_tax, version)
         VALUES ('7001', 'Old bread', 250, 700, 1, 41);",
    );
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let version = user_version(&store);
    assert_eq!(version, schema_version());
    assert!(version >= 5, "migrated to the current schema");
    let status = store
        .call_blocking(|db| db.status(chrono::Utc::now()).unwrap())
        .unwrap();
    assert_eq!(status.device_id, "dev-1");
    assert_eq!(status.skipped_products, 0);
    let catalog = store.call_blocking(|db| db.catalog().unwrap()).unwrap();
    assert_eq!(catalog.len(), 1, "no demo catalog over an existing one");
    sell(&store, &["7001"]);
    let (cursor, skipped) = store
        .call_blocking(|db| {
            (
                db.sync_cursors().unwrap().catalog,
                db.skipped_products(10).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(cursor, 41);
    assert!(skipped.is_empty());
    drop(store);
    // Opening again changes nothing.
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let report = store.call_blocking(|db| db.verify().unwrap()).unwrap();
    assert!(report.ok(), "{report:?}");
}

#[test]
fn a_database_at_schema_3_gains_the_conflict_fields_and_keeps_its_conflicts() {
    use kassa::store::schema::schema_version;
    use kassa::store::{ConflictUpdate, PullPage};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("till.db");
    // What the build before migration 4 left on disk: a pulled conflict with a queued
    // resolution, and a skipped product.
    database_at_schema(
        &path,
        3,
        "INSERT INTO meta (key, value) VALUES ('device_id', 'dev-1'), ('sync_cursor_conflicts', '7');
         INSERT INTO products (sku, name, price_cents, tax_rate_bp, price_includes_tax, version)
         VALUES ('7001', 'Old bread', 250, 700, 1, 41);
         INSERT INTO outbox (seq, op_id, kind, payload, created_at)
         VALUES (1, 'op-1', 'resolve_conflict', '{\"conflict_id\":\"c1\",\"action\":\"accept\"}',
                 '2026-11-28T17:05:00.000Z');
         INSERT INTO conflicts (id, kind, status, sku, details, version, queued_seq)
         VALUES ('c1', 'oversold', 'open', '7001', '{\"on_hand\":-1,\"sold_qty\":2}', 7, 1);
         INSERT INTO skipped_products (sku, reason, version, first_seen_at, last_seen_at)
         VALUES ('BAD', 'price out of range', 40, '2026-11-28T17:00:00.000Z',
                 '2026-11-28T17:00:00.000Z');",
    );
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let version = user_version(&store);
    assert_eq!(version, schema_version());
    assert!(version >= 5, "migrated to the current schema");
    let rows = store
        .call_blocking(|db| db.conflicts(true).unwrap())
        .unwrap();
    assert_eq!(rows.len(), 1);
    let c = &rows[0].conflict;
    assert_eq!((c.id.as_str(), c.version), ("c1", 7));
    assert_eq!(c.details["sold_qty"], 2);
    assert_eq!(rows[0].queued_action.as_deref(), Some("accept"));
    assert_eq!(
        (&c.line_no, &c.count_id, &c.created_at, &c.resolved_at),
        (&None, &None, &None, &None),
        "not known until the server sends them"
    );
    let status = store
        .call_blocking(|db| db.status(chrono::Utc::now()).unwrap())
        .unwrap();
    assert_eq!(
        (status.device_id.as_str(), status.skipped_products),
        ("dev-1", 1)
    );

    // The next version the server sends fills them in.
    let page = PullPage {
        conflicts: vec![ConflictUpdate {
            status: "resolved".into(),
            resolution: Some(serde_json::json!({"action": "accept"})),
            version: 8,
            created_at: Some("2026-11-28T17:02:11.000Z".into()),
            resolved_at: Some("2026-11-28T17:10:00.000Z".into()),
            ..c.clone()
        }],
        ..PullPage::default()
    };
    store
        .call_blocking(move |db| db.apply_pull_page(&page, chrono::Utc::now()).unwrap())
        .unwrap();
    let c = store
        .call_blocking(|db| db.conflicts(true).unwrap())
        .unwrap()
        .remove(0)
        .conflict;
    assert_eq!(c.created_at.as_deref(), Some("2026-11-28T17:02:11.000Z"));
    assert_eq!(c.resolved_at.as_deref(), Some("2026-11-28T17:10:00.000Z"));
    drop(store);
    // Opening again changes nothing.
    let store = StoreHandle::open(&path, StoreOptions::default()).unwrap();
    let again = store
        .call_blocking(|db| db.conflicts(true).unwrap())
        .unwrap();
    assert_eq!(again[0].conflict, c);
}
