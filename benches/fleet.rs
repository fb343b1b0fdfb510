//! Server capacity for a fleet (issue 14): many tills of one store draining their queues at
//! once through the gateway into PostgreSQL, the sales mostly of the same 10 products (every
//! stock level row of a hot product contended), with a till of a second store beside them;
//! then fleet telemetry: 1,000 simulated devices heartbeating every 10 s.
//!
//! `cargo bench --bench fleet [-- SALES_PER_TILL] [--levels 1,2,4,8,20] [--batch N]
//! [--heartbeat-s S]` (defaults 4000, 1,2,4,8,20, the engine's 500, 30).
//!
//! Per level, a fresh server database: N tills of the demo store, each with SALES_PER_TILL
//! queued 3-line sales (the same queued sales at every level: each till's SQLite file is a copy
//! of a template filled once), and one till of the other store, all started at once, each with
//! the real sync engine (`sync_once`, run again while anything is left, as a headless
//! `kassa sync` would keep going). Printed per level: the demo store's aggregate sales/s (its
//! sales over the time until its last till is done), push round trips as a till sees them (read
//! the batch, `kassa_push`, mark it sent: the time between the sent_at of two batches, the first from the start) p50/p99,
//! deadlocks (the database's pg_stat_database counter and 40P01 errors the tills saw),
//! serialization failures (40001), every failed push the engine retried, ops rejected; the
//! ratio to one till; and the cores each part used meanwhile (PostgreSQL's backends, the
//! gateway's threads, the tills' engines, and the whole machine, other processes included):
//! on 2 cores shared by all of them, that is what bounds the ratio. Afterwards, each level checks that every sale is on the server exactly
//! once, nothing was rejected, and each stock level equals the sum of its ledger.
//!
//! Targets: 2 tills >= 1.7x one till, 20 tills >= 1.6x; 0 deadlocks and 0 ops rejected;
//! telemetry < 10 % of one core.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kassa::config::{Config, RemoteConfig, SyncConfig};
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment};
use kassa::remote::HeartbeatStatus;
use kassa::store::{StoreHandle, StoreOptions};
use kassa::sync::{sync_once, SyncEvent};
use pgrest_lite::testing::TestStack;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

#[path = "support/figure.rs"]
mod figure;
#[path = "support/server_cpu.rs"]
mod server_cpu;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How many products most lines are drawn from, and how many lines are.
const HOT: usize = 10;
const HOT_SHARE: f64 = 0.8;
/// Tills of the demo store at the largest level (device ids below).
const MAX_TILLS: usize = 20;

struct Args {
    per_till: usize,
    levels: Vec<usize>,
    batch: usize,
    heartbeat_s: u64,
}

fn args() -> Result<Args, BoxError> {
    let mut a = Args {
        per_till: 4000,
        levels: vec![1, 2, 4, 8, 20],
        batch: SyncConfig::default().batch_max_ops,
        heartbeat_s: 30,
    };
    let mut it = std::env::args().skip(1).filter(|s| s != "--bench");
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--levels" => {
                a.levels = value("--levels")?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?;
            }
            "--batch" => a.batch = value("--batch")?.parse()?,
            "--heartbeat-s" => a.heartbeat_s = value("--heartbeat-s")?.parse()?,
            s => a.per_till = s.parse().map_err(|_| format!("unknown argument {s}"))?,
        }
    }
    if a.levels.is_empty() || a.levels.iter().any(|&n| n == 0 || n > MAX_TILLS) {
        return Err(format!("levels must be 1..={MAX_TILLS}").into());
    }
    Ok(a)
}

fn main() -> Result<(), BoxError> {
    let a = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(a))
}

fn till_device(k: usize) -> Uuid {
    Uuid::from_u128(0xf1ee7000_0000_4000_8000_000000000000 + k as u128)
}

async fn run(a: Args) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let max = *a.levels.iter().max().unwrap_or(&1);
    // Templates: MAX tills of the demo store, one of the other store (index `max`).
    let t = Instant::now();
    let mut fills = Vec::new();
    for k in 0..=max {
        let path = dir.path().join(format!("template-{k}.db"));
        let n = a.per_till;
        fills.push(tokio::spawn(async move { fill(&path, n, k as u64).await }));
    }
    for f in fills {
        f.await??;
    }
    println!(
        "queued {} sales of 3 lines in each of {} till databases in {:.1} s (setup; {:.0} % of lines on {HOT} hot products)",
        a.per_till,
        max + 1,
        t.elapsed().as_secs_f64(),
        HOT_SHARE * 100.0
    );

    let mut results: Vec<Level> = Vec::new();
    for &n in &a.levels {
        let level = run_level(&a, dir.path(), n, max).await?;
        level.print();
        results.push(level);
    }
    let one = results.iter().find(|l| l.tills == 1).map(|l| l.rate);
    println!();
    println!(
        "{:>5} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>11}",
        "tills",
        "sales/s",
        "x 1",
        "p50 ms",
        "p99 ms",
        "deadlock",
        "serializ",
        "retries",
        "rejected",
        "other store"
    );
    for l in &results {
        println!(
            "{:>5} {:>10.0} {:>7} {:>9.1} {:>9.1} {:>9} {:>9} {:>8} {:>8} {:>9.0}/s",
            l.tills,
            l.rate,
            one.map(|o| format!("{:.2}x", l.rate / o))
                .unwrap_or_else(|| "-".into()),
            l.p50_ms,
            l.p99_ms,
            l.deadlocks,
            l.serialization,
            l.retries,
            l.rejected,
            l.other_rate
        );
    }
    println!();
    println!(
        "cores used on average during each level (of {}): {:>8} {:>8} {:>8} {:>10} {:>14}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        "postgres",
        "gateway",
        "tills",
        "this run",
        "whole machine"
    );
    for l in &results {
        println!(
            "{:>5} tills {:>41.2} {:>8.2} {:>8.2} {:>10.2} {:>14.2}",
            l.tills,
            l.cpu.database,
            l.cpu.gateway,
            l.cpu.tills,
            l.cpu.database + l.cpu.gateway + l.cpu.tills,
            l.cpu.machine
        );
    }
    for l in &results {
        let target = match l.tills {
            2 => Some(1.7),
            20 => Some(1.6),
            _ => None,
        };
        let name = format!("fleet drain, {} tills of one store", l.tills);
        figure::report(&figure::Figure {
            name: &name,
            value: l.rate,
            unit: "sales/s",
            baseline_name: Some("one till, same run"),
            baseline: one,
            target: &match target {
                Some(t) => format!(">= {t}x one till"),
                None => "(reported)".into(),
            },
            met: target.zip(one).map(|(t, o)| l.rate / o >= t),
            better: figure::Better::Higher,
        });
        let name = format!("fleet push round trip, {} tills, p50", l.tills);
        figure::report(&figure::Figure {
            name: &name,
            value: l.p50_ms,
            unit: "ms",
            baseline_name: None,
            baseline: None,
            target: "(reported)",
            met: None,
            better: figure::Better::Lower,
        });
        let name = format!("fleet push round trip, {} tills, p99", l.tills);
        figure::report(&figure::Figure {
            name: &name,
            value: l.p99_ms,
            unit: "ms",
            baseline_name: None,
            baseline: None,
            target: "(reported)",
            met: None,
            better: figure::Better::Lower,
        });
        let name = format!(
            "fleet {} tills: deadlocks / serialization failures / retries / rejected",
            l.tills
        );
        let unit = format!(
            "{} / {} / {} / {}",
            l.deadlocks, l.serialization, l.retries, l.rejected
        );
        figure::report(&figure::Figure {
            name: &name,
            value: (l.deadlocks + l.rejected) as f64,
            unit: &unit,
            baseline_name: None,
            baseline: None,
            target: "0 deadlocks, 0 rejected, exact accounting",
            met: Some(l.deadlocks == 0 && l.rejected == 0),
            better: figure::Better::Lower,
        });
    }

    if a.heartbeat_s > 0 {
        heartbeats(a.heartbeat_s).await?;
    }
    Ok(())
}

/// Fills a till database with `n` queued card sales of 3 distinct products, each line from
/// the hot products with probability HOT_SHARE.
async fn fill(path: &Path, n: usize, seed: u64) -> Result<(), BoxError> {
    let store = StoreHandle::open(path, StoreOptions::default())?;
    store
        .call(move |db| -> Result<(), kassa::store::StoreError> {
            db.conn().pragma_update(None, "synchronous", "OFF")?;
            let mut products: Vec<_> = db.catalog()?.into_iter().filter(|p| p.active).collect();
            products.sort_by(|a, b| a.sku.cmp(&b.sku));
            let mut rng = StdRng::seed_from_u64(1400 + seed);
            for _ in 0..n {
                let mut cart = Cart::new(Currency::EUR);
                let mut picked: Vec<usize> = Vec::with_capacity(3);
                while picked.len() < 3 {
                    let i = if rng.random_bool(HOT_SHARE) {
                        rng.random_range(0..HOT.min(products.len()))
                    } else {
                        rng.random_range(0..products.len())
                    };
                    if !picked.contains(&i) {
                        picked.push(i);
                    }
                }
                for i in picked {
                    cart.add(&products[i], rng.random_range(1..=3))?;
                }
                let total = cart.totals()?.total_cents;
                let s = settle(total, Payment::Card, 0, Currency::EUR)?;
                db.commit_sale(&cart, &s, chrono::Utc::now())?;
            }
            db.conn()
                .execute_batch("PRAGMA synchronous = FULL; PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await??;
    Ok(())
}

fn copy_db(from: &Path, to: &Path) -> Result<(), BoxError> {
    std::fs::copy(from, to)?;
    for ext in ["-wal", "-shm"] {
        let f = PathBuf::from(format!("{}{ext}", from.display()));
        if f.exists() {
            std::fs::copy(&f, format!("{}{ext}", to.display()))?;
        }
    }
    Ok(())
}

/// What one till's engine saw: answered batches (when, how many ops) and failed pushes.
#[derive(Default)]
struct TillLog {
    rejected: usize,
    failures: Vec<String>,
}

/// Cores used on average during a level: PostgreSQL's backends of the benchmark's database,
/// the gateway's threads, the rest of this process (the tills' engines and SQLite), and the
/// whole machine (other processes, e.g. other builds, included).
struct Cpu {
    database: f64,
    gateway: f64,
    tills: f64,
    machine: f64,
}

struct Level {
    cpu: Cpu,
    tills: usize,
    sales: usize,
    secs: f64,
    rate: f64,
    other_rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    pushes: usize,
    deadlocks: i64,
    serialization: usize,
    retries: usize,
    rejected: i64,
}

impl Level {
    fn print(&self) {
        println!(
            "{:>2} tills: {} sales in {:.2} s = {:.0} sales/s; push round trip p50 {:.1} ms p99 {:.1} ms ({} pushes); deadlocks {}, serialization failures {}, retried pushes {}, rejected {}; other store {:.0} sales/s",
            self.tills, self.sales, self.secs, self.rate, self.p50_ms, self.p99_ms, self.pushes,
            self.deadlocks, self.serialization, self.retries, self.rejected, self.other_rate
        );
        println!(
            "{:>2} tills: cores used: postgres {:.2}, gateway {:.2}, tills {:.2} (this run {:.2}); whole machine {:.2} of {}",
            self.tills,
            self.cpu.database,
            self.cpu.gateway,
            self.cpu.tills,
            self.cpu.database + self.cpu.gateway + self.cpu.tills,
            self.cpu.machine,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn till_config(stack: &TestStack, token: String, batch: usize) -> Config {
    Config {
        remote: RemoteConfig {
            url: Some(stack.url.clone()),
            anon_key: Some(stack.anon_key.clone()),
            device_token: Some(token),
            request_timeout_ms: 120_000,
            ..RemoteConfig::default()
        },
        sync: SyncConfig {
            batch_max_ops: batch,
            batch_max_bytes: 4_000_000,
            ..SyncConfig::default()
        },
        ..Config::default()
    }
}

/// Drains one till until nothing is pending (sync_once again after it gave up on retries).
async fn drain(store: StoreHandle, config: Config, log: Arc<Mutex<TillLog>>) -> Result<(), String> {
    for _ in 0..20 {
        let l = log.clone();
        let report = sync_once(store.clone(), &config, move |e| {
            let Ok(mut l) = l.lock() else { return };
            match e {
                SyncEvent::BatchPushed { rejected, .. } => l.rejected += rejected,
                SyncEvent::PushFailed { error, .. } => l.failures.push(error.clone()),
                _ => {}
            }
        })
        .await;
        if report.error.is_none() && report.pending == 0 {
            return Ok(());
        }
        if let Some(e) = &report.error {
            if let Ok(mut l) = log.lock() {
                l.failures.push(e.clone());
            }
        }
    }
    Err("still pending after 20 runs of sync_once".into())
}

async fn run_level(a: &Args, dir: &Path, n: usize, max: usize) -> Result<Level, BoxError> {
    let stack = TestStack::start().await?;
    let db = stack.client().await?;
    for k in 0..n {
        db.execute(
            "insert into public.devices (id, store_id, name) values ($1, $2, $3)",
            &[&till_device(k), &stack.store_id, &format!("fleet till {k}")],
        )
        .await?;
    }
    // Plenty of stock in both stores: the benchmark measures sales, not oversold conflicts.
    for s in [stack.store_id, stack.other_store_id] {
        db.query(
            "select public.kassa_receive_stock($1, p.sku, 100000000) from public.products p
              where p.active",
            &[&s],
        )
        .await?;
    }
    let level_dir = dir.join(format!("level-{n}"));
    std::fs::create_dir_all(&level_dir)?;
    let mut tills = Vec::new();
    for k in 0..=n {
        let (template, token) = if k < n {
            (k, stack.token_for(till_device(k), stack.store_id))
        } else {
            let d = &stack.other_store_device;
            (max, stack.token_for(d.id, d.store_id))
        };
        let path = level_dir.join(format!("till-{k}.db"));
        copy_db(&dir.join(format!("template-{template}.db")), &path)?;
        let store = StoreHandle::open(&path, StoreOptions::default())?;
        tills.push((store, till_config(&stack, token, a.batch)));
    }
    let deadlocks0: i64 = db
        .query_one(
            "select deadlocks from pg_stat_database where datname = current_database()",
            &[],
        )
        .await?
        .get(0);

    let stores: Vec<StoreHandle> = tills.iter().map(|(s, _)| s.clone()).collect();
    let cpu0 = server_cpu::sample(&db).await?;
    let (process0, machine0) = (server_cpu::process_s(), server_cpu::machine_busy_s());
    let start = Instant::now();
    let start_utc = chrono::Utc::now();
    let mut tasks = Vec::new();
    let mut logs = Vec::new();
    for (store, config) in tills {
        let log = Arc::new(Mutex::new(TillLog::default()));
        logs.push(log.clone());
        tasks.push(tokio::spawn(async move {
            let r = drain(store, config, log).await;
            (r, Instant::now())
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        let (r, at) = t.await?;
        r?;
        done.push(at);
    }
    let secs = done[..n]
        .iter()
        .map(|d| d.duration_since(start).as_secs_f64())
        .fold(0.0, f64::max);
    let other_secs = done[n].duration_since(start).as_secs_f64();
    // CPU per component over the whole level (until the last till, of either store, is done).
    let wall = start.elapsed().as_secs_f64();
    let used = server_cpu::sample(&db).await?.since(&cpu0);
    let process = server_cpu::process_s() - process0;
    let machine = server_cpu::machine_busy_s() - machine0;
    let cpu = Cpu {
        database: used.database_s / wall,
        gateway: used.gateway_s / wall,
        tills: (process - used.gateway_s).max(0.0) / wall,
        machine: machine / wall,
    };

    // Exact accounting on the server.
    tokio::time::sleep(Duration::from_millis(1500)).await; // pgstat flushes at most once a second
    let deadlocks: i64 = db
        .query_one(
            "select deadlocks from pg_stat_database where datname = current_database()",
            &[],
        )
        .await?
        .get(0);
    let per_device: HashMap<Uuid, (i64, i64)> = db
        .query(
            "select device_id, count(*), count(distinct op_id) from public.sales group by 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let expect = a.per_till as i64;
    for k in 0..=n {
        let d = if k < n {
            till_device(k)
        } else {
            stack.other_store_device.id
        };
        let got = per_device.get(&d).copied().unwrap_or((0, 0));
        if got != (expect, expect) {
            return Err(format!(
                "till {k}: {got:?} sales on the server, expected {expect} once each"
            )
            .into());
        }
    }
    let rejected: i64 = db
        .query_one("select count(*) from public.rejected_ops", &[])
        .await?
        .get(0);
    let off: i64 = db
        .query_one(
            "select count(*) from public.stock_levels s
              where s.on_hand <> (select coalesce(sum(m.delta), 0) from public.stock_movements m
                                   where m.store_id = s.store_id and m.product_id = s.product_id
                                     and m.reason <> 'write_off')",
            &[],
        )
        .await?
        .get(0);
    let lines: i64 = db
        .query_one(
            "select count(*) from public.sale_lines l where l.product_id is not null
               and not exists (select 1 from public.stock_movements m
                                where m.sale_id = l.sale_id and m.line_no = l.line_no)",
            &[],
        )
        .await?
        .get(0);
    if off != 0 || lines != 0 {
        return Err(format!(
            "{off} stock levels differ from their ledger, {lines} sale lines without a movement"
        )
        .into());
    }

    // Push round trips: each batch is marked sent with one time (outbox.sent_at, ms); the time
    // between two is reading the batch, kassa_push and marking it (the first from the start).
    let mut round_trips = Vec::new();
    for store in &stores[..n] {
        let sent: Vec<String> = store
            .call(|db| -> Result<Vec<String>, kassa::store::StoreError> {
                let mut st = db.conn().prepare(
                    "SELECT DISTINCT sent_at FROM outbox WHERE state = 'sent' ORDER BY sent_at",
                )?;
                let rows = st
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            })
            .await??;
        let mut prev = start_utc;
        for t in sent {
            let t = chrono::DateTime::parse_from_rfc3339(&t)?.with_timezone(&chrono::Utc);
            round_trips.push((t - prev).num_microseconds().unwrap_or(0) as f64 / 1000.0);
            prev = t;
        }
    }
    let (mut serialization, mut retries, mut seen_deadlocks, mut engine_rejected) = (0, 0, 0, 0);
    for log in &logs[..n] {
        let l = log.lock().map_err(|_| "poisoned log")?;
        retries += l.failures.len();
        serialization += l.failures.iter().filter(|e| e.contains("40001")).count();
        seen_deadlocks += l.failures.iter().filter(|e| e.contains("40P01")).count();
        engine_rejected += l.rejected;
        if let Some(e) = l.failures.first() {
            println!("  a till's push failed and was retried: {e}");
        }
    }
    let sales = n * a.per_till;
    let level = Level {
        cpu,
        tills: n,
        sales,
        secs,
        rate: sales as f64 / secs,
        other_rate: a.per_till as f64 / other_secs,
        p50_ms: pct(&mut round_trips, 0.5),
        p99_ms: pct(&mut round_trips, 0.99),
        pushes: round_trips.len(),
        deadlocks: (deadlocks - deadlocks0).max(seen_deadlocks as i64),
        serialization,
        retries,
        rejected: rejected.max(engine_rejected as i64),
    };
    drop(db);
    stack.cleanup().await;
    Ok(level)
}

/// 1,000 devices (half in each store), each heartbeating every 10 s: one heartbeat every
/// 10 ms, round robin, at most 100 in flight. Measures the CPU the gateway's threads and the
/// database's backends used over `secs` seconds.
async fn heartbeats(secs: u64) -> Result<(), BoxError> {
    const DEVICES: usize = 1000;
    let stack = TestStack::start().await?;
    let db = stack.client().await?;
    let mut tokens = Vec::with_capacity(DEVICES);
    for k in 0..DEVICES {
        let id = Uuid::from_u128(0xbea70000_0000_4000_8000_000000000000 + k as u128);
        let store = if k % 2 == 0 {
            stack.store_id
        } else {
            stack.other_store_id
        };
        db.execute(
            "insert into public.devices (id, store_id, name) values ($1, $2, $3)",
            &[&id, &store, &format!("simulated {k}")],
        )
        .await?;
        tokens.push(Arc::new(format!("Bearer {}", stack.token_for(id, store))));
    }
    let http = reqwest::Client::new();
    let url = format!("{}/rest/v1/rpc/kassa_heartbeat", stack.url);
    let anon = Arc::new(stack.anon_key.clone());
    let in_flight = Arc::new(tokio::sync::Semaphore::new(100));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (mut late, mut sent) = (0usize, 0usize);
    let beat = |k: usize| {
        let (http, url, anon, token) = (
            http.clone(),
            url.clone(),
            anon.clone(),
            tokens[k % DEVICES].clone(),
        );
        let (latencies, failed) = (latencies.clone(), failed.clone());
        let status = HeartbeatStatus {
            app_version: env!("CARGO_PKG_VERSION").into(),
            schema_version: 4,
            queue_depth: (k % 7) as i64,
            oldest_pending_age_s: Some((k % 300) as i64),
            rejected: 0,
            device_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            skipped_products: Some((k % 3) as i64),
        };
        async move {
            let t = Instant::now();
            let ok = http
                .post(url.as_str())
                .header("apikey", anon.as_str())
                .header("authorization", token.as_str())
                .json(&serde_json::json!({ "p_status": status }))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ok {
                if let Ok(mut l) = latencies.lock() {
                    l.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            } else {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    // Warm-up: every device once (10 s: connections, plans, each device's status row), then
    // measure heartbeats that update a row, as a running fleet's do.
    let warm_until = Instant::now() + Duration::from_secs(10);
    let mut k = 0usize;
    while Instant::now() < warm_until {
        tick.tick().await;
        if let Ok(p) = in_flight.clone().try_acquire_owned() {
            let f = beat(k);
            tokio::spawn(async move {
                f.await;
                drop(p);
            });
        }
        k += 1;
    }
    let cpu0 = server_cpu::sample(&db).await?;
    let t0 = Instant::now();
    if let Ok(mut l) = latencies.lock() {
        l.clear();
    }
    failed.store(0, std::sync::atomic::Ordering::Relaxed);
    let until = t0 + Duration::from_secs(secs);
    while Instant::now() < until {
        tick.tick().await;
        sent += 1;
        match in_flight.clone().try_acquire_owned() {
            Ok(p) => {
                let f = beat(k);
                tokio::spawn(async move {
                    f.await;
                    drop(p);
                });
            }
            Err(_) => late += 1,
        }
        k += 1;
    }
    // Let the last ones finish before the second sample.
    let _ = in_flight.acquire_many(100).await?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = server_cpu::sample(&db).await?;
    let used = cpu1.since(&cpu0);
    let pct_core = 100.0 * (used.gateway_s + used.database_s) / wall;
    let mut lat = latencies.lock().map_err(|_| "poisoned")?.clone();
    let rows: i64 = db
        .query_one("select count(*) from public.device_status", &[])
        .await?
        .get(0);
    println!(
        "telemetry: {sent} heartbeats in {wall:.1} s = {:.0}/s from {DEVICES} devices ({rows} with a status row), {} failed, {late} not sent (100 in flight); latency p50 {:.2} ms p99 {:.2} ms",
        sent as f64 / wall,
        failed.load(std::sync::atomic::Ordering::Relaxed),
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
    println!(
        "telemetry server CPU: gateway {:.2} s + database backends {:.2} s over {wall:.1} s = {pct_core:.2} % of one core",
        used.gateway_s, used.database_s
    );
    figure::report(&figure::Figure {
        name: "fleet telemetry: 1000 devices, 100 heartbeats/s, server CPU",
        value: pct_core,
        unit: "% of a core",
        baseline_name: None,
        baseline: None,
        target: "< 10 %",
        met: Some(
            pct_core < 10.0 && late == 0 && failed.load(std::sync::atomic::Ordering::Relaxed) == 0,
        ),
        better: figure::Better::Lower,
    });
    drop(db);
    stack.cleanup().await;
    Ok(())
}
