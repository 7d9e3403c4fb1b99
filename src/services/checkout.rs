//! Checkout: a cart becomes an order in one transaction. Stock is taken with conditional
//! updates (never below zero, whatever runs concurrently), the discount code's use is counted
//! atomically against its limit (a disabled code is refused), a shortage tells the exact stock
//! only to staff or when it is low, line items snapshot name, SKU and unit price, and the
//! idempotency key (scoped to its owner: the account, or the cart for guests) makes a retried
//! request return the same order. Every order gets an access token, shown once and mailed, with
//! which a guest reads, pays and cancels it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use crate::db::models::cart::{self as cart_rows, Cart, CartLineView};
use crate::db::models::discount;
use crate::db::models::order::{self, NewOrder, NewOrderLine, Order};
use crate::db::{Db, DbConnection};
use crate::domain::accounts::{Email, Principal, Role};
use crate::domain::address::AddressParts;
use crate::domain::events::{EventType, StockChangeReason, Subject};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::VariantId;
use crate::domain::money::line_total;
use crate::domain::orders::{OrderEventType, OrderStatus, order_number};
use crate::domain::pricing::PricingPolicy;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::domain::stock::StockDisclosure;
use crate::error::{AppError, AppResult, is_unique_violation};
use crate::services::cart::{
    LineAvailability, LoadedCart, checked_address, destination, load_for, price,
};
use crate::services::events::{
    Changes, LineSnapshot, StockChange, order_payload, recorded_transaction,
};
use crate::services::mail::{Outbox, OutgoingMail};
use crate::services::rate_limits::{Limited, RateLimits};
use crate::services::tokens::{SecretToken, hash_parts, hash_token};

/// What checkout needs beside the database: the guest checkout limit and the mail that
/// confirms an order with its access link.
pub struct CheckoutServices {
    /// The rate limits (guest checkouts per client address among them).
    pub limits: Arc<RateLimits>,
    /// Sends the confirmation.
    pub outbox: Outbox,
    /// Link to an order in the confirmation; the access token is appended.
    pub order_status_url: String,
}

impl CheckoutServices {
    /// Refuses a guest's checkout beyond the per-address limit (`RATE_LIMITED`); signed-in
    /// customers are not limited here.
    pub async fn admit(&self, caller: &Principal, client_address: Option<&str>) -> AppResult<()> {
        if caller.account_id().is_some() {
            return Ok(());
        }
        self.limits
            .admit(Limited::GuestCheckout, None, client_address)
            .await
    }

    /// Mails the order's confirmation with its access link, in the background.
    pub fn confirm(&self, order: &Order, access_token: &SecretToken) {
        let number = order_number(order.id);
        let mail = OutgoingMail {
            to: order.email.clone(),
            subject: format!("Your order {number}"),
            body: format!(
                "Thank you for your order {number}.\n\n\
                 Follow it, pay for it or cancel it at:\n{}{}\n\n\
                 Keep this link to yourself: it opens your order without signing in.\n",
                self.order_status_url,
                access_token.expose(),
            ),
        };
        self.outbox
            .send_later(mail, "order confirmation", Some(order.id.0));
    }
}

/// What `checkoutComplete` asks for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The cart's token.
    pub cart_token: String,
    /// Where the confirmation goes; `None`: the cart's buyer email.
    pub email: Option<String>,
    /// Where the goods go; `None`: the cart's shipping address.
    pub shipping_address: Option<AddressParts>,
    /// The client's key for this attempt: the same key returns the same order.
    pub idempotency_key: String,
    /// The client's address: guests' checkouts are limited per address.
    pub client_address: Option<String>,
}

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

/// An order placed by checkout.
#[derive(Debug)]
pub struct Placed {
    /// The order.
    pub order: Order,
    /// Its access token, when this request placed it (a retry that finds the order gets none:
    /// the token is stored only as its hash, and was mailed).
    pub access_token: Option<SecretToken>,
}

/// Places the order for a cart, or returns the order this idempotency key already placed.
pub async fn complete(
    db: &Db,
    services: &CheckoutServices,
    caller: Principal,
    request: CheckoutRequest,
    policy: PricingPolicy,
    stock: StockDisclosure,
    currency: String,
) -> AppResult<Placed> {
    services
        .admit(&caller, request.client_address.as_deref())
        .await?;
    let email = request
        .email
        .as_deref()
        .map(|raw| Email::parse(raw).map_err(|r| AppError::rejected(r).under("input")))
        .transpose()?;
    let address_json = request
        .shipping_address
        .as_ref()
        .map(|parts| checked_address(parts, "shippingAddress").map_err(|e| e.under("input")))
        .transpose()?;
    let key = IdempotencyKey::parse(&request.idempotency_key, &["input", "idempotencyKey"])
        .map_err(AppError::rejected)?;
    let key = owner_scoped_key(&caller, &request.cart_token, &key);
    let request_hash = hash_parts(&[
        &request.cart_token,
        email.as_ref().map_or("", Email::as_str),
        address_json.as_deref().unwrap_or(""),
    ]);
    let access_token = SecretToken::generate(ORDER_TOKEN_PREFIX);
    let placed = {
        let (key, hash, token_hash) = (key.clone(), request_hash.clone(), access_token.hash());
        let token = request.cart_token.clone();
        let currency_of_events = db.currency();
        db.run(move |conn| {
            recorded_transaction(conn, currency_of_events, |conn, changes| {
                let cart = load_for(conn, &caller, &token).map_err(|e| e.under("input"))?;
                place(
                    conn,
                    changes,
                    &caller,
                    &cart,
                    &PlaceOrder {
                        email: email.as_ref(),
                        address_json: address_json.as_deref(),
                        key: &key,
                        request_hash: &hash,
                        access_token_hash: &token_hash,
                    },
                    &policy,
                    stock,
                    &currency,
                )
            })
        })
        .await
    };
    match placed {
        Ok(Placement::New(order)) => {
            services.confirm(&order, &access_token);
            Ok(Placed {
                order,
                access_token: Some(access_token),
            })
        }
        Ok(Placement::Replayed(order)) => Ok(Placed {
            order,
            access_token: None,
        }),
        // Someone placed an order with this key while we were trying (ours rolled back), or this
        // cart was refused: either way a key that placed an order before answers as such, so a
        // key reused with another cart is told so whatever that cart's state. Looked up once the
        // attempt rolled back, so only committed orders count.
        Err(error) if is_unique_violation(&error) || matches!(error, AppError::Rejected(_)) => {
            let existing = db
                .run(move |conn| Ok(order::by_idempotency_key(conn, &key)?))
                .await?;
            match existing {
                Some(existing) => Ok(Placed {
                    order: replay(existing, &request_hash)?,
                    access_token: None,
                }),
                None if is_unique_violation(&error) => Err(AppError::internal(anyhow::anyhow!(
                    "idempotency key vanished"
                ))),
                None => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// Prefix of order access tokens.
pub const ORDER_TOKEN_PREFIX: &str = "bzo_";

/// The key as stored: a client's key is unique only among its owner's (the account, or the cart
/// of a guest, named by its token's hash), so two customers' apps that pick the same key never
/// collide.
fn owner_scoped_key(caller: &Principal, cart_token: &str, key: &IdempotencyKey) -> String {
    match caller.account_id() {
        Some(account) => format!("account-{}:{}", account.0, key.as_str()),
        None => format!("cart-{}:{}", hash_token(cart_token), key.as_str()),
    }
}

/// What the order is placed with, beside the cart.
struct PlaceOrder<'a> {
    email: Option<&'a Email>,
    address_json: Option<&'a str>,
    key: &'a str,
    request_hash: &'a str,
    access_token_hash: &'a str,
}

/// What [`place`] did.
enum Placement {
    /// Placed the order now.
    New(Order),
    /// Found the order this key placed before.
    Replayed(Order),
}

/// The order an earlier request with the same key placed, if this request is the same one.
fn replay(existing: Order, request_hash: &str) -> AppResult<Order> {
    if existing.request_hash == request_hash {
        Ok(existing)
    } else {
        Err(rejected(
            &["input", "idempotencyKey"],
            RejectionCode::IdempotencyKeyReused,
            "this idempotency key was used for a different checkout",
        ))
    }
}

/// Who buys and where it goes: the request's, else the cart's.
fn buyer<'a>(request: &PlaceOrder<'a>, cart: &'a Cart) -> AppResult<(&'a str, &'a str)> {
    let email = match request.email {
        Some(email) => email.as_str(),
        None if !cart.buyer_email.is_empty() => &cart.buyer_email,
        None => {
            return Err(rejected(
                &["input", "email"],
                RejectionCode::Invalid,
                "give an email, here or on the cart (cartBuyerIdentityUpdate)",
            ));
        }
    };
    let address = match request.address_json {
        Some(address) => address,
        None if !cart.shipping_address.is_empty() => &cart.shipping_address,
        None => {
            return Err(rejected(
                &["input", "shippingAddress"],
                RejectionCode::Invalid,
                "give a shipping address, here or on the cart (cartBuyerIdentityUpdate)",
            ));
        }
    };
    Ok((email, address))
}

/// The transaction: everything or nothing.
fn place(
    conn: &mut DbConnection,
    changes: &mut Changes,
    caller: &Principal,
    loaded: &LoadedCart,
    request: &PlaceOrder<'_>,
    policy: &PricingPolicy,
    stock: StockDisclosure,
    currency: &str,
) -> AppResult<Placement> {
    let PlaceOrder {
        key,
        request_hash,
        access_token_hash,
        ..
    } = *request;
    let cart = &loaded.cart;
    // A retry whose order is placed finds its cart completed, and the order by its key. A key
    // used before with another cart needs no look-up here: inserting the order fails on the
    // unique key, or the cart is refused, and `complete` answers from the order found then.
    if cart.order_id.is_some() {
        if let Some(existing) = order::by_idempotency_key(conn, key)? {
            return replay(existing, request_hash).map(Placement::Replayed);
        }
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::AlreadyCompleted,
            "this cart has already been checked out",
        ));
    }
    let lines = cart_rows::lines(conn, cart.id)?;
    if lines.is_empty() {
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::Invalid,
            "the cart is empty",
        ));
    }
    let unavailable: Vec<&CartLineView> = lines
        .iter()
        .filter(|line| LineAvailability::of(line) == LineAvailability::Unavailable)
        .collect();
    if let Some(line) = unavailable.first() {
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::Unavailable,
            format!("{} is no longer sold; remove it from the cart", line.sku),
        ));
    }
    let code = match cart.discount_code_id {
        Some(id) => discount::by_id(conn, id)?,
        None => None,
    };
    let (email, address_json) = buyer(request, cart)?;
    let destined = Cart {
        shipping_address: address_json.to_owned(),
        ..cart.clone()
    };
    let now = Utc::now().naive_utc();
    let priced = price(
        conn,
        &destined,
        loaded.shop_has_zones,
        &lines,
        code.as_ref(),
        policy,
        now,
    )?;
    if let Some(problem) = priced.discount_problem {
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::DiscountNotApplicable,
            problem,
        ));
    }
    if let Some(refusal) = priced.delivery.refusal(destination(&destined).as_ref()) {
        return Err(AppError::rejected(refusal.under("input")));
    }
    let totals = priced.totals;
    let tax_lines = serde_json::to_string(&totals.tax_lines).map_err(AppError::internal)?;
    let status = OrderStatus::PendingPayment;
    // The order row first: it claims the idempotency key, so a concurrent request with the same
    // key waits here and then fails on the unique key instead of taking stock as well.
    let placed = order::insert(
        conn,
        &NewOrder {
            user_id: cart.user_id.or(caller.account_id()),
            email,
            status,
            currency,
            subtotal: totals.subtotal,
            discount_total: totals.discount,
            shipping_total: totals.shipping,
            tax_total: totals.tax,
            total: totals.total,
            discount_code: code.as_ref().map(|c| c.code.as_str()),
            shipping_address: address_json,
            idempotency_key: Some(key),
            request_hash,
            created_at: now,
            updated_at: now,
            access_token_hash: Some(access_token_hash),
            billing_address: &cart.billing_address,
            shipping_method: priced.delivery.chosen().map(|option| option.title.as_str()),
            tax_lines: &tax_lines,
            taxes_included: totals.taxes_included,
        },
    )?;
    let order_id = placed.id;
    let wanted: Vec<(VariantId, i32)> = lines
        .iter()
        .map(|line| (line.variant_id, line.quantity))
        .collect();
    let left: HashMap<VariantId, i32> = order::take_stock(conn, &wanted, now)?
        .into_iter()
        .map(|taken| (taken.variant_id, taken.stock))
        .collect();
    for line in &lines {
        let Some(&left) = left.get(&line.variant_id) else {
            return Err(rejected(
                &["input", "cartId"],
                RejectionCode::OutOfStock,
                stock.shortage_message(line.stock, &line.sku, caller.has_role(Role::Staff)),
            ));
        };
        changes.stock_changed(StockChange {
            variant_id: line.variant_id,
            sku: &line.sku,
            before: left + line.quantity,
            after: left,
            reason: StockChangeReason::Ordered,
            order_id: Some(order_id),
        });
    }
    if let Some(code) = &code
        && !discount::use_once(conn, code.id)?
    {
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::DiscountNotApplicable,
            "the discount code has been used up or disabled",
        ));
    }
    let order_lines: Vec<NewOrderLine> = lines
        .iter()
        .map(|line| NewOrderLine {
            order_id,
            variant_id: Some(line.variant_id),
            product_id: Some(line.product_id),
            product_name: line.product_name.clone(),
            variant_title: line.variant_title.clone(),
            sku: line.sku.clone(),
            unit_price: line.unit_price,
            quantity: line.quantity,
            line_total: line_total(line.unit_price, line.quantity),
        })
        .collect();
    order::insert_lines(conn, &order_lines)?;
    let snapshot: Vec<LineSnapshot<'_>> = order_lines.iter().map(LineSnapshot::from).collect();
    let payload = order_payload(&placed, &snapshot, changes.currency())?;
    changes.raise(
        EventType::OrderCreated,
        Subject::Order(order_id.0),
        &payload,
    );
    order::insert_event(
        conn,
        order_id,
        OrderEventType::Created,
        None,
        status,
        caller.account_id().map(|a| a.0),
        "",
        now,
    )?;
    if !cart_rows::complete(conn, cart.id, order_id)? {
        return Err(rejected(
            &["input", "cartId"],
            RejectionCode::AlreadyCompleted,
            "this cart has already been checked out",
        ));
    }
    Ok(Placement::New(placed))
}
