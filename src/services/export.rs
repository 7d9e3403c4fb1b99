//! Bulk export as JSON Lines: every product, variant, order (with its lines) or account, one
//! JSON object per line, each shaped as the GraphQL API shapes that type (the same field names,
//! global ids, `Money` as `{amount, currencyCode, minorUnits}`, personal data on orders only for
//! callers who may see it).
//!
//! Memory stays constant however large the shop: an [`Exporter`] reads one keyset batch at a
//! time (by id, one statement per batch, one more for the lines of a batch of orders), each
//! through the database gate, and hands back its lines before reading the next. Nothing here
//! knows HTTP: `GET /export/{kind}.jsonl` streams the batches, and a command-line export can
//! write them to a file ([`Exporter::next_batch_blocking`]).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::db::models::export::{self, BatchWindow};
use crate::db::models::order::{self, Order, OrderLine};
use crate::db::models::product::Product;
use crate::db::models::user::User;
use crate::db::models::variant::Variant;
use crate::db::{Db, DbConnection};
use crate::domain::accounts::Role;
use crate::domain::address::AddressParts;
use crate::domain::catalog::ProductStatus;
use crate::domain::ids::OrderId;
use crate::domain::money::Currency;
use crate::domain::orders::{OrderStatus, order_number};
use crate::domain::partners::Scope;
use crate::error::{AppError, AppResult};
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::services::cart::stored_address;

/// Rows per batch unless configured otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 1_000;

/// What can be exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// Products, every status (`Product`).
    Products,
    /// Variants, archived ones too (`Variant`).
    Variants,
    /// Orders with their lines (`Order`).
    Orders,
    /// Accounts, every role (`Account`, as `customers` lists them).
    Customers,
}

impl ExportKind {
    /// Every kind, by name.
    pub const ALL: [ExportKind; 4] = [
        ExportKind::Products,
        ExportKind::Variants,
        ExportKind::Orders,
        ExportKind::Customers,
    ];

    /// The kind's name, as in `/export/<name>.jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Variants => "variants",
            Self::Orders => "orders",
            Self::Customers => "customers",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The scope a partner key needs to export this kind (staff need none).
    pub fn scope(self) -> Scope {
        match self {
            Self::Products | Self::Variants => Scope::ReadProducts,
            Self::Orders => Scope::ReadOrders,
            Self::Customers => Scope::ReadCustomers,
        }
    }
}

/// What to export, and for whom.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    /// Which rows.
    pub kind: ExportKind,
    /// Rows per batch (per statement).
    pub batch_size: u32,
    /// The shop's currency (products and variants are priced in it).
    pub currency: Currency,
    /// Whether orders carry their customers' personal data (email, account, whole address).
    pub personal_data: bool,
    /// Only rows changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
}

/// Reads an export batch by batch.
pub struct Exporter {
    db: Db,
    options: ExportOptions,
    /// The id of the last row read.
    after: i64,
    done: bool,
    rows: u64,
    batches: u64,
}

/// One batch: its lines, how many rows, the last row's id.
struct Batch {
    lines: Vec<u8>,
    rows: usize,
    last_id: Option<i64>,
}

impl Exporter {
    /// An export of `options.kind` through `db`, from the first row.
    pub fn new(db: Db, options: ExportOptions) -> Self {
        Self {
            db,
            options,
            after: 0,
            done: false,
            rows: 0,
            batches: 0,
        }
    }

    /// The lines of the next batch (each ending in `\n`); `None` once every row was read. The
    /// database is read here, on a blocking thread, and nowhere else: nothing is read ahead.
    pub async fn next_batch(&mut self) -> AppResult<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let (options, after) = (self.options, self.after);
        let batch = self
            .db
            .run(move |conn| read_batch(conn, &options, after))
            .await;
        self.take(batch)
    }

    /// [`Self::next_batch`] on the current thread, for the command line.
    pub fn next_batch_blocking(&mut self) -> AppResult<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let (options, after) = (self.options, self.after);
        let batch = self
            .db
            .run_blocking(|conn| read_batch(conn, &options, after));
        self.take(batch)
    }

    fn take(&mut self, batch: AppResult<Batch>) -> AppResult<Option<Vec<u8>>> {
        let batch = batch.inspect_err(|_| self.done = true)?;
        self.batches += 1;
        self.rows += batch.rows as u64;
        // A short batch is the last: no statement is spent learning that nothing follows.
        self.done = batch.rows < self.options.batch_size as usize;
        match batch.last_id {
            Some(last) => {
                self.after = last;
                Ok(Some(batch.lines))
            }
            None => Ok(None),
        }
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Batches read so far.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// What is being exported.
    pub fn options(&self) -> &ExportOptions {
        &self.options
    }
}

/// Reads the batch after the row `after` and writes its lines.
fn read_batch(conn: &mut DbConnection, options: &ExportOptions, after: i64) -> AppResult<Batch> {
    let window = BatchWindow {
        after,
        limit: i64::from(options.batch_size),
        updated_since: options.updated_since,
    };
    match options.kind {
        ExportKind::Products => {
            let rows = export::products(conn, window)?;
            lines(
                &rows,
                |p| p.id.0,
                |p| Ok(ProductJson::new(p, options.currency)),
            )
        }
        ExportKind::Variants => {
            let rows = export::variants(conn, window)?;
            lines(
                &rows,
                |v| v.id.0,
                |v| Ok(VariantJson::new(v, options.currency)),
            )
        }
        ExportKind::Orders => {
            let rows = export::orders(conn, window)?;
            let ids: Vec<OrderId> = rows.iter().map(|o| o.id).collect();
            let mut lines_of: HashMap<OrderId, Vec<OrderLine>> = HashMap::new();
            if !ids.is_empty() {
                for line in order::lines_of(conn, &ids)? {
                    lines_of.entry(line.order_id).or_default().push(line);
                }
            }
            lines(
                &rows,
                |o| o.id.0,
                |o| {
                    let order_lines = lines_of.get(&o.id).map_or(&[][..], Vec::as_slice);
                    OrderJson::new(o, order_lines, options)
                },
            )
        }
        ExportKind::Customers => {
            let rows = export::accounts(conn, window)?;
            lines(&rows, |a| a.id.0, |a| Ok(AccountJson::new(a)))
        }
    }
}

/// Writes one JSON line per row, shaped by `shape`.
fn lines<'r, R, J: Serialize>(
    rows: &'r [R],
    id: impl Fn(&R) -> i64,
    shape: impl Fn(&'r R) -> AppResult<J>,
) -> AppResult<Batch> {
    let mut out = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        serde_json::to_writer(&mut out, &shape(row)?).map_err(AppError::internal)?;
        out.push(b'\n');
    }
    Ok(Batch {
        lines: out,
        rows: rows.len(),
        last_id: rows.last().map(id),
    })
}

fn gid(kind: NodeKind, id: impl Into<i64>) -> String {
    GlobalId::new(kind, id).to_string()
}

/// A time as the GraphQL `DateTime` scalar writes it (RFC 3339).
fn time(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339()
}

/// A reference to another object: `{"id": "gid://bazaar/…"}`, as a GraphQL client asking for
/// `category { id }` gets.
#[derive(Serialize)]
struct Ref {
    id: String,
}

impl Ref {
    fn to(kind: NodeKind, id: impl Into<i64>) -> Self {
        Self { id: gid(kind, id) }
    }
}

/// `Money`: `{amount, currencyCode, minorUnits}`.
#[derive(Clone, Copy)]
struct MoneyJson {
    minor_units: i64,
    currency: Currency,
}

impl Serialize for MoneyJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut money = serializer.serialize_struct("Money", 3)?;
        money.serialize_field("amount", &self.currency.format(self.minor_units))?;
        money.serialize_field("currencyCode", self.currency.code())?;
        money.serialize_field("minorUnits", &self.minor_units)?;
        money.end()
    }
}

fn money(minor_units: i64, currency: Currency) -> MoneyJson {
    MoneyJson {
        minor_units,
        currency,
    }
}

/// `Product`, with its category by id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductJson<'a> {
    id: String,
    external_ref: Option<&'a str>,
    name: &'a str,
    slug: &'a str,
    description: &'a str,
    status: ProductStatus,
    category: Option<Ref>,
    price_range: PriceRangeJson,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PriceRangeJson {
    min_variant_price: MoneyJson,
    max_variant_price: MoneyJson,
}

impl<'a> ProductJson<'a> {
    fn new(row: &'a Product, currency: Currency) -> Self {
        Self {
            id: gid(NodeKind::Product, row.id),
            external_ref: row.external_ref.as_deref(),
            name: &row.name,
            slug: &row.slug,
            description: &row.description,
            status: row.status,
            category: row.category_id.map(|id| Ref::to(NodeKind::Category, id)),
            price_range: PriceRangeJson {
                min_variant_price: money(row.price_min, currency),
                max_variant_price: money(row.price_max, currency),
            },
            created_at: time(row.created_at),
            updated_at: time(row.updated_at),
        }
    }
}

/// `Variant`, with its product by id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VariantJson<'a> {
    id: String,
    sku: &'a str,
    title: &'a str,
    selected_options: serde_json::Value,
    price: MoneyJson,
    compare_at_price: Option<MoneyJson>,
    weight_grams: i64,
    in_stock: bool,
    stock: i32,
    archived_at: Option<String>,
    product: Ref,
}

impl<'a> VariantJson<'a> {
    fn new(row: &'a Variant, currency: Currency) -> Self {
        Self {
            id: gid(NodeKind::Variant, row.id),
            sku: &row.sku,
            title: &row.title,
            selected_options: serde_json::from_str(&row.options)
                .unwrap_or_else(|_| serde_json::json!([])),
            price: money(row.price, currency),
            compare_at_price: row.compare_at_price.map(|price| money(price, currency)),
            weight_grams: row.weight_grams,
            in_stock: row.stock > 0,
            stock: row.stock,
            archived_at: row.archived_at.map(time),
            product: Ref::to(NodeKind::Product, row.product_id),
        }
    }
}

/// `Order`, with its lines and its customer by id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderJson<'a> {
    id: String,
    number: String,
    status: OrderStatus,
    email: Option<&'a str>,
    customer: Option<Ref>,
    lines: Vec<OrderLineJson<'a>>,
    totals: TotalsJson,
    discount_code: Option<&'a str>,
    shipping_address: Option<AddressParts>,
    created_at: String,
}

/// `OrderLine`, with its variant by id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderLineJson<'a> {
    quantity: i32,
    product_name: &'a str,
    variant_title: &'a str,
    sku: &'a str,
    unit_price: MoneyJson,
    line_total: MoneyJson,
    variant: Option<Ref>,
}

/// `PriceTotals`.
#[derive(Serialize)]
struct TotalsJson {
    subtotal: MoneyJson,
    discount: MoneyJson,
    shipping: MoneyJson,
    tax: MoneyJson,
    total: MoneyJson,
}

impl<'a> OrderJson<'a> {
    fn new(row: &'a Order, lines: &'a [OrderLine], options: &ExportOptions) -> AppResult<Self> {
        let personal = options.personal_data;
        // The order's own currency, or the shop's if it cannot be read (as `Order` does).
        let currency = Currency::parse(&row.currency).unwrap_or(options.currency);
        let money = |minor_units| money(minor_units, currency);
        let shipping_address = row.shipping_address.open()?;
        Ok(Self {
            id: gid(NodeKind::Order, row.id),
            number: order_number(row.id),
            status: row.status,
            email: personal.then_some(row.email.as_str()),
            customer: row
                .user_id
                .filter(|_| personal)
                .map(|id| Ref::to(NodeKind::Account, id)),
            lines: lines
                .iter()
                .map(|line| OrderLineJson {
                    quantity: line.quantity,
                    product_name: &line.product_name,
                    variant_title: &line.variant_title,
                    sku: &line.sku,
                    unit_price: money(line.unit_price),
                    line_total: money(line.line_total),
                    variant: line.variant_id.map(|id| Ref::to(NodeKind::Variant, id)),
                })
                .collect(),
            totals: TotalsJson {
                subtotal: money(row.subtotal),
                discount: money(row.discount_total),
                shipping: money(row.shipping_total),
                tax: money(row.tax_total),
                total: money(row.total),
            },
            discount_code: row.discount_code.as_deref(),
            shipping_address: stored_address(&shipping_address)
                .map(|parts| parts.as_seen(personal)),
            created_at: time(row.created_at),
        })
    }
}

/// `Account`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountJson<'a> {
    id: String,
    email: &'a str,
    email_verified: bool,
    first_name: &'a str,
    last_name: &'a str,
    role: Role,
    created_at: String,
}

impl<'a> AccountJson<'a> {
    fn new(row: &'a User) -> Self {
        Self {
            id: gid(NodeKind::Account, row.id),
            email: &row.email,
            email_verified: row.email_verified_at.is_some(),
            first_name: &row.first_name,
            last_name: &row.last_name,
            role: row.role,
            created_at: time(row.created_at),
        }
    }
}
