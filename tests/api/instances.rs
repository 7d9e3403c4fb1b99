//! Several instances on one PostgreSQL agree at once (the bus): a logout, a demotion or a
//! category change made through one instance holds on the other on its very next request,
//! though the other remembers sessions (staff ones too) and the category tree.
//! On SQLite there is one instance, whose caches the same changes drop in-process.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, statements};

fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty())
}

/// A second instance on `app`'s database (PostgreSQL), or `app` itself (SQLite, one instance).
async fn other_instance(app: &TestApp) -> Option<TestApp> {
    match on_postgres() {
        true => Some(
            app.another_instance(&[], Arc::new(app.gateway.clone()))
                .await,
        ),
        false => None,
    }
}

const ME: &str = "{ me { id } }";
const STAFF_ONLY: &str = "{ customers(first: 1) { edges { node { id } } } }";

#[actix_web::test]
async fn a_logout_on_one_instance_refuses_the_token_on_the_other_at_once() {
    let a = spawn_app().await;
    let other = other_instance(&a).await;
    let b = other.as_ref().unwrap_or(&a);
    for round in 0..20 {
        let customer = a.register(&format!("shopper{round}@example.com")).await;
        // B has seen the session live, and remembers it.
        for _ in 0..2 {
            assert_eq!(
                b.data_as(&customer.token, ME, json!({})).await["me"]["id"],
                customer.id
            );
        }
        let ended = a
            .data_as(
                &customer.token,
                "mutation { logout { endedSessions } }",
                json!({}),
            )
            .await;
        assert_eq!(ended["logout"]["endedSessions"], 1);
        let refused = b.graphql_as(Some(&customer.token), ME, json!({})).await;
        assert_eq!(error_codes(&refused), ["UNAUTHENTICATED"], "round {round}");
    }
}

#[actix_web::test]
async fn a_password_change_on_one_instance_ends_the_other_sessions_everywhere_at_once() {
    let a = spawn_app().await;
    let other = other_instance(&a).await;
    let b = other.as_ref().unwrap_or(&a);
    let customer = a.register("shopper@example.com").await;
    let second = a
        .login("shopper@example.com", crate::helpers::PASSWORD)
        .await;
    let second = second["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.data_as(&second, ME, json!({})).await["me"]["id"],
        customer.id
    );
    let changed = a
        .data_as(
            &customer.token,
            "mutation($c: String!, $n: String!) { passwordChange(currentPassword: $c, newPassword: $n) { userErrors { code } } }",
            json!({ "c": crate::helpers::PASSWORD, "n": "another long password" }),
        )
        .await;
    assert_eq!(changed["passwordChange"]["userErrors"], json!([]));
    let refused = b.graphql_as(Some(&second), ME, json!({})).await;
    assert_eq!(error_codes(&refused), ["UNAUTHENTICATED"]);
}

#[actix_web::test]
async fn a_demotion_on_one_instance_refuses_staff_work_on_the_other_at_once() {
    let a = spawn_app().await;
    let other = other_instance(&a).await;
    let b = other.as_ref().unwrap_or(&a);
    let boss = a.account_with_role("boss@example.com", "ADMIN").await;
    for round in 0..10 {
        let clerk = a
            .account_with_role(&format!("clerk{round}@example.com"), "STAFF")
            .await;
        // B looks the session up once, then answers from memory: the second request runs one
        // statement fewer.
        let mut counts = Vec::new();
        for _ in 0..2 {
            let allowed = b
                .graphql_as(Some(&clerk.token), STAFF_ONLY, json!({}))
                .await;
            assert_eq!(error_codes(&allowed), Vec::<String>::new(), "{allowed}");
            counts.push(statements(&allowed));
        }
        assert_eq!(counts[0], counts[1] + 1, "round {round}");
        let demoted = a
            .data_as(
                &boss.token,
                "mutation($id: ID!) { accountRoleSet(accountId: $id, role: CUSTOMER) { userErrors { code } } }",
                json!({ "id": clerk.id }),
            )
            .await;
        assert_eq!(demoted["accountRoleSet"]["userErrors"], json!([]));
        let refused = b
            .graphql_as(Some(&clerk.token), STAFF_ONLY, json!({}))
            .await;
        assert_eq!(error_codes(&refused), ["FORBIDDEN"], "round {round}");
    }
}

#[actix_web::test]
async fn a_category_renamed_on_one_instance_is_seen_on_the_other_at_once() {
    let a = spawn_app().await;
    let other = other_instance(&a).await;
    let b = other.as_ref().unwrap_or(&a);
    let admin = a.account_with_role("boss@example.com", "ADMIN").await;
    let first = a
        .data("{ categories(first: 1) { id slug } }", json!({}))
        .await;
    let category = first["categories"][0]["id"].clone();
    let mut slug = first["categories"][0]["slug"].as_str().unwrap().to_owned();
    let by_slug = "query($s: String!) { products(first: 50, where: { categorySlug: $s }) { edges { node { id } } } }";
    let listed = |answer: &Value| answer["products"]["edges"].as_array().unwrap().len();
    let products = listed(&b.data(by_slug, json!({ "s": slug })).await);
    assert!(products > 0);
    for round in 0..10 {
        let renamed = format!("renamed-{round}");
        let updated = a
            .data_as(
                &admin.token,
                "mutation($id: ID!, $s: String!) { categoryUpdate(id: $id, input: { slug: $s }) { userErrors { code } } }",
                json!({ "id": category, "s": renamed }),
            )
            .await;
        assert_eq!(updated["categoryUpdate"]["userErrors"], json!([]));
        assert_eq!(
            listed(&b.data(by_slug, json!({ "s": renamed })).await),
            products,
            "round {round}"
        );
        let old = b.graphql(by_slug, json!({ "s": slug })).await;
        assert!(
            old["data"]["products"]["edges"] == json!([]) || !error_codes(&old).is_empty(),
            "{old}"
        );
        slug = renamed;
    }
}
