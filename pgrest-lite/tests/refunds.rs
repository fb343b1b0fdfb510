//! Returns and voids (issue 10) through the gateway against real PostgreSQL: the kinds
//! `refund` and `void_sale` of kassa_push, over_refund and its resolutions, the one document
//! chain, and kassa_sale_lookup (docs/protocol.md).
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};
use uuid::Uuid;

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.expect(sql).get(0)
}

/// Row counts of every table a push writes.
async fn snapshot(db: &tokio_postgres::Client) -> Vec<i64> {
    let mut v = Vec::new();
    for t in [
        "sales",
        "refunds",
        "refund_lines",
        "refund_tenders",
        "sale_voids",
        "sale_void_tenders",
        "stock_movements",
        "conflicts",
        "refund_losses",
        "applied_ops",
        "rejected_ops",
    ] {
        v.push(count(db, &format!("select count(*) from {t}")).await);
    }
    v.push(
        count(
            db,
            "select coalesce(sum(on_hand), 0)::bigint from stock_levels",
        )
        .await,
    );
    v.push(count(db, "select coalesce(max(version), 0) from stock_levels").await);
    v
}

/// (reason, sku, delta) of the ledger rows an op wrote, in id order.
async fn movements(db: &tokio_postgres::Client, op: &Value) -> Vec<(String, String, i64)> {
    let op_id: Uuid = op["op_id"].as_str().expect("op_id").parse().expect("uuid");
    db.query(
        "select m.reason, p.sku, m.delta from stock_movements m join products p on p.id = m.product_id
          where m.op_id = $1 order by m.id",
        &[&op_id],
    )
    .await
    .expect("movements")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn mv(reason: &str, sku: &str, delta: i64) -> (String, String, i64) {
    (reason.to_string(), sku.to_string(), delta)
}

/// Pushes one op and checks that it applied.
async fn push_applied(api: &Api, token: &str, op: &Value) {
    let r = api.push(token, std::slice::from_ref(op)).await;
    assert_eq!(statuses(&r), ["applied"], "{r:?}");
}

async fn lookup(api: &Api, token: &str, id: &str) -> Resp {
    api.rpc(Some(token), "kassa_sale_lookup", json!({ "p_sale_id": id }))
        .await
}

fn sale_id(op: &Value) -> String {
    op["payload"]["sale_id"]
        .as_str()
        .expect("sale_id")
        .to_string()
}

fn refunded(r: &Resp) -> Vec<i64> {
    r.body["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["refunded_qty"].as_i64().expect("refunded_qty"))
        .collect()
}

#[tokio::test]
async fn a_partial_refund_at_another_till_is_exact_and_applied_once() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);

    let sale = t1.sale(&[("1001", 3, 119), ("1002", 2, 109)]);
    let sale_batch = vec![sale.clone()];
    assert_eq!(
        statuses(&api.push(&t1.token, &sale_batch).await),
        ["applied"]
    );

    // Till 2 looks the sale up (online), then refunds 2 of line 1 to stock and 1 of line 2
    // damaged, later (offline) pushing it.
    let found = lookup(&api, &t2.token, &sale_id(&sale)).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(refunded(&found), [0, 0]);
    let refund = t2.refund(
        Some(&sale),
        "wrong size",
        &[
            (Some(1), "1001", 2, 238, true),
            (Some(2), "1002", 1, 109, false),
        ],
    );
    let refund_batch = vec![refund.clone()];
    assert_eq!(
        statuses(&api.push(&t2.token, &refund_batch).await),
        ["applied"]
    );

    assert_eq!(
        movements(&db, &sale).await,
        [mv("sale", "1001", -3), mv("sale", "1002", -2)]
    );
    assert_eq!(
        movements(&db, &refund).await,
        [
            mv("refund", "1001", 2),
            mv("refund", "1002", 1),
            mv("write_off", "1002", -1)
        ]
    );
    assert_eq!(on_hand(&db, stack.store_id, "1001").await, 24 - 3 + 2);
    assert_eq!(on_hand(&db, stack.store_id, "1002").await, 24 - 2);
    let after = lookup(&api, &t1.token, &sale_id(&sale)).await;
    assert_eq!(refunded(&after), [2, 1]);
    assert_eq!(after.body["voided"], json!(false));
    let row = db
        .query_one(
            "select r.device_id, r.original_sale_id::text, r.total_cents, r.chain_ok, r.reason,
                    (select count(*) from refund_tenders t where t.refund_id = r.id)
               from refunds r",
            &[],
        )
        .await
        .expect("refund row");
    assert_eq!(row.get::<_, Uuid>(0), t2.id);
    assert_eq!(row.get::<_, String>(1), sale_id(&sale));
    assert_eq!(row.get::<_, i64>(2), 347);
    assert!(
        row.get::<_, bool>(3),
        "till 2's first document chains to zeros"
    );
    assert_eq!(row.get::<_, String>(4), "wrong size");
    assert_eq!(row.get::<_, i64>(5), 1);
    assert_eq!(
        count(
            &db,
            "select count(*) from conflicts where kind = 'over_refund'"
        )
        .await,
        0
    );
    // The stock section of the pull shows the levels the ledger says.
    let pulled = api.pull(&t2.token, json!({"stock": 0})).await;
    let level = |sku: &str| {
        pulled["stock"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["sku"] == sku)
            .map(|r| r["on_hand"].as_i64().expect("on_hand"))
    };
    assert_eq!((level("1001"), level("1002")), (Some(23), Some(22)));

    // Replays (lost responses) change nothing.
    let before = snapshot(&db).await;
    assert_eq!(
        statuses(&api.push(&t2.token, &refund_batch).await),
        ["duplicate"]
    );
    assert_eq!(
        statuses(&api.push(&t1.token, &sale_batch).await),
        ["duplicate"]
    );
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(
        refunded(&lookup(&api, &t1.token, &sale_id(&sale)).await),
        [2, 1]
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn blind_refunds_and_the_no_restock_write_off() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[2]);
    let blind = t.refund(None, "no receipt", &[(None, "1003", 1, 239, true)]);
    let damaged = t.refund(
        None,
        "broken on the way home",
        &[(None, "1004", 2, 658, false)],
    );
    let unknown = t.refund(None, "old stock", &[(None, "9999", 1, 50, true)]);
    let r = api
        .push(&t.token, &[blind.clone(), damaged.clone(), unknown.clone()])
        .await;
    assert_eq!(statuses(&r), ["applied", "applied", "applied"]);
    assert_eq!(movements(&db, &blind).await, [mv("refund", "1003", 1)]);
    assert_eq!(
        movements(&db, &damaged).await,
        [mv("refund", "1004", 2), mv("write_off", "1004", -2)]
    );
    assert_eq!(movements(&db, &unknown).await, []);
    assert_eq!(on_hand(&db, stack.store_id, "1003").await, 25);
    assert_eq!(
        on_hand(&db, stack.store_id, "1004").await,
        24,
        "written off: unchanged"
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from refunds where original_sale_id is null and chain_ok"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from refund_lines where product_id is null and sku = '9999'"
        )
        .await,
        1
    );
    // Money without a receipt needs a reason; its lines name no original line.
    let no_reason = t.refund(None, "", &[(None, "1003", 1, 239, true)]);
    let with_line = t.refund(None, "x", &[(Some(1), "1003", 1, 239, true)]);
    let r = api.push(&t.token, &[no_reason, with_line]).await;
    assert_eq!(statuses(&r), ["rejected", "rejected"]);
    assert_eq!(r[0]["code"], "invalid_payload");
    assert_eq!(r[0]["message"], "a refund without a receipt needs a reason");
    assert_eq!(
        r[1]["message"],
        "line 1: original_line_no must be null in a refund without a receipt"
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from conflicts where kind = 'over_refund'"
        )
        .await,
        0
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn two_tills_refunding_beyond_the_sale_raise_one_over_refund_each() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);
    let mut t3 = Till::new(&stack.devices[2]);
    let sale = t1.sale(&[("1005", 2, 449), ("1006", 1, 89)]);
    push_applied(&api, &t1.token, &sale).await;

    // Both tills saw the sale with nothing refunded and refund offline: 2 + 1 of line 1.
    let r2 = t2.refund(Some(&sale), "", &[(Some(1), "1005", 2, 898, true)]);
    let r3 = t3.refund(
        Some(&sale),
        "",
        &[
            (Some(1), "1005", 1, 449, true),
            (Some(2), "1006", 1, 89, true),
        ],
    );
    push_applied(&api, &t2.token, &r2).await;
    assert_eq!(
        count(
            &db,
            "select count(*) from conflicts where kind = 'over_refund'"
        )
        .await,
        0,
        "2 of 2 is not over"
    );
    push_applied(&api, &t3.token, &r3).await;
    let rows = db
        .query(
            "select id, sale_id::text, line_no, sku, device_id, details from conflicts
              where kind = 'over_refund'",
            &[],
        )
        .await
        .expect("conflicts");
    assert_eq!(rows.len(), 1, "one per refund and over line");
    let conflict: Uuid = rows[0].get(0);
    assert_eq!(rows[0].get::<_, String>(1), sale_id(&sale));
    assert_eq!(rows[0].get::<_, i32>(2), 1);
    assert_eq!(rows[0].get::<_, String>(3), "1005");
    assert_eq!(rows[0].get::<_, Uuid>(4), t3.id);
    assert_eq!(
        rows[0].get::<_, Value>(5),
        json!({"refund_id": r3["payload"]["refund_id"], "sold_qty": 2, "refunded_qty": 3,
               "this_refund_qty": 1, "excess_qty": 1, "amount_cents": 449})
    );
    // Money changed hands: both refunds are recorded and the goods are back.
    assert_eq!(on_hand(&db, stack.store_id, "1005").await, 24 - 2 + 3);
    assert_eq!(
        refunded(&lookup(&api, &t1.token, &sale_id(&sale)).await),
        [3, 1]
    );

    // Both tills pull it; a kind's wrong action is invalid; the first resolution wins.
    for t in [&t2, &t3] {
        let p = api.pull(&t.token, json!({"conflicts": 0})).await;
        let ids: Vec<&Value> = p["conflicts"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["kind"] == "over_refund")
            .map(|r| &r["id"])
            .collect();
        assert_eq!(ids, [&json!(conflict.to_string())]);
    }
    let wrong = t3.resolve(&conflict.to_string(), "accept", None, None);
    let r = api.push(&t3.token, &[wrong]).await;
    assert_eq!(r[0]["code"], "invalid_resolution");
    let first = t2.resolve(&conflict.to_string(), "accept_loss", None, None);
    let second = t3.resolve(&conflict.to_string(), "follow_up", None, None);
    let r = api.push(&t2.token, std::slice::from_ref(&first)).await;
    assert_eq!(
        (r[0]["status"].clone(), r[0].get("note")),
        (json!("applied"), None)
    );
    let r = api.push(&t3.token, std::slice::from_ref(&second)).await;
    assert_eq!(r[0]["status"], "applied");
    assert_eq!(r[0]["note"], "already_resolved");
    let r = api.push(&t3.token, &[second]).await;
    assert_eq!(
        (r[0]["status"].clone(), r[0]["note"].clone()),
        (json!("duplicate"), json!("already_resolved"))
    );
    for t in [&t2, &t3] {
        let p = api.pull(&t.token, json!({"conflicts": 0})).await;
        let row = p["conflicts"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["kind"] == "over_refund")
            .cloned()
            .expect("over_refund pulled");
        assert_eq!(row["status"], "resolved");
        assert_eq!(row["resolution"]["action"], "accept_loss");
        assert_eq!(row["resolution"]["device_id"], json!(t2.id.to_string()));
        assert_eq!(row["sale_id"], json!(sale_id(&sale)));
        assert_eq!(row["line_no"], json!(1));
    }
    let loss = db
        .query_one(
            "select refund_id::text, sale_id::text, line_no, excess_qty, loss_cents from refund_losses
              where conflict_id = $1",
            &[&conflict],
        )
        .await
        .expect("the loss is booked");
    assert_eq!(
        loss.get::<_, String>(0),
        r3["payload"]["refund_id"].as_str().expect("id")
    );
    assert_eq!(loss.get::<_, String>(1), sale_id(&sale));
    assert_eq!(
        (
            loss.get::<_, i32>(2),
            loss.get::<_, i64>(3),
            loss.get::<_, i64>(4)
        ),
        (1, 1, 449)
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn a_refund_of_a_sale_the_server_does_not_have_is_recorded_and_over() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut demo = Till::new(&stack.devices[0]);
    let mut other = Till::new(&stack.other_store_device);
    // A sale of the other store, refunded in the demo store: not found there.
    let foreign = other.sale(&[("1007", 1, 79)]);
    push_applied(&api, &other.token, &foreign).await;
    let refund = demo.refund(Some(&foreign), "", &[(Some(1), "1007", 1, 79, true)]);
    push_applied(&api, &demo.token, &refund).await;
    let c = conflicts(&db, stack.store_id, "over_refund").await;
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].2,
        json!({"refund_id": refund["payload"]["refund_id"], "sold_qty": 0, "refunded_qty": 1,
               "this_refund_qty": 1, "excess_qty": 1, "amount_cents": 79})
    );
    assert!(conflicts(&db, stack.other_store_id, "over_refund")
        .await
        .is_empty());
    // The other store's sale shows nothing refunded.
    let r = lookup(&api, &other.token, &sale_id(&foreign)).await;
    assert_eq!(refunded(&r), [0]);
    stack.cleanup().await;
}

#[tokio::test]
async fn a_void_reverses_the_sale_once_and_only_at_its_till() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);
    let sale = t1.sale(&[("1008", 2, 99), ("1009", 1, 349), ("9998", 1, 10)]);
    let other_sale = t2.sale(&[("1008", 1, 99)]);
    push_applied(&api, &t1.token, &sale).await;
    push_applied(&api, &t2.token, &other_sale).await;

    let void = t1.void(&sale);
    push_applied(&api, &t1.token, &void).await;
    assert_eq!(
        movements(&db, &void).await,
        [mv("void", "1008", 2), mv("void", "1009", 1)]
    );
    assert_eq!(on_hand(&db, stack.store_id, "1008").await, 24 - 1);
    assert_eq!(on_hand(&db, stack.store_id, "1009").await, 24);
    let l = lookup(&api, &t2.token, &sale_id(&sale)).await;
    assert_eq!(l.body["voided"], json!(true));
    assert_eq!(refunded(&l), [2, 1, 1]);
    assert_eq!(
        count(
            &db,
            "select count(*) from sale_voids where chain_ok and total_cents = 557"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "select count(*) from sale_void_tenders").await,
        1
    );

    // A second void of the same sale, a void of another till's sale, a void of a sale the
    // server does not have: rejected. A replay of the void: duplicate.
    let again = t1.void(&sale);
    let foreign = t1.void(&other_sale);
    let mut unknown_sale = t1.void(&sale);
    unknown_sale["payload"]["sale_id"] = json!(Uuid::new_v4());
    rehash_void(&mut unknown_sale["payload"]);
    let before = snapshot(&db).await;
    let r = api
        .push(&t1.token, &[again, foreign, unknown_sale, void.clone()])
        .await;
    assert_eq!(
        statuses(&r),
        ["rejected", "rejected", "rejected", "duplicate"]
    );
    assert!(
        r.iter().take(3).all(|x| x["code"] == "invalid_payload"),
        "{r:?}"
    );
    assert!(
        r[0]["message"]
            .as_str()
            .expect("msg")
            .contains("is already voided (void "),
        "{}",
        r[0]["message"]
    );
    assert_eq!(
        r[1]["message"],
        format!("sale {} is not a sale of this till", sale_id(&other_sale))
    );
    let mut after = snapshot(&db).await;
    // (only the rejections were recorded)
    after[10] -= 3;
    after[9] -= 3;
    assert_eq!(after, before);

    // A void of a sale that another till partly refunded takes more back than was sold.
    let s2 = t1.sale(&[("1010", 3, 159)]);
    push_applied(&api, &t1.token, &s2).await;
    let part = t2.refund(Some(&s2), "", &[(Some(1), "1010", 1, 159, true)]);
    assert_eq!(statuses(&api.push(&t2.token, &[part]).await), ["applied"]);
    let v2 = t1.void(&s2);
    let mut bad_total = v2.clone();
    bad_total["op_id"] = json!(Uuid::new_v4());
    bad_total["payload"]["total_cents"] = json!(100);
    bad_total["payload"]["tenders"][0]["amount_cents"] = json!(100);
    rehash_void(&mut bad_total["payload"]);
    let r = api.push(&t1.token, &[bad_total]).await;
    assert_eq!(
        r[0]["message"],
        format!(
            "total_cents 100 is not what sale {} took (477)",
            sale_id(&s2)
        )
    );
    push_applied(&api, &t1.token, &v2).await;
    let c = conflicts(&db, stack.store_id, "over_refund").await;
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].2,
        json!({"refund_id": null, "void_id": v2["payload"]["void_id"], "sold_qty": 3,
               "refunded_qty": 4, "this_refund_qty": 3, "excess_qty": 1, "amount_cents": 477})
    );
    assert_eq!(on_hand(&db, stack.store_id, "1010").await, 24 - 3 + 1 + 3);
    assert_eq!(refunded(&lookup(&api, &t1.token, &sale_id(&s2)).await), [4]);
    stack.cleanup().await;
}

#[tokio::test]
async fn bad_hashes_of_refunds_and_voids_are_rejected() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[0]);
    let sale = t.sale(&[("1011", 2, 69)]);
    let mut refund = t.refund(Some(&sale), "", &[(Some(1), "1011", 1, 69, true)]);
    // The reason is not hashed; restock is.
    refund["payload"]["reason"] = json!("changed after hashing");
    let mut tampered = t.refund(Some(&sale), "", &[(Some(1), "1011", 1, 69, true)]);
    tampered["payload"]["lines"][0]["restock"] = json!(false);
    let mut void = t.void(&sale);
    void["payload"]["created_at"] = json!(ts(5));
    let r = api.push(&t.token, &[sale, refund, tampered, void]).await;
    assert_eq!(statuses(&r), ["applied", "applied", "rejected", "rejected"]);
    assert_eq!(
        (r[2]["code"].clone(), r[3]["code"].clone()),
        (json!("bad_hash"), json!("bad_hash"))
    );
    assert_eq!(
        r[2]["message"],
        "hash does not match the canonical form of the refund"
    );
    assert_eq!(
        r[3]["message"],
        "hash does not match the canonical form of the void"
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from rejected_ops where code = 'bad_hash'"
        )
        .await,
        2
    );
    assert_eq!(count(&db, "select count(*) from sale_voids").await, 0);
    stack.cleanup().await;
}

/// chain_ok over sales, refunds and voids in one chain, whether the sales take the fast path
/// (separate batches) or not (one batch), and a sale that skips the refund before it.
#[tokio::test]
async fn the_chain_runs_over_sales_refunds_and_voids() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    for (i, one_batch) in [(0usize, false), (1, true)] {
        let mut t = Till::new(&stack.devices[i]);
        let a = t.sale(&[("1012", 1, 149)]);
        let ra = t.refund(Some(&a), "", &[(Some(1), "1012", 1, 149, true)]);
        let b = t.sale(&[("1013", 2, 169)]);
        let b2 = t.sale(&[("1014", 1, 249)]);
        let vb = t.void(&b2);
        let c = t.sale(&[("1015", 1, 299)]);
        let d = t.sale(&[("1016", 1, 149)]);
        let ops = [a, ra, b, b2, vb, c, d];
        if one_batch {
            let r = api.push(&t.token, &ops).await;
            assert!(statuses(&r).iter().all(|s| s == "applied"), "{r:?}");
        } else {
            for op in &ops {
                let r = api.push(&t.token, std::slice::from_ref(op)).await;
                assert_eq!(statuses(&r), ["applied"]);
            }
        }
        let broken = db
            .query(
                "select seq from sales where device_id = $1 and not chain_ok
                 union all select seq from refunds where device_id = $1 and not chain_ok
                 union all select seq from sale_voids where device_id = $1 and not chain_ok",
                &[&t.id],
            )
            .await
            .expect("chain");
        assert!(
            broken.is_empty(),
            "one_batch={one_batch}: broken at {:?}",
            broken
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect::<Vec<_>>()
        );
        // A refund, then a sale chained to the sale before the refund: broken (but applied).
        let before_refund = t.prev_hash.clone();
        let e = t.refund(None, "x", &[(None, "1017", 1, 199, true)]);
        t.prev_hash = before_refund;
        let f = t.sale(&[("1018", 1, 69)]);
        let g = t.sale(&[("1019", 1, 99)]);
        let r = if one_batch {
            api.push(&t.token, &[e, f.clone(), g.clone()]).await
        } else {
            let mut r = api.push(&t.token, &[e]).await;
            r.extend(api.push(&t.token, &[f.clone(), g.clone()]).await);
            r
        };
        assert_eq!(statuses(&r), ["applied", "applied", "applied"]);
        let ok: Vec<bool> = db
            .query(
                "select chain_ok from sales where id = any($1::uuid[]) order by seq",
                &[&vec![
                    sale_id(&f).parse::<Uuid>().expect("f"),
                    sale_id(&g).parse().expect("g"),
                ]],
            )
            .await
            .expect("chain_ok")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ok, [false, true], "one_batch={one_batch}");
    }
    stack.cleanup().await;
}

#[tokio::test]
async fn sale_lookup_is_scoped_to_the_store() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let mut t1 = Till::new(&stack.devices[0]);
    let other = Till::new(&stack.other_store_device);
    let sale = t1.sale(&[("1020", 2, 299), ("9997", 1, 15)]);
    push_applied(&api, &t1.token, &sale).await;
    let id = sale_id(&sale);
    let r = lookup(&api, &stack.devices[2].token, &id).await;
    assert_eq!(r.status, 200);
    let p = &sale["payload"];
    assert_eq!(r.body["sale_id"], json!(id));
    assert_eq!(r.body["device_id"], json!(t1.id.to_string()));
    assert_eq!(r.body["seq"], json!(1));
    assert_eq!(r.body["created_at"], p["created_at"]);
    assert_eq!(r.body["total_cents"], p["total_cents"]);
    assert_eq!(r.body["tax_cents"], p["tax_cents"]);
    assert_eq!(r.body["rounding_cents"], json!(0));
    assert_eq!(r.body["currency"], json!("EUR"));
    assert_eq!(r.body["voided"], json!(false));
    assert_eq!(r.body["tenders"], p["tenders"]);
    let lines = r.body["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    for (got, sent) in lines.iter().zip(p["lines"].as_array().expect("lines")) {
        let mut want = sent.clone();
        want["refunded_qty"] = json!(0);
        assert_eq!(got, &want);
    }
    // Compact and upper-case forms find it too.
    let compact = id.replace('-', "").to_uppercase();
    assert_eq!(
        lookup(&api, &t1.token, &compact).await.body["sale_id"],
        json!(id)
    );
    // Not found, another store's token: JSON null.
    let r = lookup(&api, &t1.token, &Uuid::new_v4().to_string()).await;
    assert_eq!((r.status, r.body.clone()), (200, Value::Null));
    let r = lookup(&api, &other.token, &id).await;
    assert_eq!((r.status, r.body.clone()), (200, Value::Null));
    // A malformed id is a client bug: 400 22023. An unknown device: 403 42501.
    for bad in [
        "",
        "17",
        "not-a-uuid",
        "{00000000-0000-4000-8000-000000000000}",
    ] {
        let r = lookup(&api, &t1.token, bad).await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (400, json!("22023")),
            "{bad}"
        );
    }
    let r = api
        .rpc(
            Some(&t1.token),
            "kassa_sale_lookup",
            json!({ "p_sale_id": null }),
        )
        .await;
    assert_eq!((r.status, r.body["code"].clone()), (400, json!("22023")));
    let stranger = stack.token_for(Uuid::new_v4(), stack.store_id);
    let r = lookup(&api, &stranger, &id).await;
    assert_eq!((r.status, r.body["code"].clone()), (403, json!("42501")));
    stack.cleanup().await;
}

#[tokio::test]
async fn a_malformed_refund_is_rejected_and_the_rest_of_the_batch_applies() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[0]);
    let sale = t.sale(&[("1021", 2, 119)]);
    let zero = t.refund(Some(&sale), "", &[(Some(1), "1021", 0, 0, true)]);
    let mut sums = t.refund(Some(&sale), "", &[(Some(1), "1021", 1, 119, true)]);
    sums["payload"]["total_cents"] = json!(120);
    rehash_refund(&mut sums["payload"]);
    let twice = t.refund(
        Some(&sale),
        "",
        &[
            (Some(1), "1021", 1, 119, true),
            (Some(1), "1021", 1, 119, true),
        ],
    );
    let mut float = t.refund(Some(&sale), "", &[(Some(1), "1021", 1, 119, true)]);
    float["payload"]["lines"][0]["qty"] = json!(1.0);
    let mut tender = t.refund(Some(&sale), "", &[(Some(1), "1021", 1, 119, true)]);
    tender["payload"]["tenders"][0]["kind"] = json!("voucher");
    rehash_refund(&mut tender["payload"]);
    let good = t.refund(Some(&sale), "", &[(Some(1), "1021", 1, 119, true)]);
    let mut reused = good.clone();
    reused["op_id"] = json!(Uuid::new_v4());
    let later = t.sale(&[("1022", 1, 129)]);
    let r = api
        .push(
            &t.token,
            &[
                sale,
                zero,
                sums,
                twice,
                float,
                tender,
                good.clone(),
                reused,
                later,
            ],
        )
        .await;
    assert_eq!(
        statuses(&r),
        [
            "applied", "rejected", "rejected", "rejected", "rejected", "rejected", "applied",
            "rejected", "applied"
        ]
    );
    let msgs: Vec<&str> = r[1..8]
        .iter()
        .filter(|x| x["status"] == "rejected")
        .map(|x| {
            assert_eq!(x["code"], "invalid_payload");
            x["message"].as_str().expect("message")
        })
        .collect();
    assert_eq!(
        msgs,
        [
            "line 1: qty must be > 0",
            "total_cents is not the sum of the lines' amount_cents",
            "original line 1 is refunded twice in this refund",
            "line 1: qty must be an integer",
            "tender 1: kind must be cash or card",
            &format!(
                "refund {} was already recorded by another op",
                good["payload"]["refund_id"].as_str().expect("id")
            ),
        ]
    );
    assert_eq!(count(&db, "select count(*) from refunds").await, 1);
    assert_eq!(count(&db, "select count(*) from sales").await, 2);
    assert_eq!(count(&db, "select count(*) from rejected_ops").await, 6);
    assert_eq!(on_hand(&db, stack.store_id, "1021").await, 24 - 2 + 1);
    stack.cleanup().await;
}

/// Two tills push refunds of the same line at the same moment: the store's lock serialises
/// the pushes, so the second always sees the first and exactly one of them is over.
#[tokio::test]
async fn concurrent_refunds_of_one_line_raise_exactly_one_over_refund() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t1 = Till::new(&stack.devices[0]);
    let mut t2 = Till::new(&stack.devices[1]);
    let mut t3 = Till::new(&stack.devices[2]);
    let rounds = 12;
    for round in 0..rounds {
        let sale = t1.sale(&[("1023", 2, 99), ("1024", 1, 229)]);
        push_applied(&api, &t1.token, &sale).await;
        // Each till also sends sales around its refund, so that the pushes take a while.
        let mut b2: Vec<Value> = (0..20).map(|_| t2.sale(&[("1025", 1, 119)])).collect();
        b2.push(t2.refund(Some(&sale), "", &[(Some(1), "1023", 2, 198, true)]));
        let mut b3: Vec<Value> = (0..20).map(|_| t3.sale(&[("1026", 1, 119)])).collect();
        b3.push(t3.refund(Some(&sale), "", &[(Some(1), "1023", 2, 198, true)]));
        let (r2, r3) = tokio::join!(api.push(&t2.token, &b2), api.push(&t3.token, &b3));
        assert!(statuses(&r2)
            .iter()
            .chain(statuses(&r3).iter())
            .all(|s| s == "applied"));
        let c = db
            .query(
                "select details from conflicts where kind = 'over_refund' and sale_id = $1::text::uuid",
                &[&sale_id(&sale)],
            )
            .await
            .expect("conflicts");
        assert_eq!(c.len(), 1, "round {round}");
        let d: Value = c[0].get(0);
        assert_eq!(
            (
                d["sold_qty"].clone(),
                d["refunded_qty"].clone(),
                d["excess_qty"].clone()
            ),
            (json!(2), json!(4), json!(2)),
            "round {round}"
        );
        assert_eq!(
            refunded(&lookup(&api, &t1.token, &sale_id(&sale)).await),
            [4, 0]
        );
    }
    assert_eq!(
        count(
            &db,
            "select count(*) from conflicts where kind = 'over_refund'"
        )
        .await,
        rounds
    );
    stack.cleanup().await;
}

/// A voided sale's line of an unknown sku moved nothing; when a technician later maps it to a
/// product, the sale's movement and the void's come together: on_hand does not move.
#[tokio::test]
async fn mapping_a_line_of_a_voided_sale_moves_no_stock() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[0]);
    let sale = t.sale(&[("1027", 1, 279), ("9996", 2, 50)]);
    let void = t.void(&sale);
    assert_eq!(
        statuses(&api.push(&t.token, &[sale.clone(), void.clone()]).await),
        ["applied", "applied"]
    );
    assert_eq!(movements(&db, &void).await, [mv("void", "1027", 1)]);
    let c = conflicts(&db, stack.store_id, "unknown_product").await;
    assert_eq!(c.len(), 1);
    let map = t.resolve(&c[0].0.to_string(), "map", None, Some("1028"));
    push_applied(&api, &t.token, &map).await;
    assert_eq!(
        movements(&db, &map).await,
        [
            mv("unknown_product_mapped", "1028", -2),
            mv("void", "1028", 2)
        ]
    );
    assert_eq!(on_hand(&db, stack.store_id, "1028").await, 24);
    assert_eq!(on_hand(&db, stack.store_id, "1027").await, 24);
    assert!(conflicts(&db, stack.store_id, "oversold").await.is_empty());
    // A second resolution loses and moves nothing.
    let again = t.resolve(&c[0].0.to_string(), "map", None, Some("1029"));
    let r = api.push(&t.token, std::slice::from_ref(&again)).await;
    assert_eq!(r[0]["note"], "already_resolved");
    assert_eq!(movements(&db, &again).await, []);
    stack.cleanup().await;
}

/// A stock count is a baseline for refunds as for sales: goods that came back before the count
/// were on the shelf it counted; goods that came back after it add on top.
#[tokio::test]
async fn a_count_absorbs_the_refunds_before_it() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[1]);
    let count = t.count_at("1030", 10, &ts(0));
    let before = t.refund_at(&ts(-60), None, "early", &[(None, "1030", 2, 118, true)]);
    let after = t.refund_at(&ts(60), None, "late", &[(None, "1030", 3, 177, true)]);
    let r = api
        .push(&t.token, &[count, before.clone(), after.clone()])
        .await;
    assert_eq!(statuses(&r), ["applied", "applied", "applied"]);
    assert_eq!(on_hand(&db, stack.store_id, "1030").await, 10 + 3);
    // Both are in the ledger all the same.
    assert_eq!(movements(&db, &before).await, [mv("refund", "1030", 2)]);
    assert_eq!(movements(&db, &after).await, [mv("refund", "1030", 3)]);
    stack.cleanup().await;
}
