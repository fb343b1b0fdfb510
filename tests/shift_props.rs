//! Property: over random shifts (cash sales with change, card sales, cash and card refunds,
//! cash and card voids, paid-in, paid-out) the till's expected cash is float + cash sales −
//! cash refunds − cash voids + paid-in − paid-out, the blind close records it, and the Z
//! report's drawer equals the sum over the day's shifts.

use chrono::{Duration, FixedOffset, Utc};
use kassa::domain::tender::settle;
use kassa::domain::{
    Attribution, Cart, CashMovementKind, Currency, Payment, Pin, ReceiptRef, RefundPolicy, Role,
    TenderKind,
};
use kassa::store::{Db, RefundItems, StoreOptions};
use kassa::timefmt::Zone;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    CashSale { qty: i64, extra: i64 },
    CardSale { qty: i64 },
    Refund { pick: usize, cash: bool },
    Void { pick: usize },
    PaidIn(i64),
    PaidOut(i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1i64..5, 0i64..2000).prop_map(|(qty, extra)| Step::CashSale { qty, extra }),
        2 => (1i64..5).prop_map(|qty| Step::CardSale { qty }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, cash)| Step::Refund { pick, cash }),
        1 => any::<usize>().prop_map(|pick| Step::Void { pick }),
        1 => (1i64..5000).prop_map(Step::PaidIn),
        1 => (1i64..20000).prop_map(Step::PaidOut),
    ]
}

const POLICY: RefundPolicy = RefundPolicy {
    cash_rounding: 0,
    blind_max_cents: 5000,
};

/// Runs one shift on `db`; returns the model's expected cash.
fn run_shift(db: &mut Db, who: &Attribution, float: i64, steps: &[Step]) -> i64 {
    db.open_shift(float, None, who, Utc::now()).unwrap();
    let mut expected = float;
    // (seq, cash?, due) of sales not yet refunded or voided.
    let mut open_sales: Vec<(i64, bool, i64)> = Vec::new();
    let zone = Zone::Fixed(FixedOffset::east_opt(0).unwrap());
    for s in steps {
        match s {
            Step::CashSale { qty, .. } | Step::CardSale { qty } => {
                let extra = match s {
                    Step::CashSale { extra, .. } => *extra,
                    _ => 0,
                };
                let mut cart = Cart::new(Currency::EUR);
                let p = db.find_product("1001").unwrap().unwrap();
                cart.add(&p, *qty).unwrap();
                let total = cart.totals().unwrap().total_cents;
                let (payment, cash) = match s {
                    Step::CashSale { .. } => (
                        Payment::Cash {
                            given: Some(total + extra),
                        },
                        true,
                    ),
                    _ => (Payment::Card, false),
                };
                let st = settle(total, payment, 0, Currency::EUR).unwrap();
                let r = db.commit_sale_as(&cart, &st, who, Utc::now()).unwrap();
                if cash {
                    expected += r.due_cents;
                }
                open_sales.push((r.seq, cash, r.due_cents));
            }
            Step::Refund { pick, cash } if !open_sales.is_empty() => {
                let (seq, _, _) = open_sales.remove(pick % open_sales.len());
                let tender = if *cash {
                    TenderKind::Cash
                } else {
                    TenderKind::Card
                };
                let r = db
                    .commit_refund_as(
                        &ReceiptRef::Seq(seq),
                        &RefundItems::All { restock: true },
                        tender,
                        "returned",
                        &POLICY,
                        who,
                        Utc::now(),
                    )
                    .unwrap();
                if *cash {
                    expected -= r.paid_back_cents;
                }
            }
            Step::Void { pick } if !open_sales.is_empty() => {
                let (seq, cash, due) = open_sales.remove(pick % open_sales.len());
                db.commit_void_as(
                    &ReceiptRef::Seq(seq),
                    "customer left",
                    zone,
                    who,
                    Utc::now(),
                )
                .unwrap();
                if cash {
                    expected -= due;
                }
            }
            Step::PaidIn(a) => {
                db.cash_movement(CashMovementKind::PaidIn, *a, "coins", who, Utc::now())
                    .unwrap();
                expected += a;
            }
            Step::PaidOut(a) => {
                let r =
                    db.cash_movement(CashMovementKind::PaidOut, *a, "supplier", who, Utc::now());
                if *a > expected {
                    assert!(r.is_err(), "a paid-out beyond the drawer is refused");
                } else {
                    r.unwrap();
                    expected -= a;
                }
            }
            _ => {}
        }
        assert_eq!(
            db.current_shift().unwrap().unwrap().expected_cents,
            expected
        );
    }
    expected
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn expected_cash_is_the_formula_and_the_z_report_sums_the_shifts(
        shifts in prop::collection::vec(
            (0i64..50_000, prop::collection::vec(step(), 0..25), 0i64..100_000),
            1..4,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Db::open(&dir.path().join("till.db"), &StoreOptions::default()).unwrap();
        let ana = db.add_staff("Ana", Role::Cashier, &Pin::parse("1234").unwrap(), Utc::now()).unwrap();
        let who = Attribution::staff(ana.id);
        let (mut sum_expected, mut sum_counted) = (0, 0);
        for (float, steps, counted) in &shifts {
            let expected = run_shift(&mut db, &who, *float, steps);
            let x = db.current_shift().unwrap().unwrap();
            let t = x.tally;
            prop_assert_eq!(
                t.float_cents + t.cash_sales_cents - t.cash_refunds_cents - t.cash_voids_cents
                    + t.paid_in_cents - t.paid_out_cents,
                expected
            );
            let c = db.close_shift(*counted, None, &who, Utc::now()).unwrap();
            prop_assert_eq!(c.close.expected_cents, expected);
            prop_assert_eq!(c.close.over_short_cents, counted - expected);
            sum_expected += expected;
            sum_counted += counted;
        }
        let z = db
            .report_z(Utc::now() - Duration::hours(1), Utc::now() + Duration::hours(1))
            .unwrap();
        prop_assert_eq!(z.drawer.shifts, shifts.len() as i64);
        prop_assert_eq!(z.drawer.expected_cents, sum_expected);
        prop_assert_eq!(z.drawer.counted_cents, sum_counted);
        prop_assert_eq!(z.drawer.over_short_cents, sum_counted - sum_expected);
        // The drawer's cash sales are the Z report's cash sales (all documents are in shifts).
        let cash_row = z.by_tender.iter().find(|r| r.kind == "cash");
        let cash_net = cash_row.map_or(0, |r| r.amount_cents);
        let d = &z.drawer.tally;
        prop_assert_eq!(d.cash_sales_cents - d.cash_refunds_cents - d.cash_voids_cents, cash_net);
        prop_assert!(db.verify().unwrap().ok());
    }
}
