//! [`Shared`]: what the heartbeat, push, pull and lease workers (and `sync --once`) share —
//! the store handle, the remote client, the status snapshot, the event channel, wake-ups.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, watch, Notify};

use super::session::SessionKeeper;
use super::status::{Connectivity, SyncEvent, SyncStatus};
use crate::config::Config;
use crate::remote::RemoteClient;
use crate::store::{StoreError, StoreHandle};

/// Timings and limits of the engine. Defaults come from the config; tests shorten them.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub heartbeat_interval: Duration,
    /// Probe interval while offline or degraded (jittered down to half).
    pub offline_probe: Duration,
    /// Above this heartbeat round trip the connection counts as degraded.
    pub degraded_latency: Duration,
    pub batch_max_ops: usize,
    pub batch_max_bytes: usize,
    /// A non-empty queue is looked at least this often, whatever else happens.
    pub watchdog: Duration,
    pub pull_interval: Duration,
    /// Shortest gap between two pulls triggered by pushes.
    pub pull_min_gap: Duration,
    pub pull_page_limit: i64,
    pub push_backoff_base: Duration,
    pub push_backoff_cap: Duration,
    pub lease_ttl: Duration,
    /// Seed of the jitter RNG; `None` = from the OS.
    pub seed: Option<u64>,
}

impl EngineOptions {
    pub fn from_config(cfg: &Config) -> EngineOptions {
        EngineOptions {
            heartbeat_interval: Duration::from_secs(cfg.sync.heartbeat_interval_s),
            offline_probe: Duration::from_secs(1),
            degraded_latency: Duration::from_millis(1500),
            batch_max_ops: cfg.sync.batch_max_ops,
            batch_max_bytes: cfg.sync.batch_max_bytes,
            watchdog: Duration::from_secs(3),
            pull_interval: Duration::from_secs(30),
            pull_min_gap: Duration::from_secs(1),
            pull_page_limit: 500,
            push_backoff_base: Duration::from_millis(250),
            push_backoff_cap: Duration::from_secs(30),
            lease_ttl: Duration::from_secs(6),
            seed: None,
        }
    }
}

pub(crate) struct Shared {
    pub store: StoreHandle,
    /// `None` when no usable remote is configured.
    pub client: Option<RemoteClient>,
    /// An enrolled till's session (its access token is the client's bearer); `None` with a
    /// static device token.
    pub session: Option<SessionKeeper>,
    pub opts: EngineOptions,
    pub status: watch::Sender<SyncStatus>,
    pub events: broadcast::Sender<SyncEvent>,
    pub push_wake: Notify,
    /// Set with a push wake-up when the server came back: skip the remaining backoff.
    pub push_reset: AtomicBool,
    pub pull_wake: Notify,
    pub skew_ms: AtomicI64,
    /// This engine's lease holder id.
    pub holder: String,
    pub lease_held: AtomicBool,
    pub stopping: watch::Receiver<bool>,
}

impl Shared {
    pub fn emit(&self, e: SyncEvent) {
        let _ = self.events.send(e);
    }

    pub fn connectivity(&self) -> Connectivity {
        self.status.borrow().connectivity
    }

    pub fn may_sync(&self) -> bool {
        self.client.is_some()
            && self.connectivity().may_sync()
            && self.lease_held.load(Ordering::SeqCst)
            && !self.is_stopping()
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Wakes the push worker; `reset` also cancels a pending backoff (server is back).
    pub fn wake_push(&self, reset: bool) {
        if reset {
            self.push_reset.store(true, Ordering::SeqCst);
        }
        self.push_wake.notify_one();
    }

    /// Changes connectivity, emitting an event and persisting the summary when it changed.
    pub async fn set_connectivity(&self, next: Connectivity, error: Option<String>) {
        let mut changed = false;
        self.status.send_modify(|s| {
            changed = s.connectivity != next;
            if changed && next == Connectivity::Offline {
                s.offline_since = Some(chrono::Utc::now());
            }
            if next != Connectivity::Offline {
                s.offline_since = None;
            }
            s.connectivity = next;
            if error.is_some() {
                s.last_error = error.clone();
            }
        });
        if changed {
            tracing::info!(connectivity = next.as_str(), "connectivity changed");
            self.emit(SyncEvent::ConnectivityChanged { connectivity: next });
            self.persist_status().await;
        }
    }

    /// Writes the connectivity summary and the whole snapshot to `meta` for other processes.
    pub async fn persist_status(&self) {
        let snap = self.status.borrow().clone();
        let label = snap.connectivity.as_str().to_string();
        let text = serde_json::to_string(&snap).unwrap_or_default();
        let r = self
            .store
            .call(move |db| db.record_connectivity(&label, &text))
            .await;
        if let Ok(Err(e)) | Err(e) = r {
            tracing::warn!("cannot persist sync status: {e}");
        }
    }

    /// Refreshes queue depth, oldest pending age and rejected count in the snapshot.
    pub async fn refresh_queue(&self) -> Result<i64, StoreError> {
        let (pending, rejected, age) = self
            .store
            .call(|db| db.queue_summary(chrono::Utc::now()))
            .await??;
        self.status.send_modify(|s| {
            s.queue_depth = pending;
            s.rejected = rejected;
            s.oldest_pending_age_s = age;
        });
        Ok(pending)
    }

    /// Sleeps, or returns early (true) when the engine is stopping.
    pub async fn sleep_or_stop(&self, d: Duration) -> bool {
        let mut stop = self.stopping.clone();
        if *stop.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = stop.changed() => true,
        }
    }
}
