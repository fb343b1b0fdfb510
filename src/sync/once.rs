//! `kassa sync --once`: one heartbeat, push everything, pull everything, and report. Retries
//! transient failures a few times with backoff, then gives up with the reason.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use tokio::sync::broadcast;

use super::engine::shared;
use super::heartbeat::{beat, Beat};
use super::lease;
use super::pull::{pull_all, PullCounts};
use super::push::{Drained, Pusher};
use super::shared::EngineOptions;
use super::status::{Connectivity, SyncEvent};
use crate::config::Config;
use crate::store::StoreHandle;

/// What one `sync --once` did.
#[derive(Debug, Clone, Serialize)]
pub struct OnceReport {
    pub connectivity: Connectivity,
    pub latency_ms: Option<u64>,
    pub skew_ms: Option<i64>,
    pub pushed: usize,
    pub rejected_now: usize,
    /// Remarks on accepted ops, e.g. `(12, "already_resolved")`.
    pub notes: Vec<(i64, String)>,
    pub pulled: PullCounts,
    pub pending: i64,
    pub rejected: i64,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// How often a transient failure is retried before `sync --once` gives up.
pub const ONCE_RETRIES: u32 = 4;

/// Runs one sync. `on_event` sees the engine's events as they happen (for progress).
pub async fn sync_once(
    store: StoreHandle,
    config: &Config,
    mut on_event: impl FnMut(&SyncEvent) + Send,
) -> OnceReport {
    let mut opts = EngineOptions::from_config(config);
    opts.push_backoff_cap = Duration::from_secs(5);
    let (sh, stop) = shared(store, config, opts);
    // Renews the lease while a long drain runs; releases it when told to stop.
    let mut keeper = None;
    let mut events = sh.events.subscribe();
    let mut drain_events = |events: &mut broadcast::Receiver<SyncEvent>,
                            notes: &mut Vec<(i64, String)>,
                            rejected: &mut usize,
                            pushed: &mut usize| {
        while let Ok(e) = events.try_recv() {
            match &e {
                SyncEvent::OpNote { seq, note } => notes.push((*seq, note.clone())),
                SyncEvent::BatchPushed {
                    sent, rejected: r, ..
                } => {
                    *pushed += sent;
                    *rejected += r;
                }
                _ => {}
            }
            on_event(&e);
        }
    };
    let mut report = OnceReport {
        connectivity: sh.connectivity(),
        latency_ms: None,
        skew_ms: None,
        pushed: 0,
        rejected_now: 0,
        notes: Vec::new(),
        pulled: PullCounts::default(),
        pending: 0,
        rejected: 0,
        error: None,
    };
    let error = 'run: {
        if sh.client.is_none() {
            let why = sh.status.borrow().last_error.clone();
            break 'run Some(why.unwrap_or_else(|| {
                "no remote configured (enrol the till with kassa enroll, or set remote.url, remote.anon_key and remote.device_token)"
                    .into()
            }));
        }
        match lease::renew(&sh).await {
            Ok(true) => keeper = Some(tokio::spawn(lease::run(sh.clone()))),
            Ok(false) => {
                let pid = sh.status.borrow().other_syncer_pid.unwrap_or(0);
                break 'run Some(format!(
                    "another kassa process (pid {pid}) is syncing this database"
                ));
            }
            Err(e) => break 'run Some(e.to_string()),
        }
        let mut failures = 0;
        let mut tries = 0;
        loop {
            match beat(&sh, &mut failures).await {
                Beat::Up { .. } => break,
                Beat::UpgradeRequired { .. } => {
                    break 'run sh.status.borrow().last_error.clone();
                }
                Beat::Failed(e) if e.is_transient() && tries < ONCE_RETRIES => {
                    tries += 1;
                    let wait = Duration::from_millis(300) * tries;
                    tokio::time::sleep(wait).await;
                }
                Beat::Failed(e) => break 'run Some(format!("server unreachable: {e}")),
            }
        }
        let mut pusher = Pusher::new(&sh, StdRng::from_os_rng());
        let mut retries = 0;
        loop {
            let r = pusher.drain(&sh).await;
            drain_events(
                &mut events,
                &mut report.notes,
                &mut report.rejected_now,
                &mut report.pushed,
            );
            match r {
                Ok(Drained::Empty) => break,
                Ok(Drained::Stopped(why)) => break 'run Some(why),
                Ok(Drained::Retry { after, error }) => {
                    retries += 1;
                    if retries > ONCE_RETRIES {
                        break 'run Some(format!("push failed: {error}"));
                    }
                    tokio::time::sleep(after).await;
                }
                Err(e) => break 'run Some(e.to_string()),
            }
        }
        let mut retries = 0;
        loop {
            match pull_all(&sh).await {
                Ok(c) => {
                    report.pulled = c;
                    break;
                }
                Err(e) if retries < ONCE_RETRIES => {
                    retries += 1;
                    tracing::info!("pull failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(500) * retries).await;
                }
                Err(e) => break 'run Some(format!("pull failed: {e}")),
            }
        }
        None
    };
    drain_events(
        &mut events,
        &mut report.notes,
        &mut report.rejected_now,
        &mut report.pushed,
    );
    let _ = stop.send(true);
    if let Some(k) = keeper {
        let _ = k.await;
    }
    if let Some(e) = &error {
        sh.status.send_modify(|s| s.last_error = Some(e.clone()));
    }
    let _ = sh.refresh_queue().await;
    sh.persist_status().await;
    let s = sh.status.borrow().clone();
    report.connectivity = s.connectivity;
    report.latency_ms = s.latency_ms;
    report.skew_ms = s.skew_ms;
    report.pending = s.queue_depth;
    report.rejected = s.rejected;
    report.error = error;
    report
}
