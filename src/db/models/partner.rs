//! Partner apps and their API keys (the secret only as SHA-256).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_keys, apps};
use crate::db::{DbConnection, notices};
use crate::domain::paging::IdWindow;
use crate::{filter_ids, newest_first_window};

/// A partner app.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = apps)]
pub struct App {
    pub id: i64,
    pub name: String,
    pub contact: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An API key, without its secret's hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: i64,
    pub app_id: i64,
    pub prefix: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

const APP_COLUMNS: (
    apps::id,
    apps::name,
    apps::contact,
    apps::created_at,
    apps::updated_at,
) = (
    apps::id,
    apps::name,
    apps::contact,
    apps::created_at,
    apps::updated_at,
);

#[allow(clippy::type_complexity)]
const KEY_COLUMNS: (
    api_keys::id,
    api_keys::app_id,
    api_keys::prefix,
    api_keys::scopes,
    api_keys::created_at,
    api_keys::last_used_at,
    api_keys::revoked_at,
) = (
    api_keys::id,
    api_keys::app_id,
    api_keys::prefix,
    api_keys::scopes,
    api_keys::created_at,
    api_keys::last_used_at,
    api_keys::revoked_at,
);

/// A key to store.
#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub app_id: i64,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub created_at: NaiveDateTime,
}

/// Stores an app.
pub fn insert_app(
    conn: &mut DbConnection,
    name: &str,
    contact: &str,
    now: NaiveDateTime,
) -> QueryResult<App> {
    diesel::insert_into(apps::table)
        .values((
            apps::name.eq(name),
            apps::contact.eq(contact),
            apps::created_at.eq(now),
            apps::updated_at.eq(now),
        ))
        .returning(APP_COLUMNS)
        .get_result(conn)
}

/// One window of the apps, newest first, in one statement.
pub fn apps_page(conn: &mut DbConnection, window: &IdWindow) -> QueryResult<Vec<App>> {
    let query = apps::table.select(App::as_select()).into_boxed();
    newest_first_window!(query, apps::id, window).load(conn)
}

/// Locks an app's row until the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's writing
/// transactions are serialised already), so that its live keys can be counted and added to
/// without a race. False when there is no such app.
pub fn lock_app(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    let app = apps::table.filter(apps::id.eq(id)).select(apps::id);
    let found: Option<i64> = match conn {
        DbConnection::Sqlite(c) => app.first(c).optional()?,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => app.for_update().first(c).optional()?,
    };
    Ok(found.is_some())
}

/// How many unrevoked keys the app holds.
pub fn live_key_count(conn: &mut DbConnection, app_id: i64) -> QueryResult<i64> {
    api_keys::table
        .filter(api_keys::app_id.eq(app_id))
        .filter(api_keys::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// Stores a key.
pub fn insert_key(conn: &mut DbConnection, key: &NewApiKey<'_>) -> QueryResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values(key)
        .returning(KEY_COLUMNS)
        .get_result(conn)
}

/// Revokes a key (once: a revoked key keeps its first revocation time).
pub fn revoke_key(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<ApiKey>> {
    notices::push(format!("key:{id}"));
    let revoked = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(now))
    .returning(KEY_COLUMNS)
    .get_result(conn)
    .optional()?;
    match revoked {
        Some(key) => Ok(Some(key)),
        None => api_keys::table
            .filter(api_keys::id.eq(id))
            .select(ApiKey::as_select())
            .first(conn)
            .optional(),
    }
}

/// The keys of these apps, newest first.
pub fn keys_of_apps(conn: &mut DbConnection, app_ids: &[i64]) -> QueryResult<Vec<ApiKey>> {
    let query = api_keys::table.select(ApiKey::as_select()).into_boxed();
    filter_ids!(query, api_keys::app_id, app_ids)
        .order_by(api_keys::id.desc())
        .load(conn)
}

/// The unrevoked key whose secret has this hash.
pub fn live_key_by_secret_hash(
    conn: &mut DbConnection,
    secret_hash: &str,
) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// Records that a key was used now, unless it was recorded since `unless_since`.
pub fn touch_key(
    conn: &mut DbConnection,
    id: i64,
    now: NaiveDateTime,
    unless_since: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        api_keys::table.filter(api_keys::id.eq(id)).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(unless_since)),
        ),
    )
    .set(api_keys::last_used_at.eq(now))
    .execute(conn)
}
