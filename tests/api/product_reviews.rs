//! Reviews: one per customer and product, verified when bought, shown once approved, rated in
//! one statement for a whole product list.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};

const SUBMIT: &str = "mutation($product: ID!, $input: ReviewInput!) { reviewSubmit(productId: $product, input: $input) {
    review { id rating title verifiedPurchase status authorName } userErrors { field code } } }";

const PRODUCT: &str = "query($id: ID!) { node(id: $id) { ... on Product {
    rating { average count } reviews(first: 5) { edges { node { title authorName verifiedPurchase } } } } } }";

/// An active product's id.
async fn a_product(app: &TestApp, index: usize) -> String {
    app.data(
        "{ products(first: 10) { edges { node { id } } } }",
        json!({}),
    )
    .await["products"]["edges"][index]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Records a paid order of `product` for `account` behind the API.
async fn bought(app: &TestApp, account_id: &str, product: &str) {
    use bazaar::db::schema::{order_lines, orders};
    use diesel::prelude::*;
    let user: i64 = account_id.rsplit('/').next().unwrap().parse().unwrap();
    let product: i64 = product.rsplit('/').next().unwrap().parse().unwrap();
    app.db
        .run(move |conn| {
            let now = chrono::Utc::now().naive_utc();
            let order: i64 = diesel::insert_into(orders::table)
                .values((
                    orders::user_id.eq(user),
                    orders::email.eq("buyer@example.com"),
                    orders::status.eq("PAID"),
                    orders::currency.eq("USD"),
                    orders::subtotal.eq(100_i64),
                    orders::discount_total.eq(0_i64),
                    orders::shipping_total.eq(0_i64),
                    orders::tax_total.eq(0_i64),
                    orders::total.eq(100_i64),
                    orders::shipping_address.eq("{}"),
                    orders::request_hash.eq("test"),
                    orders::created_at.eq(now),
                    orders::updated_at.eq(now),
                ))
                .returning(orders::id)
                .get_result(conn)?;
            diesel::insert_into(order_lines::table)
                .values((
                    order_lines::order_id.eq(order),
                    order_lines::product_id.eq(product),
                    order_lines::product_name.eq("x"),
                    order_lines::variant_title.eq("x"),
                    order_lines::sku.eq("X"),
                    order_lines::unit_price.eq(100_i64),
                    order_lines::quantity.eq(1),
                    order_lines::line_total.eq(100_i64),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

fn review(rating: i32, title: &str) -> Value {
    json!({ "rating": rating, "title": title, "body": "Works as described." })
}

#[actix_web::test]
async fn reviews_are_moderated_verified_and_rated() {
    let app = spawn_app().await;
    let product = a_product(&app, 0).await;
    let buyer = app.register("buyer@example.com").await;
    let browser = app.register("browser@example.com").await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    app.data_as(&buyer.token, "mutation { accountUpdate(input: { firstName: \"Ada\", lastName: \"Lovelace\" }) { account { id } } }", json!({})).await;
    bought(&app, &buyer.id, &product).await;

    let first = app
        .data_as(
            &buyer.token,
            SUBMIT,
            json!({ "product": product, "input": review(5, "Superb") }),
        )
        .await["reviewSubmit"]
        .clone();
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(first["review"]["verifiedPurchase"], true);
    assert_eq!(first["review"]["status"], "PENDING");
    assert_eq!(first["review"]["authorName"], "Ada L.");
    let second = app
        .data_as(
            &browser.token,
            SUBMIT,
            json!({ "product": product, "input": review(2, "Meh") }),
        )
        .await["reviewSubmit"]
        .clone();
    assert_eq!(second["review"]["verifiedPurchase"], false);

    // Nothing shows before moderation.
    let before = app.data(PRODUCT, json!({ "id": product })).await;
    assert_eq!(
        before["node"]["rating"],
        json!({ "average": null, "count": 0 })
    );
    assert_eq!(before["node"]["reviews"]["edges"], json!([]));

    let queue = app
        .data_as(
            &staff.token,
            "{ reviewsToModerate { id title } }",
            json!({}),
        )
        .await;
    assert_eq!(queue["reviewsToModerate"].as_array().unwrap().len(), 2);
    let moderate = "mutation($id: ID!, $status: ReviewStatus!) { reviewModerate(id: $id, status: $status) { review { status } userErrors { code } } }";
    for (id, status) in [
        (&first["review"]["id"], "APPROVED"),
        (&second["review"]["id"], "APPROVED"),
    ] {
        let done = app
            .data_as(
                &staff.token,
                moderate,
                json!({ "id": id, "status": status }),
            )
            .await;
        assert_eq!(done["reviewModerate"]["review"]["status"], status);
    }
    let after = app.data(PRODUCT, json!({ "id": product })).await;
    assert_eq!(
        after["node"]["rating"],
        json!({ "average": 3.5, "count": 2 })
    );
    assert_eq!(
        after["node"]["reviews"]["edges"][0]["node"]["title"], "Meh",
        "newest first"
    );

    // One review per customer and product; editing sends it back to moderation.
    let again = app
        .data_as(
            &buyer.token,
            SUBMIT,
            json!({ "product": product, "input": review(4, "Again") }),
        )
        .await;
    assert_eq!(
        again["reviewSubmit"]["userErrors"],
        json!([{ "field": ["productId"], "code": "TAKEN" }])
    );
    let edited = app
        .data_as(
            &buyer.token,
            "mutation($id: ID!) { reviewUpdate(id: $id, input: { rating: 1, title: \"Broke\" }) { review { status } userErrors { code } } }",
            json!({ "id": first["review"]["id"] }),
        )
        .await;
    assert_eq!(edited["reviewUpdate"]["review"]["status"], "PENDING");
    let not_yours = app
        .data_as(
            &browser.token,
            "mutation($id: ID!) { reviewUpdate(id: $id, input: { rating: 1, title: \"Hijack\" }) { userErrors { code } } }",
            json!({ "id": first["review"]["id"] }),
        )
        .await;
    assert_eq!(
        not_yours["reviewUpdate"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let rated = app.data(PRODUCT, json!({ "id": product })).await;
    assert_eq!(
        rated["node"]["rating"],
        json!({ "average": 2.0, "count": 1 })
    );
}

#[actix_web::test]
async fn bad_reviews_and_wrong_callers_are_refused() {
    let app = spawn_app().await;
    let product = a_product(&app, 1).await;
    let customer = app.register("customer@example.com").await;
    let invalid = app
        .data_as(
            &customer.token,
            SUBMIT,
            json!({ "product": product, "input": { "rating": 9, "title": "" } }),
        )
        .await;
    assert_eq!(
        invalid["reviewSubmit"]["userErrors"],
        json!([{ "field": ["input", "rating"], "code": "INVALID" },
               { "field": ["input", "title"], "code": "TOO_SHORT" }])
    );
    let anonymous = app
        .graphql(
            SUBMIT,
            json!({ "product": product, "input": review(5, "Hi") }),
        )
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
    let moderate = app
        .graphql_as(
            Some(&customer.token),
            "mutation { reviewModerate(id: \"gid://bazaar/Review/1\", status: APPROVED) { review { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&moderate), ["FORBIDDEN"]);
    let hidden = app
        .data_as(
            &customer.token,
            SUBMIT,
            json!({ "product": "gid://bazaar/Product/999999", "input": review(5, "Ghost") }),
        )
        .await;
    assert_eq!(hidden["reviewSubmit"]["userErrors"][0]["code"], "NOT_FOUND");
}

#[actix_web::test]
async fn a_product_list_is_rated_in_one_statement() {
    let app = spawn_app().await;
    let query = "query($n: Int) { products(first: $n) { edges { node { rating { average count } reviews(first: 3) { edges { node { title } } } } } } }";
    let two = app.graphql(query, json!({ "n": 2 })).await;
    let fifty = app.graphql(query, json!({ "n": 50 })).await;
    assert_eq!(
        fifty["data"]["products"]["edges"].as_array().unwrap().len(),
        50
    );
    assert_eq!(statements(&two), statements(&fifty));
    assert!(statements(&fifty) <= 3, "{}", statements(&fifty));
}

#[actix_web::test]
async fn images_and_reviews_are_nodes_shown_where_their_product_shows() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let author = app.register("author@example.com").await;
    let other = app.register("other@example.com").await;
    let product = a_product(&app, 0).await;
    let image = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Product { images { id url } } } }",
            json!({ "id": product }),
        )
        .await["node"]["images"][0]
        .clone();
    let image_node = "query($id: ID!) { node(id: $id) { id ... on Image { url product { id } } } }";
    let seen = app.data(image_node, json!({ "id": image["id"] })).await;
    assert_eq!(seen["node"]["url"], image["url"]);
    assert_eq!(seen["node"]["product"]["id"], product);

    let review = app
        .data_as(
            &author.token,
            SUBMIT,
            json!({ "product": product, "input": { "rating": 4, "title": "Sturdy" } }),
        )
        .await["reviewSubmit"]["review"]["id"]
        .clone();
    let review_node =
        "query($id: ID!) { node(id: $id) { id ... on Review { title status product { id } } } }";
    let as_caller = |token: Option<String>| {
        let app = &app;
        let review = review.clone();
        async move {
            app.graphql_as(token.as_deref(), review_node, json!({ "id": review }))
                .await["data"]["node"]["title"]
                .clone()
        }
    };
    // Pending: its author and staff only.
    assert_eq!(as_caller(Some(author.token.clone())).await, "Sturdy");
    assert_eq!(as_caller(Some(admin.token.clone())).await, "Sturdy");
    assert_eq!(as_caller(Some(other.token.clone())).await, Value::Null);
    assert_eq!(as_caller(None).await, Value::Null);
    app.data_as(
        &admin.token,
        "mutation($id: ID!) { reviewModerate(id: $id, status: APPROVED) { userErrors { code } } }",
        json!({ "id": review }),
    )
    .await;
    assert_eq!(as_caller(None).await, "Sturdy");

    // A draft product hides its images and reviews from shoppers, not from staff.
    app.data_as(
        &admin.token,
        "mutation($id: ID!) { productUpdate(id: $id, input: { status: DRAFT }) { userErrors { code } } }",
        json!({ "id": product }),
    )
    .await;
    assert_eq!(as_caller(None).await, Value::Null);
    assert_eq!(as_caller(Some(admin.token.clone())).await, "Sturdy");
    let hidden = app.data(image_node, json!({ "id": image["id"] })).await;
    assert_eq!(hidden["node"], Value::Null);
    let for_staff = app
        .data_as(&admin.token, image_node, json!({ "id": image["id"] }))
        .await;
    assert_eq!(for_staff["node"]["url"], image["url"]);
    assert_eq!(
        app.data(image_node, json!({ "id": "gid://bazaar/Image/999999" }))
            .await["node"],
        Value::Null
    );
}

#[actix_web::test]
async fn reviews_page_newest_first_for_many_products_in_one_statement() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let products = [a_product(&app, 0).await, a_product(&app, 1).await];
    // Five reviews of the first product, three of the second, all approved.
    for n in 0..5 {
        let author = app.register(&format!("reader{n}@example.com")).await;
        for product in products.iter().take(if n < 3 { 2 } else { 1 }) {
            let submitted = app
                .data_as(
                    &author.token,
                    SUBMIT,
                    json!({ "product": product,
                            "input": { "rating": 4, "title": format!("R{n}"), "body": "Fine." } }),
                )
                .await;
            let id = &submitted["reviewSubmit"]["review"]["id"];
            app.data_as(
                &staff.token,
                "mutation($id: ID!) { reviewModerate(id: $id, status: APPROVED) { userErrors { code } } }",
                json!({ "id": id }),
            )
            .await;
        }
    }
    let page = "query($ids: [ID!]!, $first: Int, $after: String, $last: Int, $before: String) {
        nodes(ids: $ids) { ... on Product {
            reviews(first: $first, after: $after, last: $last, before: $before) {
                edges { cursor node { title } } pageInfo { hasNextPage hasPreviousPage } } } } }";
    let titles = |response: &Value, index: usize| -> Vec<String> {
        response["data"]["nodes"][index]["reviews"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app
        .graphql(page, json!({ "ids": products, "first": 2 }))
        .await;
    assert_eq!(titles(&first, 0), ["R4", "R3"]);
    assert_eq!(titles(&first, 1), ["R2", "R1"]);
    let info = &first["data"]["nodes"][0]["reviews"]["pageInfo"];
    assert_eq!(info["hasNextPage"], true);
    let cursor = first["data"]["nodes"][0]["reviews"]["edges"][1]["cursor"].clone();
    let next = app
        .graphql(
            page,
            json!({ "ids": [products[0]], "first": 2, "after": cursor }),
        )
        .await;
    assert_eq!(titles(&next, 0), ["R2", "R1"]);
    let oldest = app
        .graphql(page, json!({ "ids": [products[0]], "last": 2 }))
        .await;
    assert_eq!(titles(&oldest, 0), ["R1", "R0"]);
    // Both products' pages came from one statement, as did one product's.
    let one = app
        .graphql(page, json!({ "ids": [products[0]], "first": 2 }))
        .await;
    assert_eq!(statements(&first), statements(&one));
    let everything = app
        .graphql(page, json!({ "ids": products, "first": 100 }))
        .await;
    assert_eq!(titles(&everything, 0).len(), 5);
    assert_eq!(titles(&everything, 1), ["R2", "R1", "R0"]);
}
