//! Copies of the till database: `kassa backup`, `kassa restore` and the automatic copy taken
//! before a schema migration.
//!
//! Every copy goes through SQLite's online backup API: one consistent snapshot read in a single
//! step, while other processes keep committing sales (WAL readers never block writers). A copy
//! is a self-contained file (rollback journal, not WAL), mode 600, written beside its final
//! name and renamed into place, so a half-written copy never carries the final name.
//! Automatic copies are named `<db file>.<UTC time>.schema<N>.bak` beside the database; the
//! newest `keep` of them are kept.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use super::{StoreError, BUSY_TIMEOUT};

/// What a database holds, as `kassa backup` and `kassa restore` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbSummary {
    /// The till this database belongs to (`meta.device_id`, made at its first open).
    pub device_id: String,
    /// `PRAGMA user_version`: how many migrations it has seen.
    pub schema: i64,
    pub sales: i64,
    pub ops: i64,
    /// The highest outbox seq, if any op was ever queued.
    pub last_seq: Option<i64>,
}

/// One backup file beside the database (automatic or not), for `kassa doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub bytes: u64,
    /// True for the copies taken before a schema migration (the rotated ones).
    pub automatic: bool,
}

/// Opens an existing database file read-only (never creates one).
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Invalid(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Reads what a kassa database holds; anything else (not SQLite, no `meta`, no till id, a
/// schema newer than this build) is [`StoreError::Invalid`] naming `path`.
pub fn summarize(conn: &Connection, path: &Path) -> Result<DbSummary, StoreError> {
    let not_kassa = |why: String| {
        StoreError::Invalid(format!(
            "{} is not a kassa database ({why})",
            path.display()
        ))
    };
    let schema: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| not_kassa(e.to_string()))?;
    let known = super::schema::schema_version();
    if schema > known {
        return Err(StoreError::Invalid(format!(
            "{} was written by a newer kassa (schema {schema}, this build knows {known})",
            path.display()
        )));
    }
    let device_id: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'device_id'", [], |r| {
            r.get(0)
        })
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => not_kassa("no till id in meta".into()),
            other => not_kassa(other.to_string()),
        })?;
    let (ops, last_seq) = conn
        .query_row("SELECT count(*), max(seq) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| not_kassa(e.to_string()))?;
    let sales = conn
        .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
        .map_err(|e| not_kassa(e.to_string()))?;
    Ok(DbSummary {
        device_id,
        schema,
        sales,
        ops,
        last_seq,
    })
}

/// Copies everything `from` holds into the database on `to`, in one step (retried while the
/// destination is locked, up to the busy timeout).
pub fn copy_database(from: &Connection, to: &mut Connection) -> Result<(), StoreError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let backup = Backup::new(from, to)?;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                return Err(StoreError::Invalid(
                    "the database stayed locked by another process; try again".into(),
                ))
            }
        }
    }
}

/// Writes a consistent copy of the database on `conn` to `dest` (replacing it if it exists),
/// mode 600. Returns the copy's size in bytes. A destination that cannot be written is
/// [`StoreError::Invalid`] (bad input) and leaves nothing behind.
pub fn write_copy(conn: &Connection, dest: &Path) -> Result<u64, StoreError> {
    let unwritable = |e: &dyn std::fmt::Display| {
        StoreError::Invalid(format!("cannot write backup {}: {e}", dest.display()))
    };
    let name = dest
        .file_name()
        .ok_or_else(|| unwritable(&"not a file name"))?
        .to_string_lossy()
        .into_owned();
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if dest.is_dir() {
        return Err(unwritable(&"is a directory"));
    }
    let tmp = dir.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    create_private(&tmp).map_err(|e| unwritable(&e))?;
    let result = (|| {
        let mut out = Connection::open(&tmp)?;
        copy_database(conn, &mut out)?;
        // A self-contained file: no -wal beside it to lose when it is copied elsewhere.
        let _mode: String = out.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        let check: String = out.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(format!(
                "the copy fails quick_check: {check}"
            )));
        }
        drop(out);
        let bytes = sync_file(&tmp).map_err(|e| unwritable(&e))?;
        std::fs::rename(&tmp, dest).map_err(|e| unwritable(&e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(bytes)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates an empty file readable by its owner only (fails if it exists).
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(drop)
}

fn sync_file(path: &Path) -> std::io::Result<u64> {
    let f = std::fs::File::open(path)?;
    f.sync_all()?;
    Ok(f.metadata()?.len())
}

/// The UTC time as it appears in backup file names (sorts like the time it names).
pub fn stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

fn file_name(db: &Path) -> String {
    db.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "till.db".into())
}

fn dir_of(db: &Path) -> PathBuf {
    match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where a copy of `db` named for `what` (e.g. `before-restore`) goes: beside it.
pub fn beside(db: &Path, what: &str) -> PathBuf {
    db.with_file_name(format!("{}.{}.{what}.bak", file_name(db), stamp()))
}

/// The automatic copy before migrating from schema `from`: written beside the database, then
/// all but the newest `keep` automatic copies removed. Returns the copy's path, or `None`
/// when another process migrated the database meanwhile (the copy would not be of schema
/// `from`; it is removed). When the newest copy is of this schema and the database has not
/// been written since it was taken (a migration that failed and is retried at every
/// restart), that copy is reused instead of rotating older, different ones away.
pub fn before_migration(
    conn: &Connection,
    db: &Path,
    from: i64,
    keep: usize,
) -> Result<Option<PathBuf>, StoreError> {
    if let Some(same) = unchanged_since_last_copy(db, from) {
        return Ok(Some(same));
    }
    let dest = beside(db, &format!("schema{from}"));
    write_copy(conn, &dest)?;
    let copied: i64 = open_read_only(&dest)?.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if copied != from {
        let _ = std::fs::remove_file(&dest);
        return Ok(None);
    }
    let automatic: Vec<BackupFile> = list(db).into_iter().filter(|b| b.automatic).collect();
    for old in automatic.iter().skip(keep.max(1)) {
        if old.path != dest {
            let _ = std::fs::remove_file(&old.path);
        }
    }
    Ok(Some(dest))
}

fn unchanged_since_last_copy(db: &Path, from: i64) -> Option<PathBuf> {
    let newest = list(db).into_iter().find(|b| b.automatic)?;
    let suffix = format!(".schema{from}.bak");
    if !newest.path.to_string_lossy().ends_with(&suffix) {
        return None;
    }
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let wal_empty = std::fs::metadata(&wal)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let db_time = std::fs::metadata(db).ok()?.modified().ok()?;
    let copy_time = std::fs::metadata(&newest.path).ok()?.modified().ok()?;
    (wal_empty && db_time < copy_time).then_some(newest.path)
}

/// The backup files beside `db` (`<db file>.*.bak`), newest first.
pub fn list(db: &Path) -> Vec<BackupFile> {
    let prefix = format!("{}.", file_name(db));
    let Ok(entries) = std::fs::read_dir(dir_of(db)) else {
        return Vec::new();
    };
    let mut found: Vec<(String, BackupFile)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix(&prefix)?.strip_suffix(".bak")?;
            let (stamp, kind) = rest.rsplit_once('.')?;
            let automatic = kind
                .strip_prefix("schema")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let bytes = e.metadata().ok()?.len();
            Some((
                stamp.to_string(),
                BackupFile {
                    path: e.path(),
                    bytes,
                    automatic,
                },
            ))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, b)| b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Db, StoreOptions};

    #[test]
    fn a_copy_holds_the_same_till_and_is_mode_600() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("till.db");
        let mut db = Db::open(&db_path, &StoreOptions::default()).unwrap();
        let id = db.device_id().unwrap();
        let dest = dir.path().join("copy.bak");
        let bytes = write_copy(db.conn(), &dest).unwrap();
        assert_eq!(bytes, std::fs::metadata(&dest).unwrap().len());
        let copy = open_read_only(&dest).unwrap();
        let s = summarize(&copy, &dest).unwrap();
        assert_eq!(s.device_id, id);
        assert_eq!(s.schema, crate::store::schema::schema_version());
        let mode: String = copy
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&dest).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("partial"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn an_unwritable_destination_is_bad_input_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("till.db"), &StoreOptions::default()).unwrap();
        let e = write_copy(db.conn(), &dir.path().join("missing/dir/x.bak")).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        assert!(e.to_string().starts_with("cannot write backup"), "{e}");
        let e = write_copy(db.conn(), dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
    }

    #[test]
    fn only_the_newest_automatic_copies_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("till.db");
        let mut db = Db::open(&db_path, &StoreOptions::default()).unwrap();
        std::fs::write(
            dir.path()
                .join("till.db.00000000T000000.000Z.before-restore.bak"),
            b"x",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("other.db.20990101T000000.000Z.schema1.bak"),
            b"x",
        )
        .unwrap();
        let mut made = Vec::new();
        for from in 1..=4 {
            db.conn().pragma_update(None, "user_version", from).unwrap();
            made.push(
                before_migration(db.conn(), &db_path, from, 2)
                    .unwrap()
                    .unwrap(),
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let auto: Vec<PathBuf> = list(&db_path)
            .into_iter()
            .filter(|b| b.automatic)
            .map(|b| b.path)
            .collect();
        assert_eq!(auto, vec![made[3].clone(), made[2].clone()]);
        assert_eq!(
            list(&db_path).len(),
            3,
            "the before-restore copy is not rotated"
        );
        assert!(dir
            .path()
            .join("other.db.20990101T000000.000Z.schema1.bak")
            .exists());
    }

    #[test]
    fn a_file_that_is_not_a_kassa_database_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.bak");
        std::fs::write(&junk, b"this is not sqlite at all, just some text ....").unwrap();
        let e = summarize(&open_read_only(&junk).unwrap(), &junk).unwrap_err();
        assert!(e.to_string().contains("is not a kassa database"), "{e}");
        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let e = summarize(&open_read_only(&other).unwrap(), &other).unwrap_err();
        assert!(e.to_string().contains("is not a kassa database"), "{e}");
    }
}
