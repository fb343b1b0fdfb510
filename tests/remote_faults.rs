//! The remote client through the fault proxy, against a small stub server: every network
//! fault becomes a classified error, never a panic, and never shows a secret.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kassa::config::RemoteConfig;
use kassa::remote::{ErrorClass, HeartbeatStatus, RemoteClient, RemoteError};
use support::fault_proxy::{read_request, Fault, FaultProxy};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const TOKEN: &str = "device-token-SECRET";
const KEY: &str = "anon-key-SECRET";

/// A server that answers every request with a heartbeat reply and counts what it saw.
async fn stub_server() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                if let Ok(Some(req)) = read_request(&mut s).await {
                    assert!(String::from_utf8_lossy(&req).contains(TOKEN));
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = r#"{"server_time":"2026-11-28T17:30:00.456Z","min_client_schema":1,"device_id":"d","store_id":"s"}"#;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    (addr, seen)
}

fn client(url: &str) -> RemoteClient {
    RemoteClient::new(&RemoteConfig {
        url: Some(url.into()),
        anon_key: Some(KEY.into()),
        device_token: Some(TOKEN.into()),
        allow_insecure_http: false,
        connect_timeout_ms: 500,
        request_timeout_ms: 600,
    })
    .unwrap()
}

fn status() -> HeartbeatStatus {
    HeartbeatStatus {
        app_version: "0.1.0".into(),
        schema_version: 1,
        queue_depth: 0,
        oldest_pending_age_s: None,
        rejected: 0,
        device_time: "2026-11-28T17:30:00.000Z".into(),
        skipped_products: None,
    }
}

fn assert_no_secret(e: &RemoteError) {
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("SECRET"), "secret leaked: {text}");
    }
}

#[tokio::test]
async fn a_clean_exchange_through_the_proxy_returns_the_server_time() {
    let (up, seen) = stub_server().await;
    let proxy = FaultProxy::start(up).await;
    let c = client(&proxy.url());
    for _ in 0..3 {
        let r = c.heartbeat(&status()).await.unwrap();
        assert_eq!(r.value.min_client_schema, 1);
        assert!(!r.value.requires_upgrade(1));
    }
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn every_network_fault_is_a_transient_error_and_says_whether_the_server_saw_it() {
    let (up, seen) = stub_server().await;
    let proxy = FaultProxy::start(up).await;
    proxy.set_stall(Duration::from_millis(1500));
    let c = client(&proxy.url());
    let cases = [
        (Fault::DropBeforeForward, 0, "network"),
        (Fault::DropAfterForward, 1, "network"),
        (Fault::StallBeforeForward, 0, "timeout"),
        (Fault::StallAfterForward, 1, "timeout"),
        (Fault::Reset, 1, "network"),
        (
            Fault::Status {
                code: 500,
                retry_after: None,
            },
            0,
            "api",
        ),
        (
            Fault::Status {
                code: 503,
                retry_after: Some(2),
            },
            0,
            "api",
        ),
        (
            Fault::Status {
                code: 429,
                retry_after: None,
            },
            0,
            "api",
        ),
        (Fault::Garbage, 1, "bad"),
    ];
    for (fault, reached, kind) in cases {
        proxy.set_fault(fault);
        let before = seen.load(Ordering::SeqCst);
        let e = c.heartbeat(&status()).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Transient, "{fault:?}: {e}");
        assert_no_secret(&e);
        let got = match &e {
            RemoteError::Timeout(_) => "timeout",
            RemoteError::Network(_) | RemoteError::Connect(_) => "network",
            RemoteError::Api { .. } => "api",
            RemoteError::BadResponse { .. } => "bad",
            other => panic!("{fault:?}: unexpected {other:?}"),
        };
        assert_eq!(got, kind, "{fault:?}: {e}");
        assert_eq!(seen.load(Ordering::SeqCst) - before, reached, "{fault:?}");
        if let Fault::Status {
            retry_after: Some(s),
            ..
        } = fault
        {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(u64::from(s))));
        }
        if fault == Fault::Garbage {
            assert!(e.to_string().contains("non-JSON body"), "{e}");
        }
    }
    proxy.set_fault(Fault::Pass);
    assert!(c.heartbeat(&status()).await.is_ok());
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_transient_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = client(&format!("http://{addr}"))
        .heartbeat(&status())
        .await
        .unwrap_err();
    assert!(matches!(e, RemoteError::Connect(_)), "{e:?}");
    assert!(e.is_transient());
    assert_no_secret(&e);
}

#[tokio::test]
async fn a_seeded_campaign_draws_the_same_faults_every_time() {
    let (up, _) = stub_server().await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = FaultProxy::start(up).await;
        proxy.set_stall(Duration::from_millis(700));
        proxy.set_random(11, 0.5);
        let c = client(&proxy.url());
        for _ in 0..20 {
            let _ = c.heartbeat(&status()).await;
        }
        runs.push(proxy.stats());
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].get("Pass").copied().unwrap_or(0) > 0);
    assert!(runs[0].len() > 3, "{:?}", runs[0]);
}
