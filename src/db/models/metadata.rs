//! Metadata entries: read for many owners of one kind at once, written for one owner under a
//! lock on its row, and the `EXISTS` conditions that filter lists of owners by them.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::db::schema::{metadata, orders, products, users, variants};
use crate::db::{DbConnection, MultiBackend};
use crate::domain::ids::{AccountId, OrderId, ProductId, VariantId};
use crate::domain::metadata::MetadataOwner;
use crate::filter_ids;

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = metadata)]
pub struct MetadataRow {
    pub id: i64,
    pub product_id: Option<i64>,
    pub variant_id: Option<i64>,
    pub order_id: Option<i64>,
    pub user_id: Option<i64>,
    pub private: bool,
    pub key: String,
    pub value: String,
}

impl MetadataRow {
    /// The row's owner (whichever owner column is set).
    pub fn owner(&self) -> Option<MetadataOwner> {
        match (
            self.product_id,
            self.variant_id,
            self.order_id,
            self.user_id,
        ) {
            (Some(id), _, _, _) => Some(MetadataOwner::Product(ProductId(id))),
            (_, Some(id), _, _) => Some(MetadataOwner::Variant(VariantId(id))),
            (_, _, Some(id), _) => Some(MetadataOwner::Order(OrderId(id))),
            (_, _, _, Some(id)) => Some(MetadataOwner::Account(AccountId(id))),
            _ => None,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = metadata, treat_none_as_default_value = false)]
struct NewMetadata<'a> {
    product_id: Option<i64>,
    variant_id: Option<i64>,
    order_id: Option<i64>,
    user_id: Option<i64>,
    private: bool,
    key: &'a str,
    value: &'a str,
}

/// Boxed `metadata` rows of the owners `ids` of `kind`'s kind (its own id aside).
fn owned_by(kind: MetadataOwner, ids: &[i64]) -> metadata::BoxedQuery<'_, MultiBackend> {
    let rows = metadata::table.into_boxed();
    match kind {
        MetadataOwner::Product(_) => filter_ids!(rows, metadata::product_id, ids),
        MetadataOwner::Variant(_) => filter_ids!(rows, metadata::variant_id, ids),
        MetadataOwner::Order(_) => filter_ids!(rows, metadata::order_id, ids),
        MetadataOwner::Account(_) => filter_ids!(rows, metadata::user_id, ids),
    }
}

/// The public (or private) entries of the owners `ids` of `kind`'s kind (its own id aside), by
/// key.
pub fn of_owners(
    conn: &mut DbConnection,
    kind: MetadataOwner,
    ids: &[i64],
    private: bool,
) -> QueryResult<Vec<MetadataRow>> {
    owned_by(kind, ids)
        .filter(metadata::private.eq(private))
        .order_by(metadata::key)
        .select(MetadataRow::as_select())
        .load(conn)
}

/// Locks `owner`'s row until the transaction ends (PostgreSQL; an immediate SQLite transaction
/// already holds the write lock), so that writers of its metadata take turns; whether it exists.
pub fn lock_owner(conn: &mut DbConnection, owner: MetadataOwner) -> QueryResult<bool> {
    let id = owner.id();
    macro_rules! lock {
        ($table:ident) => {{
            let row = $table::table.find(id).select($table::id);
            let found: Option<i64> = match conn {
                DbConnection::Sqlite(c) => row.first(c).optional()?,
                #[cfg(feature = "postgres")]
                DbConnection::Pg(c) => row.for_no_key_update().first(c).optional()?,
            };
            Ok(found.is_some())
        }};
    }
    match owner {
        MetadataOwner::Product(_) => lock!(products),
        MetadataOwner::Variant(_) => lock!(variants),
        MetadataOwner::Order(_) => lock!(orders),
        MetadataOwner::Account(_) => lock!(users),
    }
}

/// The keys `owner` holds on one side.
pub fn keys_of(
    conn: &mut DbConnection,
    owner: MetadataOwner,
    private: bool,
) -> QueryResult<Vec<String>> {
    owned_by(owner, &[owner.id()])
        .filter(metadata::private.eq(private))
        .select(metadata::key)
        .load(conn)
}

/// Sets `entries` on `owner` (on one side), replacing the values of keys it already has: two
/// statements however many entries. Call under [`lock_owner`].
pub fn set(
    conn: &mut DbConnection,
    owner: MetadataOwner,
    private: bool,
    entries: &BTreeMap<String, String>,
) -> QueryResult<()> {
    let keys: Vec<&str> = entries.keys().map(String::as_str).collect();
    delete(conn, owner, private, &keys)?;
    let id = Some(owner.id());
    let (product_id, variant_id, order_id, user_id) = match owner {
        MetadataOwner::Product(_) => (id, None, None, None),
        MetadataOwner::Variant(_) => (None, id, None, None),
        MetadataOwner::Order(_) => (None, None, id, None),
        MetadataOwner::Account(_) => (None, None, None, id),
    };
    let rows: Vec<NewMetadata<'_>> = entries
        .iter()
        .map(|(key, value)| NewMetadata {
            product_id,
            variant_id,
            order_id,
            user_id,
            private,
            key,
            value,
        })
        .collect();
    if !rows.is_empty() {
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(metadata::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Deletes `keys` of `owner` (on one side); how many there were.
pub fn delete(
    conn: &mut DbConnection,
    owner: MetadataOwner,
    private: bool,
    keys: &[&str],
) -> QueryResult<usize> {
    if keys.is_empty() {
        return Ok(0);
    }
    let id = owner.id();
    macro_rules! delete_on {
        ($column:expr) => {
            diesel::delete(
                metadata::table
                    .filter($column.eq(id))
                    .filter(metadata::private.eq(private))
                    .filter(metadata::key.eq_any(keys)),
            )
            .execute(conn)
        };
    }
    match owner {
        MetadataOwner::Product(_) => delete_on!(metadata::product_id),
        MetadataOwner::Variant(_) => delete_on!(metadata::variant_id),
        MetadataOwner::Order(_) => delete_on!(metadata::order_id),
        MetadataOwner::Account(_) => delete_on!(metadata::user_id),
    }
}

/// Filters a boxed `$query` over owners to those meeting every [`MetadataCondition`] of
/// `$conditions`: one `EXISTS` per condition over `metadata` rows whose owner column `$owner`
/// (`product_id`…) is the query's `$id` (answered by the `metadata_key_value` index).
///
/// [`MetadataCondition`]: crate::domain::metadata::MetadataCondition
#[macro_export]
macro_rules! filter_metadata {
    ($query:expr, $owner:ident, $id:expr, $conditions:expr) => {{
        use $crate::db::schema::metadata;
        let mut query = $query;
        for condition in $conditions {
            let condition: &$crate::domain::metadata::MetadataCondition = condition;
            let entries = metadata::table
                .select(metadata::id)
                .filter(metadata::$owner.eq($id.nullable()))
                .filter(metadata::private.eq(condition.private))
                .filter(metadata::key.eq(condition.key.clone()));
            query = match &condition.value {
                Some(value) => query.filter(diesel::dsl::exists(
                    entries.filter(metadata::value.eq(value.clone())),
                )),
                None => query.filter(diesel::dsl::exists(entries)),
            };
        }
        query
    }};
}
