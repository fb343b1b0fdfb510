//! Cashiers, shifts and cash management (issue 11) through the gateway against real
//! PostgreSQL: the `staff` pull section, the kinds `shift_open`, `cash_movement` and
//! `shift_close` of kassa_push, who rang up every document (staff_id, approved_by, shift_id,
//! operator; flagged, never rejected), the server's expected cash of a shift, the chain over
//! all six document kinds, and RLS of staff, shifts and the shift report (docs/protocol.md).
mod common;

use common::*;
use pgrest_lite::testing::TestStack;
use serde_json::{json, Value};
use uuid::Uuid;

const PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$3cM0xJt0vUFpM0eBzN0p8W4v2nK1mHkQ6bYy0cR2VjE";

async fn add_staff(db: &tokio_postgres::Client, store: Uuid, name: &str, role: &str) -> Uuid {
    db.query_one(
        "insert into staff (store_id, name, role, pin_hash) values ($1, $2, $3, $4) returning id",
        &[&store, &name, &role, &PHC],
    )
    .await
    .expect("staff")
    .get(0)
}

/// A sale in `t`'s chain paid with `tenders`, rung up by `staff` in `shift`.
fn sale(
    t: &mut Till,
    lines: &[Line],
    tenders: Value,
    staff: Option<Uuid>,
    shift: Option<Uuid>,
) -> Value {
    let mut p = sale_payload(Uuid::new_v4(), &ts(0), lines, &t.prev_hash);
    p["tenders"] = tenders;
    rehash_sale(&mut p);
    p["staff_id"] = json!(staff);
    p["approved_by"] = Value::Null;
    p["shift_id"] = json!(shift);
    t.prev_hash = p["hash"].as_str().expect("hash").to_string();
    t.raw("sale", p)
}

fn total(op: &Value) -> i64 {
    op["payload"]["total_cents"].as_i64().expect("total")
}

async fn shift_row(db: &tokio_postgres::Client, shift: Uuid) -> (Option<i64>, i64, Option<i64>) {
    let r = db
        .query_one(
            "select expected_cents, server_expected_cents, counted_cents from shifts where id = $1",
            &[&shift],
        )
        .await
        .expect("shift");
    (r.get(0), r.get(1), r.get(2))
}

/// approved_by, shift_id, operator, staff_ok, shift_ok of a document.
type Who = (Option<String>, Option<String>, Option<String>, bool, bool);

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.expect(sql).get(0)
}

/// Row counts of every table a shift push writes, and the server's expected figures.
async fn snapshot(db: &tokio_postgres::Client) -> Vec<i64> {
    let mut v = Vec::new();
    for sql in [
        "select count(*) from sales",
        "select count(*) from refunds",
        "select count(*) from shifts",
        "select count(*) from cash_movements",
        "select count(*) from applied_ops",
        "select count(*) from rejected_ops",
        "select coalesce(sum(server_expected_cents), 0)::bigint from shifts",
        "select count(*) from sales where staff_ok and shift_ok",
    ] {
        v.push(count(db, sql).await);
    }
    v
}

#[tokio::test]
async fn staff_are_pulled_page_by_page_and_only_by_their_store() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut mine = Vec::new();
    for (i, role) in ["cashier", "manager", "technician", "cashier", "cashier"]
        .iter()
        .enumerate()
    {
        mine.push(add_staff(&db, stack.store_id, &format!("staff {i}"), role).await);
    }
    let theirs = add_staff(&db, stack.other_store_id, "elsewhere", "manager").await;
    // A change is a new version: the disabled one comes last.
    db.execute("update staff set active = false where id = $1", &[&mine[0]])
        .await
        .expect("disable");

    let token = &stack.devices[0].token;
    let old = api.pull(token, json!({"catalog": 0})).await;
    assert!(
        old.get("staff").is_none(),
        "a till without a staff cursor gets none: {old}"
    );

    let (mut cursor, mut seen, mut pages) = (0i64, Vec::new(), 0);
    loop {
        let r = api.pull(token, json!({"staff": cursor, "limit": 2})).await;
        let s = &r["staff"];
        for row in s["rows"].as_array().expect("rows") {
            assert_eq!(row["pin_hash"], json!(PHC));
            assert!(row["version"].as_i64().expect("version") > cursor);
            seen.push((
                row["id"]
                    .as_str()
                    .expect("id")
                    .parse::<Uuid>()
                    .expect("uuid"),
                row["active"].as_bool().expect("active"),
                row["role"].as_str().expect("role").to_string(),
            ));
        }
        pages += 1;
        cursor = s["cursor"].as_i64().expect("cursor");
        if !s["more"].as_bool().expect("more") {
            break;
        }
    }
    assert_eq!(pages, 3);
    let ids: Vec<Uuid> = seen.iter().map(|s| s.0).collect();
    assert_eq!(ids, [&mine[1..], &mine[..1]].concat(), "ordered by version");
    assert!(!seen[4].1, "the disabled one is pulled as inactive");
    assert_eq!(seen[1].2, "technician");
    // Nothing new: the same cursor back.
    let again = api.pull(token, json!({"staff": cursor})).await;
    assert_eq!(again["staff"]["rows"], json!([]));
    assert_eq!(again["staff"]["cursor"], json!(cursor));
    let bad = api
        .rpc(
            Some(token),
            "kassa_pull",
            json!({"p_cursors": {"staff": "x"}}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["code"].clone()),
        (400, json!("22023"))
    );

    // The other store's till sees its own staff only, by the pull and by the table (RLS).
    let other = &stack.other_store_device.token;
    let r = api.pull(other, json!({"staff": 0})).await;
    let rows = r["staff"]["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], json!(theirs));
    let table = api.get(Some(other), "staff?select=id").await;
    assert_eq!(table.status, 200, "{}", table.body);
    assert_eq!(table.body, json!([{ "id": theirs }]));
    let own = api.get(Some(token), "staff?select=id").await;
    assert_eq!(own.body.as_array().expect("rows").len(), 5);
    // Devices cannot write staff (head office does, with the service role).
    let may: bool = db
        .query_one(
            "select has_table_privilege('authenticated', 'staff', 'insert')
                 or has_table_privilege('authenticated', 'staff', 'update')",
            &[],
        )
        .await
        .expect("privilege")
        .get(0);
    assert!(!may);
    stack.cleanup().await;
}

#[tokio::test]
async fn a_shift_lifecycle_gives_the_server_the_tills_expected_cash() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let cashier = add_staff(&db, stack.store_id, "Ana", "cashier").await;
    let manager = add_staff(&db, stack.store_id, "Bo", "manager").await;
    let mut t = Till::new(&stack.devices[0]);
    let shift = Uuid::new_v4();
    let me = Some(cashier);

    let float = 15_000;
    let mut open_p = shift_open_payload(shift, me, float, &t.prev_hash);
    open_p["denominations"] = json!({"5000": 2, "2000": 2, "1000": 1});
    let open = t.shift_doc("shift_open", open_p);
    let mut ops = vec![open];
    // A cash sale with change (357 paid with 2000), a card sale, a split one.
    let cash1 = sale(
        &mut t,
        &[("1001", 3, 119)],
        json!([{"kind": "cash", "amount_cents": 2000, "change_cents": 1643}]),
        me,
        Some(shift),
    );
    let mut cash_sales = total(&cash1);
    ops.push(cash1);
    let card = sale(
        &mut t,
        &[("1002", 2, 109)],
        json!([{"kind": "card", "amount_cents": 218}]),
        me,
        Some(shift),
    );
    ops.push(card);
    let split = sale(
        &mut t,
        &[("1003", 1, 500)],
        json!([{"kind": "card", "amount_cents": 200}, {"kind": "cash", "amount_cents": 400, "change_cents": 100}]),
        me,
        Some(shift),
    );
    cash_sales += 300;
    ops.push(split);
    let paid_out = t.shift_doc(
        "cash_movement",
        cash_payload(Some(shift), me, "paid_out", 2500, ""),
    );
    let paid_in = t.shift_doc(
        "cash_movement",
        cash_payload(Some(shift), me, "paid_in", 1000, ""),
    );
    let no_sale = t.shift_doc(
        "cash_movement",
        cash_payload(Some(shift), me, "no_sale", 0, ""),
    );
    ops.extend([paid_out, paid_in, no_sale]);
    let mut refund = t.refund(None, "broken", &[(None, "1001", 1, 119, true)]);
    refund["payload"]["staff_id"] = json!(cashier);
    refund["payload"]["approved_by"] = json!(manager);
    refund["payload"]["shift_id"] = json!(shift);
    ops.push(refund);
    let expected = float + cash_sales - 119 + 1000 - 2500;
    let close = t.shift_doc(
        "shift_close",
        shift_close_payload(shift, me, expected - 20, expected, ""),
    );
    ops.push(close);

    let r = api.push(&t.token, &ops).await;
    assert_eq!(statuses(&r), vec!["applied"; ops.len()], "{r:?}");
    assert_eq!(
        shift_row(&db, shift).await,
        (Some(expected), expected, Some(expected - 20))
    );
    // Who rang it up is on every document, and everything chains.
    assert_eq!(
        count(&db, "select count(*) from sales where staff_ok and shift_ok and shift_id is not null and staff_id is not null").await,
        3
    );
    let rr = db
        .query_one(
            "select staff_id, approved_by, shift_id, staff_ok, shift_ok, chain_ok from refunds",
            &[],
        )
        .await
        .expect("refund");
    assert_eq!(rr.get::<_, Option<String>>(0), Some(cashier.to_string()));
    assert_eq!(rr.get::<_, Option<String>>(1), Some(manager.to_string()));
    assert_eq!(rr.get::<_, Option<String>>(2), Some(shift.to_string()));
    assert!(rr.get::<_, bool>(3) && rr.get::<_, bool>(4) && rr.get::<_, bool>(5));
    assert_eq!(
        count(&db, "select count(*) from sales where not chain_ok").await
            + count(
                &db,
                "select count(*) from cash_movements where not chain_ok"
            )
            .await
            + count(
                &db,
                "select count(*) from shifts where not (open_chain_ok and close_chain_ok)"
            )
            .await,
        0
    );

    // The report shows the over/short per cashier, to the store's own tokens only.
    let rep = api
        .get(Some(&t.token), "kassa_shift_report?select=shift_id,opened_by_name,over_short_cents,server_over_short_cents,expected_agrees,status,cash_movements")
        .await;
    assert_eq!(rep.status, 200, "{}", rep.body);
    assert_eq!(
        rep.body,
        json!([{"shift_id": shift, "opened_by_name": "Ana", "over_short_cents": -20,
                "server_over_short_cents": -20, "expected_agrees": true, "status": "closed",
                "cash_movements": 3}])
    );
    let other = &stack.other_store_device.token;
    for path in [
        "kassa_shift_report?select=shift_id",
        "shifts?select=id",
        "cash_movements?select=id",
        "staff?select=id",
    ] {
        let o = api.get(Some(other), path).await;
        assert_eq!((o.status, o.body.clone()), (200, json!([])), "{path}");
    }

    // Replays (a lost response) change nothing.
    let before = snapshot(&db).await;
    let again = api.push(&t.token, &ops).await;
    assert_eq!(statuses(&again), vec!["duplicate"; ops.len()]);
    assert_eq!(snapshot(&db).await, before);
    stack.cleanup().await;
}

#[tokio::test]
async fn the_chain_runs_over_sales_and_shift_documents() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[1]);
    let shift = Uuid::new_v4();
    let s1 = t.sale(&[("1001", 1, 119)]);
    let open = t.shift_doc("shift_open", shift_open_payload(shift, None, 5000, ""));
    let cash = t.shift_doc(
        "cash_movement",
        cash_payload(Some(shift), None, "paid_in", 700, ""),
    );
    let s2 = t.sale(&[("1002", 1, 109)]);
    let close = t.shift_doc(
        "shift_close",
        shift_close_payload(shift, None, 5700, 5700, ""),
    );
    // One batch, then the next sale in a batch of sales (the set-based path).
    let r = api.push(&t.token, &[s1, open, cash, s2, close]).await;
    assert_eq!(statuses(&r), vec!["applied"; 5]);
    let s3 = t.sale(&[("1003", 1, 500)]);
    let s4 = t.sale(&[("1003", 1, 500)]);
    assert_eq!(
        statuses(&api.push(&t.token, &[s3, s4]).await),
        ["applied", "applied"]
    );
    assert_eq!(
        count(&db, "select count(*) from sales where chain_ok").await,
        4
    );
    assert_eq!(
        count(&db, "select count(*) from cash_movements where chain_ok").await,
        1
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from shifts where open_chain_ok and close_chain_ok"
        )
        .await,
        1
    );
    // A sale not in a shift of the server still counts nothing towards it.
    assert_eq!(shift_row(&db, shift).await.1, 5700);

    // A shift document over the wrong previous hash is applied and flagged.
    let mut t2 = Till::new(&stack.devices[2]);
    t2.prev_hash = "ab".repeat(32);
    let broken = t2.shift_doc(
        "shift_open",
        shift_open_payload(Uuid::new_v4(), None, 0, ""),
    );
    assert_eq!(statuses(&api.push(&t2.token, &[broken]).await), ["applied"]);
    assert_eq!(
        count(&db, "select count(*) from shifts where not open_chain_ok").await,
        1
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn malformed_shift_ops_are_rejected_and_the_rest_applies() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let mut t = Till::new(&stack.devices[0]);
    let shift = Uuid::new_v4();
    let open = t.shift_doc("shift_open", shift_open_payload(shift, None, 1000, ""));
    let chain = t.prev_hash.clone();
    let bad = |t: &mut Till, kind: &str, edit: &dyn Fn(&mut Value)| {
        let mut p = match kind {
            "shift_open" => shift_open_payload(Uuid::new_v4(), None, 1000, &t.prev_hash),
            "cash_movement" => cash_payload(Some(shift), None, "paid_out", 100, &t.prev_hash),
            _ => shift_close_payload(shift, None, 1000, 1000, &t.prev_hash),
        };
        edit(&mut p);
        rehash_shift(kind, &mut p);
        t.raw(kind, p)
    };
    let mut ops = vec![open.clone()];
    ops.push(bad(&mut t, "shift_open", &|p| p["float_cents"] = json!(-1)));
    ops.push(bad(&mut t, "shift_open", &|p| {
        p["shift_id"] = json!("nope")
    }));
    ops.push(bad(&mut t, "shift_open", &|p| {
        p["denominations"] = json!({"500": 1})
    }));
    ops.push(bad(&mut t, "shift_open", &|p| p["shift_id"] = json!(shift))); // opened already
    ops.push(bad(&mut t, "cash_movement", &|p| {
        p["kind"] = json!("stolen")
    }));
    ops.push(bad(&mut t, "cash_movement", &|p| {
        p["kind"] = json!("no_sale");
    }));
    ops.push(bad(&mut t, "cash_movement", &|p| {
        p["amount_cents"] = json!(1.5)
    }));
    ops.push(bad(&mut t, "shift_close", &|p| {
        p["over_short_cents"] = json!(3)
    }));
    ops.push(bad(&mut t, "shift_close", &|p| {
        p["closed_at"] = json!("yesterday")
    }));
    let mut bad_hash = bad(&mut t, "shift_close", &|_| {});
    bad_hash["payload"]["counted_cents"] = json!(999);
    bad_hash["payload"]["over_short_cents"] = json!(-1);
    ops.push(bad_hash);
    t.prev_hash = chain;
    let good_cash = t.shift_doc(
        "cash_movement",
        cash_payload(Some(shift), None, "paid_out", 400, ""),
    );
    ops.push(good_cash.clone());
    let close = t.shift_doc(
        "shift_close",
        shift_close_payload(shift, None, 600, 600, ""),
    );
    ops.push(close);
    let second_close = bad(&mut t, "shift_close", &|p| {
        p["counted_cents"] = json!(600);
        p["expected_cents"] = json!(600);
    });
    ops.push(second_close);

    let r = api.push(&t.token, &ops).await;
    let codes: Vec<String> = r
        .iter()
        .map(|x| {
            x["code"]
                .as_str()
                .unwrap_or(x["status"].as_str().unwrap_or("?"))
                .to_string()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "applied",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "bad_hash",
            "applied",
            "applied",
            "invalid_payload"
        ],
        "{r:?}"
    );
    assert!(r[4]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("already opened"));
    assert!(r[13]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("already closed"));
    assert_eq!(shift_row(&db, shift).await, (Some(600), 600, Some(600)));
    assert_eq!(count(&db, "select count(*) from shifts").await, 1);
    assert_eq!(count(&db, "select count(*) from cash_movements").await, 1);
    assert_eq!(count(&db, "select count(*) from rejected_ops").await, 11);

    // A replay repeats the rejection; the same op_id for other content is op_id_reused.
    let again = api.push(&t.token, &ops[1..2]).await;
    assert_eq!(
        (again[0]["status"].clone(), again[0]["code"].clone()),
        (json!("rejected"), json!("invalid_payload"))
    );
    let mut reused = good_cash.clone();
    reused["payload"]["reason"] = json!("other");
    let again = api.push(&t.token, &[reused]).await;
    assert_eq!(again[0]["code"], json!("op_id_reused"));
    assert_eq!(count(&db, "select count(*) from cash_movements").await, 1);
    stack.cleanup().await;
}

#[tokio::test]
async fn unknown_staff_and_shifts_are_recorded_and_flagged_not_rejected() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let elsewhere = add_staff(&db, stack.other_store_id, "Cy", "cashier").await;
    let known = add_staff(&db, stack.store_id, "Di", "cashier").await;
    let mut t = Till::new(&stack.devices[0]);
    let ghost_shift = Uuid::new_v4();
    // A batch of sales (the set-based path) and one alone (the per-op path).
    let a = sale(
        &mut t,
        &[("1001", 1, 119)],
        json!([{"kind": "cash", "amount_cents": 119}]),
        Some(Uuid::new_v4()),
        None,
    );
    let b = sale(
        &mut t,
        &[("1001", 1, 119)],
        json!([{"kind": "cash", "amount_cents": 119}]),
        Some(elsewhere),
        Some(ghost_shift),
    );
    let mut c = sale(
        &mut t,
        &[("1001", 1, 119)],
        json!([{"kind": "cash", "amount_cents": 119}]),
        Some(known),
        None,
    );
    c["payload"]["approved_by"] = json!("not-a-uuid");
    let mut d = sale(
        &mut t,
        &[("1001", 1, 119)],
        json!([{"kind": "cash", "amount_cents": 119}]),
        None,
        None,
    );
    d["payload"]["operator"] = json!("technician:root");
    assert_eq!(
        statuses(&api.push(&t.token, &[a, b, c, d]).await),
        vec!["applied"; 4]
    );
    let e = sale(
        &mut t,
        &[("1002", 1, 109)],
        json!([{"kind": "cash", "amount_cents": 109}]),
        Some(known),
        None,
    );
    assert_eq!(statuses(&api.push(&t.token, &[e]).await), ["applied"]);
    let mut opening = shift_open_payload(Uuid::new_v4(), Some(Uuid::new_v4()), 100, "");
    opening["operator"] = json!("technician:root");
    let open = t.shift_doc("shift_open", opening);
    assert_eq!(statuses(&api.push(&t.token, &[open]).await), ["applied"]);

    let rows: Vec<Who> = db
        .query(
            "select approved_by, shift_id, operator, staff_ok, shift_ok from sales order by seq",
            &[],
        )
        .await
        .expect("sales")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        rows,
        [
            (None, None, None, false, true),
            (None, Some(ghost_shift.to_string()), None, false, false),
            (Some("not-a-uuid".to_string()), None, None, false, true),
            (None, None, Some("technician:root".to_string()), true, true),
            (None, None, None, true, true),
        ]
    );
    assert_eq!(count(&db, "select count(*) from shifts where not open_staff_ok and open_operator = 'technician:root'").await, 1);
    assert_eq!(count(&db, "select count(*) from rejected_ops").await, 0);
    stack.cleanup().await;
}

#[tokio::test]
async fn random_shifts_give_the_server_exactly_the_expected_cash() {
    let stack = TestStack::start().await.expect("stack");
    let api = Api::new(&stack);
    let db = stack.client().await.expect("db");
    let cashier = Some(add_staff(&db, stack.store_id, "Ana", "cashier").await);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut below = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n) as i64
    };
    let mut t = Till::new(&stack.devices[0]);
    for round in 0..6 {
        let shift = Uuid::new_v4();
        let float = below(30_000);
        let mut expected = float;
        let mut ops =
            vec![t.shift_doc("shift_open", shift_open_payload(shift, cashier, float, ""))];
        let mut sales: Vec<Value> = Vec::new();
        for _ in 0..5 + below(20) {
            let sku = ["1001", "1002", "1003", "1004"][below(4) as usize];
            let (qty, unit) = (1 + below(3), 50 + below(900));
            let amount = qty * unit;
            let op = match below(7) {
                0 => {
                    let tendered = amount + below(3000);
                    expected += amount;
                    sale(
                        &mut t,
                        &[(sku, qty, unit)],
                        json!([{"kind": "cash", "amount_cents": tendered,
                                "change_cents": tendered - amount}]),
                        cashier,
                        Some(shift),
                    )
                }
                1 => sale(
                    &mut t,
                    &[(sku, qty, unit)],
                    json!([{"kind": "card", "amount_cents": amount}]),
                    cashier,
                    Some(shift),
                ),
                2 => {
                    let kind = if below(2) == 0 { "paid_in" } else { "paid_out" };
                    let a = below(2000);
                    expected += if kind == "paid_in" { a } else { -a };
                    t.shift_doc(
                        "cash_movement",
                        cash_payload(Some(shift), cashier, kind, a, ""),
                    )
                }
                3 => t.shift_doc(
                    "cash_movement",
                    cash_payload(Some(shift), cashier, "no_sale", 0, ""),
                ),
                4 | 5 => {
                    let chain = t.prev_hash.clone();
                    let mut op = t.refund(None, "returned", &[(None, sku, qty, amount, true)]);
                    if below(2) == 0 {
                        op["payload"]["tenders"] =
                            json!([{"kind": "card", "amount_cents": amount}]);
                        op["payload"]["prev_hash"] = json!(chain);
                        rehash_refund(&mut op["payload"]);
                        t.prev_hash = op["payload"]["hash"].as_str().expect("hash").to_string();
                    } else {
                        expected -= amount;
                    }
                    op["payload"]["staff_id"] = json!(cashier);
                    op["payload"]["shift_id"] = json!(shift);
                    op
                }
                _ if !sales.is_empty() => {
                    let s = sales.remove(below(sales.len() as u64) as usize);
                    let mut op = t.void(&s);
                    expected -= total(&s);
                    op["payload"]["shift_id"] = json!(shift);
                    op
                }
                _ => continue,
            };
            if op["kind"] == "sale" {
                sales.push(op.clone());
            }
            ops.push(op);
        }
        let counted = (expected + below(200) - 100).max(0);
        ops.push(t.shift_doc(
            "shift_close",
            shift_close_payload(shift, cashier, counted, expected.max(0), ""),
        ));
        // In batches of random size (runs of sales take the set-based path).
        let mut rest = &ops[..];
        while !rest.is_empty() {
            let n = (1 + below(8) as usize).min(rest.len());
            let r = api.push(&t.token, &rest[..n]).await;
            assert_eq!(statuses(&r), vec!["applied"; n], "round {round}: {r:?}");
            rest = &rest[n..];
        }
        let (till, server, got) = shift_row(&db, shift).await;
        assert_eq!(
            server, expected,
            "round {round}: the server's expected cash"
        );
        assert_eq!((till, got), (Some(expected.max(0)), Some(counted)));
    }
    assert_eq!(
        count(
            &db,
            "select count(*) from kassa_shift_report where chain_ok and staff_ok"
        )
        .await,
        6
    );
    assert_eq!(
        count(&db, "select count(*) from sales where not chain_ok").await,
        0
    );
    stack.cleanup().await;
}
