//! [`SyncEngine`]: starts the lease, heartbeat, push and pull workers on the current tokio
//! runtime, hands out the status and event channels, and shuts everything down cleanly.

use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

use super::shared::{EngineOptions, Shared};
use super::status::{Connectivity, SyncEvent, SyncStatus};
use super::{heartbeat, lease, pull, push};
use crate::config::Config;
use crate::remote::RemoteClient;
use crate::store::StoreHandle;

/// The running sync engine of one till database.
pub struct SyncEngine {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Builds the shared context; without a usable remote the status says why.
pub(crate) fn shared(
    store: StoreHandle,
    config: &Config,
    opts: EngineOptions,
) -> (Arc<Shared>, watch::Sender<bool>) {
    let (client, connectivity, error) = if !config.remote.is_configured() {
        (None, Connectivity::Unconfigured, None)
    } else {
        match RemoteClient::new(&config.remote) {
            Ok(c) => (Some(c), Connectivity::Connecting, None),
            Err(e) => (None, Connectivity::Unconfigured, Some(e.to_string())),
        }
    };
    let mut status = SyncStatus::new(connectivity);
    status.last_error = error;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (events, _) = broadcast::channel(1024);
    let sh = Arc::new(Shared {
        store,
        client,
        opts,
        status: watch::channel(status).0,
        events,
        push_wake: Notify::new(),
        push_reset: AtomicBool::new(false),
        pull_wake: Notify::new(),
        skew_ms: AtomicI64::new(0),
        holder: uuid::Uuid::new_v4().to_string(),
        lease_held: AtomicBool::new(false),
        stopping: stop_rx,
    });
    (sh, stop_tx)
}

fn rng(opts: &EngineOptions, stream: u64) -> StdRng {
    match opts.seed {
        Some(seed) => StdRng::seed_from_u64(seed.wrapping_add(stream)),
        None => StdRng::from_os_rng(),
    }
}

impl SyncEngine {
    /// Starts the engine with timings from the config. Must be called inside a tokio runtime.
    pub fn start(store: StoreHandle, config: &Config) -> SyncEngine {
        SyncEngine::start_with(store, config, EngineOptions::from_config(config))
    }

    pub fn start_with(store: StoreHandle, config: &Config, opts: EngineOptions) -> SyncEngine {
        let (sh, stop) = shared(store, config, opts);
        let mut tasks = Vec::new();
        if sh.client.is_some() {
            tasks.push(tokio::spawn(lease::run(sh.clone())));
            tasks.push(tokio::spawn(heartbeat::run(sh.clone(), rng(&sh.opts, 1))));
            tasks.push(tokio::spawn(push::run(sh.clone(), rng(&sh.opts, 2))));
            tasks.push(tokio::spawn(pull::run(sh.clone(), rng(&sh.opts, 3))));
        } else {
            let s = sh.clone();
            tasks.push(tokio::spawn(async move {
                s.persist_status().await;
            }));
        }
        SyncEngine {
            shared: sh,
            stop,
            tasks,
        }
    }

    /// The status snapshot, updated as things change.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.shared.status.subscribe()
    }

    /// What the engine does, as it does it.
    pub fn events(&self) -> broadcast::Receiver<SyncEvent> {
        self.shared.events.subscribe()
    }

    /// Push now (e.g. the console's "sync now" key), skipping any backoff.
    pub fn sync_now(&self) {
        self.shared.wake_push(true);
        self.shared.pull_wake.notify_one();
    }

    /// Stops every worker (an in-flight request is abandoned: its ops stay pending and the
    /// server recognises them when they are sent again), releases the lease, persists status.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!("sync worker ended abnormally: {e}");
            }
        }
        self.shared.persist_status().await;
    }
}
