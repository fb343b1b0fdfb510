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
    /// Catalog products the till left out as unusable (`kassa doctor` lists them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_products: Option<i64>,
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
    /// The staff section's cursor (issue 11); a till that sends none gets no staff section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<i64>,
    /// `true`: send the store's header (issue 12); older servers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
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
    pub catalog: PullSection<CatalogEntry>,
    pub stock: PullSection<StockRow>,
    pub conflicts: PullSection<RemoteConflict>,
    /// Absent from servers before issue 11 (and when no staff cursor was sent).
    #[serde(default)]
    pub staff: Option<PullSection<StaffEntry>>,
    /// The caller's store record (issue 12), when asked for and the server knows it.
    #[serde(default)]
    pub store: Option<StoreEntry>,
}

/// The store's header as `kassa_pull`'s `store` section gives it (missing fields: empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StoreEntry {
    pub name: String,
    pub address: String,
    pub tax_id: String,
}

impl PullReply {
    /// True when any section has another page.
    pub fn more(&self) -> bool {
        self.catalog.more
            || self.stock.more
            || self.conflicts.more
            || self.staff.as_ref().is_some_and(|s| s.more)
    }
}

/// A pulled staff row in the protocol's shape. `pin_hash` is an Argon2id PHC string; `Debug`
/// never shows it.
#[derive(Clone, PartialEq, Deserialize)]
pub struct StaffRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub pin_hash: String,
    pub active: bool,
    pub version: i64,
}

impl std::fmt::Debug for StaffRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("pin_hash", &"<redacted>")
            .field("active", &self.active)
            .field("version", &self.version)
            .finish()
    }
}

/// One pulled staff row: well formed, or not (left out with a warning, like a malformed
/// catalog row; never fails the pull).
#[derive(Debug, Clone, PartialEq)]
pub enum StaffEntry {
    Row(StaffRow),
    Malformed {
        /// The row's `id` if it is a string, else empty.
        id: String,
        /// What is wrong with it (never the row's values).
        error: String,
    },
}

impl<'de> Deserialize<'de> for StaffEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let id = v
            .get("id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .unwrap_or_default();
        Ok(match serde_json::from_value::<StaffRow>(v) {
            Ok(row) => StaffEntry::Row(row),
            // serde's message names the field and the type, not the value.
            Err(e) => StaffEntry::Malformed {
                id,
                error: e.to_string(),
            },
        })
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

/// One pulled catalog row: well formed, or not in the protocol's shape (a wrong JSON type, a
/// missing field). A malformed row never fails the pull: the till records it as skipped, like a
/// product it cannot sell, and the rest of the page applies.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogEntry {
    Row(CatalogRow),
    Malformed {
        /// The row's `sku` if it is a string, else empty.
        sku: String,
        /// The row's `version` if it is an integer, else 0.
        version: i64,
        /// The row's `active` if it is a boolean, else true (so that it is recorded).
        active: bool,
        /// What is wrong with it.
        error: String,
    },
}

impl<'de> Deserialize<'de> for CatalogEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Any JSON value reads as a `Value`: only a reply that is not JSON fails here.
        let v = serde_json::Value::deserialize(d)?;
        let sku = v
            .get("sku")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let version = v.get("version").and_then(serde_json::Value::as_i64);
        let active = v.get("active").and_then(serde_json::Value::as_bool);
        Ok(match serde_json::from_value::<CatalogRow>(v) {
            Ok(row) => CatalogEntry::Row(row),
            Err(e) => CatalogEntry::Malformed {
                sku: sku.unwrap_or_default(),
                version: version.unwrap_or(0),
                active: active.unwrap_or(true),
                error: e.to_string(),
            },
        })
    }
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
    /// The sale line behind a `price_mismatch` or `unknown_product` (1 or more).
    #[serde(default, deserialize_with = "lenient::line_no")]
    pub line_no: Option<i64>,
    /// The stock count behind a `count_discrepancy` (a uuid).
    #[serde(default, deserialize_with = "lenient::uuid")]
    pub count_id: Option<String>,
    /// When the server raised the conflict.
    #[serde(default, deserialize_with = "lenient::created_at")]
    pub created_at: Option<DateTime<Utc>>,
    /// When the server recorded the winning resolution.
    #[serde(default, deserialize_with = "lenient::resolved_at")]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// Optional fields the till only shows: absent, null or malformed all read as `None`, so an
/// older server (which omits them) or an odd value never fails a pull. A malformed value is
/// logged, never stored.
mod lenient {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    fn read<'de, D: Deserializer<'de>, T>(
        d: D,
        field: &'static str,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<T>, D::Error> {
        // Any JSON value deserialises into a `Value`: nothing here can fail the reply.
        let value = Option::<Value>::deserialize(d)?.unwrap_or(Value::Null);
        if value.is_null() {
            return Ok(None);
        }
        let converted = convert(&value);
        if converted.is_none() {
            let shown: String = value.to_string().chars().take(80).collect();
            tracing::warn!(field, value = %shown, "pulled conflict: malformed optional field left out");
        }
        Ok(converted)
    }

    pub fn line_no<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        read(d, "line_no", |v| v.as_i64().filter(|n| *n >= 1))
    }

    /// A uuid in its lowercase hyphenated form.
    pub fn uuid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        read(d, "count_id", |v| {
            uuid::Uuid::parse_str(v.as_str()?)
                .ok()
                .map(|u| u.hyphenated().to_string())
        })
    }

    /// An RFC 3339 time (any offset), as UTC.
    fn time<'de, D: Deserializer<'de>>(
        d: D,
        field: &'static str,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        read(d, field, |v| crate::timefmt::parse(v.as_str()?))
    }

    pub fn created_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        time(d, "created_at")
    }

    pub fn resolved_at<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        time(d, "resolved_at")
    }
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
        assert!(
            matches!(&r.catalog.rows[0], CatalogEntry::Row(c) if c.price_cents == 119),
            "{:?}",
            r.catalog.rows
        );
        assert_eq!(r.stock.cursor, 815);
        assert_eq!(r.conflicts.rows[0].resolution, None);
        assert!(r.more());
    }

    fn conflict(extra: serde_json::Value) -> RemoteConflict {
        let mut row = serde_json::json!({"id": "c1", "kind": "oversold", "status": "open",
            "sku": "4001", "sale_id": null, "details": {}, "resolution": null, "version": 9});
        if let (Some(row), Some(extra)) = (row.as_object_mut(), extra.as_object()) {
            row.extend(extra.clone());
        }
        serde_json::from_value(row).expect("a conflict row always parses")
    }

    #[test]
    fn a_conflict_carries_the_servers_line_count_and_times() {
        let c = conflict(serde_json::json!({"line_no": 2,
            "count_id": "0190F3A4-0000-7000-8000-00000000000A",
            "created_at": "2026-11-28T17:02:11.123Z",
            "resolved_at": "2026-11-28T18:10:00.000+01:00"}));
        assert_eq!(c.line_no, Some(2));
        assert_eq!(
            c.count_id.as_deref(),
            Some("0190f3a4-0000-7000-8000-00000000000a"),
            "a uuid in its canonical form"
        );
        assert_eq!(
            c.created_at.map(crate::store::timestamp).as_deref(),
            Some("2026-11-28T17:02:11.123Z")
        );
        assert_eq!(
            c.resolved_at.map(crate::store::timestamp).as_deref(),
            Some("2026-11-28T17:10:00.000Z"),
            "another offset is the same instant, kept in UTC"
        );
    }

    #[test]
    fn an_older_server_without_the_fields_or_with_nulls_still_parses() {
        for c in [
            conflict(serde_json::json!({})),
            conflict(serde_json::json!({"line_no": null, "count_id": null,
                "created_at": null, "resolved_at": null})),
        ] {
            assert_eq!(
                (c.line_no, c.count_id, c.created_at, c.resolved_at),
                (None, None, None, None)
            );
            assert_eq!(c.version, 9);
        }
    }

    #[test]
    fn odd_optional_fields_are_left_out_and_never_fail_the_pull() {
        let odd = [
            serde_json::json!({"line_no": "2", "count_id": 42, "created_at": 1_700_000_000,
                "resolved_at": true}),
            serde_json::json!({"line_no": 0, "count_id": "count-7", "created_at": "yesterday",
                "resolved_at": "2026-13-45T99:00:00Z"}),
            serde_json::json!({"line_no": -3, "count_id": {}, "created_at": [],
                "resolved_at": {"at": "2026-11-28T17:00:00Z"}}),
            serde_json::json!({"line_no": 2.5, "count_id": "", "created_at": "",
                "resolved_at": "2026-11-28"}),
            serde_json::json!({"line_no": 1e30, "count_id": "x".repeat(10_000),
                "created_at": "2026-11-28T17:00:00", "resolved_at": "now()"}),
        ];
        for extra in odd {
            let c = conflict(extra.clone());
            assert_eq!(
                (c.line_no, c.count_id, c.created_at, c.resolved_at),
                (None, None, None, None),
                "{extra}"
            );
            assert_eq!((c.id.as_str(), c.version), ("c1", 9), "the rest stays");
        }
        // A whole reply with one odd row: every row arrives.
        let text = r#"{"catalog":{"rows":[],"cursor":0,"more":false},
 "stock":{"rows":[],"cursor":0,"more":false},
 "conflicts":{"rows":[
   {"id":"c1","kind":"oversold","status":"open","details":{},"version":5,"line_no":"x","created_at":7},
   {"id":"c2","kind":"oversold","status":"open","details":{},"version":6,"line_no":1,
    "created_at":"2026-11-28T17:00:00.000Z","unknown_field":[1]}],"cursor":6,"more":false}}"#;
        let r: PullReply = serde_json::from_str(text).expect("the pull does not fail");
        let rows = &r.conflicts.rows;
        assert_eq!((rows[0].line_no, rows[0].created_at), (None, None));
        assert_eq!(rows[1].line_no, Some(1));
        assert!(rows[1].created_at.is_some());
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
