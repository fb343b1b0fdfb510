//! The console's printing: the print worker started from `[printer]`, whose outcomes come back
//! as actions, and the store jobs behind the receipt commands (read a receipt, lay it out,
//! hand its bytes to the worker, record what became of it). Nothing here blocks the UI: the
//! jobs run on the store thread and the worker on its own.

use std::sync::mpsc::Sender;

use chrono::Utc;
use tokio::sync::mpsc::UnboundedSender;

use super::action::{Action, Command};
use super::exec::{load_status, Job, Session};
use super::receipt::ReceiptShown;
use crate::config::Config;
use crate::domain::ReceiptRef;
use crate::printer::{self, PrintJob, PrintWorker};
use crate::receipt::text;
use crate::store::{Db, StoreError};

/// How many failed receipts one `Ctrl-P` sends again.
const RETRY_AT_ONCE: usize = 20;

/// Starts the print worker when a printer is configured; its outcomes arrive as
/// [`Action::Printed`] on `actions`.
pub fn start(config: &Config, actions: UnboundedSender<Action>) -> Option<Sender<PrintJob>> {
    let (target, timeout) = printer::target_of(&config.printer)?;
    let worker = match PrintWorker::start(target, timeout) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("cannot start the print worker: {e}");
            return None;
        }
    };
    let (jobs, outcomes) = worker.into_parts();
    let forward = std::thread::Builder::new()
        .name("kassa-print-outcomes".into())
        .spawn(move || {
            for o in outcomes {
                let a = Action::Printed {
                    seq: o.seq,
                    result: o.result,
                };
                if actions.send(a).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = forward {
        tracing::warn!("cannot start the print worker: {e}");
        return None;
    }
    Some(jobs)
}

/// The store job of a receipt command; `None` for other commands.
pub(super) fn job(cmd: &Command, session: &Session) -> Option<Job> {
    let setup = session.receipt.clone();
    let printer = session.printer.clone();
    Some(match *cmd {
        Command::LoadReceipt { receipt } => Box::new(move |db: &mut Db| {
            let load = || -> Result<Option<ReceiptShown>, StoreError> {
                let Some(src) = db.receipt_source(receipt)? else {
                    return Ok(None);
                };
                let failed = db
                    .print_failures()?
                    .into_iter()
                    .find(|f| f.seq == src.seq)
                    .map(|f| f.last_error);
                let r = setup.receipt(&src, false);
                Ok(Some(ReceiptShown {
                    seq: src.seq,
                    kind: src.doc.kind(),
                    lines: text::render(&r, setup.width),
                    failed,
                }))
            };
            Action::ReceiptLoaded(load().map_err(|e| e.to_string()))
        }),
        Command::PrintReceipt { seq, copy } => Box::new(move |db: &mut Db| {
            let result = submit(db, &setup, printer.as_ref(), seq, copy);
            match result {
                Ok(()) => Action::PrintQueued { seq },
                Err(e) => Action::Printed {
                    seq,
                    result: Err(e),
                },
            }
        }),
        Command::RecordPrint { seq, ref result } => {
            let result = result.clone();
            Box::new(move |db: &mut Db| {
                let recorded = match &result {
                    Ok(()) => db.clear_print_failure(seq).map(drop),
                    Err(e) => db
                        .printable(ReceiptRef::Seq(seq))
                        .and_then(|found| match found {
                            Some((_, doc)) => {
                                db.record_print_failure(seq, doc.kind(), e, Utc::now())
                            }
                            None => Ok(()),
                        }),
                };
                if let Err(e) = recorded {
                    tracing::warn!(seq, "cannot record the print of receipt #{seq}: {e}");
                }
                load_status(db)
            })
        }
        Command::RetryFailedPrints => Box::new(move |db: &mut Db| {
            let retry = || -> Result<Vec<i64>, String> {
                let failures = db.print_failures().map_err(|e| e.to_string())?;
                let mut sent = Vec::new();
                for f in failures.into_iter().take(RETRY_AT_ONCE) {
                    submit(db, &setup, printer.as_ref(), f.seq, false)?;
                    sent.push(f.seq);
                }
                Ok(sent)
            };
            Action::PrintsRetried(retry())
        }),
        _ => return None,
    })
}

/// Lays out receipt `seq` (a copy or the original) and hands its bytes to the print worker.
fn submit(
    db: &Db,
    setup: &crate::receipt::ReceiptSetup,
    printer: Option<&Sender<PrintJob>>,
    seq: i64,
    copy: bool,
) -> Result<(), String> {
    let printer = printer.ok_or("no printer is configured")?;
    let src = db
        .receipt_source(ReceiptRef::Seq(seq))
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no document #{seq} on this till"))?;
    let receipt = setup.receipt(&src, copy);
    let bytes = setup.bytes(&receipt, setup.width);
    printer
        .send(PrintJob { seq, bytes })
        .map_err(|_| "the print worker has stopped".to_string())
}
