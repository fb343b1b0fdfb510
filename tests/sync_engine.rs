//! The sync engine against real PostgreSQL through the gateway (pgrest-lite's TestStack):
//! outage and recovery, poison ops, auth and upgrade stops, the single-syncer lease.

mod support;
#[path = "support/sync_env.rs"]
mod sync_env;

use std::process::Command;
use std::time::{Duration, Instant};

use kassa::store::QueueFilter;
use kassa::sync::{sync_once, Connectivity, EngineOptions, SyncEngine, SyncEvent};
use pgrest_lite::testing::TestStack;
use sync_env::{fast_options, server_books, wait_for, SyncTill};

fn kassa(till: &SyncTill, args: &[&str]) -> serde_json::Value {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
    c.arg("--db").arg(till.db_path());
    support::isolate(&mut c, till.dir.path());
    let out = c.args(args).output().expect("run kassa");
    assert!(
        out.status.success(),
        "kassa {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_made_while_the_gateway_is_down_are_pushed_within_two_seconds_of_its_return() {
    let mut stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    // Production timings (heartbeat every 10 s online, probes every <= 1 s while offline).
    let mut opts = EngineOptions::from_config(&till.config);
    opts.seed = Some(7);
    let engine = SyncEngine::start_with(till.store.clone(), &till.config, opts);
    let status = engine.status();
    assert!(
        wait_for(Duration::from_secs(10), || {
            let c = status.borrow().connectivity;
            async move { c == Connectivity::Online }
        })
        .await,
        "never online: {:?}",
        status.borrow()
    );
    for _ in 0..3 {
        till.sell(&[("1001", 1), ("1002", 2)]).await;
    }
    let t = &till;
    assert!(
        wait_for(Duration::from_secs(10), || async move {
            t.count(QueueFilter::Pending).await == 0
        })
        .await
    );

    stack.stop_gateway().await;
    for i in 0..20 {
        till.sell(&[("1003", 1 + i % 3)]).await;
    }
    assert!(
        wait_for(Duration::from_secs(15), || {
            let c = status.borrow().connectivity;
            async move { c == Connectivity::Offline }
        })
        .await,
        "never offline: {:?}",
        status.borrow()
    );
    assert!(status.borrow().offline_since.is_some());
    // Long enough for the push backoff to grow well past the 2 s target.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(till.count(QueueFilter::Pending).await, 20);

    let mut events = engine.events();
    stack.start_gateway().await.expect("gateway back");
    let back = Instant::now();
    let first_push = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(SyncEvent::BatchPushed { sent, .. }) if sent > 0 => break back.elapsed(),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await
    .expect("no push after the gateway came back");
    println!(
        "outage recovery: first successful push {} ms after the gateway answered again",
        first_push.as_millis()
    );
    assert!(first_push < Duration::from_secs(2), "{first_push:?}");
    assert!(
        wait_for(Duration::from_secs(10), || async move {
            t.count(QueueFilter::Pending).await == 0
        })
        .await
    );
    let books = server_books(&stack).await;
    assert_eq!(books.sales_rows, 23);
    assert_eq!(books.sale_ids, till.sale_ids().await);
    assert!(books.ledger_mismatches.is_empty());
    engine.shutdown().await;
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_op_is_quarantined_and_the_ops_behind_it_are_still_pushed() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    let a = till.sell(&[("1001", 1)]).await;
    let b = till.sell(&[("1002", 1)]).await;
    let c = till.sell(&[("1003", 1)]).await;
    let d = till.sell(&[("1004", 1)]).await;
    let e = till.sell(&[("1005", 1)]).await;
    // And one whose stored payload got corrupted on the till: quarantined without sending.
    till.store
        .call(move |db| {
            db.conn().execute(
                "UPDATE outbox SET payload = '{not json' WHERE seq = ?1",
                [d],
            )
        })
        .await
        .unwrap()
        .unwrap();
    // Tamper with the middle sale: its hash no longer matches its content.
    till.store
        .call(move |db| {
            db.conn().execute(
                "UPDATE outbox SET payload = json_set(payload, '$.total_cents', 999999)
                 WHERE seq = ?1",
                [b],
            )
        })
        .await
        .unwrap()
        .unwrap();
    let report = sync_once(till.store.clone(), &till.config, |_| {}).await;
    assert_eq!(report.error, None);
    assert_eq!((report.pending, report.rejected), (0, 2));

    let queue = kassa(&till, &["queue", "--state", "all", "--json"]);
    let state_of = |seq: i64| {
        queue
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["seq"] == seq)
            .cloned()
            .unwrap()
    };
    assert_eq!(state_of(a)["state"], "sent");
    assert_eq!(state_of(c)["state"], "sent");
    assert_eq!(state_of(e)["state"], "sent");
    assert_eq!(state_of(d)["reject_code"], "corrupt_payload");
    let poison = state_of(b);
    assert_eq!(poison["state"], "rejected");
    let code = poison["reject_code"].as_str().unwrap().to_string();
    assert!(code == "bad_hash" || code == "invalid_payload", "{poison}");
    assert!(poison["last_error"].as_str().is_some_and(|m| !m.is_empty()));
    let status = kassa(&till, &["status", "--json"]);
    assert_eq!(status["rejected"], 2);
    assert_eq!(status["pending"], 0);

    let books = server_books(&stack).await;
    assert_eq!(books.sales_rows, 3);
    let db = stack.client().await.unwrap();
    let rejected: i64 = db
        .query_one("select count(*) from public.rejected_ops", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rejected, 1,
        "the server keeps the rejection for head office"
    );
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_makes_the_till_unauthorized_and_it_stops_pushing() {
    let stack = TestStack::start().await.expect("stack");
    let mut till = SyncTill::new(&stack.url, &stack, 0);
    let expired = stack.expired_token_for(stack.devices[0].id, stack.store_id);
    till.config.remote.device_token = Some(expired.clone());
    till.sell(&[("1001", 1)]).await;
    let engine = SyncEngine::start_with(
        till.store.clone(),
        &till.config,
        fast_options(&till.config, 3),
    );
    let status = engine.status();
    assert!(
        wait_for(Duration::from_secs(10), || {
            let c = status.borrow().connectivity;
            async move { c == Connectivity::Unauthorized }
        })
        .await,
        "{:?}",
        status.borrow()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(till.count(QueueFilter::Pending).await, 1);
    let s = status.borrow().clone();
    let err = s.last_error.clone().unwrap_or_default();
    assert!(err.contains("PGRST303"), "{err}");
    assert!(!format!("{s:?}").contains(&expired), "token leaked");
    engine.shutdown().await;
    assert_eq!(server_books(&stack).await.sales_rows, 0);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_requires_a_newer_till_stops_pushes_with_upgrade_required() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.unwrap();
    db.batch_execute("update public.kassa_settings set min_client_schema = 999")
        .await
        .unwrap();
    let till = SyncTill::new(&stack.url, &stack, 0);
    till.sell(&[("1001", 1)]).await;
    let report = sync_once(till.store.clone(), &till.config, |_| {}).await;
    assert_eq!(report.connectivity, Connectivity::UpgradeRequired);
    assert!(report.error.unwrap_or_default().contains("upgrade"));
    assert_eq!(report.pending, 1);
    assert_eq!(server_books(&stack).await.sales_rows, 0);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_process_syncs_a_database_and_the_other_takes_over_when_it_stops() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    let second = kassa::store::StoreHandle::open(&till.db_path(), Default::default()).unwrap();
    let e1 = SyncEngine::start_with(
        till.store.clone(),
        &till.config,
        fast_options(&till.config, 1),
    );
    let s1 = e1.status();
    assert!(
        wait_for(Duration::from_secs(5), || {
            let a = s1.borrow().active_syncer;
            async move { a }
        })
        .await
    );
    let e2 = SyncEngine::start_with(second, &till.config, fast_options(&till.config, 2));
    let s2 = e2.status();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!s2.borrow().active_syncer, "two active syncers");
    assert_eq!(
        s2.borrow().other_syncer_pid,
        Some(i64::from(std::process::id()))
    );
    e1.shutdown().await;
    assert!(
        wait_for(Duration::from_secs(5), || {
            let a = s2.borrow().active_syncer;
            async move { a }
        })
        .await,
        "the second engine never took over"
    );
    till.sell(&[("1001", 2)]).await;
    let t = &till;
    assert!(
        wait_for(Duration::from_secs(10), || async move {
            t.count(QueueFilter::Pending).await == 0
        })
        .await
    );
    e2.shutdown().await;
    assert_eq!(server_books(&stack).await.sales_rows, 1);
    stack.cleanup().await;
}

/// An engine with test timings on `till`, once its first heartbeat found the server online.
async fn start_online(till: &SyncTill, seed: u64) -> SyncEngine {
    let engine = SyncEngine::start_with(
        till.store.clone(),
        &till.config,
        fast_options(&till.config, seed),
    );
    let status = engine.status();
    assert!(
        wait_for(Duration::from_secs(5), || {
            let c = status.borrow().connectivity;
            async move { c == Connectivity::Online }
        })
        .await,
        "never online: {:?}",
        status.borrow()
    );
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_from_the_server_spaces_the_push_attempts() {
    use support::fault_proxy::{Fault, FaultProxy};
    let stack = TestStack::start().await.expect("stack");
    let upstream = format!("127.0.0.1:{}", stack.port()).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let till = SyncTill::new(&proxy.url(), &stack, 0);
    // Backoff alone would retry within 1 s; the server asks for 2 s.
    let engine = start_online(&till, 5).await;
    let mut events = engine.events();
    proxy.set_fault(Fault::Status {
        code: 503,
        retry_after: Some(2),
    });
    till.sell(&[("1001", 1)]).await;
    let mut failures = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(7) {
        if let Ok(Ok(SyncEvent::PushFailed { retry_in_ms, .. })) =
            tokio::time::timeout(Duration::from_millis(200), events.recv()).await
        {
            failures.push((Instant::now(), retry_in_ms));
        }
    }
    assert!(failures.len() >= 2, "{failures:?}");
    for (_, retry_in_ms) in &failures {
        assert!(*retry_in_ms >= 2000, "{failures:?}");
    }
    for w in failures.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(gap >= Duration::from_millis(1900), "attempts {gap:?} apart");
    }
    proxy.set_fault(Fault::Pass);
    let t = &till;
    assert!(
        wait_for(Duration::from_secs(10), || async move {
            t.count(QueueFilter::Pending).await == 0
        })
        .await
    );
    engine.shutdown().await;
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_till_does_not_hammer_the_server() {
    use support::fault_proxy::FaultProxy;
    let stack = TestStack::start().await.expect("stack");
    let upstream = format!("127.0.0.1:{}", stack.port()).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let mut till = SyncTill::new(&proxy.url(), &stack, 0);
    till.config.remote.device_token =
        Some(stack.expired_token_for(stack.devices[0].id, stack.store_id));
    for _ in 0..5 {
        till.sell(&[("1001", 1)]).await;
    }
    let engine = SyncEngine::start_with(
        till.store.clone(),
        &till.config,
        fast_options(&till.config, 8),
    );
    let status = engine.status();
    assert!(
        wait_for(Duration::from_secs(5), || {
            let c = status.borrow().connectivity;
            async move { c == Connectivity::Unauthorized }
        })
        .await
    );
    let before: u64 = proxy.stats().values().sum();
    // New sales and the watchdog must not make it try again and again.
    for _ in 0..5 {
        till.sell(&[("1002", 1)]).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    let during: u64 = proxy.stats().values().sum::<u64>() - before;
    // Heartbeats every 6 intervals (3 s here) at most; no pushes at all.
    assert!(during <= 3, "{during} requests in 4 s while unauthorized");
    assert_eq!(till.count(QueueFilter::Pending).await, 10);
    engine.shutdown().await;
    stack.cleanup().await;
}

/// Waits for the engine's next `ProductsSkipped` event.
async fn next_skip_event(
    events: &mut tokio::sync::broadcast::Receiver<SyncEvent>,
) -> (usize, usize, i64, Vec<String>) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(SyncEvent::ProductsSkipped {
                    skipped,
                    cleared,
                    total,
                    skus,
                }) => break (skipped, cleared, total, skus),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events: {e}"),
            }
        }
    })
    .await
    .expect("no ProductsSkipped event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_announces_products_it_skips_and_when_they_clear() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    let engine = start_online(&till, 11).await;
    let mut events = engine.events();
    let db = stack.client().await.unwrap();
    // A name the till refuses (a control character) passes every server check.
    db.batch_execute(
        "insert into public.products (sku, name, price_cents, tax_rate_bp)
              values ('TAB1', E'Tab\\there', 100, 700)",
    )
    .await
    .unwrap();
    engine.sync_now();
    let (skipped, cleared, total, skus) = next_skip_event(&mut events).await;
    assert_eq!((skipped, cleared, total), (1, 0, 1));
    assert_eq!(skus, vec!["TAB1".to_string()]);
    let n = till
        .store
        .call(|db| db.skipped_count())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);

    db.batch_execute("update public.products set name = 'Tab here' where sku = 'TAB1'")
        .await
        .unwrap();
    engine.sync_now();
    let (skipped, cleared, total, skus) = next_skip_event(&mut events).await;
    assert_eq!((skipped, cleared, total), (0, 1, 0));
    assert!(skus.is_empty());
    let sold = till
        .store
        .call(|db| db.find_product("TAB1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sold.map(|p| p.name), Some("Tab here".to_string()));
    engine.shutdown().await;
    stack.cleanup().await;
}
