use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    health_and_readiness_answer,
    graphiql_is_served_with_its_assets_from_the_server_itself,
    mutations_are_refused_over_get_but_queries_work,
    an_oversized_page_and_a_malformed_cursor_are_validation_errors,
);

async fn health_and_readiness_answer(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
    }
}

async fn graphiql_is_served_with_its_assets_from_the_server_itself(app: TestApp) {
    let page = app.client.get(app.url("/graphiql")).send().await.expect("request");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("text");
    assert!(!html.contains("unpkg.com") && !html.contains("cdn"), "the page must not load from a CDN");
    let mut assets = 0;
    for src in html.split(['"', '\'']).filter(|s| s.starts_with("/graphiql/assets/")) {
        let asset = app.client.get(app.url(src)).send().await.expect("asset");
        assert_eq!(asset.status(), 200, "{src}");
        assert!(asset.bytes().await.expect("bytes").len() > 500, "{src} is empty");
        assets += 1;
    }
    assert!(assets >= 5, "expected GraphiQL, its stylesheet, React, ReactDOM and the start-up; found {assets}");
}

async fn mutations_are_refused_over_get_but_queries_work(app: TestApp) {
    let query = app.client.get(app.url("/graphql")).query(&[("query", "{ space(handle: \"all\") { handle } }")]);
    let body: serde_json::Value = query.send().await.expect("request").json().await.expect("json");
    assert_eq!(body["data"]["space"]["handle"], "all");

    let mutation = "mutation { register(input: {handle: \"viaget\", name: \"x\", email: \"g@e.t\", password: \"password-123\"}) { token } }";
    let response = app.client.get(app.url("/graphql")).query(&[("query", mutation)]).send().await.expect("request");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert!(app.ok(None, r#"{ user(handle: "viaget") { id } }"#, json!({})).await["user"].is_null());
}

async fn an_oversized_page_and_a_malformed_cursor_are_validation_errors(app: TestApp) {
    let q = "query($f: Int, $a: String) { space(handle: \"all\") { children(first: $f, after: $a) { totalCount } } }";
    assert_eq!(app.error_code(None, q, json!({ "f": 101 })).await, "VALIDATION");
    assert_eq!(app.error_code(None, q, json!({ "f": -1 })).await, "VALIDATION");
    assert_eq!(app.error_code(None, q, json!({ "f": 10, "a": "bm90IGEgY3Vyc29y" })).await, "VALIDATION");
    assert_eq!(app.error_code(None, q, json!({ "f": 10, "a": "!!" })).await, "VALIDATION");
    let search = "query($f: Int) { searchSpaces(query: \"x\", first: $f) { totalCount } }";
    assert_eq!(app.error_code(None, search, json!({ "f": 1000 })).await, "VALIDATION");
    app.ok(None, q, json!({ "f": 100 })).await;
}
