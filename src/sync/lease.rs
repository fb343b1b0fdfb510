//! The lease keeper: takes and renews the single-syncer lease in the till database, so that
//! of two kassa processes on one database only one pushes and pulls; the other takes over
//! when the holder dies (its process is gone) or stops renewing (the lease expires).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::Utc;

use super::shared::Shared;
use super::status::SyncEvent;
use crate::store::{LeaseState, StoreError};

/// Tries once to take or renew the lease; updates the status and wakes the workers on a gain.
pub(crate) async fn renew(sh: &Shared) -> Result<bool, StoreError> {
    let holder = sh.holder.clone();
    let ttl_ms = i64::try_from(sh.opts.lease_ttl.as_millis()).unwrap_or(i64::MAX);
    let state = sh
        .store
        .call(move |db| db.acquire_sync_lease(&holder, std::process::id(), ttl_ms, Utc::now()))
        .await??;
    let held = state == LeaseState::Acquired;
    let was = sh.lease_held.swap(held, Ordering::SeqCst);
    let other = match &state {
        LeaseState::HeldBy { pid, .. } => Some(*pid),
        LeaseState::Acquired => None,
    };
    let prev_other = sh.status.borrow().other_syncer_pid;
    sh.status.send_modify(|s| {
        s.active_syncer = held;
        s.other_syncer_pid = other;
    });
    if held && !was {
        tracing::info!("sync lease acquired");
        sh.emit(SyncEvent::LeaseAcquired);
        sh.wake_push(true);
        sh.pull_wake.notify_one();
    }
    if let (false, Some(pid)) = (held, other) {
        if was || prev_other != Some(pid) {
            tracing::info!(pid, "another process holds the sync lease");
            sh.emit(SyncEvent::LeaseHeldElsewhere { pid });
        }
    }
    Ok(held)
}

pub(crate) async fn run(sh: Arc<Shared>) {
    loop {
        if let Err(e) = renew(&sh).await {
            tracing::warn!("sync lease: {e}");
            sh.lease_held.store(false, Ordering::SeqCst);
        }
        if sh.sleep_or_stop(sh.opts.lease_ttl / 3).await {
            break;
        }
    }
    let holder = sh.holder.clone();
    let _ = sh
        .store
        .call(move |db| db.release_sync_lease(&holder))
        .await;
    sh.lease_held.store(false, Ordering::SeqCst);
}
