//! Cart use cases: open a cart, change its lines, apply a discount code, read it priced, and
//! hand an anonymous cart to the customer who signs in with it.
//!
//! A cart is addressed by an unguessable token. An anonymous cart is open to whoever holds the
//! token; a customer's cart only to that customer (and staff).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDateTime, Utc};
use rand::RngCore as _;

use crate::db::models::cart::{self, Cart, CartLineView};
use crate::db::models::discount::{self, DiscountCode};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::Principal;
use crate::domain::bounds::{MAX_CART_LINES, room_for};
use crate::domain::catalog::ProductStatus;
use crate::domain::ids::VariantId;
use crate::domain::pricing::{
    DiscountKind, DiscountRules, LineAmount, MAX_LINE_QUANTITY, PricingPolicy, Totals, totals,
};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};

/// Whether a cart line can be bought as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineAvailability {
    /// In stock for the quantity asked.
    Available,
    /// Some, but fewer than asked, are in stock.
    InsufficientStock,
    /// None in stock.
    OutOfStock,
    /// No longer sold (archived variant, or product not active).
    Unavailable,
}

impl LineAvailability {
    /// The availability of `line` now.
    pub fn of(line: &CartLineView) -> Self {
        if line.variant_archived_at.is_some()
            || line.product_status != ProductStatus::Active.as_str()
        {
            Self::Unavailable
        } else if line.stock <= 0 {
            Self::OutOfStock
        } else if line.stock < line.quantity {
            Self::InsufficientStock
        } else {
            Self::Available
        }
    }
}

/// A cart with its lines and prices, as of now.
#[derive(Debug, Clone)]
pub struct CartView {
    /// The cart.
    pub cart: Cart,
    /// Its lines with their variants.
    pub lines: Vec<CartLineView>,
    /// The discount code applied, if any.
    pub discount: Option<DiscountCode>,
    /// Why the applied code does not reduce the price now, if it does not.
    pub discount_problem: Option<String>,
    /// What it costs.
    pub totals: Totals,
}

/// One change to a cart's lines.
#[derive(Debug, Clone, Copy)]
pub struct LineChange {
    /// The variant.
    pub variant: VariantId,
    /// Units: added to the line, or the line's new quantity (0 removes it).
    pub quantity: i32,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// The discount kind a code row describes.
pub fn discount_rules(code: &DiscountCode) -> DiscountRules {
    let kind = if code.kind == "PERCENTAGE" {
        DiscountKind::Percentage(u8::try_from(code.value.clamp(1, 100)).unwrap_or(100))
    } else {
        DiscountKind::FixedAmount(code.value)
    };
    DiscountRules {
        kind,
        minimum_subtotal: code.minimum_subtotal,
        usage_limit: code
            .usage_limit
            .map(|limit| u32::try_from(limit).unwrap_or(0)),
        times_used: u32::try_from(code.times_used).unwrap_or(0),
        starts_at: code.starts_at,
        ends_at: code.ends_at,
        disabled: code.disabled_at.is_some(),
    }
}

/// Prices `lines` with `discount` (if it applies now).
pub fn price(
    lines: &[CartLineView],
    discount: Option<&DiscountCode>,
    policy: &PricingPolicy,
    at: NaiveDateTime,
) -> (Totals, Option<String>) {
    let amounts: Vec<LineAmount> = lines
        .iter()
        .map(|line| LineAmount {
            unit_price: line.unit_price,
            quantity: u32::try_from(line.quantity).unwrap_or(0),
        })
        .collect();
    let Some(code) = discount else {
        return (totals(&amounts, None, policy), None);
    };
    let rules = discount_rules(code);
    let undiscounted = totals(&amounts, None, policy);
    match rules.refusal(undiscounted.subtotal, at) {
        Some(refusal) => (undiscounted, Some(refusal.message)),
        None => (totals(&amounts, Some(rules.kind), policy), None),
    }
}

/// Loads a cart the caller may use, or `NOT_FOUND` (also for someone else's cart).
pub fn load_for(conn: &mut DbConnection, caller: &Principal, token: &str) -> AppResult<Cart> {
    let not_found = || {
        AppError::rejected(Rejection::new(
            &["cartId"],
            RejectionCode::NotFound,
            "no such cart",
        ))
    };
    let cart = cart::by_token(conn, token)?.ok_or_else(not_found)?;
    match cart.user_id {
        Some(owner) if !caller.may_access_account(crate::domain::ids::AccountId(owner)) => {
            Err(not_found())
        }
        _ => Ok(cart),
    }
}

fn view(conn: &mut DbConnection, cart: Cart, policy: &PricingPolicy) -> AppResult<CartView> {
    let lines = cart::lines(conn, cart.id)?;
    let discount = match cart.discount_code_id {
        Some(id) => discount::by_id(conn, id)?,
        None => None,
    };
    let (totals, discount_problem) = price(&lines, discount.as_ref(), policy, now());
    Ok(CartView {
        cart,
        lines,
        discount,
        discount_problem,
        totals,
    })
}

fn mutable(cart: &Cart) -> AppResult<()> {
    if cart.order_id.is_some() {
        return Err(AppError::rejected(Rejection::new(
            &["cartId"],
            RejectionCode::AlreadyCompleted,
            "this cart has been checked out; open a new one",
        )));
    }
    Ok(())
}

/// Opens a cart, owned by the caller when signed in.
pub async fn create(db: &Db, caller: Principal, policy: PricingPolicy) -> AppResult<CartView> {
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    db.run(move |conn| {
        let cart = cart::insert(conn, &token, caller.account_id().map(|a| a.0), now())?;
        view(conn, cart, &policy)
    })
    .await
}

/// The cart with this token, priced, if the caller may see it.
pub async fn get(
    db: &Db,
    caller: Principal,
    token: String,
    policy: PricingPolicy,
) -> AppResult<Option<CartView>> {
    db.run(move |conn| match load_for(conn, &caller, &token) {
        Ok(cart) => view(conn, cart, &policy).map(Some),
        Err(AppError::Rejected(_)) => Ok(None),
        Err(other) => Err(other),
    })
    .await
}

/// Adds units (`replace = false`) or sets quantities (`replace = true`, 0 removes) of variants.
/// A cart holds at most [`MAX_CART_LINES`] lines (distinct variants).
pub async fn change_lines(
    db: &Db,
    caller: Principal,
    token: String,
    changes: Vec<LineChange>,
    replace: bool,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let cart = load_for(conn, &caller, &token)?;
            mutable(&cart)?;
            let at = now();
            // First, so that the cart's row is locked (PostgreSQL) before its lines are counted:
            // concurrent changes of one cart take turns.
            cart::update(conn, cart.id, cart.user_id, cart.discount_code_id, at)?;
            let current = cart::lines(conn, cart.id)?;
            let mut in_cart: std::collections::HashSet<i64> =
                current.iter().map(|line| line.variant_id).collect();
            for (index, change) in changes.iter().enumerate() {
                let index = index.to_string();
                let existing = current
                    .iter()
                    .find(|l| l.variant_id == change.variant.0)
                    .map_or(0, |l| l.quantity);
                let quantity = if replace {
                    change.quantity
                } else {
                    existing.saturating_add(change.quantity)
                };
                let bounds = if replace { 0 } else { 1 };
                if change.quantity < bounds || quantity > MAX_LINE_QUANTITY as i32 {
                    return Err(AppError::rejected(Rejection::new(
                        &["lines", &index, "quantity"],
                        RejectionCode::Invalid,
                        format!("a line holds 1 to {MAX_LINE_QUANTITY} units"),
                    )));
                }
                if quantity == 0 {
                    cart::remove_line(conn, cart.id, change.variant.0)?;
                    in_cart.remove(&change.variant.0);
                    continue;
                }
                if !in_cart.contains(&change.variant.0) {
                    let count = i64::try_from(in_cart.len()).unwrap_or(i64::MAX);
                    room_for(
                        count,
                        1,
                        MAX_CART_LINES,
                        &["lines", &index, "variantId"],
                        "lines per cart",
                    )
                    .map_err(AppError::rejected)?;
                }
                let sellable = crate::db::models::variant::by_ids(
                    conn,
                    &[change.variant.0],
                    crate::domain::catalog::CatalogVisibility::Storefront,
                )?
                .into_iter()
                .any(|variant| variant.archived_at.is_none());
                if !sellable {
                    return Err(AppError::rejected(Rejection::new(
                        &["lines", &index, "variantId"],
                        RejectionCode::Unavailable,
                        "this variant is not for sale",
                    )));
                }
                cart::set_quantity(conn, cart.id, change.variant.0, quantity, at)?;
                in_cart.insert(change.variant.0);
            }
            view(conn, cart, &policy)
        })
    })
    .await
}

/// Applies a discount code (one per cart; a new one replaces the old), or removes it (`None`).
pub async fn set_discount(
    db: &Db,
    caller: Principal,
    token: String,
    code: Option<String>,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let cart = load_for(conn, &caller, &token)?;
            mutable(&cart)?;
            let code_id = match code {
                None => None,
                Some(code) => {
                    let normalized = code.trim().to_uppercase();
                    let found = discount::by_code(conn, &normalized)?.ok_or_else(|| {
                        AppError::rejected(Rejection::new(
                            &["code"],
                            RejectionCode::DiscountNotApplicable,
                            "no such discount code",
                        ))
                    })?;
                    let lines = cart::lines(conn, cart.id)?;
                    let (undiscounted, _) = price(&lines, None, &policy, now());
                    if let Some(refusal) =
                        discount_rules(&found).refusal(undiscounted.subtotal, now())
                    {
                        return Err(AppError::rejected(refusal));
                    }
                    Some(found.id)
                }
            };
            cart::update(conn, cart.id, cart.user_id, code_id, now())?;
            let cart = Cart {
                discount_code_id: code_id,
                ..cart
            };
            view(conn, cart, &policy)
        })
    })
    .await
}

/// After sign-in: an anonymous cart joins the customer's open cart (quantities add up; its
/// lines move oldest first, and none past [`MAX_CART_LINES`]), or becomes it when there is
/// none. The token of the customer's cart afterwards, if any; carts owned by someone else are
/// left alone.
pub async fn claim(db: &Db, user_id: i64, token: Option<String>) -> AppResult<Option<String>> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let own = cart::open_of_user(conn, user_id)?;
            let anonymous = match &token {
                Some(token) => cart::by_token(conn, token)?
                    .filter(|cart| cart.user_id.is_none() && cart.order_id.is_none()),
                None => None,
            };
            Ok(match (anonymous, own) {
                (Some(anonymous), Some(own)) => {
                    let max = MAX_LINE_QUANTITY as i32;
                    cart::merge(conn, anonymous.id, own.id, max, MAX_CART_LINES, now())?;
                    Some(own.token)
                }
                (Some(anonymous), None) => {
                    let discount = anonymous.discount_code_id;
                    cart::update(conn, anonymous.id, Some(user_id), discount, now())?;
                    Some(anonymous.token)
                }
                (None, own) => own.map(|cart| cart.token),
            })
        })
    })
    .await
}
