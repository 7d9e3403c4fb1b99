//! The request's batching loader and its catalog reads: categories by id, children by parent,
//! products and images by id, variants and images by product, variants by id and by SKU, and the
//! first page of products of many categories.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use diesel::QueryResult;

use crate::db::models::category::{self, Category};
use crate::db::models::image::{self, Image};
use crate::db::models::product::{self, ProductWithCategory, Window};
use crate::db::models::variant::{self, Variant, VariantWithProduct};
use crate::db::{Db, DbConnection};
use crate::domain::catalog::CatalogVisibility;
use crate::domain::ids::{CategoryId, ImageId, ProductId, VariantId};
use crate::error::AppError;

/// The children of a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildrenOf(pub CategoryId);

/// The variants of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VariantsOf(pub ProductId);

/// The variant with this SKU (normalised: trimmed, upper-case).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantBySku(pub String);

/// The images of a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImagesOf(pub ProductId);

/// One window of the products in a category and its descendants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CategoryProducts {
    /// The category.
    pub category: CategoryId,
    /// Which rows.
    pub window: Window,
}

/// Loads rows for one request, as the caller may see them.
pub struct DbLoader {
    pub(super) db: Db,
    pub(super) visibility: CatalogVisibility,
}

impl DbLoader {
    /// A loader reading through `db` with the caller's `visibility`.
    pub fn new(db: Db, visibility: CatalogVisibility) -> Self {
        Self { db, visibility }
    }
}

pub(super) type LoadResult<K, V> = Result<HashMap<K, V>, AppError>;

impl Loader<CategoryId> for DbLoader {
    type Value = Category;
    type Error = AppError;

    async fn load(&self, keys: &[CategoryId]) -> LoadResult<CategoryId, Category> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(category::by_ids(conn, &ids)?))
            .await?;
        let visibility = self.visibility;
        Ok(rows
            .into_iter()
            .filter(|c| visibility.shows_category(c.archived_at.is_some()))
            .map(|c| (c.id, c))
            .collect())
    }
}

impl Loader<ChildrenOf> for DbLoader {
    type Value = Arc<[Category]>;
    type Error = AppError;

    async fn load(&self, keys: &[ChildrenOf]) -> LoadResult<ChildrenOf, Arc<[Category]>> {
        let ids: Vec<CategoryId> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(category::children_of(conn, &ids)?))
            .await?;
        let visibility = self.visibility;
        let rows: Vec<Category> = rows
            .into_iter()
            .filter(|c| visibility.shows_category(c.archived_at.is_some()))
            .collect();
        let parent = |c: &Category| c.parent_id.map(ChildrenOf);
        Ok(group_by_key(keys, rows, parent, usize::MAX))
    }
}

impl Loader<ImageId> for DbLoader {
    type Value = Image;
    type Error = AppError;

    async fn load(&self, keys: &[ImageId]) -> LoadResult<ImageId, Image> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(image::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

impl Loader<ProductId> for DbLoader {
    type Value = ProductWithCategory;
    type Error = AppError;

    async fn load(&self, keys: &[ProductId]) -> LoadResult<ProductId, ProductWithCategory> {
        let ids = keys.to_vec();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(product::by_ids(conn, &ids, visibility)?))
            .await?;
        Ok(rows.into_iter().map(|row| (row.0.id, row)).collect())
    }
}

/// A variant loaded by id comes with its product, since whoever asks for a variant by id (order
/// and cart lines, `node`) nearly always asks for its product too. Shared, so that the loader's
/// cache and each caller hold the same row.
impl Loader<VariantId> for DbLoader {
    type Value = Arc<VariantWithProduct>;
    type Error = AppError;

    async fn load(&self, keys: &[VariantId]) -> LoadResult<VariantId, Arc<VariantWithProduct>> {
        let ids = keys.to_vec();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(variant::by_ids_with_products(conn, &ids, visibility)?))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.0.id, Arc::new(row)))
            .collect())
    }
}

/// Variants by SKU come with their product, like variants by id: the same visibility rules, one
/// statement for every SKU of the request.
impl Loader<VariantBySku> for DbLoader {
    type Value = Arc<VariantWithProduct>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[VariantBySku],
    ) -> LoadResult<VariantBySku, Arc<VariantWithProduct>> {
        let skus: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(variant::by_skus_with_products(conn, &skus, visibility)?))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (VariantBySku(row.0.sku.clone()), Arc::new(row)))
            .collect())
    }
}

impl Loader<VariantsOf> for DbLoader {
    type Value = Arc<[Variant]>;
    type Error = AppError;

    async fn load(&self, keys: &[VariantsOf]) -> LoadResult<VariantsOf, Arc<[Variant]>> {
        let ids: Vec<ProductId> = keys.iter().map(|k| k.0).collect();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(variant::for_products(conn, &ids, visibility)?))
            .await?;
        let product = |v: &Variant| Some(VariantsOf(v.product_id));
        Ok(group_by_key(keys, rows, product, usize::MAX))
    }
}

impl Loader<ImagesOf> for DbLoader {
    type Value = Arc<[Image]>;
    type Error = AppError;

    async fn load(&self, keys: &[ImagesOf]) -> LoadResult<ImagesOf, Arc<[Image]>> {
        let ids: Vec<ProductId> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(image::for_products(conn, &ids)?))
            .await?;
        let product = |i: &Image| Some(ImagesOf(i.product_id));
        Ok(group_by_key(keys, rows, product, usize::MAX))
    }
}

impl Loader<CategoryProducts> for DbLoader {
    type Value = Vec<ProductWithCategory>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[CategoryProducts],
    ) -> LoadResult<CategoryProducts, Vec<ProductWithCategory>> {
        let visibility = self.visibility;
        load_windows(
            &self.db,
            keys,
            |key| (key.window.clone(), key.category.0),
            |window, category| CategoryProducts {
                category: CategoryId(category),
                window,
            },
            move |conn, categories, window| {
                product::first_pages_by_category(conn, categories, visibility, window)
            },
        )
        .await
    }
}

/// One window of rows for each owner (a category, a collection, a product) in `keys`: one
/// `fetch` per distinct window, normally one since every owner of a response asks the same
/// page. `split` gives a key's window and owner id, `join` makes the key back; `fetch` answers
/// the rows of many owners as (owner id, row), in window order. Every key gets a page, empty if
/// no row has it.
pub(super) async fn load_windows<K, W, O, R, F>(
    db: &Db,
    keys: &[K],
    split: impl Fn(&K) -> (W, O),
    join: impl Fn(W, O) -> K,
    fetch: F,
) -> LoadResult<K, Vec<R>>
where
    K: Clone + Eq + std::hash::Hash,
    W: Clone + Eq + std::hash::Hash + Send + 'static,
    O: Send + 'static,
    R: Send + 'static,
    F: Fn(&mut DbConnection, &[O], &W) -> QueryResult<Vec<(O, R)>> + Send + 'static,
{
    let mut windows: HashMap<W, Vec<O>> = HashMap::new();
    for key in keys {
        let (window, owner) = split(key);
        windows.entry(window).or_default().push(owner);
    }
    let results = db
        .run(move |conn| {
            windows
                .into_iter()
                .map(|(window, owners)| Ok((fetch(conn, &owners, &window)?, window)))
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    let mut pages: HashMap<K, Vec<R>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for (rows, window) in results {
        for (owner, row) in rows {
            pages
                .entry(join(window.clone(), owner))
                .or_default()
                .push(row);
        }
    }
    Ok(pages)
}

/// Groups rows under the key `key_of` gives them, keeping their order and at most `most` rows
/// per key; rows without a key are dropped. Every one of `keys` gets a group (empty if no row
/// has it), shared: a DataLoader clones each value into its cache and again for each caller,
/// which for a slice is a reference count instead of a copy of every row.
pub(super) fn group_by_key<K: Copy + Eq + std::hash::Hash, V>(
    keys: &[K],
    rows: Vec<V>,
    key_of: impl Fn(&V) -> Option<K>,
    most: usize,
) -> HashMap<K, Arc<[V]>> {
    let mut grouped: HashMap<K, Vec<V>> = HashMap::new();
    for row in rows {
        if let Some(key) = key_of(&row) {
            let group = grouped.entry(key).or_default();
            if group.len() < most {
                group.push(row);
            }
        }
    }
    keys.iter()
        .map(|key| (*key, grouped.remove(key).unwrap_or_default().into()))
        .collect()
}
