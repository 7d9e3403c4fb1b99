//! Change feeds: `where: {updatedSince}` and `sortBy: {field: UPDATED_AT}` on products,
//! variants, categories, orders and customers. A partner paging the product feed while another
//! client edits products misses no change and never meets the same version of a product twice;
//! archived rows stay listed with their status; a page is one statement; bad input is a clear
//! error.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use actix_web::rt::time::sleep;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::commerce::{cart_with, checkout};
use crate::events::partner_key;
use crate::helpers::{TestApp, durability_statement, error_codes, spawn_app, statements};

const PRODUCT_FEED: &str = "query($after: String, $first: Int, $since: DateTime) {
    products(first: $first, after: $after, where: { updatedSince: $since },
             sortBy: { field: UPDATED_AT, direction: ASC }) {
        edges { cursor node { id name status updatedAt } }
        pageInfo { hasNextPage endCursor } } }";

const PRODUCT_CREATE: &str = "mutation($name: String!) {
    productCreate(input: { name: $name, status: ACTIVE }) {
        product { id updatedAt } userErrors { field code } } }";

const PRODUCT_RENAME: &str = "mutation($id: ID!, $name: String!) {
    productUpdate(id: $id, input: { name: $name }) {
        product { id updatedAt } userErrors { field code } } }";

/// A staff account's token and a partner key with `scopes`.
async fn staff_and_partner(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    (staff.token, partner_key(app, &admin.token, scopes).await)
}

/// A variant on sale with stock, as `staff` sees it: (id, stock).
async fn variant_in_stock(app: &TestApp, staff: &str) -> (String, i64) {
    let data = app
        .data_as(
            staff,
            "query { products(first: 100, where: { inStock: true }) {
                edges { node { status variants(first: 100) { id stock archivedAt } } } } }",
            json!({}),
        )
        .await;
    let variant = data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["node"]["status"] == "ACTIVE")
        .flat_map(|edge| edge["node"]["variants"].as_array().unwrap())
        .find(|v| v["stock"].as_i64().unwrap_or(0) > 0 && v["archivedAt"].is_null())
        .expect("a variant on sale in stock");
    (id(variant), variant["stock"].as_i64().unwrap())
}

/// One page of a feed: its nodes, whether more follow, and its end cursor.
struct FeedPage {
    nodes: Vec<Value>,
    has_next: bool,
    end_cursor: Option<String>,
}

/// One page of the list `field` of `query`'s answer.
async fn feed_page(app: &TestApp, token: &str, query: &str, field: &str, vars: Value) -> FeedPage {
    let data = app.data_as(token, query, vars).await;
    let page = &data[field];
    FeedPage {
        nodes: page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"].clone())
            .collect(),
        has_next: page["pageInfo"]["hasNextPage"] == json!(true),
        end_cursor: page["pageInfo"]["endCursor"].as_str().map(str::to_owned),
    }
}

/// Walks a feed from `after` to its end (pages of `first`, `vars` besides); the nodes met and
/// the cursor to continue from (`after` itself when the walk met nothing).
async fn walk(
    app: &TestApp,
    token: &str,
    query: &str,
    field: &str,
    vars: Value,
    after: Option<String>,
) -> (Vec<Value>, Option<String>) {
    let (mut nodes, mut after) = (Vec::new(), after);
    loop {
        let mut page_vars = vars.clone();
        page_vars["after"] = json!(after);
        let page = feed_page(app, token, query, field, page_vars).await;
        nodes.extend(page.nodes);
        after = page.end_cursor.or(after);
        if !page.has_next {
            return (nodes, after);
        }
    }
}

fn id(node: &Value) -> String {
    node["id"].as_str().unwrap().to_owned()
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn create_product(app: &TestApp, staff: &str, name: &str) -> String {
    let made = app
        .data_as(staff, PRODUCT_CREATE, json!({ "name": name }))
        .await;
    assert_eq!(made["productCreate"]["userErrors"], json!([]), "{made}");
    id(&made["productCreate"]["product"])
}

/// Renames a product; its `updatedAt` now.
async fn rename(app: &TestApp, staff: &str, product: &str, name: &str) -> DateTime<Utc> {
    let changed = app
        .data_as(
            staff,
            PRODUCT_RENAME,
            json!({ "id": product, "name": name }),
        )
        .await;
    assert_eq!(
        changed["productUpdate"]["userErrors"],
        json!([]),
        "{changed}"
    );
    time(&changed["productUpdate"]["product"]["updatedAt"])
}

/// The proof of the product feed's promise. A partner walks
/// `products(where: {updatedSince}, sortBy: UPDATED_AT)` in pages of 3 while staff rename
/// products, some the walk has passed and some it has not reached; then continues from the
/// walk's end cursor, as its next sync would. Then:
/// (a) every product changed since `updatedSince` before the walk began was met by the walk;
/// (b) no version of a product (`id`, `updatedAt`) was met twice;
/// (c) every product edited during the walk was met at its last version, by the walk or by the
///     next one;
/// and a product unchanged since before `updatedSince` was never met.
#[actix_web::test]
async fn sync_under_writes_meets_every_change_and_no_version_twice() {
    let app = spawn_app().await;
    let (staff, partner) = staff_and_partner(&app, &["READ_PRODUCTS"]).await;
    let mut old = Vec::new();
    for n in 0..8 {
        old.push(create_product(&app, &staff, &format!("Old {n}")).await);
    }
    sleep(Duration::from_millis(5)).await;
    let since = Utc::now();
    sleep(Duration::from_millis(5)).await;
    // Changed before the walk begins: new products, and two old ones renamed.
    let mut changed_before: HashSet<String> = HashSet::new();
    let mut products = Vec::new();
    for n in 0..24 {
        let product = create_product(&app, &staff, &format!("New {n}")).await;
        changed_before.insert(product.clone());
        products.push(product);
    }
    for product in &old[..2] {
        rename(&app, &staff, product, "Old, renamed").await;
        changed_before.insert(product.clone());
    }
    let untouched: HashSet<String> = old[2..].iter().cloned().collect();
    products.extend(old.iter().cloned());

    let visited: RefCell<Vec<Value>> = RefCell::default();
    let walking = Cell::new(true);
    // The last version each product was given during the walk, and which edits hit a product
    // the walk had already met and which one it had not.
    let last_edit: RefCell<HashMap<String, DateTime<Utc>>> = RefCell::default();
    let (edits_behind, edits_ahead) = (Cell::new(0), Cell::new(0));
    let vars = json!({ "first": 3, "since": since.to_rfc3339() });

    let walker = async {
        let mut after: Option<String> = None;
        loop {
            let mut page_vars = vars.clone();
            page_vars["after"] = json!(after);
            let page = feed_page(&app, &partner, PRODUCT_FEED, "products", page_vars).await;
            visited.borrow_mut().extend(page.nodes);
            after = page.end_cursor.or(after);
            if !page.has_next {
                walking.set(false);
                return after;
            }
            // Room for the editor between pages.
            sleep(Duration::from_millis(15)).await;
        }
    };
    let editor = async {
        let mut round = 0_usize;
        while walking.get() && round < 200 {
            round += 1;
            let met: HashSet<String> = visited.borrow().iter().map(id).collect();
            // In turns: a product the walk has met, then one it has not.
            let (pool, counter): (Vec<&String>, _) = if round.is_multiple_of(2) {
                (
                    products.iter().filter(|p| met.contains(*p)).collect(),
                    &edits_behind,
                )
            } else {
                (
                    products.iter().filter(|p| !met.contains(*p)).collect(),
                    &edits_ahead,
                )
            };
            let Some(product) = pool.get(round * 7 % pool.len().max(1)).copied() else {
                sleep(Duration::from_millis(5)).await;
                continue;
            };
            let at = rename(&app, &staff, product, &format!("Edit {round}")).await;
            counter.set(counter.get() + 1);
            last_edit.borrow_mut().insert(product.clone(), at);
        }
    };
    let (end_cursor, ()) = tokio::join!(walker, editor);
    assert!(
        edits_behind.get() > 0 && edits_ahead.get() > 0,
        "the editor changed products both behind ({}) and ahead of ({}) the walk",
        edits_behind.get(),
        edits_ahead.get()
    );
    let first_walk = visited.into_inner();
    let (next_walk, _) = walk(
        &app,
        &partner,
        PRODUCT_FEED,
        "products",
        vars.clone(),
        end_cursor,
    )
    .await;

    // (a) Every change made before the walk began was met by the walk itself.
    let met_first: HashSet<String> = first_walk.iter().map(id).collect();
    for product in &changed_before {
        assert!(met_first.contains(product), "the walk missed {product}");
    }
    // (b) No version twice, across the walk and the next one.
    let mut versions = HashSet::new();
    for node in first_walk.iter().chain(&next_walk) {
        assert!(
            versions.insert((id(node), node["updatedAt"].clone())),
            "met twice: {node}"
        );
    }
    // (c) Every edit made during the walk was met, at the product's last version.
    let mut newest: HashMap<String, DateTime<Utc>> = HashMap::new();
    for node in first_walk.iter().chain(&next_walk) {
        let at = time(&node["updatedAt"]);
        let entry = newest.entry(id(node)).or_insert(at);
        *entry = (*entry).max(at);
    }
    for (product, edited_at) in last_edit.borrow().iter() {
        assert_eq!(
            newest.get(product),
            Some(edited_at),
            "{product} was not met at its last version"
        );
    }
    // Products unchanged since before `updatedSince` never came up.
    for node in first_walk.iter().chain(&next_walk) {
        if !last_edit.borrow().contains_key(&id(node)) {
            assert!(
                !untouched.contains(&id(node)),
                "unchanged but listed: {node}"
            );
        }
    }
    // A sync that finds nothing new keeps its cursor: the next walk from it is empty.
    let (nothing, _) = walk(
        &app,
        &partner,
        PRODUCT_FEED,
        "products",
        vars,
        Some(
            feed_page(
                &app,
                &partner,
                PRODUCT_FEED,
                "products",
                json!({ "first": 100, "since": since.to_rfc3339() }),
            )
            .await
            .end_cursor
            .unwrap(),
        ),
    )
    .await;
    assert_eq!(nothing, Vec::<Value>::new());
}

/// Archived products, variants and categories stay in the feeds of staff and partners with
/// `read_products`, with their status; customers see active products only.
#[actix_web::test]
async fn archived_rows_stay_in_the_feeds_with_their_status() {
    let app = spawn_app().await;
    let (staff, partner) = staff_and_partner(&app, &["READ_PRODUCTS"]).await;
    let product = create_product(&app, &staff, "Doomed").await;
    let variant = app
        .data_as(
            &staff,
            "mutation($p: ID!) { variantCreate(productId: $p, input: {
                sku: \"DOOMED-1\", title: \"One\", price: \"5.00\", stock: 3 }) {
                variant { id } userErrors { code } } }",
            json!({ "p": product }),
        )
        .await;
    let variant = id(&variant["variantCreate"]["variant"]);
    let category = app
        .data_as(
            &staff,
            "mutation { categoryCreate(input: { name: \"Doomed things\" }) {
                category { id } userErrors { code } } }",
            json!({}),
        )
        .await;
    let category = id(&category["categoryCreate"]["category"]);
    for (mutation, target) in [
        (
            "mutation($id: ID!) { productArchive(id: $id) { userErrors { code } } }",
            &product,
        ),
        (
            "mutation($id: ID!) { variantArchive(id: $id) { userErrors { code } } }",
            &variant,
        ),
        (
            "mutation($id: ID!) { categoryArchive(id: $id) { userErrors { code } } }",
            &category,
        ),
    ] {
        let done = app.data_as(&staff, mutation, json!({ "id": target })).await;
        assert_eq!(
            done.as_object().unwrap().values().next().unwrap()["userErrors"],
            json!([])
        );
    }
    // The last page of each feed holds the row, archived.
    let newest = "query { products(last: 1, sortBy: { field: UPDATED_AT }) {
            edges { node { id status } } }
        variants(last: 1, sortBy: { field: UPDATED_AT }) {
            edges { node { id archivedAt updatedAt } } }
        allCategories(last: 1, sortBy: { field: UPDATED_AT }) {
            edges { node { id archivedAt updatedAt } } } }";
    for token in [&staff, &partner] {
        let data = app.data_as(token, newest, json!({})).await;
        let product_node = &data["products"]["edges"][0]["node"];
        let variant_node = &data["variants"]["edges"][0]["node"];
        let category_node = &data["allCategories"]["edges"][0]["node"];
        assert_eq!(
            product_node,
            &json!({ "id": product, "status": "ARCHIVED" })
        );
        assert_eq!(variant_node["id"], json!(variant));
        assert!(variant_node["archivedAt"].is_string(), "{data}");
        assert_eq!(category_node["id"], json!(category));
        assert!(category_node["archivedAt"].is_string(), "{data}");
    }
    // Customers walk the product feed too, over what they may see.
    let shopper = app.graphql(
        "query { products(last: 100, sortBy: { field: UPDATED_AT }) { edges { node { id status } } } }",
        json!({}),
    )
    .await;
    let edges = shopper["data"]["products"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    assert!(
        edges.iter().all(|e| e["node"]["status"] == "ACTIVE"),
        "{shopper}"
    );
    // The flat lists are for staff and partners only.
    let anonymous = app
        .graphql("query { variants { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
    let customer = app.register("shopper@example.com").await;
    let refused = app
        .graphql_as(
            Some(&customer.token),
            "query { allCategories { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);
}

const ORDER_FEED: &str = "query($after: String, $since: DateTime) {
    orders(first: 2, after: $after, where: { updatedSince: $since },
           sortBy: { field: UPDATED_AT }) {
        edges { node { id status updatedAt } } pageInfo { hasNextPage endCursor } } }";

const VARIANT_FEED: &str = "query($after: String) {
    variants(first: 50, after: $after, sortBy: { field: UPDATED_AT }) {
        edges { node { id stock updatedAt } } pageInfo { hasNextPage endCursor } } }";

/// Orders and variants: a checkout lists the order and the variant whose stock it took; a
/// cancellation lists both again, newer, after the cursor the partner saved.
#[actix_web::test]
async fn orders_and_stock_changes_come_again_after_the_saved_cursor() {
    let app = spawn_app().await;
    let (staff, partner) = staff_and_partner(&app, &["READ_ORDERS", "READ_PRODUCTS"]).await;
    let (_, variants_cursor) =
        walk(&app, &partner, VARIANT_FEED, "variants", json!({}), None).await;
    let since = Utc::now().to_rfc3339();
    let (variant, stock_before) = variant_in_stock(&app, &staff).await;
    let cart = cart_with(&app, None, &variant, 1).await;
    let placed = checkout(&app, None, &cart, "feeds-1").await;
    let order = id(&placed["data"]["checkoutComplete"]["order"]);

    let vars = json!({ "since": since });
    let (orders, orders_cursor) =
        walk(&app, &partner, ORDER_FEED, "orders", vars.clone(), None).await;
    assert_eq!(orders.iter().map(id).collect::<Vec<_>>(), [order.as_str()]);
    assert_eq!(orders[0]["status"], "PENDING_PAYMENT");
    let variant_changes = |after| walk(&app, &partner, VARIANT_FEED, "variants", json!({}), after);
    let (stock, variants_cursor) = variant_changes(variants_cursor).await;
    assert_eq!(stock.len(), 1, "{stock:?}");
    assert_eq!(stock[0]["id"], json!(variant));
    assert_eq!(stock[0]["stock"], json!(stock_before - 1));

    let cancelled = app
        .data_as(
            &staff,
            "mutation($id: ID!) { orderCancel(id: $id) { userErrors { code } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(cancelled["orderCancel"]["userErrors"], json!([]));
    let (again, _) = walk(&app, &partner, ORDER_FEED, "orders", vars, orders_cursor).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["status"], "CANCELLED");
    assert!(time(&again[0]["updatedAt"]) > time(&orders[0]["updatedAt"]));
    let (restocked, _) = variant_changes(variants_cursor).await;
    assert_eq!(restocked.len(), 1);
    assert_eq!(restocked[0]["stock"], json!(stock_before));
    assert!(time(&restocked[0]["updatedAt"]) > time(&stock[0]["updatedAt"]));
}

const CUSTOMER_FEED: &str = "query($after: String, $since: DateTime) {
    customers(first: 10, after: $after, where: { updatedSince: $since },
              sortBy: { field: UPDATED_AT }) {
        edges { node { id firstName updatedAt } } pageInfo { hasNextPage endCursor } } }";

/// Customers: a sign-up and a profile change each list the account, after the saved cursor.
#[actix_web::test]
async fn customer_changes_come_again_after_the_saved_cursor() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let partner = partner_key(&app, &admin.token, &["READ_CUSTOMERS"]).await;
    let orders_only = partner_key(&app, &admin.token, &["READ_ORDERS"]).await;
    let since = Utc::now().to_rfc3339();
    let vars = json!({ "since": since });
    let customer = app.register("ada@example.com").await;
    let (signed_up, cursor) = walk(
        &app,
        &partner,
        CUSTOMER_FEED,
        "customers",
        vars.clone(),
        None,
    )
    .await;
    assert_eq!(
        signed_up.iter().map(id).collect::<Vec<_>>(),
        [customer.id.as_str()]
    );
    let renamed = app
        .data_as(
            &customer.token,
            "mutation { accountUpdate(input: { firstName: \"Ada\" }) { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(renamed["accountUpdate"]["userErrors"], json!([]));
    let (changed, _) = walk(&app, &partner, CUSTOMER_FEED, "customers", vars, cursor).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["firstName"], "Ada");
    // Without `read_customers` a partner may not walk it.
    let refused = app
        .graphql_as(Some(&orders_only), CUSTOMER_FEED, json!({}))
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);
}

/// Every page of every feed is one SQL statement, the first page and the ones after a cursor
/// (and on PostgreSQL one that makes sure the positions handed out are on disk).
#[actix_web::test]
async fn each_page_of_a_feed_is_one_statement() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let cart = cart_with(&app, None, &variant_in_stock(&app, &staff.token).await.0, 1).await;
    checkout(&app, None, &cart, "feeds-statements").await;
    let since = "2000-01-01T00:00:00Z";
    for (field, selection) in [
        ("products", "id name status updatedAt"),
        ("variants", "id sku stock archivedAt updatedAt"),
        ("allCategories", "id name archivedAt updatedAt"),
        ("orders", "id status updatedAt"),
        ("customers", "id email updatedAt"),
    ] {
        let query = format!(
            "query($after: String, $since: DateTime) {{ {field}(first: 2, after: $after,
                where: {{ updatedSince: $since }}, sortBy: {{ field: UPDATED_AT }}) {{
                edges {{ cursor node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let mut after = Value::Null;
        for page in 0..2 {
            let response = app
                .graphql_as(
                    Some(&staff.token),
                    &query,
                    json!({ "after": after, "since": since }),
                )
                .await;
            assert!(response.get("errors").is_none(), "{response}");
            assert_eq!(
                statements(&response),
                1 + durability_statement(),
                "{field} page {page}: {response}"
            );
            after = response["data"][field]["pageInfo"]["endCursor"].clone();
        }
    }
}

/// A malformed or out-of-range `updatedSince`, or a cursor from another order, is a clear
/// `BAD_USER_INPUT`-style error, never a 500.
#[actix_web::test]
async fn bad_feed_input_is_a_clear_error() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let by_variable = "query($since: DateTime) { products(where: { updatedSince: $since }) {
        edges { node { id } } } }";
    for since in ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01", ""] {
        let response = app.graphql(by_variable, json!({ "since": since })).await;
        let message = response["errors"][0]["message"].as_str().unwrap_or("");
        assert!(response["data"].is_null(), "{since}: {response}");
        assert_eq!(
            error_codes(&response),
            ["BAD_USER_INPUT"],
            "{since}: {response}"
        );
        assert!(message.contains("DateTime"), "{since}: {response}");
    }
    let literal = app
        .graphql(
            "query { orders(where: { updatedSince: \"last week\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&literal), ["BAD_USER_INPUT"], "{literal}");
    let message = literal["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("DateTime"), "{literal}");
    // Year 0 parses as a date but no column can store it.
    let year_zero = app
        .graphql_as(
            Some(&staff.token),
            "query { variants(where: { updatedSince: \"0000-06-01T00:00:00Z\" }) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&year_zero), ["BAD_USER_INPUT"], "{year_zero}");
    assert!(
        year_zero["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("where.updatedSince")
    );
    // A cursor of the name order is refused by the change order, and the other way round.
    let by_name = app
        .data(
            "query { products(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = by_name["products"]["pageInfo"]["endCursor"].clone();
    let mixed = app
        .graphql(
            "query($after: String) { products(after: $after, sortBy: { field: UPDATED_AT }) {
                edges { node { id } } } }",
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(error_codes(&mixed), ["BAD_USER_INPUT"], "{mixed}");
    let by_change = app
        .data_as(
            &staff.token,
            "query { customers(first: 1, sortBy: { field: UPDATED_AT }) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let mixed = app
        .graphql_as(
            Some(&staff.token),
            "query($after: String) { customers(after: $after) { edges { node { id } } } }",
            json!({ "after": by_change["customers"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(error_codes(&mixed), ["BAD_USER_INPUT"], "{mixed}");
}
