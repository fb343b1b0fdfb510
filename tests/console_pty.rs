//! End-to-end: the real binary in a pseudo-terminal (80x24, NO_COLOR, TERM=xterm) on a temp
//! database: a cash sale with change, the queue pane, `kassa queue --json`, a conflict
//! resolved from the conflict pane, times in the zone `TZ` names.

mod console_support;
mod support;

use std::time::Duration;

use chrono::FixedOffset;
use kassa::timefmt::Zone;

use console_support::pty::{PtyConsole, ENTER, F2, F3, F5};
use support::Till;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn a_three_item_cash_sale_is_saved_queued_and_listed_by_kassa_queue() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("Code/barcode", WAIT);
    // A scanner types the barcode and Enter; a cashier types SKUs and a quantity.
    console.type_keys("4000000010012\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.type_keys("2*1002\r");
    console.wait_for("Semi-skimmed milk 1L", WAIT);
    console.type_keys("1003\r");
    console.wait_for("Butter 250g", WAIT);
    console.wait_for("TOTAL 5.76 EUR", WAIT);
    console.send(F5);
    console.wait_for("Cash given", WAIT);
    console.type_keys("20");
    console.send(ENTER);
    console.wait_for("saved #1", WAIT);
    console.wait_for("change 14.24", WAIT);

    console.send(F2);
    console.wait_for("Queue · 1 all", WAIT);
    // One row: seq, kind, total and state (the frame may arrive in pieces: wait for each).
    for text in ["#1 ", "sale", "5.76", "… pending"] {
        console.wait_for(text, WAIT);
    }

    console.quit(WAIT);

    let queue = till.json(&["queue", "--json"]);
    let ops = queue.as_array().expect("a JSON array");
    assert_eq!(ops.len(), 1, "{queue}");
    assert_eq!(ops[0]["seq"], 1);
    assert_eq!(ops[0]["kind"], "sale");
    assert_eq!(ops[0]["state"], "pending");
    assert_eq!(ops[0]["total_cents"], 576);
}

#[test]
fn quitting_with_a_sale_in_progress_asks_and_saves_nothing() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("Code/barcode", WAIT);
    console.type_keys("1001\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.send("q");
    console.wait_for("NOT saved", WAIT);
    console.send("n");
    console.wait_for("Whole milk 1L", WAIT);
    console.send("\x03");
    console.wait_for("NOT saved", WAIT);
    console.send("y");
    assert!(console.wait_exit(WAIT).success());
    let queue = till.json(&["queue", "--json"]);
    assert_eq!(queue.as_array().map(Vec::len), Some(0));
}

#[test]
fn a_conflict_resolved_from_the_conflict_pane_queues_the_resolution() {
    let till = Till::new();
    // The conflict arrives as a pull would leave it: an open row in the local database.
    till.execute_sql(
        "INSERT INTO conflicts (id, kind, status, sku, sale_id, details, version)
         VALUES ('7d1c0b8e-0000-4000-8000-000000000001', 'oversold', 'open', '1001',
                 NULL, '{\"on_hand\":-2,\"sold_qty\":3}', 1)",
    );

    let mut console = PtyConsole::start(
        till.dir.path(),
        &till.db,
        &["console", "--technician"],
        80,
        24,
    );
    console.wait_for("TECHNICIAN", WAIT);
    console.send(F3);
    console.wait_for("Conflicts · 1 open", WAIT);
    console.wait_for("oversold", WAIT);
    console.wait_for("on hand -2 after selling 3", WAIT);
    console.wait_for("resolve: a accept", WAIT);
    console.send("a");
    console.wait_for("Queue 'accept'", WAIT);
    console.type_keys("shelf checked");
    console.send(ENTER);
    console.wait_for("queued as #1", WAIT);
    console.wait_for("queued: accept", WAIT);
    console.quit(WAIT);

    let queue = till.json(&["queue", "--json"]);
    let op = &queue[0];
    assert_eq!(op["kind"], "resolve_conflict", "{queue}");
    assert_eq!(op["state"], "pending");
    let detail = till.json(&["queue", "--json", "--limit", "1"]);
    assert_eq!(detail[0]["seq"], 1);
}

#[test]
fn the_queue_pane_shows_times_in_the_tills_zone_and_json_keeps_utc() {
    let till = Till::new();
    till.json(&["sell", "--json", "--pay", "card", "1001"]);
    let stored = till.json(&["queue", "--json"])[0]["created_at"]
        .as_str()
        .expect("created_at")
        .to_string();
    assert!(
        stored.ends_with('Z'),
        "stored and --json times are UTC: {stored}"
    );
    let now = chrono::Utc::now();
    let plus3 = Zone::Fixed(FixedOffset::east_opt(3 * 3600).expect("offset"));
    let local = plus3.short_text(&stored, now);
    let utc = Zone::utc().short_text(&stored, now);
    assert_ne!(local, utc);

    // POSIX form: "UTC-3" is three hours east of Greenwich (chrono's Local reads TZ itself,
    // no zoneinfo file needed).
    let tz = [("TZ".to_string(), "UTC-3".to_string())];
    let mut console = PtyConsole::start_env(
        till.dir.path(),
        &till.db,
        &["console", "--technician"],
        80,
        24,
        &tz,
    );
    console.wait_for("Queue · 1 all", WAIT);
    let screen = console.wait_for(&local, WAIT);
    assert!(!screen.contains(&utc), "UTC time on screen:\n{screen}");
    console.quit(WAIT);
}

#[test]
fn below_80x24_the_console_says_the_terminal_is_too_small() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 60, 20);
    console.wait_for("terminal too small", WAIT);
    console.quit(WAIT);
}

#[test]
fn the_console_follows_a_resize_below_and_back_above_80x24() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 100, 30);
    console.wait_for("Code/barcode", WAIT);
    console.resize(70, 20);
    console.wait_for("terminal too small: 70x20", WAIT);
    console.resize(120, 40);
    console.wait_for("Heartbeat", WAIT);
    console.wait_for("Code/barcode", WAIT);
    console.quit(WAIT);
}

/// A key typed just after the terminal was resized (an SSH window dragged, then a code typed)
/// reaches the console. With crossterm's default (edge-triggered) event source, a key that
/// arrived together with the resize signal was left unread until the next key came: about one
/// resize in ten lost the first key here.
#[test]
fn keys_typed_right_after_a_resize_are_not_lost() {
    let till = Till::new();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 100, 30);
    console.wait_for("Code/barcode", WAIT);
    let mut typed = String::new();
    for (i, digit) in "1234567890123456".chars().enumerate() {
        let (cols, rows) = if i % 2 == 0 { (120, 40) } else { (100, 30) };
        console.resize(cols, rows);
        console.send(&digit.to_string());
        typed.push(digit);
        if console.try_wait_for(&typed, WAIT).is_none() {
            panic!(
                "after resize {i} to {cols}x{rows}, {digit:?} never showed; the screen shows:\n{}",
                console.contents()
            );
        }
    }
    // Esc clears the code (alone in its read, so that it is not taken for Alt+q), then quit.
    console.send("\u{1b}");
    std::thread::sleep(Duration::from_millis(300));
    console.quit(WAIT);
}

#[test]
fn a_sale_made_by_another_process_shows_in_the_technicians_queue() {
    let till = Till::new();
    let mut console = PtyConsole::start(
        till.dir.path(),
        &till.db,
        &["console", "--technician"],
        80,
        24,
    );
    console.wait_for("nothing queued", WAIT);
    // The cashier's till (here: the headless command) sells on the same database.
    let sale = till.json(&["sell", "--json", "--pay", "card", "1001", "1002"]);
    assert_eq!(sale["seq"], 1);
    console.wait_for("Queue · 1 all", WAIT);
    console.wait_for("2.28", WAIT);
    console.quit(WAIT);
}
