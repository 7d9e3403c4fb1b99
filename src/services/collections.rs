//! Manual collections: staff (or keys with `WRITE_PRODUCTS`) create them, fill them with
//! products and set their order; each write is audited and raises a `collection.*` event.
//! Reads go through the loaders.

use chrono::{NaiveDateTime, Utc};
use serde_json::json;

use crate::db::models::collection::{self, Collection, CollectionFields};
use crate::db::{Db, DbConnection};
use crate::domain::bounds::{
    MAX_COLLECTION_CHANGES, MAX_COLLECTIONS_PER_PRODUCT, MAX_PRODUCTS_PER_COLLECTION, room_for,
};
use crate::domain::catalog::CatalogVisibility;
use crate::domain::collections::{with_added, with_moves, without};
use crate::domain::events::EventType;
use crate::domain::feeds::{RowKey, RowSort, RowWindow};
use crate::domain::ids::{CollectionId, ProductId};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, recorded_transaction};
use crate::services::merchandising::{check_description, taken, titled_and_slugged};

/// What staff send for a collection; omitted fields stay (on update) or take their defaults.
#[derive(Debug, Clone, Default)]
pub struct CollectionInput {
    pub title: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub published: Option<bool>,
}

fn not_found() -> AppError {
    AppError::rejected(Rejection::new(
        &["id"],
        RejectionCode::NotFound,
        "no such collection",
    ))
}

/// `current` (a new collection's defaults when `None`) with `input` applied, checked.
fn fields_of(current: Option<&Collection>, input: &CollectionInput) -> AppResult<CollectionFields> {
    let title = input
        .title
        .clone()
        .or_else(|| current.map(|c| c.title.clone()))
        .unwrap_or_default();
    let slug = input
        .slug
        .clone()
        .or_else(|| current.map(|c| c.slug.clone()));
    let (title, slug) = titled_and_slugged("title", &title, slug.as_deref())?;
    let description = input
        .description
        .clone()
        .or_else(|| current.map(|c| c.description.clone()))
        .unwrap_or_default();
    check_description(&description)?;
    Ok(CollectionFields {
        title,
        slug,
        description,
        published: input
            .published
            .or(current.map(|c| c.published))
            .unwrap_or(true),
    })
}

fn details(fields: &CollectionFields) -> serde_json::Value {
    json!({ "title": fields.title, "slug": fields.slug, "published": fields.published })
}

fn stored(conn: &mut DbConnection, id: CollectionId) -> AppResult<Collection> {
    collection::by_ids(conn, &[id], CatalogVisibility::Everything)?
        .pop()
        .ok_or_else(not_found)
}

/// Creates a collection (published unless told otherwise).
pub async fn create(db: &Db, input: CollectionInput) -> AppResult<Collection> {
    let fields = fields_of(None, &input)?;
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let id =
                collection::insert(conn, &fields, Utc::now().naive_utc()).map_err(taken("slug"))?;
            let details = json!({ "after": details(&fields) });
            audit::record(
                conn,
                actor,
                "collection.create",
                Subject::Collection(id.0),
                details,
            )?;
            announced(conn, changes, EventType::CollectionCreated, id)
        })
    })
    .await
}

/// Changes a collection's title, slug, description or publication.
pub async fn update(db: &Db, id: CollectionId, input: CollectionInput) -> AppResult<Collection> {
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let current = collection::lock(conn, id)?.ok_or_else(not_found)?;
            let before = fields_of(Some(&current), &CollectionInput::default())?;
            let fields = fields_of(Some(&current), &input)?;
            collection::update(conn, id, &fields, Utc::now().naive_utc()).map_err(taken("slug"))?;
            let details = json!({ "before": details(&before), "after": details(&fields) });
            audit::record(
                conn,
                actor,
                "collection.update",
                Subject::Collection(id.0),
                details,
            )?;
            announced(conn, changes, EventType::CollectionUpdated, id)
        })
    })
    .await
}

/// Deletes a collection (its products stay); its id.
pub async fn delete(db: &Db, id: CollectionId) -> AppResult<CollectionId> {
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let current = collection::lock(conn, id)?.ok_or_else(not_found)?;
            changes.collection(conn, EventType::CollectionDeleted, &current)?;
            collection::delete(conn, id)?;
            let details = json!({ "before": { "title": current.title, "slug": current.slug } });
            audit::record(
                conn,
                actor,
                "collection.delete",
                Subject::Collection(id.0),
                details,
            )?;
            Ok(id)
        })
    })
    .await
}

/// Refuses an empty or oversized list of products.
fn check_changes<T>(field: &str, changes: &[T]) -> AppResult<()> {
    let refused =
        |code, message: String| Err(AppError::rejected(Rejection::new(&[field], code, message)));
    if changes.is_empty() {
        return refused(
            RejectionCode::TooShort,
            "give at least one product".to_owned(),
        );
    }
    if changes.len() > MAX_COLLECTION_CHANGES {
        return refused(
            RejectionCode::TooLong,
            format!("at most {MAX_COLLECTION_CHANGES} products at once"),
        );
    }
    Ok(())
}

/// The collection, locked, and its members in order.
fn locked_members(conn: &mut DbConnection, id: CollectionId) -> AppResult<Vec<(ProductId, i32)>> {
    collection::lock(conn, id)?.ok_or_else(not_found)?;
    Ok(collection::members(conn, id)?)
}

/// The collection as it is now, with `kind` raised about it.
fn announced(
    conn: &mut DbConnection,
    changes: &mut Changes,
    kind: EventType,
    id: CollectionId,
) -> AppResult<Collection> {
    let collection = stored(conn, id)?;
    changes.collection(conn, kind, &collection)?;
    Ok(collection)
}

/// Records a change of members: the collection's `updated_at` moves, the audit log says what,
/// and `collection.updated` tells partners.
fn members_changed(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    id: CollectionId,
    action: &str,
    details: serde_json::Value,
) -> AppResult<Collection> {
    collection::touch(conn, id, Utc::now().naive_utc())?;
    audit::record(conn, actor, action, Subject::Collection(id.0), details)?;
    announced(conn, changes, EventType::CollectionUpdated, id)
}

/// Adds products at the end of a collection, in the order given; products already in it keep
/// their place. A collection holds at most [`MAX_PRODUCTS_PER_COLLECTION`] products, a product
/// is in at most [`MAX_COLLECTIONS_PER_PRODUCT`] collections (both checked under locks: the
/// collection's row, then the products' in id order).
pub async fn add_products(
    db: &Db,
    id: CollectionId,
    product_ids: Vec<ProductId>,
) -> AppResult<Collection> {
    check_changes("productIds", &product_ids)?;
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let members = locked_members(conn, id)?;
            let existing = collection::lock_products(conn, &product_ids)?;
            if let Some(index) = product_ids.iter().position(|p| !existing.contains(p)) {
                return Err(AppError::rejected(Rejection::new(
                    &["productIds", &index.to_string()],
                    RejectionCode::NotFound,
                    "no such product",
                )));
            }
            let current: Vec<ProductId> = members.iter().map(|(product, _)| *product).collect();
            let after = with_added(&current, &product_ids);
            let newcomers = &after[current.len()..];
            if newcomers.is_empty() {
                return stored(conn, id);
            }
            room_for(
                i64::try_from(after.len()).unwrap_or(i64::MAX),
                0,
                MAX_PRODUCTS_PER_COLLECTION,
                &["productIds"],
                "products in one collection",
            )
            .map_err(AppError::rejected)?;
            for (product, count) in collection::membership_counts(conn, newcomers)? {
                if let Err(refused) = room_for(count, 1, MAX_COLLECTIONS_PER_PRODUCT, &[], "") {
                    let index = product_ids.iter().position(|p| *p == product).unwrap_or(0);
                    return Err(AppError::rejected(Rejection::new(
                        &["productIds", &index.to_string()],
                        refused.code,
                        format!(
                            "a product is in at most {MAX_COLLECTIONS_PER_PRODUCT} collections"
                        ),
                    )));
                }
            }
            let next = members
                .last()
                .map_or(Some(0), |(_, last)| last.checked_add(1));
            let room = i32::try_from(newcomers.len()).ok();
            match next
                .zip(room)
                .filter(|(next, room)| next.checked_add(*room).is_some())
            {
                Some((next, _)) => {
                    collection::insert_members(conn, id, next, newcomers)?;
                }
                // Positions ran out (a long history of adds): number every member afresh.
                None => renumber(conn, id, &after)?,
            }
            let details = json!({ "added": newcomers });
            members_changed(conn, changes, actor, id, "collection.add_products", details)
        })
    })
    .await
}

/// Makes `order` the collection's members, at positions 0, 1, …
fn renumber(conn: &mut DbConnection, id: CollectionId, order: &[ProductId]) -> AppResult<()> {
    collection::delete_members(conn, id, None)?;
    collection::insert_members(conn, id, 0, order)?;
    Ok(())
}

/// Takes products out of a collection (products not in it are ignored).
pub async fn remove_products(
    db: &Db,
    id: CollectionId,
    product_ids: Vec<ProductId>,
) -> AppResult<Collection> {
    check_changes("productIds", &product_ids)?;
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let members = locked_members(conn, id)?;
            let current: Vec<ProductId> = members.iter().map(|(product, _)| *product).collect();
            let left = without(&current, &product_ids);
            if left.len() == current.len() {
                return stored(conn, id);
            }
            let removed = without(&current, &left);
            collection::delete_members(conn, id, Some(&removed))?;
            let details = json!({ "removed": removed });
            members_changed(
                conn,
                changes,
                actor,
                id,
                "collection.remove_products",
                details,
            )
        })
    })
    .await
}

/// Moves products of a collection to new places: each move `(product, index)`, in turn, puts
/// the product at that 0-based index (past the end: last), the others shifting. A product not
/// in the collection is `NOT_FOUND` at its move.
pub async fn reorder_products(
    db: &Db,
    id: CollectionId,
    moves: Vec<(ProductId, usize)>,
) -> AppResult<Collection> {
    check_changes("moves", &moves)?;
    let actor = db.actor();
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let members = locked_members(conn, id)?;
            let current: Vec<ProductId> = members.iter().map(|(product, _)| *product).collect();
            let order = with_moves(&current, &moves).map_err(|index| {
                AppError::rejected(Rejection::new(
                    &["moves", &index.to_string(), "productId"],
                    RejectionCode::NotFound,
                    "this product is not in the collection",
                ))
            })?;
            if order == current {
                return stored(conn, id);
            }
            renumber(conn, id, &order)?;
            let moved: Vec<_> = moves.iter().map(|(p, i)| json!([p, i])).collect();
            members_changed(
                conn,
                changes,
                actor,
                id,
                "collection.reorder_products",
                json!({ "moves": moved }),
            )
        })
    })
    .await
}

/// One page of the collections `visibility` shows in `sort` order, changed at or after
/// `updated_since` when given (by change order, the change feed of collections).
pub async fn list(
    db: &Db,
    visibility: CatalogVisibility,
    updated_since: Option<NaiveDateTime>,
    sort: RowSort,
    page: PageRequest<RowKey>,
) -> AppResult<Page<Collection>> {
    let (window, since) =
        RowWindow::checked(sort, &page, updated_since).map_err(AppError::BadUserInput)?;
    let rows = db
        .run(move |conn| Ok(collection::page(conn, visibility, since, &window)?))
        .await?;
    Ok(page.into_page(rows))
}

/// The collection with this slug, if `visibility` shows it.
pub async fn by_slug(
    db: &Db,
    slug: String,
    visibility: CatalogVisibility,
) -> AppResult<Option<Collection>> {
    db.run(move |conn| Ok(collection::by_slug(conn, &slug, visibility)?))
        .await
}
