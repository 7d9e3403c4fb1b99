//! Money: integer minor units in the store currency, and the one conversion to and from decimal
//! strings.
//!
//! Rounding rule: amounts are stored and summed as exact integers of minor units; a decimal
//! string is never rounded on the way in (more fraction digits than the currency has is an
//! error), so nothing here rounds. Where a later rule divides (percentages, tax), it rounds half
//! away from zero to the minor unit, in this module.

use std::fmt;

/// An ISO 4217 currency with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// Currencies whose minor unit is not 1/100 (ISO 4217). Every other valid code has 2 digits.
const NON_DECIMAL_EXPONENTS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// US dollars: the store currency unless configured otherwise.
impl Default for Currency {
    fn default() -> Self {
        Self {
            code: *b"USD",
            exponent: 2,
        }
    }
}

impl Currency {
    /// Parses a three-letter ISO 4217 code (case-insensitive).
    pub fn parse(code: &str) -> Result<Self, String> {
        let upper = code.trim().to_ascii_uppercase();
        let bytes: [u8; 3] = upper
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 3]| b.iter().all(u8::is_ascii_uppercase))
            .ok_or_else(|| format!("{code:?} is not a three-letter ISO 4217 currency code"))?;
        let exponent = NON_DECIMAL_EXPONENTS
            .iter()
            .find(|(c, _)| *c == upper)
            .map_or(2, |(_, e)| *e);
        Ok(Self {
            code: bytes,
            exponent,
        })
    }

    /// The ISO 4217 code, e.g. `USD`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Digits after the decimal point: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    fn scale(&self) -> i64 {
        10_i64.pow(u32::from(self.exponent))
    }

    /// Formats minor units as a decimal string with exactly the currency's digits: `1999` → `19.99`.
    pub fn format(&self, minor_units: i64) -> String {
        let scale = self.scale();
        let sign = if minor_units < 0 { "-" } else { "" };
        let abs = minor_units.unsigned_abs();
        let whole = abs / scale.unsigned_abs();
        if self.exponent == 0 {
            return format!("{sign}{whole}");
        }
        let fraction = abs % scale.unsigned_abs();
        format!(
            "{sign}{whole}.{fraction:0width$}",
            width = usize::from(self.exponent)
        )
    }

    /// Parses a decimal string into minor units without rounding: `19.9` → `1990`; `19.999` is an
    /// error for USD. Accepts an optional leading `-`; refuses magnitudes above [`MAX_AMOUNT`].
    pub fn parse_amount(&self, text: &str) -> Result<i64, String> {
        let invalid = || format!("{text:?} is not a valid {} amount", self.code());
        let trimmed = text.trim();
        let (negative, digits) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        if digits.contains('.') && fraction.is_empty() {
            return Err(invalid());
        }
        if fraction.len() > usize::from(self.exponent) {
            return Err(format!(
                "{text:?} has more than {} decimal places for {}",
                self.exponent,
                self.code()
            ));
        }
        let whole: i64 = whole.parse().map_err(|_| invalid())?;
        let padded = format!("{fraction:0<width$}", width = usize::from(self.exponent));
        let fraction: i64 = if padded.is_empty() {
            0
        } else {
            padded.parse().map_err(|_| invalid())?
        };
        let magnitude = whole
            .checked_mul(self.scale())
            .and_then(|w| w.checked_add(fraction))
            .filter(|magnitude| *magnitude <= MAX_AMOUNT)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not an amount of {} between -{} and {}",
                    self.code(),
                    self.format(MAX_AMOUNT),
                    self.format(MAX_AMOUNT)
                )
            })?;
        Ok(if negative { -magnitude } else { magnitude })
    }
}

/// The largest amount Bazaar takes, in minor units (10 billion in a two-decimal currency): a
/// line of 99 units at this price, times the most lines a cart holds, stays far inside `i64`.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// `unit_price × quantity`, saturating rather than overflowing (prices are at most
/// [`MAX_AMOUNT`], so it never saturates in practice).
pub fn line_total(unit_price: i64, quantity: i32) -> i64 {
    unit_price.saturating_mul(i64::from(quantity))
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    #[test]
    fn currency_codes_are_checked_and_know_their_digits() {
        assert_eq!(usd().code(), "USD");
        assert_eq!(usd().exponent(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn formats_with_exactly_the_currency_digits() {
        assert_eq!(usd().format(1999), "19.99");
        assert_eq!(usd().format(5), "0.05");
        assert_eq!(usd().format(0), "0.00");
        assert_eq!(usd().format(-250), "-2.50");
        assert_eq!(Currency::parse("JPY").unwrap().format(1200), "1200");
        assert_eq!(Currency::parse("KWD").unwrap().format(1234), "1.234");
        assert_eq!(usd().format(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn parses_decimal_strings_without_rounding() {
        assert_eq!(usd().parse_amount("19.99"), Ok(1999));
        assert_eq!(usd().parse_amount("19.9"), Ok(1990));
        assert_eq!(usd().parse_amount("19"), Ok(1900));
        assert_eq!(usd().parse_amount("-0.50"), Ok(-50));
        assert!(usd().parse_amount("19.999").is_err());
        assert!(usd().parse_amount("19.").is_err());
        assert!(usd().parse_amount(".5").is_err());
        assert!(usd().parse_amount("1e3").is_err());
        assert!(usd().parse_amount("").is_err());
        assert!(usd().parse_amount("99999999999999999999").is_err());
        assert_eq!(usd().parse_amount("10000000000.00"), Ok(MAX_AMOUNT));
        assert_eq!(usd().parse_amount("-10000000000"), Ok(-MAX_AMOUNT));
        assert!(usd().parse_amount("10000000000.01").is_err());
        assert_eq!(line_total(MAX_AMOUNT, 99), MAX_AMOUNT * 99);
        assert_eq!(line_total(i64::MAX, 99), i64::MAX);
        assert_eq!(
            Currency::parse("JPY").unwrap().parse_amount("1200"),
            Ok(1200)
        );
        assert!(
            Currency::parse("JPY")
                .unwrap()
                .parse_amount("12.5")
                .is_err()
        );
    }

    #[test]
    fn format_and_parse_round_trip() {
        for minor in [-100_001, -1, 0, 1, 99, 100, 123_456_789] {
            assert_eq!(usd().parse_amount(&usd().format(minor)), Ok(minor));
        }
    }
}
