//! Outage and recovery: how long after the remote answers again does the first queued sale
//! reach the server, with no command given? Baseline in the same run: the time from commit to
//! "sent" for a sale made while online.
//!
//! `cargo bench --bench sync_outage [-- ROUNDS]` (default 10). Target (issue 4): the first
//! successful push within 2 s of the remote answering again (every round).

use std::time::{Duration, Instant};

use kassa::config::Config;
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment};
use kassa::store::{QueueFilter, StoreHandle, StoreOptions};
use kassa::sync::{Connectivity, SyncEngine};
use pgrest_lite::testing::TestStack;
use rand::{Rng, SeedableRng};

#[path = "support/figure.rs"]
mod figure;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn sell(store: &StoreHandle) -> Result<i64, BoxError> {
    let seq = store
        .call(|db| -> Result<i64, kassa::store::StoreError> {
            let mut cart = Cart::new(Currency::EUR);
            for code in ["1001", "1002", "1003"] {
                if let Some(p) = db.find_product(code)? {
                    cart.add(&p, 1)?;
                }
            }
            let total = cart.totals()?.total_cents;
            let s = settle(total, Payment::Card, 0, Currency::EUR)?;
            Ok(db.commit_sale(&cart, &s, chrono::Utc::now())?.seq)
        })
        .await??;
    Ok(seq)
}

/// Polls until the op `seq` is no longer pending; returns when it happened.
async fn wait_sent(store: &StoreHandle, seq: i64, limit: Duration) -> Result<Instant, BoxError> {
    let start = Instant::now();
    loop {
        let pending = store
            .call(move |db| db.op_detail(seq).map(|d| d.map(|d| d.row.state)))
            .await??;
        if !matches!(pending, Some(kassa::domain::OpState::Pending)) {
            return Ok(Instant::now());
        }
        if start.elapsed() > limit {
            return Err(format!("op {seq} still pending after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(rounds: usize) -> Result<(), BoxError> {
    let mut stack = TestStack::start().await?;
    let dir = tempfile::tempdir()?;
    let store = StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default())?;
    let mut config = Config::default();
    config.remote.url = Some(stack.url.clone());
    config.remote.anon_key = Some(stack.anon_key.clone());
    config.remote.device_token = Some(stack.devices[0].token.clone());
    config.sync.heartbeat_interval_s = 10;
    let engine = SyncEngine::start(store.clone(), &config);
    let mut status = engine.status();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);

    let (mut online, mut recovery) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Online: commit -> sent.
        for _ in 0..3 {
            let t0 = Instant::now();
            let seq = sell(&store).await?;
            let t1 = wait_sent(&store, seq, Duration::from_secs(30)).await?;
            online.push((t1 - t0).as_secs_f64() * 1000.0);
        }
        // Outage: the gateway goes away, sales queue up, the engine notices.
        stack.stop_gateway().await;
        let first = sell(&store).await?;
        for _ in 0..19 {
            sell(&store).await?;
        }
        let seen_offline = Instant::now();
        while !matches!(status.borrow().connectivity, Connectivity::Offline) {
            if seen_offline.elapsed() > Duration::from_secs(30) {
                return Err("the engine never noticed the outage".into());
            }
            tokio::time::timeout(Duration::from_millis(200), status.changed())
                .await
                .ok();
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..3000))).await;
        stack.start_gateway().await?;
        let back = Instant::now();
        let sent = wait_sent(&store, first, Duration::from_secs(60)).await?;
        let ms = (sent - back).as_secs_f64() * 1000.0;
        println!("round {round}: first push {ms:.0} ms after the remote answered again");
        recovery.push(ms);
        // Let the rest drain before the next round.
        let t = Instant::now();
        while store
            .call(|db| db.queue_count(QueueFilter::Pending))
            .await??
            > 0
        {
            if t.elapsed() > Duration::from_secs(60) {
                return Err("queue did not drain".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    engine.shutdown().await;
    stack.cleanup().await;

    let worst = recovery.iter().cloned().fold(0.0, f64::max);
    let (r50, o50) = (pct(&mut recovery, 0.5), pct(&mut online, 0.5));
    println!(
        "recovery: p50 {r50:.0} ms, worst {worst:.0} ms over {rounds} outages; online commit->sent p50 {o50:.0} ms"
    );
    for (name, v) in [
        ("outage: remote back -> first push, p50", r50),
        ("outage: remote back -> first push, worst", worst),
    ] {
        figure::report(&figure::Figure {
            name,
            value: v,
            unit: "ms",
            baseline_name: Some("online sale commit -> sent, p50"),
            baseline: Some(o50),
            target: "<= 2000 ms",
            met: Some(v <= 2000.0),
            better: figure::Better::Lower,
        });
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(rounds.max(1)))
}
