//! Manual collections and their members: products staff group by hand, in the order they set.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::schema::{collection_products, collections, products};
use crate::db::{DbConnection, MultiBackend, id_list_match};
use crate::domain::catalog::{CatalogVisibility, ProductStatus};
use crate::domain::feeds::RowWindow;
use crate::domain::ids::{CollectionId, ProductId};
use crate::{filter_ids, load_by_id_list, row_window};

/// A collection row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = collections)]
pub struct Collection {
    pub id: CollectionId,
    pub title: String,
    pub slug: String,
    pub description: String,
    /// Shown to customers; an unpublished collection is for staff and partner keys only.
    pub published: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The event-log position of the row's latest change: the change feed walks collections in
    /// this order.
    pub change_position: i64,
}

/// A collection's own fields, as written.
#[derive(Debug, Clone)]
pub struct CollectionFields {
    pub title: String,
    pub slug: String,
    pub description: String,
    pub published: bool,
}

/// A position in a collection's product list: the member's position and its product id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MemberKey(pub i32, pub ProductId);

/// One window of a collection's products, in collection order (position, then product id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberWindow {
    /// Only members strictly after this position.
    pub after: Option<MemberKey>,
    /// Only members strictly before this position.
    pub before: Option<MemberKey>,
    /// Rows to fetch per collection.
    pub limit: i64,
    /// Take the members nearest `before`, returned nearest-first.
    pub from_end: bool,
}

/// A member of a collection, as a window returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct Member {
    #[diesel(sql_type = BigInt)]
    pub collection_id: CollectionId,
    #[diesel(sql_type = BigInt)]
    pub product_id: ProductId,
    #[diesel(sql_type = Integer)]
    pub position: i32,
}

impl Member {
    /// Its position in the collection's list.
    pub fn key(&self) -> MemberKey {
        MemberKey(self.position, self.product_id)
    }
}

/// Boxed collection rows `visibility` shows: published ones for customers, every one for staff.
fn shown(visibility: CatalogVisibility) -> collections::BoxedQuery<'static, MultiBackend> {
    let rows = collections::table.into_boxed();
    match visibility {
        CatalogVisibility::Storefront => rows.filter(collections::published.eq(true)),
        CatalogVisibility::Everything => rows,
    }
}

/// The collections with these ids that `visibility` shows (in no particular order).
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[CollectionId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<Collection>> {
    let query = shown(visibility).select(Collection::as_select());
    filter_ids!(query, collections::id, ids).load(conn)
}

/// The collection with this slug, if `visibility` shows it.
pub fn by_slug(
    conn: &mut DbConnection,
    slug: &str,
    visibility: CatalogVisibility,
) -> QueryResult<Option<Collection>> {
    shown(visibility)
        .filter(collections::slug.eq(slug))
        .select(Collection::as_select())
        .first(conn)
        .optional()
}

/// One window of the collections `visibility` shows, changed at or after `updated_since` when
/// given.
pub fn page(
    conn: &mut DbConnection,
    visibility: CatalogVisibility,
    updated_since: Option<NaiveDateTime>,
    window: &RowWindow,
) -> QueryResult<Vec<Collection>> {
    let mut query = shown(visibility).select(Collection::as_select());
    if let Some(since) = updated_since {
        query = query.filter(collections::updated_at.ge(since));
    }
    let rows = row_window!(query, collections, window).load(conn)?;
    super::event::settle_read_in(conn, window.sort.order)?;
    Ok(rows)
}

/// The collections `visibility` shows that hold each of `product_ids`, by title: `(product id,
/// collection)` pairs.
pub fn of_products(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<(ProductId, Collection)>> {
    let mut query = collection_products::table
        .inner_join(collections::table)
        .select((collection_products::product_id, Collection::as_select()))
        .order_by((collections::title, collections::id))
        .into_boxed();
    if visibility == CatalogVisibility::Storefront {
        query = query.filter(collections::published.eq(true));
    }
    filter_ids!(query, collection_products::product_id, product_ids).load(conn)
}

/// Inserts a collection; its id.
pub fn insert(
    conn: &mut DbConnection,
    fields: &CollectionFields,
    now: NaiveDateTime,
) -> QueryResult<CollectionId> {
    diesel::insert_into(collections::table)
        .values((
            collections::title.eq(&fields.title),
            collections::slug.eq(&fields.slug),
            collections::description.eq(&fields.description),
            collections::published.eq(fields.published),
            collections::created_at.eq(now),
            collections::updated_at.eq(now),
        ))
        .returning(collections::id)
        .get_result(conn)
}

/// Writes a collection's fields; how many rows changed (0: no such collection).
pub fn update(
    conn: &mut DbConnection,
    id: CollectionId,
    fields: &CollectionFields,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(collections::table.find(id))
        .set((
            collections::title.eq(&fields.title),
            collections::slug.eq(&fields.slug),
            collections::description.eq(&fields.description),
            collections::published.eq(fields.published),
            collections::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Marks a collection changed (its members were).
pub fn touch(conn: &mut DbConnection, id: CollectionId, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(collections::table.find(id))
        .set(collections::updated_at.eq(now))
        .execute(conn)
}

/// Deletes a collection and its memberships; how many collections went (0 or 1).
pub fn delete(conn: &mut DbConnection, id: CollectionId) -> QueryResult<usize> {
    delete_members(conn, id, None)?;
    diesel::delete(collections::table.find(id)).execute(conn)
}

/// Locks a collection's row until the transaction ends (PostgreSQL; an immediate SQLite
/// transaction already holds the write lock), so that writers of its members take turns; the
/// collection, if it exists.
pub fn lock(conn: &mut DbConnection, id: CollectionId) -> QueryResult<Option<Collection>> {
    macro_rules! row {
        () => {
            collections::table.find(id).select(Collection::as_select())
        };
    }
    match conn {
        DbConnection::Sqlite(c) => row!().first(c).optional(),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => row!().for_no_key_update().first(c).optional(),
    }
}

/// Of `product_ids`, the ones that exist, with their rows locked in id order until the
/// transaction ends (PostgreSQL), so that two collections taking one product count its
/// memberships one after the other.
pub fn lock_products(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
) -> QueryResult<Vec<ProductId>> {
    let query = || {
        products::table
            .filter(products::id.eq_any(product_ids))
            .select(products::id)
            .order_by(products::id)
    };
    match conn {
        DbConnection::Sqlite(c) => query().load(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => query().for_no_key_update().load(c),
    }
}

/// Every member's product id and position, in collection order.
pub fn members(
    conn: &mut DbConnection,
    collection_id: CollectionId,
) -> QueryResult<Vec<(ProductId, i32)>> {
    collection_products::table
        .filter(collection_products::collection_id.eq(collection_id))
        .select((
            collection_products::product_id,
            collection_products::position,
        ))
        .order_by((
            collection_products::position,
            collection_products::product_id,
        ))
        .load(conn)
}

/// How many collections each of `product_ids` is in: `(product id, count)`, products in none
/// left out.
pub fn membership_counts(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
) -> QueryResult<Vec<(ProductId, i64)>> {
    collection_products::table
        .filter(collection_products::product_id.eq_any(product_ids))
        .group_by(collection_products::product_id)
        .select((collection_products::product_id, diesel::dsl::count_star()))
        .load(conn)
}

/// Adds `product_ids` to the collection at positions `first_position`, `first_position + 1`, …
pub fn insert_members(
    conn: &mut DbConnection,
    collection_id: CollectionId,
    first_position: i32,
    product_ids: &[ProductId],
) -> QueryResult<usize> {
    if product_ids.is_empty() {
        return Ok(0);
    }
    let rows: Vec<_> = product_ids
        .iter()
        .zip(first_position..)
        .map(|(product_id, position)| {
            (
                collection_products::collection_id.eq(collection_id),
                collection_products::product_id.eq(*product_id),
                collection_products::position.eq(position),
            )
        })
        .collect();
    crate::on_backend!(conn, |concrete| diesel::insert_into(
        collection_products::table
    )
    .values(rows)
    .execute(concrete))
}

/// Takes `product_ids` out of the collection (every member when `None`).
pub fn delete_members(
    conn: &mut DbConnection,
    collection_id: CollectionId,
    product_ids: Option<&[ProductId]>,
) -> QueryResult<usize> {
    let members =
        collection_products::table.filter(collection_products::collection_id.eq(collection_id));
    match product_ids {
        Some(ids) => diesel::delete(members.filter(collection_products::product_id.eq_any(ids)))
            .execute(conn),
        None => diesel::delete(members).execute(conn),
    }
}

/// One window of members of each collection in `collection_ids` whose products `visibility`
/// shows, all in one statement (`ROW_NUMBER()` over a partition per collection): each
/// collection's members in window order (nearest-first when `from_end`).
pub fn windows(
    conn: &mut DbConnection,
    collection_ids: &[CollectionId],
    visibility: CatalogVisibility,
    window: &MemberWindow,
) -> QueryResult<Vec<Member>> {
    let sql = window_sql(conn, visibility, window);
    load_by_id_list!(conn, sql, collection_ids, |query| {
        let mut query = query;
        if visibility == CatalogVisibility::Storefront {
            query = query.bind::<Text, _>(ProductStatus::Active);
        }
        for key in [window.after, window.before].into_iter().flatten() {
            query = query.bind::<Integer, _>(key.0).bind::<BigInt, _>(key.1);
        }
        query.bind::<BigInt, _>(window.limit)
    })
}

/// The SQL of [`windows`] (`?` placeholders, for [`load_by_id_list!`]), from fixed fragments
/// only (every value is a bound parameter): the id list, then the status, the bounds and the
/// row limit.
fn window_sql(conn: &DbConnection, visibility: CatalogVisibility, window: &MemberWindow) -> String {
    let reverse = window.from_end;
    let direction = if reverse { "DESC" } else { "ASC" };
    let mut conditions = vec![id_list_match(conn, "m.collection_id")];
    if visibility == CatalogVisibility::Storefront {
        conditions.push("p.status = ?".to_owned());
    }
    if window.after.is_some() {
        conditions.push("(m.position, m.product_id) > (?, ?)".to_owned());
    }
    if window.before.is_some() {
        conditions.push("(m.position, m.product_id) < (?, ?)".to_owned());
    }
    let sql = format!(
        "SELECT t.collection_id, t.product_id, t.position FROM (\
           SELECT m.collection_id, m.product_id, m.position, ROW_NUMBER() OVER (\
             PARTITION BY m.collection_id \
             ORDER BY m.position {direction}, m.product_id {direction}) AS rn \
           FROM collection_products m JOIN products p ON p.id = m.product_id \
           WHERE {conditions}\
         ) t WHERE t.rn <= ? ORDER BY t.collection_id, t.rn",
        conditions = conditions.join(" AND "),
    );
    sql
}
