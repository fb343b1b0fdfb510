//! Three tills commit 1,000 documents (sales, and over a fifth refunds and post-voids) through a
//! fault-injecting proxy (drops before and after the server commits, stalls past the timeout,
//! resets, 5xx/429, garbage bodies) while their sync engines push: afterwards the server holds
//! every document exactly once, stock levels equal the ledger, and every till's queue is empty.

mod support;
#[path = "support/sync_env.rs"]
mod sync_env;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use kassa::store::QueueFilter;
use kassa::sync::SyncEngine;
use pgrest_lite::testing::TestStack;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::fault_proxy::{Fault, FaultProxy};
use sync_env::{
    document_ids, fast_options, random_document, server_books, server_documents, wait_for, Made,
    SyncTill,
};

const DOCUMENTS: usize = 1000;
const TILLS: usize = 3;
const SEED: u64 = 20261128;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_tills_through_a_faulty_network_land_every_sale_exactly_once() {
    let stack = TestStack::start().await.expect("stack");
    let upstream: SocketAddr = format!("127.0.0.1:{}", stack.port()).parse().unwrap();
    let proxy = FaultProxy::start(upstream).await;
    proxy.set_stall(Duration::from_millis(2500));
    proxy.set_random(SEED, 0.35);

    let mut tills = Vec::new();
    let mut engines = Vec::new();
    for d in 0..TILLS {
        let till = SyncTill::new(&proxy.url(), &stack, d);
        let mut opts = fast_options(&till.config, SEED + d as u64);
        opts.batch_max_ops = 20;
        engines.push(SyncEngine::start_with(
            till.store.clone(),
            &till.config,
            opts,
        ));
        tills.push(till);
    }
    let skus: Vec<String> = tills[0]
        .store
        .call(|db| db.catalog())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .filter(|p| p.active)
        .map(|p| p.sku)
        .collect();

    let started = Instant::now();
    let mut sellers = Vec::new();
    for (d, till) in tills.iter().enumerate() {
        let store = till.store.clone();
        let skus = skus.clone();
        let n = DOCUMENTS / TILLS + usize::from(d < DOCUMENTS % TILLS);
        sellers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(SEED * 10 + d as u64);
            let mut own_sales = Vec::new();
            let mut made = Vec::with_capacity(n);
            for _ in 0..n {
                made.push(random_document(&store, &skus, &mut rng, &mut own_sales).await);
                if rng.random_bool(0.5) {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(1..20))).await;
                }
            }
            made
        }));
    }
    let mut made = Vec::new();
    for s in sellers {
        made.extend(s.await.unwrap());
    }
    let returns = made.iter().filter(|m| **m != Made::Sale).count();
    let sales = made.len() - returns;
    assert!(
        returns * 5 >= DOCUMENTS,
        "refunds and voids are at least 20 % of the documents: {returns}"
    );
    let sold_in = started.elapsed();

    let drained = |limit: Duration| {
        let tills = &tills;
        wait_for(limit, move || async move {
            for t in tills {
                if t.count(QueueFilter::Pending).await > 0 {
                    return false;
                }
            }
            true
        })
    };
    let mut under_faults = drained(Duration::from_secs(120)).await;
    if !under_faults {
        println!("campaign: queues not drained under faults after 120 s; faults off");
        proxy.set_fault(Fault::Pass);
        assert!(
            drained(Duration::from_secs(60)).await,
            "queues never drained"
        );
        under_faults = false;
    }
    println!(
        "campaign: {DOCUMENTS} documents ({sales} sales, {returns} refunds and voids) from {TILLS} tills made in {:.1} s, all pushed after {:.1} s (under faults: {under_faults}); faults per kind: {:?}",
        sold_in.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        proxy.stats()
    );
    for e in engines {
        e.shutdown().await;
    }

    let books = server_books(&stack).await;
    let docs = server_documents(&stack).await;
    let mut local: BTreeSet<String> = BTreeSet::new();
    let (mut refunds, mut voids) = (BTreeSet::new(), BTreeSet::new());
    for t in &tills {
        assert_eq!(t.count(QueueFilter::Pending).await, 0);
        assert_eq!(
            t.count(QueueFilter::Rejected).await,
            0,
            "nothing quarantined"
        );
        local.extend(t.sale_ids().await);
        let (r, v) = document_ids(&t.store).await;
        refunds.extend(r);
        voids.extend(v);
    }
    assert_eq!(local.len(), sales);
    assert_eq!(books.sales_rows, sales as i64, "every sale exactly once");
    assert_eq!(books.sale_ids, local);
    assert_eq!(refunds.len() + voids.len(), returns);
    assert_eq!(
        docs.refund_rows,
        refunds.len() as i64,
        "every refund exactly once"
    );
    assert_eq!(docs.refund_ids, refunds);
    assert_eq!(
        docs.void_rows,
        voids.len() as i64,
        "every void exactly once"
    );
    assert_eq!(docs.void_ids, voids);
    assert_eq!(docs.movement_mismatches, 0);
    assert!(
        books.ledger_mismatches.is_empty(),
        "{:?}",
        books.ledger_mismatches
    );
    assert_eq!(books.movement_mismatches, 0);
    let faults: u64 = proxy
        .stats()
        .iter()
        .filter(|(k, _)| k.as_str() != "Pass")
        .map(|(_, v)| v)
        .sum();
    assert!(
        faults >= 20,
        "the campaign injected too few faults: {faults}"
    );
    stack.cleanup().await;
}
