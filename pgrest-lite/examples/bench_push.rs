//! Benchmark of `kassa_push` through the gateway, next to COPY of the same rows into the same
//! tables, in the same run, on a fresh database.
//!
//! ```text
//! cargo run --release -p pgrest-lite --example bench_push [-- --sales 3000]
//! ```
//! For batches of 100, 500 and 1000 sales of 3 lines each: sales/s of `kassa_push` (HTTP,
//! JWT, one transaction per batch: op log, sales, lines, tenders, ledger, stock levels,
//! conflict checks) on its set-based fast path (the default), the same pushes forced onto the
//! per-op path (`kassa.push_fast_path = off`, a role setting that the gateway applies), and
//! COPY of the same rows into sales, sale_lines, sale_tenders and stock_movements (one
//! transaction per batch), with the ratios.
//! Prints a readable table and `FIGURE {json}` lines for scripts/bench.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use bytes::Bytes;
use common::{Api, Till};
use futures_util::SinkExt;
use pgrest_lite::testing::TestStack;
use serde_json::Value;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Three distinct skus of 1001..=1063 with their catalog prices.
    fn lines(&mut self, prices: &[(String, i64)]) -> Vec<(String, i64, i64)> {
        let mut picked: Vec<usize> = Vec::new();
        while picked.len() < 3 {
            let i = (self.next() % 63) as usize;
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        picked
            .into_iter()
            .map(|i| {
                (
                    prices[i].0.clone(),
                    1 + (self.next() % 3) as i64,
                    prices[i].1,
                )
            })
            .collect()
    }
}

fn make_ops(till: &mut Till, rng: &mut Rng, prices: &[(String, i64)], n: usize) -> Vec<Value> {
    (0..n)
        .map(|_| {
            let lines = rng.lines(prices);
            let refs: Vec<(&str, i64, i64)> =
                lines.iter().map(|(s, q, p)| (s.as_str(), *q, *p)).collect();
            till.sale(&refs)
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

/// COPY the rows that pushing `ops` would write (with fresh ids), one transaction.
async fn copy_batch(
    db: &mut tokio_postgres::Client,
    ops: &[Value],
    store: Uuid,
    device: Uuid,
    product_ids: &std::collections::HashMap<String, Uuid>,
) -> Result<(), BoxError> {
    let (mut sales, mut lines, mut tenders, mut moves) =
        (String::new(), String::new(), String::new(), String::new());
    for op in ops {
        let p = &op["payload"];
        let sale = Uuid::new_v4();
        let op_id = Uuid::new_v4();
        let created = p["created_at"].as_str().unwrap_or_default();
        sales.push_str(&format!(
            "{sale}\t{store}\t{device}\t{op_id}\t{}\t{created}\t0\t{created}\tEUR\t{}\t{}\t0\t{}\t{}\tt\n",
            op["seq"], p["total_cents"], p["tax_cents"],
            p["prev_hash"].as_str().unwrap_or_default(), p["hash"].as_str().unwrap_or_default()
        ));
        for l in p["lines"].as_array().into_iter().flatten() {
            let sku = l["sku"].as_str().unwrap_or_default();
            let pid = product_ids
                .get(sku)
                .map(|u| u.to_string())
                .unwrap_or_default();
            lines.push_str(&format!(
                "{sale}\t{}\t{store}\t{pid}\t{sku}\t{}\t{}\t{}\t0\tf\t700\tt\t{}\t{}\n",
                l["line_no"],
                esc(l["name"].as_str().unwrap_or_default()),
                l["qty"],
                l["unit_price_cents"],
                l["line_total_cents"],
                l["tax_cents"]
            ));
            moves.push_str(&format!(
                "{store}\t{pid}\t-{}\tsale\t{op_id}\t{device}\t{sale}\t{}\t{created}\t0\t{created}\n",
                l["qty"], l["line_no"]
            ));
        }
        tenders.push_str(&format!(
            "{sale}\t1\t{store}\tcash\t{}\t0\n",
            p["total_cents"]
        ));
    }
    let tx = db.transaction().await?;
    for (sql, data) in [
        ("copy sales (id, store_id, device_id, op_id, seq, created_at, skew_ms, event_time, currency, total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok) from stdin", sales),
        ("copy sale_lines (sale_id, line_no, store_id, product_id, sku, name, qty, unit_price_cents, discount_cents, price_overridden, tax_rate_bp, price_includes_tax, line_total_cents, tax_cents) from stdin", lines),
        ("copy sale_tenders (sale_id, idx, store_id, kind, amount_cents, change_cents) from stdin", tenders),
        ("copy stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id, line_no, device_time, skew_ms, event_time) from stdin", moves),
    ] {
        let sink = tx.copy_in(sql).await?;
        futures_util::pin_mut!(sink);
        sink.send(Bytes::from(data)).await?;
        sink.finish().await?;
    }
    tx.commit().await?;
    Ok(())
}

fn figure(name: &str, value: f64, baseline_name: &str, baseline: f64, target: Option<f64>) {
    let ratio = if baseline > 0.0 {
        value / baseline
    } else {
        f64::NAN
    };
    let (target, met) = match target {
        Some(t) => (format!(">= {t:.0} sales/s"), (value >= t).to_string()),
        None => ("report".to_string(), "null".to_string()),
    };
    println!(
        "FIGURE {{\"name\":\"{name}\",\"value\":{value:.1},\"unit\":\"sales/s\",\"baseline_name\":\"{baseline_name}\",\"baseline\":{baseline:.1},\"ratio\":{},\"target\":\"{target}\",\"met\":{met},\"better\":\"higher\"}}",
        if ratio.is_finite() { format!("{ratio:.3}") } else { "null".into() }
    );
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args
        .iter()
        .position(|a| a == "--sales")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let stack = TestStack::start().await?;
    let result = run(&stack, total).await;
    stack.cleanup().await;
    result
}

async fn run(stack: &TestStack, total: usize) -> Result<(), BoxError> {
    let api = Api::new(stack);
    let mut db = stack.client().await?;
    // Plenty of stock: the benchmark measures the normal path, not conflict raising.
    db.batch_execute(&format!(
        "select kassa_receive_stock('{}', sku, 1000000) from products",
        stack.store_id
    ))
    .await?;
    let prices: Vec<(String, i64)> = db
        .query("select sku, price_cents from products order by sku", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let product_ids: std::collections::HashMap<String, Uuid> = db
        .query("select sku, id from products", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let device = &stack.devices[0];
    let mut till = Till::new(device);
    let mut rng = Rng(0x9e3779b97f4a7c15);

    // Warm-up: connections, plans.
    let warm = make_ops(&mut till, &mut rng, &prices, 50);
    api.push(&device.token, &warm).await;
    copy_batch(&mut db, &warm, stack.store_id, device.id, &product_ids).await?;

    println!("kassa_push vs COPY, 3 lines per sale, {total} sales per batch size, fresh database");
    println!(
        "{:>6} {:>8} {:>12} {:>12} {:>12} {:>9} {:>9}",
        "batch", "batches", "fast sales/s", "per-op s/s", "COPY s/s", "fast/per", "fast/COPY"
    );
    for &n in &[100usize, 500, 1000] {
        let rounds = (total / n).max(2);
        let (mut fast_s, mut per_op_s, mut copy_s) = (0.0, 0.0, 0.0);
        for fast in [true, false] {
            db.batch_execute(&format!(
                "alter role authenticated in database \"{}\" {}",
                stack.db_name,
                if fast {
                    "reset kassa.push_fast_path"
                } else {
                    "set kassa.push_fast_path = 'off'"
                }
            ))
            .await?;
            for _ in 0..rounds {
                let ops = make_ops(&mut till, &mut rng, &prices, n);
                let t = Instant::now();
                let res = api.push(&device.token, &ops).await;
                let took = t.elapsed().as_secs_f64();
                if res.iter().any(|r| r["status"] != "applied") {
                    return Err(format!("unexpected push results: {:?}", &res[..1]).into());
                }
                if fast {
                    fast_s += took;
                    let t = Instant::now();
                    copy_batch(&mut db, &ops, stack.store_id, device.id, &product_ids).await?;
                    copy_s += t.elapsed().as_secs_f64();
                } else {
                    per_op_s += took;
                }
            }
        }
        db.batch_execute(&format!(
            "alter role authenticated in database \"{}\" reset kassa.push_fast_path",
            stack.db_name
        ))
        .await?;
        let sales = (rounds * n) as f64;
        let (fast, per_op, copy) = (sales / fast_s, sales / per_op_s, sales / copy_s);
        println!(
            "{n:>6} {rounds:>8} {fast:>12.0} {per_op:>12.0} {copy:>12.0} {:>9.2} {:>9.3}",
            fast / per_op,
            fast / copy
        );
        figure(
            &format!("kassa_push {n}x3 via gateway"),
            fast,
            &format!("COPY {n}x3"),
            copy,
            Some(10_000.0),
        );
        figure(
            &format!("kassa_push {n}x3 fast path vs per-op path"),
            fast,
            &format!("kassa_push {n}x3 per-op path"),
            per_op,
            None,
        );
    }
    Ok(())
}
