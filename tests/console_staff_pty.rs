//! End-to-end with staff: the real binary in a pseudo-terminal on a database with two staff
//! members. Login with the right and the wrong PIN, the lockout after five wrong PINs and its
//! survival across a restart of the binary, the idle lock (a short `[staff] idle_lock_seconds`), a
//! shift opened and closed blind, a sale recorded against the cashier and the shift, and a
//! manager override approved (the approver on the sale) and refused (nothing written).

mod console_support;
mod support;

use std::time::Duration;

use kassa::domain::{Pin, Role};
use kassa::store::{Db, StoreOptions};

use console_support::pty::{PtyConsole, ENTER, F5, F8};
use support::Till;

const WAIT: Duration = Duration::from_secs(15);
const F11: &str = "\x1b[23~";
const F12: &str = "\x1b[24~";
const DOWN: &str = "\x1b[B";

/// A till with Anna (cashier, PIN 2468) and Max (manager, PIN 1357); returns Anna's id.
fn staffed_till() -> (Till, String) {
    let till = Till::new();
    let mut db = Db::open(&till.db, &StoreOptions::default()).expect("open the till database");
    let now = chrono::Utc::now();
    let anna = db
        .add_staff(
            "Anna Berg",
            Role::Cashier,
            &Pin::parse("2468").expect("pin"),
            now,
        )
        .expect("add Anna");
    db.add_staff(
        "Max Ruiz",
        Role::Manager,
        &Pin::parse("1357").expect("pin"),
        now,
    )
    .expect("add Max");
    (till, anna.id.to_string())
}

fn config(till: &Till, text: &str) {
    let dir = till.dir.path().join("config").join("kassa");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), text).expect("write config");
}

/// Esc, alone: a key right after it in the same read would be taken for Alt+key.
fn esc(console: &mut PtyConsole) {
    console.settle(Duration::from_millis(200));
    console.send("\x1b");
    console.settle(Duration::from_millis(300));
}

/// Ctrl-C from the login screen quits cleanly.
fn quit_from_login(console: &mut PtyConsole) {
    console.send("\x03");
    let status = console.wait_exit(WAIT);
    assert!(status.success(), "kassa exited with {status:?}");
}

#[test]
fn the_console_opens_on_the_pin_prompt_and_the_right_pin_logs_in() {
    let (till, anna) = staffed_till();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    let screen = console.wait_for("log in with your PIN", WAIT);
    assert!(
        !screen.contains("Code/barcode"),
        "nothing of the till before a PIN"
    );
    console.type_keys("2468");
    let screen = console.wait_for("PIN: ••••", WAIT);
    assert!(
        !screen.contains("2468"),
        "the PIN is never echoed:\n{screen}"
    );
    console.send(ENTER);
    console.wait_for("logged in: Anna Berg (cashier)", WAIT);
    // No open shift: the console offers to open one; the float is counted.
    console.wait_for("Opening float counted", WAIT);
    console.type_keys("100");
    console.send(ENTER);
    console.wait_for("shift open · float 100.00", WAIT);
    console.wait_for("Anna Berg · shift", WAIT);
    // A sale now is recorded against Anna and the shift.
    console.type_keys("4000000010012\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.send(F5);
    console.wait_for("Cash given", WAIT);
    console.send(ENTER);
    console.wait_for("saved #2", WAIT);
    // Close: the blind count first, then expected vs counted.
    console.send(F11);
    console.wait_for("close the shift (blind count)", WAIT);
    console.type_keys("c");
    let screen = console.wait_for("Counted cash:", WAIT);
    assert!(
        !screen.contains("Expected"),
        "blind: nothing expected yet\n{screen}"
    );
    console.type_keys("100");
    console.send(ENTER);
    console.wait_for("Expected in the drawer", WAIT);
    console.wait_for("SHORT by", WAIT);
    esc(&mut console);
    console.quit(WAIT);

    let queue = till.json(&["queue", "--json"]);
    let text = queue.to_string();
    assert!(text.contains("shift_open"), "{text}");
    assert!(text.contains("shift_close"), "{text}");
    let sale = queue
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["kind"] == "sale"))
        .cloned()
        .expect("a sale in the queue");
    let seq = sale["seq"].as_i64().expect("seq");
    let db = Db::open(&till.db, &StoreOptions::default()).expect("open");
    let detail = db
        .op_detail(seq)
        .expect("op detail")
        .expect("the sale's op")
        .payload
        .to_string();
    assert!(
        detail.contains("shift_id"),
        "the sale carries the shift: {detail}"
    );
    assert!(
        detail.contains(&anna),
        "the sale carries Anna's id: {detail}"
    );
    assert!(!detail.contains("2468"));
}

#[test]
fn a_wrong_pin_is_refused_and_five_lock_out_also_after_a_restart() {
    let (till, _) = staffed_till();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("log in with your PIN", WAIT);
    console.type_keys("1111\r");
    console.wait_for("wrong PIN · 4 tries left", WAIT);
    for left in [3, 2, 1] {
        console.type_keys("1111\r");
        let tries = if left == 1 { "try" } else { "tries" };
        console.wait_for(&format!("wrong PIN · {left} {tries} left"), WAIT);
    }
    console.type_keys("1111\r");
    console.wait_for("Anna Berg is locked out until", WAIT);
    // The right PIN does not help now.
    console.type_keys("2468\r");
    console.wait_for("Anna Berg is locked out until", WAIT);
    quit_from_login(&mut console);

    // A restart of the binary keeps the lockout (it is in the database).
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("log in with your PIN", WAIT);
    console.wait_for("locked until", WAIT);
    console.type_keys("2468\r");
    let screen = console.wait_for("Anna Berg is locked out until", WAIT);
    assert!(!screen.contains("logged in"), "{screen}");
    // Someone else still logs in.
    console.send(DOWN);
    console.type_keys("1357\r");
    console.wait_for("logged in: Max Ruiz (manager)", WAIT);
    esc(&mut console);
    // The lock key: locked, and the console still runs for the next cashier.
    console.send(F12);
    console.wait_for("locked: Max Ruiz was logged in", WAIT);
    quit_from_login(&mut console);
}

#[test]
fn the_console_locks_after_the_idle_time_and_another_cashier_logs_in() {
    let (till, _) = staffed_till();
    config(&till, "[staff]\nidle_lock_seconds = 2\n");
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("log in with your PIN", WAIT);
    console.type_keys("2468\r");
    console.wait_for("logged in: Anna Berg", WAIT);
    console.wait_for("locked after 2 s without a key", WAIT);
    console.wait_for("log in with your PIN", WAIT);
    // Switch cashier without quitting: Max logs in (and is locked the same way).
    console.send(DOWN);
    console.type_keys("1357\r");
    console.wait_for("logged in: Max Ruiz", WAIT);
    console.wait_for("locked after 2 s without a key: Max Ruiz", WAIT);
    quit_from_login(&mut console);
}

/// The staff member called `name` in the till's database.
fn staff_id(till: &Till, name: &str) -> String {
    let db = Db::open(&till.db, &StoreOptions::default()).expect("open");
    db.list_staff()
        .expect("staff")
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.id.to_string())
        .expect("a staff member of that name")
}

/// Logs Anna in and opens the shift the console offers.
fn anna_with_a_shift(till: &Till) -> PtyConsole {
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &[], 80, 24);
    console.wait_for("log in with your PIN", WAIT);
    console.type_keys("2468\r");
    console.wait_for("Opening float counted", WAIT);
    console.type_keys("100\r");
    console.wait_for("shift open · float 100.00", WAIT);
    console
}

fn query(till: &Till, sql: &str) -> Vec<(Option<String>, Option<String>)> {
    let mut db = Db::open(&till.db, &StoreOptions::default()).expect("open");
    let mut q = db.conn().prepare(sql).expect("prepare");
    let rows = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query");
    rows.collect::<Result<Vec<_>, _>>().expect("rows")
}

#[test]
fn a_discount_above_the_cashiers_limit_is_approved_with_the_managers_pin() {
    let (till, anna) = staffed_till();
    let max = staff_id(&till, "Max Ruiz");
    let mut console = anna_with_a_shift(&till);
    console.type_keys("4000000010012\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.send(F8);
    console.wait_for("Line discount", WAIT);
    console.type_keys("50%\r");
    console.wait_for("Manager PIN for a discount of 50 % on Whole milk 1L", WAIT);
    console.type_keys("1357");
    let screen = console.wait_for("PIN: ••••", WAIT);
    assert!(
        !screen.contains("1357"),
        "the PIN is never echoed:\n{screen}"
    );
    console.send(ENTER);
    console.wait_for("approved by Max Ruiz: a discount of 50 %", WAIT);
    console.send(F5);
    console.wait_for("Cash given", WAIT);
    console.send(ENTER);
    console.wait_for("saved #2", WAIT);
    console.quit(WAIT);

    let sales = query(
        &till,
        "SELECT staff_id, approved_by FROM sales ORDER BY seq DESC LIMIT 1",
    );
    assert_eq!(sales, vec![(Some(anna), Some(max.clone()))]);
    let payload = query(
        &till,
        "SELECT payload, NULL FROM outbox WHERE kind = 'sale' ORDER BY seq DESC LIMIT 1",
    );
    let payload = payload[0].0.clone().unwrap_or_default();
    assert!(
        payload.contains(&format!("\"approved_by\":\"{max}\"")),
        "{payload}"
    );
    assert!(!payload.contains("1357"));
}

#[test]
fn a_no_sale_with_a_wrong_manager_pin_is_refused_and_nothing_is_written() {
    let (till, _) = staffed_till();
    let max = staff_id(&till, "Max Ruiz");
    let mut console = anna_with_a_shift(&till);
    console.send(F11);
    console.wait_for("no-sale", WAIT);
    console.type_keys("n");
    console.wait_for("Manager PIN for opening the drawer with no sale", WAIT);
    console.type_keys("9999\r");
    console.wait_for("not approved: wrong PIN for Max Ruiz · 4 tries left", WAIT);
    esc(&mut console);
    console.wait_for("not approved: opening the drawer", WAIT);
    console.quit(WAIT);

    let moves = query(
        &till,
        "SELECT staff_id, approved_by FROM cash_movements WHERE kind = 'no_sale'",
    );
    assert!(moves.is_empty(), "{moves:?}");
    let queue = till.json(&["queue", "--json"]).to_string();
    assert!(!queue.contains("cash_movement"), "{queue}");
    let counted = query(
        &till,
        "SELECT CAST(failed_attempts AS TEXT), staff_id FROM staff_lockout",
    );
    assert_eq!(counted, vec![(Some("1".to_string()), Some(max))]);
}
