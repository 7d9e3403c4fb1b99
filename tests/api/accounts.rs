//! Accounts through the API: sign-up, sign-in, sessions and their end, passwords, the address
//! book, login throttling, and that no secret ever leaves the server.

use serde_json::{Value, json};

use crate::helpers::{
    CONFIRM_SIGN_UP, PASSWORD, SIGN_UP_SUBJECT, captured_logs, error_codes, spawn_app,
    spawn_app_with, statements,
};

const ME: &str = "{ me { id email firstName role addresses { id } } }";

#[actix_web::test]
async fn sign_up_is_confirmed_by_mail_then_signs_in() {
    let app = spawn_app().await;
    let data = app
        .data(
            "mutation($input: AccountRegisterInput!) { accountRegister(input: $input) {
                accepted userErrors { field message code } } }",
            json!({ "input": { "email": "  Ada@Example.COM ", "password": PASSWORD,
                               "firstName": "Ada", "lastName": "Lovelace" } }),
        )
        .await;
    assert_eq!(
        data["accountRegister"],
        json!({ "accepted": true, "userErrors": [] })
    );
    // No account until the mailed link is used.
    let early = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        early["data"]["login"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    let code = app
        .mailed_code(
            "ada@example.com",
            SIGN_UP_SUBJECT,
            "Your confirmation code: ",
        )
        .await;
    assert!(
        code.starts_with("bzu_") && code.len() >= 43,
        "256-bit token"
    );
    let confirmed = app.data(CONFIRM_SIGN_UP, json!({ "token": code })).await;
    let payload = &confirmed["accountRegisterConfirm"];
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["account"]["email"], "ada@example.com");
    assert_eq!(payload["account"]["emailVerified"], true);
    let token = payload["session"]["token"].as_str().unwrap();
    assert!(token.len() >= 43, "256-bit token");
    let again = app.data(CONFIRM_SIGN_UP, json!({ "token": code })).await;
    assert_eq!(
        again["accountRegisterConfirm"]["userErrors"][0]["code"], "INVALID_TOKEN",
        "a link works once"
    );

    let me = app.data_as(token, ME, json!({})).await;
    assert_eq!(me["me"]["email"], "ada@example.com");
    assert_eq!(me["me"]["firstName"], "Ada");
    assert_eq!(me["me"]["role"], "CUSTOMER");
    assert_eq!(app.data(ME, json!({})).await["me"], Value::Null);

    let login = app.login("ADA@example.com", PASSWORD).await;
    let payload = &login["data"]["login"];
    assert_eq!(payload["userErrors"], json!([]));
    let second = payload["session"]["token"].as_str().unwrap();
    assert_ne!(second, token);
    assert_eq!(
        app.data_as(second, ME, json!({})).await["me"]["email"],
        "ada@example.com"
    );
}

const REGISTER: &str = "mutation($input: AccountRegisterInput!) { accountRegister(input: $input) {
    accepted userErrors { field code } } }";

#[actix_web::test]
async fn sign_up_does_not_tell_whether_an_email_has_an_account() {
    let app = spawn_app().await;
    app.register("taken@example.com").await;
    let input =
        |email: &str| json!({ "input": { "email": email, "password": "another passphrase" } });
    let taken = app.graphql(REGISTER, input("TAKEN@example.com")).await;
    let fresh = app.graphql(REGISTER, input("fresh@example.com")).await;
    // The same answer, after the same work: equal statement counts, and a password hashed in
    // both cases (the work that takes the time).
    assert_eq!(taken["data"], fresh["data"]);
    assert_eq!(taken["extensions"]["sql"], fresh["extensions"]["sql"]);
    assert_eq!(taken["data"]["accountRegister"]["accepted"], true);
    // The owner is told instead, and nothing changed for them.
    let notice = app
        .mailed_code(
            "taken@example.com",
            "You already have an account",
            "Someone",
        )
        .await;
    assert!(notice.contains("tried to create an account"));
    let login = app.login("taken@example.com", PASSWORD).await;
    assert_eq!(login["data"]["login"]["userErrors"], json!([]));
    let other = app.login("taken@example.com", "another passphrase").await;
    assert_eq!(
        other["data"]["login"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    // Two sign-ups of one new email: the first link used makes the account, the second says so.
    let first = app
        .mailed_code(
            "fresh@example.com",
            SIGN_UP_SUBJECT,
            "Your confirmation code: ",
        )
        .await;
    app.data(REGISTER, input("fresh@example.com")).await;
    let mut second = first.clone();
    for _ in 0..250 {
        second = app
            .mailed_code(
                "fresh@example.com",
                SIGN_UP_SUBJECT,
                "Your confirmation code: ",
            )
            .await;
        if second != first {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_ne!(second, first);
    let made = app.data(CONFIRM_SIGN_UP, json!({ "token": first })).await;
    assert_eq!(made["accountRegisterConfirm"]["userErrors"], json!([]));
    let refused = app.data(CONFIRM_SIGN_UP, json!({ "token": second })).await;
    assert_eq!(
        refused["accountRegisterConfirm"]["userErrors"][0]["code"],
        "TAKEN"
    );
}

#[actix_web::test]
async fn registration_input_is_checked() {
    let app = spawn_app().await;
    let register = |email: &'static str, password: String| {
        let app = &app;
        async move {
            app.data(
                REGISTER,
                json!({ "input": { "email": email, "password": password } }),
            )
            .await["accountRegister"]
                .clone()
        }
    };
    let cases = [
        ("not-an-email", PASSWORD.to_owned(), "email", "INVALID"),
        (
            "new@example.com",
            "short".to_owned(),
            "password",
            "TOO_SHORT",
        ),
        // 73 bytes: bcrypt would silently ignore the end; we refuse it.
        ("new@example.com", "x".repeat(73), "password", "TOO_LONG"),
    ];
    for (email, password, field, code) in cases {
        let payload = register(email, password).await;
        assert_eq!(payload["accepted"], false, "{email}");
        assert_eq!(
            payload["userErrors"],
            json!([{ "field": ["input", field], "code": code }]),
            "{email}"
        );
    }
    // 72 bytes is the most, and it works for signing in afterwards.
    let longest = "é".repeat(36);
    let payload = register("long@example.com", longest.clone()).await;
    assert_eq!(payload["userErrors"], json!([]));
    let code = app
        .mailed_code(
            "long@example.com",
            SIGN_UP_SUBJECT,
            "Your confirmation code: ",
        )
        .await;
    app.data(CONFIRM_SIGN_UP, json!({ "token": code })).await;
    let login = app.login("long@example.com", &longest).await;
    assert_eq!(login["data"]["login"]["userErrors"], json!([]));
}

#[actix_web::test]
async fn unknown_email_and_wrong_password_fail_the_same_way() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let wrong_password = app.login("ada@example.com", "not the password").await;
    let unknown_email = app.login("nobody@example.com", PASSWORD).await;
    let malformed_email = app.login("nobody", PASSWORD).await;
    let expected = json!({
        "session": null,
        "account": null,
        "userErrors": [{ "field": null, "message": "the email or password is incorrect",
                         "code": "INVALID_CREDENTIALS" }]
    });
    assert_eq!(wrong_password["data"]["login"], expected);
    assert_eq!(unknown_email["data"]["login"], expected);
    assert_eq!(malformed_email["data"]["login"], expected);
    // Unknown accounts are looked up like known ones: the same statements run.
    assert_eq!(statements(&wrong_password), statements(&unknown_email));
}

#[actix_web::test]
async fn repeated_failures_are_throttled_with_a_retry_time() {
    let app = spawn_app_with(1, &["--login-free-attempts", "3"]).await;
    app.register("ada@example.com").await;
    for _ in 0..3 {
        let response = app.login("ada@example.com", "wrong password").await;
        assert_eq!(
            response["data"]["login"]["userErrors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
    // Even the right password waits now: the attempt is not even checked.
    let throttled = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(error_codes(&throttled), ["RATE_LIMITED"]);
    let retry_after = throttled["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(statements(&throttled), 0, "throttled before any lookup");
    // Unknown emails are throttled the same way, so throttling reveals nothing either.
    for _ in 0..3 {
        app.login("nobody@example.com", "wrong password").await;
    }
    assert_eq!(
        error_codes(&app.login("nobody@example.com", PASSWORD).await),
        ["RATE_LIMITED"]
    );
    // Another account from the same client is not yet limited (the per-client budget is 4×).
    app.register("bob@example.com").await;
    let other = app.login("bob@example.com", PASSWORD).await;
    assert_eq!(other["data"]["login"]["userErrors"], json!([]));
}

#[actix_web::test]
async fn aliased_logins_in_one_operation_are_refused() {
    let app = spawn_app().await;
    app.register("ada@example.com").await;
    let response = app
        .graphql(
            "mutation { a: login(email: \"ada@example.com\", password: \"guess one!\") { session { token } }
                        b: login(email: \"ada@example.com\", password: \"guess two!\") { session { token } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&response), ["BAD_USER_INPUT"]);
    assert!(response["data"].is_null(), "nothing executed: {response}");
    assert_eq!(statements(&response), 0);
    // Through a fragment too.
    let response = app
        .graphql(
            "mutation { ...Guess login(email: \"ada@example.com\", password: \"guess two!\") { session { token } } }
             fragment Guess on Mutation { login(email: \"ada@example.com\", password: \"guess one!\") { session { token } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&response), ["BAD_USER_INPUT"]);
}

#[actix_web::test]
async fn logout_ends_the_session_on_the_very_next_request() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let other = app.login("ada@example.com", PASSWORD).await["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let logout = app
        .data_as(
            &ada.token,
            "mutation { logout { endedSessions userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(logout["logout"]["endedSessions"], 1);
    let after = app.graphql_as(Some(&ada.token), ME, json!({})).await;
    assert_eq!(error_codes(&after), ["UNAUTHENTICATED"]);
    assert!(after["data"].is_null());
    // The other session still works until all are ended.
    assert_eq!(
        app.data_as(&other, ME, json!({})).await["me"]["email"],
        "ada@example.com"
    );
    let all = app
        .data_as(
            &other,
            "mutation { logoutAllSessions { endedSessions } }",
            json!({}),
        )
        .await;
    assert_eq!(all["logoutAllSessions"]["endedSessions"], 1);
    assert_eq!(
        error_codes(&app.graphql_as(Some(&other), ME, json!({})).await),
        ["UNAUTHENTICATED"]
    );
}

#[actix_web::test]
async fn expired_and_idle_sessions_fail_on_the_next_request() {
    use bazaar::db::schema::sessions;
    use diesel::prelude::*;

    // The sessions are ended behind the server's back, in the database, as another server would:
    // without the session cache this server sees it on the very next request.
    let app = spawn_app_with(1, &["--session-cache-seconds", "0"]).await;
    let expired = app.register("ada@example.com").await;
    let idle = app.register("bob@example.com").await;
    assert!(app.graphql_as(Some(&expired.token), ME, json!({})).await["errors"].is_null());
    let long_ago = chrono::Utc::now().naive_utc() - chrono::TimeDelta::days(60);
    let (expired_id, idle_id) = (account_number(&expired.id), account_number(&idle.id));
    app.db
        .run(move |conn| {
            diesel::update(sessions::table.filter(sessions::user_id.eq(expired_id)))
                .set(sessions::expires_at.eq(long_ago))
                .execute(conn)?;
            diesel::update(sessions::table.filter(sessions::user_id.eq(idle_id)))
                .set(sessions::last_used_at.eq(long_ago))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    for token in [&expired.token, &idle.token] {
        let response = app.graphql_as(Some(token), ME, json!({})).await;
        assert_eq!(error_codes(&response), ["UNAUTHENTICATED"]);
    }
    // Garbage and malformed headers fail the same way.
    let response = app.graphql_as(Some("bzs_not-a-token"), ME, json!({})).await;
    assert_eq!(error_codes(&response), ["UNAUTHENTICATED"]);
    let mut raw = app
        .client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("Authorization", "Basic YWRhOnB3"))
        .send_json(&json!({ "query": ME }))
        .await
        .unwrap();
    let body: Value = raw.json().await.unwrap();
    assert_eq!(error_codes(&body), ["UNAUTHENTICATED"]);
}

#[actix_web::test]
async fn a_recent_session_check_is_reused_until_the_session_changes_on_this_server() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let first = app.graphql_as(Some(&ada.token), ME, json!({})).await;
    let again = app.graphql_as(Some(&ada.token), ME, json!({})).await;
    assert_eq!(again["data"], first["data"]);
    assert_eq!(
        statements(&again),
        statements(&first) - 1,
        "no session lookup"
    );

    // A role change applies to the account's very next request.
    let admin = app.account_with_role("boss@example.com", "ADMIN").await;
    let demote = "mutation($id: ID!, $role: Role!) { accountRoleSet(accountId: $id, role: $role) {
        account { role } userErrors { code } } }";
    let staff = app.account_with_role("sam@example.com", "STAFF").await;
    let me = app
        .data_as(&staff.token, "{ me { role } }", json!({}))
        .await;
    assert_eq!(me["me"]["role"], "STAFF");
    let set = app
        .data_as(
            &admin.token,
            demote,
            json!({ "id": staff.id, "role": "CUSTOMER" }),
        )
        .await;
    assert_eq!(set["accountRoleSet"]["userErrors"], json!([]));
    let me = app
        .data_as(&staff.token, "{ me { role } }", json!({}))
        .await;
    assert_eq!(me["me"]["role"], "CUSTOMER");
    let staff_only = "{ customers(first: 1) { edges { node { id } } } }";
    assert_eq!(
        error_codes(
            &app.graphql_as(Some(&staff.token), staff_only, json!({}))
                .await
        ),
        ["FORBIDDEN"]
    );

    // Signing out applies at once.
    let logout = app
        .data_as(
            &ada.token,
            "mutation { logout { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(logout["logout"]["userErrors"], json!([]));
    assert_eq!(
        error_codes(&app.graphql_as(Some(&ada.token), ME, json!({})).await),
        ["UNAUTHENTICATED"]
    );
}

#[actix_web::test]
async fn password_change_ends_the_other_sessions() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let elsewhere =
        app.login("ada@example.com", PASSWORD).await["data"]["login"]["session"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
    let change = "mutation($current: String!, $new: String!) {
        passwordChange(currentPassword: $current, newPassword: $new) {
            account { email } userErrors { field code } } }";
    let wrong = app
        .data_as(
            &ada.token,
            change,
            json!({ "current": "not it at all", "new": "a new password" }),
        )
        .await;
    assert_eq!(
        wrong["passwordChange"]["userErrors"],
        json!([{ "field": ["currentPassword"], "code": "INVALID_CREDENTIALS" }])
    );
    let too_long = app
        .data_as(
            &ada.token,
            change,
            json!({ "current": PASSWORD, "new": "x".repeat(100) }),
        )
        .await;
    assert_eq!(
        too_long["passwordChange"]["userErrors"][0]["code"],
        "TOO_LONG"
    );
    let changed = app
        .data_as(
            &ada.token,
            change,
            json!({ "current": PASSWORD, "new": "a new password" }),
        )
        .await;
    assert_eq!(changed["passwordChange"]["userErrors"], json!([]));
    assert_eq!(
        changed["passwordChange"]["account"]["email"],
        "ada@example.com"
    );
    // This session stays, the other one ended at once.
    assert!(app.graphql_as(Some(&ada.token), ME, json!({})).await["errors"].is_null());
    assert_eq!(
        error_codes(&app.graphql_as(Some(&elsewhere), ME, json!({})).await),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await["data"]["login"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        app.login("ada@example.com", "a new password").await["data"]["login"]["userErrors"],
        json!([])
    );
}

/// Waits for the server's background mail task.
async fn reset_token_mailed_to(app: &crate::helpers::TestApp, to: &str) -> String {
    app.mailed_code(to, "Reset your password", "Your reset code: ")
        .await
}

#[actix_web::test]
async fn password_reset_is_single_use_and_ends_every_session() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let request = "mutation($email: String!) { passwordResetRequest(email: $email) {
        accepted userErrors { code } } }";
    let known = app
        .graphql(request, json!({ "email": "Ada@example.com" }))
        .await;
    let unknown = app
        .graphql(request, json!({ "email": "nobody@example.com" }))
        .await;
    assert_eq!(
        known["data"], unknown["data"],
        "the answer does not reveal accounts"
    );
    // Nor its timing: no statement runs before the answer, the look-up comes after it.
    assert_eq!(known["extensions"]["sql"]["statements"], 0);
    assert_eq!(unknown["extensions"]["sql"]["statements"], 0);
    assert_eq!(known["data"]["passwordResetRequest"]["accepted"], true);

    let token = reset_token_mailed_to(&app, "ada@example.com").await;
    // The reset request mailed one reset link.
    let mail: Vec<_> = app
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.subject == "Reset your password")
        .collect();
    assert_eq!(mail.len(), 1, "nothing is sent for unknown emails");
    assert!(
        mail[0]
            .body
            .contains(&format!("reset-password?token={token}"))
    );

    let reset = "mutation($token: String!, $password: String!) {
        passwordReset(token: $token, newPassword: $password) { passwordChanged userErrors { field code } } }";
    let short = app
        .data(reset, json!({ "token": token, "password": "short" }))
        .await;
    assert_eq!(short["passwordReset"]["userErrors"][0]["code"], "TOO_SHORT");
    // A refused password does not use the token up.
    let done = app
        .data(
            reset,
            json!({ "token": token, "password": "a brand new one" }),
        )
        .await;
    assert_eq!(
        done["passwordReset"],
        json!({ "passwordChanged": true, "userErrors": [] })
    );
    let again = app
        .data(
            reset,
            json!({ "token": token, "password": "another new one" }),
        )
        .await;
    assert_eq!(
        again["passwordReset"],
        json!({ "passwordChanged": false,
                "userErrors": [{ "field": ["token"], "code": "INVALID_TOKEN" }] })
    );
    assert_eq!(
        error_codes(&app.graphql_as(Some(&ada.token), ME, json!({})).await),
        ["UNAUTHENTICATED"]
    );
    let login = app.login("ada@example.com", "a brand new one").await;
    assert_eq!(login["data"]["login"]["userErrors"], json!([]));
}

#[actix_web::test]
async fn expired_reset_tokens_are_refused() {
    use bazaar::db::schema::password_resets;
    use diesel::prelude::*;

    let app = spawn_app().await;
    app.register("ada@example.com").await;
    app.data(
        "mutation { passwordResetRequest(email: \"ada@example.com\") { accepted } }",
        json!({}),
    )
    .await;
    let token = reset_token_mailed_to(&app, "ada@example.com").await;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(1);
    app.db
        .run(move |conn| {
            diesel::update(password_resets::table)
                .set(password_resets::expires_at.eq(past))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let response = app
        .data(
            "mutation($token: String!) { passwordReset(token: $token, newPassword: \"whatever it is\") {
                userErrors { code } } }",
            json!({ "token": token }),
        )
        .await;
    assert_eq!(
        response["passwordReset"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
}

const ADDRESS_FIELDS: &str = "id firstName city countryCode isDefault";

pub(crate) fn address(city: &str) -> Value {
    json!({ "firstName": "Ada", "lastName": "Lovelace", "line1": "1 Main St", "city": city,
            "countryCode": "gb" })
}

#[actix_web::test]
async fn customers_keep_an_address_book_with_one_default() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let add = format!(
        "mutation($input: AddressInput!, $default: Boolean) {{
            addressAdd(input: $input, makeDefault: $default) {{ address {{ {ADDRESS_FIELDS} }}
            userErrors {{ field code }} }} }}"
    );
    let first = app
        .data_as(&ada.token, &add, json!({ "input": address("London") }))
        .await["addressAdd"]
        .clone();
    assert_eq!(first["userErrors"], json!([]));
    assert_eq!(first["address"]["countryCode"], "GB");
    assert_eq!(
        first["address"]["isDefault"], true,
        "the first address is the default"
    );
    let second = app
        .data_as(
            &ada.token,
            &add,
            json!({ "input": address("Paris"), "default": true }),
        )
        .await["addressAdd"]["address"]
        .clone();
    assert_eq!(second["isDefault"], true);

    let me = app
        .data_as(
            &ada.token,
            &format!("{{ me {{ addresses {{ {ADDRESS_FIELDS} }} defaultAddress {{ city }} }} }}"),
            json!({}),
        )
        .await;
    let defaults: Vec<bool> = me["me"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["isDefault"].as_bool().unwrap())
        .collect();
    assert_eq!(defaults, [false, true]);
    assert_eq!(me["me"]["defaultAddress"]["city"], "Paris");

    let bad = app
        .data_as(
            &ada.token,
            &add,
            json!({ "input": { "firstName": "", "lastName": "L", "line1": "x", "city": "y",
                               "countryCode": "Britain" } }),
        )
        .await;
    assert_eq!(
        bad["addressAdd"]["userErrors"],
        json!([{ "field": ["input", "firstName"], "code": "TOO_SHORT" },
               { "field": ["input", "countryCode"], "code": "INVALID" }])
    );

    let update = app
        .data_as(
            &ada.token,
            "mutation($id: ID!, $input: AddressInput!) { addressUpdate(id: $id, input: $input) {
                address { city isDefault } userErrors { code } } }",
            json!({ "id": first["address"]["id"], "input": address("Manchester") }),
        )
        .await;
    assert_eq!(
        update["addressUpdate"]["address"],
        json!({ "city": "Manchester", "isDefault": false })
    );
    let set_default = app
        .data_as(
            &ada.token,
            "mutation($id: ID!) { addressSetDefault(id: $id) { address { isDefault } } }",
            json!({ "id": first["address"]["id"] }),
        )
        .await;
    assert_eq!(
        set_default["addressSetDefault"]["address"]["isDefault"],
        true
    );
    let remove = app
        .data_as(
            &ada.token,
            "mutation($id: ID!) { addressRemove(id: $id) { removedAddressId userErrors { code } } }",
            json!({ "id": second["id"] }),
        )
        .await;
    assert_eq!(remove["addressRemove"]["removedAddressId"], second["id"]);
    let left = app.data_as(&ada.token, ME, json!({})).await;
    assert_eq!(left["me"]["addresses"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_address_book_holds_at_most_twenty() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let add = "mutation($input: AddressInput!) { addressAdd(input: $input) {
        address { id } userErrors { code } } }";
    for n in 0..20 {
        let added = app
            .data_as(
                &ada.token,
                add,
                json!({ "input": address(&format!("Town {n}")) }),
            )
            .await;
        assert_eq!(added["addressAdd"]["userErrors"], json!([]));
    }
    let refused = app
        .data_as(&ada.token, add, json!({ "input": address("One too many") }))
        .await;
    assert_eq!(
        refused["addressAdd"]["userErrors"][0]["code"],
        "LIMIT_REACHED"
    );
}

#[actix_web::test]
async fn secrets_never_appear_in_responses_or_logs() {
    let app = spawn_app().await;
    let password = "sup3r secret passphrase";
    let new_password = "an0ther secret passphrase";
    let mut responses = vec![];
    responses.push(
        app.graphql(
            REGISTER,
            json!({ "input": { "email": "ada@example.com", "password": password } }),
        )
        .await,
    );
    let code = app
        .mailed_code(
            "ada@example.com",
            SIGN_UP_SUBJECT,
            "Your confirmation code: ",
        )
        .await;
    let confirmed = app.graphql(CONFIRM_SIGN_UP, json!({ "token": code })).await;
    let token = confirmed["data"]["accountRegisterConfirm"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    responses.push(app.login("ada@example.com", password).await);
    responses.push(app.login("ada@example.com", "a wrong password").await);
    responses.push(app.graphql_as(Some(&token), ME, json!({})).await);
    responses.push(
        app.graphql_as(
            Some(&token),
            "mutation($c: String!, $n: String!) { passwordChange(currentPassword: $c, newPassword: $n) {
                account { id } userErrors { message } } }",
            json!({ "c": password, "n": new_password }),
        )
        .await,
    );
    responses.push(
        app.graphql(
            "mutation { passwordResetRequest(email: \"ada@example.com\") { accepted } }",
            json!({}),
        )
        .await,
    );
    let reset_token = reset_token_mailed_to(&app, "ada@example.com").await;
    responses.push(
        app.graphql(
            "mutation($t: String!) { passwordReset(token: $t, newPassword: \"third secret passphrase\") {
                passwordChanged userErrors { message } } }",
            json!({ "t": reset_token }),
        )
        .await,
    );
    // Revoked token: the error must not echo it.
    responses.push(app.graphql_as(Some(&token), ME, json!({})).await);

    let hash: String = {
        use bazaar::db::schema::users;
        use diesel::prelude::*;
        app.db
            .run(|conn| {
                Ok(users::table
                    .select(users::password_hash)
                    .first::<String>(conn)?)
            })
            .await
            .unwrap()
    };
    let secrets = [
        password,
        new_password,
        "third secret passphrase",
        &reset_token,
        &hash,
        &hash[7..],
    ];
    // The login responses carry their own fresh session tokens; every other secret must be absent,
    // and the registration token must appear in no later response.
    let later = serde_json::to_string(&responses).unwrap();
    for secret in secrets.iter().chain([&token.as_str()]) {
        assert!(!later.contains(secret), "a response leaks {secret:?}");
    }
    let logs = captured_logs();
    assert!(logs.contains("signed in"), "the logs were captured");
    let session_tokens: Vec<String> = responses
        .iter()
        .filter_map(|r| {
            r["data"]["login"]["session"]["token"]
                .as_str()
                .map(str::to_owned)
        })
        .chain([token.clone()])
        .collect();
    for secret in secrets
        .iter()
        .copied()
        .chain(session_tokens.iter().map(String::as_str))
    {
        assert!(!logs.contains(secret), "the logs leak {secret:?}");
    }
    // Neither does the token's hash (it would let anyone look the session up).
    let token_hash = bazaar::services::tokens::hash_token(&token);
    assert!(!logs.contains(&token_hash));
}

/// The database id inside a global id.
pub fn account_number(global_id: &str) -> i64 {
    global_id.rsplit('/').next().unwrap().parse().unwrap()
}
