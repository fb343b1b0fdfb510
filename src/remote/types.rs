//! Request and response payloads of the sync RPCs, field for field as docs/protocol.md says.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// `p_status` of `kassa_heartbeat`: fleet telemetry the server records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeartbeatStatus {
    pub app_version: String,
    pub schema_version: i64,
    pub queue_depth: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub rejected: i64,
    pub device_time: String,
}

/// What `kassa_heartbeat` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HeartbeatReply {
    pub server_time: DateTime<Utc>,
    pub min_client_schema: i64,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub store_id: Option<String>,
}

impl HeartbeatReply {
    /// True when the server no longer accepts a till at `schema_version`.
    pub fn requires_upgrade(&self, schema_version: i64) -> bool {
        schema_version < self.min_client_schema
    }
}

/// One element of `p_ops`. The payload is the outbox's stored JSON, sent as is.
#[derive(Debug, Clone, Serialize)]
pub struct PushOp {
    pub op_id: String,
    pub seq: i64,
    pub kind: String,
    pub device_time: String,
    pub skew_ms: i64,
    pub payload: Box<RawValue>,
}

/// One element of the `kassa_push` answer, as it comes over the wire.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PushResult {
    pub op_id: String,
    pub seq: i64,
    pub status: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// What happened to one op, as the till records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// Applied now, or earlier (`duplicate`); `note` is e.g. `already_resolved`.
    Accepted { note: Option<String> },
    /// Permanently rejected: quarantine with this code and message.
    Rejected { code: String, message: String },
}

impl PushResult {
    /// The outcome, or `None` for a status this till does not know.
    pub fn outcome(&self) -> Option<OpOutcome> {
        match self.status.as_str() {
            "applied" | "duplicate" => Some(OpOutcome::Accepted {
                note: self.note.clone(),
            }),
            "rejected" => Some(OpOutcome::Rejected {
                code: self.code.clone().unwrap_or_else(|| "rejected".into()),
                message: self.message.clone().unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// `p_cursors` of `kassa_pull`: the last version seen per section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PullCursors {
    pub catalog: i64,
    pub stock: i64,
    pub conflicts: i64,
    pub limit: i64,
}

/// One page of one section of a pull.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PullSection<T> {
    pub rows: Vec<T>,
    pub cursor: i64,
    pub more: bool,
}

impl<T> Default for PullSection<T> {
    fn default() -> Self {
        PullSection {
            rows: Vec::new(),
            cursor: 0,
            more: false,
        }
    }
}

/// What `kassa_pull` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PullReply {
    pub catalog: PullSection<CatalogRow>,
    pub stock: PullSection<StockRow>,
    pub conflicts: PullSection<RemoteConflict>,
}

impl PullReply {
    /// True when any section has another page.
    pub fn more(&self) -> bool {
        self.catalog.more || self.stock.more || self.conflicts.more
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CatalogRow {
    pub sku: String,
    #[serde(default)]
    pub barcode: Option<String>,
    pub name: String,
    pub price_cents: i64,
    pub tax_rate_bp: i64,
    pub price_includes_tax: bool,
    pub active: bool,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StockRow {
    pub sku: String,
    pub on_hand: i64,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RemoteConflict {
    pub id: String,
    pub kind: String,
    pub status: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub sale_id: Option<String>,
    #[serde(default)]
    pub details: serde_json::Value,
    #[serde(default)]
    pub resolution: Option<serde_json::Value>,
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_pull_reply_parses() {
        let text = r#"{"catalog":{"rows":[{"sku":"4001","barcode":"4000000000017","name":"Milk 1L","price_cents":119,
   "tax_rate_bp":700,"price_includes_tax":true,"active":true,"version":812}],"cursor":812,"more":false},
 "stock":{"rows":[{"sku":"4001","on_hand":37,"version":815}],"cursor":815,"more":false},
 "conflicts":{"rows":[{"id":"c1","kind":"oversold","status":"open","sku":"4001",
   "sale_id":"s1","details":{"on_hand":-1},"resolution":null,"version":816}],"cursor":816,"more":true}}"#;
        let r: PullReply = serde_json::from_str(text).unwrap();
        assert_eq!(r.catalog.rows[0].price_cents, 119);
        assert_eq!(r.stock.cursor, 815);
        assert_eq!(r.conflicts.rows[0].resolution, None);
        assert!(r.more());
    }

    #[test]
    fn a_rejected_duplicate_is_still_a_rejection() {
        let r: PushResult = serde_json::from_str(
            r#"{"op_id":"a","seq":19,"status":"rejected","code":"invalid_payload","message":"line 2"}"#,
        )
        .unwrap();
        assert_eq!(
            r.outcome(),
            Some(OpOutcome::Rejected {
                code: "invalid_payload".into(),
                message: "line 2".into()
            })
        );
        let r: PushResult = serde_json::from_str(
            r#"{"op_id":"a","seq":1,"status":"applied","note":"already_resolved"}"#,
        )
        .unwrap();
        assert_eq!(
            r.outcome(),
            Some(OpOutcome::Accepted {
                note: Some("already_resolved".into())
            })
        );
    }

    #[test]
    fn a_push_op_serialises_its_payload_verbatim() {
        let op = PushOp {
            op_id: "u".into(),
            seq: 17,
            kind: "sale".into(),
            device_time: "2026-11-28T17:30:00.123Z".into(),
            skew_ms: -420,
            payload: RawValue::from_string(r#"{"a":1}"#.into()).unwrap(),
        };
        assert_eq!(
            serde_json::to_string(&op).unwrap(),
            r#"{"op_id":"u","seq":17,"kind":"sale","device_time":"2026-11-28T17:30:00.123Z","skew_ms":-420,"payload":{"a":1}}"#
        );
    }
}
