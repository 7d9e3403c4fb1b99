//! The event log (transactional outbox): [`recorded_transaction`] gives a writing transaction a
//! [`Changes`] collector and, as its last step, writes the events collected and stamps the
//! changed rows with their position; payloads are the subjects as the GraphQL API shows them
//! (see [`PAYLOAD_FRAGMENTS`]); [`page`] reads the log for partners and staff; [`prune`]
//! removes what is older than the retention.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDateTime, Utc};
use serde_json::{Value, json};

use crate::db::models::collection::{self, Collection};
use crate::db::models::event::{self, EventRow, NewEvent, Tracked};
use crate::db::models::order::{NewOrderLine, Order, OrderLine};
use crate::db::models::product::{self, Product};
use crate::db::models::product_review::ReviewRow;
use crate::db::models::user::User;
use crate::db::models::variant::{self, Variant};
use crate::db::models::{fulfillment, image};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::{Principal, Role};
use crate::domain::catalog::CatalogVisibility;
use crate::domain::events::{EventType, StockChangeReason, Subject, redact_order};
use crate::domain::ids::{OrderId, ProductId, VariantId, global_id};
use crate::domain::money::Currency;
use crate::domain::orders::{OrderStatus, order_number};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::reviews::author_name;
use crate::error::{AppError, AppResult};
use crate::services::cart::stored_address;

/// The GraphQL selection each payload answers, per subject kind: an event's payload is exactly
/// what `node(id:)` with this fragment returned for staff at the moment of the change (a test
/// checks it). `inventory.changed` carries `{ variant { id sku } previousQuantity quantity reason
/// order { id } }` (see the schema's `EventType`).
pub const PAYLOAD_FRAGMENTS: &str = r#"
fragment MoneyParts on Money { amount currencyCode minorUnits }
fragment AddressParts on PostalAddress {
  firstName lastName company line1 line2 city region postalCode countryCode phone
}
fragment VariantPayload on Variant {
  id sku title archivedAt selectedOptions { name value }
  price { ...MoneyParts } compareAtPrice { ...MoneyParts } weightGrams stock product { id }
  updatedAt
}
fragment ProductPayload on Product {
  id name slug description status category { id }
  images { id url altText position } variants { ...VariantPayload }
  createdAt updatedAt
}
fragment OrderPayload on Order {
  id number status email customer { id } discountCode shippingAddress { ...AddressParts }
  createdAt updatedAt
  totals { subtotal { ...MoneyParts } discount { ...MoneyParts } shipping { ...MoneyParts }
           tax { ...MoneyParts } total { ...MoneyParts } }
  lines { quantity fulfilledQuantity productName variantTitle sku unitPrice { ...MoneyParts }
          lineTotal { ...MoneyParts } variant { id } }
  fulfillments { id carrier trackingNumber trackingUrl createdAt lines { quantity line { sku } } }
}
fragment AccountPayload on Account {
  id email emailVerified firstName lastName role createdAt updatedAt
}
fragment ReviewPayload on Review {
  id rating title body verifiedPurchase status authorName createdAt product { id }
}
fragment CollectionPayload on Collection {
  id title slug description published
  products(first: 100) { edges { node { id } } pageInfo { hasNextPage } }
  createdAt updatedAt
}
"#;

/// An event collected during a transaction, written when it commits.
#[derive(Debug)]
struct PendingEvent {
    kind: EventType,
    subject: Subject,
    payload: String,
}

/// What a writing transaction changed: the events it raises and the rows whose change position
/// moves. Filled by the transaction's work; written by [`recorded_transaction`].
#[derive(Debug)]
pub struct Changes {
    currency: Currency,
    events: Vec<PendingEvent>,
    touched: BTreeMap<Tracked, Vec<i64>>,
}

impl Changes {
    fn new(currency: Currency) -> Self {
        Self {
            currency,
            events: Vec::new(),
            touched: BTreeMap::new(),
        }
    }

    /// The store currency (for payloads' money).
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Raises `kind` about `subject` with `payload`. Writing the event stamps the subject's row
    /// with its position (a trigger: see the `event_stamps` migration).
    pub fn raise(&mut self, kind: EventType, subject: Subject, payload: &Value) {
        self.events.push(PendingEvent {
            kind,
            subject,
            payload: payload.to_string(),
        });
    }

    /// Marks a row as changed (so change feeds list it again) without raising an event about
    /// it.
    pub fn touch(&mut self, table: Tracked, id: impl Into<i64>) {
        let id = id.into();
        let ids = self.touched.entry(table).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Raises `kind` about the order `order_id` as it is now in this transaction.
    pub fn order(
        &mut self,
        conn: &mut DbConnection,
        kind: EventType,
        order_id: OrderId,
    ) -> AppResult<()> {
        let order = crate::db::models::order::by_ids(conn, &[order_id])?
            .pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("order {order_id} vanished")))?;
        let lines = crate::db::models::order::lines_of(conn, &[order_id])?;
        let snapshot: Vec<LineSnapshot<'_>> = lines.iter().map(LineSnapshot::from).collect();
        let mut payload = order_payload(&order, &snapshot, self.currency)?;
        payload["fulfillments"] = fulfillments_payload(conn, &order, &lines)?;
        self.raise(kind, Subject::Order(order_id.0), &payload);
        Ok(())
    }

    /// Raises `kind` about the product `product_id` as it is now in this transaction.
    pub fn product(
        &mut self,
        conn: &mut DbConnection,
        kind: EventType,
        product_id: ProductId,
    ) -> AppResult<()> {
        let payload = product_payload(conn, product_id, self.currency)?;
        self.raise(kind, Subject::Product(product_id.0), &payload);
        Ok(())
    }

    /// Raises `variant.updated` about `variant` (as it is now in this transaction).
    pub fn variant_updated(&mut self, variant: &Variant) {
        let payload = variant_payload(variant, self.currency);
        self.raise(
            EventType::VariantUpdated,
            Subject::Variant(variant.id.0),
            &payload,
        );
    }

    /// Raises `inventory.changed`: the variant's stock went from `before` to `after`, for
    /// `reason` (and, when an order moved it, that order).
    pub fn stock_changed(&mut self, change: StockChange<'_>) {
        let payload = json!({
            "variant": { "id": global_id("Variant", change.variant_id), "sku": change.sku },
            "previousQuantity": change.before,
            "quantity": change.after,
            "reason": change.reason.as_str(),
            "order": change.order_id.map(|id| json!({ "id": global_id("Order", id) })),
        });
        self.raise(
            EventType::InventoryChanged,
            Subject::Variant(change.variant_id.0),
            &payload,
        );
    }

    /// Raises `kind` about `collection` (as it is now in this transaction; for
    /// `collection.deleted`, just before) and marks its row changed (unless deleted).
    pub fn collection(
        &mut self,
        conn: &mut DbConnection,
        kind: EventType,
        collection: &Collection,
    ) -> AppResult<()> {
        let payload = collection_payload(conn, collection)?;
        self.raise(kind, Subject::Collection(collection.id.0), &payload);
        if kind != EventType::CollectionDeleted {
            self.touch(Tracked::Collections, collection.id);
        }
        Ok(())
    }

    /// Raises `customer.created` about `account`.
    pub fn customer_created(&mut self, account: &User) {
        let payload = account_payload(account);
        self.raise(
            EventType::CustomerCreated,
            Subject::Account(account.id.0),
            &payload,
        );
    }

    /// Raises `review.approved` about `review`.
    pub fn review_approved(&mut self, review: &ReviewRow) {
        let payload = review_payload(review);
        self.raise(
            EventType::ReviewApproved,
            Subject::Review(review.id.0),
            &payload,
        );
    }

    /// Writes what was collected: positions (the counter's lock, held to commit), events (which
    /// stamp their subjects), and the change position of each row touched without an event.
    /// Nothing when nothing changed.
    ///
    /// Returns whether the caller must flush the commit ([`event::flush_commits`]): at the top
    /// level on PostgreSQL, the commit does not wait for the disk while it holds the counter.
    fn write(self, conn: &mut DbConnection) -> Result<bool, diesel::result::Error> {
        if self.events.is_empty() && self.touched.is_empty() {
            return Ok(false);
        }
        let top_level = crate::db::transaction_depth(conn)? == 1;
        let events: Vec<NewEvent<'_>> = self
            .events
            .iter()
            .map(|pending| {
                let (subject_type, subject_id) = pending.subject.parts();
                NewEvent {
                    event_type: pending.kind,
                    subject_type,
                    subject_id,
                    payload: &pending.payload,
                }
            })
            .collect();
        let (last, flush_after_commit) =
            event::append(conn, &events, Utc::now().naive_utc(), top_level)?;
        for (table, ids) in &self.touched {
            event::stamp(conn, *table, ids, last)?;
        }
        Ok(flush_after_commit)
    }
}

/// A change of a variant's stock, for [`Changes::stock_changed`].
#[derive(Debug, Clone, Copy)]
pub struct StockChange<'a> {
    pub variant_id: VariantId,
    pub sku: &'a str,
    pub before: i32,
    pub after: i32,
    pub reason: StockChangeReason,
    pub order_id: Option<OrderId>,
}

/// Runs `work` in a writing transaction (see [`write_transaction`]) with a [`Changes`]
/// collector, and writes what it collected as the transaction's last step, so an event exists
/// exactly when its change committed. On PostgreSQL a transaction that wrote events commits
/// without waiting for the disk and is flushed after ([`event::append`]): an error of
/// that flush means the change committed but may not be on disk, as a lost `COMMIT` reply would.
pub fn recorded_transaction<T, E>(
    conn: &mut DbConnection,
    currency: Currency,
    work: impl FnOnce(&mut DbConnection, &mut Changes) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let mut flush_after_commit = false;
    let value = write_transaction(conn, |conn| {
        let mut changes = Changes::new(currency);
        let value = work(conn, &mut changes)?;
        flush_after_commit = changes.write(conn)?;
        Ok::<T, E>(value)
    })?;
    if flush_after_commit {
        event::flush_commits(conn)?;
    }
    Ok(value)
}

/// An order line as payloads show it: from a stored line or one being written.
#[derive(Debug, Clone, Copy)]
pub struct LineSnapshot<'a> {
    quantity: i32,
    fulfilled_quantity: i32,
    product_name: &'a str,
    variant_title: &'a str,
    sku: &'a str,
    unit_price: i64,
    line_total: i64,
    variant_id: Option<VariantId>,
}

impl<'a> From<&'a OrderLine> for LineSnapshot<'a> {
    fn from(line: &'a OrderLine) -> Self {
        Self {
            quantity: line.quantity,
            fulfilled_quantity: line.fulfilled_quantity,
            product_name: &line.product_name,
            variant_title: &line.variant_title,
            sku: &line.sku,
            unit_price: line.unit_price,
            line_total: line.line_total,
            variant_id: line.variant_id,
        }
    }
}

impl<'a> From<&'a NewOrderLine> for LineSnapshot<'a> {
    fn from(line: &'a NewOrderLine) -> Self {
        Self {
            quantity: line.quantity,
            fulfilled_quantity: 0,
            product_name: &line.product_name,
            variant_title: &line.variant_title,
            sku: &line.sku,
            unit_price: line.unit_price,
            line_total: line.line_total,
            variant_id: line.variant_id,
        }
    }
}

fn money(minor_units: i64, currency: Currency) -> Value {
    json!({
        "amount": currency.format(minor_units),
        "currencyCode": currency.code(),
        "minorUnits": minor_units,
    })
}

fn time(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339()
}

fn node(kind: &str, id: Option<impl Into<i64>>) -> Value {
    id.map_or(Value::Null, |id| json!({ "id": global_id(kind, id) }))
}

/// An order as [`PAYLOAD_FRAGMENTS`]' `OrderPayload` gives it to staff.
pub fn order_payload(
    order: &Order,
    lines: &[LineSnapshot<'_>],
    fallback: Currency,
) -> AppResult<Value> {
    let currency = Currency::parse(&order.currency).unwrap_or(fallback);
    let stored = order.shipping_address.open()?;
    let address = stored_address(&stored);
    Ok(json!({
        "id": global_id("Order", order.id),
        "number": order_number(order.id),
        "status": order.status,
        "email": order.email,
        "customer": node("Account", order.user_id),
        "discountCode": order.discount_code,
        "shippingAddress": address,
        "createdAt": time(order.created_at),
        "updatedAt": time(order.updated_at),
        "totals": {
            "subtotal": money(order.subtotal, currency),
            "discount": money(order.discount_total, currency),
            "shipping": money(order.shipping_total, currency),
            "tax": money(order.tax_total, currency),
            "total": money(order.total, currency),
        },
        "lines": lines.iter().map(|line| json!({
            "quantity": line.quantity,
            "fulfilledQuantity": line.fulfilled_quantity,
            "productName": line.product_name,
            "variantTitle": line.variant_title,
            "sku": line.sku,
            "unitPrice": money(line.unit_price, currency),
            "lineTotal": money(line.line_total, currency),
            "variant": node("Variant", line.variant_id),
        })).collect::<Vec<_>>(),
        "fulfillments": [],
    }))
}

/// The fulfilments of `order` (whose lines are `lines`) as `OrderPayload` gives them: no
/// statement for an order that was never paid, two otherwise.
fn fulfillments_payload(
    conn: &mut DbConnection,
    order: &Order,
    lines: &[OrderLine],
) -> AppResult<Value> {
    if matches!(
        order.status,
        OrderStatus::PendingPayment | OrderStatus::Cancelled
    ) {
        return Ok(json!([]));
    }
    let sku_of = |line_id: i64| {
        lines
            .iter()
            .find(|line| line.id == line_id)
            .map(|line| line.sku.as_str())
    };
    Ok(fulfillment::with_lines_of_orders(conn, &[order.id])?
        .iter()
        .map(|(f, shipped)| {
            json!({
                "id": global_id("Fulfillment", f.id),
                "carrier": f.carrier,
                "trackingNumber": f.tracking_number,
                "trackingUrl": f.tracking_url,
                "createdAt": time(f.created_at),
                "lines": shipped
                    .iter()
                    .map(|line| json!({
                        "quantity": line.quantity,
                        "line": { "sku": sku_of(line.order_line_id) },
                    }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect())
}

/// A variant as `VariantPayload` gives it to staff.
pub fn variant_payload(variant: &Variant, currency: Currency) -> Value {
    let options: Value = serde_json::from_str(&variant.options).unwrap_or(json!([]));
    json!({
        "id": global_id("Variant", variant.id),
        "sku": variant.sku,
        "title": variant.title,
        "archivedAt": variant.archived_at.map(time),
        "selectedOptions": options,
        "price": money(variant.price, currency),
        "compareAtPrice": variant.compare_at_price.map(|price| money(price, currency)),
        "weightGrams": variant.weight_grams,
        "stock": variant.stock,
        "product": node("Product", Some(variant.product_id)),
        "updatedAt": time(variant.updated_at),
    })
}

/// The product `product_id` as `ProductPayload` gives it to staff.
pub fn product_payload(
    conn: &mut DbConnection,
    product_id: ProductId,
    currency: Currency,
) -> AppResult<Value> {
    let product: Product = product::by_id(conn, product_id)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("product {product_id} vanished")))?;
    let variants = variant::for_products(conn, &[product_id], CatalogVisibility::Everything)?;
    let images = image::for_products(conn, &[product_id])?;
    Ok(json!({
        "id": global_id("Product", product.id),
        "name": product.name,
        "slug": product.slug,
        "description": product.description,
        "status": product.status,
        "category": node("Category", product.category_id),
        "images": images.iter().map(|image| json!({
            "id": global_id("Image", image.id),
            "url": image.url,
            "altText": image.alt_text,
            "position": image.position,
        })).collect::<Vec<_>>(),
        "variants": variants.iter().map(|v| variant_payload(v, currency)).collect::<Vec<_>>(),
        "createdAt": time(product.created_at),
        "updatedAt": time(product.updated_at),
    }))
}

/// Products a collection's payload lists (as `products(first: 100)`).
const COLLECTION_PAYLOAD_PRODUCTS: usize = 100;

/// A collection as `CollectionPayload` gives it to staff: its first products in its order.
pub fn collection_payload(conn: &mut DbConnection, collection: &Collection) -> AppResult<Value> {
    let members = collection::members(conn, collection.id)?;
    let listed: Vec<Value> = members
        .iter()
        .take(COLLECTION_PAYLOAD_PRODUCTS)
        .map(|(product, _)| json!({ "node": node("Product", Some(*product)) }))
        .collect();
    Ok(json!({
        "id": global_id("Collection", collection.id),
        "title": collection.title,
        "slug": collection.slug,
        "description": collection.description,
        "published": collection.published,
        "products": {
            "edges": listed,
            "pageInfo": { "hasNextPage": members.len() > COLLECTION_PAYLOAD_PRODUCTS },
        },
        "createdAt": time(collection.created_at),
        "updatedAt": time(collection.updated_at),
    }))
}

/// An account as `AccountPayload` gives it to staff.
pub fn account_payload(account: &User) -> Value {
    json!({
        "id": global_id("Account", account.id),
        "email": account.email,
        "emailVerified": account.email_verified_at.is_some(),
        "firstName": account.first_name,
        "lastName": account.last_name,
        "role": account.role,
        "createdAt": time(account.created_at),
        "updatedAt": time(account.updated_at),
    })
}

/// A review as `ReviewPayload` gives it to staff.
pub fn review_payload(review: &ReviewRow) -> Value {
    json!({
        "id": global_id("Review", review.id),
        "rating": review.rating,
        "title": review.title,
        "body": review.body,
        "verifiedPurchase": review.verified_purchase,
        "status": review.status,
        "authorName": author_name(&review.author_first_name, &review.author_last_name),
        "createdAt": time(review.created_at),
        "product": node("Product", Some(review.product_id)),
    })
}

/// An event as a reader gets it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The position in the log.
    pub position: i64,
    pub kind: EventType,
    pub subject_type: String,
    pub subject_id: i64,
    pub payload: Value,
    pub occurred_at: NaiveDateTime,
}

impl Event {
    /// The stored row as `reader` may see it: order payloads lose their personal data when the
    /// reader may not see it. `None` for a kind this version does not know.
    pub fn read(row: EventRow, sees_personal_data: bool) -> Option<Self> {
        let kind: EventType = row.event_type.parse().ok()?;
        let mut payload: Value = serde_json::from_str(&row.payload).unwrap_or_default();
        if kind.carries_order() && !sees_personal_data {
            redact_order(&mut payload);
        }
        Some(Self {
            position: row.id,
            kind,
            subject_type: row.subject_type,
            subject_id: row.subject_id,
            payload,
            occurred_at: row.occurred_at,
        })
    }
}

/// The kinds of event `caller` reads: of `requested` (every kind when `None`), those it may
/// read. Staff read every kind; a partner reads the kinds its key's scopes allow; nobody else
/// reads the log. Asking for a kind one may not read is `FORBIDDEN`, as is a key that may read
/// none.
pub fn readable_kinds(
    caller: &Principal,
    requested: Option<&[EventType]>,
) -> AppResult<Vec<EventType>> {
    let may_read =
        |kind: &EventType| caller.has_role(Role::Staff) || caller.has_scope(kind.scope());
    let kinds: Vec<EventType> = match requested {
        Some(requested) => {
            if requested.len() > EventType::ALL.len() {
                return Err(AppError::bad_input(format!(
                    "`types` lists at most {} kinds",
                    EventType::ALL.len()
                )));
            }
            if !requested.iter().all(may_read) {
                return Err(AppError::Forbidden);
            }
            let mut kinds = requested.to_vec();
            kinds.sort_by_key(|kind| kind.as_str());
            kinds.dedup();
            kinds
        }
        None => EventType::ALL.into_iter().filter(may_read).collect(),
    };
    if kinds.is_empty() && requested.is_none() {
        return Err(AppError::Forbidden);
    }
    Ok(kinds)
}

/// A page of the log, oldest first, of the kinds `kinds` (already cut down to what the reader
/// may read).
pub async fn page(
    db: &Db,
    kinds: Vec<EventType>,
    sees_personal_data: bool,
    request: PageRequest<i64>,
) -> AppResult<Page<Event>> {
    let names: Vec<&'static str> = kinds.iter().map(|kind| kind.as_str()).collect();
    let limit = request.fetch_limit();
    let (after, before, from_end) = (request.after, request.before, request.from_end);
    let rows = db
        .run(move |conn| {
            let rows = event::window(conn, after, before, &names, limit, from_end)?;
            event::wait_until_durable(conn)?;
            Ok(rows)
        })
        .await?;
    let rows = rows
        .into_iter()
        .filter_map(|row| Event::read(row, sees_personal_data))
        .collect();
    Ok(request.into_page(rows))
}

/// Events deleted per statement when pruning.
const PRUNE_BATCH: i64 = 10_000;

/// Deletes the events older than `retention_days` days, in batches; how many.
pub fn prune_blocking(conn: &mut DbConnection, retention_days: u32) -> AppResult<usize> {
    let cutoff = Utc::now()
        .naive_utc()
        .checked_sub_days(Days::new(u64::from(retention_days)))
        .unwrap_or(NaiveDateTime::MIN);
    let mut pruned = 0;
    loop {
        let batch = event::prune(conn, cutoff, PRUNE_BATCH)?;
        pruned += batch;
        if batch < PRUNE_BATCH as usize {
            return Ok(pruned);
        }
    }
}

/// [`prune_blocking`] on a pooled connection.
pub async fn prune(db: &Db, retention_days: u32) -> AppResult<usize> {
    db.run(move |conn| prune_blocking(conn, retention_days))
        .await
}
