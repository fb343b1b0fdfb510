//! `kassa refund` (against a receipt, or `--no-receipt`) and `kassa void`: money back to the
//! customer, committed durably first like a sale.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;

use super::sell::parse_item;
use super::{print_json, CliError, CliResult, Context};
use crate::domain::{Currency, Guarded, ReceiptRef, Refund, RefundPick, TenderKind};
use crate::store::{BlindItem, RefundItems, RefundableSale, StoreHandle};
use crate::timefmt::Zone;

#[derive(Debug, clap::Args)]
pub struct RefundArgs {
    /// How the money goes back: `cash` or `card`.
    #[arg(long, value_name = "cash|card")]
    pub pay: String,
    /// The goods do not go back on the shelf (damaged): written off instead.
    #[arg(long)]
    pub no_restock: bool,
    /// Why (required without a receipt).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,
    /// A refund without a receipt: every argument is an ITEM*QTY of the catalog.
    #[arg(long)]
    pub no_receipt: bool,
    /// Print the refund as JSON.
    #[arg(long)]
    pub json: bool,
    /// RECEIPT (the till's sale number, a sale id or the receipt's 32-hex code), then the
    /// items to refund: a SKU or barcode of a line, or `#LINE_NO`, optionally `*QTY`.
    /// No items: everything still refundable.
    #[arg(value_name = "RECEIPT [ITEM*QTY]")]
    pub args: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct VoidArgs {
    /// The sale: the till's sale number, a sale id or the receipt's 32-hex code.
    #[arg(value_name = "SALE")]
    pub sale: String,
    /// Why the sale is voided.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Print the void as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_tender(text: &str) -> Result<TenderKind, CliError> {
    match text {
        "cash" => Ok(TenderKind::Cash),
        "card" => Ok(TenderKind::Card),
        _ => Err(CliError::BadInput(format!(
            "--pay {text:?}: a refund is paid back by cash or card"
        ))),
    }
}

fn parse_qty(text: &str) -> Result<(&str, i64), CliError> {
    let (code, qty) = parse_item(text)?;
    if qty <= 0 {
        return Err(CliError::BadInput(format!(
            "{text:?}: quantity must be at least 1"
        )));
    }
    if code.is_empty() {
        return Err(CliError::BadInput(format!("{text:?}: no item")));
    }
    Ok((code, qty))
}

/// Turns `ITEM*QTY` arguments into picks of the sale's lines: `#N` names line N; a SKU or
/// barcode fills that product's lines in order (what each still allows), the rest on the last.
fn picks_for(
    rs: &RefundableSale,
    items: &[(String, i64)],
    restock: bool,
    barcode_sku: &BTreeMap<String, String>,
) -> Result<Vec<RefundPick>, CliError> {
    let mut qty_by_line: BTreeMap<i64, i64> = BTreeMap::new();
    let mut order: Vec<i64> = Vec::new();
    let mut add = |line: i64, q: i64, qty_by_line: &mut BTreeMap<i64, i64>| {
        if !order.contains(&line) {
            order.push(line);
        }
        *qty_by_line.entry(line).or_default() += q;
    };
    for (code, qty) in items {
        if let Some(n) = code.strip_prefix('#') {
            let n: i64 = n
                .parse()
                .map_err(|_| CliError::BadInput(format!("{code:?}: a line is #NUMBER, e.g. #2")))?;
            if !rs.lines.iter().any(|l| l.line.line_no == n) {
                return Err(CliError::BadInput(format!("the sale has no line {n}")));
            }
            add(n, *qty, &mut qty_by_line);
            continue;
        }
        let sku = barcode_sku.get(code).map(String::as_str).unwrap_or(code);
        let lines: Vec<_> = rs.lines.iter().filter(|l| l.line.sku == sku).collect();
        let Some(last) = lines.last() else {
            return Err(CliError::BadInput(format!(
                "{code:?} is not on this receipt"
            )));
        };
        let mut left = *qty;
        for l in &lines {
            let taken = qty_by_line.get(&l.line.line_no).copied().unwrap_or(0);
            let room = (l.remaining_qty() - taken).max(0).min(left);
            if room > 0 {
                add(l.line.line_no, room, &mut qty_by_line);
                left -= room;
            }
        }
        if left > 0 {
            // More than the receipt allows: the store refuses it with the numbers.
            add(last.line.line_no, left, &mut qty_by_line);
        }
    }
    Ok(order
        .into_iter()
        .map(|line| RefundPick {
            original_line_no: line,
            qty: qty_by_line[&line],
            restock,
        })
        .collect())
}

/// The sale a receipt names at this till, else as the server knows it (looked up and kept).
fn find_sale(
    ctx: &Context,
    store: &StoreHandle,
    receipt: ReceiptRef,
) -> Result<RefundableSale, CliError> {
    if let Some(rs) = store.call_blocking(move |db| db.refundable_sale(&receipt))?? {
        return Ok(rs);
    }
    let ReceiptRef::SaleId(id) = receipt else {
        return Err(CliError::BadInput(format!(
            "unknown receipt #{}: no sale of this till has that number",
            match receipt {
                ReceiptRef::Seq(n) => n,
                ReceiptRef::SaleId(_) => 0,
            }
        )));
    };
    if super::lookup::lookup_and_cache(ctx, store, id)?.is_none() {
        return Err(CliError::BadInput(format!(
            "unknown receipt {id}: no sale of this store has that id"
        )));
    }
    store
        .call_blocking(move |db| db.refundable_sale(&receipt))??
        .ok_or_else(|| CliError::Failed(format!("the looked-up sale {id} was not kept")))
}

#[derive(Serialize)]
struct RefundOut<'a> {
    #[serde(flatten)]
    receipt: &'a crate::store::RefundReceipt,
    tender: &'a str,
}

pub fn refund(ctx: &Context, actor: &super::staff::Actor, args: RefundArgs) -> CliResult {
    let tender = parse_tender(&args.pay)?;
    let policy = ctx.config.refund_policy();
    let currency = ctx.config.currency();
    let restock = !args.no_restock;
    let mut rest = args.args.iter();
    let receipt = if args.no_receipt {
        None
    } else {
        let first = rest.next().ok_or_else(|| {
            CliError::BadInput("name the RECEIPT to refund, or use --no-receipt".into())
        })?;
        Some(ReceiptRef::parse(first)?)
    };
    let mut items = Vec::new();
    for a in rest {
        let (code, qty) = parse_qty(a)?;
        items.push((code.to_string(), qty));
    }
    let store = ctx.open_store()?;
    let reason = args.reason.clone();
    let now = chrono::Utc::now();
    let receipt = match receipt {
        None => {
            if items.is_empty() {
                return Err(CliError::BadInput(
                    "a refund without a receipt needs ITEM*QTY arguments".into(),
                ));
            }
            let blind: Vec<BlindItem> = items
                .into_iter()
                .map(|(code, qty)| BlindItem { code, qty, restock })
                .collect();
            let code = currency.code().to_string();
            let (actor, staff_cfg) = (actor.clone(), ctx.config.staff.clone());
            store.call_blocking(move |db| -> Result<_, CliError> {
                // The checks of the refund itself come first (bad input before approval).
                db.preview_blind_refund(&blind, tender, &reason, &policy, &code, now)?;
                let who = actor.attribution(&staff_cfg, db, Some(Guarded::BlindRefund))?;
                Ok(db.commit_blind_refund_as(&blind, tender, &reason, &policy, &code, &who, now)?)
            })??
        }
        Some(r) => {
            let rs = find_sale(ctx, &store, r)?;
            let receipt = ReceiptRef::SaleId(rs.sale.sale_id);
            let refund_items = if items.is_empty() {
                RefundItems::All { restock }
            } else {
                let codes: Vec<String> = items.iter().map(|(c, _)| c.clone()).collect();
                let barcode_sku = store.call_blocking(move |db| -> Result<_, CliError> {
                    let mut m = BTreeMap::new();
                    for c in codes {
                        if let Some(p) = db.find_product(&c)? {
                            m.insert(c, p.sku);
                        }
                    }
                    Ok(m)
                })??;
                RefundItems::Picks(picks_for(&rs, &items, restock, &barcode_sku)?)
            };
            let (actor, staff_cfg) = (actor.clone(), ctx.config.staff.clone());
            store.call_blocking(move |db| -> Result<_, CliError> {
                let planned =
                    db.preview_refund(&receipt, &refund_items, tender, &reason, &policy, now)?;
                let amount_cents = planned.paid_back_cents();
                let who =
                    actor.attribution(&staff_cfg, db, Some(Guarded::Refund { amount_cents }))?;
                Ok(db.commit_refund_as(
                    &receipt,
                    &refund_items,
                    tender,
                    &reason,
                    &policy,
                    &who,
                    now,
                )?)
            })??
        }
    };
    if args.json {
        print_json(&RefundOut {
            receipt: &receipt,
            tender: tender.as_str(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let of = match (receipt.original_seq, receipt.refund.original_sale_id) {
        (Some(seq), _) => format!(" of sale #{seq}"),
        (None, Some(id)) => format!(" of sale {id}"),
        (None, None) => " without receipt".to_string(),
    };
    outln!(
        "refund #{}{of} saved ({})",
        receipt.seq,
        receipt.refund.refund_id
    );
    print_refund_lines(&receipt.refund, currency)?;
    outln!(
        "  {:<45} {:>10}",
        format!("PAID BACK {} {currency}", tender.as_str()),
        currency.format(receipt.paid_back_cents)
    );
    Ok(ExitCode::SUCCESS)
}

fn print_refund_lines(r: &Refund, currency: Currency) -> Result<(), CliError> {
    for l in &r.lines {
        let mark = if l.restock { "" } else { " (write-off)" };
        outln!(
            "  {:>4} x {:<28} {:>10}",
            l.qty,
            format!("{}{mark}", l.name),
            currency.format(l.amount_cents)
        );
    }
    if r.rounding_cents != 0 {
        outln!(
            "  {:<45} {:>10}",
            "cash rounding",
            currency.format(r.rounding_cents)
        );
    }
    outln!("  {:<45} {:>10}", "incl. tax", currency.format(r.tax_cents));
    Ok(())
}

pub fn void(ctx: &Context, actor: &super::staff::Actor, args: VoidArgs) -> CliResult {
    let receipt = ReceiptRef::parse(&args.sale)?;
    let store = ctx.open_store()?;
    let reason = args.reason.clone();
    let (actor, staff_cfg) = (actor.clone(), ctx.config.staff.clone());
    let v = store.call_blocking(move |db| -> Result<_, CliError> {
        let who = actor.attribution(&staff_cfg, db, Some(Guarded::PostVoid))?;
        Ok(db.commit_void_as(&receipt, &reason, Zone::Local, &who, chrono::Utc::now())?)
    })??;
    if args.json {
        print_json(&v)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = ctx.config.currency();
    outln!(
        "void #{} of sale #{} saved ({})",
        v.seq,
        v.sale_seq,
        v.void.void_id
    );
    for t in &v.void.tenders {
        outln!(
            "  {:<45} {:>10}",
            format!("GIVEN BACK {} {c}", t.kind.as_str()),
            c.format(t.amount_cents)
        );
    }
    Ok(ExitCode::SUCCESS)
}
