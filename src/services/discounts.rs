//! Discount code administration: staff create, list, change, disable and enable codes;
//! checkout counts their use.

use chrono::{NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;

use crate::db::models::discount::{
    self, CodeFilter, DiscountCode, DiscountCodeRules, NewDiscountCode,
};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::ids::DiscountCodeId;
use crate::domain::instant;
use crate::domain::money::Currency;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::pricing::DiscountType;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::catalog::searched;

/// Reads a code's value as entered: a whole percentage (`"10"`) for a percentage, an amount
/// in `currency` (`"5.00"`) otherwise, in minor units. The range is checked by [`check`].
pub fn read_value(kind: DiscountType, text: &str, currency: Currency) -> Result<i64, String> {
    match kind {
        DiscountType::Percentage => text
            .trim()
            .parse::<i64>()
            .map_err(|_| "a percentage is a whole number, e.g. \"10\"".to_owned()),
        DiscountType::FixedAmount => currency.parse_amount(text),
    }
}

/// A checked new code.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// Upper-cased code.
    pub code: String,
    /// What the value means.
    pub kind: DiscountType,
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
        DiscountType::Percentage => (1..=100).contains(&new.value),
        DiscountType::FixedAmount => new.value > 0,
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
    for (field, at) in [("startsAt", new.starts_at), ("endsAt", new.ends_at)] {
        if let Some(Err(message)) = at.map(instant::check) {
            problems.push(invalid(field, &message));
        }
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
    let actor = db.actor();
    db.run(move |conn| write_transaction(conn, |conn| create_in(conn, actor, &new)))
        .await
}

fn create_in(
    conn: &mut DbConnection,
    actor: Option<i64>,
    new: &NewCode,
) -> AppResult<DiscountCode> {
    {
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
        let details = json!({ "code": new.code, "kind": new.kind, "value": new.value,
                              "usageLimit": new.usage_limit });
        audit::record(
            conn,
            actor,
            "discount.create",
            Subject::DiscountCode(id.0),
            details,
        )?;
        discount::by_id(conn, id)?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new code is missing")))
    }
}

/// What staff change on a code; `None` keeps the stored value. The nullable rules take
/// `Some(None)` to clear them.
#[derive(Debug, Clone, Default)]
pub struct CodeChanges {
    /// The percentage or amount as entered (read in the code's kind).
    pub value: Option<String>,
    /// The minimum subtotal as entered, in the store currency.
    pub minimum_subtotal: Option<String>,
    /// Uses allowed; `Some(None)`: unlimited.
    pub usage_limit: Option<Option<i32>>,
    /// Valid from; `Some(None)`: from now on.
    pub starts_at: Option<Option<NaiveDateTime>>,
    /// Valid until; `Some(None)`: for ever.
    pub ends_at: Option<Option<NaiveDateTime>>,
}

fn no_such_code() -> AppError {
    AppError::rejected(Rejection::new(
        &["id"],
        RejectionCode::NotFound,
        "no such discount code",
    ))
}

/// Changes a code's rules, checked as a new code's are; every problem at once.
pub async fn update(
    db: &Db,
    id: DiscountCodeId,
    changes: CodeChanges,
    currency: Currency,
) -> AppResult<DiscountCode> {
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let stored = discount::by_id(conn, id)?.ok_or_else(no_such_code)?;
            let mut problems = Vec::new();
            let mut read =
                |field: &str, text: Option<&String>, current: i64, kind: DiscountType| match text
                    .map(|text| read_value(kind, text, currency))
                {
                    None => current,
                    Some(Ok(value)) => value,
                    Some(Err(message)) => {
                        problems.push(invalid(field, &message));
                        current
                    }
                };
            let value = read("value", changes.value.as_ref(), stored.value, stored.kind);
            let minimum_subtotal = read(
                "minimumSubtotal",
                changes.minimum_subtotal.as_ref(),
                stored.minimum_subtotal,
                DiscountType::FixedAmount,
            );
            let merged = NewCode {
                code: stored.code.clone(),
                kind: stored.kind,
                value,
                minimum_subtotal,
                usage_limit: changes.usage_limit.unwrap_or(stored.usage_limit),
                starts_at: changes.starts_at.unwrap_or(stored.starts_at),
                ends_at: changes.ends_at.unwrap_or(stored.ends_at),
            };
            // A value that could not be read kept the stored (valid) one: no problem twice.
            if let Err(more) = check(&merged) {
                problems.extend(more);
            }
            if !problems.is_empty() {
                return Err(AppError::Rejected(problems));
            }
            let rules = DiscountCodeRules {
                value: merged.value,
                minimum_subtotal: merged.minimum_subtotal,
                usage_limit: merged.usage_limit,
                starts_at: merged.starts_at,
                ends_at: merged.ends_at,
            };
            if !discount::update_rules(conn, id, &rules)? {
                return Err(no_such_code());
            }
            let details = json!({
                "value": [stored.value, rules.value],
                "minimumSubtotal": [stored.minimum_subtotal, rules.minimum_subtotal],
                "usageLimit": [stored.usage_limit, rules.usage_limit],
            });
            audit::record(
                conn,
                actor,
                "discount.update",
                Subject::DiscountCode(id.0),
                details,
            )?;
            discount::by_id(conn, id)?.ok_or_else(no_such_code)
        })
    })
    .await
}

/// Disables a code (`disabled`: it no longer applies to carts or checkouts; disabling again
/// keeps the first time) or enables it again.
pub async fn set_disabled(db: &Db, id: DiscountCodeId, disabled: bool) -> AppResult<DiscountCode> {
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let stored = discount::by_id(conn, id)?.ok_or_else(no_such_code)?;
            let disabled_at = match (disabled, stored.disabled_at) {
                (false, _) => None,
                (true, Some(since)) => Some(since),
                (true, None) => Some(Utc::now().naive_utc()),
            };
            if disabled_at == stored.disabled_at {
                return Ok(stored);
            }
            discount::set_disabled_at(conn, id, disabled_at)?;
            let details = json!({ "disabled": disabled });
            audit::record(
                conn,
                actor,
                "discount.disable",
                Subject::DiscountCode(id.0),
                details,
            )?;
            // Read back: the database keeps the time at its own precision (microseconds on
            // PostgreSQL), and later reads must show the same value.
            discount::by_id(conn, id)?.ok_or_else(no_such_code)
        })
    })
    .await
}

/// The staff search over codes.
#[derive(Debug, Clone, Default)]
pub struct CodeQuery {
    /// Text the code contains (case-insensitive).
    pub search: Option<String>,
    /// Only codes that may apply now (enabled, started, not ended, not used up), or only those
    /// that may not.
    pub active: Option<bool>,
}

/// One page of codes, newest first, in one statement.
pub async fn list(
    db: &Db,
    query: CodeQuery,
    page: PageRequest<i64>,
) -> AppResult<Page<DiscountCode>> {
    let code_pattern = searched(query.search.as_deref())?;
    let filter = CodeFilter {
        // Codes are stored upper-cased; the pattern's escapes are not letters.
        code_pattern: code_pattern.map(|pattern| pattern.to_uppercase()),
        active: query.active,
        now: Some(Utc::now().naive_utc()),
    };
    let window = page.id_window();
    let rows = db
        .run(move |conn| Ok(discount::page(conn, &filter, &window)?))
        .await?;
    Ok(page.into_page(rows))
}
