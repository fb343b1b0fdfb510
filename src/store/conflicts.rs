//! Conflicts as pulled from the server, and the ops a technician queues about stock:
//! resolutions and stock counts. Both queue offline like any other op.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{timestamp, ConflictUpdate, Db, StoreError, StoreEvent};
use crate::domain::conflict::check_action;
use crate::domain::OpKind;

/// A conflict as the console and `kassa conflicts` show it: the server's conflict as last
/// pulled, and what this till has queued about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictRow {
    #[serde(flatten)]
    pub conflict: ConflictUpdate,
    /// The action of a resolution this till queued and has not yet seen confirmed.
    pub queued_action: Option<String>,
}

fn json_col(text: Option<String>) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

impl Db {
    pub fn conflicts(&self, include_resolved: bool) -> Result<Vec<ConflictRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT c.id, c.kind, c.status, c.sku, c.sale_id, c.details, c.resolution, c.version,
                    json_extract(o.payload, '$.action'),
                    c.line_no, c.count_id, c.created_at, c.resolved_at
             FROM conflicts c LEFT JOIN outbox o ON o.seq = c.queued_seq
             WHERE ?1 OR c.status = 'open'
             ORDER BY c.status = 'open' DESC, c.version DESC",
        )?;
        let rows = st.query_map([include_resolved], |r| {
            let resolution = json_col(r.get(6)?);
            Ok(ConflictRow {
                conflict: ConflictUpdate {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    status: r.get(2)?,
                    sku: r.get(3)?,
                    sale_id: r.get(4)?,
                    details: json_col(r.get(5)?),
                    resolution: (!resolution.is_null()).then_some(resolution),
                    version: r.get(7)?,
                    line_no: r.get(9)?,
                    count_id: r.get(10)?,
                    created_at: r.get(11)?,
                    resolved_at: r.get(12)?,
                },
                queued_action: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Queues a `resolve_conflict` op; checked against the conflict's kind first.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_resolution(
        &mut self,
        conflict_id: &str,
        action: &str,
        qty: Option<i64>,
        sku: Option<&str>,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let found: Option<(String, String, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT kind, status, queued_seq FROM conflicts WHERE id = ?1",
                [conflict_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((kind, status, queued)) = found else {
            return Err(StoreError::Invalid(format!(
                "no conflict {conflict_id} (run kassa sync to pull conflicts)"
            )));
        };
        if status != "open" {
            return Err(StoreError::Invalid(format!(
                "conflict {conflict_id} is already {status}"
            )));
        }
        if let Some(seq) = queued {
            return Err(StoreError::Invalid(format!(
                "a resolution of conflict {conflict_id} is already queued (op {seq})"
            )));
        }
        check_action(&kind, action, qty, sku).map_err(StoreError::Invalid)?;
        if let Some(s) = sku {
            if self.find_product(s)?.is_none() {
                return Err(StoreError::Invalid(format!("unknown sku {s:?}")));
            }
        }
        if note.is_some_and(|n| n.len() > 500) {
            return Err(StoreError::Invalid(
                "--note is longer than 500 characters".into(),
            ));
        }
        let payload = json!({
            "conflict_id": conflict_id, "action": action, "qty": qty, "sku": sku, "note": note,
        });
        let tx = self.conn.transaction()?;
        let seq = insert_op(&tx, OpKind::ResolveConflict, &payload, now)?;
        tx.execute(
            "UPDATE conflicts SET queued_seq = ?1 WHERE id = ?2",
            params![seq, conflict_id],
        )?;
        tx.commit()?;
        self.notify(StoreEvent::OutboxChanged);
        self.notify(StoreEvent::ConflictsChanged);
        Ok(seq)
    }

    /// Queues a `stock_count` op: `qty` of `sku` counted on the shelf now.
    pub fn queue_stock_count(
        &mut self,
        sku: &str,
        qty: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        if !(0..=1_000_000_000).contains(&qty) {
            return Err(StoreError::Invalid(format!(
                "counted quantity must be between 0 and 1000000000, got {qty}"
            )));
        }
        let known: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1)",
            [sku],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::Invalid(format!("unknown sku {sku:?}")));
        }
        let payload = json!({
            "count_id": Uuid::now_v7(), "sku": sku, "counted_qty": qty,
            "counted_at": timestamp(now),
        });
        let tx = self.conn.transaction()?;
        let seq = insert_op(&tx, OpKind::StockCount, &payload, now)?;
        tx.commit()?;
        self.notify(StoreEvent::OutboxChanged);
        Ok(seq)
    }
}

/// Appends an op to the outbox inside the caller's transaction; returns its seq.
pub(super) fn insert_op(
    tx: &rusqlite::Transaction<'_>,
    kind: OpKind,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO outbox (op_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        Uuid::now_v7().to_string(),
        kind.as_str(),
        payload.to_string(),
        timestamp(now)
    ])?;
    Ok(tx.last_insert_rowid())
}
