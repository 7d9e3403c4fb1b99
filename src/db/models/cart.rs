//! Carts and their lines; a line joined with its variant and product is what pricing reads.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::prepared::Prepared;
use crate::db::schema::{cart_lines, carts, products, shipping_zones, variants};
use crate::db::sealed::{Sealed, Unsealed};
use crate::domain::catalog::ProductStatus;
use crate::domain::ids::{AccountId, DiscountCodeId, OrderId, ProductId, VariantId};
use crate::on_backend;

/// A cart row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = carts)]
pub struct Cart {
    pub id: i64,
    pub token: String,
    pub user_id: Option<AccountId>,
    pub discount_code_id: Option<DiscountCodeId>,
    pub order_id: Option<OrderId>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Where the confirmation goes; empty until the buyer says.
    pub buyer_email: String,
    /// The shipping address as a JSON object of parts; empty until the buyer says.
    #[diesel(deserialize_as = Unsealed)]
    pub shipping_address: String,
    /// The billing address, likewise.
    #[diesel(deserialize_as = Unsealed)]
    pub billing_address: String,
    /// The shipping method the buyer chose, if any.
    pub shipping_method_id: Option<i64>,
}

/// Who buys a cart and where it goes, as stored (addresses as JSON objects of parts, empty when
/// not given).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = carts)]
pub struct BuyerIdentity {
    pub buyer_email: String,
    #[diesel(serialize_as = Sealed)]
    pub shipping_address: String,
    #[diesel(serialize_as = Sealed)]
    pub billing_address: String,
}

/// A cart line with what the shop knows of its variant now.
#[derive(Debug, Clone, Queryable)]
pub struct CartLineView {
    pub line_id: i64,
    pub variant_id: VariantId,
    pub quantity: i32,
    pub sku: String,
    pub variant_title: String,
    pub unit_price: i64,
    pub stock: i32,
    pub variant_archived_at: Option<NaiveDateTime>,
    /// Grams per unit.
    pub weight_grams: i64,
    pub product_id: ProductId,
    pub product_name: String,
    pub product_status: ProductStatus,
}

/// Opens a cart.
pub fn insert(
    conn: &mut DbConnection,
    token: &str,
    user_id: Option<AccountId>,
    now: NaiveDateTime,
) -> QueryResult<Cart> {
    let row = (
        carts::token.eq(token),
        carts::user_id.eq(user_id),
        carts::created_at.eq(now),
        carts::updated_at.eq(now),
    );
    on_backend!(conn, |c| diesel::insert_into(carts::table)
        .values(row)
        .returning(Cart::as_select())
        .get_result(c))
}

/// The cart with this token.
pub fn by_token(conn: &mut DbConnection, token: &str) -> QueryResult<Option<Cart>> {
    carts::table
        .filter(carts::token.eq(token))
        .select(Cart::as_select())
        .first(conn)
        .optional()
}

/// The cart with this token, and whether the shop has any shipping zone (what pricing the cart
/// needs to know of the shop): one statement.
pub fn by_token_with_zones(
    conn: &mut DbConnection,
    token: &str,
) -> QueryResult<Option<(Cart, bool)>> {
    carts::table
        .filter(carts::token.eq(token))
        .select((
            Cart::as_select(),
            diesel::dsl::exists(shipping_zones::table.select(shipping_zones::id)),
        ))
        .first(conn)
        .optional()
}

/// The open (not checked out) cart of an account, the newest if several.
pub fn open_of_user(conn: &mut DbConnection, user_id: AccountId) -> QueryResult<Option<Cart>> {
    carts::table
        .filter(carts::user_id.eq(user_id))
        .filter(carts::order_id.is_null())
        .order_by(carts::id.desc())
        .select(Cart::as_select())
        .first(conn)
        .optional()
}

/// The lines of a cart with their variants and products, oldest first.
pub fn lines(conn: &mut DbConnection, cart_id: i64) -> QueryResult<Vec<CartLineView>> {
    cart_lines::table
        .inner_join(variants::table.inner_join(products::table))
        .filter(cart_lines::cart_id.eq(cart_id))
        .order_by(cart_lines::id)
        .select((
            cart_lines::id,
            cart_lines::variant_id,
            cart_lines::quantity,
            variants::sku,
            variants::title,
            variants::price,
            variants::stock,
            variants::archived_at,
            variants::weight_grams,
            products::id,
            products::name,
            products::status,
        ))
        .load(conn)
}

/// Sets the quantity of a variant's line in a cart (the line is there: see [`insert_line`]).
pub fn update_line(
    conn: &mut DbConnection,
    cart_id: i64,
    variant_id: VariantId,
    quantity: i32,
) -> QueryResult<usize> {
    diesel::update(
        cart_lines::table
            .filter(cart_lines::cart_id.eq(cart_id))
            .filter(cart_lines::variant_id.eq(variant_id)),
    )
    .set(cart_lines::quantity.eq(quantity))
    .execute(conn)
}

/// How [`put_line`] counts a line's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineWrite {
    /// Adds the units to those the line holds.
    Add,
    /// Sets the line to the units.
    Set,
}

/// Writes a variant's line in a cart: adds `quantity` units to it or sets it to `quantity`
/// (`write`), making the line when the cart does not hold the variant. Only a variant for sale
/// (not archived, its product active) is written, and only while the line stays within `most`
/// units: whether the line was written. One statement.
pub fn put_line(
    conn: &mut DbConnection,
    cart_id: i64,
    variant_id: VariantId,
    quantity: i32,
    write: LineWrite,
    most: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use diesel::sql_types::{BigInt, Integer, Timestamp};
    use diesel::upsert::excluded;

    let for_sale = variants::table
        .inner_join(products::table)
        .filter(variants::id.eq(variant_id))
        .filter(variants::archived_at.is_null())
        .filter(products::status.eq(ProductStatus::Active))
        .select((
            cart_id.into_sql::<BigInt>(),
            variants::id,
            quantity.into_sql::<Integer>(),
            now.into_sql::<Timestamp>(),
        ));
    let upsert = diesel::insert_into(cart_lines::table)
        .values(for_sale)
        .into_columns((
            cart_lines::cart_id,
            cart_lines::variant_id,
            cart_lines::quantity,
            cart_lines::created_at,
        ))
        .on_conflict((cart_lines::cart_id, cart_lines::variant_id))
        .do_update();
    let written = match write {
        LineWrite::Add => {
            let sum = cart_lines::quantity + excluded(cart_lines::quantity);
            // `ON CONFLICT … DO UPDATE … WHERE`: the held line only while the sum fits.
            let statement = diesel::query_dsl::methods::FilterDsl::filter(
                upsert.set(cart_lines::quantity.eq(sum)),
                sum.le(most),
            );
            on_backend!(conn, |c| statement.execute(c))?
        }
        LineWrite::Set => {
            let statement = upsert.set(cart_lines::quantity.eq(excluded(cart_lines::quantity)));
            on_backend!(conn, |c| statement.execute(c))?
        }
    };
    Ok(written == 1)
}

/// Adds a line for a variant the cart does not hold yet (its `(cart, variant)` key is unique).
pub fn insert_line(
    conn: &mut DbConnection,
    cart_id: i64,
    variant_id: VariantId,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(cart_lines::table)
        .values((
            cart_lines::cart_id.eq(cart_id),
            cart_lines::variant_id.eq(variant_id),
            cart_lines::quantity.eq(quantity),
            cart_lines::created_at.eq(now),
        ))
        .execute(conn)
}

/// Removes a variant's line from a cart.
pub fn remove_line(
    conn: &mut DbConnection,
    cart_id: i64,
    variant_id: VariantId,
) -> QueryResult<usize> {
    diesel::delete(
        cart_lines::table
            .filter(cart_lines::cart_id.eq(cart_id))
            .filter(cart_lines::variant_id.eq(variant_id)),
    )
    .execute(conn)
}

/// Records a change to the cart (its discount code and owner, and the time).
pub fn update(
    conn: &mut DbConnection,
    cart_id: i64,
    user_id: Option<AccountId>,
    discount_code_id: Option<DiscountCodeId>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(carts::table.find(cart_id))
        .set((
            carts::user_id.eq(user_id),
            carts::discount_code_id.eq(discount_code_id),
            carts::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Sets who buys the cart and where it goes.
pub fn set_buyer_identity(
    conn: &mut DbConnection,
    cart_id: i64,
    identity: BuyerIdentity,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(carts::table.find(cart_id))
        .set((identity, carts::updated_at.eq(now)))
        .execute(conn)
}

/// Sets the shipping method the buyer chose (`None`: the cheapest offered).
pub fn set_shipping_method(
    conn: &mut DbConnection,
    cart_id: i64,
    method_id: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(carts::table.find(cart_id))
        .set((
            carts::shipping_method_id.eq(method_id),
            carts::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Marks a cart checked out as `order_id`, unless it already was. Whether it was marked.
pub fn complete(conn: &mut DbConnection, cart_id: i64, order_id: OrderId) -> QueryResult<bool> {
    let completing = Prepared(
        diesel::update(carts::table.find(cart_id))
            .filter(carts::order_id.is_null())
            .set(carts::order_id.eq(order_id))
            .returning(carts::id),
    );
    let completed: Option<i64> = on_backend!(conn, |c| completing.get_result(c).optional())?;
    Ok(completed.is_some())
}

/// Moves every line of `from` into `into` (adding quantities, capped at `max`; oldest first, and
/// no new line once `into` holds `most_lines`), then deletes `from`.
pub fn merge(
    conn: &mut DbConnection,
    from: i64,
    into: i64,
    max: i32,
    most_lines: usize,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let moving: Vec<(VariantId, i32)> = cart_lines::table
        .filter(cart_lines::cart_id.eq(from))
        .order_by(cart_lines::id)
        .select((cart_lines::variant_id, cart_lines::quantity))
        .load(conn)?;
    let mut lines: i64 = cart_lines::table
        .filter(cart_lines::cart_id.eq(into))
        .count()
        .get_result(conn)?;
    for (variant_id, quantity) in moving {
        let existing: Option<i32> = cart_lines::table
            .filter(cart_lines::cart_id.eq(into))
            .filter(cart_lines::variant_id.eq(variant_id))
            .select(cart_lines::quantity)
            .first(conn)
            .optional()?;
        if existing.is_none() {
            if usize::try_from(lines).unwrap_or(usize::MAX) >= most_lines {
                continue;
            }
            lines += 1;
        }
        let total = (existing.unwrap_or(0) + quantity).min(max);
        match existing {
            Some(_) => update_line(conn, into, variant_id, total)?,
            None => insert_line(conn, into, variant_id, total, now)?,
        };
    }
    diesel::delete(carts::table.find(from)).execute(conn)?;
    Ok(())
}
