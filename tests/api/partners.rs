//! Partner apps through the API: admins make apps and keys (the secret shown once), a key works
//! until it is revoked (on every instance at once), and every staff operation answers each scope
//! as intended (the scope matrix).

use serde_json::{Value, json};

use crate::helpers::{ADDRESS_PARTS, TestApp, error_codes, is_impersonal, spawn_app};

const APP_CREATE: &str =
    "mutation($name: String!) { appCreate(name: $name, contact: \"ops@partner.example\") {
    app { id name } userErrors { field code } } }";
const KEY_CREATE: &str =
    "mutation($app: ID!, $scopes: [ApiScope!]!) { apiKeyCreate(appId: $app, scopes: $scopes) {
    secret apiKey { id prefix scopes revokedAt } userErrors { field code } } }";
const KEY_REVOKE: &str =
    "mutation($id: ID!) { apiKeyRevoke(id: $id) { apiKey { id revokedAt } userErrors { code } } }";

/// A new app's id.
pub(crate) async fn app_named(app: &TestApp, admin: &str, name: &str) -> String {
    let made = app
        .data_as(admin, APP_CREATE, json!({ "name": name }))
        .await;
    assert_eq!(made["appCreate"]["userErrors"], json!([]));
    made["appCreate"]["app"]["id"].as_str().unwrap().to_owned()
}

/// A key of `app_id` with `scopes`: (secret, key id).
pub(crate) async fn key_with(
    app: &TestApp,
    admin: &str,
    app_id: &str,
    scopes: &[&str],
) -> (String, String) {
    let made = app
        .data_as(
            admin,
            KEY_CREATE,
            json!({ "app": app_id, "scopes": scopes }),
        )
        .await;
    let payload = &made["apiKeyCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{made}");
    (
        payload["secret"].as_str().unwrap().to_owned(),
        payload["apiKey"]["id"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn admins_make_keys_that_work_until_revoked_on_every_instance() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let refused = app
        .graphql_as(Some(&staff.token), APP_CREATE, json!({ "name": "ERP" }))
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "admins only");

    let erp = app_named(&app, &admin.token, "ERP").await;
    let made = app
        .data_as(
            &admin.token,
            KEY_CREATE,
            json!({ "app": erp, "scopes": ["READ_ORDERS", "READ_PRODUCTS"] }),
        )
        .await;
    let key = &made["apiKeyCreate"];
    let secret = key["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("bzk_") && secret.len() >= 47, "{secret}");
    assert!(secret.starts_with(key["apiKey"]["prefix"].as_str().unwrap()));
    assert_eq!(
        key["apiKey"]["scopes"],
        json!(["READ_PRODUCTS", "READ_ORDERS"])
    );
    let key_id = key["apiKey"]["id"].clone();

    // Only the hash is kept: the list shows the prefix, never the secret.
    let listed = app
        .graphql_as(
            Some(&admin.token),
            "{ apps(first: 5) { edges { node { name keys { prefix lastUsedAt revokedAt } } } } }",
            json!({}),
        )
        .await;
    assert!(!listed.to_string().contains(&secret));
    let keys = &listed["data"]["apps"]["edges"][0]["node"]["keys"];
    assert_eq!(keys[0]["lastUsedAt"], Value::Null);

    // The key works, is recorded as used, and is no account.
    let orders = app
        .graphql_as(
            Some(&secret),
            "{ orders(first: 1) { edges { node { id } } } me { id } }",
            json!({}),
        )
        .await;
    assert!(orders["errors"].is_null(), "{orders}");
    assert_eq!(orders["data"]["me"], Value::Null);
    let listed = app
        .data_as(
            &admin.token,
            "{ apps(first: 1) { edges { node { keys { lastUsedAt } } } } }",
            json!({}),
        )
        .await;
    assert!(listed["apps"]["edges"][0]["node"]["keys"][0]["lastUsedAt"].is_string());

    // Two live keys at most: a third is refused until one is revoked.
    let (second, second_id) = key_with(&app, &admin.token, &erp, &["READ_PRODUCTS"]).await;
    let third = app
        .data_as(
            &admin.token,
            KEY_CREATE,
            json!({ "app": erp, "scopes": ["READ_PRODUCTS"] }),
        )
        .await;
    assert_eq!(
        third["apiKeyCreate"]["userErrors"][0]["code"],
        "LIMIT_REACHED"
    );
    let no_scope = app
        .data_as(
            &admin.token,
            KEY_CREATE,
            json!({ "app": erp, "scopes": [] }),
        )
        .await;
    assert_eq!(no_scope["apiKeyCreate"]["userErrors"][0]["code"], "INVALID");

    // Revocation holds at once, on this instance and on another one over the same database.
    let other = app
        .another_instance(&[], std::sync::Arc::new(app.gateway.clone()))
        .await;
    let products = "{ products(first: 1) { edges { node { id } } } }";
    assert!(other.graphql_as(Some(&second), products, json!({})).await["errors"].is_null());
    let revoked = app
        .data_as(&admin.token, KEY_REVOKE, json!({ "id": second_id }))
        .await;
    assert!(revoked["apiKeyRevoke"]["apiKey"]["revokedAt"].is_string());
    for instance in [&app, &other] {
        let after = instance
            .graphql_as(Some(&second), products, json!({}))
            .await;
        assert_eq!(error_codes(&after), ["UNAUTHENTICATED"], "{after}");
    }
    assert!(app.graphql_as(Some(&secret), products, json!({})).await["errors"].is_null());
    let replaced = key_with(&app, &admin.token, &erp, &["READ_PRODUCTS"]).await;
    assert!(replaced.0.starts_with("bzk_"));
    let unknown = app
        .graphql_as(Some("bzk_not-a-key"), products, json!({}))
        .await;
    assert_eq!(error_codes(&unknown), ["UNAUTHENTICATED"]);
    let _ = key_id;
}

/// What a partner gets for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Data, as asked.
    Allowed,
    /// `FORBIDDEN`.
    Forbidden,
    /// The field is null (or a `NOT_FOUND` user error): nothing the key may see.
    Hidden,
}

fn outcome(response: &Value, field: &str) -> Outcome {
    match error_codes(response).first().map(String::as_str) {
        Some("FORBIDDEN") => return Outcome::Forbidden,
        Some(other) => panic!("unexpected error {other}: {response}"),
        None => {}
    }
    let value = &response["data"][field];
    if value.is_null() || value["userErrors"][0]["code"] == "NOT_FOUND" {
        return Outcome::Hidden;
    }
    Outcome::Allowed
}

#[actix_web::test]
async fn every_staff_operation_answers_each_scope_as_intended() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    const SCOPES: [&str; 8] = [
        "READ_PRODUCTS",
        "WRITE_PRODUCTS",
        "WRITE_INVENTORY",
        "READ_ORDERS",
        "WRITE_ORDERS",
        "READ_CUSTOMERS",
        "MANAGE_WEBHOOKS",
        "WRITE_CUSTOMERS",
    ];
    // One key per scope (an app holds two live keys).
    let mut keys = Vec::new();
    for pair in SCOPES.chunks(2) {
        let app_id = app_named(&app, &admin.token, pair[0]).await;
        for scope in pair {
            keys.push(key_with(&app, &admin.token, &app_id, &[scope]).await.0);
        }
    }
    let (variant, _) = crate::commerce::a_variant(&app, 0).await;
    crate::commerce::set_stock(&app, &variant, 50).await;
    let sku = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Variant { sku } } }",
            json!({ "id": variant }),
        )
        .await["node"]["sku"]
        .clone();
    let cart = crate::commerce::cart_with(&app, Some(&customer.token), &variant, 1).await;
    let placed = app
        .data_as(
            &customer.token,
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } } }",
            json!({ "input": { "cartId": cart, "email": "customer@example.com", "idempotencyKey": "scopes",
                               "shippingAddress": crate::commerce::address() } }),
        )
        .await;
    let order = placed["checkoutComplete"]["order"]["id"].clone();
    let account = customer.id.clone();

    use Outcome::{Allowed, Forbidden, Hidden};
    // (field, query, variables, the scope that allows it (None: no scope does), what the others get)
    let rows: Vec<(&str, &str, Value, Option<&str>, Outcome)> = vec![
        (
            "customers",
            "{ customers(first: 2) { edges { node { email } } } }",
            json!({}),
            Some("READ_CUSTOMERS"),
            Forbidden,
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { ... on Account { email } } }",
            json!({ "id": account }),
            Some("READ_CUSTOMERS"),
            Hidden,
        ),
        (
            "orders",
            "{ orders(first: 2) { edges { node { id } } } }",
            json!({}),
            Some("READ_ORDERS"),
            Forbidden,
        ),
        (
            "variants",
            "{ variants(first: 2, sortBy: { field: UPDATED_AT }) { edges { node { id } } } }",
            json!({}),
            Some("READ_PRODUCTS"),
            Forbidden,
        ),
        (
            "allCategories",
            "{ allCategories(first: 2, sortBy: { field: UPDATED_AT }) { edges { node { id } } } }",
            json!({}),
            Some("READ_PRODUCTS"),
            Forbidden,
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { ... on Order { number } } }",
            json!({ "id": order }),
            Some("READ_ORDERS"),
            Hidden,
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { ... on Variant { stock } } }",
            json!({ "id": variant }),
            Some("READ_PRODUCTS"),
            Forbidden,
        ),
        (
            "inventoryAdjust",
            "mutation($id: ID!) { inventoryAdjust(variantId: $id, quantity: 7, expectedQuantity: 50) { userErrors { code } } }",
            json!({ "id": variant }),
            Some("WRITE_INVENTORY"),
            Forbidden,
        ),
        (
            "categoryCreate",
            "mutation { categoryCreate(input: { name: \"Scoped\" }) { category { id } userErrors { code } } }",
            json!({}),
            Some("WRITE_PRODUCTS"),
            Forbidden,
        ),
        (
            "collectionCreate",
            "mutation { collectionCreate(input: { title: \"Scoped\" }) { collection { id } userErrors { code } } }",
            json!({}),
            Some("WRITE_PRODUCTS"),
            Forbidden,
        ),
        (
            "variantUpdate",
            "mutation($id: ID!) { variantUpdate(id: $id, input: { title: \"Scoped\" }) { userErrors { code } } }",
            json!({ "id": variant }),
            Some("WRITE_PRODUCTS"),
            Forbidden,
        ),
        (
            "productUpsert",
            "mutation { productUpsert(externalRef: \"ERP-SCOPED\", input: { name: \"Scoped upsert\" }) { product { externalRef } userErrors { code } } }",
            json!({}),
            Some("WRITE_PRODUCTS"),
            Forbidden,
        ),
        (
            "variant",
            "query($sku: String!) { variant(sku: $sku) { stock } }",
            json!({ "sku": sku }),
            Some("READ_PRODUCTS"),
            Forbidden,
        ),
        (
            "orderFulfill",
            "mutation($id: ID!) { orderFulfill(id: $id) { userErrors { code } } }",
            json!({ "id": order }),
            Some("WRITE_ORDERS"),
            Forbidden,
        ),
        (
            "fulfillmentCreate",
            "mutation($id: ID!) { fulfillmentCreate(id: $id, input: { carrier: \"DHL\" }) { userErrors { code } } }",
            json!({ "id": order }),
            Some("WRITE_ORDERS"),
            Forbidden,
        ),
        (
            "orderNoteAdd",
            "mutation($id: ID!) { orderNoteAdd(id: $id, body: \"Scoped\") { userErrors { code } } }",
            json!({ "id": order }),
            Some("WRITE_ORDERS"),
            Forbidden,
        ),
        (
            "orderCancel",
            "mutation($id: ID!) { orderCancel(id: $id) { userErrors { code } } }",
            json!({ "id": order }),
            Some("WRITE_ORDERS"),
            Hidden,
        ),
        (
            "metadataSet",
            "mutation($id: ID!) { metadataSet(id: $id, items: [{ key: \"k\", value: \"v\" }]) { userErrors { code } } }",
            json!({ "id": order }),
            Some("WRITE_ORDERS"),
            Forbidden,
        ),
        (
            "metadataSet",
            "mutation($id: ID!) { metadataSet(id: $id, items: [{ key: \"k\", value: \"v\" }], private: true) { userErrors { code } } }",
            json!({ "id": account }),
            Some("WRITE_CUSTOMERS"),
            Forbidden,
        ),
        (
            "discountCodes",
            "{ discountCodes(first: 1) { edges { node { id } } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "reviewsToModerate",
            "{ reviewsToModerate(first: 1) { id } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "auditLog",
            "{ auditLog(first: 1) { edges { node { action } } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "apps",
            "{ apps(first: 1) { edges { node { name } } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "shippingZoneCreate",
            "mutation { shippingZoneCreate(input: { name: \"Z\", regions: [{ countryCode: \"FR\" }] }) { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "shippingZoneDelete",
            "mutation { shippingZoneDelete(id: \"gid://bazaar/ShippingZone/999\") { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "shippingMethodCreate",
            "mutation { shippingMethodCreate(zoneId: \"gid://bazaar/ShippingZone/999\", input: { name: \"M\", price: \"1\" }) { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "taxRateCreate",
            "mutation { taxRateCreate(input: { name: \"VAT\", countryCode: \"FR\", ratePercent: \"20\" }) { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "appCreate",
            "mutation { appCreate(name: \"Mine\", contact: \"x\") { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        (
            "accountRoleSet",
            "mutation($id: ID!) { accountRoleSet(accountId: $id, role: ADMIN) { userErrors { code } } }",
            json!({ "id": account }),
            None,
            Forbidden,
        ),
        (
            "addressAdd",
            "mutation { addressAdd(input: { firstName: \"A\", lastName: \"B\", line1: \"1 St\", city: \"C\", countryCode: \"US\" }) { userErrors { code } } }",
            json!({}),
            None,
            Forbidden,
        ),
        ("me", "{ me { id } }", json!({}), None, Hidden),
        (
            "events",
            "{ events(first: 1, types: [ORDER_CREATED, ORDER_PAID]) { edges { cursor } } }",
            json!({}),
            Some("READ_ORDERS"),
            Forbidden,
        ),
        (
            "events",
            "{ events(first: 1, types: [PRODUCT_UPDATED, INVENTORY_CHANGED, REVIEW_APPROVED]) { edges { cursor } } }",
            json!({}),
            Some("READ_PRODUCTS"),
            Forbidden,
        ),
        (
            "events",
            "{ events(first: 1, types: [CUSTOMER_CREATED]) { edges { cursor } } }",
            json!({}),
            Some("READ_CUSTOMERS"),
            Forbidden,
        ),
        (
            "inventorySetQuantities",
            "mutation($sku: String!) { inventorySetQuantities(lines: [{ sku: $sku, expectedQuantity: 12345, quantity: 1 }]) { userErrors { code } } }",
            json!({ "sku": sku }),
            Some("WRITE_INVENTORY"),
            Forbidden,
        ),
        (
            "webhookSubscriptions",
            "{ webhookSubscriptions { id } }",
            json!({}),
            Some("MANAGE_WEBHOOKS"),
            Forbidden,
        ),
        (
            "webhookSubscriptionCreate",
            "mutation { webhookSubscriptionCreate(url: \"http://127.0.0.1:9/x\", events: [PRODUCT_CREATED]) { userErrors { code } } }",
            json!({}),
            Some("MANAGE_WEBHOOKS"),
            Forbidden,
        ),
    ];
    let mut failures = Vec::new();
    for (field, query, variables, allowed_by, others) in &rows {
        for (scope, key) in SCOPES.iter().zip(&keys) {
            let expected = match (*field, *scope) {
                _ if Some(*scope) == *allowed_by => Allowed,
                // A key that reads orders sees the order, but may not cancel it.
                ("orderCancel", "READ_ORDERS") => Forbidden,
                _ => *others,
            };
            let got = outcome(
                &app.graphql_as(Some(key), query, variables.clone()).await,
                field,
            );
            if got != expected {
                failures.push(format!(
                    "{field} ({query}) with {scope}: {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[actix_web::test]
async fn orders_show_personal_data_only_to_keys_with_read_customers() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let (variant, _) = crate::commerce::a_variant(&app, 0).await;
    crate::commerce::set_stock(&app, &variant, 5).await;
    let cart = crate::commerce::cart_with(&app, Some(&customer.token), &variant, 1).await;
    app.data_as(
        &customer.token,
        "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } } }",
        json!({ "input": { "cartId": cart, "email": "customer@example.com", "idempotencyKey": "pii",
                           "shippingAddress": crate::commerce::address() } }),
    )
    .await;
    let erp = app_named(&app, &admin.token, "ERP").await;
    let (orders_only, _) = key_with(&app, &admin.token, &erp, &["READ_ORDERS"]).await;
    let (with_customers, _) =
        key_with(&app, &admin.token, &erp, &["READ_ORDERS", "READ_CUSTOMERS"]).await;
    let query = format!(
        "{{ orders(first: 1) {{ edges {{ node {{ email customer {{ email }}
            shippingAddress {{ {ADDRESS_PARTS} }} }} }} }} }}"
    );
    let query = query.as_str();
    let redacted = app.data_as(&orders_only, query, json!({})).await;
    let order = &redacted["orders"]["edges"][0]["node"];
    assert_eq!(order["email"], Value::Null);
    assert_eq!(order["customer"], Value::Null);
    assert!(is_impersonal(&order["shippingAddress"]), "{order}");
    let full = app.data_as(&with_customers, query, json!({})).await;
    let order = &full["orders"]["edges"][0]["node"];
    assert_eq!(order["email"], "customer@example.com");
    assert_eq!(order["customer"]["email"], "customer@example.com");
    assert!(!is_impersonal(&order["shippingAddress"]), "{order}");
}
