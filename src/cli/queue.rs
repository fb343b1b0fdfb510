//! `kassa queue`: the outbox, newest first; `kassa queue retry OP` re-queues a quarantined op.

use std::process::ExitCode;

use super::{print_json, CliError, CliResult, Context};
use crate::store::QueueFilter;
use crate::timefmt::Zone;

#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub action: Option<QueueAction>,
    /// Which ops: pending, sent, rejected or all.
    #[arg(long, default_value = "all")]
    pub state: String,
    /// Most rows to print.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum QueueAction {
    /// Put a quarantined (rejected) op back in the queue, by op_id or seq.
    Retry {
        #[arg(value_name = "OP_ID")]
        op: String,
    },
}

pub fn run(ctx: &Context, args: QueueArgs) -> CliResult {
    if let Some(QueueAction::Retry { op }) = args.action {
        return retry(ctx, &op);
    }
    let filter = QueueFilter::parse(&args.state).ok_or_else(|| {
        CliError::BadInput(format!(
            "--state {:?}: use pending, sent, rejected or all",
            args.state
        ))
    })?;
    if args.limit == 0 || args.limit > 1_000_000 {
        return Err(CliError::BadInput(
            "--limit must be between 1 and 1000000".into(),
        ));
    }
    let store = ctx.open_store()?;
    let limit = args.limit;
    let rows = store.call_blocking(move |db| db.queue_window(filter, 0, limit))??;
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let currency = ctx.config.currency();
    // Times in the till's zone (`HH:MM:SS` today, else `YYYY-MM-DD HH:MM`); --json keeps UTC.
    let (zone, now) = (Zone::Local, chrono::Utc::now());
    outln!(
        "{:>7}  {:<16}  {:<16}  {:<8}  {:>10}  {:>3}  last error",
        "seq",
        "time",
        "kind",
        "state",
        "total",
        "try"
    );
    for r in rows {
        let mark = if r.state == crate::domain::OpState::Rejected {
            "!"
        } else {
            " "
        };
        outln!(
            "{:>6}{mark}  {:<16}  {:<16}  {:<8}  {:>10}  {:>3}  {}",
            r.seq,
            zone.short_text(&r.created_at, now),
            r.kind.as_str(),
            r.state.as_str(),
            r.total_cents
                .map(|c| currency.format(c))
                .unwrap_or_default(),
            r.attempts,
            match (&r.reject_code, &r.last_error) {
                (Some(c), Some(e)) => format!("{c}: {e}"),
                (None, Some(e)) => e.clone(),
                (Some(c), None) => c.clone(),
                (None, None) => String::new(),
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn retry(ctx: &Context, op: &str) -> CliResult {
    let store = ctx.open_store()?;
    let op = op.to_string();
    let done = store.call_blocking(move |db| -> Result<_, CliError> {
        let seq = db
            .find_op(&op)?
            .ok_or_else(|| CliError::BadInput(format!("no op {op:?} in the queue")))?;
        if !db.retry_op(seq)? {
            return Err(CliError::BadInput(format!(
                "op {op} is not quarantined; only rejected ops can be retried"
            )));
        }
        Ok(seq)
    })??;
    outln!("op #{done} re-queued");
    Ok(ExitCode::SUCCESS)
}
