//! Several instances on one PostgreSQL agree at once (the bus): a logout, a demotion or a
//! category change made through one instance holds on the other on its very next request,
//! though the other remembers sessions (staff ones too) and the category tree.
//! On SQLite there is one instance, whose caches the same changes drop in-process.
//! Writers on both instances commit side by side, and a reader of the event log skips nothing.

use std::cell::Cell;
use std::sync::Arc;

use futures_util::future::{join, join_all};

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, on_postgres, spawn_app, statements};

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

/// Products created concurrently through both instances, while a reader walks the event log
/// from one of them: each event reaches the reader once, in position order, and none is skipped
/// (one committing after the reader passed its position would be).
#[actix_web::test]
async fn a_reader_walking_the_log_while_both_instances_write_skips_no_event() {
    const WRITES: usize = 60;
    const WALK: &str = "query($after: String) { events(first: 50, after: $after) {
        edges { node { position } } pageInfo { endCursor } } }";
    let a = spawn_app().await;
    let other = other_instance(&a).await;
    let b = other.as_ref().unwrap_or(&a);
    let admin = a
        .account_with_role("admin@example.com", "ADMIN")
        .await
        .token;
    let positions_of = |answer: &Value| -> Vec<i64> {
        answer["events"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["position"].as_i64().unwrap())
            .collect()
    };
    // The accounts made so far raised events of their own: the walk starts after them.
    let start = a.data_as(&admin, WALK, json!({ "after": null })).await;
    let before = positions_of(&start);
    assert!(before.len() < 50, "{start}");
    let base = before.last().copied().unwrap_or(0);
    let from = start["events"]["pageInfo"]["endCursor"].clone();

    let writing = Cell::new(true);
    let writers = join_all((0..WRITES).map(|n| {
        let (instance, admin) = (if n % 2 == 0 { &a } else { b }, &admin);
        async move {
            let created = instance
                .data_as(
                    admin,
                    "mutation($input: ProductFields!) { productCreate(input: $input) {
                        userErrors { code } } }",
                    json!({ "input": { "name": format!("Concurrent {n}"), "status": "ACTIVE" } }),
                )
                .await;
            assert_eq!(
                created["productCreate"]["userErrors"],
                json!([]),
                "{created}"
            );
        }
    }));
    let reader = async {
        let (mut seen, mut after) = (Vec::new(), from.clone());
        loop {
            let still_writing = writing.get();
            let page = b.data_as(&admin, WALK, json!({ "after": after })).await;
            let positions = positions_of(&page);
            if positions.is_empty() && !still_writing {
                return seen;
            }
            if positions.is_empty() {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
            } else {
                after = page["events"]["pageInfo"]["endCursor"].clone();
            }
            seen.extend(positions);
        }
    };
    let ((), seen) = join(
        async {
            writers.await;
            writing.set(false);
        },
        reader,
    )
    .await;

    let expected: Vec<i64> = (base + 1..=base + i64::try_from(WRITES).unwrap()).collect();
    assert_eq!(seen, expected, "the walk saw each position once, in order");
    let (mut all, mut after) = (Vec::new(), from);
    loop {
        let page = b.data_as(&admin, WALK, json!({ "after": after })).await;
        let positions = positions_of(&page);
        if positions.is_empty() {
            break;
        }
        all.extend(positions);
        after = page["events"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(all, expected, "the log holds what the walk saw");
}
