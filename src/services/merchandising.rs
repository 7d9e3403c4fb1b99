//! Staff administration of the catalog: categories, products, variants, images and inventory.
//! Every write keeps a product's derived values (lowest and highest live price, search text)
//! in step in the same transaction; inventory changes are compare-and-swap.

use chrono::{NaiveDateTime, Utc};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde_json::json;

use crate::db::models::category::{self, Category, NewCategory};
use crate::db::models::event::Tracked;
use crate::db::models::image::{self, NewImage};
use crate::db::models::product::{self, NewProduct, Product, ProductChanges};
use crate::db::models::variant::{self, NewVariant, Variant, VariantChanges};
use crate::db::models::variant::{StockLine, StockSet};
use crate::db::{Db, DbConnection};
use crate::domain::bounds::{
    MAX_CATEGORY_CHILDREN, MAX_IMAGES_PER_PRODUCT, MAX_OPTIONS_PER_VARIANT, MAX_STOCK_LINES,
    MAX_VARIANTS_PER_PRODUCT, room_for,
};
use crate::domain::catalog::{
    MAX_WEIGHT_GRAMS, ProductStatus, is_valid_sku, normalize_sku, search_text, slugify,
};
use crate::domain::events::{EventType, StockChangeReason};
use crate::domain::ids::{CategoryId, ImageId, ProductId, VariantId};
use crate::domain::options::{self, OptionValue};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, StockChange, recorded_transaction};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

/// Refuses fields an update was given that only a create takes (`(given, field, why)`), rather
/// than ignoring them.
fn create_only(fields: &[(bool, &str, &str)]) -> AppResult<()> {
    let problems: Vec<Rejection> = fields
        .iter()
        .filter(|(given, _, _)| *given)
        .map(|(_, field, why)| Rejection::new(&["input", field], RejectionCode::Invalid, *why))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Rejected(problems))
    }
}

fn not_found(field: &str, what: &str) -> AppError {
    rejected(&[field], RejectionCode::NotFound, format!("no such {what}"))
}

/// A unique-key violation on `field` becomes `TAKEN`.
pub(super) fn taken(field: &'static str) -> impl Fn(DieselError) -> AppError {
    move |error| match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => rejected(
            &["input", field],
            RejectionCode::Taken,
            format!("this {field} is in use"),
        ),
        other => other.into(),
    }
}

/// Checks a display name (1–200 characters) and a slug (made from the name when absent).
fn name_and_slug(name: &str, slug: Option<&str>) -> AppResult<(String, String)> {
    titled_and_slugged("name", name, slug)
}

/// Checks a display name or title (1–200 characters, given as `field`) and a slug (made from
/// it when absent).
pub(super) fn titled_and_slugged(
    field: &str,
    name: &str,
    slug: Option<&str>,
) -> AppResult<(String, String)> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(rejected(
            &["input", field],
            RejectionCode::Invalid,
            format!("a {field} has 1 to 200 characters"),
        ));
    }
    let slug = match slug {
        Some(slug) => slug.trim().to_owned(),
        None => slugify(&name),
    };
    let valid = !slug.is_empty()
        && slug.len() <= 200
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(rejected(
            &["input", "slug"],
            RejectionCode::Invalid,
            "a slug has lower-case letters, digits and dashes",
        ));
    }
    Ok((name, slug))
}

/// What staff send for a category.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub parent_id: Option<CategoryId>,
    pub position: Option<i32>,
}

/// Creates a category under `parent_id` (or at the root); a parent (or the root) holds at most
/// [`MAX_CATEGORY_CHILDREN`].
pub async fn create_category(db: &Db, input: CategoryInput) -> AppResult<Category> {
    let currency = db.currency();
    let (name, slug) = name_and_slug(input.name.as_deref().unwrap_or(""), input.slug.as_deref())?;
    db.run(move |conn| {
        let created = recorded_transaction(conn, currency, |conn, changes| {
            let siblings = category::lock_and_count_children(conn, input.parent_id)?;
            if let Some(parent) = input.parent_id
                && category::by_ids(conn, &[parent])?.is_empty()
            {
                return Err(not_found("parentId", "parent category").under("input"));
            }
            let what = match input.parent_id {
                Some(_) => "subcategories in one category",
                None => "top-level categories",
            };
            room_for(
                siblings,
                1,
                MAX_CATEGORY_CHILDREN,
                &["input", "parentId"],
                what,
            )
            .map_err(AppError::rejected)?;
            let created = category::insert(
                conn,
                &NewCategory {
                    parent_id: input.parent_id,
                    name: &name,
                    slug: &slug,
                    position: input.position.unwrap_or(0),
                    now: now(),
                },
            )
            .map_err(taken("slug"))?;
            changes.touch(Tracked::Categories, created.id);
            Ok(created)
        })?;
        Ok(created)
    })
    .await
}

/// Changes a category's name, slug or position.
pub async fn update_category(db: &Db, id: CategoryId, input: CategoryInput) -> AppResult<Category> {
    let currency = db.currency();
    create_only(&[(
        input.parent_id.is_some(),
        "parentId",
        "the parent is set when a category is created",
    )])?;
    db.run(move |conn| {
        let updated = recorded_transaction(conn, currency, |conn, changes| {
            let current = category::by_ids(conn, &[id])?
                .pop()
                .ok_or_else(|| not_found("id", "category"))?;
            let name = input.name.clone().unwrap_or(current.name.clone());
            let slug = input.slug.clone().or(Some(current.slug.clone()));
            let (name, slug) = name_and_slug(&name, slug.as_deref())?;
            let position = input.position.unwrap_or(current.position);
            category::update(conn, id, &name, &slug, position, now()).map_err(taken("slug"))?;
            changes.touch(Tracked::Categories, id);
            category::by_ids(conn, &[id])?
                .pop()
                .ok_or_else(|| not_found("id", "category"))
        })?;
        Ok(updated)
    })
    .await
}

/// Archives (hides from customers) or restores a category.
pub async fn archive_category(db: &Db, id: CategoryId, archived: bool) -> AppResult<Category> {
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let at = now();
            if category::set_archived(conn, id, archived.then_some(at), at)? == 0 {
                return Err(not_found("id", "category"));
            }
            changes.touch(Tracked::Categories, id);
            category::by_ids(conn, &[id])?
                .pop()
                .ok_or_else(|| not_found("id", "category"))
        })
    })
    .await
}

/// What staff send for a product.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProductStatus>,
    /// `Some(None)` files it under no category.
    pub category_id: Option<Option<CategoryId>>,
}

/// What an editor sets on a product; the rest of a product's columns are derived from it and
/// from its variants by [`refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProductEdits {
    pub(super) category_id: Option<CategoryId>,
    pub(super) name: String,
    pub(super) slug: String,
    pub(super) description: String,
    pub(super) status: ProductStatus,
}

/// Writes `edits` with a product's lowest and highest live price and its search text, recomputed:
/// the one place a product row is updated (its `updated_at` and change position move).
pub(super) fn refresh(
    conn: &mut DbConnection,
    changes: &mut Changes,
    current: &Product,
    edits: ProductEdits,
) -> AppResult<()> {
    let live = variant::live_skus_and_prices(conn, current.id)?;
    let row = ProductChanges {
        price_min: live.iter().map(|(_, p)| *p).min().unwrap_or(0),
        price_max: live.iter().map(|(_, p)| *p).max().unwrap_or(0),
        search_text: search_text(
            &edits.name,
            &edits.description,
            live.iter().map(|(sku, _)| sku.as_str()),
        ),
        category_id: edits.category_id,
        name: edits.name,
        slug: edits.slug,
        description: edits.description,
        status: edits.status,
        updated_at: now(),
    };
    product::update(conn, current.id, &row).map_err(taken("slug"))?;
    changes.touch(Tracked::Products, current.id);
    Ok(())
}

/// What an editor set on `current`.
pub(super) fn edits_of(current: &Product) -> ProductEdits {
    ProductEdits {
        category_id: current.category_id,
        name: current.name.clone(),
        slug: current.slug.clone(),
        description: current.description.clone(),
        status: current.status,
    }
}

fn check_category(conn: &mut DbConnection, category_id: Option<CategoryId>) -> AppResult<()> {
    if let Some(id) = category_id
        && category::by_ids(conn, &[id])?.is_empty()
    {
        return Err(not_found("categoryId", "category").under("input"));
    }
    Ok(())
}

pub(super) fn check_description(description: &str) -> AppResult<()> {
    if description.chars().count() > 10_000 {
        return Err(rejected(
            &["input", "description"],
            RejectionCode::TooLong,
            "a description has at most 10,000 characters",
        ));
    }
    Ok(())
}

/// A new product's fields, checked before any SQL.
pub(super) struct NewProductFields {
    name: String,
    slug: String,
    description: String,
    status: ProductStatus,
    category_id: Option<CategoryId>,
}

/// Checks what a create sends: a name, a valid slug (made from the name when absent), a
/// description of at most 10,000 characters; DRAFT unless a status is given.
pub(super) fn new_product_fields(input: &ProductInput) -> AppResult<NewProductFields> {
    let (name, slug) = name_and_slug(input.name.as_deref().unwrap_or(""), input.slug.as_deref())?;
    let description = input.description.clone().unwrap_or_default();
    check_description(&description)?;
    Ok(NewProductFields {
        name,
        slug,
        description,
        status: input.status.unwrap_or(ProductStatus::Draft),
        category_id: input.category_id.flatten(),
    })
}

/// Inserts a product in the caller's write transaction (known to a partner system as
/// `external_ref`, if given): the one place products are created. The product as stored.
pub(super) fn insert_product(
    conn: &mut DbConnection,
    changes: &mut Changes,
    fields: &NewProductFields,
    external_ref: Option<&str>,
) -> AppResult<Product> {
    check_category(conn, fields.category_id)?;
    let at = now();
    let id = product::insert(
        conn,
        &NewProduct {
            category_id: fields.category_id,
            search_text: search_text(&fields.name, &fields.description, []),
            name: fields.name.clone(),
            slug: fields.slug.clone(),
            description: fields.description.clone(),
            status: fields.status,
            price_min: 0,
            price_max: 0,
            created_at: at,
            updated_at: at,
            external_ref: external_ref.map(str::to_owned),
        },
    )
    .map_err(taken("slug"))?;
    changes.product(conn, EventType::ProductCreated, id)?;
    product::by_id(conn, id)?.ok_or_else(|| not_found("id", "product"))
}

/// Creates a product (DRAFT unless told otherwise).
pub async fn create_product(db: &Db, input: ProductInput) -> AppResult<Product> {
    let currency = db.currency();
    let fields = new_product_fields(&input)?;
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            insert_product(conn, changes, &fields, None)
        })
    })
    .await
}

/// `current` with `input` applied (omitted fields stay), checked: what [`refresh`] writes.
pub(super) fn edited_product(
    conn: &mut DbConnection,
    current: &Product,
    input: &ProductInput,
) -> AppResult<ProductEdits> {
    let mut edits = edits_of(current);
    if input.name.is_some() || input.slug.is_some() {
        let name = input.name.clone().unwrap_or(current.name.clone());
        let slug = input.slug.clone().or(Some(current.slug.clone()));
        (edits.name, edits.slug) = name_and_slug(&name, slug.as_deref())?;
    }
    if let Some(description) = &input.description {
        check_description(description)?;
        edits.description = description.clone();
    }
    if let Some(status) = input.status {
        edits.status = status;
    }
    if let Some(category_id) = input.category_id {
        check_category(conn, category_id)?;
        edits.category_id = category_id;
    }
    Ok(edits)
}

/// Changes a product; omitted fields stay.
pub async fn update_product(db: &Db, id: ProductId, input: ProductInput) -> AppResult<Product> {
    let currency = db.currency();
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let current = product::by_id(conn, id)?.ok_or_else(|| not_found("id", "product"))?;
            let edits = edited_product(conn, &current, &input)?;
            let details = json!({ "status": [&current.status, &edits.status],
                                  "name": [&current.name, &edits.name] });
            let archived_now = edits.status == ProductStatus::Archived
                && current.status != ProductStatus::Archived;
            refresh(conn, changes, &current, edits)?;
            audit::record(
                conn,
                actor,
                "product.update",
                Subject::Product(id.0),
                details,
            )?;
            let kind = if archived_now {
                EventType::ProductArchived
            } else {
                EventType::ProductUpdated
            };
            changes.product(conn, kind, id)?;
            product::by_id(conn, id)?.ok_or_else(|| not_found("id", "product"))
        })
    })
    .await
}

/// What staff send for a variant.
#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    pub sku: Option<String>,
    pub title: Option<String>,
    /// `[{"name": …, "value": …}]`.
    pub options: Option<Vec<(String, String)>>,
    pub price: Option<i64>,
    /// `Some(None)` clears it.
    pub compare_at_price: Option<Option<i64>>,
    pub stock: Option<i32>,
    pub position: Option<i32>,
    /// Grams per unit.
    pub weight_grams: Option<i64>,
}

fn check_variant(
    sku: &str,
    title: &str,
    price: i64,
    compare_at: Option<i64>,
    weight_grams: i64,
) -> AppResult<()> {
    let mut problems = Vec::new();
    if !is_valid_sku(sku) {
        problems.push(Rejection::new(
            &["input", "sku"],
            RejectionCode::Invalid,
            "a SKU has 1 to 64 letters, digits, - or _",
        ));
    }
    if title.trim().is_empty() || title.chars().count() > 200 {
        problems.push(Rejection::new(
            &["input", "title"],
            RejectionCode::Invalid,
            "a title has 1 to 200 characters",
        ));
    }
    if price < 0 {
        problems.push(Rejection::new(
            &["input", "price"],
            RejectionCode::Invalid,
            "a price cannot be negative",
        ));
    }
    if compare_at.is_some_and(|c| c < 0) {
        problems.push(Rejection::new(
            &["input", "compareAtPrice"],
            RejectionCode::Invalid,
            "a price cannot be negative",
        ));
    }
    if !(0..=MAX_WEIGHT_GRAMS).contains(&weight_grams) {
        problems.push(Rejection::new(
            &["input", "weightGrams"],
            RejectionCode::Invalid,
            format!("a weight is 0 to {MAX_WEIGHT_GRAMS} grams"),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Rejected(problems))
    }
}

/// A new variant's fields, checked before any SQL.
pub(super) struct NewVariantFields {
    pub(super) sku: String,
    title: String,
    options: Vec<OptionValue>,
    price: i64,
    compare_at_price: Option<i64>,
    stock: i32,
    position: i32,
    weight_grams: i64,
}

/// Checks what a variant create sends: a SKU, a title and a price, at most
/// [`MAX_OPTIONS_PER_VARIANT`] option values, stock of 0 or more.
pub(super) fn new_variant_fields(input: &VariantInput) -> AppResult<NewVariantFields> {
    let sku = normalize_sku(input.sku.as_deref().unwrap_or_default());
    let title = input.title.clone().unwrap_or_default().trim().to_owned();
    let price = input.price.unwrap_or(-1);
    let compare_at_price = input.compare_at_price.flatten();
    let weight_grams = input.weight_grams.unwrap_or(0);
    check_variant(&sku, &title, price, compare_at_price, weight_grams)?;
    let option_count = input.options.as_ref().map_or(0, Vec::len);
    room_for(
        0,
        option_count,
        MAX_OPTIONS_PER_VARIANT,
        &["input", "options"],
        "option values per variant",
    )
    .map_err(AppError::rejected)?;
    let stock = input.stock.unwrap_or(0);
    if stock < 0 {
        return Err(rejected(
            &["input", "stock"],
            RejectionCode::Invalid,
            "stock cannot be negative",
        ));
    }
    let options =
        options::checked(input.options.clone().unwrap_or_default()).map_err(AppError::Rejected)?;
    Ok(NewVariantFields {
        sku,
        title,
        options,
        price,
        compare_at_price,
        stock,
        position: input.position.unwrap_or(0),
        weight_grams,
    })
}

/// Inserts a variant of `product_id` in the caller's write transaction and records it in the
/// audit log: the one place variants are created. Its id. The caller checks the product's room
/// and, once every variant of the transaction is written, [`options_misfit`], and refreshes the
/// product.
pub(super) fn insert_variant(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    product_id: ProductId,
    fields: &NewVariantFields,
) -> AppResult<VariantId> {
    let at = now();
    let id = variant::insert(
        conn,
        &NewVariant {
            product_id,
            sku: fields.sku.clone(),
            title: fields.title.clone(),
            options: options::to_json(&fields.options),
            price: fields.price,
            compare_at_price: fields.compare_at_price,
            stock: fields.stock,
            position: fields.position,
            weight_grams: fields.weight_grams,
            created_at: at,
            updated_at: at,
        },
    )
    .map_err(taken("sku"))?;
    let details = json!({ "sku": fields.sku, "price": fields.price, "stock": fields.stock,
                          "options": fields.options, "weightGrams": fields.weight_grams });
    audit::record(
        conn,
        actor,
        "variant.create",
        Subject::Variant(id.0),
        details,
    )?;
    let created = variant::by_id(conn, id)?.ok_or_else(|| not_found("id", "variant"))?;
    changes.variant_updated(&created);
    changes.stock_changed(StockChange {
        variant_id: id,
        sku: &created.sku,
        before: 0,
        after: created.stock,
        reason: StockChangeReason::Created,
        order_id: None,
    });
    Ok(id)
}

/// Adds a variant to a product: at most [`MAX_VARIANTS_PER_PRODUCT`] per product (archived ones
/// count), each with at most [`MAX_OPTIONS_PER_VARIANT`] option values.
pub async fn create_variant(
    db: &Db,
    product_id: ProductId,
    input: VariantInput,
) -> AppResult<Variant> {
    let currency = db.currency();
    let fields = new_variant_fields(&input)?;
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let current = product::lock(conn, product_id)?
                .ok_or_else(|| not_found("productId", "product"))?;
            room_for(
                variant::count_for_product(conn, product_id)?,
                1,
                MAX_VARIANTS_PER_PRODUCT,
                &["productId"],
                "variants per product",
            )
            .map_err(AppError::rejected)?;
            let id = insert_variant(conn, changes, actor, product_id, &fields)?;
            check_options_fit(conn, product_id, id)?;
            refresh(conn, changes, &current, edits_of(&current))?;
            variant::by_id(conn, id)?.ok_or_else(|| not_found("id", "variant"))
        })
    })
    .await
}

/// What an editor sets on a variant (stock is not edited here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VariantEdits {
    sku: String,
    title: String,
    options: Vec<OptionValue>,
    price: i64,
    compare_at_price: Option<i64>,
    position: i32,
    weight_grams: i64,
}

/// `current` with `input`'s SKU, title, options, prices and position applied (omitted ones
/// stay), checked; `input`'s stock is not looked at.
pub(super) fn edited_variant(current: &Variant, input: &VariantInput) -> AppResult<VariantEdits> {
    let edits = VariantEdits {
        sku: input
            .sku
            .as_deref()
            .map_or(current.sku.clone(), normalize_sku),
        title: input
            .title
            .as_deref()
            .map_or(current.title.clone(), |t| t.trim().to_owned()),
        options: match &input.options {
            Some(given) => options::checked(given.clone()).map_err(AppError::Rejected)?,
            None => options::from_json(&current.options),
        },
        price: input.price.unwrap_or(current.price),
        compare_at_price: input.compare_at_price.unwrap_or(current.compare_at_price),
        position: input.position.unwrap_or(current.position),
        weight_grams: input.weight_grams.unwrap_or(current.weight_grams),
    };
    check_variant(
        &edits.sku,
        &edits.title,
        edits.price,
        edits.compare_at_price,
        edits.weight_grams,
    )?;
    Ok(edits)
}

/// Whether `edits` would change `current`.
pub(super) fn changes_variant(current: &Variant, edits: &VariantEdits) -> bool {
    *edits != edits_of_variant(current)
}

fn edits_of_variant(current: &Variant) -> VariantEdits {
    VariantEdits {
        sku: current.sku.clone(),
        title: current.title.clone(),
        options: options::from_json(&current.options),
        price: current.price,
        compare_at_price: current.compare_at_price,
        position: current.position,
        weight_grams: current.weight_grams,
    }
}

/// Writes a variant's edits in the caller's write transaction and records them in the audit
/// log: the one place variants are updated. The caller checks [`options_misfit`] when the
/// options changed, and refreshes the product after.
pub(super) fn write_variant(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    current: &Variant,
    edits: &VariantEdits,
) -> AppResult<()> {
    let changes_of_row = VariantChanges {
        sku: edits.sku.clone(),
        title: edits.title.clone(),
        options: options::to_json(&edits.options),
        price: edits.price,
        compare_at_price: edits.compare_at_price,
        position: edits.position,
        weight_grams: edits.weight_grams,
        updated_at: now(),
    };
    variant::update(conn, current.id, &changes_of_row).map_err(taken("sku"))?;
    let details = json!({ "sku": [&current.sku, &edits.sku],
                          "options": [options::from_json(&current.options), &edits.options],
                          "price": [current.price, edits.price],
                          "compareAtPrice": [current.compare_at_price, edits.compare_at_price],
                          "weightGrams": [current.weight_grams, edits.weight_grams] });
    audit::record(
        conn,
        actor,
        "variant.update",
        Subject::Variant(current.id.0),
        details,
    )?;
    let changed = variant::by_id(conn, current.id)?.ok_or_else(|| not_found("id", "variant"))?;
    changes.variant_updated(&changed);
    Ok(())
}

/// Changes a variant's SKU, title, options, prices or position (stock changes go through
/// [`adjust_inventory`]). New options must fit beside the other variants' ([`options_misfit`]).
pub async fn update_variant(db: &Db, id: VariantId, input: VariantInput) -> AppResult<Variant> {
    let currency = db.currency();
    create_only(&[(
        input.stock.is_some(),
        "stock",
        "stock changes go through inventoryAdjust",
    )])?;
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let product_id = variant::by_id(conn, id)?
                .ok_or_else(|| not_found("id", "variant"))?
                .product_id;
            // The product's lock makes concurrent option changes of its variants take turns.
            let owner =
                product::lock(conn, product_id)?.ok_or_else(|| not_found("id", "product"))?;
            let current = variant::by_id(conn, id)?.ok_or_else(|| not_found("id", "variant"))?;
            let edits = edited_variant(&current, &input)?;
            write_variant(conn, changes, actor, &current, &edits)?;
            if edits.options != options::from_json(&current.options) {
                check_options_fit(conn, product_id, id)?;
            }
            refresh(conn, changes, &owner, edits_of(&owner))?;
            variant::by_id(conn, id)?.ok_or_else(|| not_found("id", "variant"))
        })
    })
    .await
}

/// Archives (no longer sold; kept for order history) or restores a variant.
pub async fn archive_variant(db: &Db, id: VariantId, archived: bool) -> AppResult<Variant> {
    let currency = db.currency();
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let product_id = variant::by_id(conn, id)?
                .ok_or_else(|| not_found("id", "variant"))?
                .product_id;
            let owner =
                product::lock(conn, product_id)?.ok_or_else(|| not_found("id", "product"))?;
            let at = now();
            variant::set_archived(conn, id, archived.then_some(at), at)?;
            if !archived {
                // Back on sale beside the others: its options must still be its own.
                check_options_fit(conn, product_id, id)?;
            }
            let details = json!({ "archived": archived });
            audit::record(
                conn,
                actor,
                "variant.archive",
                Subject::Variant(id.0),
                details,
            )?;
            refresh(conn, changes, &owner, edits_of(&owner))?;
            let changed = variant::by_id(conn, id)?.ok_or_else(|| not_found("id", "variant"))?;
            changes.variant_updated(&changed);
            Ok(changed)
        })
    })
    .await
}

/// The first of the variants `touched` (written in the caller's transaction, under the
/// product's lock) that does not fit beside the product's other variants on sale
/// ([`options::check_beside`]), with why: `(variant id, rejection at ["input", "options"])`.
pub(super) fn options_misfit(
    conn: &mut DbConnection,
    product_id: ProductId,
    touched: &[VariantId],
) -> AppResult<Option<(VariantId, Rejection)>> {
    let live: Vec<(VariantId, Vec<OptionValue>)> = variant::live_options_of(conn, product_id)?
        .into_iter()
        .map(|(id, json)| (id, options::from_json(&json)))
        .collect();
    for (id, candidate) in live.iter().filter(|(id, _)| touched.contains(id)) {
        let others = live
            .iter()
            .filter(|(other, _)| other != id)
            .map(|(_, options)| options.as_slice());
        if let Err(rejection) = options::check_beside(candidate, others) {
            return Ok(Some((*id, rejection)));
        }
    }
    Ok(None)
}

/// Refuses the transaction if variant `id` of `product_id` does not fit beside the product's
/// other variants on sale ([`options_misfit`]).
fn check_options_fit(
    conn: &mut DbConnection,
    product_id: ProductId,
    id: VariantId,
) -> AppResult<()> {
    match options_misfit(conn, product_id, &[id])? {
        Some((_, rejection)) => Err(AppError::rejected(rejection)),
        None => Ok(()),
    }
}

/// Sets a variant's stock to `quantity` if it is still `expected`: a stale expectation is a
/// `STALE` user error naming the current quantity, never a silent overwrite.
pub async fn adjust_inventory(
    db: &Db,
    id: VariantId,
    expected: i32,
    quantity: i32,
) -> AppResult<Variant> {
    let currency = db.currency();
    if quantity < 0 {
        return Err(rejected(
            &["quantity"],
            RejectionCode::Invalid,
            "stock cannot be negative",
        ));
    }
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            adjust_in(conn, changes, actor, id, expected, quantity)
        })
    })
    .await
}

fn adjust_in(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    id: VariantId,
    expected: i32,
    quantity: i32,
) -> AppResult<Variant> {
    {
        if !variant::compare_and_set_stock(conn, id, expected, quantity, now())? {
            let current =
                variant::by_id(conn, id)?.ok_or_else(|| not_found("variantId", "variant"))?;
            return Err(rejected(
                &["expectedQuantity"],
                RejectionCode::Stale,
                format!(
                    "the stock is {} now, not {expected}: reload and try again",
                    current.stock
                ),
            ));
        }
        let details = json!({ "stock": [expected, quantity] });
        audit::record(
            conn,
            actor,
            "inventory.adjust",
            Subject::Variant(id.0),
            details,
        )?;
        let adjusted =
            variant::by_id(conn, id)?.ok_or_else(|| not_found("variantId", "variant"))?;
        changes.stock_changed(StockChange {
            variant_id: id,
            sku: &adjusted.sku,
            before: expected,
            after: quantity,
            reason: StockChangeReason::Adjusted,
            order_id: None,
        });
        Ok(adjusted)
    }
}

/// Adds an image (an http or https URL) to a product, which holds at most
/// [`MAX_IMAGES_PER_PRODUCT`].
pub async fn add_image(
    db: &Db,
    product_id: ProductId,
    url: String,
    alt_text: String,
    position: i32,
) -> AppResult<ImageId> {
    let currency = db.currency();
    let url = url.trim().to_owned();
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2_000
        && !url.chars().any(char::is_whitespace);
    if !valid {
        return Err(rejected(
            &["url"],
            RejectionCode::Invalid,
            "an image is an http(s) URL of at most 2,000 characters",
        ));
    }
    if alt_text.chars().count() > 500 {
        return Err(rejected(
            &["altText"],
            RejectionCode::TooLong,
            "alt text has at most 500 characters",
        ));
    }
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            if product::lock(conn, product_id)?.is_none() {
                return Err(not_found("productId", "product"));
            }
            room_for(
                image::count_for_product(conn, product_id)?,
                1,
                MAX_IMAGES_PER_PRODUCT,
                &["productId"],
                "images per product",
            )
            .map_err(AppError::rejected)?;
            let id = image::insert(
                conn,
                &NewImage {
                    product_id,
                    url,
                    alt_text,
                    position,
                },
            )?;
            // The images are part of the product: it changed.
            product::mark_updated(conn, product_id, now())?;
            changes.product(conn, EventType::ProductUpdated, product_id)?;
            Ok(id)
        })
    })
    .await
}

/// Removes an image; the product it belonged to.
pub async fn remove_image(db: &Db, id: ImageId) -> AppResult<ProductId> {
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let product_id = image::delete(conn, id)?.ok_or_else(|| not_found("id", "image"))?;
            product::mark_updated(conn, product_id, now())?;
            changes.product(conn, EventType::ProductUpdated, product_id)?;
            Ok(product_id)
        })
    })
    .await
}

/// Sets the stock of up to [`MAX_STOCK_LINES`] SKUs at once, each only if it is still its
/// expected quantity: all of them or none, in one transaction: the update, then the event
/// positions and the events (one statement on PostgreSQL, two on SQLite). A refused batch names every refused line (unknown SKU, or
/// the stock it has now) and changes nothing.
pub async fn set_quantities(db: &Db, lines: Vec<StockLine>) -> AppResult<Vec<StockSet>> {
    if lines.is_empty() || lines.len() > MAX_STOCK_LINES {
        return Err(rejected(
            &["lines"],
            RejectionCode::Invalid,
            format!("send 1 to {MAX_STOCK_LINES} lines"),
        ));
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let lines: Vec<StockLine> = lines
        .into_iter()
        .enumerate()
        .map(|(index, line)| {
            let at = index.to_string();
            let sku = line.sku.trim().to_uppercase();
            if line.quantity < 0 {
                problems.push(Rejection::new(
                    &["lines", &at, "quantity"],
                    RejectionCode::Invalid,
                    "stock cannot be negative",
                ));
            }
            if sku.is_empty() || sku.len() > 64 || !seen.insert(sku.clone()) {
                problems.push(Rejection::new(
                    &["lines", &at, "sku"],
                    RejectionCode::Invalid,
                    "each line names a different SKU (1 to 64 characters)",
                ));
            }
            StockLine { sku, ..line }
        })
        .collect();
    if !problems.is_empty() {
        return Err(AppError::Rejected(problems));
    }
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let set = variant::compare_and_set_many(conn, &lines, now())?;
            if set.len() < lines.len() {
                return Err(refused_lines(conn, &lines, &set));
            }
            let expected: std::collections::HashMap<&str, i32> =
                lines.iter().map(|l| (l.sku.as_str(), l.expected)).collect();
            for variant in &set {
                changes.stock_changed(StockChange {
                    variant_id: variant.id,
                    sku: &variant.sku,
                    before: expected
                        .get(variant.sku.as_str())
                        .copied()
                        .unwrap_or_default(),
                    after: variant.stock,
                    reason: StockChangeReason::Adjusted,
                    order_id: None,
                });
            }
            Ok(set)
        })
    })
    .await
}

/// Why the lines that were not set were refused (read after the update, in its transaction,
/// which the refusal rolls back).
fn refused_lines(conn: &mut DbConnection, lines: &[StockLine], set: &[StockSet]) -> AppError {
    let done: std::collections::HashSet<&str> = set.iter().map(|v| v.sku.as_str()).collect();
    let missing: Vec<String> = lines
        .iter()
        .filter(|l| !done.contains(l.sku.as_str()))
        .map(|l| l.sku.clone())
        .collect();
    let now: std::collections::HashMap<String, i32> = match variant::stock_of_skus(conn, &missing) {
        Ok(found) => found.into_iter().collect(),
        Err(error) => return error.into(),
    };
    AppError::Rejected(
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !done.contains(l.sku.as_str()))
            .map(|(index, line)| {
                let at = index.to_string();
                match now.get(&line.sku) {
                    Some(stock) => Rejection::new(
                        &["lines", &at, "expectedQuantity"],
                        RejectionCode::Stale,
                        format!(
                            "the stock of {} is {stock} now, not {}: reload and try again",
                            line.sku, line.expected
                        ),
                    ),
                    None => Rejection::new(
                        &["lines", &at, "sku"],
                        RejectionCode::NotFound,
                        format!("no variant has the SKU {}", line.sku),
                    ),
                }
            })
            .collect(),
    )
}
