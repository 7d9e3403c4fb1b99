//! Product reviews: one per customer and product, moderated; rating aggregates for many
//! products in one statement; whether a customer bought a product.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use diesel::sql_types::{BigInt, Bool, Integer, Text, Timestamp};

use crate::db::schema::{order_lines, orders, reviews, users};
use crate::db::{DbConnection, id_list_match};
use crate::domain::ids::{AccountId, ProductId, ReviewId};
use crate::domain::paging::IdWindow;
use crate::domain::reviews::ReviewStatus;
use crate::load_by_id_list;

/// A review row with its author's names.
#[derive(Debug, Clone, Queryable)]
pub struct ReviewRow {
    pub id: ReviewId,
    pub product_id: ProductId,
    pub user_id: AccountId,
    pub rating: i32,
    pub title: String,
    pub body: String,
    pub verified_purchase: bool,
    pub status: ReviewStatus,
    pub created_at: NaiveDateTime,
    pub author_first_name: String,
    pub author_last_name: String,
}

type ReviewColumns = (
    reviews::id,
    reviews::product_id,
    reviews::user_id,
    reviews::rating,
    reviews::title,
    reviews::body,
    reviews::verified_purchase,
    reviews::status,
    reviews::created_at,
    users::first_name,
    users::last_name,
);

const REVIEW_COLUMNS: ReviewColumns = (
    reviews::id,
    reviews::product_id,
    reviews::user_id,
    reviews::rating,
    reviews::title,
    reviews::body,
    reviews::verified_purchase,
    reviews::status,
    reviews::created_at,
    users::first_name,
    users::last_name,
);

/// Inserts a review; its id.
pub fn insert(
    conn: &mut DbConnection,
    product_id: ProductId,
    user_id: AccountId,
    rating: i32,
    title: &str,
    body: &str,
    verified_purchase: bool,
    now: NaiveDateTime,
) -> QueryResult<ReviewId> {
    diesel::insert_into(reviews::table)
        .values((
            reviews::product_id.eq(product_id),
            reviews::user_id.eq(user_id),
            reviews::rating.eq(rating),
            reviews::title.eq(title),
            reviews::body.eq(body),
            reviews::verified_purchase.eq(verified_purchase),
            reviews::status.eq("PENDING"),
            reviews::created_at.eq(now),
            reviews::updated_at.eq(now),
        ))
        .returning(reviews::id)
        .get_result(conn)
}

/// Replaces the content of a user's own review and sends it back to moderation. Whether the
/// user has that review.
pub fn update_own(
    conn: &mut DbConnection,
    id: ReviewId,
    user_id: AccountId,
    rating: i32,
    title: &str,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(reviews::table.find(id))
        .filter(reviews::user_id.eq(user_id))
        .set((
            reviews::rating.eq(rating),
            reviews::title.eq(title),
            reviews::body.eq(body),
            reviews::status.eq("PENDING"),
            reviews::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Sets a review's moderation status. Whether it exists.
pub fn set_status(
    conn: &mut DbConnection,
    id: ReviewId,
    status: ReviewStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(reviews::table.find(id))
        .set((reviews::status.eq(status), reviews::updated_at.eq(now)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// The reviews with these ids.
pub fn by_ids(conn: &mut DbConnection, ids: &[ReviewId]) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .inner_join(users::table)
        .filter(reviews::id.eq_any(ids))
        .select(REVIEW_COLUMNS)
        .load(conn)
}

/// A review row as a window statement returns it.
#[derive(QueryableByName)]
struct WindowRow {
    #[diesel(sql_type = BigInt)]
    id: ReviewId,
    #[diesel(sql_type = BigInt)]
    product_id: ProductId,
    #[diesel(sql_type = BigInt)]
    user_id: AccountId,
    #[diesel(sql_type = Integer)]
    rating: i32,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Bool)]
    verified_purchase: bool,
    #[diesel(sql_type = Text)]
    status: ReviewStatus,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    author_first_name: String,
    #[diesel(sql_type = Text)]
    author_last_name: String,
}

impl From<WindowRow> for ReviewRow {
    fn from(row: WindowRow) -> Self {
        Self {
            id: row.id,
            product_id: row.product_id,
            user_id: row.user_id,
            rating: row.rating,
            title: row.title,
            body: row.body,
            verified_purchase: row.verified_purchase,
            status: row.status,
            created_at: row.created_at,
            author_first_name: row.author_first_name,
            author_last_name: row.author_last_name,
        }
    }
}

/// One window of the approved reviews of each product in `product_ids`, newest first, all in
/// one statement (`ROW_NUMBER()` over a partition per product): each product's reviews in
/// window order (nearest `before` first when `from_end`).
pub fn approved_windows(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
    window: &IdWindow,
) -> QueryResult<Vec<ReviewRow>> {
    let direction = if window.from_end { "ASC" } else { "DESC" };
    let mut conditions = vec![
        id_list_match(conn, "r.product_id"),
        "r.status = ?".to_owned(),
    ];
    if window.after.is_some() {
        conditions.push("r.id < ?".to_owned());
    }
    if window.before.is_some() {
        conditions.push("r.id > ?".to_owned());
    }
    let sql = format!(
        "SELECT t.id, t.product_id, t.user_id, t.rating, t.title, t.body, t.verified_purchase, \
           t.status, t.created_at, t.author_first_name, t.author_last_name FROM (\
           SELECT r.id, r.product_id, r.user_id, r.rating, r.title, r.body, \
             r.verified_purchase, r.status, r.created_at, u.first_name AS author_first_name, \
             u.last_name AS author_last_name, ROW_NUMBER() OVER (\
               PARTITION BY r.product_id ORDER BY r.id {direction}) AS rn \
           FROM reviews r JOIN users u ON u.id = r.user_id \
           WHERE {conditions}\
         ) t WHERE t.rn <= ? ORDER BY t.product_id, t.rn",
        conditions = conditions.join(" AND "),
    );
    let rows: Vec<WindowRow> = load_by_id_list!(conn, sql, product_ids, |query| {
        let mut query = query.bind::<Text, _>(ReviewStatus::Approved);
        for id in [window.after, window.before].into_iter().flatten() {
            query = query.bind::<BigInt, _>(id);
        }
        query.bind::<BigInt, _>(window.limit)
    })?;
    Ok(rows.into_iter().map(ReviewRow::from).collect())
}

/// Reviews in `status`, oldest first (the moderation queue), at most `limit`.
pub fn with_status(
    conn: &mut DbConnection,
    status: ReviewStatus,
    limit: i64,
) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .inner_join(users::table)
        .filter(reviews::status.eq(status))
        .order_by(reviews::id)
        .limit(limit)
        .select(REVIEW_COLUMNS)
        .load(conn)
}

/// `(product, approved reviews, sum of their ratings)` for every product in `product_ids` that
/// has approved reviews, in one statement.
pub fn ratings_of(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
) -> QueryResult<Vec<(ProductId, i64, Option<i64>)>> {
    reviews::table
        .filter(reviews::product_id.eq_any(product_ids))
        .filter(reviews::status.eq("APPROVED"))
        .group_by(reviews::product_id)
        .select((
            reviews::product_id,
            diesel::dsl::count(reviews::id),
            diesel::dsl::sum(reviews::rating),
        ))
        .load(conn)
}

/// Whether the user has a paid or fulfilled order containing the product.
pub fn has_purchased(
    conn: &mut DbConnection,
    user_id: AccountId,
    product_id: ProductId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        order_lines::table
            .inner_join(orders::table)
            .filter(orders::user_id.eq(user_id))
            .filter(orders::status.eq_any(["PAID", "FULFILLED"]))
            .filter(order_lines::product_id.eq(product_id)),
    ))
    .get_result(conn)
}
