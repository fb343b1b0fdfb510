//! Helpers of the device-auth tests: a till directory driven through the real `kassa` binary
//! (enrolled with `kassa enroll`, the password on standard input), and fake servers for the
//! bad-input cases.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pgrest_lite::testing::TestStack;
use serde_json::Value;

/// A till for the binary: its own home (config, data, logs) and database.
pub struct AuthTill {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl AuthTill {
    /// `heartbeat_interval_s` in the till's config file.
    pub fn new(heartbeat_s: u64) -> AuthTill {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("kassa.toml");
        std::fs::write(
            &config,
            format!(
                "[remote]\nrequest_timeout_ms = 3000\nconnect_timeout_ms = 1000\n\
                 [sync]\nheartbeat_interval_s = {heartbeat_s}\n"
            ),
        )
        .expect("config");
        AuthTill { dir, config }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("till.db")
    }

    /// The log file of this till's commands.
    pub fn log(&self) -> PathBuf {
        self.dir
            .path()
            .join("state")
            .join("kassa")
            .join("kassa.log")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
        c.arg("--db")
            .arg(self.db())
            .arg("--config")
            .arg(&self.config);
        crate::support::isolate(&mut c, self.dir.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run kassa")
    }

    /// Runs with `stdin` as standard input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kassa");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("kassa output")
    }

    /// `kassa enroll` against `url` with the password on standard input.
    pub fn enroll(&self, url: &str, anon_key: &str, email: &str, password: &str) -> Output {
        self.run_with_input(
            &[
                "enroll",
                "--url",
                url,
                "--anon-key",
                anon_key,
                "--email",
                email,
            ],
            &format!("{password}\n"),
        )
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kassa {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }

    /// The tokens this till holds now (read from its database, as a thief would).
    pub fn stored_tokens(&self) -> Vec<String> {
        let store =
            kassa::store::StoreHandle::open(&self.db(), kassa::store::StoreOptions::default())
                .expect("open store");
        let s = store
            .call_wait(|db| db.device_session())
            .expect("store")
            .expect("session");
        s.map(|s| vec![s.access_token, s.refresh_token])
            .unwrap_or_default()
    }
}

/// Every refresh token the server ever issued.
pub async fn issued_refresh_tokens(stack: &TestStack) -> Vec<String> {
    let db = stack.client().await.expect("db");
    db.query("select token from auth.refresh_tokens", &[])
        .await
        .expect("tokens")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

/// A one-route HTTP server on 127.0.0.1 that answers every request with `status` and `body`.
pub fn fake_server(status: u16, content_type: &'static str, body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// A URL on which nothing listens.
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Whether any of `secrets` occurs in `text`.
pub fn leaks<'a>(text: &str, secrets: &'a [String]) -> Vec<&'a str> {
    secrets
        .iter()
        .filter(|s| s.len() >= 8 && text.contains(s.as_str()))
        .map(|s| &s[..8])
        .collect()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
