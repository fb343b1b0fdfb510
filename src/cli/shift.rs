//! `kassa shift open|close|status`, `kassa cash in|out|no-sale` and the X report (the open
//! shift so far, `kassa report x`). The close is blind: the count is recorded first, and only
//! then are expected cash and over/short printed.

use std::process::ExitCode;

use super::staff::Actor;
use super::{print_json, CliError, CliResult, Context};
use crate::domain::shift::{parse_denominations, Denominations};
use crate::domain::{CashMovementKind, Currency, Guarded};
use crate::store::ShiftSummary;

#[derive(Debug, clap::Args)]
pub struct ShiftArgs {
    #[command(subcommand)]
    pub command: ShiftCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ShiftCommand {
    /// Open a shift with the counted opening float.
    Open {
        /// The float in the drawer, e.g. 150.00.
        #[arg(long = "float", value_name = "AMOUNT")]
        float: String,
        /// The float by denomination in minor units: 5000x2,1000x5.
        #[arg(long)]
        denominations: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Close the open shift with the blind count of the drawer.
    Close {
        /// The cash counted in the drawer.
        #[arg(long, value_name = "AMOUNT")]
        counted: String,
        /// The count by denomination in minor units: 5000x2,100x12.
        #[arg(long)]
        denominations: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The open shift: float, sales, cash movements and what the drawer should hold.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct CashArgs {
    #[command(subcommand)]
    pub command: CashCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CashCommand {
    /// Cash put into the drawer (paid-in).
    In {
        amount: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Cash taken out of the drawer (paid-out); at most what the drawer should hold.
    Out {
        amount: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Record opening the drawer without a sale.
    NoSale {
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
}

fn amount(c: Currency, text: &str, what: &str) -> Result<i64, CliError> {
    let v = c
        .parse(text)
        .map_err(|e| CliError::BadInput(format!("{what} {text:?}: {e}")))?;
    if v < 0 {
        return Err(CliError::BadInput(format!(
            "{what} {text:?}: must not be negative"
        )));
    }
    Ok(v)
}

fn denoms(text: Option<&str>) -> Result<Option<Denominations>, CliError> {
    text.map(parse_denominations)
        .transpose()
        .map_err(|e| CliError::BadInput(format!("--denominations: {e}")))
}

pub fn shift(ctx: &Context, actor: &Actor, args: ShiftArgs) -> CliResult {
    let c = ctx.config.currency();
    match args.command {
        ShiftCommand::Open {
            float,
            denominations,
            json,
        } => {
            let float = amount(c, &float, "--float")?;
            let d = denoms(denominations.as_deref())?;
            let store = ctx.open_store()?;
            let (actor, cfg) = (actor.clone(), ctx.config.staff.clone());
            let r = store.call_blocking(move |db| -> Result<_, CliError> {
                let who = actor.attribution(&cfg, db, None)?;
                Ok(db.open_shift(float, d, &who, chrono::Utc::now())?)
            })??;
            if json {
                print_json(&r)?;
            } else {
                outln!(
                    "shift {} opened (#{}), float {}",
                    r.open.shift_id,
                    r.seq,
                    c.format(r.open.float_cents)
                );
            }
        }
        ShiftCommand::Close {
            counted,
            denominations,
            json,
        } => {
            let counted = amount(c, &counted, "--counted")?;
            let d = denoms(denominations.as_deref())?;
            let store = ctx.open_store()?;
            let (actor, cfg) = (actor.clone(), ctx.config.staff.clone());
            let r = store.call_blocking(move |db| -> Result<_, CliError> {
                let who = actor.attribution(&cfg, db, None)?;
                Ok(db.close_shift(counted, d, &who, chrono::Utc::now())?)
            })??;
            // The count is durable now; only now does the cashier see what was expected.
            if json {
                print_json(&r)?;
            } else {
                outln!("shift {} closed (#{})", r.close.shift_id, r.seq);
                outln!("{:<24}{:>12}", "counted", c.format(r.close.counted_cents));
                outln!("{:<24}{:>12}", "expected", c.format(r.close.expected_cents));
                outln!(
                    "{:<24}{:>12}",
                    over_short_label(r.close.over_short_cents),
                    c.format(r.close.over_short_cents)
                );
            }
        }
        ShiftCommand::Status { json } => return status(ctx, json),
    }
    Ok(ExitCode::SUCCESS)
}

fn over_short_label(v: i64) -> &'static str {
    match v {
        0 => "over/short (even)",
        v if v > 0 => "over",
        _ => "short",
    }
}

/// `kassa shift status` and `kassa report x`: the open shift so far; nothing is reset.
pub fn status(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let s = store.call_blocking(|db| db.current_shift())??;
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            open: bool,
            currency: &'a str,
            shift: Option<&'a ShiftSummary>,
        }
        print_json(&Out {
            open: s.is_some(),
            currency: ctx.config.currency().code(),
            shift: s.as_ref(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(s) = s else {
        outln!("no shift is open");
        return Ok(ExitCode::SUCCESS);
    };
    print_summary(ctx.config.currency(), &s)?;
    Ok(ExitCode::SUCCESS)
}

/// The lines of one shift (X report, and each shift of the Z report).
pub(super) fn print_summary(c: Currency, s: &ShiftSummary) -> Result<(), CliError> {
    let who = match (&s.staff_id, &s.operator) {
        (Some(id), _) => id.to_string(),
        (None, Some(op)) => op.clone(),
        (None, None) => "-".into(),
    };
    outln!("shift {} opened {} by {who}", s.shift_id, s.opened_at);
    if let Some(at) = &s.closed_at {
        outln!("  closed {at}");
    }
    let row = |label: &str, v: i64| format!("  {label:<22}{:>12}", c.format(v));
    outln!("{}", row("float", s.tally.float_cents));
    outln!(
        "{}",
        row(
            &format!("cash sales ({})", s.sales),
            s.tally.cash_sales_cents
        )
    );
    outln!("{}", row("card sales", s.card_sales_cents));
    outln!(
        "{}",
        row(
            &format!("cash refunds ({})", s.refunds),
            s.tally.cash_refunds_cents
        )
    );
    outln!("{}", row("card refunds", s.card_refunds_cents));
    outln!(
        "{}",
        row(
            &format!("cash voids ({})", s.voids),
            s.tally.cash_voids_cents
        )
    );
    outln!(
        "{}",
        row(&format!("paid in ({})", s.paid_in), s.tally.paid_in_cents)
    );
    outln!(
        "{}",
        row(
            &format!("paid out ({})", s.paid_out),
            s.tally.paid_out_cents
        )
    );
    if s.no_sales > 0 {
        outln!("  no-sale openings      {:>12}", s.no_sales);
    }
    outln!("{}", row("expected in drawer", s.expected_cents));
    if let (Some(counted), Some(os)) = (s.counted_cents, s.over_short_cents) {
        outln!("{}", row("counted", counted));
        outln!("{}", row(over_short_label(os), os));
    }
    Ok(())
}

pub fn cash(ctx: &Context, actor: &Actor, args: CashArgs) -> CliResult {
    let c = ctx.config.currency();
    let (kind, cents, reason, json) = match args.command {
        CashCommand::In {
            amount: a,
            reason,
            json,
        } => (
            CashMovementKind::PaidIn,
            amount(c, &a, "AMOUNT")?,
            reason,
            json,
        ),
        CashCommand::Out {
            amount: a,
            reason,
            json,
        } => (
            CashMovementKind::PaidOut,
            amount(c, &a, "AMOUNT")?,
            reason,
            json,
        ),
        CashCommand::NoSale { reason, json } => (CashMovementKind::NoSale, 0, reason, json),
    };
    let guard = (kind == CashMovementKind::NoSale).then_some(Guarded::NoSale);
    let store = ctx.open_store()?;
    let (actor, cfg) = (actor.clone(), ctx.config.staff.clone());
    let r = store.call_blocking(move |db| -> Result<_, CliError> {
        let who = actor.attribution(&cfg, db, guard)?;
        Ok(db.cash_movement(kind, cents, &reason, &who, chrono::Utc::now())?)
    })??;
    if json {
        print_json(&r)?;
    } else {
        outln!(
            "{} {} saved (#{}); the drawer should hold {}",
            kind.as_str(),
            c.format(r.movement.amount_cents),
            r.seq,
            c.format(r.expected_after_cents)
        );
    }
    Ok(ExitCode::SUCCESS)
}
