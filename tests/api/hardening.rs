//! Attacks that must fail cheaply: a flood of password work cannot starve the database (it has
//! its own bounded capacity and answers `SERVICE_UNAVAILABLE` past it), wrong reset tokens cost
//! no bcrypt, and a burst of concurrent wrong sign-ins checks at most the allowed number of
//! passwords.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{error_codes, spawn_app, spawn_app_with};

#[actix_web::test]
async fn two_hundred_concurrent_wrong_sign_ins_check_at_most_the_free_attempts() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let started = std::time::Instant::now();
    let attempts = join_all((0..200).map(|_| app.login("ada@example.com", "wrong password"))).await;
    let elapsed = started.elapsed().as_secs_f64();
    let checked = attempts
        .iter()
        .filter(|r| r["data"]["login"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS")
        .count();
    let throttled = attempts
        .iter()
        .filter(|r| error_codes(r) == ["RATE_LIMITED"])
        .count();
    assert_eq!(checked + throttled, 200);
    // `--login-free-attempts` is 5: five passwords are compared at once, then one more after
    // 1 s, 2 s more, 4 s more … for as long as the burst lasts (on a slow machine, a second or
    // two); never one per request.
    let back_off_allows = (elapsed + 1.0).log2().floor() as usize;
    assert!(
        checked <= 5 + back_off_allows,
        "{checked} password checks in {elapsed:.1} s"
    );
    assert!(checked >= 1);
}

#[actix_web::test]
async fn a_flood_of_password_work_is_refused_past_its_capacity_and_the_shop_keeps_serving() {
    // One password worker at a cost that takes a good fraction of a second each: 40 sign-ups at
    // once cannot all get a turn within the 2 s wait.
    let app = spawn_app_with(1, &["--bcrypt-cost", "13", "--password-workers", "1"]).await;
    let register = "mutation($email: String!) { accountRegister(input: { email: $email, password: \"correct horse battery\" }) { accepted userErrors { code } } }";
    let sign_ups = join_all((0..40).map(|i| {
        let app = &app;
        async move {
            app.graphql(
                register,
                json!({ "email": format!("flood{i}@example.com") }),
            )
            .await
        }
    }));
    let browsing = join_all((0..20).map(|_| {
        app.graphql(
            "{ products(first: 5) { edges { node { name } } } }",
            json!({}),
        )
    }));
    let (sign_ups, browsing) = futures_util::join!(sign_ups, browsing);
    for page in &browsing {
        assert!(
            page.get("errors").is_none(),
            "the shop kept serving: {page}"
        );
    }
    let refused = sign_ups
        .iter()
        .filter(|r| error_codes(r) == ["SERVICE_UNAVAILABLE"])
        .count();
    let accepted = sign_ups
        .iter()
        .filter(|r| r["data"]["accountRegister"]["accepted"] == true)
        .count();
    assert_eq!(refused + accepted, 40, "{sign_ups:?}");
    assert!(refused >= 1, "a full queue answers SERVICE_UNAVAILABLE");
}

#[actix_web::test]
async fn wrong_reset_tokens_cost_no_password_work() {
    let app = spawn_app_with(1, &["--bcrypt-cost", "13", "--password-workers", "1"]).await;
    let reset = "mutation($t: String!) { passwordReset(token: $t, newPassword: \"a new password\") { passwordChanged userErrors { code } } }";
    let answers = join_all((0..100).map(|i| {
        let app = &app;
        async move {
            app.graphql(reset, json!({ "t": format!("bzr_guess{i}") }))
                .await
        }
    }))
    .await;
    for answer in &answers {
        assert_eq!(
            answer["data"]["passwordReset"]["userErrors"][0]["code"], "INVALID_TOKEN",
            "never queued for bcrypt: {answer}"
        );
    }
}

#[actix_web::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = spawn_app().await;
    let mut survivor = app.account_with_role("admin0@example.com", "ADMIN").await;
    let demote = "mutation($id: ID!) { accountRoleSet(accountId: $id, role: CUSTOMER) {
        account { role } userErrors { code } } }";
    for round in 1..=8 {
        let other = app
            .account_with_role(&format!("admin{round}@example.com"), "ADMIN")
            .await;
        let (first, second) = futures_util::join!(
            app.graphql_as(Some(&survivor.token), demote, json!({ "id": other.id })),
            app.graphql_as(Some(&other.token), demote, json!({ "id": survivor.id })),
        );
        let left: Vec<i64> = app
            .db
            .run(|conn| {
                use bazaar::db::schema::users;
                use diesel::prelude::*;
                Ok(users::table
                    .filter(users::role.eq("ADMIN"))
                    .select(users::id)
                    .load(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "round {round}: {first} {second}");
        // One demotion happened; the other was refused as the last admin's, or, when it was
        // sent after the first took effect, as a request no longer made by an admin.
        let demoted = [&first, &second]
            .iter()
            .filter(|r| r["data"]["accountRoleSet"]["account"]["role"] == "CUSTOMER")
            .count();
        assert_eq!(demoted, 1, "round {round}: {first} {second}");
        for answer in [&first, &second] {
            let refused_as_last =
                answer["data"]["accountRoleSet"]["userErrors"][0]["code"] == "LAST_ADMIN";
            let no_longer_admin = error_codes(answer) == ["FORBIDDEN"];
            let done = answer["data"]["accountRoleSet"]["account"]["role"] == "CUSTOMER";
            assert!(done || refused_as_last || no_longer_admin, "{answer}");
        }
        if other.id.ends_with(&format!("/{}", left[0])) {
            survivor = other;
        }
    }
}

#[actix_web::test]
async fn responses_keep_the_order_of_the_selection() {
    let app = spawn_app().await;
    let query = "{ products(first: 2) { edges { node { variants { sku id } name } } }
                   categories { slug name } shopName: __typename }";
    for _ in 0..30 {
        let response = app
            .client()
            .post(format!("{}/graphql", app.address))
            .insert_header(("Content-Type", "application/json"))
            .send_json(&json!({ "query": query }))
            .await
            .expect("send")
            .body()
            .await
            .expect("a body");
        let text = String::from_utf8_lossy(&response).into_owned();
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        assert!(at("\"products\"") < at("\"categories\""), "{text}");
        assert!(at("\"categories\"") < at("\"shopName\""), "{text}");
        assert!(at("\"variants\"") < at("\"name\""), "{text}");
        assert!(at("\"sku\"") < at("\"id\""), "{text}");
    }
}

#[actix_web::test]
async fn get_requests_are_logged_without_their_query_string_and_are_not_shared_between_callers() {
    let app = spawn_app_with(1, &["--stripe-webhook-secret", "whsec_test"]).await;
    let ada = app.register("ada@example.com").await;
    // A request whose handler logs (a refused webhook): its span must not carry the query.
    let refused = app
        .client()
        .post(format!(
            "{}/webhooks/stripe?note=NOT_FOR_THE_LOGS",
            app.address
        ))
        .insert_header(("Stripe-Signature", "t=1,v1=00"))
        .send_body("{}")
        .await
        .expect("POST");
    assert_eq!(refused.status().as_u16(), 400);
    let query = "{ orderByToken(token: \"bzo_NOT_FOR_THE_LOGS\") { id } me { email } }";
    let url = format!(
        "{}/graphql?query={}",
        app.address,
        serde_urlencoded::to_string([("q", query)])
            .unwrap()
            .trim_start_matches("q=")
    );
    for token in [None, Some(ada.token.as_str()), Some("bzs_not_a_session")] {
        let mut request = app.client().get(&url);
        if let Some(token) = token {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let response = request.send().await.expect("GET");
        let headers = response.headers();
        let vary = headers
            .get("vary")
            .map(|v| v.to_str().unwrap().to_ascii_lowercase());
        assert!(
            vary.as_deref().is_some_and(|v| v.contains("authorization")),
            "{vary:?}"
        );
        if token.is_some() {
            let cache = headers
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(cache.as_deref(), Some("private, no-store"));
        }
    }
    let logs = crate::helpers::captured_logs();
    assert!(
        !logs.contains("NOT_FOR_THE_LOGS"),
        "the query string reached the log"
    );
}

/// What `hostile_inputs.rs` (hostile values for every argument, generated from the schema) does
/// not check: values under the limit of every string but over a field's own limit get
/// `BAD_USER_INPUT` too, and no refusal is a large answer.
#[actix_web::test]
async fn hostile_strings_and_numbers_get_clear_errors_never_internal_ones() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "query($s: String!) { products(first: 1, where: { search: $s }) { edges { cursor } } }",
            json!({ "s": "x".repeat(60_000) }),
        ),
        (
            "query($s: String!) { products(first: 1, where: { search: $s }) { edges { cursor } } }",
            json!({ "s": "x".repeat(200_000) }),
        ),
        ("{ reviewsToModerate(first: -1) { id } }", json!({})),
        ("{ reviewsToModerate(first: 100000) { id } }", json!({})),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "z".repeat(60_000) }),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "z".repeat(200_000) }),
        ),
    ];
    for (query, variables) in cases {
        let response = app.graphql_as(Some(&staff.token), query, variables).await;
        let codes = error_codes(&response);
        assert!(!codes.is_empty(), "{query}: {response}");
        assert!(
            codes.iter().all(|code| code == "BAD_USER_INPUT"),
            "{query}: {codes:?}"
        );
        assert!(
            response.to_string().len() < 4_000,
            "the input is not echoed back: {} bytes",
            response.to_string().len()
        );
    }
}

#[test]
fn instances_migrating_at_once_take_turns() {
    let (url, _dir) = crate::helpers::fresh_database();
    let config = bazaar::config::DatabaseConfig {
        database_url: url,
        pool_size: Some(4),
        pool_timeout_secs: 5,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    };
    let db = bazaar::db::Db::connect(&config).expect("connect");
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || db.run_blocking(bazaar::db::migrations::run_pending))
        })
        .collect();
    let applied: Vec<usize> = runs
        .into_iter()
        .map(|run| {
            run.join()
                .expect("a thread")
                .expect("migrations apply")
                .len()
        })
        .collect();
    let left = db.run_blocking(bazaar::db::migrations::pending).unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
}

/// Runs `bazaar` with `args` over `url` until it exits; its exit status and standard error.
fn bazaar(url: &str, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("BAZAAR_ENV")
        .env_remove("BAZAAR_MIGRATE")
        .env_remove("BAZAAR_SEED_DEMO")
        .output()
        .expect("run bazaar");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_postgres_database_means_production_and_no_demo_data_unless_asked() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return; // PostgreSQL only: the SQLite run has nothing to show here.
    }
    let (url, _) = crate::helpers::fresh_database();
    // Production by default: it takes no test payments and applies no migrations by itself.
    let (started, stderr) = bazaar(&url, &["serve", "--listen", "127.0.0.1:0"]);
    assert!(
        !started && stderr.contains("production needs a real payment provider"),
        "{stderr}"
    );
    let (started, stderr) = bazaar(
        &url,
        &["serve", "--listen", "127.0.0.1:0", "--allow-test-payments"],
    );
    assert!(
        !started && stderr.contains("run `bazaar migrate` first"),
        "{stderr}"
    );
    let (migrated, stderr) = bazaar(&url, &["migrate"]);
    assert!(migrated, "{stderr}");

    // Even in development, PostgreSQL gets no demo shop unless asked.
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--environment",
            "development",
        ])
        .env("DATABASE_URL", &url)
        .env_remove("BAZAAR_SEED_DEMO")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bazaar");
    let stdout = server.stdout.take().expect("stdout");
    let listening = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|line| line.starts_with("GraphQL endpoint"));
    let _ = server.kill();
    let _ = server.wait();
    assert!(listening, "the server started");
    let config = bazaar::config::DatabaseConfig {
        database_url: url,
        pool_size: Some(1),
        pool_timeout_secs: 5,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: None,
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    };
    let db = bazaar::db::Db::connect(&config).expect("connect");
    let products: i64 = db
        .run_blocking(|conn| {
            use diesel::prelude::*;
            Ok(bazaar::db::schema::products::table
                .count()
                .get_result(conn)?)
        })
        .unwrap();
    assert_eq!(products, 0, "no demo data was seeded");
}

#[actix_web::test]
async fn the_largest_prices_and_quantities_add_up_without_overflow() {
    let app = spawn_app_with(
        1,
        &["--tax-rate-percent", "25", "--free-shipping-from", "none"],
    )
    .await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let product = app
        .data_as(
            &staff.token,
            "mutation { productCreate(input: { name: \"Island\" }) { product { id } userErrors { code } } }",
            json!({}),
        )
        .await["productCreate"]["product"]["id"]
        .clone();
    let create = "mutation($p: ID!, $price: Decimal!, $sku: String!) { variantCreate(productId: $p, input: { sku: $sku, title: \"Whole\", price: $price, stock: 1000 }) { variant { id } userErrors { field code } } }";
    let too_dear = app
        .graphql_as(
            Some(&staff.token),
            create,
            json!({ "p": product, "price": "10000000000.01", "sku": "ISLAND-2" }),
        )
        .await;
    assert_eq!(error_codes(&too_dear), ["BAD_USER_INPUT"], "{too_dear}");
    let variant = app
        .data_as(
            &staff.token,
            create,
            json!({ "p": product, "price": "10000000000.00", "sku": "ISLAND-1" }),
        )
        .await["variantCreate"]["variant"]["id"]
        .clone();
    app.data_as(
        &staff.token,
        "mutation($id: ID!) { productUpdate(id: $id, input: { status: ACTIVE }) { userErrors { code } } }",
        json!({ "id": product }),
    )
    .await;
    let cart = app
        .data("mutation { cartCreate { cart { id } } }", json!({}))
        .await["cartCreate"]["cart"]["id"]
        .clone();
    let added = app
        .data(
            "mutation($c: ID!, $v: ID!) { cartLinesAdd(cartId: $c, lines: [{ variantId: $v, quantity: 99 }]) {
                cart { lines { lineTotal { minorUnits } } totals { subtotal { minorUnits } tax { minorUnits } total { minorUnits amount } } }
                userErrors { code } } }",
            json!({ "c": cart, "v": variant }),
        )
        .await;
    let cart_view = &added["cartLinesAdd"]["cart"];
    let subtotal: i64 = 99 * 1_000_000_000_000;
    assert_eq!(cart_view["lines"][0]["lineTotal"]["minorUnits"], subtotal);
    assert_eq!(cart_view["totals"]["subtotal"]["minorUnits"], subtotal);
    assert_eq!(cart_view["totals"]["tax"]["minorUnits"], subtotal / 4);
    let shipping = 500;
    assert_eq!(
        cart_view["totals"]["total"]["minorUnits"],
        subtotal + subtotal / 4 + shipping
    );
    let placed = app
        .data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { totals { total { minorUnits } } lines { lineTotal { minorUnits } } } userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "rich@example.com", "idempotencyKey": "island",
                "shippingAddress": { "firstName": "A", "lastName": "B", "line1": "1 Bay", "city": "Nassau", "countryCode": "BS" } } }),
        )
        .await;
    let order = &placed["checkoutComplete"]["order"];
    assert_eq!(
        order["lines"][0]["lineTotal"]["minorUnits"], subtotal,
        "{placed}"
    );
    assert_eq!(
        order["totals"]["total"]["minorUnits"],
        subtotal + subtotal / 4 + shipping
    );
}

#[test]
fn a_statement_never_outlives_the_request_budget() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return; // PostgreSQL only: SQLite has no statement timeout.
    }
    let (url, _) = crate::helpers::fresh_database();
    let config = bazaar::config::DatabaseConfig {
        database_url: url,
        pool_size: Some(1),
        pool_timeout_secs: 5,
        pg_plan_cache_mode: bazaar::config::PlanCacheMode::ForceGenericPlan,
        statement_timeout: Some(std::time::Duration::from_millis(300)),
        sealing_keys: Some(crate::helpers::TEST_SEALING_KEYS.into()),
    };
    let db = bazaar::db::Db::connect(&config).expect("connect");
    let slow = db.run_blocking(|conn| {
        use diesel::connection::SimpleConnection as _;
        Ok(conn.batch_execute("SELECT pg_sleep(3)")?)
    });
    assert!(slow.is_err(), "cancelled by statement_timeout");
    let quick = db.run_blocking(|conn| {
        use diesel::connection::SimpleConnection as _;
        Ok(conn.batch_execute("SELECT pg_sleep(0.01)")?)
    });
    assert!(quick.is_ok());
}

#[actix_web::test]
async fn abusable_mutations_are_limited_per_target_and_per_address() {
    let app = spawn_app_with(1, &["--rate-limits", "true"]).await;
    let limited = |response: &serde_json::Value| error_codes(response) == ["RATE_LIMITED"];

    // Mail bombing: three reset mails an hour per email, whatever its case or spaces.
    let reset = "mutation($e: String!) { passwordResetRequest(email: $e) { accepted } }";
    for email in [
        "victim@example.com",
        " Victim@example.com",
        "VICTIM@example.com",
    ] {
        let answer = app.graphql(reset, json!({ "e": email })).await;
        assert!(!limited(&answer), "{answer}");
    }
    let fourth = app
        .graphql(reset, json!({ "e": "victim@example.com" }))
        .await;
    assert!(limited(&fourth), "{fourth}");
    assert!(
        fourth["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    let other = app
        .graphql(reset, json!({ "e": "someone@example.com" }))
        .await;
    assert!(
        !limited(&other),
        "another email has its own allowance: {other}"
    );

    // Code guessing: one code per operation, ten tries an hour per cart.
    let cart = app
        .data("mutation { cartCreate { cart { id } } }", json!({}))
        .await["cartCreate"]["cart"]["id"]
        .clone();
    let two = app
        .graphql(
            "mutation($c: ID!) { a: cartDiscountCodeApply(cartId: $c, code: \"A\") { userErrors { code } }
                                 b: cartDiscountCodeApply(cartId: $c, code: \"B\") { userErrors { code } } }",
            json!({ "c": cart }),
        )
        .await;
    assert_eq!(error_codes(&two), ["BAD_USER_INPUT"], "{two}");
    let guess = "mutation($c: ID!, $code: String!) { cartDiscountCodeApply(cartId: $c, code: $code) { userErrors { code } } }";
    for attempt in 0..10 {
        let answer = app
            .graphql(
                guess,
                json!({ "c": cart, "code": format!("GUESS{attempt}") }),
            )
            .await;
        assert!(!limited(&answer), "{answer}");
    }
    let eleventh = app
        .graphql(guess, json!({ "c": cart, "code": "GUESS10" }))
        .await;
    assert!(limited(&eleventh), "{eleventh}");

    // Sign-ups: ten an hour per address.
    for n in 0..10 {
        app.register(&format!("new{n}@example.com")).await;
    }
    let register = "mutation { accountRegister(input: { email: \"one.more@example.com\", password: \"correct horse battery\" }) { accepted } }";
    let answer = app.graphql(register, json!({})).await;
    assert!(limited(&answer), "{answer}");

    // Card testing: ten payment attempts an hour per order.
    let (variant, _) = crate::commerce::a_variant(&app, 0).await;
    crate::commerce::set_stock(&app, &variant, 10).await;
    let cart = crate::commerce::cart_with(&app, None, &variant, 1).await;
    let placed = app
        .data(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } orderAccessToken } }",
            json!({ "input": { "cartId": cart, "email": "cards@example.com", "idempotencyKey": "cards",
                               "shippingAddress": crate::commerce::address() } }),
        )
        .await;
    let (order, token) = (
        placed["checkoutComplete"]["order"]["id"].clone(),
        placed["checkoutComplete"]["orderAccessToken"].clone(),
    );
    let pay = "mutation($o: ID!, $t: String, $k: String!) { orderPay(id: $o, paymentToken: \"tok_decline\", idempotencyKey: $k, accessToken: $t) { userErrors { code } } }";
    for attempt in 0..10 {
        let answer = app
            .graphql(
                pay,
                json!({ "o": order, "t": token, "k": format!("card-{attempt}") }),
            )
            .await;
        assert_eq!(
            answer["data"]["orderPay"]["userErrors"][0]["code"], "PAYMENT_DECLINED",
            "{answer}"
        );
    }
    let eleventh = app
        .graphql(pay, json!({ "o": order, "t": token, "k": "card-10" }))
        .await;
    assert!(limited(&eleventh), "{eleventh}");
}

/// Signs up with `X-Forwarded-For: forwarded`; whether the answer was `RATE_LIMITED`.
async fn sign_up_from(app: &crate::helpers::TestApp, email: &str, forwarded: &str) -> bool {
    let mut response = app
        .client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("X-Forwarded-For", forwarded))
        .send_json(&json!({ "query": format!(
            "mutation {{ accountRegister(input: {{ email: \"{email}\", password: \"correct horse battery\" }}) {{ accepted }} }}"
        ) }))
        .await
        .expect("POST");
    let body: serde_json::Value = response.json().await.expect("JSON");
    error_codes(&body) == ["RATE_LIMITED"]
}

#[actix_web::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Without trusted proxies, a forged X-Forwarded-For does not escape the per-address limit.
    let direct = spawn_app_with(1, &["--rate-limits", "true"]).await;
    for n in 0..10 {
        assert!(
            !sign_up_from(
                &direct,
                &format!("d{n}@example.com"),
                &format!("198.51.100.{n}")
            )
            .await
        );
    }
    assert!(sign_up_from(&direct, "d10@example.com", "198.51.100.99").await);

    // Behind a trusted proxy (here, loopback), each client has its own allowance, and a forged
    // entry to the left of the proxy's own is ignored.
    let proxied = spawn_app_with(
        1,
        &["--rate-limits", "true", "--trusted-proxies", "127.0.0.1"],
    )
    .await;
    for n in 0..10 {
        let hops = format!("6.6.6.{n}, 198.51.100.1");
        assert!(!sign_up_from(&proxied, &format!("p{n}@example.com"), &hops).await);
    }
    assert!(sign_up_from(&proxied, "p10@example.com", "7.7.7.7, 198.51.100.1").await);
    assert!(!sign_up_from(&proxied, "q0@example.com", "198.51.100.2").await);
}

#[actix_web::test]
async fn staff_changes_are_in_the_audit_log_with_who_and_what() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let customer = app.register("customer@example.com").await;
    let (variant, price) = crate::commerce::a_variant(&app, 0).await;
    let stock = crate::commerce::stock_of(&app, &variant).await;

    app.data_as(
        &staff.token,
        "mutation($v: ID!, $p: Decimal!) { variantUpdate(id: $v, input: { price: $p }) { userErrors { code } } }",
        json!({ "v": variant, "p": "123.45" }),
    )
    .await;
    app.data_as(
        &staff.token,
        "mutation($v: ID!, $e: Int!) { inventoryAdjust(variantId: $v, expectedQuantity: $e, quantity: 7) { userErrors { code } } }",
        json!({ "v": variant, "e": stock }),
    )
    .await;
    app.data_as(
        &admin.token,
        "mutation($a: ID!) { accountRoleSet(accountId: $a, role: STAFF) { userErrors { code } } }",
        json!({ "a": customer.id }),
    )
    .await;
    app.data_as(
        &staff.token,
        "mutation { discountCodeCreate(input: { code: \"AUDIT\", kind: PERCENTAGE, value: \"5\" }) { userErrors { code } } }",
        json!({}),
    )
    .await;

    let log =
        "{ auditLog(first: 10) { edges { node { action subjectId details actor { email } } } } }";
    let forbidden = app.graphql_as(Some(&staff.token), log, json!({})).await;
    assert_eq!(error_codes(&forbidden), ["FORBIDDEN"], "admins only");
    let entries = app.data_as(&admin.token, log, json!({})).await;
    let entries: Vec<&serde_json::Value> = entries["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| &edge["node"])
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "discount.create",
            "account.role",
            "inventory.adjust",
            "variant.update"
        ],
        "newest first"
    );
    let update = entries[3];
    assert_eq!(update["subjectId"], variant);
    assert_eq!(update["actor"]["email"], "staff@example.com");
    assert_eq!(update["details"]["price"], json!([price, 12345]));
    assert_eq!(entries[2]["details"]["stock"], json!([stock, 7]));
    assert_eq!(entries[1]["details"]["role"], json!(["CUSTOMER", "STAFF"]));
    assert_eq!(entries[1]["actor"]["email"], "admin@example.com");
    assert_eq!(entries[1]["subjectId"], customer.id);
}

#[actix_web::test]
async fn concurrent_writes_of_one_account_keep_its_limits_and_never_fail_as_busy() {
    // Each add counts the address book, then inserts: on SQLite a deferred transaction would
    // fail at once when another writer committed in between (a busy snapshot); on PostgreSQL
    // two adds could both see 19 and make 21.
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let add = "mutation($input: AddressInput!) { addressAdd(input: $input) {
        address { id } userErrors { code } } }";
    let answers = join_all((0..100).map(|n| {
        let variables = json!({ "input": crate::accounts::address(&format!("Town {n}")) });
        app.graphql_as(Some(&ada.token), add, variables)
    }))
    .await;
    let mut added = 0;
    for answer in &answers {
        assert!(answer["errors"].is_null(), "{answer}");
        match answer["data"]["addressAdd"]["userErrors"][0]["code"].as_str() {
            None => added += 1,
            Some(code) => assert_eq!(code, "LIMIT_REACHED"),
        }
    }
    assert_eq!(added, 20);
    let book = app
        .data_as(&ada.token, "{ me { addresses { id } } }", json!({}))
        .await;
    assert_eq!(book["me"]["addresses"].as_array().map(Vec::len), Some(20));
}
