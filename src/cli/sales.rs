//! `kassa sales`: find a receipt. This till's sales of one local day with time, total,
//! tenders and refunded/voided marks; `--lookup ID` asks the server for another till's sale
//! and keeps it, so that it can be refunded here later, also offline.

use std::process::ExitCode;

use chrono::{Local, NaiveDate};

use super::report::day_bounds;
use super::{print_json, CliError, CliResult, Context};
use crate::domain::ReceiptRef;
use crate::timefmt::Zone;

#[derive(Debug, clap::Args)]
pub struct SalesArgs {
    /// The day, YYYY-MM-DD in local time (default: today).
    #[arg(long)]
    pub date: Option<String>,
    /// Look a sale of any till of the store up on the server (its id or 32-hex code) and keep
    /// it for refunding.
    #[arg(long, value_name = "SALE_ID", conflicts_with = "date")]
    pub lookup: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: SalesArgs) -> CliResult {
    if let Some(id) = &args.lookup {
        return lookup(ctx, id, args.json);
    }
    let day = match &args.date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| CliError::BadInput(format!("--date {d:?}: use YYYY-MM-DD")))?,
        None => Local::now().date_naive(),
    };
    let (from, to) = day_bounds(day)?;
    let store = ctx.open_store()?;
    let sales = store.call_blocking(move |db| db.sales_between(from, to))??;
    if args.json {
        print_json(&sales)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = ctx.config.currency();
    let now = chrono::Utc::now();
    outln!(
        "{:>6}  {:<16}  {:>10}  {:<10}  {:<18}  receipt",
        "seq",
        "time",
        "total",
        "paid",
        "marks"
    );
    for s in &sales {
        let paid: Vec<&str> = s.tenders.iter().map(|t| t.kind.as_str()).collect();
        let marks = if s.voided {
            "VOIDED".to_string()
        } else if s.refunded_qty >= s.sold_qty && s.sold_qty > 0 {
            format!("refunded {}", c.format(s.refunded_cents))
        } else if s.refunded_qty > 0 {
            format!("part-ref {}/{}", s.refunded_qty, s.sold_qty)
        } else {
            String::new()
        };
        outln!(
            "{:>6}  {:<16}  {:>10}  {:<10}  {:<18}  {}",
            s.seq,
            Zone::Local.short_text(&s.created_at, now),
            c.format(s.due_cents),
            paid.join("+"),
            marks,
            s.receipt_code
        );
    }
    if sales.is_empty() {
        outln!("no sales on {day}");
    }
    Ok(ExitCode::SUCCESS)
}

fn lookup(ctx: &Context, id: &str, json: bool) -> CliResult {
    let ReceiptRef::SaleId(sale_id) = ReceiptRef::parse(id)? else {
        return Err(CliError::BadInput(format!(
            "--lookup {id:?}: give a sale id or the receipt's 32-hex code, not a till's number"
        )));
    };
    let store = ctx.open_store()?;
    let Some(found) = super::lookup::lookup_and_cache(ctx, &store, sale_id)? else {
        return Err(CliError::BadInput(format!(
            "no sale {sale_id} in this store"
        )));
    };
    if json {
        print_json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = ctx.config.currency();
    outln!(
        "sale {} (till {} #{}){}",
        found.sale_id,
        found.device_id,
        found.seq,
        if found.voided { " VOIDED" } else { "" }
    );
    for l in &found.lines {
        outln!(
            "  #{:<3} {:>4} x {:<24} {:>10}  refunded {}",
            l.line.line_no,
            l.line.qty,
            l.line.name,
            c.format(l.line.line_total_cents),
            l.refunded_qty
        );
    }
    outln!("kept for refunding at this till");
    Ok(ExitCode::SUCCESS)
}
