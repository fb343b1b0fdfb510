//! Durable commit time of a 3-line sale and of a 3-line refund (of that sale) vs a bare one-row
//! SQLite insert with the same durability settings (WAL, synchronous=FULL), measured
//! interleaved in the same run.
//!
//! `cargo bench --bench commit [-- N]` prints p50/p99 for both and the ratios.
//! Targets: sale p50 (issue 2) and refund p50 (issue 10) within 1.5x of the bare insert.

use std::time::{Duration, Instant};

use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment, ReceiptRef, RefundPolicy, TenderKind};
use kassa::store::RefundItems;
use kassa::store::{Db, StoreHandle, StoreOptions};

#[path = "support/figure.rs"]
mod figure;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    // On the real disk next to the build, not a tmpfs: fsync must cost what it costs.
    let base = std::env::var("KASSA_BENCH_DIR").unwrap_or_else(|_| "target".into());
    std::fs::create_dir_all(&base).expect("bench dir");
    let dir = tempfile::tempdir_in(&base).expect("tempdir");

    let mut db = Db::open(&dir.path().join("till.db"), &StoreOptions::default()).expect("open");
    let handle = StoreHandle::open(&dir.path().join("till2.db"), StoreOptions::default())
        .expect("open handle");
    let bare = rusqlite::Connection::open(dir.path().join("bare.db")).expect("open bare");
    let _: String = bare
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("wal");
    bare.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    bare.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .expect("table");

    let mut cart = Cart::new(Currency::EUR);
    for code in ["1001", "4000000010029", "1003"] {
        let p = db.find_product(code).expect("q").expect("demo product");
        cart.add(&p, 2).expect("add");
    }
    let total = cart.totals().expect("totals").total_cents;
    let settlement =
        settle(total, Payment::Cash { given: Some(5000) }, 0, Currency::EUR).expect("settle");

    let (mut t_bare, mut t_sale, mut t_handle) = (Vec::new(), Vec::new(), Vec::new());
    let mut t_refund = Vec::new();
    let policy = RefundPolicy {
        cash_rounding: 0,
        blind_max_cents: 0,
    };
    for i in 0..(n + 20) {
        let t0 = Instant::now();
        bare.execute(
            "INSERT INTO t (v) VALUES (?1)",
            ["a sale-sized row of text"],
        )
        .expect("insert");
        let d_bare = t0.elapsed();

        let t0 = Instant::now();
        let sale = db
            .commit_sale(&cart, &settlement, chrono::Utc::now())
            .expect("commit");
        let d_sale = t0.elapsed();

        let t0 = Instant::now();
        db.commit_refund(
            &ReceiptRef::Seq(sale.seq),
            &RefundItems::All { restock: true },
            TenderKind::Cash,
            "bench",
            &policy,
            chrono::Utc::now(),
        )
        .expect("refund");
        let d_refund = t0.elapsed();

        let (c, s) = (cart.clone(), settlement.clone());
        let t0 = Instant::now();
        handle
            .call_blocking(move |db| db.commit_sale(&c, &s, chrono::Utc::now()))
            .expect("worker")
            .expect("commit");
        let d_handle = t0.elapsed();
        if i >= 20 {
            t_bare.push(d_bare);
            t_sale.push(d_sale);
            t_refund.push(d_refund);
            t_handle.push(d_handle);
        }
    }
    let (b50, b99) = (pct(&mut t_bare, 0.5), pct(&mut t_bare, 0.99));
    let rows = [
        ("bare one-row insert (baseline)", b50, b99),
        (
            "3-line sale commit (Db)",
            pct(&mut t_sale, 0.5),
            pct(&mut t_sale, 0.99),
        ),
        (
            "3-line refund commit (Db)",
            pct(&mut t_refund, 0.5),
            pct(&mut t_refund, 0.99),
        ),
        (
            "3-line sale via store worker",
            pct(&mut t_handle, 0.5),
            pct(&mut t_handle, 0.99),
        ),
    ];
    println!("durable commit, n={n} each, interleaved, WAL + synchronous=FULL, dir {base}");
    println!(
        "{:<34} {:>10} {:>10} {:>9} {:>9}",
        "", "p50 us", "p99 us", "p50 x", "p99 x"
    );
    for (name, p50, p99) in rows {
        println!(
            "{name:<34} {:>10.1} {:>10.1} {:>9.2} {:>9.2}",
            micros(p50),
            micros(p99),
            micros(p50) / micros(b50),
            micros(p99) / micros(b99)
        );
    }
    println!("target: sale and refund p50 <= 1.5x baseline p50");
    let (s50, s99) = (rows[1].1, rows[1].2);
    let (r50, r99) = (rows[2].1, rows[2].2);
    for (what, v, b, target, met) in [
        (
            "durable commit of a 3-line sale, p50",
            s50,
            b50,
            "<= 1.5x baseline",
            Some(micros(s50) <= 1.5 * micros(b50)),
        ),
        (
            "durable commit of a 3-line sale, p99",
            s99,
            b99,
            "(reported)",
            None,
        ),
        (
            "durable commit of a 3-line refund, p50",
            r50,
            b50,
            "<= 1.5x baseline",
            Some(micros(r50) <= 1.5 * micros(b50)),
        ),
        (
            "durable commit of a 3-line refund, p99",
            r99,
            b99,
            "(reported)",
            None,
        ),
    ] {
        figure::report(&figure::Figure {
            name: what,
            value: micros(v),
            unit: "us",
            baseline_name: Some("bare one-row insert, same durability"),
            baseline: Some(micros(b)),
            target,
            met,
            better: figure::Better::Lower,
        });
    }
}
