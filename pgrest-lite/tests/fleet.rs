//! A fleet against one server (issue 14): many tills pushing hot-product sales at the same
//! moment, exact accounting afterwards; and the head-office view `kassa_fleet`, which a store's
//! devices see only for their own store.

mod common;

use std::sync::Arc;

use common::{Api, Line, Till};
use pgrest_lite::testing::{Device, TestStack};
use serde_json::{json, Value};
use uuid::Uuid;

/// Pushes a batch, retrying the whole call on what the till treats as transient (a deadlock or
/// a serialization failure: the engine backs off and sends the same batch again). Returns the
/// results and how many tries failed.
async fn push_retrying(api: &Api, token: &str, ops: &[Value]) -> (Vec<Value>, usize) {
    let mut failed = 0;
    loop {
        let r = api
            .rpc(Some(token), "kassa_push", json!({ "p_ops": ops }))
            .await;
        if r.status == 200 {
            return (r.body.as_array().expect("results").clone(), failed);
        }
        let code = r.body["code"].as_str().unwrap_or("").to_string();
        assert!(
            ["40001", "40P01", "55P03", "57014"].contains(&code.as_str()) || r.status >= 500,
            "a push failed for good: {} {}",
            r.status,
            r.body
        );
        failed += 1;
        assert!(failed < 20, "a push kept failing: {}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(20 * failed as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tills_pushing_hot_products_at_once_account_exactly() {
    const TILLS: usize = 8;
    const BATCHES: usize = 6;
    const PER_BATCH: usize = 25;
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let api = Arc::new(Api::new(&stack));

    // Ten hot products at their server prices; one of them with too little stock.
    let hot: Vec<(String, i64)> = db
        .query(
            "select sku, price_cents from products where active order by sku limit 10",
            &[],
        )
        .await
        .expect("products")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let scarce = hot[0].0.clone();
    const SCARCE_STOCK: i64 = 40;
    for (sku, _) in &hot {
        let qty: i64 = if *sku == scarce {
            SCARCE_STOCK
        } else {
            1_000_000
        };
        db.execute(
            "select public.kassa_receive_stock($1, $2, $3)",
            &[&stack.store_id, sku, &qty],
        )
        .await
        .expect("stock");
    }
    let before: Vec<i64> = {
        let mut v = Vec::new();
        for (sku, _) in &hot {
            v.push(common::on_hand(&db, stack.store_id, sku).await);
        }
        v
    };

    // Eight tills of the demo store (three exist; register five more).
    let mut devices: Vec<Device> = stack.devices.clone();
    for k in devices.len()..TILLS {
        let id = Uuid::from_u128(0xf1ee7e57_0000_4000_8000_000000000000 + k as u128);
        db.execute(
            "insert into devices (id, store_id, name) values ($1, $2, $3)",
            &[&id, &stack.store_id, &format!("till {k}")],
        )
        .await
        .expect("device");
        devices.push(Device {
            id,
            store_id: stack.store_id,
            token: stack.token_for(id, stack.store_id),
        });
    }

    // Every sale has three of the hot products, overlapping across tills and batches, each
    // till's in a different order of products (lock order differs between pushes).
    let mut sold = vec![0i64; hot.len()];
    let mut work = Vec::new();
    for (t, d) in devices.iter().enumerate() {
        let mut till = Till::new(d);
        let mut batches = Vec::new();
        for b in 0..BATCHES {
            let mut ops = Vec::new();
            for s in 0..PER_BATCH {
                let n = t * 7 + b * 3 + s;
                let picks = [n % 10, (n * 3 + 1) % 10, (n * 7 + 5) % 10];
                let mut lines: Vec<Line> = Vec::new();
                let mut seen = Vec::new();
                for (j, &p) in picks.iter().enumerate() {
                    if seen.contains(&p) {
                        continue;
                    }
                    seen.push(p);
                    let qty = 1 + ((n + j) % 3) as i64;
                    sold[p] += qty;
                    lines.push((hot[p].0.as_str(), qty, hot[p].1));
                }
                ops.push(till.sale(&lines));
            }
            batches.push(ops);
        }
        work.push((d.token.clone(), batches));
    }

    // All tills at once, each pushing its batches one after the other.
    let start = Arc::new(tokio::sync::Barrier::new(TILLS));
    let mut tasks = Vec::new();
    for (token, batches) in work {
        let (api, start) = (api.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let mut retried = 0;
            let mut statuses = Vec::new();
            for ops in &batches {
                let (results, failed) = push_retrying(&api, &token, ops).await;
                retried += failed;
                statuses.extend(common::statuses(&results));
                // a replay of the same batch changes nothing
                if retried == 0 && statuses.len() == PER_BATCH {
                    let (again, _) = push_retrying(&api, &token, ops).await;
                    assert!(common::statuses(&again).iter().all(|s| s == "duplicate"));
                }
            }
            (statuses, retried)
        }));
    }
    let mut retried = 0;
    for t in tasks {
        let (statuses, r) = t.await.expect("till task");
        retried += r;
        assert_eq!(statuses.len(), BATCHES * PER_BATCH);
        assert!(statuses.iter().all(|s| s == "applied"), "{statuses:?}");
    }
    println!("retried pushes: {retried}");

    // Every sale exactly once, each till's chain intact.
    let rows = db
        .query(
            "select device_id, count(*), count(distinct op_id), bool_and(chain_ok)
               from sales group by device_id",
            &[],
        )
        .await
        .expect("sales");
    assert_eq!(rows.len(), TILLS);
    for r in rows {
        let (n, distinct, chain): (i64, i64, bool) = (r.get(1), r.get(2), r.get(3));
        assert_eq!((n, distinct), ((BATCHES * PER_BATCH) as i64, n));
        assert!(chain, "every till's chain is intact");
    }
    let rejected: i64 = db
        .query_one("select count(*) from rejected_ops", &[])
        .await
        .expect("rejected")
        .get(0);
    assert_eq!(rejected, 0, "nothing rejected for contention");

    // Stock: exactly what was sold came off, and each level equals its ledger.
    for (i, (sku, _)) in hot.iter().enumerate() {
        let now = common::on_hand(&db, stack.store_id, sku).await;
        assert_eq!(now, before[i] - sold[i], "{sku}");
    }
    let off: i64 = db
        .query_one(
            "select count(*) from stock_levels s
              where s.on_hand <> (select coalesce(sum(m.delta), 0) from stock_movements m
                                   where m.store_id = s.store_id and m.product_id = s.product_id)",
            &[],
        )
        .await
        .expect("ledger")
        .get(0);
    assert_eq!(off, 0, "stock levels equal their ledger");

    // The scarce product: one oversold conflict for each sale that found it below zero, in
    // the order the ledger applied them (movement ids), with the level that sale left.
    assert!(
        sold[0] > SCARCE_STOCK,
        "the scenario oversells the scarce product"
    );
    let moves: Vec<(Uuid, i64)> = db
        .query(
            "select m.sale_id, sum(m.delta)::bigint from stock_movements m
               join products p on p.id = m.product_id
              where m.store_id = $1 and p.sku = $2 and m.reason = 'sale'
              group by m.sale_id order by min(m.id)",
            &[&stack.store_id, &scarce],
        )
        .await
        .expect("moves")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut level = before[0]; // the seed's stock and the receipt
    let mut expected = Vec::new();
    for (sale, delta) in moves {
        level += delta;
        if level < 0 {
            expected.push((sale, level));
        }
    }
    let mut raised: Vec<(Uuid, i64)> = db
        .query(
            "select k.sale_id, (k.details ->> 'on_hand')::bigint from conflicts k
              where k.store_id = $1 and k.kind = 'oversold' and k.sku = $2",
            &[&stack.store_id, &scarce],
        )
        .await
        .expect("conflicts")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    raised.sort();
    expected.sort();
    assert_eq!(
        raised.len(),
        expected.len(),
        "oversold conflicts of the scarce product"
    );
    assert!(
        raised == expected,
        "each oversold conflict names the level its sale left"
    );
    let others: i64 = db
        .query_one(
            "select count(*) from conflicts where store_id = $1 and sku <> $2",
            &[&stack.store_id, &scarce],
        )
        .await
        .expect("conflicts")
        .get(0);
    assert_eq!(others, 0, "no conflict on the well-stocked products");
    stack.cleanup().await;
}

#[tokio::test]
async fn the_fleet_view_shows_each_till_of_the_callers_store_and_no_other() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let api = Api::new(&stack);
    let (a, b) = (&stack.devices[0], &stack.devices[1]);

    // Till a reports its queue and two skipped catalog products.
    let r = api
        .rpc(
            Some(&a.token),
            "kassa_heartbeat",
            json!({"p_status": {"app_version": "0.1.0", "schema_version": 4, "queue_depth": 12,
                   "oldest_pending_age_s": 340, "rejected": 1, "skipped_products": 2,
                   "device_time": common::ts(0)}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Till b pushes a sale of an unknown SKU (an open conflict) and one with a bad hash
    // (rejected on the server).
    let mut till = Till::new(b);
    let good = till.sale(&[("no-such-sku", 1, 100)]);
    let mut bad = till.sale(&[("1001", 1, 119)]);
    bad["payload"]["hash"] = json!("0".repeat(64));
    let results = api.push(&b.token, &[good, bad]).await;
    assert_eq!(common::statuses(&results), ["applied", "rejected"]);
    // The other store's till heartbeats too.
    let o = &stack.other_store_device;
    let r = api
        .rpc(
            Some(&o.token),
            "kassa_heartbeat",
            json!({"p_status": {"queue_depth": 3}}),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = api
        .get(Some(&a.token), "kassa_fleet?select=*&order=device_name")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rows = r.body.as_array().expect("rows").clone();
    assert_eq!(
        rows.len(),
        stack.devices.len(),
        "the store's own tills: {rows:?}"
    );
    assert!(rows.iter().all(|x| x["store_id"] == json!(stack.store_id)));
    let row = |d: &Device| -> Value {
        rows.iter()
            .find(|x| x["device_id"] == json!(d.id))
            .cloned()
            .expect("device row")
    };
    let ra = row(a);
    assert_eq!(ra["queue_depth"], json!(12));
    assert_eq!(ra["oldest_pending_age_s"], json!(340));
    assert_eq!(ra["quarantined_ops"], json!(1));
    assert_eq!(ra["skipped_products"], json!(2));
    assert!(ra["last_heartbeat_at"].is_string());
    assert!(ra["oldest_pending_since"].is_string());
    let rb = row(b);
    assert_eq!(rb["last_heartbeat_at"], Value::Null, "b never heartbeated");
    assert_eq!(rb["open_conflicts"], json!(1));
    assert_eq!(rb["rejected_on_server"], json!(1));
    assert_eq!(ra["open_conflicts"], json!(0));

    // The other store sees only its own till; anon sees nothing.
    let r = api
        .get(Some(&o.token), "kassa_fleet?select=device_id,queue_depth")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!([{"device_id": o.id, "queue_depth": 3}]));
    let r = api.get(None, "kassa_fleet?select=device_id").await;
    assert!(
        r.status == 401 || r.status == 403,
        "anon: {} {}",
        r.status,
        r.body
    );

    // Head office (the dashboard's SQL editor is the owner): every till of every store.
    let all: i64 = db
        .query_one("select count(*) from kassa_fleet", &[])
        .await
        .expect("view")
        .get(0);
    let devices: i64 = db
        .query_one("select count(*) from devices", &[])
        .await
        .expect("devices")
        .get(0);
    assert_eq!(all, devices);
    stack.cleanup().await;
}

/// The store_id and device_id columns of the five tables a sale writes are checked by
/// statement triggers instead of foreign keys (`20261204005000_kassa_push_scaling.sql`): every
/// row the push writes names an existing store and device (the device's own store), and every
/// writer is held to that, as a foreign key would hold it.
#[tokio::test]
async fn every_recorded_row_names_an_existing_store_and_device_and_keeps_them() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let api = Api::new(&stack);
    let d = &stack.devices[0];
    let mut till = Till::new(d);
    let ops = vec![
        till.sale(&[("1001", 1, 119), ("1002", 2, 109)]),
        till.sale(&[("1003", 1, 239), ("no-such-sku", 1, 5)]),
        till.count_at("1001", 7, &common::ts(1)),
        till.sale(&[("1001", 1, 119)]),
    ];
    let r = api.push(&d.token, &ops).await;
    assert!(common::statuses(&r).iter().all(|s| s == "applied"), "{r:?}");
    let o = &stack.other_store_device;
    let mut other = Till::new(o);
    let r = api.push(&o.token, &[other.sale(&[("1001", 1, 119)])]).await;
    assert_eq!(common::statuses(&r), ["applied"]);

    // The invariant, table by table: the store exists, the device exists and is of that store.
    for (table, device) in [
        ("sales", "x.device_id"),
        ("applied_ops", "x.device_id"),
        ("stock_movements", "x.device_id"),
        (
            "sale_lines",
            "(select s.device_id from sales s where s.id = x.sale_id)",
        ),
        (
            "sale_tenders",
            "(select s.device_id from sales s where s.id = x.sale_id)",
        ),
    ] {
        let row = db
            .query_one(
                &format!(
                    "select count(*), count(*) filter (where not exists
                              (select 1 from stores st where st.id = x.store_id)
                            or ({device}) is not null and not exists
                              (select 1 from devices dv where dv.id = ({device})
                                  and dv.store_id = x.store_id))
                       from {table} x"
                ),
                &[],
            )
            .await
            .expect(table);
        let (rows, orphans): (i64, i64) = (row.get(0), row.get(1));
        assert!(rows > 0, "{table} has rows");
        assert_eq!(orphans, 0, "{table}: every row names its store and device");
    }

    // Other writers are held to it too.
    let nobody = Uuid::new_v4();
    let sale: Uuid = db
        .query_one(
            "select id from sales where device_id = $1 limit 1",
            &[&d.id],
        )
        .await
        .expect("a sale")
        .get(0);
    let refused = |sql: String| {
        let db = &db;
        async move {
            let e = db
                .batch_execute(&sql)
                .await
                .expect_err(&format!("refused: {sql}"));
            assert_eq!(e.code().map(|c| c.code()), Some("23503"), "{sql}: {e:?}");
        }
    };
    let sale_row = |store: Uuid, device: Uuid| {
        format!(
            "insert into sales (id, store_id, device_id, op_id, seq, created_at, event_time,
                                currency, total_cents, tax_cents, prev_hash, hash, chain_ok)
             values (gen_random_uuid(), '{store}', '{device}', gen_random_uuid(), 99, 'x', now(),
                     'EUR', 1, 0, 'a', 'b', true)"
        )
    };
    refused(sale_row(nobody, d.id)).await;
    refused(sale_row(stack.store_id, nobody)).await;
    refused(format!(
        "insert into sale_tenders (sale_id, idx, store_id, kind, amount_cents)
         values ('{sale}', 9, '{nobody}', 'cash', 1)"
    ))
    .await;
    refused(format!(
        "insert into applied_ops (device_id, op_id, store_id, kind, content_md5, status)
         values ('{nobody}', gen_random_uuid(), '{}', 'sale', 'x', 'applied')",
        stack.store_id
    ))
    .await;
    refused(format!(
        "insert into stock_movements (store_id, product_id, delta, reason, event_time)
         select '{nobody}', p.id, 1, 'receipt', now() from products p limit 1"
    ))
    .await;
    // (the foreign key to sales is still one)
    refused(format!(
        "insert into sale_tenders (sale_id, idx, store_id, kind, amount_cents)
         values ('{nobody}', 1, '{}', 'cash', 1)",
        stack.store_id
    ))
    .await;
    // A recorded row keeps its store and device.
    refused(format!(
        "update sales set store_id = '{}' where id = '{sale}'",
        o.store_id
    ))
    .await;
    refused(format!(
        "update stock_movements set device_id = '{}' where device_id = '{}'",
        o.id, d.id
    ))
    .await;
    // A store or device that rows name cannot go; one that nothing names can.
    refused(format!("delete from devices where id = '{}'", d.id)).await;
    refused(format!(
        "delete from stores where id = '{}'",
        stack.store_id
    ))
    .await;
    db.batch_execute(&format!(
        "insert into devices (id, store_id, name) values ('{nobody}', '{}', 'spare');
         delete from devices where id = '{nobody}'",
        stack.store_id
    ))
    .await
    .expect("a device with no history can be deleted");
    let sales: i64 = db
        .query_one("select count(*) from sales", &[])
        .await
        .expect("sales")
        .get(0);
    assert_eq!(sales, 4, "nothing was written by the refused statements");
    stack.cleanup().await;
}
