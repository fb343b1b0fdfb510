//! From what the store read back to a [`Receipt`]: the store's header (config over the server's
//! store record, field by field), the cashier and shift the document names, and the printer
//! bytes. Shared by `kassa receipt`, `kassa sell` and the console, so that all three print the
//! same receipt for the same document.

use super::escpos::{self, EscposOptions};
use super::{local_format, Receipt, ReceiptContext, ReceiptShift, StoreHeader};
use crate::config::Config;
use crate::store::{DocumentBy, Printable, ReceiptSource, StoreRecord};
use crate::timefmt::Zone;

/// What config says about receipts: the header it sets, the width, the drawer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSetup {
    /// `[receipt]` store_name, address, tax_id (empty: the server's, when it sent one).
    pub header: StoreHeader,
    pub width: usize,
    /// Kick the cash drawer when a receipt has a cash tender (never for a copy).
    pub cash_drawer: bool,
    pub zone: Zone,
}

impl Default for ReceiptSetup {
    fn default() -> Self {
        ReceiptSetup::from_config(&Config::default())
    }
}

impl ReceiptSetup {
    pub fn from_config(config: &Config) -> ReceiptSetup {
        let r = &config.receipt;
        ReceiptSetup {
            header: StoreHeader {
                store_name: r.store_name.clone(),
                address: r.address.replace("\\n", "\n"),
                tax_id: r.tax_id.clone(),
            },
            width: r.width,
            cash_drawer: config.printer.cash_drawer,
            zone: Zone::Local,
        }
    }

    /// The context of a receipt of `src` (a copy or not).
    pub fn context(&self, src: &ReceiptSource, copy: bool) -> ReceiptContext {
        ReceiptContext {
            header: header_of(&self.header, src.store.as_ref()),
            zone: self.zone,
            cashier: cashier_of(&src.by),
            shift: src.by.shift.as_ref().map(|s| ReceiptShift {
                id: s.shift_id.to_string(),
                open_seq: s.open_seq,
                opened_at: local_format(self.zone, &s.opened_at, "%Y-%m-%d %H:%M"),
            }),
            copy,
        }
    }

    /// The receipt of `src`.
    pub fn receipt(&self, src: &ReceiptSource, copy: bool) -> Receipt {
        receipt_of(src.seq, &src.doc, &self.context(src, copy))
    }

    /// The ESC/POS bytes of `receipt` at `width`: the drawer opens for cash, never for a copy.
    pub fn bytes(&self, receipt: &Receipt, width: usize) -> Vec<u8> {
        let kick = self.cash_drawer && receipt.has_cash() && !receipt.copy;
        escpos::render(receipt, width, EscposOptions { kick_drawer: kick })
    }
}

/// The receipt of a document the store read back.
pub fn receipt_of(seq: i64, doc: &Printable, ctx: &ReceiptContext) -> Receipt {
    match doc {
        Printable::Sale(s) => Receipt::of_sale(seq, s, ctx),
        Printable::Refund(r) => Receipt::of_refund(seq, r, ctx),
        Printable::Void(v, currency) => Receipt::of_void(seq, v, currency, ctx),
    }
}

/// Each header field from config when it sets one, else from the server's store record.
pub fn header_of(config: &StoreHeader, server: Option<&StoreRecord>) -> StoreHeader {
    let pick = |own: &str, theirs: Option<&str>| {
        if own.trim().is_empty() {
            theirs.unwrap_or_default().to_string()
        } else {
            own.to_string()
        }
    };
    StoreHeader {
        store_name: pick(&config.store_name, server.map(|s| s.name.as_str())),
        address: pick(&config.address, server.map(|s| s.address.as_str())),
        tax_id: pick(&config.tax_id, server.map(|s| s.tax_id.as_str())),
    }
}

/// The cashier a receipt names: the staff member, else the operator of a headless command
/// (`technician:ops` reads `ops (technician)`); nobody on a till without staff.
pub fn cashier_of(by: &DocumentBy) -> Option<String> {
    if let Some(name) = &by.staff_name {
        return Some(name.clone());
    }
    let op = by.operator.as_deref()?.trim();
    Some(match op.split_once(':') {
        Some((role, user)) if !user.is_empty() => format!("{user} ({role})"),
        _ => op.to_string(),
    })
    .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_header_fields_win_and_empty_ones_take_the_servers() {
        let config = StoreHeader {
            store_name: "Corner Shop".into(),
            address: String::new(),
            tax_id: " ".into(),
        };
        let server = StoreRecord {
            name: "Server name".into(),
            address: "Main St 1".into(),
            tax_id: "DE1".into(),
        };
        let h = header_of(&config, Some(&server));
        assert_eq!(h.store_name, "Corner Shop");
        assert_eq!(h.address, "Main St 1");
        assert_eq!(h.tax_id, "DE1");
        assert_eq!(header_of(&config, None).address, "");
    }

    #[test]
    fn the_cashier_is_the_staff_member_else_the_technician() {
        let staff = DocumentBy {
            staff_name: Some("Ana".into()),
            ..DocumentBy::default()
        };
        assert_eq!(cashier_of(&staff).as_deref(), Some("Ana"));
        let tech = DocumentBy {
            operator: Some("technician:ops".into()),
            ..DocumentBy::default()
        };
        assert_eq!(cashier_of(&tech).as_deref(), Some("ops (technician)"));
        assert_eq!(cashier_of(&DocumentBy::default()), None);
    }
}
