//! Idempotency keys as clients send them: checked once, in one place, for every mutation that
//! takes one.

use crate::domain::rejection::{Rejection, RejectionCode};

/// Longest idempotency key accepted, in characters.
pub const MAX_KEY_CHARS: usize = 200;

/// A client's idempotency key: 1 to [`MAX_KEY_CHARS`] characters once trimmed, no control
/// characters (PostgreSQL refuses NUL in text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks `raw`; a rejection of the input at `field` when it does not fit.
    pub fn parse(raw: &str, field: &[&str]) -> Result<Self, Rejection> {
        let key = raw.trim();
        if key.is_empty()
            || key.chars().count() > MAX_KEY_CHARS
            || key.chars().any(char::is_control)
        {
            return Err(Rejection::new(
                field,
                RejectionCode::Invalid,
                format!(
                    "an idempotency key has 1 to {MAX_KEY_CHARS} characters, none of them control \
                     characters"
                ),
            ));
        }
        Ok(Self(key.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_trimmed_bounded_and_printable() {
        assert_eq!(
            IdempotencyKey::parse("  k-1 ", &["key"]).unwrap().as_str(),
            "k-1"
        );
        assert!(IdempotencyKey::parse("", &["key"]).is_err());
        assert!(IdempotencyKey::parse("a\u{0}b", &["key"]).is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(201), &["key"]).is_err());
        assert!(IdempotencyKey::parse(&"é".repeat(200), &["key"]).is_ok());
    }
}
