//! Demo and benchmark data: a believable shop, generated deterministically (the same scale always
//! gives the same catalog) and loaded in one transaction with multi-row inserts.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::Connection as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::models::bulk;
use crate::db::models::category::{self, NewCategory};
use crate::db::models::image::NewImage;
use crate::db::models::product::{self, NewProduct};
use crate::db::models::variant::NewVariant;
use crate::db::{Db, DbConnection};
use crate::domain::accounts::Role;
use crate::domain::catalog::{ProductStatus, search_text, slugify};
use crate::domain::ids::{CategoryId, OrderId, ProductId};
use crate::domain::orders::{OrderEventType, OrderStatus};
use crate::error::{AppError, AppResult};

/// What a seed run created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    /// Categories created.
    pub categories: usize,
    /// Products created.
    pub products: usize,
    /// Variants created.
    pub variants: usize,
    /// Images created.
    pub images: usize,
}

/// A leaf category of the demo shop and what it sells.
struct Department {
    root: &'static str,
    name: &'static str,
    noun: &'static str,
    /// Lowest and highest base price, in minor units.
    price_range: (i64, i64),
    option: (&'static str, &'static [&'static str]),
}

const SIZES: &[&str] = &["S", "M", "L", "XL"];
const COLORS: &[&str] = &["Black", "White", "Sage", "Navy"];
const CAPACITIES: &[&str] = &["350 ml", "500 ml", "750 ml"];

const DEPARTMENTS: &[Department] = &[
    Department {
        root: "Apparel",
        name: "T-Shirts",
        noun: "T-Shirt",
        price_range: (1500, 3500),
        option: ("Size", SIZES),
    },
    Department {
        root: "Apparel",
        name: "Hoodies",
        noun: "Hoodie",
        price_range: (4500, 8900),
        option: ("Size", SIZES),
    },
    Department {
        root: "Apparel",
        name: "Hats",
        noun: "Cap",
        price_range: (1800, 3200),
        option: ("Color", COLORS),
    },
    Department {
        root: "Home & Kitchen",
        name: "Mugs",
        noun: "Mug",
        price_range: (1200, 2800),
        option: ("Color", COLORS),
    },
    Department {
        root: "Home & Kitchen",
        name: "Cookware",
        noun: "Skillet",
        price_range: (3900, 14900),
        option: ("Size", &["20 cm", "24 cm", "28 cm"]),
    },
    Department {
        root: "Home & Kitchen",
        name: "Candles",
        noun: "Candle",
        price_range: (1400, 4200),
        option: ("Scent", &["Cedar", "Fig", "Sea Salt"]),
    },
    Department {
        root: "Electronics",
        name: "Headphones",
        noun: "Headphones",
        price_range: (5900, 34900),
        option: ("Color", COLORS),
    },
    Department {
        root: "Electronics",
        name: "Chargers",
        noun: "Charger",
        price_range: (1900, 6900),
        option: ("Power", &["20 W", "45 W", "65 W"]),
    },
    Department {
        root: "Electronics",
        name: "Speakers",
        noun: "Speaker",
        price_range: (4900, 24900),
        option: ("Color", COLORS),
    },
    Department {
        root: "Outdoors",
        name: "Backpacks",
        noun: "Backpack",
        price_range: (5900, 18900),
        option: ("Capacity", &["20 L", "28 L", "35 L"]),
    },
    Department {
        root: "Outdoors",
        name: "Tents",
        noun: "Tent",
        price_range: (12900, 49900),
        option: ("Sleeps", &["1", "2", "4"]),
    },
    Department {
        root: "Outdoors",
        name: "Water Bottles",
        noun: "Bottle",
        price_range: (1500, 4500),
        option: ("Capacity", CAPACITIES),
    },
];

const ADJECTIVES: &[&str] = &[
    "Classic", "Everyday", "Alpine", "Coastal", "Midnight", "Summit", "Heritage", "Urban",
    "Meadow", "Harbor", "Canyon", "Aurora", "Granite", "Willow", "Ember", "Nordic",
];

const FEATURES: &[&str] = &[
    "Made to last and easy to care for.",
    "Designed in small batches with recycled materials.",
    "A customer favourite, now in more options.",
    "Light, sturdy and ready for every day.",
    "Backed by our two-year guarantee.",
];

/// Products per leaf category at scale 1 (12 leaves: a 60-product demo shop).
const PRODUCTS_PER_DEPARTMENT: usize = 5;

/// Fills an empty catalog with the demo shop multiplied by `scale` (1: ~60 products and ~150
/// variants; 700: over 100,000 variants). Refuses a catalog that already has products.
pub async fn seed_catalog(db: &Db, scale: u32) -> AppResult<SeedReport> {
    if scale == 0 {
        return Err(AppError::bad_input("the scale must be at least 1"));
    }
    db.run(move |conn| seed_catalog_blocking(conn, scale)).await
}

/// Seeds the demo shop when the catalog is empty (first start in development); otherwise does
/// nothing.
pub fn seed_demo_if_empty(db: &Db) -> AppResult<()> {
    let empty =
        db.run_blocking(|conn| Ok(product::count(conn)? == 0 && category::count(conn)? == 0))?;
    if empty {
        let report = db.run_blocking(|conn| seed_catalog_blocking(conn, 1))?;
        let shoppers = db.run_blocking(|conn| seed_shoppers_blocking(conn, 1))?;
        tracing::info!(
            products = report.products,
            variants = report.variants,
            customers = shoppers.customers,
            orders = shoppers.orders,
            "seeded the demo shop (customers sign in with the password {SEEDED_CUSTOMER_PASSWORD:?})"
        );
    }
    Ok(())
}

/// What a shopper seed created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopperReport {
    /// Customer accounts (each with one address).
    pub customers: usize,
    /// Orders.
    pub orders: usize,
    /// Order lines.
    pub order_lines: usize,
}

/// The password of every seeded customer (`customer1@example.com` …): demo data only.
pub const SEEDED_CUSTOMER_PASSWORD: &str = "demo password";

/// Customers per unit of scale.
const CUSTOMERS_PER_SCALE: usize = 50;
/// Orders per unit of scale.
const ORDERS_PER_SCALE: usize = 500;
/// Lines per seeded order.
const LINES_PER_ORDER: usize = 3;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Niklaus",
];
const LAST_NAMES: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
    "Wirth",
];
const CITIES: &[(&str, &str)] = &[
    ("London", "GB"),
    ("Paris", "FR"),
    ("Berlin", "DE"),
    ("Portland", "US"),
    ("Toronto", "CA"),
    ("Lisbon", "PT"),
];

/// Adds `50 × scale` customers (one address each) and `500 × scale` past orders of three lines
/// over the active catalog (which must be seeded first). Refuses a database that has orders.
pub fn seed_shoppers_blocking(conn: &mut DbConnection, scale: u32) -> AppResult<ShopperReport> {
    use crate::db::models::bulk::{SeedAddress, SeedOrder, SeedOrderEvent, SeedUser};
    use crate::db::models::order::NewOrderLine;

    if scale == 0 {
        return Err(AppError::bad_input("the scale must be at least 1"));
    }
    let password_hash = bcrypt::hash(SEEDED_CUSTOMER_PASSWORD, 10).map_err(AppError::internal)?;
    conn.transaction(|conn| {
        if bulk::count_orders(conn)? > 0 {
            return Err(AppError::bad_input(
                "the database has orders already: seed a fresh one",
            ));
        }
        let sellable = bulk::sellable_variants(conn)?;
        if sellable.is_empty() {
            return Err(AppError::bad_input("seed the catalog first"));
        }
        let first_user = bulk::next_user_id(conn)?;
        let mut rng = StdRng::seed_from_u64(0x005E_ED0F_0DE5);
        let base_time = NaiveDate::from_ymd_opt(2026, 2, 1)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("bad seed base time")))?;
        let customer_count = CUSTOMERS_PER_SCALE * scale as usize;
        let mut customers = Vec::with_capacity(customer_count);
        let mut addresses = Vec::with_capacity(customer_count);
        let mut shipping = Vec::with_capacity(customer_count);
        for n in 0..customer_count {
            let id = first_user + n as i64;
            let first_name = FIRST_NAMES[n % FIRST_NAMES.len()].to_owned();
            let last_name = LAST_NAMES[(n / FIRST_NAMES.len()) % LAST_NAMES.len()].to_owned();
            let email = format!("customer{}@example.com", n + 1);
            let created_at = base_time + TimeDelta::minutes(n as i64 * 11);
            let (city, country) = CITIES[n % CITIES.len()];
            let line1 = format!("{} Market Street", 1 + n % 200);
            shipping.push(
                serde_json::json!({
                    "firstName": first_name, "lastName": last_name, "line1": line1,
                    "city": city, "countryCode": country,
                })
                .to_string(),
            );
            addresses.push((
                n as i64 + 1,
                SeedAddress {
                    user_id: id,
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    company: String::new(),
                    line1,
                    line2: String::new(),
                    city: city.to_owned(),
                    region: String::new(),
                    postal_code: format!("{:05}", 10_000 + n % 90_000),
                    country_code: country.to_owned(),
                    phone: String::new(),
                    is_default: true,
                    created_at,
                    updated_at: created_at,
                },
            ));
            customers.push((
                id,
                SeedUser {
                    search_text: format!("{email} {first_name} {last_name}").to_lowercase(),
                    email,
                    password_hash: password_hash.clone(),
                    first_name,
                    last_name,
                    role: Role::Customer,
                    created_at,
                    updated_at: created_at,
                },
            ));
        }
        let order_count = ORDERS_PER_SCALE * scale as usize;
        let mut orders = Vec::with_capacity(order_count);
        let mut lines = Vec::with_capacity(order_count * LINES_PER_ORDER);
        let mut events = Vec::with_capacity(order_count * 2);
        for n in 0..order_count {
            let order_id = n as i64 + 1;
            let customer = rng.random_range(0..customer_count);
            let created_at = base_time + TimeDelta::minutes(n as i64 * 3);
            let mut subtotal = 0;
            for _ in 0..LINES_PER_ORDER {
                let bulk::SellableVariant {
                    variant_id,
                    product_id,
                    sku,
                    title,
                    price,
                    product_name: name,
                } = &sellable[rng.random_range(0..sellable.len())];
                let quantity = rng.random_range(1..=3);
                subtotal += price * i64::from(quantity);
                lines.push((
                    lines.len() as i64 + 1,
                    NewOrderLine {
                        order_id: OrderId(order_id),
                        variant_id: Some(*variant_id),
                        product_id: Some(*product_id),
                        product_name: name.clone(),
                        variant_title: title.clone(),
                        sku: sku.clone(),
                        unit_price: *price,
                        quantity,
                        line_total: price * i64::from(quantity),
                    },
                ));
            }
            let shipping_total = if subtotal >= 5_000 { 0 } else { 500 };
            let status = match rng.random_range(0..10) {
                0 => OrderStatus::PendingPayment,
                1 => OrderStatus::Cancelled,
                2..=5 => OrderStatus::Fulfilled,
                _ => OrderStatus::Paid,
            };
            let mut event = |kind, from, to, at| {
                events.push((
                    events.len() as i64 + 1,
                    SeedOrderEvent {
                        order_id,
                        kind,
                        from_status: from,
                        to_status: to,
                        actor_id: None,
                        note: String::new(),
                        created_at: at,
                    },
                ));
            };
            let placed = OrderStatus::PendingPayment;
            event(OrderEventType::Created, None, placed, created_at);
            let later = created_at + TimeDelta::minutes(5);
            match status {
                OrderStatus::Cancelled => {
                    event(OrderEventType::Cancelled, Some(placed), status, later);
                }
                OrderStatus::Paid | OrderStatus::Fulfilled => {
                    event(OrderEventType::Paid, Some(placed), OrderStatus::Paid, later);
                    if status == OrderStatus::Fulfilled {
                        let shipped = later + TimeDelta::days(1);
                        event(
                            OrderEventType::Fulfilled,
                            Some(OrderStatus::Paid),
                            status,
                            shipped,
                        );
                    }
                }
                _ => {}
            }
            let (_, customer_row) = &customers[customer];
            orders.push((
                order_id,
                SeedOrder {
                    user_id: Some(first_user + customer as i64),
                    email: customer_row.email.clone(),
                    status,
                    currency: "USD".to_owned(),
                    subtotal,
                    discount_total: 0,
                    shipping_total,
                    tax_total: 0,
                    total: subtotal + shipping_total,
                    discount_code: None,
                    shipping_address: shipping[customer].clone(),
                    idempotency_key: None,
                    request_hash: "seed".to_owned(),
                    created_at,
                    updated_at: created_at,
                },
            ));
        }
        bulk::insert_users(conn, &customers)?;
        bulk::insert_addresses(conn, &addresses)?;
        bulk::insert_orders(conn, &orders)?;
        bulk::insert_order_lines(conn, &lines)?;
        bulk::insert_order_events(conn, &events)?;
        bulk::reset_id_sequences(
            conn,
            &[
                "users",
                "addresses",
                "orders",
                "order_lines",
                "order_events",
            ],
        )?;
        Ok(ShopperReport {
            customers: customers.len(),
            orders: orders.len(),
            order_lines: lines.len(),
        })
    })
}

/// [`seed_catalog`] on the current thread, for the command line and start-up.
pub fn seed_catalog_blocking(conn: &mut DbConnection, scale: u32) -> AppResult<SeedReport> {
    if scale == 0 {
        return Err(AppError::bad_input("the scale must be at least 1"));
    }
    conn.transaction(|conn| {
        if product::count(conn)? > 0 || category::count(conn)? > 0 {
            return Err(AppError::bad_input(
                "the catalog is not empty: seed a fresh database",
            ));
        }
        let base_time = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(9, 0, 0))
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("bad seed base time")))?;
        let leaf_ids = seed_categories(conn, base_time)?;
        let catalog = generate_products(&leaf_ids, scale, base_time);
        bulk::insert_products(conn, &catalog.products)?;
        bulk::insert_variants(conn, &catalog.variants)?;
        bulk::insert_images(conn, &catalog.images)?;
        bulk::reset_id_sequences(conn, &["products", "variants", "product_images"])?;
        Ok(SeedReport {
            categories: leaf_ids.len() + roots().len(),
            products: catalog.products.len(),
            variants: catalog.variants.len(),
            images: catalog.images.len(),
        })
    })
}

fn roots() -> Vec<&'static str> {
    let mut roots: Vec<&str> = DEPARTMENTS.iter().map(|d| d.root).collect();
    roots.dedup();
    roots
}

/// Creates the two-level category tree; returns the leaf ids in [`DEPARTMENTS`] order.
fn seed_categories(conn: &mut DbConnection, now: NaiveDateTime) -> AppResult<Vec<CategoryId>> {
    let mut leaf_ids = Vec::with_capacity(DEPARTMENTS.len());
    for (root_position, root) in (0..).zip(roots()) {
        let root_slug = slugify(root);
        let parent = category::insert(
            conn,
            &NewCategory {
                parent_id: None,
                name: root,
                slug: &root_slug,
                position: root_position,
                now,
            },
        )?;
        for (position, department) in (0..).zip(DEPARTMENTS.iter().filter(|d| d.root == root)) {
            let slug = slugify(department.name);
            let leaf = category::insert(
                conn,
                &NewCategory {
                    parent_id: Some(parent.id),
                    name: department.name,
                    slug: &slug,
                    position,
                    now,
                },
            )?;
            leaf_ids.push(leaf.id);
        }
    }
    Ok(leaf_ids)
}

struct GeneratedCatalog {
    products: Vec<(i64, NewProduct)>,
    variants: Vec<(i64, NewVariant)>,
    images: Vec<(i64, NewImage)>,
}

/// Generates the products, variants and images, deterministically from `scale`.
fn generate_products(
    leaf_ids: &[CategoryId],
    scale: u32,
    base_time: NaiveDateTime,
) -> GeneratedCatalog {
    let mut rng = StdRng::seed_from_u64(0xBA2AA2);
    let per_department = PRODUCTS_PER_DEPARTMENT * scale as usize;
    let total = per_department * DEPARTMENTS.len();
    let mut catalog = GeneratedCatalog {
        products: Vec::with_capacity(total),
        variants: Vec::with_capacity(total * 3),
        images: Vec::with_capacity(total * 2),
    };
    for n in 0..per_department {
        for (department, &category_id) in DEPARTMENTS.iter().zip(leaf_ids) {
            let product_id = catalog.products.len() as i64 + 1;
            let adjective = ADJECTIVES[n % ADJECTIVES.len()];
            let name = if scale == 1 {
                format!("{adjective} {}", department.noun)
            } else {
                format!(
                    "{adjective} {} {}",
                    department.noun,
                    n / ADJECTIVES.len() + 1
                )
            };
            let slug = if scale == 1 {
                slugify(&name)
            } else {
                format!("{}-{product_id}", slugify(&name))
            };
            let description = format!("{name}. {}", FEATURES[rng.random_range(0..FEATURES.len())]);
            let status = match rng.random_range(0..40) {
                0 => ProductStatus::Draft,
                1 => ProductStatus::Archived,
                _ => ProductStatus::Active,
            };
            let created_at = base_time + TimeDelta::minutes(product_id * 37);
            let (low, high) = department.price_range;
            // Prices end in .00 or .99, like a real shop's.
            let base_price = (rng.random_range(low..=high) / 100) * 100
                + if rng.random_bool(0.5) { 99 } else { 0 };
            let (option_name, values) = department.option;
            let variant_count = rng.random_range(2..=values.len().min(3));
            let mut skus = Vec::with_capacity(variant_count);
            let mut prices = Vec::with_capacity(variant_count);
            for (position, value) in (0..).zip(&values[..variant_count]) {
                let variant_id = catalog.variants.len() as i64 + 1;
                let sku = format!(
                    "{}-{product_id:05}-{}",
                    sku_prefix(department.noun),
                    slugify(value).to_uppercase()
                );
                let price = base_price + i64::from(position) * 500;
                let stock = if rng.random_range(0..10) == 0 {
                    0
                } else {
                    rng.random_range(1..=60)
                };
                catalog.variants.push((
                    variant_id,
                    NewVariant {
                        product_id: ProductId(product_id),
                        sku: sku.clone(),
                        title: (*value).to_owned(),
                        options: serde_json::json!([{ "name": option_name, "value": value }])
                            .to_string(),
                        price,
                        compare_at_price: rng.random_bool(0.2).then_some(price + 1000),
                        stock,
                        position,
                        // Larger sizes weigh more; no draw from `rng`, so the rest of the
                        // catalog stays as it was.
                        weight_grams: 300 + i64::from(position) * 50,
                        created_at,
                        updated_at: created_at,
                    },
                ));
                skus.push(sku);
                prices.push(price);
            }
            for position in 0..rng.random_range(1..=2) {
                catalog.images.push((
                    catalog.images.len() as i64 + 1,
                    NewImage {
                        product_id: ProductId(product_id),
                        url: format!(
                            "https://images.bazaar.example/products/{slug}/{}.jpg",
                            position + 1
                        ),
                        alt_text: format!("{name}, view {}", position + 1),
                        position,
                    },
                ));
            }
            catalog.products.push((
                product_id,
                NewProduct {
                    category_id: Some(category_id),
                    search_text: search_text(&name, &description, skus.iter().map(String::as_str)),
                    name,
                    slug,
                    description,
                    status,
                    price_min: prices.iter().copied().min().unwrap_or(0),
                    price_max: prices.iter().copied().max().unwrap_or(0),
                    created_at,
                    updated_at: created_at,
                    external_ref: None,
                },
            ));
        }
    }
    catalog
}

fn sku_prefix(noun: &str) -> String {
    noun.chars()
        .filter(char::is_ascii_alphabetic)
        .take(3)
        .collect::<String>()
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_consistent() {
        let leaves: Vec<CategoryId> = (1..=DEPARTMENTS.len() as i64).map(CategoryId).collect();
        let time = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let a = generate_products(&leaves, 2, time);
        let b = generate_products(&leaves, 2, time);
        assert_eq!(a.products.len(), 120);
        assert_eq!(
            a.variants.iter().map(|(_, v)| &v.sku).collect::<Vec<_>>(),
            b.variants.iter().map(|(_, v)| &v.sku).collect::<Vec<_>>()
        );
        let skus: std::collections::HashSet<_> = a.variants.iter().map(|(_, v)| &v.sku).collect();
        assert_eq!(skus.len(), a.variants.len(), "SKUs are unique");
        let slugs: std::collections::HashSet<_> = a.products.iter().map(|(_, p)| &p.slug).collect();
        assert_eq!(slugs.len(), a.products.len(), "slugs are unique");
        for (id, product) in &a.products {
            let prices: Vec<i64> = a
                .variants
                .iter()
                .filter(|(_, v)| v.product_id == ProductId(*id))
                .map(|(_, v)| v.price)
                .collect();
            assert_eq!(product.price_min, *prices.iter().min().unwrap());
            assert_eq!(product.price_max, *prices.iter().max().unwrap());
        }
    }

    #[test]
    fn demo_shop_has_the_promised_size() {
        let leaves: Vec<CategoryId> = (1..=DEPARTMENTS.len() as i64).map(CategoryId).collect();
        let time = NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let demo = generate_products(&leaves, 1, time);
        assert_eq!(demo.products.len(), 60);
        assert!(
            (120..=180).contains(&demo.variants.len()),
            "{}",
            demo.variants.len()
        );
    }
}
