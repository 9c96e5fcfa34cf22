use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    registering_returns_a_token_that_identifies_the_user,
    login_works_with_handle_or_email_and_refuses_a_wrong_password,
    invalid_registrations_are_refused_naming_the_field,
    duplicate_handles_and_emails_are_conflicts,
    a_bad_token_is_unauthenticated_and_no_token_is_anonymous,
    login_by_handle_ignores_case_as_login_by_email_does,
    control_characters_in_any_text_input_are_refused_as_validation,
    emails_with_control_or_bidi_characters_are_refused,
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

async fn login_by_handle_ignores_case_as_login_by_email_does(app: TestApp) {
    let (_, id) = app.register("grace").await;
    let login = "mutation($i: LoginInput!) { login(input: $i) { user { id } } }";
    for name in ["GRACE", "Grace", "  gRaCe ", "Grace@Example.org"] {
        let data = app.ok(None, login, json!({ "i": { "login": name, "password": "password-123" } })).await;
        assert_eq!(data["login"]["user"]["id"], id, "login as {name:?}");
    }
}

async fn control_characters_in_any_text_input_are_refused_as_validation(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let nul = "a\u{0}b";
    let cases: Vec<(&str, Value)> = vec![
        ("query($q: String!) { searchPosts(query: $q) { nodes { id } } }", json!({ "q": nul })),
        ("query($q: String!) { searchSpaces(query: $q) { nodes { id } } }", json!({ "q": nul })),
        ("query($h: String!) { user(handle: $h) { id } }", json!({ "h": nul })),
        ("query($h: String) { space(handle: $h) { id } }", json!({ "h": nul })),
        ("query($s: String) { space(handle: \"agora\") { posts(search: $s) { nodes { id } } } }", json!({ "s": nul })),
        ("mutation($h: String!) { muteUser(handle: $h) { id } }", json!({ "h": "bob\u{1b}" })),
        (
            "mutation($i: LoginInput!) { login(input: $i) { token } }",
            json!({ "i": { "login": nul, "password": "password-123" } }),
        ),
        (
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
            json!({ "i": { "spaceIds": [space], "title": "t\u{7f}" } }),
        ),
        (
            "mutation($i: AddCommentInput!) { addComment(input: $i) { id } }",
            json!({ "i": { "postId": space, "text": "\u{85}" } }),
        ),
        // In the document itself, as an escape in a string literal.
        (r#"{ searchPosts(query: "a\u0000b") { nodes { id } } }"#, json!({})),
        (r#"mutation { createSpace(input: { handle: "ok", name: "x\u0008" }) { space { id } } }"#, json!({})),
    ];
    for (query, variables) in cases {
        let body = app.gql(Some(&token), query, variables.clone()).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{query} {variables}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("control characters"), "{query}: {message}");
    }
    // Line breaks and tabs are text; nothing of the refused requests was written.
    let post = app
        .ok(
            Some(&token),
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { text } } }",
            json!({ "i": { "spaceIds": [space], "title": "fine", "text": "one\ntwo\tthree" } }),
        )
        .await;
    assert_eq!(post["createPost"]["post"]["text"], "one\ntwo\tthree");
    assert_eq!(app.feed(None, "agora", "").await, ["fine"]);
    assert!(app.ok(None, r#"{ space(handle: "ok") { id } }"#, json!({})).await["space"].is_null());
}

async fn emails_with_control_or_bidi_characters_are_refused(app: TestApp) {
    let register = "mutation($i: RegisterInput!) { register(input: $i) { token } }";
    for email in [
        "ada\u{202E}gro.elpmaxe@evil.example",
        "ada@example.org\u{200B}",
        "\u{2066}ada@example.org",
        "ada\u{0}@example.org",
    ] {
        let input = json!({ "i": { "handle": "ada", "name": "Ada", "email": email, "password": "password-123" } });
        let body = app.gql(None, register, input).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{email:?}: {body}");
    }
    let login = "mutation($i: LoginInput!) { login(input: $i) { token } }";
    let body =
        app.gql(None, login, json!({ "i": { "login": "ada\u{202E}@example.org", "password": "password-123" } })).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.login", "{body}");
    assert!(app.ok(None, r#"{ user(handle: "ada") { id } }"#, json!({})).await["user"].is_null());
}
