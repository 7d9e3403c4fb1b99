//! Product options: the pickers a product page builds (`Product.options`), the variant a
//! selection names (`variantBySelectedOptions`), staff changing a variant's options, and one
//! variant per combination of options among the variants on sale.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};

const CREATE_PRODUCT: &str =
    "mutation { productCreate(input: { name: \"Field Jacket\", status: ACTIVE }) {
    product { id } userErrors { code } } }";

const CREATE_VARIANT: &str = "mutation($product: ID!, $input: VariantFields!) {
    variantCreate(productId: $product, input: $input) { variant { id sku } userErrors { field code message } } }";

const UPDATE_VARIANT: &str = "mutation($id: ID!, $input: VariantFields!) {
    variantUpdate(id: $id, input: $input) { variant { sku selectedOptions { name value } } userErrors { field code message } } }";

const PRODUCT_PAGE: &str = "query($id: ID!, $selection: [VariantOptionInput!]!) { node(id: $id) { ... on Product {
    options { name values }
    variantBySelectedOptions(selectedOptions: $selection) { sku selectedOptions { name value } } } } }";

struct Shop {
    app: TestApp,
    staff: String,
    product: Value,
}

impl Shop {
    async fn open() -> Self {
        let app = spawn_app().await;
        let staff = app
            .account_with_role("staff@example.com", "STAFF")
            .await
            .token;
        let created = app.data_as(&staff, CREATE_PRODUCT, json!({})).await;
        let product = created["productCreate"]["product"]["id"].clone();
        Self {
            app,
            staff,
            product,
        }
    }

    /// Creates a variant with these options; its payload.
    async fn variant(&self, sku: &str, options: &[(&str, &str)]) -> Value {
        let options: Vec<Value> = options
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        let input =
            json!({ "sku": sku, "title": sku, "price": "80.00", "stock": 5, "options": options });
        self.app
            .data_as(
                &self.staff,
                CREATE_VARIANT,
                json!({ "product": self.product, "input": input }),
            )
            .await["variantCreate"]
            .clone()
    }

    async fn page(&self, selection: Value) -> Value {
        self.app
            .data(
                PRODUCT_PAGE,
                json!({ "id": self.product, "selection": selection }),
            )
            .await["node"]
            .clone()
    }

    async fn update(&self, id: &Value, input: Value) -> Value {
        self.app
            .data_as(
                &self.staff,
                UPDATE_VARIANT,
                json!({ "id": id, "input": input }),
            )
            .await["variantUpdate"]
            .clone()
    }
}

#[actix_web::test]
async fn a_product_page_builds_its_pickers_and_finds_the_variant_a_shopper_picked() {
    let shop = Shop::open().await;
    for (sku, size, colour) in [
        ("JKT-S-OLIVE", "S", "Olive"),
        ("JKT-M-OLIVE", "M", "Olive"),
        ("JKT-S-NAVY", "S", "Navy"),
        ("JKT-M-NAVY", "M", "Navy"),
    ] {
        let created = shop
            .variant(sku, &[("Size", size), ("Colour", colour)])
            .await;
        assert_eq!(created["userErrors"], json!([]), "{sku}");
    }
    // An archived variant is not on sale: its value is no choice.
    let archived = shop
        .variant("JKT-L-RUST", &[("Size", "L"), ("Colour", "Rust")])
        .await;
    shop.app
        .data_as(
            &shop.staff,
            "mutation($id: ID!) { variantArchive(id: $id, archived: true) { userErrors { code } } }",
            json!({ "id": archived["variant"]["id"] }),
        )
        .await;

    let page = shop
        .page(json!([{ "name": "colour", "value": "NAVY" }, { "name": "Size", "value": " M " }]))
        .await;
    assert_eq!(
        page["options"],
        json!([
            { "name": "Size", "values": ["S", "M"] },
            { "name": "Colour", "values": ["Olive", "Navy"] },
        ])
    );
    assert_eq!(page["variantBySelectedOptions"]["sku"], "JKT-M-NAVY");
    assert_eq!(
        page["variantBySelectedOptions"]["selectedOptions"],
        json!([{ "name": "Size", "value": "M" }, { "name": "Colour", "value": "Navy" }])
    );

    // A partial selection, an unknown value, and the archived combination name no variant.
    for selection in [
        json!([{ "name": "Size", "value": "M" }]),
        json!([{ "name": "Size", "value": "XL" }, { "name": "Colour", "value": "Navy" }]),
        json!([{ "name": "Size", "value": "L" }, { "name": "Colour", "value": "Rust" }]),
    ] {
        assert_eq!(
            shop.page(selection.clone()).await["variantBySelectedOptions"],
            Value::Null,
            "{selection}"
        );
    }

    // More options than a variant has is bad input, not a silent null.
    let four: Vec<Value> = (0..4)
        .map(|n| json!({ "name": format!("o{n}"), "value": "v" }))
        .collect();
    let refused = shop
        .app
        .graphql(
            PRODUCT_PAGE,
            json!({ "id": shop.product, "selection": four }),
        )
        .await;
    assert_eq!(error_codes(&refused), ["BAD_USER_INPUT"]);
}

#[actix_web::test]
async fn variants_on_sale_never_share_options_and_staff_change_them_after_creation() {
    let shop = Shop::open().await;
    let small = shop
        .variant("JKT-S", &[("Size", "S"), ("Colour", "Olive")])
        .await;
    let medium = shop
        .variant("JKT-M", &[("Size", "M"), ("Colour", "Olive")])
        .await;
    assert_eq!(medium["userErrors"], json!([]));

    // The same combination, in another order and case: refused, nothing written.
    let twin = shop
        .variant("JKT-TWIN", &[("colour", "olive"), ("size", "s")])
        .await;
    assert_eq!(twin["variant"], Value::Null);
    assert_eq!(twin["userErrors"][0]["field"], json!(["input", "options"]));
    assert_eq!(twin["userErrors"][0]["code"], "TAKEN");
    // A name twice in one variant, and a fourth option name on the product.
    let doubled = shop
        .variant("JKT-D", &[("Size", "L"), ("SIZE", "XL")])
        .await;
    assert_eq!(
        doubled["userErrors"][0]["field"],
        json!(["input", "options", "1", "name"])
    );
    let fit = shop
        .variant("JKT-FIT", &[("Size", "L"), ("Fit", "Slim")])
        .await;
    assert_eq!(
        fit["userErrors"],
        json!([]),
        "a third option name is allowed"
    );
    let fourth = shop.variant("JKT-SLEEVE", &[("Sleeve", "Long")]).await;
    assert_eq!(fourth["userErrors"][0]["code"], "LIMIT_REACHED");

    // Staff move the medium to navy: the pickers follow.
    let moved = shop
        .update(
            &medium["variant"]["id"],
            json!({ "options": [{ "name": "Size", "value": "M" }, { "name": "Colour", "value": "Navy" }] }),
        )
        .await;
    assert_eq!(moved["userErrors"], json!([]));
    assert_eq!(
        moved["variant"]["selectedOptions"],
        json!([{ "name": "Size", "value": "M" }, { "name": "Colour", "value": "Navy" }])
    );
    let page = shop
        .page(json!([{ "name": "Size", "value": "M" }, { "name": "Colour", "value": "Navy" }]))
        .await;
    assert_eq!(page["variantBySelectedOptions"]["sku"], "JKT-M");
    assert_eq!(
        page["options"],
        json!([
            { "name": "Size", "values": ["S", "M", "L"] },
            { "name": "Colour", "values": ["Olive", "Navy"] },
            { "name": "Fit", "values": ["Slim"] },
        ])
    );

    // Onto the small one's options: refused, the medium keeps its own.
    let clash = shop
        .update(
            &medium["variant"]["id"],
            json!({ "options": [{ "name": "Size", "value": "S" }, { "name": "Colour", "value": "Olive" }] }),
        )
        .await;
    assert_eq!(clash["userErrors"][0]["code"], "TAKEN");
    let page = shop
        .page(json!([{ "name": "Size", "value": "M" }, { "name": "Colour", "value": "Navy" }]))
        .await;
    assert_eq!(page["variantBySelectedOptions"]["sku"], "JKT-M");

    // An archived variant frees its combination; restoring it while another holds it is refused.
    let archive =
        "mutation($id: ID!, $archived: Boolean!) { variantArchive(id: $id, archived: $archived) {
        variant { archivedAt } userErrors { field code } } }";
    shop.app
        .data_as(
            &shop.staff,
            archive,
            json!({ "id": small["variant"]["id"], "archived": true }),
        )
        .await;
    let heir = shop
        .variant("JKT-S2", &[("Size", "S"), ("Colour", "Olive")])
        .await;
    assert_eq!(heir["userErrors"], json!([]));
    let restored = shop
        .app
        .data_as(
            &shop.staff,
            archive,
            json!({ "id": small["variant"]["id"], "archived": false }),
        )
        .await;
    assert_eq!(restored["variantArchive"]["userErrors"][0]["code"], "TAKEN");
    assert_eq!(
        shop.page(
            json!([{ "name": "Size", "value": "S" }, { "name": "Colour", "value": "Olive" }])
        )
        .await["variantBySelectedOptions"]["sku"],
        "JKT-S2"
    );
}

#[actix_web::test]
async fn a_grid_with_options_and_selections_runs_the_same_statements_for_5_or_20_products() {
    let app = spawn_app().await;
    let grid = |first: usize| {
        format!(
            "{{ products(first: {first}) {{ edges {{ node {{ name options {{ name values }}
                variantBySelectedOptions(selectedOptions: []) {{ sku }}
                variants(first: 3) {{ sku selectedOptions {{ name value }} }} }} }} }} }}"
        )
    };
    let small = app.graphql(&grid(5), json!({})).await;
    let large = app.graphql(&grid(20), json!({})).await;
    assert_eq!(small["errors"], Value::Null, "{small}");
    assert_eq!(large["errors"], Value::Null, "{large}");
    let edges = large["data"]["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 20);
    assert!(
        edges
            .iter()
            .all(|edge| !edge["node"]["options"].as_array().unwrap().is_empty()),
        "every demo product has options"
    );
    assert_eq!(statements(&small), statements(&large));
    assert!(statements(&large) <= 3, "{}", statements(&large));
}
