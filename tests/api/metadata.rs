//! Metadata: staff and partner keys attach public and private key-value pairs to products,
//! variants, orders and accounts; public entries show wherever the owner shows, private ones to
//! staff and keys with the owner's read scope; lists filter by them; bad input is a user error;
//! the per-owner bound holds under concurrent writes; a grid reads them in constant statements.

use serde_json::{Value, json};

use crate::commerce::{a_variant, address, cart_with, set_stock};
use crate::helpers::{
    ApiClient, TestApp, error_codes, spawn_app, spawn_app_with_scale, statements,
};
use crate::partners::{app_named, key_with};

const SET: &str = "mutation($id: ID!, $items: [MetadataInput!]!, $private: Boolean!) {
    metadataSet(id: $id, items: $items, private: $private) {
        node { id ... on Product { metadata { key value } } }
        userErrors { field message code } } }";

const DELETE: &str = "mutation($id: ID!, $keys: [String!]!, $private: Boolean!) {
    metadataDelete(id: $id, keys: $keys, private: $private) { userErrors { field code } } }";

const READ: &str = "query($id: ID!) { node(id: $id) {
    ... on Product { metadata { key value } erp: metafield(key: \"erp.id\") }
    ... on Variant { metadata { key value } }
    ... on Order { metadata { key value } }
    ... on Account { metadata { key value } } } }";

const READ_PRIVATE: &str = "query($id: ID!) { node(id: $id) {
    ... on Product { metadata(private: true) { key value } cost: metafield(key: \"cost\", private: true) }
    ... on Variant { metadata(private: true) { key value } }
    ... on Order { metadata(private: true) { key value } }
    ... on Account { metadata(private: true) { key value } } } }";

fn items(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(key, value)| json!({ "key": key, "value": value }))
        .collect()
}

/// Sets `pairs` on `id` as `token`; the whole response.
async fn set(
    app: &ApiClient,
    token: &str,
    id: &str,
    pairs: &[(&str, &str)],
    private: bool,
) -> Value {
    app.graphql_as(
        Some(token),
        SET,
        json!({ "id": id, "items": items(pairs), "private": private }),
    )
    .await
}

/// Sets `pairs` on `id` as `token`, which must succeed.
async fn set_ok(app: &ApiClient, token: &str, id: &str, pairs: &[(&str, &str)], private: bool) {
    let response = set(app, token, id, pairs, private).await;
    assert_eq!(
        response["data"]["metadataSet"]["userErrors"],
        json!([]),
        "{response}"
    );
}

/// The `metadata` of `id` as `token` (anonymous when `None`).
async fn read(app: &ApiClient, token: Option<&str>, id: &str, private: bool) -> Value {
    let query = if private { READ_PRIVATE } else { READ };
    app.graphql_as(token, query, json!({ "id": id })).await
}

/// Borrowed pairs of `owned`.
fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn entries(response: &Value) -> Value {
    response["data"]["node"]["metadata"].clone()
}

async fn first_products(app: &ApiClient, count: usize) -> Vec<String> {
    let data = app
        .data(
            "query($n: Int!) { products(first: $n) { edges { node { id } } } }",
            json!({ "n": count }),
        )
        .await;
    data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn products_carry_public_metadata_for_all_and_private_for_their_readers() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let erp = app_named(&app, &admin.token, "ERP").await;
    let (writer, _) = key_with(&app, &admin.token, &erp, &["WRITE_PRODUCTS"]).await;
    let (reader, _) = key_with(&app, &admin.token, &erp, &["READ_PRODUCTS"]).await;
    let products = first_products(&app, 2).await;
    let product = &products[0];

    set_ok(
        &app,
        &staff.token,
        product,
        &[("erp.id", "A-1"), ("color.hex", "#fff")],
        false,
    )
    .await;
    set_ok(&app, &writer, product, &[("cost", "3.10")], true).await;

    // Public entries for everyone, by key; the private side only for staff and READ_PRODUCTS.
    let public =
        json!([{ "key": "color.hex", "value": "#fff" }, { "key": "erp.id", "value": "A-1" }]);
    for token in [None, Some(customer.token.as_str()), Some(reader.as_str())] {
        let response = read(&app, token, product, false).await;
        assert_eq!(entries(&response), public, "{response}");
        assert_eq!(response["data"]["node"]["erp"], "A-1");
    }
    let private = json!([{ "key": "cost", "value": "3.10" }]);
    for token in [&staff.token, &reader] {
        let response = read(&app, Some(token), product, true).await;
        assert_eq!(entries(&response), private, "{response}");
        assert_eq!(response["data"]["node"]["cost"], "3.10");
    }
    for token in [None, Some(customer.token.as_str()), Some(writer.as_str())] {
        let response = read(&app, token, product, true).await;
        assert_eq!(error_codes(&response)[0], "FORBIDDEN", "{response}");
    }
    // The other product has none.
    let other = read(&app, None, &products[1], false).await;
    assert_eq!(entries(&other), json!([]));

    // A key already held takes the new value; a delete of keys held or not removes the held.
    set_ok(&app, &writer, product, &[("erp.id", "A-2")], false).await;
    let deleted = app
        .data_as(
            &writer,
            DELETE,
            json!({ "id": product, "keys": ["color.hex", "never.set"], "private": false }),
        )
        .await;
    assert_eq!(deleted["metadataDelete"]["userErrors"], json!([]));
    let now = read(&app, None, product, false).await;
    assert_eq!(entries(&now), json!([{ "key": "erp.id", "value": "A-2" }]));

    // Who may write: staff and WRITE_PRODUCTS; a customer, a reading key and anyone else not.
    for (token, code) in [
        (Some(customer.token.as_str()), "FORBIDDEN"),
        (Some(reader.as_str()), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let refused = app
            .graphql_as(
                token,
                SET,
                json!({ "id": product, "items": items(&[("x", "y")]), "private": false }),
            )
            .await;
        assert_eq!(error_codes(&refused), [code], "{refused}");
    }

    // Lists filter by metadata: public for anyone, private for readers of the private side.
    let by_key = "query($filter: [MetadataFilter!]!) {
        products(first: 10, where: { metadata: $filter }) { edges { node { id } } } }";
    let found = |response: &Value| -> Vec<String> {
        response["data"]["products"]["edges"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let exact = app
        .graphql(
            by_key,
            json!({ "filter": [{ "key": "erp.id", "value": "A-2" }] }),
        )
        .await;
    assert_eq!(found(&exact), [product.as_str()], "{exact}");
    let stale = app
        .graphql(
            by_key,
            json!({ "filter": [{ "key": "erp.id", "value": "A-1" }] }),
        )
        .await;
    assert!(found(&stale).is_empty(), "{stale}");
    let any_value = app
        .graphql(by_key, json!({ "filter": [{ "key": "erp.id" }] }))
        .await;
    assert_eq!(found(&any_value), [product.as_str()]);
    let both = json!({ "filter": [{ "key": "erp.id" }, { "key": "cost", "private": true }] });
    let hidden = app.graphql(by_key, both.clone()).await;
    assert_eq!(error_codes(&hidden), ["FORBIDDEN"], "{hidden}");
    let as_reader = app.graphql_as(Some(&reader), by_key, both).await;
    assert_eq!(found(&as_reader), [product.as_str()], "{as_reader}");

    // Each change is in the audit log, with its keys (not its values).
    let log = app
        .data_as(
            &admin.token,
            "{ auditLog(first: 10) { edges { node { action subjectId details } } } }",
            json!({}),
        )
        .await;
    let changes: Vec<&Value> = log["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .filter(|node| node["action"].as_str().unwrap().starts_with("metadata."))
        .collect();
    assert_eq!(changes.len(), 4, "{log}");
    assert_eq!(changes[0]["action"], "metadata.delete");
    assert_eq!(changes[0]["subjectId"], product.as_str());
    assert!(
        !log.to_string().contains("3.10"),
        "values stay out of the log"
    );
}

/// A customer's placed order: (order id, customer).
async fn placed_order(app: &TestApp) -> (String, crate::helpers::Account) {
    let customer = app.register("ada@example.com").await;
    let (variant, _) = a_variant(app, 0).await;
    set_stock(app, &variant, 10).await;
    let cart = cart_with(app, Some(&customer.token), &variant, 1).await;
    let placed = app
        .data_as(
            &customer.token,
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "ada@example.com",
                               "shippingAddress": address(), "idempotencyKey": "meta" } }),
        )
        .await;
    let order = placed["checkoutComplete"]["order"]["id"]
        .as_str()
        .expect("an order")
        .to_owned();
    (order, customer)
}

#[actix_web::test]
async fn orders_variants_and_accounts_carry_metadata_under_their_own_scopes() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let (order, customer) = placed_order(&app).await;
    let (variant, _) = a_variant(&app, 1).await;
    let erp = app_named(&app, &admin.token, "ERP").await;
    let (orders_key, _) =
        key_with(&app, &admin.token, &erp, &["WRITE_ORDERS", "READ_ORDERS"]).await;
    let crm = app_named(&app, &admin.token, "CRM").await;
    let (customers_key, _) = key_with(
        &app,
        &admin.token,
        &crm,
        &["WRITE_CUSTOMERS", "READ_CUSTOMERS"],
    )
    .await;
    let (products_key, _) = key_with(&app, &admin.token, &crm, &["WRITE_PRODUCTS"]).await;

    // Each kind of owner needs its own write scope.
    set_ok(&app, &orders_key, &order, &[("gift", "yes")], false).await;
    set_ok(&app, &orders_key, &order, &[("wms.ref", "W-9")], true).await;
    set_ok(
        &app,
        &customers_key,
        &customer.id,
        &[("crm.id", "C-7")],
        true,
    )
    .await;
    set_ok(&app, &products_key, &variant, &[("bin", "4B")], false).await;
    for (token, id) in [
        (&orders_key, &customer.id),
        (&customers_key, &order),
        (&products_key, &order),
        (&orders_key, &variant),
    ] {
        let refused = set(&app, token, id, &[("x", "y")], false).await;
        assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    }
    // The customer sees the public side of their own order, not the private one, and cannot
    // write either.
    let own = read(&app, Some(&customer.token), &order, false).await;
    assert_eq!(
        entries(&own),
        json!([{ "key": "gift", "value": "yes" }]),
        "{own}"
    );
    let private = read(&app, Some(&customer.token), &order, true).await;
    assert_eq!(error_codes(&private), ["FORBIDDEN"], "{private}");
    let own_account = read(&app, Some(&customer.token), &customer.id, true).await;
    assert_eq!(error_codes(&own_account), ["FORBIDDEN"]);
    let self_service = set(&app, &customer.token, &customer.id, &[("x", "y")], false).await;
    assert_eq!(error_codes(&self_service), ["FORBIDDEN"]);
    let shelf = read(&app, None, &variant, false).await;
    assert_eq!(entries(&shelf), json!([{ "key": "bin", "value": "4B" }]));

    // Partners find their own ids again.
    let orders = app
        .data_as(
            &orders_key,
            "{ orders(first: 5, where: { metadata: [{ key: \"wms.ref\", value: \"W-9\", private: true }] }) {
                edges { node { id metadata(private: true) { key value } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        orders["orders"]["edges"],
        json!([{ "node": { "id": order, "metadata": [{ "key": "wms.ref", "value": "W-9" }] } }])
    );
    let customers = app
        .data_as(
            &customers_key,
            "{ customers(first: 5, where: { metadata: [{ key: \"crm.id\", value: \"C-7\", private: true }] }) {
                edges { node { id email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        customers["customers"]["edges"],
        json!([{ "node": { "id": customer.id, "email": "ada@example.com" } }])
    );
}

#[actix_web::test]
async fn bad_metadata_is_refused_with_a_clear_error() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let product = first_products(&app, 1).await.remove(0);
    let user_errors = |response: &Value| response["data"]["metadataSet"]["userErrors"].clone();

    let cases: [(&[(&str, &str)], Value); 4] = [
        (
            &[("ok", "1"), ("has space", "2")],
            json!(["items", "1", "key"]),
        ),
        (&[("", "1")], json!(["items", "0", "key"])),
        (&[("a", "1"), ("a", "2")], json!(["items", "1", "key"])),
        (
            &[("long", &"x".repeat(2_001))],
            json!(["items", "0", "value"]),
        ),
    ];
    for (pairs, field) in cases {
        let refused = set(&app, &staff.token, &product, pairs, false).await;
        let errors = user_errors(&refused);
        assert_eq!(errors[0]["field"], field, "{refused}");
        assert!(refused["data"]["metadataSet"]["node"].is_null());
    }
    let nothing = read(&app, None, &product, false).await;
    assert_eq!(entries(&nothing), json!([]), "a refused set writes nothing");

    // Fifty keys a side, no more; the private side counts apart.
    let fifty: Vec<(String, String)> = (0..50)
        .map(|i| (format!("k{i:02}"), i.to_string()))
        .collect();
    let fifty: Vec<(&str, &str)> = fifty
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    set_ok(&app, &staff.token, &product, &fifty, false).await;
    set_ok(&app, &staff.token, &product, &[("k00", "again")], false).await;
    let full = set(
        &app,
        &staff.token,
        &product,
        &[("k50", "one too many")],
        false,
    )
    .await;
    assert_eq!(user_errors(&full)[0]["code"], "LIMIT_REACHED", "{full}");
    set_ok(
        &app,
        &staff.token,
        &product,
        &[("k50", "private side")],
        true,
    )
    .await;

    // Owners that are not there, or cannot hold metadata.
    let missing = set(
        &app,
        &staff.token,
        "gid://bazaar/Product/999999",
        &[("a", "b")],
        false,
    )
    .await;
    assert_eq!(user_errors(&missing)[0]["code"], "NOT_FOUND", "{missing}");
    let category =
        app.data("{ categories(first: 1) { id } }", json!({})).await["categories"][0]["id"].clone();
    let wrong_kind = set(
        &app,
        &staff.token,
        category.as_str().unwrap(),
        &[("a", "b")],
        false,
    )
    .await;
    assert_eq!(error_codes(&wrong_kind), ["BAD_USER_INPUT"], "{wrong_kind}");

    // A filter is bounded too.
    let six: Vec<Value> = (0..6).map(|i| json!({ "key": format!("k{i}") })).collect();
    let too_many = app
        .graphql(
            "query($f: [MetadataFilter!]!) { products(first: 1, where: { metadata: $f }) { edges { node { id } } } }",
            json!({ "f": six }),
        )
        .await;
    assert_eq!(error_codes(&too_many), ["BAD_USER_INPUT"], "{too_many}");
}

#[actix_web::test]
async fn concurrent_writers_never_pass_the_bound() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let product = first_products(&app, 1).await.remove(0);
    // Two writers of 30 new keys each: together they would hold 60.
    let batch = |prefix: &str| -> Vec<(String, String)> {
        (0..30)
            .map(|i| (format!("{prefix}{i:02}"), "v".to_owned()))
            .collect()
    };
    let (left, right) = (batch("left"), batch("right"));
    let (left, right) = (pairs(&left), pairs(&right));
    let (a, b) = futures_util::future::join(
        set(&app, &staff.token, &product, &left, false),
        set(&app, &staff.token, &product, &right, false),
    )
    .await;
    let refused = [&a, &b]
        .iter()
        .filter(|r| r["data"]["metadataSet"]["userErrors"][0]["code"] == "LIMIT_REACHED")
        .count();
    assert_eq!(refused, 1, "{a}\n{b}");
    let stored = read(&app, None, &product, false).await;
    assert_eq!(entries(&stored).as_array().unwrap().len(), 30);
}

#[actix_web::test]
async fn a_grid_reads_metadata_in_constant_statements() {
    let app = spawn_app_with_scale(3).await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    for product in first_products(&app, 20).await {
        set_ok(&app, &staff.token, &product, &[("erp.id", &product)], false).await;
    }
    let grid = "query($n: Int!) { products(first: $n) { edges { node {
        metadata { key value } metafield(key: \"erp.id\") variants { id metadata { key } } } } } }";
    let five = app.graphql(grid, json!({ "n": 5 })).await;
    let twenty = app.graphql(grid, json!({ "n": 20 })).await;
    assert!(twenty.get("errors").is_none(), "{twenty}");
    let edges = twenty["data"]["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    for edge in edges {
        let node = &edge["node"];
        assert_eq!(node["metadata"][0]["value"], node["metafield"]);
    }
    assert_eq!(statements(&five), statements(&twenty), "{five}\n{twenty}");
}
