//! Where `kassa_push` spends its time, measured inside PostgreSQL: one batch pushed in a SQL
//! session that acts as the device (as the gateway does). Triggers (the foreign-key checks and
//! version stamps) are what the push costs more than the same push with triggers off
//! (`session_replication_role = replica`). The rest is split with `auto_explain` (EXPLAIN
//! ANALYZE of every statement the function runs, sent back as notices): each plan node's own
//! time (its time minus its children's) goes to the part of the push its CTE belongs to, scaled
//! to the uninstrumented time. Then the same batch through the per-op path (a subtransaction
//! per op), and the text-to-jsonb parse alone. Every run is rolled back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The part of a push a CTE of the fast path belongs to.
fn part_of_cte(name: &str) -> &'static str {
    match name {
        "e" | "n" | "k" | "h" | "c" | "items" | "runs" => {
            "classify: parse fields, validate, hash check"
        }
        "it" | "st" | "rej" => "outcome per op (bad hash, taken sale id, replay)",
        "ins_rejected" | "ins_log" => "op log (applied_ops, rejected_ops)",
        "sa" | "ins_sales" | "ln" | "ins_lines" | "ins_tenders" => {
            "sale rows (sales, lines, tenders)"
        }
        "ins_moves" | "moving" | "moves" => "ledger (stock_movements)",
        "d" | "cur" | "walk" | "ins_levels" => "stock levels",
        "pri" | "conf" | "ins_conf" => "conflicts (price, oversold, unknown product)",
        _ => "other",
    }
}

/// Adds each node's own time to its part; returns the node's total time.
fn walk(node: &Value, part: &'static str, into: &mut BTreeMap<&'static str, f64>) -> f64 {
    let part = match node.get("Subplan Name").and_then(Value::as_str) {
        Some(s) if s.starts_with("CTE ") => part_of_cte(&s[4..]),
        _ => part,
    };
    let loops = node
        .get("Actual Loops")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    let total = node
        .get("Actual Total Time")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        * loops;
    let mut children = 0.0;
    for c in node
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        children += walk(c, part, into);
    }
    // A CTE Scan's time includes computing the CTE, which its own subplan node already counts.
    if node.get("Node Type").and_then(Value::as_str) != Some("CTE Scan") {
        *into.entry(part).or_default() += (total - children).max(0.0);
    }
    total
}

pub struct Profile {
    pub total_ms: f64,
    pub parts: Vec<(String, f64)>,
    pub per_op_ms: f64,
    pub parse_ms: f64,
    /// The statement of the fast run that runs under the store's lock (without triggers).
    pub locked_ms: f64,
}

/// Pushes `batch` (the JSON text of p_ops) as `device` of `store` and measures it.
pub async fn profile(
    db_url: &str,
    device: Uuid,
    store: Uuid,
    batch: &str,
) -> Result<Profile, BoxError> {
    let (client, mut conn) = tokio_postgres::connect(db_url, NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notice(n)) => {
                    let _ = tx.send(n.message().to_string());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let claims = serde_json::json!({"role": "authenticated", "sub": device,
        "app_metadata": {"store_id": store}})
    .to_string();
    let as_device = |extra: &'static str| {
        let claims = claims.clone();
        let client = &client;
        async move {
            client.batch_execute("begin").await?;
            client
                .execute(
                    "select set_config('request.jwt.claims', $1, true)",
                    &[&claims],
                )
                .await?;
            client.batch_execute(extra).await?;
            client.batch_execute("set local role authenticated").await?;
            Ok::<(), BoxError>(())
        }
    };
    let push = "select public.kassa_push($1::text::jsonb)";
    // Warm-up (plans of the session), not measured.
    as_device("").await?;
    client.execute(push, &[&batch]).await?;
    client.batch_execute("rollback").await?;

    // The per-op path: a subtransaction per op.
    as_device("set local kassa.push_isolation = 'per_op'").await?;
    let t = Instant::now();
    client.execute(push, &[&batch]).await?;
    let per_op_ms = t.elapsed().as_secs_f64() * 1000.0;
    client.batch_execute("rollback").await?;

    // Parsing the text into jsonb and splitting the array, alone.
    let t = Instant::now();
    client
        .execute(
            "select count(*) from jsonb_array_elements($1::text::jsonb)",
            &[&batch],
        )
        .await?;
    let parse_ms = t.elapsed().as_secs_f64() * 1000.0;

    // The fast path without auto_explain (its own overhead is not the push's) ...
    as_device("").await?;
    let t = Instant::now();
    client.execute(push, &[&batch]).await?;
    let total_ms = t.elapsed().as_secs_f64() * 1000.0;
    client.batch_execute("rollback").await?;
    // The same without triggers (foreign-key checks, version stamps): what they cost.
    as_device("set local session_replication_role = replica").await?;
    let t = Instant::now();
    client.execute(push, &[&batch]).await?;
    let no_triggers_ms = t.elapsed().as_secs_f64() * 1000.0;
    client.batch_execute("rollback").await?;
    // ... and, still without triggers, with auto_explain for the split of the rest (statements
    // under 1 ms, such as each foreign-key probe, are timed but not reported).
    client
        .batch_execute(
            "load 'auto_explain';
             set auto_explain.log_min_duration = 1; set auto_explain.log_analyze = on;
             set auto_explain.log_nested_statements = on; set auto_explain.log_triggers = on;
             set auto_explain.log_format = 'json'; set auto_explain.log_level = 'notice';
             set client_min_messages = 'notice';",
        )
        .await?;
    while rx.try_recv().is_ok() {}
    as_device("set local session_replication_role = replica").await?;
    client.execute(push, &[&batch]).await?;
    client.batch_execute("rollback").await?;
    client
        .batch_execute("set auto_explain.log_min_duration = -1")
        .await?;
    // The notices were sent before the statement's answer.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut parts: BTreeMap<&'static str, f64> = BTreeMap::new();
    let mut explained_total = 0.0;
    let mut locked = 0.0;
    while let Ok(msg) = rx.try_recv() {
        let Some(json) = msg.find('{').map(|i| &msg[i..]) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        let text = v["Query Text"].as_str().unwrap_or("");
        let plan = &v["Plan"];
        let statement_ms = plan["Actual Total Time"].as_f64().unwrap_or(0.0);
        if text.contains("kassa_push($1") {
            explained_total = v["Execution Time"].as_f64().unwrap_or(statement_ms);
            continue;
        }
        if text.contains("with e as materialized") {
            walk(plan, part_of_cte("e"), &mut parts);
        } else if text.contains("with moves as") {
            // The fast run's second statement, under the store lock: ledger, stock levels,
            // conflicts (20261204005000_kassa_push_scaling.sql).
            // (its writing CTEs are not children of the top node: sum every node's own time)
            let before: f64 = parts.values().sum();
            walk(plan, part_of_cte("moves"), &mut parts);
            locked += parts.values().sum::<f64>() - before;
        } else if text.contains("with it as") {
            walk(plan, "results (one jsonb per op)", &mut parts);
        } else if text.contains("pg_advisory_xact_lock") {
            *parts.entry("store lock").or_default() += statement_ms;
        }
        // Other statements (lookups of the device, the store's threshold, the chain's last
        // hash, the statements of the triggers' functions) are in "plpgsql and the rest".
    }
    let listed: f64 = parts.values().sum();
    // auto_explain's own overhead: scale the split to the uninstrumented time without triggers.
    let scale = if explained_total > 0.0 {
        no_triggers_ms / explained_total
    } else {
        1.0
    };
    let mut out: Vec<(String, f64)> = parts
        .into_iter()
        .map(|(k, v)| (k.to_string(), v * scale))
        .collect();
    out.push((
        "plpgsql and the rest (small statements, function calls)".into(),
        ((explained_total - listed).max(0.0)) * scale,
    ));
    out.push((
        "triggers: 10 foreign-key checks per sale, store/device checks, version stamps".into(),
        (total_ms - no_triggers_ms).max(0.0),
    ));
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Profile {
        total_ms,
        parts: out,
        per_op_ms,
        parse_ms,
        locked_ms: locked * scale,
    })
}
