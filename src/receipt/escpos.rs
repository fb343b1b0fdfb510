//! ESC/POS bytes of a receipt: the same lines as [`super::text`], the receipt's code as a QR
//! code (`GS ( k`, model 2), a cut, and optionally a cash-drawer kick (`ESC p`).
//!
//! Written by hand: the handful of commands below is all a receipt needs (see README,
//! "Receipts and printers", for why no crate). Text is sent as ASCII; a character outside it
//! prints as `?` (printers' code pages differ; the screen keeps the real name).

use super::text::{layout, Block};
use super::Receipt;

const ESC: u8 = 0x1b;
const GS: u8 = 0x1d;
const LF: u8 = 0x0a;

/// What to send besides the receipt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EscposOptions {
    /// Open the cash drawer (pin 2) before printing.
    pub kick_drawer: bool,
}

/// `ESC @`: initialise the printer.
pub fn init() -> [u8; 2] {
    [ESC, b'@']
}

/// `ESC p 0 25 250`: a 50 ms pulse on drawer pin 2, then 500 ms off.
pub fn drawer_kick() -> [u8; 5] {
    [ESC, b'p', 0, 25, 250]
}

/// `ESC a n`: 0 left, 1 centre.
fn justify(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[ESC, b'a', n]);
}

/// `GS ( k`: one QR code function with its data.
fn qr_fn(out: &mut Vec<u8>, cn_fn: &[u8]) {
    let len = cn_fn.len();
    out.extend_from_slice(&[GS, b'(', b'k', (len % 256) as u8, (len / 256) as u8]);
    out.extend_from_slice(cn_fn);
}

/// A QR code of `data` (model 2, module size 4, error correction M), centred.
pub fn qr_code(out: &mut Vec<u8>, data: &str) {
    justify(out, 1);
    qr_fn(out, &[49, 65, 50, 0]); // model 2
    qr_fn(out, &[49, 67, 4]); // module size
    qr_fn(out, &[49, 69, 49]); // error correction M
    let mut store = vec![49, 80, 48];
    store.extend(data.bytes().filter(u8::is_ascii));
    qr_fn(out, &store);
    qr_fn(out, &[49, 81, 48]); // print it
    justify(out, 0);
}

fn ascii_line(out: &mut Vec<u8>, text: &str) {
    out.extend(text.chars().map(|c| {
        if c.is_ascii() && !c.is_ascii_control() {
            c as u8
        } else {
            b'?'
        }
    }));
    out.push(LF);
}

/// The printer bytes of `receipt` laid out in `width` columns.
pub fn render(receipt: &Receipt, width: usize, opts: EscposOptions) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(&init());
    if opts.kick_drawer {
        out.extend_from_slice(&drawer_kick());
    }
    for block in layout(receipt, width) {
        match block {
            Block::Text(t) => ascii_line(&mut out, &t),
            Block::Code(t) => {
                ascii_line(&mut out, &t);
                qr_code(&mut out, &receipt.code);
            }
        }
    }
    // Feed past the cutter, then a partial cut.
    out.extend_from_slice(&[ESC, b'd', 4, GS, b'V', 66, 0]);
    out
}
