//! A fault-injecting HTTP/1.1 proxy for tests, between the till and the gateway, on 127.0.0.1.
//!
//! Each client connection carries one request (the proxy answers with `Connection: close`, so
//! the client never reuses it); the proxy picks a [`Fault`] for it — fixed, or drawn from a
//! seeded RNG for campaigns — and either passes the exchange through or breaks it: before the
//! server saw the request, after the server committed but before the client got the answer,
//! by stalling past the client's timeout, by a TCP reset, with a 5xx/429 answer (with or without
//! `Retry-After`) or with a body that is not JSON.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward the request and the answer unchanged.
    Pass,
    /// Close the connection without forwarding: the server never sees the request.
    DropBeforeForward,
    /// Forward, let the server commit, then close without answering.
    DropAfterForward,
    /// Hold the connection open without forwarding for the stall time, then close.
    StallBeforeForward,
    /// Forward, then hold the answer back for the stall time, then close.
    StallAfterForward,
    /// Forward, then reset the connection (RST) instead of answering.
    Reset,
    /// Answer with this status without forwarding, optionally with `Retry-After: secs`.
    Status { code: u16, retry_after: Option<u32> },
    /// Forward (the server commits), then answer 200 with an HTML body.
    Garbage,
}

impl Fault {
    pub fn name(&self) -> String {
        match self {
            Fault::Status { code, retry_after } => match retry_after {
                Some(s) => format!("status{code}+retry{s}"),
                None => format!("status{code}"),
            },
            other => format!("{other:?}"),
        }
    }

    /// Every fault a campaign draws from.
    pub fn all_faults() -> Vec<Fault> {
        vec![
            Fault::DropBeforeForward,
            Fault::DropAfterForward,
            Fault::StallBeforeForward,
            Fault::StallAfterForward,
            Fault::Reset,
            Fault::Status {
                code: 500,
                retry_after: None,
            },
            Fault::Status {
                code: 503,
                retry_after: Some(1),
            },
            Fault::Status {
                code: 503,
                retry_after: None,
            },
            Fault::Status {
                code: 429,
                retry_after: Some(1),
            },
            Fault::Status {
                code: 429,
                retry_after: None,
            },
            Fault::Garbage,
        ]
    }
}

enum Plan {
    Fixed(Fault),
    Random { rng: Box<StdRng>, fault_rate: f64 },
}

struct State {
    plan: Plan,
    stall: Duration,
    stats: BTreeMap<String, u64>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) in front of `upstream` (also loopback).
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        assert!(
            upstream.ip().is_loopback(),
            "the fault proxy only talks to loopback"
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(State {
            plan: Plan::Fixed(Fault::Pass),
            stall: Duration::from_secs(3),
            stats: BTreeMap::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (fault, stall) = {
                    let mut s = shared.lock().expect("proxy state");
                    let fault = match &mut s.plan {
                        Plan::Fixed(f) => *f,
                        Plan::Random { rng, fault_rate } => {
                            if rng.random_bool(*fault_rate) {
                                let all = Fault::all_faults();
                                all[rng.random_range(0..all.len())]
                            } else {
                                Fault::Pass
                            }
                        }
                    };
                    *s.stats.entry(fault.name()).or_insert(0) += 1;
                    (fault, s.stall)
                };
                tokio::spawn(handle(client, upstream, fault, stall));
            }
        });
        FaultProxy { addr, state, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give the till (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `fault` to every following request.
    pub fn set_fault(&self, fault: Fault) {
        self.state.lock().expect("proxy state").plan = Plan::Fixed(fault);
    }

    /// From now on a fraction `fault_rate` of requests get a fault drawn from a seeded RNG.
    pub fn set_random(&self, seed: u64, fault_rate: f64) {
        self.state.lock().expect("proxy state").plan = Plan::Random {
            rng: Box::new(StdRng::seed_from_u64(seed)),
            fault_rate,
        };
    }

    /// How long the stall faults hold a connection (longer than the client's timeout).
    pub fn set_stall(&self, stall: Duration) {
        self.state.lock().expect("proxy state").stall = stall;
    }

    /// Requests seen per fault name.
    pub fn stats(&self) -> BTreeMap<String, u64> {
        self.state.lock().expect("proxy state").stats.clone()
    }
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault, stall: Duration) {
    let Ok(Some(request)) = read_request(&mut client).await else {
        return;
    };
    match fault {
        Fault::DropBeforeForward => return,
        Fault::StallBeforeForward => {
            tokio::time::sleep(stall).await;
            return;
        }
        Fault::Status { code, retry_after } => {
            let extra = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let body = format!(
                r#"{{"code":null,"message":"injected {code}","details":null,"hint":null}}"#
            );
            let head = format!(
                "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = client.write_all(head.as_bytes()).await;
            let _ = client.write_all(body.as_bytes()).await;
            let _ = client.shutdown().await;
            return;
        }
        _ => {}
    }
    let response = match forward(&request, upstream).await {
        Ok(r) => r,
        Err(_) => {
            let _ = client
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            return;
        }
    };
    match fault {
        Fault::Pass => {
            let _ = client.write_all(&with_connection_close(&response)).await;
            let _ = client.shutdown().await;
        }
        Fault::DropAfterForward => {}
        Fault::StallAfterForward => tokio::time::sleep(stall).await,
        Fault::Reset => {
            let _ = client.set_zero_linger();
        }
        Fault::Garbage => {
            let body = "<html><body>502 upstream hiccup</body></html>";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = client.write_all(head.as_bytes()).await;
            let _ = client.write_all(body.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        _ => {}
    }
}

/// Reads one request: head up to the blank line, then `Content-Length` bytes of body.
/// Returns it with its `Connection` header replaced by `Connection: close`.
pub async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    let mut out = rewrite_head(&head).into_bytes();
    out.extend_from_slice(&body);
    Ok(Some(out))
}

async fn forward(request: &[u8], upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(request).await?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    Ok(response)
}

fn with_connection_close(response: &[u8]) -> Vec<u8> {
    let Some(i) = find(response, b"\r\n\r\n") else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..i + 4]).to_string();
    let mut out = rewrite_head(&head).into_bytes();
    out.extend_from_slice(&response[i + 4..]);
    out
}

/// Drops `Connection` and `Keep-Alive` headers and adds `Connection: close`.
fn rewrite_head(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
