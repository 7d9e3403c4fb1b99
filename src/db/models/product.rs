//! Products: lookups by id and slug, the filtered and sorted keyset page, and the first page of
//! every category at once. Each product comes with its category row (one LEFT JOIN, no extra
//! round trip for `Product.category`).

use chrono::NaiveDateTime;
use diesel::dsl::{AsExprOf, exists};
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamp};

use crate::db::DbConnection;
use crate::db::id_list::id_in;
use crate::db::models::category::Category;
use crate::db::schema::{categories, products, variants};
use crate::domain::catalog::{CatalogVisibility, ProductStatus};
use crate::domain::ids::{CategoryId, ProductId};
use crate::domain::metadata::MetadataCondition;
use crate::domain::options::OptionCondition;
use crate::{filter_ids, filter_like, on_backend};

/// A product row, without its search text: that is only ever matched in SQL, and reading it
/// would double what every product read carries.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, QueryableByName)]
#[diesel(table_name = products)]
pub struct Product {
    pub id: ProductId,
    pub category_id: Option<CategoryId>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub status: ProductStatus,
    pub price_min: i64,
    pub price_max: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The reference a partner system knows it by (`productUpsert`); unique when set.
    pub external_ref: Option<String>,
    /// The event-log position of the row's latest change (see `services::events`): change feeds
    /// walk products in this order.
    pub change_position: i64,
}

/// A product to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
pub struct NewProduct {
    pub category_id: Option<CategoryId>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub status: ProductStatus,
    pub price_min: i64,
    pub price_max: i64,
    pub search_text: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub external_ref: Option<String>,
}

/// A product with its category: `None` when the product has none, or when the query was asked
/// not to read it ([`page`] without `with_categories`).
pub type ProductWithCategory = (Product, Option<Category>);

/// The key a product list is ordered by; ties are broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductSortField {
    /// Product name.
    Name,
    /// Lowest variant price.
    Price,
    /// Creation time.
    CreatedAt,
    /// The commit order of each product's latest change (its change position), for change
    /// feeds: see `domain::feeds`.
    UpdatedAt,
}

/// A position in a sorted product list: the sort key's value and the id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProductKey {
    /// Position in a list sorted by name.
    Name(String, i64),
    /// Position in a list sorted by price.
    Price(i64, i64),
    /// Position in a list sorted by creation time.
    CreatedAt(NaiveDateTime, i64),
    /// Position in a list sorted by change: the change position (not a time) and the id.
    UpdatedAt(i64, i64),
}

impl ProductKey {
    /// The key of `product` in a list sorted by `field`.
    pub fn of(product: &Product, field: ProductSortField) -> Self {
        match field {
            ProductSortField::Name => Self::Name(product.name.clone(), product.id.0),
            ProductSortField::Price => Self::Price(product.price_min, product.id.0),
            ProductSortField::CreatedAt => Self::CreatedAt(product.created_at, product.id.0),
            ProductSortField::UpdatedAt => Self::UpdatedAt(product.change_position, product.id.0),
        }
    }

    /// The field this key sorts by.
    pub fn field(&self) -> ProductSortField {
        match self {
            Self::Name(..) => ProductSortField::Name,
            Self::Price(..) => ProductSortField::Price,
            Self::CreatedAt(..) => ProductSortField::CreatedAt,
            Self::UpdatedAt(..) => ProductSortField::UpdatedAt,
        }
    }
}

/// One page of a keyset-paginated list: bounds, order and how many rows to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Window {
    /// Sort key; ties broken by id.
    pub field: ProductSortField,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Only rows strictly after this position.
    pub after: Option<ProductKey>,
    /// Only rows strictly before this position.
    pub before: Option<ProductKey>,
    /// Rows to fetch (the page size plus one, to learn whether there is more).
    pub limit: i64,
    /// Take the rows nearest `before` (the end) instead of nearest `after` (the start). They are
    /// returned nearest-first, so the caller reverses them.
    pub from_end: bool,
}

/// What a product list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// `LIKE` pattern over the search text (see `domain::catalog::search_pattern`).
    pub search_pattern: Option<String>,
    /// Only products in one of these categories (a category and its descendants).
    pub category_ids: Option<Vec<i64>>,
    /// Only products with a variant priced at least this (minor units).
    pub min_price: Option<i64>,
    /// Only products with a variant priced at most this (minor units).
    pub max_price: Option<i64>,
    /// Only products with (`true`) or without (`false`) a variant in stock.
    pub in_stock: Option<bool>,
    /// Only products changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// Only products with these metadata entries.
    pub metadata: Vec<MetadataCondition>,
    /// Only products with a variant meeting each of these (on sale, for the storefront).
    pub options: Vec<OptionCondition>,
}

/// The SQL condition [`has_option_value`] builds: literal text around one bound JSON array.
type OptionHeld = SqlLiteral<Bool, UncheckedBind<SqlLiteral<Bool>, AsExprOf<String, Text>>>;

/// Products with a variant (on sale, when `visibility` is the storefront's) having one of the
/// values `condition` names: its stored options hold one of their texts, compared exactly
/// (`instr` on SQLite, `strpos` on PostgreSQL; neither reads a pattern). The texts are bound as
/// one JSON array, so the statement keeps one shape however many values are named.
fn has_option_value(
    conn: &DbConnection,
    condition: &OptionCondition,
    visibility: CatalogVisibility,
) -> OptionHeld {
    let on_sale = match visibility {
        CatalogVisibility::Storefront => " AND option_holder.archived_at IS NULL",
        CatalogVisibility::Everything => "",
    };
    let (values, contains) = match conn {
        DbConnection::Sqlite(_) => (
            "json_each(",
            ") AS form WHERE instr(option_holder.options, form.value) > 0",
        ),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => (
            "jsonb_array_elements_text(CAST(",
            " AS jsonb)) AS form(value) WHERE strpos(option_holder.options, form.value) > 0",
        ),
    };
    let forms = serde_json::to_string(&condition.stored_forms()).unwrap_or_default();
    diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT 1 FROM variants AS option_holder \
         WHERE option_holder.product_id = products.id{on_sale} AND EXISTS (SELECT 1 FROM {values}"
    ))
    .bind::<Text, _>(forms)
    .sql(&format!("{contains}))"))
}

fn visible_statuses(visibility: CatalogVisibility) -> &'static [ProductStatus] {
    match visibility {
        CatalogVisibility::Storefront => &[ProductStatus::Active],
        CatalogVisibility::Everything => ProductStatus::ALL,
    }
}

/// The visible products with these ids, with their categories. A statement of one static shape
/// whatever the number of ids ([`id_in`]), run on the concrete connection: PostgreSQL's keeps it
/// prepared under its type, and no SQL text is built per call. (Through `DbConnection` diesel
/// renders a statement's text three times per call: the cache key, the cacheability check, the
/// binds.)
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[ProductId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<ProductWithCategory>> {
    on_backend!(conn, |concrete| {
        let query = products::table
            .left_join(categories::table)
            .filter(id_in(products::id, ids))
            .select((Product::as_select(), Option::<Category>::as_select()));
        match visibility {
            CatalogVisibility::Storefront => query
                .filter(products::status.eq(ProductStatus::Active))
                .load(concrete),
            CatalogVisibility::Everything => query.load(concrete),
        }
    })
}

/// The visible product with this slug, with its category.
pub fn by_slug(
    conn: &mut DbConnection,
    slug: &str,
    visibility: CatalogVisibility,
) -> QueryResult<Option<ProductWithCategory>> {
    products::table
        .left_join(categories::table)
        .filter(products::slug.eq(slug))
        .filter(products::status.eq_any(visible_statuses(visibility)))
        .select((Product::as_select(), Option::<Category>::as_select()))
        .first(conn)
        .optional()
}

/// Adds the keyset bounds and order of `window` on `$column` (whose key variant is `$key`).
macro_rules! keyset {
    ($query:expr, $window:expr, $column:expr, $key:path) => {{
        let window: &Window = $window;
        let mut query = $query;
        let bound = |key: &Option<ProductKey>| match key {
            Some($key(value, id)) => Ok(Some((value.clone(), *id))),
            Some(_) => Err(diesel::result::Error::QueryBuilderError(
                "cursor from another sort order".into(),
            )),
            None => Ok(None),
        };
        // Each bound `(key, id) > (v, i)` is written `key >= v AND (key > v OR (key = v AND
        // id > i))`: the first conjunct lets an index on `(key, id)` start at the cursor.
        if let Some((value, id)) = bound(&window.after)? {
            query = if window.descending {
                query.filter($column.le(value.clone())).filter(
                    $column
                        .lt(value.clone())
                        .or($column.eq(value).and(products::id.lt(id))),
                )
            } else {
                query.filter($column.ge(value.clone())).filter(
                    $column
                        .gt(value.clone())
                        .or($column.eq(value).and(products::id.gt(id))),
                )
            };
        }
        if let Some((value, id)) = bound(&window.before)? {
            query = if window.descending {
                query.filter($column.ge(value.clone())).filter(
                    $column
                        .gt(value.clone())
                        .or($column.eq(value).and(products::id.gt(id))),
                )
            } else {
                query.filter($column.le(value.clone())).filter(
                    $column
                        .lt(value.clone())
                        .or($column.eq(value).and(products::id.lt(id))),
                )
            };
        }
        if window.descending != window.from_end {
            query.order_by(($column.desc(), products::id.desc()))
        } else {
            query.order_by(($column.asc(), products::id.asc()))
        }
    }};
}

/// Adds what `$filter` asks and what `$visibility` shows to a boxed query over products (alone
/// or joined): the one place a product list's conditions are written, for its pages and its
/// facets.
macro_rules! filter_products {
    ($query:expr, $conn:expr, $filter:expr, $visibility:expr) => {{
        let filter: &ProductFilter = $filter;
        let mut query = $query;
        // Plain `=` rather than `= ANY(…)` for single values, so that PostgreSQL can walk
        // the `(status, name, id)`-style indexes in order and stop at the page's end.
        if $visibility == CatalogVisibility::Storefront {
            query = query.filter(products::status.eq(ProductStatus::Active));
        }
        if let Some(pattern) = &filter.search_pattern {
            query = filter_like!(query, $conn, products::search_text, pattern.clone());
        }
        if let Some(ids) = filter.category_ids.as_deref() {
            query = filter_ids!(query, products::category_id, ids);
        }
        if filter.min_price.is_some() || filter.max_price.is_some() {
            let priced = variants::table
                .filter(variants::product_id.eq(products::id))
                .filter(variants::price.ge(filter.min_price.unwrap_or(i64::MIN)))
                .filter(variants::price.le(filter.max_price.unwrap_or(i64::MAX)));
            query = query.filter(exists(priced));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(products::updated_at.ge(since));
        }
        query = crate::filter_metadata!(query, product_id, products::id, &filter.metadata);
        for condition in &filter.options {
            query = query.filter(has_option_value($conn, condition, $visibility));
        }
        if let Some(in_stock) = filter.in_stock {
            let stocked = exists(
                variants::table
                    .filter(variants::product_id.eq(products::id))
                    .filter(variants::stock.gt(0)),
            );
            query = if in_stock {
                query.filter(stocked)
            } else {
                query.filter(diesel::dsl::not(stocked))
            };
        }
        query
    }};
}

/// One page of visible products matching `filter`, in `window` order, each with its category
/// when `with_categories` (the join costs more than the page when nobody asks for them).
pub fn page(
    conn: &mut DbConnection,
    filter: &ProductFilter,
    visibility: CatalogVisibility,
    window: &Window,
    with_categories: bool,
) -> QueryResult<Vec<ProductWithCategory>> {
    /// Adds `filter`, `visibility` and `window` to a boxed query over products and loads it.
    macro_rules! filtered_page {
        ($query:expr) => {{
            let query = filter_products!($query, conn, filter, visibility);
            let query = match window.field {
                ProductSortField::Name => keyset!(query, window, products::name, ProductKey::Name),
                ProductSortField::Price => {
                    keyset!(query, window, products::price_min, ProductKey::Price)
                }
                ProductSortField::CreatedAt => {
                    keyset!(query, window, products::created_at, ProductKey::CreatedAt)
                }
                ProductSortField::UpdatedAt => keyset!(
                    query,
                    window,
                    products::change_position,
                    ProductKey::UpdatedAt
                ),
            };
            query.limit(window.limit).load(conn)
        }};
    }
    let rows = if with_categories {
        filtered_page!(
            products::table
                .left_join(categories::table)
                .select((Product::as_select(), Option::<Category>::as_select()))
                .into_boxed()
        )?
    } else {
        let products: Vec<Product> =
            filtered_page!(products::table.select(Product::as_select()).into_boxed())?;
        products
            .into_iter()
            .map(|product| (product, None))
            .collect()
    };
    settle_read_by(conn, window.field)?;
    Ok(rows)
}

/// [`event::wait_until_durable`] after reading products by `field`: by `UpdatedAt` their
/// cursors carry positions.
fn settle_read_by(conn: &mut DbConnection, field: ProductSortField) -> QueryResult<()> {
    match field {
        ProductSortField::UpdatedAt => super::event::wait_until_durable(conn),
        _ => Ok(()),
    }
}

/// What the facets of a product list are counted from, each in one statement however many
/// products match. Each facet leaves out the filter's own condition on what it counts
/// (disjunctive facets), so that a sidebar shows the other choices beside the one picked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FacetRows {
    /// Products per category they are filed under (`None`: none), matching the filter but for
    /// its categories.
    pub by_category: Vec<(Option<i64>, i64)>,
    /// Products per lowest live price (minor units), matching the filter but for its price
    /// range.
    pub by_price: Vec<(i64, i64)>,
    /// Each distinct option set (JSON, as stored) of the shown variants of each product
    /// matching the filter but for its options: `(product id, options)`.
    pub option_sets: Vec<(i64, String)>,
}

/// The rows the facets of the visible products matching `filter` are counted from.
pub fn facet_rows(
    conn: &mut DbConnection,
    filter: &ProductFilter,
    visibility: CatalogVisibility,
) -> QueryResult<FacetRows> {
    let any_category = ProductFilter {
        category_ids: None,
        ..filter.clone()
    };
    let any_price = ProductFilter {
        min_price: None,
        max_price: None,
        ..filter.clone()
    };
    let any_options = ProductFilter {
        options: Vec::new(),
        ..filter.clone()
    };
    let by_category = filter_products!(
        products::table
            .group_by(products::category_id)
            .select((products::category_id, diesel::dsl::count_star()))
            .into_boxed(),
        conn,
        &any_category,
        visibility
    )
    .load(conn)?;
    let by_price = filter_products!(
        products::table
            .group_by(products::price_min)
            .select((products::price_min, diesel::dsl::count_star()))
            .into_boxed(),
        conn,
        &any_price,
        visibility
    )
    .load(conn)?;
    // The variants whose options are counted, named apart from those the filter's conditions
    // look at (`EXISTS (… variants …)`).
    let counted = diesel::alias!(variants as counted);
    let mut sets = filter_products!(
        counted
            .inner_join(products::table.on(products::id.eq(counted.field(variants::product_id))))
            .filter(counted.field(variants::options).ne("[]"))
            .select((
                counted.field(variants::product_id),
                counted.field(variants::options),
            ))
            .distinct()
            .into_boxed(),
        conn,
        &any_options,
        visibility
    );
    if visibility == CatalogVisibility::Storefront {
        sets = sets.filter(counted.field(variants::archived_at).is_null());
    }
    Ok(FacetRows {
        by_category,
        by_price,
        option_sets: sets.load(conn)?,
    })
}

/// A row of [`first_pages_by_category`]: the category asked for, a product in it or in one of
/// its descendants, and that product's own category (aliased `c_*`).
#[derive(QueryableByName)]
struct CategoryProductRow {
    #[diesel(sql_type = BigInt)]
    anchor_id: i64,
    #[diesel(embed)]
    product: Product,
    #[diesel(sql_type = BigInt)]
    c_id: CategoryId,
    #[diesel(sql_type = Nullable<BigInt>)]
    c_parent_id: Option<CategoryId>,
    #[diesel(sql_type = Text)]
    c_name: String,
    #[diesel(sql_type = Text)]
    c_slug: String,
    #[diesel(sql_type = Text)]
    c_path: String,
    #[diesel(sql_type = Integer)]
    c_position: i32,
    #[diesel(sql_type = Timestamp)]
    c_created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    c_updated_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    c_archived_at: Option<NaiveDateTime>,
    #[diesel(sql_type = BigInt)]
    c_change_position: i64,
}

impl CategoryProductRow {
    fn into_parts(self) -> (i64, ProductWithCategory) {
        let category = Category {
            id: self.c_id,
            parent_id: self.c_parent_id,
            name: self.c_name,
            slug: self.c_slug,
            path: self.c_path,
            position: self.c_position,
            created_at: self.c_created_at,
            updated_at: self.c_updated_at,
            archived_at: self.c_archived_at,
            change_position: self.c_change_position,
        };
        (self.anchor_id, (self.product, Some(category)))
    }
}

/// One window of visible products for each category in `category_ids` (each including its
/// descendants' products), all in one statement: `ROW_NUMBER()` over a partition per category.
/// Returns `(category id, product)` pairs, each category's rows in window order.
pub fn first_pages_by_category(
    conn: &mut DbConnection,
    category_ids: &[i64],
    visibility: CatalogVisibility,
    window: &Window,
) -> QueryResult<Vec<(i64, ProductWithCategory)>> {
    let sql = window_sql::build(conn, visibility, window);
    let rows: Vec<CategoryProductRow> = match conn {
        DbConnection::Sqlite(sqlite) => {
            let ids = serde_json::to_string(category_ids)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            let query = diesel::sql_query(sql).into_boxed().bind::<Text, _>(ids);
            window_sql::bind_rest(query, visibility, window)?.load(sqlite)?
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            let query = diesel::sql_query(sql)
                .into_boxed()
                .bind::<diesel::sql_types::Array<BigInt>, _>(category_ids.to_vec());
            window_sql::bind_rest(query, visibility, window)?.load(pg)?
        }
    };
    settle_read_by(conn, window.field)?;
    Ok(rows
        .into_iter()
        .map(CategoryProductRow::into_parts)
        .collect())
}

/// The SQL text of [`first_pages_by_category`], assembled from fixed fragments only (every value
/// is a bound parameter), and the binds that follow the id list.
mod window_sql {
    use diesel::backend::Backend;
    use diesel::query_builder::BoxedSqlQuery;
    use diesel::serialize::ToSql;
    use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamp};

    use super::{ProductKey, ProductSortField, Window, visible_statuses};
    use crate::db::DbConnection;
    use crate::domain::catalog::{CatalogVisibility, ProductStatus};

    pub(super) fn build(
        conn: &DbConnection,
        visibility: CatalogVisibility,
        window: &Window,
    ) -> String {
        let column = match window.field {
            ProductSortField::Name => "p.name",
            ProductSortField::Price => "p.price_min",
            ProductSortField::CreatedAt => "p.created_at",
            ProductSortField::UpdatedAt => "p.change_position",
        };
        let reverse = window.descending != window.from_end;
        let direction = if reverse { "DESC" } else { "ASC" };
        let (after_op, before_op) = if window.descending {
            ("<", ">")
        } else {
            (">", "<")
        };
        let ids_match = match conn {
            DbConnection::Sqlite(_) => "a.id IN (SELECT value FROM json_each(?))",
            #[cfg(feature = "postgres")]
            DbConnection::Pg(_) => "a.id = ANY(?)",
        };
        let mut conditions = vec![ids_match.to_owned()];
        if visibility == CatalogVisibility::Storefront {
            conditions.push(format!(
                "p.status IN ({})",
                placeholders(visible_statuses(visibility).len())
            ));
        }
        if window.after.is_some() {
            conditions.push(format!("({column}, p.id) {after_op} (?, ?)"));
        }
        if window.before.is_some() {
            conditions.push(format!("({column}, p.id) {before_op} (?, ?)"));
        }
        let sql = format!(
            "SELECT t.* FROM (\
               SELECT a.id AS anchor_id, \
                 p.id, p.category_id, p.name, p.slug, p.description, p.status, p.price_min, \
                 p.price_max, p.created_at, p.updated_at, p.external_ref, p.change_position, \
                 c.id AS c_id, c.parent_id AS c_parent_id, c.name AS c_name, c.slug AS c_slug, \
                 c.path AS c_path, c.position AS c_position, c.created_at AS c_created_at, \
                 c.updated_at AS c_updated_at, c.archived_at AS c_archived_at, \
                 c.change_position AS c_change_position, \
                 ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY {column} {direction}, p.id {direction}) AS rn \
               FROM categories a \
               JOIN categories c ON c.path LIKE a.path || '%' \
               JOIN products p ON p.category_id = c.id \
               WHERE {conditions}\
             ) t WHERE t.rn <= ? ORDER BY t.anchor_id, t.rn",
            conditions = conditions.join(" AND "),
        );
        match conn {
            DbConnection::Sqlite(_) => sql,
            #[cfg(feature = "postgres")]
            DbConnection::Pg(_) => crate::db::number_placeholders(&sql),
        }
    }

    fn placeholders(count: usize) -> String {
        vec!["?"; count].join(", ")
    }

    /// Binds, in the order `build` placed them: statuses, after, before, row limit.
    pub(super) fn bind_rest<'f, DB>(
        mut query: BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>,
        visibility: CatalogVisibility,
        window: &Window,
    ) -> diesel::QueryResult<BoxedSqlQuery<'f, DB, diesel::query_builder::SqlQuery>>
    where
        DB: Backend + HasSqlType<BigInt> + HasSqlType<Text> + HasSqlType<Timestamp>,
        i64: ToSql<BigInt, DB>,
        String: ToSql<Text, DB>,
        ProductStatus: ToSql<Text, DB>,
        chrono::NaiveDateTime: ToSql<Timestamp, DB>,
    {
        if visibility == CatalogVisibility::Storefront {
            for status in visible_statuses(visibility) {
                query = query.bind::<Text, _>(*status);
            }
        }
        for key in [&window.after, &window.before].into_iter().flatten() {
            if key.field() != window.field {
                return Err(diesel::result::Error::QueryBuilderError(
                    "cursor from another sort order".into(),
                ));
            }
            query = match key.clone() {
                ProductKey::Name(value, id) => query.bind::<Text, _>(value).bind::<BigInt, _>(id),
                ProductKey::Price(value, id) | ProductKey::UpdatedAt(value, id) => {
                    query.bind::<BigInt, _>(value).bind::<BigInt, _>(id)
                }
                ProductKey::CreatedAt(value, id) => {
                    query.bind::<Timestamp, _>(value).bind::<BigInt, _>(id)
                }
            };
        }
        Ok(query.bind::<BigInt, _>(window.limit))
    }
}

/// Inserts a product and returns its id.
pub fn insert(conn: &mut DbConnection, new: &NewProduct) -> QueryResult<ProductId> {
    diesel::insert_into(products::table)
        .values(new)
        .returning(products::id)
        .get_result(conn)
}

/// How many products there are.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    products::table.count().get_result(conn)
}

/// The product row with this id, whatever its status.
pub fn by_id(conn: &mut DbConnection, id: ProductId) -> QueryResult<Option<Product>> {
    products::table
        .find(id)
        .select(Product::as_select())
        .first(conn)
        .optional()
}

/// The first product `$query` finds, its row locked until the transaction ends (PostgreSQL: `FOR
/// UPDATE`; SQLite: the write transaction already holds the database).
macro_rules! first_locked {
    ($conn:expr, $query:expr) => {{
        match $conn {
            DbConnection::Sqlite(c) => $query.select(Product::as_select()).first(c).optional(),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(c) => $query
                .select(Product::as_select())
                .for_update()
                .first(c)
                .optional(),
        }
    }};
}

/// The product with this id, its row locked until the transaction ends, so that writes counting
/// its variants or images take turns. Call inside a write transaction.
pub fn lock(conn: &mut DbConnection, id: ProductId) -> QueryResult<Option<Product>> {
    first_locked!(conn, products::table.find(id))
}

/// The product a partner system knows by `external_ref`, whatever its status, its row locked
/// until the transaction ends. Call inside a write transaction.
pub fn lock_by_external_ref(
    conn: &mut DbConnection,
    external_ref: &str,
) -> QueryResult<Option<Product>> {
    first_locked!(
        conn,
        products::table.filter(products::external_ref.eq(external_ref))
    )
}

/// The fields staff edit on a product.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = products, treat_none_as_null = true)]
pub struct ProductChanges {
    pub category_id: Option<CategoryId>,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub status: ProductStatus,
    pub price_min: i64,
    pub price_max: i64,
    pub search_text: String,
    pub updated_at: NaiveDateTime,
}

/// Replaces a product's editable fields and the values derived from its variants.
pub fn update(
    conn: &mut DbConnection,
    id: ProductId,
    changes: &ProductChanges,
) -> QueryResult<usize> {
    diesel::update(products::table.find(id))
        .set(changes)
        .execute(conn)
}

/// Records that a product changed at `now` through something it holds (an image).
pub fn mark_updated(
    conn: &mut DbConnection,
    id: ProductId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(products::table.find(id))
        .set(products::updated_at.eq(now))
        .execute(conn)
}
