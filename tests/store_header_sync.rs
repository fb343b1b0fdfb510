//! The store's header on receipts from the server's store record (issue 12), against real
//! PostgreSQL through the gateway: head office sets name, address and tax id once; a pull
//! brings the caller's own store's record (never another store's); config fields win where
//! they are set, the server's fill the rest.

#[path = "support/cli_till.rs"]
mod cli_till;
mod support;

use cli_till::CliTill;
use pgrest_lite::testing::TestStack;

fn receipt_text(t: &CliTill, extra: &[&str]) -> Vec<String> {
    let mut args = extra.to_vec();
    args.extend(["receipt", "1", "--json"]);
    let r = t.json(false, &args);
    r["text"]
        .as_array()
        .expect("text lines")
        .iter()
        .map(|l| l.as_str().unwrap_or_default().trim().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_brings_the_own_stores_header_and_config_fields_win() {
    let stack = TestStack::start().await.expect("stack");
    let db = stack.client().await.expect("db");
    db.execute(
        "update public.stores set name = 'Corner Shop Mitte',
                address = E'Hauptstrasse 1\\n10115 Berlin', tax_id = 'DE123456789'
          where id = $1::text::uuid",
        &[&stack.store_id.to_string()],
    )
    .await
    .expect("set the store's header");
    db.execute(
        "update public.stores set name = 'Other Store', address = 'Elsewhere 9',
                tax_id = 'XX000'
          where id = $1::text::uuid",
        &[&stack.other_store_id.to_string()],
    )
    .await
    .expect("set the other store's header");

    let till = CliTill::new(&stack, 0);
    till.ok(false, &["sell", "1001", "--pay", "card"]);
    // Before any sync: no header at all (config sets none).
    let before = receipt_text(&till, &[]);
    assert!(before[0].starts_with("---"), "{before:#?}");
    let r = till.json(true, &["sync", "--once", "--json"]);
    assert_eq!(till.json(false, &["status", "--json"])["pending"], 0, "{r}");
    let after = receipt_text(&till, &[]);
    assert_eq!(
        after[..4],
        [
            "Corner Shop Mitte",
            "Hauptstrasse 1",
            "10115 Berlin",
            "Tax ID DE123456789"
        ],
        "{after:#?}"
    );
    assert!(!after
        .iter()
        .any(|l| l.contains("Other Store") || l.contains("XX000")));

    // A till of the other store gets its own store's record only.
    let other = CliTill {
        dir: tempfile::tempdir().unwrap(),
        url: stack.url.clone(),
        anon_key: stack.anon_key.clone(),
        token: stack.other_store_device.token.clone(),
    };
    other.ok(false, &["sell", "1001", "--pay", "card"]);
    other.json(true, &["sync", "--once", "--json"]);
    let theirs = receipt_text(&other, &[]);
    assert_eq!(
        theirs[..3],
        ["Other Store", "Elsewhere 9", "Tax ID XX000"],
        "{theirs:#?}"
    );
    assert!(!theirs.iter().any(|l| l.contains("Corner Shop")));

    // Config's name wins; the address and tax id it leaves empty are the server's.
    let cfg = till.dir.path().join("config.toml");
    std::fs::write(&cfg, "[receipt]\nstore_name = \"Kiosk am Eck\"\n").unwrap();
    let cfg = cfg.to_string_lossy().to_string();
    let mixed = receipt_text(&till, &["--config", &cfg]);
    assert_eq!(
        mixed[..4],
        [
            "Kiosk am Eck",
            "Hauptstrasse 1",
            "10115 Berlin",
            "Tax ID DE123456789"
        ],
        "{mixed:#?}"
    );

    // Head office changes the address: the next pull brings it.
    db.execute(
        "update public.stores set address = 'Torstrasse 5' where id = $1::text::uuid",
        &[&stack.store_id.to_string()],
    )
    .await
    .expect("move the store");
    till.json(true, &["sync", "--once", "--json"]);
    let moved = receipt_text(&till, &[]);
    assert_eq!(moved[1], "Torstrasse 5", "{moved:#?}");
}
