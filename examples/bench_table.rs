//! Collects `FIGURE {json}` lines (see benches/support/figure.rs) from stdin and prints them as
//! one table: figure, value, same-run baseline, ratio, target, verdict. With `--json FILE` it
//! also writes the figures as a JSON array, so that runs can be compared.
//! Used by `scripts/bench`.

use std::io::BufRead;

fn num(v: &serde_json::Value) -> Option<f64> {
    v.as_f64()
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let json_out = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1));
    let mut figures = Vec::new();
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("FIGURE ") {
            match serde_json::from_str::<serde_json::Value>(rest) {
                Ok(v) => figures.push(v),
                Err(e) => eprintln!("bench_table: skipping a bad FIGURE line: {e}"),
            }
        }
    }
    let s = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let w = figures
        .iter()
        .map(|f| s(f, "name").len())
        .max()
        .unwrap_or(6)
        .max(6);
    println!(
        "| {:<w$} | {:>12} | {:<6} | {:>12} | {:>8} | {:<22} | {:<4} |",
        "figure", "value", "unit", "baseline", "ratio", "target", "met"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|{}|",
        "-".repeat(w + 2),
        "-".repeat(14),
        "-".repeat(8),
        "-".repeat(14),
        "-".repeat(10),
        "-".repeat(24),
        "-".repeat(6)
    );
    for f in &figures {
        let met = match f["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "| {:<w$} | {:>12} | {:<6} | {:>12} | {:>8} | {:<22} | {:<4} |",
            s(f, "name"),
            fmt(num(&f["value"])),
            s(f, "unit"),
            fmt(num(&f["baseline"])),
            num(&f["ratio"])
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_else(|| "-".into()),
            s(f, "target"),
            met
        );
    }
    let baselines: Vec<String> = figures
        .iter()
        .filter_map(|f| {
            f["baseline_name"]
                .as_str()
                .map(|b| format!("  {}: {}", s(f, "name"), b))
        })
        .collect();
    if !baselines.is_empty() {
        println!("\nbaselines (measured in the same run):");
        for b in baselines {
            println!("{b}");
        }
    }
    if let Some(path) = json_out {
        let text = serde_json::to_string_pretty(&figures).unwrap_or_else(|_| "[]".into());
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("bench_table: cannot write {path}: {e}");
            return std::process::ExitCode::from(1);
        }
    }
    std::process::ExitCode::SUCCESS
}
