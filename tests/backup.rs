//! `kassa backup` / `kassa restore` and the automatic backup before a schema migration,
//! against the real binary: a backup taken while another process sells, a migration that
//! fails half-way, and bad input that must change nothing.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kassa::store::schema::schema_version;
use rusqlite::Connection;
use support::{old_database, stderr, Till};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The sale ids a database file holds.
fn sale_ids(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut st = conn.prepare("SELECT sale_id FROM sales").unwrap();
    let ids = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    ids
}

/// SHA-256 of the database file's bytes and of its WAL's (of nothing when there is none):
/// all a refusal must leave as they were.
fn db_and_wal(db: &Path) -> (String, String) {
    use sha2::Digest;
    let wal = std::fs::read(format!("{}-wal", db.display())).unwrap_or_default();
    let main = std::fs::read(db).unwrap();
    (
        hex::encode(sha2::Sha256::digest(main)),
        hex::encode(sha2::Sha256::digest(wal)),
    )
}

fn user_version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// The backup files beside `db` whose names say they were taken before a migration.
fn automatic_backups(db: &Path) -> Vec<PathBuf> {
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    let mut v: Vec<PathBuf> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy().into_owned();
            f.starts_with(&format!("{name}.")) && f.contains(".schema") && f.ends_with(".bak")
        })
        .collect();
    v.sort();
    v
}

fn assert_one_line_exit_2(out: &std::process::Output, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    assert!(err.starts_with("kassa: "), "{what}: {err}");
}

#[test]
fn a_backup_taken_while_another_process_sells_restores_every_sale_acknowledged_before_it() {
    const SALES: usize = 200;
    let till = Till::new();
    assert!(till.run(&["init"]).status.success());
    // Another process (one `kassa sell` after another) commits 200 sales; each id is
    // recorded once its command said "saved" (exited 0 with the receipt).
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let seller = {
        let acked = acked.clone();
        let mut cmds: Vec<std::process::Command> = (0..SALES).map(|_| till.cmd()).collect();
        std::thread::spawn(move || {
            for (i, cmd) in cmds.iter_mut().enumerate() {
                let item = ["1001", "1002*2", "1003"][i % 3];
                let out = cmd
                    .args(["sell", "--json", "--pay", "card", item])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "sale {i}: {}", stderr(&out));
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(v["sale_id"].as_str().unwrap().to_string());
            }
        })
    };
    let mut backups = Vec::new();
    for (n, at) in [20usize, 90, 150].into_iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < at {
            assert!(Instant::now() < deadline, "the seller stalled");
            std::thread::sleep(Duration::from_millis(5));
        }
        let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
        let file = till.dir.path().join(format!("during-{n}.bak"));
        let out = till.run(&["backup", "--json", arg(&file)]);
        assert!(out.status.success(), "backup {n}: {}", stderr(&out));
        let after = acked.lock().unwrap().len();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        backups.push((file, before, after, report));
    }
    seller.join().unwrap();
    let all = sale_ids(&till.db);
    assert_eq!(all.len(), SALES);
    let mut taken_mid_stream = 0;
    for (file, before, after, report) in backups {
        if after < SALES {
            taken_mid_stream += 1;
        }
        let fresh = Till::new();
        let out = fresh.run(&["restore", "--json", arg(&file)]);
        assert!(out.status.success(), "restore {file:?}: {}", stderr(&out));
        let restored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(restored["verify"]["chain_ok"], true, "{restored}");
        assert!(fresh.run(&["verify"]).status.success());
        let ids = sale_ids(&fresh.db);
        assert!(
            ids.is_superset(&before),
            "{file:?} lacks {} sales acknowledged before the backup began",
            before.difference(&ids).count()
        );
        assert!(ids.is_subset(&all));
        assert_eq!(report["sales"], ids.len() as i64);
        assert_eq!(restored["restored"]["sales"], ids.len() as i64);
    }
    assert!(
        taken_mid_stream >= 2,
        "the backups should have run while sales were still being committed"
    );
}

#[test]
fn a_migration_that_fails_half_way_leaves_the_database_byte_for_byte_and_the_backup_beside_it() {
    let known = schema_version();
    assert!(known >= 3, "needs at least two migrations to apply");
    let till = Till::new();
    old_database(&till.db, 2);
    let original = db_and_wal(&till.db);
    // Migrations 3..known apply in one transaction; the last one fails after its SQL ran.
    let out = till
        .cmd()
        .env("KASSA_TEST_FAIL_MIGRATION", known.to_string())
        .args(["status"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("schema migration 2 -> {known} failed")),
        "{err}"
    );
    assert!(err.contains("left as it was"), "{err}");
    assert_eq!(
        db_and_wal(&till.db),
        original,
        "the database file changed, or a WAL with content was left beside it"
    );
    assert_eq!(user_version(&till.db), 2);
    let copies = automatic_backups(&till.db);
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(
        err.contains(&copies[0].display().to_string()),
        "the reason names the backup: {err}"
    );
    assert_eq!(user_version(&copies[0]), 2);
    let conn = Connection::open(&copies[0]).unwrap();
    let id: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(id, "old-till-0001");
    drop(conn);
    // doctor names the failure and the backup too.
    let out = till
        .cmd()
        .env("KASSA_TEST_FAIL_MIGRATION", known.to_string())
        .args(["doctor"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[FAIL] database"), "{text}");
    assert!(
        text.contains("[ok  ] backups      1 beside the database"),
        "a retry on the unchanged database reuses its copy: {text}"
    );
    assert_eq!(db_and_wal(&till.db), original);

    // Without the fault the same database migrates (its copy already taken) and sells.
    let status = till.json(&["status", "--json"]);
    assert_eq!(status["pending"], 0);
    assert_eq!(user_version(&till.db), known);
    assert_eq!(automatic_backups(&till.db), copies);
    let sale = till.json(&["sell", "--json", "OLD1"]);
    assert_eq!(sale["total_cents"], 250);
    assert!(till.run(&["verify"]).status.success());
}

#[test]
fn only_the_configured_number_of_automatic_backups_is_kept() {
    let till = Till::new();
    let config = till.dir.path().join("kassa.toml");
    std::fs::write(&config, "[backup]\nkeep = 2\n").unwrap();
    let known = schema_version();
    for round in 0..3 {
        // An old database again (its own till id each time is fine: the copies rotate by name).
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", till.db.display()));
        }
        old_database(&till.db, 1);
        let out = till
            .cmd()
            .args(["--config", arg(&config), "status"])
            .output()
            .unwrap();
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        assert_eq!(user_version(&till.db), known);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(automatic_backups(&till.db).len(), 2);
}

#[test]
fn restore_refuses_to_lose_ops_unless_forced_and_keeps_the_replaced_database() {
    let till = Till::new();
    till.json(&["sell", "--json", "1001"]);
    let file = till.dir.path().join("one.bak");
    assert!(till.run(&["backup", arg(&file)]).status.success());
    till.json(&["sell", "--json", "1002"]);
    let before = db_and_wal(&till.db);
    let out = till.run(&["restore", arg(&file)]);
    assert_one_line_exit_2(&out, "restore over newer ops");
    assert!(stderr(&out).contains("1 ops the backup lacks (seq 2..2)"));
    assert_eq!(db_and_wal(&till.db), before);

    let out = till.run(&["restore", "--force", arg(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is saved as"), "{text}");
    assert_eq!(sale_ids(&till.db).len(), 1);
    let saved: Vec<PathBuf> = std::fs::read_dir(till.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".before-restore.bak"))
        .collect();
    assert_eq!(saved.len(), 1);
    assert_eq!(sale_ids(&saved[0]).len(), 2);
    // The dropped op's sequence number is not handed out again.
    let sale = till.json(&["sell", "--json", "1003"]);
    assert_eq!(sale["seq"], 3);
    assert!(till.run(&["verify"]).status.success());
    let doctor = till.json(&["doctor", "--json"]);
    let b = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "backups")
        .unwrap()
        .clone();
    assert_eq!(b["backups"].as_array().unwrap().len(), 1, "{b}");
}

#[test]
fn bad_backup_and_restore_input_exits_2_with_one_line_and_changes_nothing() {
    let till = Till::new();
    till.json(&["sell", "--json", "1001"]);
    let other = Till::new();
    other.json(&["sell", "--json", "1002"]);
    let other_backup = other.dir.path().join("other.bak");
    assert!(other.run(&["backup", arg(&other_backup)]).status.success());
    let junk = till.dir.path().join("junk.bak");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let foreign = till.dir.path().join("foreign.sqlite");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    let existing = till.dir.path().join("exists.bak");
    std::fs::write(&existing, b"keep me").unwrap();
    let before = db_and_wal(&till.db);
    let listing = |d: &Path| -> BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // A read-only look at a WAL database may create an empty -wal and the -shm index
            // when the last writer left none (SQLite's own files; their content is compared
            // by db_and_wal).
            .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
            .collect()
    };
    let files_before = listing(till.dir.path());
    let missing_dir = till.dir.path().join("no/such/dir/x.bak");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("unwritable path", vec!["backup", arg(&missing_dir)]),
        ("a directory", vec!["backup", arg(till.dir.path())]),
        ("an existing file", vec!["backup", arg(&existing)]),
        ("/proc", vec!["backup", "/proc/kassa-test.bak"]),
        ("not a database", vec!["restore", arg(&junk)]),
        ("not a kassa database", vec!["restore", arg(&foreign)]),
        ("missing backup", vec!["restore", "/nonexistent/x.bak"]),
        ("another till", vec!["restore", arg(&other_backup)]),
        (
            "another till, forced",
            vec!["restore", "--force", arg(&other_backup)],
        ),
    ];
    for (what, args) in &cases {
        let out = till.run(args);
        assert_one_line_exit_2(&out, what);
        assert_eq!(db_and_wal(&till.db), before, "{what} changed the database");
        assert_eq!(listing(till.dir.path()), files_before, "{what} left files");
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let err = stderr(&till.run(&["restore", arg(&other_backup)]));
    assert!(err.contains("is a backup of another till"), "{err}");
    let err = stderr(&till.run(&["restore", arg(&junk)]));
    assert!(err.contains("is not a kassa database"), "{err}");
}

#[test]
fn restore_refuses_while_a_running_kassa_syncs_on_the_database() {
    let till = Till::new();
    till.json(&["sell", "--json", "1001"]);
    let file = till.dir.path().join("one.bak");
    assert!(till.run(&["backup", arg(&file)]).status.success());
    // The lease as a live syncer holds it: this test's own process stands in for it.
    Connection::open(&till.db)
        .unwrap()
        .execute(
            "INSERT INTO sync_lease (id, holder, pid, expires_ms) VALUES (1, 'engine', ?1, ?2)",
            (
                std::process::id(),
                chrono::Utc::now().timestamp_millis() + 600_000,
            ),
        )
        .unwrap();
    let before = db_and_wal(&till.db);
    let out = till.run(&["restore", "--force", arg(&file)]);
    assert_one_line_exit_2(&out, "restore under a syncer");
    assert!(stderr(&out).contains("is syncing on this database; stop it first"));
    assert_eq!(db_and_wal(&till.db), before);
}

#[test]
fn restore_over_a_damaged_database_moves_it_aside_and_never_deletes_it() {
    let till = Till::new();
    till.json(&["sell", "--json", "1001"]);
    let file = till.dir.path().join("good.bak");
    assert!(till.run(&["backup", arg(&file)]).status.success());
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", till.db.display()));
    }
    std::fs::write(&till.db, vec![0xa5; 8192]).unwrap();
    let out = till.run(&["restore", arg(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("was not a readable kassa database; moved to"),
        "{text}"
    );
    let aside: Vec<PathBuf> = std::fs::read_dir(till.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".unreadable.bak"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read(&aside[0]).unwrap(), vec![0xa5; 8192]);
    assert_eq!(sale_ids(&till.db).len(), 1);
    assert!(till.run(&["verify"]).status.success());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&till.db).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the new database file is the till user's only"
    );
}
