//! kassa_push's set-based fast path gives exactly the per-op path's results.
//!
//! Two fresh databases behind two gateways: A with the fast path (the default), B forced onto
//! the per-op path (`kassa.push_fast_path = off` as a role setting of `authenticated`, which
//! the gateway applies). The same randomised mixed batches from three tills (new sales with
//! unknown/inactive skus, price mismatches, overrides, oversells, bad hashes, optional fields
//! left out, malformed ops, replays, op_id and sale_id reuse, ops repeated within a batch,
//! out-of-order and stale seqs, stock counts before and after sales, refunds (of any till's
//! sales, blind, over what was sold, malformed) and voids, resolutions of every kind) go to
//! both; every result must be equal, op for op, and so must every row of every
//! table a push writes (generated ids, versions and timestamps aside; product and conflict ids
//! are mapped between the two databases by sku and by what raised the conflict).
mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};
use uuid::Uuid;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// A till of the scenario: its seq counter, hash chain and everything it has sent.
struct Tl {
    token_a: String,
    token_b: String,
    seq: i64,
    prev_hash: String,
    sent: Vec<Value>,
    sales: Vec<Value>,
    /// The till's open shift, if any.
    shift: Option<Uuid>,
}

struct Gen {
    rng: Rng,
    base_ms: i64,
    prices: Vec<(String, i64)>,
    /// Staff ids of the store (the same in both databases).
    staff: Vec<Uuid>,
}

/// A staff reference as a till sends it: a staff member of the store, an unknown id, a
/// malformed one, or none.
fn staff_ref(g: &mut Gen) -> Value {
    match g.rng.below(10) {
        0..=4 => json!(g.staff[g.rng.below(g.staff.len() as u64) as usize]),
        5 => json!(Uuid::new_v4()),
        6 => json!("not-a-uuid"),
        _ => Value::Null,
    }
}

/// Who rang up a sale, refund or void (not hashed): staff, approver, shift, operator, each
/// sometimes absent.
fn add_who(op: &mut Value, shift: Option<Uuid>, g: &mut Gen) {
    if !matches!(op["kind"].as_str(), Some("sale" | "refund" | "void_sale"))
        || !op["payload"].is_object()
        || g.rng.chance(25)
    {
        return;
    }
    op["payload"]["staff_id"] = staff_ref(g);
    if g.rng.chance(20) {
        op["payload"]["approved_by"] = staff_ref(g);
    }
    op["payload"]["shift_id"] = match g.rng.below(10) {
        0 => json!(Uuid::new_v4()),
        1 => Value::Null,
        _ => json!(shift),
    };
    if g.rng.chance(10) {
        op["payload"]["operator"] = json!("technician:root");
    }
}

/// A shift document of the till: an open when no shift is open, else a cash movement or the
/// close; sometimes malformed or over a broken chain.
fn shift_op(t: &mut Tl, g: &mut Gen) -> Value {
    let staff = json!(g.staff[0]);
    let (kind, mut p) = match t.shift {
        None => {
            let id = Uuid::new_v4();
            t.shift = Some(id);
            let f = g.rng.below(20_000) as i64;
            (
                "shift_open",
                json!({"shift_id": id, "staff_id": staff, "opened_at": moment(g),
                "float_cents": f, "denominations": if f % 2 == 0 { json!({"2": f / 2}) } else { Value::Null },
                "approved_by": null}),
            )
        }
        Some(id) if g.rng.chance(70) => {
            let kind = *g.rng.pick(&["paid_in", "paid_out", "paid_out", "no_sale"]);
            let amount = if kind == "no_sale" {
                0
            } else {
                g.rng.below(5000) as i64
            };
            (
                "cash_movement",
                json!({"movement_id": Uuid::new_v4(), "shift_id": id,
                "staff_id": staff, "created_at": moment(g), "kind": kind, "amount_cents": amount,
                "reason": "r", "approved_by": null}),
            )
        }
        Some(id) => {
            t.shift = None;
            let (counted, expected) = (g.rng.below(50_000) as i64, g.rng.below(50_000) as i64);
            (
                "shift_close",
                json!({"shift_id": id, "staff_id": staff, "closed_at": moment(g),
                "counted_cents": counted, "expected_cents": expected,
                "over_short_cents": counted - expected, "approved_by": null}),
            )
        }
    };
    p["prev_hash"] = json!(t.prev_hash);
    if g.rng.chance(5) {
        p["prev_hash"] = json!("cd".repeat(32)); // broken chain (hash still right)
    }
    rehash_shift(kind, &mut p);
    match g.rng.below(20) {
        0 => p["float_cents"] = json!(-5), // malformed open (or an extra field elsewhere)
        1 => p["hash"] = json!("00".repeat(32)), // bad hash
        _ => t.prev_hash = p["hash"].as_str().unwrap_or_default().to_string(),
    }
    new_op(t, kind, p, g)
}

/// A moment away from the seed's receipt (which the two databases took at slightly different
/// times): between 100 min before and 40 min after the scenario's start, not within the two
/// minutes before it.
fn moment(g: &mut Gen) -> String {
    let k = loop {
        let k = g.rng.below(860) as i64 - 600;
        if !(-20..=1).contains(&k) {
            break k;
        }
    };
    fmt_ms(g.base_ms + k * 7_000 + g.rng.below(1000) as i64)
}

fn new_op(t: &mut Tl, kind: &str, payload: Value, g: &mut Gen) -> Value {
    t.seq += 1;
    let mut op = json!({"op_id": Uuid::new_v4(), "seq": t.seq, "kind": kind,
                        "device_time": moment(g), "skew_ms": 0, "payload": payload});
    match g.rng.below(10) {
        0 => op["skew_ms"] = json!(-5000),
        1 => op["skew_ms"] = json!(90_000),
        2 => {
            op.as_object_mut().expect("op").remove("skew_ms");
        }
        _ => {}
    }
    op
}

fn sale_payload_for(t: &mut Tl, g: &mut Gen) -> Value {
    let n = 1 + g.rng.below(4) as usize;
    let mut used = Vec::new();
    let mut lines = Vec::new();
    let (mut total, mut tax_total) = (0i64, 0i64);
    for i in 0..n {
        let (sku, mut unit) = loop {
            let roll = g.rng.below(100);
            let (s, p) = if roll < 5 {
                (
                    format!("99{}", g.rng.below(5)),
                    100 + g.rng.below(50) as i64,
                )
            } else if roll < 8 {
                ("1063".to_string(), 300)
            } else {
                // a small pool, so that stock runs out and counts matter
                g.prices[g.rng.below(14) as usize].clone()
            };
            if !used.contains(&s) || g.rng.chance(10) {
                break (s, p);
            }
        };
        used.push(sku.clone());
        let overridden = g.rng.chance(4);
        if g.rng.chance(8) || overridden {
            unit += 1 + g.rng.below(50) as i64;
        }
        let qty = 1 + g.rng.below(6) as i64;
        let line_total = qty * unit;
        let tax = (line_total * 700 + 5350) / 10700;
        total += line_total;
        tax_total += tax;
        let mut l = json!({"line_no": i + 1, "sku": sku, "name": format!("item {sku}"), "qty": qty,
            "unit_price_cents": unit, "discount_cents": 0, "price_overridden": overridden,
            "tax_rate_bp": 700, "price_includes_tax": true, "line_total_cents": line_total,
            "tax_cents": tax});
        if g.rng.chance(10) {
            let o = l.as_object_mut().expect("line");
            o.remove("discount_cents");
            o.remove("name");
            o.remove("price_includes_tax");
            if !overridden {
                o.remove("price_overridden");
            }
        }
        lines.push(l);
    }
    if g.rng.chance(10) {
        lines.reverse(); // line order in the payload does not matter
    }
    let mut p = json!({"sale_id": Uuid::new_v4(), "created_at": moment(g), "currency": "EUR",
        "total_cents": total, "tax_cents": tax_total, "rounding_cents": 0, "lines": lines,
        "tenders": [{"kind": "cash", "amount_cents": total + 100, "change_cents": 100}],
        "prev_hash": t.prev_hash, "hash": ""});
    match g.rng.below(12) {
        0 => {
            p.as_object_mut().expect("sale").remove("tenders");
        }
        1 => p["tenders"] = json!([]),
        2 => {
            p["tenders"] = json!([{"kind": "card", "amount_cents": total / 2},
                                  {"kind": "cash", "amount_cents": total - total / 2}])
        }
        3 => {
            p.as_object_mut().expect("sale").remove("rounding_cents");
        }
        _ => {}
    }
    rehash_sale(&mut p);
    if g.rng.chance(5) {
        p["total_cents"] = json!(total + 1); // bad hash
    } else if g.rng.chance(3) {
        p["prev_hash"] = json!("ab".repeat(32)); // broken chain (hash still right)
        rehash_sale(&mut p);
    }
    t.prev_hash = p["hash"].as_str().unwrap_or_default().to_string();
    p
}

/// A refund of one or two lines of a recorded sale (of any till: sometimes more than is left,
/// so over_refund is raised), a blind one, or a malformed one; or a void of one of this till's
/// sales (some already voided or rejected: rejected).
fn refund_or_void(t: &mut Tl, all_sales: &[Value], g: &mut Gen) -> Value {
    if g.rng.chance(30) && !t.sales.is_empty() {
        let sale = g.rng.pick(&t.sales).clone();
        let s = &sale["payload"];
        let mut total =
            s["total_cents"].as_i64().unwrap_or(0) + s["rounding_cents"].as_i64().unwrap_or(0);
        if g.rng.chance(5) {
            total += 1; // not what the sale took
        }
        let mut p = void_payload(
            Uuid::new_v4(),
            s["sale_id"].as_str().unwrap_or_default(),
            &moment(g),
            total,
            &t.prev_hash,
        );
        if g.rng.chance(5) {
            p["total_cents"] = json!(total + 7); // bad hash
        }
        t.prev_hash = p["hash"].as_str().unwrap_or_default().to_string();
        return new_op(t, "void_sale", p, g);
    }
    let owned: Vec<(Option<i64>, String, i64, i64, bool)>;
    let original = if all_sales.is_empty() || g.rng.chance(20) {
        owned = vec![(
            None,
            g.prices[g.rng.below(14) as usize].0.clone(),
            1 + g.rng.below(3) as i64,
            g.rng.below(500) as i64,
            g.rng.chance(70),
        )];
        None
    } else {
        let sale = g.rng.pick(all_sales);
        let lines = sale["payload"]["lines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut picked = Vec::new();
        for l in lines {
            if picked.is_empty() || g.rng.chance(40) {
                let sold = l["qty"].as_i64().unwrap_or(1).max(1); // (a malformed sale may say 0)
                let qty = if g.rng.chance(15) {
                    sold + 1
                } else {
                    1 + g.rng.below(sold as u64) as i64
                };
                let unit = l["unit_price_cents"].as_i64().unwrap_or(0);
                picked.push((
                    l["line_no"].as_i64(),
                    l["sku"].as_str().unwrap_or_default().to_string(),
                    qty,
                    qty * unit,
                    g.rng.chance(75),
                ));
            }
        }
        owned = picked;
        sale["payload"]["sale_id"]
            .as_str()
            .and_then(|x| x.parse::<Uuid>().ok())
    };
    let lines: Vec<RefundLine> = owned
        .iter()
        .map(|(o, sku, q, a, r)| (*o, sku.as_str(), *q, *a, *r))
        .collect();
    let reason = if original.is_none() || g.rng.chance(30) {
        "returned"
    } else {
        ""
    };
    let mut p = refund_payload(
        Uuid::new_v4(),
        &moment(g),
        original,
        reason,
        &lines,
        &t.prev_hash,
    );
    match g.rng.below(25) {
        0 => p["total_cents"] = json!(p["total_cents"].as_i64().unwrap_or(0) + 1), // bad hash
        1 => {
            p["lines"][0]["qty"] = json!(0); // malformed
            rehash_refund(&mut p);
        }
        2 => {
            p["tenders"] = json!([{"kind": "card", "amount_cents": p["total_cents"]}]);
            rehash_refund(&mut p);
        }
        _ => {}
    }
    t.prev_hash = p["hash"].as_str().unwrap_or_default().to_string();
    new_op(t, "refund", p, g)
}

/// Malformed ops of several sorts (rejected by both paths, or an error inside the server).
fn bad_op(t: &mut Tl, g: &mut Gen) -> Value {
    let mut p = sale_payload_for(t, g);
    let mut op = match g.rng.below(9) {
        0 => {
            p["lines"][0]["qty"] = json!(0);
            new_op(t, "sale", p, g)
        }
        1 => {
            p["lines"][0]["qty"] = json!(2.0);
            new_op(t, "sale", p, g)
        }
        2 => {
            p["tenders"] = Value::Null; // valid, but the canonical form fails inside the server
            new_op(t, "sale", p, g)
        }
        3 => {
            p["lines"] = json!([p["lines"][0].clone(), p["lines"][0].clone()]);
            new_op(t, "sale", p, g)
        }
        4 => new_op(t, "refund", json!({}), g),
        5 => {
            let mut o = new_op(t, "sale", p, g);
            o["op_id"] = json!("not-a-uuid");
            o
        }
        6 => {
            p["created_at"] = json!("yesterday");
            new_op(t, "sale", p, g)
        }
        7 => {
            let mut o = new_op(t, "sale", p, g);
            o["seq"] = json!(-1);
            o
        }
        _ => {
            p["lines"][0]["line_no"] = json!(3_000_000_000i64); // passes validation, int overflow
            rehash_sale(&mut p);
            new_op(t, "sale", p, g)
        }
    };
    if g.rng.chance(20) {
        op["op_id"] = json!(op["op_id"].as_str().unwrap_or_default().to_uppercase());
    }
    op
}

/// Conflicts of one database by what raised them: (kind, sale, line, count, sku, op) -> id.
async fn conflict_keys(db: &tokio_postgres::Client) -> BTreeMap<String, (String, String, String)> {
    db.query(
        "select id::text, concat_ws('|', kind, sale_id, line_no, count_id, sku, op_id), kind, status
           from conflicts",
        &[],
    )
    .await
    .expect("conflicts")
    .iter()
    .map(|r| (r.get::<_, String>(1), (r.get(0), r.get(2), r.get(3))))
    .collect()
}

const DUMPS: &[(&str, &str)] = &[
    ("sales", "select id, store_id, device_id, op_id, seq, created_at, skew_ms, event_time, currency,
        total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok, staff_id, approved_by,
        shift_id, operator, staff_ok, shift_ok from sales"),
    ("sale_lines", "select sale_id, line_no, store_id, product_id, mapped_product_id, sku, name, qty,
        unit_price_cents, discount_cents, price_overridden, tax_rate_bp, price_includes_tax,
        line_total_cents, tax_cents from sale_lines"),
    ("sale_tenders", "select sale_id, idx, store_id, kind, amount_cents, change_cents from sale_tenders"),
    ("stock_movements", "select store_id, product_id, delta, reason, op_id, device_id, sale_id, line_no,
        conflict_id, refund_id, void_id, device_time, skew_ms,
        case when reason = 'receipt' then null else event_time end as event_time from stock_movements"),
    ("refunds", "select id, store_id, device_id, op_id, seq, original_sale_id, created_at, skew_ms,
        event_time, currency, reason, approved_by, total_cents, tax_cents, rounding_cents, prev_hash,
        hash, chain_ok, staff_id, shift_id, operator, staff_ok, shift_ok from refunds"),
    ("refund_lines", "select * from refund_lines"),
    ("refund_tenders", "select * from refund_tenders"),
    ("sale_voids", "select id, store_id, device_id, op_id, seq, sale_id, created_at, skew_ms, event_time,
        reason, approved_by, total_cents, prev_hash, hash, chain_ok, staff_id, shift_id, operator,
        staff_ok, shift_ok from sale_voids"),
    ("shifts", "select (to_jsonb(s) - 'received_at')::text from shifts s"),
    ("cash_movements", "select (to_jsonb(m) - 'received_at')::text from cash_movements m"),
    ("sale_void_tenders", "select * from sale_void_tenders"),
    ("refund_losses", "select store_id, conflict_id, sale_id, line_no, refund_id, void_id, product_id,
        excess_qty, loss_cents from refund_losses"),
    ("stock_levels", "select store_id, product_id, on_hand, baseline_at from stock_levels"),
    ("stock_counts", "select case when source = 'recount' then null else id end as id, store_id,
        product_id, device_id, op_id, counted_qty, counted_at, skew_ms, event_time, expected_qty,
        status, source from stock_counts"),
    ("conflicts", "select id, store_id, kind, status, product_id, sku, sale_id, line_no, count_id,
        device_id, op_id, details, resolution - 'resolved_at' as resolution, resolved_by_device,
        resolved_at is null as open from conflicts"),
    ("price_adjustments", "select store_id, conflict_id, sale_id, line_no, product_id, qty,
        sold_unit_cents, server_unit_cents, difference_cents from price_adjustments"),
    ("applied_ops", "select device_id, op_id, store_id, seq, kind,
        case when kind = 'resolve_conflict' then null else content_md5 end as content_md5,
        status, code, message, note from applied_ops"),
    ("rejected_ops", "select store_id, device_id, op_id, seq, kind, code, message, op from rejected_ops"),
];

async fn dump(db: &tokio_postgres::Client, sql: &str, map: &[(String, String)]) -> Vec<String> {
    let mut rows: Vec<String> = db
        .query(&format!("select row_to_json(t)::text from ({sql}) t"), &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| {
            let mut s: String = r.get(0);
            for (from, to) in map {
                if s.contains(from.as_str()) {
                    s = s.replace(from.as_str(), to);
                }
            }
            s
        })
        .collect();
    rows.sort();
    rows
}

fn replace_all(v: &Value, map: &[(String, String)]) -> Value {
    let mut s = v.to_string();
    for (from, to) in map {
        s = s.replace(from.as_str(), to);
    }
    serde_json::from_str(&s).expect("json")
}

async fn product_ids(db: &tokio_postgres::Client) -> HashMap<String, String> {
    db.query("select sku, id::text from products", &[])
        .await
        .expect("products")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn scenario(seed: u64, batches: usize) {
    let a = TestStack::start().await.expect("stack A");
    let b = TestStack::start().await.expect("stack B");
    let (api_a, api_b) = (Api::new(&a), Api::new(&b));
    let (db_a, db_b) = (
        a.client().await.expect("db A"),
        b.client().await.expect("db B"),
    );
    db_b.batch_execute(&format!(
        "alter role authenticated in database \"{}\" set kassa.push_fast_path = 'off'",
        b.db_name
    ))
    .await
    .expect("per-op B");
    let base_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // The same catalog changes in both: a retired product and a price history with fixed
    // moments (sales before and after them).
    for db in [&db_a, &db_b] {
        db.batch_execute(&format!(
            "update products set active = false where sku = '1063';
             insert into product_prices (product_id, valid_from, price_cents)
             select id, to_timestamp({} / 1000.0), price_cents + 10 from products
              where sku in ('1001', '1002', '1003', '1004');
             insert into product_prices (product_id, valid_from, price_cents)
             select id, to_timestamp({} / 1000.0), price_cents + 20 from products
              where sku in ('1001', '1005');",
            base_ms - 30 * 60_000,
            base_ms + 10 * 60_000
        ))
        .await
        .expect("catalog changes");
    }
    let prices: Vec<(String, i64)> = db_a
        .query(
            "select sku, price_cents from products where active order by sku",
            &[],
        )
        .await
        .expect("prices")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // The same staff in both (one of them of the other store: not a staff member here).
    let staff: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for (db, stack) in [(&db_a, &a), (&db_b, &b)] {
        for (i, id) in staff.iter().enumerate() {
            let store = if i == 2 {
                stack.other_store_id
            } else {
                stack.store_id
            };
            db.execute(
                "insert into staff (id, store_id, name, role, pin_hash)
                 values ($1, $2, 'staff', 'cashier', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA')",
                &[id, &store],
            )
            .await
            .expect("staff");
        }
    }
    let (pa, pb) = (product_ids(&db_a).await, product_ids(&db_b).await);
    let mut b2a: Vec<(String, String)> = pb
        .iter()
        .map(|(sku, id)| (id.clone(), pa[sku].clone()))
        .collect();
    let mut a2b_conflict: HashMap<String, String> = HashMap::new();

    let mut g = Gen {
        rng: Rng(seed),
        base_ms,
        prices,
        staff,
    };
    let mut tills: Vec<Tl> = (0..3)
        .map(|i| Tl {
            token_a: a.devices[i].token.clone(),
            token_b: b.devices[i].token.clone(),
            seq: 0,
            prev_hash: "0".repeat(64),
            sent: Vec::new(),
            sales: Vec::new(),
            shift: None,
        })
        .collect();
    let mut results_total = 0usize;
    let mut all_sales: Vec<Value> = Vec::new();

    for batch_no in 0..batches {
        let ti = g.rng.below(3) as usize;
        let open: Vec<(String, String, String)> =
            conflict_keys(&db_a).await.into_values().collect();
        let n = if g.rng.chance(20) {
            1
        } else {
            2 + g.rng.below(45) as usize
        };
        let mut ops: Vec<Value> = Vec::new();
        let t = &mut tills[ti];
        for _ in 0..n {
            let roll = g.rng.below(100);
            let op = if roll < 5 {
                shift_op(t, &mut g)
            } else if roll < 50 {
                let p = sale_payload_for(t, &mut g);
                let op = new_op(t, "sale", p, &mut g);
                t.sales.push(op.clone());
                op
            } else if roll < 58 {
                refund_or_void(t, &all_sales, &mut g)
            } else if roll < 66 {
                let sku = if g.rng.chance(10) {
                    "9990".to_string()
                } else {
                    g.prices[g.rng.below(14) as usize].0.clone()
                };
                let qty = g.rng.below(30) as i64;
                if g.rng.chance(30) {
                    // a count at exactly the (corrected) moment of the sale that follows it:
                    // the baseline absorbs the sale
                    let p = sale_payload_for(t, &mut g);
                    let at = p["created_at"].clone();
                    let sku = p["lines"][0]["sku"].clone();
                    let mut count = new_op(
                        t,
                        "stock_count",
                        json!({"count_id": Uuid::new_v4(), "sku": sku, "counted_qty": qty,
                               "counted_at": at}),
                        &mut g,
                    );
                    let mut sale = new_op(t, "sale", p, &mut g);
                    sale["skew_ms"] = count.get("skew_ms").cloned().unwrap_or(json!(0));
                    count["skew_ms"] = sale["skew_ms"].clone();
                    t.sales.push(sale.clone());
                    ops.push(count);
                    sale
                } else {
                    new_op(
                        t,
                        "stock_count",
                        json!({"count_id": Uuid::new_v4(), "sku": sku, "counted_qty": qty,
                               "counted_at": moment(&mut g)}),
                        &mut g,
                    )
                }
            } else if roll < 74 {
                // (over_refund conflicts are rarer than the others: favour them a little)
                let over: Vec<&(String, String, String)> =
                    open.iter().filter(|c| c.1 == "over_refund").collect();
                let (id, kind) = if !over.is_empty() && g.rng.chance(25) {
                    let (id, kind, _) = (*g.rng.pick(&over)).clone();
                    (id, kind)
                } else if open.is_empty() || g.rng.chance(8) {
                    (Uuid::new_v4().to_string(), "oversold".to_string())
                } else {
                    let (id, kind, _) = g.rng.pick(&open).clone();
                    (id, kind)
                };
                let valid: &[&str] = match kind.as_str() {
                    "oversold" => &["accept", "recount"],
                    "price_mismatch" => &["accept", "adjust"],
                    "unknown_product" => &["map", "non_stock"],
                    "over_refund" => &["accept_loss", "follow_up"],
                    _ => &["accept", "reject"],
                };
                let action = if g.rng.chance(10) {
                    "adjust"
                } else {
                    *g.rng.pick(valid)
                };
                let qty = if action == "recount" && !g.rng.chance(10) {
                    json!(g.rng.below(20))
                } else {
                    Value::Null
                };
                let sku = if action == "map" {
                    if g.rng.chance(15) {
                        json!("9991")
                    } else {
                        json!(g.prices[g.rng.below(14) as usize].0.clone())
                    }
                } else {
                    Value::Null
                };
                new_op(
                    t,
                    "resolve_conflict",
                    json!({"conflict_id": id, "action": action, "qty": qty, "sku": sku, "note": "n"}),
                    &mut g,
                )
            } else if roll < 84 && !t.sent.is_empty() {
                // a replay (same kind and payload; seq/skew/device_time may differ)
                let mut op = g.rng.pick(&t.sent).clone();
                if g.rng.chance(30) {
                    op["skew_ms"] = json!(1234);
                    op["device_time"] = json!(moment(&mut g));
                }
                op
            } else if roll < 87 && !t.sent.is_empty() {
                let mut op = g.rng.pick(&t.sent).clone();
                op["payload"]["note_x"] = json!(1); // same op_id, other content
                op
            } else if roll < 90 && !t.sales.is_empty() {
                // a new op that records an already recorded sale_id
                let old = g.rng.pick(&t.sales).clone();
                let mut p = sale_payload_for(t, &mut g);
                p["sale_id"] = old["payload"]["sale_id"].clone();
                rehash_sale(&mut p);
                t.prev_hash = p["hash"].as_str().unwrap_or_default().to_string();
                new_op(t, "sale", p, &mut g)
            } else if roll < 93 {
                // a new sale with a stale seq (below sales already recorded)
                let p = sale_payload_for(t, &mut g);
                let mut op = new_op(t, "sale", p, &mut g);
                op["seq"] = json!(1 + g.rng.below(t.seq.max(1) as u64));
                op
            } else if roll < 97 {
                bad_op(t, &mut g)
            } else if let Some(last) = ops.last() {
                last.clone() // the same op twice in one batch
            } else {
                let p = sale_payload_for(t, &mut g);
                new_op(t, "sale", p, &mut g)
            };
            let mut op = op;
            if op["seq"] == json!(t.seq)
                && !t.sent.iter().any(|o| o["op_id"] == op["op_id"])
                && !ops.iter().any(|o| o["op_id"] == op["op_id"])
            {
                let shift = t.shift;
                add_who(&mut op, shift, &mut g);
                if op["kind"] == "sale" {
                    if let Some(last) = t.sales.last_mut() {
                        if last["op_id"] == op["op_id"] {
                            *last = op.clone();
                        }
                    }
                }
            }
            ops.push(op);
        }
        if ops.len() > 2 && g.rng.chance(10) {
            let i = g.rng.below(ops.len() as u64 - 1) as usize;
            ops.swap(i, i + 1); // seqs out of order
        }
        t.sent.extend(ops.iter().cloned());
        all_sales.extend(ops.iter().filter(|op| op["kind"] == "sale").cloned());

        // B gets the same ops, with A's conflict ids translated to B's.
        let ops_b: Vec<Value> = ops
            .iter()
            .map(|op| {
                let mut op = op.clone();
                if op["kind"] == "resolve_conflict" {
                    if let Some(id) = op["payload"]["conflict_id"].as_str() {
                        if let Some(bid) = a2b_conflict.get(id) {
                            op["payload"]["conflict_id"] = json!(bid);
                        }
                    }
                }
                op
            })
            .collect();
        let ra = api_a.push(&t.token_a, &ops).await;
        let rb = api_b.push(&t.token_b, &ops_b).await;
        results_total += ra.len();

        // Map B's new conflicts to A's by what raised them.
        let (ka, kb) = (conflict_keys(&db_a).await, conflict_keys(&db_b).await);
        assert_eq!(
            ka.keys().collect::<Vec<_>>(),
            kb.keys().collect::<Vec<_>>(),
            "batch {batch_no}: the same conflicts"
        );
        for (key, (ida, _, _)) in &ka {
            let idb = &kb[key].0;
            if !a2b_conflict.contains_key(ida) {
                a2b_conflict.insert(ida.clone(), idb.clone());
                b2a.push((idb.clone(), ida.clone()));
            }
        }
        let rb = replace_all(&Value::Array(rb), &b2a);
        assert_eq!(
            Value::Array(ra.clone()),
            rb,
            "batch {batch_no}: results differ\nops: {}",
            Value::Array(ops.clone())
        );
        if batch_no % 10 == 9 || batch_no + 1 == batches {
            for (table, sql) in DUMPS {
                let (da, db) = (dump(&db_a, sql, &[]).await, dump(&db_b, sql, &b2a).await);
                if da != db {
                    let only_a: Vec<_> = da.iter().filter(|r| !db.contains(r)).take(5).collect();
                    let only_b: Vec<_> = db.iter().filter(|r| !da.contains(r)).take(5).collect();
                    panic!(
                        "after batch {batch_no}: {table} differs\nonly fast path: {only_a:#?}\nonly per-op: {only_b:#?}"
                    );
                }
            }
        }
    }
    // The scenario did produce what it is meant to compare.
    let n = |sql: &'static str| {
        let db = &db_a;
        async move { db.query_one(sql, &[]).await.expect(sql).get::<_, i64>(0) }
    };
    assert!(results_total > 500, "{results_total} results");
    for (sql, what) in [
        ("select count(*) from sales where chain_ok", "chained sales"),
        ("select count(*) from sales where not chain_ok", "broken chains"),
        ("select count(*) from conflicts where kind = 'oversold'", "oversold"),
        ("select count(*) from conflicts where kind = 'price_mismatch'", "price_mismatch"),
        ("select count(*) from conflicts where kind = 'unknown_product'", "unknown_product"),
        ("select count(*) from conflicts where kind = 'count_discrepancy'", "count_discrepancy"),
        ("select count(*) from conflicts where status = 'resolved'", "resolutions"),
        ("select count(*) from rejected_ops where code = 'bad_hash'", "bad hashes"),
        ("select count(*) from refunds where original_sale_id is not null and chain_ok", "chained refunds"),
        ("select count(*) from refunds where original_sale_id is null", "blind refunds"),
        ("select count(*) from stock_movements where reason = 'write_off'", "write-offs"),
        ("select count(*) from sale_voids where chain_ok", "chained voids"),
        ("select count(*) from conflicts where kind = 'over_refund'", "over_refund"),
        ("select count(*) from conflicts where kind = 'over_refund' and status = 'resolved'", "over_refund resolutions"),
        ("select count(*) from rejected_ops where kind in ('refund', 'void_sale')", "rejected refunds and voids"),
        ("select count(*) from sales s where s.chain_ok and exists (select 1 from refunds r
           where r.device_id = s.device_id and r.seq = s.seq - 1)", "sales chained to a refund"),
        ("select count(*) from rejected_ops where code = 'op_id_reused'", "op_id reuse"),
        ("select count(*) from rejected_ops where message like 'sale % was already recorded%'", "sale_id reuse"),
        ("select count(*) from stock_movements m join stock_levels s using (store_id, product_id)
           where m.reason = 'sale' and s.baseline_at >= m.event_time", "sales absorbed by a baseline"),
        ("select count(*) from shifts where close_op_id is not null", "closed shifts"),
        ("select count(*) from cash_movements", "cash movements"),
        ("select count(*) from rejected_ops where kind like 'shift%' or kind = 'cash_movement'",
         "rejected shift documents"),
        ("select count(*) from sales where shift_ok and shift_id is not null", "sales in a shift"),
        ("select count(*) from sales where not shift_ok", "sales of an unknown shift"),
        ("select count(*) from sales where staff_ok and staff_id is not null", "sales by known staff"),
        ("select count(*) from sales where not staff_ok", "sales by unknown staff"),
        ("select count(*) from refunds where staff_id is not null", "refunds with staff"),
        ("select count(*) from sales s where s.chain_ok and exists (select 1 from cash_movements m
           where m.device_id = s.device_id and m.seq = s.seq - 1)", "sales chained to a cash movement"),
        ("select count(*) from shifts where server_expected_cents <> coalesce(float_cents, 0)",
         "shifts with cash documents"),
    ] {
        let produced = n(sql).await;
        eprintln!("seed {seed:#x}: {produced} {what}");
        assert!(produced > 0, "the scenario produced no {what}");
    }
    a.cleanup().await;
    b.cleanup().await;
}

#[tokio::test]
async fn fast_path_equals_per_op_path_on_random_batches() {
    for seed in [0x9e37_79b9_7f4a_7c15u64, 0x2545_f491_4f6c_dd1d] {
        scenario(seed, 40).await;
    }
}

/// The fast path is really taken for runs of sales (and not with the setting off): counted
/// with the transaction's own function statistics.
#[tokio::test]
async fn a_batch_of_sales_takes_the_fast_path() {
    let stack = TestStack::start().await.expect("stack");
    let d = &stack.devices[0];
    let mut till = Till::new(d);
    let mut ops: Vec<Value> = (0..20)
        .map(|_| till.sale(&[("1001", 1, 119), ("1002", 2, 109), ("9999", 1, 5)]))
        .collect();
    ops.insert(10, till.count_at("1003", 5, &ts(1)));
    ops.push(ops[3].clone());
    let claims =
        json!({"role": "authenticated", "sub": d.id, "app_metadata": {"store_id": d.store_id}});
    let mut outcome = Vec::new();
    for fast in ["on", "off"] {
        // A connection of its own: the function counts are the session's until flushed.
        let mut db = stack.client().await.expect("db");
        let tx = db.transaction().await.expect("tx");
        tx.batch_execute(&format!(
            "set local track_functions = 'pl'; set local kassa.push_fast_path = '{fast}'"
        ))
        .await
        .expect("settings");
        tx.execute(
            "select set_config('request.jwt.claims', $1, true)",
            &[&claims.to_string()],
        )
        .await
        .expect("claims");
        tx.batch_execute("set local role authenticated")
            .await
            .expect("role");
        let r: Value = tx
            .query_one(
                "select kassa_push($1::text::jsonb)",
                &[&Value::Array(ops.clone()).to_string()],
            )
            .await
            .expect("push")
            .get(0);
        tx.batch_execute("reset role").await.expect("reset");
        let calls = |f: &'static str| {
            let tx = &tx;
            async move {
                tx.query_one(
                    &format!("select coalesce(pg_stat_get_xact_function_calls('{f}'::regproc), 0)"),
                    &[],
                )
                .await
                .expect(f)
                .get::<_, i64>(0)
            }
        };
        outcome.push((
            statuses(r.as_array().expect("results")),
            calls("public.kassa_push_fast_run").await,
            calls("public.kassa_apply_sale").await,
        ));
        tx.rollback().await.expect("rollback");
    }
    let (on, off) = (&outcome[0], &outcome[1]);
    assert_eq!(on.0, off.0);
    assert_eq!(on.0.iter().filter(|s| *s == "applied").count(), 21);
    assert_eq!(on.0.last().map(String::as_str), Some("duplicate"));
    // Three runs of sales: around the count and around the op that is repeated in the batch
    // (an op_id that occurs twice in a batch goes the per-op way, both times).
    assert_eq!((on.1, on.2), (3, 1), "fast path: runs, per-op sales");
    assert_eq!((off.1, off.2), (0, 20), "per-op path: runs, per-op sales");
    stack.cleanup().await;
}
