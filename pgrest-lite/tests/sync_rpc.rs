//! kassa_push / kassa_pull / kassa_heartbeat semantics, through the gateway with device tokens.
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};
use uuid::Uuid;

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.expect(sql).get(0)
}

async fn snapshot(db: &tokio_postgres::Client) -> Vec<i64> {
    let mut v = Vec::new();
    for t in [
        "select count(*) from sales",
        "select count(*) from sale_lines",
        "select count(*) from stock_movements",
        "select count(*) from stock_counts",
        "select count(*) from conflicts",
        "select count(*) from applied_ops",
        "select coalesce(sum(on_hand), 0)::int8 from stock_levels",
        "select coalesce(max(version), 0) from stock_levels",
        "select coalesce(max(version), 0) from conflicts",
    ] {
        v.push(count(db, t).await);
    }
    v
}

#[tokio::test]
async fn the_same_batch_twice_changes_nothing_the_second_time() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut till = Till::new(&stack.devices[0]);
    let batch = vec![
        till.sale(&[("1001", 2, 119), ("1002", 1, 109)]),
        till.count_at("1003", 30, &ts(5)),
        till.sale(&[("1004", 30, 329)]), // oversells: raises a conflict
        till.raw("sale", json!({"sale_id": "nope"})), // rejected
    ];
    let first = api.push(&till.token, &batch).await;
    assert_eq!(
        statuses(&first),
        ["applied", "applied", "applied", "rejected"]
    );
    let before = snapshot(&db).await;
    let rejected_before = count(&db, "select count(*) from rejected_ops").await;

    let second = api.push(&till.token, &batch).await;
    assert_eq!(
        statuses(&second),
        ["duplicate", "duplicate", "duplicate", "rejected"]
    );
    // A replayed rejection repeats the same code and message.
    assert_eq!(second[3]["code"], first[3]["code"]);
    assert_eq!(second[3]["message"], first[3]["message"]);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a["op_id"], b["op_id"]);
        assert_eq!(a["seq"], b["seq"]);
    }
    assert_eq!(snapshot(&db).await, before, "a replay must change nothing");
    assert_eq!(
        count(&db, "select count(*) from rejected_ops").await,
        rejected_before
    );

    // The same op_id with different content is not a duplicate.
    let mut reused = batch[0].clone();
    reused["payload"]["total_cents"] = json!(1);
    let r = api.push(&till.token, &[reused]).await;
    assert_eq!(r[0]["status"], "rejected");
    assert_eq!(r[0]["code"], "op_id_reused");
    // ... but a retry with another skew/device_time is still the same op.
    let mut retried = batch[0].clone();
    retried["skew_ms"] = json!(1234);
    retried["device_time"] = json!(ts(60));
    assert_eq!(
        statuses(&api.push(&till.token, &[retried]).await),
        ["duplicate"]
    );
    // The same op twice in one batch: applied, then duplicate.
    let op = till.sale(&[("1005", 1, 449)]);
    assert_eq!(
        statuses(&api.push(&till.token, &[op.clone(), op]).await),
        ["applied", "duplicate"]
    );
    assert_eq!(snapshot(&db).await[0], before[0] + 1);
    stack.cleanup().await;
}

#[tokio::test]
async fn oversell_across_three_tills() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut tills: Vec<Till> = stack.devices.iter().map(Till::new).collect();
    // 5 in stock from a count, then each till sells 3 while offline.
    let count = tills[0].count_at("1005", 5, &ts(10));
    assert_eq!(
        statuses(&api.push(&tills[0].token, &[count]).await),
        ["applied"]
    );
    assert_eq!(on_hand(&db, stack.store_id, "1005").await, 5);
    let batches: Vec<(String, Value)> = tills
        .iter_mut()
        .enumerate()
        .map(|(i, t)| {
            let op = t.sale_at(&ts(20 + i as i64), &[("1005", 3, 449)]);
            (t.token.clone(), op)
        })
        .collect();
    // The three tills come back online at the same moment.
    let (a, b, c) = tokio::join!(
        api.push(&batches[0].0, std::slice::from_ref(&batches[0].1)),
        api.push(&batches[1].0, std::slice::from_ref(&batches[1].1)),
        api.push(&batches[2].0, std::slice::from_ref(&batches[2].1)),
    );
    for r in [a, b, c] {
        assert_eq!(
            statuses(&r),
            ["applied"],
            "a sale is never rejected for stock"
        );
    }
    assert_eq!(on_hand(&db, stack.store_id, "1005").await, -4);
    let sales: i64 = db
        .query_one("select count(*) from sales s join sale_lines l on l.sale_id = s.id where l.sku = '1005'", &[])
        .await
        .expect("sales")
        .get(0);
    assert_eq!(sales, 3, "every sale recorded");
    let oversold = conflicts(&db, stack.store_id, "oversold").await;
    assert_eq!(
        oversold.len(),
        2,
        "the second and the third sale went below zero"
    );
    let levels: Vec<i64> = oversold
        .iter()
        .map(|(_, _, d)| d["on_hand"].as_i64().expect("on_hand"))
        .collect();
    assert_eq!(levels, [-1, -4]);
    let movements: i64 = db
        .query_one(
            "select count(*) from stock_movements where reason = 'sale' and delta = -3",
            &[],
        )
        .await
        .expect("movements")
        .get(0);
    assert_eq!(movements, 3);

    // Every till of the store pulls the conflicts and the level.
    let pulled = api
        .pull(
            &tills[2].token,
            json!({"catalog": 0, "stock": 0, "conflicts": 0, "limit": 1000}),
        )
        .await;
    let kinds: Vec<&str> = pulled["conflicts"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "oversold").count(), 2);
    let row = pulled["stock"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["sku"] == "1005")
        .expect("1005")
        .clone();
    assert_eq!(row["on_hand"], -4);

    // Resolve: accept one, recount the other; the first resolution wins.
    let (c1, c2) = (oversold[0].0.to_string(), oversold[1].0.to_string());
    let r = api
        .push(
            &tills[0].token.clone(),
            &[tills[0].resolve(&c1, "accept", None, None)],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    let r = api
        .push(
            &tills[1].token.clone(),
            &[tills[1].resolve(&c1, "recount", Some(9), None)],
        )
        .await;
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(r[0]["note"], "already_resolved");
    assert_eq!(
        on_hand(&db, stack.store_id, "1005").await,
        -4,
        "a losing resolution changes nothing"
    );
    // A recount is a count at the resolution's (corrected) moment: after the sales here.
    let mut recount = tills[1].resolve(&c2, "recount", Some(7), None);
    recount["device_time"] = json!(ts(30));
    let r = api.push(&tills[1].token.clone(), &[recount]).await;
    assert_eq!(statuses(&r), ["applied"]);
    assert!(r[0].get("note").is_none());
    assert_eq!(on_hand(&db, stack.store_id, "1005").await, 7);
    let res: Value = db
        .query_one(
            "select resolution from conflicts where id = $1",
            &[&oversold[0].0],
        )
        .await
        .expect("resolution")
        .get(0);
    assert_eq!(res["action"], "accept");
    assert_eq!(res["device_id"], stack.devices[0].id.to_string());
    stack.cleanup().await;
}

#[tokio::test]
async fn stock_counts_are_baselines_at_corrected_time() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);
    let sku = "1010"; // 24 from the seed's opening stock, received just now
    let (s, base) = (stack.store_id, 100);

    // sale A (+base+10, 2), count (+base+20, 10), sale B (+base+30, 1)
    let ops = vec![
        t1.sale_at(&ts(base + 10), &[(sku, 2, 159)]),
        t1.count_at(sku, 10, &ts(base + 20)),
        t1.sale_at(&ts(base + 30), &[(sku, 1, 159)]),
    ];
    assert_eq!(statuses(&api.push(&t1.token, &ops).await), ["applied"; 3]);
    assert_eq!(on_hand(&db, s, sku).await, 9);
    let disc = conflicts(&db, s, "count_discrepancy").await;
    assert_eq!(disc.len(), 1);
    assert_eq!(disc[0].2["expected_qty"], 22);
    assert_eq!(disc[0].2["counted_qty"], 10);

    // Late sale C from another till, before the count: recorded, absorbed by the baseline.
    let late = t2.sale_at(&ts(base + 15), &[(sku, 3, 159)]);
    assert_eq!(statuses(&api.push(&t2.token, &[late]).await), ["applied"]);
    assert_eq!(on_hand(&db, s, sku).await, 9);
    // Late sale D whose till clock ran 35 s fast: created_at +45 but corrected +10.
    let mut skewed = t2.sale_at(&ts(base + 45), &[(sku, 4, 159)]);
    skewed["skew_ms"] = json!(-35_000);
    assert_eq!(statuses(&api.push(&t2.token, &[skewed]).await), ["applied"]);
    assert_eq!(
        on_hand(&db, s, sku).await,
        9,
        "corrected time is before the count"
    );
    let movements: i64 = db
        .query_one(
            "select count(*) from stock_movements m join products p on p.id = m.product_id where p.sku = $1 and m.reason = 'sale'",
            &[&sku],
        )
        .await
        .expect("movements")
        .get(0);
    assert_eq!(movements, 4, "absorbed movements stay in the ledger");
    // A sale after the count applies on top.
    let after = t2.sale_at(&ts(base + 40), &[(sku, 2, 159)]);
    assert_eq!(statuses(&api.push(&t2.token, &[after]).await), ["applied"]);
    assert_eq!(on_hand(&db, s, sku).await, 7);

    // An older count arriving late: recorded (expected = level at its time), newer baseline wins.
    let old = t2.count_at(sku, 50, &ts(base + 5));
    assert_eq!(statuses(&api.push(&t2.token, &[old]).await), ["applied"]);
    assert_eq!(on_hand(&db, s, sku).await, 7);
    let disc = conflicts(&db, s, "count_discrepancy").await;
    assert_eq!(disc.len(), 2);
    assert_eq!(disc[1].2["expected_qty"], 24);

    // Rejecting the newer count withdraws its baseline: the older one (50 at +5) rules, with
    // every movement after it on top: 50 - 2 (A) - 3 (C) - 4 (D) - 1 (B) - 2 = 38.
    let r = api
        .push(
            &t1.token.clone(),
            &[t1.resolve(&disc[0].0.to_string(), "reject", None, None)],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    assert_eq!(on_hand(&db, s, sku).await, 38);
    // Accepting the other one changes nothing.
    let r = api
        .push(
            &t1.token.clone(),
            &[t1.resolve(&disc[1].0.to_string(), "accept", None, None)],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    assert_eq!(on_hand(&db, s, sku).await, 38);

    // A count equal to the expected level raises nothing (threshold 0).
    let exact = t1.count_at(sku, 38, &ts(base + 50));
    assert_eq!(statuses(&api.push(&t1.token, &[exact]).await), ["applied"]);
    assert_eq!(conflicts(&db, s, "count_discrepancy").await.len(), 2);
    // A threshold tolerates small differences.
    db.execute("update stores set count_threshold = 2 where id = $1", &[&s])
        .await
        .expect("threshold");
    let near = t1.count_at(sku, 36, &ts(base + 60));
    assert_eq!(statuses(&api.push(&t1.token, &[near]).await), ["applied"]);
    assert_eq!(conflicts(&db, s, "count_discrepancy").await.len(), 2);
    assert_eq!(on_hand(&db, s, sku).await, 36);
    stack.cleanup().await;
}

#[tokio::test]
async fn price_mismatch_and_unknown_product() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);
    let s = stack.store_id;
    // Head office raises the price of 1020 from 299 to 349 now, retires 1065.
    db.batch_execute(
        "update products set price_cents = 349 where sku = '1020';
         update products set active = false where sku = '1065';",
    )
    .await
    .expect("catalog change");

    let before_change = t1.sale_at(&ts(-3600), &[("1020", 1, 299)]); // stale but right then
    let after_change = t1.sale_at(&ts(5), &[("1020", 2, 299), ("1001", 1, 119)]); // stale catalog
    let mut overridden = t1.sale_at(&ts(6), &[("1020", 1, 199)]);
    // A price the cashier overrode on purpose is not a mismatch (and its hash does not cover
    // the flag, so the payload stays valid).
    overridden["payload"]["lines"][0]["price_overridden"] = json!(true);
    let unknown = t1.sale_at(
        &ts(7),
        &[("9999", 2, 500), ("1065", 1, 250), ("1002", 1, 109)],
    );
    let r = api
        .push(
            &t1.token,
            &[before_change, after_change, overridden, unknown],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"; 4], "{r:?}");

    let pm = conflicts(&db, s, "price_mismatch").await;
    assert_eq!(pm.len(), 1, "{pm:?}");
    assert_eq!(pm[0].2["sold_unit_cents"], 299);
    assert_eq!(pm[0].2["server_unit_cents"], 349);
    assert_eq!(pm[0].2["qty"], 2);
    let up = conflicts(&db, s, "unknown_product").await;
    assert_eq!(up.len(), 2);
    assert_eq!(up[0].2["reason"], "unknown_sku");
    assert_eq!(up[1].2["reason"], "inactive");
    // The unknown lines are kept, without movements; the known line moved stock.
    let kept: i64 = db
        .query_one(
            "select count(*) from sale_lines where sku in ('9999', '1065') and product_id is null",
            &[],
        )
        .await
        .expect("lines")
        .get(0);
    assert_eq!(kept, 2);
    assert_eq!(on_hand(&db, s, "1065").await, 24);
    assert_eq!(on_hand(&db, s, "1002").await, 23);

    // Resolutions: adjust the price difference; map the unknown sku onto 1001.
    let pm_id = pm[0].0.to_string();
    let r = api
        .push(
            &t1.token.clone(),
            &[t1.resolve(&pm_id, "adjust", None, None)],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    let diff: i64 = db
        .query_one("select difference_cents from price_adjustments", &[])
        .await
        .expect("adjustment")
        .get(0);
    assert_eq!(diff, 100, "(349 - 299) * 2");
    let before = on_hand(&db, s, "1001").await;
    let up_id = up[0].0.to_string();
    let r = api
        .push(
            &t2.token.clone(),
            &[t2.resolve(&up_id, "map", None, Some("1001"))],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    assert_eq!(on_hand(&db, s, "1001").await, before - 2);
    let r = api
        .push(
            &t1.token.clone(),
            &[t1.resolve(&up[1].0.to_string(), "non_stock", None, None)],
        )
        .await;
    assert_eq!(statuses(&r), ["applied"]);

    // Invalid resolutions are rejected; late ones are "already_resolved".
    let bad = vec![
        t1.resolve(&pm_id, "map", None, Some("1001")), // not a price_mismatch action
        t1.resolve(&Uuid::new_v4().to_string(), "accept", None, None), // no such conflict
        t1.resolve(&up_id, "map", None, None),         // map needs a sku
        t1.resolve(&up_id, "non_stock", None, None),   // already mapped by t2
    ];
    let r = api.push(&t1.token, &bad).await;
    assert_eq!(
        statuses(&r),
        ["rejected", "rejected", "rejected", "applied"]
    );
    assert_eq!(r[0]["code"], "invalid_resolution");
    assert_eq!(r[1]["code"], "unknown_conflict");
    assert_eq!(r[2]["code"], "invalid_resolution");
    assert_eq!(r[3]["note"], "already_resolved");
    let open: i64 = db
        .query_one("select count(*) from conflicts where status = 'open'", &[])
        .await
        .expect("open")
        .get(0);
    assert_eq!(open, 0);
    stack.cleanup().await;
}

#[tokio::test]
async fn one_bad_op_does_not_block_the_batch() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut till = Till::new(&stack.devices[0]);

    let good1 = till.sale(&[("1001", 1, 119)]);
    let mut zero_qty = till.sale(&[("1002", 1, 109)]);
    zero_qty["payload"]["lines"][0]["qty"] = json!(0);
    let mut bad_hash = till.sale(&[("1003", 1, 239)]);
    bad_hash["payload"]["total_cents"] = json!(1);
    let unknown_kind = till.raw("void", json!({"sale_id": Uuid::new_v4()}));
    let mut bad_op_id = till.sale(&[("1004", 1, 329)]);
    bad_op_id["op_id"] = json!("not-a-uuid");
    let good2 = till.count_at("1006", 3, &ts(5));
    let good3 = till.sale(&[("1007", 1, 79)]);
    let results = api
        .push(
            &till.token,
            &[
                good1,
                zero_qty,
                bad_hash,
                unknown_kind,
                bad_op_id,
                good2,
                good3,
            ],
        )
        .await;
    assert_eq!(
        statuses(&results),
        ["applied", "rejected", "rejected", "rejected", "rejected", "applied", "applied"]
    );
    assert_eq!(results[1]["code"], "invalid_payload");
    assert_eq!(results[1]["message"], "line 1: qty must be > 0");
    assert_eq!(results[2]["code"], "bad_hash");
    assert_eq!(results[3]["code"], "unknown_kind");
    assert_eq!(results[4]["code"], "invalid_payload");
    assert_eq!(results[4]["op_id"], "not-a-uuid");
    let rejected: i64 = db
        .query_one("select count(*) from rejected_ops", &[])
        .await
        .expect("rejected")
        .get(0);
    assert_eq!(rejected, 4, "recorded for head office");
    let sales: i64 = db
        .query_one("select count(*) from sales", &[])
        .await
        .expect("sales")
        .get(0);
    assert_eq!(sales, 2);

    // An op that passes validation but fails inside PostgreSQL (line_no beyond int4):
    // the batch is replayed with a guard per op; only that op is rejected.
    let a = till.sale(&[("1008", 1, 99)]);
    let mut till2 = Till::new(&stack.devices[0]);
    till2.seq = till.seq;
    till2.prev_hash = till.prev_hash.clone();
    let mut overflow = till2.sale(&[("1009", 1, 349)]);
    // Recompute the payload with line_no 99999999999 and a matching hash.
    let sid = overflow["payload"]["sale_id"]
        .as_str()
        .expect("sale_id")
        .to_string();
    let created = overflow["payload"]["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();
    let prev = overflow["payload"]["prev_hash"]
        .as_str()
        .expect("prev")
        .to_string();
    let canon = format!(
        "kassa-sale-v1|{sid}|{created}|EUR|349|23|0\nL|99999999999|1009|1|349|0|700|349|23\nT|cash|349|0"
    );
    overflow["payload"]["lines"][0]["line_no"] = json!(99_999_999_999i64);
    overflow["payload"]["hash"] = json!(sha256_hex(&format!("{prev}\n{canon}")));
    till.seq = till2.seq;
    let b = till.sale(&[("1011", 1, 69)]);
    let results = api.push(&till.token, &[a, overflow.clone(), b]).await;
    assert_eq!(
        statuses(&results),
        ["applied", "rejected", "applied"],
        "{results:?}"
    );
    assert_eq!(results[1]["code"], "invalid_payload");
    assert!(
        results[1]["message"]
            .as_str()
            .expect("message")
            .contains("22003"),
        "{}",
        results[1]["message"]
    );
    // Replaying it gives the same rejection.
    let again = api.push(&till.token, &[overflow]).await;
    assert_eq!(again[0]["code"], "invalid_payload");
    assert_eq!(again[0]["message"], results[1]["message"]);
    let sales: i64 = db
        .query_one("select count(*) from sales", &[])
        .await
        .expect("sales")
        .get(0);
    assert_eq!(sales, 4);

    // A malformed call (not an array) is a 400, not a per-op result.
    let r = api
        .rpc(Some(&till.token), "kassa_push", json!({"p_ops": {"x": 1}}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "22023");
    stack.cleanup().await;
}

#[tokio::test]
async fn pull_pages_by_version_and_heartbeat_handshake() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut till = Till::new(&stack.devices[1]);

    // Page through everything 7 rows at a time.
    let mut cursors = json!({"catalog": 0, "stock": 0, "conflicts": 0, "limit": 7});
    let (mut skus, mut stock, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut last_version = 0;
    loop {
        let p = api.pull(&till.token, cursors.clone()).await;
        pages += 1;
        for r in p["catalog"]["rows"].as_array().expect("rows") {
            let v = r["version"].as_i64().expect("version");
            assert!(v > last_version, "versions increase");
            last_version = v;
            skus.push(r["sku"].as_str().expect("sku").to_string());
        }
        for r in p["stock"]["rows"].as_array().expect("rows") {
            stock.push(r["sku"].as_str().expect("sku").to_string());
        }
        cursors["catalog"] = p["catalog"]["cursor"].clone();
        cursors["stock"] = p["stock"]["cursor"].clone();
        if p["catalog"]["more"] == false && p["stock"]["more"] == false {
            break;
        }
        assert!(pages < 50);
    }
    assert_eq!(skus.len(), 66);
    assert_eq!(stock.len(), 66, "only this store's levels");
    assert_eq!(pages, 10);

    // A sale and a price change show up after the cursors, and only they do.
    let r = api
        .push(&till.token.clone(), &[till.sale(&[("1030", 1, 59)])])
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    db.execute(
        "update products set price_cents = 65 where sku = '1030'",
        &[],
    )
    .await
    .expect("price");
    let p = api.pull(&till.token, cursors.clone()).await;
    assert_eq!(p["catalog"]["rows"].as_array().expect("rows").len(), 1);
    assert_eq!(p["catalog"]["rows"][0]["price_cents"], 65);
    assert_eq!(p["stock"]["rows"].as_array().expect("rows").len(), 1);
    assert_eq!(p["stock"]["rows"][0]["on_hand"], 23);
    assert_eq!(p["conflicts"]["cursor"], 0);
    // The other store sees neither this store's stock nor conflicts.
    let other = api
        .pull(
            &stack.other_store_device.token,
            json!({"catalog": 0, "stock": 0, "conflicts": 0, "limit": 1000}),
        )
        .await;
    let on_hand_1030 = other["stock"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["sku"] == "1030")
        .expect("1030")["on_hand"]
        .clone();
    assert_eq!(on_hand_1030, 12);

    // Heartbeat: telemetry stored, schema handshake.
    let hb = api
        .rpc(
            Some(&till.token),
            "kassa_heartbeat",
            json!({"p_status": {"app_version": "0.1.0",
            "schema_version": 1, "queue_depth": 12, "oldest_pending_age_s": 340, "rejected": 2,
            "device_time": ts(0)}}),
        )
        .await;
    assert_eq!(hb.status, 200);
    assert_eq!(hb.body["min_client_schema"], 1);
    assert_eq!(hb.body["store_id"], stack.store_id.to_string());
    let row = db
        .query_one("select queue_depth, oldest_pending_age_s, app_version from device_status where device_id = $1", &[&stack.devices[1].id])
        .await
        .expect("status");
    assert_eq!(row.get::<_, Option<i32>>(0), Some(12));
    assert_eq!(row.get::<_, Option<i64>>(1), Some(340));
    db.execute("update kassa_settings set min_client_schema = 3", &[])
        .await
        .expect("settings");
    let hb = api
        .rpc(
            Some(&till.token),
            "kassa_heartbeat",
            json!({"p_status": {}}),
        )
        .await;
    assert_eq!(hb.body["min_client_schema"], 3);

    // The hash chain: in order → chain_ok; a broken link is recorded, never rejected.
    let mut t = Till::new(&stack.devices[2]);
    let ops = [t.sale(&[("1001", 1, 119)]), t.sale(&[("1001", 1, 119)])];
    t.prev_hash = "f".repeat(64);
    let broken = t.sale(&[("1001", 1, 119)]);
    let r = api
        .push(&t.token, &[ops[0].clone(), ops[1].clone(), broken])
        .await;
    assert_eq!(statuses(&r), ["applied"; 3]);
    let chain: Vec<bool> = db
        .query(
            "select chain_ok from sales where device_id = $1 order by seq",
            &[&stack.devices[2].id],
        )
        .await
        .expect("chain")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(chain, [true, true, false]);
    stack.cleanup().await;
}
