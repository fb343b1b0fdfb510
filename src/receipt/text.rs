//! A receipt laid out in columns: the lines a screen shows and a printer prints.
//!
//! [`layout`] gives [`Block`]s: text lines of at most `width` characters and the one line that
//! carries the receipt's code (printed as text here and as a QR code by the ESC/POS renderer).

use super::{Receipt, ReceiptKind};
use crate::domain::{Currency, TenderKind};

/// One line of a laid-out receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Text(String),
    /// The receipt's code: a text line here, a scannable code on a printer.
    Code(String),
}

impl Block {
    pub fn text(&self) -> &str {
        match self {
            Block::Text(t) | Block::Code(t) => t,
        }
    }
}

/// The receipt as plain text lines (what the screen and `kassa receipt` show).
pub fn render(receipt: &Receipt, width: usize) -> Vec<String> {
    layout(receipt, width)
        .iter()
        .map(|b| b.text().to_string())
        .collect()
}

fn cut(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

fn center(s: &str, width: usize) -> String {
    let s = cut(s, width);
    let pad = (width - s.chars().count()) / 2;
    format!("{}{s}", " ".repeat(pad))
}

/// `label` left, `value` right; the label gives way when both do not fit.
fn pair(label: &str, value: &str, width: usize) -> String {
    let v = value.chars().count();
    let room = width.saturating_sub(v + 1);
    let l = cut(label, room);
    let gap = width.saturating_sub(l.chars().count() + v);
    format!("{l}{}{value}", " ".repeat(gap.max(1)))
}

/// Words wrapped to `width` (a word longer than that is cut).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let word = cut(word, width);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

fn rate(bp: i64) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

fn tender_name(kind: TenderKind) -> &'static str {
    match kind {
        TenderKind::Cash => "Cash",
        TenderKind::Card => "Card",
    }
}

/// The receipt as blocks, each at most `width` characters (callers check the width).
pub fn layout(r: &Receipt, width: usize) -> Vec<Block> {
    let cur = Currency::from_code(&r.currency).unwrap_or(Currency::EUR);
    let m = |v: i64| cur.format(v);
    let neg = |v: i64| cur.format(-v);
    let rule = "-".repeat(width);
    let mut out: Vec<String> = Vec::new();
    let h = &r.header;
    if !h.store_name.trim().is_empty() {
        for l in wrap(&h.store_name, width) {
            out.push(center(&l, width));
        }
    }
    for part in h.address.split('\n').filter(|p| !p.trim().is_empty()) {
        for l in wrap(part, width) {
            out.push(center(&l, width));
        }
    }
    if !h.tax_id.trim().is_empty() {
        out.push(center(&format!("Tax ID {}", h.tax_id.trim()), width));
    }
    if r.copy {
        out.push(center("*** COPY ***", width));
    }
    out.push(rule.clone());
    let title = match r.kind {
        ReceiptKind::Sale => "RECEIPT",
        ReceiptKind::Refund => "REFUND",
        ReceiptKind::Void => "VOID",
    };
    out.push(pair(title, &format!("#{}", r.seq), width));
    out.push(cut(&r.local_time, width));
    if let Some(c) = &r.cashier {
        out.extend(wrap(&format!("Cashier: {c}"), width));
    }
    if let Some(s) = &r.shift {
        out.extend(wrap(
            &format!("Shift #{} opened {}", s.open_seq, s.opened_at),
            width,
        ));
    }
    match (r.kind, &r.reference) {
        (ReceiptKind::Refund, Some(code)) => {
            out.push("Refund of receipt".to_string());
            out.push(cut(code, width));
        }
        (ReceiptKind::Refund, None) => out.push("Refund without a receipt".to_string()),
        (ReceiptKind::Void, Some(code)) => {
            out.push("Sale voided".to_string());
            out.push(cut(code, width));
        }
        _ => {}
    }
    if let Some(reason) = &r.reason {
        for l in wrap(&format!("Reason: {reason}"), width) {
            out.push(l);
        }
    }
    out.push(rule.clone());
    let refund = r.kind != ReceiptKind::Sale;
    for l in &r.lines {
        out.push(cut(&l.name, width));
        let left = match l.unit_price_cents {
            Some(unit) => format!("  {} x {}", l.qty, m(unit)),
            None => format!("  {} returned", l.qty),
        };
        let total = if refund {
            neg(l.total_cents)
        } else {
            m(l.total_cents)
        };
        out.push(pair(&left, &total, width));
        if l.discount_cents != 0 {
            out.push(pair("  discount", &neg(l.discount_cents), width));
        }
    }
    if !r.lines.is_empty() {
        out.push(rule.clone());
    }
    let (total_label, due_label) = match r.kind {
        ReceiptKind::Sale => ("TOTAL", "TO PAY"),
        ReceiptKind::Refund => ("REFUND TOTAL", "PAID BACK"),
        ReceiptKind::Void => ("VOIDED", "PAID BACK"),
    };
    out.push(pair(
        &format!("{total_label} {}", r.currency),
        &m(r.total_cents),
        width,
    ));
    if r.rounding_cents != 0 {
        out.push(pair("Cash rounding", &m(r.rounding_cents), width));
        out.push(pair(due_label, &m(r.due_cents), width));
    }
    for t in &r.tenders {
        let label = if refund {
            format!("{} back", tender_name(t.kind))
        } else {
            tender_name(t.kind).to_string()
        };
        out.push(pair(&label, &m(t.amount_cents), width));
    }
    if !refund {
        out.push(pair("Change", &m(r.change_cents), width));
    }
    if !r.taxes.is_empty() {
        out.push(rule.clone());
        let col = (width - 8) / 2;
        out.push(format!("{:<8}{:>col$}{:>col$}", "Rate", "Net", "Tax"));
        for t in &r.taxes {
            out.push(format!(
                "{:<8}{:>col$}{:>col$}",
                rate(t.rate_bp),
                m(t.net_cents),
                m(t.tax_cents)
            ));
        }
        out.push(pair("Tax total", &m(r.tax_cents), width));
    }
    out.push(rule);
    out.push(center("Receipt code", width));
    let mut blocks: Vec<Block> = out.into_iter().map(Block::Text).collect();
    blocks.push(Block::Code(center(&r.code, width)));
    if r.copy {
        blocks.push(Block::Text(center("*** COPY ***", width)));
    }
    blocks
}
