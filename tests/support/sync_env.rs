//! Helpers of the sync tests: tills (a store on a temp database) configured against a
//! `TestStack` (or a fault proxy in front of it), fast engine timings, server-side accounting.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kassa::config::{Config, RemoteConfig};
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment};
use kassa::store::{QueueFilter, StoreHandle, StoreOptions};
use kassa::sync::EngineOptions;
use pgrest_lite::testing::TestStack;

/// A till: its own database file and a config pointing at `url` with `token`.
pub struct SyncTill {
    pub dir: tempfile::TempDir,
    pub store: StoreHandle,
    pub config: Config,
}

pub fn remote_config(url: &str, anon_key: &str, token: &str) -> Config {
    Config {
        remote: RemoteConfig {
            url: Some(url.to_string()),
            anon_key: Some(anon_key.to_string()),
            device_token: Some(token.to_string()),
            allow_insecure_http: false,
            connect_timeout_ms: 1000,
            request_timeout_ms: 2000,
        },
        ..Config::default()
    }
}

impl SyncTill {
    pub fn new(url: &str, stack: &TestStack, device: usize) -> SyncTill {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default()).expect("open");
        let config = remote_config(url, &stack.anon_key, &stack.devices[device].token);
        SyncTill { dir, store, config }
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("till.db")
    }

    /// Commits one card sale of `lines` (sku, qty); returns its seq.
    pub async fn sell(&self, lines: &[(&str, i64)]) -> i64 {
        let lines = lines.iter().map(|(s, q)| (s.to_string(), *q)).collect();
        sell_on(&self.store, lines).await
    }

    pub async fn count(&self, filter: QueueFilter) -> i64 {
        self.store
            .call(move |db| db.queue_count(filter))
            .await
            .expect("store")
            .expect("count")
    }

    /// The sale ids of this till.
    pub async fn sale_ids(&self) -> BTreeSet<String> {
        self.store
            .call(|db| {
                let mut st = db.conn().prepare("SELECT sale_id FROM sales")?;
                let ids = st
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<BTreeSet<_>, _>>()?;
                Ok::<_, kassa::store::StoreError>(ids)
            })
            .await
            .expect("store")
            .expect("ids")
    }
}

/// Engine timings for tests: quick probes, short backoff, seeded jitter.
pub fn fast_options(config: &Config, seed: u64) -> EngineOptions {
    let mut o = EngineOptions::from_config(config);
    o.heartbeat_interval = Duration::from_millis(500);
    o.offline_probe = Duration::from_millis(300);
    o.watchdog = Duration::from_millis(500);
    o.pull_interval = Duration::from_secs(5);
    o.pull_min_gap = Duration::from_millis(300);
    o.push_backoff_base = Duration::from_millis(50);
    o.push_backoff_cap = Duration::from_secs(1);
    o.lease_ttl = Duration::from_secs(2);
    o.seed = Some(seed);
    o
}

/// Polls `f` every 20 ms until it is true; false after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Server-side truth for the accounting checks.
pub struct ServerBooks {
    pub sale_ids: BTreeSet<String>,
    pub sales_rows: i64,
    /// Stock levels that differ from the ledger (should be none).
    pub ledger_mismatches: Vec<(String, i64, i64)>,
    /// Sale lines whose stock movement is missing or doubled (should be none).
    pub movement_mismatches: i64,
}

pub async fn server_books(stack: &TestStack) -> ServerBooks {
    let db = stack.client().await.expect("db");
    let rows = db
        .query("select id::text from public.sales", &[])
        .await
        .expect("sales");
    let sale_ids: BTreeSet<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let sales_rows = rows.len() as i64;
    let ledger = db
        .query(
            "select p.sku, s.on_hand, public.kassa_level_at(s.store_id, s.product_id, 'infinity')
               from public.stock_levels s join public.products p on p.id = s.product_id
              where s.on_hand <> public.kassa_level_at(s.store_id, s.product_id, 'infinity')",
            &[],
        )
        .await
        .expect("ledger");
    let ledger_mismatches = ledger
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                r.get::<_, i64>(1),
                r.get::<_, i64>(2),
            )
        })
        .collect();
    let movement_mismatches: i64 = db
        .query_one(
            "select count(*) from public.sale_lines l
               where l.product_id is not null
                 and (select coalesce(sum(-m.delta), 0) from public.stock_movements m
                       where m.sale_id = l.sale_id and m.line_no = l.line_no
                         and m.reason = 'sale') <> l.qty",
            &[],
        )
        .await
        .expect("movements")
        .get(0);
    ServerBooks {
        sale_ids,
        sales_rows,
        ledger_mismatches,
        movement_mismatches,
    }
}

/// Commits one card sale of `lines` (sku, qty) through `store`; returns its seq.
/// (For spawned tasks that hold only a clone of the store handle.)
pub async fn sell_on(store: &StoreHandle, lines: Vec<(String, i64)>) -> i64 {
    store
        .call(move |db| {
            let mut cart = Cart::new(Currency::EUR);
            for (sku, qty) in &lines {
                let p = db.find_product(sku)?.expect("known sku");
                cart.add(&p, *qty)?;
            }
            let total = cart.totals()?.total_cents;
            let s = settle(total, Payment::Card, 0, Currency::EUR)?;
            Ok::<_, kassa::store::StoreError>(db.commit_sale(&cart, &s, chrono::Utc::now())?.seq)
        })
        .await
        .expect("store")
        .expect("sale")
}

/// What a campaign step committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Sale,
    Refund,
    Void,
}

/// One random document of a campaign: mostly sales, and at least about a third refunds
/// (partial, of this till's own sales, or blind when nothing is left) and voids (of this
/// till's latest untouched sale). `sales` holds this till's sale seqs.
pub async fn random_document(
    store: &StoreHandle,
    skus: &[String],
    rng: &mut impl rand::Rng,
    sales: &mut Vec<i64>,
) -> Made {
    use kassa::domain::{ReceiptRef, RefundPick, RefundPolicy, TenderKind};
    use kassa::store::{BlindItem, RefundItems};
    let roll = rng.random_range(0..100);
    if sales.is_empty() || roll < 62 {
        let lines: Vec<(String, i64)> = (0..rng.random_range(1..=3))
            .map(|_| {
                (
                    skus[rng.random_range(0..skus.len())].clone(),
                    rng.random_range(1..=3),
                )
            })
            .collect();
        sales.push(sell_on(store, lines).await);
        return Made::Sale;
    }
    const POLICY: RefundPolicy = RefundPolicy {
        cash_rounding: 0,
        blind_max_cents: 1_000_000,
    };
    let now = chrono::Utc::now();
    if roll < 72 {
        let seq = sales.pop().expect("a sale");
        let voided = store
            .call(move |db| {
                db.commit_void(
                    &ReceiptRef::Seq(seq),
                    "walked away",
                    kassa::timefmt::Zone::Local,
                    now,
                )
            })
            .await
            .expect("store");
        if voided.is_ok() {
            return Made::Void;
        }
    }
    let seq = sales[rng.random_range(0..sales.len())];
    let restock = rng.random_bool(0.8);
    let tender = if rng.random_bool(0.5) {
        TenderKind::Cash
    } else {
        TenderKind::Card
    };
    let pick_seed: u64 = rng.random();
    let sku = skus[rng.random_range(0..skus.len())].clone();
    store
        .call(move |db| {
            let rs = db
                .refundable_sale(&ReceiptRef::Seq(seq))?
                .expect("own sale");
            let open: Vec<_> = rs.lines.iter().filter(|l| l.remaining_qty() > 0).collect();
            if rs.voided || open.is_empty() {
                let item = BlindItem {
                    code: sku,
                    qty: 1,
                    restock,
                };
                return db.commit_blind_refund(&[item], tender, "no receipt", &POLICY, "EUR", now);
            }
            let l = open[(pick_seed as usize) % open.len()];
            let qty = 1 + (pick_seed / 7) as i64 % l.remaining_qty();
            let pick = RefundPick {
                original_line_no: l.line.line_no,
                qty,
                restock,
            };
            db.commit_refund(
                &ReceiptRef::Seq(seq),
                &RefundItems::Picks(vec![pick]),
                tender,
                "",
                &POLICY,
                now,
            )
        })
        .await
        .expect("store")
        .expect("refund");
    Made::Refund
}

/// This till's refund and void ids.
pub async fn document_ids(store: &StoreHandle) -> (BTreeSet<String>, BTreeSet<String>) {
    store
        .call(|db| {
            let mut ids = |sql: &str| -> Result<BTreeSet<String>, rusqlite::Error> {
                let mut st = db.conn().prepare(sql)?;
                let rows = st.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect()
            };
            Ok::<_, rusqlite::Error>((
                ids("SELECT refund_id FROM refunds")?,
                ids("SELECT void_id FROM sale_voids")?,
            ))
        })
        .await
        .expect("store")
        .expect("ids")
}

/// The server's refunds and voids, and how many of their lines have a stock movement missing
/// or doubled (should be none).
pub struct ServerDocuments {
    pub refund_ids: BTreeSet<String>,
    pub refund_rows: i64,
    pub void_ids: BTreeSet<String>,
    pub void_rows: i64,
    pub movement_mismatches: i64,
}

pub async fn server_documents(stack: &TestStack) -> ServerDocuments {
    let db = stack.client().await.expect("db");
    let ids = |rows: Vec<tokio_postgres::Row>| -> BTreeSet<String> {
        rows.iter().map(|r| r.get::<_, String>(0)).collect()
    };
    let refunds = db
        .query("select id::text from public.refunds", &[])
        .await
        .expect("refunds");
    let voids = db
        .query("select id::text from public.sale_voids", &[])
        .await
        .expect("voids");
    let (refund_rows, void_rows) = (refunds.len() as i64, voids.len() as i64);
    let movement_mismatches: i64 = db
        .query_one(
            "select (
               (select count(*) from public.refund_lines l where l.product_id is not null
                  and (select coalesce(sum(m.delta), 0) from public.stock_movements m
                        where m.refund_id = l.refund_id and m.line_no = l.line_no
                          and m.reason = 'refund') <> l.qty)
             + (select count(*) from public.refund_lines l where l.product_id is not null
                  and (select coalesce(sum(-m.delta), 0) from public.stock_movements m
                        where m.refund_id = l.refund_id and m.line_no = l.line_no
                          and m.reason = 'write_off') <> case when l.restock then 0 else l.qty end)
             + (select count(*) from public.sale_voids v join public.sale_lines l on l.sale_id = v.sale_id
                 where coalesce(l.mapped_product_id, l.product_id) is not null
                   and (select coalesce(sum(m.delta), 0) from public.stock_movements m
                         where m.void_id = v.id and m.line_no = l.line_no) <> l.qty)
             )::bigint",
            &[],
        )
        .await
        .expect("movements")
        .get(0);
    ServerDocuments {
        refund_ids: ids(refunds),
        refund_rows,
        void_ids: ids(voids),
        void_rows,
        movement_mismatches,
    }
}
