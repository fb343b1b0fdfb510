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
