//! Commerce mutations: carts, checkout, payment, order status changes.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use crate::db::models::cart::LineWrite;
use crate::domain::address::AddressParts;
use crate::domain::ids::OrderId;
use crate::domain::partners::Scope;
use crate::domain::payments::PaymentStatus;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::GlobalId;
use crate::graphql::inputs::commerce::{
    CartBuyerIdentityInput, CartInput, CartLineInput, CheckoutInput,
};
use crate::graphql::types::cart::{CartNode, cart_token};
use crate::graphql::types::order::PaymentNode;
use crate::graphql::types::{Decimal, OrderNode};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::cart::{self, LineChange};
use crate::services::checkout::CheckoutServices;
use crate::services::fulfillments::{self, FulfillmentRequest};
use crate::services::orders::OrderCaller;
use crate::services::payments::flow;
use crate::services::rate_limits::Limited;
use crate::services::{checkout, orders};

payload!(
    /// The result of a cart mutation.
    CartPayload {
        /// The cart as it is now, priced.
        cart: Option<CartNode>,
    }
);

payload!(
    /// The result of `checkoutComplete`.
    CheckoutPayload {
        /// The order placed (or placed before with this idempotency key).
        order: Option<OrderNode>,
        /// The order's access token (`bzo_…`), shown once, when this request placed the order
        /// (a retry that finds it gets null; the token is also in the confirmation mail). With it
        /// anyone, signed in or not, can read (`orderByToken`), pay and cancel this one order:
        /// how a guest follows their order.
        order_access_token: Option<String>,
    }
);

payload!(
    /// The result of an order mutation.
    OrderPayload {
        /// The order as it is now.
        order: Option<OrderNode>,
        /// The payment or refund attempt, for `orderPay` and `orderRefund`.
        payment: Option<PaymentNode>,
        /// What the customer must do to finish the payment, when the provider asks for it (3-D
        /// Secure); null otherwise. Only `orderPay` gives it, to the payer.
        next_action: Option<PaymentNextAction>,
    }
);

/// A step the customer must take in the browser to finish a payment.
#[derive(async_graphql::SimpleObject)]
pub struct PaymentNextAction {
    /// The provider's client secret for its browser library (Stripe.js
    /// `handleNextAction({ clientSecret })`). Once done, the payment settles by itself (the
    /// provider's webhook); `orderPay` with the same idempotency key tells where it stands.
    pub client_secret: String,
}

fn lines(input: &[CartLineInput]) -> Result<Vec<LineChange>> {
    if input.len() > 100 {
        return Err(AppError::bad_input("change at most 100 lines at once").into());
    }
    Ok(input
        .iter()
        .map(CartLineInput::change)
        .collect::<Result<Vec<_>, _>>()?)
}

/// Cart, checkout and order writes.
#[derive(Default)]
pub struct CommerceMutation;

#[Object]
impl CommerceMutation {
    /// Opens a cart (yours when signed in), with its first lines if given. Keep its id: it is
    /// the only way back to an anonymous cart until you sign in with it.
    async fn cart_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What the cart starts with.", default)] input: CartInput,
    ) -> Result<CartPayload> {
        let request = ctx.request()?;
        let changes = lines(&input.lines)?;
        let result = cart::create(&request.db, request.principal, changes, ctx.shop()?.pricing)
            .await
            .map_err(|e| e.under("input"));
        respond(result, |view| CartPayload {
            cart: Some(view.into()),
            ..Default::default()
        })
    }

    /// Adds units of variants to a cart (a line holds 1 to 99 units).
    async fn cart_lines_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "Variants and the units to add.")] lines: Vec<CartLineInput>,
    ) -> Result<CartPayload> {
        self.change(ctx, cart_id, lines, LineWrite::Add).await
    }

    /// Sets the quantities of variants in a cart; 0 removes a line.
    async fn cart_lines_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "Variants and their new quantities.")] lines: Vec<CartLineInput>,
    ) -> Result<CartPayload> {
        self.change(ctx, cart_id, lines, LineWrite::Set).await
    }

    /// Removes variants from a cart.
    async fn cart_lines_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "The variants to remove.")] variant_ids: Vec<ID>,
    ) -> Result<CartPayload> {
        let lines: Vec<CartLineInput> = variant_ids
            .into_iter()
            .map(|variant_id| CartLineInput {
                variant_id,
                quantity: 0,
            })
            .collect();
        self.change(ctx, cart_id, lines, LineWrite::Set).await
    }

    /// Applies a discount code to a cart (one per cart; it replaces any other).
    async fn cart_discount_code_apply(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "The code.")] code: String,
    ) -> Result<CartPayload> {
        ctx.rate_limit(Limited::DiscountCodeApply, Some(cart_id.as_str()))
            .await?;
        self.discount(ctx, cart_id, Some(code)).await
    }

    /// Removes the discount code from a cart.
    async fn cart_discount_code_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
    ) -> Result<CartPayload> {
        self.discount(ctx, cart_id, None).await
    }

    /// Sets who buys a cart and where it goes (any part left out keeps its value). The shipping
    /// address decides `Cart.deliveryOptions` and the taxes; checkout uses all three.
    async fn cart_buyer_identity_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "The buyer's email and addresses.")]
        buyer_identity: CartBuyerIdentityInput,
    ) -> Result<CartPayload> {
        let request = ctx.request()?;
        let token = cart_token(&cart_id)?;
        let result = cart::set_buyer_identity(
            &request.db,
            request.principal,
            token,
            buyer_identity.into(),
            ctx.shop()?.pricing,
        )
        .await;
        respond(result, |view| CartPayload {
            cart: Some(view.into()),
            ..Default::default()
        })
    }

    /// Chooses how a cart is delivered, by the `handle` of one of its `deliveryOptions`.
    /// Without a choice (or once the choice is no longer offered) the cheapest applies.
    async fn cart_delivery_option_select(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart.")] cart_id: ID,
        #[graphql(desc = "The option's handle, from `Cart.deliveryOptions`.")] handle: String,
    ) -> Result<CartPayload> {
        let request = ctx.request()?;
        let token = cart_token(&cart_id)?;
        let result = cart::select_delivery_option(
            &request.db,
            request.principal,
            token,
            handle,
            ctx.shop()?.pricing,
        )
        .await;
        respond(result, |view| CartPayload {
            cart: Some(view.into()),
            ..Default::default()
        })
    }

    /// Turns a cart into an order at the server's prices, reserving the stock, in one
    /// transaction. Send the same `idempotencyKey` when retrying: you get the same order.
    async fn checkout_complete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart, contact and shipping address, and the idempotency key.")]
        input: CheckoutInput,
    ) -> Result<CheckoutPayload> {
        let request = ctx.request()?;
        let shop = ctx.shop()?;
        let checkout = checkout::CheckoutRequest {
            cart_token: cart_token(&input.cart_id)?,
            email: input.email,
            shipping_address: input.shipping_address.map(AddressParts::from),
            idempotency_key: input.idempotency_key,
            client_address: request.client_address.clone(),
        };
        let result = checkout::complete(
            &request.db,
            ctx.data::<Arc<CheckoutServices>>()?,
            request.principal,
            checkout,
            shop.pricing,
            shop.stock,
            shop.currency.code().to_owned(),
        )
        .await;
        respond(result, |placed| CheckoutPayload {
            order: Some(placed.order.into()),
            order_access_token: placed.access_token.map(|t| t.expose().to_owned()),
            ..Default::default()
        })
    }

    /// Pays an order: your own, or any order whose access token you send (guests). The payment
    /// token is the payment method as the provider tokenised it in the browser (Stripe: a
    /// PaymentMethod `pm_…`; the built-in test gateway: `tok_success`, `tok_decline`,
    /// `tok_error`, `tok_timeout`). Send the same idempotency key when retrying: you get the same
    /// attempt, and money moves at most once. A payment whose outcome is not known yet (the
    /// provider did not answer, or the customer must act: see `nextAction`) is `PENDING`; it
    /// settles by itself, and a retry with the same key tells where it stands.
    async fn order_pay(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] id: ID,
        #[graphql(desc = "The payment method, as the provider tokenised it.")]
        payment_token: String,
        #[graphql(desc = "A key for this attempt (1 to 200 characters); resend it when retrying.")]
        idempotency_key: String,
        #[graphql(desc = "The order's access token from `checkoutComplete`, for guests.")]
        access_token: Option<String>,
    ) -> Result<OrderPayload> {
        ctx.rate_limit(Limited::Pay, Some(id.as_str())).await?;
        let request = ctx.request()?;
        let caller = OrderCaller {
            principal: request.principal,
            access_token,
        };
        let result = flow::pay(
            &request.db,
            ctx.gateway()?,
            caller,
            GlobalId::parse_as::<OrderId>(&id)?,
            payment_token,
            idempotency_key,
        )
        .await;
        let currency = ctx.shop()?.currency;
        respond(result, |paid| OrderPayload {
            next_action: paid
                .payment
                .client_secret
                .clone()
                .filter(|_| paid.payment.status == PaymentStatus::Pending)
                .map(|client_secret| PaymentNextAction { client_secret }),
            payment: Some(PaymentNode::for_order(paid.payment, &paid.order, currency)),
            order: Some(paid.order.into()),
            ..Default::default()
        })
    }

    /// Ships every unit of a paid order not yet shipped, as one fulfilment without tracking,
    /// and marks it `FULFILLED` (staff, and keys with `WRITE_ORDERS`). `fulfillmentCreate`
    /// ships in parts, with tracking.
    #[graphql(guard = "StaffOr(Scope::WriteOrders)")]
    async fn order_fulfill(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] id: ID,
    ) -> Result<OrderPayload> {
        let request = ctx.request()?;
        let result = fulfillments::create(
            &request.db,
            request.principal.into(),
            GlobalId::parse_as::<OrderId>(&id)?,
            FulfillmentRequest::default(),
        )
        .await;
        respond(result, |(order, _)| OrderPayload {
            order: Some(order.into()),
            ..Default::default()
        })
    }

    /// Cancels an unpaid order and returns its stock and discount use: your own, any order
    /// whose access token you send (guests), or any order for staff. A payment that was still
    /// in flight and succeeds after all is refunded automatically.
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] id: ID,
        #[graphql(desc = "The order's access token from `checkoutComplete`, for guests.")]
        access_token: Option<String>,
    ) -> Result<OrderPayload> {
        let request = ctx.request()?;
        let caller = OrderCaller {
            principal: request.principal,
            access_token,
        };
        let result = orders::cancel(&request.db, caller, GlobalId::parse_as::<OrderId>(&id)?).await;
        respond(result, |order| OrderPayload {
            order: Some(order.into()),
            ..Default::default()
        })
    }

    /// Refunds a paid or fulfilled order through the gateway (staff, and keys with
    /// `WRITE_ORDERS`): all that is left to refund, or `amount` of it. Once the whole charge is
    /// paid back the order becomes `REFUNDED` and the units of a paid order not yet shipped
    /// return to stock; a partial refund changes neither. At most 5 refund attempts an order.
    /// The same idempotency key returns the first attempt's result.
    #[graphql(guard = "StaffOr(Scope::WriteOrders)")]
    async fn order_refund(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] id: ID,
        #[graphql(desc = "A key for this attempt; resend it when retrying.")]
        idempotency_key: String,
        #[graphql(
            desc = "How much to pay back, a decimal of the order's currency (`\"12.50\"`), at most what is left to refund; leave it out to refund all that is left."
        )]
        amount: Option<Decimal>,
    ) -> Result<OrderPayload> {
        let request = ctx.request()?;
        let result = flow::refund(
            &request.db,
            ctx.gateway()?,
            request.principal.into(),
            GlobalId::parse_as::<OrderId>(&id)?,
            idempotency_key,
            amount.map(|Decimal(text)| text),
        )
        .await;
        let currency = ctx.shop()?.currency;
        respond(result, |refunded| OrderPayload {
            payment: Some(PaymentNode::for_order(
                refunded.payment,
                &refunded.order,
                currency,
            )),
            order: Some(refunded.order.into()),
            ..Default::default()
        })
    }
}

impl CommerceMutation {
    async fn change(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        input: Vec<CartLineInput>,
        write: LineWrite,
    ) -> Result<CartPayload> {
        let request = ctx.request()?;
        let token = cart_token(&cart_id)?;
        let changes = lines(&input)?;
        let result = cart::change_lines(
            &request.db,
            request.principal,
            token,
            changes,
            write,
            ctx.shop()?.pricing,
        )
        .await;
        respond(result, |view| CartPayload {
            cart: Some(view.into()),
            ..Default::default()
        })
    }

    async fn discount(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        code: Option<String>,
    ) -> Result<CartPayload> {
        let request = ctx.request()?;
        let token = cart_token(&cart_id)?;
        let result = cart::set_discount(
            &request.db,
            request.principal,
            token,
            code,
            ctx.shop()?.pricing,
        )
        .await;
        respond(result, |view| CartPayload {
            cart: Some(view.into()),
            ..Default::default()
        })
    }
}
