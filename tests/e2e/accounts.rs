use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    registering_returns_a_token_that_identifies_the_user,
    login_works_with_handle_or_email_and_refuses_a_wrong_password,
    invalid_registrations_are_refused_naming_the_field,
    duplicate_handles_and_emails_are_conflicts,
    a_bad_token_is_unauthenticated_and_no_token_is_anonymous,
);

const ME: &str = "{ me { id handle name createdAt } }";

async fn registering_returns_a_token_that_identifies_the_user(app: TestApp) {
    let (token, id) = app.register("ada").await;
    let me = app.ok(Some(&token), ME, json!({})).await;
    assert_eq!(me["me"]["id"], id);
    assert_eq!(me["me"]["handle"], "ada");
    assert_eq!(me["me"]["name"], "ADA");
    let user = app.ok(None, r#"{ user(handle: "ada") { id handle } }"#, json!({})).await;
    assert_eq!(user["user"]["id"], id);
    let nobody = app.ok(None, r#"{ user(handle: "nobody") { id } }"#, json!({})).await;
    assert!(nobody["user"].is_null());
}

async fn login_works_with_handle_or_email_and_refuses_a_wrong_password(app: TestApp) {
    let (_, id) = app.register("grace").await;
    let login = "mutation($i: LoginInput!) { login(input: $i) { token user { id } } }";
    for name in ["grace", "grace@example.org", "GRACE@example.org"] {
        let data = app.ok(None, login, json!({ "i": { "login": name, "password": "password-123" } })).await;
        assert_eq!(data["login"]["user"]["id"], id, "login as {name}");
        let token = data["login"]["token"].as_str().expect("token");
        assert_eq!(app.ok(Some(token), ME, json!({})).await["me"]["id"], id);
    }
    for (name, password) in [("grace", "wrong-password"), ("nobody", "password-123")] {
        let code = app.error_code(None, login, json!({ "i": { "login": name, "password": password } })).await;
        assert_eq!(code, "UNAUTHENTICATED", "login {name}/{password}");
    }
}

async fn invalid_registrations_are_refused_naming_the_field(app: TestApp) {
    let register = "mutation($i: RegisterInput!) { register(input: $i) { token } }";
    let cases = [
        (json!({ "handle": "A", "name": "x", "email": "a@b.c", "password": "password-123" }), "input.handle"),
        (json!({ "handle": "Upper", "name": "x", "email": "a@b.c", "password": "password-123" }), "input.handle"),
        (json!({ "handle": "has space", "name": "x", "email": "a@b.c", "password": "password-123" }), "input.handle"),
        (json!({ "handle": "okay", "name": " ", "email": "a@b.c", "password": "password-123" }), "input.name"),
        (json!({ "handle": "okay", "name": "x", "email": "no-at-sign", "password": "password-123" }), "input.email"),
        (json!({ "handle": "okay", "name": "x", "email": "a@@b", "password": "password-123" }), "input.email"),
        (json!({ "handle": "okay", "name": "x", "email": "a@b.c", "password": "short" }), "input.password"),
    ];
    for (input, field) in cases {
        let body = app.gql(None, register, json!({ "i": input })).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{input}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{input}: {body}");
    }
    // Nothing was written by the refused attempts.
    assert!(app.ok(None, r#"{ user(handle: "okay") { id } }"#, json!({})).await["user"].is_null());
}

async fn duplicate_handles_and_emails_are_conflicts(app: TestApp) {
    app.register("linus").await;
    let register = "mutation($i: RegisterInput!) { register(input: $i) { token } }";
    let same_handle =
        json!({ "i": { "handle": "linus", "name": "L", "email": "other@example.org", "password": "password-123" } });
    assert_eq!(app.error_code(None, register, same_handle).await, "CONFLICT");
    let same_email =
        json!({ "i": { "handle": "linus2", "name": "L", "email": "LINUS@example.org", "password": "password-123" } });
    assert_eq!(app.error_code(None, register, same_email).await, "CONFLICT");
}

async fn a_bad_token_is_unauthenticated_and_no_token_is_anonymous(app: TestApp) {
    assert!(app.ok(None, ME, json!({})).await["me"].is_null());
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth("not-a-token")
        .json(&json!({ "query": ME }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}
