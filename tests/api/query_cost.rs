//! The requested cost is an upper bound of the actual cost (issue 17): the storefront grid of
//! the issue, lists that take `first` and honour it, writes refused past each list's maximum,
//! and a property test that runs generated queries over the real schema against a shop holding
//! lists at their maxima and checks `actualQueryCost <= requestedQueryCost` for each.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use proptest::collection::vec;
use proptest::prelude::any;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::commerce::{address, cart_with};
use crate::helpers::{ApiClient, TestApp, error_codes, spawn_app, spawn_app_with};

/// `extensions.cost` of a response: (requested, actual).
fn costs(response: &Value) -> (f64, f64) {
    let cost = &response["extensions"]["cost"];
    (
        cost["requestedQueryCost"]
            .as_f64()
            .expect("a requested cost"),
        cost["actualQueryCost"].as_f64().expect("an actual cost"),
    )
}

/// The issue's storefront grid: 20 products with every variant and image.
const GRID: &str = "{ products(first: 20) { edges { node { name slug
    variants { id sku price { amount currencyCode } } images { url altText } } } } }";

/// The same grid asking for the variants and images a grid shows.
const BOUNDED_GRID: &str = "{ products(first: 20) { edges { node { name slug
    variants(first: 5) { id sku price { amount currencyCode } } images(first: 2) { url altText } } } } }";

#[actix_web::test]
async fn the_storefront_grid_is_charged_at_least_what_it_costs() {
    let app = spawn_app().await;
    // Before issue 17 this was charged 261 and cost 435 on the demo shop: lists without
    // `first` were priced as one item. Now each is priced at its maximum (100 variants, 20
    // images): far above the default bucket of 1,000, which refuses it instead of being
    // overdrawn.
    let grid = app.graphql(GRID, json!({})).await;
    assert!(grid.get("errors").is_none(), "{grid}");
    let (requested, actual) = costs(&grid);
    // 2 + 20 × (node, name, slug + variants 1 + 100 × 5 + images 1 + 20 × 2).
    assert_eq!(
        requested,
        2.0 + 20.0 * (3.0 + (1.0 + 100.0 * 5.0) + (1.0 + 20.0 * 2.0))
    );
    assert!(
        actual <= requested,
        "actual {actual} > requested {requested}"
    );
    println!("issue's grid: requested {requested}, actual {actual}");
    let variants: usize = grid["data"]["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["variants"].as_array().unwrap().len())
        .sum();
    assert!(
        variants > 20,
        "the demo products have several variants each"
    );
    assert!(requested > 1_000.0, "more than the default bucket holds");

    // Asking for the variants and images a grid shows makes it affordable, still an upper
    // bound: 2 + 20 × (node, name, slug + variants 1 + 5 × 5 + images 1 + 2 × 2).
    let bounded = app.graphql(BOUNDED_GRID, json!({})).await;
    assert!(bounded.get("errors").is_none(), "{bounded}");
    let (requested, actual) = costs(&bounded);
    assert_eq!(requested, 682.0);
    assert!(
        actual <= requested,
        "actual {actual} > requested {requested}"
    );
    // A document's only operation runs without `operationName` even when it has a name: it
    // is priced the same (it once was priced at 0, a way around every bucket).
    let named = app
        .graphql(&format!("query Grid {BOUNDED_GRID}"), json!({}))
        .await;
    assert!(named.get("errors").is_none(), "{named}");
    assert_eq!(costs(&named).0, 682.0);

    println!("bounded grid: requested {requested}, actual {actual}");
    let small = spawn_app_with(1, &["--cost-bucket-size", "1000"]).await;
    let refused = small.graphql(GRID, json!({})).await;
    assert_eq!(error_codes(&refused), ["QUERY_TOO_COMPLEX"], "{refused}");
    let fine = small.graphql(BOUNDED_GRID, json!({})).await;
    assert!(fine.get("errors").is_none(), "{fine}");
}

#[actix_web::test]
async fn lists_take_first_and_refuse_what_is_out_of_range() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ categories(first: 2) { name children(first: 1) { name } }
               products(first: 3) { edges { node { variants(first: 1) { sku } images(first: 0) { url }
                                                   reviews(first: 1) { edges { node { body } } } } } } }",
            json!({}),
        )
        .await;
    let categories = data["categories"].as_array().unwrap();
    assert_eq!(categories.len(), 2);
    for category in categories {
        assert_eq!(category["children"].as_array().unwrap().len(), 1);
    }
    for edge in data["products"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["variants"].as_array().unwrap().len(), 1);
        assert_eq!(edge["node"]["images"], json!([]));
    }
    let all = app
        .data(
            "{ categories { children { name } } products(first: 20) { edges { node { variants { sku } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        all["categories"].as_array().unwrap().len(),
        4,
        "nothing cut by default"
    );
    let most_variants = all["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["variants"].as_array().unwrap().len())
        .max();
    assert_eq!(most_variants, Some(3), "every variant by default");

    for query in [
        "{ categories(first: -1) { name } }",
        "{ categories(first: 51) { name } }",
        "{ products(first: 1) { edges { node { variants(first: 101) { sku } } } } }",
        "{ products(first: 1) { edges { node { images(first: -5) { url } } } } }",
    ] {
        let response = app.graphql(query, json!({})).await;
        assert_eq!(
            error_codes(&response),
            ["BAD_USER_INPUT"],
            "{query}: {response}"
        );
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("`first` must be between 0 and"),
            "{message}"
        );
    }
}

const VARIANT_CREATE: &str = "mutation($p: ID!, $input: VariantFields!) {
    variantCreate(productId: $p, input: $input) { variant { id } userErrors { field message code } } }";

const IMAGE_ADD: &str = "mutation($p: ID!, $url: String!) {
    productImageAdd(productId: $p, url: $url) { userErrors { field message code } } }";

/// A new ACTIVE product holding the most variants (each with the most option values and stock)
/// and images a product may have; its id and its variants' ids.
async fn product_at_every_maximum(app: &ApiClient, staff: &str) -> (String, Vec<String>) {
    let created = app
        .data_as(
            staff,
            "mutation { productCreate(input: { name: \"Aaa Everything\", status: ACTIVE }) {
                product { id } userErrors { code } } }",
            json!({}),
        )
        .await;
    let product = created["productCreate"]["product"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut variants = Vec::new();
    for n in 0..100 {
        let options = json!([{ "name": "Size", "value": format!("M{n}") },
                             { "name": "Color", "value": "Sage" }, { "name": "Fit", "value": "Slim" }]);
        let input = json!({ "sku": format!("MAX-{n:03}"), "title": format!("No. {n}"),
                            "price": "10.00", "stock": 50, "options": options });
        let answer = app
            .data_as(
                staff,
                VARIANT_CREATE,
                json!({ "p": product, "input": input }),
            )
            .await;
        assert_eq!(answer["variantCreate"]["userErrors"], json!([]), "{answer}");
        variants.push(
            answer["variantCreate"]["variant"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for n in 0..20 {
        let url = format!("https://images.example/max/{n}.jpg");
        let answer = app
            .data_as(staff, IMAGE_ADD, json!({ "p": product, "url": url }))
            .await;
        assert_eq!(
            answer["productImageAdd"]["userErrors"],
            json!([]),
            "{answer}"
        );
    }
    (product, variants)
}

/// A new cart holding one unit of each of `variants`; its id and the add's response.
async fn cart_of(app: &ApiClient, variants: &[String]) -> (String, Value) {
    let cart = cart_with(app, None, &variants[0], 1).await;
    let lines: Vec<Value> = variants[1..]
        .iter()
        .map(|variant| json!({ "variantId": variant, "quantity": 1 }))
        .collect();
    let answer = app
        .graphql(
            "mutation($cart: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cart, lines: $lines) {
                cart { lines { sku } } userErrors { field message code } } }",
            json!({ "cart": cart, "lines": lines }),
        )
        .await;
    (cart, answer)
}

fn limit_reached(payload: &Value) -> bool {
    payload["userErrors"][0]["code"] == "LIMIT_REACHED"
}

#[actix_web::test]
async fn writes_stop_at_each_lists_maximum() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let (product, variants) = product_at_every_maximum(&app, &staff.token).await;

    let input = json!({ "sku": "MAX-100", "title": "One too many", "price": "10.00" });
    let more = app
        .data_as(
            &staff.token,
            VARIANT_CREATE,
            json!({ "p": product, "input": input }),
        )
        .await;
    assert!(limit_reached(&more["variantCreate"]), "{more}");
    let image = app
        .data_as(
            &staff.token,
            IMAGE_ADD,
            json!({ "p": product, "url": "https://images.example/max/20.jpg" }),
        )
        .await;
    assert!(limit_reached(&image["productImageAdd"]), "{image}");
    let four_options = json!({ "sku": "OPT-4", "title": "Four", "price": "1.00", "options": [
        { "name": "A", "value": "1" }, { "name": "B", "value": "2" },
        { "name": "C", "value": "3" }, { "name": "D", "value": "4" }] });
    let other = app
        .data_as(
            &staff.token,
            VARIANT_CREATE,
            json!({ "p": "gid://bazaar/Product/1", "input": four_options }),
        )
        .await;
    let refused = &other["variantCreate"]["userErrors"][0];
    assert_eq!(refused["code"], "LIMIT_REACHED", "{other}");
    assert_eq!(refused["field"], json!(["input", "options"]));
    let shown = app
        .data(
            "query($p: ID!) { product(id: $p) { variants(first: 1) { selectedOptions { name } } } }",
            json!({ "p": product }),
        )
        .await;
    assert_eq!(
        shown["product"]["variants"][0]["selectedOptions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // At their maxima, lists come back as long as they were priced: a full product costs
    // exactly what it requested, 1 + variants (1 + 100 × (sku + options 1 + 3 × name)) + images
    // (1 + 20 × url).
    let full = app
        .graphql(
            "query($p: ID!) { product(id: $p) { variants { sku selectedOptions { name } } images { url } } }",
            json!({ "p": product }),
        )
        .await;
    assert!(full.get("errors").is_none(), "{full}");
    assert_eq!(costs(&full), (523.0, 523.0));

    // A cart takes 50 lines, not 51; the refused change leaves it as it was.
    let (cart, answer) = cart_of(&app, &variants[..50]).await;
    let payload = &answer["data"]["cartLinesAdd"];
    assert_eq!(payload["userErrors"], json!([]), "{answer}");
    assert_eq!(payload["cart"]["lines"].as_array().unwrap().len(), 50);
    let full = app
        .graphql(
            "query($c: ID!) { cart(id: $c) { lines { sku } } }",
            json!({ "c": cart }),
        )
        .await;
    assert_eq!(costs(&full), (52.0, 52.0), "{full}");
    let one_more = app
        .graphql(
            "mutation($cart: ID!, $v: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $v, quantity: 1 }]) {
                cart { itemCount } userErrors { field code } } }",
            json!({ "cart": cart, "v": variants[50] }),
        )
        .await;
    let payload = &one_more["data"]["cartLinesAdd"];
    assert!(limit_reached(payload), "{one_more}");
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["lines", "0", "variantId"])
    );
    let (_, too_many) = cart_of(&app, &variants[..51]).await;
    assert!(
        limit_reached(&too_many["data"]["cartLinesAdd"]),
        "{too_many}"
    );
    // Signing in with the full anonymous cart merges it into the customer's own cart of 10
    // lines: 40 of its lines move (the oldest), the rest stay out.
    let ada = app.register("ada@example.com").await;
    let own = cart_with(&app, Some(&ada.token), &variants[90], 1).await;
    let lines: Vec<Value> = variants[91..100]
        .iter()
        .map(|variant| json!({ "variantId": variant, "quantity": 1 }))
        .collect();
    let more = app
        .graphql_as(
            Some(&ada.token),
            "mutation($cart: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cart, lines: $lines) {
                userErrors { code } } }",
            json!({ "cart": own, "lines": lines }),
        )
        .await;
    assert_eq!(
        more["data"]["cartLinesAdd"]["userErrors"],
        json!([]),
        "{more}"
    );
    let signed_in = app
        .graphql(
            "mutation($cart: ID!) { login(email: \"ada@example.com\", password: \"correct horse battery\", cartId: $cart) {
                cart { lines { sku } } userErrors { code } } }",
            json!({ "cart": cart }),
        )
        .await;
    let skus: Vec<&str> = signed_in["data"]["login"]["cart"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus.len(), 50, "{signed_in}");
    assert_eq!(
        skus[10], "MAX-000",
        "the anonymous cart's oldest line moved"
    );
    assert_eq!(skus[49], "MAX-039");

    // Categories: 50 under one parent (the demo's "Apparel" has 3).
    let apparel = app
        .data(
            "{ category(slug: \"apparel\") { id children { id } } }",
            json!({}),
        )
        .await;
    let parent = apparel["category"]["id"].as_str().unwrap();
    let existing = apparel["category"]["children"].as_array().unwrap().len();
    let create =
        "mutation($p: ID!, $name: String!) { categoryCreate(input: { name: $name, parentId: $p }) {
        userErrors { field code } } }";
    for n in existing..50 {
        let answer = app
            .data_as(
                &staff.token,
                create,
                json!({ "p": parent, "name": format!("Sub {n}") }),
            )
            .await;
        assert_eq!(
            answer["categoryCreate"]["userErrors"],
            json!([]),
            "{answer}"
        );
    }
    let answer = app
        .data_as(
            &staff.token,
            create,
            json!({ "p": parent, "name": "Sub 50" }),
        )
        .await;
    assert!(limit_reached(&answer["categoryCreate"]), "{answer}");
}

/// Rows written behind the API (an import, SQL by hand, a race between two writes) cannot make
/// a list longer than its bound: reads stop there too.
#[actix_web::test]
async fn reads_stop_at_each_lists_bound_whatever_the_database_holds() {
    use bazaar::db::schema::{addresses, order_events, payments, variants};
    use diesel::prelude::*;

    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("many@example.com").await;
    let user_id: i64 = customer.id.rsplit('/').next().unwrap().parse().unwrap();
    let order = app
        .db
        .run(move |conn| {
            bazaar::services::seed::seed_shoppers_blocking(conn, 1)?;
            let now = chrono::Utc::now().naive_utc();
            for n in 0..25 {
                diesel::insert_into(addresses::table)
                    .values((
                        addresses::user_id.eq(user_id),
                        addresses::first_name.eq("Ada"),
                        addresses::last_name.eq("Lovelace"),
                        addresses::company.eq(""),
                        addresses::line1.eq(format!("{n} Market Street")),
                        addresses::line2.eq(""),
                        addresses::city.eq("London"),
                        addresses::region.eq(""),
                        addresses::postal_code.eq("SW1Y 4JH"),
                        addresses::country_code.eq("GB"),
                        addresses::phone.eq(""),
                        addresses::is_default.eq(n == 0),
                        addresses::created_at.eq(now),
                        addresses::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            for n in 0..20 {
                diesel::insert_into(order_events::table)
                    .values((
                        order_events::order_id.eq(1_i64),
                        order_events::kind.eq("PAYMENT_REVERSED"),
                        order_events::from_status.eq(Some("PAID")),
                        order_events::to_status.eq("PAID"),
                        order_events::note.eq(format!("imported {n}")),
                        order_events::created_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            for n in 0..30 {
                diesel::insert_into(payments::table)
                    .values((
                        payments::order_id.eq(1_i64),
                        payments::kind.eq("CHARGE"),
                        payments::amount.eq(100_i64),
                        payments::status.eq("DECLINED"),
                        payments::gateway_reference.eq(""),
                        payments::message.eq("declined"),
                        payments::idempotency_key.eq(format!("imported-{n}")),
                        payments::created_at.eq(now),
                        payments::provider.eq("test"),
                        payments::payment_method.eq("tok_decline"),
                        payments::request_hash.eq(""),
                        payments::checks.eq(0),
                    ))
                    .execute(conn)?;
            }
            let options: Vec<Value> = (0..5)
                .map(|n| json!({ "name": format!("Option {n}"), "value": "x" }))
                .collect();
            diesel::update(variants::table.find(1_i64))
                .set(variants::options.eq(Value::Array(options).to_string()))
                .execute(conn)?;
            Ok("gid://bazaar/Order/1")
        })
        .await
        .unwrap();

    let mine = app
        .graphql_as(
            Some(&customer.token),
            "{ me { addresses { city } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["addresses"].as_array().unwrap().len(),
        20
    );
    let (requested, actual) = costs(&mine);
    assert_eq!((requested, actual), (1.0 + (1.0 + 20.0), 22.0));

    let history = app
        .graphql_as(
            Some(&admin.token),
            "query($o: ID!) { node(id: $o) { ... on Order { events { type } payments { status } } } }",
            json!({ "o": order }),
        )
        .await;
    let node = &history["data"]["node"];
    assert_eq!(node["events"].as_array().unwrap().len(), 14, "{history}");
    assert_eq!(node["payments"].as_array().unwrap().len(), 25, "{history}");
    let (requested, actual) = costs(&history);
    assert_eq!(
        (requested, actual),
        (1.0 + (1.0 + 14.0) + (1.0 + 25.0), 42.0)
    );

    let variant = app
        .data_as(
            &admin.token,
            "{ node(id: \"gid://bazaar/Variant/1\") { ... on Variant { selectedOptions { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        variant["node"]["selectedOptions"].as_array().unwrap().len(),
        3
    );
}

/// Checks `cart` out as a guest: the order's id and access token.
async fn guest_order(app: &ApiClient, cart: &str, key: &str) -> (String, String) {
    let placed = app
        .data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { id } orderAccessToken userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "guest@example.com",
                               "shippingAddress": address(), "idempotencyKey": key } }),
        )
        .await;
    let placed = &placed["checkoutComplete"];
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    (
        placed["order"]["id"].as_str().unwrap().to_owned(),
        placed["orderAccessToken"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn an_order_takes_ten_payment_attempts() {
    let app = spawn_app().await;
    let (variant, _) = crate::commerce::a_variant(&app, 0).await;
    crate::commerce::set_stock(&app, &variant, 100).await;
    let cart = cart_with(&app, None, &variant, 1).await;
    let (order, token) = guest_order(&app, &cart, "attempts").await;
    let pay = "mutation($o: ID!, $t: String, $k: String!, $m: String!) {
        orderPay(id: $o, paymentToken: $m, idempotencyKey: $k, accessToken: $t) {
            order { status payments { status } } userErrors { field code } } }";
    for attempt in 0..10 {
        let answer = app
            .data(
                pay,
                json!({ "o": order, "t": token, "k": format!("card-{attempt}"), "m": "tok_decline" }),
            )
            .await;
        assert_eq!(
            answer["orderPay"]["userErrors"][0]["code"], "PAYMENT_DECLINED",
            "{answer}"
        );
    }
    let eleventh = app
        .data(
            pay,
            json!({ "o": order, "t": token, "k": "card-10", "m": "tok_success" }),
        )
        .await;
    assert!(limit_reached(&eleventh["orderPay"]), "{eleventh}");
    // A retry of an earlier attempt still answers as that attempt did.
    let retry = app
        .data(
            pay,
            json!({ "o": order, "t": token, "k": "card-9", "m": "tok_decline" }),
        )
        .await;
    assert_eq!(
        retry["orderPay"]["userErrors"][0]["code"], "PAYMENT_DECLINED",
        "{retry}"
    );
    assert!(app.gateway.money_moved().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The property test: generated queries over the real schema.

/// What the generator knows of the schema.
struct Schema {
    objects: HashMap<String, Vec<FieldDef>>,
    /// Interfaces and unions: the object types a fragment may name.
    abstracts: HashMap<String, Vec<String>>,
}

struct FieldDef {
    name: String,
    args: Vec<(String, bool)>,
    returns: String,
    list: bool,
}

fn named(ty: &Type) -> String {
    match &ty.base {
        BaseType::Named(name) => name.to_string(),
        BaseType::List(inner) => named(inner),
    }
}

impl Schema {
    fn load() -> Self {
        let document = async_graphql::parser::parse_schema(bazaar::graphql::sdl()).unwrap();
        let mut schema = Schema {
            objects: HashMap::new(),
            abstracts: HashMap::new(),
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            match ty.node.kind {
                TypeKind::Object(object) => {
                    for interface in &object.implements {
                        schema
                            .abstracts
                            .entry(interface.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                    let fields = object
                        .fields
                        .into_iter()
                        .map(|field| FieldDef {
                            name: field.node.name.node.to_string(),
                            args: field
                                .node
                                .arguments
                                .iter()
                                .map(|arg| {
                                    let required = !arg.node.ty.node.nullable
                                        && arg.node.default_value.is_none();
                                    (arg.node.name.node.to_string(), required)
                                })
                                .collect(),
                            returns: named(&field.node.ty.node),
                            list: matches!(field.node.ty.node.base, BaseType::List(_)),
                        })
                        .collect();
                    schema.objects.insert(name, fields);
                }
                TypeKind::Union(union) => {
                    let members = union.members.iter().map(|m| m.node.to_string()).collect();
                    schema.abstracts.insert(name, members);
                }
                _ => {}
            }
        }
        schema
    }

    fn is_leaf(&self, ty: &str) -> bool {
        !self.objects.contains_key(ty) && !self.abstracts.contains_key(ty)
    }
}

/// Ids and slugs the generated queries may name.
struct Fixtures {
    ids: Vec<String>,
    slugs: Vec<&'static str>,
    cart: String,
    order_token: String,
}

/// A sequence of choices: the generator reads one per decision, so proptest shrinks a failing
/// query by shrinking the sequence (0 everywhere is the smallest query).
struct Tape<'a> {
    choices: &'a [u32],
    at: usize,
}

impl Tape<'_> {
    fn pick(&mut self, n: usize) -> usize {
        let choice = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        choice as usize % n.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }
}

/// Document limits the server enforces (`--max-depth` 15, `--max-fields` 250, `--max-aliases`
/// 30), kept well inside.
const MAX_DEPTH: usize = 7;
const MAX_FIELDS: usize = 120;
const MAX_ALIASES: usize = 20;

/// Root fields that reach the product, cart and order held at their maxima.
const HOT_ROOTS: [&str; 5] = ["product", "node", "nodes", "cart", "orders"];

/// Sizes a generated `first` may take: mostly within every list's range, sometimes past it
/// (refused, with the rest of the answer still costed).
const SIZES: [i64; 12] = [0, 1, 1, 2, 3, 5, 10, 20, 20, 50, 100, 101];

struct Generator<'a, 't> {
    schema: &'a Schema,
    fixtures: &'a Fixtures,
    tape: Tape<'t>,
    /// One field per selection set.
    narrow: bool,
    fragments: Vec<String>,
    fields: usize,
    aliases: usize,
}

impl Generator<'_, '_> {
    fn document(mut self) -> String {
        let body = self.selection("Query", 1);
        let mut document = format!("{{ {body} }}");
        for fragment in &self.fragments {
            document.push('\n');
            document.push_str(fragment);
        }
        document
    }

    /// The fields of one selection set on `ty` (an object, interface or union type).
    fn selection(&mut self, ty: &str, depth: usize) -> String {
        let mut used = HashSet::new();
        if let Some(members) = self.schema.abstracts.get(ty) {
            let members = members.clone();
            let mut parts = vec!["__typename".to_owned()];
            for _ in 0..1 + self.tape.pick(3) {
                let member = &members[self.tape.pick(members.len())];
                let fields = self.fields_of(member, depth, &mut used);
                parts.push(format!("... on {member} {{ {fields} }}"));
            }
            return parts.join(" ");
        }
        let fields = self.fields_of(ty, depth, &mut used);
        match self.tape.pick(8) {
            0 => format!("... on {ty} {{ {fields} }}"),
            1 => {
                let name = format!("F{}", self.fragments.len());
                // Reserve the slot first: nested fragments are pushed while this one is built.
                self.fragments
                    .push(format!("fragment {name} on {ty} {{ {fields} }}"));
                format!("...{name}")
            }
            _ => fields,
        }
    }

    /// Some fields of the object type `ty`, their response keys kept apart from `used` (the
    /// keys of the whole selection set, fragments included, so that nothing has to merge).
    fn fields_of(&mut self, ty: &str, depth: usize, used: &mut HashSet<String>) -> String {
        let Some(fields) = self.schema.objects.get(ty) else {
            return "__typename".to_owned();
        };
        if depth > MAX_DEPTH || self.fields >= MAX_FIELDS {
            self.fields += 1;
            return "__typename".to_owned();
        }
        // Narrow queries (one field a level) leave a list priced too low no slack elsewhere to
        // hide in; wide ones mix everything.
        let count = if self.narrow {
            1
        } else {
            1 + self.tape.pick(4)
        };
        let mut parts = Vec::new();
        let composite: Vec<&FieldDef> = fields
            .iter()
            .filter(|field| !self.schema.is_leaf(&field.returns))
            .collect();
        let lists: Vec<&FieldDef> = composite
            .iter()
            .copied()
            .filter(|field| field.list)
            .collect();
        // At the root, half the picks open the objects held at their maxima.
        let hot: Vec<&FieldDef> = fields
            .iter()
            .filter(|field| ty == "Query" && HOT_ROOTS.contains(&field.name.as_str()))
            .collect();
        for _ in 0..count {
            // Most picks go deeper (lists, then objects), where costs multiply.
            let field = if !hot.is_empty() && self.tape.chance(50) {
                hot[self.tape.pick(hot.len())]
            } else if !lists.is_empty() && self.tape.chance(40) {
                lists[self.tape.pick(lists.len())]
            } else if !composite.is_empty() && self.tape.chance(50) {
                composite[self.tape.pick(composite.len())]
            } else {
                &fields[self.tape.pick(fields.len())]
            };
            if let Some(part) = self.field(ty, field, depth, used) {
                parts.push(part);
            }
        }
        if parts.is_empty() {
            parts.push("__typename".to_owned());
        }
        parts.join(" ")
    }

    fn field(
        &mut self,
        owner: &str,
        field: &FieldDef,
        depth: usize,
        used: &mut HashSet<String>,
    ) -> Option<String> {
        let arguments = self.arguments(owner, field)?;
        let key = if used.contains(&field.name) || self.tape.chance(10) {
            if self.aliases >= MAX_ALIASES {
                return None;
            }
            self.aliases += 1;
            let alias = format!("a{}", self.aliases);
            used.insert(alias.clone());
            format!("{alias}: {}", field.name)
        } else {
            used.insert(field.name.clone());
            field.name.clone()
        };
        self.fields += 1;
        let head = if arguments.is_empty() {
            key
        } else {
            format!("{key}({})", arguments.join(", "))
        };
        if self.schema.is_leaf(&field.returns) {
            return Some(head);
        }
        let inner = self.selection(&field.returns, depth + 1);
        Some(format!("{head} {{ {inner} }}"))
    }

    /// The arguments of a field, `None` when a required one cannot be given.
    fn arguments(&mut self, owner: &str, field: &FieldDef) -> Option<Vec<String>> {
        let fixtures = self.fixtures;
        let mut given = Vec::new();
        let has = |name: &str| field.args.iter().any(|(arg, _)| arg == name);
        if owner == "Query" && field.name == "product" {
            let product = if self.tape.chance(75) {
                format!("id: {:?}", fixtures.ids[self.tape.pick(4)])
            } else {
                format!("slug: {:?}", "classic-t-shirt")
            };
            return Some(vec![product]);
        }
        // Without `first` a list returns (and is priced for) everything it holds.
        if has("first") && self.tape.chance(50) {
            given.push(format!("first: {}", SIZES[self.tape.pick(SIZES.len())]));
        } else if has("last") && self.tape.chance(30) {
            given.push(format!("last: {}", SIZES[self.tape.pick(SIZES.len() - 1)]));
        }
        for (name, required) in &field.args {
            let value = match name.as_str() {
                "first" | "last" => continue,
                "ids" => {
                    let ids: Vec<String> = (0..self.tape.pick(6))
                        .map(|_| format!("{:?}", fixtures.ids[self.tape.pick(fixtures.ids.len())]))
                        .collect();
                    format!("[{}]", ids.join(", "))
                }
                "id" if field.name == "cart" => format!("{:?}", fixtures.cart),
                "id" => format!("{:?}", fixtures.ids[self.tape.pick(fixtures.ids.len())]),
                "slug" => format!("{:?}", fixtures.slugs[self.tape.pick(fixtures.slugs.len())]),
                "token" => format!("{:?}", fixtures.order_token),
                _ if *required => return None,
                _ => continue,
            };
            given.push(format!("{name}: {value}"));
        }
        Some(given)
    }
}

/// A shop with lists at their maxima: the demo catalog and shoppers, a product with 100
/// variants of 3 options and 20 images, a cart and an order of 50 lines (paid), an approved
/// review, a staff change in the audit log. The admin's token and what queries may name.
async fn shop_at_the_maxima(app: &TestApp) -> (String, Fixtures) {
    app.db
        .run(|conn| {
            bazaar::services::seed::seed_shoppers_blocking(conn, 1)?;
            Ok(())
        })
        .await
        .expect("seed shoppers");
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let (product, variants) = product_at_every_maximum(app, &admin.token).await;
    let (cart, added) = cart_of(app, &variants[..50]).await;
    assert_eq!(
        added["data"]["cartLinesAdd"]["userErrors"],
        json!([]),
        "{added}"
    );
    let (order, token) = guest_order(app, &cart, "the-biggest-order").await;
    let pay = app
        .data(
            "mutation($o: ID!, $t: String) { orderPay(id: $o, paymentToken: \"tok_success\", idempotencyKey: \"p\", accessToken: $t) {
                userErrors { code } } }",
            json!({ "o": order, "t": token }),
        )
        .await;
    assert_eq!(pay["orderPay"]["userErrors"], json!([]), "{pay}");
    let guest_cart = cart_with(app, None, &variants[60], 2).await;
    let (_, order_token) = guest_order(app, &guest_cart, "guest").await;
    let open_cart = cart_with(app, Some(&admin.token), &variants[70], 3).await;
    let reviewer = app.register("reviewer@example.com").await;
    let review = app
        .data_as(
            &reviewer.token,
            "mutation($p: ID!) { reviewSubmit(productId: $p, input: { rating: 5, title: \"Yes\", body: \"All of it.\" }) {
                review { id } userErrors { code } } }",
            json!({ "p": product }),
        )
        .await;
    let review = review["reviewSubmit"]["review"]["id"].clone();
    app.data_as(
        &admin.token,
        "mutation($r: ID!) { reviewModerate(id: $r, status: APPROVED) { userErrors { code } } }",
        json!({ "r": review }),
    )
    .await;
    app.data_as(
        &admin.token,
        "mutation($v: ID!) { variantUpdate(id: $v, input: { price: \"12.00\" }) { userErrors { code } } }",
        json!({ "v": variants[0] }),
    )
    .await;
    app.data_as(
        &admin.token,
        "mutation { discountCodeCreate(input: { code: \"TEN\", kind: PERCENTAGE, value: \"10\" }) { userErrors { code } } }",
        json!({}),
    )
    .await;
    // The objects at their maxima come first (`product(id:)` picks among the first four) and
    // more than once, so that generated queries reach them often.
    let mut ids = vec![
        product.clone(),
        product.clone(),
        "gid://bazaar/Product/1".to_owned(),
        "gid://bazaar/Product/2".to_owned(),
        "gid://bazaar/Product/3".to_owned(),
        order.clone(),
        order,
        "gid://bazaar/Order/1".to_owned(),
        "gid://bazaar/Category/1".to_owned(),
        "gid://bazaar/Category/2".to_owned(),
        "gid://bazaar/Account/1".to_owned(),
        admin.id.clone(),
        "gid://bazaar/Address/1".to_owned(),
        "gid://bazaar/DiscountCode/1".to_owned(),
        "gid://bazaar/Variant/1".to_owned(),
        "gid://bazaar/Image/1".to_owned(),
        "gid://bazaar/Nothing/1".to_owned(),
    ];
    ids.extend(variants.iter().take(3).cloned());
    let fixtures = Fixtures {
        ids,
        slugs: vec!["apparel", "t-shirts", "home-kitchen", "no-such-category"],
        cart: open_cart,
        order_token,
    };
    (admin.token, fixtures)
}

/// Cases of the property test: each is one generated query run against the server.
const CASES: u32 = 64;

#[test]
fn generated_queries_never_cost_more_than_they_requested() {
    let system = actix_web::rt::System::new();
    let (app, token, fixtures) = system.block_on(async {
        // A bucket as large as can be: deep generated queries are priced in the billions.
        let bucket = [
            "--cost-bucket-size",
            "4000000000",
            "--cost-restore-rate",
            "4000000000",
        ];
        let app = spawn_app_with(1, &bucket).await;
        let (token, fixtures) = shop_at_the_maxima(&app).await;
        (app, token, fixtures)
    });
    let schema = Schema::load();
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let answered = std::cell::Cell::new(0);
    let too_expensive = std::cell::Cell::new(0);
    let strategy = (vec(any::<u32>(), 0..400), any::<bool>(), any::<bool>());
    let result = runner.run(&strategy, |(choices, admin, narrow)| {
        let query = Generator {
            schema: &schema,
            fixtures: &fixtures,
            tape: Tape {
                choices: &choices,
                at: 0,
            },
            narrow,
            fragments: Vec::new(),
            fields: 0,
            aliases: 0,
        }
        .document();
        let caller = admin.then_some(token.as_str());
        let response = system.block_on(app.graphql_as(caller, &query, json!({})));
        let codes = error_codes(&response);
        if codes == ["QUERY_TOO_COMPLEX"] {
            // Priced past even this bucket: refused before it ran, nothing to compare.
            too_expensive.set(too_expensive.get() + 1);
            return Ok(());
        }
        for code in codes {
            // A `first` past a list's maximum is refused; a customer's query of staff fields
            // is forbidden, of their own account without a session unauthenticated. Nothing
            // else may go wrong.
            if !["BAD_USER_INPUT", "FORBIDDEN", "UNAUTHENTICATED"].contains(&code.as_str()) {
                return Err(TestCaseError::fail(format!(
                    "{code} for {query}: {response}"
                )));
            }
        }
        let (requested, actual) = costs(&response);
        if actual > requested {
            return Err(TestCaseError::fail(format!(
                "actual {actual} > requested {requested} for {query}"
            )));
        }
        if actual > 1.0 {
            answered.set(answered.get() + 1);
        }
        Ok(())
    });
    drop(app);
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (answered, too_expensive) = (answered.get(), too_expensive.get());
    assert!(
        answered >= CASES / 2 && too_expensive <= CASES / 8,
        "only {answered} of {CASES} queries returned data; {too_expensive} were too expensive"
    );
}
