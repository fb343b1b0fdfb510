//! Property tests of money, tax rounding and the cart: receipts add up and nothing panics.

use kassa::domain::tender::{cash_rounding, settle};
use kassa::domain::{Cart, Currency, Payment, Product};
use proptest::prelude::*;

fn product(i: usize, price: i64, rate: i64, incl: bool) -> Product {
    Product {
        sku: format!("S{i}"),
        barcode: None,
        name: format!("Item {i}"),
        price_cents: price,
        tax_rate_bp: rate,
        price_includes_tax: incl,
        active: true,
    }
}

#[derive(Debug, Clone)]
enum CartOp {
    Add {
        item: usize,
        price: i64,
        rate: i64,
        incl: bool,
        qty: i64,
    },
    SetQty {
        line: usize,
        qty: i64,
    },
    Discount {
        line: usize,
        cents: i64,
    },
    Override {
        line: usize,
        price: i64,
    },
    Remove {
        line: usize,
    },
}

fn any_amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..100_000,
        any::<i64>(),
        Just(i64::MAX),
        Just(i64::MIN),
        -10i64..10
    ]
}

fn cart_op() -> impl Strategy<Value = CartOp> {
    prop_oneof![
        (
            0usize..8,
            any_amount(),
            prop_oneof![0i64..3000, any::<i64>()],
            any::<bool>(),
            any_amount()
        )
            .prop_map(|(item, price, rate, incl, qty)| CartOp::Add {
                item,
                price,
                rate,
                incl,
                qty
            }),
        (0usize..10, any_amount()).prop_map(|(line, qty)| CartOp::SetQty { line, qty }),
        (0usize..10, any_amount()).prop_map(|(line, cents)| CartOp::Discount { line, cents }),
        (0usize..10, any_amount()).prop_map(|(line, price)| CartOp::Override { line, price }),
        (0usize..10).prop_map(|line| CartOp::Remove { line }),
    ]
}

fn apply(cart: &mut Cart, op: &CartOp) {
    let before = cart.clone();
    let result = match *op {
        CartOp::Add {
            item,
            price,
            rate,
            incl,
            qty,
        } => cart.add(&product(item, price, rate, incl), qty).map(|_| ()),
        CartOp::SetQty { line, qty } => cart.set_qty(line, qty),
        CartOp::Discount { line, cents } => cart.set_discount(line, cents),
        CartOp::Override { line, price } => cart.override_price(line, price),
        CartOp::Remove { line } => cart.remove(line).map(|_| ()),
    };
    if result.is_err() {
        assert_eq!(
            cart, &before,
            "a refused change must leave the cart as it was"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn totals_equal_the_sum_of_printed_lines(ops in prop::collection::vec(cart_op(), 0..40)) {
        let mut cart = Cart::new(Currency::EUR);
        for op in &ops {
            apply(&mut cart, op);
        }
        // Every cart that exists after any sequence of edits has valid totals.
        let t = cart.totals().expect("a cart never holds lines whose totals fail");
        let line_sum: i64 = t.lines.iter().map(|l| l.line_total_cents).sum();
        let tax_sum: i64 = t.lines.iter().map(|l| l.tax_cents).sum();
        prop_assert_eq!(t.total_cents, line_sum);
        prop_assert_eq!(t.tax_cents, tax_sum);
        prop_assert_eq!(t.by_rate.iter().map(|r| r.1).sum::<i64>(), t.total_cents);
        prop_assert_eq!(t.by_rate.iter().map(|r| r.2).sum::<i64>(), t.tax_cents);
        for (l, a) in cart.lines().iter().zip(&t.lines) {
            prop_assert!(a.tax_cents >= 0 && a.line_total_cents >= 0);
            let gross = l.qty * l.unit_price_cents - l.discount_cents;
            if l.price_includes_tax {
                prop_assert_eq!(a.line_total_cents, gross);
                prop_assert!(a.tax_cents <= a.line_total_cents);
            } else {
                prop_assert_eq!(a.line_total_cents, gross + a.tax_cents);
            }
        }
    }

    #[test]
    fn settling_never_panics_and_change_adds_up(
        total in any::<i64>(), given in any::<i64>(), inc in prop_oneof![0i64..100, any::<i64>()], card in any::<bool>()
    ) {
        let payment = if card { Payment::Card } else { Payment::Cash { given: Some(given) } };
        if let Ok(s) = settle(total, payment, inc, Currency::EUR) {
            let paid: i64 = s.tenders.iter().map(|t| t.amount_cents - t.change_cents).sum();
            prop_assert_eq!(paid, s.due_cents);
            prop_assert_eq!(s.due_cents, total + s.rounding_cents);
            prop_assert!(s.change_cents >= 0);
        }
    }

    #[test]
    fn cash_rounding_lands_on_the_increment(total in 0i64..1_000_000_000, inc in 2i64..1000) {
        let r = cash_rounding(total, inc).unwrap();
        prop_assert_eq!((total + r) % inc, 0);
        prop_assert!(r.abs() * 2 <= inc);
    }

    #[test]
    fn amounts_round_trip_through_text(minor in any::<i64>(), exp in 0usize..3) {
        let c = [Currency::JPY, Currency::EUR, Currency::BHD][exp];
        prop_assume!(minor != i64::MIN);
        prop_assert_eq!(c.parse(&c.format(minor)), Ok(minor));
    }

    #[test]
    fn parsing_any_text_never_panics(text in ".{0,30}") {
        let _ = Currency::EUR.parse(&text);
        let _ = Currency::JPY.parse(&text);
    }
}
