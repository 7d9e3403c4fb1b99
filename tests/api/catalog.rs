//! Browsing the catalog: the storefront's queries, visibility and statement counts.

use bazaar::db::schema::products;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with_scale, statements};

const STOREFRONT_HOME: &str = "{ categories { name children { name } products(first: 20) { edges { node { name category { name } variants { sku price { amount currencyCode } } } } } } }";

/// Ids and slugs of products with `status`, read behind the API.
pub fn products_with_status(app: &TestApp, status: &'static str) -> Vec<(i64, String)> {
    app.db
        .run_blocking(move |conn| {
            Ok(products::table
                .filter(products::status.eq(status))
                .select((products::id, products::slug))
                .load(conn)?)
        })
        .unwrap()
}

/// Checks the storefront home page; `full_pages`: every root has more than 20 products.
fn check_storefront_home(data: &Value, full_pages: bool) {
    let categories = data["categories"].as_array().unwrap();
    assert_eq!(
        categories
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Apparel", "Home & Kitchen", "Electronics", "Outdoors"]
    );
    for category in categories {
        assert_eq!(category["children"].as_array().unwrap().len(), 3);
        let children: Vec<&str> = category["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let edges = category["products"]["edges"].as_array().unwrap();
        if full_pages {
            assert_eq!(edges.len(), 20);
        } else {
            assert!((5..=20).contains(&edges.len()), "{} products", edges.len());
        }
        let names: Vec<&str> = edges
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "sorted by name by default");
        for edge in edges {
            let node = &edge["node"];
            let own_category = node["category"]["name"].as_str().unwrap();
            assert!(
                children.contains(&own_category),
                "{own_category} is under {}",
                category["name"]
            );
            let variants = node["variants"].as_array().unwrap();
            assert!(!variants.is_empty());
            for variant in variants {
                assert_eq!(variant["price"]["currencyCode"], "USD");
                let amount = variant["price"]["amount"].as_str().unwrap();
                assert!(
                    amount
                        .split_once('.')
                        .is_some_and(|(_, cents)| cents.len() == 2),
                    "{amount}"
                );
            }
        }
    }
}

#[actix_web::test]
async fn storefront_home_runs_in_four_statements() {
    let app = spawn_app().await;
    let response = app.graphql(STOREFRONT_HOME, json!({})).await;
    assert!(response.get("errors").is_none(), "{response}");
    check_storefront_home(&response["data"], false);
    assert!(
        statements(&response) <= 4,
        "ran {} statements",
        statements(&response)
    );
}

#[actix_web::test]
async fn statement_count_does_not_grow_with_the_catalog() {
    let small = spawn_app().await;
    let large = spawn_app_with_scale(100).await;
    let small_response = small.graphql(STOREFRONT_HOME, json!({})).await;
    let large_response = large.graphql(STOREFRONT_HOME, json!({})).await;
    assert!(large_response.get("errors").is_none(), "{large_response}");
    check_storefront_home(&large_response["data"], true);
    let active = products_with_status(&large, "ACTIVE").len();
    assert!(
        active > 5_000,
        "the large catalog has {active} active products"
    );
    assert_eq!(statements(&large_response), statements(&small_response));
    assert!(statements(&large_response) <= 4);
}

#[actix_web::test]
async fn customers_see_active_products_only() {
    let app = spawn_app().await;
    let hidden: Vec<(i64, String)> = ["DRAFT", "ARCHIVED"]
        .iter()
        .flat_map(|s| products_with_status(&app, s))
        .collect();
    assert!(!hidden.is_empty(), "the demo shop has hidden products");
    for (id, slug) in &hidden {
        let data = app
            .data(
                "query($id: ID!, $slug: String!) { node(id: $id) { id } product(slug: $slug) { id } }",
                json!({ "id": format!("gid://bazaar/Product/{id}"), "slug": slug }),
            )
            .await;
        assert_eq!(data, json!({ "node": null, "product": null }));
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app
            .data(
                "query($after: String) { products(first: 100, after: $after) { edges { node { id status } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        for edge in data["products"]["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["status"], "ACTIVE");
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if !data["products"]["pageInfo"]["hasNextPage"]
            .as_bool()
            .unwrap()
        {
            break;
        }
        after = data["products"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen.len(), products_with_status(&app, "ACTIVE").len());
}

#[actix_web::test]
async fn product_by_id_and_slug_with_its_relations() {
    let app = spawn_app().await;
    let data = app
        .data(
            r#"{ product(slug: "classic-t-shirt") { id name slug description status
                 category { slug parent { slug } }
                 priceRange { minVariantPrice { amount minorUnits } maxVariantPrice { amount } }
                 images { url altText position }
                 variants { id sku title selectedOptions { name value } inStock price { minorUnits } compareAtPrice { amount } product { slug } } } }"#,
            json!({}),
        )
        .await;
    let product = &data["product"];
    assert_eq!(product["name"], "Classic T-Shirt");
    assert_eq!(product["category"]["slug"], "t-shirts");
    assert_eq!(product["category"]["parent"]["slug"], "apparel");
    let variants = product["variants"].as_array().unwrap();
    let prices: Vec<i64> = variants
        .iter()
        .map(|v| v["price"]["minorUnits"].as_i64().unwrap())
        .collect();
    assert_eq!(
        product["priceRange"]["minVariantPrice"]["minorUnits"],
        json!(prices.iter().min().unwrap())
    );
    assert_eq!(variants[0]["selectedOptions"][0]["name"], "Size");
    assert!(
        variants
            .iter()
            .all(|v| v["product"]["slug"] == "classic-t-shirt")
    );
    assert!(!product["images"].as_array().unwrap().is_empty());

    let by_id = app
        .graphql(
            "query($id: ID!) { product(id: $id) { slug category { name } } }",
            json!({ "id": product["id"] }),
        )
        .await;
    assert_eq!(by_id["data"]["product"]["slug"], "classic-t-shirt");
    assert_eq!(statements(&by_id), 1, "the category comes with the product");
}

#[actix_web::test]
async fn nodes_resolve_every_kind_in_one_statement_per_kind() {
    let app = spawn_app().await;
    let data = app
        .data(r#"{ category(slug: "mugs") { id products(first: 3) { edges { node { id variants { id } } } } } }"#, json!({}))
        .await;
    let category_id = data["category"]["id"].clone();
    let edges = data["category"]["products"]["edges"].as_array().unwrap();
    let mut ids = vec![category_id];
    for edge in edges {
        ids.push(edge["node"]["id"].clone());
        ids.push(edge["node"]["variants"][0]["id"].clone());
    }
    ids.push(json!("gid://bazaar/Product/999999"));
    let response = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": ids }),
        )
        .await;
    let nodes = response["data"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), ids.len());
    for (node, id) in nodes.iter().zip(&ids).take(ids.len() - 1) {
        assert_eq!(&node["id"], id);
    }
    assert_eq!(nodes[0]["__typename"], "Category");
    assert_eq!(nodes[1]["__typename"], "Product");
    assert_eq!(nodes[2]["__typename"], "Variant");
    assert!(nodes.last().unwrap().is_null());
    assert_eq!(statements(&response), 3);
}

#[actix_web::test]
async fn category_tree_walks_both_ways() {
    let app = spawn_app().await;
    let data = app
        .data(r#"{ category(slug: "tents") { name parent { name children { slug } } } missing: category(slug: "nope") { name } }"#, json!({}))
        .await;
    assert_eq!(data["category"]["parent"]["name"], "Outdoors");
    assert_eq!(
        data["category"]["parent"]["children"],
        json!([{ "slug": "backpacks" }, { "slug": "tents" }, { "slug": "water-bottles" }])
    );
    assert!(
        data["missing"].is_null(),
        "an unknown slug is null, not an error"
    );
}

#[actix_web::test]
async fn a_full_page_batches_as_well_as_a_short_one() {
    // Lists longer than 30 resolve in rounds; every round's keys still land in one batch.
    let app = spawn_app_with_scale(3).await;
    let query = "query($n: Int) { products(first: $n) { edges { node { name category { name parent { name } }
        variants { sku } images { url } } } } }";
    let short = app.graphql(query, json!({ "n": 5 })).await;
    let full = app.graphql(query, json!({ "n": 100 })).await;
    assert_eq!(
        full["data"]["products"]["edges"].as_array().unwrap().len(),
        100
    );
    assert_eq!(
        statements(&full),
        statements(&short),
        "{}",
        statements(&full)
    );
}

#[actix_web::test]
async fn a_product_list_reads_categories_with_the_page_only_when_asked_for_them() {
    let app = spawn_app().await;
    let bare = app
        .graphql(
            "{ products(first: 10) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(statements(&bare), 1, "{bare}");
    // Asked for through a fragment: still read with the page, still one statement.
    let with = app
        .graphql(
            "{ products(first: 10) { edges { node { slug ... on Product { category { name } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(statements(&with), 1, "{with}");
    let edges = with["data"]["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 10);
    for edge in edges {
        let by_slug = app
            .data(
                "query($slug: String!) { product(slug: $slug) { category { name } } }",
                json!({ "slug": edge["node"]["slug"] }),
            )
            .await;
        assert!(edge["node"]["category"]["name"].is_string(), "{edge}");
        assert_eq!(edge["node"]["category"], by_slug["product"]["category"]);
    }
}

/// The names of the products `search` finds (first 100).
async fn search(app: &TestApp, phrase: &str) -> Vec<String> {
    let data = app
        .data(
            "query($q: String!) { products(first: 100, where: { search: $q }) {
                edges { node { name } } } }",
            json!({ "q": phrase }),
        )
        .await;
    data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn search_matches_phrases_and_takes_wildcards_literally() {
    let app = spawn_app().await;
    let all = search(&app, "  ").await;
    assert!(!all.is_empty(), "an empty phrase filters nothing");
    let name = &all[0];
    let shouted = format!("  {}  ", name.to_uppercase());
    assert!(
        search(&app, &shouted).await.contains(name),
        "trimmed, any case"
    );
    assert!(
        search(&app, "%").await.is_empty(),
        "% is a character, not a wildcard"
    );
    assert!(
        search(&app, "_").await.is_empty(),
        "_ is a character, not a wildcard"
    );
}
