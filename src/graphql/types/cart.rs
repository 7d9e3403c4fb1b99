//! `Cart`, its lines and totals: the server's prices, as of now.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use crate::db::models::cart::CartLineView;
use crate::domain::accounts::Role;
use crate::domain::bounds::MAX_CART_LINES;
use crate::domain::delivery::DeliveryOption;
use crate::domain::money::Currency;
use crate::domain::pricing::Totals;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::Loader;
use crate::graphql::pagination::list_size;
use crate::graphql::types::shipping::PostalAddressNode;
use crate::graphql::types::{Decimal, Money, VariantNode};
use crate::services::cart::{CartView, LineAvailability};

const CART_ID_PREFIX: &str = "gid://bazaar/Cart/";

/// The token inside a cart id.
pub fn cart_token(id: &ID) -> Result<String, AppError> {
    id.strip_prefix(CART_ID_PREFIX)
        .filter(|token| !token.is_empty() && token.len() <= 64)
        .map(str::to_owned)
        .ok_or_else(|| AppError::bad_input(format!("{:?} is not a cart id", id.as_str())))
}

/// Whether a cart line can be bought as it stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "LineAvailability")]
pub enum CartLineAvailability {
    /// In stock for the quantity asked.
    Available,
    /// Some, but fewer than asked, are in stock.
    InsufficientStock,
    /// None in stock.
    OutOfStock,
    /// No longer sold; remove the line.
    Unavailable,
}

/// What a cart or order costs, computed by the server.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "Totals")]
pub struct PriceTotals {
    /// Sum of the lines.
    pub subtotal: Money,
    /// Taken off by the discount code.
    pub discount: Money,
    /// Shipping.
    pub shipping: Money,
    /// The sum of the tax lines.
    pub tax: Money,
    /// What the customer pays: `subtotal − discount + shipping`, plus `tax` unless
    /// `taxesIncluded`.
    pub total: Money,
    /// Each tax charged (a country's rate and its region's are separate lines). At most 10.
    pub tax_lines: Vec<TaxLineNode>,
    /// Whether the prices already include the taxes (EU-style shops): the tax lines are then
    /// the part of the price they make up, not added to the total.
    pub taxes_included: bool,
}

/// One tax charged.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "TaxLine")]
pub struct TaxLineNode {
    /// The rate's name, e.g. `GST`.
    pub name: String,
    /// The rate in percent, e.g. `8.25`.
    pub rate_percent: Decimal,
    /// The amount.
    pub amount: Money,
}

/// A rate in basis points as a percentage with two decimals (825 → `8.25`).
pub fn percent_of_bp(rate_bp: u32) -> Decimal {
    Decimal(format!("{}.{:02}", rate_bp / 100, rate_bp % 100))
}

/// Money amounts of `totals` in `currency`.
pub fn totals_in(totals: &Totals, currency: Currency) -> PriceTotals {
    PriceTotals {
        subtotal: Money::new(totals.subtotal, currency),
        discount: Money::new(totals.discount, currency),
        shipping: Money::new(totals.shipping, currency),
        tax: Money::new(totals.tax, currency),
        total: Money::new(totals.total, currency),
        tax_lines: totals
            .tax_lines
            .iter()
            .map(|line| TaxLineNode {
                name: line.name.clone(),
                rate_percent: percent_of_bp(line.rate_bp),
                amount: Money::new(line.amount, currency),
            })
            .collect(),
        taxes_included: totals.taxes_included,
    }
}

/// A way to deliver a cart, with what it costs that cart.
pub struct DeliveryOptionNode(DeliveryOption);

/// A way to deliver a cart, with what it costs that cart.
#[Object(name = "DeliveryOption")]
impl DeliveryOptionNode {
    /// What `cartDeliveryOptionSelect` takes to choose it.
    async fn handle(&self) -> &str {
        &self.0.handle
    }

    /// What the customer sees, e.g. `Express`.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// What it costs this cart (0 once the cart reaches the method's free-shipping threshold).
    async fn price(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.0.price, ctx.shop()?.currency))
    }
}

/// Who buys a cart and where it goes.
pub struct BuyerIdentityNode<'a>(&'a CartView);

/// Who buys a cart and where it goes.
#[Object(name = "CartBuyerIdentity")]
impl BuyerIdentityNode<'_> {
    /// Where the order confirmation goes; null until given.
    async fn email(&self) -> Option<&str> {
        Some(self.0.cart.buyer_email.as_str()).filter(|email| !email.is_empty())
    }

    /// Where the goods go; null until given.
    async fn shipping_address(&self) -> Option<PostalAddressNode> {
        self.0.shipping_address().map(PostalAddressNode)
    }

    /// Where the invoice goes; null until given.
    async fn billing_address(&self) -> Option<PostalAddressNode> {
        self.0.billing_address().map(PostalAddressNode)
    }
}

/// A shopping cart. Anyone holding its id may use an anonymous cart; a customer's cart is theirs.
pub struct CartNode {
    view: CartView,
}

impl From<CartView> for CartNode {
    fn from(view: CartView) -> Self {
        Self { view }
    }
}

/// A shopping cart. Anyone holding its id may use an anonymous cart; a customer's cart is theirs.
#[Object(name = "Cart")]
impl CartNode {
    /// The cart's id: unguessable, keep it private.
    async fn id(&self) -> ID {
        ID(format!("{CART_ID_PREFIX}{}", self.view.cart.token))
    }

    /// The lines, oldest first, each with its availability. At most 50: a cart holds no more.
    async fn lines(
        &self,
        #[graphql(
            desc = "Return the first N lines: 0 to 50, by default 50 (every line).",
            default_with = "MAX_CART_LINES as i32"
        )]
        first: i32,
    ) -> Result<Vec<CartLine>> {
        let size = list_size(first, MAX_CART_LINES)?;
        Ok(self
            .view
            .lines
            .iter()
            .take(size)
            .cloned()
            .map(CartLine)
            .collect())
    }

    /// Units in the cart.
    async fn item_count(&self) -> i32 {
        self.view.lines.iter().map(|line| line.quantity).sum()
    }

    /// The discount code applied, if any.
    async fn discount_code(&self) -> Option<&str> {
        self.view.discount.as_ref().map(|code| code.code.as_str())
    }

    /// Why the applied discount code does not reduce the price now, if it does not.
    async fn discount_problem(&self) -> Option<&str> {
        self.view.discount_problem.as_deref()
    }

    /// Who buys the cart and where it goes (`cartBuyerIdentityUpdate`).
    async fn buyer_identity(&self) -> BuyerIdentityNode<'_> {
        BuyerIdentityNode(&self.view)
    }

    /// How the cart can be delivered to its shipping address, cheapest first: the methods of
    /// the shipping zone serving it that suit the cart's subtotal. Empty when the shop does not
    /// deliver there, or has shipping zones and the cart has no shipping address yet; a shop
    /// without zones offers its one standard option everywhere. At most 20.
    async fn delivery_options(&self) -> Vec<DeliveryOptionNode> {
        self.view
            .delivery
            .offered()
            .iter()
            .cloned()
            .map(DeliveryOptionNode)
            .collect()
    }

    /// The option the totals charge: the one chosen while it is offered, else the cheapest;
    /// null when there is none.
    async fn selected_delivery_option(&self) -> Option<DeliveryOptionNode> {
        self.view.delivery.chosen().cloned().map(DeliveryOptionNode)
    }

    /// What the cart costs now, at current prices, with the selected delivery option and the
    /// taxes of its shipping address (before one is given: the shop's default rate).
    async fn totals(&self, ctx: &Context<'_>) -> Result<PriceTotals> {
        Ok(totals_in(&self.view.totals, ctx.shop()?.currency))
    }

    /// Whether every line can be bought as it stands.
    async fn ready_for_checkout(&self) -> bool {
        !self.view.lines.is_empty()
            && self
                .view
                .lines
                .iter()
                .all(|line| LineAvailability::of(line) == LineAvailability::Available)
    }

    /// Whether the cart has become an order.
    async fn completed(&self) -> bool {
        self.view.cart.order_id.is_some()
    }
}

/// A line of a cart.
pub struct CartLine(CartLineView);

/// A line of a cart.
#[Object]
impl CartLine {
    /// Units.
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }

    /// Whether it can be bought as it stands.
    async fn availability(&self) -> CartLineAvailability {
        LineAvailability::of(&self.0).into()
    }

    /// Units in stock now, for staff always; for everyone else only when few are left (at or
    /// below the shop's low-stock threshold: "only N left"), and null otherwise. `availability`
    /// tells anyone whether the quantity asked can be had.
    async fn quantity_available(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        let exact = ctx.request()?.principal.has_role(Role::Staff);
        Ok(ctx.shop()?.stock.visible_quantity(self.0.stock, exact))
    }

    /// The variant's SKU.
    async fn sku(&self) -> &str {
        &self.0.sku
    }

    /// The product's name.
    async fn product_name(&self) -> &str {
        &self.0.product_name
    }

    /// Current unit price.
    async fn unit_price(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.0.unit_price, ctx.shop()?.currency))
    }

    /// Unit price × quantity.
    async fn line_total(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(
            crate::domain::money::line_total(self.0.unit_price, self.0.quantity),
            ctx.shop()?.currency,
        ))
    }

    /// The variant; null when it is no longer shown.
    async fn variant(&self, ctx: &Context<'_>) -> Result<Option<VariantNode>> {
        let loader = ctx.data::<Loader>()?;
        Ok(loader
            .load_one(self.0.variant_id)
            .await?
            .map(VariantNode::from))
    }
}
