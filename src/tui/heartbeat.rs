//! Heartbeat state: connectivity from the sync engine, queue depth and ages from the store.
//!
//! [`SyncView`] is the console's input shape for the sync engine's status (a `watch` of a
//! struct with connectivity, latency, skew, last sync, last error, offline-since and recent
//! latencies). Until a sync engine runs, it stays [`Connectivity::NotConfigured`] and the pane
//! shows the local queue truthfully.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::model::LocalStatusView;

/// How many samples the sparkline keeps.
pub const HISTORY: usize = 60;

/// The till's link to the server, in the words the pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connectivity {
    /// No server configured: the till works alone and queues everything.
    #[default]
    NotConfigured,
    /// Configured, first heartbeat not answered yet.
    Connecting,
    Online,
    /// Answers, but slowly or with transient errors.
    Degraded,
    Offline,
    /// The server refused the device token.
    Unauthorized,
    /// The server needs a newer till; pushing has stopped.
    UpgradeRequired,
}

impl Connectivity {
    /// A symbol that tells the state apart without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::NotConfigured => "-",
            Self::Connecting => "~",
            Self::Online => "●",
            Self::Degraded => "◐",
            Self::Offline => "○",
            Self::Unauthorized => "✗",
            Self::UpgradeRequired => "↑",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::NotConfigured => "not configured",
            Self::Connecting => "connecting",
            Self::Online => "online",
            Self::Degraded => "degraded",
            Self::Offline => "offline",
            Self::Unauthorized => "unauthorized",
            Self::UpgradeRequired => "upgrade required",
        }
    }

    /// Whether this state is bad news the cashier should notice.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Self::Offline | Self::Unauthorized | Self::UpgradeRequired
        )
    }
}

/// What the sync engine reports. The sync engine's `SyncStatus` maps into this field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncView {
    pub connectivity: Connectivity,
    pub latency_ms: Option<u64>,
    /// Server clock minus till clock.
    pub skew_ms: Option<i64>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub offline_since: Option<DateTime<Utc>>,
    /// Most recent heartbeat round-trips, oldest first.
    pub recent_latency_ms: Vec<u64>,
    /// Another process on this database holds the single-syncer lease.
    pub other_syncer_pid: Option<i64>,
}

impl From<&crate::sync::SyncStatus> for SyncView {
    fn from(s: &crate::sync::SyncStatus) -> SyncView {
        use crate::sync::Connectivity as C;
        SyncView {
            connectivity: match s.connectivity {
                C::Unconfigured => Connectivity::NotConfigured,
                C::Connecting => Connectivity::Connecting,
                C::Online => Connectivity::Online,
                C::Degraded => Connectivity::Degraded,
                C::Offline => Connectivity::Offline,
                C::Unauthorized => Connectivity::Unauthorized,
                C::UpgradeRequired => Connectivity::UpgradeRequired,
            },
            latency_ms: s.latency_ms,
            skew_ms: s.skew_ms,
            last_sync_at: s.last_sync_at,
            last_error: s.last_error.clone(),
            offline_since: s.offline_since,
            recent_latency_ms: s.recent_latencies_ms.clone(),
            other_syncer_pid: s.other_syncer_pid,
        }
    }
}

/// Everything the heartbeat pane and strip draw from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartbeatState {
    pub sync: SyncView,
    pub local: LocalStatusView,
    /// When `local` was read: the oldest pending age grows from there.
    pub local_at: Option<DateTime<Utc>>,
    /// Queue depth at each status read, for the sparkline while there is no latency.
    pub depth_history: VecDeque<u64>,
}

impl HeartbeatState {
    pub fn set_local(&mut self, local: LocalStatusView, now: DateTime<Utc>) {
        if self.depth_history.len() >= HISTORY {
            self.depth_history.pop_front();
        }
        self.depth_history
            .push_back(u64::try_from(local.pending).unwrap_or(0));
        self.local = local;
        self.local_at = Some(now);
    }

    /// Age of the oldest unsent operation at `now`.
    pub fn oldest_pending_age_s(&self, now: DateTime<Utc>) -> Option<i64> {
        let base = self.local.oldest_pending_age_s?;
        let since = self
            .local_at
            .map(|t| (now - t).num_seconds().max(0))
            .unwrap_or(0);
        Some(base + since)
    }

    /// The most recent successful sync, from the engine or else the store.
    pub fn last_sync_at(&self) -> Option<DateTime<Utc>> {
        self.sync.last_sync_at.or(self.local.last_sync_at)
    }

    pub fn last_error(&self) -> Option<&str> {
        self.sync
            .last_error
            .as_deref()
            .or(self.local.last_error.as_deref())
    }

    /// Whether something shown changes with the clock alone (so a 1 Hz tick is needed).
    pub fn ages(&self) -> bool {
        self.local.oldest_pending_age_s.is_some()
            || self.last_sync_at().is_some()
            || self.sync.offline_since.is_some()
    }

    /// Samples for the sparkline: latency when there is any, else queue depth.
    pub fn spark(&self) -> (&'static str, Vec<u64>) {
        if self.sync.recent_latency_ms.is_empty() {
            ("queue", self.depth_history.iter().copied().collect())
        } else {
            ("latency", self.sync.recent_latency_ms.clone())
        }
    }
}

/// `75` -> `1m 15s`; short forms that fit a status line.
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `-420` -> `-0.4s`; the sign says which clock is ahead (server minus till).
pub fn human_skew(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    let a = ms.unsigned_abs();
    format!("{sign}{}.{}s", a / 1000, (a % 1000) / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_clock() {
        assert_eq!(human_age(5), "5s");
        assert_eq!(human_age(75), "1m 15s");
        assert_eq!(human_age(3 * 3600 + 120), "3h 02m");
        assert_eq!(human_age(-3), "0s");
        assert_eq!(human_skew(-420), "-0.4s");
        assert_eq!(human_skew(1500), "+1.5s");
    }

    #[test]
    fn oldest_pending_age_grows_with_the_clock() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mut hb = HeartbeatState::default();
        hb.set_local(
            LocalStatusView {
                pending: 2,
                oldest_pending_age_s: Some(10),
                ..Default::default()
            },
            t0,
        );
        assert_eq!(
            hb.oldest_pending_age_s(t0 + chrono::Duration::seconds(5)),
            Some(15)
        );
        assert!(hb.ages());
    }
}
