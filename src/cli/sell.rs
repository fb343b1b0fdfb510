//! `kassa sell`: ring up and commit one sale without the console.

use std::process::ExitCode;

use serde::Serialize;

use super::{print_json, CliError, CliResult, Context};
use crate::domain::tender::settle;
use crate::domain::{Cart, Currency, Payment, Product};
use crate::store::SaleReceipt;

#[derive(Debug, clap::Args)]
pub struct SellArgs {
    /// How the customer pays: `cash` (exact), `cash:AMOUNT` (e.g. cash:20 or cash:20.00), `card`.
    #[arg(long, default_value = "cash")]
    pub pay: String,
    /// Print the sale as JSON.
    #[arg(long)]
    pub json: bool,
    /// SKU or barcode, optionally with a quantity: `1001`, `4000000010012*3`.
    #[arg(required = true, value_name = "ITEM")]
    pub items: Vec<String>,
}

/// Parses `--pay`.
pub fn parse_payment(text: &str, currency: Currency) -> Result<Payment, CliError> {
    let bad = || CliError::BadInput(format!("--pay {text:?}: use cash, cash:AMOUNT or card"));
    match text.split_once(':') {
        None if text == "cash" => Ok(Payment::Cash { given: None }),
        None if text == "card" => Ok(Payment::Card),
        Some(("cash", amount)) => {
            let given = currency
                .parse(amount)
                .map_err(|e| CliError::BadInput(format!("--pay {text:?}: {e}")))?;
            if given < 0 {
                return Err(bad());
            }
            Ok(Payment::Cash { given: Some(given) })
        }
        _ => Err(bad()),
    }
}

/// Splits `CODE*QTY` (QTY defaults to 1).
pub fn parse_item(text: &str) -> Result<(&str, i64), CliError> {
    match text.rsplit_once('*') {
        None => Ok((text, 1)),
        Some((code, qty)) => {
            let q = qty.parse::<i64>().map_err(|_| {
                CliError::BadInput(format!("{text:?}: quantity {qty:?} is not a whole number"))
            })?;
            Ok((code, q))
        }
    }
}

#[derive(Serialize)]
struct SellOutput<'a> {
    #[serde(flatten)]
    receipt: &'a SaleReceipt,
    currency: &'a str,
    payment: &'a str,
    lines: Vec<LineOut<'a>>,
}

#[derive(Serialize)]
struct LineOut<'a> {
    sku: &'a str,
    name: &'a str,
    qty: i64,
    unit_price_cents: i64,
}

pub fn run(ctx: &Context, actor: &super::staff::Actor, args: SellArgs) -> CliResult {
    let currency = ctx.config.currency();
    let payment = parse_payment(&args.pay, currency)?;
    let mut wanted = Vec::with_capacity(args.items.len());
    for item in &args.items {
        let (code, qty) = parse_item(item)?;
        wanted.push((code.to_string(), qty));
    }
    let store = ctx.open_store()?;
    let rounding = ctx.config.cash_rounding;
    let (actor, staff_cfg) = (actor.clone(), ctx.config.staff.clone());
    let (cart, receipt) = store.call_blocking(move |db| -> Result<_, CliError> {
        let who = actor.attribution(&staff_cfg, db, None)?;
        let mut cart = Cart::new(currency);
        for (code, qty) in &wanted {
            let product: Product = db
                .find_product(code)?
                .ok_or_else(|| CliError::BadInput(format!("unknown item {code:?}")))?;
            cart.add(&product, *qty)
                .map_err(|e| CliError::BadInput(format!("{code}: {e}")))?;
        }
        let totals = cart.totals()?;
        let settlement = settle(totals.total_cents, payment, rounding, currency)?;
        let receipt = db.commit_sale_as(&cart, &settlement, &who, chrono::Utc::now())?;
        Ok((cart, receipt))
    })??;
    let pay = args.pay.split(':').next().unwrap_or("cash");
    if args.json {
        let lines = cart
            .lines()
            .iter()
            .map(|l| LineOut {
                sku: &l.sku,
                name: &l.name,
                qty: l.qty,
                unit_price_cents: l.unit_price_cents,
            })
            .collect();
        print_json(&SellOutput {
            receipt: &receipt,
            currency: currency.code(),
            payment: pay,
            lines,
        })?;
    } else {
        let f = |v: i64| currency.format(v);
        outln!("sale #{} saved ({})", receipt.seq, receipt.sale_id);
        for (l, a) in cart.lines().iter().zip(cart.totals()?.lines) {
            outln!(
                "  {:>4} x {:<28} {:>10} {:>10}",
                l.qty,
                l.name,
                f(l.unit_price_cents),
                f(a.line_total_cents)
            );
        }
        if receipt.rounding_cents != 0 {
            outln!(
                "  {:<45} {:>10}",
                "cash rounding",
                f(receipt.rounding_cents)
            );
        }
        outln!(
            "  {:<45} {:>10}",
            format!("TOTAL {currency}"),
            f(receipt.due_cents)
        );
        outln!("  {:<45} {:>10}", "incl. tax", f(receipt.tax_cents));
        outln!(
            "  {:<45} {:>10}",
            format!("paid {pay}"),
            f(receipt.due_cents + receipt.change_cents)
        );
        outln!("  {:<45} {:>10}", "change", f(receipt.change_cents));
    }
    // After the sale is saved and told: a printer that fails only leaves a recorded failure.
    super::receipt::print_after_sale(ctx, &store, receipt.seq);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_forms() {
        assert_eq!(
            parse_payment("cash", Currency::EUR).ok(),
            Some(Payment::Cash { given: None })
        );
        assert_eq!(
            parse_payment("cash:20", Currency::EUR).ok(),
            Some(Payment::Cash { given: Some(2000) })
        );
        assert_eq!(
            parse_payment("card", Currency::EUR).ok(),
            Some(Payment::Card)
        );
        assert!(parse_payment("cheque", Currency::EUR).is_err());
        assert!(parse_payment("cash:-5", Currency::EUR).is_err());
        assert!(parse_payment("cash:1.234", Currency::EUR).is_err());
    }

    #[test]
    fn item_forms() {
        assert_eq!(parse_item("1001").ok(), Some(("1001", 1)));
        assert_eq!(parse_item("1001*3").ok(), Some(("1001", 3)));
        assert!(parse_item("1001*x").is_err());
    }
}
