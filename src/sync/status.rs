//! What the sync engine tells the console and the headless commands: a [`SyncStatus`]
//! snapshot (on a `watch` channel) and [`SyncEvent`]s (on a `broadcast` channel).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How the till sees the server right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// No remote configured (or the settings are unusable: see `last_error`).
    Unconfigured,
    /// Configured, first heartbeat not answered yet.
    Connecting,
    /// Heartbeats answered promptly.
    Online,
    /// Answering, but slowly or with server errors.
    Degraded,
    /// Not reachable since `offline_since`.
    Offline,
    /// The key or token was refused: no more pushes until the config changes.
    Unauthorized,
    /// The server wants a newer till schema: pushes stop.
    UpgradeRequired,
}

impl Connectivity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Connectivity::Unconfigured => "unconfigured",
            Connectivity::Connecting => "connecting",
            Connectivity::Online => "online",
            Connectivity::Degraded => "degraded",
            Connectivity::Offline => "offline",
            Connectivity::Unauthorized => "unauthorized",
            Connectivity::UpgradeRequired => "upgrade_required",
        }
    }

    /// Whether pushing and pulling may be attempted at all in this state. Not before the
    /// first heartbeat has answered or failed: ops carry the clock skew it measures.
    pub fn may_sync(&self) -> bool {
        matches!(
            self,
            Connectivity::Online | Connectivity::Degraded | Connectivity::Offline
        )
    }

    /// Whether the server answered the last heartbeat.
    pub fn is_up(&self) -> bool {
        matches!(self, Connectivity::Online | Connectivity::Degraded)
    }
}

/// How many recent heartbeat latencies the status keeps (for a sparkline).
pub const RECENT_LATENCIES: usize = 30;

/// Everything the heartbeat pane shows, as one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub connectivity: Connectivity,
    /// Round trip of the last answered heartbeat.
    pub latency_ms: Option<u64>,
    /// Server clock minus till clock, from the last heartbeat.
    pub skew_ms: Option<i64>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    /// Last successful push or pull.
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub offline_since: Option<DateTime<Utc>>,
    /// Oldest first, at most [`RECENT_LATENCIES`].
    pub recent_latencies_ms: Vec<u64>,
    pub queue_depth: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub rejected: i64,
    /// True while this engine holds the single-syncer lease.
    pub active_syncer: bool,
    /// The pid of the other process that syncs this database, when it is not us.
    pub other_syncer_pid: Option<i64>,
}

impl SyncStatus {
    pub fn new(connectivity: Connectivity) -> SyncStatus {
        SyncStatus {
            connectivity,
            latency_ms: None,
            skew_ms: None,
            last_heartbeat_at: None,
            last_sync_at: None,
            last_error: None,
            offline_since: None,
            recent_latencies_ms: Vec::new(),
            queue_depth: 0,
            oldest_pending_age_s: None,
            rejected: 0,
            active_syncer: false,
            other_syncer_pid: None,
        }
    }

    pub(crate) fn add_latency(&mut self, ms: u64) {
        self.latency_ms = Some(ms);
        self.recent_latencies_ms.push(ms);
        let excess = self
            .recent_latencies_ms
            .len()
            .saturating_sub(RECENT_LATENCIES);
        self.recent_latencies_ms.drain(..excess);
    }

    /// One line for logs and `kassa sync`: "online 12 ms", "offline since 17:02:03Z", ...
    pub fn summary(&self) -> String {
        match self.connectivity {
            Connectivity::Online | Connectivity::Degraded => format!(
                "{} {} ms",
                self.connectivity.as_str(),
                self.latency_ms.unwrap_or(0)
            ),
            Connectivity::Offline => match self.offline_since {
                Some(t) => format!("offline since {}", crate::store::timestamp(t)),
                None => "offline".into(),
            },
            other => other.as_str().into(),
        }
    }
}

/// Something the engine did, for the console's flash messages and for progress output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    ConnectivityChanged {
        connectivity: Connectivity,
    },
    /// One batch was answered: how many ops went, how many were quarantined, how many remain.
    BatchPushed {
        sent: usize,
        rejected: usize,
        remaining: i64,
    },
    OpRejected {
        seq: i64,
        code: String,
        message: String,
    },
    /// The server accepted an op with a remark (`already_resolved`).
    OpNote {
        seq: i64,
        note: String,
    },
    PushFailed {
        error: String,
        retry_in_ms: u64,
    },
    Pulled {
        products: usize,
        stock: usize,
        conflicts: usize,
    },
    PullFailed {
        error: String,
    },
    /// A pull left out catalog products the till cannot use (`skipped`, naming at most ten
    /// of their `skus`), or cleared earlier ones (`cleared`) because a usable version arrived
    /// or the server took them off sale. `total` is how many are on record now (as in
    /// `kassa status`); 0 means none is left. Emitted only when something changed.
    ProductsSkipped {
        skipped: usize,
        cleared: usize,
        total: i64,
        skus: Vec<String>,
    },
    LeaseAcquired,
    LeaseHeldElsewhere {
        pid: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_latencies_keep_only_the_newest() {
        let mut s = SyncStatus::new(Connectivity::Online);
        for ms in 0..100 {
            s.add_latency(ms);
        }
        assert_eq!(s.recent_latencies_ms.len(), RECENT_LATENCIES);
        assert_eq!(s.recent_latencies_ms.last(), Some(&99));
        assert_eq!(s.latency_ms, Some(99));
        assert_eq!(s.summary(), "online 99 ms");
    }

    #[test]
    fn only_reachable_or_unknown_states_may_sync() {
        assert!(Connectivity::Offline.may_sync());
        assert!(!Connectivity::Unauthorized.may_sync());
        assert!(!Connectivity::UpgradeRequired.may_sync());
        assert!(!Connectivity::Unconfigured.may_sync());
        assert!(!Connectivity::Connecting.may_sync());
    }
}
