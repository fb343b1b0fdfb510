//! Receipts of committed documents read back from the store: their layout at 32, 42 and 48
//! columns (insta snapshots, with a cash-rounded sale rung up by a cashier in a shift, a
//! refund and a void by a technician), the ESC/POS bytes, the store's header from config or
//! the server's store record, and the store's record of failed prints.

use chrono::{FixedOffset, TimeZone, Utc};
use kassa::domain::tender::settle;
use kassa::domain::{
    Attribution, Cart, Currency, Payment, Pin, ReceiptRef, RefundPick, Role, TenderKind,
};
use kassa::receipt::escpos::{self, EscposOptions};
use kassa::receipt::{text, Receipt, ReceiptSetup, StoreHeader, WIDTHS};
use kassa::store::{RefundItems, RefundPolicy, StoreHandle, StoreOptions, StoreRecord};
use kassa::timefmt::Zone;

const POLICY: RefundPolicy = RefundPolicy {
    cash_rounding: 5,
    blind_max_cents: 5000,
};

/// The code is random (a UUID v7): the snapshots show this in its place, same width.
const CODE: &str = "<------- receipt code ------->  ";

fn open() -> (tempfile::TempDir, StoreHandle) {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default()).unwrap();
    (dir, store)
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 9, 15, 30).unwrap()
}

/// A cash sale, rounded to 0.05: 2 milk with 0.10 off, butter, eggs; paid with 20.00. With
/// `by`, rung up by that staff member in the shift they open first (float 100.00).
fn cash_sale(store: &StoreHandle, by: Option<&str>) -> i64 {
    let by = by.map(str::to_string);
    store
        .call_blocking(move |db| {
            let who = match by {
                Some(name) => {
                    let pin = Pin::parse("2468").unwrap();
                    let m = db.add_staff(&name, Role::Cashier, &pin, at()).unwrap();
                    let who = Attribution::staff(m.id);
                    db.open_shift(10000, None, &who, at() - chrono::Duration::hours(1))
                        .unwrap();
                    who
                }
                None => Attribution::default(),
            };
            let mut cart = Cart::new(Currency::EUR);
            for (sku, qty) in [("1001", 2), ("1003", 1), ("1004", 1)] {
                let p = db.find_product(sku).unwrap().unwrap();
                cart.add(&p, qty).unwrap();
            }
            cart.set_discount(0, 10).unwrap();
            let t = cart.totals().unwrap();
            let s = settle(
                t.total_cents,
                Payment::Cash { given: Some(2000) },
                5,
                Currency::EUR,
            )
            .unwrap();
            assert_ne!(s.rounding_cents, 0, "the example must be cash-rounded");
            db.commit_sale_as(&cart, &s, &who, at()).unwrap().seq
        })
        .unwrap()
}

fn setup() -> ReceiptSetup {
    ReceiptSetup {
        header: StoreHeader {
            store_name: "Corner Shop".into(),
            address: "Hauptstrasse 1\n10115 Berlin".into(),
            tax_id: "DE123456789".into(),
        },
        width: 42,
        cash_drawer: false,
        zone: Zone::Fixed(FixedOffset::east_opt(3600).unwrap()),
    }
}

fn receipt_with(store: &StoreHandle, r: ReceiptRef, copy: bool, setup: &ReceiptSetup) -> Receipt {
    let src = store
        .call_blocking(move |db| db.receipt_source(r))
        .unwrap()
        .unwrap()
        .expect("a committed document");
    setup.receipt(&src, copy)
}

fn receipt(store: &StoreHandle, r: ReceiptRef, copy: bool) -> Receipt {
    receipt_with(store, r, copy, &setup())
}

/// The receipt's text with its random codes replaced (keeping the width).
fn shown(r: &Receipt, width: usize) -> String {
    let mut text = text::render(r, width).join("\n");
    text = text.replace(&r.code, CODE.get(..32).unwrap());
    if let Some(reference) = &r.reference {
        text = text.replace(
            reference,
            "<-- code of the sale -------->  ".get(..32).unwrap(),
        );
    }
    text
}

#[test]
fn a_cash_rounded_sale_by_a_cashier_in_a_shift_at_the_three_widths() {
    let (_d, store) = open();
    let seq = cash_sale(&store, Some("Ana Berg"));
    let r = receipt(&store, ReceiptRef::Seq(seq), false);
    assert_eq!(r.due_cents, r.total_cents + r.rounding_cents);
    assert_eq!(r.cashier.as_deref(), Some("Ana Berg"));
    let shift = r.shift.clone().expect("the sale names its shift");
    // The shift opened an hour before the sale (08:15 UTC, 09:15 in the till's zone), as #1.
    assert_eq!(
        (shift.open_seq, shift.opened_at.as_str()),
        (1, "2026-12-04 09:15")
    );
    let lines = text::render(&r, 42);
    assert!(lines.iter().any(|l| l == "Cashier: Ana Berg"), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "Shift #1 opened 2026-12-04 09:15"),
        "{lines:#?}"
    );
    for width in WIDTHS {
        for line in text::render(&r, width) {
            assert!(
                line.chars().count() <= width,
                "{line:?} is wider than {width}"
            );
        }
        insta::assert_snapshot!(format!("cash_sale_{width}"), shown(&r, width));
    }
}

#[test]
fn a_refund_and_a_void_have_their_own_receipts() {
    let (_d, store) = open();
    let seq = cash_sale(&store, None);
    let refund_seq = store
        .call_blocking(move |db| {
            let picks = RefundItems::Picks(vec![RefundPick {
                original_line_no: 1,
                qty: 1,
                restock: true,
            }]);
            db.commit_refund(
                &ReceiptRef::Seq(seq),
                &picks,
                TenderKind::Cash,
                "leaking carton",
                &POLICY,
                at() + chrono::Duration::minutes(20),
            )
            .unwrap()
            .seq
        })
        .unwrap();
    let r = receipt(&store, ReceiptRef::Seq(refund_seq), false);
    assert_eq!(
        r.reference.as_deref(),
        Some(receipt(&store, ReceiptRef::Seq(seq), false).code.as_str())
    );
    for width in WIDTHS {
        insta::assert_snapshot!(format!("refund_{width}"), shown(&r, width));
    }
    // A refund is found by its own code too.
    let by_code = receipt(&store, ReceiptRef::parse(&r.code).unwrap(), false);
    assert_eq!(by_code.seq, refund_seq);

    // A void by a technician over SSH (no staff id): the receipt names the operator.
    let (_d2, store2) = open();
    let seq = cash_sale(&store2, Some("Ana Berg"));
    let void_seq = store2
        .call_blocking(move |db| {
            db.commit_void_as(
                &ReceiptRef::Seq(seq),
                "customer walked away",
                Zone::utc(),
                &Attribution::technician("ops"),
                at() + chrono::Duration::minutes(1),
            )
            .unwrap()
            .seq
        })
        .unwrap();
    let v = receipt(&store2, ReceiptRef::Seq(void_seq), false);
    assert_eq!(v.cashier.as_deref(), Some("ops (technician)"));
    insta::assert_snapshot!("void_32", shown(&v, 32));
}

#[test]
fn a_reprint_is_marked_as_a_copy_and_found_by_its_printed_code() {
    let (_d, store) = open();
    let seq = cash_sale(&store, None);
    let original = receipt(&store, ReceiptRef::Seq(seq), false);
    let copy = receipt(&store, ReceiptRef::parse(&original.code).unwrap(), true);
    assert_eq!(copy.seq, seq);
    let text = text::render(&copy, 42);
    assert_eq!(
        text.iter().filter(|l| l.contains("*** COPY ***")).count(),
        2
    );
    assert!(!text::render(&original, 42)
        .iter()
        .any(|l| l.contains("COPY")));
    assert!(store
        .call_blocking(|db| db.printable(ReceiptRef::Seq(999)))
        .unwrap()
        .unwrap()
        .is_none());
}

#[test]
fn escpos_bytes_carry_the_lines_a_qr_code_of_the_receipt_code_and_a_drawer_kick_for_cash() {
    let (_d, store) = open();
    let seq = cash_sale(&store, None);
    let r = receipt(&store, ReceiptRef::Seq(seq), false);
    let bytes = escpos::render(&r, 42, EscposOptions { kick_drawer: true });
    assert!(bytes.starts_with(&[0x1b, b'@']));
    assert_eq!(&bytes[2..7], &escpos::drawer_kick());
    let mut store_cmd = vec![0x1d, b'(', b'k', 35, 0, 49, 80, 48];
    store_cmd.extend_from_slice(r.code.as_bytes());
    assert!(
        bytes.windows(store_cmd.len()).any(|w| w == store_cmd),
        "QR store command"
    );
    for line in text::render(&r, 42) {
        let mut l = line.into_bytes();
        l.push(b'\n');
        assert!(bytes.windows(l.len()).any(|w| w == l.as_slice()));
    }
    let plain = escpos::render(&r, 42, EscposOptions::default());
    assert!(!plain.windows(2).any(|w| w == [0x1b, b'p']));
}

#[test]
fn failed_prints_are_recorded_counted_and_cleared_by_a_good_print() {
    let (_d, store) = open();
    let seq = cash_sale(&store, None);
    let failures = store
        .call_blocking(move |db| {
            db.record_print_failure(seq, "sale", "printer 127.0.0.1:9: refused\nmore", at())
                .unwrap();
            db.record_print_failure(seq, "sale", "printer 127.0.0.1:9: timed out", at())
                .unwrap();
            db.print_failures().unwrap()
        })
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].attempts, 2);
    assert_eq!(failures[0].last_error, "printer 127.0.0.1:9: timed out");
    let (cleared, left) = store
        .call_blocking(move |db| {
            (
                db.clear_print_failure(seq).unwrap(),
                db.print_failures().unwrap(),
            )
        })
        .unwrap();
    assert!(cleared);
    assert!(left.is_empty());
}

#[test]
fn the_header_is_configs_where_it_sets_one_else_the_servers_store_record() {
    let (_d, store) = open();
    let seq = cash_sale(&store, None);
    let bare = ReceiptSetup {
        header: StoreHeader::default(),
        ..setup()
    };
    // Neither config nor a pull said anything: no header lines at all.
    let r = receipt_with(&store, ReceiptRef::Seq(seq), false, &bare);
    assert_eq!(r.header, StoreHeader::default());
    store
        .call_blocking(|db| {
            db.set_store_record(&StoreRecord {
                name: "Server Shop".into(),
                address: "Marktplatz 2\n04109 Leipzig".into(),
                tax_id: "DE999".into(),
            })
        })
        .unwrap()
        .unwrap();
    let r = receipt_with(&store, ReceiptRef::Seq(seq), false, &bare);
    let lines = text::render(&r, 32);
    assert_eq!(lines[0].trim(), "Server Shop");
    assert_eq!(lines[1].trim(), "Marktplatz 2");
    assert_eq!(lines[2].trim(), "04109 Leipzig");
    assert_eq!(lines[3].trim(), "Tax ID DE999");
    // Config's name wins; what config leaves empty still comes from the server.
    let named = ReceiptSetup {
        header: StoreHeader {
            store_name: "Corner Shop".into(),
            ..StoreHeader::default()
        },
        ..setup()
    };
    let r = receipt_with(&store, ReceiptRef::Seq(seq), false, &named);
    assert_eq!(r.header.store_name, "Corner Shop");
    assert_eq!(r.header.tax_id, "DE999");
}
