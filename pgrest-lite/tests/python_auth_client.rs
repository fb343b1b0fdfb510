//! Conformance of the auth stand-in with the official Supabase Auth client for Python
//! (PyPI `supabase-auth`): sign-in, refresh with rotation, errors by `error_code`, the admin
//! API, ban, delete and sign-out, with a 60 s access-token lifetime.
//!
//! Installs the client into a venv under the cargo target directory when the system Python
//! lacks it; if Python or the package cannot be had (offline machine), prints a SKIP line and
//! passes: tests/auth.rs covers the same ground from Rust.

mod common;

use std::process::{Command, Stdio};

use pgrest_lite::testing::{StackOptions, TestStack, TEST_DEVICE_PASSWORD};

#[tokio::test]
async fn official_supabase_auth_client_signs_in_and_refreshes() {
    let python = match tokio::task::spawn_blocking(|| {
        common::python::python_with(
            "supabase_auth",
            "supabase-auth>=2.20",
            "pgrest-lite-auth-py",
        )
    })
    .await
    .expect("join")
    {
        Ok(p) => p,
        Err(why) => {
            println!("SKIP supabase-auth client conformance: {why}");
            return;
        }
    };
    let stack = TestStack::start_with(StackOptions {
        jwt_exp: 60,
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let emails = stack.create_device_users().await.expect("device users");
    let d = &stack.devices[0];
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/auth_client.py");
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .env("AUTH_URL", format!("{}/auth/v1", stack.url))
        .env("ANON_KEY", &stack.anon_key)
        .env("SERVICE_KEY", &stack.service_key)
        .env("DEVICE_EMAIL", &emails[0])
        .env("DEVICE_PASSWORD", TEST_DEVICE_PASSWORD)
        .env("DEVICE_ID", d.id.to_string())
        .env("STORE_ID", d.store_id.to_string())
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    stack.cleanup().await;
    assert!(
        out.status.success(),
        "supabase-auth conformance failed:\n{stdout}"
    );
    assert!(stdout.contains("checks ok"), "{stdout}");
}
