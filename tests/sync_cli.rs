//! The sync commands of the real binary against the gateway: conflicts pulled, resolved
//! offline and synced (a second till's resolution is "already resolved"), bad input, and
//! `kill -9` of `kassa sync` at random moments of a push campaign.

#[path = "support/cli_till.rs"]
mod cli_till;
mod support;
#[path = "support/sync_env.rs"]
mod sync_env;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_till::CliTill;
use pgrest_lite::testing::TestStack;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sync_env::{document_ids, random_document, server_books, server_documents, Made, SyncTill};

fn queue_len(t: &CliTill) -> usize {
    t.json(false, &["queue", "--json", "--limit", "1000000"])
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_pulled_resolved_offline_and_a_second_resolution_is_already_resolved() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    let b = CliTill::new(&stack, 1);
    // 24 in stock on the server: selling 25 oversells.
    a.ok(false, &["sell", "--pay", "card", "1001*25"]);
    a.json(true, &["sync", "--once", "--json"]);
    b.json(true, &["sync", "--once", "--json"]);

    let open = a.json(false, &["conflicts", "--json"]);
    let open = open.as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let c = &open[0];
    assert_eq!(c["kind"], "oversold");
    assert_eq!(c["status"], "open");
    assert_eq!(c["sku"], "1001");
    assert!(c["details"].is_object());
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(
        b.json(false, &["conflicts", "--json"])[0]["id"],
        id.as_str()
    );

    // Bad input: exit 2, one line, nothing queued.
    let before = queue_len(&a);
    let bad = a.run(false, &["resolve", &id, "frobnicate"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&bad.stderr).lines().count(), 1);
    assert_eq!(
        a.run(false, &["resolve", "no-such-id", "accept"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        a.run(false, &["count", "1001", "many"]).status.code(),
        Some(2)
    );
    assert_eq!(a.run(false, &["count", "nope", "3"]).status.code(), Some(2));
    assert_eq!(queue_len(&a), before);

    // Both tills resolve while offline; A syncs first and wins.
    a.ok(
        false,
        &["resolve", &id, "accept", "--note", "checked shelf"],
    );
    b.ok(false, &["resolve", &id, "accept", "--note", "me too"]);
    assert_eq!(
        a.json(false, &["conflicts", "--json"])[0]["queued_action"],
        "accept"
    );
    let ra = a.json(true, &["sync", "--once", "--json"]);
    assert_eq!(ra["notes"], serde_json::json!([]));
    let db = stack.client().await.unwrap();
    let status: String = db
        .query_one(
            "select status from public.conflicts where id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "resolved");

    let rb = b.json(true, &["sync", "--once", "--json"]);
    assert_eq!(rb["notes"][0][1], "already_resolved", "{rb}");
    let text = b.ok(true, &["sync", "--once"]);
    assert!(text.contains("pending       0"), "{text}");

    let all = a.json(false, &["conflicts", "--all", "--json"]);
    assert_eq!(all[0]["status"], "resolved");
    assert!(a
        .json(false, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    stack.cleanup().await;
}

/// The server's own fields of each conflict of the test store, as `kassa_pull` formats them:
/// id -> (line_no, count_id, created_at, resolved_at).
async fn server_conflict_fields(
    stack: &TestStack,
) -> std::collections::BTreeMap<String, (Value, Value, Value, Value)> {
    let db = stack.client().await.unwrap();
    let rows = db
        .query(
            "select id::text, line_no, count_id::text, public.kassa_fmt_ts(created_at),
                    public.kassa_fmt_ts(resolved_at)
               from public.conflicts where store_id = $1",
            &[&stack.store_id],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|r| {
            let line_no: Option<i32> = r.get(1);
            let text = |i: usize| -> Value {
                r.get::<_, Option<String>>(i)
                    .map(Value::from)
                    .unwrap_or(Value::Null)
            };
            (
                r.get(0),
                (
                    line_no.map(Value::from).unwrap_or(Value::Null),
                    text(2),
                    text(3),
                    text(4),
                ),
            )
        })
        .collect()
}

/// The same fields of each conflict as `kassa conflicts --all --json` shows them.
fn till_conflict_fields(
    t: &CliTill,
) -> std::collections::BTreeMap<String, (Value, Value, Value, Value)> {
    t.json(false, &["conflicts", "--all", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                (
                    c["line_no"].clone(),
                    c["count_id"].clone(),
                    c["created_at"].clone(),
                    c["resolved_at"].clone(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_conflicts_keep_the_servers_line_count_and_times() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    let b = CliTill::new(&stack, 1);
    // The till's price of 1003 is stale once the server raises it: a price_mismatch on line
    // 2; 25 of 1001 oversell (24 in stock); a count far off raises a count_discrepancy.
    on_server(
        &stack,
        "update public.products set price_cents = price_cents + 10 where sku = '1003'",
    )
    .await;
    a.ok(false, &["sell", "--pay", "card", "1001*25", "1003"]);
    a.ok(false, &["count", "1002", "999"]);
    a.json(true, &["sync", "--once", "--json"]);

    let server = server_conflict_fields(&stack).await;
    let kinds: Vec<String> = a
        .json(false, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    for kind in ["oversold", "price_mismatch", "count_discrepancy"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(till_conflict_fields(&a), server, "as the server has them");
    let mismatch = server
        .values()
        .find(|(line, ..)| !line.is_null())
        .expect("the price_mismatch has its line");
    assert_eq!(mismatch.0, 2);
    assert!(
        server.values().any(|(_, count, ..)| count.is_string()),
        "the count_discrepancy has its count: {server:?}"
    );
    assert!(server.values().all(|f| f.2.is_string() && f.3.is_null()));

    let oversold = a
        .json(false, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "oversold")
        .cloned()
        .unwrap();
    let id = oversold["id"].as_str().unwrap().to_string();
    let raised_utc = oversold["created_at"].as_str().unwrap().to_string();
    // People read when the server raised it, in the till's zone.
    let zone = kassa::timefmt::Zone::Fixed(chrono::FixedOffset::east_opt(3 * 3600).unwrap());
    let out = a
        .cmd(false)
        .env("TZ", "UTC-3")
        .args(["conflicts"])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = human.lines().find(|l| l.starts_with(&id)).unwrap();
    let raised = zone.short_text(&raised_utc, chrono::Utc::now());
    assert!(line.contains(&format!(" · raised {raised}")), "{human}");

    // Another till resolves it on the server; the next pull brings the server's resolved_at.
    b.json(true, &["sync", "--once", "--json"]);
    b.ok(false, &["resolve", &id, "accept", "--note", "checked"]);
    b.json(true, &["sync", "--once", "--json"]);
    a.json(true, &["sync", "--once", "--json"]);
    let server = server_conflict_fields(&stack).await;
    let resolved_at = &server[&id].3;
    assert!(resolved_at.is_string(), "{server:?}");
    let till = till_conflict_fields(&a);
    assert_eq!(till, server, "a later pull updates them");
    assert_eq!(&till[&id].3, resolved_at);
    assert_eq!(till[&id].2, Value::from(raised_utc), "created_at stays");
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_count_queued_offline_reaches_the_server_on_sync() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    a.ok(false, &["count", "1002", "14"]);
    let r = a.json(true, &["sync", "--once", "--json"]);
    assert_eq!(r["pending"], 0);
    let db = stack.client().await.unwrap();
    let on_hand: i64 = db
        .query_one(
            "select s.on_hand from public.stock_levels s join public.products p on p.id = s.product_id
              where p.sku = '1002' and s.store_id = $1",
            &[&stack.store_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(on_hand, 14);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_once_fails_with_the_reason_when_the_server_is_unreachable() {
    let stack = TestStack::start().await.expect("stack");
    let mut a = CliTill::new(&stack, 0);
    a.ok(false, &["sell", "--pay", "card", "1001"]);
    a.url = "http://127.0.0.1:9".into();
    let out = a.run(true, &["sync", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unreachable"), "{err}");
    assert!(!err.contains(&a.token), "token leaked");
    stack.cleanup().await;
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("kassa.toml");
    std::fs::write(
        &p,
        "[remote]\nrequest_timeout_ms = 3000\n[sync]\nheartbeat_interval_s = 1\nbatch_max_ops = 3\n",
    )
    .unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_kassa_sync_at_random_moments_loses_and_duplicates_nothing() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    let cli = CliTill::new(&stack, 0);
    let config = write_config(cli.dir.path());
    let mut rng = StdRng::seed_from_u64(99);
    let skus: Vec<String> = ["1001", "1002", "1003", "1004", "1005", "1006"]
        .map(String::from)
        .to_vec();
    let mut own_sales = Vec::new();
    let mut made = Vec::new();
    let mut kills = 0;
    for round in 0..12 {
        let mut child = cli
            .cmd_on(&till.db_path(), true)
            .arg("--config")
            .arg(&config)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kassa sync");
        // Sell, refund and void while it pushes, then kill it at a random moment.
        for _ in 0..60 {
            made.push(random_document(&till.store, &skus, &mut rng, &mut own_sales).await);
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        kills += 1;
        let pending = till.count(kassa::store::QueueFilter::Pending).await;
        println!(
            "round {round}: killed kassa sync with {pending} of {} documents pending",
            made.len()
        );
    }
    let sold = made.iter().filter(|m| **m == Made::Sale).count() as i64;
    let returns = made.len() as i64 - sold;
    assert!(
        returns * 5 >= made.len() as i64,
        "{returns} refunds and voids"
    );
    let out = cli
        .cmd_on(&till.db_path(), true)
        .arg("--config")
        .arg(&config)
        .args(["sync", "--once", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "final sync: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let books = server_books(&stack).await;
    let docs = server_documents(&stack).await;
    println!(
        "kill -9: {kills} kills, {sold} sales and {returns} refunds and voids, {} + {} + {} on the server",
        books.sales_rows, docs.refund_rows, docs.void_rows
    );
    assert_eq!(books.sales_rows, sold);
    let (refunds, voids) = document_ids(&till.store).await;
    assert_eq!(docs.refund_ids, refunds, "every refund exactly once");
    assert_eq!(docs.refund_rows, refunds.len() as i64);
    assert_eq!(docs.void_ids, voids, "every void exactly once");
    assert_eq!(docs.void_rows, voids.len() as i64);
    assert_eq!(docs.movement_mismatches, 0);
    assert_eq!(books.sale_ids, till.sale_ids().await);
    assert!(books.ledger_mismatches.is_empty());
    assert_eq!(books.movement_mismatches, 0);
    assert_eq!(till.count(kassa::store::QueueFilter::Pending).await, 0);
    assert_eq!(till.count(kassa::store::QueueFilter::Rejected).await, 0);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kassa_sync_stops_cleanly_on_sigterm_and_releases_the_lease() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    for _ in 0..5 {
        till.sell(&[("1001", 1)]).await;
    }
    let cli = CliTill::new(&stack, 0);
    let child = cli
        .cmd_on(&till.db_path(), true)
        .arg("sync")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kassa sync");
    let t = &till;
    assert!(
        sync_env::wait_for(Duration::from_secs(10), || async move {
            t.count(kassa::store::QueueFilter::Pending).await == 0
        })
        .await
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("online"), "{printed}");
    assert_eq!(
        lease_holders(&till).await,
        0,
        "the lease is released on a clean stop"
    );
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kassa_sync_whose_reader_goes_away_stops_cleanly_and_releases_the_lease() {
    let stack = TestStack::start().await.expect("stack");
    let till = SyncTill::new(&stack.url, &stack, 0);
    till.sell(&[("1001", 1)]).await;
    let cli = CliTill::new(&stack, 0);
    // `kassa sync | head -1` after head has gone: the first status line meets a closed pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = cli
        .cmd_on(&till.db_path(), true)
        .arg("sync")
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kassa sync");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("kassa sync kept running with nobody reading its output");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "exit {status:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        lease_holders(&till).await,
        0,
        "the lease is released on a clean stop"
    );
    stack.cleanup().await;
}

/// How many processes hold this till's sync lease.
async fn lease_holders(till: &SyncTill) -> i64 {
    till.store
        .call(|db| {
            db.conn()
                .query_row("SELECT count(*) FROM sync_lease", [], |r| r.get(0))
        })
        .await
        .unwrap()
        .unwrap()
}

/// The server's `products` as a superuser changes them (`sql` with no parameters).
async fn on_server(stack: &TestStack, sql: &str) {
    let db = stack.client().await.unwrap();
    db.batch_execute(sql).await.unwrap();
}

/// The `catalog` check of `kassa doctor --json`.
fn catalog_check(doctor: &Value) -> Value {
    doctor
        .as_array()
        .expect("doctor --json is a list")
        .iter()
        .find(|c| c["check"] == "catalog")
        .expect("a catalog check")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_products_the_till_cannot_use_show_in_status_and_doctor_until_fixed() {
    let stack = TestStack::start().await.expect("stack");
    let a = CliTill::new(&stack, 0);
    // Two products the till cannot sell: a price the server allows but the till does not,
    // and a tax rate out of range (the server's own check dropped, as a broken import might).
    on_server(
        &stack,
        "insert into public.products (sku, name, price_cents, tax_rate_bp)
              values ('BIG1', 'Gold bar', 200000000000, 700);
         alter table public.products drop constraint products_tax_rate_bp_check;
         update public.products set tax_rate_bp = 20000 where sku = '1002';",
    )
    .await;
    let r = a.json(true, &["sync", "--once", "--json"]);
    assert_eq!(r["pulled"]["skipped"], 2, "{r}");
    let text = a.ok(true, &["sync", "--once"]);
    assert!(!text.contains("skipped"), "nothing new skipped: {text}");

    let status = a.json(false, &["status", "--json"]);
    assert_eq!(status["skipped_products"], 2, "{status}");
    assert_eq!(status["pending"], 0, "existing fields stay: {status}");
    let human = a.ok(false, &["status"]);
    assert!(
        human.contains("catalog           2 products skipped (run kassa doctor)"),
        "{human}"
    );

    let out = a.run(false, &["doctor", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning, like doctor's others: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cat = catalog_check(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(cat["verdict"], "warn", "{cat}");
    assert_eq!(cat["skipped_count"], 2);
    let list = cat["skipped"].as_array().unwrap();
    assert_eq!(list[0]["sku"], "1002");
    assert!(
        list[0]["reason"].as_str().unwrap().contains("20000"),
        "{cat}"
    );
    assert_eq!(
        list[0]["older_copy_on_sale"], true,
        "the demo 1002 still sells"
    );
    assert!(list[0]["version"].as_i64().unwrap() > 0);
    assert!(list[0]["first_seen_at"].is_string());
    assert_eq!(list[1]["sku"], "BIG1");
    assert!(
        list[1]["reason"].as_str().unwrap().contains("price"),
        "{cat}"
    );
    assert_eq!(list[1]["older_copy_on_sale"], false);
    let human = a.ok(false, &["doctor"]);
    assert!(human.contains("[WARN] catalog"), "{human}");
    assert!(human.contains("1002: tax rate"), "{human}");
    assert!(human.contains("BIG1: price"), "{human}");

    // Fixed on the server (1002) and taken away (BIG1, still unusable): both entries clear.
    on_server(
        &stack,
        "update public.products set tax_rate_bp = 700 where sku = '1002';
         update public.products set deleted_at = now() where sku = 'BIG1';",
    )
    .await;
    let r = a.json(true, &["sync", "--once", "--json"]);
    assert_eq!(r["pulled"]["skipped"], 0, "{r}");
    assert_eq!(a.json(false, &["status", "--json"])["skipped_products"], 0);
    assert!(!a.ok(false, &["status"]).contains("catalog"));
    let cat = catalog_check(&a.json(false, &["doctor", "--json"]));
    assert_eq!(cat["verdict"], "ok", "{cat}");
    assert_eq!(cat["skipped"], serde_json::json!([]));
    let catalog = a.json(false, &["catalog", "--json"]);
    let p1002 = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == "1002")
        .unwrap();
    assert_eq!(p1002["tax_rate_bp"], 700);
    assert_eq!(a.run(false, &["sell", "BIG1"]).status.code(), Some(2));
    stack.cleanup().await;
}
