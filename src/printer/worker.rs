//! The print worker: one thread that takes receipts from a channel and sends them to the
//! printer, one after another, and reports each outcome on another channel.
//!
//! Submitting never blocks and never fails the caller: a sale is already saved when its
//! receipt is submitted. The caller records failed outcomes (the store's print failures), so
//! that they show in `kassa status` and can be printed again.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use super::transport::{send, Target};

/// One receipt to print.
#[derive(Debug, Clone)]
pub struct PrintJob {
    /// The document's seq.
    pub seq: i64,
    pub bytes: Vec<u8>,
}

/// What became of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintOutcome {
    pub seq: i64,
    /// `Err` holds one line saying why.
    pub result: Result<(), String>,
}

/// The worker's two ends, held by the console or a command.
pub struct PrintWorker {
    jobs: Sender<PrintJob>,
    outcomes: Receiver<PrintOutcome>,
}

impl PrintWorker {
    /// Starts the worker thread for `target`.
    pub fn start(target: Target, timeout: Duration) -> std::io::Result<PrintWorker> {
        let (jobs, job_rx) = mpsc::channel::<PrintJob>();
        let (out_tx, outcomes) = mpsc::channel();
        std::thread::Builder::new()
            .name("kassa-printer".into())
            .spawn(move || {
                for job in job_rx {
                    let result = send(&target, &job.bytes, timeout).map_err(|e| e.0);
                    if let Err(e) = &result {
                        tracing::warn!(seq = job.seq, "print failed: {e}");
                    }
                    if out_tx
                        .send(PrintOutcome {
                            seq: job.seq,
                            result,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            })?;
        Ok(PrintWorker { jobs, outcomes })
    }

    /// The two ends apart: the jobs' sender (cloneable, for whoever submits) and the
    /// outcomes' receiver (for whoever records them).
    pub fn into_parts(self) -> (Sender<PrintJob>, Receiver<PrintOutcome>) {
        (self.jobs, self.outcomes)
    }

    /// Queues a receipt; returns at once. `false` when the worker has stopped.
    pub fn submit(&self, job: PrintJob) -> bool {
        self.jobs.send(job).is_ok()
    }

    /// An outcome that has arrived, if any (never waits).
    pub fn try_outcome(&self) -> Option<PrintOutcome> {
        self.outcomes.try_recv().ok()
    }

    /// Waits up to `wait` for the next outcome; `None` when none came in time.
    pub fn wait_outcome(&self, wait: Duration) -> Option<PrintOutcome> {
        self.outcomes.recv_timeout(wait).ok()
    }
}
