//! `kassa receipt` and printing through the real binary: a test printer on a local TCP port
//! captures the bytes of a printed sale (rung up by a cashier in a shift) and an independent
//! ESC/POS decoder (npm `npos`) reads them back as the on-screen receipt, cashier and shift
//! included; a printer that refuses never fails a sale, the failure
//! shows in `kassa status` and a retry prints it; bad input is one line and exit 2.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use support::Till;

const HEADER: &str = "[receipt]\nstore_name = \"Corner Shop\"\naddress = \"Hauptstrasse 1\\n10115 Berlin\"\ntax_id = \"DE123456789\"\nwidth = 42\n";

fn config(till: &Till, printer: &str) -> PathBuf {
    let path = till.dir.path().join("config.toml");
    std::fs::write(&path, format!("cash_rounding = 5\n{HEADER}{printer}")).unwrap();
    path
}

fn run(till: &Till, cfg: &Path, args: &[&str]) -> std::process::Output {
    till.cmd()
        .arg("--config")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap()
}

/// `kassa ARGS` with `input` on standard input (a PIN).
fn run_in(till: &Till, cfg: &Path, args: &[&str], input: &str) -> std::process::Output {
    let mut c = till.cmd();
    c.arg("--config").arg(cfg).args(args);
    support::with_stdin(c, input)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A printer on a local port: accepts one connection and hands over everything it received.
fn test_printer() -> (String, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            let _ = tx.send(buf);
        }
    });
    (addr, rx)
}

/// An address where nothing listens (bound, then closed).
fn refusing_address() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap().to_string();
    drop(l);
    a
}

fn tcp(addr: &str, drawer: bool) -> String {
    format!("[printer]\nkind = \"tcp\"\naddress = \"{addr}\"\ntimeout_ms = 2000\ncash_drawer = {drawer}\n")
}

/// Where npm installs `npos` for these tests (beside the test binaries).
fn npos_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("."));
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
        .join("kassa-npos")
}

fn install_npos() -> Result<PathBuf, String> {
    let dir = npos_dir();
    if dir.join("node_modules/npos/package.json").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefix",
        ])
        .arg(&dir)
        .arg("npos@0.1.19")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("npm not runnable: {e}"))?;
    if !out.status.success() || !dir.join("node_modules/npos/package.json").exists() {
        return Err(format!(
            "npm install npos failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(dir)
}

fn decode(npos: &Path, bytes: &[u8], work: &Path) -> serde_json::Value {
    let bin = work.join("printed.bin");
    let json = work.join("decoded.json");
    std::fs::write(&bin, bytes).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/decode_escpos.js");
    let out = Command::new("node")
        .arg(script)
        .arg(&bin)
        .arg(&json)
        .env("NPOS_DIR", npos)
        .stdin(Stdio::null())
        .output()
        .expect("run node");
    assert!(out.status.success(), "decoder: {}", stderr(&out));
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

#[test]
fn a_printed_sale_decodes_to_the_receipt_on_screen_line_by_line_with_its_code() {
    let npos = match install_npos() {
        Ok(d) => d,
        Err(why) => {
            println!("SKIP independent ESC/POS decoder: {why}");
            return;
        }
    };
    let till = Till::new();
    let (addr, printed) = test_printer();
    let cfg = config(&till, &tcp(&addr, true));
    // A cashier with a shift open rings the sale up.
    let added = run_in(
        &till,
        &cfg,
        &["staff", "add", "Ana Berg", "--role", "cashier"],
        "2468\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    // `id<TAB>role<TAB>name`
    let ana = String::from_utf8_lossy(&added.stdout)
        .split('\t')
        .next()
        .unwrap()
        .trim()
        .to_string();
    let opened = run(
        &till,
        &cfg,
        &["shift", "open", "--float", "100.00", "--staff", &ana],
    );
    assert!(opened.status.success(), "{}", stderr(&opened));
    let out = run(
        &till,
        &cfg,
        &[
            "sell", "--json", "--staff", &ana, "1001*2", "1003", "1004", "--pay", "cash:20",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let sold: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let seq = sold["seq"].to_string();
    let bytes = printed
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the test printer got the receipt");
    let shown = run(&till, &cfg, &["receipt", &seq, "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let decoded = decode(&npos, &bytes, till.dir.path());
    assert!(shown["text"].as_array().unwrap().len() > 20, "{shown}");
    assert_eq!(shown["cashier"], "Ana Berg");
    let text: Vec<&str> = decoded["text"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    assert!(text.contains(&"Cashier: Ana Berg"), "{text:#?}");
    assert!(
        text.iter().any(|l| l.starts_with("Shift #1 opened ")),
        "{text:#?}"
    );
    assert_eq!(
        decoded["text"], shown["text"],
        "decoded text vs on-screen lines"
    );
    assert_eq!(decoded["qr"], serde_json::json!([shown["code"]]));
    let code = shown["code"].as_str().unwrap();
    assert_eq!(code.len(), 32);
    // The code on the receipt is one the refund lookup takes.
    assert!(kassa::domain::ReceiptRef::parse(code).is_ok());
    let commands: Vec<&str> = decoded["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert_eq!(commands.first(), Some(&"ESC @"));
    assert!(
        commands.contains(&"ESC p"),
        "cash opens the drawer: {commands:?}"
    );
    assert!(commands.contains(&"GS V"), "the paper is cut: {commands:?}");
    for w in ["32", "48"] {
        let o = run(
            &till,
            &cfg,
            &["receipt", code, "--width", w, "--copy", "--out"],
        );
        assert_eq!(o.status.code(), Some(2), "--out needs a FILE");
        let file = till.dir.path().join(format!("r{w}.bin"));
        let o = till
            .cmd()
            .arg("--config")
            .arg(&cfg)
            .args(["receipt", code, "--width", w, "--copy", "--out"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let screen = run(
            &till,
            &cfg,
            &["receipt", code, "--width", w, "--copy", "--json"],
        );
        let screen: serde_json::Value = serde_json::from_slice(&screen.stdout).unwrap();
        let d = decode(&npos, &std::fs::read(&file).unwrap(), till.dir.path());
        assert_eq!(d["text"], screen["text"], "width {w}");
        let copy: Vec<&str> = d["commands"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert!(!copy.contains(&"ESC p"), "a copy never opens the drawer");
    }
}

#[test]
fn a_refusing_printer_never_fails_the_sale_the_failure_shows_and_a_retry_prints_it() {
    let till = Till::new();
    let cfg = config(&till, &tcp(&refusing_address(), false));
    let out = run(&till, &cfg, &["sell", "1001", "--pay", "card"]);
    assert!(out.status.success(), "the sale is saved: {}", stderr(&out));
    assert!(
        stderr(&out).contains("receipt #1 not printed"),
        "{}",
        stderr(&out)
    );
    let status = till
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let failures = status["print_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["seq"], 1);
    assert_eq!(failures[0]["attempts"], 1);
    let text = run(&till, &cfg, &["status"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("1 not printed"));
    // Still refused: exit 1, attempts counted.
    let again = run(&till, &cfg, &["receipt", "1", "--print"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    // The printer is back: the retry prints the original (not a copy) and clears the failure.
    let (addr, printed) = test_printer();
    let cfg = config(&till, &tcp(&addr, false));
    let retry = run(&till, &cfg, &["receipt", "1", "--print"]);
    assert!(retry.status.success(), "{}", stderr(&retry));
    let bytes = printed
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("COPY"));
    let status = run(&till, &cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["print_failures"], serde_json::json!([]));
    // Printing it once more is a reprint: marked as a copy.
    let (addr, printed) = test_printer();
    let cfg = config(&till, &tcp(&addr, false));
    assert!(run(&till, &cfg, &["receipt", "1", "--print"])
        .status
        .success());
    let bytes = printed
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains("*** COPY ***"));
}

#[test]
fn with_print_after_sale_off_a_sale_prints_nothing_until_asked() {
    let till = Till::new();
    let (addr, printed) = test_printer();
    let cfg = config(
        &till,
        &format!("{}print_after_sale = false\n", tcp(&addr, false)),
    );
    let out = run(&till, &cfg, &["sell", "1001", "--pay", "card"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    // Asked for: the first print of it, the original (not a copy).
    let o = run(&till, &cfg, &["receipt", "1", "--print"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = printed
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("printed on demand");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("RECEIPT"));
    assert!(!text.contains("COPY"), "{text}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let till = Till::new();
    let cfg = config(&till, "");
    assert!(run(&till, &cfg, &["sell", "1001"]).status.success());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["receipt".into(), "99".into()],
            "no sale, refund or void #99",
        ),
        (vec!["receipt".into(), "abc".into()], "not a receipt number"),
        (
            vec!["receipt".into(), "1".into(), "--width".into(), "20".into()],
            "out of range",
        ),
        (
            vec!["receipt".into(), "1".into(), "--width".into(), "49".into()],
            "out of range",
        ),
        (
            vec!["receipt".into(), "1".into(), "--print".into()],
            "no printer is configured",
        ),
        (
            vec![
                "receipt".into(),
                "1".into(),
                "--out".into(),
                "/nonexistent/dir/r.bin".into(),
            ],
            "cannot write /nonexistent/dir/r.bin",
        ),
    ];
    for (args, want) in cases {
        let o = till
            .cmd()
            .arg("--config")
            .arg(&cfg)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert_eq!(e.trim_end().lines().count(), 1, "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // An unplugged or wrong device: bad input for --print, and nothing is recorded.
    let cfg = config(
        &till,
        "[printer]\nkind = \"device\"\npath = \"/nonexistent/usb/lp0\"\n",
    );
    let o = run(&till, &cfg, &["receipt", "1", "--print"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write to printer /nonexistent/usb/lp0"));
    let status = run(&till, &cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["print_failures"], serde_json::json!([]));
    // The same device after a sale: the sale is saved, the failure recorded.
    let o = run(&till, &cfg, &["sell", "1002"]);
    assert!(o.status.success());
    let status = run(&till, &cfg, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["print_failures"][0]["seq"], 2);
    // A config that names a printer without its address is a config error.
    let cfg = config(&till, "[printer]\nkind = \"tcp\"\n");
    let o = run(&till, &cfg, &["receipt", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("printer.address"));
}
