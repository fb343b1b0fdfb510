//! The store worker: one thread owns the [`Db`]; everyone else sends it jobs.
//!
//! A job is a closure run on the worker thread with `&mut Db`; its result comes back on a
//! oneshot channel, so async callers never block and blocking callers (the CLI) simply wait.
//! After each job the worker broadcasts the [`StoreEvent`]s the job recorded.

use std::path::Path;
use std::sync::mpsc;
use std::thread;

use tokio::sync::{broadcast, oneshot};

use super::{Db, StoreError, StoreOptions};

/// What changed in the store, for the console to refresh and the push worker to wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEvent {
    /// A sale was committed (its seq).
    SaleCommitted(i64),
    /// A refund was committed (its seq).
    RefundCommitted(i64),
    /// A post-void was committed (its seq).
    VoidCommitted(i64),
    /// Outbox rows were added or changed state.
    OutboxChanged,
    CatalogChanged,
    ConflictsChanged,
    StockChanged,
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A cloneable handle to the store worker thread.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    events: broadcast::Sender<StoreEvent>,
}

impl StoreHandle {
    /// Opens the database on a new worker thread. Errors opening or migrating come back here.
    pub fn open(path: &Path, opts: StoreOptions) -> Result<StoreHandle, StoreError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (events, _) = broadcast::channel(256);
        let (ready_tx, ready_rx) = mpsc::channel();
        let path = path.to_path_buf();
        let ev = events.clone();
        thread::Builder::new()
            .name("kassa-store".into())
            .spawn(move || {
                let mut db = match Db::open(&path, &opts) {
                    Ok(db) => {
                        let _ = ready_tx.send(Ok(()));
                        db
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                while let Ok(job) = rx.recv() {
                    job(&mut db);
                    for e in db.take_events() {
                        // No subscribers is fine.
                        let _ = ev.send(e);
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                path: "kassa-store thread".into(),
                source,
            })?;
        ready_rx.recv().map_err(|_| StoreError::Closed)??;
        Ok(StoreHandle { jobs, events })
    }

    fn send<R, F>(&self, f: F) -> Result<oneshot::Receiver<R>, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = tx.send(f(db));
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// Runs `f` on the store thread and awaits its result without blocking the runtime.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> R + Send + 'static,
    {
        self.send(f)?.await.map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on the store thread and waits (for code outside an async runtime).
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> R + Send + 'static,
    {
        self.send(f)?
            .blocking_recv()
            .map_err(|_| StoreError::Closed)
    }

    /// Runs `f` on the store thread and waits, also from inside an async runtime (it blocks
    /// the calling thread, so only for a short read done once, e.g. when the sync engine
    /// starts and loads the till's credentials).
    pub fn call_wait<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> R + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(self.send(move |db| {
            let _ = tx.send(f(db));
        })?);
        rx.recv().map_err(|_| StoreError::Closed)
    }

    /// Change notifications, sent after each job that changed data.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }
}
