//! `kassa enroll`: make this till a Supabase Auth user's device. Signs in with the till's
//! e-mail and password (`POST /auth/v1/token?grant_type=password`) and stores the session in
//! the till's database (mode 600) in one transaction; the sync engine refreshes it from then
//! on. `--status [--json]` shows who the till is; `--forget` removes the session.
//!
//! The password comes from a prompt (no echo) or, when standard input is not a terminal, from
//! its first line; never from an argument. Exit 2 for bad input (a malformed URL or e-mail, a
//! wrong password, a URL that is not a Supabase project, a refused key), 1 when the project
//! cannot be reached or answers with something unusable. Nothing is stored unless sign-in
//! succeeded with a well-formed session, so a failed enrolment leaves the old one as it was.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use chrono::Utc;

use super::{print_json, CliError, CliResult, Context};
use crate::remote::{AuthClient, AuthError};
use crate::store::{timestamp, StoredSession};

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The store's Supabase project URL, e.g. https://YOUR-PROJECT.supabase.co
    #[arg(long, value_name = "URL", required_unless_present_any = ["status", "forget"])]
    pub url: Option<String>,
    /// The project's anon (public) API key.
    #[arg(long, value_name = "KEY", required_unless_present_any = ["status", "forget"])]
    pub anon_key: Option<String>,
    /// The till's e-mail address (its Supabase Auth user, made by the store owner).
    #[arg(long, value_name = "EMAIL", required_unless_present_any = ["status", "forget"])]
    pub email: Option<String>,
    /// Show who the till is, its store and when the access token expires.
    #[arg(long, conflicts_with_all = ["url", "anon_key", "email", "forget"])]
    pub status: bool,
    /// Remove the stored session (the till falls back to remote.device_token, or offline).
    #[arg(long, conflicts_with_all = ["url", "anon_key", "email"])]
    pub forget: bool,
    /// Print JSON (with --status, or the result of enrolling).
    #[arg(long)]
    pub json: bool,
}

/// Reads a password: a no-echo prompt on a terminal, else the first line of standard input.
pub(crate) fn read_secret(prompt: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    let secret = if stdin.is_terminal() {
        prompt_no_echo(prompt)?
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    if secret.is_empty() {
        return Err(CliError::BadInput("the password is empty".into()));
    }
    Ok(secret)
}

fn prompt_no_echo(prompt: &str) -> Result<String, CliError> {
    use crossterm::event::{read, Event, KeyCode, KeyEventKind, KeyModifiers};
    let mut err = std::io::stderr();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    crossterm::terminal::enable_raw_mode()
        .map_err(|e| CliError::Failed(format!("cannot read the password: {e}")))?;
    let mut s = String::new();
    let outcome = loop {
        match read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                    break Err(CliError::BadInput("cancelled".into()))
                }
                KeyCode::Backspace => {
                    s.pop();
                }
                KeyCode::Char(c) => s.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(CliError::Failed(format!("cannot read the password: {e}"))),
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = writeln!(err);
    outcome.map(|()| s)
}

/// How an Auth failure ends the command (see the module docs for the exit codes).
pub(crate) fn auth_failure(e: AuthError) -> CliError {
    match e {
        AuthError::Config(_)
        | AuthError::Refused { .. }
        | AuthError::BadKey { .. }
        | AuthError::NotSupabase { .. } => CliError::BadInput(e.to_string()),
        AuthError::Unreachable { .. } | AuthError::Unavailable { .. } | AuthError::Malformed(_) => {
            CliError::Failed(e.to_string())
        }
    }
}

/// A one-thread runtime for a command's few requests.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

pub fn run(ctx: &Context, args: EnrollArgs) -> CliResult {
    if args.status {
        return status(ctx, args.json);
    }
    if args.forget {
        let store = ctx.open_store()?;
        let had = store.call_blocking(|db| db.forget_session())??;
        outln!(
            "{}",
            if had {
                "session removed: the till is no longer enrolled"
            } else {
                "the till was not enrolled"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(url), Some(anon_key), Some(email)) = (args.url, args.anon_key, args.email) else {
        return Err(CliError::BadInput(
            "--url, --anon-key and --email are needed".into(),
        ));
    };
    let email = email.trim().to_string();
    if !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(CliError::BadInput(format!(
            "--email {email:?} is not an e-mail address"
        )));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(CliError::BadInput(format!(
            "--url must start with https:// (got {url:?})"
        )));
    }
    if anon_key.trim().is_empty() {
        return Err(CliError::BadInput("--anon-key is empty".into()));
    }
    let auth = AuthClient::new(&url, anon_key.trim(), &ctx.config.remote).map_err(auth_failure)?;
    let password = read_secret(&format!("Password for {email}: "))?;
    let session = runtime()?
        .block_on(auth.sign_in(&email, &password))
        .map_err(auth_failure)?;
    let Some(store_id) = session.store_id else {
        return Err(CliError::BadInput(format!(
            "{email} has no app_metadata.store_id: it is not a till's user (the store owner makes one with kassa device-user create)"
        )));
    };
    let stored = StoredSession {
        url: url.trim_end_matches('/').to_string(),
        anon_key: anon_key.trim().to_string(),
        email: if session.email.is_empty() {
            email.clone()
        } else {
            session.email.clone()
        },
        user_id: session.user_id.to_string(),
        store_id: Some(store_id.to_string()),
        access_token: session.access_token.clone(),
        refresh_token: session.refresh_token.clone(),
        expires_in: session.expires_in,
        expires_at: session.expires_at,
        enrolled_at: timestamp(Utc::now()),
        refreshed_at: None,
        revoked_reason: None,
    };
    let store = ctx.open_store()?;
    let to_save = stored.clone();
    store.call_blocking(move |db| db.save_session(&to_save))??;
    tracing::info!(user = %stored.user_id, store = %store_id, "till enrolled");
    let summary = stored.summary(Utc::now());
    if args.json {
        print_json(&serde_json::json!({"enrolled": true, "session": summary}))?;
    } else {
        outln!(
            "enrolled as {} (device {}) of store {}",
            summary.email,
            summary.device_id,
            store_id
        );
        outln!(
            "access token valid until {} (refreshed by the sync engine)",
            summary.access_expires_at
        );
        if ctx.config.remote.device_token.is_some() {
            outln!("note: remote.device_token is ignored while the till is enrolled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn status(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let session = store.call_blocking(|db| db.device_session())??;
    let summary = session.map(|s| s.summary(Utc::now()));
    if json {
        print_json(&serde_json::json!({
            "enrolled": summary.is_some(),
            "session": summary,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    match summary {
        None => outln!("not enrolled (kassa enroll --url URL --anon-key KEY --email EMAIL)"),
        Some(s) => {
            outln!("enrolled as   {} (device {})", s.email, s.device_id);
            outln!(
                "store         {}",
                s.store_id.as_deref().unwrap_or("(none in app_metadata)")
            );
            outln!("project       {}", s.url);
            outln!(
                "access token  expires {}{}",
                s.access_expires_at,
                if s.access_expired {
                    " (expired: refreshed at the next sync)"
                } else {
                    ""
                }
            );
            if let Some(r) = &s.refreshed_at {
                outln!("refreshed     {r}");
            }
            if let Some(r) = &s.revoked_reason {
                outln!("REVOKED       {r}; enrol again");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
