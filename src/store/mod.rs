//! The local SQLite database: schema, sale commit, the outbox, catalog and stock cache,
//! conflicts and small sync state.
//!
//! [`Db`] is the blocking API on one connection; [`StoreHandle`] runs a `Db` on its own thread
//! and is what the rest of the program holds (see `docs/store-api.md`). Durability: WAL with
//! `synchronous=FULL`, so a transaction that returned survives power loss.

pub mod backup;
mod catalog;
mod conflicts;
mod documents;
mod outbox;
mod printing;
mod receipts;
mod refunds;
mod reports;
pub mod restore;
mod sales;
pub mod schema;
mod session;
mod shifts;
mod skipped;
mod staff;
mod sync_io;
mod voids;
mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

pub use crate::domain::RefundPolicy;
pub use catalog::{parse_catalog_csv, CatalogError, DEMO_CATALOG};
pub use conflicts::ConflictRow;
pub use outbox::{LocalStatus, OpDetail, QueueFilter, QueueRow};
pub use printing::{PrintFailure, Printable};
pub use receipts::{DocumentBy, DocumentShift, ReceiptSource, SaleSummary, StoreRecord};
pub use refunds::{BlindItem, RefundItems, RefundReceipt, RefundableSale};
pub use reports::{VerifyReport, ZDrawer, ZReport, ZReturns, ZTaxRow, ZTenderRow};
pub use sales::SaleReceipt;
pub use session::{SessionSummary, StoredSession};
pub use shifts::{CashMovementReceipt, ShiftCloseReceipt, ShiftOpenReceipt, ShiftSummary};
pub use skipped::{
    one_line, skip_key, ProductSkip, SkipTally, SkippedProduct, MAX_SKIP_REASON_CHARS,
    MAX_SKIP_SKU_CHARS,
};
pub use staff::{ApprovalCheck, PinCheck, StaffUpdate};
pub use sync_io::{
    ConflictUpdate, LeaseState, OpResult, PendingOp, ProductUpdate, PullPage, PushTally,
    StockUpdate, SyncCursors,
};
pub use voids::VoidReceipt;
pub use worker::{StoreEvent, StoreHandle};

/// How long a writer waits for another process's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database was written by a newer kassa (schema {found}, this build knows {known})"
    )]
    TooNew { found: i64, known: i64 },
    #[error(transparent)]
    Domain(#[from] crate::domain::DomainError),
    #[error("{0}")]
    Invalid(String),
    #[error("the store worker has stopped")]
    Closed,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A schema migration failed (or the backup before it could not be taken): the database
    /// is left as it was, and the till does not start on it.
    #[error("{}", migration_message(*from, *to, reason, backup.as_deref()))]
    Migration {
        from: i64,
        to: i64,
        reason: String,
        /// The copy taken just before, beside the database.
        backup: Option<PathBuf>,
    },
}

fn migration_message(from: i64, to: i64, reason: &str, backup: Option<&Path>) -> String {
    let copy = match backup {
        Some(p) => format!("; the copy taken before it is {}", p.display()),
        None => String::new(),
    };
    format!(
        "schema migration {from} -> {to} failed, the database is left as it was (schema {from}): {reason}{copy}"
    )
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Seed the demo catalog when the catalog is empty (first run).
    pub seed_demo_catalog: bool,
    /// How many automatic backups (taken before each schema migration) to keep beside the
    /// database (at least 1).
    pub migration_backups_kept: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            seed_demo_catalog: true,
            migration_backups_kept: 3,
        }
    }
}

/// One connection to the till database, with the till's operations as methods.
pub struct Db {
    conn: Connection,
    path: PathBuf,
    events: Vec<StoreEvent>,
}

impl Db {
    /// Opens (creating if needed) the database, sets durability pragmas and migrates.
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let existed = path.exists();
        let mut conn = Connection::open(path)?;
        #[cfg(unix)]
        if !existed {
            // Sales are business data: readable by the till's user only.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // journal_mode needs the lock briefly; the busy timeout covers a second process.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Self::migrate_with_backup(&mut conn, path, opts)?;
        let mut db = Db {
            conn,
            path: path.to_path_buf(),
            events: Vec::new(),
        };
        db.ensure_device_id()?;
        if opts.seed_demo_catalog {
            db.seed_demo_catalog_if_empty()?;
        }
        db.events.clear();
        Ok(db)
    }

    /// Before any migration of a database that holds data: a copy beside it
    /// ([`backup::before_migration`]); then all pending migrations in one transaction.
    fn migrate_with_backup(
        conn: &mut Connection,
        path: &Path,
        opts: &StoreOptions,
    ) -> Result<(), StoreError> {
        let Some((from, to)) = schema::pending(conn)? else {
            return Ok(());
        };
        let failed = |reason: String, backup: Option<PathBuf>| StoreError::Migration {
            from,
            to,
            reason,
            backup,
        };
        let copy = if from > 0 {
            backup::before_migration(conn, path, from, opts.migration_backups_kept)
                .map_err(|e| failed(format!("no backup could be taken first: {e}"), None))?
        } else {
            None
        };
        if let Some(copy) = &copy {
            tracing::info!(from, to, backup = %copy.display(), "backup before schema migration");
        }
        schema::migrate(conn).map_err(|e| failed(e.to_string(), copy.clone()))?;
        tracing::info!(from, to, "schema migrated");
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw connection, for the sync engine's own queries and for tests.
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Records that something changed; the worker broadcasts it after the job.
    pub fn notify(&mut self, event: StoreEvent) {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }

    pub(crate) fn take_events(&mut self) -> Vec<StoreEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// This till's id; made once, at the first open. (With a remote, the server identifies
    /// the device by its token, not by this.)
    pub fn device_id(&self) -> Result<String, StoreError> {
        self.meta_get("device_id")?
            .ok_or_else(|| StoreError::Corrupt("no device_id in meta".into()))
    }

    fn ensure_device_id(&mut self) -> Result<(), StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('device_id', ?1)",
            [id],
        )?;
        Ok(())
    }
}

/// Formats a time as the protocol wants it: RFC 3339, UTC, milliseconds.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
