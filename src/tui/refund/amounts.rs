//! What a refund pays back: per line from the domain's refund arithmetic, in all with cash
//! rounding for cash.

use super::{RefundState, ReturnLine};
use crate::domain::refund::refund_amounts;
use crate::domain::{CartLine, TenderKind};

/// What each line pays back for the units chosen (`None` for a line with nothing coming
/// back), from the domain's refund arithmetic; an error when the amounts cannot be worked out.
pub fn amounts(r: &RefundState) -> Result<Vec<Option<i64>>, String> {
    r.lines
        .iter()
        .map(|l| {
            if l.qty == 0 {
                return Ok(None);
            }
            line_amount(r, l).map(Some)
        })
        .collect()
}

/// Receipt lines: the domain's cumulative pro-rata share of what the customer paid (after
/// what was already refunded); without a receipt: the catalog price, like a sale.
fn line_amount(r: &RefundState, l: &ReturnLine) -> Result<i64, String> {
    if let Some(rl) = r.receipt_line(l) {
        return refund_amounts(&rl.line, rl.refunded_qty, l.qty)
            .map(|(amount, _tax)| amount)
            .map_err(|e| format!("{}: {e}", l.name));
    }
    let Some(p) = &l.product else {
        return Err(format!("{}: not on the receipt", l.name));
    };
    CartLine::from_product(p, l.qty)
        .and_then(|c| c.amounts())
        .map(|a| a.line_total_cents)
        .map_err(|e| format!("{}: {e}", l.name))
}

/// What the customer gets back in `tender`: the lines' total, cash-rounded for cash like a sale.
pub fn paid_back(r: &RefundState, tender: TenderKind, cash_rounding: i64) -> Result<i64, String> {
    let total: i64 = amounts(r)?.into_iter().flatten().sum();
    let rounding = match tender {
        TenderKind::Cash => {
            crate::domain::tender::cash_rounding(total, cash_rounding).map_err(|e| e.to_string())?
        }
        TenderKind::Card => 0,
    };
    Ok(total + rounding)
}
