//! Review use cases: a customer reviews a product once (verified when they bought it), edits it
//! (back to moderation), staff approve or reject.

use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::Db;
use crate::db::models::product;
use crate::db::models::product_review::{self, ReviewRow};
use crate::domain::accounts::AccountPrincipal;
use crate::domain::catalog::CatalogVisibility;
use crate::domain::ids::{ProductId, ReviewId};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::domain::reviews::{ReviewContent, ReviewStatus};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::recorded_transaction;

fn content(rating: i32, title: &str, body: &str) -> AppResult<ReviewContent> {
    ReviewContent::parse(rating, title, body).map_err(|problems| {
        AppError::Rejected(problems.into_iter().map(|p| p.under("input")).collect())
    })
}

fn not_found(field: &str, what: &str) -> AppError {
    AppError::rejected(Rejection::new(
        &[field],
        RejectionCode::NotFound,
        format!("no such {what}"),
    ))
}

fn reload(conn: &mut crate::db::DbConnection, id: ReviewId) -> AppResult<ReviewRow> {
    product_review::by_ids(conn, &[id])?
        .pop()
        .ok_or_else(|| not_found("id", "review"))
}

/// Reviews a product the customer can see; PENDING until staff approve it.
pub async fn submit(
    db: &Db,
    author: AccountPrincipal,
    product_id: ProductId,
    rating: i32,
    title: String,
    body: String,
) -> AppResult<ReviewRow> {
    let review = content(rating, &title, &body)?;
    db.run(move |conn| {
        let visible = product::by_ids(conn, &[product_id], CatalogVisibility::Storefront)?;
        if visible.is_empty() {
            return Err(not_found("productId", "product"));
        }
        let user = author.account_id;
        let verified = product_review::has_purchased(conn, user, product_id)?;
        let id = product_review::insert(
            conn,
            product_id,
            user,
            review.rating,
            &review.title,
            &review.body,
            verified,
            Utc::now().naive_utc(),
        )
        .map_err(|error| match error {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::rejected(Rejection::new(
                    &["productId"],
                    RejectionCode::Taken,
                    "you reviewed this product already; update your review instead",
                ))
            }
            other => other.into(),
        })?;
        reload(conn, id)
    })
    .await
}

/// Changes the author's own review; it goes back to moderation.
pub async fn update(
    db: &Db,
    author: AccountPrincipal,
    id: ReviewId,
    rating: i32,
    title: String,
    body: String,
) -> AppResult<ReviewRow> {
    let review = content(rating, &title, &body)?;
    db.run(move |conn| {
        let now = Utc::now().naive_utc();
        let user = author.account_id;
        if !product_review::update_own(
            conn,
            id,
            user,
            review.rating,
            &review.title,
            &review.body,
            now,
        )? {
            return Err(not_found("id", "review of yours"));
        }
        reload(conn, id)
    })
    .await
}

/// Approves or rejects a review (staff).
pub async fn moderate(db: &Db, id: ReviewId, status: ReviewStatus) -> AppResult<ReviewRow> {
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            if !product_review::set_status(conn, id, status, Utc::now().naive_utc())? {
                return Err(not_found("id", "review"));
            }
            let details = serde_json::json!({ "status": status });
            audit::record(
                conn,
                actor,
                "review.moderate",
                Subject::Review(id.0),
                details,
            )?;
            let review = reload(conn, id)?;
            if status == ReviewStatus::Approved {
                changes.review_approved(&review);
            }
            Ok(review)
        })
    })
    .await
}

/// The moderation queue: PENDING reviews, oldest first.
pub async fn pending(db: &Db, size: usize) -> AppResult<Vec<ReviewRow>> {
    let limit = i64::try_from(size).unwrap_or(i64::MAX);
    db.run(move |conn| {
        Ok(product_review::with_status(
            conn,
            ReviewStatus::Pending,
            limit,
        )?)
    })
    .await
}
