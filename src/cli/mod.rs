//! The command line: global flags, the subcommands, exit codes.
//!
//! Every console action also exists here as a headless subcommand; data-printing commands take
//! `--json`. Exit status: 0 success, 1 failure (the reason on stderr), 2 bad input (a one-line
//! reason on stderr, nothing written). Output goes through `outln!`, so that a reader closing
//! stdout early ends the command quietly (0) instead of a panic.

/// `println!` for what a command prints on stdout: a reader that went away (`kassa queue |
/// head`) ends the command quietly (see [`CliError::Closed`]) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out_line(format_args!($($arg)*))?
    };
}

mod backup;
mod catalog;
mod conflicts;
mod console;
mod context;
mod device_user;
mod doctor;
mod enroll;
mod journal;
mod lookup;
mod queue;
pub mod receipt;
mod refund;
mod report;
mod sales;
mod sell;
mod shift;
mod staff;
mod status;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use context::Context;

#[derive(Debug, Parser)]
#[command(
    name = "kassa",
    version,
    about = "Offline-first point-of-sale till for the terminal"
)]
pub struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/kassa/config.toml). Env: KASSA_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Till database (default: $XDG_DATA_HOME/kassa/till.db). Env: KASSA_DB.
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print the default configuration, with comments, and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Who the command is recorded against (--staff, --approver, --pin-stdin).
    #[command(flatten)]
    pub actor: staff::ActorFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The full-screen console (also what `kassa` alone opens).
    Console(console::ConsoleArgs),
    /// Ring up and commit one sale: ITEM is a SKU or barcode, optionally ITEM*QTY.
    Sell(sell::SellArgs),
    /// Refund against a receipt (RECEIPT [ITEM*QTY ...]) or without one (--no-receipt).
    Refund(refund::RefundArgs),
    /// Void a sale of this till made today (the whole sale is reversed).
    Void(refund::VoidArgs),
    /// Find a receipt: this till's sales of a day; --lookup asks the server for another till's.
    Sales(sales::SalesArgs),
    /// Show a sale, refund or void as its receipt; --print it (again) or --out FILE (ESC/POS).
    Receipt(receipt::ReceiptArgs),
    /// List the outbox (queued operations), newest first.
    Queue(queue::QueueArgs),
    /// Queue, sync and conflict state in one view.
    Status(JsonFlag),
    /// List the catalog, or import one from CSV.
    Catalog(catalog::CatalogArgs),
    /// Reports: `report z` is the end-of-day total by tender and tax rate.
    Report(report::ReportArgs),
    /// Check the hash chain of all sales, refunds and voids and the database's integrity.
    Verify(JsonFlag),
    /// Check config, database, file permissions and the remote, each with a verdict.
    Doctor(JsonFlag),
    /// Write a default config file (if none) and create the database.
    Init,
    /// Push the queue and pull from the server: `--once` and exit, or run until interrupted.
    Sync(sync::SyncArgs),
    /// List the conflicts the server raised (open ones; `--all` for resolved too).
    Conflicts(conflicts::ConflictsArgs),
    /// Queue the resolution of a conflict: ID ACTION [--qty N] [--sku S] [--note TEXT].
    Resolve(conflicts::ResolveArgs),
    /// Queue a stock count: SKU and the quantity on the shelf now.
    Count(conflicts::CountArgs),
    /// Sign the till in to the store's Supabase Auth (`--status`: who the till is).
    Enroll(enroll::EnrollArgs),
    /// The store owner's side: create or revoke a till's Supabase Auth user (service key).
    DeviceUser(device_user::DeviceUserArgs),
    /// Write a consistent copy of the database to FILE, while the till keeps selling.
    Backup(backup::BackupArgs),
    /// Put a backup in place of the database (refuses to lose ops unless --force).
    Restore(backup::RestoreArgs),
    /// Staff of a store without a remote: add (PIN from standard input), list, disable.
    Staff(staff::StaffArgs),
    /// Shifts: open with a float, close with a blind count, status.
    Shift(shift::ShiftArgs),
    /// Cash into or out of the drawer outside a sale (with a reason), or a no-sale opening.
    Cash(shift::CashArgs),
}

#[derive(Debug, clap::Args)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How a command failed: bad input (exit 2) or a failure (exit 1); or its reader closed
/// standard output, which ends it quietly with exit 0 (as `grep` or `rg` do under `head`).
#[derive(Debug)]
pub enum CliError {
    BadInput(String),
    Failed(String),
    Closed,
}

/// Writes one line of command output to stdout.
pub(crate) fn out_line(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::Closed,
            _ => CliError::Failed(format!("cannot write to standard output: {e}")),
        })
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError::*;
        match e {
            Invalid(m) => CliError::BadInput(m),
            Domain(d) => CliError::BadInput(d.to_string()),
            other => CliError::Failed(other.to_string()),
        }
    }
}

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError::BadInput(e.to_string())
    }
}

impl From<crate::domain::DomainError> for CliError {
    fn from(e: crate::domain::DomainError) -> Self {
        CliError::BadInput(e.to_string())
    }
}

pub type CliResult = Result<ExitCode, CliError>;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    out_line(format_args!("{text}"))
}

/// Parses the command line and runs it; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's message spans several lines; the first says what is wrong.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            let first = first.trim_start_matches("error: ");
            eprintln!("kassa: {first} (see kassa --help)");
            return ExitCode::from(2);
        }
    };
    if cli.print_default_config {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return match out.write_all(crate::config::DEFAULT_CONFIG.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kassa: cannot write to standard output: {e}");
                ExitCode::from(1)
            }
        };
    }
    match run(cli) {
        Ok(code) => code,
        Err(CliError::Closed) => ExitCode::SUCCESS,
        Err(CliError::BadInput(m)) => {
            eprintln!("kassa: {m}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(m)) => {
            eprintln!("kassa: {m}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> CliResult {
    let ctx = Context::load(cli.config.as_deref(), cli.db.as_deref())?;
    let _log = ctx.init_logging();
    let needs_actor = matches!(
        cli.command,
        Some(
            Command::Sell(_)
                | Command::Refund(_)
                | Command::Void(_)
                | Command::Shift(_)
                | Command::Cash(_)
        )
    );
    if !needs_actor && (cli.actor.pin_stdin || cli.actor.approver.is_some()) {
        return Err(CliError::BadInput(
            "--approver and --pin-stdin go with sell, refund, void, shift and cash".into(),
        ));
    }
    let actor = if needs_actor {
        Some(staff::Actor::from_flags(&cli.actor)?)
    } else {
        None
    };
    let actor = actor.as_ref();
    match cli.command {
        None => console::run(&ctx, console::ConsoleArgs::default()),
        Some(Command::Console(a)) => console::run(&ctx, a),
        Some(Command::Sell(a)) => sell::run(&ctx, need(actor)?, a),
        Some(Command::Refund(a)) => refund::refund(&ctx, need(actor)?, a),
        Some(Command::Void(a)) => refund::void(&ctx, need(actor)?, a),
        Some(Command::Sales(a)) => sales::run(&ctx, a),
        Some(Command::Receipt(a)) => receipt::run(&ctx, a),
        Some(Command::Queue(a)) => queue::run(&ctx, a),
        Some(Command::Status(a)) => status::run(&ctx, a.json),
        Some(Command::Catalog(a)) => catalog::run(&ctx, a),
        Some(Command::Report(a)) => report::run(&ctx, a),
        Some(Command::Verify(a)) => report::verify(&ctx, a.json),
        Some(Command::Doctor(a)) => doctor::run(&ctx, a.json),
        Some(Command::Init) => doctor::init(&ctx),
        Some(Command::Sync(a)) => sync::run(&ctx, a),
        Some(Command::Conflicts(a)) => conflicts::list(&ctx, a),
        Some(Command::Resolve(a)) => conflicts::resolve(&ctx, a),
        Some(Command::Count(a)) => conflicts::count(&ctx, a),
        Some(Command::Enroll(a)) => enroll::run(&ctx, a),
        Some(Command::DeviceUser(a)) => device_user::run(&ctx, a),
        Some(Command::Backup(a)) => backup::backup(&ctx, a),
        Some(Command::Restore(a)) => backup::run_restore(&ctx, a),
        Some(Command::Staff(a)) => staff::run(&ctx, a),
        Some(Command::Shift(a)) => shift::shift(&ctx, need(actor)?, a),
        Some(Command::Cash(a)) => shift::cash(&ctx, need(actor)?, a),
    }
}

fn need(actor: Option<&staff::Actor>) -> Result<&staff::Actor, CliError> {
    actor.ok_or_else(|| CliError::Failed("internal: no actor resolved".into()))
}
