//! `kassa backup FILE` and `kassa restore FILE`: say what they did, in words or `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use super::{print_json, CliError, CliResult, Context};
use crate::store::backup::{self as copies, DbSummary};
use crate::store::restore::restore;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file; see --force).
    pub file: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup to put in place of the till database.
    pub file: PathBuf,
    /// Replace the database even though it holds ops the backup lacks (they are lost from
    /// the database; a copy of it is kept beside it).
    #[arg(long)]
    pub force: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct BackupReport<'a> {
    backup: &'a std::path::Path,
    database: &'a std::path::Path,
    bytes: u64,
    elapsed_ms: u128,
    #[serde(flatten)]
    holds: DbSummary,
}

fn holds(s: &DbSummary) -> String {
    let last = s
        .last_seq
        .map(|q| format!(", last seq {q}"))
        .unwrap_or_default();
    format!(
        "{} sales, {} ops{last}, schema {}, till {}",
        s.sales, s.ops, s.schema, s.device_id
    )
}

pub fn backup(ctx: &Context, args: BackupArgs) -> CliResult {
    let db = &ctx.db_path;
    if !db.is_file() {
        return Err(CliError::BadInput(format!(
            "no database at {} to back up",
            db.display()
        )));
    }
    if args.file.exists() && !args.force {
        return Err(CliError::BadInput(format!(
            "{} exists; choose another name or --force to replace it",
            args.file.display()
        )));
    }
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(&args.file, db) {
        return Err(CliError::BadInput(
            "the backup cannot replace the database itself".into(),
        ));
    }
    let started = Instant::now();
    let src = copies::open_read_only(db)?;
    copies::summarize(&src, db)?;
    let bytes = copies::write_copy(&src, &args.file)?;
    let elapsed_ms = started.elapsed().as_millis();
    let copy = copies::open_read_only(&args.file)?;
    let report = BackupReport {
        backup: &args.file,
        database: db,
        bytes,
        elapsed_ms,
        holds: copies::summarize(&copy, &args.file)?,
    };
    tracing::info!(backup = %args.file.display(), bytes, "backup written");
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "backed up {} to {} ({bytes} bytes, {elapsed_ms} ms): {}",
            db.display(),
            args.file.display(),
            holds(&report.holds)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct RestoreJson {
    #[serde(flatten)]
    report: crate::store::restore::RestoreReport,
    verify: crate::store::VerifyReport,
}

pub fn run_restore(ctx: &Context, args: RestoreArgs) -> CliResult {
    let report = restore(&args.file, &ctx.db_path, args.force)?;
    tracing::info!(
        from = %args.file.display(),
        lost_ops = report.ops_not_in_backup,
        "database restored from a backup"
    );
    // Opening migrates an older backup (after its own automatic copy) and checks the chain.
    let store = ctx.open_store()?;
    let verify = store.call_blocking(|db| db.verify())??;
    let ok = verify.ok();
    if args.json {
        print_json(&RestoreJson { report, verify })?;
    } else {
        outln!(
            "restored {} into {}: {}",
            report.restored_from.display(),
            report.database.display(),
            holds(&report.restored)
        );
        match (&report.replaced, &report.replaced_saved_as) {
            (Some(s), Some(p)) => outln!(
                "the database it replaced ({}) is saved as {}",
                holds(s),
                p.display()
            ),
            (None, Some(p)) => outln!(
                "the file it replaced was not a readable kassa database; moved to {}",
                p.display()
            ),
            _ => outln!("there was no database before"),
        }
        if report.ops_not_in_backup > 0 {
            outln!(
                "{} ops of the replaced database are not in the backup (--force)",
                report.ops_not_in_backup
            );
        }
        outln!(
            "verify: {} sales checked, hash chain {}, integrity_check {}",
            verify.sales_checked,
            verify.first_break.as_deref().unwrap_or("ok"),
            verify.integrity_check
        );
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
