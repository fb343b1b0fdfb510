//! Money as integer minor units with its currency, and the rounding rules used for tax.
//!
//! There is no floating point anywhere: amounts are `i64` minor units (cents for EUR, yen for
//! JPY) and every operation that could overflow is checked and returns [`DomainError`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An ISO 4217 currency with its minor-unit exponent (EUR 2, JPY 0, BHD 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const EUR: Currency = Currency {
        code: *b"EUR",
        exponent: 2,
    };
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };
    pub const GBP: Currency = Currency {
        code: *b"GBP",
        exponent: 2,
    };
    pub const CHF: Currency = Currency {
        code: *b"CHF",
        exponent: 2,
    };
    pub const JPY: Currency = Currency {
        code: *b"JPY",
        exponent: 0,
    };
    pub const BHD: Currency = Currency {
        code: *b"BHD",
        exponent: 3,
    };

    const KNOWN: [Currency; 6] = [
        Self::EUR,
        Self::USD,
        Self::GBP,
        Self::CHF,
        Self::JPY,
        Self::BHD,
    ];

    /// Looks a currency up by its code; unknown codes are an error rather than a guess.
    pub fn from_code(code: &str) -> Result<Currency, DomainError> {
        Self::KNOWN
            .iter()
            .copied()
            .find(|c| c.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| DomainError::UnknownCurrency(code.to_string()))
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Formats minor units as a decimal string in this currency: `1234` EUR -> `12.34`.
    pub fn format(&self, minor: i64) -> String {
        if self.exponent == 0 {
            return minor.to_string();
        }
        let scale = 10u64.pow(u32::from(self.exponent));
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = usize::from(self.exponent)
        )
    }

    /// Parses a decimal amount (`12.5`, `12.50`, `1250` for JPY) into minor units.
    /// More fractional digits than the exponent allows is an error, not a rounding.
    pub fn parse(&self, text: &str) -> Result<i64, DomainError> {
        let bad = || DomainError::BadAmount(text.to_string());
        let t = text.trim();
        let (neg, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int_part, frac_part) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        if !int_part.chars().all(|c| c.is_ascii_digit())
            || !frac_part.chars().all(|c| c.is_ascii_digit())
            || frac_part.len() > usize::from(self.exponent)
        {
            return Err(bad());
        }
        let scale = 10i64.pow(u32::from(self.exponent));
        let int: i64 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut frac: i64 = 0;
        if !frac_part.is_empty() {
            let padded = format!("{frac_part:0<width$}", width = usize::from(self.exponent));
            frac = padded.parse().map_err(|_| bad())?;
        }
        let v = int
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac))
            .ok_or(DomainError::Overflow)?;
        Ok(if neg { -v } else { v })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Divides `num / den` rounding half away from zero (the rule printed receipts use).
/// `den` must be positive. Works in i128 so intermediate products of i64 values cannot overflow.
pub fn div_round_half_away(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if r.abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    }
}

/// Narrows an i128 back to i64 minor units, or reports overflow.
pub fn to_minor(v: i128) -> Result<i64, DomainError> {
    i64::try_from(v).map_err(|_| DomainError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_each_exponent() {
        assert_eq!(Currency::EUR.format(1234), "12.34");
        assert_eq!(Currency::EUR.format(-5), "-0.05");
        assert_eq!(Currency::JPY.format(1234), "1234");
        assert_eq!(Currency::BHD.format(1234), "1.234");
        assert_eq!(Currency::EUR.parse("12.5"), Ok(1250));
        assert_eq!(Currency::EUR.parse("12"), Ok(1200));
        assert_eq!(Currency::EUR.parse(".05"), Ok(5));
        assert_eq!(Currency::JPY.parse("1250"), Ok(1250));
    }

    #[test]
    fn rejects_amounts_it_cannot_represent() {
        assert!(Currency::EUR.parse("1.234").is_err());
        assert!(Currency::JPY.parse("1.5").is_err());
        assert!(Currency::EUR.parse("abc").is_err());
        assert!(Currency::EUR.parse("").is_err());
        assert!(Currency::EUR.parse("1e5").is_err());
        assert_eq!(
            Currency::EUR.parse("99999999999999999999"),
            Err(DomainError::BadAmount("99999999999999999999".into()))
        );
        assert_eq!(
            Currency::EUR.parse("92233720368547758.08"),
            Err(DomainError::Overflow)
        );
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(div_round_half_away(5, 10), 1);
        assert_eq!(div_round_half_away(4, 10), 0);
        assert_eq!(div_round_half_away(-5, 10), -1);
        assert_eq!(div_round_half_away(-4, 10), 0);
        assert_eq!(div_round_half_away(15, 10), 2);
    }

    #[test]
    fn unknown_currency_is_an_error() {
        assert!(Currency::from_code("XXX").is_err());
        assert_eq!(Currency::from_code("eur"), Ok(Currency::EUR));
    }
}
