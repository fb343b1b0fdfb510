//! Helpers shared by the integration tests: an HTTP client for the gateway and a till that
//! builds ops exactly as docs/protocol.md describes (seq, hash chain).
#![allow(dead_code)]

use pgrest_lite::testing::{Device, TestStack};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub struct Api {
    pub http: reqwest::Client,
    pub url: String,
    pub anon_key: String,
}

impl Api {
    pub fn new(stack: &TestStack) -> Api {
        Api {
            http: reqwest::Client::new(),
            url: stack.url.clone(),
            anon_key: stack.anon_key.clone(),
        }
    }

    async fn finish(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// POST /rest/v1/rpc/{f} with the anon apikey and (if given) a bearer token.
    pub async fn rpc(&self, token: Option<&str>, f: &str, body: Value) -> Resp {
        let mut req = self
            .http
            .post(format!("{}/rest/v1/rpc/{f}", self.url))
            .header("apikey", &self.anon_key)
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::finish(req.send().await.expect("send")).await
    }

    /// GET /rest/v1/{path_and_query}
    pub async fn get(&self, token: Option<&str>, path_and_query: &str) -> Resp {
        let mut req = self
            .http
            .get(format!("{}/rest/v1/{path_and_query}", self.url))
            .header("apikey", &self.anon_key);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::finish(req.send().await.expect("send")).await
    }

    pub async fn push(&self, token: &str, ops: &[Value]) -> Vec<Value> {
        let r = self
            .rpc(Some(token), "kassa_push", json!({ "p_ops": ops }))
            .await;
        assert_eq!(r.status, 200, "push failed: {}", r.body);
        r.body.as_array().expect("array of results").clone()
    }

    pub async fn pull(&self, token: &str, cursors: Value) -> Value {
        let r = self
            .rpc(Some(token), "kassa_pull", json!({ "p_cursors": cursors }))
            .await;
        assert_eq!(r.status, 200, "pull failed: {}", r.body);
        r.body
    }
}

/// One sale line: sku, qty, unit price.
pub type Line<'a> = (&'a str, i64, i64);

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// A sale payload with a correct hash over `prev_hash`.
pub fn sale_payload(sale_id: Uuid, created_at: &str, lines: &[Line], prev_hash: &str) -> Value {
    let mut total = 0i64;
    let mut tax_total = 0i64;
    let mut jl = Vec::new();
    let mut canon = Vec::new();
    for (i, (sku, qty, unit)) in lines.iter().enumerate() {
        let line_total = qty * unit;
        let tax = (line_total * 700 + 5350) / 10700;
        total += line_total;
        tax_total += tax;
        jl.push(
            json!({"line_no": i + 1, "sku": sku, "name": format!("item {sku}"), "qty": qty,
            "unit_price_cents": unit, "discount_cents": 0, "price_overridden": false,
            "tax_rate_bp": 700, "price_includes_tax": true, "line_total_cents": line_total,
            "tax_cents": tax}),
        );
        canon.push(format!(
            "L|{}|{sku}|{qty}|{unit}|0|700|{line_total}|{tax}",
            i + 1
        ));
    }
    let tendered = total;
    let mut text = format!("kassa-sale-v1|{sale_id}|{created_at}|EUR|{total}|{tax_total}|0");
    for l in &canon {
        text.push('\n');
        text.push_str(l);
    }
    text.push_str(&format!("\nT|cash|{tendered}|0"));
    let hash = sha256_hex(&format!("{prev_hash}\n{text}"));
    json!({"sale_id": sale_id, "created_at": created_at, "currency": "EUR",
        "total_cents": total, "tax_cents": tax_total, "rounding_cents": 0, "lines": jl,
        "tenders": [{"kind": "cash", "amount_cents": tendered, "change_cents": 0}],
        "prev_hash": prev_hash, "hash": hash})
}

/// RFC 3339 with milliseconds, `offset_s` seconds from now.
pub fn ts(offset_s: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    fmt_ms(now + offset_s * 1000)
}

pub fn fmt_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// A till: device, token, next seq and the hash chain.
pub struct Till {
    pub id: Uuid,
    pub token: String,
    pub seq: i64,
    pub prev_hash: String,
}

impl Till {
    pub fn new(d: &Device) -> Till {
        Till {
            id: d.id,
            token: d.token.clone(),
            seq: 0,
            prev_hash: "0".repeat(64),
        }
    }

    fn op(&mut self, kind: &str, payload: Value) -> Value {
        self.seq += 1;
        json!({"op_id": Uuid::new_v4(), "seq": self.seq, "kind": kind,
               "device_time": ts(0), "skew_ms": 0, "payload": payload})
    }

    pub fn sale_at(&mut self, created_at: &str, lines: &[Line]) -> Value {
        let p = sale_payload(Uuid::new_v4(), created_at, lines, &self.prev_hash);
        self.prev_hash = p["hash"].as_str().expect("hash").to_string();
        self.op("sale", p)
    }

    pub fn sale(&mut self, lines: &[Line]) -> Value {
        self.sale_at(&ts(0), lines)
    }

    pub fn count_at(&mut self, sku: &str, qty: i64, counted_at: &str) -> Value {
        self.op(
            "stock_count",
            json!({"count_id": Uuid::new_v4(), "sku": sku,
            "counted_qty": qty, "counted_at": counted_at}),
        )
    }

    pub fn resolve(
        &mut self,
        conflict: &str,
        action: &str,
        qty: Option<i64>,
        sku: Option<&str>,
    ) -> Value {
        self.op(
            "resolve_conflict",
            json!({"conflict_id": conflict, "action": action,
            "qty": qty, "sku": sku, "note": "test"}),
        )
    }

    pub fn raw(&mut self, kind: &str, payload: Value) -> Value {
        self.op(kind, payload)
    }
}

pub fn statuses(results: &[Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

pub async fn on_hand(db: &tokio_postgres::Client, store: Uuid, sku: &str) -> i64 {
    db.query_one(
        "select s.on_hand from stock_levels s join products p on p.id = s.product_id
          where s.store_id = $1 and p.sku = $2",
        &[&store, &sku],
    )
    .await
    .expect("on_hand")
    .get(0)
}

pub async fn conflicts(
    db: &tokio_postgres::Client,
    store: Uuid,
    kind: &str,
) -> Vec<(Uuid, String, Value)> {
    db.query(
        "select id, status, details from conflicts where store_id = $1 and kind = $2 order by version",
        &[&store, &kind],
    )
    .await
    .expect("conflicts")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// One refund line: original line (None: without a receipt), sku, qty, amount paid back,
/// restock.
pub type RefundLine<'a> = (Option<i64>, &'a str, i64, i64, bool);

/// A refund payload with a correct hash over `prev_hash` (docs/protocol.md), paid back in cash.
pub fn refund_payload(
    refund_id: Uuid,
    created_at: &str,
    original: Option<Uuid>,
    reason: &str,
    lines: &[RefundLine],
    prev_hash: &str,
) -> Value {
    let (mut total, mut tax_total) = (0i64, 0i64);
    let mut jl = Vec::new();
    for (i, (orig, sku, qty, amount, restock)) in lines.iter().enumerate() {
        let tax = (amount * 700 + 5350) / 10700;
        total += amount;
        tax_total += tax;
        jl.push(
            json!({"line_no": i + 1, "original_line_no": orig, "sku": sku,
            "name": format!("item {sku}"), "qty": qty, "amount_cents": amount,
            "tax_rate_bp": 700, "tax_cents": tax, "restock": restock}),
        );
    }
    let mut p = json!({"refund_id": refund_id, "created_at": created_at, "currency": "EUR",
        "original_sale_id": original, "reason": reason, "total_cents": total,
        "tax_cents": tax_total, "rounding_cents": 0, "lines": jl,
        "tenders": [{"kind": "cash", "amount_cents": total}], "approved_by": null,
        "prev_hash": prev_hash, "hash": ""});
    rehash_refund(&mut p);
    p
}

/// The canonical refund form of `p` (docs/protocol.md).
pub fn refund_canonical(p: &Value) -> String {
    let i = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut text = format!(
        "kassa-refund-v1|{}|{}|{}|{}|{}|{}|{}",
        p["refund_id"].as_str().unwrap_or_default(),
        p["created_at"].as_str().unwrap_or_default(),
        p["currency"].as_str().unwrap_or_default(),
        p["original_sale_id"].as_str().unwrap_or_default(),
        i(p, "total_cents"),
        i(p, "tax_cents"),
        i(p, "rounding_cents")
    );
    let mut lines: Vec<&Value> = p["lines"].as_array().into_iter().flatten().collect();
    lines.sort_by_key(|l| i(l, "line_no"));
    for l in lines {
        let orig = l["original_line_no"]
            .as_i64()
            .map(|n| n.to_string())
            .unwrap_or_default();
        let restock = l["restock"].as_bool().unwrap_or(true);
        text.push_str(&format!(
            "\nR|{}|{orig}|{}|{}|{}|{}|{}|{}",
            i(l, "line_no"),
            l["sku"].as_str().unwrap_or_default(),
            i(l, "qty"),
            i(l, "amount_cents"),
            i(l, "tax_rate_bp"),
            i(l, "tax_cents"),
            u8::from(restock)
        ));
    }
    for t in p["tenders"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\nT|{}|{}|0",
            t["kind"].as_str().unwrap_or_default(),
            i(t, "amount_cents")
        ));
    }
    text
}

/// Sets a refund's `hash` from its `prev_hash` and canonical form.
pub fn rehash_refund(p: &mut Value) {
    let prev = p["prev_hash"].as_str().unwrap_or_default().to_string();
    p["hash"] = json!(sha256_hex(&format!("{prev}\n{}", refund_canonical(p))));
}

/// A void payload with a correct hash: `total` given back in cash.
pub fn void_payload(
    void_id: Uuid,
    sale_id: &str,
    created_at: &str,
    total: i64,
    prev_hash: &str,
) -> Value {
    let mut p = json!({"void_id": void_id, "sale_id": sale_id, "created_at": created_at,
        "reason": "customer left", "total_cents": total,
        "tenders": [{"kind": "cash", "amount_cents": total}], "approved_by": null,
        "prev_hash": prev_hash, "hash": ""});
    rehash_void(&mut p);
    p
}

/// Sets a void's `hash` from its `prev_hash` and canonical form.
pub fn rehash_void(p: &mut Value) {
    let i = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut text = format!(
        "kassa-void-v1|{}|{}|{}|{}",
        p["void_id"].as_str().unwrap_or_default(),
        p["created_at"].as_str().unwrap_or_default(),
        p["sale_id"].as_str().unwrap_or_default(),
        i(p, "total_cents")
    );
    for t in p["tenders"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\nT|{}|{}|0",
            t["kind"].as_str().unwrap_or_default(),
            i(t, "amount_cents")
        ));
    }
    let prev = p["prev_hash"].as_str().unwrap_or_default().to_string();
    p["hash"] = json!(sha256_hex(&format!("{prev}\n{text}")));
}

impl Till {
    /// A refund in this till's chain; `original` is the sale op it refunds (None: blind).
    pub fn refund(
        &mut self,
        original: Option<&Value>,
        reason: &str,
        lines: &[RefundLine],
    ) -> Value {
        self.refund_at(&ts(0), original, reason, lines)
    }

    /// [`Till::refund`] made at `created_at` (the till's clock).
    pub fn refund_at(
        &mut self,
        created_at: &str,
        original: Option<&Value>,
        reason: &str,
        lines: &[RefundLine],
    ) -> Value {
        let orig = original.map(|op| {
            op["payload"]["sale_id"]
                .as_str()
                .and_then(|s| s.parse::<Uuid>().ok())
                .expect("sale_id")
        });
        let p = refund_payload(
            Uuid::new_v4(),
            created_at,
            orig,
            reason,
            lines,
            &self.prev_hash,
        );
        self.prev_hash = p["hash"].as_str().expect("hash").to_string();
        self.op("refund", p)
    }

    /// A void, in this till's chain, of the sale op `sale` (everything it took, in cash).
    pub fn void(&mut self, sale: &Value) -> Value {
        let s = &sale["payload"];
        let total =
            s["total_cents"].as_i64().unwrap_or(0) + s["rounding_cents"].as_i64().unwrap_or(0);
        let p = void_payload(
            Uuid::new_v4(),
            s["sale_id"].as_str().expect("sale_id"),
            &ts(0),
            total,
            &self.prev_hash,
        );
        self.prev_hash = p["hash"].as_str().expect("hash").to_string();
        self.op("void_sale", p)
    }
}

/// The canonical form of a shift document (docs/protocol.md, "Canonical shift forms"; a null
/// id is empty).
pub fn shift_canonical(kind: &str, p: &Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let i = |k: &str| p[k].as_i64().unwrap_or(0);
    match kind {
        "shift_open" => format!(
            "kassa-shift-open-v1|{}|{}|{}|{}",
            s("shift_id"),
            s("opened_at"),
            s("staff_id"),
            i("float_cents")
        ),
        "cash_movement" => format!(
            "kassa-cash-v1|{}|{}|{}|{}|{}",
            s("movement_id"),
            s("created_at"),
            s("shift_id"),
            s("kind"),
            i("amount_cents")
        ),
        _ => format!(
            "kassa-shift-close-v1|{}|{}|{}|{}|{}|{}",
            s("shift_id"),
            s("closed_at"),
            s("staff_id"),
            i("counted_cents"),
            i("expected_cents"),
            i("over_short_cents")
        ),
    }
}

/// Sets a shift document's `hash` from its `prev_hash` and canonical form.
pub fn rehash_shift(kind: &str, p: &mut Value) {
    let prev = p["prev_hash"].as_str().unwrap_or_default().to_string();
    p["hash"] = json!(sha256_hex(&format!("{prev}\n{}", shift_canonical(kind, p))));
}

/// A shift_open payload over `prev_hash`.
pub fn shift_open_payload(shift: Uuid, staff: Option<Uuid>, float: i64, prev_hash: &str) -> Value {
    let mut p = json!({"shift_id": shift, "staff_id": staff, "opened_at": ts(0),
        "float_cents": float, "denominations": null, "approved_by": null,
        "prev_hash": prev_hash, "hash": ""});
    rehash_shift("shift_open", &mut p);
    p
}

/// A cash_movement payload over `prev_hash`.
pub fn cash_payload(
    shift: Option<Uuid>,
    staff: Option<Uuid>,
    kind: &str,
    amount: i64,
    prev_hash: &str,
) -> Value {
    let mut p = json!({"movement_id": Uuid::new_v4(), "shift_id": shift, "staff_id": staff,
        "created_at": ts(0), "kind": kind, "amount_cents": amount, "reason": "test",
        "approved_by": null, "prev_hash": prev_hash, "hash": ""});
    rehash_shift("cash_movement", &mut p);
    p
}

/// A shift_close payload over `prev_hash` (over_short = counted - expected).
pub fn shift_close_payload(
    shift: Uuid,
    staff: Option<Uuid>,
    counted: i64,
    expected: i64,
    prev_hash: &str,
) -> Value {
    let mut p = json!({"shift_id": shift, "staff_id": staff, "closed_at": ts(0),
        "counted_cents": counted, "denominations": null, "expected_cents": expected,
        "over_short_cents": counted - expected, "approved_by": null,
        "prev_hash": prev_hash, "hash": ""});
    rehash_shift("shift_close", &mut p);
    p
}

impl Till {
    /// A shift document of `kind` in this till's chain: `payload` is rehashed over the chain.
    pub fn shift_doc(&mut self, kind: &str, mut payload: Value) -> Value {
        payload["prev_hash"] = json!(self.prev_hash);
        rehash_shift(kind, &mut payload);
        self.prev_hash = payload["hash"].as_str().expect("hash").to_string();
        self.op(kind, payload)
    }
}

/// A sale line's `L` row of the canonical sale form.
pub fn sale_canonical_line(l: &Value) -> String {
    let i = |k: &str| l.get(k).and_then(Value::as_i64).unwrap_or(0);
    format!(
        "L|{}|{}|{}|{}|{}|{}|{}|{}",
        i("line_no"),
        l["sku"].as_str().unwrap_or_default(),
        i("qty"),
        i("unit_price_cents"),
        i("discount_cents"),
        i("tax_rate_bp"),
        i("line_total_cents"),
        i("tax_cents")
    )
}

/// Sets a sale's `hash` from its `prev_hash` and canonical form (docs/protocol.md).
pub fn rehash_sale(p: &mut Value) {
    let i = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let mut text = format!(
        "kassa-sale-v1|{}|{}|{}|{}|{}|{}",
        p["sale_id"].as_str().unwrap_or_default(),
        p["created_at"].as_str().unwrap_or_default(),
        p["currency"].as_str().unwrap_or_default(),
        i(p, "total_cents"),
        i(p, "tax_cents"),
        i(p, "rounding_cents")
    );
    let mut lines: Vec<&Value> = p["lines"].as_array().into_iter().flatten().collect();
    lines.sort_by_key(|l| i(l, "line_no"));
    for l in lines {
        text.push('\n');
        text.push_str(&sale_canonical_line(l));
    }
    for t in p["tenders"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\nT|{}|{}|{}",
            t["kind"].as_str().unwrap_or_default(),
            i(t, "amount_cents"),
            i(t, "change_cents")
        ));
    }
    let prev = p["prev_hash"].as_str().unwrap_or_default().to_string();
    p["hash"] = json!(sha256_hex(&format!("{prev}\n{text}")));
}
