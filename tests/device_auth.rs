//! Tills as Supabase Auth users, end to end with the real binary against the gateway and its
//! auth stand-in: enrolment and its bad input, refresh before expiry and after an outage
//! longer than the access token's lifetime, revocation within one heartbeat and re-enrolment,
//! a stolen refresh token reused (the till stops with the reason),
//! `kill -9` of `kassa sync` around refreshes, and no token in any log or output.

#[path = "support/auth_env.rs"]
mod auth_env;
mod support;
#[path = "support/sync_env.rs"]
mod sync_env;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use auth_env::{dead_url, fake_server, issued_refresh_tokens, leaks, read, AuthTill};
use kassa::store::{QueueFilter, StoreHandle, StoreOptions};
use pgrest_lite::testing::{StackOptions, TestStack, TEST_DEVICE_PASSWORD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sync_env::{sell_on, server_books, wait_for};

fn store_of(till: &AuthTill) -> StoreHandle {
    StoreHandle::open(&till.db(), StoreOptions::default()).expect("open store")
}

async fn pending(store: &StoreHandle) -> i64 {
    store
        .call(|db| db.queue_count(QueueFilter::Pending))
        .await
        .expect("store")
        .expect("count")
}

async fn sell(store: &StoreHandle, rng: &mut StdRng) {
    let skus = ["1001", "1002", "1003", "1004", "1005", "1006"];
    let lines = (0..2)
        .map(|_| {
            (
                skus[rng.random_range(0..skus.len())].to_string(),
                rng.random_range(1..=2),
            )
        })
        .collect();
    sell_on(store, lines).await;
}

/// A till enrolled as `email`, heartbeating every `heartbeat_s` seconds.
fn enrolled(stack: &TestStack, email: &str, heartbeat_s: u64) -> AuthTill {
    let till = AuthTill::new(heartbeat_s);
    let out = till.enroll(&stack.url, &stack.anon_key, email, TEST_DEVICE_PASSWORD);
    assert!(out.status.success(), "{}", stderr_of(&out));
    till
}

/// `kassa sync` in the background, its output appended to `sync.out` in the till's home.
fn spawn_sync(till: &AuthTill) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(till.dir.path().join("sync.out"))
        .expect("sync.out");
    let err = out.try_clone().expect("sync.out");
    till.cmd()
        .arg("sync")
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn kassa sync")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The connectivity `kassa status --json` reports (what the engine last persisted).
fn connectivity(till: &AuthTill) -> (String, String) {
    let v = till.json(&["status", "--json"]);
    (
        v["connectivity"].as_str().unwrap_or_default().to_string(),
        v["last_error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enrolments_exit_with_one_line_and_write_no_session() {
    let stack = TestStack::start().await.expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = AuthTill::new(1);
    let not_enrolled = |t: &AuthTill| {
        let v = t.json(&["enroll", "--status", "--json"]);
        assert_eq!(v["enrolled"], false, "{v}");
    };
    let cases: Vec<(String, &str, &str, i32, &str)> = vec![
        // (url, email, password, exit code, what stderr says)
        (
            stack.url.clone(),
            emails[0].as_str(),
            "wrong-password",
            2,
            "invalid_credentials",
        ),
        (
            dead_url(),
            emails[0].as_str(),
            TEST_DEVICE_PASSWORD,
            1,
            "cannot reach",
        ),
        (
            fake_server(404, "text/html", "<html><body>Not Found</body></html>"),
            emails[0].as_str(),
            TEST_DEVICE_PASSWORD,
            2,
            "is not a Supabase project",
        ),
        (
            fake_server(
                200,
                "application/json",
                r#"{"access_token":"abc","token_type":"bearer"}"#,
            ),
            emails[0].as_str(),
            TEST_DEVICE_PASSWORD,
            1,
            "malformed token response",
        ),
        (
            fake_server(200, "text/html", "<html>hello</html>"),
            emails[0].as_str(),
            TEST_DEVICE_PASSWORD,
            1,
            "malformed token response",
        ),
        (
            stack.url.clone(),
            "not-an-email",
            TEST_DEVICE_PASSWORD,
            2,
            "not an e-mail address",
        ),
        (
            "ftp://x".into(),
            emails[0].as_str(),
            TEST_DEVICE_PASSWORD,
            2,
            "must start with https://",
        ),
        (
            stack.url.clone(),
            emails[0].as_str(),
            "",
            2,
            "the password is empty",
        ),
    ];
    for (url, email, password, code, says) in &cases {
        let out = till.enroll(url, &stack.anon_key, email, password);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(*code), "{url} {email}: {err}");
        assert!(err.contains(says), "{url}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!err.contains(password) || password.is_empty(), "{err}");
        not_enrolled(&till);
    }
    // A bad key is bad input too.
    let out = till.enroll(&stack.url, "not-the-key", &emails[0], TEST_DEVICE_PASSWORD);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    not_enrolled(&till);
    // The password is never an argument.
    let out = till.run(&[
        "enroll",
        "--url",
        &stack.url,
        "--anon-key",
        &stack.anon_key,
        "--email",
        &emails[0],
        "--password",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // A good enrolment, then a failed one: the first session stays as it was.
    let out = till.enroll(
        &stack.url,
        &stack.anon_key,
        &emails[0],
        TEST_DEVICE_PASSWORD,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let before = till.stored_tokens();
    let out = till.enroll(&stack.url, &stack.anon_key, &emails[0], "wrong-password");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(till.stored_tokens(), before);
    let v = till.json(&["enroll", "--status", "--json"]);
    assert_eq!(v["enrolled"], true);
    assert_eq!(v["session"]["device_id"], stack.devices[0].id.to_string());
    assert_eq!(v["session"]["store_id"], stack.store_id.to_string());
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_till_syncs_and_no_token_reaches_logs_json_or_doctor() {
    let stack = TestStack::start_with(StackOptions {
        jwt_exp: 20,
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = AuthTill::new(1);
    let mut outputs = String::new();
    let out = till.enroll(
        &stack.url,
        &stack.anon_key,
        &emails[0],
        TEST_DEVICE_PASSWORD,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    outputs += &String::from_utf8_lossy(&out.stdout);
    outputs += &stderr_of(&out);
    let out = till.run(&["sell", "--json", "--pay", "card", "1001*2", "1003"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    outputs += &String::from_utf8_lossy(&out.stdout);

    // Past the refresh margin of the 20 s token: sync --once refreshes first, then pushes.
    let first = till.stored_tokens();
    tokio::time::sleep(Duration::from_secs(16)).await;
    let out = till.run(&["sync", "--once", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["pushed"], 1, "{report}");
    outputs += &String::from_utf8_lossy(&out.stdout);
    outputs += &stderr_of(&out);
    let second = till.stored_tokens();
    assert_ne!(
        first[1], second[1],
        "the refresh token was rotated and stored"
    );

    // A running engine keeps refreshing: three lifetimes of `kassa sync`.
    let child = spawn_sync(&till);
    let store = store_of(&till);
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..12 {
        sell(&store, &mut rng).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert!(
        wait_for(Duration::from_secs(20), || async {
            pending(&store).await == 0
        })
        .await,
        "the queue drains while the engine refreshes"
    );
    stop(child);
    let (c, e) = connectivity(&till);
    assert_ne!(c, "unauthorized", "{e}");
    let refreshed = issued_refresh_tokens(&stack).await;
    assert!(refreshed.len() >= 4, "{} refresh tokens", refreshed.len());
    for args in [
        &["enroll", "--status", "--json"][..],
        &["enroll", "--status"],
        &["status", "--json"],
        &["queue", "--json", "--state", "all"],
        &["doctor", "--json"],
        &["doctor"],
    ] {
        let out = till.run(args);
        outputs += &String::from_utf8_lossy(&out.stdout);
        outputs += &stderr_of(&out);
    }
    let doctor = till.json(&["doctor", "--json"]);
    let session = doctor
        .as_array()
        .and_then(|a| a.iter().find(|c| c["check"] == "session"))
        .cloned()
        .expect("a session check");
    assert_eq!(session["verdict"], "ok", "{session}");
    assert!(
        session["detail"]
            .as_str()
            .unwrap()
            .contains("access token expires"),
        "{session}"
    );
    let books = server_books(&stack).await;
    assert_eq!(books.sales_rows, 13);

    let mut secrets = issued_refresh_tokens(&stack).await;
    secrets.extend(first);
    secrets.extend(second);
    secrets.extend(till.stored_tokens());
    secrets.push(stack.anon_key.clone());
    secrets.push(TEST_DEVICE_PASSWORD.to_string());
    let log = read(&till.log());
    let headless = read(&till.dir.path().join("sync.out"));
    assert!(headless.contains("online"), "{headless}");
    outputs += &headless;
    assert!(
        log.contains("access token refreshed"),
        "the log shows refreshes"
    );
    assert_eq!(leaks(&log, &secrets), Vec::<&str>::new(), "log leaks");
    assert_eq!(
        leaks(&outputs, &secrets),
        Vec::<&str>::new(),
        "output leaks"
    );
    // Nor any other JWT (every access token the engine held, the anon key): they all start so.
    assert!(!log.contains("eyJ"), "a JWT in the log");
    assert!(!outputs.contains("eyJ"), "a JWT in the output");
    // The database holds them, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(till.db()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_till_is_unauthorized_within_one_heartbeat_and_re_enrolment_resumes_the_queue() {
    let stack = TestStack::start().await.expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let heartbeat = Duration::from_secs(2);
    let till = enrolled(&stack, &emails[1], heartbeat.as_secs());
    let child = spawn_sync(&till);
    let store = store_of(&till);
    let mut rng = StdRng::seed_from_u64(11);
    sell(&store, &mut rng).await;
    assert!(
        wait_for(Duration::from_secs(15), || async {
            pending(&store).await == 0
        })
        .await
    );

    // The owner revokes the till from the owner's machine.
    let owner = AuthTill::new(1);
    let revoked_at = Instant::now();
    let out = owner
        .cmd()
        .env("SUPABASE_SERVICE_ROLE_KEY", &stack.service_key)
        .args([
            "device-user",
            "revoke",
            "--url",
            &stack.url,
            "--device",
            &stack.devices[1].id.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mut seen = None;
    while revoked_at.elapsed() < Duration::from_secs(10) {
        let (c, e) = connectivity(&till);
        if c == "unauthorized" {
            seen = Some((revoked_at.elapsed(), e));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (after, why) = seen.expect("unauthorized after the revocation");
    println!(
        "unauthorized {} ms after the revocation: {why}",
        after.as_millis()
    );
    // One heartbeat (2 s, jittered up to +20 %) plus the time the request and status write take.
    assert!(
        after <= heartbeat.mul_f64(1.2) + Duration::from_secs(1),
        "{after:?}"
    );
    assert!(why.contains("user_banned"), "the reason is shown: {why}");

    // Sales keep queueing while the till is unauthorized.
    for _ in 0..3 {
        sell(&store, &mut rng).await;
    }
    tokio::time::sleep(heartbeat * 2).await;
    assert_eq!(pending(&store).await, 3);

    // The owner lifts the ban, the till enrols again: the running engine picks the new
    // session up and pushes the queue, no restart.
    let out = owner
        .cmd()
        .env("SUPABASE_SERVICE_ROLE_KEY", &stack.service_key)
        .args([
            "device-user",
            "revoke",
            "--lift",
            "--url",
            &stack.url,
            "--device",
            &stack.devices[1].id.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = till.enroll(
        &stack.url,
        &stack.anon_key,
        &emails[1],
        TEST_DEVICE_PASSWORD,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        wait_for(Duration::from_secs(30), || async {
            pending(&store).await == 0
        })
        .await,
        "re-enrolment resumes the queue"
    );
    stop(child);
    assert_eq!(server_books(&stack).await.sales_rows, 4);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_kassa_sync_around_refreshes_never_locks_out_loses_or_doubles() {
    // 8 s tokens are refreshed 5 s before expiry: every ~3 s; no reuse grace at all, so any
    // use of a stale refresh token would revoke the session.
    let stack = TestStack::start_with(StackOptions {
        jwt_exp: 8,
        refresh_token_reuse_interval: 0,
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = enrolled(&stack, &emails[2], 1);
    let store = store_of(&till);
    let mut rng = StdRng::seed_from_u64(2026);
    let mut sold = 0;
    let rounds = 30;
    for round in 0..rounds {
        let child = spawn_sync(&till);
        for _ in 0..rng.random_range(1..4) {
            sell(&store, &mut rng).await;
            sold += 1;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..3500))).await;
        stop(child); // SIGKILL
        let (c, e) = connectivity(&till);
        assert_ne!(c, "unauthorized", "round {round}: locked out: {e}");
    }
    let refreshes = issued_refresh_tokens(&stack).await.len();
    println!("{rounds} kills, {sold} sales, {refreshes} refresh tokens issued");
    assert!(
        refreshes >= 10,
        "kills must land around refreshes ({refreshes})"
    );
    let out = till.run(&["sync", "--once", "--json"]);
    assert!(out.status.success(), "final sync: {}", stderr_of(&out));
    let v = till.json(&["enroll", "--status", "--json"]);
    assert!(v["session"]["revoked_reason"].is_null(), "{v}");
    let books = server_books(&stack).await;
    assert_eq!(books.sales_rows, sold);
    assert_eq!(books.movement_mismatches, 0);
    assert!(books.ledger_mismatches.is_empty());
    assert_eq!(pending(&store).await, 0);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_with_60_s_tokens_sells_for_5_minutes_survives_a_long_outage_and_pushes_on_return() {
    let mut stack = TestStack::start_with(StackOptions {
        jwt_exp: 60,
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = enrolled(&stack, &emails[0], 2);
    let child = spawn_sync(&till);
    let store = store_of(&till);
    let mut rng = StdRng::seed_from_u64(5);
    let mut sold = 0i64;
    let start = Instant::now();
    // Five minutes of selling (a sale every 3 s) while the engine syncs and refreshes.
    while start.elapsed() < Duration::from_secs(300) {
        sell(&store, &mut rng).await;
        sold += 1;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert!(
        wait_for(Duration::from_secs(20), || async {
            pending(&store).await == 0
        })
        .await
    );
    let refreshes = issued_refresh_tokens(&stack).await.len();
    assert!(
        refreshes >= 5,
        "refreshed before expiry: {refreshes} tokens"
    );
    // Offline for longer than the lifetime plus the gateway's 30 s leeway: the access token
    // the till holds is dead when the server comes back.
    stack.stop_gateway().await;
    let offline = Instant::now();
    while offline.elapsed() < Duration::from_secs(100) {
        sell(&store, &mut rng).await;
        sold += 1;
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let expired = till.stored_tokens();
    assert!(pending(&store).await >= 20);
    stack.start_gateway().await.expect("gateway back");
    let back = Instant::now();
    assert!(
        wait_for(Duration::from_secs(30), || async {
            pending(&store).await == 0
        })
        .await,
        "pushed without a command after the outage"
    );
    println!(
        "{sold} sales; queue drained {} ms after the server came back",
        back.elapsed().as_millis()
    );
    stop(child);
    assert_ne!(till.stored_tokens(), expired, "the first call refreshed");
    let books = server_books(&stack).await;
    assert_eq!(books.sales_rows, sold, "every sale once");
    let ids: std::collections::BTreeSet<String> = store
        .call(|db| {
            let mut st = db.conn().prepare("SELECT sale_id FROM sales")?;
            let ids = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
            Ok::<_, kassa::store::StoreError>(ids)
        })
        .await
        .expect("store")
        .expect("ids");
    assert_eq!(books.sale_ids, ids);
    assert_eq!(books.movement_mismatches, 0);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_and_reused_refresh_token_stops_the_till_with_the_reason_and_sales_keep_queueing()
{
    // 5 s tokens: every call of the till needs a refresh first.
    let stack = TestStack::start_with(StackOptions {
        jwt_exp: 5,
        refresh_token_reuse_interval: 0,
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = enrolled(&stack, &emails[0], 1);
    // Someone copied the till's refresh token and refreshed twice with it: the till's stored
    // token is now a grandparent of the session's active one.
    let stolen = till.stored_tokens()[1].clone();
    let thief = kassa::remote::AuthClient::new(
        &stack.url,
        &stack.anon_key,
        &kassa::config::RemoteConfig::default(),
    )
    .expect("client");
    let s1 = thief.refresh(&stolen).await.expect("first refresh");
    thief
        .refresh(&s1.refresh_token)
        .await
        .expect("second refresh");

    let store = store_of(&till);
    let mut rng = StdRng::seed_from_u64(3);
    sell(&store, &mut rng).await;
    let out = till.run(&["sync", "--once", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["connectivity"], "unauthorized", "{report}");
    let why = report["error"].as_str().unwrap_or_default();
    assert!(why.contains("refresh_token_already_used"), "{why}");
    let v = till.json(&["enroll", "--status", "--json"]);
    assert!(
        v["session"]["revoked_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("refresh_token_already_used"),
        "{v}"
    );
    // The reuse killed the thief's session too (GoTrue revokes the whole family).
    let e = thief
        .refresh(&s1.refresh_token)
        .await
        .expect_err("family revoked");
    assert_eq!(e.code(), Some("refresh_token_already_used"));
    // Nothing is lost: sales keep queueing, and a new enrolment pushes them.
    sell(&store, &mut rng).await;
    assert_eq!(pending(&store).await, 2);
    let out = till.enroll(
        &stack.url,
        &stack.anon_key,
        &emails[0],
        TEST_DEVICE_PASSWORD,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = till.run(&["sync", "--once", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(pending(&store).await, 0);
    assert_eq!(server_books(&stack).await.sales_rows, 2);
    stack.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_for_an_expired_jwt_refreshes_once_and_retries_instead_of_unauthorized() {
    let stack = TestStack::start().await.expect("stack");
    let emails = stack.create_device_users().await.expect("users");
    let till = enrolled(&stack, &emails[0], 1);
    // The till believes its access token is good for years (a clock that is off), but the
    // server finds it expired.
    let dead = stack.expired_token_for(stack.devices[0].id, stack.store_id);
    let store = store_of(&till);
    store
        .call(move |db| {
            db.conn().execute(
                "UPDATE device_session SET access_token = ?1, expires_at = 4102444800",
                [dead],
            )
        })
        .await
        .expect("store")
        .expect("update");
    let mut rng = StdRng::seed_from_u64(4);
    sell(&store, &mut rng).await;
    let before = till.stored_tokens();
    let out = till.run(&["sync", "--once", "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["pushed"], 1, "{report}");
    assert_ne!(till.stored_tokens(), before, "refreshed and stored");
    assert!(read(&till.log()).contains("the server says the access token expired"));
    stack.cleanup().await;
}
