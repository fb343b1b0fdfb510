//! Receipts: what a customer is handed for a committed sale, refund or void.
//!
//! [`Receipt`] is built from a document as the store read it back (never from the cart), with
//! the store's header (config, else the server's store record), the cashier and shift and the
//! time in the till's zone ([`source`]); [`text`] lays it out in 32, 42 or 48 columns and
//! [`escpos`] turns the same lines into printer bytes, with the receipt's code as a QR code.
//! Pure: no I/O. Money stays integer minor units until it is formatted.

pub mod escpos;
pub mod source;
pub mod text;

pub use source::{receipt_of, ReceiptSetup};

use serde::Serialize;
use uuid::Uuid;

use crate::domain::{CompletedSale, ReceiptRef, Refund, SaleVoid, TenderKind};
use crate::timefmt::{self, Zone};

/// The widths a receipt can be laid out in (58 mm printers: 32; 80 mm: 42 or 48).
pub const WIDTHS: [usize; 3] = [32, 42, 48];
/// The narrowest and widest layouts.
pub const MIN_WIDTH: usize = 32;
pub const MAX_WIDTH: usize = 48;

/// The store's name, address and tax id (config `[receipt]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreHeader {
    pub store_name: String,
    pub address: String,
    pub tax_id: String,
}

/// Which document a receipt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptKind {
    Sale,
    Refund,
    Void,
}

/// One line of goods: what was sold (or taken back) and for how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptLine {
    pub name: String,
    pub qty: i64,
    /// Unit price as sold; `None` on a refund line (it pays back an amount for `qty` units).
    pub unit_price_cents: Option<i64>,
    pub discount_cents: i64,
    pub total_cents: i64,
    pub tax_rate_bp: i64,
}

/// Tax of one rate: the net amount and the tax on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxRow {
    pub rate_bp: i64,
    pub net_cents: i64,
    pub tax_cents: i64,
}

/// The shift a receipt was rung up in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptShift {
    pub id: String,
    /// The seq of the shift's opening document.
    pub open_seq: i64,
    /// `YYYY-MM-DD HH:MM` in the till's zone.
    pub opened_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptTender {
    pub kind: TenderKind,
    pub amount_cents: i64,
    pub change_cents: i64,
}

/// A receipt, ready to lay out. Amounts are positive; the kind says which way money went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub kind: ReceiptKind,
    pub seq: i64,
    /// The document's id (sale id, refund id, void id).
    pub id: Uuid,
    /// The compact 32-hex code printed (and scanned) for the document's id.
    pub code: String,
    /// As stored (RFC 3339 UTC).
    pub created_at: String,
    /// `YYYY-MM-DD HH:MM:SS` in the till's zone.
    pub local_time: String,
    pub currency: String,
    pub header: StoreHeader,
    /// Who rang it up: the staff member's name, or the technician of a headless command.
    pub cashier: Option<String>,
    pub shift: Option<ReceiptShift>,
    /// A reprint: marked as a copy.
    pub copy: bool,
    /// Refund: the code of the sale refunded; void: the code of the sale voided.
    pub reference: Option<String>,
    pub reason: Option<String>,
    pub lines: Vec<ReceiptLine>,
    pub taxes: Vec<TaxRow>,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    /// Total plus cash rounding: what was paid (or paid back).
    pub due_cents: i64,
    pub tenders: Vec<ReceiptTender>,
    pub change_cents: i64,
}

/// Who and when, besides the document itself.
#[derive(Debug, Clone, Default)]
pub struct ReceiptContext {
    pub header: StoreHeader,
    pub zone: Zone,
    pub cashier: Option<String>,
    pub shift: Option<ReceiptShift>,
    pub copy: bool,
}

fn local_time(zone: Zone, stored: &str) -> String {
    local_format(zone, stored, "%Y-%m-%d %H:%M:%S")
}

fn local_format(zone: Zone, stored: &str, format: &str) -> String {
    match timefmt::parse(stored) {
        Some(t) => t
            .with_timezone(&zone.offset_at(t))
            .format(format)
            .to_string(),
        None => stored.to_string(),
    }
}

/// Tax per rate, in the order the rates first appear.
fn tax_rows<'a>(lines: impl Iterator<Item = (i64, i64, i64)> + 'a) -> Vec<TaxRow> {
    let mut rows: Vec<TaxRow> = Vec::new();
    for (rate, total, tax) in lines {
        match rows.iter_mut().find(|r| r.rate_bp == rate) {
            Some(r) => {
                r.net_cents += total - tax;
                r.tax_cents += tax;
            }
            None => rows.push(TaxRow {
                rate_bp: rate,
                net_cents: total - tax,
                tax_cents: tax,
            }),
        }
    }
    rows
}

impl Receipt {
    fn base(kind: ReceiptKind, seq: i64, id: Uuid, created_at: &str, ctx: &ReceiptContext) -> Self {
        Receipt {
            kind,
            seq,
            id,
            code: ReceiptRef::code(&id),
            created_at: created_at.to_string(),
            local_time: local_time(ctx.zone, created_at),
            currency: String::new(),
            header: ctx.header.clone(),
            cashier: ctx.cashier.clone(),
            shift: ctx.shift.clone(),
            copy: ctx.copy,
            reference: None,
            reason: None,
            lines: Vec::new(),
            taxes: Vec::new(),
            total_cents: 0,
            tax_cents: 0,
            rounding_cents: 0,
            due_cents: 0,
            tenders: Vec::new(),
            change_cents: 0,
        }
    }

    /// The receipt of a committed sale.
    pub fn of_sale(seq: i64, sale: &CompletedSale, ctx: &ReceiptContext) -> Receipt {
        let mut r = Receipt::base(ReceiptKind::Sale, seq, sale.sale_id, &sale.created_at, ctx);
        r.currency = sale.currency.clone();
        r.lines = sale
            .lines
            .iter()
            .map(|l| ReceiptLine {
                name: l.name.clone(),
                qty: l.qty,
                unit_price_cents: Some(l.unit_price_cents),
                discount_cents: l.discount_cents,
                total_cents: l.line_total_cents,
                tax_rate_bp: l.tax_rate_bp,
            })
            .collect();
        r.taxes = tax_rows(
            sale.lines
                .iter()
                .map(|l| (l.tax_rate_bp, l.line_total_cents, l.tax_cents)),
        );
        r.total_cents = sale.total_cents;
        r.tax_cents = sale.tax_cents;
        r.rounding_cents = sale.rounding_cents;
        r.due_cents = sale.due_cents();
        r.tenders = sale
            .tenders
            .iter()
            .map(|t| ReceiptTender {
                kind: t.kind,
                amount_cents: t.amount_cents,
                change_cents: t.change_cents,
            })
            .collect();
        r.change_cents = sale.change_cents();
        r
    }

    /// The receipt of a committed refund.
    pub fn of_refund(seq: i64, refund: &Refund, ctx: &ReceiptContext) -> Receipt {
        let mut r = Receipt::base(
            ReceiptKind::Refund,
            seq,
            refund.refund_id,
            &refund.created_at,
            ctx,
        );
        r.currency = refund.currency.clone();
        r.reference = refund.original_sale_id.as_ref().map(ReceiptRef::code);
        r.reason = Some(refund.reason.clone()).filter(|s| !s.is_empty());
        r.lines = refund
            .lines
            .iter()
            .map(|l| ReceiptLine {
                name: l.name.clone(),
                qty: l.qty,
                unit_price_cents: None,
                discount_cents: 0,
                total_cents: l.amount_cents,
                tax_rate_bp: l.tax_rate_bp,
            })
            .collect();
        r.taxes = tax_rows(
            refund
                .lines
                .iter()
                .map(|l| (l.tax_rate_bp, l.amount_cents, l.tax_cents)),
        );
        r.total_cents = refund.total_cents;
        r.tax_cents = refund.tax_cents;
        r.rounding_cents = refund.rounding_cents;
        r.due_cents = refund.total_cents + refund.rounding_cents;
        r.tenders = refund
            .tenders
            .iter()
            .map(|t| ReceiptTender {
                kind: t.kind,
                amount_cents: t.amount_cents,
                change_cents: 0,
            })
            .collect();
        r
    }

    /// The receipt of a committed void (`currency` is the voided sale's).
    pub fn of_void(seq: i64, void: &SaleVoid, currency: &str, ctx: &ReceiptContext) -> Receipt {
        let mut r = Receipt::base(ReceiptKind::Void, seq, void.void_id, &void.created_at, ctx);
        r.currency = currency.to_string();
        r.reference = Some(ReceiptRef::code(&void.sale_id));
        r.reason = Some(void.reason.clone()).filter(|s| !s.is_empty());
        r.total_cents = void.total_cents;
        r.due_cents = void.total_cents;
        r.tenders = void
            .tenders
            .iter()
            .map(|t| ReceiptTender {
                kind: t.kind,
                amount_cents: t.amount_cents,
                change_cents: 0,
            })
            .collect();
        r
    }

    /// True when money changed hands in cash (the drawer opens).
    pub fn has_cash(&self) -> bool {
        self.tenders.iter().any(|t| t.kind == TenderKind::Cash)
    }
}

/// Checks a layout width: one of 32 to 48 columns.
pub fn check_width(width: usize) -> Result<usize, String> {
    if (MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        Ok(width)
    } else {
        Err(format!(
            "width {width} is out of range: receipts are {MIN_WIDTH} to {MAX_WIDTH} columns (32, 42 or 48 for common printers)"
        ))
    }
}
