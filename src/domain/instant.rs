//! Instants a client may send (a discount code's validity window, the position a cursor names):
//! years 1 to 9999, as RFC 3339 writes them. PostgreSQL stores no year before 4714 BC, and
//! SQLite, which keeps timestamps as text, sorts them in time order only while every year has
//! four digits.

use chrono::{Datelike as _, NaiveDateTime};

/// Earliest year accepted.
pub const MIN_YEAR: i32 = 1;
/// Latest year accepted.
pub const MAX_YEAR: i32 = 9999;

/// `at`, if its year lies in [`MIN_YEAR`]..=[`MAX_YEAR`]; else why not.
pub fn check(at: NaiveDateTime) -> Result<NaiveDateTime, String> {
    if (MIN_YEAR..=MAX_YEAR).contains(&at.year()) {
        Ok(at)
    } else {
        Err(format!("a date lies in the years {MIN_YEAR} to {MAX_YEAR}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digit_years_only() {
        let at = |text: &str| text.parse::<NaiveDateTime>().unwrap();
        assert!(check(at("0001-01-01T00:00:00")).is_ok());
        assert!(check(at("9999-12-31T23:59:59.999999")).is_ok());
        assert!(check(at("0000-12-31T23:59:59")).is_err());
        assert!(check(at("+10000-01-01T00:00:00")).is_err());
        assert!(check(at("-200000-01-01T00:00:00")).is_err());
    }
}
