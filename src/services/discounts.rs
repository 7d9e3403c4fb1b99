//! Discount code administration: staff create codes; checkout counts their use.

use chrono::{NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::Db;
use crate::db::models::discount::{self, DiscountCode, NewDiscountCode};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};

/// A checked new code.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// Upper-cased code.
    pub code: String,
    /// `PERCENTAGE` or `FIXED_AMOUNT`.
    pub kind: &'static str,
    /// Percent or minor units.
    pub value: i64,
    /// Minor units.
    pub minimum_subtotal: i64,
    /// Uses allowed.
    pub usage_limit: Option<i32>,
    /// Valid from.
    pub starts_at: Option<NaiveDateTime>,
    /// Valid until.
    pub ends_at: Option<NaiveDateTime>,
}

fn invalid(field: &str, message: &str) -> Rejection {
    Rejection::new(&["input", field], RejectionCode::Invalid, message)
}

/// Checks a new code's rules; every problem at once.
pub fn check(new: &NewCode) -> Result<(), Vec<Rejection>> {
    let mut problems = Vec::new();
    let code_ok = (3..=40).contains(&new.code.len())
        && new
            .code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !code_ok {
        problems.push(invalid(
            "code",
            "a code has 3 to 40 letters, digits, - or _",
        ));
    }
    let value_ok = match new.kind {
        "PERCENTAGE" => (1..=100).contains(&new.value),
        _ => new.value > 0,
    };
    if !value_ok {
        problems.push(invalid(
            "value",
            "a percentage is 1 to 100; an amount is above zero",
        ));
    }
    if new.minimum_subtotal < 0 {
        problems.push(invalid(
            "minimumSubtotal",
            "the minimum subtotal cannot be negative",
        ));
    }
    if new.usage_limit.is_some_and(|limit| limit < 0) {
        problems.push(invalid("usageLimit", "the usage limit cannot be negative"));
    }
    if let (Some(start), Some(end)) = (new.starts_at, new.ends_at)
        && end <= start
    {
        problems.push(invalid("endsAt", "the end comes after the start"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Creates a code.
pub async fn create(db: &Db, new: NewCode) -> AppResult<DiscountCode> {
    check(&new).map_err(AppError::Rejected)?;
    db.run(move |conn| {
        let id = discount::insert(
            conn,
            &NewDiscountCode {
                code: &new.code,
                kind: new.kind,
                value: new.value,
                minimum_subtotal: new.minimum_subtotal,
                usage_limit: new.usage_limit,
                times_used: 0,
                starts_at: new.starts_at,
                ends_at: new.ends_at,
                created_at: Utc::now().naive_utc(),
            },
        )
        .map_err(|error| match error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::rejected(Rejection::new(
                    &["input", "code"],
                    RejectionCode::Taken,
                    "this code exists already",
                ))
            }
            other => other.into(),
        })?;
        discount::by_id(conn, id)?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new code is missing")))
    })
    .await
}
