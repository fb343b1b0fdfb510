//! `kassa receipt SALE`: show a committed sale, refund or void as its receipt, write its
//! printer bytes to a file, or print it (again); and printing a fresh sale's receipt after
//! `kassa sell` (never before the sale is saved, never failing it).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::{print_json, CliError, CliResult, Context};
use crate::domain::ReceiptRef;
use crate::printer::{self, PrintJob, PrintWorker};
use crate::receipt::{check_width, text, Receipt, ReceiptSetup};
use crate::store::StoreHandle;

#[derive(Debug, clap::Args)]
pub struct ReceiptArgs {
    /// The document: a seq (sale, refund or void), a sale id or the 32-hex receipt code.
    #[arg(value_name = "SALE")]
    pub sale: String,
    /// Columns: 32 (58 mm paper), 42 or 48 (80 mm); default `[receipt] width`.
    #[arg(long, value_name = "N")]
    pub width: Option<usize>,
    /// Mark the receipt as a copy.
    #[arg(long)]
    pub copy: bool,
    /// Print it on the configured printer (a copy, unless its last print had failed or sales
    /// do not print on their own).
    #[arg(long, conflicts_with = "out")]
    pub print: bool,
    /// Write its ESC/POS bytes to FILE instead of showing it.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print the receipt as JSON (its fields and its text lines).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ReceiptOut<'a> {
    #[serde(flatten)]
    receipt: &'a Receipt,
    width: usize,
    text: Vec<String>,
}

pub fn run(ctx: &Context, args: ReceiptArgs) -> CliResult {
    let receipt_ref = ReceiptRef::parse(&args.sale)?;
    let width = check_width(args.width.unwrap_or(ctx.config.receipt.width))
        .map_err(|e| CliError::BadInput(format!("--{e}")))?;
    let target = printer::target_of(&ctx.config.printer);
    if args.print && target.is_none() {
        return Err(CliError::BadInput(
            "no printer is configured (set [printer] kind in the config)".into(),
        ));
    }
    // An unwritable --out is bad input, found before anything else happens.
    let out_file = match &args.out {
        Some(path) => Some((
            path.clone(),
            std::fs::File::create(path)
                .map_err(|e| CliError::BadInput(format!("cannot write {}: {e}", path.display())))?,
        )),
        None => None,
    };
    if args.print {
        check_printer_path(target.as_ref().map(|t| &t.0))?;
    }
    let store = ctx.open_store()?;
    let (found, failures) = store.call_blocking(move |db| -> Result<_, CliError> {
        Ok((db.receipt_source(receipt_ref)?, db.print_failures()?))
    })??;
    let Some(src) = found else {
        if let Some((path, _)) = &out_file {
            let _ = std::fs::remove_file(path);
        }
        return Err(CliError::BadInput(format!(
            "no sale, refund or void {receipt_ref} on this till"
        )));
    };
    let seq = src.seq;
    let failed_before = failures.iter().any(|f| f.seq == seq);
    // Printing again what did print is a copy; retrying a failed print is the original, and
    // so is the first print when sales do not print on their own (`print_after_sale` off).
    let printed_before = ctx.config.printer.print_after_sale && !failed_before;
    let copy = args.copy || (args.print && printed_before);
    let setup = ReceiptSetup::from_config(&ctx.config);
    let receipt = setup.receipt(&src, copy);
    if let Some((path, mut file)) = out_file {
        use std::io::Write;
        file.write_all(&setup.bytes(&receipt, width))
            .and_then(|()| file.flush())
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
        outln!("receipt #{seq} written to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    if args.print {
        let Some((target, timeout)) = target else {
            return Err(CliError::Failed("no printer".into()));
        };
        let bytes = setup.bytes(&receipt, width);
        let kind = src.doc.kind();
        return match printer::send(&target, &bytes, timeout) {
            Ok(()) => {
                store.call_blocking(move |db| db.clear_print_failure(seq))??;
                outln!(
                    "receipt #{seq} printed{}",
                    if copy { " (copy)" } else { "" }
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                let msg = e.0.clone();
                store.call_blocking(move |db| {
                    db.record_print_failure(seq, kind, &msg, chrono::Utc::now())
                })??;
                Err(CliError::Failed(format!(
                    "receipt #{seq} not printed: {}",
                    e.0
                )))
            }
        };
    }
    let lines = text::render(&receipt, width);
    if args.json {
        print_json(&ReceiptOut {
            receipt: &receipt,
            width,
            text: lines,
        })?;
    } else {
        for l in &lines {
            outln!("{l}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A printer file or device that cannot be opened for writing (a wrong or unwritable path,
/// an unplugged USB printer) is bad input for `--print`: one line, exit 2, nothing recorded.
fn check_printer_path(target: Option<&printer::Target>) -> Result<(), CliError> {
    let (path, create) = match target {
        Some(printer::Target::File(p)) => (p, true),
        Some(printer::Target::Device(p)) => (p, false),
        _ => return Ok(()),
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(create)
        .open(path)
        .map(drop)
        .map_err(|e| CliError::BadInput(format!("cannot write to printer {}: {e}", path.display())))
}

/// After `kassa sell` saved sale `seq`: prints its receipt when a printer is configured (and
/// `printer.print_after_sale`). The sale is already durable; a failed print is recorded (and
/// told on stderr), never an error.
pub fn print_after_sale(ctx: &Context, store: &StoreHandle, seq: i64) {
    if !ctx.config.printer.print_after_sale {
        return;
    }
    let Some((target, timeout)) = printer::target_of(&ctx.config.printer) else {
        return;
    };
    let setup = ReceiptSetup::from_config(&ctx.config);
    let src = match store.call_blocking(move |db| db.receipt_source(ReceiptRef::Seq(seq))) {
        Ok(Ok(Some(src))) => src,
        _ => return,
    };
    let receipt = setup.receipt(&src, false);
    let bytes = setup.bytes(&receipt, setup.width);
    let outcome = PrintWorker::start(target, timeout).ok().and_then(|w| {
        w.submit(PrintJob { seq, bytes });
        // The worker gives up after the timeout (connect, then write); a little slack.
        w.wait_outcome(timeout * 2 + Duration::from_millis(500))
    });
    let error = match outcome {
        Some(o) => match o.result {
            Ok(()) => return,
            Err(e) => e,
        },
        None => format!(
            "the printer did not answer within {} ms",
            timeout.as_millis()
        ),
    };
    let kind = src.doc.kind();
    let msg = error.clone();
    let _ =
        store.call_blocking(move |db| db.record_print_failure(seq, kind, &msg, chrono::Utc::now()));
    eprintln!("kassa: receipt #{seq} not printed: {error} (kassa receipt {seq} --print to retry)");
}
