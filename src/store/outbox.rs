//! The outbox as the console and `kassa queue` / `kassa status` see it: windows of rows,
//! detail of one op, retrying a quarantined op, and the local status summary.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{Db, StoreError, StoreEvent};
use crate::domain::{OpKind, OpState};

/// Which ops a queue listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFilter {
    All,
    Pending,
    Sent,
    Rejected,
}

impl QueueFilter {
    pub fn parse(s: &str) -> Option<QueueFilter> {
        match s {
            "all" => Some(QueueFilter::All),
            "pending" => Some(QueueFilter::Pending),
            "sent" => Some(QueueFilter::Sent),
            "rejected" => Some(QueueFilter::Rejected),
            _ => None,
        }
    }

    fn clause(&self) -> &'static str {
        match self {
            QueueFilter::All => "1",
            QueueFilter::Pending => "state = 'pending'",
            QueueFilter::Sent => "state = 'sent'",
            QueueFilter::Rejected => "state = 'rejected'",
        }
    }
}

/// One op as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    pub seq: i64,
    pub op_id: String,
    pub kind: OpKind,
    pub state: OpState,
    pub created_at: String,
    pub total_cents: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub reject_code: Option<String>,
}

/// One op with its payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpDetail {
    #[serde(flatten)]
    pub row: QueueRow,
    pub payload: serde_json::Value,
}

/// What `kassa status` shows from the local database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalStatus {
    pub device_id: String,
    pub pending: i64,
    pub sent: i64,
    pub rejected: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub conflicts_open: i64,
    pub last_sync_at: Option<String>,
    pub last_error: Option<String>,
    /// Server products the till left out because it cannot use them (`kassa doctor` lists them).
    pub skipped_products: i64,
}

const ROW_COLS: &str =
    "seq, op_id, kind, state, created_at, total_cents, attempts, last_error, reject_code";

fn queue_row(r: &Row<'_>) -> rusqlite::Result<QueueRow> {
    let kind: String = r.get(2)?;
    let state: String = r.get(3)?;
    let bad = |what: &str, v: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown {what} {v:?}").into(),
        )
    };
    Ok(QueueRow {
        seq: r.get(0)?,
        op_id: r.get(1)?,
        kind: OpKind::parse(&kind).ok_or_else(|| bad("kind", &kind))?,
        state: OpState::parse(&state).ok_or_else(|| bad("state", &state))?,
        created_at: r.get(4)?,
        total_cents: r.get(5)?,
        attempts: r.get(6)?,
        last_error: r.get(7)?,
        reject_code: r.get(8)?,
    })
}

impl Db {
    pub fn queue_count(&self, filter: QueueFilter) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) FROM outbox WHERE {}", filter.clause());
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([], |r| r.get(0))?)
    }

    /// `limit` ops starting `offset` rows from the newest. Reads only that window.
    pub fn queue_window(
        &self,
        filter: QueueFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<QueueRow>, StoreError> {
        let sql = format!(
            "SELECT {ROW_COLS} FROM outbox WHERE {} ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
            filter.clause()
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![limit as i64, offset as i64], queue_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn op_detail(&self, seq: i64) -> Result<Option<OpDetail>, StoreError> {
        let sql = format!("SELECT {ROW_COLS}, payload FROM outbox WHERE seq = ?1");
        let found = self
            .conn
            .prepare_cached(&sql)?
            .query_row([seq], |r| Ok((queue_row(r)?, r.get::<_, String>(9)?)))
            .optional()?;
        found
            .map(|(row, payload)| {
                let payload = serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("op {seq} payload: {e}")))?;
                Ok(OpDetail { row, payload })
            })
            .transpose()
    }

    /// Finds an op by its seq or op_id (as a technician types it).
    pub fn find_op(&self, id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq FROM outbox WHERE op_id = ?1 OR CAST(seq AS TEXT) = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// Puts a quarantined op back in the queue. False when it was not rejected.
    pub fn retry_op(&mut self, seq: i64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE outbox SET state = 'pending', last_error = NULL, reject_code = NULL
             WHERE seq = ?1 AND state = 'rejected'",
            [seq],
        )?;
        if n > 0 {
            self.notify(StoreEvent::OutboxChanged);
        }
        Ok(n > 0)
    }

    pub fn status(&self, now: DateTime<Utc>) -> Result<LocalStatus, StoreError> {
        let (pending, rejected, all): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT count(*) FROM outbox WHERE state = 'pending'),
                    (SELECT count(*) FROM outbox WHERE state = 'rejected'),
                    (SELECT count(*) FROM outbox)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let oldest: Option<String> = self
            .conn
            .query_row(
                "SELECT created_at FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let oldest_pending_age_s = oldest
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| (now - t.with_timezone(&Utc)).num_seconds().max(0));
        let conflicts_open: i64 = self.conn.query_row(
            "SELECT count(*) FROM conflicts WHERE status = 'open'",
            [],
            |r| r.get(0),
        )?;
        Ok(LocalStatus {
            device_id: self.device_id()?,
            pending,
            sent: all - pending - rejected,
            rejected,
            oldest_pending_age_s,
            conflicts_open,
            last_sync_at: self.meta_get("last_sync_at")?,
            last_error: self.meta_get("last_error")?,
            skipped_products: self.skipped_count()?,
        })
    }
}

/// Appends a document's op (sale, refund, void) inside the caller's transaction; returns its
/// seq. `total_cents` is what the queue shows: negative for money paid back.
pub(super) fn insert_document_op(
    tx: &rusqlite::Transaction<'_>,
    kind: OpKind,
    payload: &str,
    created_at: &str,
    total_cents: i64,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO outbox (op_id, kind, payload, created_at, total_cents)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        uuid::Uuid::now_v7().to_string(),
        kind.as_str(),
        payload,
        created_at,
        total_cents
    ])?;
    Ok(tx.last_insert_rowid())
}
