//! Bulk work for partner systems: a variant by its SKU (with the visibility rules of `node`),
//! `productUpsert` by an external reference (idempotent, one product under concurrent pushes).

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};
use crate::partners::{app_named, key_with};

const VARIANT_BY_SKU: &str =
    "query($sku: String!) { variant(sku: $sku) { id sku product { name status } } }";

/// A staff account's token.
async fn staff(app: &TestApp) -> String {
    app.account_with_role("staff@example.com", "STAFF")
        .await
        .token
}

/// A partner key with `scopes`, made by a new admin.
async fn partner(app: &TestApp, scopes: &[&str]) -> String {
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let erp = app_named(app, &admin.token, "ERP").await;
    key_with(app, &admin.token, &erp, scopes).await.0
}

/// The first variant on sale: (global id, SKU).
async fn a_sku(app: &TestApp, index: usize) -> (String, String) {
    let (id, _) = crate::commerce::a_variant(app, index).await;
    let data = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Variant { sku } } }",
            json!({ "id": id }),
        )
        .await;
    (id, data["node"]["sku"].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn a_variant_is_found_by_its_sku_as_node_would_show_it() {
    let app = spawn_app().await;
    let staff = staff(&app).await;
    let (id, sku) = a_sku(&app, 0).await;
    let (other_id, other_sku) = a_sku(&app, 1).await;

    // Case and surrounding spaces do not matter; the product comes in the same statement.
    let typed = format!("  {}  ", sku.to_lowercase());
    let found = app.graphql(VARIANT_BY_SKU, json!({ "sku": typed })).await;
    assert_eq!(found["data"]["variant"]["id"], id.as_str(), "{found}");
    assert_eq!(found["data"]["variant"]["sku"], sku.as_str());
    assert_eq!(found["data"]["variant"]["product"]["status"], "ACTIVE");
    assert_eq!(statements(&found), 1, "{found}");
    // Several SKUs in one request: still one statement.
    let both = app
        .graphql(
            "query($a: String!, $b: String!) { a: variant(sku: $a) { id } b: variant(sku: $b) { id }
                none: variant(sku: \"NO-SUCH-SKU\") { id } bad: variant(sku: \"not a sku!\") { id } }",
            json!({ "a": sku, "b": other_sku }),
        )
        .await;
    assert_eq!(both["data"]["a"]["id"], id.as_str());
    assert_eq!(both["data"]["b"]["id"], other_id.as_str());
    assert_eq!(both["data"]["none"], Value::Null);
    assert_eq!(both["data"]["bad"], Value::Null);
    assert_eq!(statements(&both), 1, "{both}");

    // A draft product's variant, and an archived variant of an active product: hidden from
    // customers and from keys that do not read products, shown to staff and READ_PRODUCTS.
    let made = app
        .data_as(
            &staff,
            "mutation { productCreate(input: { name: \"Secret Lamp\" }) { product { id } } }",
            json!({}),
        )
        .await;
    let draft = made["productCreate"]["product"]["id"].clone();
    let variant = app
        .data_as(
            &staff,
            "mutation($p: ID!) { variantCreate(productId: $p, input: { sku: \"lamp-secret\", title: \"One\", price: \"9.00\" }) {
                userErrors { code } } }",
            json!({ "p": draft }),
        )
        .await;
    assert_eq!(variant["variantCreate"]["userErrors"], json!([]));
    let archived = app
        .data_as(
            &staff,
            "mutation($id: ID!) { variantArchive(id: $id) { variant { archivedAt } } }",
            json!({ "id": other_id }),
        )
        .await;
    assert!(archived["variantArchive"]["variant"]["archivedAt"].is_string());
    let customer = app.register("customer@example.com").await;
    let reader = partner(&app, &["READ_PRODUCTS"]).await;
    let writer = {
        let admin = app.account_with_role("admin2@example.com", "ADMIN").await;
        let other = app_named(&app, &admin.token, "Marketplace").await;
        key_with(&app, &admin.token, &other, &["WRITE_ORDERS"])
            .await
            .0
    };
    for (who, token, sees) in [
        ("anonymous", None, false),
        ("customer", Some(customer.token.as_str()), false),
        ("WRITE_ORDERS key", Some(writer.as_str()), false),
        ("staff", Some(staff.as_str()), true),
        ("READ_PRODUCTS key", Some(reader.as_str()), true),
    ] {
        for hidden in ["LAMP-SECRET", other_sku.as_str()] {
            let answer = app
                .graphql_as(token, VARIANT_BY_SKU, json!({ "sku": hidden }))
                .await;
            assert!(answer["errors"].is_null(), "{who}: {answer}");
            assert_eq!(
                answer["data"]["variant"].is_object(),
                sees,
                "{who} looking up {hidden}: {answer}"
            );
        }
    }
}

const UPSERT: &str = "mutation($ref: String!, $input: ProductUpsertFields!) {
    productUpsert(externalRef: $ref, input: $input) {
        product { id externalRef name status updatedAt priceRange { minVariantPrice { minorUnits } }
                  variants { sku title price { minorUnits } } }
        created changed userErrors { field code message } } }";

fn lamp() -> Value {
    json!({ "name": "Desk Lamp", "status": "ACTIVE", "description": "Bright.",
            "variants": [
                { "sku": "lamp-w", "title": "White", "price": "30.00", "stock": 5 },
                { "sku": "lamp-b", "title": "Black", "price": "32.00" } ] })
}

/// Pushes `input` as `reference` with `key`; the payload, after checking that it was taken and
/// whether it `(created, changed)` the product.
async fn push(
    app: &TestApp,
    key: &str,
    reference: &str,
    input: Value,
    (created, changed): (bool, bool),
) -> Value {
    let answer = app
        .data_as(key, UPSERT, json!({ "ref": reference, "input": input }))
        .await;
    let payload = answer["productUpsert"].clone();
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert_eq!(
        (payload["created"].as_bool(), payload["changed"].as_bool()),
        (Some(created), Some(changed)),
        "{payload}"
    );
    payload
}

#[actix_web::test]
async fn an_erp_pushes_a_product_again_and_again_and_gets_one_product() {
    let app = spawn_app().await;
    let erp = partner(&app, &["WRITE_PRODUCTS"]).await;
    let admin = app
        .login("admin@example.com", crate::helpers::PASSWORD)
        .await["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let first = push(&app, &erp, "ERP-1", lamp(), (true, true)).await;
    let product = &first["product"];
    assert_eq!(product["externalRef"], "ERP-1");
    assert_eq!(
        product["priceRange"]["minVariantPrice"]["minorUnits"],
        3_000
    );
    assert_eq!(product["variants"][0]["sku"], "LAMP-W");
    let id = product["id"].as_str().unwrap().to_owned();

    // The same push again: nothing written.
    let again = push(&app, &erp, " ERP-1 ", lamp(), (false, false)).await;
    assert_eq!(again["product"]["id"], id.as_str());
    assert_eq!(again["product"]["updatedAt"], product["updatedAt"]);

    // A change: the product's name, one variant's price, a new variant; stock is left alone.
    let mut changed = lamp();
    changed["name"] = json!("Desk Lamp II");
    changed["variants"][0]["price"] = json!("28.00");
    changed["variants"][0]["stock"] = json!(99);
    changed["variants"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "sku": "lamp-r", "title": "Red", "price": "35.00" }));
    let update = push(&app, &erp, "ERP-1", changed, (false, true)).await;
    let product = &update["product"];
    assert_eq!(product["id"], id.as_str());
    assert_eq!(product["name"], "Desk Lamp II");
    assert_eq!(
        product["priceRange"]["minVariantPrice"]["minorUnits"],
        2_800
    );
    let variants: Vec<(&str, i64)> = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["sku"].as_str().unwrap(),
                v["price"]["minorUnits"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [("LAMP-W", 2_800), ("LAMP-B", 3_200), ("LAMP-R", 3_500)]
    );
    let stock = app
        .data_as(
            &admin,
            "{ variant(sku: \"lamp-w\") { stock product { externalRef } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        stock["variant"]["stock"], 5,
        "stock changes through inventoryAdjust"
    );
    assert_eq!(stock["variant"]["product"]["externalRef"], "ERP-1");

    // Customers do not see the reference.
    let public = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Product { name externalRef } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(public["node"]["name"], "Desk Lamp II");
    assert_eq!(public["node"]["externalRef"], Value::Null);

    // The audit log has the two pushes that changed something.
    let audit = app
        .data_as(
            &admin,
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let upserts = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["action"] == "product.upsert")
        .count();
    assert_eq!(upserts, 2, "{audit}");
}

/// The code of the user error at `field` (dotted) of a payload.
fn user_error_at(payload: &Value, field: &str) -> String {
    let errors = payload["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let error = errors.iter().find(|error| {
        let path: Vec<&str> = error["field"]
            .as_array()
            .map(|parts| parts.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        path.join(".") == field
    });
    match error {
        Some(error) => error["code"].as_str().unwrap_or_default().to_owned(),
        None => panic!("no user error at {field}: {payload}"),
    }
}

#[actix_web::test]
async fn bad_pushes_are_refused_with_user_errors() {
    let app = spawn_app().await;
    let erp = partner(&app, &["WRITE_PRODUCTS"]).await;
    let (_, seeded_sku) = a_sku(&app, 0).await;
    let cases = [
        ("  ", json!({ "name": "Blank" }), "externalRef", "INVALID"),
        (
            "ERP-2",
            json!({ "description": "no name" }),
            "input.name",
            "INVALID",
        ),
        (
            "ERP-3",
            json!({ "name": "Thief", "variants": [{ "sku": seeded_sku, "title": "Mine", "price": "1.00" }] }),
            "input.variants.0.sku",
            "TAKEN",
        ),
        (
            "ERP-4",
            json!({ "name": "Twice", "variants": [
                { "sku": "tw-1", "title": "A", "price": "1.00" },
                { "sku": "TW-1", "title": "B", "price": "1.00" }] }),
            "input.variants.1.sku",
            "INVALID",
        ),
        (
            "ERP-5",
            json!({ "name": "Priceless", "variants": [{ "sku": "pl-1", "title": "A" }] }),
            "input.variants.0.price",
            "INVALID",
        ),
    ];
    for (reference, input, field, code) in cases {
        let answer = app
            .data_as(&erp, UPSERT, json!({ "ref": reference, "input": input }))
            .await;
        assert_eq!(answer["productUpsert"]["product"], Value::Null, "{answer}");
        assert_eq!(
            user_error_at(&answer["productUpsert"], field),
            code,
            "{answer}"
        );
    }
    // Nothing was left behind by the refused pushes.
    let thief = app
        .data_as(
            &erp,
            UPSERT,
            json!({ "ref": "ERP-3", "input": { "name": "Thief" } }),
        )
        .await;
    assert_eq!(thief["productUpsert"]["created"], true, "{thief}");

    // Customers and keys without WRITE_PRODUCTS may not push.
    let customer = app.register("customer@example.com").await;
    let answer = app
        .graphql_as(
            Some(&customer.token),
            UPSERT,
            json!({ "ref": "ERP-9", "input": lamp() }),
        )
        .await;
    assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    let anonymous = app
        .graphql(UPSERT, json!({ "ref": "ERP-9", "input": lamp() }))
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
}

#[actix_web::test]
async fn concurrent_pushes_of_one_reference_make_one_product() {
    let app = spawn_app().await;
    let erp = partner(&app, &["WRITE_PRODUCTS"]).await;
    let pushes = (0..8).map(|_| {
        app.graphql_as(
            Some(&erp),
            UPSERT,
            json!({ "ref": "ERP-RACE", "input": lamp() }),
        )
    });
    let answers = join_all(pushes).await;
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for answer in &answers {
        assert!(answer["errors"].is_null(), "{answer}");
        let payload = &answer["data"]["productUpsert"];
        assert_eq!(payload["userErrors"], json!([]), "{answer}");
        created += usize::from(payload["created"] == true);
        ids.insert(payload["product"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created, 1, "one push creates, the others find it");
    assert_eq!(ids.len(), 1, "{ids:?}");
    use bazaar::db::schema::products;
    use diesel::prelude::*;
    let stored: i64 = app
        .db
        .run(|conn| {
            Ok(products::table
                .filter(products::external_ref.eq("ERP-RACE"))
                .count()
                .get_result(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(stored, 1);
}
