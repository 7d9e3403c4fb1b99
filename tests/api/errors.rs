//! Bad input gets a clear error with `extensions.code`, never a crash or a silent wrong answer.

use serde_json::json;

use crate::helpers::{error_codes, spawn_app};

#[actix_web::test]
async fn bad_arguments_are_bad_user_input() {
    let app = spawn_app().await;
    let other_sort_cursor = app
        .data(
            "{ products(first: 1, sortBy: { field: PRICE }) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["products"]["pageInfo"]["endCursor"]
        .clone();
    let cases = [
        (
            "{ products(first: -1) { edges { cursor } } }",
            json!({}),
            "must not be negative",
        ),
        (
            "{ products(first: 10000) { edges { cursor } } }",
            json!({}),
            "at most 100",
        ),
        (
            "{ products(last: 101) { edges { cursor } } }",
            json!({}),
            "at most 100",
        ),
        (
            "{ products(first: 1, last: 1) { edges { cursor } } }",
            json!({}),
            "not both",
        ),
        (
            r#"{ products(after: "bm90IGEgY3Vyc29y") { edges { cursor } } }"#,
            json!({}),
            "not a valid cursor",
        ),
        (
            r#"{ products(before: "!!") { edges { cursor } } }"#,
            json!({}),
            "not a valid cursor",
        ),
        (
            "query($c: String) { products(after: $c, sortBy: { field: NAME }) { edges { cursor } } }",
            json!({ "c": other_sort_cursor }),
            "different sort order",
        ),
        (r#"{ node(id: "42") { id } }"#, json!({}), "not a valid id"),
        (
            r#"{ node(id: "gid://bazaar/Product/abc") { id } }"#,
            json!({}),
            "not a valid id",
        ),
        (
            r#"{ product(id: "gid://bazaar/Category/1") { id } }"#,
            json!({}),
            "not a Product id",
        ),
        (r#"{ product { id } }"#, json!({}), "exactly one"),
        (
            r#"{ products(where: { price: { min: "12.345" } }) { edges { cursor } } }"#,
            json!({}),
            "decimal places",
        ),
        (
            r#"{ products(where: { price: { min: "cheap" } }) { edges { cursor } } }"#,
            json!({}),
            "not a valid USD amount",
        ),
        (
            r#"{ products(where: { price: { min: "50", max: "10" } }) { edges { cursor } } }"#,
            json!({}),
            "above the maximum",
        ),
        (
            r#"{ products(where: { categoryId: "gid://bazaar/Product/1" }) { edges { cursor } } }"#,
            json!({}),
            "not a Category id",
        ),
        (
            r#"{ category(slug: "a", extra: 1) { name } }"#,
            json!({}),
            "Unknown argument",
        ),
        (
            "{ products { edges { nope } } }",
            json!({}),
            "Unknown field",
        ),
        (
            "{ products(first: \"ten\") { edges { cursor } } }",
            json!({}),
            "Invalid value",
        ),
        ("{ products(", json!({}), "expected"),
        (
            "{ products(where: { price: { min: true } }) { edges { cursor } } }",
            json!({}),
            "Invalid value",
        ),
    ];
    for (query, variables, message) in cases {
        let response = app.graphql(query, variables).await;
        // A wrongly typed page size is reported twice: by validation and by the cost estimate.
        let codes = error_codes(&response);
        assert!(
            !codes.is_empty() && codes.iter().all(|c| c == "BAD_USER_INPUT"),
            "{query}: {response}"
        );
        let text = response["errors"][0]["message"].as_str().unwrap();
        assert!(
            text.contains(message),
            "{query}: {text:?} should mention {message:?}"
        );
    }
}

#[actix_web::test]
async fn unknown_things_are_null_not_errors() {
    let app = spawn_app().await;
    let response = app
        .graphql(
            r#"{ product(slug: "no-such-product") { id } category(slug: "none") { id }
                 node(id: "gid://bazaar/Variant/987654") { id } nodes(ids: ["gid://bazaar/Category/999"]) { id } }"#,
            json!({}),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        response["data"],
        json!({ "product": null, "category": null, "node": null, "nodes": [null] })
    );
}

#[actix_web::test]
async fn too_many_node_ids_are_refused() {
    let app = spawn_app().await;
    let ids: Vec<String> = (1..=101)
        .map(|i| format!("gid://bazaar/Product/{i}"))
        .collect();
    let response = app
        .graphql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(error_codes(&response), ["BAD_USER_INPUT"]);
}
