//! One measured figure, printed as a `FIGURE {json}` line that `scripts/bench` collects into
//! its table (and `--json` file). Benchmarks include this file with
//! `#[path = "support/figure.rs"] mod figure;` and still print their own readable output.
#![allow(dead_code)]

/// Whether a smaller or a larger value is better.
#[derive(Clone, Copy)]
pub enum Better {
    Lower,
    Higher,
}

/// A figure: its value, the baseline measured in the same run (if any), and the target.
pub struct Figure<'a> {
    pub name: &'a str,
    pub value: f64,
    pub unit: &'a str,
    pub baseline_name: Option<&'a str>,
    pub baseline: Option<f64>,
    /// A human-readable target, e.g. "<= 1.5x baseline" or ">= 10000 sales/s".
    pub target: &'a str,
    /// Whether the target is met, when the benchmark can tell.
    pub met: Option<bool>,
    pub better: Better,
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".into(),
    }
}

/// Prints the `FIGURE` line.
pub fn report(f: &Figure<'_>) {
    let ratio = match f.baseline {
        Some(b) if b != 0.0 => Some(f.value / b),
        _ => None,
    };
    println!(
        "FIGURE {{\"name\":{},\"value\":{},\"unit\":{},\"baseline_name\":{},\"baseline\":{},\"ratio\":{},\"target\":{},\"met\":{},\"better\":{}}}",
        json_str(f.name),
        json_num(Some(f.value)),
        json_str(f.unit),
        f.baseline_name.map(json_str).unwrap_or_else(|| "null".into()),
        json_num(f.baseline),
        json_num(ratio),
        json_str(f.target),
        f.met.map(|m| m.to_string()).unwrap_or_else(|| "null".into()),
        json_str(match f.better {
            Better::Lower => "lower",
            Better::Higher => "higher",
        }),
    );
}
