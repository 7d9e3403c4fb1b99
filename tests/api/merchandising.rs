//! Staff administration of the catalog: categories, products, variants, images, and inventory
//! as compare-and-swap; what customers see of it.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};

async fn staff(app: &TestApp) -> String {
    app.account_with_role("staff@example.com", "STAFF")
        .await
        .token
}

/// Runs a staff mutation; returns the payload of `field`.
async fn mutate(app: &TestApp, token: &str, field: &str, query: &str, variables: Value) -> Value {
    app.data_as(token, query, variables).await[field].clone()
}

const CREATE_PRODUCT: &str = "mutation($input: ProductFields!) { productCreate(input: $input) {
    product { id name slug status category { name } priceRange { minVariantPrice { minorUnits } } }
    userErrors { field code } } }";

const CREATE_VARIANT: &str = "mutation($product: ID!, $input: VariantFields!) {
    variantCreate(productId: $product, input: $input) {
        variant { id sku price { minorUnits } archivedAt } userErrors { field code } } }";

#[actix_web::test]
async fn staff_build_a_product_that_customers_see_once_it_is_active() {
    let app = spawn_app().await;
    let token = staff(&app).await;
    let category = mutate(
        &app,
        &token,
        "categoryCreate",
        "mutation { categoryCreate(input: { name: \"Gift Cards\" }) { category { id slug } userErrors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(category["category"]["slug"], "gift-cards");
    let category_id = category["category"]["id"].clone();

    let created = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "Gift Card", "description": "For anyone.", "categoryId": category_id } }),
    )
    .await;
    assert_eq!(created["userErrors"], json!([]));
    assert_eq!(created["product"]["status"], "DRAFT");
    assert_eq!(created["product"]["category"]["name"], "Gift Cards");
    let product = created["product"]["id"].clone();

    let variant = mutate(
        &app,
        &token,
        "variantCreate",
        CREATE_VARIANT,
        json!({ "product": product, "input": { "sku": "gift-25", "title": "$25", "price": "25.00", "stock": 100,
                "options": [{ "name": "Amount", "value": "25" }] } }),
    )
    .await;
    assert_eq!(variant["variant"]["sku"], "GIFT-25");
    assert_eq!(variant["variant"]["price"]["minorUnits"], 2_500);
    mutate(
        &app,
        &token,
        "variantCreate",
        CREATE_VARIANT,
        json!({ "product": product, "input": { "sku": "gift-50", "title": "$50", "price": "50.00" } }),
    )
    .await;
    let image = mutate(
        &app,
        &token,
        "productImageAdd",
        "mutation($p: ID!) { productImageAdd(productId: $p, url: \"https://img.example/gift.jpg\", altText: \"A card\") {
            product { images { id url } } userErrors { code } } }",
        json!({ "p": product }),
    )
    .await;
    assert_eq!(
        image["product"]["images"][0]["url"],
        "https://img.example/gift.jpg"
    );

    // Customers do not see a draft; its price range and search text follow the variants.
    let lookup = "query($id: ID!) { node(id: $id) { ... on Product { name priceRange { minVariantPrice { minorUnits } maxVariantPrice { minorUnits } } variants { sku } } } }";
    assert_eq!(
        app.data(lookup, json!({ "id": product })).await["node"],
        Value::Null
    );
    let staff_view = app.data_as(&token, lookup, json!({ "id": product })).await;
    assert_eq!(
        staff_view["node"]["priceRange"]["minVariantPrice"]["minorUnits"],
        2_500
    );
    assert_eq!(
        staff_view["node"]["priceRange"]["maxVariantPrice"]["minorUnits"],
        5_000
    );

    let activated = mutate(
        &app,
        &token,
        "productUpdate",
        "mutation($id: ID!) { productUpdate(id: $id, input: { status: ACTIVE }) { product { status } userErrors { code } } }",
        json!({ "id": product }),
    )
    .await;
    assert_eq!(activated["product"]["status"], "ACTIVE");
    let seen = app.data(lookup, json!({ "id": product })).await;
    assert_eq!(seen["node"]["name"], "Gift Card");
    let search = app
        .data(
            "{ products(where: { search: \"gift-50\" }) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(search["products"]["edges"][0]["node"]["name"], "Gift Card");

    // An archived variant is off sale for customers and out of the price range.
    let fifty = staff_view["node"]["variants"][1]["sku"].clone();
    assert_eq!(fifty, "GIFT-50");
    let variants = app
        .data_as(
            &token,
            "query($id: ID!) { node(id: $id) { ... on Product { variants { id sku } } } }",
            json!({ "id": product }),
        )
        .await;
    let fifty_id = variants["node"]["variants"][1]["id"].clone();
    let archived = mutate(
        &app,
        &token,
        "variantArchive",
        "mutation($id: ID!) { variantArchive(id: $id) { variant { archivedAt } userErrors { code } } }",
        json!({ "id": fifty_id }),
    )
    .await;
    assert!(archived["variant"]["archivedAt"].is_string());
    let after = app.data(lookup, json!({ "id": product })).await;
    assert_eq!(after["node"]["variants"], json!([{ "sku": "GIFT-25" }]));
    assert_eq!(
        after["node"]["priceRange"]["maxVariantPrice"]["minorUnits"],
        2_500
    );
    assert_eq!(
        app.data(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": fifty_id })
        )
        .await["node"],
        Value::Null
    );

    // An archived category disappears for customers, products and all.
    mutate(
        &app,
        &token,
        "categoryArchive",
        "mutation($id: ID!) { categoryArchive(id: $id) { category { archivedAt } } }",
        json!({ "id": category_id }),
    )
    .await;
    let customer = app
        .data(
            "query($id: ID!) { category(slug: \"gift-cards\") { id } node(id: $id) { ... on Product { category { name } } } }",
            json!({ "id": product }),
        )
        .await;
    assert_eq!(
        customer,
        json!({ "category": null, "node": { "category": null } })
    );
    let staff_sees = app
        .data_as(
            &token,
            "{ category(slug: \"gift-cards\") { archivedAt } }",
            json!({}),
        )
        .await;
    assert!(staff_sees["category"]["archivedAt"].is_string());

    // Archiving the product takes it off sale.
    mutate(
        &app,
        &token,
        "productArchive",
        "mutation($id: ID!) { productArchive(id: $id) { product { status } } }",
        json!({ "id": product }),
    )
    .await;
    assert_eq!(
        app.data(lookup, json!({ "id": product })).await["node"],
        Value::Null
    );
}

#[actix_web::test]
async fn lists_by_category_follow_category_changes_at_once() {
    let app = spawn_app().await;
    let token = staff(&app).await;
    let list = "query($slug: String!) { products(first: 100, where: { categorySlug: $slug }) {
        edges { node { slug } } } }";
    let slugs = |response: &Value| -> Vec<String> {
        response["data"]["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["slug"].as_str().unwrap().to_owned())
            .collect()
    };
    // The tree is read with the first list by category, then kept.
    let first = app.graphql(list, json!({ "slug": "apparel" })).await;
    let again = app.graphql(list, json!({ "slug": "apparel" })).await;
    assert_eq!(slugs(&again), slugs(&first));
    assert!(!slugs(&first).is_empty());
    assert_eq!(statements(&again), statements(&first) - 1, "no tree read");

    // A new subcategory counts under its parent at once, and so does what is filed under it.
    let apparel = app
        .data(r#"{ category(slug: "apparel") { id } }"#, json!({}))
        .await;
    let scarves = mutate(
        &app,
        &token,
        "categoryCreate",
        "mutation($parent: ID!) { categoryCreate(input: { name: \"Scarves\", parentId: $parent }) {
            category { id } userErrors { code } } }",
        json!({ "parent": apparel["category"]["id"] }),
    )
    .await;
    assert_eq!(scarves["userErrors"], json!([]));
    let scarves = scarves["category"]["id"].clone();
    let scarf = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "Silk Scarf", "categoryId": scarves, "status": "ACTIVE" } }),
    )
    .await;
    assert_eq!(scarf["userErrors"], json!([]));
    let under_apparel = slugs(&app.graphql(list, json!({ "slug": "apparel" })).await);
    assert!(
        under_apparel.contains(&"silk-scarf".to_owned()),
        "{under_apparel:?}"
    );

    // A new slug finds the category at once; the old one finds nothing.
    let renamed = mutate(
        &app,
        &token,
        "categoryUpdate",
        "mutation($id: ID!) { categoryUpdate(id: $id, input: { slug: \"wraps\" }) {
            category { slug } userErrors { code } } }",
        json!({ "id": scarves }),
    )
    .await;
    assert_eq!(renamed["category"]["slug"], "wraps");
    assert_eq!(
        slugs(&app.graphql(list, json!({ "slug": "wraps" })).await),
        ["silk-scarf"]
    );
    assert!(slugs(&app.graphql(list, json!({ "slug": "scarves" })).await).is_empty());
}

#[actix_web::test]
async fn bad_input_gets_user_errors() {
    let app = spawn_app().await;
    let token = staff(&app).await;
    let taken = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "Classic T-Shirt" } }),
    )
    .await;
    assert_eq!(
        taken["userErrors"],
        json!([{ "field": ["input", "slug"], "code": "TAKEN" }])
    );
    let nameless = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "  " } }),
    )
    .await;
    assert_eq!(nameless["userErrors"][0]["code"], "INVALID");
    let product = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "Widget" } }),
    )
    .await["product"]["id"]
        .clone();
    let existing_sku = app
        .data(
            "{ products(first: 1) { edges { node { variants { sku } } } } }",
            json!({}),
        )
        .await["products"]["edges"][0]["node"]["variants"][0]["sku"]
        .clone();
    let duplicate = mutate(
        &app,
        &token,
        "variantCreate",
        CREATE_VARIANT,
        json!({ "product": product, "input": { "sku": existing_sku, "title": "One", "price": "1.00" } }),
    )
    .await;
    assert_eq!(
        duplicate["userErrors"],
        json!([{ "field": ["input", "sku"], "code": "TAKEN" }])
    );
    let invalid = mutate(
        &app,
        &token,
        "variantCreate",
        CREATE_VARIANT,
        json!({ "product": product, "input": { "sku": "bad sku!", "title": "", "price": "1.00" } }),
    )
    .await;
    let fields: Vec<&Value> = invalid["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["field"])
        .collect();
    assert_eq!(
        fields,
        [&json!(["input", "sku"]), &json!(["input", "title"])]
    );
    let bad_price = app
        .graphql_as(
            Some(&token),
            CREATE_VARIANT,
            json!({ "product": product, "input": { "sku": "OK-1", "title": "One", "price": "1.234" } }),
        )
        .await;
    assert_eq!(error_codes(&bad_price), ["BAD_USER_INPUT"]);
    let bad_image = mutate(
        &app,
        &token,
        "productImageAdd",
        "mutation($p: ID!) { productImageAdd(productId: $p, url: \"javascript:alert(1)\") { userErrors { field code } } }",
        json!({ "p": product }),
    )
    .await;
    assert_eq!(
        bad_image["userErrors"],
        json!([{ "field": ["url"], "code": "INVALID" }])
    );
    let wrong_kind = app
        .graphql_as(
            Some(&token),
            "mutation { productArchive(id: \"gid://bazaar/Category/1\") { product { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&wrong_kind), ["BAD_USER_INPUT"]);
}

const ADJUST: &str = "mutation($id: ID!, $expected: Int!, $quantity: Int!) {
    inventoryAdjust(variantId: $id, expectedQuantity: $expected, quantity: $quantity) {
        variant { id } userErrors { field message code } } }";

/// The stock of a variant, read behind the API.
async fn stock(app: &TestApp, id: &Value) -> i64 {
    use bazaar::db::schema::variants;
    use diesel::prelude::*;
    let raw: i64 = id
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    app.db
        .run(move |conn| {
            Ok(variants::table
                .find(raw)
                .select(variants::stock)
                .first::<i32>(conn)?)
        })
        .await
        .map(i64::from)
        .unwrap()
}

#[actix_web::test]
async fn inventory_changes_are_compare_and_swap() {
    let app = spawn_app().await;
    let token = staff(&app).await;
    let product = mutate(
        &app,
        &token,
        "productCreate",
        CREATE_PRODUCT,
        json!({ "input": { "name": "Counter" } }),
    )
    .await["product"]["id"]
        .clone();
    let variant = mutate(
        &app,
        &token,
        "variantCreate",
        CREATE_VARIANT,
        json!({ "product": product, "input": { "sku": "CNT-1", "title": "One", "price": "1.00", "stock": 10 } }),
    )
    .await["variant"]["id"]
        .clone();

    let ok = mutate(
        &app,
        &token,
        "inventoryAdjust",
        ADJUST,
        json!({ "id": variant, "expected": 10, "quantity": 15 }),
    )
    .await;
    assert_eq!(ok["userErrors"], json!([]));
    assert_eq!(stock(&app, &variant).await, 15);
    let stale = mutate(
        &app,
        &token,
        "inventoryAdjust",
        ADJUST,
        json!({ "id": variant, "expected": 10, "quantity": 3 }),
    )
    .await;
    assert_eq!(stale["userErrors"][0]["code"], "STALE");
    assert!(
        stale["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("15")
    );
    assert_eq!(
        stock(&app, &variant).await,
        15,
        "a stale expectation changes nothing"
    );
    let negative = mutate(
        &app,
        &token,
        "inventoryAdjust",
        ADJUST,
        json!({ "id": variant, "expected": 15, "quantity": -1 }),
    )
    .await;
    assert_eq!(negative["userErrors"][0]["code"], "INVALID");

    // Two clerks count the same shelf at once: exactly one write wins.
    let answers = join_all((0..2).map(|n| {
        let (app, token, variant) = (&app, &token, &variant);
        async move {
            app.data_as(
                token,
                ADJUST,
                json!({ "id": variant, "expected": 15, "quantity": 20 + n }),
            )
            .await
        }
    }))
    .await;
    let won = answers
        .iter()
        .filter(|a| a["inventoryAdjust"]["userErrors"] == json!([]))
        .count();
    assert_eq!(won, 1, "{answers:?}");
    let now = stock(&app, &variant).await;
    assert!(now == 20 || now == 21);
}

#[actix_web::test]
async fn only_staff_administer_the_catalog() {
    let app = spawn_app().await;
    let customer = app.register("customer@example.com").await;
    let mutation = "mutation { categoryCreate(input: { name: \"Nope\" }) { category { id } } }";
    assert_eq!(
        error_codes(&app.graphql(mutation, json!({})).await),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        error_codes(
            &app.graphql_as(Some(&customer.token), mutation, json!({}))
                .await
        ),
        ["FORBIDDEN"]
    );
    // Staff see drafts and archived products in lists; customers do not.
    let token = staff(&app).await;
    let statuses = |data: &Value| -> Vec<String> {
        data["products"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let query = "{ products(first: 100) { edges { node { status } } } }";
    let for_staff = statuses(&app.data_as(&token, query, json!({})).await);
    let for_customer = statuses(&app.data_as(&customer.token, query, json!({})).await);
    assert!(for_staff.iter().any(|s| s != "ACTIVE"));
    assert!(for_customer.iter().all(|s| s == "ACTIVE"));
}
