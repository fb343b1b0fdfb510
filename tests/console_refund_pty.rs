//! End-to-end refunds and voids: the real binary in a pseudo-terminal (80x24, NO_COLOR,
//! TERM=xterm) sells twice, refunds part of the first sale from refund mode (F10) and voids
//! the second from the queue (`v`), then `kassa queue --json` and `kassa sales --json` show
//! the documents the console said were saved.

mod console_support;
mod support;

use std::time::Duration;

use console_support::pty::{PtyConsole, ENTER, F10, F2, F5, F6, F8};
use support::Till;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_sale_refunded_in_part_and_another_voided_are_queued_as_documents() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("Code/barcode", WAIT);

    // Sale #1: 3 × whole milk and butter, cash, exact. Sale #2: semi-skimmed milk by card.
    console.type_keys("3*1001\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.type_keys("1003\r");
    console.wait_for("TOTAL 5.96 EUR", WAIT);
    console.send(F5);
    console.wait_for("Cash given", WAIT);
    console.send(ENTER);
    console.wait_for("saved #1", WAIT);
    console.type_keys("1002\r");
    console.wait_for("TOTAL 1.09 EUR", WAIT);
    console.send(F6);
    console.wait_for("saved #2", WAIT);

    // Refund mode: receipt #1, two of the three milks, damaged, back to the card.
    console.send(F10);
    console.wait_for("Receipt (#seq or sale id)", WAIT);
    console.type_keys("1\r");
    console.wait_for("Refund · receipt #1", WAIT);
    console.wait_for("Butter 250g", WAIT);
    console.type_keys("2\r");
    console.wait_for("REFUND 2.38 EUR", WAIT);
    console.send(F8);
    console.wait_for("damaged, written off", WAIT);
    console.send(F6);
    console.wait_for("Pay back 2.38 EUR to the card", WAIT);
    console.type_keys("wrong size");
    console.send(ENTER);
    console.wait_for("refunded #3 · 2.38 back to the card", WAIT);
    console.wait_for("Refund #3 saved", WAIT);

    // Asking for more than is left is refused by the store's numbers and saves nothing.
    console.send(F10);
    console.wait_for("Receipt (#seq or sale id)", WAIT);
    console.type_keys("1\r");
    console.wait_for("Refund · receipt #1", WAIT);
    console.type_keys("2\r");
    console.wait_for("only 1 left to refund", WAIT);
    console.send("\u{1b}");
    console.wait_for("Receipt (#seq or sale id)", WAIT);
    std::thread::sleep(Duration::from_millis(300));
    console.send("\u{1b}");
    console.wait_for("Code/barcode", WAIT);

    // The queue: newest first, #2 is the second row; `v` voids it after a reason and Enter.
    console.send(F2);
    console.wait_for("Queue · 3 all", WAIT);
    for text in ["refund", "-2.38"] {
        console.wait_for(text, WAIT);
    }
    console.send("\x1b[B");
    std::thread::sleep(Duration::from_millis(200));
    console.send("v");
    console.wait_for("Void sale #2", WAIT);
    console.wait_for("1.09 EUR is paid back (card)", WAIT);
    console.type_keys("customer left");
    console.send(ENTER);
    console.wait_for("voided sale #2 as #4", WAIT);
    console.wait_for("Queue · 4 all", WAIT);
    console.wait_for("-1.09", WAIT);
    console.quit(WAIT);

    let queue = till.json(&["queue", "--json"]);
    let ops = queue.as_array().expect("a JSON array");
    let kinds: Vec<(i64, &str, i64)> = ops
        .iter()
        .map(|o| {
            (
                o["seq"].as_i64().unwrap_or(0),
                o["kind"].as_str().unwrap_or(""),
                o["total_cents"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (4, "void_sale", -109),
            (3, "refund", -238),
            (2, "sale", 109),
            (1, "sale", 596)
        ],
        "{queue}"
    );
    assert!(ops.iter().all(|o| o["state"] == "pending"), "{queue}");

    let sales = till.json(&["sales", "--json"]);
    let sales = sales.as_array().expect("a JSON array");
    assert_eq!(sales.len(), 2, "{sales:?}");
    assert_eq!(sales[0]["seq"], 1);
    assert_eq!(sales[0]["sold_qty"], 4);
    assert_eq!(sales[0]["refunded_qty"], 2);
    assert_eq!(sales[0]["refunded_cents"], 238);
    assert_eq!(sales[0]["voided"], false);
    assert_eq!(sales[1]["seq"], 2);
    assert_eq!(sales[1]["voided"], true);

    // The refund as committed: two units of line 1, written off, to the card, with the reason.
    let store = kassa::store::StoreHandle::open(&till.db, kassa::store::StoreOptions::default())
        .expect("open the till's database");
    let (reason, lines, tender, void_reason) = store
        .call_blocking(|db| {
            let c = db.conn();
            let reason: String =
                c.query_row("SELECT reason FROM refunds WHERE seq = 3", [], |r| r.get(0))?;
            let mut st = c.prepare(
                "SELECT original_line_no, sku, qty, amount_cents, restock FROM refund_lines
                 ORDER BY line_no",
            )?;
            let lines: Vec<(i64, String, i64, i64, i64)> = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<_, _>>()?;
            let tender: (String, i64) =
                c.query_row("SELECT kind, amount_cents FROM refund_tenders", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let void_reason: String = c.query_row(
                "SELECT v.reason FROM sale_voids v JOIN sales s ON s.sale_id = v.sale_id
                 WHERE s.seq = 2 AND v.seq = 4",
                [],
                |r| r.get(0),
            )?;
            Ok::<_, rusqlite::Error>((reason, lines, tender, void_reason))
        })
        .expect("store")
        .expect("read the documents");
    drop(store);
    assert_eq!(reason, "wrong size");
    assert_eq!(lines, [(1, "1001".to_string(), 2, 238, 0)]);
    assert_eq!(tender, ("card".to_string(), 238));
    assert_eq!(void_reason, "customer left");
    let verify = till.run(&["verify"]);
    assert!(
        verify.status.success(),
        "the chain over sales, the refund and the void verifies: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn an_over_refund_conflict_is_read_in_words_and_accepted_as_a_loss_from_the_pane() {
    let till = Till::new();
    // As a pull leaves it: two tills together refunded 3 of the 2 sold.
    till.execute_sql(
        "INSERT INTO conflicts (id, kind, status, sku, sale_id, details, version)
         VALUES ('0fe4f0d0-0000-4000-8000-000000000001', 'over_refund', 'open', '1001', NULL,
                 '{\"refund_id\":\"8e1f0000-0000-4000-8000-000000000007\",\"sold_qty\":2,
                   \"refunded_qty\":3,\"this_refund_qty\":2,\"excess_qty\":1,
                   \"amount_cents\":119}', 1)",
    );
    let mut console = PtyConsole::start(
        till.dir.path(),
        &till.db,
        &["console", "--technician"],
        80,
        24,
    );
    console.wait_for("TECHNICIAN", WAIT);
    console.send(console_support::pty::F3);
    console.wait_for("refunded 3 of 2 sold of SKU 1001: 1 too many", WAIT);
    console.wait_for("resolve: l accept_loss · u follow_up", WAIT);
    console.send("l");
    console.wait_for("Queue 'accept_loss'", WAIT);
    console.type_keys("booked");
    console.send(ENTER);
    console.wait_for("queued as #1", WAIT);
    console.quit(WAIT);

    let conflicts = till.json(&["conflicts", "--json"]);
    assert_eq!(conflicts[0]["queued_action"], "accept_loss", "{conflicts}");
    let queue = till.json(&["queue", "--json"]);
    assert_eq!(queue[0]["kind"], "resolve_conflict", "{queue}");
}
