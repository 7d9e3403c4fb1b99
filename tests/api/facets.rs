//! Facets of a product search: counts per category (with descendants), option value and price
//! band that agree with the products the same filter lists without the facet's own condition
//! (disjunctive), for the caller's visibility, in the same statements whatever the filter
//! matches; filters by option values; bad boundaries and option filters are refused.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};

const FACETS: &str = "query($where: ProductWhere, $bands: [Decimal!]) {
    productFacets(where: $where, priceBands: $bands) {
        total
        categories { category { slug } count }
        options { name values { value count } }
        priceBands { min { minorUnits } max { minorUnits } count } } }";

const LIST: &str = "query($where: ProductWhere) { products(first: 100, where: $where) {
    edges { node { category { slug parent { slug } } options { name values }
                   priceRange { minVariantPrice { minorUnits } } } }
    pageInfo { hasNextPage } } }";

/// The products the filter lists, counted by hand: `(total, categories, options, bands)`.
async fn tally(
    app: &TestApp,
    token: Option<&str>,
    filter: &Value,
    bands: &[i64],
) -> (
    usize,
    Vec<(String, i64)>,
    BTreeMap<String, BTreeMap<String, i64>>,
    Vec<i64>,
) {
    let listed = app
        .graphql_as(token, LIST, json!({ "where": filter }))
        .await;
    let products = &listed["data"]["products"];
    assert_eq!(
        products["pageInfo"]["hasNextPage"], false,
        "one page holds them: {listed}"
    );
    let edges = products["edges"].as_array().unwrap();
    let mut categories: BTreeMap<String, i64> = BTreeMap::new();
    let mut options: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut counts = vec![0; bands.len() + 1];
    for edge in edges {
        let node = &edge["node"];
        for slug in [
            &node["category"]["slug"],
            &node["category"]["parent"]["slug"],
        ] {
            if let Some(slug) = slug.as_str() {
                *categories.entry(slug.to_owned()).or_default() += 1;
            }
        }
        for option in node["options"].as_array().unwrap() {
            for value in option["values"].as_array().unwrap() {
                *options
                    .entry(option["name"].as_str().unwrap().to_owned())
                    .or_default()
                    .entry(value.as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        let price = node["priceRange"]["minVariantPrice"]["minorUnits"]
            .as_i64()
            .unwrap();
        counts[bands.partition_point(|b| *b <= price)] += 1;
    }
    let mut categories: Vec<(String, i64)> = categories.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (edges.len(), categories, options, counts)
}

/// `filter` without the conditions `keys` name.
fn without(filter: &Value, keys: &[&str]) -> Value {
    let mut filter = filter.clone();
    for key in keys {
        filter.as_object_mut().unwrap().remove(*key);
    }
    filter
}

/// The facets counted by hand from the products the same filter lists, each facet from the
/// list without its own condition (disjunctive): categories without the category, price bands
/// without the price range, each option's values without the conditions on that option.
async fn expected(app: &TestApp, token: Option<&str>, filter: &Value, bands: &[i64]) -> Value {
    let (total, ..) = tally(app, token, filter, bands).await;
    let (_, categories, ..) = tally(
        app,
        token,
        &without(filter, &["categorySlug", "categoryId"]),
        bands,
    )
    .await;
    let (.., counts) = tally(app, token, &without(filter, &["price"]), bands).await;
    let (_, _, unpicked, _) = tally(app, token, &without(filter, &["options"]), bands).await;
    let mut options = BTreeMap::new();
    for name in unpicked.keys() {
        let mut others = filter.clone();
        if let Some(picked) = others.get_mut("options") {
            picked
                .as_array_mut()
                .unwrap()
                .retain(|condition| condition["name"] != name.as_str());
        }
        let (_, _, mut counted, _) = tally(app, token, &others, bands).await;
        if let Some(values) = counted.remove(name) {
            options.insert(name.clone(), values);
        }
    }
    let bounds: Vec<Value> = std::iter::once(json!({ "minorUnits": 0 }))
        .chain(bands.iter().map(|b| json!({ "minorUnits": b })))
        .collect();
    let ends: Vec<Value> = bands
        .iter()
        .map(|b| json!({ "minorUnits": b }))
        .chain([Value::Null])
        .collect();
    json!({
        "total": total,
        "categories": categories,
        "options": options,
        "priceBands": bounds.into_iter().zip(ends).zip(counts)
            .map(|((min, max), count)| json!({ "min": min, "max": max, "count": count }))
            .collect::<Vec<_>>(),
    })
}

/// The facets as the server answers them, in the shape of [`expected`] (categories by count
/// then slug, options by name) and the statements they took.
async fn answered(
    app: &TestApp,
    token: Option<&str>,
    filter: &Value,
    bands: &[i64],
) -> (Value, u64) {
    let amounts: Vec<String> = bands
        .iter()
        .map(|b| format!("{}.{:02}", b / 100, b % 100))
        .collect();
    let response = app
        .graphql_as(token, FACETS, json!({ "where": filter, "bands": amounts }))
        .await;
    assert!(response["errors"].is_null(), "{response}");
    let facets = &response["data"]["productFacets"];
    let mut categories: Vec<(String, i64)> = facets["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"]["slug"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let options: BTreeMap<String, BTreeMap<String, i64>> = facets["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let values = o["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["value"].as_str().unwrap().to_owned(),
                        v["count"].as_i64().unwrap(),
                    )
                })
                .collect();
            (o["name"].as_str().unwrap().to_owned(), values)
        })
        .collect();
    (
        json!({ "total": facets["total"], "categories": categories, "options": options,
                "priceBands": facets["priceBands"] }),
        statements(&response),
    )
}

#[actix_web::test]
async fn facets_count_what_the_same_filter_lists() {
    let app = spawn_app().await;
    let staff = app
        .account_with_role("staff@example.com", "STAFF")
        .await
        .token;
    let roots = app.data("{ categories { slug } }", json!({})).await;
    let root = roots["categories"][0]["slug"].clone();
    // Two products with two options each, beside the demo's one-option products.
    for (name, sku, size, color) in [
        ("Two-Way Tee", "tw-1", "M", "Navy"),
        ("Two-Way Top", "tw-2", "L", "Navy"),
    ] {
        let upserted = app
            .data_as(
                &staff,
                "mutation($name: String!, $sku: String!, $size: String!, $color: String!) {
                   productUpsert(externalRef: $sku, input: { name: $name, status: ACTIVE,
                     variants: [{ sku: $sku, title: $size, price: \"30.00\", stock: 5,
                                  options: [{ name: \"Size\", value: $size },
                                            { name: \"Color\", value: $color }] }] }) {
                     userErrors { code message } } }",
                json!({ "name": name, "sku": sku, "size": size, "color": color }),
            )
            .await;
        assert_eq!(
            upserted["productUpsert"]["userErrors"],
            json!([]),
            "{upserted}"
        );
    }
    let bands = [2500, 5000, 10000];
    let medium = json!({ "name": "Size", "value": "M" });
    let navy = json!({ "name": "Color", "value": "Navy" });
    let black = json!({ "name": "Color", "value": "Black" });
    let filters = [
        json!({}),
        json!({ "categorySlug": root }),
        json!({ "inStock": true, "price": { "min": "20" } }),
        json!({ "search": "a" }),
        json!({ "options": [navy] }),
        json!({ "options": [navy, black] }),
        json!({ "options": [medium, navy], "price": { "max": "40" } }),
        json!({ "categorySlug": root, "options": [medium], "price": { "min": "20", "max": "60" } }),
    ];
    for filter in &filters {
        for token in [None, Some(staff.as_str())] {
            let want = expected(&app, token, filter, &bands).await;
            let (got, _) = answered(&app, token, filter, &bands).await;
            assert_eq!(got, want, "{filter} as {token:?}");
        }
    }
    // The filter narrows the counts; staff see drafts too.
    let (everything, _) = answered(&app, None, &json!({}), &bands).await;
    assert!(
        everything["options"].as_object().unwrap().len() >= 2
            && everything["categories"].as_array().unwrap().len() >= 12,
        "{everything}"
    );
    let (in_root, _) = answered(&app, None, &filters[1], &bands).await;
    assert!(in_root["total"].as_i64() < everything["total"].as_i64());
    let (for_staff, _) = answered(&app, Some(&staff), &json!({}), &bands).await;
    assert!(for_staff["total"].as_i64() > everything["total"].as_i64());
    // Picking navy narrows the total, and the colour facet still shows black beside it.
    let (navy_only, _) = answered(&app, None, &filters[4], &bands).await;
    assert_eq!(
        navy_only["total"], navy_only["options"]["Color"]["Navy"],
        "{navy_only}"
    );
    assert!(
        navy_only["options"]["Color"]["Black"].as_i64() > Some(0),
        "{navy_only}"
    );
    // Options of different names must all hold; values of one name are alternatives.
    let names = |filter: Value| {
        let app = &app;
        async move {
            let listed = app.data(LIST_NAMES, json!({ "where": filter })).await;
            listed["products"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|edge| edge["node"]["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(json!({ "options": [medium, navy] })).await,
        ["Two-Way Tee"]
    );
    let large = json!({ "name": "Size", "value": "L" });
    assert_eq!(
        names(json!({ "options": [navy, medium, large] })).await,
        ["Two-Way Tee", "Two-Way Top"]
    );
    assert_eq!(
        names(json!({ "options": [{ "name": "Size", "value": "m" }, navy] })).await,
        Vec::<String>::new(),
        "spelled exactly"
    );
}

const LIST_NAMES: &str = "query($where: ProductWhere) {
    products(first: 100, where: $where) { edges { node { name } } } }";

#[actix_web::test]
async fn facets_take_the_same_statements_for_one_product_as_for_all() {
    let app = spawn_app().await;
    // The category tree is read once and then kept: count the requests after that.
    answered(&app, None, &json!({}), &[2500]).await;
    let (all, everything) = answered(&app, None, &json!({}), &[2500, 5000]).await;
    let one_name = app
        .data(
            "{ products(first: 1) { edges { node { name } } } }",
            json!({}),
        )
        .await["products"]["edges"][0]["node"]["name"]
        .clone();
    let (one, narrow) = answered(&app, None, &json!({ "search": one_name }), &[2500, 5000]).await;
    assert!(all["total"].as_i64().unwrap() > 20, "{all}");
    assert!(one["total"].as_i64().unwrap() <= 2, "{one}");
    assert_eq!(everything, narrow);
    assert!(everything <= 4, "{everything} statements");
}

#[actix_web::test]
async fn bad_price_bands_are_refused() {
    let app = spawn_app().await;
    let eleven: Vec<String> = (1..=11).map(|n| n.to_string()).collect();
    for bands in [
        json!([]),
        json!(["0"]),
        json!(["50", "10"]),
        json!(["10", "10"]),
        json!(eleven),
        json!(["ten"]),
        json!(["-5"]),
    ] {
        let response = app
            .graphql(FACETS, json!({ "where": {}, "bands": bands }))
            .await;
        assert_eq!(
            error_codes(&response),
            ["BAD_USER_INPUT"],
            "{bands}: {response}"
        );
    }
    let eleven_values: Vec<Value> = (0..11)
        .map(|n| json!({ "name": "Size", "value": n.to_string() }))
        .collect();
    for options in [json!(eleven_values), json!([{ "name": " ", "value": "M" }])] {
        let response = app
            .graphql(FACETS, json!({ "where": { "options": options } }))
            .await;
        assert_eq!(error_codes(&response), ["BAD_USER_INPUT"], "{response}");
    }
    let upside_down = app
        .graphql(
            FACETS,
            json!({ "where": { "price": { "min": "50", "max": "10" } } }),
        )
        .await;
    assert_eq!(error_codes(&upside_down), ["BAD_USER_INPUT"]);
}
