//! The cart being rung up, and how its totals are computed.
//!
//! Rounding rule (what the receipt prints): each line is rounded on its own, then the sale's
//! totals are the plain sums of the printed lines.
//! - line gross = qty × unit price − line discount (exact, integer);
//! - tax-inclusive price: line total = gross, line tax = round(gross × rate / (10000 + rate));
//! - tax-exclusive price: line tax = round(gross × rate / 10000), line total = gross + tax;
//! - round = half away from zero, to the currency's minor unit.
//!
//! So `total == Σ line totals` and `tax == Σ line taxes`, always, and a receipt adds up.

use serde::{Deserialize, Serialize};

use super::money::{div_round_half_away, to_minor, Currency};
use super::product::{validate_price, validate_tax_rate, Product};
use super::{DomainError, MAX_LINES, MAX_QTY};

/// One line of the cart: a product sold at a unit price, with an optional discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub qty: i64,
    pub unit_price_cents: i64,
    pub discount_cents: i64,
    /// The cashier typed a price other than the catalog's.
    pub price_overridden: bool,
    pub tax_rate_bp: i64,
    pub price_includes_tax: bool,
}

/// What one line prints: its total and the tax inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineAmounts {
    pub line_total_cents: i64,
    pub tax_cents: i64,
}

impl CartLine {
    pub fn from_product(p: &Product, qty: i64) -> Result<CartLine, DomainError> {
        check_qty(qty)?;
        validate_price(p.price_cents)?;
        validate_tax_rate(p.tax_rate_bp)?;
        Ok(CartLine {
            sku: p.sku.clone(),
            name: p.name.clone(),
            qty,
            unit_price_cents: p.price_cents,
            discount_cents: 0,
            price_overridden: false,
            tax_rate_bp: p.tax_rate_bp,
            price_includes_tax: p.price_includes_tax,
        })
    }

    /// Quantity × unit price before the discount.
    pub fn gross_before_discount(&self) -> Result<i64, DomainError> {
        to_minor(i128::from(self.qty) * i128::from(self.unit_price_cents))
    }

    /// The line's printed total and tax, by the rule in this module's header.
    pub fn amounts(&self) -> Result<LineAmounts, DomainError> {
        check_qty(self.qty)?;
        validate_price(self.unit_price_cents)?;
        validate_tax_rate(self.tax_rate_bp)?;
        let before = self.gross_before_discount()?;
        if self.discount_cents < 0 || self.discount_cents > before {
            return Err(DomainError::BadDiscount {
                discount: self.discount_cents,
                gross: before,
            });
        }
        let gross = i128::from(before - self.discount_cents);
        let rate = i128::from(self.tax_rate_bp);
        let (total, tax) = if self.price_includes_tax {
            (gross, div_round_half_away(gross * rate, 10_000 + rate))
        } else {
            let tax = div_round_half_away(gross * rate, 10_000);
            (gross + tax, tax)
        };
        Ok(LineAmounts {
            line_total_cents: to_minor(total)?,
            tax_cents: to_minor(tax)?,
        })
    }
}

fn check_qty(qty: i64) -> Result<(), DomainError> {
    if !(1..=MAX_QTY).contains(&qty) {
        return Err(DomainError::BadQuantity(qty));
    }
    Ok(())
}

/// Totals of the whole cart, plus the tax per rate (for receipts and the Z report).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub total_cents: i64,
    pub tax_cents: i64,
    pub lines: Vec<LineAmounts>,
    /// `(tax_rate_bp, gross total of the lines at that rate, tax at that rate)`, by rate.
    pub by_rate: Vec<(i64, i64, i64)>,
}

/// The sale being rung up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    pub currency: Currency,
    lines: Vec<CartLine>,
}

impl Cart {
    pub fn new(currency: Currency) -> Cart {
        Cart {
            currency,
            lines: Vec::new(),
        }
    }

    pub fn lines(&self) -> &[CartLine] {
        &self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds `qty` of a product. Scanning the same plain item again raises the last line's
    /// quantity instead of adding a line (what cashiers expect from a scanner).
    /// Returns the index of the line that changed.
    pub fn add(&mut self, product: &Product, qty: i64) -> Result<usize, DomainError> {
        let line = CartLine::from_product(product, qty)?;
        if let Some(last) = self.lines.last() {
            let plain = !last.price_overridden && last.discount_cents == 0;
            if plain && last.sku == line.sku && last.unit_price_cents == line.unit_price_cents {
                let idx = self.lines.len() - 1;
                let new_qty = last.qty.checked_add(qty).ok_or(DomainError::Overflow)?;
                self.set_qty(idx, new_qty)?;
                return Ok(idx);
            }
        }
        self.push_line(line)
    }

    /// Appends a line as given (used when rebuilding a cart and by `kassa sell`).
    pub fn push_line(&mut self, line: CartLine) -> Result<usize, DomainError> {
        if self.lines.len() >= MAX_LINES {
            return Err(DomainError::TooManyLines);
        }
        line.amounts()?;
        self.lines.push(line);
        self.check_totals()?;
        Ok(self.lines.len() - 1)
    }

    /// Changes a line and keeps the change only if the cart is still valid.
    fn edit(&mut self, idx: usize, f: impl FnOnce(&mut CartLine)) -> Result<(), DomainError> {
        let line = self
            .lines
            .get_mut(idx)
            .ok_or(DomainError::NoSuchLine(idx))?;
        let before = line.clone();
        f(line);
        let check = line.amounts().map(|_| ());
        let check = check.and_then(|_| self.check_totals());
        if let Err(e) = check {
            self.lines[idx] = before;
            return Err(e);
        }
        Ok(())
    }

    pub fn set_qty(&mut self, idx: usize, qty: i64) -> Result<(), DomainError> {
        check_qty(qty)?;
        self.edit(idx, |l| l.qty = qty)
    }

    /// Overrides the unit price of a line; the line is marked as overridden.
    pub fn override_price(&mut self, idx: usize, price: i64) -> Result<(), DomainError> {
        validate_price(price)?;
        self.edit(idx, |l| {
            l.price_overridden = l.price_overridden || l.unit_price_cents != price;
            l.unit_price_cents = price;
        })
    }

    /// Sets the line discount in minor units (0 removes it).
    pub fn set_discount(&mut self, idx: usize, discount: i64) -> Result<(), DomainError> {
        self.edit(idx, |l| l.discount_cents = discount)
    }

    /// Voids (removes) a line.
    pub fn remove(&mut self, idx: usize) -> Result<CartLine, DomainError> {
        if idx >= self.lines.len() {
            return Err(DomainError::NoSuchLine(idx));
        }
        Ok(self.lines.remove(idx))
    }

    pub fn clear(&mut self) {
        self.lines.clear();
    }

    fn check_totals(&self) -> Result<(), DomainError> {
        self.totals().map(|_| ())
    }

    /// The cart's totals: plain sums of the printed lines.
    pub fn totals(&self) -> Result<Totals, DomainError> {
        let mut total: i64 = 0;
        let mut tax: i64 = 0;
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut by_rate: Vec<(i64, i64, i64)> = Vec::new();
        for line in &self.lines {
            let a = line.amounts()?;
            total = total
                .checked_add(a.line_total_cents)
                .ok_or(DomainError::Overflow)?;
            tax = tax.checked_add(a.tax_cents).ok_or(DomainError::Overflow)?;
            match by_rate.iter_mut().find(|r| r.0 == line.tax_rate_bp) {
                Some(r) => {
                    r.1 += a.line_total_cents;
                    r.2 += a.tax_cents;
                }
                None => by_rate.push((line.tax_rate_bp, a.line_total_cents, a.tax_cents)),
            }
            lines.push(a);
        }
        by_rate.sort_by_key(|r| r.0);
        Ok(Totals {
            total_cents: total,
            tax_cents: tax,
            lines,
            by_rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn product(sku: &str, price: i64, rate: i64, incl: bool) -> Product {
        Product {
            sku: sku.into(),
            barcode: None,
            name: format!("Item {sku}"),
            price_cents: price,
            tax_rate_bp: rate,
            price_includes_tax: incl,
            active: true,
        }
    }

    #[test]
    fn inclusive_tax_is_extracted_per_line() {
        let mut cart = Cart::new(Currency::EUR);
        cart.add(&product("1", 119, 700, true), 2).unwrap();
        cart.add(&product("2", 599, 1900, true), 1).unwrap();
        let t = cart.totals().unwrap();
        // 238 * 700 / 10700 = 15.57 -> 16 ; 599 * 1900 / 11900 = 95.63 -> 96
        assert_eq!(
            t.lines[0],
            LineAmounts {
                line_total_cents: 238,
                tax_cents: 16
            }
        );
        assert_eq!(
            t.lines[1],
            LineAmounts {
                line_total_cents: 599,
                tax_cents: 96
            }
        );
        assert_eq!(t.total_cents, 837);
        assert_eq!(t.tax_cents, 112);
        assert_eq!(t.by_rate, vec![(700, 238, 16), (1900, 599, 96)]);
    }

    #[test]
    fn exclusive_tax_is_added_per_line() {
        let mut cart = Cart::new(Currency::USD);
        cart.add(&product("1", 333, 825, false), 3).unwrap();
        let t = cart.totals().unwrap();
        // 999 * 825 / 10000 = 82.4175 -> 82
        assert_eq!(t.total_cents, 999 + 82);
        assert_eq!(t.tax_cents, 82);
    }

    #[test]
    fn scanning_the_same_item_twice_raises_the_quantity() {
        let mut cart = Cart::new(Currency::EUR);
        let p = product("1", 100, 700, true);
        cart.add(&p, 1).unwrap();
        cart.add(&p, 1).unwrap();
        assert_eq!(cart.lines().len(), 1);
        assert_eq!(cart.lines()[0].qty, 2);
    }

    #[test]
    fn nonsense_quantities_and_prices_are_errors_not_wraps() {
        let mut cart = Cart::new(Currency::EUR);
        assert_eq!(
            cart.add(&product("1", 100, 0, true), 0),
            Err(DomainError::BadQuantity(0))
        );
        assert_eq!(
            cart.add(&product("1", 100, 0, true), -3),
            Err(DomainError::BadQuantity(-3))
        );
        assert!(cart
            .add(&product("1", 100, 0, true), 1_000_000_000_000)
            .is_err());
        assert!(cart.add(&product("1", i64::MAX, 0, true), 1).is_err());
        assert!(cart.is_empty());
    }

    #[test]
    fn a_failed_edit_leaves_the_line_as_it_was() {
        let mut cart = Cart::new(Currency::EUR);
        cart.add(&product("1", 100, 700, true), 2).unwrap();
        assert!(cart.set_discount(0, 500).is_err());
        assert!(cart.set_qty(0, 0).is_err());
        assert_eq!(cart.lines()[0].qty, 2);
        assert_eq!(cart.lines()[0].discount_cents, 0);
        cart.set_discount(0, 50).unwrap();
        assert_eq!(cart.totals().unwrap().total_cents, 150);
    }

    #[test]
    fn price_override_is_marked() {
        let mut cart = Cart::new(Currency::EUR);
        cart.add(&product("1", 100, 700, true), 1).unwrap();
        cart.override_price(0, 80).unwrap();
        assert!(cart.lines()[0].price_overridden);
        assert_eq!(cart.totals().unwrap().total_cents, 80);
    }
}
