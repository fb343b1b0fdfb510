//! What the sync engine reads and writes locally: the pending batch, per-op push results,
//! pull pages (catalog, stock levels, conflicts, cursors) and the single-syncer lease.
//!
//! Every write here is one transaction. The types are the store's own; `sync` converts the
//! wire types of `remote` into them, so the store knows nothing of the network.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::skipped::{self, ProductSkip, SkipTally};
use super::{timestamp, Db, StoreError, StoreEvent};

/// A queued op as the push worker sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOp {
    pub seq: i64,
    pub op_id: String,
    pub kind: String,
    pub created_at: String,
    pub payload: String,
}

impl PendingOp {
    /// Roughly what this op adds to a push body.
    pub fn wire_bytes(&self) -> usize {
        self.payload.len() + self.op_id.len() + self.created_at.len() + 96
    }
}

/// What the server said about one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// Applied now or earlier; `note` is the server's remark (e.g. `already_resolved`).
    Sent { note: Option<String> },
    /// Permanently rejected: quarantined with its code and message.
    Rejected { code: String, message: String },
}

/// Counts of one recorded result set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushTally {
    pub sent: usize,
    pub rejected: usize,
    /// (seq, note) of accepted ops that came back with a note.
    pub notes: Vec<(i64, String)>,
}

/// A product as the server has it, with the version it has there.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductUpdate {
    pub product: crate::domain::Product,
    pub version: i64,
}

/// The server's stock level of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockUpdate {
    pub sku: String,
    pub on_hand: i64,
    pub version: i64,
}

/// A conflict as the server has it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConflictUpdate {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub sku: Option<String>,
    pub sale_id: Option<String>,
    pub details: serde_json::Value,
    pub resolution: Option<serde_json::Value>,
    pub version: i64,
    /// The sale line behind it (`price_mismatch`, `unknown_product`), when the server says.
    pub line_no: Option<i64>,
    /// The stock count behind a `count_discrepancy` (a uuid), when the server says.
    pub count_id: Option<String>,
    /// When the server raised it (RFC 3339 UTC, milliseconds); `None` from older servers.
    pub created_at: Option<String>,
    /// When the server recorded its resolution (RFC 3339 UTC); `None` while open.
    pub resolved_at: Option<String>,
}

impl ConflictUpdate {
    /// What `ConflictText` puts into words.
    pub fn facts(&self) -> crate::domain::ConflictFacts<'_> {
        crate::domain::ConflictFacts {
            kind: &self.kind,
            sku: self.sku.as_deref(),
            details: &self.details,
            resolution: self.resolution.as_ref(),
            created_at: self.created_at.as_deref(),
            resolved_at: self.resolved_at.as_deref(),
        }
    }
}

/// The last server version seen per pull section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCursors {
    pub catalog: i64,
    pub stock: i64,
    pub conflicts: i64,
}

/// One page of a pull, to apply in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullPage {
    pub products: Vec<ProductUpdate>,
    pub stock: Vec<StockUpdate>,
    pub conflicts: Vec<ConflictUpdate>,
    /// Catalog rows the till could not use: recorded (or, when the server no longer offers
    /// them, taken off sale) instead of applied.
    pub skipped: Vec<ProductSkip>,
    pub cursors: SyncCursors,
    /// True on the last page: every section is up to date.
    pub complete: bool,
}

/// Who holds the single-syncer lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// This holder has it (taken, renewed or taken over) until now + ttl.
    Acquired,
    /// Another live process has it.
    HeldBy { holder: String, pid: i64 },
}

const CURSOR_KEYS: [&str; 3] = [
    "sync_cursor_catalog",
    "sync_cursor_stock",
    "sync_cursor_conflicts",
];

impl Db {
    /// Pending ops in seq order: at most `max_ops`, and no more than `max_bytes` on the wire
    /// (but always the first one, however large).
    pub fn pending_batch(
        &self,
        max_ops: usize,
        max_bytes: usize,
    ) -> Result<Vec<PendingOp>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, op_id, kind, created_at, payload FROM outbox
             WHERE state = 'pending' ORDER BY seq LIMIT ?1",
        )?;
        let mut rows = st.query([max_ops as i64])?;
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while let Some(r) = rows.next()? {
            let op = PendingOp {
                seq: r.get(0)?,
                op_id: r.get(1)?,
                kind: r.get(2)?,
                created_at: r.get(3)?,
                payload: r.get(4)?,
            };
            bytes += op.wire_bytes();
            if !batch.is_empty() && bytes > max_bytes {
                break;
            }
            batch.push(op);
        }
        Ok(batch)
    }

    /// Records the server's result for each op of a batch, in one transaction.
    pub fn record_push_results(
        &mut self,
        results: &[(i64, OpResult)],
        now: DateTime<Utc>,
    ) -> Result<PushTally, StoreError> {
        let at = timestamp(now);
        let mut tally = PushTally::default();
        let tx = self.conn.transaction()?;
        {
            let mut sent = tx.prepare_cached(
                "UPDATE outbox SET state = 'sent', sent_at = ?2, attempts = attempts + 1,
                     last_error = NULL, reject_code = NULL, note = ?3
                 WHERE seq = ?1 AND state = 'pending'",
            )?;
            let mut rejected = tx.prepare_cached(
                "UPDATE outbox SET state = 'rejected', attempts = attempts + 1,
                     reject_code = ?2, last_error = ?3
                 WHERE seq = ?1 AND state = 'pending'",
            )?;
            for (seq, result) in results {
                match result {
                    OpResult::Sent { note } => {
                        sent.execute(params![seq, at, note])?;
                        tally.sent += 1;
                        if let Some(n) = note {
                            tally.notes.push((*seq, n.clone()));
                        }
                    }
                    OpResult::Rejected { code, message } => {
                        rejected.execute(params![seq, code, message])?;
                        tally.rejected += 1;
                    }
                }
            }
        }
        set_meta(&tx, "last_sync_at", Some(&at))?;
        set_meta(&tx, "last_error", None)?;
        tx.commit()?;
        self.notify(StoreEvent::OutboxChanged);
        Ok(tally)
    }

    /// A batch failed as a whole (transient): attempts + 1 and the error on each of its ops.
    pub fn record_push_failure(
        &mut self,
        first_seq: i64,
        last_seq: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?3
             WHERE state = 'pending' AND seq BETWEEN ?1 AND ?2",
        )?
        .execute(params![first_seq, last_seq, error])?;
        set_meta(&tx, "last_error", Some(error))?;
        tx.commit()?;
        self.notify(StoreEvent::OutboxChanged);
        Ok(())
    }

    /// Quarantines one op that the client or server cannot process at all.
    pub fn quarantine_op(&mut self, seq: i64, code: &str, message: &str) -> Result<(), StoreError> {
        self.record_push_results(
            &[(
                seq,
                OpResult::Rejected {
                    code: code.into(),
                    message: message.into(),
                },
            )],
            Utc::now(),
        )?;
        Ok(())
    }

    /// The pull cursors stored by the last applied page.
    pub fn sync_cursors(&self) -> Result<SyncCursors, StoreError> {
        let get = |k: &str| -> Result<i64, StoreError> {
            Ok(self.meta_get(k)?.and_then(|v| v.parse().ok()).unwrap_or(0))
        };
        Ok(SyncCursors {
            catalog: get(CURSOR_KEYS[0])?,
            stock: get(CURSOR_KEYS[1])?,
            conflicts: get(CURSOR_KEYS[2])?,
        })
    }

    /// Applies one pull page and its cursors in one transaction. On the last page of a pull
    /// that started at `pull_started`, drops the local stock deltas of ops the server had
    /// already applied by then (its stock levels now include them).
    ///
    /// Skipped products are recorded in the same transaction, and a usable version of a SKU
    /// (or the server taking it off sale) clears its entry, so the record never disagrees
    /// with the catalog the till has.
    pub fn apply_pull_page(
        &mut self,
        page: &PullPage,
        pull_started: DateTime<Utc>,
    ) -> Result<SkipTally, StoreError> {
        let mut tally = SkipTally::default();
        let tx = self.conn.transaction()?;
        {
            // Skips first: a usable row of the same SKU with a newer version then clears it.
            let seen_at = timestamp(Utc::now());
            for skip in &page.skipped {
                if skip.active {
                    skipped::record(&tx, skip, &seen_at)?;
                    tally.skipped += 1;
                } else {
                    skipped::withdraw(&tx, &skip.sku, skip.version)?;
                    tally.cleared += usize::from(skipped::clear(&tx, &skip.sku, skip.version)?);
                }
            }
            let mut clear_barcode = tx.prepare_cached(
                "UPDATE products SET barcode = NULL WHERE barcode = ?1 AND sku <> ?2",
            )?;
            let mut product = tx.prepare_cached(
                "INSERT INTO products (sku, barcode, name, price_cents, tax_rate_bp,
                     price_includes_tax, active, version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (sku) DO UPDATE SET barcode = excluded.barcode,
                     name = excluded.name, price_cents = excluded.price_cents,
                     tax_rate_bp = excluded.tax_rate_bp,
                     price_includes_tax = excluded.price_includes_tax,
                     active = excluded.active, version = excluded.version",
            )?;
            for ProductUpdate {
                product: p,
                version,
            } in &page.products
            {
                if let Some(b) = &p.barcode {
                    clear_barcode.execute(params![b, p.sku])?;
                }
                product.execute(params![
                    p.sku,
                    p.barcode,
                    p.name,
                    p.price_cents,
                    p.tax_rate_bp,
                    p.price_includes_tax,
                    p.active,
                    version
                ])?;
                tally.cleared += usize::from(skipped::clear(&tx, &p.sku, *version)?);
            }
            let mut stock = tx.prepare_cached(
                "INSERT INTO stock (sku, on_hand, version) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand,
                     version = excluded.version
                 WHERE excluded.version >= stock.version",
            )?;
            for s in &page.stock {
                stock.execute(params![s.sku, s.on_hand, s.version])?;
            }
            // What the server raised a conflict about, and when, never changes there: a newer
            // version without it (an older server, a value the till left out) keeps what is
            // known. `resolved_at` follows the newest version, like `status`.
            let mut conflict = tx.prepare_cached(
                "INSERT INTO conflicts (id, kind, status, sku, sale_id, details, resolution, version,
                     line_no, count_id, created_at, resolved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, status = excluded.status,
                     sku = excluded.sku, sale_id = excluded.sale_id, details = excluded.details,
                     resolution = excluded.resolution, version = excluded.version,
                     line_no = coalesce(excluded.line_no, conflicts.line_no),
                     count_id = coalesce(excluded.count_id, conflicts.count_id),
                     created_at = coalesce(excluded.created_at, conflicts.created_at),
                     resolved_at = excluded.resolved_at
                 WHERE excluded.version >= conflicts.version",
            )?;
            for c in &page.conflicts {
                conflict.execute(params![
                    c.id,
                    c.kind,
                    c.status,
                    c.sku,
                    c.sale_id,
                    c.details.to_string(),
                    c.resolution.as_ref().map(|r| r.to_string()),
                    c.version,
                    c.line_no,
                    c.count_id,
                    c.created_at,
                    c.resolved_at
                ])?;
            }
            let cur = page.cursors;
            for (key, value) in CURSOR_KEYS
                .iter()
                .zip([cur.catalog, cur.stock, cur.conflicts])
            {
                set_meta(&tx, key, Some(&value.to_string()))?;
            }
            if page.complete {
                tx.prepare_cached(
                    "DELETE FROM stock_deltas WHERE seq IN
                         (SELECT seq FROM outbox WHERE state = 'sent' AND sent_at <= ?1)",
                )?
                .execute([timestamp(pull_started)])?;
                set_meta(&tx, "last_sync_at", Some(&timestamp(Utc::now())))?;
            }
            tally.total = skipped::count(&tx)?;
        }
        tx.commit()?;
        if !page.products.is_empty() || !page.skipped.is_empty() {
            self.notify(StoreEvent::CatalogChanged);
        }
        if !page.stock.is_empty() || page.complete {
            self.notify(StoreEvent::StockChanged);
        }
        if !page.conflicts.is_empty() {
            self.notify(StoreEvent::ConflictsChanged);
        }
        Ok(tally)
    }

    /// Takes, renews or takes over the single-syncer lease for `holder` (a uuid per engine).
    /// An expired lease, or one whose process is gone, is taken over.
    pub fn acquire_sync_lease(
        &mut self,
        holder: &str,
        pid: u32,
        ttl_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<LeaseState, StoreError> {
        let now_ms = now.timestamp_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT holder, pid, expires_ms FROM sync_lease WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((other, other_pid, expires_ms)) = current {
            let ours = other == holder;
            if !ours && expires_ms > now_ms && process_alive(other_pid) {
                return Ok(LeaseState::HeldBy {
                    holder: other,
                    pid: other_pid,
                });
            }
        }
        tx.execute(
            "INSERT INTO sync_lease (id, holder, pid, expires_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid,
                 expires_ms = excluded.expires_ms",
            params![holder, pid, now_ms + ttl_ms],
        )?;
        tx.commit()?;
        Ok(LeaseState::Acquired)
    }

    /// Gives the lease up (clean shutdown), if `holder` has it.
    pub fn release_sync_lease(&mut self, holder: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sync_lease WHERE holder = ?1", [holder])?;
        Ok(())
    }

    /// Stores the engine's connectivity summary for `kassa status` in another process.
    pub fn record_connectivity(&mut self, label: &str, snapshot: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        set_meta(&tx, "connectivity", Some(label))?;
        set_meta(&tx, "sync_status", Some(snapshot))?;
        tx.commit()?;
        Ok(())
    }

    /// Counts the engine needs for a heartbeat: pending, rejected, oldest pending age.
    pub fn queue_summary(&self, now: DateTime<Utc>) -> Result<(i64, i64, Option<i64>), StoreError> {
        let (pending, rejected, oldest): (i64, i64, Option<String>) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'),
                    (SELECT count(*) FROM outbox WHERE state = 'rejected'),
                    (SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let age = oldest
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0));
        Ok((pending, rejected, age))
    }
}

fn set_meta(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => tx
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, v])?,
        None => tx
            .prepare_cached("DELETE FROM meta WHERE key = ?1")?
            .execute([key])?,
    };
    Ok(())
}

/// Whether a process on this machine is still running (a zombie counts as gone).
pub(crate) fn process_alive(pid: i64) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

#[cfg(test)]
#[path = "sync_io_tests.rs"]
mod tests;
