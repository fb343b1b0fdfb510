//! `kassa restore`: put a backup back in place of the till database, refusing what would lose
//! data.
//!
//! Refused (bad input, nothing changed): a file that is not a kassa database or is damaged, a
//! backup of another till onto a database that holds ops, a database that holds ops the
//! backup lacks (unless forced), and a database whose sync lease a live process holds. The
//! database being replaced is first copied beside itself (`<db>.<time>.before-restore.bak`);
//! the backup is then copied in through SQLite's backup API, which keeps the file (its owner,
//! its mode 600) and its WAL mode. The next open migrates an older backup as usual.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::backup::{self, DbSummary};
use super::{StoreError, BUSY_TIMEOUT};

/// What `kassa restore` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub restored_from: PathBuf,
    pub database: PathBuf,
    /// What the backup holds (now the database).
    pub restored: DbSummary,
    /// What the database held before, if there was one.
    pub replaced: Option<DbSummary>,
    /// Where the replaced database was saved (a copy, or the unreadable file moved aside).
    pub replaced_saved_as: Option<PathBuf>,
    /// Ops the replaced database held that the backup lacks (non-zero only with `force`).
    pub ops_not_in_backup: i64,
}

/// Restores `file` into the database at `db`. `force` allows losing ops the backup lacks.
pub fn restore(file: &Path, db: &Path, force: bool) -> Result<RestoreReport, StoreError> {
    if !file.is_file() {
        return Err(StoreError::Invalid(format!(
            "{}: no such backup file",
            file.display()
        )));
    }
    let src = backup::open_read_only(file)?;
    let restored = backup::summarize(&src, file)?;
    let check: String = src
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| StoreError::Invalid(format!("{} is damaged: {e}", file.display())))?;
    if check != "ok" {
        return Err(StoreError::Invalid(format!(
            "{} is damaged (quick_check: {check})",
            file.display()
        )));
    }
    let mut replaced = None;
    let mut saved_as = None;
    let mut missing = 0;
    if db.exists() {
        let cur = backup::open_read_only(db)?;
        match backup::summarize(&cur, db) {
            Ok(s) => {
                refuse_if_syncing(&cur)?;
                if s.device_id != restored.device_id && s.ops > 0 {
                    return Err(StoreError::Invalid(format!(
                        "{} is a backup of another till ({}); {} is till {} and holds {} ops: restore it on its own till",
                        file.display(),
                        restored.device_id,
                        db.display(),
                        s.device_id,
                        s.ops
                    )));
                }
                let (n, first, last) = ops_not_in(&cur, file)?;
                if n > 0 && !force {
                    return Err(StoreError::Invalid(format!(
                        "{} holds {n} ops the backup lacks (seq {}..{}): restoring would lose them; --force replaces it anyway (a copy is kept beside it)",
                        db.display(),
                        first.unwrap_or(0),
                        last.unwrap_or(0)
                    )));
                }
                missing = n;
                let copy = backup::beside(db, "before-restore");
                backup::write_copy(&cur, &copy).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot keep a copy of {} before restoring, nothing changed: {e}",
                        db.display()
                    ))
                })?;
                replaced = Some(s);
                saved_as = Some(copy);
            }
            // Not a kassa database (damaged, or something else): moved aside, never deleted.
            Err(_) => {
                drop(cur);
                saved_as = Some(move_aside(db)?);
            }
        }
    } else if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if !db.exists() {
        backup::create_private(db).map_err(|source| StoreError::Io {
            path: db.to_path_buf(),
            source,
        })?;
    }
    let mut dst = Connection::open(db)?;
    dst.busy_timeout(BUSY_TIMEOUT)?;
    let _mode: String = dst.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    backup::copy_database(&src, &mut dst)?;
    let _mode: String = dst.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    // Sequence numbers are never reused, even for ops a forced restore dropped (the server
    // may have them).
    if let Some(last) = replaced.as_ref().and_then(|s| s.last_seq) {
        dst.execute_batch(&format!(
            "UPDATE sqlite_sequence SET seq = max(seq, {last}) WHERE name = 'outbox';
             INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', {last}
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox');"
        ))?;
    }
    Ok(RestoreReport {
        restored_from: file.to_path_buf(),
        database: db.to_path_buf(),
        restored,
        replaced,
        replaced_saved_as: saved_as,
        ops_not_in_backup: missing,
    })
}

/// A live syncer (the console or `kassa sync`) holds the lease: it must be stopped first.
fn refuse_if_syncing(cur: &Connection) -> Result<(), StoreError> {
    let lease: Option<(i64, i64)> = cur
        .query_row(
            "SELECT pid, expires_ms FROM sync_lease WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap_or(None);
    if let Some((pid, expires_ms)) = lease {
        let now = chrono::Utc::now().timestamp_millis();
        if expires_ms > now && super::sync_io::process_alive(pid) {
            return Err(StoreError::Invalid(format!(
                "kassa (pid {pid}) is syncing on this database; stop it first (systemctl stop kassa-sync kassa-console)"
            )));
        }
    }
    Ok(())
}

/// How many ops `cur` holds that the backup at `file` lacks (by op id), and their seq range.
fn ops_not_in(
    cur: &Connection,
    file: &Path,
) -> Result<(i64, Option<i64>, Option<i64>), StoreError> {
    let name = file.to_string_lossy().into_owned();
    cur.execute("ATTACH DATABASE ?1 AS bak", [&name])?;
    let r = cur.query_row(
        "SELECT count(*), min(seq), max(seq) FROM main.outbox m
         WHERE NOT EXISTS (SELECT 1 FROM bak.outbox b WHERE b.op_id = m.op_id)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    let _ = cur.execute("DETACH DATABASE bak", []);
    Ok(r?)
}

/// Renames a file that is not a usable kassa database (and its -wal/-shm) out of the way.
fn move_aside(db: &Path) -> Result<PathBuf, StoreError> {
    let aside = backup::beside(db, "unreadable");
    std::fs::rename(db, &aside).map_err(|source| StoreError::Io {
        path: db.to_path_buf(),
        source,
    })?;
    for ext in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{ext}", db.display()));
        if side.exists() {
            let _ = std::fs::rename(&side, format!("{}{ext}", aside.display()));
        }
    }
    Ok(aside)
}
