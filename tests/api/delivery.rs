//! The cart knows where it goes: buyer identity on the cart, delivery options from staff-managed
//! shipping zones (region before country, subtotal and weight bands, free-over thresholds), tax rates by
//! country and region (adding up as separate lines), tax-inclusive shops, checkout from the
//! cart's choices, the `shop` query, bad input as user errors, and bounded statements.

use serde_json::{Value, json};

use crate::commerce::{a_variant, cart_with, set_stock};
use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with, statements};

const CART: &str = "query($id: ID!) { cart(id: $id) {
    buyerIdentity { email shippingAddress { city region countryCode } billingAddress { city } }
    deliveryOptions { handle title price { minorUnits } }
    selectedDeliveryOption { handle title }
    totals { subtotal { minorUnits } discount { minorUnits } shipping { minorUnits }
             tax { minorUnits } total { minorUnits } taxesIncluded
             taxLines { name ratePercent amount { minorUnits } } } } }";

const IDENTITY: &str = "mutation($cart: ID!, $identity: CartBuyerIdentityInput!) {
    cartBuyerIdentityUpdate(cartId: $cart, buyerIdentity: $identity) {
        cart { deliveryOptions { handle title price { minorUnits } } }
        userErrors { field message code } } }";

const SELECT: &str = "mutation($cart: ID!, $handle: String!) {
    cartDeliveryOptionSelect(cartId: $cart, handle: $handle) {
        cart { selectedDeliveryOption { title } totals { shipping { minorUnits } } }
        userErrors { field message code } } }";

const ZONE_CREATE: &str = "mutation($input: ShippingZoneInput!) {
    shippingZoneCreate(input: $input) {
        shippingZone { id name regions { countryCode regionCode } methods { name } }
        userErrors { field message code } } }";

const METHOD_CREATE: &str = "mutation($zone: ID!, $input: ShippingMethodInput!) {
    shippingMethodCreate(zoneId: $zone, input: $input) {
        shippingMethod { id name price { minorUnits } freeFrom { minorUnits } }
        userErrors { field message code } } }";

const TAX_CREATE: &str = "mutation($input: TaxRateInput!) {
    taxRateCreate(input: $input) { taxRate { id name ratePercent } userErrors { field message code } } }";

fn address(country: &str, region: &str) -> Value {
    json!({ "firstName": "Ada", "lastName": "Lovelace", "line1": "1 Main St", "city": "Town",
            "region": region, "countryCode": country })
}

/// A zone serving `regions` ((country, region) pairs); its id.
async fn zone(app: &TestApp, staff: &str, name: &str, regions: &[(&str, &str)]) -> String {
    let regions: Vec<Value> = regions
        .iter()
        .map(|(country, region)| json!({ "countryCode": country, "regionCode": region }))
        .collect();
    let made = app
        .data_as(
            staff,
            ZONE_CREATE,
            json!({ "input": { "name": name, "regions": regions } }),
        )
        .await;
    assert_eq!(
        made["shippingZoneCreate"]["userErrors"],
        json!([]),
        "{made}"
    );
    made["shippingZoneCreate"]["shippingZone"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn method(app: &TestApp, staff: &str, zone: &str, input: Value) -> Value {
    let made = app
        .data_as(
            staff,
            METHOD_CREATE,
            json!({ "zone": zone, "input": input }),
        )
        .await;
    assert_eq!(
        made["shippingMethodCreate"]["userErrors"],
        json!([]),
        "{made}"
    );
    made["shippingMethodCreate"]["shippingMethod"].clone()
}

async fn tax_rate(app: &TestApp, staff: &str, input: Value) {
    let made = app
        .data_as(staff, TAX_CREATE, json!({ "input": input }))
        .await;
    assert_eq!(made["taxRateCreate"]["userErrors"], json!([]), "{made}");
}

/// A cart of `quantity` units of the first variant in stock, and the variant's price.
async fn a_cart(app: &TestApp, quantity: i32) -> (String, i64) {
    let (variant, price) = a_variant(app, 0).await;
    set_stock(app, &variant, 100).await;
    (cart_with(app, None, &variant, quantity).await, price)
}

async fn cart(app: &TestApp, cart: &str) -> Value {
    app.data(CART, json!({ "id": cart })).await["cart"].clone()
}

async fn ship_to(app: &TestApp, cart: &str, country: &str, region: &str) -> Value {
    let identity =
        json!({ "email": "ada@example.com", "shippingAddress": address(country, region) });
    let response = app
        .graphql(IDENTITY, json!({ "cart": cart, "identity": identity }))
        .await;
    assert_eq!(
        response["data"]["cartBuyerIdentityUpdate"]["userErrors"],
        json!([]),
        "{response}"
    );
    response["data"]["cartBuyerIdentityUpdate"]["cart"].clone()
}

fn titles(cart: &Value) -> Vec<String> {
    cart["deliveryOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|option| option["title"].as_str().unwrap().to_owned())
        .collect()
}

fn minor(value: &Value) -> i64 {
    value["minorUnits"].as_i64().unwrap()
}

const CHECKOUT: &str = "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
    order { id email shippingMethod billingAddress { city }
        totals { subtotal { minorUnits } shipping { minorUnits } tax { minorUnits }
                 total { minorUnits } taxesIncluded taxLines { name ratePercent amount { minorUnits } } } }
    userErrors { field message code } } }";

#[actix_web::test]
async fn a_shop_without_zones_offers_its_standard_option_and_checkout_uses_the_cart() {
    let app = spawn_app().await;
    let (cart_id, price) = a_cart(&app, 1).await;
    let before = cart(&app, &cart_id).await;
    assert_eq!(before["deliveryOptions"][0]["handle"], "standard");
    assert_eq!(before["buyerIdentity"]["email"], Value::Null);
    let expected_shipping = if price >= 5_000 { 0 } else { 500 };
    assert_eq!(minor(&before["totals"]["shipping"]), expected_shipping);

    let identity = json!({
        "email": "ada@example.com",
        "shippingAddress": address("GB", ""),
        "billingAddress": { "firstName": "Ada", "lastName": "L", "line1": "2 Bill St",
                            "city": "Billington", "countryCode": "GB" },
    });
    let set = app
        .graphql(IDENTITY, json!({ "cart": cart_id, "identity": identity }))
        .await;
    assert_eq!(
        set["data"]["cartBuyerIdentityUpdate"]["userErrors"],
        json!([])
    );
    let after = cart(&app, &cart_id).await;
    assert_eq!(after["buyerIdentity"]["email"], "ada@example.com");
    assert_eq!(
        after["buyerIdentity"]["shippingAddress"]["countryCode"],
        "GB"
    );
    assert_eq!(
        after["buyerIdentity"]["billingAddress"]["city"],
        "Billington"
    );

    // Checkout takes the email and addresses from the cart.
    let placed = app
        .graphql(
            CHECKOUT,
            json!({ "input": { "cartId": cart_id, "idempotencyKey": "from-the-cart" } }),
        )
        .await;
    let order = &placed["data"]["checkoutComplete"]["order"];
    assert_eq!(
        placed["data"]["checkoutComplete"]["userErrors"],
        json!([]),
        "{placed}"
    );
    assert_eq!(order["email"], "ada@example.com");
    assert_eq!(order["shippingMethod"], "Standard shipping");
    assert_eq!(order["billingAddress"]["city"], "Billington");
    assert_eq!(minor(&order["totals"]["shipping"]), expected_shipping);

    // Without an email anywhere, checkout says where to give one.
    let (bare, _) = a_cart(&app, 1).await;
    let refused = app
        .graphql(
            CHECKOUT,
            json!({ "input": { "cartId": bare, "idempotencyKey": "no-email" } }),
        )
        .await;
    assert_eq!(
        refused["data"]["checkoutComplete"]["userErrors"][0]["field"],
        json!(["input", "email"]),
        "{refused}"
    );
}

#[actix_web::test]
async fn zones_decide_the_options_regions_before_countries_and_taxes_add_up_by_place() {
    let app = spawn_app().await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let states = zone(&app, &staff, "United States", &[("US", "")]).await;
    let california = zone(&app, &staff, "California", &[("us", "ca")]).await;
    let canada = zone(&app, &staff, "Canada", &[("CA", "")]).await;
    method(
        &app,
        &staff,
        &states,
        json!({ "name": "Express", "price": "15.00" }),
    )
    .await;
    let standard = method(
        &app,
        &staff,
        &states,
        json!({ "name": "Standard", "price": "5.00", "freeFrom": "1000000" }),
    )
    .await;
    assert_eq!(minor(&standard["freeFrom"]), 100_000_000);
    method(
        &app,
        &staff,
        &states,
        json!({ "name": "Letter", "price": "1.00", "maxSubtotal": "0.01" }),
    )
    .await;
    method(
        &app,
        &staff,
        &california,
        json!({ "name": "Local courier", "price": "3.00" }),
    )
    .await;
    method(
        &app,
        &staff,
        &canada,
        json!({ "name": "Canada Post", "price": "8.00" }),
    )
    .await;
    tax_rate(
        &app,
        &staff,
        json!({ "name": "CA sales tax", "countryCode": "US",
                                   "regionCode": "CA", "ratePercent": "7.25" }),
    )
    .await;
    tax_rate(
        &app,
        &staff,
        json!({ "name": "GST", "countryCode": "CA", "ratePercent": "5" }),
    )
    .await;
    tax_rate(
        &app,
        &staff,
        json!({ "name": "PST", "countryCode": "CA", "regionCode": "BC",
                                   "ratePercent": "7" }),
    )
    .await;

    let (cart_id, price) = a_cart(&app, 2).await;
    let subtotal = 2 * price;
    // Zones exist and no address is known: nothing to offer yet.
    let unknown = cart(&app, &cart_id).await;
    assert_eq!(unknown["deliveryOptions"], json!([]));
    assert_eq!(unknown["selectedDeliveryOption"], Value::Null);

    // New York: the country's zone, cheapest first; the letter band is past.
    let new_york = ship_to(&app, &cart_id, "US", "NY").await;
    assert_eq!(titles(&new_york), ["Standard", "Express"]);
    let priced = cart(&app, &cart_id).await;
    assert_eq!(priced["selectedDeliveryOption"]["title"], "Standard");
    assert_eq!(minor(&priced["totals"]["shipping"]), 500);
    assert_eq!(priced["totals"]["taxLines"], json!([]));

    // Choosing Express sticks, and a handle not offered is a user error.
    let express = new_york["deliveryOptions"][1]["handle"].clone();
    let chosen = app
        .data(SELECT, json!({ "cart": cart_id, "handle": express }))
        .await;
    assert_eq!(
        chosen["cartDeliveryOptionSelect"]["cart"]["selectedDeliveryOption"]["title"],
        "Express"
    );
    assert_eq!(
        minor(&chosen["cartDeliveryOptionSelect"]["cart"]["totals"]["shipping"]),
        1_500
    );
    let unknown_handle = app
        .data(
            SELECT,
            json!({ "cart": cart_id, "handle": "method-999999" }),
        )
        .await;
    assert_eq!(
        unknown_handle["cartDeliveryOptionSelect"]["userErrors"][0]["field"],
        json!(["handle"])
    );

    // California: its own zone wins over the country's, and its sales tax applies.
    let los_angeles = ship_to(&app, &cart_id, "US", "ca").await;
    assert_eq!(titles(&los_angeles), ["Local courier"]);
    let taxed = cart(&app, &cart_id).await;
    let tax = (subtotal * 725 + 5_000) / 10_000;
    assert_eq!(
        taxed["totals"]["taxLines"],
        json!([{ "name": "CA sales tax", "ratePercent": "7.25", "amount": { "minorUnits": tax } }])
    );
    assert_eq!(minor(&taxed["totals"]["total"]), subtotal + 300 + tax);

    // British Columbia: GST and PST as two lines.
    ship_to(&app, &cart_id, "CA", "BC").await;
    let canadian = cart(&app, &cart_id).await;
    let lines: Vec<&str> = canadian["totals"]["taxLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["name"].as_str().unwrap())
        .collect();
    assert_eq!(lines, ["GST", "PST"]);
    let (gst, pst) = (
        (subtotal * 500 + 5_000) / 10_000,
        (subtotal * 700 + 5_000) / 10_000,
    );
    assert_eq!(minor(&canadian["totals"]["tax"]), gst + pst);
    assert_eq!(
        minor(&canadian["totals"]["total"]),
        subtotal + 800 + gst + pst
    );

    // The order keeps what the cart showed.
    let placed = app
        .data(
            CHECKOUT,
            json!({ "input": { "cartId": cart_id, "idempotencyKey": "bc" } }),
        )
        .await;
    let order = &placed["checkoutComplete"]["order"];
    assert_eq!(order["shippingMethod"], "Canada Post");
    assert_eq!(order["totals"]["taxLines"], canadian["totals"]["taxLines"]);
    assert_eq!(order["totals"]["total"], canadian["totals"]["total"]);

    // Nowhere the shop ships: no option, and checkout refuses at the country.
    let (far, _) = a_cart(&app, 1).await;
    let new_zealand = ship_to(&app, &far, "NZ", "").await;
    assert_eq!(new_zealand["deliveryOptions"], json!([]));
    let refused = app
        .data(
            CHECKOUT,
            json!({ "input": { "cartId": far, "idempotencyKey": "nz" } }),
        )
        .await;
    let error = &refused["checkoutComplete"]["userErrors"][0];
    assert_eq!(
        error["field"],
        json!(["input", "shippingAddress", "countryCode"]),
        "{refused}"
    );
    assert_eq!(error["code"], "UNAVAILABLE");

    // What changed is in the audit log.
    let admin = app
        .account_with_role("admin@example.com", "ADMIN")
        .await
        .token;
    let audit = app
        .data_as(
            &admin,
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["action"].as_str().unwrap())
        .collect();
    for action in [
        "shipping_zone.create",
        "shipping_method.create",
        "tax_rate.create",
    ] {
        assert!(actions.contains(&action), "{actions:?}");
    }
}

#[actix_web::test]
async fn weight_bands_price_the_carts_weight_and_checkout_keeps_to_them() {
    let app = spawn_app().await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let (variant, _) = a_variant(&app, 0).await;
    set_stock(&app, &variant, 100).await;
    let weigh = "mutation($id: ID!, $grams: Int!) { variantUpdate(id: $id, input: { weightGrams: $grams }) {
        variant { weightGrams } userErrors { field code } } }";
    let weighed = app
        .data_as(&staff, weigh, json!({ "id": variant, "grams": 1_500 }))
        .await;
    assert_eq!(
        weighed["variantUpdate"]["userErrors"],
        json!([]),
        "{weighed}"
    );
    assert_eq!(weighed["variantUpdate"]["variant"]["weightGrams"], 1_500);

    // A carrier's parcels: below 2 kg, and 2 to 20 kg.
    let germany = zone(&app, &staff, "Germany", &[("DE", "")]).await;
    method(
        &app,
        &staff,
        &germany,
        json!({ "name": "Parcel S", "price": "4.00", "maxWeightGrams": 2_000 }),
    )
    .await;
    method(
        &app,
        &staff,
        &germany,
        json!({ "name": "Parcel L", "price": "9.00", "minWeightGrams": 2_000,
                "maxWeightGrams": 20_000 }),
    )
    .await;
    let bands = app
        .data_as(
            &staff,
            "{ shop { shippingZones { methods { name minWeightGrams maxWeightGrams } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        bands["shop"]["shippingZones"][0]["methods"],
        json!([
            { "name": "Parcel S", "minWeightGrams": 0, "maxWeightGrams": 2_000 },
            { "name": "Parcel L", "minWeightGrams": 2_000, "maxWeightGrams": 20_000 },
        ])
    );

    // 1.5 kg, 3 kg and 21 kg of the same variant.
    let light = cart_with(&app, None, &variant, 1).await;
    assert_eq!(titles(&ship_to(&app, &light, "DE", "").await), ["Parcel S"]);
    let heavier = cart_with(&app, None, &variant, 2).await;
    assert_eq!(
        titles(&ship_to(&app, &heavier, "DE", "").await),
        ["Parcel L"]
    );
    let placed = app
        .data(
            CHECKOUT,
            json!({ "input": { "cartId": heavier, "idempotencyKey": "three-kilos" } }),
        )
        .await;
    let order = &placed["checkoutComplete"]["order"];
    assert_eq!(order["shippingMethod"], "Parcel L", "{placed}");
    assert_eq!(minor(&order["totals"]["shipping"]), 900);
    let freight = cart_with(&app, None, &variant, 14).await;
    assert_eq!(
        ship_to(&app, &freight, "DE", "").await["deliveryOptions"],
        json!([])
    );
    let refused = app
        .data(
            CHECKOUT,
            json!({ "input": { "cartId": freight, "idempotencyKey": "too-heavy" } }),
        )
        .await;
    assert_eq!(
        refused["checkoutComplete"]["userErrors"][0]["code"], "UNAVAILABLE",
        "{refused}"
    );

    // Weights out of range are user errors at their fields.
    let negative = app
        .data_as(&staff, weigh, json!({ "id": variant, "grams": -1 }))
        .await;
    assert_eq!(
        negative["variantUpdate"]["userErrors"],
        json!([{ "field": ["input", "weightGrams"], "code": "INVALID" }])
    );
    let too_heavy = app
        .data_as(&staff, weigh, json!({ "id": variant, "grams": 10_000_001 }))
        .await;
    assert_eq!(
        too_heavy["variantUpdate"]["userErrors"][0]["field"],
        json!(["input", "weightGrams"])
    );
    let upside_down = app
        .data_as(
            &staff,
            METHOD_CREATE,
            json!({ "zone": germany, "input": { "name": "Odd", "price": "1.00",
                    "minWeightGrams": 5_000, "maxWeightGrams": 5_000 } }),
        )
        .await;
    assert_eq!(
        upside_down["shippingMethodCreate"]["userErrors"][0]["field"],
        json!(["input", "maxWeightGrams"]),
        "{upside_down}"
    );
}

#[actix_web::test]
async fn a_tax_inclusive_shop_shows_the_tax_inside_its_prices() {
    let app = spawn_app_with(
        1,
        &["--prices-include-tax", "true", "--tax-shipping", "true"],
    )
    .await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let germany = zone(&app, &staff, "Germany", &[("DE", "")]).await;
    method(
        &app,
        &staff,
        &germany,
        json!({ "name": "DHL", "price": "4.90" }),
    )
    .await;
    tax_rate(
        &app,
        &staff,
        json!({ "name": "MwSt", "countryCode": "DE", "ratePercent": "19" }),
    )
    .await;
    let shop = app
        .data(
            "{ shop { currencyCode pricesIncludeTax shippingTaxed
                        shippingZones { name regions { countryCode } methods { name } }
                        taxRates { name countryCode ratePercent } } }",
            json!({}),
        )
        .await;
    assert_eq!(shop["shop"]["pricesIncludeTax"], true);
    assert_eq!(shop["shop"]["shippingTaxed"], true);
    assert_eq!(
        shop["shop"]["shippingZones"][0]["methods"][0]["name"],
        "DHL"
    );
    assert_eq!(shop["shop"]["taxRates"][0]["ratePercent"], "19.00");

    let (cart_id, price) = a_cart(&app, 1).await;
    ship_to(&app, &cart_id, "DE", "").await;
    let priced = cart(&app, &cart_id).await;
    let totals = &priced["totals"];
    assert_eq!(totals["taxesIncluded"], true);
    // The total is the prices as shown; the tax is the part 19 % makes up of goods and shipping.
    assert_eq!(minor(&totals["total"]), price + 490);
    let inside = ((price + 490) * 1_900 + 11_900 / 2) / 11_900;
    assert_eq!(minor(&totals["tax"]), inside);
}

#[actix_web::test]
async fn bad_setup_is_a_user_error_at_the_field() {
    let app = spawn_app().await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    zone(&app, &staff, "France", &[("FR", "")]).await;
    let cases = [
        (
            ZONE_CREATE,
            json!({ "input": { "name": "Bad", "regions": [{ "countryCode": "FRA" }] } }),
            "shippingZoneCreate",
            json!(["input", "regions", "0", "countryCode"]),
            "INVALID",
        ),
        (
            ZONE_CREATE,
            json!({ "input": { "name": "Again", "regions": [{ "countryCode": "fr" }] } }),
            "shippingZoneCreate",
            json!(["input", "regions", "0"]),
            "TAKEN",
        ),
        (
            ZONE_CREATE,
            json!({ "input": { "name": "", "regions": [{ "countryCode": "BE" }] } }),
            "shippingZoneCreate",
            json!(["input", "name"]),
            "TOO_SHORT",
        ),
        (
            TAX_CREATE,
            json!({ "input": { "name": "VAT", "countryCode": "FR", "ratePercent": "101" } }),
            "taxRateCreate",
            json!(["input", "ratePercent"]),
            "INVALID",
        ),
    ];
    for (query, variables, field, at, code) in cases {
        let response = app.data_as(&staff, query, variables.clone()).await;
        let error = &response[field]["userErrors"][0];
        assert_eq!(error["field"], at, "{variables}: {response}");
        assert_eq!(error["code"], code, "{variables}: {response}");
    }
    let shop = app
        .data("{ shop { shippingZones { id } } }", json!({}))
        .await;
    let france = shop["shop"]["shippingZones"][0]["id"].clone();
    let banded = app
        .data_as(
            &staff,
            METHOD_CREATE,
            json!({ "zone": france, "input": { "name": "B", "price": "1",
                    "minSubtotal": "10", "maxSubtotal": "5" } }),
        )
        .await;
    assert_eq!(
        banded["shippingMethodCreate"]["userErrors"][0]["field"],
        json!(["input", "maxSubtotal"])
    );
    // A bad address on the cart names its part.
    let (cart_id, _) = a_cart(&app, 1).await;
    let response = app
        .graphql(
            IDENTITY,
            json!({ "cart": cart_id, "identity": { "shippingAddress": address("France", "") } }),
        )
        .await;
    assert!(error_codes(&response).is_empty(), "{response}");
    assert_eq!(
        response["data"]["cartBuyerIdentityUpdate"]["userErrors"][0]["field"],
        json!(["buyerIdentity", "shippingAddress", "countryCode"])
    );
}

#[actix_web::test]
async fn cart_and_shop_reads_take_constant_statements() {
    let app = spawn_app().await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let (cart_id, _) = a_cart(&app, 1).await;
    ship_to(&app, &cart_id, "US", "NY").await;
    let mut counts = Vec::new();
    for round in 0..2 {
        let countries = if round == 0 {
            ["US", "", ""]
        } else {
            ["GB", "DE", "IT"]
        };
        for (index, country) in countries.into_iter().filter(|c| !c.is_empty()).enumerate() {
            let zone = zone(&app, &staff, &format!("Z{round}{index}"), &[(country, "")]).await;
            for name in ["A", "B", "C"] {
                method(
                    &app,
                    &staff,
                    &zone,
                    json!({ "name": name, "price": "2.00" }),
                )
                .await;
            }
            tax_rate(
                &app,
                &staff,
                json!({ "name": "T", "countryCode": country, "ratePercent": "5" }),
            )
            .await;
        }
        let cart_read = app.graphql(CART, json!({ "id": cart_id })).await;
        let shop_read = app
            .graphql(
                "{ shop { shippingZones { name regions { countryCode } methods { name price { amount } } }
                          taxRates { name } } }",
                json!({}),
            )
            .await;
        counts.push((statements(&cart_read), statements(&shop_read)));
    }
    assert_eq!(counts[0], counts[1], "{counts:?}");
}
