//! `kassa sync`: run the sync engine headless until interrupted, or `--once`: push everything,
//! pull, report, and exit 0 only when nothing is left to push.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{print_json, CliError, CliResult, Context};
use crate::sync::{sync_once, Connectivity, SyncEngine, SyncEvent, SyncStatus};
use crate::timefmt::Zone;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Push everything, pull once, then exit (0 only when nothing is left pending).
    #[arg(long)]
    pub once: bool,
    /// Print the report as JSON (with --once).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

pub fn run(ctx: &Context, args: SyncArgs) -> CliResult {
    if args.json && !args.once {
        return Err(CliError::BadInput("--json needs --once".into()));
    }
    let store = ctx.open_store()?;
    let rt = runtime()?;
    if args.once {
        once(ctx, store, &rt, args.json)
    } else {
        rt.block_on(headless(ctx, store))
    }
}

fn once(
    ctx: &Context,
    store: crate::store::StoreHandle,
    rt: &tokio::runtime::Runtime,
    json: bool,
) -> CliResult {
    let progress = !json && std::io::stderr().is_terminal();
    let mut pushed = 0usize;
    let report = rt.block_on(sync_once(store, &ctx.config, |e| {
        if let (
            true,
            SyncEvent::BatchPushed {
                sent, remaining, ..
            },
        ) = (progress, e)
        {
            pushed += sent;
            eprint!("\rpushed {pushed}, {remaining} left      ");
        }
    }));
    if progress && pushed > 0 {
        eprintln!();
    }
    if json {
        print_json(&report)?;
    } else {
        let status = match (report.connectivity.is_up(), report.latency_ms) {
            (true, Some(ms)) => format!("{} {ms} ms", report.connectivity.as_str()),
            _ => report.connectivity.as_str().to_string(),
        };
        outln!("connectivity  {status}");
        if let Some(skew) = report.skew_ms {
            outln!("clock skew    {skew} ms (server minus till)");
        }
        outln!(
            "pushed        {} ({} rejected now)",
            report.pushed,
            report.rejected_now
        );
        outln!(
            "pulled        {} products, {} stock levels, {} conflicts",
            report.pulled.products,
            report.pulled.stock,
            report.pulled.conflicts
        );
        if report.pulled.skipped > 0 {
            outln!(
                "skipped       {} products the till cannot use (see kassa doctor)",
                report.pulled.skipped
            );
        }
        outln!("pending       {}", report.pending);
        if report.rejected > 0 {
            outln!(
                "rejected      {}  (see kassa queue --state rejected)",
                report.rejected
            );
        }
        for (seq, note) in &report.notes {
            let text = match note.as_str() {
                "already_resolved" => "already resolved (the first resolution won)",
                other => other,
            };
            outln!("note          op {seq}: {text}");
        }
    }
    if let Some(e) = &report.error {
        return Err(CliError::Failed(e.clone()));
    }
    if report.pending > 0 {
        return Err(CliError::Failed(format!(
            "{} ops still pending",
            report.pending
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// The link in words, as `SyncStatus::summary` says it but with "offline since" in the till's
/// time zone: this line is for a person.
fn link(s: &SyncStatus) -> String {
    match (s.connectivity, s.offline_since) {
        (Connectivity::Offline, Some(t)) => {
            format!("offline since {}", Zone::Local.short(t, chrono::Utc::now()))
        }
        _ => s.summary(),
    }
}

async fn headless(ctx: &Context, store: crate::store::StoreHandle) -> CliResult {
    let enrolled = store.call(|db| db.device_session()).await??.is_some();
    if !enrolled && !ctx.config.remote.is_configured() {
        return Err(CliError::BadInput(
            "no remote configured (enrol the till with kassa enroll, or set remote.url, remote.anon_key and remote.device_token)".into(),
        ));
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CliError::Failed(format!("cannot watch SIGTERM: {e}")))?;
    let engine = SyncEngine::start(store, &ctx.config);
    let mut status = engine.status();
    let mut events = engine.events();
    let mut last = String::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            r = status.changed() => {
                if r.is_err() { break; }
                let s = status.borrow_and_update().clone();
                let line = format!("{} · pending {} · rejected {}", link(&s), s.queue_depth, s.rejected);
                if line != last {
                    if !say(&line) {
                        break;
                    }
                    last = line;
                }
            }
            e = events.recv() => {
                let line = match e {
                    Ok(SyncEvent::OpRejected { seq, code, message }) => {
                        format!("op {seq} rejected: {code}: {message}")
                    }
                    Ok(SyncEvent::OpNote { seq, note }) => format!("op {seq}: {note}"),
                    Ok(SyncEvent::ProductsSkipped { total, .. }) => {
                        let hint = if total > 0 { " (run kassa doctor)" } else { "" };
                        format!("catalog: {total} products skipped{hint}")
                    }
                    Ok(SyncEvent::LeaseHeldElsewhere { pid }) => {
                        format!("standing by: process {pid} is syncing this database")
                    }
                    _ => continue,
                };
                if !say(&line) {
                    break;
                }
            }
        }
    }
    engine.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// One line of the headless engine's log on stdout; false once the reader has gone, which
/// stops the engine cleanly (nobody is watching any more) rather than mid-write.
fn say(line: &str) -> bool {
    match super::out_line(format_args!("{line}")) {
        Ok(()) => true,
        Err(CliError::Closed) => false,
        Err(e) => {
            tracing::warn!("headless sync output: {e:?}");
            true
        }
    }
}
