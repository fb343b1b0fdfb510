//! The receipt on screen: shown after a sale and on demand (the last one, or the queue's
//! selected sale, refund or void), laid out by the same renderer as `kassa receipt`, with a
//! key to print it and the fate of each print this console asked for.
//!
//! Printing a receipt that printed is a reprint, marked as a copy; printing one whose print
//! failed (or that was never printed) is the original. A receipt of an older document
//! printed before unless the store has a failed print of it on record (or printing after a
//! sale is off), as `kassa receipt --print` reckons.

use super::action::Command;
use super::keymap::KeyCmd;
use super::sales::SalesMode;
use super::state::{FlashLevel, Focus, Popup, State};
use crate::domain::{OpKind, ReceiptRef};

/// A document's receipt as the store laid it out for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptShown {
    pub seq: i64,
    /// `sale`, `refund` or `void`.
    pub kind: &'static str,
    /// The text lines at the configured width (what the printer prints, code included).
    pub lines: Vec<String>,
    /// The last error of a failed print on record, if one is.
    pub failed: Option<String>,
}

/// What became of this console's prints of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintState {
    Printing { copy: bool },
    Printed { copy: bool },
    Failed(String),
}

/// The receipt popup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptPopup {
    pub shown: ReceiptShown,
    pub scroll: u16,
}

/// Printing as the console knows it: set up by the event loop from `[printer]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptsState {
    /// A printer is configured.
    pub printer: bool,
    /// `printer.print_after_sale`: a sale's receipt prints when the sale is saved.
    pub print_after_sale: bool,
    /// The last document this console saved a receipt for (sale).
    pub last: Option<i64>,
    /// A sale's receipt on its way to the screen after the sale was saved.
    after_sale: Option<i64>,
    /// This console's prints, newest last (a few dozen at most).
    prints: Vec<(i64, PrintState)>,
}

/// How many receipts' print states are kept.
const KEPT: usize = 50;

impl ReceiptsState {
    pub fn state_of(&self, seq: i64) -> Option<&PrintState> {
        self.prints
            .iter()
            .rev()
            .find(|(s, _)| *s == seq)
            .map(|(_, p)| p)
    }

    fn set(&mut self, seq: i64, state: PrintState) {
        self.prints.retain(|(s, _)| *s != seq);
        self.prints.push((seq, state));
        if self.prints.len() > KEPT {
            self.prints.remove(0);
        }
    }

    /// Whether printing `shown` now is a reprint (a copy).
    fn is_copy(&self, shown: &ReceiptShown) -> bool {
        match self.state_of(shown.seq) {
            Some(PrintState::Printed { .. } | PrintState::Printing { .. }) => true,
            Some(PrintState::Failed(_)) => false,
            None => shown.failed.is_none() && self.print_after_sale && self.printer,
        }
    }
}

/// A sale was saved: its receipt comes on screen and, when configured, goes to the printer.
pub fn after_sale(st: &mut State, seq: Option<i64>) -> Vec<Command> {
    let Some(seq) = seq else {
        return Vec::new();
    };
    st.receipts.last = Some(seq);
    st.receipts.after_sale = Some(seq);
    let mut cmds = vec![Command::LoadReceipt {
        receipt: ReceiptRef::Seq(seq),
    }];
    if st.receipts.printer && st.receipts.print_after_sale {
        cmds.extend(print(st, seq, false));
    }
    cmds
}

/// The last receipt of this console, on screen again.
pub fn show_last(st: &mut State) -> Vec<Command> {
    match st.receipts.last {
        Some(seq) => vec![Command::LoadReceipt {
            receipt: ReceiptRef::Seq(seq),
        }],
        None => {
            st.flash(
                FlashLevel::Info,
                "no receipt yet: p on a sale in the queue (F2) shows its receipt",
            );
            Vec::new()
        }
    }
}

/// The receipt of the queue's selected op (or the one in detail), when it is a sale, refund
/// or void.
pub fn show_selected(st: &mut State) -> Vec<Command> {
    let item = match &st.popup {
        Some(Popup::OpDetail { detail, .. }) => Some(&detail.item),
        _ => st.queue.selected_row(),
    };
    let Some(item) = item.cloned() else {
        return Vec::new();
    };
    match item.kind {
        OpKind::Sale | OpKind::Refund | OpKind::VoidSale => vec![Command::LoadReceipt {
            receipt: ReceiptRef::Seq(item.seq),
        }],
        _ => {
            let text = format!(
                "#{} is a {}: it has no receipt",
                item.seq,
                item.kind.as_str()
            );
            st.flash(FlashLevel::Info, text);
            Vec::new()
        }
    }
}

fn print(st: &mut State, seq: i64, copy: bool) -> Vec<Command> {
    st.receipts.set(seq, PrintState::Printing { copy });
    vec![Command::PrintReceipt { seq, copy }]
}

/// The store's answer to [`Command::LoadReceipt`].
///
/// The receipt never covers something opened meanwhile: after a sale it shows only if the
/// cashier has not moved on (no popup, no refund mode, still in the sales pane, nothing typed
/// or rung up yet); on demand it takes the
/// place of the op detail it was asked from, or of another receipt.
pub fn on_loaded(st: &mut State, result: Result<Option<ReceiptShown>, String>) {
    let after_sale = match &result {
        Ok(Some(shown)) => st
            .receipts
            .after_sale
            .take_if(|s| *s == shown.seq)
            .is_some(),
        _ => false,
    };
    let moved_on = st.refund.is_some()
        || st.focus != Focus::Sales
        || st.sales.mode != SalesMode::Entry
        || !st.sales.input.value().is_empty()
        || !st.sales.cart.is_empty();
    let free = match &st.popup {
        None => !after_sale || !moved_on,
        Some(Popup::OpDetail { .. } | Popup::Receipt(_)) => !after_sale,
        Some(_) => false,
    };
    match result {
        Ok(Some(_)) if !free || st.locked() => {}
        Ok(Some(shown)) => st.popup = Some(Popup::Receipt(ReceiptPopup { shown, scroll: 0 })),
        Ok(None) => st.flash(FlashLevel::Error, "no such receipt on this till"),
        Err(e) => st.flash(FlashLevel::Error, format!("receipt: {e}")),
    }
}

/// The printer's answer for document `seq` (the store records it next).
pub fn on_printed(st: &mut State, seq: i64, result: Result<(), String>) -> Vec<Command> {
    let copy = matches!(
        st.receipts.state_of(seq),
        Some(PrintState::Printing { copy: true })
    );
    match &result {
        Ok(()) => {
            st.receipts.set(seq, PrintState::Printed { copy });
            // The receipt on screen says so itself; the flash keeps "saved · change".
            let on_screen = matches!(&st.popup, Some(Popup::Receipt(p)) if p.shown.seq == seq);
            if !on_screen {
                let what = if copy { "copy of receipt" } else { "receipt" };
                st.flash(FlashLevel::Success, format!("{what} #{seq} printed"));
            }
        }
        Err(e) => {
            st.receipts.set(seq, PrintState::Failed(e.clone()));
            st.flash(
                FlashLevel::Error,
                format!("receipt #{seq} NOT printed: {e} (the sale is saved; C-p prints again)"),
            );
        }
    }
    vec![Command::RecordPrint { seq, result }]
}

/// Failed receipts sent to the printer again (`Ctrl-P`), or why not.
pub fn on_retried(st: &mut State, result: Result<Vec<i64>, String>) {
    match result {
        Ok(seqs) if seqs.is_empty() => st.flash(FlashLevel::Info, "no receipt is waiting to print"),
        Ok(seqs) => {
            for seq in &seqs {
                st.receipts.set(*seq, PrintState::Printing { copy: false });
            }
            let list: Vec<String> = seqs.iter().map(|s| format!("#{s}")).collect();
            st.flash(
                FlashLevel::Info,
                format!("printing again: {}", list.join(" ")),
            );
        }
        Err(e) => st.flash(FlashLevel::Error, format!("print again: {e}")),
    }
}

/// `Ctrl-P`: every receipt whose print failed goes to the printer again.
pub fn retry_failed(st: &mut State) -> Vec<Command> {
    if !st.receipts.printer {
        st.flash(FlashLevel::Error, NO_PRINTER);
        return Vec::new();
    }
    vec![Command::RetryFailedPrints]
}

const NO_PRINTER: &str = "no printer is configured ([printer] kind in the config)";

/// A key while the receipt is on screen; `None` when it is not the receipt's (the popup
/// closes and the key does what it does behind it: the next scan starts the next sale).
pub fn on_key(st: &mut State, cmd: Option<KeyCmd>) -> Option<Vec<Command>> {
    let Some(Popup::Receipt(p)) = &mut st.popup else {
        return None;
    };
    let rows = u16::try_from(p.shown.lines.len()).unwrap_or(u16::MAX);
    match cmd {
        Some(KeyCmd::Cancel) => st.popup = None,
        Some(KeyCmd::Up) => p.scroll = p.scroll.saturating_sub(1),
        Some(KeyCmd::Down) => p.scroll = p.scroll.saturating_add(1).min(rows),
        Some(KeyCmd::PageUp) => p.scroll = p.scroll.saturating_sub(10),
        Some(KeyCmd::PageDown) => p.scroll = p.scroll.saturating_add(10).min(rows),
        Some(KeyCmd::Print) => {
            let shown = p.shown.clone();
            if !st.receipts.printer {
                st.flash(FlashLevel::Error, NO_PRINTER);
            } else if let Some(PrintState::Printing { .. }) = st.receipts.state_of(shown.seq) {
                st.flash(
                    FlashLevel::Info,
                    format!("receipt #{} is printing", shown.seq),
                );
            } else {
                let copy = st.receipts.is_copy(&shown);
                return Some(print(st, shown.seq, copy));
            }
        }
        _ => {
            st.popup = None;
            return None;
        }
    }
    Some(Vec::new())
}

/// What the receipt's print line says, and whether it is bad news.
pub fn print_status(st: &State, shown: &ReceiptShown) -> (String, bool) {
    if !st.receipts.printer {
        return ("no printer configured".into(), false);
    }
    match st.receipts.state_of(shown.seq) {
        Some(PrintState::Printing { copy: true }) => ("printing a copy…".into(), false),
        Some(PrintState::Printing { copy: false }) => ("printing…".into(), false),
        Some(PrintState::Printed { copy: true }) => ("copy printed".into(), false),
        Some(PrintState::Printed { copy: false }) => ("printed".into(), false),
        Some(PrintState::Failed(e)) => (format!("✗ NOT printed: {e}"), true),
        None => match &shown.failed {
            Some(e) => (format!("✗ NOT printed: {e}"), true),
            None => (String::new(), false),
        },
    }
}

/// The print key's words for this receipt: `print` or `reprint (copy)`.
pub fn print_label(st: &State, shown: &ReceiptShown) -> &'static str {
    if st.receipts.is_copy(shown) {
        "reprint (copy)"
    } else {
        "print"
    }
}
