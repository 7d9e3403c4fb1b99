//! `Cart`, its lines and totals: the server's prices, as of now.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use crate::db::models::cart::CartLineView;
use crate::domain::accounts::Role;
use crate::domain::bounds::MAX_CART_LINES;
use crate::domain::ids::VariantId;
use crate::domain::money::Currency;
use crate::domain::pricing::Totals;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::loaders::Loader;
use crate::graphql::pagination::list_size;
use crate::graphql::types::{Money, VariantNode};
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
    /// Tax on the discounted subtotal.
    pub tax: Money,
    /// What the customer pays.
    pub total: Money,
}

/// Money amounts of `totals` in `currency`.
pub fn totals_in(totals: &Totals, currency: Currency) -> PriceTotals {
    PriceTotals {
        subtotal: Money::new(totals.subtotal, currency),
        discount: Money::new(totals.discount, currency),
        shipping: Money::new(totals.shipping, currency),
        tax: Money::new(totals.tax, currency),
        total: Money::new(totals.total, currency),
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

    /// What the cart costs now, at current prices.
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
            .load_one(VariantId(self.0.variant_id))
            .await?
            .map(VariantNode::from))
    }
}
