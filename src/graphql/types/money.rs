//! `Money` and the `Decimal` scalar: exact amounts in the store currency.

use async_graphql::{InputValueError, InputValueResult, Object, Scalar, ScalarType, Value};

use crate::domain::money::Currency;

/// A decimal number sent as a string, like `"19.99"`, so no precision is lost to floating point.
/// Input also accepts a JSON number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

/// A decimal number sent as a string, like `"19.99"`, so no precision is lost to floating point.
/// Input also accepts a JSON number.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(text) => Ok(Self(text)),
            Value::Number(number) => Ok(Self(number.to_string())),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_) | Value::Number(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// An amount of money in the store currency.
#[derive(Debug, Clone, Copy)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    /// `minor_units` of `currency`.
    pub fn new(minor_units: i64, currency: Currency) -> Self {
        Self {
            minor_units,
            currency,
        }
    }
}

/// An amount of money in the store currency.
#[Object]
impl Money {
    /// The amount as a decimal string with the currency's digits, e.g. `"19.99"`.
    async fn amount(&self) -> Decimal {
        Decimal(self.currency.format(self.minor_units))
    }

    /// ISO 4217 currency code, e.g. `USD`.
    async fn currency_code(&self) -> &str {
        self.currency.code()
    }

    /// The amount in the currency's minor unit, e.g. `1999` cents.
    async fn minor_units(&self) -> i64 {
        self.minor_units
    }
}
