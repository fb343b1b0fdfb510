//! `kassa refund`, `kassa void` and `kassa sales` of the real binary: output shapes, the
//! refusals (exit 2, one line, database unchanged), the chain over all documents, the Z report.

mod support;

use support::{stderr, Till};

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

fn refused(t: &Till, args: &[&str]) -> String {
    let before = snapshot(t);
    let out = t.run(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "kassa {args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "kassa {args:?}: {err}");
    assert!(err.starts_with("kassa: "), "{err}");
    assert_eq!(snapshot(t), before, "kassa {args:?} wrote something");
    err
}

#[test]
fn a_partial_refund_then_the_rest_pays_back_exactly_what_was_paid() {
    let t = Till::new();
    let sale = t.json(&["sell", "--json", "--pay", "cash:20", "1001*3", "1003"]);
    let paid = sale["total_cents"].as_i64().unwrap();
    let r = t.json(&["refund", "1", "1001*2", "--pay", "cash", "--json"]);
    for key in [
        "seq",
        "original_seq",
        "paid_back_cents",
        "refund_id",
        "created_at",
        "original_sale_id",
        "total_cents",
        "tax_cents",
        "rounding_cents",
        "lines",
        "tenders",
        "hash",
        "prev_hash",
        "tender",
    ] {
        assert!(r.get(key).is_some(), "refund JSON lacks {key}: {r}");
    }
    assert_eq!(r["original_seq"], 1);
    assert_eq!(r["original_sale_id"], sale["sale_id"]);
    assert_eq!(r["lines"][0]["original_line_no"], 1);
    assert_eq!(r["lines"][0]["qty"], 2);
    assert_eq!(r["lines"][0]["amount_cents"], 238);
    assert_eq!(r["lines"][0]["restock"], true);
    assert_eq!(r["tenders"][0]["kind"], "cash");
    assert_eq!(r["tender"], "cash");
    // The rest (no items), by the compact code on the receipt, written off, to the card.
    let code = sale["sale_id"].as_str().unwrap().replace('-', "");
    let rest = t.json(&["refund", &code, "--pay", "card", "--no-restock", "--json"]);
    assert_eq!(rest["lines"].as_array().unwrap().len(), 2);
    assert_eq!(rest["lines"][0]["restock"], false);
    assert_eq!(
        r["paid_back_cents"].as_i64().unwrap() + rest["paid_back_cents"].as_i64().unwrap(),
        paid
    );
    let queue = t.json(&["queue", "--json"]);
    let kinds: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["refund", "refund", "sale"]);
    assert_eq!(
        queue[0]["total_cents"],
        -rest["paid_back_cents"].as_i64().unwrap()
    );
    let text = String::from_utf8(t.run(&["queue"]).stdout).unwrap();
    assert!(text.contains("refund"), "{text}");
    let sales = t.json(&["sales", "--json"]);
    assert_eq!(sales[0]["refunded_qty"], 4);
    assert_eq!(sales[0]["refunded_cents"], paid);
    assert_eq!(sales[0]["receipt_code"], code.as_str());
    let e = refused(&t, &["refund", "1", "--pay", "cash"]);
    assert!(e.contains("already fully refunded"), "{e}");
}

#[test]
fn what_the_till_knows_is_wrong_is_refused_and_nothing_is_written() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001*2", "1003"]);
    t.json(&["refund", "1", "1001*1", "--pay", "cash", "--json"]);
    let e = refused(&t, &["refund", "1", "1001*2", "--pay", "cash"]);
    assert!(e.contains("2 sold, 1 already refunded, 2 asked"), "{e}");
    let cases: &[&[&str]] = &[
        &["refund", "1", "1001*0", "--pay", "cash"],
        &["refund", "1", "1001*-1", "--pay", "cash"],
        &["refund", "1", "1001*x", "--pay", "cash"],
        &["refund", "1", "9999", "--pay", "cash"],
        &["refund", "1", "#7", "--pay", "cash"],
        &["refund", "1", "#x", "--pay", "cash"],
        &["refund", "1", "--pay", "cheque"],
        &["refund", "1"],
        &["refund", "42", "--pay", "cash"],
        &["refund", "2", "--pay", "cash"], // a refund's seq, not a sale's
        &["refund", "not-a-receipt", "--pay", "cash"],
        &[
            "refund",
            "0193a5b0-0000-7000-8000-00000000000",
            "--pay",
            "cash",
        ],
        &[
            "refund",
            "0193a5b0-0000-7000-8000-000000000001",
            "--pay",
            "cash",
        ],
        &["refund", "--pay", "cash"],
        &["refund", "--no-receipt", "--pay", "cash", "--reason", "x"],
        &["refund", "--no-receipt", "1001", "--pay", "cash"],
        &[
            "refund",
            "--no-receipt",
            "1001*100",
            "--pay",
            "cash",
            "--reason",
            "x",
        ],
        &[
            "refund",
            "--no-receipt",
            "nope",
            "--pay",
            "cash",
            "--reason",
            "x",
        ],
        &["refund", "1", "--pay", "cash", "--reason", "two\nlines"],
        &["void", "1"],
        &["void", "1", "--reason", ""],
        &["void", "1", "--reason", "x"], // already partly refunded
        &["void", "77", "--reason", "x"],
        &["void", "zz", "--reason", "x"],
        &["sales", "--date", "tomorrow"],
        &["sales", "--lookup", "17"],
        &["sales", "--lookup", "0193a5b0-0000-7000-8000-000000000001"], // no remote
    ];
    for args in cases {
        refused(&t, args);
    }
    let e = refused(
        &t,
        &[
            "refund",
            "--no-receipt",
            "1001*100",
            "--pay",
            "cash",
            "--reason",
            "x",
        ],
    );
    assert!(e.contains("limited to 50.00 EUR"), "{e}");
}

#[test]
fn a_void_gives_everything_back_once_and_only_the_same_day() {
    let t = Till::new();
    let sale = t.json(&["sell", "--json", "--pay", "cash:10", "1001*2"]);
    let v = t.json(&["void", "1", "--reason", "customer left", "--json"]);
    for key in [
        "seq",
        "sale_seq",
        "void_id",
        "sale_id",
        "total_cents",
        "tenders",
        "hash",
    ] {
        assert!(v.get(key).is_some(), "void JSON lacks {key}: {v}");
    }
    assert_eq!(v["sale_seq"], 1);
    assert_eq!(v["total_cents"], sale["due_cents"]);
    assert_eq!(v["tenders"][0]["kind"], "cash");
    assert_eq!(v["tenders"][0]["amount_cents"], sale["due_cents"]);
    let e = refused(&t, &["void", "1", "--reason", "again"]);
    assert!(e.contains("already voided"), "{e}");
    let e = refused(&t, &["refund", "1", "--pay", "cash"]);
    assert!(e.contains("voided"), "{e}");
    assert_eq!(t.json(&["sales", "--json"])[0]["voided"], true);
    let text = String::from_utf8(t.run(&["sales"]).stdout).unwrap();
    assert!(text.contains("VOIDED"), "{text}");
    // A sale of yesterday (its time moved back) cannot be voided.
    t.json(&["sell", "--json", "1001"]);
    t.execute_sql(
        "UPDATE sales SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2 days')
         WHERE seq = 3",
    );
    let e = refused(&t, &["void", "3", "--reason", "late"]);
    assert!(e.contains("not today"), "{e}");
}

#[test]
fn verify_walks_sales_refunds_and_voids_and_catches_a_tampered_refund() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001*2"]);
    t.json(&["refund", "1", "1001", "--pay", "cash", "--json"]);
    t.json(&["sell", "--json", "--pay", "card", "1003"]);
    t.json(&["void", "3", "--reason", "left", "--json"]);
    t.json(&[
        "refund",
        "--no-receipt",
        "1001",
        "--pay",
        "cash",
        "--reason",
        "no receipt",
        "--json",
    ]);
    t.json(&["sell", "--json", "1001"]);
    let v = t.json(&["verify", "--json"]);
    assert_eq!(v["chain_ok"], true, "{v}");
    assert_eq!(
        (
            &v["sales_checked"],
            &v["refunds_checked"],
            &v["voids_checked"]
        ),
        (&3.into(), &2.into(), &1.into())
    );
    t.execute_sql("UPDATE refund_lines SET amount_cents = 1 WHERE refund_id IN (SELECT refund_id FROM refunds WHERE seq = 2)");
    let out = t.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["first_break"],
        "refund #2: hash does not match its content"
    );
}

#[test]
fn the_z_report_shows_gross_refunds_voids_and_net_by_tender_and_rate() {
    let t = Till::new();
    t.json(&["sell", "--json", "--pay", "cash:20", "1001*3", "1045"]); // 7 % and 19 %
    t.json(&["sell", "--json", "--pay", "card", "1001"]);
    t.json(&["refund", "1", "1001*1", "--pay", "card", "--json"]);
    t.json(&["void", "2", "--reason", "left", "--json"]);
    let z = t.json(&["report", "z", "--json"]);
    assert_eq!(z["sales"], 2);
    assert_eq!(z["due_cents"], 3 * 119 + 49 + 119);
    assert_eq!(z["refunds"]["count"], 1);
    assert_eq!(z["refunds"]["paid_cents"], 119);
    assert_eq!(z["voids"]["count"], 1);
    assert_eq!(z["voids"]["paid_cents"], 119);
    assert_eq!(z["net_cents"], 3 * 119 + 49 - 119);
    let tender = |kind: &str| {
        z["by_tender"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap()
            .clone()
    };
    assert_eq!(
        tender("cash")["amount_cents"],
        3 * 119 + 49,
        "net of change"
    );
    let card = tender("card");
    assert_eq!(
        (
            &card["sales_cents"],
            &card["refunds_cents"],
            &card["voids_cents"],
            &card["amount_cents"]
        ),
        (&119.into(), &119.into(), &119.into(), &(-119).into())
    );
    let seven = &z["by_tax_rate"][0];
    assert_eq!(seven["tax_rate_bp"], 700);
    assert_eq!(seven["gross_cents"], 4 * 119);
    assert_eq!(seven["refunds_cents"], 119);
    assert_eq!(seven["voids_cents"], 119);
    assert_eq!(seven["net_cents"], 2 * 119);
    let text = String::from_utf8(t.run(&["report", "z"]).stdout).unwrap();
    assert!(
        text.contains("refunds (1)") && text.contains("net"),
        "{text}"
    );
}

#[test]
fn the_default_config_documents_the_blind_refund_limit() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let out = String::from_utf8(t.run(&["--print-default-config"]).stdout).unwrap();
    assert!(out.contains("[refunds]\n"), "{out}");
    assert!(out.contains("blind_max_cents = 5000"), "{out}");
    // A lower limit in the config file refuses a refund the default would allow.
    let cfg = t.dir.path().join("k.toml");
    std::fs::write(&cfg, "[refunds]\nblind_max_cents = 100\n").unwrap();
    let before = snapshot(&t);
    let out = t.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "refund",
        "--no-receipt",
        "1001",
        "--pay",
        "cash",
        "--reason",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(snapshot(&t), before);
}

#[test]
fn an_item_named_by_barcode_fills_that_products_lines_in_order() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001", "1003", "1001*2"]);
    // Barcode of 1001: one from line 1, then from line 3.
    let r = t.json(&["refund", "1", "4000000010012*2", "--pay", "card", "--json"]);
    let lines: Vec<(i64, i64)> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["original_line_no"].as_i64().unwrap(),
                l["qty"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lines, vec![(1, 1), (3, 1)]);
    let e = refused(&t, &["refund", "1", "1001*2", "--pay", "card"]);
    assert!(e.contains("2 sold, 1 already refunded, 2 asked"), "{e}");
    t.json(&["refund", "1", "1001", "--pay", "card", "--json"]);
    let e = refused(&t, &["refund", "1", "1001", "--pay", "card"]);
    assert!(
        e.contains("line 3 (1001)") && e.contains("2 sold, 2 already refunded, 1 asked"),
        "{e}"
    );
}
