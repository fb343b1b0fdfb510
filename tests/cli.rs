//! Headless commands against the real binary: output shapes, exit codes, bad input.

mod support;

use chrono::{FixedOffset, Utc};
use kassa::timefmt::Zone;
use support::{stderr, Till};

fn outbox_len(t: &Till) -> usize {
    t.json(&["queue", "--json", "--limit", "1000"])
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn sell_prints_the_sale_and_queues_it() {
    let t = Till::new();
    let sale = t.json(&[
        "sell",
        "--json",
        "--pay",
        "cash:20",
        "1001",
        "4000000010029*2",
        "1003",
    ]);
    assert_eq!(sale["seq"], 1);
    assert_eq!(sale["total_cents"], 119 + 2 * 109 + 239);
    assert_eq!(sale["change_cents"], 2000 - (119 + 2 * 109 + 239));
    assert!(sale["sale_id"].as_str().unwrap().len() == 36);
    let queue = t.json(&["queue", "--json"]);
    let op = &queue[0];
    for key in ["op_id", "seq", "kind", "state", "attempts", "last_error"] {
        assert!(op.get(key).is_some(), "queue row lacks {key}: {op}");
    }
    assert_eq!(op["kind"], "sale");
    assert_eq!(op["state"], "pending");
    let status = t.json(&["status", "--json"]);
    assert_eq!(status["connectivity"], "unconfigured");
    assert_eq!(status["pending"], 1);
    assert_eq!(status["rejected"], 0);
    assert_eq!(status["conflicts_open"], 0);
    assert!(status.get("oldest_pending_age_s").is_some());
    assert!(status["last_sync_at"].is_null());
    assert_eq!(status["skipped_products"], 0);
    let human = String::from_utf8(t.run(&["status"]).stdout).unwrap();
    assert!(
        !human.contains("skipped"),
        "only shown when non-zero: {human}"
    );
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let cases: &[&[&str]] = &[
        &["sell", "nope"],
        &["sell", "1001*0"],
        &["sell", "1001*-2"],
        &["sell", "1001*1000000000000"],
        &["sell", "1001*x"],
        &["sell", "--pay", "cheque", "1001"],
        &["sell", "--pay", "cash:0.50", "1001"],
        &["sell", "--pay", "cash:abc", "1001"],
        &["sell"],
        &["queue", "--state", "lost"],
        &["queue", "--limit", "0"],
        &["queue", "retry", "12345"],
        &["report", "z", "--date", "yesterday"],
        &["catalog", "import", "/nonexistent.csv"],
        &["frobnicate"],
    ];
    for args in cases {
        let out = t.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "kassa {args:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "kassa {args:?} printed: {err}"
        );
        assert!(err.starts_with("kassa: "), "{err}");
    }
    assert_eq!(outbox_len(&t), 1, "nothing was written by the bad commands");
}

#[test]
fn a_bad_catalog_file_names_the_line_and_imports_nothing() {
    let t = Till::new();
    let before = t.json(&["catalog", "--json"]).as_array().unwrap().len();
    let csv = t.dir.path().join("bad.csv");
    std::fs::write(
        &csv,
        "sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax\n\
         X1,,New thing,100,700,true\n\
         X2,,Other thing,-5,700,true\n",
    )
    .unwrap();
    let out = t.run(&["catalog", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("line 3: price must be between"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        t.json(&["catalog", "--json"]).as_array().unwrap().len(),
        before
    );

    std::fs::write(
        &csv,
        "sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax\nX1,,New thing,100,700,true\n",
    )
    .unwrap();
    assert!(t
        .run(&["catalog", "import", csv.to_str().unwrap()])
        .status
        .success());
    let sale = t.json(&["sell", "--json", "X1"]);
    assert_eq!(sale["total_cents"], 100);
}

#[test]
fn z_report_totals_by_tender_and_rate() {
    let t = Till::new();
    t.json(&["sell", "--json", "--pay", "card", "1001", "1045"]); // 7 % and 19 %
    t.json(&["sell", "--json", "--pay", "cash:10", "1001"]);
    let z = t.json(&["report", "z", "--json"]);
    assert_eq!(z["sales"], 2);
    assert_eq!(z["due_cents"], 119 + 49 + 119);
    let tenders = z["by_tender"].as_array().unwrap();
    assert_eq!(tenders.len(), 2);
    let cash = tenders.iter().find(|r| r["kind"] == "cash").unwrap();
    assert_eq!(cash["amount_cents"], 119, "cash taken is net of change");
    let rates: Vec<i64> = z["by_tax_rate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tax_rate_bp"].as_i64().unwrap())
        .collect();
    assert_eq!(rates, vec![700, 1900]);
}

#[test]
fn verify_and_doctor_report_a_healthy_till() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let v = t.json(&["verify", "--json"]);
    assert_eq!(v["chain_ok"], true);
    assert_eq!(v["integrity_check"], "ok");
    let d = t.json(&["doctor", "--json"]);
    let checks: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        vec![
            "config",
            "database",
            "catalog",
            "session",
            "backups",
            "permissions",
            "logs",
            "remote"
        ]
    );
    let catalog = &d[2];
    assert_eq!(catalog["verdict"], "ok", "{catalog}");
    assert_eq!(catalog["skipped_count"], 0);
    assert!(
        d.as_array().unwrap().iter().all(|c| c["verdict"] != "fail"),
        "{d}"
    );
}

#[test]
fn a_bad_config_file_is_one_line_exit_2() {
    let t = Till::new();
    let cfg = t.dir.path().join("k.toml");
    std::fs::write(&cfg, "currency = 5\n").unwrap();
    let out = t.run(&["--config", cfg.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end().lines().count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn print_default_config_shows_every_key() {
    let t = Till::new();
    let out = t.run(&["--print-default-config"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "currency",
        "cash_rounding",
        "[remote]",
        "allow_insecure_http",
        "[sync]",
        "batch_max_ops",
    ] {
        assert!(text.contains(key), "{key} missing");
    }
}

#[test]
fn the_token_and_key_never_reach_the_log_or_the_terminal() {
    use std::io::{Read, Write};
    // A server that refuses every request, as a Supabase project does with a bad token.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let body = r#"{"code":"PGRST301","message":"JWSError JWSInvalidSignature","details":null,"hint":null}"#;
            let _ = write!(
                s,
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let (key, token) = (
        "anon-key-SECRET-1234567890",
        "device-token-SECRET-0987654321",
    );
    let out = t
        .cmd()
        .args(["sync", "--once"])
        .env("KASSA_REMOTE_URL", format!("http://{addr}"))
        .env("KASSA_ANON_KEY", key)
        .env("KASSA_DEVICE_TOKEN", token)
        .env("KASSA_LOG", "trace")
        .output()
        .unwrap();
    assert!(!out.status.success(), "a refused token is a failed sync");
    let log =
        std::fs::read_to_string(t.dir.path().join("state/kassa/kassa.log")).unwrap_or_default();
    assert!(!log.is_empty(), "the log was written");
    for text in [
        log,
        stderr(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ] {
        assert!(!text.contains("SECRET"), "a secret leaked: {text}");
    }
}

/// `kassa` with `TZ` set: "UTC-3" is the POSIX form of three hours east of Greenwich.
fn run_in_zone(t: &Till, tz: &str, args: &[&str]) -> String {
    let out = t
        .cmd()
        .env("TZ", tz)
        .args(args)
        .output()
        .expect("run kassa");
    assert!(out.status.success(), "kassa {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn plus3() -> Zone {
    Zone::Fixed(FixedOffset::east_opt(3 * 3600).expect("offset"))
}

#[test]
fn queue_shows_local_times_to_people_and_utc_to_scripts() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let json_utc = run_in_zone(&t, "UTC", &["queue", "--json"]);
    let json_plus3 = run_in_zone(&t, "UTC-3", &["queue", "--json"]);
    assert_eq!(json_utc, json_plus3, "--json does not depend on the zone");
    let rows: serde_json::Value = serde_json::from_str(&json_plus3).expect("JSON");
    let stored = rows[0]["created_at"].as_str().expect("created_at");
    assert!(stored.ends_with('Z'), "{stored}");

    let human = run_in_zone(&t, "UTC-3", &["queue"]);
    let now = Utc::now();
    let local = plus3().short_text(stored, now);
    let utc = Zone::utc().short_text(stored, now);
    assert!(human.contains(&local), "no {local} in:\n{human}");
    assert!(!human.contains(&utc), "UTC {utc} in:\n{human}");
    assert!(!human.contains(stored), "the stored form in:\n{human}");
}

#[test]
fn status_shows_local_times_to_people_and_utc_to_scripts() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    // What a sync engine on this till last recorded (times as stored: UTC).
    let (heartbeat, offline, synced) = (
        "2026-11-28T17:00:42.000Z",
        "2026-11-28T17:01:10.000Z",
        "2026-11-28T16:59:59.000Z",
    );
    t.execute_sql(&format!(
        "INSERT INTO meta (key, value) VALUES ('connectivity', 'offline'),
             ('last_sync_at', '{synced}'),
             ('sync_status', '{{\"latency_ms\":42,\"last_heartbeat_at\":\"{heartbeat}\",
                              \"offline_since\":\"{offline}\"}}')"
    ));
    let run = |tz: &str, args: &[&str]| {
        let out = t
            .cmd()
            .env("TZ", tz)
            .env("KASSA_REMOTE_URL", "http://127.0.0.1:9")
            .env("KASSA_ANON_KEY", "anon")
            .env("KASSA_DEVICE_TOKEN", "token")
            .args(args)
            .output()
            .expect("run kassa");
        assert!(out.status.success(), "kassa {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).expect("UTF-8 output")
    };
    let json = run("UTC-3", &["status", "--json"]);
    assert_eq!(
        json,
        run("UTC", &["status", "--json"]),
        "--json ignores the zone"
    );
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["last_sync_at"], synced);
    assert_eq!(json["last_heartbeat_at"], heartbeat);
    assert_eq!(json["offline_since"], offline);

    let human = run("UTC-3", &["status"]);
    let now = Utc::now();
    for stored in [heartbeat, offline, synced] {
        let local = plus3().short_text(stored, now);
        let utc = Zone::utc().short_text(stored, now);
        assert!(human.contains(&local), "no {local} in:\n{human}");
        assert!(!human.contains(&utc), "UTC {utc} in:\n{human}");
        assert!(!human.contains(stored), "the stored form in:\n{human}");
    }
    let local = |stored| plus3().short_text(stored, now);
    assert!(
        human.contains(&format!(
            "connectivity      offline since {} (last heartbeat {})",
            local(offline),
            local(heartbeat)
        )),
        "{human}"
    );
    assert!(
        human.contains(&format!("last sync         {}", local(synced))),
        "{human}"
    );
}

#[test]
fn conflicts_say_when_the_server_raised_and_resolved_them() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    // As pulled from a server that sends created_at and resolved_at (kept in UTC), and one
    // pulled from an older server that does not.
    t.execute_sql(
        "INSERT INTO conflicts (id, kind, status, sku, details, resolution, version,
                                line_no, count_id, created_at, resolved_at)
         VALUES ('c1', 'unknown_product', 'resolved', '9999',
                 '{\"line_no\":3,\"name\":\"Cola\",\"qty\":1,\"unit_price_cents\":120}',
                 '{\"action\":\"non_stock\",\"resolved_at\":\"2026-11-28T17:09:59.000Z\"}', 2,
                 3, NULL, '2026-11-28T17:02:11.000Z', '2026-11-28T17:10:00.000Z'),
                ('c2', 'oversold', 'open', '1001', '{\"on_hand\":-1,\"sold_qty\":1}', NULL, 1,
                 NULL, NULL, NULL, NULL)",
    );
    let human = run_in_zone(&t, "UTC-3", &["conflicts", "--all"]);
    let now = Utc::now();
    let raised = plus3().short_text("2026-11-28T17:02:11.000Z", now);
    let resolved = plus3().short_text("2026-11-28T17:10:00.000Z", now);
    let c1 = human.lines().find(|l| l.starts_with("c1 ")).expect("c1");
    assert!(
        c1.ends_with(&format!(
            "unknown SKU 9999 'Cola' × 1 at 1.20 EUR (line 3) · raised {raised} · resolved at {resolved} — non_stock"
        )),
        "the server's resolved_at, not the one inside the resolution: {human}"
    );
    let c2 = human.lines().find(|l| l.starts_with("c2 ")).expect("c2");
    assert!(c2.ends_with("on hand -1 after selling 1"), "{human}");
    assert!(!c2.contains("raised"), "{human}");

    let json = run_in_zone(&t, "UTC-3", &["conflicts", "--all", "--json"]);
    assert_eq!(
        json,
        run_in_zone(&t, "UTC", &["conflicts", "--all", "--json"])
    );
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let by_id = |id: &str| {
        json.as_array()
            .expect("array")
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .expect("the conflict")
    };
    let c1 = by_id("c1");
    assert_eq!(c1["created_at"], "2026-11-28T17:02:11.000Z");
    assert_eq!(c1["resolved_at"], "2026-11-28T17:10:00.000Z");
    assert_eq!(c1["line_no"], 3);
    assert_eq!(c1["count_id"], serde_json::Value::Null);
    assert_eq!(c1["kind"], "unknown_product", "existing fields stay");
    let c2 = by_id("c2");
    for field in ["created_at", "resolved_at", "line_no", "count_id"] {
        assert_eq!(c2[field], serde_json::Value::Null, "{field}: {c2}");
    }
}

#[test]
fn conflicts_say_what_happened_in_words_and_json_keeps_the_details() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    t.execute_sql(
        "INSERT INTO conflicts (id, kind, status, sku, details, resolution, version)
         VALUES ('c1', 'price_mismatch', 'open', '1001',
                 '{\"line_no\":2,\"qty\":2,\"sold_unit_cents\":199,\"server_unit_cents\":219,
                   \"event_time\":\"2026-11-28T17:00:00.000Z\"}', NULL, 1),
                ('c2', 'oversold', 'resolved', '1001', '{\"sold_qty\":3}',
                 '{\"action\":\"accept\",\"resolved_at\":\"2026-11-28T17:10:00.000Z\"}', 2)",
    );

    let human = run_in_zone(&t, "UTC-3", &["conflicts", "--all"]);
    let lines: Vec<&str> = human.lines().collect();
    assert_eq!(lines.len(), 3, "{human}");
    let when = plus3().short_text("2026-11-28T17:00:00.000Z", Utc::now());
    assert!(
        lines[1].ends_with(&format!(
            "sold 2 × 1.99 EUR, server price 2.19 EUR (line 2) · sold at {when}"
        )),
        "{human}"
    );
    let resolved = plus3().short_text("2026-11-28T17:10:00.000Z", Utc::now());
    assert!(
        lines[2].ends_with(&format!(
            r#"{{"sold_qty":3}} · resolved at {resolved} — accept"#
        )),
        "missing fields: the raw details, compactly: {human}"
    );

    let json = t.json(&["conflicts", "--all", "--json"]);
    assert_eq!(json[0]["details"]["server_unit_cents"], 219, "{json}");
    assert_eq!(json[0]["details"]["event_time"], "2026-11-28T17:00:00.000Z");
    assert_eq!(
        json[1]["resolution"]["resolved_at"],
        "2026-11-28T17:10:00.000Z"
    );
}

#[test]
fn a_reader_that_closed_stdout_ends_a_command_quietly() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let cases: &[&[&str]] = &[
        &["queue", "--json"],
        &["queue"],
        &["status"],
        &["catalog"],
        &["catalog", "--json"],
        &["doctor"],
        &["report", "z"],
        &["--print-default-config"],
    ];
    for args in cases {
        // The pipe's only reader is gone before kassa writes its first byte (`kassa ... | head`
        // after head has exited): every write fails with EPIPE.
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = t
            .cmd()
            .args(*args)
            .stdout(writer)
            .output()
            .expect("run kassa");
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "kassa {args:?} into a closed pipe: {:?} {err}",
            out.status
        );
        assert!(
            !err.contains("panicked") && err.is_empty(),
            "kassa {args:?}: {err}"
        );
    }
    // Nothing was lost or added on the way.
    assert_eq!(outbox_len(&t), 1);
}
