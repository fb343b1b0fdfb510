//! The TestStack comes up, the RPCs answer through the gateway, and outages work.
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::json;

#[tokio::test]
async fn stack_heartbeat_push_pull_and_outage() {
    let mut stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let mut till = Till::new(&stack.devices[0]);

    let hb = api
        .rpc(
            Some(&till.token),
            "kassa_heartbeat",
            json!({"p_status": {"app_version": "0.1.0", "schema_version": 1,
            "queue_depth": 3, "oldest_pending_age_s": 12, "rejected": 0, "device_time": ts(0)}}),
        )
        .await;
    assert_eq!(hb.status, 200, "{}", hb.body);
    assert_eq!(hb.body["min_client_schema"], 1);
    assert_eq!(hb.body["device_id"], stack.devices[0].id.to_string());
    assert!(hb.body["server_time"]
        .as_str()
        .expect("server_time")
        .ends_with('Z'));

    let op = till.sale(&[("1001", 2, 119), ("1003", 1, 239)]);
    let res = api.push(&till.token, std::slice::from_ref(&op)).await;
    assert_eq!(statuses(&res), ["applied"]);
    let res = api.push(&till.token, &[op]).await;
    assert_eq!(statuses(&res), ["duplicate"]);

    let pulled = api
        .pull(
            &till.token,
            json!({"catalog": 0, "stock": 0, "conflicts": 0}),
        )
        .await;
    assert_eq!(
        pulled["catalog"]["rows"].as_array().expect("rows").len(),
        66
    );
    let db = stack.client().await.expect("client");
    assert_eq!(on_hand(&db, stack.store_id, "1001").await, 22);

    stack.stop_gateway().await;
    let err = reqwest::Client::new()
        .post(format!("{}/rest/v1/rpc/kassa_heartbeat", stack.url))
        .send()
        .await
        .expect_err("gateway is down");
    assert!(err.is_connect(), "{err}");
    stack.start_gateway().await.expect("restart");
    let hb = api
        .rpc(
            Some(&till.token),
            "kassa_heartbeat",
            json!({"p_status": {}}),
        )
        .await;
    assert_eq!(hb.status, 200, "{}", hb.body);
    stack.cleanup().await;
}
