//! Row Level Security, checked with tokens through the gateway (not by reading policies).
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};
use uuid::Uuid;

fn stores_of(rows: &Value) -> Vec<String> {
    let mut v: Vec<String> = rows
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["store_id"].as_str().expect("store_id").to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test]
async fn devices_see_and_touch_only_their_store() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut demo = Till::new(&stack.devices[0]);
    let mut other = Till::new(&stack.other_store_device);
    // Each store has a sale and an oversold conflict.
    let r = api
        .push(&demo.token.clone(), &[demo.sale(&[("1001", 30, 119)])])
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    let r = api
        .push(&other.token.clone(), &[other.sale(&[("1001", 20, 119)])])
        .await;
    assert_eq!(statuses(&r), ["applied"]);
    let (demo_s, other_s) = (stack.store_id.to_string(), stack.other_store_id.to_string());

    for table in [
        "sales",
        "sale_lines",
        "sale_tenders",
        "stock_levels",
        "stock_movements",
        "conflicts",
        "devices",
        "applied_ops",
    ] {
        let r = api
            .get(Some(&demo.token), &format!("{table}?select=store_id"))
            .await;
        assert_eq!(r.status, 200, "{table}: {}", r.body);
        assert_eq!(stores_of(&r.body), vec![demo_s.as_str()], "{table}");
        let r = api
            .get(Some(&other.token), &format!("{table}?select=store_id"))
            .await;
        assert_eq!(stores_of(&r.body), vec![other_s.as_str()], "{table}");
        // Asking for the other store explicitly returns nothing.
        let r = api
            .get(
                Some(&demo.token),
                &format!("{table}?select=store_id&store_id=eq.{other_s}"),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, json!([]), "{table}");
    }
    let r = api.get(Some(&demo.token), "stores?select=id").await;
    assert_eq!(r.body, json!([{"id": demo_s}]));
    let r = api.get(Some(&demo.token), "devices?select=id").await;
    assert_eq!(r.body.as_array().expect("devices").len(), 3);
    // The shared catalog is readable by every known device.
    let r = api.get(Some(&other.token), "products?select=sku").await;
    assert_eq!(r.body.as_array().expect("products").len(), 66);
    // Head office (service_role) sees both stores.
    let r = api
        .get(Some(&stack.service_key), "sales?select=store_id")
        .await;
    assert_eq!(stores_of(&r.body).len(), 2);

    // Direct writes are refused: devices write only through the RPCs.
    let sale_id = Uuid::new_v4();
    let r = api
        .http
        .post(format!("{}/rest/v1/stock_levels", stack.url))
        .header("apikey", &stack.anon_key)
        .bearer_auth(&demo.token)
        .json(&json!({"store_id": other_s, "product_id": Uuid::new_v4(), "on_hand": 1000}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "42501");
    let r = api
        .http
        .post(format!("{}/rest/v1/sales", stack.url))
        .header("apikey", &stack.anon_key)
        .bearer_auth(&demo.token)
        .json(&json!({"id": sale_id, "store_id": demo_s}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);

    // A conflict of the other store cannot be resolved from this store.
    let other_conflict: Uuid = db
        .query_one(
            "select id from conflicts where store_id = $1",
            &[&stack.other_store_id],
        )
        .await
        .expect("conflict")
        .get(0);
    let r = api
        .push(
            &demo.token.clone(),
            &[demo.resolve(&other_conflict.to_string(), "accept", None, None)],
        )
        .await;
    assert_eq!(r[0]["code"], "unknown_conflict");
    let status: String = db
        .query_one(
            "select status from conflicts where id = $1",
            &[&other_conflict],
        )
        .await
        .expect("status")
        .get(0);
    assert_eq!(status, "open");
    stack.cleanup().await;
}

#[tokio::test]
async fn tokens_cannot_act_as_another_device_and_anon_reads_nothing() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let d1 = stack.devices[0].id;
    let d_other = stack.other_store_device.id;

    // A device of the other store claiming the demo store, an unknown device, a known device
    // claiming the wrong store, a token without a device: all 403 / 42501 on every RPC.
    let forged = [
        stack.token_for(d_other, stack.store_id),
        stack.token_for(Uuid::new_v4(), stack.store_id),
        stack.token_for(d1, stack.other_store_id),
        stack.token_with_claims(
            &json!({"role": "authenticated", "exp": pgrest_lite::jwt::now_secs() + 60}),
        ),
    ];
    let mut till = Till::new(&stack.devices[0]);
    let op = till.sale(&[("1001", 1, 119)]);
    for t in &forged {
        for (f, body) in [
            ("kassa_push", json!({"p_ops": [op.clone()]})),
            ("kassa_heartbeat", json!({"p_status": {}})),
            ("kassa_pull", json!({"p_cursors": {}})),
            ("kassa_sale_lookup", json!({"p_sale_id": Uuid::new_v4()})),
        ] {
            let r = api.rpc(Some(t), f, body).await;
            assert_eq!(r.status, 403, "{f}: {}", r.body);
            assert_eq!(r.body["code"], "42501");
        }
        // ... and read nothing.
        let r = api.get(Some(t), "sales?select=id").await;
        assert_eq!(r.body, json!([]));
        let r = api.get(Some(t), "products?select=sku").await;
        assert_eq!(r.body, json!([]));
    }
    // The device comes from the token, never from the payload.
    let mut op = till.sale(&[("1001", 1, 119)]);
    op["device_id"] = json!(stack.devices[1].id);
    op["payload"]["device_id"] = json!(stack.devices[1].id);
    op["payload"]["store_id"] = json!(stack.other_store_id);
    // (extra keys are not part of the hash: the sale stays valid)
    let r = api.push(&stack.devices[0].token, &[op]).await;
    assert_eq!(statuses(&r), ["applied"]);
    let row = db
        .query_one("select device_id, store_id from sales", &[])
        .await
        .expect("sale");
    assert_eq!(row.get::<_, Uuid>(0), d1);
    assert_eq!(row.get::<_, Uuid>(1), stack.store_id);
    // op_ids are per device: device 2 may use the same op_id for its own op.
    let mut t2 = Till::new(&stack.devices[1]);
    let mut same_id = t2.sale(&[("1002", 1, 109)]);
    same_id["op_id"] = json!("00000000-0000-4000-8000-0000000000aa");
    let mut t1_op = till.sale(&[("1003", 1, 239)]);
    t1_op["op_id"] = json!("00000000-0000-4000-8000-0000000000aa");
    assert_eq!(
        statuses(&api.push(&stack.devices[0].token, &[t1_op]).await),
        ["applied"]
    );
    assert_eq!(
        statuses(&api.push(&stack.devices[1].token, &[same_id]).await),
        ["applied"]
    );

    // Anon (apikey only): nothing readable, nothing callable; 401 with WWW-Authenticate.
    for table in [
        "sales",
        "products",
        "stores",
        "stock_levels",
        "conflicts",
        "devices",
        "refunds",
        "sale_voids",
        "refund_losses",
    ] {
        let r = api.get(None, &format!("{table}?select=*")).await;
        assert_eq!(r.status, 401, "{table}");
        assert_eq!(r.body["code"], "42501");
        assert!(r.headers.contains_key("www-authenticate"));
    }
    let r = api
        .rpc(
            None,
            "kassa_sale_lookup",
            json!({"p_sale_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!((r.status, r.body["code"].clone()), (401, json!("42501")));
    for f in ["kassa_push", "kassa_heartbeat", "kassa_pull"] {
        let r = api.rpc(None, f, json!({"p_ops": []})).await;
        assert!(r.status == 401 || r.status == 404, "{f}: {}", r.status);
        let r = api.rpc(None, f, json!({})).await;
        if f != "kassa_push" {
            assert_eq!(r.status, 401, "{f}: {}", r.body);
            assert_eq!(r.body["code"], "42501");
        }
    }
    let r = api.rpc(None, "kassa_push", json!({"p_ops": []})).await;
    assert_eq!(r.status, 401);
    stack.cleanup().await;
}

/// The tables of returns and voids (issue 10) follow the same rules: each device reads its own
/// store's rows only, and nobody writes them but the RPCs.
#[tokio::test]
async fn refunds_voids_and_losses_are_visible_only_to_their_store() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let (demo_s, other_s) = (stack.store_id.to_string(), stack.other_store_id.to_string());
    // In each store: a sale refunded twice over (an over_refund, accepted as a loss), a
    // blind refund written off, and a voided sale.
    for d in [&stack.devices[0], &stack.other_store_device] {
        let mut t = Till::new(d);
        let sale = t.sale(&[("1001", 1, 119)]);
        let voided = t.sale(&[("1002", 1, 109)]);
        let ops = vec![
            sale.clone(),
            t.refund(Some(&sale), "", &[(Some(1), "1001", 1, 119, true)]),
            t.refund(Some(&sale), "", &[(Some(1), "1001", 1, 119, true)]),
            t.refund(None, "no receipt", &[(None, "1003", 1, 239, false)]),
            voided.clone(),
            t.void(&voided),
        ];
        let r = api.push(&t.token, &ops).await;
        assert!(statuses(&r).iter().all(|s| s == "applied"), "{r:?}");
        let c = conflicts(&db, d.store_id, "over_refund").await;
        assert_eq!(c.len(), 1);
        let resolve = t.resolve(&c[0].0.to_string(), "accept_loss", None, None);
        let r = api.push(&t.token, &[resolve]).await;
        assert_eq!(statuses(&r), ["applied"]);
    }
    let demo = &stack.devices[0].token;
    let other = &stack.other_store_device.token;
    for table in [
        "refunds",
        "refund_lines",
        "refund_tenders",
        "sale_voids",
        "sale_void_tenders",
        "refund_losses",
        "conflicts",
        "stock_movements",
    ] {
        for (token, own, foreign) in [(demo, &demo_s, &other_s), (other, &other_s, &demo_s)] {
            let r = api
                .get(Some(token), &format!("{table}?select=store_id"))
                .await;
            assert_eq!(r.status, 200, "{table}: {}", r.body);
            assert_eq!(stores_of(&r.body), vec![own.as_str()], "{table}");
            let r = api
                .get(
                    Some(token),
                    &format!("{table}?select=store_id&store_id=eq.{foreign}"),
                )
                .await;
            assert_eq!(r.body, json!([]), "{table}");
        }
    }
    // Head office sees both stores.
    let r = api
        .get(Some(&stack.service_key), "refund_losses?select=store_id")
        .await;
    assert_eq!(stores_of(&r.body).len(), 2);
    // Direct writes are refused.
    for (table, row) in [
        ("refunds", json!({"id": Uuid::new_v4(), "store_id": demo_s})),
        (
            "sale_voids",
            json!({"id": Uuid::new_v4(), "store_id": demo_s}),
        ),
        (
            "refund_losses",
            json!({"store_id": demo_s, "excess_qty": 1, "loss_cents": 1}),
        ),
    ] {
        let r = api
            .http
            .post(format!("{}/rest/v1/{table}", stack.url))
            .header("apikey", &stack.anon_key)
            .bearer_auth(demo)
            .json(&row)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 403, "{table}");
    }
    stack.cleanup().await;
}
