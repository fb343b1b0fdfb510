//! `kassa status`: queue depth, oldest pending age, conflicts, skipped catalog products,
//! connectivity, last sync.

use std::process::ExitCode;

use serde::Serialize;

use super::{print_json, CliResult, Context};
use crate::store::LocalStatus;
use crate::timefmt::Zone;

#[derive(Serialize)]
struct StatusOut {
    /// `unconfigured` without a remote; otherwise what the sync engine last saw.
    connectivity: String,
    /// What the last heartbeat measured (null until one was answered).
    latency_ms: Option<u64>,
    skew_ms: Option<i64>,
    last_heartbeat_at: Option<String>,
    offline_since: Option<String>,
    #[serde(flatten)]
    local: LocalStatus,
    /// Receipts whose last print failed (retry: `kassa receipt SEQ --print`).
    print_failures: Vec<crate::store::PrintFailure>,
    database: String,
}

/// The fields of the sync engine's persisted snapshot (`meta.sync_status`) that status shows.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct SeenStatus {
    latency_ms: Option<u64>,
    skew_ms: Option<i64>,
    last_heartbeat_at: Option<String>,
    offline_since: Option<String>,
    last_error: Option<String>,
}

pub fn run(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let (mut local, seen, snapshot, enrolled, print_failures) =
        store.call_blocking(move |db| -> Result<_, crate::store::StoreError> {
            Ok((
                db.status(chrono::Utc::now())?,
                db.meta_get("connectivity")?,
                db.meta_get("sync_status")?,
                db.device_session()?.is_some(),
                db.print_failures()?,
            ))
        })??;
    // An enrolled till (kassa enroll) has its remote in the database.
    let configured = enrolled || ctx.config.remote.is_configured();
    // A snapshot this build cannot read is shown as unknown, not an error.
    let snap: SeenStatus = snapshot
        .filter(|_| configured)
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let connectivity = if configured {
        seen.unwrap_or_else(|| "unknown".into())
    } else {
        "unconfigured".into()
    };
    // Why the engine stopped (e.g. the session Supabase Auth refused) is its own last error.
    if matches!(connectivity.as_str(), "unauthorized" | "upgrade_required") {
        if let Some(e) = snap.last_error.clone() {
            local.last_error = Some(e);
        }
    }
    let out = StatusOut {
        connectivity,
        latency_ms: snap.latency_ms,
        skew_ms: snap.skew_ms,
        last_heartbeat_at: snap.last_heartbeat_at,
        offline_since: snap.offline_since,
        local,
        print_failures,
        database: ctx.db_path.display().to_string(),
    };
    if json {
        print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let l = &out.local;
    // Times for people in the till's zone; --json above keeps them as stored (UTC).
    let local = |t: &str| Zone::Local.short_text(t, chrono::Utc::now());
    let mut conn = out.connectivity.clone();
    if let Some(ms) = out.latency_ms.filter(|_| conn == "online") {
        conn.push_str(&format!(" {ms} ms"));
    }
    if let Some(since) = &out.offline_since {
        conn.push_str(&format!(" since {}", local(since)));
    }
    if let Some(hb) = &out.last_heartbeat_at {
        conn.push_str(&format!(" (last heartbeat {})", local(hb)));
    }
    outln!("connectivity      {conn}");
    if let Some(skew) = out.skew_ms {
        outln!("clock skew        {skew} ms (server minus till)");
    }
    outln!("pending           {}", l.pending);
    outln!(
        "oldest pending    {}",
        l.oldest_pending_age_s
            .map(|s| format!("{s} s ago"))
            .unwrap_or_else(|| "-".into())
    );
    outln!(
        "rejected          {}{}",
        l.rejected,
        if l.rejected > 0 {
            "  (see kassa queue --state rejected)"
        } else {
            ""
        }
    );
    outln!("sent              {}", l.sent);
    outln!("open conflicts    {}", l.conflicts_open);
    if l.skipped_products > 0 {
        outln!(
            "catalog           {} product{} skipped (run kassa doctor)",
            l.skipped_products,
            if l.skipped_products == 1 { "" } else { "s" }
        );
    }
    if let Some(last) = out.print_failures.last() {
        let n = out.print_failures.len();
        outln!(
            "receipts          {n} not printed (newest #{}: {}; kassa receipt {} --print)",
            last.seq,
            last.last_error,
            last.seq
        );
    }
    outln!(
        "last sync         {}",
        l.last_sync_at.as_deref().map_or("never".into(), local)
    );
    if let Some(e) = &l.last_error {
        outln!("last error        {e}");
    }
    outln!("device            {}", l.device_id);
    outln!("database          {}", out.database);
    Ok(ExitCode::SUCCESS)
}
