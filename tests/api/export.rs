//! `GET /export/{kind}.jsonl`: every row, one JSON object per line in the shape the GraphQL API
//! gives the same object, read in batches (one statement per batch, plus one for the lines of a
//! batch of orders), personal data only for callers who may see it, JSON refusals.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ADDRESS_PARTS, TestApp, captured_logs, is_impersonal, spawn_app_with};
use crate::partners::{app_named, key_with};

/// What an export answered.
struct Export {
    status: u16,
    content_type: String,
    request_id: String,
    body: String,
}

impl Export {
    /// The lines, parsed.
    fn rows(&self) -> Vec<Value> {
        self.body
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }

    /// The JSON error's `extensions.code`.
    fn code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body).expect("a JSON error");
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

async fn export(app: &TestApp, path: &str, token: Option<&str>) -> Export {
    let mut request = app
        .client()
        .get(format!("{}{path}", app.address))
        .timeout(Duration::from_secs(60));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send().await.expect("GET the export");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, request_id) = (header("content-type"), header("x-request-id"));
    let body = response
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .expect("the whole body");
    Export {
        status: response.status().as_u16(),
        content_type,
        request_id,
        body: String::from_utf8(body.to_vec()).expect("UTF-8"),
    }
}

/// The log line the server wrote when the export of request `request_id` finished.
async fn finished_line(request_id: &str) -> String {
    for _ in 0..100 {
        if let Some(line) = captured_logs()
            .lines()
            .find(|line| line.contains(request_id) && line.contains("export finished"))
        {
            return line.to_owned();
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no \"export finished\" line for request {request_id}");
}

/// An app over the demo shop with its 500 orders, exporting `batch` rows per statement, and an
/// admin's token.
async fn shop(batch: &str) -> (TestApp, String) {
    let app = spawn_app_with(1, &["--export-batch-size", batch]).await;
    app.db
        .run(|conn| bazaar::services::seed::seed_shoppers_blocking(conn, 1))
        .await
        .expect("seed orders");
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    (app, admin.token)
}

const MONEY: &str = "{ amount currencyCode minorUnits }";

/// The GraphQL selection whose answer an exported line of `kind` equals.
fn selection(kind: &str) -> String {
    match kind {
        "orders" => format!(
            "... on Order {{ id number status email customer {{ id }}
                lines {{ quantity productName variantTitle sku unitPrice {MONEY} lineTotal {MONEY} variant {{ id }} }}
                totals {{ subtotal {MONEY} discount {MONEY} shipping {MONEY} tax {MONEY} total {MONEY} }}
                discountCode shippingAddress {{ {ADDRESS_PARTS} }} createdAt }}"
        ),
        "products" => format!(
            "... on Product {{ id externalRef name slug description status category {{ id }}
                priceRange {{ minVariantPrice {MONEY} maxVariantPrice {MONEY} }} createdAt updatedAt }}"
        ),
        "variants" => format!(
            "... on Variant {{ id sku title selectedOptions {{ name value }} price {MONEY}
                compareAtPrice {MONEY} weightGrams inStock stock archivedAt product {{ id }} }}"
        ),
        _ => "... on Account { id email emailVerified firstName lastName role createdAt }".to_owned(),
    }
}

/// Checks that each of `rows` (a sample) is what `node(id:)` gives `token` for the same object.
async fn same_as_graphql(app: &TestApp, token: &str, kind: &str, rows: &[Value]) {
    let query = format!(
        "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ {} }} }}",
        selection(kind)
    );
    let ids: Vec<&Value> = rows.iter().map(|row| &row["id"]).collect();
    let data = app.data_as(token, &query, json!({ "ids": ids })).await;
    for (row, node) in rows.iter().zip(data["nodes"].as_array().unwrap()) {
        assert_eq!(
            row, node,
            "{kind}: the exported line differs from the API's object"
        );
    }
}

#[actix_web::test]
async fn orders_export_in_batches_in_the_shape_of_the_api() {
    let (app, admin) = shop("200").await;
    let exported = export(&app, "/export/orders.jsonl", Some(&admin)).await;
    assert_eq!(exported.status, 200, "{}", exported.body);
    assert!(exported.content_type.starts_with("application/x-ndjson"));
    let rows = exported.rows();
    assert_eq!(rows.len(), 500);
    let number = |row: &Value| -> i64 {
        let id = row["id"].as_str().unwrap();
        id.trim_start_matches("gid://bazaar/Order/")
            .parse()
            .unwrap()
    };
    let ids: Vec<i64> = rows.iter().map(number).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "by id, each once");
    assert_eq!(rows[0]["lines"].as_array().unwrap().len(), 3);
    assert_eq!(rows[0]["totals"]["total"]["currencyCode"], "USD");
    let sample: Vec<Value> = rows.iter().step_by(97).cloned().collect();
    same_as_graphql(&app, &admin, "orders", &sample).await;

    // 500 orders at 200 per batch: 3 batches (the last is short, so nothing is read after it),
    // each one statement for the orders and one for their lines.
    let line = finished_line(&exported.request_id).await;
    for expected in ["rows=500", "batches=3", "statements=6"] {
        assert!(line.contains(expected), "{expected} in {line}");
    }
}

#[actix_web::test]
async fn every_kind_exports_as_the_api_shows_it() {
    let (app, admin) = shop("1000").await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let upserted = app
        .data_as(
            &staff,
            "mutation { productUpsert(externalRef: \"ERP-7\", input: { name: \"Exported Lamp\",
                variants: [{ sku: \"exp-1\", title: \"One\", price: \"12.50\", compareAtPrice: \"15.00\",
                             options: [{ name: \"Colour\", value: \"Red\" }] }] }) {
                product { id updatedAt } userErrors { code } } }",
            json!({}),
        )
        .await;
    let lamp = upserted["productUpsert"]["product"].clone();
    for (kind, at_least) in [("products", 60), ("variants", 150), ("customers", 50)] {
        let exported = export(&app, &format!("/export/{kind}.jsonl"), Some(&staff)).await;
        assert_eq!(exported.status, 200, "{kind}: {}", exported.body);
        let rows = exported.rows();
        assert!(rows.len() >= at_least, "{kind}: {} rows", rows.len());
        let mut sample: Vec<Value> = rows.iter().step_by(7).cloned().collect();
        sample.push(rows.last().unwrap().clone());
        same_as_graphql(&app, &staff, kind, &sample).await;
        let line = finished_line(&exported.request_id).await;
        assert!(
            line.contains("statements=1"),
            "one batch, one statement: {line}"
        );
    }

    // Only what changed since a time.
    let since = lamp["updatedAt"].as_str().unwrap();
    let recent = export(
        &app,
        &format!(
            "/export/products.jsonl?updatedSince={}",
            since.replace('+', "%2B")
        ),
        Some(&staff),
    )
    .await;
    assert_eq!(recent.status, 200, "{}", recent.body);
    let rows = recent.rows();
    assert_eq!(rows.len(), 1, "{}", recent.body);
    assert_eq!(rows[0]["id"], lamp["id"]);
    assert_eq!(rows[0]["externalRef"], "ERP-7");
    let bad = export(
        &app,
        "/export/products.jsonl?updatedSince=yesterday",
        Some(&staff),
    )
    .await;
    assert_eq!((bad.status, bad.code().as_str()), (400, "BAD_USER_INPUT"));
    let _ = admin;
}

#[actix_web::test]
async fn partners_export_what_their_scopes_allow_and_no_personal_data_without_read_customers() {
    let (app, admin) = shop("1000").await;
    let erp = app_named(&app, &admin, "ERP").await;
    let (orders_only, _) = key_with(&app, &admin, &erp, &["READ_ORDERS"]).await;
    let (customers_too, _) = key_with(&app, &admin, &erp, &["READ_ORDERS", "READ_CUSTOMERS"]).await;

    let redacted = export(&app, "/export/orders.jsonl", Some(&orders_only)).await;
    assert_eq!(redacted.status, 200, "{}", redacted.body);
    let rows = redacted.rows();
    assert_eq!(rows.len(), 500);
    for row in &rows {
        assert_eq!(row["email"], Value::Null);
        assert_eq!(row["customer"], Value::Null);
        assert!(is_impersonal(&row["shippingAddress"]), "{row}");
    }
    same_as_graphql(&app, &orders_only, "orders", &rows[..20]).await;
    let full = export(&app, "/export/orders.jsonl", Some(&customers_too)).await;
    let rows = full.rows();
    assert!(rows[0]["email"].is_string() && rows[0]["shippingAddress"]["line1"] != "");

    // Refusals: JSON, with the GraphQL endpoint's codes.
    let customer = app.register("shopper@example.com").await.token;
    for (path, token, status, code) in [
        (
            "/export/products.jsonl",
            Some(orders_only.as_str()),
            403,
            "FORBIDDEN",
        ),
        (
            "/export/customers.jsonl",
            Some(orders_only.as_str()),
            403,
            "FORBIDDEN",
        ),
        (
            "/export/orders.jsonl",
            Some(customer.as_str()),
            403,
            "FORBIDDEN",
        ),
        ("/export/orders.jsonl", None, 401, "UNAUTHENTICATED"),
        (
            "/export/orders.jsonl",
            Some("bzk_not-a-key"),
            401,
            "UNAUTHENTICATED",
        ),
        (
            "/export/orders.jsonl",
            Some("not-a-session"),
            401,
            "UNAUTHENTICATED",
        ),
        (
            "/export/widgets.jsonl",
            Some(admin.as_str()),
            404,
            "NOT_FOUND",
        ),
        ("/export/orders.csv", Some(admin.as_str()), 404, "NOT_FOUND"),
        (
            "/export/orders.jsonl?since=1",
            Some(admin.as_str()),
            400,
            "BAD_USER_INPUT",
        ),
    ] {
        let refused = export(&app, path, token).await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (status, code),
            "{path}: {}",
            refused.body
        );
        assert!(
            refused.content_type.starts_with("application/json"),
            "{path}"
        );
    }
}
