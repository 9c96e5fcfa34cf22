//! Documents nested deeper than the server's stack can take. A few kilobytes of `[[[…]]]` or `{a:{a:…}}` in an
//! argument used to overflow the parser's stack and abort the whole process; now every path (POST, GET,
//! persisted queries, both websocket protocols) refuses them before anything parses them, with code
//! `VALIDATION`, and the server goes on serving — the websocket connection included.

use e2e::ws::WsClient;
use e2e::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

on_both_backends!(
    deep_documents_sent_by_post_are_refused_and_the_server_lives_on,
    deep_documents_sent_by_get_are_refused_and_the_server_lives_on,
    deep_documents_subscribed_over_graphql_transport_ws_get_an_error_and_the_connection_lives_on,
    deep_documents_started_over_legacy_graphql_ws_get_errors_and_the_connection_lives_on,
    deep_persisted_queries_are_refused_when_registered_and_when_used,
    deeply_nested_variables_are_refused_as_invalid_json_and_the_server_lives_on,
);

const NORMAL: &str = r#"{ space(handle: "all") { handle } }"#;

/// Documents of a few kilobytes, each deeper than a worker's stack takes, by the shape of their nesting. Lists
/// and objects overflowed it from about 330 and 300 levels in debug builds and 1,550 and 1,230 in release
/// builds, up to where the parser's own stack probe stops it first (about 750 and 550 levels in debug builds):
/// both kinds of build are covered.
fn deep_documents() -> Vec<(&'static str, String)> {
    let lists = |n: usize| format!("{{ space(handle: {}\"all\"{}) {{ id }} }}", "[".repeat(n), "]".repeat(n));
    let objects = |n: usize| format!("{{ space(handle: {}\"all\"{}) {{ id }} }}", "{a: ".repeat(n), "}".repeat(n));
    vec![
        ("lists, 500 deep", lists(500)),
        ("lists, 2,000 deep", lists(2_000)),
        (
            // The parser reads an unclosed `"""` as `""` then a string, and the lists after it as lists.
            "lists after an unclosed block string, 500 deep",
            format!(r#"{{ space(handle: ["""x" {}"all"{}]) {{ id }} }}"#, "[".repeat(500), "]".repeat(500)),
        ),
        ("objects, 400 deep", objects(400)),
        ("objects, 1,500 deep", objects(1_500)),
        ("selections, 3,000 deep", format!("{{ {} id {} }}", "space {".repeat(3_000), "}".repeat(3_000))),
        (
            "inline fragments, 1,500 deep",
            format!("{{ {} __typename {} }}", "... on Query {".repeat(1_500), "}".repeat(1_500)),
        ),
        (
            "variable types, 2,000 deep",
            format!("query($v: {}ID{}) {{ __typename }}", "[".repeat(2_000), "]".repeat(2_000)),
        ),
        (
            "a subscription's argument, 500 deep",
            format!("subscription {{ spaceFeed(spaceId: {}1{}) {{ __typename }} }}", "[".repeat(500), "]".repeat(500)),
        ),
    ]
}

/// `value` as JSON, cut short: errors may quote the whole document.
fn short(value: &Value) -> String {
    value.to_string().chars().take(300).collect()
}

/// The one error of a refusal: code `VALIDATION`, a message that says what is wrong.
fn assert_refused(errors: &Value, shape: &str) {
    assert_eq!(errors[0]["extensions"]["code"], "VALIDATION", "{shape}: {}", short(errors));
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nested too deeply") && message.contains("128"), "{shape}: {}", short(errors));
}

async fn still_serving(app: &TestApp) {
    let data = app.ok(None, NORMAL, json!({})).await;
    assert_eq!(data["space"]["handle"], "all");
}

async fn post(app: &TestApp, body: String, accept: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

async fn deep_documents_sent_by_post_are_refused_and_the_server_lives_on(app: TestApp) {
    for (shape, query) in deep_documents() {
        let body = json!({ "query": query }).to_string();
        let (status, body) = post(&app, body.clone(), "application/graphql-response+json").await;
        assert_eq!(status, 400, "{shape}: {}", short(&body));
        assert!(body.get("data").is_none(), "{shape}: {}", short(&body));
        assert_refused(&body["errors"], shape);
        // Legacy JSON clients get the same error with 200, as for any document that cannot run.
        let (status, body) = post(&app, json!({ "query": query }).to_string(), "application/json").await;
        assert_eq!(status, 200, "{shape}: {}", short(&body));
        assert_refused(&body["errors"], shape);
        still_serving(&app).await;
    }
    // In a batch, one deep operation is enough to refuse the request.
    let (_, lists) = deep_documents().swap_remove(0);
    let batch = json!([{ "query": NORMAL }, { "query": lists }]).to_string();
    let (status, body) = post(&app, batch, "application/graphql-response+json").await;
    assert_eq!(status, 400, "{}", short(&body));
    assert_refused(&body["errors"], "batch");
    still_serving(&app).await;
}

async fn deep_documents_sent_by_get_are_refused_and_the_server_lives_on(app: TestApp) {
    for (shape, query) in deep_documents().into_iter().filter(|(_, query)| !query.starts_with("subscription")) {
        let response = app
            .client
            .get(app.url("/graphql"))
            .query(&[("query", query.as_str())])
            .header("accept", "application/graphql-response+json")
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 400, "{shape}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_refused(&body["errors"], shape);
        still_serving(&app).await;
    }
}

async fn deep_documents_subscribed_over_graphql_transport_ws_get_an_error_and_the_connection_lives_on(app: TestApp) {
    let mut client = WsClient::ready(app.addr, None).await;
    for (n, (shape, query)) in deep_documents().into_iter().enumerate() {
        let id = format!("deep-{n}");
        client.subscribe(&id, &query, json!({})).await;
        let message = client.next_json().await;
        assert_eq!((&message["id"], &message["type"]), (&json!(id), &json!("error")), "{shape}: {}", short(&message));
        assert_refused(&message["payload"], shape);
        // The same connection goes on: a normal operation runs to completion.
        let id = format!("normal-{n}");
        client.subscribe(&id, NORMAL, json!({})).await;
        let message = client.next_json().await;
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["payload"]["data"]["space"]["handle"], "all");
        assert_eq!(client.next_json().await, json!({ "id": id, "type": "complete" }));
    }
    still_serving(&app).await;
}

async fn deep_documents_started_over_legacy_graphql_ws_get_errors_and_the_connection_lives_on(app: TestApp) {
    let mut client = WsClient::connect(app.addr, "graphql-ws").await;
    client.send(json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(client.next_json().await["type"], "connection_ack");
    for (n, (shape, query)) in deep_documents().into_iter().enumerate() {
        let id = format!("deep-{n}");
        client.send(json!({ "id": id, "type": "start", "payload": { "query": query } })).await;
        let message = client.next_json().await;
        assert_eq!((&message["id"], &message["type"]), (&json!(id), &json!("data")), "{shape}: {}", short(&message));
        assert!(message["payload"]["data"].is_null(), "{shape}: {}", short(&message));
        assert_refused(&message["payload"]["errors"], shape);
        assert_eq!(client.next_json().await, json!({ "id": id, "type": "complete" }));
        let id = format!("normal-{n}");
        client.send(json!({ "id": id, "type": "start", "payload": { "query": NORMAL } })).await;
        let message = client.next_json().await;
        assert_eq!(message["type"], "data", "{message}");
        assert_eq!(message["payload"]["data"]["space"]["handle"], "all");
        assert_eq!(client.next_json().await, json!({ "id": id, "type": "complete" }));
    }
    still_serving(&app).await;
}

/// Automatic persisted queries put a stored document in place of the request's: it is measured too.
async fn deep_persisted_queries_are_refused_when_registered_and_when_used(app: TestApp) {
    let (_, query) = deep_documents().swap_remove(0);
    let hash: String = Sha256::digest(query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let register = json!({ "query": query, "extensions": extensions }).to_string();
    let (status, body) = post(&app, register, "application/graphql-response+json").await;
    assert_eq!(status, 400, "{}", short(&body));
    assert_refused(&body["errors"], "registered");
    still_serving(&app).await;
    let by_hash = json!({ "extensions": extensions }).to_string();
    let (status, body) = post(&app, by_hash, "application/graphql-response+json").await;
    assert_eq!(status, 400, "{}", short(&body));
    assert_refused(&body["errors"], "by hash");
    still_serving(&app).await;
}

/// The variables are JSON, which serde_json reads to 128 levels at most: deeper is invalid JSON, whatever the
/// transport, and nothing deep ever reaches the schema.
async fn deeply_nested_variables_are_refused_as_invalid_json_and_the_server_lives_on(app: TestApp) {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let query = "query($h: [String]) { space(handle: $h) { id } }";
    let body = format!(r#"{{"query":{},"variables":{{"h":{deep}}}}}"#, json!(query));
    let (status, body) = post(&app, body, "application/graphql-response+json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    still_serving(&app).await;

    // Over GET, 5,000 levels: the URL must stay under 64 KB.
    let variables = format!(r#"{{"h":{}{}}}"#, "[".repeat(5_000), "]".repeat(5_000));
    let response = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", query), ("variables", variables.as_str())])
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    still_serving(&app).await;

    // Over a websocket, a message that is not JSON to the server closes the connection (4400), as the
    // protocol says of invalid messages.
    let mut client = WsClient::ready(app.addr, None).await;
    let message =
        format!(r#"{{"id":"1","type":"subscribe","payload":{{"query":{},"variables":{{"h":{deep}}}}}}}"#, json!(query));
    client.send_raw(&message).await;
    assert_eq!(client.closed_code().await, 4400);
    still_serving(&app).await;
}

/// The limit is a setting, and its boundary is exact: as deep as the limit runs, one level more is refused.
async fn the_nesting_limit_is_a_setting_with_an_exact_boundary(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.max_nesting = 6).await else { return };
    // `{`, `(`, then lists: `{ space(handle: [[[["all"]]]]) … }` nests 6 deep.
    let at = |lists: usize| format!("{{ space(handle: {}\"all\"{}) {{ id }} }}", "[".repeat(lists), "]".repeat(lists));
    let body = app.gql(None, &at(4), json!({})).await;
    let code = &body["errors"][0]["extensions"]["code"];
    assert_eq!(code, "VALIDATION", "the schema refuses a list for a String, after parsing: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("nested too deeply"), "six levels are allowed: {message}");
    let body = app.gql(None, &at(5), json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nested too deeply") && message.contains("at most 6 levels"), "{body}");
    assert!(message.contains("line 1, column 21"), "{message}");
    let data = app.ok(None, r#"{ space(handle: "all") { children { nodes { handle } } } }"#, json!({})).await;
    assert!(data["space"]["children"]["nodes"].is_array());
}

mod the_nesting_limit_is_a_setting_with_an_exact_boundary {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        the_nesting_limit_is_a_setting_with_an_exact_boundary(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        the_nesting_limit_is_a_setting_with_an_exact_boundary(Backend::Postgres).await;
    }
}
