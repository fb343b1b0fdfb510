//! A shift of the real binary against real PostgreSQL through the gateway (issue 11): staff
//! pulled from the server, a shift opened with a float, cash and card sales, a paid-out, a
//! refund and a blind close; the expected cash is float + cash sales − cash refunds + paid-in
//! − paid-out on the till AND on the server, and every document says who and which shift.

#[path = "support/cli_till.rs"]
mod cli_till;
mod support;

use cli_till::CliTill;
use pgrest_lite::testing::TestStack;
use serde_json::Value;

fn synced(t: &CliTill) -> Value {
    let r = t.json(true, &["sync", "--once", "--json"]);
    assert_eq!(t.json(false, &["status", "--json"])["pending"], 0, "{r}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_lifecycle_gives_the_same_expected_cash_on_till_and_server() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let pin = kassa::domain::Pin::parse("24681357").unwrap();
    let hash = pin.hash(&[42u8; 16]).unwrap();
    let ana: String = db
        .query_one(
            "insert into public.staff (store_id, name, role, pin_hash)
             values ($1::text::uuid, 'Ana', 'cashier', $2) returning id::text",
            &[&stack.store_id.to_string(), &hash],
        )
        .await
        .expect("insert staff")
        .get(0);
    let till = CliTill::new(&stack, 0);
    synced(&till);
    let staff = till.json(false, &["staff", "list", "--json"]);
    assert_eq!(staff[0]["id"], ana.as_str(), "{staff}");
    assert_eq!(staff[0]["role"], "cashier");
    let listed = staff.to_string();
    assert!(!listed.contains("argon2"), "{listed}");
    // The till has staff now: no sale without a shift.
    let out = till.run(false, &["sell", "1001", "--pay", "card", "--staff", &ana]);
    assert_eq!(out.status.code(), Some(2));

    // The shift, offline.
    let open = till.json(
        false,
        &[
            "shift", "open", "--float", "100.00", "--staff", &ana, "--json",
        ],
    );
    let shift_id = open["shift_id"].as_str().unwrap().to_string();
    let s1 = till.json(
        false,
        &[
            "sell", "1001*3", "--pay", "cash:20", "--staff", &ana, "--json",
        ],
    );
    let s2 = till.json(
        false,
        &["sell", "1003", "--pay", "card", "--staff", &ana, "--json"],
    );
    let cash_sales = s1["total_cents"].as_i64().unwrap();
    till.json(
        false,
        &[
            "cash",
            "out",
            "12.50",
            "--reason",
            "window cleaner",
            "--staff",
            &ana,
            "--json",
        ],
    );
    let receipt = s1["seq"].to_string();
    let refund = till.json(
        false,
        &[
            "refund", &receipt, "1001", "--pay", "cash", "--reason", "sour", "--staff", &ana,
            "--json",
        ],
    );
    let cash_refunds = refund["paid_back_cents"].as_i64().unwrap();
    let expected = 10_000 + cash_sales - cash_refunds - 1250;
    let close = till.json(
        false,
        &[
            "shift",
            "close",
            "--counted",
            "95.00",
            "--staff",
            &ana,
            "--json",
        ],
    );
    assert_eq!(close["expected_cents"], expected);
    assert_eq!(close["over_short_cents"], 9500 - expected);
    let _ = s2;
    synced(&till);

    // The server: the shift with the till's figure and its own, and who rang up each document.
    let row = db
        .query_one(
            "select expected_cents, server_expected_cents, counted_cents, over_short_cents,
                    float_cents, opened_by, status
             from public.shifts where id = $1::text::uuid",
            &[&shift_id],
        )
        .await
        .expect("shift row");
    let (till_exp, server_exp): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(till_exp, expected);
    assert_eq!(server_exp, expected, "the server's own expected cash");
    assert_eq!(row.get::<_, i64>(2), 9500);
    assert_eq!(row.get::<_, i64>(3), 9500 - expected);
    assert_eq!(row.get::<_, i64>(4), 10_000);
    assert_eq!(row.get::<_, String>(5), ana);
    assert_eq!(row.get::<_, String>(6), "closed");
    let movements: i64 = db
        .query_one(
            "select count(*) from public.cash_movements where shift_id = $1 and kind = 'paid_out'
               and amount_cents = 1250",
            &[&shift_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(movements, 1);
    let sales_of_shift: i64 = db
        .query_one(
            "select count(*) from public.sales where shift_id::text = $1 and staff_id::text = $2",
            &[&shift_id, &ana],
        )
        .await
        .expect("sales carry shift and staff")
        .get(0);
    assert_eq!(sales_of_shift, 2);
    // And the till's chain and Z report agree.
    assert_eq!(till.json(false, &["verify", "--json"])["chain_ok"], true);
    let z = till.json(false, &["report", "z", "--json"]);
    assert_eq!(z["drawer"]["expected_cents"], expected);
}
