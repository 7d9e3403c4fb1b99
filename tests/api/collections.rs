//! Manual collections: staff fill and order them, customers page through their published
//! ones (products on sale only), products list their collections, bad input is a user error at
//! its field, the bounds hold under concurrent writes, and a collection grid runs the same
//! statements for 5 products as for 100.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with_scale, statements};

const CREATE: &str = "mutation($input: CollectionFields!) { collectionCreate(input: $input) {
    collection { id slug title published } userErrors { field message code } } }";

const ADD: &str = "mutation($id: ID!, $products: [ID!]!) {
    collectionAddProducts(id: $id, productIds: $products) {
        collection { updatedAt } userErrors { field message code } } }";

const REMOVE: &str = "mutation($id: ID!, $products: [ID!]!) {
    collectionRemoveProducts(id: $id, productIds: $products) { userErrors { field message code } } }";

const REORDER: &str = "mutation($id: ID!, $moves: [CollectionMoveInput!]!) {
    collectionReorderProducts(id: $id, moves: $moves) { userErrors { field message code } } }";

const PAGE: &str = "query($slug: String!, $first: Int, $after: String, $last: Int, $before: String) {
    collection(slug: $slug) { title products(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage } } } }";

async fn staff(app: &TestApp) -> String {
    app.account_with_role("staff@example.com", "STAFF")
        .await
        .token
}

/// The ids of the first `count` products on sale, by name.
async fn product_ids(app: &TestApp, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    while ids.len() < count {
        let page = app
            .data(
                "query($after: String) { products(first: 100, after: $after) {
                    edges { cursor node { id } } } }",
                json!({ "after": after }),
            )
            .await;
        let edges = page["products"]["edges"].as_array().unwrap().clone();
        assert!(
            !edges.is_empty(),
            "the shop has fewer than {count} products"
        );
        after = edges.last().unwrap()["cursor"].clone();
        ids.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
    }
    ids.truncate(count);
    ids
}

/// A new collection; its id.
async fn collection(app: &TestApp, staff: &str, input: Value) -> String {
    let made = app.data_as(staff, CREATE, json!({ "input": input })).await;
    assert_eq!(made["collectionCreate"]["userErrors"], json!([]), "{made}");
    made["collectionCreate"]["collection"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn add(app: &TestApp, staff: &str, id: &str, products: &[String]) -> Value {
    app.data_as(staff, ADD, json!({ "id": id, "products": products }))
        .await["collectionAddProducts"]
        .clone()
}

fn node_ids(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn customers_page_through_a_collection_in_the_order_staff_set() {
    let app = spawn_app().await;
    let staff = staff(&app).await;
    let products = product_ids(&app, 5).await;
    let sale = collection(&app, &staff, json!({ "title": "Summer Sale" })).await;
    let added = add(&app, &staff, &sale, &products[..3]).await;
    assert_eq!(added["userErrors"], json!([]), "{added}");
    // Adding again keeps the place of those already in; new ones go last.
    add(
        &app,
        &staff,
        &sale,
        &[
            products[4].clone(),
            products[0].clone(),
            products[3].clone(),
        ],
    )
    .await;
    let moves = json!([{ "productId": products[3], "position": 0 },
                       { "productId": products[1], "position": 99 }]);
    let moved = app
        .data_as(&staff, REORDER, json!({ "id": sale, "moves": moves }))
        .await;
    assert_eq!(moved["collectionReorderProducts"]["userErrors"], json!([]));
    let expected = [3, 0, 2, 4, 1].map(|i| products[i].clone()).to_vec();

    let all = app
        .data(PAGE, json!({ "slug": "summer-sale", "first": 10 }))
        .await;
    assert_eq!(all["collection"]["title"], "Summer Sale");
    assert_eq!(node_ids(&all["collection"]["products"]), expected);
    // Forward and backward pages agree with the whole list.
    let first = app
        .data(PAGE, json!({ "slug": "summer-sale", "first": 2 }))
        .await;
    let first = &first["collection"]["products"];
    assert_eq!(node_ids(first), expected[..2]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let cursor = first["edges"][1]["cursor"].clone();
    let next = app
        .data(
            PAGE,
            json!({ "slug": "summer-sale", "first": 2, "after": cursor }),
        )
        .await;
    assert_eq!(node_ids(&next["collection"]["products"]), expected[2..4]);
    assert_eq!(
        next["collection"]["products"]["pageInfo"]["hasPreviousPage"],
        true
    );
    let last = app
        .data(PAGE, json!({ "slug": "summer-sale", "last": 2 }))
        .await;
    assert_eq!(node_ids(&last["collection"]["products"]), expected[3..]);

    // A product taken off sale leaves the customers' list, not staff's.
    let drafted = app
        .data_as(
            &staff,
            "mutation($id: ID!) { productUpdate(id: $id, input: { status: DRAFT }) { userErrors { code } } }",
            json!({ "id": products[0] }),
        )
        .await;
    assert_eq!(drafted["productUpdate"]["userErrors"], json!([]));
    let shown = app.data(PAGE, json!({ "slug": "summer-sale" })).await;
    assert_eq!(
        node_ids(&shown["collection"]["products"]),
        [3, 2, 4, 1].map(|i| products[i].clone())
    );
    let staff_view = app
        .data_as(&staff, PAGE, json!({ "slug": "summer-sale" }))
        .await;
    assert_eq!(node_ids(&staff_view["collection"]["products"]), expected);

    // Products know their collections; node(id:) opens one.
    let product = app
        .data(
            "query($id: ID!, $c: ID!) { node(id: $c) { ... on Collection { slug } }
                product(id: $id) { collections { slug title } } }",
            json!({ "id": products[4], "c": sale }),
        )
        .await;
    assert_eq!(product["node"]["slug"], "summer-sale");
    assert_eq!(
        product["product"]["collections"],
        json!([{ "slug": "summer-sale", "title": "Summer Sale" }])
    );

    // Removing closes the gap; deleting the collection leaves the products.
    let removed = app
        .data_as(
            &staff,
            REMOVE,
            json!({ "id": sale, "products": [products[2]] }),
        )
        .await;
    assert_eq!(removed["collectionRemoveProducts"]["userErrors"], json!([]));
    let after_removal = app
        .data_as(&staff, PAGE, json!({ "slug": "summer-sale" }))
        .await;
    assert_eq!(
        node_ids(&after_removal["collection"]["products"]),
        [3, 0, 4, 1].map(|i| products[i].clone())
    );
    let deleted = app
        .data_as(
            &staff,
            "mutation($id: ID!) { collectionDelete(id: $id) { deletedId userErrors { code } } }",
            json!({ "id": sale }),
        )
        .await;
    assert_eq!(deleted["collectionDelete"]["deletedId"], json!(sale));
    let gone = app.data(PAGE, json!({ "slug": "summer-sale" })).await;
    assert!(gone["collection"].is_null());
    let still = app
        .data(
            "query($id: ID!) { product(id: $id) { id collections { slug } } }",
            json!({ "id": products[4] }),
        )
        .await;
    assert_eq!(still["product"]["collections"], json!([]));

    // Each change is in the audit log.
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let audit = app
        .data_as(
            &admin.token,
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .filter(|a| a.starts_with("collection."))
        .collect();
    assert_eq!(
        actions,
        [
            "collection.delete",
            "collection.remove_products",
            "collection.reorder_products",
            "collection.add_products",
            "collection.add_products",
            "collection.create"
        ]
    );
}

#[actix_web::test]
async fn an_unpublished_collection_is_for_staff_only() {
    let app = spawn_app().await;
    let staff = staff(&app).await;
    let products = product_ids(&app, 1).await;
    let draft = collection(
        &app,
        &staff,
        json!({ "title": "Black Friday", "slug": "bf", "published": false }),
    )
    .await;
    let open = collection(&app, &staff, json!({ "title": "Staff Picks" })).await;
    add(&app, &staff, &draft, &products).await;
    add(&app, &staff, &open, &products).await;
    let query = "query($id: ID!, $c: ID!) { collection(slug: \"bf\") { id }
        collections(first: 10) { edges { node { slug } } }
        node(id: $c) { id }
        product(id: $id) { collections { slug } } }";
    let variables = json!({ "id": products[0], "c": draft });
    let anonymous = app.data(query, variables.clone()).await;
    assert!(anonymous["collection"].is_null());
    assert!(anonymous["node"].is_null());
    assert_eq!(
        anonymous["collections"]["edges"],
        json!([{ "node": { "slug": "staff-picks" } }])
    );
    assert_eq!(
        anonymous["product"]["collections"],
        json!([{ "slug": "staff-picks" }])
    );
    let seen = app.data_as(&staff, query, variables.clone()).await;
    assert_eq!(seen["collection"]["id"], json!(draft));
    assert_eq!(seen["node"]["id"], json!(draft));
    assert_eq!(
        seen["collections"]["edges"],
        json!([{ "node": { "slug": "staff-picks" } }, { "node": { "slug": "bf" } }]),
        "newest first"
    );
    // Publishing it shows it to everyone.
    let published = app
        .data_as(
            &staff,
            "mutation($id: ID!) { collectionUpdate(id: $id, input: { published: true }) {
                collection { published title slug } userErrors { code } } }",
            json!({ "id": draft }),
        )
        .await;
    assert_eq!(
        published["collectionUpdate"]["collection"],
        json!({ "published": true, "title": "Black Friday", "slug": "bf" })
    );
    let now = app.data(query, variables).await;
    assert_eq!(now["collection"]["id"], json!(draft));
    assert_eq!(
        now["product"]["collections"],
        json!([{ "slug": "bf" }, { "slug": "staff-picks" }]),
        "by title"
    );
}

#[actix_web::test]
async fn bad_collection_input_is_a_user_error_at_the_field() {
    let app = spawn_app().await;
    let staff = staff(&app).await;
    let products = product_ids(&app, 2).await;
    let sale = collection(&app, &staff, json!({ "title": "Sale" })).await;
    add(&app, &staff, &sale, &products[..1]).await;
    let unknown_product = "gid://bazaar/Product/999999";
    let too_many: Vec<String> = (0..251).map(|_| products[0].clone()).collect();
    let cases: Vec<(&str, Value, &str, Value, &str)> = vec![
        (
            CREATE,
            json!({ "input": { "title": " " } }),
            "collectionCreate",
            json!(["input", "title"]),
            "INVALID",
        ),
        (
            CREATE,
            json!({ "input": { "title": "X", "slug": "Not A Slug" } }),
            "collectionCreate",
            json!(["input", "slug"]),
            "INVALID",
        ),
        (
            CREATE,
            json!({ "input": { "title": "Sale" } }),
            "collectionCreate",
            json!(["input", "slug"]),
            "TAKEN",
        ),
        (
            CREATE,
            json!({ "input": { "title": "Long", "description": "x".repeat(10_001) } }),
            "collectionCreate",
            json!(["input", "description"]),
            "TOO_LONG",
        ),
        (
            ADD,
            json!({ "id": sale, "products": [products[1], unknown_product] }),
            "collectionAddProducts",
            json!(["productIds", "1"]),
            "NOT_FOUND",
        ),
        (
            ADD,
            json!({ "id": sale, "products": [] }),
            "collectionAddProducts",
            json!(["productIds"]),
            "TOO_SHORT",
        ),
        (
            ADD,
            json!({ "id": sale, "products": too_many }),
            "collectionAddProducts",
            json!(["productIds"]),
            "TOO_LONG",
        ),
        (
            ADD,
            json!({ "id": "gid://bazaar/Collection/999999", "products": [products[0]] }),
            "collectionAddProducts",
            json!(["id"]),
            "NOT_FOUND",
        ),
        (
            REORDER,
            json!({ "id": sale, "moves": [{ "productId": products[0], "position": 1 }, { "productId": products[1], "position": 0 }] }),
            "collectionReorderProducts",
            json!(["moves", "1", "productId"]),
            "NOT_FOUND",
        ),
    ];
    for (query, variables, field, at, code) in cases {
        let response = app.data_as(&staff, query, variables.clone()).await;
        let errors = &response[field]["userErrors"];
        assert_eq!(errors[0]["field"], at, "{variables}: {response}");
        assert_eq!(errors[0]["code"], code, "{variables}: {response}");
    }
    // Nothing of the refused calls was written.
    let page = app.data(PAGE, json!({ "slug": "sale" })).await;
    assert_eq!(node_ids(&page["collection"]["products"]), products[..1]);
    // Malformed arguments are top-level errors.
    for (query, variables) in [
        (
            ADD,
            json!({ "id": sale, "products": ["gid://bazaar/Category/1"] }),
        ),
        (ADD, json!({ "id": products[0], "products": [products[0]] })),
        (
            REORDER,
            json!({ "id": sale, "moves": [{ "productId": products[0], "position": -1 }] }),
        ),
    ] {
        let response = app.graphql_as(Some(&staff), query, variables).await;
        assert_eq!(error_codes(&response), ["BAD_USER_INPUT"], "{response}");
    }
    let customer = app.register("customer@example.com").await;
    let refused = app
        .graphql_as(
            Some(&customer.token),
            CREATE,
            json!({ "input": { "title": "Mine" } }),
        )
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);
}

#[actix_web::test]
async fn a_product_joins_at_most_25_collections_even_when_added_at_once() {
    let app = spawn_app().await;
    let staff = staff(&app).await;
    let product = product_ids(&app, 1).await;
    for n in 0..24 {
        let id = collection(&app, &staff, json!({ "title": format!("C{n}") })).await;
        assert_eq!(
            add(&app, &staff, &id, &product).await["userErrors"],
            json!([])
        );
    }
    let a = collection(&app, &staff, json!({ "title": "Last A" })).await;
    let b = collection(&app, &staff, json!({ "title": "Last B" })).await;
    let (first, second) = tokio::join!(
        add(&app, &staff, &a, &product),
        add(&app, &staff, &b, &product)
    );
    let mut codes: Vec<Value> = [first, second]
        .iter()
        .map(|r| r["userErrors"][0]["code"].clone())
        .collect();
    codes.sort_by_key(|c| c.to_string());
    assert_eq!(codes, [json!("LIMIT_REACHED"), Value::Null], "one of two");
    let listed = app
        .data(
            "query($id: ID!) { product(id: $id) { collections { slug } } }",
            json!({ "id": product[0] }),
        )
        .await;
    assert_eq!(
        listed["product"]["collections"].as_array().unwrap().len(),
        25
    );
}

#[actix_web::test]
async fn a_collection_grid_runs_the_same_statements_for_5_products_as_for_100() {
    let app = spawn_app_with_scale(3).await;
    let staff = staff(&app).await;
    let products = product_ids(&app, 100).await;
    let grid = "{ collections(first: 10) { edges { node { title
        products(first: 100) { edges { node { name variants { sku price { amount } }
            images { url } options { name values } collections { slug } } } } } } } }";
    let small = collection(&app, &staff, json!({ "title": "Small" })).await;
    add(&app, &staff, &small, &products[..5]).await;
    let few = app.graphql(grid, json!({})).await;
    assert!(few["errors"].is_null(), "{few}");
    for title in ["Big", "Bigger"] {
        let id = collection(&app, &staff, json!({ "title": title })).await;
        for chunk in products.chunks(50) {
            assert_eq!(add(&app, &staff, &id, chunk).await["userErrors"], json!([]));
        }
    }
    let many = app.graphql(grid, json!({})).await;
    assert!(many["errors"].is_null(), "{many}");
    let shown: usize = many["data"]["collections"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["products"]["edges"].as_array().unwrap().len())
        .sum();
    assert!(shown > 150, "{shown} products shown");
    assert_eq!(statements(&few), statements(&many));
}
