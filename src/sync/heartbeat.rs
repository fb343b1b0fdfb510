//! The heartbeat: `kassa_heartbeat` at an interval (faster while the server is away), which
//! decides connectivity, measures latency and clock skew, and wakes the push and pull workers
//! when the server comes back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use rand::Rng;

use super::shared::Shared;
use super::status::Connectivity;
use crate::remote::{ErrorClass, HeartbeatStatus, RemoteError};
use crate::store::{schema::schema_version, timestamp};

/// What one heartbeat found out.
#[derive(Debug)]
pub(crate) enum Beat {
    Up { latency_ms: u64, skew_ms: i64 },
    UpgradeRequired { min: i64 },
    Failed(RemoteError),
}

/// Sends one heartbeat and records what it learnt in the status. Returns the new state.
pub(crate) async fn beat(sh: &Shared, consecutive_failures: &mut u32) -> Beat {
    if sh.client.is_none() {
        return Beat::Failed(RemoteError::Config("no remote configured".into()));
    }
    let _ = sh.refresh_queue().await;
    let skipped_products = sh
        .store
        .call(|db| db.skipped_count())
        .await
        .ok()
        .and_then(Result::ok);
    let snap = sh.status.borrow().clone();
    let hs = HeartbeatStatus {
        app_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: schema_version(),
        queue_depth: snap.queue_depth,
        oldest_pending_age_s: snap.oldest_pending_age_s,
        rejected: snap.rejected,
        device_time: timestamp(Utc::now()),
        skipped_products,
    };
    let prev = snap.connectivity;
    let hs = &hs;
    let beat = match sh.call(|c| async move { c.heartbeat(hs).await }).await {
        Ok(t) => {
            let latency_ms = u64::try_from(t.latency.as_millis()).unwrap_or(u64::MAX);
            let midpoint = t.sent_at
                + chrono::Duration::milliseconds(i64::try_from(latency_ms / 2).unwrap_or(0));
            let skew_ms = (t.value.server_time - midpoint).num_milliseconds();
            if t.value.requires_upgrade(schema_version()) {
                Beat::UpgradeRequired {
                    min: t.value.min_client_schema,
                }
            } else {
                Beat::Up {
                    latency_ms,
                    skew_ms,
                }
            }
        }
        Err(e) => Beat::Failed(e),
    };
    let now = Utc::now();
    let (next, error) = match &beat {
        Beat::Up {
            latency_ms,
            skew_ms,
        } => {
            *consecutive_failures = 0;
            sh.skew_ms.store(*skew_ms, Ordering::SeqCst);
            sh.status.send_modify(|s| {
                s.add_latency(*latency_ms);
                s.skew_ms = Some(*skew_ms);
                s.last_heartbeat_at = Some(now);
            });
            let slow = Duration::from_millis(*latency_ms) > sh.opts.degraded_latency;
            (
                if slow {
                    Connectivity::Degraded
                } else {
                    Connectivity::Online
                },
                None,
            )
        }
        Beat::UpgradeRequired { min } => (
            Connectivity::UpgradeRequired,
            Some(
                RemoteError::UpgradeRequired {
                    min: *min,
                    ours: schema_version(),
                }
                .to_string(),
            ),
        ),
        Beat::Failed(e) => {
            *consecutive_failures += 1;
            let next = match e.class() {
                ErrorClass::Auth => Connectivity::Unauthorized,
                ErrorClass::UpgradeRequired => Connectivity::UpgradeRequired,
                ErrorClass::Permanent => Connectivity::Degraded,
                ErrorClass::Transient => match e {
                    RemoteError::Api { .. } | RemoteError::BadResponse { .. } => {
                        Connectivity::Degraded
                    }
                    _ if prev.is_up() && *consecutive_failures < 2 => Connectivity::Degraded,
                    _ => Connectivity::Offline,
                },
            };
            (next, Some(e.to_string()))
        }
    };
    if next.is_up() {
        sh.status.send_modify(|s| s.last_error = None);
    }
    sh.set_connectivity(next, error).await;
    if next.is_up() && !prev.is_up() {
        sh.wake_push(true);
        sh.pull_wake.notify_one();
    }
    beat
}

/// How long to wait before the next heartbeat in state `c`.
pub(crate) fn next_interval(sh: &Shared, c: Connectivity, rng: &mut StdRng) -> Duration {
    let (base, lo, hi) = match c {
        Connectivity::Online => (sh.opts.heartbeat_interval, 0.8, 1.2),
        Connectivity::Unauthorized | Connectivity::UpgradeRequired => {
            (sh.opts.heartbeat_interval * 6, 0.9, 1.1)
        }
        _ => (sh.opts.offline_probe, 0.5, 1.0),
    };
    base.mul_f64(rng.random_range(lo..=hi))
}

pub(crate) async fn run(sh: Arc<Shared>, mut rng: StdRng) {
    // The pane shows the last sync of earlier runs until this one syncs.
    if let Ok(Ok(Some(at))) = sh.store.call(|db| db.meta_get("last_sync_at")).await {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&at) {
            sh.status
                .send_modify(|s| s.last_sync_at = Some(t.with_timezone(&Utc)));
        }
    }
    let mut failures = 0u32;
    let mut periodic_persist = tokio::time::Instant::now();
    loop {
        let _ = beat(&sh, &mut failures).await;
        if periodic_persist.elapsed() > Duration::from_secs(30) {
            sh.persist_status().await;
            periodic_persist = tokio::time::Instant::now();
        }
        let wait = next_interval(&sh, sh.connectivity(), &mut rng);
        if sh.sleep_or_stop(wait).await {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, RemoteConfig};
    use crate::store::{StoreHandle, StoreOptions};
    use crate::sync::engine::shared;
    use crate::sync::EngineOptions;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot server whose clock runs `ahead_ms` ahead of ours, answering after `delay`.
    async fn server(ahead_ms: i64, min_schema: i64, delay: Duration) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                tokio::time::sleep(delay).await;
                let t = Utc::now() + chrono::Duration::milliseconds(ahead_ms);
                let body = format!(
                    r#"{{"server_time":"{}","min_client_schema":{min_schema}}}"#,
                    timestamp(t)
                );
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    async fn one_beat(url: String) -> (Beat, crate::sync::SyncStatus) {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreHandle::open(&dir.path().join("t.db"), StoreOptions::default()).unwrap();
        let config = Config {
            remote: RemoteConfig {
                url: Some(url),
                anon_key: Some("k".into()),
                device_token: Some("t".into()),
                ..RemoteConfig::default()
            },
            ..Config::default()
        };
        let (sh, _stop) = shared(store, &config, EngineOptions::from_config(&config));
        let mut failures = 0;
        let b = beat(&sh, &mut failures).await;
        let status = sh.status.borrow().clone();
        (b, status)
    }

    #[tokio::test]
    async fn the_clock_skew_is_server_time_minus_the_midpoint_of_the_round_trip() {
        let url = server(5_000, 1, Duration::from_millis(200)).await;
        let (b, s) = one_beat(url).await;
        let Beat::Up {
            latency_ms,
            skew_ms,
        } = b
        else {
            panic!("{b:?}");
        };
        assert!(latency_ms >= 200, "{latency_ms}");
        // The server stamped its time at the end of the round trip: half of it shows as skew.
        let expected = 5_000 + i64::try_from(latency_ms / 2).unwrap();
        assert!(
            (skew_ms - expected).abs() < 150,
            "skew {skew_ms}, expected ~{expected}"
        );
        assert_eq!(s.connectivity, Connectivity::Online);
        assert_eq!(s.skew_ms, Some(skew_ms));
        assert_eq!(s.recent_latencies_ms, vec![latency_ms]);
    }

    #[tokio::test]
    async fn a_slow_answer_is_degraded_and_a_newer_minimum_schema_stops_the_till() {
        let url = server(0, 1, Duration::from_millis(1700)).await;
        let (_, s) = one_beat(url).await;
        assert_eq!(s.connectivity, Connectivity::Degraded);
        let url = server(0, 999, Duration::ZERO).await;
        let (b, s) = one_beat(url).await;
        assert!(matches!(b, Beat::UpgradeRequired { min: 999 }), "{b:?}");
        assert_eq!(s.connectivity, Connectivity::UpgradeRequired);
        assert!(s.last_error.unwrap_or_default().contains("upgrade"));
    }
}
