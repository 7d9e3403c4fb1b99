//! Personal data sealed at rest: addresses and phone numbers read back in clear through the API
//! but appear nowhere in clear in a dump of the database, its files or an export; `bazaar
//! rotate-key` seals clear values and re-seals old ones under a new key; a server without the
//! key its data needs, or in production without keys, refuses to start.

use std::process::{Command, Output};

use bazaar::db::schema::{addresses, orders};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::commerce::{a_variant, cart_with, set_stock};
use crate::helpers::{TestApp, error_codes, fresh_database, spawn_app};

/// Values no demo data holds, so that finding one in a dump means it leaked.
const LINE1: &str = "77 Quillfeather Lane";
const PHONE: &str = "+44 7700 900461";
const POSTAL_CODE: &str = "QF7 7ZQ";
const GUEST_LINE1: &str = "5 Marrowgate Mews";
const GUEST_PHONE: &str = "+44 7700 900873";

fn customer_address() -> Value {
    json!({ "firstName": "Philippa", "lastName": "Quarrington", "line1": LINE1,
            "line2": "Flat 3", "city": "Wyvernmoor", "postalCode": POSTAL_CODE,
            "countryCode": "GB", "phone": PHONE })
}

fn guest_address() -> Value {
    json!({ "firstName": "Ottoline", "lastName": "Brackenbury", "line1": GUEST_LINE1,
            "city": "Wyvernmoor", "postalCode": "QF7 9ZX", "countryCode": "GB",
            "phone": GUEST_PHONE })
}

/// A customer with an address in their book, and a guest order shipped to another; both read
/// back through the API.
async fn personal_data_through_the_api(app: &TestApp) {
    let customer = app.register("philippa@example.com").await;
    let added = app
        .data_as(
            &customer.token,
            "mutation($input: AddressInput!) { addressAdd(input: $input) {
                address { id } userErrors { code } } }",
            json!({ "input": customer_address() }),
        )
        .await;
    assert_eq!(added["addressAdd"]["userErrors"], json!([]), "{added}");
    let book = app
        .data_as(
            &customer.token,
            "{ me { addresses { firstName lastName line1 line2 postalCode phone } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        book["me"]["addresses"][0],
        json!({ "firstName": "Philippa", "lastName": "Quarrington", "line1": LINE1,
                "line2": "Flat 3", "postalCode": POSTAL_CODE, "phone": PHONE })
    );

    let (variant, _) = a_variant(&app.api, 0).await;
    set_stock(app, &variant, 5).await;
    let cart = cart_with(&app.api, None, &variant, 1).await;
    let placed = app
        .data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { shippingAddress { line1 phone } } userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "ottoline@example.com",
                    "shippingAddress": guest_address(), "idempotencyKey": "sealed-1" } }),
        )
        .await;
    let address = &placed["checkoutComplete"]["order"]["shippingAddress"];
    assert_eq!(address["line1"], GUEST_LINE1, "{placed}");
    assert_eq!(address["phone"], GUEST_PHONE, "{placed}");
}

/// Every clear value the test put in, found in `bytes`.
fn clear_values_in(bytes: &[u8]) -> Vec<&'static str> {
    [
        LINE1,
        PHONE,
        POSTAL_CODE,
        GUEST_LINE1,
        GUEST_PHONE,
        "Quarrington",
        "Marrowgate",
    ]
    .into_iter()
    .filter(|value| {
        bytes
            .windows(value.len())
            .any(|window| window == value.as_bytes())
    })
    .collect()
}

fn bazaar(url: &str, keys: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bazaar"));
    command
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("BAZAAR_SEALING_KEYS");
    if let Some(keys) = keys {
        command.env("BAZAAR_SEALING_KEYS", keys);
    }
    command.output().expect("run bazaar")
}

fn stdout_of(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of_failure(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Every file under `dir`, read whole, one after another.
fn bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the dir") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            bytes.extend(bytes_under(&path));
        } else {
            bytes.extend(std::fs::read(&path).expect("read a file"));
        }
    }
    bytes
}

#[actix_web::test]
async fn a_dump_of_the_database_holds_no_address_or_phone_number_in_clear() {
    let app = spawn_app().await;
    personal_data_through_the_api(&app).await;

    // Bazaar's own archive (`export`, what `backup` writes on PostgreSQL).
    let archive = tempfile::tempdir().expect("temp dir");
    let to = archive.path().join("shop");
    stdout_of(bazaar(
        &app.database_url,
        None,
        &["export", "--to", to.to_str().expect("UTF-8")],
    ));
    assert_eq!(clear_values_in(&bytes_under(&to)), Vec::<&str>::new());

    // The database itself: PostgreSQL's own dump, or SQLite's files (WAL included).
    let raw = match app.database_url.strip_prefix("sqlite://") {
        Some(file) => {
            let mut bytes = std::fs::read(file).expect("read the database file");
            bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
            bytes
        }
        None => {
            let dump = Command::new("pg_dump")
                .arg(format!("--dbname={}", app.database_url))
                .output()
                .expect("run pg_dump");
            assert!(dump.status.success(), "{dump:?}");
            dump.stdout
        }
    };
    assert!(
        String::from_utf8_lossy(&raw).contains("sealed:v1:test:"),
        "the dump holds the sealed values"
    );
    assert_eq!(clear_values_in(&raw), Vec::<&str>::new());
}

#[actix_web::test]
async fn rotate_key_seals_clear_values_then_re_seals_them_under_a_new_key() {
    const OLD: &str = "old:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "new-1:HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
    let (url, _dir) = fresh_database();
    // The demo shop written without keys: 50 customers with an address, 500 orders, in clear.
    stdout_of(bazaar(&url, None, &["seed"]));
    let db = crate::archive::connect(&url);
    let stored = || {
        db.run_blocking(|conn| {
            let phones: Vec<String> = addresses::table
                .order_by(addresses::id)
                .select(addresses::phone)
                .load(conn)?;
            let shipping: Vec<String> = orders::table
                .order_by(orders::id)
                .select(orders::shipping_address)
                .load(conn)?;
            Ok((phones, shipping))
        })
        .expect("read the stored values")
    };
    let (phones, shipping) = stored();
    assert_eq!((phones.len(), shipping.len()), (50, 500));
    assert!(shipping.iter().all(|s| s.starts_with('{')), "clear JSON");

    let first = stdout_of(bazaar(&url, Some(OLD), &["rotate-key"]));
    assert!(
        first.starts_with("re-sealed 50 address(es), 500 order address(es),")
            && first.contains("under key \"old\""),
        "{first}"
    );
    let (phones, shipping) = stored();
    assert!(phones.iter().all(|p| p.starts_with("sealed:v1:old:")));
    assert!(shipping.iter().all(|s| s.starts_with("sealed:v1:old:")));

    // A new key first, the old one kept to open what it sealed.
    let keys = format!("{NEW},{OLD}");
    let second = stdout_of(bazaar(&url, Some(&keys), &["rotate-key"]));
    assert!(
        second.starts_with("re-sealed 50 address(es), 500 order address(es),"),
        "{second}"
    );
    let (phones, shipping) = stored();
    assert!(phones.iter().all(|p| p.starts_with("sealed:v1:new-1:")));
    assert!(shipping.iter().all(|s| s.starts_with("sealed:v1:new-1:")));
    let again = stdout_of(bazaar(&url, Some(NEW), &["rotate-key"]));
    assert!(
        again.starts_with(
            "re-sealed 0 address(es), 0 order address(es), 0 cart address(es), 0 event(s) and 0 webhook"
        ),
        "{again}"
    );

    // Only the old key: the data needs the new one, and the server says so before serving.
    let refused = stderr_of_failure(bazaar(
        &url,
        Some(OLD),
        &[
            "serve",
            "--environment",
            "development",
            "--listen",
            "127.0.0.1:0",
        ],
    ));
    assert!(refused.contains("key \"new-1\""), "{refused}");
    // Production without keys at all.
    let refused = stderr_of_failure(bazaar(
        &url,
        None,
        &[
            "serve",
            "--environment",
            "production",
            "--allow-test-payments",
            "--listen",
            "127.0.0.1:0",
        ],
    ));
    assert!(refused.contains("BAZAAR_SEALING_KEYS"), "{refused}");
    // A malformed key is refused without being echoed.
    let refused = stderr_of_failure(bazaar(&url, Some("k:c2VjcmV0"), &["rotate-key"]));
    assert!(refused.contains("it must be 32"), "{refused}");
    assert!(!refused.contains("c2VjcmV0"), "{refused}");
}

/// An order's addresses stay sealed until a field shows them: a page of orders whose one stored
/// address no longer opens (damaged, or sealed under a key the server lacks) still answers, and
/// only the field that shows that address fails, with a code and without the reason.
#[actix_web::test]
async fn an_address_that_does_not_open_fails_only_the_field_that_shows_it() {
    let app = spawn_app().await;
    let staff = app.account_with_role("keeper@example.com", "STAFF").await;
    let (variant, _) = a_variant(&app.api, 0).await;
    set_stock(&app, &variant, 5).await;
    let cart = cart_with(&app.api, None, &variant, 1).await;
    let placed = app
        .data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { id number } userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "ottoline@example.com",
                    "shippingAddress": guest_address(), "idempotencyKey": "damaged-1" } }),
        )
        .await;
    let order = &placed["checkoutComplete"]["order"];
    let number = order["number"].clone();
    app.db
        .run(|conn| {
            let newest: Option<i64> = orders::table
                .select(diesel::dsl::max(orders::id))
                .first(conn)?;
            diesel::update(orders::table.filter(orders::id.eq(newest.expect("an order"))))
                .set(orders::shipping_address.eq("sealed:v1:test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .expect("damage the stored address");

    let page = app
        .data_as(
            &staff.token,
            "{ orders(first: 3) { edges { node { number totals { total { minorUnits } } } } } }",
            json!({}),
        )
        .await;
    let numbers: Vec<&Value> = page["orders"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| &edge["node"]["number"])
        .collect();
    assert!(numbers.contains(&&number), "{page}");

    let shown = app
        .graphql_as(
            Some(&staff.token),
            "query($id: ID!) { node(id: $id) { ... on Order { number shippingAddress { line1 } } } }",
            json!({ "id": order["id"] }),
        )
        .await;
    assert_eq!(error_codes(&shown), ["INTERNAL_SERVER_ERROR"], "{shown}");
    assert!(
        !shown.to_string().contains("key"),
        "no reason given: {shown}"
    );
}
