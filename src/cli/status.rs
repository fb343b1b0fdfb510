//! `kassa status`: queue depth, oldest pending age, conflicts, connectivity, last sync.

use std::process::ExitCode;

use serde::Serialize;

use super::{print_json, CliResult, Context};
use crate::store::LocalStatus;

#[derive(Serialize)]
struct StatusOut {
    /// `unconfigured` without a remote; otherwise what the sync engine last saw.
    connectivity: String,
    #[serde(flatten)]
    local: LocalStatus,
    database: String,
}

pub fn run(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let configured = ctx.config.remote.is_configured();
    let (local, seen) =
        store.call_blocking(move |db| -> Result<_, crate::store::StoreError> {
            Ok((db.status(chrono::Utc::now())?, db.meta_get("connectivity")?))
        })??;
    let connectivity = if configured {
        seen.unwrap_or_else(|| "unknown".into())
    } else {
        "unconfigured".into()
    };
    let out = StatusOut {
        connectivity,
        local,
        database: ctx.db_path.display().to_string(),
    };
    if json {
        print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let l = &out.local;
    println!("connectivity      {}", out.connectivity);
    println!("pending           {}", l.pending);
    println!(
        "oldest pending    {}",
        l.oldest_pending_age_s
            .map(|s| format!("{s} s ago"))
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "rejected          {}{}",
        l.rejected,
        if l.rejected > 0 {
            "  (see kassa queue --state rejected)"
        } else {
            ""
        }
    );
    println!("sent              {}", l.sent);
    println!("open conflicts    {}", l.conflicts_open);
    println!(
        "last sync         {}",
        l.last_sync_at.as_deref().unwrap_or("never")
    );
    if let Some(e) = &l.last_error {
        println!("last error        {e}");
    }
    println!("device            {}", l.device_id);
    println!("database          {}", out.database);
    Ok(ExitCode::SUCCESS)
}
