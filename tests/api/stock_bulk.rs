//! `inventorySetQuantities`: up to 250 SKUs in one transaction of three statements, each line
//! compare-and-swap, all or nothing, one user error per refused line.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, durability_statement, on_postgres, spawn_app_with_scale, statements,
};

const SET: &str =
    "mutation($lines: [InventoryQuantityInput!]!) { inventorySetQuantities(lines: $lines) {
    levels { variantId sku quantity } userErrors { field message code } } }";

/// `(sku, stock)` of the first `count` variants, read behind the API.
async fn stocks(app: &TestApp, count: i64) -> Vec<(String, i32)> {
    use bazaar::db::schema::variants;
    use diesel::prelude::*;
    app.db
        .run(move |conn| {
            Ok(variants::table
                .order_by(variants::id)
                .limit(count)
                .select((variants::sku, variants::stock))
                .load(conn)?)
        })
        .await
        .unwrap()
}

fn lines(
    rows: &[(String, i32)],
    expected: impl Fn(i32) -> i32,
    quantity: impl Fn(i32) -> i32,
) -> Value {
    json!(rows
        .iter()
        .map(|(sku, stock)| json!({ "sku": sku.to_lowercase(), "expectedQuantity": expected(*stock),
                                     "quantity": quantity(*stock) }))
        .collect::<Vec<_>>())
}

#[actix_web::test]
async fn two_hundred_fifty_skus_are_set_in_one_transaction_of_three_statements() {
    let app = spawn_app_with_scale(2).await;
    let staff = app
        .account_with_role("stock@example.com", "STAFF")
        .await
        .token;
    let before = stocks(&app, 250).await;
    assert_eq!(before.len(), 250);
    // A first request signs the session in (a cached look-up from then on).
    app.data_as(&staff, "{ me { id } }", json!({})).await;

    let response = app
        .graphql_as(
            Some(&staff),
            SET,
            json!({ "lines": lines(&before, |s| s, |s| s + 5) }),
        )
        .await;
    let payload = &response["data"]["inventorySetQuantities"];
    assert_eq!(payload["userErrors"], json!([]), "{response}");
    assert_eq!(payload["levels"].as_array().unwrap().len(), 250);
    // BEGIN, the compare-and-swap update, the event positions and the events (one statement on
    // PostgreSQL, two on SQLite), COMMIT; on PostgreSQL the commit's flush after it.
    let positions_and_events = if on_postgres() { 1 } else { 2 };
    assert_eq!(
        statements(&response),
        3 + positions_and_events + durability_statement()
    );
    let after = stocks(&app, 250).await;
    assert!(before.iter().zip(&after).all(|(b, a)| a.1 == b.1 + 5));
    let logged = app
        .data_as(
            &staff,
            "{ events(last: 100, types: [INVENTORY_CHANGED]) { edges { node { payload } } } }",
            json!({}),
        )
        .await;
    let last = &logged["events"]["edges"][99]["node"]["payload"];
    assert_eq!(last["reason"], "ADJUSTED");
    assert_eq!(
        last["quantity"].as_i64().unwrap(),
        last["previousQuantity"].as_i64().unwrap() + 5
    );

    // Two stale lines and an unknown SKU: nothing changes, and each refused line is named.
    let mut stale = lines(&after, |s| s, |s| s + 1);
    stale[7]["expectedQuantity"] = json!(after[7].1 - 1);
    stale[200]["expectedQuantity"] = json!(after[200].1 + 3);
    stale[249]["sku"] = json!("NO-SUCH-SKU");
    let refused = app.data_as(&staff, SET, json!({ "lines": stale })).await;
    let errors = &refused["inventorySetQuantities"]["userErrors"];
    let fields: Vec<&Value> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["field"])
        .collect();
    assert_eq!(
        fields,
        [
            &json!(["lines", "7", "expectedQuantity"]),
            &json!(["lines", "200", "expectedQuantity"]),
            &json!(["lines", "249", "sku"]),
        ]
    );
    assert_eq!(errors[0]["code"], "STALE");
    assert_eq!(errors[2]["code"], "NOT_FOUND");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("is {} now", after[7].1))
    );
    assert_eq!(stocks(&app, 250).await, after);

    // Malformed batches.
    let mut twice = lines(&after[..2], |s| s, |s| s);
    twice[1]["sku"] = twice[0]["sku"].clone();
    let too_many: Vec<Value> = (0..251)
        .map(|i| json!({ "sku": format!("X{i}"), "expectedQuantity": 0, "quantity": 1 }))
        .collect();
    for (batch, field) in [
        (twice, json!(["lines", "1", "sku"])),
        (json!(too_many), json!(["lines"])),
        (json!([]), json!(["lines"])),
        (
            lines(&after[..1], |s| s, |_| -1),
            json!(["lines", "0", "quantity"]),
        ),
    ] {
        let refused = app.data_as(&staff, SET, json!({ "lines": batch })).await;
        let error = &refused["inventorySetQuantities"]["userErrors"][0];
        assert_eq!(error["field"], field, "{refused}");
        assert_eq!(error["code"], "INVALID");
    }
}
