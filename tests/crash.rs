//! `kill -9` of the real binary in the middle of selling: every sale that was reported saved
//! is in the database, none is half-written, the hash chain verifies, the file is intact.

mod support;

use std::collections::HashSet;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use support::Till;

#[test]
fn sigkill_at_random_moments_never_loses_or_tears_a_reported_sale() {
    let t = Till::new();
    // Create the database first, so kills land in sale commits, not only in start-up.
    t.json(&["sell", "--json", "1001"]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x6b61737361);
    let mut reported: HashSet<String> = HashSet::new();
    let (mut completed, mut killed) = (0, 0);
    let items: Vec<String> = (0..40)
        .map(|i| format!("{}*{}", 1001 + (i % 60), 1 + i % 3))
        .collect();
    for _ in 0..120 {
        let mut child = t
            .cmd()
            .arg("sell")
            .arg("--json")
            .args(&items)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kassa");
        thread::sleep(Duration::from_micros(rng.random_range(0..25_000)));
        let _ = child.kill(); // SIGKILL
        let out = child.wait_with_output().expect("wait");
        if out.status.success() {
            completed += 1;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("complete JSON");
            reported.insert(v["sale_id"].as_str().unwrap().to_string());
        } else {
            killed += 1;
        }
    }
    println!("{completed} sales completed, {killed} processes killed");
    assert!(killed > 0, "the campaign must actually kill processes");

    let conn = rusqlite::Connection::open(&t.db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let stored: HashSet<String> = conn
        .prepare("SELECT sale_id FROM sales")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for id in &reported {
        assert!(stored.contains(id), "reported sale {id} is missing");
    }
    // No half-written sale: every sale has all 40 lines, its tender, its outbox op and deltas.
    let torn: i64 = conn
        .query_row(
            "SELECT count(*) FROM sales s WHERE s.seq > 1 AND (
                (SELECT count(*) FROM sale_lines l WHERE l.sale_id = s.sale_id) != 40
             OR (SELECT count(*) FROM tenders t WHERE t.sale_id = s.sale_id) != 1
             OR NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = s.seq)
             OR NOT EXISTS (SELECT 1 FROM stock_deltas d WHERE d.seq = s.seq))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(torn, 0, "half-written sales found");
    let orphan_ops: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox o WHERE kind = 'sale' AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.seq = o.seq)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphan_ops, 0);
    drop(conn);
    let v = t.json(&["verify", "--json"]);
    assert_eq!(v["chain_ok"], true, "{v}");
    assert_eq!(v["sales_checked"].as_i64().unwrap() as usize, stored.len());
}

#[test]
fn two_processes_selling_at_once_lose_nothing_and_never_say_locked() {
    let t = Till::new();
    t.json(&["sell", "--json", "1001"]);
    let db = t.db.clone();
    let home = t.dir.path().to_path_buf();
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let (db, home) = (db.clone(), home.clone());
            thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..30 {
                    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"));
                    support::isolate(&mut c, &home);
                    let out = c
                        .arg("--db")
                        .arg(&db)
                        .args([
                            "sell",
                            "--json",
                            &format!("{}*2", 1001 + w * 10 + i % 10),
                            "1002",
                        ])
                        .output()
                        .unwrap();
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(!err.contains("locked"), "{err}");
                    assert!(out.status.success(), "{err}");
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    ids.push(v["sale_id"].as_str().unwrap().to_string());
                }
                ids
            })
        })
        .collect();
    let ids: HashSet<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert_eq!(ids.len(), 60);
    let v = t.json(&["verify", "--json"]);
    assert_eq!(v["chain_ok"], true);
    assert_eq!(v["sales_checked"], 61);
}
