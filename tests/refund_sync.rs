//! Refunds and voids of the real binary against real PostgreSQL through the gateway: another
//! till's sale refunded offline after a lookup, exact books on the server, and two tills
//! refunding the same receipt offline beyond what was sold (one `over_refund` conflict, seen on
//! both tills, resolved once).

#[path = "support/cli_till.rs"]
mod cli_till;
mod support;

use cli_till::CliTill;
use pgrest_lite::testing::TestStack;
use serde_json::Value;

async fn one(stack: &TestStack, sql: &str) -> i64 {
    let db = stack.client().await.expect("db");
    let sql = format!("select ({sql})::bigint");
    db.query_one(&sql, &[]).await.expect(&sql).get(0)
}

async fn on_hand(stack: &TestStack, sku: &str) -> i64 {
    one(
        stack,
        &format!(
            "select s.on_hand from public.stock_levels s join public.products p
               on p.id = s.product_id where p.sku = '{sku}' and s.store_id = '{}'",
            stack.store_id
        ),
    )
    .await
}

async fn ledger_mismatches(stack: &TestStack) -> i64 {
    one(
        stack,
        "select count(*) from public.stock_levels s
          where s.on_hand <> public.kassa_level_at(s.store_id, s.product_id, 'infinity')",
    )
    .await
}

fn synced(t: &CliTill) -> Value {
    let r = t.json(true, &["sync", "--once", "--json"]);
    assert_eq!(t.json(false, &["status", "--json"])["pending"], 0, "{r}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tills_sale_refunded_offline_after_a_lookup_books_exactly_once() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    let b = CliTill::new(&stack, 1);
    synced(&b); // b pulls the catalog first.
    let start_1001 = on_hand(&stack, "1001").await;
    let start_1003 = on_hand(&stack, "1003").await;
    let sale = a.json(
        false,
        &["sell", "--json", "--pay", "cash:20", "1001*3", "1003*2"],
    );
    let sale_id = sale["sale_id"].as_str().unwrap().to_string();
    let code = sale_id.replace('-', "");
    synced(&a);

    // Till 2 looks the receipt up while online, then refunds offline: 2 of 3 milk back to
    // stock, 1 of 2 of the other written off.
    let found = b.json(true, &["sales", "--lookup", &code, "--json"]);
    assert_eq!(found["lines"][0]["refunded_qty"], 0);
    let offline_unknown = b.run(
        false,
        &[
            "refund",
            "0193a5b0-0000-7000-8000-00000000dead",
            "--pay",
            "cash",
        ],
    );
    assert_eq!(offline_unknown.status.code(), Some(2));
    let r1 = b.json(
        false,
        &["refund", &code, "1001*2", "--pay", "cash", "--json"],
    );
    let r2 = b.json(
        false,
        &[
            "refund",
            &sale_id,
            "#2*1",
            "--no-restock",
            "--pay",
            "card",
            "--json",
        ],
    );
    assert_eq!(r1["original_seq"], Value::Null, "not this till's sale");
    let not_ours = b.run(false, &["void", &sale_id, "--reason", "x"]);
    assert_eq!(not_ours.status.code(), Some(2));
    assert!(
        support::stderr(&not_ours).contains("another till's"),
        "{}",
        support::stderr(&not_ours)
    );
    assert_eq!(r1["lines"][0]["amount_cents"], 2 * 119);
    assert_eq!(r2["lines"][0]["restock"], false);
    // More than is left (3 - 2) is refused locally, nothing queued.
    let before = b
        .json(false, &["queue", "--json"])
        .as_array()
        .unwrap()
        .len();
    let over = b.run(false, &["refund", &code, "1001*2", "--pay", "cash"]);
    assert_eq!(over.status.code(), Some(2), "{}", support::stderr(&over));
    assert_eq!(
        b.json(false, &["queue", "--json"])
            .as_array()
            .unwrap()
            .len(),
        before
    );
    let kinds: Vec<String> = b
        .json(false, &["queue", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds, vec!["refund", "refund"]);

    synced(&b);
    synced(&a);
    synced(&b); // a replay of everything changes nothing
    assert_eq!(one(&stack, "select count(*) from public.sales").await, 1);
    assert_eq!(one(&stack, "select count(*) from public.refunds").await, 2);
    assert_eq!(
        one(&stack, "select count(*) from public.refunds where chain_ok").await,
        2,
        "the refunds chain on till 2"
    );
    assert_eq!(
        one(
            &stack,
            "select coalesce(sum(qty), 0) from public.refund_lines where original_line_no = 1"
        )
        .await,
        2
    );
    assert_eq!(on_hand(&stack, "1001").await, start_1001 - 3 + 2);
    assert_eq!(on_hand(&stack, "1003").await, start_1003 - 2, "written off");
    assert_eq!(
        one(
            &stack,
            "select count(*) from public.stock_movements where reason = 'write_off'"
        )
        .await,
        1
    );
    assert_eq!(ledger_mismatches(&stack).await, 0);
    assert_eq!(
        one(
            &stack,
            "select count(*) from public.conflicts where kind = 'over_refund'"
        )
        .await,
        0
    );
    // The server's refunded quantities, as the lookup reports them to till 1.
    let seen = a.json(true, &["sales", "--lookup", &sale_id, "--json"]);
    assert_eq!(seen["lines"][0]["refunded_qty"], 2);
    assert_eq!(seen["lines"][1]["refunded_qty"], 1);
    // Till 1 now knows the other refunds: only 1 milk is left to refund there.
    let a_over = a.run(false, &["refund", "1", "1001*2", "--pay", "cash"]);
    assert_eq!(
        a_over.status.code(),
        Some(2),
        "{}",
        support::stderr(&a_over)
    );
    a.ok(false, &["refund", "1", "1001*1", "--pay", "cash"]);
    synced(&a);
    assert_eq!(on_hand(&stack, "1001").await, start_1001);
    for t in [&a, &b] {
        assert_eq!(t.json(false, &["verify", "--json"])["chain_ok"], true);
    }
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tills_refunding_the_same_receipt_offline_raise_one_over_refund() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    let b = CliTill::new(&stack, 1);
    synced(&b);
    let sale = a.json(false, &["sell", "--json", "--pay", "card", "1001*2"]);
    let sale_id = sale["sale_id"].as_str().unwrap().to_string();
    synced(&a);
    b.json(true, &["sales", "--lookup", &sale_id, "--json"]);
    // Both offline: each refunds both units (each allowed by what it knows).
    a.ok(false, &["refund", "1", "--pay", "card"]);
    b.ok(false, &["refund", &sale_id, "--pay", "card"]);
    synced(&a);
    synced(&b);
    synced(&a);
    let conflicts_on = |t: &CliTill| -> Vec<Value> {
        t.json(false, &["conflicts", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "over_refund")
            .cloned()
            .collect()
    };
    let on_a = conflicts_on(&a);
    let on_b = conflicts_on(&b);
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_a[0]["id"], on_b[0]["id"]);
    assert_eq!(on_a[0]["details"]["excess_qty"], 2);
    let id = on_a[0]["id"].as_str().unwrap().to_string();
    let text = a.ok(false, &["conflicts"]);
    assert!(text.contains("refunded 4 of 2 sold"), "{text}");

    // Resolved on both offline: the first to reach the server wins.
    a.ok(false, &["resolve", &id, "accept_loss", "--note", "gone"]);
    b.ok(false, &["resolve", &id, "follow_up"]);
    let bad = a.run(false, &["resolve", &id, "accept"]);
    assert_eq!(bad.status.code(), Some(2));
    let ra = synced(&a);
    assert_eq!(ra["notes"], serde_json::json!([]), "{ra}");
    let rb = synced(&b);
    assert_eq!(rb["notes"][0][1], "already_resolved", "{rb}");
    synced(&a);
    let all = a.json(false, &["conflicts", "--all", "--json"]);
    let c = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(c["status"], "resolved");
    assert_eq!(c["resolution"]["action"], "accept_loss");
    assert_eq!(ledger_mismatches(&stack).await, 0);
    stack.cleanup().await;
}

/// The server's canonical forms (its SQL functions) hash the till's refunds and voids, and the
/// protocol's test vectors, to the same hashes as the till.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_hashes_the_tills_refunds_and_voids_as_the_till_does() {
    let stack = TestStack::start().await.expect("stack");
    let t = CliTill::new(&stack, 0);
    t.json(
        false,
        &["sell", "--json", "--pay", "cash:20", "1001*3", "1045"],
    );
    t.json(
        false,
        &[
            "refund",
            "1",
            "1001*2",
            "#2",
            "--pay",
            "cash",
            "--no-restock",
            "--json",
        ],
    );
    t.json(
        false,
        &[
            "refund",
            "--no-receipt",
            "1003",
            "--pay",
            "card",
            "--reason",
            "x",
            "--json",
        ],
    );
    t.json(false, &["sell", "--json", "--pay", "card", "1001"]);
    t.json(false, &["void", "4", "--reason", "left", "--json"]);
    let ops: Vec<(String, String)> = {
        let conn = rusqlite::Connection::open(t.db()).unwrap();
        let mut st = conn
            .prepare("SELECT kind, payload FROM outbox ORDER BY seq")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let db = stack.client().await.expect("db");
    let mut checked = 0;
    for (kind, payload) in &ops {
        let payload: Value = serde_json::from_str(payload).unwrap();
        let function = match kind.as_str() {
            "refund" => "kassa_refund_canonical",
            "void_sale" => "kassa_void_canonical",
            _ => continue,
        };
        let sql = format!(
            "select encode(sha256(convert_to($1 || E'\\n' || public.{function}($2::text::jsonb), 'UTF8')), 'hex')"
        );
        let prev = payload["prev_hash"].as_str().unwrap().to_string();
        let hash: String = db
            .query_one(&sql, &[&prev, &payload.to_string()])
            .await
            .expect(&sql)
            .get(0);
        assert_eq!(
            hash,
            payload["hash"].as_str().unwrap(),
            "{function} of {payload}"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
    let zeros = "0".repeat(64);
    let vectors = [
        (
            "kassa_refund_canonical",
            serde_json::json!({"refund_id": "0193a5b0-0000-7000-8000-0000000000a1",
                "created_at": "2026-11-28T18:00:00.000Z", "currency": "EUR",
                "original_sale_id": "0193a5b0-0000-7000-8000-000000000001", "reason": "wrong size",
                "total_cents": 238, "tax_cents": 16, "rounding_cents": 0,
                "lines": [{"line_no": 1, "original_line_no": 2, "sku": "4001", "name": "Milk 1L",
                           "qty": 2, "amount_cents": 238, "tax_rate_bp": 700, "tax_cents": 16,
                           "restock": true}],
                "tenders": [{"kind": "cash", "amount_cents": 238}]}),
            "299b4589458063684ddc253a87acf0d9ee23c9a9157768c50cda44b44be9dab6",
        ),
        (
            "kassa_void_canonical",
            serde_json::json!({"void_id": "0193a5b0-0000-7000-8000-0000000000b1",
                "sale_id": "0193a5b0-0000-7000-8000-000000000001",
                "created_at": "2026-11-28T17:35:00.000Z", "reason": "customer left",
                "total_cents": 1234, "tenders": [{"kind": "cash", "amount_cents": 1234}]}),
            "79cfee65be22c6e6f0bd752e72ded2c9fbd2b1cee02b51431820371908d41e92",
        ),
    ];
    for (function, payload, want) in vectors {
        let sql = format!(
            "select encode(sha256(convert_to($1 || E'\\n' || public.{function}($2::text::jsonb), 'UTF8')), 'hex')"
        );
        let hash: String = db
            .query_one(&sql, &[&zeros, &payload.to_string()])
            .await
            .expect(&sql)
            .get(0);
        assert_eq!(hash, want, "{function}");
    }
    stack.cleanup().await;
}
