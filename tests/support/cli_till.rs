//! The real binary as a till of a `TestStack`: its own directory, the remote in its
//! environment when online (or none: offline).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use pgrest_lite::testing::TestStack;
use serde_json::Value;

/// A till directory for the binary, with the remote in its environment (or offline).
pub struct CliTill {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub anon_key: String,
    pub token: String,
}

impl CliTill {
    pub fn new(stack: &TestStack, device: usize) -> CliTill {
        CliTill {
            dir: tempfile::tempdir().unwrap(),
            url: stack.url.clone(),
            anon_key: stack.anon_key.clone(),
            token: stack.devices[device].token.clone(),
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("till.db")
    }

    pub fn cmd(&self, online: bool) -> Command {
        self.cmd_on(&self.db(), online)
    }

    pub fn cmd_on(&self, db: &Path, online: bool) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
        c.arg("--db").arg(db);
        crate::support::isolate(&mut c, self.dir.path());
        if online {
            c.env("KASSA_REMOTE_URL", &self.url)
                .env("KASSA_ANON_KEY", &self.anon_key)
                .env("KASSA_DEVICE_TOKEN", &self.token);
        }
        c
    }

    pub fn run(&self, online: bool, args: &[&str]) -> Output {
        self.cmd(online).args(args).output().expect("run kassa")
    }

    pub fn ok(&self, online: bool, args: &[&str]) -> String {
        let out = self.run(online, args);
        assert!(
            out.status.success(),
            "kassa {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, online: bool, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(online, args)).expect("JSON")
    }
}
