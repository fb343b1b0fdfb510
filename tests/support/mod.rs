//! Helpers shared by the tests that drive the real `kassa` binary.
#![allow(dead_code)]

pub mod fault_proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch home for one test: its own database, config and log dirs.
pub struct Till {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

impl Till {
    pub fn new() -> Till {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("till.db");
        Till { dir, db }
    }

    /// A `kassa` command on this till's database, isolated from the user's config and env.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
        c.arg("--db").arg(&self.db);
        isolate(&mut c, self.dir.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run kassa")
    }

    /// Runs one SQL statement on this till's database through the store, e.g. to leave
    /// conflicts the way a pull would.
    pub fn execute_sql(&self, sql: &str) {
        let store =
            kassa::store::StoreHandle::open(&self.db, kassa::store::StoreOptions::default())
                .expect("open store");
        let sql = sql.to_string();
        store
            .call_blocking(move |db| db.conn().execute(&sql, []))
            .expect("store")
            .expect("execute SQL");
    }

    /// Runs and parses stdout as JSON; panics with stderr if it fails.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kassa {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }
}

/// Points XDG dirs into `home` and removes KASSA_* variables from the environment.
pub fn isolate(c: &mut Command, home: &Path) {
    for (k, _) in std::env::vars() {
        if k.starts_with("KASSA_") {
            c.env_remove(k);
        }
    }
    c.env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("HOME", home)
        .env("NO_COLOR", "1");
}

/// Runs `c` with `input` on its standard input (a PIN), capturing its output.
pub fn with_stdin(mut c: Command, input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn kassa");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("kassa output")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A database as an older kassa left it: the first `schema` migrations, in WAL mode, with a
/// till id (`old-till-0001`) and one product (`OLD1`, 2.50).
pub fn old_database(path: &Path, schema: usize) {
    let conn = rusqlite::Connection::open(path).expect("create old database");
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .expect("WAL");
    for sql in &kassa::store::schema::MIGRATIONS[..schema] {
        conn.execute_batch(sql).expect("old migration");
    }
    conn.pragma_update(None, "user_version", schema as i64)
        .expect("user_version");
    conn.execute_batch(
        "INSERT INTO meta (key, value) VALUES ('device_id', 'old-till-0001');
         INSERT INTO products (sku, name, price_cents, tax_rate_bp, price_includes_tax)
         VALUES ('OLD1', 'From the old schema', 250, 700, 1);",
    )
    .expect("old rows");
}
