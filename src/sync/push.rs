//! The push worker: drains the outbox in seq order, in batches bounded by count and bytes,
//! through `kassa_push`, and records every op's result in one local transaction per batch.
//!
//! Transient failures back off (full jitter, `Retry-After`); auth and upgrade failures stop
//! pushing until the heartbeat says otherwise; a permanent failure that the payload caused is
//! narrowed down by halving the batch until the one op is found and quarantined. The worker
//! wakes on a new sale, on the server coming back, and on a watchdog timer, so a non-empty
//! queue always has an attempt scheduled.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::shared::Shared;
use super::status::{Connectivity, SyncEvent};
use crate::remote::{ErrorClass, OpOutcome, PushOp, PushResult, RemoteError};
use crate::store::{OpResult, PendingOp, StoreError, StoreEvent};

/// How a drain ended.
#[derive(Debug, PartialEq)]
pub(crate) enum Drained {
    /// Nothing pending any more.
    Empty,
    /// A transient failure: try again after this long.
    Retry { after: Duration, error: String },
    /// Pushing is not possible now (no lease, unauthorized, upgrade required, stopping).
    Stopped(String),
}

pub(crate) struct Pusher {
    pub backoff: Backoff,
    pub rng: StdRng,
    limit: usize,
}

impl Pusher {
    pub fn new(sh: &Shared, rng: StdRng) -> Pusher {
        Pusher {
            backoff: Backoff::new(sh.opts.push_backoff_base, sh.opts.push_backoff_cap),
            rng,
            limit: sh.opts.batch_max_ops,
        }
    }

    /// Pushes batches until the queue is empty or something stops it.
    pub async fn drain(&mut self, sh: &Shared) -> Result<Drained, StoreError> {
        if sh.client.is_none() {
            return Ok(Drained::Stopped("no remote configured".into()));
        }
        loop {
            if !sh.may_sync() {
                return Ok(Drained::Stopped(format!(
                    "not syncing ({})",
                    sh.connectivity().as_str()
                )));
            }
            let (limit, bytes) = (self.limit, sh.opts.batch_max_bytes);
            let batch = sh
                .store
                .call(move |db| db.pending_batch(limit, bytes))
                .await??;
            let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
                self.backoff.reset();
                return Ok(Drained::Empty);
            };
            let (first_seq, last_seq) = (first.seq, last.seq);
            let ops = match to_push_ops(&batch, sh.skew_ms.load(Ordering::SeqCst)) {
                Ok(ops) => ops,
                Err((seq, msg)) => {
                    sh.store
                        .call(move |db| db.quarantine_op(seq, "corrupt_payload", &msg))
                        .await??;
                    continue;
                }
            };
            let ops_ref = &ops;
            match sh.call(|c| async move { c.push(ops_ref).await }).await {
                Ok(answer) => self.record_answer(sh, answer.value).await?,
                Err(e) => {
                    if let Some(done) = self
                        .on_failure(sh, e, ops.len(), first_seq, last_seq)
                        .await?
                    {
                        return Ok(done);
                    }
                }
            }
        }
    }

    /// Records an answered batch, then tells the console and wakes the pull worker.
    async fn record_answer(
        &mut self,
        sh: &Shared,
        answer: Vec<PushResult>,
    ) -> Result<(), StoreError> {
        let results: Vec<(i64, OpResult)> = answer
            .iter()
            .map(|r| {
                let res = match r.outcome() {
                    Some(OpOutcome::Rejected { code, message }) => {
                        OpResult::Rejected { code, message }
                    }
                    _ => OpResult::Sent {
                        note: r.note.clone(),
                    },
                };
                (r.seq, res)
            })
            .collect();
        let tally = sh
            .store
            .call(move |db| db.record_push_results(&results, Utc::now()))
            .await??;
        self.backoff.reset();
        self.limit = (self.limit * 2).min(sh.opts.batch_max_ops);
        for r in &answer {
            if let Some(OpOutcome::Rejected { code, message }) = r.outcome() {
                tracing::warn!(seq = r.seq, code, "op rejected: {message}");
                sh.emit(SyncEvent::OpRejected {
                    seq: r.seq,
                    code,
                    message,
                });
            }
        }
        for (seq, note) in &tally.notes {
            sh.emit(SyncEvent::OpNote {
                seq: *seq,
                note: note.clone(),
            });
        }
        let remaining = sh.refresh_queue().await.unwrap_or(0);
        sh.status.send_modify(|s| {
            s.last_sync_at = Some(Utc::now());
            s.last_error = None;
        });
        sh.emit(SyncEvent::BatchPushed {
            sent: tally.sent,
            rejected: tally.rejected,
            remaining,
        });
        sh.pull_wake.notify_one();
        Ok(())
    }

    /// Decides what a failed batch means: `None` = go on draining (the batch was narrowed or
    /// its poison op quarantined), otherwise how the drain ends.
    async fn on_failure(
        &mut self,
        sh: &Shared,
        e: RemoteError,
        batch_len: usize,
        first_seq: i64,
        last_seq: i64,
    ) -> Result<Option<Drained>, StoreError> {
        let msg = e.to_string();
        match e.class() {
            ErrorClass::Permanent if e.blames_payload() && batch_len > 1 => {
                self.limit = (batch_len / 2).max(1);
                tracing::info!("narrowing batch to {} ops: {msg}", self.limit);
                Ok(None)
            }
            ErrorClass::Permanent if e.blames_payload() => {
                let code = match &e {
                    RemoteError::Api { code: Some(c), .. } => format!("server_error_{c}"),
                    _ => "server_error".into(),
                };
                sh.store
                    .call(move |db| db.quarantine_op(first_seq, &code, &msg))
                    .await??;
                self.limit = sh.opts.batch_max_ops;
                Ok(None)
            }
            ErrorClass::Auth => {
                let m = msg.clone();
                sh.store
                    .call(move |db| db.record_push_failure(first_seq, last_seq, &m))
                    .await??;
                sh.set_connectivity(Connectivity::Unauthorized, Some(msg.clone()))
                    .await;
                Ok(Some(Drained::Stopped(msg)))
            }
            ErrorClass::UpgradeRequired => {
                sh.set_connectivity(Connectivity::UpgradeRequired, Some(msg.clone()))
                    .await;
                Ok(Some(Drained::Stopped(msg)))
            }
            ErrorClass::Transient | ErrorClass::Permanent => {
                let m = msg.clone();
                sh.store
                    .call(move |db| db.record_push_failure(first_seq, last_seq, &m))
                    .await??;
                let after = self.backoff.next_delay(&mut self.rng, e.retry_after());
                let retry_in_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
                tracing::info!(retry_in_ms, "push failed: {msg}");
                sh.status.send_modify(|s| s.last_error = Some(msg.clone()));
                sh.emit(SyncEvent::PushFailed {
                    error: msg.clone(),
                    retry_in_ms,
                });
                Ok(Some(Drained::Retry { after, error: msg }))
            }
        }
    }
}

/// The wire form of a batch; `Err((seq, why))` for an op whose stored payload is not JSON.
fn to_push_ops(batch: &[PendingOp], skew_ms: i64) -> Result<Vec<PushOp>, (i64, String)> {
    batch
        .iter()
        .map(|op| {
            let payload = RawValue::from_string(op.payload.clone())
                .map_err(|e| (op.seq, format!("stored payload is not JSON: {e}")))?;
            Ok(PushOp {
                op_id: op.op_id.clone(),
                seq: op.seq,
                kind: op.kind.clone(),
                device_time: op.created_at.clone(),
                skew_ms,
                payload,
            })
        })
        .collect()
}

/// The push worker's loop: wait for a reason to push, drain, schedule the next attempt.
pub(crate) async fn run(sh: Arc<Shared>, rng: StdRng) {
    let mut pusher = Pusher::new(&sh, rng);
    let mut store_events = sh.store.subscribe();
    let mut stop = sh.stopping.clone();
    let mut not_before: Option<Instant> = None;
    loop {
        let wake_at = not_before.unwrap_or_else(|| Instant::now() + sh.opts.watchdog);
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = sh.push_wake.notified() => {}
            ev = store_events.recv() => match ev {
                Ok(StoreEvent::SaleCommitted(_)) | Ok(StoreEvent::OutboxChanged)
                | Err(RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(RecvError::Closed) => break,
            },
        }
        if sh.is_stopping() {
            break;
        }
        if sh.push_reset.swap(false, Ordering::SeqCst) {
            not_before = None;
            pusher.backoff.reset();
        }
        if not_before.is_some_and(|t| Instant::now() < t) {
            continue;
        }
        not_before = None;
        let outcome = tokio::select! {
            _ = stop.changed() => break,
            r = pusher.drain(&sh) => r,
        };
        match outcome {
            Ok(Drained::Retry { after, .. }) => not_before = Some(Instant::now() + after),
            Ok(Drained::Empty) | Ok(Drained::Stopped(_)) => {}
            Err(e) => {
                tracing::error!("push worker: store error: {e}");
                not_before = Some(Instant::now() + sh.opts.watchdog);
            }
        }
    }
}
