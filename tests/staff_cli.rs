//! Staff, shifts and cash of the real binary (issue 11): every refusal is one line, exit 2 and
//! an unchanged database; the lockout after five wrong PINs survives a restart of the
//! process; no PIN and no PIN hash reaches the log or any `--json` output.

mod support;

use std::process::Output;

use support::{stderr, Till};

const ANA_PIN: &str = "27182818";
const BO_PIN: &str = "31415926";

/// Every row of every table, as text: equal before and after means nothing was written.
fn snapshot(t: &Till) -> String {
    let conn = rusqlite::Connection::open(&t.db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for table in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let cells: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(cells.join("|"))
            })
            .unwrap();
        let mut rows: Vec<String> = rows.collect::<Result<_, _>>().unwrap();
        rows.sort();
        out.push_str(&format!("{table}\n{}\n", rows.join("\n")));
    }
    out
}

fn run_in(t: &Till, args: &[&str], input: &str) -> Output {
    let mut c = t.cmd();
    c.args(args);
    support::with_stdin(c, input)
}

fn refused_in(t: &Till, args: &[&str], input: &str) -> String {
    let before = snapshot(t);
    let out = run_in(t, args, input);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "kassa {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "kassa {args:?}: {err}");
    assert!(err.starts_with("kassa: "), "{err}");
    assert_eq!(snapshot(t), before, "kassa {args:?} wrote something");
    err
}

fn refused(t: &Till, args: &[&str]) -> String {
    refused_in(t, args, "")
}

fn ok_json(t: &Till, args: &[&str], input: &str, seen: &mut Vec<String>) -> serde_json::Value {
    let out = run_in(t, args, input);
    assert!(out.status.success(), "kassa {args:?}: {}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    seen.push(text.clone());
    serde_json::from_str(&text).unwrap()
}

fn add(t: &Till, name: &str, role: &str, pin: &str) -> String {
    let out = run_in(
        t,
        &["staff", "add", name, "--role", role],
        &format!("{pin}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(!line.contains(pin));
    line.split('\t').next().unwrap().to_string()
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let t = Till::new();
    // A fresh till sells without staff, as before.
    let out = t.run(&["sell", "1001", "--pay", "card"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for pin in ["123", "123456789", "12a4", "", "12 34"] {
        let e = refused_in(
            &t,
            &["staff", "add", "Ana", "--role", "cashier"],
            &format!("{pin}\n"),
        );
        assert!(e.contains("4 to 8 digits"), "{e}");
    }
    refused_in(&t, &["staff", "add", "Ana", "--role", "boss"], "1234\n");
    refused_in(&t, &["staff", "add", " ", "--role", "cashier"], "1234\n");
    let ana = add(&t, "Ana", "cashier", ANA_PIN);
    let bo = add(&t, "Bo", "manager", BO_PIN);
    // With staff: no sale, refund, void or cash without an open shift.
    let e = refused(&t, &["sell", "1001", "--pay", "card", "--staff", &ana]);
    assert!(e.contains("no open shift"), "{e}");
    refused(&t, &["cash", "in", "5", "--reason", "coins"]);
    let e = refused(&t, &["shift", "close", "--counted", "10"]);
    assert!(e.contains("no shift is open"), "{e}");
    refused(&t, &["refund", "1", "--pay", "card", "--staff", &ana]);
    // Unknown and malformed staff ids, bad amounts and denominations.
    let e = refused(
        &t,
        &[
            "shift",
            "open",
            "--float",
            "100",
            "--staff",
            "01a23f65-ff6d-7581-9b8f-079698dd1b65",
        ],
    );
    assert!(e.contains("unknown staff id"), "{e}");
    refused(&t, &["shift", "open", "--float", "100", "--staff", "ana"]);
    refused(&t, &["shift", "open", "--float", "-1", "--staff", &ana]);
    refused(&t, &["shift", "open", "--float", "abc", "--staff", &ana]);
    refused(
        &t,
        &[
            "shift",
            "open",
            "--float",
            "100",
            "--denominations",
            "5000x1",
            "--staff",
            &ana,
        ],
    );
    refused(
        &t,
        &[
            "shift",
            "open",
            "--float",
            "100",
            "--denominations",
            "5000",
            "--staff",
            &ana,
        ],
    );
    let out = t.run(&["shift", "open", "--float", "100", "--staff", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    refused(&t, &["shift", "open", "--float", "100", "--staff", &ana]);
    // A paid-out larger than the drawer, cash without a reason, a bad amount.
    let e = refused(
        &t,
        &["cash", "out", "100.01", "--reason", "x", "--staff", &ana],
    );
    assert!(e.contains("more than the drawer"), "{e}");
    refused(&t, &["cash", "out", "5", "--reason", " ", "--staff", &ana]);
    refused(&t, &["cash", "in", "0", "--reason", "x", "--staff", &ana]);
    refused(&t, &["cash", "in", "x", "--reason", "x", "--staff", &ana]);
    // A no-sale and a post-void need a manager; a wrong-format PIN is refused before anything.
    refused(&t, &["cash", "no-sale", "--staff", &ana]);
    let e = refused(&t, &["void", "1", "--reason", "oops", "--staff", &ana]);
    assert!(e.contains("manager"), "{e}");
    refused_in(
        &t,
        &[
            "void",
            "1",
            "--reason",
            "oops",
            "--staff",
            &ana,
            "--approver",
            &bo,
            "--pin-stdin",
        ],
        "12x4\n",
    );
    refused(&t, &["void", "1", "--reason", "oops", "--approver", &bo]);
    // A cashier cannot approve.
    refused_in(
        &t,
        &[
            "cash",
            "no-sale",
            "--staff",
            &ana,
            "--approver",
            &ana,
            "--pin-stdin",
        ],
        &format!("{ANA_PIN}\n"),
    );
    refused(&t, &["staff", "disable", "not-an-id"]);
    refused(
        &t,
        &["staff", "disable", "01a23f65-ff6d-7581-9b8f-079698dd1b65"],
    );
    // The manager's PIN approves.
    let out = run_in(
        &t,
        &[
            "cash",
            "no-sale",
            "--staff",
            &ana,
            "--approver",
            &bo,
            "--pin-stdin",
            "--json",
        ],
        &format!("{BO_PIN}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["approved_by"], bo.as_str());
    assert_eq!(v["staff_id"], ana.as_str());
}

#[test]
fn five_wrong_pins_lock_out_across_restarts() {
    let t = Till::new();
    let ana = add(&t, "Ana", "cashier", ANA_PIN);
    let bo = add(&t, "Bo", "manager", BO_PIN);
    let out = t.run(&["shift", "open", "--float", "50", "--staff", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    let approve = |pin: &str| {
        run_in(
            &t,
            &[
                "cash",
                "no-sale",
                "--staff",
                &ana,
                "--approver",
                &bo,
                "--pin-stdin",
            ],
            &format!("{pin}\n"),
        )
    };
    for _ in 0..4 {
        let out = approve("00000000");
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("wrong PIN"), "{}", stderr(&out));
    }
    let out = approve("00000000");
    assert!(stderr(&out).contains("locked out"), "{}", stderr(&out));
    // Every process is a restart: the right PIN is still refused.
    let out = approve(BO_PIN);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("locked out"), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(&t.db).unwrap();
    let until: Option<i64> = conn
        .query_row(
            "SELECT locked_until_ms FROM staff_lockout WHERE staff_id = ?1",
            [&bo],
            |r| r.get(0),
        )
        .unwrap();
    assert!(until.unwrap() > chrono::Utc::now().timestamp_millis());
    // Once the lock has run out (moved into the past here), the right PIN works again.
    conn.execute(
        "UPDATE staff_lockout SET locked_until_ms = ?2 WHERE staff_id = ?1",
        rusqlite::params![bo, chrono::Utc::now().timestamp_millis() - 1],
    )
    .unwrap();
    drop(conn);
    let out = approve(BO_PIN);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_shift_blind_close_and_reports_and_no_pin_or_hash_anywhere() {
    let t = Till::new();
    let mut seen = Vec::new();
    let ana = add(&t, "Ana", "cashier", ANA_PIN);
    let bo = add(&t, "Bo", "manager", BO_PIN);
    seen.push(String::from_utf8(t.run(&["staff", "list", "--json"]).stdout).unwrap());
    let open = ok_json(
        &t,
        &[
            "shift",
            "open",
            "--float",
            "150.00",
            "--denominations",
            "5000x2,2000x2,1000x1",
            "--staff",
            &ana,
            "--json",
        ],
        "",
        &mut seen,
    );
    assert_eq!(open["float_cents"], 15000);
    assert_eq!(open["denominations"]["5000"], 2);
    let s1 = ok_json(
        &t,
        &[
            "sell", "1001*2", "--pay", "cash:10", "--staff", &ana, "--json",
        ],
        "",
        &mut seen,
    );
    let card = ok_json(
        &t,
        &["sell", "1003", "--pay", "card", "--staff", &ana, "--json"],
        "",
        &mut seen,
    );
    let cash_sale = s1["total_cents"].as_i64().unwrap();
    let receipt = s1["seq"].to_string();
    let r = ok_json(
        &t,
        &[
            "refund", &receipt, "1001", "--pay", "cash", "--reason", "sour", "--staff", &ana,
            "--json",
        ],
        "",
        &mut seen,
    );
    let refunded = r["paid_back_cents"].as_i64().unwrap();
    ok_json(
        &t,
        &[
            "cash", "in", "5.00", "--reason", "coins", "--staff", &ana, "--json",
        ],
        "",
        &mut seen,
    );
    ok_json(
        &t,
        &[
            "cash",
            "out",
            "25.00",
            "--reason",
            "window cleaner",
            "--staff",
            &ana,
            "--json",
        ],
        "",
        &mut seen,
    );
    let x = ok_json(&t, &["report", "x", "--json"], "", &mut seen);
    let expected = 15000 + cash_sale - refunded + 500 - 2500;
    assert_eq!(x["shift"]["expected_cents"], expected);
    assert_eq!(x["shift"]["card_sales_cents"], card["total_cents"]);
    let st = ok_json(&t, &["shift", "status", "--json"], "", &mut seen);
    assert_eq!(st, x, "X report and shift status are the same figures");
    // Text close: counted first, expected and over/short after.
    let out = t.run(&["shift", "close", "--counted", "140.00", "--staff", &ana]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let (c, e) = (
        text.find("counted").unwrap(),
        text.find("expected").unwrap(),
    );
    assert!(c < e, "{text}");
    assert!(text.contains("short") || text.contains("over"), "{text}");
    let z = ok_json(&t, &["report", "z", "--json"], "", &mut seen);
    assert_eq!(z["drawer"]["shifts"], 1);
    assert_eq!(z["drawer"]["expected_cents"], expected);
    assert_eq!(z["drawer"]["counted_cents"], 14000);
    assert_eq!(z["drawer"]["over_short_cents"], 14000 - expected);
    assert_eq!(z["shifts"][0]["shift_id"], open["shift_id"]);
    let v = ok_json(&t, &["verify", "--json"], "", &mut seen);
    assert_eq!(v["chain_ok"], true);
    assert_eq!(v["shift_documents_checked"], 4);
    // The payloads say who and which shift.
    let conn = rusqlite::Connection::open(&t.db).unwrap();
    let p: String = conn
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'sale' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let p: serde_json::Value = serde_json::from_str(&p).unwrap();
    assert_eq!(p["staff_id"], ana.as_str());
    assert_eq!(p["shift_id"], open["shift_id"]);
    // A technician's headless command without --staff records the machine account.
    ok_json(
        &t,
        &["shift", "open", "--float", "0", "--json"],
        "",
        &mut seen,
    );
    let op: String = conn
        .query_row(
            "SELECT operator FROM shifts WHERE staff_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(op.starts_with("technician:"), "{op}");
    let _ = bo;
    // No PIN, no hash: the JSON outputs, the log file and the outbox.
    let hashes: Vec<String> = conn
        .prepare("SELECT pin_hash FROM staff")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let log = std::fs::read_to_string(t.dir.path().join("state/kassa/kassa.log")).unwrap();
    assert!(log.contains("shift opened"), "the log is the one written");
    let outbox: Vec<String> = conn
        .prepare("SELECT payload FROM outbox")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for text in seen.iter().chain([&log]).chain(outbox.iter()) {
        for secret in [ANA_PIN, BO_PIN, "$argon2"] {
            assert!(!text.contains(secret), "found a PIN or hash in {text}");
        }
        for h in &hashes {
            let tail = &h[h.len() - 20..];
            assert!(!text.contains(tail), "found a PIN hash in {text}");
        }
    }
}
