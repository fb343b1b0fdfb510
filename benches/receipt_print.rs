//! A sale's save time with a receipt printer that is stopped, refusing connections or stalling,
//! against no printer at all: the printer never holds up a sale (issue 12).
//!
//! `cargo bench --bench receipt_print [-- N]` (default 100 sales per case), interleaved in one
//! process: each round commits one 3-line cash sale per case, each on its own database. With a
//! printer, "saved" includes reading the sale back, laying out its receipt, the ESC/POS bytes
//! and handing them to the print worker (the path `kassa sell` and the console take). Cases:
//! - none: `[printer] kind = "none"`: the commit only;
//! - layout: no printer, but the receipt read back and laid out with its ESC/POS bytes, as the
//!   console does for its on-screen receipt after every sale: what having a receipt costs, apart
//!   from any printer;
//! - refusing: a raw TCP printer address where nothing listens (connection refused);
//! - stopped: a device path that does not exist (an unplugged or switched-off USB printer);
//! - stalled: a device that never takes a byte (a FIFO without a reader: open blocks for good).
//!
//! Prints p50 and p99 per case, their ratios to "none" and to "layout" (the printer's state
//! alone: a stopped, refusing or stalled printer against the same work with none), and how many
//! prints failed or hung. `kassa sell` and the console tell "saved" before the receipt is laid
//! out, so the layout's cost is not in what a cashier waits for; it is timed here anyway.

use std::time::{Duration, Instant};

use kassa::config::Config;
use kassa::domain::tender::settle;
use kassa::domain::{Cart, Currency, Payment, ReceiptRef};
use kassa::printer::{PrintJob, PrintWorker, Target};
use kassa::receipt::ReceiptSetup;
use kassa::store::{Db, StoreOptions};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Case {
    name: &'static str,
    db: Db,
    worker: Option<PrintWorker>,
    times: Vec<Duration>,
    failed: usize,
    printed: usize,
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let base = std::env::var("KASSA_BENCH_DIR").unwrap_or_else(|_| "target".into());
    std::fs::create_dir_all(&base).expect("bench dir");
    let dir = tempfile::tempdir_in(&base).expect("tempdir");
    let timeout = Duration::from_millis(3000);

    let refusing = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let a = l.local_addr().expect("addr").to_string();
        drop(l);
        a
    };
    let fifo = dir.path().join("stalled-lp0");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let mut targets: Vec<(&'static str, Option<Target>)> = vec![
        ("none", None),
        ("layout", None),
        ("refusing", Some(Target::Tcp(refusing))),
        (
            "stopped",
            Some(Target::Device(dir.path().join("no-such-lp0"))),
        ),
    ];
    if made {
        targets.push(("stalled", Some(Target::Device(fifo))));
    } else {
        println!("mkfifo not available: the stalled case is left out");
    }
    let mut cases: Vec<Case> = targets
        .into_iter()
        .map(|(name, target)| Case {
            name,
            db: Db::open(
                &dir.path().join(format!("{name}.db")),
                &StoreOptions::default(),
            )
            .expect("open"),
            worker: target.map(|t| PrintWorker::start(t, timeout).expect("worker")),
            times: Vec::with_capacity(n),
            failed: 0,
            printed: 0,
        })
        .collect();

    let mut config = Config::default();
    config.printer.cash_drawer = true;
    let mut cart = Cart::new(Currency::EUR);
    for code in ["1001", "4000000010029", "1003"] {
        let p = cases[0]
            .db
            .find_product(code)
            .expect("q")
            .expect("demo product");
        cart.add(&p, 2).expect("add");
    }
    let total = cart.totals().expect("totals").total_cents;
    let settlement =
        settle(total, Payment::Cash { given: Some(5000) }, 0, Currency::EUR).expect("settle");
    let setup = ReceiptSetup::from_config(&config);

    for round in 0..n + 5 {
        for case in &mut cases {
            let t0 = Instant::now();
            let saved = case
                .db
                .commit_sale(&cart, &settlement, chrono::Utc::now())
                .expect("commit");
            if case.worker.is_some() || case.name == "layout" {
                let src = case
                    .db
                    .receipt_source(ReceiptRef::Seq(saved.seq))
                    .expect("read")
                    .expect("the sale");
                let receipt = setup.receipt(&src, false);
                let bytes = setup.bytes(&receipt, 42);
                match &case.worker {
                    Some(w) => {
                        w.submit(PrintJob {
                            seq: src.seq,
                            bytes,
                        });
                    }
                    None => {
                        std::hint::black_box(bytes);
                    }
                }
            }
            let dt = t0.elapsed();
            if round >= 5 {
                case.times.push(dt);
            }
            // Outcomes that came in are recorded off the timed path, as the console does.
            if let Some(w) = &case.worker {
                while let Some(o) = w.try_outcome() {
                    match o.result {
                        Ok(()) => case.printed += 1,
                        Err(e) => {
                            case.failed += 1;
                            case.db
                                .record_print_failure(o.seq, "sale", &e, chrono::Utc::now())
                                .expect("record");
                        }
                    }
                }
            }
        }
    }
    // Let the last outcomes arrive (a stalled printer sends none).
    for case in &mut cases {
        if let Some(w) = &case.worker {
            while let Some(o) = w.wait_outcome(Duration::from_millis(300)) {
                if o.result.is_ok() {
                    case.printed += 1;
                } else {
                    case.failed += 1;
                }
            }
        }
    }
    let mut none = cases[0].times.clone();
    let (base50, base99) = (pct(&mut none, 0.5), pct(&mut none, 0.99));
    let mut layout = cases[1].times.clone();
    let (lay50, lay99) = (pct(&mut layout, 0.5), pct(&mut layout, 0.99));
    println!(
        "{n} sales per case, save time (commit; with layout or a printer also the receipt read \
         back and laid out; with a printer also the hand-off); ratios to none / to layout"
    );
    for case in &mut cases {
        let total = n + 5;
        let (p50, p99) = (pct(&mut case.times, 0.5), pct(&mut case.times, 0.99));
        let hung = if case.worker.is_some() {
            total - case.printed - case.failed
        } else {
            0
        };
        println!(
            "{:<9} p50 {:>7.0} us ({:.2}x / {:.2}x)  p99 {:>7.0} us ({:.2}x / {:.2}x)  prints failed {:>3}, hung {:>3}, printed {:>3}",
            case.name,
            micros(p50),
            micros(p50) / micros(base50),
            micros(p50) / micros(lay50),
            micros(p99),
            micros(p99) / micros(base99),
            micros(p99) / micros(lay99),
            case.failed,
            hung,
            case.printed
        );
    }
}
