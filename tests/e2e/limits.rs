//! The production surface: GraphQL over HTTP to the spec, abuse limits, CSRF and CORS, persisted queries,
//! metrics, request timeouts. Each limit shows its clear error and that nothing was written.

use e2e::ws::WsClient;
use e2e::{Backend, TestApp, test_redis_url};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const CREATE: &str = "mutation { createSpace(input: {handle: \"written\", name: \"W\"}) { space { id } } }";

async fn nothing_written(app: &TestApp) {
    let data = app.ok(None, r#"{ space(handle: "written") { id } }"#, json!({})).await;
    assert!(data["space"].is_null(), "a refused request wrote something");
}

async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    content_type: &str,
    body: String,
    accept: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/graphql")).header("content-type", content_type).body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.expect("request")
}

async fn code_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json::<Value>().await.expect("JSON body"))
}

#[tokio::test(flavor = "current_thread")]
async fn simple_content_types_are_refused_so_forms_cannot_forge_mutations() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (token, _) = app.register("ada").await;
    let body = json!({ "query": CREATE }).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let (status, body) = code_of(post_raw(&app, Some(&token), content_type, body.clone(), None).await).await;
        assert_eq!(status, 415, "{content_type}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION");
    }
    // Multipart is how files are uploaded (docs/media.md): it must carry a preflight header a form cannot send.
    let multipart = "multipart/form-data; boundary=x";
    let (status, body) = code_of(post_raw(&app, Some(&token), multipart, body.clone(), None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION");
    nothing_written(&app).await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_response_type_follows_accept_and_request_errors_are_400_without_data() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let bad = json!({ "query": "{ nope }" }).to_string();
    let response =
        post_raw(&app, None, "application/json", bad.clone(), Some("application/graphql-response+json")).await;
    assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("application/graphql-response+json"));
    let (status, body) = code_of(response).await;
    assert_eq!(status, 400);
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION");
    let response = post_raw(&app, None, "application/json", bad, Some("application/json")).await;
    assert!(response.headers()["content-type"].to_str().unwrap_or("").starts_with("application/json"));
    assert_eq!(response.status(), 200);
    let response =
        post_raw(&app, None, "application/json", json!({ "query": "{ me { id } }" }).to_string(), Some("text/html"))
            .await;
    assert_eq!(response.status(), 406);
    let (status, _) = code_of(post_raw(&app, None, "application/json", "{not json".into(), None).await).await;
    assert_eq!(status, 400);
    let (status, _) =
        code_of(post_raw(&app, None, "application/json", json!({ "query": 7 }).to_string(), None).await).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "current_thread")]
async fn oversized_bodies_are_refused_before_anything_runs() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| s.max_body_bytes = 2_000).await else { return };
    let (token, _) = app.register("ada").await;
    let padding = "x".repeat(4_000);
    let body = json!({ "query": CREATE, "variables": { "pad": padding } }).to_string();
    let (status, body) = code_of(post_raw(&app, Some(&token), "application/json", body, None).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or("").contains("2000 bytes"), "{body}");
    nothing_written(&app).await;
}

#[tokio::test(flavor = "current_thread")]
async fn too_deep_or_too_complex_queries_fail_with_a_code() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.max_depth = 5;
        s.max_complexity = 200;
    })
    .await
    else {
        return;
    };
    let deep =
        r#"{ space(handle: "all") { children { nodes { children { nodes { children { nodes { handle } } } } } } } }"#;
    let body = app.gql(None, deep, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    let wide = format!("{{ {} }}", (0..300).map(|i| format!("a{i}: me {{ id }}")).collect::<Vec<_>>().join(" "));
    let body = app.gql(None, &wide, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    app.ok(None, r#"{ space(handle: "all") { children { nodes { handle } } } }"#, json!({})).await;
}

#[tokio::test(flavor = "current_thread")]
async fn batches_are_allowed_up_to_their_limit() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| s.max_batch = 2).await else { return };
    let (token, _) = app.register("ada").await;
    let two =
        json!([{ "query": "{ me { handle } }" }, { "query": "{ space(handle: \"all\") { handle } }" }]).to_string();
    let (status, body) = code_of(post_raw(&app, Some(&token), "application/json", two, None).await).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["data"]["me"]["handle"], "ada");
    assert_eq!(body[1]["data"]["space"]["handle"], "all");
    let three = json!([{ "query": CREATE }, { "query": CREATE }, { "query": CREATE }]).to_string();
    let (status, body) = code_of(post_raw(&app, Some(&token), "application/json", three, None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION");
    nothing_written(&app).await;
}

#[tokio::test(flavor = "current_thread")]
async fn clients_are_rate_limited_per_user_and_per_address() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        // One token back a minute: however slowly the requests below run, none is refilled in between.
        s.rate_limit_per_minute = 1;
        s.rate_limit_burst = 13;
    })
    .await
    else {
        return;
    };
    // Registering costs 11 tokens of the anonymous (per-address) budget: 1 for the operation, 10 for `register`.
    let (token, _) = app.register("ada").await;
    let me = json!({ "query": "{ me { handle } }" }).to_string();
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let response = post_raw(&app, Some(&token), "application/json", me.clone(), None).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().get("retry-after").is_some());
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["errors"][0]["extensions"]["code"], "RATE_LIMITED");
        }
    }
    let mut expected = vec![200; 13];
    expected.extend([429, 429]);
    assert_eq!(statuses, expected, "the user's burst is 13");
    let create = json!({ "query": CREATE }).to_string();
    assert_eq!(post_raw(&app, Some(&token), "application/json", create, None).await.status(), 429);
    nothing_written(&app).await;
    // Anonymous requests from this address have their own budget: registering and the check above used 12.
    let anon: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(post_raw(&app, None, "application/json", me.clone(), None).await.status().as_u16());
        }
        v
    };
    assert_eq!(anon, [200, 429, 429]);
}

#[tokio::test(flavor = "current_thread")]
async fn websockets_from_unlisted_origins_are_refused_and_cors_follows_the_configuration() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.ws_origins = vec!["https://weco.example".into()];
        s.cors_origins = vec!["https://weco.example".into()];
    })
    .await
    else {
        return;
    };
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    for (origin, allowed) in [("https://evil.example", false), ("https://weco.example", true)] {
        let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
        request.headers_mut().insert("Origin", origin.parse().expect("header"));
        let result = tokio_tungstenite::connect_async(request).await;
        assert_eq!(result.is_ok(), allowed, "{origin}");
    }
    // Non-browser clients send no Origin and are served.
    let _ = WsClient::ready(app.addr, None).await;
    for (origin, expected) in [("https://weco.example", Some("https://weco.example")), ("https://evil.example", None)] {
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
            .await
            .expect("preflight");
        let allow = preflight.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok());
        assert_eq!(allow, expected, "{origin}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn without_websocket_origins_websockets_follow_the_cors_origins() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // As the production configurations do: an allow-list of API origins, and no list of websocket origins.
        let Some(app) = TestApp::spawn_with(backend, |s| {
            s.cors_origins = vec!["https://weco.example".into()];
            s.ws_origins = Vec::new();
        })
        .await
        else {
            continue;
        };
        for (origin, allowed) in [("https://evil.example", false), ("https://weco.example", true)] {
            let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
            request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
            request.headers_mut().insert("Origin", origin.parse().expect("header"));
            let result = tokio_tungstenite::connect_async(request).await;
            assert_eq!(result.is_ok(), allowed, "{backend:?} {origin}");
        }
        let _ = WsClient::ready(app.addr, None).await;
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

async fn persisted_round_trip(first: &TestApp, second: &TestApp) {
    let query = r#"{ space(handle: "all") { handle name } }"#;
    let hash = sha256_hex(query);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let only_hash = json!({ "extensions": ext }).to_string();
    let (_, body) = code_of(post_raw(first, None, "application/json", only_hash.clone(), None).await).await;
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound", "{body}");
    let register = json!({ "query": query, "extensions": ext }).to_string();
    let (_, body) = code_of(post_raw(first, None, "application/json", register, None).await).await;
    assert_eq!(body["data"]["space"]["handle"], "all");
    for app in [first, second] {
        let (status, body) = code_of(post_raw(app, None, "application/json", only_hash.clone(), None).await).await;
        assert_eq!((status, body["data"]["space"]["name"].clone()), (200, json!("All")), "{body}");
    }
    // Over GET too, as Apollo clients send it.
    let ext_param = ext.to_string();
    let response =
        first.client.get(first.url("/graphql")).query(&[("extensions", ext_param.as_str())]).send().await.expect("get");
    assert_eq!(response.json::<Value>().await.expect("json")["data"]["space"]["handle"], "all");
    let wrong = json!({ "query": "{ me { id } }", "extensions": ext }).to_string();
    let (_, body) = code_of(post_raw(first, None, "application/json", wrong, None).await).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION");
}

#[tokio::test(flavor = "current_thread")]
async fn automatic_persisted_queries_work_in_one_process() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    persisted_round_trip(&app, &app).await;
}

#[tokio::test(flavor = "current_thread")]
async fn automatic_persisted_queries_are_shared_by_replicas_through_redis() {
    let Some(redis) = test_redis_url().await else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let setup = |s: &mut weco_server::Settings| {
        s.redis_url = Some(redis.clone());
        s.channel_prefix = prefix.clone();
    };
    let Some(a) = TestApp::spawn_with(Backend::Sqlite, setup).await else { return };
    let Some(b) = TestApp::spawn_with(Backend::Sqlite, setup).await else { return };
    persisted_round_trip(&a, &b).await;
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_count_operations_errors_and_statements() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    app.gql(None, "{ nope }", json!({})).await;
    app.ok(None, r#"{ space(handle: "all") { id } }"#, json!({})).await;
    let text = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    for needle in [
        "weco_graphql_operations_total",
        "weco_graphql_errors_total{code=\"VALIDATION\"} 1",
        "weco_db_statements_total",
        "weco_events_published_total",
        "weco_subscriptions_active",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let response = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert!(response.headers().get("x-request-id").is_some(), "every response carries a request id");
}

#[tokio::test(flavor = "current_thread")]
async fn websocket_messages_over_the_size_limit_close_the_connection() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| s.ws_max_message_bytes = 8_000).await else { return };
    // Under the limit: answered.
    let mut client = WsClient::ready(app.addr, None).await;
    let padding = "x".repeat(6_000);
    client
        .send(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("{{ me {{ id }} }} # {padding}") } }),
        )
        .await;
    match client.next().await {
        e2e::ws::Frame::Json(m) => assert_eq!(m["type"], "next", "{m}"),
        other => panic!("expected the answer, got {other:?}"),
    }
    // Over it: never executed; the connection is closed with 1009 (message too big).
    let huge = "x".repeat(20_000);
    client
        .send(json!({ "id": "2", "type": "subscribe", "payload": { "query": format!("{{ me {{ id }} }} # {huge}") } }))
        .await;
    loop {
        match client.next().await {
            e2e::ws::Frame::Closed(code, _) => {
                assert_eq!(code, 1009, "closed with {code}");
                break;
            }
            e2e::ws::Frame::Json(m) if m["id"] == "1" => continue,
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }
    // The server itself goes on serving.
    app.ok(None, r#"{ space(handle: "all") { handle } }"#, json!({})).await;
}

const TIMEOUT_MS: u64 = 2_000;

/// A mutation still running when the request timeout strikes: the client gets 408 with code `TIMEOUT`, and
/// the transaction the mutation had open is rolled back, on both databases. To make the mutation slow without
/// hooks in the server, another connection holds the target space's row (PostgreSQL) or the write lock
/// (SQLite), so `createPost` waits in the middle of its transaction (on PostgreSQL, after inserting the post).
async fn a_mutation_that_times_out_gets_408_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.request_timeout_ms = Some(TIMEOUT_MS)).await else { return };
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let create = json!({
        "query": "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
        "variables": { "i": { "spaceIds": [space], "title": "patience" } },
    });
    let db = app.db().await;
    let blocker = app.hold_space("agora").await;

    let started = Instant::now();
    let response = app.client.post(app.url("/graphql")).bearer_auth(&token).json(&create).send().await.expect("send");
    let waited = started.elapsed();
    assert_eq!(response.status(), 408);
    let content_type = response.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("2000 ms")), "{body}");
    assert!(waited >= Duration::from_millis(TIMEOUT_MS), "answered after {waited:?}, before the timeout");
    blocker.rollback().await.expect("release the lock");

    // Unhindered, the same request finishes in time. The timed-out one left nothing: its transaction had to
    // end (rolled back) before this one could lock the space, and only this post exists.
    let response = app.client.post(app.url("/graphql")).bearer_auth(&token).json(&create).send().await.expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert!(body["data"]["createPost"]["post"]["id"].is_string(), "{body}");
    assert_eq!(app.feed(None, "agora", "").await, ["patience"]);
    assert_eq!(count(&db, "posts").await, 1, "the timed-out mutation wrote a post");
    let stats = app.ok(None, r#"{ space(handle: "agora") { totalPosts } }"#, json!({})).await;
    assert_eq!(stats["space"]["totalPosts"], 1, "counters count one post");
}

mod a_mutation_that_times_out_gets_408_and_writes_nothing {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        a_mutation_that_times_out_gets_408_and_writes_nothing(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        a_mutation_that_times_out_gets_408_and_writes_nothing(Backend::Postgres).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_timeout_error_follows_the_accepted_media_type() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout_ms = Some(1)).await else { return };
    // Registering hashes a password on a blocking thread: far longer than a millisecond.
    let register = json!({ "query": "mutation { register(input: {handle: \"ada\", name: \"Ada\", email: \"ada@example.org\", password: \"password-123\"}) { token } }" }).to_string();
    let response = post_raw(&app, None, "application/json", register, Some("application/graphql-response+json")).await;
    assert_eq!(response.status(), 408);
    let content_type = response.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/graphql-response+json"), "{content_type}");
    let (_, body) = code_of(response).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "TIMEOUT", "{body}");
    assert_eq!(count(&app.db().await, "users").await, 0, "the timed-out registration wrote a user");
}

async fn count(db: &sea_orm::DatabaseConnection, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row =
        db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("count").expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}
