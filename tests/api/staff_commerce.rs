//! Stock for staff, never exact for anyone else above the low-stock threshold; discount codes
//! administered by staff: listed, searched, paged, changed, disabled and enabled again.

use serde_json::{Value, json};

use crate::commerce::{a_variant, cart_with, checkout, set_stock, user_error_code};
use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with, statements};

const VARIANT_STOCK: &str =
    "query($id: ID!) { node(id: $id) { ... on Variant { sku inStock lowStock stock } } }";

const VARIANT_PUBLIC: &str =
    "query($id: ID!) { node(id: $id) { ... on Variant { inStock lowStock } } }";

const CART_LINES: &str =
    "query($cart: ID!) { cart(id: $cart) { lines { quantity availability quantityAvailable } } }";

const CODE_FIELDS: &str = "id code kind usageLimit timesUsed startsAt endsAt disabledAt createdAt
    value { __typename ... on DiscountPercentage { percent } ... on Money { amount minorUnits } }
    minimumSubtotal { minorUnits }";

#[actix_web::test]
async fn staff_see_the_stock_others_only_a_low_stock_count() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let (variant, _) = a_variant(&app, 0).await;
    set_stock(&app, &variant, 42).await;
    let vars = json!({ "id": variant });

    for token in [&staff.token, &admin.token] {
        let seen = app.data_as(token, VARIANT_STOCK, vars.clone()).await;
        assert_eq!(seen["node"]["stock"], 42);
        assert_eq!(seen["node"]["lowStock"], Value::Null);
        assert_eq!(seen["node"]["inStock"], true);
    }
    let refused = app
        .graphql_as(Some(&customer.token), VARIANT_STOCK, vars.clone())
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    // Only the guarded field is withheld; the rest of the variant is there.
    assert_eq!(refused["data"]["node"]["stock"], Value::Null);
    assert_eq!(refused["data"]["node"]["inStock"], true);
    let anonymous = app.graphql(VARIANT_STOCK, vars.clone()).await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);

    // "Only N left" for everyone, from the threshold (10) down to one unit.
    for (stock, low) in [
        (11, Value::Null),
        (10, json!(10)),
        (1, json!(1)),
        (0, Value::Null),
    ] {
        set_stock(&app, &variant, stock).await;
        let public = app.data(VARIANT_PUBLIC, vars.clone()).await;
        assert_eq!(public["node"]["lowStock"], low, "stock {stock}");
        assert_eq!(public["node"]["inStock"], stock > 0, "stock {stock}");
        let as_staff = app.data_as(&staff.token, VARIANT_STOCK, vars.clone()).await;
        assert_eq!(as_staff["node"]["stock"], stock);
    }
}

#[actix_web::test]
async fn cart_lines_show_the_exact_stock_only_to_staff_or_when_it_is_low() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let (variant, _) = a_variant(&app, 1).await;
    set_stock(&app, &variant, 50).await;
    let cart = cart_with(&app, Some(&customer.token), &variant, 2).await;
    let anonymous_cart = cart_with(&app, None, &variant, 2).await;
    let line = |data: &Value| data["cart"]["lines"][0].clone();

    for (stock, shown) in [
        (50, Value::Null),
        (11, Value::Null),
        (10, json!(10)),
        (1, json!(1)),
        (0, json!(0)),
    ] {
        set_stock(&app, &variant, stock).await;
        let own = app
            .data_as(&customer.token, CART_LINES, json!({ "cart": cart }))
            .await;
        assert_eq!(
            line(&own)["quantityAvailable"],
            shown,
            "customer, stock {stock}"
        );
        let anonymous = app
            .data(CART_LINES, json!({ "cart": anonymous_cart }))
            .await;
        assert_eq!(
            line(&anonymous)["quantityAvailable"],
            shown,
            "anonymous, stock {stock}"
        );
        // Staff may open the customer's cart and always see the count.
        let as_staff = app
            .data_as(&staff.token, CART_LINES, json!({ "cart": cart }))
            .await;
        assert_eq!(
            line(&as_staff)["quantityAvailable"],
            stock,
            "staff, stock {stock}"
        );
    }
    set_stock(&app, &variant, 1).await;
    let short = app
        .data_as(&customer.token, CART_LINES, json!({ "cart": cart }))
        .await;
    assert_eq!(line(&short)["availability"], "INSUFFICIENT_STOCK");
}

#[actix_web::test]
async fn the_low_stock_threshold_is_a_setting() {
    let app = spawn_app_with(1, &["--low-stock-threshold", "3"]).await;
    let (variant, _) = a_variant(&app, 2).await;
    let cart = cart_with(&app, None, &variant, 1).await;
    for (stock, shown) in [(4, Value::Null), (3, json!(3))] {
        set_stock(&app, &variant, stock).await;
        let read = app.data(CART_LINES, json!({ "cart": cart })).await;
        assert_eq!(read["cart"]["lines"][0]["quantityAvailable"], shown);
        let variant = app.data(VARIANT_PUBLIC, json!({ "id": variant })).await;
        assert_eq!(variant["node"]["lowStock"], shown);
    }
}

#[actix_web::test]
async fn out_of_stock_errors_tell_the_count_only_when_low_or_to_staff() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let (variant, _) = a_variant(&app, 3).await;
    set_stock(&app, &variant, 99).await;
    let sku = app
        .data_as(&staff.token, VARIANT_STOCK, json!({ "id": variant }))
        .await["node"]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    let customer_cart = cart_with(&app, Some(&customer.token), &variant, 30).await;
    let staff_cart = cart_with(&app, Some(&staff.token), &variant, 30).await;
    let message = |response: &Value| {
        assert_eq!(
            user_error_code(response, "checkoutComplete").as_deref(),
            Some("OUT_OF_STOCK"),
            "{response}"
        );
        response["data"]["checkoutComplete"]["userErrors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    set_stock(&app, &variant, 25).await;
    let hidden = checkout(&app, Some(&customer.token), &customer_cart, "short-1").await;
    assert_eq!(message(&hidden), format!("not enough of {sku} in stock"));
    let exact = checkout(&app, Some(&staff.token), &staff_cart, "short-2").await;
    assert_eq!(message(&exact), format!("only 25 of {sku} left in stock"));

    set_stock(&app, &variant, 4).await;
    let low = checkout(&app, Some(&customer.token), &customer_cart, "short-3").await;
    assert_eq!(message(&low), format!("only 4 of {sku} left in stock"));
}

/// Creates a code as `staff`; returns the `DiscountCode` object.
async fn create_code(app: &TestApp, staff: &str, input: Value) -> Value {
    let created = app
        .data_as(
            staff,
            &format!(
                "mutation($input: DiscountCodeInput!) {{ discountCodeCreate(input: $input) {{
                    code discountCode {{ {CODE_FIELDS} }} userErrors {{ field message code }} }} }}"
            ),
            json!({ "input": input }),
        )
        .await;
    let payload = &created["discountCodeCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{created}");
    assert_eq!(payload["code"], payload["discountCode"]["code"]);
    payload["discountCode"].clone()
}

fn codes(data: &Value) -> Vec<String> {
    data["discountCodes"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["code"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn staff_list_search_and_page_discount_codes_in_one_statement() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    app.data_as(&staff.token, "{ me { id } }", json!({})).await;

    let percent = create_code(
        &app,
        &staff.token,
        json!({ "code": "spring10", "kind": "PERCENTAGE", "value": "10", "usageLimit": 50,
                "minimumSubtotal": "20.00" }),
    )
    .await;
    assert_eq!(percent["code"], "SPRING10");
    assert_eq!(percent["kind"], "PERCENTAGE");
    assert_eq!(
        percent["value"],
        json!({ "__typename": "DiscountPercentage", "percent": "10" })
    );
    assert_eq!(percent["minimumSubtotal"]["minorUnits"], 2000);
    assert_eq!(percent["usageLimit"], 50);
    assert_eq!(percent["timesUsed"], 0);
    assert_eq!(percent["disabledAt"], Value::Null);
    assert!(percent["createdAt"].is_string());
    assert!(
        percent["id"]
            .as_str()
            .unwrap()
            .starts_with("gid://bazaar/DiscountCode/")
    );
    let fixed = create_code(
        &app,
        &staff.token,
        json!({ "code": "SUMMER_5", "kind": "FIXED_AMOUNT", "value": "5.00" }),
    )
    .await;
    assert_eq!(
        fixed["value"],
        json!({ "__typename": "Money", "amount": "5.00", "minorUnits": 500 })
    );
    let expired = create_code(
        &app,
        &staff.token,
        json!({ "code": "SPRING20", "kind": "PERCENTAGE", "value": "20",
                "endsAt": "2020-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(expired["endsAt"], "2020-01-01T00:00:00+00:00");

    let list = format!(
        "query($first: Int, $after: String, $last: Int, $before: String, $where: DiscountCodesWhere) {{
            discountCodes(first: $first, after: $after, last: $last, before: $before, where: $where) {{
                edges {{ cursor node {{ {CODE_FIELDS} }} }}
                pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}"
    );
    let small = app
        .graphql_as(Some(&staff.token), &list, json!({ "first": 50 }))
        .await;
    assert!(small["errors"].is_null(), "{small}");
    assert_eq!(codes(&small["data"]), ["SPRING20", "SUMMER_5", "SPRING10"]);
    for n in 0..12 {
        create_code(
            &app,
            &staff.token,
            json!({ "code": format!("BULK{n:02}"), "kind": "PERCENTAGE", "value": "5" }),
        )
        .await;
    }
    let large = app
        .graphql_as(Some(&staff.token), &list, json!({ "first": 50 }))
        .await;
    assert_eq!(codes(&large["data"]).len(), 15);
    // One statement for the page, whatever its size.
    assert_eq!([statements(&small), statements(&large)], [1; 2]);

    // Search: case-insensitive, and `_` is a character, not a wildcard.
    let search = |text: &str| json!({ "where": { "search": text } });
    let spring = app.data_as(&staff.token, &list, search("Spring")).await;
    assert_eq!(codes(&spring), ["SPRING20", "SPRING10"]);
    let underscore = app.data_as(&staff.token, &list, search("_")).await;
    assert_eq!(codes(&underscore), ["SUMMER_5"]);
    let active = app
        .data_as(
            &staff.token,
            &list,
            json!({ "first": 100, "where": { "active": true, "search": "s" } }),
        )
        .await;
    assert_eq!(codes(&active), ["SUMMER_5", "SPRING10"]);
    let inactive = app
        .data_as(&staff.token, &list, json!({ "where": { "active": false } }))
        .await;
    assert_eq!(codes(&inactive), ["SPRING20"]);

    // Pages both ways, keyset on the id.
    let first = app
        .data_as(&staff.token, &list, json!({ "first": 10 }))
        .await;
    assert_eq!(codes(&first)[0], "BULK11");
    assert_eq!(first["discountCodes"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(first["discountCodes"]["pageInfo"]["hasPreviousPage"], false);
    let cursor = first["discountCodes"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .data_as(&staff.token, &list, json!({ "first": 10, "after": cursor }))
        .await;
    assert_eq!(
        codes(&rest),
        ["BULK01", "BULK00", "SPRING20", "SUMMER_5", "SPRING10"]
    );
    assert_eq!(rest["discountCodes"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["discountCodes"]["pageInfo"]["hasPreviousPage"], true);
    let back = app
        .data_as(&staff.token, &list, json!({ "last": 2, "before": cursor }))
        .await;
    assert_eq!(codes(&back), ["BULK04", "BULK03"]);
    let too_many = app
        .graphql_as(Some(&staff.token), &list, json!({ "first": 101 }))
        .await;
    assert_eq!(error_codes(&too_many), ["BAD_USER_INPUT"]);

    // `node(id:)` opens a code for staff.
    let node = app
        .data_as(
            &staff.token,
            "query($id: ID!) { node(id: $id) { id ... on DiscountCode { code } } }",
            json!({ "id": fixed["id"] }),
        )
        .await;
    assert_eq!(
        node["node"],
        json!({ "id": fixed["id"], "code": "SUMMER_5" })
    );
}

#[actix_web::test]
async fn discount_code_updates_are_checked_like_new_codes() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let code = create_code(
        &app,
        &staff.token,
        json!({ "code": "TEN", "kind": "PERCENTAGE", "value": "10", "usageLimit": 5,
                "startsAt": "2026-01-01T00:00:00Z" }),
    )
    .await;
    let update = format!(
        "mutation($id: ID!, $input: DiscountCodeUpdateInput!) {{ discountCodeUpdate(id: $id, input: $input) {{
            code discountCode {{ {CODE_FIELDS} }} userErrors {{ field message code }} }} }}"
    );
    let errors = |data: &Value| data["discountCodeUpdate"]["userErrors"].clone();
    let fields = |data: &Value| -> Vec<Value> {
        errors(data)
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["code"], "INVALID", "{e}");
                e["field"].clone()
            })
            .collect()
    };

    let too_much = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": code["id"], "input": { "value": "150" } }),
        )
        .await;
    assert_eq!(fields(&too_much), [json!(["input", "value"])]);
    assert_eq!(too_much["discountCodeUpdate"]["discountCode"], Value::Null);
    let everything_wrong = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": code["id"], "input": { "value": "ten", "minimumSubtotal": "-1.00",
                    "usageLimit": -1, "endsAt": "2025-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(
        fields(&everything_wrong),
        [
            json!(["input", "value"]),
            json!(["input", "minimumSubtotal"]),
            json!(["input", "usageLimit"]),
            json!(["input", "endsAt"]),
        ]
    );
    let unknown = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": "gid://bazaar/DiscountCode/999999", "input": { "value": "5" } }),
        )
        .await;
    assert_eq!(
        errors(&unknown),
        json!([{ "field": ["id"], "message": "no such discount code", "code": "NOT_FOUND" }])
    );
    let wrong_kind = app
        .graphql_as(
            Some(&staff.token),
            &update,
            json!({ "id": "gid://bazaar/Product/1", "input": {} }),
        )
        .await;
    assert_eq!(error_codes(&wrong_kind), ["BAD_USER_INPUT"]);

    // Nothing changed so far; now a good change: omitted fields stay, null clears.
    let changed = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": code["id"], "input": { "value": "15", "minimumSubtotal": "12.50",
                    "usageLimit": null, "endsAt": "2099-01-01T00:00:00Z" } }),
        )
        .await;
    assert_eq!(errors(&changed), json!([]));
    let after = &changed["discountCodeUpdate"]["discountCode"];
    assert_eq!(changed["discountCodeUpdate"]["code"], "TEN");
    assert_eq!(after["value"]["percent"], "15");
    assert_eq!(after["minimumSubtotal"]["minorUnits"], 1250);
    assert_eq!(after["usageLimit"], Value::Null);
    assert_eq!(after["startsAt"], "2026-01-01T00:00:00+00:00");
    assert_eq!(after["endsAt"], "2099-01-01T00:00:00+00:00");

    // A fixed amount is read in the store currency.
    let fixed = create_code(
        &app,
        &staff.token,
        json!({ "code": "FIVE-OFF", "kind": "FIXED_AMOUNT", "value": "5.00" }),
    )
    .await;
    let more = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": fixed["id"], "input": { "value": "7.50", "startsAt": null } }),
        )
        .await;
    assert_eq!(
        more["discountCodeUpdate"]["discountCode"]["value"],
        json!({ "__typename": "Money", "amount": "7.50", "minorUnits": 750 })
    );
    let not_money = app
        .data_as(
            &staff.token,
            &update,
            json!({ "id": fixed["id"], "input": { "value": "7.505" } }),
        )
        .await;
    assert_eq!(fields(&not_money), [json!(["input", "value"])]);
}

#[actix_web::test]
async fn a_disabled_code_applies_to_nothing_until_enabled_again() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let code = create_code(
        &app,
        &staff.token,
        json!({ "code": "PAUSE", "kind": "PERCENTAGE", "value": "10" }),
    )
    .await;
    let (variant, price) = a_variant(&app, 4).await;
    set_stock(&app, &variant, 20).await;
    let cart = cart_with(&app, Some(&customer.token), &variant, 2).await;
    let apply =
        "mutation($cart: ID!, $code: String!) { cartDiscountCodeApply(cartId: $cart, code: $code) {
        cart { discountCode discountProblem totals { discount { minorUnits } } }
        userErrors { field message code } } }";
    let applied = app
        .data_as(
            &customer.token,
            apply,
            json!({ "cart": cart, "code": "pause" }),
        )
        .await;
    assert_eq!(
        applied["cartDiscountCodeApply"]["cart"]["totals"]["discount"]["minorUnits"],
        (price * 2 * 10 + 50) / 100
    );

    let disable = format!(
        "mutation($id: ID!, $disabled: Boolean) {{ discountCodeDisable(id: $id, disabled: $disabled) {{
            discountCode {{ {CODE_FIELDS} }} userErrors {{ field message code }} }} }}"
    );
    let disabled = app
        .data_as(&staff.token, &disable, json!({ "id": code["id"] }))
        .await;
    let disabled_at = disabled["discountCodeDisable"]["discountCode"]["disabledAt"].clone();
    assert!(disabled_at.is_string(), "{disabled}");
    // Disabling again keeps the first time.
    let again = app
        .data_as(
            &staff.token,
            &disable,
            json!({ "id": code["id"], "disabled": true }),
        )
        .await;
    assert_eq!(
        again["discountCodeDisable"]["discountCode"]["disabledAt"],
        disabled_at
    );

    // The cart holding it shows the problem and is priced without it.
    let held = app
        .data_as(
            &customer.token,
            "query($cart: ID!) { cart(id: $cart) { discountCode discountProblem totals { discount { minorUnits } } } }",
            json!({ "cart": cart }),
        )
        .await;
    assert_eq!(
        held["cart"],
        json!({ "discountCode": "PAUSE", "discountProblem": "the discount code has been disabled",
                "totals": { "discount": { "minorUnits": 0 } } })
    );
    let refused = checkout(&app, Some(&customer.token), &cart, "paused-1").await;
    assert_eq!(
        user_error_code(&refused, "checkoutComplete").as_deref(),
        Some("DISCOUNT_NOT_APPLICABLE"),
        "{refused}"
    );
    assert_eq!(
        refused["data"]["checkoutComplete"]["userErrors"][0]["message"],
        "the discount code has been disabled"
    );
    let other_cart = cart_with(&app, None, &variant, 1).await;
    let not_applied = app
        .data(apply, json!({ "cart": other_cart, "code": "PAUSE" }))
        .await;
    assert_eq!(
        not_applied["cartDiscountCodeApply"]["userErrors"],
        json!([{ "field": ["code"], "message": "the discount code has been disabled",
                 "code": "DISCOUNT_NOT_APPLICABLE" }])
    );

    // Enabled again, it applies and checkout goes through with it.
    let enabled = app
        .data_as(
            &staff.token,
            &disable,
            json!({ "id": code["id"], "disabled": false }),
        )
        .await;
    assert_eq!(
        enabled["discountCodeDisable"]["discountCode"]["disabledAt"],
        Value::Null
    );
    let reapplied = app
        .data(apply, json!({ "cart": other_cart, "code": "PAUSE" }))
        .await;
    assert_eq!(reapplied["cartDiscountCodeApply"]["userErrors"], json!([]));
    let placed = checkout(&app, Some(&customer.token), &cart, "paused-2").await;
    assert_eq!(
        placed["data"]["checkoutComplete"]["userErrors"],
        json!([]),
        "{placed}"
    );
    assert_eq!(
        placed["data"]["checkoutComplete"]["order"]["totals"]["discount"]["minorUnits"],
        (price * 2 * 10 + 50) / 100
    );
    let used = app
        .data_as(
            &staff.token,
            "query($id: ID!) { node(id: $id) { ... on DiscountCode { timesUsed } } }",
            json!({ "id": code["id"] }),
        )
        .await;
    assert_eq!(used["node"]["timesUsed"], 1);
}

#[actix_web::test]
async fn customers_cannot_read_or_change_discount_codes() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let code = create_code(
        &app,
        &staff.token,
        json!({ "code": "SECRET", "kind": "PERCENTAGE", "value": "50" }),
    )
    .await;
    let id = json!({ "id": code["id"] });
    for (query, variables) in [
        ("{ discountCodes { edges { node { code } } } }", json!({})),
        (
            "mutation($id: ID!) { discountCodeUpdate(id: $id, input: { value: \"90\" }) { userErrors { code } } }",
            id.clone(),
        ),
        (
            "mutation($id: ID!) { discountCodeDisable(id: $id) { userErrors { code } } }",
            id.clone(),
        ),
        (
            "mutation { discountCodeCreate(input: { code: \"MINE\", kind: PERCENTAGE, value: \"100\" }) { code } }",
            json!({}),
        ),
    ] {
        let response = app
            .graphql_as(Some(&customer.token), query, variables.clone())
            .await;
        assert_eq!(error_codes(&response), ["FORBIDDEN"], "{query}");
        let anonymous = app.graphql(query, variables).await;
        assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"], "{query}");
    }
    let node = app
        .data_as(
            &customer.token,
            "query($id: ID!) { node(id: $id) { id } }",
            id.clone(),
        )
        .await;
    assert_eq!(node["node"], Value::Null);
    // Nothing changed.
    let unchanged = app
        .data_as(
            &staff.token,
            "query($id: ID!) { node(id: $id) { ... on DiscountCode { value { ... on DiscountPercentage { percent } } disabledAt } } }",
            id,
        )
        .await;
    assert_eq!(
        unchanged["node"],
        json!({ "value": { "percent": "50" }, "disabledAt": null })
    );
}
