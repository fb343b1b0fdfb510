//! Drains N (default 100,000) queued 3-line sales from a till through the gateway into local
//! PostgreSQL with the sync engine, and in the same run measures the same sales stored
//! (a) the way a generic client does it, one insert per row, and (b) with COPY.
//!
//! `cargo bench --bench sync_drain [-- N]`. Target (issue 4): >= 10,000 sales/s and >= 50x
//! the one-insert-per-row way.
//!
//! About (a): a generic client stores a sale as rows, one `POST /rest/v1/{table}` per row
//! (1 sale + 3 lines + 1 tender = 5 requests), each its own HTTP request and transaction,
//! here with the service_role key (head-office style; devices cannot write tables). It is
//! timed on the first `PER_ROW_SAMPLE` sales and reported as a rate, next to the same rows as
//! single-row INSERT statements over one PostgreSQL connection (no HTTP at all).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::SinkExt;
use kassa::config::{Config, RemoteConfig, SyncConfig};
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment};
use kassa::store::{StoreHandle, StoreOptions};
use kassa::sync::sync_once;
use pgrest_lite::testing::TestStack;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

#[path = "support/figure.rs"]
mod figure;
#[path = "support/push_profile.rs"]
mod push_profile;

const PER_ROW_SAMPLE: usize = 1_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(n))
}

async fn run(n: usize) -> Result<(), BoxError> {
    let stack = TestStack::start().await?;
    let db = stack.client().await?;
    // Plenty of stock, so that the benchmark measures sales, not oversold conflicts.
    db.query(
        "select public.kassa_receive_stock($1, p.sku, 100000000) from public.products p
          where p.active",
        &[&stack.store_id],
    )
    .await?;

    let dir = tempfile::tempdir()?;
    let store = StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default())?;
    let t = Instant::now();
    store
        .call(move |db| -> Result<(), kassa::store::StoreError> {
            // Filling the queue is setup, not what is measured: no fsync per sale here.
            db.conn().pragma_update(None, "synchronous", "OFF")?;
            let products: Vec<_> = db.catalog()?.into_iter().filter(|p| p.active).collect();
            let mut rng = StdRng::seed_from_u64(4);
            for _ in 0..n {
                let mut cart = Cart::new(Currency::EUR);
                let first = rng.random_range(0..products.len());
                for k in 0..3 {
                    let p = &products[(first + k * 7) % products.len()];
                    cart.add(p, rng.random_range(1..=3))?;
                }
                let total = cart.totals()?.total_cents;
                let s = settle(total, Payment::Card, 0, Currency::EUR)?;
                db.commit_sale(&cart, &s, chrono::Utc::now())?;
            }
            db.conn().pragma_update(None, "synchronous", "FULL")?;
            Ok(())
        })
        .await??;
    println!(
        "queued {n} sales of 3 lines in {:.1} s (setup)",
        t.elapsed().as_secs_f64()
    );

    let config = Config {
        remote: RemoteConfig {
            url: Some(stack.url.clone()),
            anon_key: Some(stack.anon_key.clone()),
            device_token: Some(stack.devices[0].token.clone()),
            request_timeout_ms: 120_000,
            ..RemoteConfig::default()
        },
        sync: SyncConfig {
            batch_max_ops: 1000,
            batch_max_bytes: 4_000_000,
            ..SyncConfig::default()
        },
        ..Config::default()
    };
    let t = Instant::now();
    let report = sync_once(store.clone(), &config, |_| {}).await;
    let drain = t.elapsed();
    if let Some(e) = report.error {
        return Err(format!("drain failed: {e}").into());
    }
    let on_server: i64 = db
        .query_one("select count(*) from public.sales", &[])
        .await?
        .get(0);
    assert_eq!(on_server, n as i64, "every sale on the server");
    assert_eq!(report.pending, 0);
    let push_rate = n as f64 / drain.as_secs_f64();
    println!(
        "sync engine: {n} sales pushed in {:.2} s = {push_rate:.0} sales/s (batches of 1000, one pull)",
        drain.as_secs_f64()
    );

    // The same sales, as rows, into a fresh database.
    let payloads: Vec<(String, i64, String)> = store
        .call(|db| -> Result<_, kassa::store::StoreError> {
            let mut st = db.conn().prepare(
                "SELECT op_id, seq, payload FROM outbox WHERE kind = 'sale' ORDER BY seq",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await??;
    let base = TestStack::start().await?;
    let bdb = base.client().await?;
    let ids: HashMap<String, String> = bdb
        .query("select sku, id::text from public.products", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let rows = Rows::build(&payloads, &ids, &base)?;
    // Where kassa_push spends its time (issue 14): one batch of 1,000 sales, rolled back.
    bdb.query(
        "select public.kassa_receive_stock($1, p.sku, 100000000) from public.products p
          where p.active",
        &[&base.store_id],
    )
    .await?;
    let sample_ops = &payloads[..1000.min(payloads.len())];
    let prof = push_profile::profile(
        &base.db_url,
        base.devices[0].id,
        base.store_id,
        &wire_batch(sample_ops)?,
    )
    .await?;
    let engine_ms = sample_ops.len() as f64 / push_rate * 1000.0;
    println!(
        "profile: kassa_push of {} sales in SQL (no HTTP) {:.0} ms = {:.0} us per sale; the engine's drain takes {engine_ms:.0} ms for as many",
        sample_ops.len(),
        prof.total_ms,
        prof.total_ms * 1000.0 / sample_ops.len() as f64
    );
    for (part, ms) in &prof.parts {
        println!(
            "profile:   {part:<58} {ms:>7.1} ms  {:>5.1} %",
            100.0 * ms / prof.total_ms
        );
    }
    println!(
        "profile:   (of that, parsing the batch text into jsonb alone: {:.1} ms)",
        prof.parse_ms
    );
    println!(
        "profile: under the store's lock (the fast run's ledger, stock levels and conflicts, without their triggers): {:.1} ms = {:.1} % of the push; the rest runs beside other tills' pushes",
        prof.locked_ms,
        100.0 * prof.locked_ms / prof.total_ms
    );
    println!(
        "profile: outside kassa_push (HTTP, the gateway, the till reading and marking its queue): {:.0} ms = {:.0} % of the drain",
        (engine_ms - prof.total_ms).max(0.0),
        100.0 * (engine_ms - prof.total_ms).max(0.0) / engine_ms
    );
    println!(
        "profile: the per-op path (a subtransaction per op, used after an unexpected error): {:.0} ms = {:.2}x the fast path",
        prof.per_op_ms,
        prof.per_op_ms / prof.total_ms
    );

    let sample = PER_ROW_SAMPLE.min(n);
    let truncate = "truncate public.sale_tenders, public.sale_lines, public.sales cascade";
    let rest = per_row_rest(&base, &rows, sample).await?;
    let per_row_rate = sample as f64 / rest.as_secs_f64();
    println!(
        "one REST insert per row: {sample} sales ({} requests) in {:.2} s = {per_row_rate:.0} sales/s",
        sample * 5,
        rest.as_secs_f64()
    );
    bdb.batch_execute(truncate).await?;
    let sql_rows = per_row_inserts(&bdb, &rows, sample).await?;
    let sql_row_rate = sample as f64 / sql_rows.as_secs_f64();
    println!(
        "one SQL INSERT per row (no HTTP): {sample} sales ({} statements) in {:.2} s = {sql_row_rate:.0} sales/s",
        sample * 5,
        sql_rows.as_secs_f64()
    );
    bdb.batch_execute(truncate).await?;
    let copy = copy_rows(&bdb, &rows).await?;
    let copy_rate = n as f64 / copy.as_secs_f64();
    println!(
        "COPY: {n} sales ({} rows) in {:.2} s = {copy_rate:.0} sales/s",
        n * 5,
        copy.as_secs_f64()
    );
    let floor = one_row_per_sale(&bdb, &base, &payloads, 1000).await?;
    let floor_rate = n as f64 / floor.as_secs_f64();
    println!(
        "floor (one jsonb row per sale, nothing applied): {n} sales in {:.2} s = {floor_rate:.0} sales/s",
        floor.as_secs_f64()
    );
    println!(
        "ratios: sync engine / one REST insert per row = {:.1}x; / one SQL INSERT per row = {:.1}x; / COPY = {:.2}x; / floor = {:.2}x",
        push_rate / per_row_rate,
        push_rate / sql_row_rate,
        push_rate / copy_rate,
        push_rate / floor_rate
    );
    figure::report(&figure::Figure {
        name: "sync drain (sales/s)",
        value: push_rate,
        unit: "sales/s",
        baseline_name: Some("one REST insert per row"),
        baseline: Some(per_row_rate),
        target: ">= 10000 sales/s and >= 50x one REST insert per row",
        met: Some(push_rate >= 10_000.0 && push_rate / per_row_rate >= 50.0),
        better: figure::Better::Higher,
    });
    figure::report(&figure::Figure {
        name: "sync drain vs COPY (sales/s)",
        value: push_rate,
        unit: "sales/s",
        baseline_name: Some("COPY"),
        baseline: Some(copy_rate),
        target: "(reference)",
        met: None,
        better: figure::Better::Higher,
    });
    figure::report(&figure::Figure {
        name: "sync drain vs floor (sales/s)",
        value: push_rate,
        unit: "sales/s",
        baseline_name: Some("one jsonb row per sale"),
        baseline: Some(floor_rate),
        target: "(reference)",
        met: None,
        better: figure::Better::Higher,
    });
    stack.cleanup().await;
    base.cleanup().await;
    Ok(())
}

/// The floor of any design that applies a pushed batch synchronously: the same batches the
/// engine sends (the same JSON text), each stored in one transaction as ONE row per sale
/// (lines and tenders left as jsonb), exactly once by a unique (device, op_id), with the two
/// foreign keys and one report index a sales table needs, over one SQL connection (no HTTP,
/// no validation, no hash check, no content digest for replays, no ledger, no stock levels,
/// no conflicts). If this is below a
/// target, no such design reaches the target on this machine.
async fn one_row_per_sale(
    db: &tokio_postgres::Client,
    stack: &TestStack,
    ops: &[(String, i64, String)],
    batch: usize,
) -> Result<Duration, BoxError> {
    db.batch_execute(
        "create table public.bench_floor_sales (
           id uuid primary key,
           store_id uuid not null references public.stores (id),
           device_id uuid not null references public.devices (id),
           op_id uuid not null, seq bigint not null, created_at text not null,
           event_time timestamptz not null, currency text not null, total_cents bigint not null,
           tax_cents bigint not null, rounding_cents bigint not null, prev_hash text not null,
           hash text not null, lines jsonb not null, tenders jsonb,
           received_at timestamptz not null default now(),
           unique (device_id, op_id));
         create index on public.bench_floor_sales (store_id, event_time);",
    )
    .await?;
    let insert = db
        .prepare(
            "insert into public.bench_floor_sales (id, store_id, device_id, op_id, seq, created_at,
               event_time, currency, total_cents, tax_cents, rounding_cents, prev_hash, hash,
               lines, tenders)
             select (p ->> 'sale_id')::uuid, $2, $3, (e ->> 'op_id')::uuid, (e ->> 'seq')::bigint,
                    p ->> 'created_at', (p ->> 'created_at')::timestamptz, p ->> 'currency',
                    (p ->> 'total_cents')::bigint, (p ->> 'tax_cents')::bigint,
                    coalesce((p ->> 'rounding_cents')::bigint, 0), p ->> 'prev_hash', p ->> 'hash',
                    p -> 'lines', p -> 'tenders'
               from jsonb_array_elements($1::text::jsonb) e, lateral (select e -> 'payload' as p) x
             on conflict (device_id, op_id) do nothing",
        )
        .await?;
    let batches = ops
        .chunks(batch)
        .map(wire_batch)
        .collect::<Result<Vec<_>, _>>()?;
    let (store, device) = (stack.store_id, stack.devices[0].id);
    let t = Instant::now();
    for b in &batches {
        db.batch_execute("begin").await?;
        db.execute(&insert, &[b, &store, &device]).await?;
        db.batch_execute("commit").await?;
    }
    Ok(t.elapsed())
}

/// The sales of the outbox as rows of `sales`, `sale_lines` and `sale_tenders` (text).
struct Rows {
    sales: Vec<Vec<String>>,
    lines: Vec<Vec<Vec<String>>>,
    tenders: Vec<Vec<Vec<String>>>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Rows {
    fn build(
        payloads: &[(String, i64, String)],
        ids: &HashMap<String, String>,
        stack: &TestStack,
    ) -> Result<Rows, BoxError> {
        let (store, device) = (stack.store_id.to_string(), stack.devices[0].id.to_string());
        let mut rows = Rows {
            sales: Vec::new(),
            lines: Vec::new(),
            tenders: Vec::new(),
        };
        for (op_id, seq, payload) in payloads {
            let p: Value = serde_json::from_str(payload)?;
            let sale_id = text(&p["sale_id"]);
            rows.sales.push(vec![
                sale_id.clone(),
                store.clone(),
                device.clone(),
                op_id.clone(),
                seq.to_string(),
                text(&p["created_at"]),
                "0".into(),
                text(&p["created_at"]),
                text(&p["currency"]),
                text(&p["total_cents"]),
                text(&p["tax_cents"]),
                text(&p["rounding_cents"]),
                text(&p["prev_hash"]),
                text(&p["hash"]),
                "true".into(),
            ]);
            let mut lines = Vec::new();
            for l in p["lines"].as_array().into_iter().flatten() {
                let sku = text(&l["sku"]);
                lines.push(vec![
                    sale_id.clone(),
                    text(&l["line_no"]),
                    store.clone(),
                    ids.get(&sku).cloned().unwrap_or_default(),
                    sku,
                    text(&l["name"]),
                    text(&l["qty"]),
                    text(&l["unit_price_cents"]),
                    text(&l["discount_cents"]),
                    text(&l["price_overridden"]),
                    text(&l["tax_rate_bp"]),
                    text(&l["price_includes_tax"]),
                    text(&l["line_total_cents"]),
                    text(&l["tax_cents"]),
                ]);
            }
            rows.lines.push(lines);
            let mut tenders = Vec::new();
            for (i, t) in p["tenders"].as_array().into_iter().flatten().enumerate() {
                tenders.push(vec![
                    sale_id.clone(),
                    i.to_string(),
                    store.clone(),
                    text(&t["kind"]),
                    text(&t["amount_cents"]),
                    text(&t["change_cents"]),
                ]);
            }
            rows.tenders.push(tenders);
        }
        Ok(rows)
    }
}

const SALES_COLS: &str = "id, store_id, device_id, op_id, seq, created_at, skew_ms, event_time, \
     currency, total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok";
const LINE_COLS: &str = "sale_id, line_no, store_id, product_id, sku, name, qty, \
     unit_price_cents, discount_cents, price_overridden, tax_rate_bp, price_includes_tax, \
     line_total_cents, tax_cents";
const TENDER_COLS: &str = "sale_id, idx, store_id, kind, amount_cents, change_cents";

/// One `POST /rest/v1/{table}` per row through the gateway (keep-alive connection).
async fn per_row_rest(stack: &TestStack, rows: &Rows, sample: usize) -> Result<Duration, BoxError> {
    let http = reqwest::Client::new();
    let names =
        |cols: &str| -> Vec<String> { cols.split(',').map(|c| c.trim().to_string()).collect() };
    let (sale_cols, line_cols, tender_cols) =
        (names(SALES_COLS), names(LINE_COLS), names(TENDER_COLS));
    let object = |cols: &[String], v: &[String]| -> Value {
        Value::Object(
            cols.iter()
                .zip(v)
                .filter(|(_, val)| !val.is_empty())
                .map(|(c, val)| (c.clone(), Value::String(val.clone())))
                .collect(),
        )
    };
    let t = Instant::now();
    for i in 0..sample {
        let mut requests = vec![("sales", object(&sale_cols, &rows.sales[i]))];
        for l in &rows.lines[i] {
            requests.push(("sale_lines", object(&line_cols, l)));
        }
        for r in &rows.tenders[i] {
            requests.push(("sale_tenders", object(&tender_cols, r)));
        }
        for (table, body) in requests {
            let resp = http
                .post(format!("{}/rest/v1/{table}", stack.url))
                .header("apikey", &stack.service_key)
                .bearer_auth(&stack.service_key)
                .json(&body)
                .send()
                .await?;
            if !resp.status().is_success() {
                let status = resp.status();
                return Err(format!("POST {table}: {status} {}", resp.text().await?).into());
            }
        }
    }
    Ok(t.elapsed())
}

/// One INSERT per row, each its own transaction and round trip.
async fn per_row_inserts(
    db: &tokio_postgres::Client,
    rows: &Rows,
    sample: usize,
) -> Result<Duration, BoxError> {
    let sale = db
        .prepare(&format!(
            "insert into public.sales ({SALES_COLS}) values ($1::text::uuid, $2::text::uuid, \
             $3::text::uuid, $4::text::uuid, $5::text::bigint, $6, $7::text::bigint, \
             $8::text::timestamptz, $9, $10::text::bigint, $11::text::bigint, $12::text::bigint, \
             $13, $14, $15::text::boolean)"
        ))
        .await?;
    let line = db
        .prepare(&format!(
            "insert into public.sale_lines ({LINE_COLS}) values ($1::text::uuid, $2::text::int, \
             $3::text::uuid, $4::text::uuid, $5, $6, $7::text::bigint, $8::text::bigint, \
             $9::text::bigint, $10::text::boolean, $11::text::int, $12::text::boolean, \
             $13::text::bigint, $14::text::bigint)"
        ))
        .await?;
    let tender = db
        .prepare(&format!(
            "insert into public.sale_tenders ({TENDER_COLS}) values ($1::text::uuid, \
             $2::text::int, $3::text::uuid, $4, $5::text::bigint, $6::text::bigint)"
        ))
        .await?;
    fn params(v: &[String]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        v.iter()
            .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect()
    }
    let t = Instant::now();
    for i in 0..sample {
        db.execute(&sale, &params(&rows.sales[i])).await?;
        for l in &rows.lines[i] {
            db.execute(&line, &params(l)).await?;
        }
        for r in &rows.tenders[i] {
            db.execute(&tender, &params(r)).await?;
        }
    }
    Ok(t.elapsed())
}

fn copy_text(rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = String::new();
    for r in rows {
        for (i, f) in r.iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            for c in f.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// COPY of all rows, one COPY per table, in one transaction (text built before timing).
async fn copy_rows(db: &tokio_postgres::Client, rows: &Rows) -> Result<Duration, BoxError> {
    let sales = copy_text(rows.sales.iter().cloned());
    let lines = copy_text(rows.lines.iter().flatten().cloned());
    let tenders = copy_text(rows.tenders.iter().flatten().cloned());
    let t = Instant::now();
    db.batch_execute("begin").await?;
    for (table, cols, data) in [
        ("sales", SALES_COLS, sales),
        ("sale_lines", LINE_COLS, lines),
        ("sale_tenders", TENDER_COLS, tenders),
    ] {
        let sink = db
            .copy_in(&format!("copy public.{table} ({cols}) from stdin"))
            .await?;
        futures_util::pin_mut!(sink);
        sink.send(Bytes::from(data)).await?;
        sink.finish().await?;
    }
    db.batch_execute("commit").await?;
    Ok(t.elapsed())
}

/// Queued sale ops as the JSON array `kassa_push` takes (skew 0).
fn wire_batch(ops: &[(String, i64, String)]) -> Result<String, BoxError> {
    let mut wire = Vec::with_capacity(ops.len());
    for (op_id, seq, payload) in ops {
        let p: Value = serde_json::from_str(payload)?;
        wire.push(
            serde_json::json!({"op_id": op_id, "seq": seq, "kind": "sale",
            "device_time": p["created_at"], "skew_ms": 0, "payload": p}),
        );
    }
    Ok(Value::Array(wire).to_string())
}
