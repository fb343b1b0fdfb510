//! `kassa report z` (end-of-day totals) and `kassa verify` (hash chain + integrity).

use std::process::ExitCode;

use chrono::{Local, NaiveDate, TimeZone, Utc};

use super::{print_json, CliError, CliResult, Context};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub kind: ReportKind,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportKind {
    /// End-of-day totals by tender and tax rate for one local day.
    Z {
        /// The day, YYYY-MM-DD in local time (default: today).
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The open shift so far (X report): float, sales, cash movements, expected cash. Resets
    /// nothing.
    X {
        #[arg(long)]
        json: bool,
    },
}

/// The UTC bounds `[start, end)` of a local calendar day.
pub(super) fn day_bounds(
    day: NaiveDate,
) -> Result<(chrono::DateTime<Utc>, chrono::DateTime<Utc>), CliError> {
    let bound = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| Local.from_local_datetime(&t).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| CliError::BadInput(format!("no local midnight on {d}")))
    };
    let next = day
        .succ_opt()
        .ok_or_else(|| CliError::BadInput(format!("--date {day} is out of range")))?;
    Ok((bound(day)?, bound(next)?))
}

pub fn run(ctx: &Context, args: ReportArgs) -> CliResult {
    let (date, json) = match args.kind {
        ReportKind::Z { date, json } => (date, json),
        ReportKind::X { json } => return super::shift::status(ctx, json),
    };
    let day = match date {
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d")
            .map_err(|_| CliError::BadInput(format!("--date {d:?}: use YYYY-MM-DD")))?,
        None => Local::now().date_naive(),
    };
    let (from, to) = day_bounds(day)?;
    let store = ctx.open_store()?;
    let z = store.call_blocking(move |db| db.report_z(from, to))??;
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            date: String,
            currency: &'a str,
            #[serde(flatten)]
            z: &'a crate::store::ZReport,
        }
        print_json(&Out {
            date: day.to_string(),
            currency: ctx.config.currency().code(),
            z: &z,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = ctx.config.currency();
    outln!("Z report {day} ({c})");
    outln!(
        "sales {}  (#{} .. #{})",
        z.sales,
        z.first_seq
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into()),
        z.last_seq
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into())
    );
    outln!("{:<24}{:>12}", "gross sales", c.format(z.total_cents));
    if z.rounding_cents != 0 {
        outln!("{:<24}{:>12}", "cash rounding", c.format(z.rounding_cents));
    }
    outln!("{:<24}{:>12}", "taken", c.format(z.due_cents));
    outln!(
        "{:<24}{:>12}",
        format!("refunds ({})", z.refunds.count),
        c.format(-z.refunds.paid_cents)
    );
    outln!(
        "{:<24}{:>12}",
        format!("voids ({})", z.voids.count),
        c.format(-z.voids.paid_cents)
    );
    outln!("{:<24}{:>12}", "net", c.format(z.net_cents));
    outln!("{:<24}{:>12}", "net tax", c.format(z.net_tax_cents));
    outln!("by tender:          sales      refunds        voids          net");
    for t in &z.by_tender {
        outln!(
            "  {:<6}{:>13} {:>12} {:>12} {:>12}",
            t.kind,
            c.format(t.sales_cents),
            c.format(-t.refunds_cents),
            c.format(-t.voids_cents),
            c.format(t.amount_cents)
        );
    }
    outln!("by tax rate:        gross      refunds        voids          net      net tax");
    for t in &z.by_tax_rate {
        outln!(
            "  {:>6}%{:>12} {:>12} {:>12} {:>12} {:>12}",
            format!("{}.{:02}", t.tax_rate_bp / 100, t.tax_rate_bp % 100),
            c.format(t.gross_cents),
            c.format(-t.refunds_cents),
            c.format(-t.voids_cents),
            c.format(t.net_cents),
            c.format(t.net_tax_cents)
        );
    }
    if !z.shifts.is_empty() {
        let d = &z.drawer;
        outln!(
            "cash drawer over {} shift(s) ({} still open):",
            d.shifts,
            d.open_shifts
        );
        outln!("  {:<22}{:>12}", "floats", c.format(d.tally.float_cents));
        outln!(
            "  {:<22}{:>12}",
            "cash sales",
            c.format(d.tally.cash_sales_cents)
        );
        outln!(
            "  {:<22}{:>12}",
            "cash refunds",
            c.format(-d.tally.cash_refunds_cents)
        );
        outln!(
            "  {:<22}{:>12}",
            "cash voids",
            c.format(-d.tally.cash_voids_cents)
        );
        outln!("  {:<22}{:>12}", "paid in", c.format(d.tally.paid_in_cents));
        outln!(
            "  {:<22}{:>12}",
            "paid out",
            c.format(-d.tally.paid_out_cents)
        );
        outln!("  {:<22}{:>12}", "expected", c.format(d.expected_cents));
        outln!(
            "  {:<22}{:>12}",
            "counted (closed)",
            c.format(d.counted_cents)
        );
        outln!("  {:<22}{:>12}", "over/short", c.format(d.over_short_cents));
        for s in &z.shifts {
            super::shift::print_summary(c, s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(ctx: &Context, json: bool) -> CliResult {
    let store = ctx.open_store()?;
    let report = store.call_blocking(|db| db.verify())??;
    if json {
        print_json(&report)?;
    } else {
        outln!("sales checked     {}", report.sales_checked);
        outln!("refunds checked   {}", report.refunds_checked);
        outln!("voids checked     {}", report.voids_checked);
        if report.shift_documents_checked > 0 {
            outln!("shift documents   {}", report.shift_documents_checked);
        }
        outln!(
            "hash chain        {}",
            report.first_break.as_deref().unwrap_or("ok")
        );
        outln!("integrity_check   {}", report.integrity_check);
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
