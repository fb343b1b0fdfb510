//! A conflict in plain words: what the till did against what the server had, when it
//! happened, and how it was resolved, from the `details` and `resolution` the server sends
//! (keys per kind in docs/protocol.md). Shared by the console's conflict pane and
//! `kassa conflicts`.
//!
//! Details that are missing a field or are not what the kind promises are shown as compact
//! JSON instead: never a guess, never a panic. Times are formatted by the caller (the reader's
//! time zone, see `crate::timefmt`).

use serde_json::Value;

use super::Currency;

/// What the server says about one conflict, as pulled (times are stored RFC 3339 UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConflictFacts<'a> {
    pub kind: &'a str,
    pub sku: Option<&'a str>,
    pub details: &'a Value,
    pub resolution: Option<&'a Value>,
    /// When the server raised the conflict (its `created_at`); `None` from older servers.
    pub created_at: Option<&'a str>,
    /// When the server recorded the resolution (its `resolved_at`).
    pub resolved_at: Option<&'a str>,
}

/// The sentences a person reads about one conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictText {
    /// `sold 2 × 1.99 EUR, server price 2.19 EUR (line 2)`, or the details as compact JSON.
    pub what: String,
    /// `sold at 14:02:11`, `counted at …`: when the details carry the moment.
    pub when: Option<String>,
    /// `raised 14:02:13`: when the server raised it, if it said.
    pub raised: Option<String>,
    /// `resolved at 14:10:00 — accept, note 'shelf checked'`, when there is a resolution.
    pub resolved: Option<String>,
}

impl ConflictText {
    /// `time` turns a stored RFC 3339 time into what the reader sees.
    pub fn new(
        facts: &ConflictFacts<'_>,
        currency: Currency,
        time: impl Fn(&str) -> String,
    ) -> ConflictText {
        let f = facts;
        ConflictText {
            what: describe(f.kind, f.sku, f.details, currency)
                .unwrap_or_else(|| compact(f.details)),
            when: when(f.kind, f.details, &time),
            raised: f.created_at.map(|at| format!("raised {}", time(at))),
            resolved: f.resolution.map(|r| resolved(r, f.resolved_at, &time)),
        }
    }

    /// When it happened and when the server raised it: `sold at 14:02:11 · raised 14:02:13`.
    pub fn when_raised(&self) -> Option<String> {
        join([self.when.as_ref(), self.raised.as_ref()])
    }

    /// Everything on one line, parts joined by ` · ` (for `kassa conflicts`).
    pub fn one_line(&self) -> String {
        join([
            Some(&self.what),
            self.when.as_ref(),
            self.raised.as_ref(),
            self.resolved.as_ref(),
        ])
        .unwrap_or_default()
    }
}

/// The parts that are there, joined by ` · `; `None` when none is.
fn join<'a>(parts: impl IntoIterator<Item = Option<&'a String>>) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().flatten().map(String::as_str).collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => "no details".to_string(),
        other => other.to_string(),
    }
}

fn int(details: &Value, key: &str) -> Option<i64> {
    details.get(key)?.as_i64()
}

fn text<'a>(details: &'a Value, key: &str) -> Option<&'a str> {
    details.get(key)?.as_str()
}

fn money(cents: i64, currency: Currency) -> String {
    format!("{} {}", currency.format(cents), currency.code())
}

fn line_suffix(details: &Value) -> String {
    int(details, "line_no")
        .map(|n| format!(" (line {n})"))
        .unwrap_or_default()
}

/// What happened, or `None` when the details lack what the kind needs.
pub fn describe(
    kind: &str,
    sku: Option<&str>,
    details: &Value,
    currency: Currency,
) -> Option<String> {
    let d = details;
    match kind {
        "oversold" => Some(format!(
            "on hand {} after selling {}",
            int(d, "on_hand")?,
            int(d, "sold_qty")?
        )),
        "price_mismatch" => Some(format!(
            "sold {} × {}, server price {}{}",
            int(d, "qty")?,
            money(int(d, "sold_unit_cents")?, currency),
            money(int(d, "server_unit_cents")?, currency),
            line_suffix(d)
        )),
        "unknown_product" => {
            let what = match text(d, "reason") {
                Some("inactive") => "inactive",
                _ => "unknown",
            };
            let name = match text(d, "name") {
                Some(n) if !n.is_empty() => format!(" '{n}'"),
                _ => String::new(),
            };
            Some(format!(
                "{what} SKU {}{name} × {} at {}{}",
                sku.unwrap_or("–"),
                int(d, "qty")?,
                money(int(d, "unit_price_cents")?, currency),
                line_suffix(d)
            ))
        }
        "count_discrepancy" => {
            let counted = int(d, "counted_qty")?;
            let expected = int(d, "expected_qty")?;
            Some(format!(
                "counted {counted}, server expected {expected} ({:+})",
                counted.checked_sub(expected)?
            ))
        }
        "over_refund" => {
            let sold = int(d, "sold_qty")?;
            let refunded = int(d, "refunded_qty")?;
            let this = int(d, "this_refund_qty")?;
            let excess = int(d, "excess_qty")?;
            let amount = int(d, "amount_cents")?;
            let of_what = if sold == 0 {
                "a sale the server does not have".to_string()
            } else {
                format!("{sold} sold")
            };
            Some(format!(
                "refunded {refunded} of {of_what}{}: {excess} too many, this refund {this} \
                 for {}",
                sku.map(|s| format!(" of SKU {s}")).unwrap_or_default(),
                money(amount, currency)
            ))
        }
        _ => None,
    }
}

/// When the sale or count behind the conflict happened (the server's corrected time).
fn when(kind: &str, details: &Value, time: &impl Fn(&str) -> String) -> Option<String> {
    let (label, at) = match kind {
        "count_discrepancy" => (
            "counted at",
            text(details, "event_time").or_else(|| text(details, "counted_at"))?,
        ),
        "oversold" | "price_mismatch" | "unknown_product" => {
            ("sold at", text(details, "event_time")?)
        }
        _ => ("at", text(details, "event_time")?),
    };
    Some(format!("{label} {}", time(at)))
}

/// `resolved at 14:10:00 — recount 14, note 'shelf checked'`; compact JSON without an action.
/// The time is the server's `resolved_at`, else the one inside a resolution with an action.
fn resolved(
    resolution: &Value,
    resolved_at: Option<&str>,
    time: &impl Fn(&str) -> String,
) -> String {
    let Some(action) = text(resolution, "action") else {
        return match resolved_at {
            Some(at) => format!("resolved at {} — {}", time(at), compact(resolution)),
            None => format!("resolved — {}", compact(resolution)),
        };
    };
    let at = resolved_at.or_else(|| text(resolution, "resolved_at"));
    let mut how = match (action, int(resolution, "qty"), text(resolution, "sku")) {
        ("recount", Some(q), _) => format!("recount {q}"),
        ("map", _, Some(s)) => format!("map to SKU {s}"),
        (a, _, _) => a.to_string(),
    };
    if let Some(note) = text(resolution, "note").filter(|n| !n.is_empty()) {
        how.push_str(&format!(", note '{note}'"));
    }
    match at {
        Some(at) => format!("resolved at {} — {how}", time(at)),
        None => format!("resolved — {how}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts<'a>(kind: &'a str, sku: Option<&'a str>, details: &'a Value) -> ConflictFacts<'a> {
        ConflictFacts {
            kind,
            sku,
            details,
            resolution: None,
            created_at: None,
            resolved_at: None,
        }
    }

    fn words(kind: &str, sku: Option<&str>, details: Value) -> ConflictText {
        ConflictText::new(&facts(kind, sku, &details), Currency::EUR, |t| {
            format!("<{t}>")
        })
    }

    #[test]
    fn oversold_says_what_is_left_after_the_sale() {
        let t = words(
            "oversold",
            Some("1001"),
            json!({"on_hand": -3, "sold_qty": 2, "event_time": "2026-11-28T17:00:00.000Z"}),
        );
        assert_eq!(t.what, "on hand -3 after selling 2");
        assert_eq!(
            t.when.as_deref(),
            Some("sold at <2026-11-28T17:00:00.000Z>")
        );
        assert_eq!(t.resolved, None);
    }

    #[test]
    fn price_mismatch_puts_the_sold_price_beside_the_servers() {
        let t = words(
            "price_mismatch",
            Some("1005"),
            json!({"line_no": 2, "qty": 2, "sold_unit_cents": 199, "server_unit_cents": 219,
                   "event_time": "2026-11-28T17:00:00.000Z"}),
        );
        assert_eq!(t.what, "sold 2 × 1.99 EUR, server price 2.19 EUR (line 2)");
        assert_eq!(
            t.when.as_deref(),
            Some("sold at <2026-11-28T17:00:00.000Z>")
        );
        let no_line = words(
            "price_mismatch",
            None,
            json!({"qty": 1, "sold_unit_cents": 5, "server_unit_cents": 7}),
        );
        assert_eq!(no_line.what, "sold 1 × 0.05 EUR, server price 0.07 EUR");
        assert_eq!(no_line.when, None);
    }

    #[test]
    fn unknown_product_names_the_sku_the_line_and_why() {
        let t = words(
            "unknown_product",
            Some("9999"),
            json!({"line_no": 3, "name": "Cola 0.5", "qty": 1, "unit_price_cents": 120,
                   "reason": "unknown_sku"}),
        );
        assert_eq!(
            t.what,
            "unknown SKU 9999 'Cola 0.5' × 1 at 1.20 EUR (line 3)"
        );
        assert_eq!(t.when, None, "the server sends no event_time for this kind");
        let retired = words(
            "unknown_product",
            Some("1001"),
            json!({"name": "", "qty": 4, "unit_price_cents": 119, "reason": "inactive"}),
        );
        assert_eq!(retired.what, "inactive SKU 1001 × 4 at 1.19 EUR");
    }

    #[test]
    fn count_discrepancy_says_counted_against_expected() {
        let t = words(
            "count_discrepancy",
            Some("1001"),
            json!({"counted_qty": 14, "expected_qty": 17, "difference": -3, "threshold": 0,
                   "counted_at": "2026-11-28T16:59:58.000Z",
                   "event_time": "2026-11-28T17:00:00.000Z"}),
        );
        assert_eq!(t.what, "counted 14, server expected 17 (-3)");
        assert_eq!(
            t.when.as_deref(),
            Some("counted at <2026-11-28T17:00:00.000Z>")
        );
        let more = words(
            "count_discrepancy",
            None,
            json!({"counted_qty": 9, "expected_qty": 4, "counted_at": "T"}),
        );
        assert_eq!(more.what, "counted 9, server expected 4 (+5)");
        assert_eq!(more.when.as_deref(), Some("counted at <T>"));
    }

    #[test]
    fn over_refund_says_how_many_came_back_against_how_many_were_sold() {
        let t = words(
            "over_refund",
            Some("1001"),
            json!({"refund_id": "r1", "sold_qty": 3, "refunded_qty": 5, "this_refund_qty": 2,
                   "excess_qty": 2, "amount_cents": 238}),
        );
        assert_eq!(
            t.what,
            "refunded 5 of 3 sold of SKU 1001: 2 too many, this refund 2 for 2.38 EUR"
        );
        let unknown = words(
            "over_refund",
            None,
            json!({"refund_id": "r1", "sold_qty": 0, "refunded_qty": 1, "this_refund_qty": 1,
                   "excess_qty": 1, "amount_cents": 5}),
        );
        assert_eq!(
            unknown.what,
            "refunded 1 of a sale the server does not have: 1 too many, this refund 1 for 0.05 EUR"
        );
        let partial = json!({"sold_qty": 3, "refunded_qty": 5});
        assert_eq!(
            words("over_refund", None, partial.clone()).what,
            partial.to_string()
        );
    }

    #[test]
    fn missing_or_malformed_fields_show_the_raw_json_compactly() {
        let cases = [
            ("oversold", json!({"sold_qty": 3, "on_hand_after": -2})),
            ("oversold", json!({"on_hand": "-3", "sold_qty": 2})),
            ("price_mismatch", json!({"qty": 2, "sold_unit_cents": 199})),
            (
                "price_mismatch",
                json!({"qty": 2.5, "sold_unit_cents": 1, "server_unit_cents": 2}),
            ),
            ("unknown_product", json!({"name": "Cola", "qty": 1})),
            ("count_discrepancy", json!({"counted_qty": 14})),
            (
                "count_discrepancy",
                json!({"counted_qty": i64::MIN, "expected_qty": 1}),
            ),
            ("weird_kind", json!({"on_hand": -3, "sold_qty": 2})),
            ("oversold", json!([1, 2])),
            ("oversold", json!("text")),
        ];
        for (kind, details) in cases {
            let t = words(kind, Some("1001"), details.clone());
            assert_eq!(t.what, details.to_string(), "{kind} {details}");
        }
        assert_eq!(words("oversold", None, Value::Null).what, "no details");
        let odd_time = words("oversold", None, json!({"event_time": 42}));
        assert_eq!(odd_time.when, None);
    }

    #[test]
    fn a_resolution_says_when_and_how() {
        let time = |t: &str| format!("<{t}>");
        let r = |v: Value| resolved(&v, None, &time);
        assert_eq!(
            r(
                json!({"action": "recount", "qty": 14, "sku": null, "note": "shelf checked",
                     "resolved_at": "2026-11-28T17:10:00.000Z"})
            ),
            "resolved at <2026-11-28T17:10:00.000Z> — recount 14, note 'shelf checked'"
        );
        assert_eq!(
            r(json!({"action": "map", "sku": "1001", "note": null})),
            "resolved — map to SKU 1001"
        );
        assert_eq!(
            r(json!({"action": "non_stock", "note": ""})),
            "resolved — non_stock"
        );
        assert_eq!(
            r(json!({"by": "head office"})),
            r#"resolved — {"by":"head office"}"#
        );
        assert_eq!(r(json!("accepted")), r#"resolved — "accepted""#);
    }

    #[test]
    fn the_servers_resolved_at_comes_first_then_the_resolutions_own() {
        let time = |t: &str| format!("<{t}>");
        let with_time = json!({"action": "accept", "resolved_at": "INSIDE"});
        assert_eq!(
            resolved(&with_time, Some("SERVER"), &time),
            "resolved at <SERVER> — accept"
        );
        assert_eq!(
            resolved(&with_time, None, &time),
            "resolved at <INSIDE> — accept",
            "an older server: the time inside the resolution, as before"
        );
        assert_eq!(
            resolved(&json!({"action": "accept"}), Some("SERVER"), &time),
            "resolved at <SERVER> — accept"
        );
        assert_eq!(
            resolved(&json!({"by": "head office"}), Some("SERVER"), &time),
            r#"resolved at <SERVER> — {"by":"head office"}"#
        );
        assert_eq!(
            resolved(
                &json!({"by": "head office", "resolved_at": "INSIDE"}),
                None,
                &time
            ),
            r#"resolved — {"by":"head office","resolved_at":"INSIDE"}"#,
            "without an action the resolution is shown as it is"
        );
    }

    #[test]
    fn the_time_the_server_raised_it_is_said_when_known() {
        let details = json!({"line_no": 3, "name": "Cola", "qty": 1, "unit_price_cents": 120});
        let known = ConflictFacts {
            created_at: Some("2026-11-28T17:02:11.000Z"),
            ..facts("unknown_product", Some("9999"), &details)
        };
        let t = ConflictText::new(&known, Currency::EUR, |t| format!("<{t}>"));
        assert_eq!(
            t.raised.as_deref(),
            Some("raised <2026-11-28T17:02:11.000Z>")
        );
        assert_eq!(
            t.when_raised().as_deref(),
            Some("raised <2026-11-28T17:02:11.000Z>"),
            "this kind has no sale time: the raise alone"
        );
        let older = ConflictText::new(
            &facts("unknown_product", Some("9999"), &details),
            Currency::EUR,
            |t| format!("<{t}>"),
        );
        assert_eq!((older.when_raised(), older.raised), (None, None));

        let sold = json!({"on_hand": -1, "sold_qty": 1, "event_time": "E"});
        let t = ConflictText::new(
            &ConflictFacts {
                created_at: Some("C"),
                ..facts("oversold", None, &sold)
            },
            Currency::EUR,
            |t| format!("<{t}>"),
        );
        assert_eq!(t.when_raised().as_deref(), Some("sold at <E> · raised <C>"));
    }

    #[test]
    fn one_line_joins_what_when_raised_and_resolution() {
        let details = json!({"on_hand": -1, "sold_qty": 1, "event_time": "E"});
        let resolution = json!({"action": "accept", "resolved_at": "R"});
        let mut f = ConflictFacts {
            resolution: Some(&resolution),
            ..facts("oversold", Some("1001"), &details)
        };
        let line = |f: &ConflictFacts<'_>| {
            ConflictText::new(f, Currency::EUR, |t| format!("<{t}>")).one_line()
        };
        assert_eq!(
            line(&f),
            "on hand -1 after selling 1 · sold at <E> · resolved at <R> — accept"
        );
        f.created_at = Some("C");
        f.resolved_at = Some("S");
        assert_eq!(
            line(&f),
            "on hand -1 after selling 1 · sold at <E> · raised <C> · resolved at <S> — accept"
        );
        assert_eq!(words("oversold", None, json!({})).one_line(), "{}");
    }
}
