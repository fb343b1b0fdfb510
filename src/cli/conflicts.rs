//! `kassa conflicts`, `kassa resolve` and `kassa count`: the technician's stock commands.
//! Resolutions and counts are queued ops: they work offline and go with the next sync.

use std::process::ExitCode;

use super::{print_json, CliError, CliResult, Context};
use crate::domain::ConflictText;
use crate::timefmt::Zone;

#[derive(Debug, clap::Args)]
pub struct ConflictsArgs {
    /// Include resolved conflicts.
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The conflict's id (see kassa conflicts).
    pub id: String,
    /// accept, recount, adjust, map, non_stock, reject, accept_loss or follow_up (which ones
    /// depends on the kind).
    pub action: String,
    /// Counted quantity (recount).
    #[arg(long)]
    pub qty: Option<i64>,
    /// Existing SKU to map an unknown product to (map).
    #[arg(long)]
    pub sku: Option<String>,
    /// A remark for head office.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CountArgs {
    /// The product counted.
    pub sku: String,
    /// How many are on the shelf now.
    pub qty: i64,
}

pub fn list(ctx: &Context, args: ConflictsArgs) -> CliResult {
    let store = ctx.open_store()?;
    let all = args.all;
    let rows = store.call_blocking(move |db| db.conflicts(all))??;
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!(
            "no {}conflicts (kassa sync pulls them from the server)",
            if all { "" } else { "open " }
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Details in words, times in the till's zone; --json keeps the server's fields and UTC.
    let (currency, now) = (ctx.config.currency(), chrono::Utc::now());
    outln!(
        "{:<36}  {:<17}  {:<8}  {:<10}  details",
        "id",
        "kind",
        "status",
        "sku"
    );
    for row in rows {
        let c = &row.conflict;
        let status = match (&row.queued_action, c.status.as_str()) {
            (Some(a), "open") => format!("open, {a} queued"),
            _ => c.status.clone(),
        };
        outln!(
            "{:<36}  {:<17}  {:<8}  {:<10}  {}",
            c.id,
            c.kind,
            status,
            c.sku.as_deref().unwrap_or("-"),
            ConflictText::new(&c.facts(), currency, |t| Zone::Local.short_text(t, now)).one_line()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn resolve(ctx: &Context, a: ResolveArgs) -> CliResult {
    let store = ctx.open_store()?;
    let id = a.id.clone();
    let seq = store.call_blocking(move |db| {
        db.queue_resolution(
            &a.id,
            &a.action,
            a.qty,
            a.sku.as_deref(),
            a.note.as_deref(),
            chrono::Utc::now(),
        )
    })??;
    outln!("resolution of conflict {id} queued as op {seq}; it goes with the next sync");
    Ok(ExitCode::SUCCESS)
}

pub fn count(ctx: &Context, a: CountArgs) -> CliResult {
    if a.qty < 0 {
        return Err(CliError::BadInput(format!(
            "counted quantity must not be negative, got {}",
            a.qty
        )));
    }
    let store = ctx.open_store()?;
    let sku = a.sku.clone();
    let seq = store
        .call_blocking(move |db| db.queue_stock_count(&a.sku, a.qty, chrono::Utc::now()))??;
    outln!("count of {sku} queued as op {seq}; it goes with the next sync");
    Ok(ExitCode::SUCCESS)
}
