//! End-to-end: the real binary in a pseudo-terminal (80x24, NO_COLOR) with a file printer
//! (`[printer] kind = "file"`): a cash sale is saved, its receipt comes on screen and is
//! printed to the file (ESC/POS with the receipt's code); `p` prints a copy.

mod console_support;
mod support;

use std::time::Duration;

use console_support::pty::{PtyConsole, ENTER, F5};
use support::Till;

const WAIT: Duration = Duration::from_secs(10);

/// Waits until `path` holds `needle` (the print worker appends after the sale is saved).
fn wait_file_contains(path: &std::path::Path, needle: &[u8]) -> Vec<u8> {
    let until = std::time::Instant::now() + WAIT;
    loop {
        let bytes = std::fs::read(path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return bytes;
        }
        assert!(
            std::time::Instant::now() < until,
            "{} never held {:?}; it holds {:?}",
            path.display(),
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(&bytes)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sale_shows_its_receipt_prints_it_to_the_file_printer_and_p_prints_a_copy() {
    let till = Till::new();
    let printed = till.dir.path().join("printer.bin");
    let cfg = till.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[receipt]\nstore_name = \"Corner Shop\"\nwidth = 42\n\n[printer]\nkind = \"file\"\npath = \"{}\"\n",
            printed.display()
        ),
    )
    .unwrap();
    let cfg_arg = cfg.to_string_lossy().to_string();
    let mut console = PtyConsole::start(till.dir.path(), &till.db, &["--config", &cfg_arg], 80, 24);
    console.wait_for("Code/barcode", WAIT);
    console.type_keys("1001\r");
    console.wait_for("Whole milk 1L", WAIT);
    console.send(F5);
    console.wait_for("Cash given", WAIT);
    console.type_keys("5");
    console.send(ENTER);
    console.wait_for("saved #1", WAIT);
    // The receipt on screen, from the same renderer as `kassa receipt`.
    console.wait_for("Receipt #1", WAIT);
    console.wait_for("Corner Shop", WAIT);
    console.wait_for("p reprint (copy)", WAIT);

    let shown = till.json(&["receipt", "1", "--json"]);
    let code = shown["code"].as_str().expect("a receipt code").to_string();
    let bytes = wait_file_contains(&printed, code.as_bytes());
    assert!(
        bytes.starts_with(&[0x1b, b'@']),
        "ESC/POS starts with ESC @"
    );
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Corner Shop"));
    assert!(text.contains("RECEIPT"));
    assert!(!text.contains("COPY"), "the first print is the original");

    console.send("p");
    console.wait_for("copy printed", WAIT);
    let bytes = wait_file_contains(&printed, b"*** COPY ***");
    // Two receipts in the file now, both with the code.
    let n = bytes
        .windows(code.len())
        .filter(|w| *w == code.as_bytes())
        .count();
    assert!(n >= 2, "two prints of the code, found {n}");

    // `q` is not a key of the receipt: it closes, and the empty console quits.
    console.quit(WAIT);
    let status = till.json(&["status", "--json"]);
    assert_eq!(status["print_failures"], serde_json::json!([]));
}
