//! `Order` with its lines, events and payments, and the order connection. Built only for
//! callers who may see the order (its customer and staff).

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::order::{LineWithVariant, Order, OrderEvent, OrderLine, OrderWithCustomer};
use crate::db::models::payment::Payment;
use crate::db::models::user::User;
use crate::domain::bounds::MAX_CART_LINES;
use crate::domain::fulfillments::MAX_FULFILLMENTS_PER_ORDER;
use crate::domain::metadata::MetadataOwner;
use crate::domain::money::Currency;
use crate::domain::orders::order_number;
use crate::domain::partners::Scope;
use crate::domain::pricing::Totals;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::staff_or;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::{
    EventsOf, FulfillmentsOf, LinesOf, LinesWithVariantsOf, Loader, NotesOf, PaymentsOf, each_row,
};
use crate::graphql::pagination::list_size;
use crate::graphql::types::cart::{PriceTotals, totals_in};
use crate::graphql::types::fulfillment::{FulfillmentNode, OrderNoteNode};
use crate::graphql::types::metadata::{MetadataItem, metadata_of, metafield_of};
use crate::graphql::types::shipping::PostalAddressNode;
use crate::graphql::types::{AccountNode, Money, VariantNode};
use crate::services::cart::stored_address;
use crate::services::payments::flow::refunded_total;

/// Where an order is in its life.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::orders::OrderStatus")]
pub enum OrderStatus {
    /// Placed; stock reserved; waiting for payment.
    PendingPayment,
    /// Paid.
    Paid,
    /// Shipped.
    Fulfilled,
    /// Cancelled before payment; stock returned.
    Cancelled,
    /// Paid back.
    Refunded,
}

crate::connection_types!(
    OrderConnection,
    OrderEdge,
    OrderNode,
    "A page of orders.",
    "An order in a list."
);

/// A placed order.
pub struct OrderNode {
    row: Order,
    /// The customer's account, when it was loaded with the order.
    customer: Option<User>,
}

impl From<Order> for OrderNode {
    fn from(row: Order) -> Self {
        Self {
            row,
            customer: None,
        }
    }
}

impl From<OrderWithCustomer> for OrderNode {
    fn from((row, customer): OrderWithCustomer) -> Self {
        Self { row, customer }
    }
}

impl OrderNode {
    fn currency(&self, ctx: &Context<'_>) -> Result<Currency> {
        Currency::parse(&self.row.currency).or_else(|_| ctx.shop().map(|s| s.currency))
    }
}

/// Whether the caller may see customers' personal data.
fn sees_personal_data(ctx: &Context<'_>) -> Result<bool> {
    Ok(ctx.request()?.principal.sees_personal_data())
}

/// A placed order.
#[Object(name = "Order")]
impl OrderNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Order, self.row.id).into()
    }

    /// Metadata staff and partners attached, by key: the public entries, or with `private:
    /// true` the private ones (staff, and partner keys with `READ_ORDERS`). At most 50.
    async fn metadata(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Vec<MetadataItem>> {
        metadata_of(ctx, MetadataOwner::Order(self.row.id), private).await
    }

    /// The metadata value under `key`; null when there is none (see `metadata`).
    async fn metafield(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key, e.g. `erp.id`.")] key: String,
        #[graphql(
            desc = "Read the private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Option<String>> {
        metafield_of(ctx, MetadataOwner::Order(self.row.id), private, &key).await
    }

    /// The number customers see, e.g. `#1042`.
    async fn number(&self) -> String {
        order_number(self.row.id)
    }

    /// Where the order is in its life.
    async fn status(&self) -> OrderStatus {
        self.row.status.into()
    }

    /// Where the confirmation went. Null for a partner whose key lacks `READ_CUSTOMERS`
    /// (personal data).
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        Ok(sees_personal_data(ctx)?.then_some(self.row.email.as_str()))
    }

    /// The customer's account; null for guest orders, and for a partner whose key lacks
    /// `READ_CUSTOMERS`.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<AccountNode>> {
        let Some(user_id) = self
            .row
            .user_id
            .filter(|_| sees_personal_data(ctx).unwrap_or(false))
        else {
            return Ok(None);
        };
        if let Some(customer) = &self.customer {
            return Ok(Some(AccountNode::from(customer.clone())));
        }
        let loader = ctx.data::<Loader>()?;
        Ok(loader.load_one(user_id).await?.map(AccountNode::from))
    }

    /// What was bought, at the prices of the moment it was bought. At most 50: an order has as
    /// many lines as its cart had.
    async fn lines(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N lines: 0 to 50, by default 50 (every line).",
            default_with = "MAX_CART_LINES as i32"
        )]
        first: i32,
    ) -> Result<Vec<OrderLineNode>> {
        let size = list_size(first, MAX_CART_LINES)?;
        let loader = ctx.data::<Loader>()?;
        let currency = self.currency(ctx)?;
        let order = self.row.id;
        let lines = if ctx.look_ahead().field("variant").exists() {
            loader
                .load_one(LinesWithVariantsOf(order))
                .await?
                .map(SharedLines::WithVariants)
        } else {
            loader
                .load_one(LinesOf(order))
                .await?
                .map(SharedLines::Plain)
        };
        let Some(lines) = lines else {
            return Ok(Vec::new());
        };
        Ok((0..lines.len().min(size))
            .map(|index| OrderLineNode {
                lines: lines.clone(),
                index,
                currency,
            })
            .collect())
    }

    /// The totals charged.
    async fn totals(&self, ctx: &Context<'_>) -> Result<PriceTotals> {
        let totals = Totals {
            subtotal: self.row.subtotal,
            discount: self.row.discount_total,
            shipping: self.row.shipping_total,
            tax: self.row.tax_total,
            total: self.row.total,
            tax_lines: serde_json::from_str(&self.row.tax_lines).unwrap_or_default(),
            taxes_included: self.row.taxes_included,
        };
        Ok(totals_in(&totals, self.currency(ctx)?))
    }

    /// The title of the delivery option charged (`Cart.selectedDeliveryOption` at checkout);
    /// null for orders placed before delivery options existed.
    async fn shipping_method(&self) -> Option<&str> {
        self.row.shipping_method.as_deref()
    }

    /// Where the invoice goes, as the cart gave it; null when none was given, and for a partner
    /// whose key lacks `READ_CUSTOMERS`.
    async fn billing_address(&self, ctx: &Context<'_>) -> Result<Option<PostalAddressNode>> {
        if !sees_personal_data(ctx)? {
            return Ok(None);
        }
        let stored = self.row.billing_address.open().map_err(AppError::from)?;
        Ok(stored_address(&stored).map(PostalAddressNode))
    }

    /// The discount code used, if any.
    async fn discount_code(&self) -> Option<&str> {
        self.row.discount_code.as_deref()
    }

    /// Where the goods go. For a partner whose key lacks `READ_CUSTOMERS`, only `countryCode`,
    /// `postalCode` and `city` (what a fulfilment or tax system needs without personal data);
    /// the other parts are empty.
    async fn shipping_address(&self, ctx: &Context<'_>) -> Result<PostalAddressNode> {
        let stored = self.row.shipping_address.open().map_err(AppError::from)?;
        let parts = stored_address(&stored).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "order {} has no readable shipping address",
                self.row.id
            ))
        })?;
        Ok(PostalAddressNode(parts.as_seen(sees_personal_data(ctx)?)))
    }

    /// Every change of status, oldest first. At most 14: the order's creation, three changes of
    /// status and one reversal per payment attempt.
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<OrderEventNode>> {
        let loader = ctx.data::<Loader>()?;
        let events = loader.load_one(EventsOf(self.row.id)).await?;
        Ok(each_row(events).map(OrderEventNode::from).collect())
    }

    /// Every payment and refund attempt, oldest first. At most 25: 10 charge attempts, the
    /// automatic refund of each, and 5 refund attempts by staff.
    async fn payments(&self, ctx: &Context<'_>) -> Result<Vec<PaymentNode>> {
        let loader = ctx.data::<Loader>()?;
        let currency = self.currency(ctx)?;
        let payments = loader.load_one(PaymentsOf(self.row.id)).await?;
        Ok(each_row(payments)
            .map(|row| PaymentNode::new(row, currency))
            .collect())
    }

    /// The parts shipped so far, oldest first. At most 50.
    async fn fulfillments(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N fulfilments: 0 to 50, by default 50 (every one).",
            default_with = "MAX_FULFILLMENTS_PER_ORDER as i32"
        )]
        first: i32,
    ) -> Result<Vec<FulfillmentNode>> {
        let size = list_size(first, MAX_FULFILLMENTS_PER_ORDER)?;
        let loader = ctx.data::<Loader>()?;
        let currency = self.currency(ctx)?;
        let shipped = loader.load_one(FulfillmentsOf(self.row.id)).await?;
        Ok(each_row(shipped)
            .take(size)
            .map(|row| FulfillmentNode::new(row, currency))
            .collect())
    }

    /// Staff notes, oldest first: for staff and keys with `READ_ORDERS`, never for the
    /// customer. At most 100.
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<OrderNoteNode>> {
        staff_or(ctx, Scope::ReadOrders)?;
        let loader = ctx.data::<Loader>()?;
        let notes = loader.load_one(NotesOf(self.row.id)).await?;
        Ok(each_row(notes).map(OrderNoteNode::from).collect())
    }

    /// What has been paid back so far by `orderRefund`, in parts or at once (automatic refunds
    /// of unwanted charges are not counted: that money never paid for the order).
    async fn total_refunded(&self, ctx: &Context<'_>) -> Result<Money> {
        let loader = ctx.data::<Loader>()?;
        let payments = loader.load_one(PaymentsOf(self.row.id)).await?;
        let refunded = refunded_total(&payments.unwrap_or_default());
        Ok(Money::new(refunded, self.currency(ctx)?))
    }

    /// When it was placed.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When the order last changed: its status, a fulfilment, a payment attempt, or its
    /// customer (a guest order given to the account that verified its email).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.and_utc()
    }
}

/// A line of an order: a snapshot of what was bought.
pub struct OrderLineNode {
    /// The order's lines, shared by all of them; this one is at `index`.
    lines: SharedLines,
    index: usize,
    currency: Currency,
}

/// An order's lines as the request's loader holds them.
#[derive(Clone)]
enum SharedLines {
    /// Without their variants: a line's variant is loaded by id when asked for.
    Plain(Arc<[OrderLine]>),
    /// With their variants (`None` if gone or hidden from the caller).
    WithVariants(Arc<[LineWithVariant]>),
}

impl SharedLines {
    fn len(&self) -> usize {
        match self {
            Self::Plain(lines) => lines.len(),
            Self::WithVariants(lines) => lines.len(),
        }
    }
}

impl OrderLineNode {
    /// The line at `index` of an order's `lines` (read without their variants).
    pub(crate) fn plain(lines: Arc<[OrderLine]>, index: usize, currency: Currency) -> Self {
        Self {
            lines: SharedLines::Plain(lines),
            index,
            currency,
        }
    }

    fn row(&self) -> &OrderLine {
        match &self.lines {
            SharedLines::Plain(lines) => &lines[self.index],
            SharedLines::WithVariants(lines) => &lines[self.index].0,
        }
    }
}

/// A line of an order: a snapshot of what was bought.
#[Object(name = "OrderLine")]
impl OrderLineNode {
    /// Globally unique id: name the line in `fulfillmentCreate`.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::OrderLine, self.row().id).into()
    }

    /// Units bought.
    async fn quantity(&self) -> i32 {
        self.row().quantity
    }

    /// Units shipped so far, by the order's fulfilments.
    async fn fulfilled_quantity(&self) -> i32 {
        self.row().fulfilled_quantity
    }

    /// The product's name when bought.
    async fn product_name(&self) -> &str {
        &self.row().product_name
    }

    /// The variant's title when bought.
    async fn variant_title(&self) -> &str {
        &self.row().variant_title
    }

    /// The SKU when bought.
    async fn sku(&self) -> &str {
        &self.row().sku
    }

    /// Unit price paid.
    async fn unit_price(&self) -> Money {
        Money::new(self.row().unit_price, self.currency)
    }

    /// Unit price × quantity.
    async fn line_total(&self) -> Money {
        Money::new(self.row().line_total, self.currency)
    }

    /// The variant as it is now; null if it is gone or hidden.
    async fn variant(&self, ctx: &Context<'_>) -> Result<Option<VariantNode>> {
        if let SharedLines::WithVariants(lines) = &self.lines {
            return Ok(lines[self.index].1.clone().map(VariantNode::from));
        }
        let Some(id) = self.row().variant_id else {
            return Ok(None);
        };
        let loader = ctx.data::<Loader>()?;
        Ok(loader.load_one(id).await?.map(VariantNode::from))
    }
}

/// An entry of an order's history.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::orders::OrderEventType")]
pub enum OrderEventType {
    /// Placed.
    Created,
    /// Paid.
    Paid,
    /// Shipped.
    Fulfilled,
    /// Cancelled.
    Cancelled,
    /// Refunded in full.
    Refunded,
    /// A charge succeeded after the order stopped waiting for payment and is refunded
    /// automatically; the status does not change.
    PaymentReversed,
}

/// A change of an order's status.
#[derive(SimpleObject)]
#[graphql(name = "OrderEvent")]
pub struct OrderEventNode {
    /// What happened.
    #[graphql(name = "type")]
    pub kind: OrderEventType,
    /// Why, when it is not plain (e.g. an order cancelled because its reservation ran out);
    /// empty otherwise.
    pub note: String,
    /// The status before; null for `CREATED`.
    pub from_status: Option<OrderStatus>,
    /// The status after.
    pub to_status: OrderStatus,
    /// The account that did it, if one did (a global id).
    pub actor_id: Option<ID>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<OrderEvent> for OrderEventNode {
    fn from(row: OrderEvent) -> Self {
        Self {
            kind: row.kind.into(),
            note: row.note,
            from_status: row.from_status.map(Into::into),
            to_status: row.to_status.into(),
            actor_id: row
                .actor_id
                .map(|id| GlobalId::new(NodeKind::Account, id).into()),
            created_at: row.created_at.and_utc(),
        }
    }
}

/// Whether a payment attempt takes money or pays it back.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::payments::PaymentKind")]
pub enum PaymentKind {
    /// Takes money from the customer.
    Charge,
    /// Pays money of a charge back.
    Refund,
}

/// Where a payment attempt stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::payments::PaymentStatus")]
pub enum PaymentStatus {
    /// The provider has not given its final answer yet (in flight, or waiting for the
    /// customer's 3-D Secure step); it settles by itself.
    Pending,
    /// The money moved.
    Succeeded,
    /// The provider refused: no money moved.
    Declined,
    /// The request never reached the provider, or was refused before it acted: no money moved.
    Failed,
}

/// A payment or refund attempt.
#[derive(SimpleObject)]
#[graphql(name = "Payment")]
pub struct PaymentNode {
    /// Whether it takes money or pays it back.
    pub kind: PaymentKind,
    /// The amount.
    pub amount: Money,
    /// Where it stands.
    pub status: PaymentStatus,
    /// The gateway's message for a declined or failed attempt.
    pub message: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl PaymentNode {
    /// A payment of `order`, in the order's currency (`fallback` if it cannot be read).
    pub fn for_order(row: Payment, order: &Order, fallback: Currency) -> Self {
        Self::new(row, Currency::parse(&order.currency).unwrap_or(fallback))
    }

    fn new(row: Payment, currency: Currency) -> Self {
        Self {
            kind: row.kind.into(),
            amount: Money::new(row.amount, currency),
            status: row.status.into(),
            message: row.message,
            created_at: row.created_at.and_utc(),
        }
    }
}
