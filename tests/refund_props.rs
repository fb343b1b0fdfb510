//! Property tests of refunds: over random sales (discounts, price overrides, tax included or
//! not) and random sequences of partial refunds, a line's refunds never exceed what was paid
//! for it, all of its units back give exactly what was paid, and the Z report's tender totals
//! equal the money the documents moved (real store on a temp database).

use std::collections::BTreeMap;

use chrono::Utc;
use kassa::domain::refund::refund_amounts;
use kassa::domain::sale::SaleLine;
use kassa::domain::tender::settle;
use kassa::domain::{
    Cart, CartLine, Currency, Payment, ReceiptRef, RefundPick, RefundPolicy, TenderKind,
};
use kassa::store::{RefundItems, StoreHandle, StoreOptions};
use kassa::timefmt::Zone;
use proptest::prelude::*;

/// A sale line: qty, unit price, discount as a share of the gross (per mille), override,
/// tax rate, tax included.
fn any_line() -> impl Strategy<Value = CartLine> {
    (
        1i64..=40,
        0i64..50_000,
        0i64..=1000,
        any::<bool>(),
        prop_oneof![Just(0i64), Just(700), Just(1900), 0i64..=10_000],
        any::<bool>(),
    )
        .prop_map(|(qty, price, per_mille, overridden, rate, incl)| CartLine {
            sku: "P".into(),
            name: "Item".into(),
            qty,
            unit_price_cents: price,
            discount_cents: qty * price * per_mille / 1000,
            price_overridden: overridden,
            tax_rate_bp: rate,
            price_includes_tax: incl,
        })
}

fn sale_line(l: &CartLine) -> SaleLine {
    let a = l.amounts().expect("valid line");
    SaleLine {
        line_no: 1,
        sku: l.sku.clone(),
        name: l.name.clone(),
        qty: l.qty,
        unit_price_cents: l.unit_price_cents,
        discount_cents: l.discount_cents,
        price_overridden: l.price_overridden,
        tax_rate_bp: l.tax_rate_bp,
        price_includes_tax: l.price_includes_tax,
        line_total_cents: a.line_total_cents,
        tax_cents: a.tax_cents,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn partial_refunds_never_exceed_the_line_and_all_of_them_give_it_back(
        line in any_line(),
        chunks in prop::collection::vec(1i64..=40, 1..12),
    ) {
        let l = sale_line(&line);
        let (mut refunded, mut paid_back, mut tax_back) = (0i64, 0i64, 0i64);
        for k in chunks {
            let k = k.min(l.qty - refunded);
            if k == 0 {
                break;
            }
            let (amount, tax) = refund_amounts(&l, refunded, k).unwrap();
            prop_assert!(amount >= 0 && tax >= 0, "{amount} {tax}");
            refunded += k;
            paid_back += amount;
            tax_back += tax;
            prop_assert!(paid_back <= l.line_total_cents, "{paid_back} > {}", l.line_total_cents);
            prop_assert!(tax_back <= l.tax_cents);
            prop_assert!(tax_back <= paid_back || l.line_total_cents == 0);
        }
        // Whatever is left, refunded in one go, completes it exactly.
        if refunded < l.qty {
            let (amount, tax) = refund_amounts(&l, refunded, l.qty - refunded).unwrap();
            paid_back += amount;
            tax_back += tax;
        }
        prop_assert_eq!(paid_back, l.line_total_cents);
        prop_assert_eq!(tax_back, l.tax_cents);
        // And nothing more can be refunded.
        prop_assert!(refund_amounts(&l, l.qty, 1).is_err());
    }
}

/// One step of a till's day.
#[derive(Debug, Clone)]
enum Step {
    Sell {
        lines: Vec<CartLine>,
        cash: bool,
    },
    Refund {
        sale: usize,
        line: usize,
        qty: i64,
        cash: bool,
        restock: bool,
    },
    Void {
        sale: usize,
    },
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (prop::collection::vec(any_line(), 1..4), any::<bool>())
            .prop_map(|(lines, cash)| Step::Sell { lines, cash }),
        4 => (0usize..64, 0usize..4, 1i64..=12, any::<bool>(), any::<bool>())
            .prop_map(|(sale, line, qty, cash, restock)| Step::Refund { sale, line, qty, cash, restock }),
        1 => (0usize..64).prop_map(|sale| Step::Void { sale }),
    ]
}

const POLICY: RefundPolicy = RefundPolicy {
    cash_rounding: 5,
    blind_max_cents: 0,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_z_reports_tenders_equal_the_money_the_documents_moved(
        steps in prop::collection::vec(any_step(), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreHandle::open(&dir.path().join("till.db"), StoreOptions::default()).unwrap();
        let day_start = Utc::now() - chrono::Duration::hours(1);
        let moved = store.call_blocking(move |db| {
            // What the documents say moved, per tender kind, computed from what each commit
            // returned; and per sale line what was paid and what went back.
            let mut moved: BTreeMap<&'static str, i64> = BTreeMap::new();
            let mut sales: Vec<i64> = Vec::new();
            let mut paid: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
            let mut back: BTreeMap<(i64, i64), i64> = BTreeMap::new();
            for step in steps {
                match step {
                    Step::Sell { lines, cash } => {
                        let mut cart = Cart::new(Currency::CHF);
                        for (i, mut l) in lines.into_iter().enumerate() {
                            l.sku = format!("P{i}");
                            cart.push_line(l).unwrap();
                        }
                        let total = cart.totals().unwrap().total_cents;
                        let pay = if cash { Payment::Cash { given: None } } else { Payment::Card };
                        let s = settle(total, pay, POLICY.cash_rounding, Currency::CHF).unwrap();
                        let r = db.commit_sale(&cart, &s, Utc::now()).unwrap();
                        *moved.entry(if cash { "cash" } else { "card" }).or_default() += r.due_cents;
                        let sale = db.load_sale(r.seq).unwrap().unwrap();
                        for l in &sale.lines {
                            paid.insert((r.seq, l.line_no), (l.qty, l.line_total_cents));
                        }
                        sales.push(r.seq);
                    }
                    Step::Refund { sale, line, qty, cash, restock } => {
                        let Some(&seq) = sales.get(sale % sales.len().max(1)) else { continue };
                        let pick = RefundPick { original_line_no: line as i64 + 1, qty, restock };
                        let tender = if cash { TenderKind::Cash } else { TenderKind::Card };
                        let before = db.queue_count(kassa::store::QueueFilter::All).unwrap();
                        match db.commit_refund(&ReceiptRef::Seq(seq), &RefundItems::Picks(vec![pick]),
                                               tender, "", &POLICY, Utc::now()) {
                            Ok(r) => {
                                *moved.entry(tender.as_str()).or_default() -= r.paid_back_cents;
                                let l = &r.refund.lines[0];
                                *back.entry((seq, l.original_line_no.unwrap())).or_default() += l.amount_cents;
                            }
                            Err(_) => assert_eq!(
                                db.queue_count(kassa::store::QueueFilter::All).unwrap(), before,
                                "a refused refund writes nothing"),
                        }
                    }
                    Step::Void { sale } => {
                        let Some(&seq) = sales.get(sale % sales.len().max(1)) else { continue };
                        if let Ok(v) = db.commit_void(&ReceiptRef::Seq(seq), "left", Zone::Local, Utc::now()) {
                            for t in &v.void.tenders {
                                *moved.entry(t.kind.as_str()).or_default() -= t.amount_cents;
                            }
                        }
                    }
                }
            }
            for (key, amount) in &back {
                let (_, total) = paid[key];
                assert!(*amount <= total, "line {key:?}: {amount} back of {total} paid");
            }
            moved
        }).unwrap();
        let z = store
            .call_blocking(move |db| db.report_z(day_start, Utc::now() + chrono::Duration::hours(1)))
            .unwrap()
            .unwrap();
        let by_tender: BTreeMap<&str, i64> =
            z.by_tender.iter().map(|t| (t.kind.as_str(), t.amount_cents)).collect();
        for (kind, amount) in &moved {
            prop_assert_eq!(by_tender.get(kind).copied().unwrap_or(0), *amount, "{}", kind);
        }
        prop_assert_eq!(by_tender.values().sum::<i64>(), moved.values().sum::<i64>());
        prop_assert_eq!(z.net_cents, moved.values().sum::<i64>());
        let net_by_rate: i64 = z.by_tax_rate.iter().map(|r| r.net_cents).sum();
        prop_assert_eq!(net_by_rate, z.total_cents - z.refunds.total_cents - z.voids.total_cents);
        let verify = store.call_blocking(|db| db.verify().unwrap()).unwrap();
        prop_assert!(verify.ok(), "{:?}", verify);
    }
}
