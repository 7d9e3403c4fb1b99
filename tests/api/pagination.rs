//! Relay pagination: walking forward and backward visits every product once, in order, under
//! every sort and with filters.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String, $where: ProductWhere, $sortBy: ProductSortBy) {
  products(first: $first, after: $after, last: $last, before: $before, where: $where, sortBy: $sortBy) {
    edges { cursor node { id name createdAt priceRange { minVariantPrice { minorUnits } } category { slug parent { slug } }
                          variants { inStock price { minorUnits } } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

/// Walks the whole list forward in pages of `size`; returns the nodes in order.
async fn walk_forward(app: &TestApp, size: i32, filter: &Value, sort: &Value) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    for _ in 0..1000 {
        let data = app
            .data(
                PAGE,
                json!({ "first": size, "after": after, "where": filter, "sortBy": sort }),
            )
            .await;
        let connection = &data["products"];
        nodes.extend(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        assert_eq!(
            connection["pageInfo"]["hasPreviousPage"],
            json!(!after.is_null())
        );
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return nodes;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    panic!("the walk did not end");
}

/// Walks the whole list backward from the end in pages of `size`; returns the nodes in list order.
async fn walk_backward(app: &TestApp, size: i32, filter: &Value, sort: &Value) -> Vec<Value> {
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut before = Value::Null;
    for _ in 0..1000 {
        let data = app
            .data(
                PAGE,
                json!({ "last": size, "before": before, "where": filter, "sortBy": sort }),
            )
            .await;
        let connection = &data["products"];
        pages.push(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect(),
        );
        assert_eq!(
            connection["pageInfo"]["hasNextPage"],
            json!(!before.is_null())
        );
        if !connection["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            return pages.into_iter().rev().flatten().collect();
        }
        before = connection["pageInfo"]["startCursor"].clone();
    }
    panic!("the walk did not end");
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

fn min_price(node: &Value) -> i64 {
    node["priceRange"]["minVariantPrice"]["minorUnits"]
        .as_i64()
        .unwrap()
}

/// Checks that `nodes` are in `sort` order, ties broken by id in the same direction.
fn assert_sorted(nodes: &[Value], sort: &Value) {
    let numeric_id = |n: &Value| {
        n["id"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let descending = sort["direction"] == "DESC";
    for pair in nodes.windows(2) {
        let ordering = match sort["field"].as_str().unwrap() {
            "NAME" => pair[0]["name"].as_str().cmp(&pair[1]["name"].as_str()),
            "PRICE" => min_price(&pair[0]).cmp(&min_price(&pair[1])),
            "CREATED_AT" => pair[0]["createdAt"]
                .as_str()
                .cmp(&pair[1]["createdAt"].as_str()),
            other => panic!("unknown field {other}"),
        }
        .then(numeric_id(&pair[0]).cmp(&numeric_id(&pair[1])));
        let expected = if descending {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Less
        };
        assert_eq!(ordering, expected, "{} then {}", pair[0], pair[1]);
    }
}

#[actix_web::test]
async fn walks_visit_every_product_once_in_every_order() {
    let app = spawn_app().await;
    let active = crate::catalog::products_with_status(&app, "ACTIVE").len();
    for sort in [
        json!({ "field": "NAME", "direction": "ASC" }),
        json!({ "field": "PRICE", "direction": "DESC" }),
        json!({ "field": "PRICE", "direction": "ASC" }),
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
    ] {
        let forward = walk_forward(&app, 7, &Value::Null, &sort).await;
        let backward = walk_backward(&app, 9, &Value::Null, &sort).await;
        assert_eq!(forward.len(), active, "{sort}");
        let unique: std::collections::HashSet<_> = ids(&forward).into_iter().collect();
        assert_eq!(unique.len(), active, "no product twice ({sort})");
        assert_eq!(
            ids(&forward),
            ids(&backward),
            "both directions agree ({sort})"
        );
        assert_sorted(&forward, &sort);
    }
}

#[actix_web::test]
async fn filters_and_sorts_combine() {
    let app = spawn_app().await;
    let filter = json!({ "categorySlug": "apparel", "price": { "min": "20", "max": "60.00" }, "inStock": true });
    let sort = json!({ "field": "PRICE", "direction": "DESC" });
    let forward = walk_forward(&app, 4, &filter, &sort).await;
    let backward = walk_backward(&app, 5, &filter, &sort).await;
    assert!(
        forward.len() >= 3,
        "the filter matches a few products: {}",
        forward.len()
    );
    assert_eq!(ids(&forward), ids(&backward));
    assert_sorted(&forward, &sort);
    for node in &forward {
        assert_eq!(
            node["category"]["parent"]["slug"], "apparel",
            "a descendant of the category"
        );
        let variants = node["variants"].as_array().unwrap();
        assert!(variants.iter().any(|v| v["inStock"] == true));
        assert!(
            variants
                .iter()
                .any(|v| (2000..=6000).contains(&v["price"]["minorUnits"].as_i64().unwrap()))
        );
    }

    // Everything outside the filter really is outside it.
    let everything = walk_forward(&app, 100, &Value::Null, &sort).await;
    let matched: std::collections::HashSet<_> = ids(&forward).into_iter().collect();
    for node in everything
        .iter()
        .filter(|n| !matched.contains(n["id"].as_str().unwrap()))
    {
        let variants = node["variants"].as_array().unwrap();
        let in_range = variants
            .iter()
            .any(|v| (2000..=6000).contains(&v["price"]["minorUnits"].as_i64().unwrap()));
        let in_stock = variants.iter().any(|v| v["inStock"] == true);
        assert!(
            node["category"]["parent"]["slug"] != "apparel" || !in_range || !in_stock,
            "{node}"
        );
    }
}

#[actix_web::test]
async fn search_matches_names_descriptions_and_skus() {
    let app = spawn_app().await;
    let by_name = walk_forward(
        &app,
        50,
        &json!({ "search": "  MUG " }),
        &json!({ "field": "NAME" }),
    )
    .await;
    assert!(!by_name.is_empty());
    assert!(
        by_name
            .iter()
            .all(|n| n["name"].as_str().unwrap().contains("Mug"))
    );
    let by_sku = walk_forward(&app, 50, &json!({ "search": "hoo-000" }), &json!({})).await;
    assert!(!by_sku.is_empty());
    assert!(
        by_sku
            .iter()
            .all(|n| n["name"].as_str().unwrap().contains("Hoodie"))
    );
    let wildcard = walk_forward(&app, 50, &json!({ "search": "%" }), &json!({})).await;
    assert!(wildcard.is_empty(), "LIKE wildcards are matched literally");
    let unknown_category = walk_forward(
        &app,
        50,
        &json!({ "categorySlug": "no-such-thing" }),
        &json!({}),
    )
    .await;
    assert!(unknown_category.is_empty());
}

#[actix_web::test]
async fn nested_category_products_paginate() {
    let app = spawn_app().await;
    let query = r#"query($after: String) { category(slug: "outdoors") {
        products(first: 4, after: $after, sortBy: { field: CREATED_AT, direction: DESC }) {
          edges { node { id createdAt } } pageInfo { hasNextPage endCursor } } } }"#;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app.data(query, json!({ "after": after })).await;
        let connection = &data["category"]["products"];
        seen.extend(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    let flat = walk_forward(
        &app,
        100,
        &json!({ "categorySlug": "outdoors" }),
        &json!({ "field": "CREATED_AT", "direction": "DESC" }),
    )
    .await;
    assert_eq!(
        ids(&seen),
        ids(&flat),
        "the nested connection lists what the filter lists"
    );
}
