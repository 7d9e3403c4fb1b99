//! The authorization matrix: every protected query field and mutation, called as anonymous, the
//! owning customer, another customer, staff and admin, gets exactly the intended result. Plus the
//! statement count of the staff customer list.

use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, error_codes, spawn_app, statements};

/// Who calls, in the order every row is run (the owner last, so destructive rows work).
const CALLERS: [&str; 5] = ["anonymous", "other customer", "staff", "admin", "customer"];

/// What a call may come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Data for the field, as asked.
    Ok,
    /// The field is null: nothing the caller may see.
    Null,
    /// A top-level `UNAUTHENTICATED` error.
    Unauthenticated,
    /// A top-level `FORBIDDEN` error.
    Forbidden,
    /// A `NOT_FOUND` user error: not yours.
    NotFound,
}

use Outcome::{Forbidden, NotFound, Null, Ok as Allowed, Unauthenticated};

struct Callers {
    customer: Account,
    other: Account,
    staff: Account,
    admin: Account,
}

impl Callers {
    fn token(&self, caller: &str) -> Option<&str> {
        match caller {
            "anonymous" => None,
            "customer" => Some(&self.customer.token),
            "other customer" => Some(&self.other.token),
            "staff" => Some(&self.staff.token),
            "admin" => Some(&self.admin.token),
            other => panic!("unknown caller {other}"),
        }
    }
}

fn outcome(response: &Value, field: &str) -> Outcome {
    match error_codes(response).first().map(String::as_str) {
        Some("UNAUTHENTICATED") => return Unauthenticated,
        Some("FORBIDDEN") => return Forbidden,
        Some(other) => panic!("unexpected error {other}: {response}"),
        None => {}
    }
    let value = &response["data"][field];
    if value.is_null() {
        return Null;
    }
    // A user error other than NOT_FOUND means the call got past every access check.
    match value["userErrors"]
        .as_array()
        .and_then(|errors| errors.first())
    {
        Some(error) if error["code"] == "NOT_FOUND" => NotFound,
        _ => Allowed,
    }
}

/// A cart of `account`'s with one line, and an order it placed; their ids.
async fn cart_and_order_of(app: &TestApp, account: &Account) -> (String, String) {
    let variant = app
        .data(
            "{ products(first: 1) { edges { node { variants { id } } } } }",
            json!({}),
        )
        .await["products"]["edges"][0]["node"]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        use bazaar::db::schema::variants;
        use diesel::prelude::*;
        let id: i64 = variant.rsplit('/').next().unwrap().parse().unwrap();
        app.db
            .run(move |conn| {
                diesel::update(variants::table.find(id))
                    .set(variants::stock.eq(100))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        let cart = app
            .data_as(
                &account.token,
                "mutation { cartCreate { cart { id } } }",
                json!({}),
            )
            .await["cartCreate"]["cart"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.data_as(
            &account.token,
            "mutation($cart: ID!, $v: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $v, quantity: 1 }]) { cart { id } } }",
            json!({ "cart": cart, "v": variant }),
        )
        .await;
        ids.push(cart);
    }
    let placed = app
        .data_as(
            &account.token,
            "mutation($cart: ID!) { checkoutComplete(input: { cartId: $cart, email: \"c@example.com\",
                idempotencyKey: \"matrix\", shippingAddress: { firstName: \"A\", lastName: \"B\",
                line1: \"1 Main St\", city: \"Springfield\", countryCode: \"US\" } }) { order { id } userErrors { code } } }",
            json!({ "cart": ids[1] }),
        )
        .await;
    let order = placed["checkoutComplete"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (ids.swap_remove(0), order)
}

async fn address_of(app: &TestApp, account: &Account, city: &str) -> String {
    let data = app
        .data_as(
            &account.token,
            "mutation($input: AddressInput!) { addressAdd(input: $input) { address { id } } }",
            json!({ "input": { "firstName": "A", "lastName": "B", "line1": "1 Main St",
                               "city": city, "countryCode": "US" } }),
        )
        .await;
    data["addressAdd"]["address"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn every_protected_field_answers_each_role_as_intended() {
    let app = spawn_app().await;
    let callers = Callers {
        customer: app.register("customer@example.com").await,
        other: app.register("other@example.com").await,
        staff: app.account_with_role("staff@example.com", "STAFF").await,
        admin: app.account_with_role("admin@example.com", "ADMIN").await,
    };
    let customer_id = callers.customer.id.clone();
    let address = address_of(&app, &callers.customer, "Springfield").await;
    let address_input = json!({ "firstName": "A", "lastName": "B", "line1": "2 Side St",
                                "city": "Shelbyville", "countryCode": "US" });
    let (cart, order) = cart_and_order_of(&app, &callers.customer).await;
    let variant = app
        .data(
            "{ products(first: 1) { edges { node { variants { id } } } } }",
            json!({}),
        )
        .await["products"]["edges"][0]["node"]["variants"][0]["id"]
        .clone();
    let code = app
        .data_as(
            &callers.staff.token,
            "mutation { discountCodeCreate(input: { code: \"STAFFONLY\", kind: PERCENTAGE, value: \"5\" }) {
                discountCode { id } } }",
            json!({}),
        )
        .await["discountCodeCreate"]["discountCode"]["id"]
        .clone();

    // (field, query, variables, expected for each of CALLERS)
    let rows: Vec<(&str, &str, Value, [Outcome; 5])> = vec![
        (
            "customers",
            "{ customers(first: 5) { edges { node { id email addresses { id } } } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "variants",
            "{ variants(first: 5) { edges { node { id stock } } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "allCategories",
            "{ allCategories(first: 5) { edges { node { id archivedAt } } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Account { email } } }",
            json!({ "id": customer_id }),
            [Null, Null, Allowed, Allowed, Allowed],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Address { city } } }",
            json!({ "id": address }),
            [Null, Null, Allowed, Allowed, Allowed],
        ),
        (
            "accountRoleSet",
            "mutation($id: ID!) { accountRoleSet(accountId: $id, role: CUSTOMER) {
                account { role } userErrors { code } } }",
            json!({ "id": customer_id }),
            [Unauthenticated, Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            "accountUpdate",
            "mutation { accountUpdate(input: { firstName: \"Renamed\" }) {
                account { firstName } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "accountEmailVerificationRequest",
            "mutation { accountEmailVerificationRequest { account { emailVerified } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "addressAdd",
            "mutation($input: AddressInput!) { addressAdd(input: $input) {
                address { id } userErrors { code } } }",
            json!({ "input": address_input }),
            [Unauthenticated, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "addressUpdate",
            "mutation($id: ID!, $input: AddressInput!) { addressUpdate(id: $id, input: $input) {
                address { id } userErrors { code } } }",
            json!({ "id": address, "input": address_input }),
            [Unauthenticated, NotFound, NotFound, NotFound, Allowed],
        ),
        (
            "addressSetDefault",
            "mutation($id: ID!) { addressSetDefault(id: $id) { address { id } userErrors { code } } }",
            json!({ "id": address }),
            [Unauthenticated, NotFound, NotFound, NotFound, Allowed],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Order { number } } }",
            json!({ "id": order }),
            [Null, Null, Allowed, Allowed, Allowed],
        ),
        (
            "cart",
            "query($id: ID!) { cart(id: $id) { id } }",
            json!({ "id": cart }),
            [Null, Null, Allowed, Allowed, Allowed],
        ),
        (
            "orders",
            "{ orders(first: 5) { edges { node { id } } } }",
            json!({}),
            [Unauthenticated, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "orderPay",
            "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_decline\", idempotencyKey: \"matrix\") {
                order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, NotFound, Allowed, Allowed, Allowed],
        ),
        (
            "orderFulfill",
            "mutation($id: ID!) { orderFulfill(id: $id) { order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "fulfillmentCreate",
            "mutation($id: ID!) { fulfillmentCreate(id: $id, input: {}) { order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "orderNoteAdd",
            "mutation($id: ID!) { orderNoteAdd(id: $id, body: \"Matrix\") { order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Order { notes { body } } } }",
            json!({ "id": order }),
            [Null, Null, Allowed, Allowed, Forbidden],
        ),
        (
            "orderRefund",
            "mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: \"matrix\") { order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "discountCodeCreate",
            "mutation { discountCodeCreate(input: { code: \"MATRIX\", kind: PERCENTAGE, value: \"5\" }) { code userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "shippingZoneCreate",
            "mutation { shippingZoneCreate(input: { name: \"Z\", regions: [{ countryCode: \"FR\" }] }) { shippingZone { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "shippingZoneDelete",
            "mutation { shippingZoneDelete(id: \"gid://bazaar/ShippingZone/999999\") { deletedId userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, NotFound, NotFound, Forbidden],
        ),
        (
            "shippingMethodCreate",
            "mutation { shippingMethodCreate(zoneId: \"gid://bazaar/ShippingZone/999999\", input: { name: \"M\", price: \"1\" }) { shippingMethod { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, NotFound, NotFound, Forbidden],
        ),
        (
            "taxRateCreate",
            "mutation { taxRateCreate(input: { name: \"VAT\", countryCode: \"FR\", ratePercent: \"20\" }) { taxRate { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "taxRateDelete",
            "mutation { taxRateDelete(id: \"gid://bazaar/TaxRate/999999\") { deletedId userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, NotFound, NotFound, Forbidden],
        ),
        (
            "shop",
            "{ shop { currencyCode shippingZones { name } taxRates { name } } }",
            json!({}),
            [Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "discountCodes",
            "{ discountCodes(first: 5) { edges { node { id code } } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on DiscountCode { code } } }",
            json!({ "id": code }),
            [Null, Null, Allowed, Allowed, Null],
        ),
        (
            "discountCodeUpdate",
            "mutation($id: ID!) { discountCodeUpdate(id: $id, input: { value: \"6\" }) { discountCode { id } userErrors { code } } }",
            json!({ "id": code }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "discountCodeDisable",
            "mutation($id: ID!) { discountCodeDisable(id: $id) { discountCode { id } userErrors { code } } }",
            json!({ "id": code }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "node",
            "query($id: ID!) { node(id: $id) { id ... on Variant { stock } } }",
            json!({ "id": variant }),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "cartLinesRemove",
            "mutation($id: ID!) { cartLinesRemove(cartId: $id, variantIds: []) { cart { id } userErrors { code } } }",
            json!({ "id": cart }),
            [NotFound, NotFound, Allowed, Allowed, Allowed],
        ),
        (
            "orderCancel",
            "mutation($id: ID!) { orderCancel(id: $id) { order { id } userErrors { code } } }",
            json!({ "id": order }),
            [Unauthenticated, NotFound, Allowed, Allowed, Allowed],
        ),
        (
            "categoryCreate",
            "mutation { categoryCreate(input: { name: \"Matrix\" }) { category { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "collectionCreate",
            "mutation { collectionCreate(input: { title: \"Matrix\" }) { collection { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "categoryUpdate",
            "mutation { categoryUpdate(id: \"gid://bazaar/Category/1\", input: { position: 3 }) { category { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "categoryArchive",
            "mutation { categoryArchive(id: \"gid://bazaar/Category/2\", archived: false) { category { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "productCreate",
            "mutation { productCreate(input: { name: \"Matrix Mug\" }) { product { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "productUpdate",
            "mutation { productUpdate(id: \"gid://bazaar/Product/2\", input: { description: \"x\" }) { product { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "productArchive",
            "mutation { productArchive(id: \"gid://bazaar/Product/3\") { product { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "variantCreate",
            "mutation { variantCreate(productId: \"gid://bazaar/Product/2\", input: { sku: \"MATRIX-1\", title: \"M\", price: \"1.00\" }) { variant { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "variantUpdate",
            "mutation { variantUpdate(id: \"gid://bazaar/Variant/5\", input: { position: 1 }) { variant { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "variantArchive",
            "mutation { variantArchive(id: \"gid://bazaar/Variant/6\", archived: false) { variant { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "inventoryAdjust",
            "mutation { inventoryAdjust(variantId: \"gid://bazaar/Variant/7\", expectedQuantity: -5, quantity: 1) { variant { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "productImageAdd",
            "mutation { productImageAdd(productId: \"gid://bazaar/Product/2\", url: \"https://img.example/m.jpg\") { product { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "productImageRemove",
            "mutation { productImageRemove(id: \"gid://bazaar/Image/999999\") { product { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, NotFound, NotFound, Forbidden],
        ),
        (
            "reviewsToModerate",
            "{ reviewsToModerate { id } }",
            json!({}),
            [Unauthenticated, Forbidden, Allowed, Allowed, Forbidden],
        ),
        (
            "reviewModerate",
            "mutation { reviewModerate(id: \"gid://bazaar/Review/999999\", status: APPROVED) { review { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Forbidden, NotFound, NotFound, Forbidden],
        ),
        (
            "reviewUpdate",
            "mutation { reviewUpdate(id: \"gid://bazaar/Review/999999\", input: { rating: 3, title: \"t\" }) { review { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, NotFound, NotFound, NotFound, NotFound],
        ),
        (
            "passwordChange",
            "mutation { passwordChange(currentPassword: \"correct horse battery\",
                newPassword: \"correct horse battery\") { account { id } userErrors { code } } }",
            json!({}),
            [Unauthenticated, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "addressRemove",
            "mutation($id: ID!) { addressRemove(id: $id) { removedAddressId userErrors { code } } }",
            json!({ "id": address }),
            [Unauthenticated, NotFound, NotFound, NotFound, Allowed],
        ),
    ];

    let mut mismatches = Vec::new();
    for (field, query, variables, expected) in &rows {
        for (caller, expected) in CALLERS.iter().zip(expected) {
            let response = app
                .graphql_as(callers.token(caller), query, variables.clone())
                .await;
            let got = outcome(&response, field);
            if got != *expected {
                mismatches.push(format!(
                    "{field} as {caller}: expected {expected:?}, got {got:?}: {response}"
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // What the customer's data looks like afterwards: only the owner changed it.
    let me = app
        .data_as(
            &callers.customer.token,
            "{ me { firstName addresses { city } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"],
        json!({ "firstName": "Renamed", "addresses": [{ "city": "Shelbyville" }] })
    );
}

#[actix_web::test]
async fn session_ending_mutations_need_a_session() {
    let app = spawn_app().await;
    for mutation in ["logout", "logoutAllSessions"] {
        let response = app
            .graphql(
                &format!("mutation {{ {mutation} {{ endedSessions }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(error_codes(&response), ["UNAUTHENTICATED"], "{mutation}");
    }
}

#[actix_web::test]
async fn me_is_always_the_caller() {
    let app = spawn_app().await;
    for (email, role) in [
        ("customer@example.com", "CUSTOMER"),
        ("staff@example.com", "STAFF"),
        ("admin@example.com", "ADMIN"),
    ] {
        let account = app.account_with_role(email, role).await;
        let me = app
            .data_as(&account.token, "{ me { id email role } }", json!({}))
            .await;
        assert_eq!(
            me["me"],
            json!({ "id": account.id, "email": email, "role": role })
        );
    }
}

#[actix_web::test]
async fn admins_change_roles_but_never_remove_the_last_admin() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let set = "mutation($id: ID!, $role: Role!) { accountRoleSet(accountId: $id, role: $role) {
        account { role } userErrors { field code } } }";
    let promoted = app
        .data_as(
            &admin.token,
            set,
            json!({ "id": customer.id, "role": "STAFF" }),
        )
        .await;
    assert_eq!(promoted["accountRoleSet"]["account"]["role"], "STAFF");
    // The new role counts on the very next request of the promoted account.
    let customers = app
        .graphql_as(
            Some(&customer.token),
            "{ customers { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(customers["errors"].is_null(), "{customers}");

    let last = app
        .data_as(
            &admin.token,
            set,
            json!({ "id": admin.id, "role": "CUSTOMER" }),
        )
        .await;
    assert_eq!(
        last["accountRoleSet"]["userErrors"],
        json!([{ "field": ["role"], "code": "LAST_ADMIN" }])
    );
    let unknown = app
        .data_as(
            &admin.token,
            set,
            json!({ "id": "gid://bazaar/Account/999999", "role": "STAFF" }),
        )
        .await;
    assert_eq!(
        unknown["accountRoleSet"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    let wrong_kind = app
        .graphql_as(
            Some(&admin.token),
            set,
            json!({ "id": "gid://bazaar/Product/1", "role": "STAFF" }),
        )
        .await;
    assert_eq!(error_codes(&wrong_kind), ["BAD_USER_INPUT"]);
}

#[actix_web::test]
async fn staff_search_customers_with_a_bounded_statement_count() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    // The session is looked up once; the counts below are of the requests after that.
    app.data_as(&staff.token, "{ me { id } }", json!({})).await;
    let query = "query($search: String) { customers(first: 50, where: { search: $search }) {
        edges { node { email addresses { city } defaultAddress { city } } }
        pageInfo { hasNextPage } } }";
    let mut counts = Vec::new();
    for n in 0..12 {
        let customer = app.register(&format!("shopper{n}@example.com")).await;
        address_of(&app, &customer, &format!("Town {n}")).await;
        address_of(&app, &customer, &format!("Village {n}")).await;
        if n == 1 || n == 11 {
            let response = app.graphql_as(Some(&staff.token), query, json!({})).await;
            assert!(response["errors"].is_null(), "{response}");
            let edges = response["data"]["customers"]["edges"].as_array().unwrap();
            assert_eq!(
                edges.len(),
                n + 2,
                "the shoppers so far and the staff account"
            );
            // Newest first, each with both addresses and the first as default.
            assert_eq!(edges[0]["node"]["email"], format!("shopper{n}@example.com"));
            assert_eq!(edges[0]["node"]["addresses"].as_array().unwrap().len(), 2);
            assert_eq!(
                edges[0]["node"]["defaultAddress"]["city"],
                format!("Town {n}")
            );
            counts.push(statements(&response));
        }
    }
    // The page and the addresses of every account on it: whatever the page size.
    assert_eq!(counts, [2; 2]);

    let found = app
        .data_as(&staff.token, query, json!({ "search": "SHOPPER1" }))
        .await;
    let emails: Vec<&str> = found["customers"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "shopper11@example.com",
            "shopper10@example.com",
            "shopper1@example.com"
        ]
    );
    let staff_only = app
        .data_as(
            &staff.token,
            "{ customers(where: { role: STAFF }) { edges { node { email } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        staff_only["customers"]["edges"],
        json!([{ "node": { "email": "staff@example.com" } }])
    );
}

#[actix_web::test]
async fn the_customer_list_pages_both_ways() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    for n in 0..5 {
        app.register(&format!("shopper{n}@example.com")).await;
    }
    let page = "query($after: String, $before: String, $first: Int, $last: Int) {
        customers(first: $first, after: $after, last: $last, before: $before, where: { role: CUSTOMER }) {
            edges { cursor node { email } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let first = app.data_as(&staff.token, page, json!({ "first": 2 })).await;
    let emails = |data: &Value| -> Vec<String> {
        data["customers"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        emails(&first),
        ["shopper4@example.com", "shopper3@example.com"]
    );
    assert_eq!(first["customers"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["customers"]["pageInfo"]["endCursor"].clone();
    let second = app
        .data_as(&staff.token, page, json!({ "first": 3, "after": cursor }))
        .await;
    assert_eq!(
        emails(&second),
        [
            "shopper2@example.com",
            "shopper1@example.com",
            "shopper0@example.com"
        ]
    );
    assert_eq!(second["customers"]["pageInfo"]["hasNextPage"], false);
    let back = app
        .data_as(&staff.token, page, json!({ "last": 1, "before": cursor }))
        .await;
    assert_eq!(emails(&back), ["shopper4@example.com"]);
}

/// Runs `bazaar create-admin` against the app's database with `password` on standard input.
fn create_admin(app: &TestApp, email: &str, password: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args(["create-admin", "--email", email, "--bcrypt-cost", "4"])
        .env("DATABASE_URL", &app.database_url)
        .env_remove("BAZAAR_ADMIN_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[actix_web::test]
async fn create_admin_bootstraps_the_first_administrator() {
    let app = spawn_app().await;
    let output = create_admin(&app, "Boss@Example.com", "an admin passphrase");
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("created administrator boss@example.com")
    );
    let login = app.login("boss@example.com", "an admin passphrase").await;
    let token = login["data"]["login"]["session"]["token"].as_str().unwrap();
    let me = app.data_as(token, "{ me { role } }", json!({})).await;
    assert_eq!(me["me"]["role"], "ADMIN");

    // An existing account is promoted, its password replaced and its sessions ended.
    let customer = app.register("customer@example.com").await;
    let output = create_admin(&app, "customer@example.com", "another admin passphrase");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        error_codes(
            &app.graphql_as(Some(&customer.token), "{ me { id } }", json!({}))
                .await
        ),
        ["UNAUTHENTICATED"]
    );
    let login = app
        .login("customer@example.com", "another admin passphrase")
        .await;
    assert_eq!(
        login["data"]["login"]["account"]["id"],
        customer.id.as_str()
    );

    // A weak password is refused with one clear line and a failing exit.
    let output = create_admin(&app, "weak@example.com", "short");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("bazaar: a password has at least 8 characters"),
        "{output:?}"
    );
}
