//! Conformance with the official PostgREST client for Python (PyPI `postgrest`).
//!
//! Uses `python3` with `postgrest` if it imports; otherwise installs it into a venv under the
//! cargo target directory. If Python or the package cannot be had (offline machine), the test
//! prints a SKIP line and passes: the Rust conformance tests cover the same ground.

mod common;

use std::process::{Command, Stdio};

use pgrest_lite::testing::TestStack;

fn find_python() -> Result<std::path::PathBuf, String> {
    common::python::python_with("postgrest", "postgrest>=0.16", "pgrest-lite-py")
}

#[tokio::test]
async fn official_python_client_against_the_gateway() {
    let python = match tokio::task::spawn_blocking(find_python)
        .await
        .expect("join")
    {
        Ok(p) => p,
        Err(why) => {
            println!("SKIP python client conformance: {why}");
            return;
        }
    };
    let stack = TestStack::start().await.expect("stack");
    let d = &stack.devices[0];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/conformance.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .env("PGREST_URL", &stack.url)
        .env("PGREST_ANON_KEY", &stack.anon_key)
        .env("DEVICE_TOKEN", &d.token)
        .env("EXPIRED_TOKEN", stack.expired_token_for(d.id, d.store_id))
        .env(
            "OTHER_STORE_TOKEN",
            stack.token_for(stack.other_store_device.id, stack.store_id),
        )
        .env("STORE_ID", stack.store_id.to_string())
        .env("OTHER_STORE_ID", stack.other_store_id.to_string())
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    stack.cleanup().await;
    assert!(out.status.success(), "python conformance failed:\n{stdout}");
    assert!(stdout.contains("checks ok"), "{stdout}");
}
