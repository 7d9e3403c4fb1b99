//! Categories: a tree addressed by slug, with a materialised `path` of ancestor ids.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::id_list::id_in;
use crate::db::schema::categories;
use crate::db::{DbConnection, notices};
use crate::domain::feeds::RowWindow;
use crate::domain::ids::CategoryId;
use crate::{on_backend, row_window};

/// A category row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = categories)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    pub slug: String,
    pub path: String,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set when staff archived it: hidden from customers, kept for history.
    pub archived_at: Option<NaiveDateTime>,
    /// The event-log position of the row's latest change: change feeds walk categories in
    /// this order.
    pub change_position: i64,
}

/// A category to insert; its `path` is set from the new id.
#[derive(Debug, Clone)]
pub struct NewCategory<'a> {
    pub parent_id: Option<CategoryId>,
    pub name: &'a str,
    pub slug: &'a str,
    pub position: i32,
    pub now: NaiveDateTime,
}

/// Root categories in display order.
pub fn roots(conn: &mut DbConnection) -> QueryResult<Vec<Category>> {
    categories::table
        .filter(categories::parent_id.is_null())
        .order_by((categories::position, categories::id))
        .select(Category::as_select())
        .load(conn)
}

/// The children of every category in `parent_ids`, in display order.
pub fn children_of(
    conn: &mut DbConnection,
    parent_ids: &[CategoryId],
) -> QueryResult<Vec<Category>> {
    categories::table
        .filter(categories::parent_id.eq_any(parent_ids))
        .order_by((categories::position, categories::id))
        .select(Category::as_select())
        .load(conn)
}

/// The categories with these ids (in no particular order). A static statement on the concrete
/// connection (see `product::by_ids`).
pub fn by_ids(conn: &mut DbConnection, ids: &[CategoryId]) -> QueryResult<Vec<Category>> {
    on_backend!(conn, |concrete| categories::table
        .filter(id_in(categories::id, ids))
        .select(Category::as_select())
        .load(concrete))
}

/// The category with this slug.
pub fn by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Category>> {
    categories::table
        .filter(categories::slug.eq(slug))
        .select(Category::as_select())
        .first(conn)
        .optional()
}

/// Every category's id, slug and path: the whole tree.
pub fn tree(conn: &mut DbConnection) -> QueryResult<Vec<(i64, String, String)>> {
    categories::table
        .select((categories::id, categories::slug, categories::path))
        .load(conn)
}

/// The notice of a change to the tree (see `db::notices`).
const CHANGED: &str = "categories";

/// Inserts a category under its parent and fills in its path.
pub fn insert(conn: &mut DbConnection, new: &NewCategory<'_>) -> QueryResult<Category> {
    notices::push(CHANGED.to_owned());
    let parent_path = match new.parent_id {
        Some(parent) => categories::table
            .find(parent)
            .select(categories::path)
            .first::<String>(conn)?,
        None => "/".to_owned(),
    };
    let id: CategoryId = diesel::insert_into(categories::table)
        .values((
            categories::parent_id.eq(new.parent_id),
            categories::name.eq(new.name),
            categories::slug.eq(new.slug),
            categories::path.eq(""),
            categories::position.eq(new.position),
            categories::created_at.eq(new.now),
            categories::updated_at.eq(new.now),
        ))
        .returning(categories::id)
        .get_result(conn)?;
    diesel::update(categories::table.find(id))
        .set(categories::path.eq(format!("{parent_path}{id}/")))
        .returning((
            categories::id,
            categories::parent_id,
            categories::name,
            categories::slug,
            categories::path,
            categories::position,
            categories::created_at,
            categories::updated_at,
            categories::archived_at,
            categories::change_position,
        ))
        .get_result(conn)
}

/// How many children `parent` has (how many roots, for `None`), with the parent's row (the
/// roots' rows) locked until the transaction ends, so that two concurrent inserts under one
/// parent are counted one after the other (PostgreSQL: `FOR UPDATE`; SQLite: the write
/// transaction already holds the database). Call inside a write transaction.
pub fn lock_and_count_children(
    conn: &mut DbConnection,
    parent: Option<CategoryId>,
) -> QueryResult<i64> {
    #[cfg(feature = "postgres")]
    if let DbConnection::Pg(c) = conn {
        match parent {
            Some(parent) => {
                categories::table
                    .find(parent)
                    .select(categories::id)
                    .for_update()
                    .load::<i64>(c)?;
            }
            None => {
                categories::table
                    .filter(categories::parent_id.is_null())
                    .select(categories::id)
                    .for_update()
                    .load::<i64>(c)?;
            }
        }
    }
    match parent {
        Some(parent) => categories::table
            .filter(categories::parent_id.eq(parent))
            .count()
            .get_result(conn),
        None => categories::table
            .filter(categories::parent_id.is_null())
            .count()
            .get_result(conn),
    }
}

/// How many categories there are.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    categories::table.count().get_result(conn)
}

/// Changes a category's name, slug and position.
pub fn update(
    conn: &mut DbConnection,
    id: CategoryId,
    name: &str,
    slug: &str,
    position: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    notices::push(CHANGED.to_owned());
    diesel::update(categories::table.find(id))
        .set((
            categories::name.eq(name),
            categories::slug.eq(slug),
            categories::position.eq(position),
            categories::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Archives (`Some(time)`) or restores (`None`) a category, changed at `now`.
pub fn set_archived(
    conn: &mut DbConnection,
    id: CategoryId,
    archived_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    notices::push(CHANGED.to_owned());
    diesel::update(categories::table.find(id))
        .set((
            categories::archived_at.eq(archived_at),
            categories::updated_at.eq(now),
        ))
        .execute(conn)
}

/// One window of every category, archived ones included (the list is for staff and partners),
/// changed at or after `updated_since` when given.
pub fn page(
    conn: &mut DbConnection,
    updated_since: Option<NaiveDateTime>,
    window: &RowWindow,
) -> QueryResult<Vec<Category>> {
    let mut query = categories::table.select(Category::as_select()).into_boxed();
    if let Some(since) = updated_since {
        query = query.filter(categories::updated_at.ge(since));
    }
    let rows = row_window!(query, categories, window).load(conn)?;
    super::event::settle_read_in(conn, window.sort.order)?;
    Ok(rows)
}
