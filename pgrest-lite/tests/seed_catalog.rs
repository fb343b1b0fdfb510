//! supabase/seed.sql carries the same demo catalog as the till (assets/catalog.csv).
use pgrest_lite::testing::TestStack;

#[tokio::test]
async fn seeded_products_match_the_tills_catalog() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/catalog.csv");
    let mut reader = csv::Reader::from_path(path).expect("assets/catalog.csv");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "sku",
            "barcode",
            "name",
            "price_cents",
            "tax_rate_bp",
            "price_includes_tax"
        ]
    );
    let mut expected = Vec::new();
    for rec in reader.records() {
        let r = rec.expect("record");
        let barcode = if r[1].is_empty() {
            None
        } else {
            Some(r[1].to_string())
        };
        expected.push((
            r[0].to_string(),
            barcode,
            r[2].to_string(),
            r[3].parse::<i64>().expect("price_cents"),
            r[4].parse::<i32>().expect("tax_rate_bp"),
            r[5].parse::<bool>().expect("price_includes_tax"),
        ));
    }
    expected.sort();

    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let actual: Vec<(String, Option<String>, String, i64, i32, bool)> = db
        .query(
            "select sku, barcode, name, price_cents, tax_rate_bp, price_includes_tax
               from products where active order by sku",
            &[],
        )
        .await
        .expect("products")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    assert_eq!(
        actual, expected,
        "supabase/seed.sql and assets/catalog.csv drifted apart"
    );
    // Every product has opening stock in both stores.
    let levels: i64 = db
        .query_one("select count(*) from stock_levels", &[])
        .await
        .expect("levels")
        .get(0);
    assert_eq!(levels, 2 * expected.len() as i64);
    stack.cleanup().await;
}

/// The server's canonical sale form is byte-for-byte the one docs/protocol.md documents (and
/// that the till's `domain::sale` test pins).
#[tokio::test]
async fn server_canonical_form_is_the_documented_one() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    let payload = serde_json::json!({
        "sale_id": "0193a5b0-0000-7000-8000-000000000001",
        "created_at": "2026-11-28T17:30:00.123Z", "currency": "EUR",
        "total_cents": 238, "tax_cents": 16, "rounding_cents": 0,
        "lines": [{"line_no": 1, "sku": "1001", "name": "Whole milk 1L", "qty": 2,
                   "unit_price_cents": 119, "discount_cents": 0, "price_overridden": false,
                   "tax_rate_bp": 700, "price_includes_tax": true, "line_total_cents": 238,
                   "tax_cents": 16}],
        "tenders": [{"kind": "cash", "amount_cents": 500, "change_cents": 262}]
    });
    let canonical: String = db
        .query_one(
            "select kassa_sale_canonical($1::text::jsonb)",
            &[&payload.to_string()],
        )
        .await
        .expect("canonical")
        .get(0);
    assert_eq!(
        canonical,
        "kassa-sale-v1|0193a5b0-0000-7000-8000-000000000001|2026-11-28T17:30:00.123Z|EUR|238|16|0\n\
         L|1|1001|2|119|0|700|238|16\n\
         T|cash|500|262"
    );
    stack.cleanup().await;
}
