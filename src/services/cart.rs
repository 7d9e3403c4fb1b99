//! Cart use cases: open a cart, change its lines, apply a discount code, read it priced, and
//! hand an anonymous cart to the customer who signs in with it.
//!
//! A cart is addressed by an unguessable token. An anonymous cart is open to whoever holds the
//! token; a customer's cart only to that customer (and staff).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDateTime, Utc};
use rand::RngCore as _;

use crate::db::models::cart::{self, BuyerIdentity, Cart, CartLineView, LineWrite};
use crate::db::models::discount::{self, DiscountCode};
use crate::db::models::shipping;
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::{Email, Principal};
use crate::domain::address::{AddressParts, PostalAddress};
use crate::domain::bounds::{MAX_CART_LINES, room_for};
use crate::domain::catalog::ProductStatus;
use crate::domain::delivery::{self, Delivery, Destination};
use crate::domain::ids::{AccountId, VariantId};
use crate::domain::pricing::{
    DiscountKind, DiscountRules, DiscountType, LineAmount, MAX_LINE_QUANTITY, PricingPolicy,
    Totals, goods, totals,
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
        if line.variant_archived_at.is_some() || line.product_status != ProductStatus::Active {
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
    /// How it can be delivered, and the option it uses.
    pub delivery: Delivery,
    /// What it costs.
    pub totals: Totals,
}

impl CartView {
    /// The shipping address the buyer gave, if any.
    pub fn shipping_address(&self) -> Option<AddressParts> {
        stored_address(&self.cart.shipping_address)
    }

    /// The billing address the buyer gave, if any.
    pub fn billing_address(&self) -> Option<AddressParts> {
        stored_address(&self.cart.billing_address)
    }
}

/// An address stored as a JSON object of parts; `None` when none was stored.
pub fn stored_address(stored: &str) -> Option<AddressParts> {
    (!stored.is_empty())
        .then(|| serde_json::from_str(stored).ok())
        .flatten()
}

/// Where a cart goes, once its shipping address is known.
pub fn destination(cart: &Cart) -> Option<Destination> {
    stored_address(&cart.shipping_address)
        .map(|parts| Destination::new(&parts.country_code, &parts.region))
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
    let kind = match code.kind {
        DiscountType::Percentage => {
            DiscountKind::Percentage(u8::try_from(code.value.clamp(1, 100)).unwrap_or(100))
        }
        DiscountType::FixedAmount => DiscountKind::FixedAmount(code.value),
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

/// The lines as pricing sees them.
pub fn amounts(lines: &[CartLineView]) -> Vec<LineAmount> {
    lines
        .iter()
        .map(|line| LineAmount {
            unit_price: line.unit_price,
            quantity: u32::try_from(line.quantity).unwrap_or(0),
        })
        .collect()
}

/// A cart priced: its totals, how it can be delivered, and why its discount code does not apply
/// now, if it does not.
#[derive(Debug, Clone)]
pub struct Priced {
    /// What it costs.
    pub totals: Totals,
    /// Its delivery options and the one it uses.
    pub delivery: Delivery,
    /// Why the applied discount code does not reduce the price, if it does not.
    pub discount_problem: Option<String>,
}

/// Prices a cart's `lines` with `discount` (if it applies at `at`), for its destination: the
/// delivery options of the zone serving it (or the shop's default shipping when it has no zone:
/// `shop_has_zones`) and the tax rates there. No statement without a shipping address; with
/// one, three (two when no zone serves it).
pub fn price(
    conn: &mut DbConnection,
    cart: &Cart,
    shop_has_zones: bool,
    lines: &[CartLineView],
    discount: Option<&DiscountCode>,
    policy: &PricingPolicy,
    at: NaiveDateTime,
) -> AppResult<Priced> {
    let amounts = amounts(lines);
    let (subtotal, _) = goods(&amounts, None);
    let (kind, discount_problem) = match discount.map(discount_rules) {
        None => (None, None),
        Some(rules) => match rules.refusal(subtotal, at) {
            Some(refusal) => (None, Some(refusal.message)),
            None => (Some(rules.kind), None),
        },
    };
    let (_, taken) = goods(&amounts, kind);
    let destination = destination(cart);
    let zone_methods = shipping::delivery_for(conn, destination.as_ref())?;
    let weight = delivery::cart_weight(
        lines
            .iter()
            .map(|line| (line.weight_grams, u32::try_from(line.quantity).unwrap_or(0))),
    );
    let delivery = delivery::delivery(
        shop_has_zones || zone_methods.is_some(),
        zone_methods.as_deref(),
        subtotal - taken,
        weight,
        cart.shipping_method_id,
        policy,
    );
    let country_rates = match &destination {
        Some(destination) => shipping::tax_rates_of_country(conn, &destination.country_code)?,
        None => Vec::new(),
    };
    let rules = delivery::tax_rules(&country_rates, destination.as_ref(), policy);
    Ok(Priced {
        totals: totals(&amounts, kind, delivery.charge(), &rules, policy),
        delivery,
        discount_problem,
    })
}

/// A cart as loaded for a caller, with what its pricing needs to know of the shop.
#[derive(Debug, Clone)]
pub struct LoadedCart {
    /// The cart.
    pub cart: Cart,
    /// Whether the shop has any shipping zone (without one, every cart ships at the default
    /// rate).
    pub shop_has_zones: bool,
}

/// Loads a cart the caller may use, or `NOT_FOUND` (also for someone else's cart): one
/// statement.
pub fn load_for(conn: &mut DbConnection, caller: &Principal, token: &str) -> AppResult<LoadedCart> {
    let not_found = || {
        AppError::rejected(Rejection::new(
            &["cartId"],
            RejectionCode::NotFound,
            "no such cart",
        ))
    };
    let (cart, shop_has_zones) = cart::by_token_with_zones(conn, token)?.ok_or_else(not_found)?;
    match cart.user_id {
        Some(owner) if !caller.may_access_account(owner) => Err(not_found()),
        _ => Ok(LoadedCart {
            cart,
            shop_has_zones,
        }),
    }
}

/// The cart priced, its lines read.
fn view(
    conn: &mut DbConnection,
    loaded: LoadedCart,
    policy: &PricingPolicy,
) -> AppResult<CartView> {
    let lines = cart::lines(conn, loaded.cart.id)?;
    view_of(conn, loaded, lines, policy)
}

/// The cart with these `lines` (as they are now), priced.
fn view_of(
    conn: &mut DbConnection,
    LoadedCart {
        cart,
        shop_has_zones,
    }: LoadedCart,
    lines: Vec<CartLineView>,
    policy: &PricingPolicy,
) -> AppResult<CartView> {
    let discount = match cart.discount_code_id {
        Some(id) => discount::by_id(conn, id)?,
        None => None,
    };
    let priced = price(
        conn,
        &cart,
        shop_has_zones,
        &lines,
        discount.as_ref(),
        policy,
        now(),
    )?;
    Ok(CartView {
        cart,
        lines,
        discount,
        discount_problem: priced.discount_problem,
        delivery: priced.delivery,
        totals: priced.totals,
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

/// Opens a cart, owned by the caller when signed in, holding `lines` (units added as
/// `cartLinesAdd` adds them; problems are the lines').
pub async fn create(
    db: &Db,
    caller: Principal,
    lines: Vec<LineChange>,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let owner = caller.account_id();
    db.run(move |conn| {
        if lines.is_empty() {
            let cart = cart::insert(conn, &token, owner, now())?;
            let shop_has_zones = shipping::any_zone(conn)?;
            let loaded = LoadedCart {
                cart,
                shop_has_zones,
            };
            return view_of(conn, loaded, Vec::new(), &policy);
        }
        write_transaction(conn, |conn| {
            let at = now();
            let cart = cart::insert(conn, &token, owner, at)?;
            put_lines(conn, cart.id, &lines, LineWrite::Add, at)?;
            let written = cart::lines(conn, cart.id)?;
            within_line_limit(&written, &lines)?;
            let shop_has_zones = shipping::any_zone(conn)?;
            let loaded = LoadedCart {
                cart,
                shop_has_zones,
            };
            view_of(conn, loaded, written, &policy)
        })
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
        Ok(loaded) => view(conn, loaded, &policy).map(Some),
        Err(AppError::Rejected(_)) => Ok(None),
        Err(other) => Err(other),
    })
    .await
}

/// Adds units to lines or sets their quantities (0 removes a line), as `write` says. A cart
/// holds at most [`MAX_CART_LINES`] lines (distinct variants); a refused change leaves the cart
/// as it was.
pub async fn change_lines(
    db: &Db,
    caller: Principal,
    token: String,
    changes: Vec<LineChange>,
    write: LineWrite,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let loaded = load_for(conn, &caller, &token)?;
            let cart = &loaded.cart;
            mutable(cart)?;
            let at = now();
            // First, so that the cart's row is locked (PostgreSQL): concurrent changes of one
            // cart take turns, and the lines read below are those of this change alone.
            cart::update(conn, cart.id, cart.user_id, cart.discount_code_id, at)?;
            put_lines(conn, cart.id, &changes, write, at)?;
            let lines = cart::lines(conn, cart.id)?;
            within_line_limit(&lines, &changes)?;
            view_of(conn, loaded, lines, &policy)
        })
    })
    .await
}

/// Writes each change to the cart's lines, or refuses the first that cannot be made: a
/// quantity out of bounds, a variant not for sale. One statement a change.
fn put_lines(
    conn: &mut DbConnection,
    cart_id: i64,
    changes: &[LineChange],
    write: LineWrite,
    at: NaiveDateTime,
) -> AppResult<()> {
    let most = MAX_LINE_QUANTITY as i32;
    let least = match write {
        LineWrite::Add => 1,
        LineWrite::Set => 0,
    };
    for (index, change) in changes.iter().enumerate() {
        let index = index.to_string();
        let out_of_bounds = || {
            AppError::rejected(Rejection::new(
                &["lines", &index, "quantity"],
                RejectionCode::Invalid,
                format!("a line holds 1 to {MAX_LINE_QUANTITY} units"),
            ))
        };
        if change.quantity < least || change.quantity > most {
            return Err(out_of_bounds());
        }
        if change.quantity == 0 {
            cart::remove_line(conn, cart_id, change.variant)?;
            continue;
        }
        if cart::put_line(
            conn,
            cart_id,
            change.variant,
            change.quantity,
            write,
            most,
            at,
        )? {
            continue;
        }
        // Not written: the variant is not for sale, or the line would pass its maximum.
        let for_sale = !crate::db::models::variant::by_ids(
            conn,
            &[change.variant],
            crate::domain::catalog::CatalogVisibility::Storefront,
        )?
        .is_empty();
        return Err(if for_sale {
            out_of_bounds()
        } else {
            AppError::rejected(Rejection::new(
                &["lines", &index, "variantId"],
                RejectionCode::Unavailable,
                "this variant is not for sale",
            ))
        });
    }
    Ok(())
}

/// Refuses a cart of more than [`MAX_CART_LINES`] lines (`lines` oldest first), naming the first
/// change that made a line past the limit.
fn within_line_limit(lines: &[CartLineView], changes: &[LineChange]) -> AppResult<()> {
    let Some(past_limit) = lines.get(MAX_CART_LINES..).filter(|past| !past.is_empty()) else {
        return Ok(());
    };
    let index = changes
        .iter()
        .position(|change| {
            past_limit
                .iter()
                .any(|line| line.variant_id == change.variant)
        })
        .unwrap_or(0)
        .to_string();
    let count = i64::try_from(lines.len()).unwrap_or(i64::MAX);
    room_for(
        count,
        0,
        MAX_CART_LINES,
        &["lines", &index, "variantId"],
        "lines per cart",
    )
    .map_err(AppError::rejected)
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
            let LoadedCart {
                cart,
                shop_has_zones,
            } = load_for(conn, &caller, &token)?;
            mutable(&cart)?;
            let lines = cart::lines(conn, cart.id)?;
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
                    let (subtotal, _) = goods(&amounts(&lines), None);
                    if let Some(refusal) = discount_rules(&found).refusal(subtotal, now()) {
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
            let loaded = LoadedCart {
                cart,
                shop_has_zones,
            };
            view_of(conn, loaded, lines, &policy)
        })
    })
    .await
}

/// What `cartBuyerIdentityUpdate` changes; a part left `None` keeps its value.
#[derive(Debug, Clone, Default)]
pub struct BuyerIdentityChange {
    /// Where the confirmation goes.
    pub email: Option<String>,
    /// Where the goods go.
    pub shipping_address: Option<AddressParts>,
    /// Where the invoice goes.
    pub billing_address: Option<AddressParts>,
}

/// A checked address as stored (a JSON object of parts), or its problems under `field`.
pub fn checked_address(parts: &AddressParts, field: &str) -> AppResult<String> {
    let address = PostalAddress::parse(parts).map_err(|problems| {
        AppError::Rejected(problems.into_iter().map(|p| p.under(field)).collect())
    })?;
    serde_json::to_string(address.parts()).map_err(AppError::internal)
}

/// Sets who buys the cart and where it goes; its delivery options and taxes follow the new
/// shipping address.
pub async fn set_buyer_identity(
    db: &Db,
    caller: Principal,
    token: String,
    change: BuyerIdentityChange,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    let email = change
        .email
        .as_deref()
        .map(|raw| {
            Email::parse(raw)
                .map(|email| email.as_str().to_owned())
                .map_err(|r| AppError::rejected(r).under("buyerIdentity"))
        })
        .transpose()?;
    let shipping = change
        .shipping_address
        .as_ref()
        .map(|parts| checked_address(parts, "shippingAddress"))
        .transpose()
        .map_err(|e| e.under("buyerIdentity"))?;
    let billing = change
        .billing_address
        .as_ref()
        .map(|parts| checked_address(parts, "billingAddress"))
        .transpose()
        .map_err(|e| e.under("buyerIdentity"))?;
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let LoadedCart {
                cart,
                shop_has_zones,
            } = load_for(conn, &caller, &token)?;
            mutable(&cart)?;
            let identity = BuyerIdentity {
                buyer_email: email.unwrap_or_else(|| cart.buyer_email.clone()),
                shipping_address: shipping.unwrap_or_else(|| cart.shipping_address.clone()),
                billing_address: billing.unwrap_or_else(|| cart.billing_address.clone()),
            };
            cart::set_buyer_identity(conn, cart.id, identity.clone(), now())?;
            let cart = Cart {
                buyer_email: identity.buyer_email,
                shipping_address: identity.shipping_address,
                billing_address: identity.billing_address,
                ..cart
            };
            let loaded = LoadedCart {
                cart,
                shop_has_zones,
            };
            view(conn, loaded, &policy)
        })
    })
    .await
}

/// Chooses one of the cart's delivery options by its handle.
pub async fn select_delivery_option(
    db: &Db,
    caller: Principal,
    token: String,
    handle: String,
    policy: PricingPolicy,
) -> AppResult<CartView> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let loaded = load_for(conn, &caller, &token)?;
            mutable(&loaded.cart)?;
            let shop_has_zones = loaded.shop_has_zones;
            let current = view(conn, loaded, &policy)?;
            let Some(option) = current
                .delivery
                .offered()
                .iter()
                .find(|option| option.handle == handle.trim())
            else {
                return Err(AppError::rejected(Rejection::new(
                    &["handle"],
                    RejectionCode::NotFound,
                    "this delivery option is not offered for the cart as it is; read \
                     Cart.deliveryOptions",
                )));
            };
            let method_id = option.method_id;
            cart::set_shipping_method(conn, current.cart.id, method_id, now())?;
            let cart = Cart {
                shipping_method_id: method_id,
                ..current.cart
            };
            let loaded = LoadedCart {
                cart,
                shop_has_zones,
            };
            view_of(conn, loaded, current.lines, &policy)
        })
    })
    .await
}

/// After sign-in: an anonymous cart joins the customer's open cart (quantities add up; its
/// lines move oldest first, and none past [`MAX_CART_LINES`]), or becomes it when there is
/// none. The token of the customer's cart afterwards, if any; carts owned by someone else are
/// left alone.
pub async fn claim(
    db: &Db,
    user_id: AccountId,
    token: Option<String>,
) -> AppResult<Option<String>> {
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
