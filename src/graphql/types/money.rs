//! `Money` and the `Decimal` scalar: exact amounts in the store currency.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};

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
#[derive(Debug, Clone, SimpleObject)]
pub struct Money {
    /// The amount as a decimal string with the currency's digits, e.g. `"19.99"`.
    pub amount: Decimal,
    /// ISO 4217 currency code, e.g. `USD`.
    pub currency_code: String,
    /// The amount in the currency's minor unit, e.g. `1999` cents.
    pub minor_units: i64,
}

impl Money {
    /// `minor_units` of `currency`.
    pub fn new(minor_units: i64, currency: Currency) -> Self {
        Self {
            amount: Decimal(currency.format(minor_units)),
            currency_code: currency.code().to_owned(),
            minor_units,
        }
    }
}
