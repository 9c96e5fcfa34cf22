//! One request must never cost more than its share: the rate limiter charges each operation its work (aliased
//! logins included, over HTTP and websockets alike), logins back off per account and per address, responses and
//! websocket operations have their limits, documents whose fragments multiply are refused before validation,
//! out-of-range integers are bad input, and the server's own limits are settings.

use e2e::ws::{Frame, WsClient};
use e2e::{Backend, TestApp, eventually};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use weco_server::Settings;

/// Generates a SQLite and a PostgreSQL test for each `name => |settings| …`: the server runs with those settings.
macro_rules! on_both_backends_with {
    ($($name:ident => $settings:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    if let Some(app) = TestApp::spawn_with(Backend::Sqlite, $settings).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    if let Some(app) = TestApp::spawn_with(Backend::Postgres, $settings).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// A budget of 30 tokens, refilled at one every ten seconds (nothing a test notices): a login costs 1 for the
/// operation and 10 for the field.
fn small_budget(s: &mut Settings) {
    s.rate_limit_per_minute = 6;
    s.rate_limit_burst = 30;
}

on_both_backends_with!(
    aliased_logins_are_each_charged_and_a_request_over_the_budget_gets_429 => small_budget,
    websocket_operations_are_charged_their_work_from_the_same_budget => small_budget,
    an_account_that_keeps_failing_to_log_in_waits_longer_each_time_until_a_success => |s: &mut Settings| {
        s.login_failures_before_delay = 3;
        s.login_address_failures_before_delay = 0;
    },
    an_address_that_keeps_failing_to_log_in_is_refused_whatever_account_it_names => |s: &mut Settings| {
        s.login_failures_before_delay = 0;
        s.login_address_failures_before_delay = 3;
    },
    responses_over_the_size_limit_are_replaced_by_an_error_over_http_and_websockets => |s: &mut Settings| {
        s.max_response_bytes = 4_096;
    },
    a_websocket_operation_over_the_timeout_gets_a_timeout_error_and_the_socket_lives_on => |s: &mut Settings| {
        s.request_timeout_ms = Some(1_000);
    },
    documents_whose_fragments_spread_twice_are_refused_in_milliseconds_on_every_path => |_: &mut Settings| {},
    out_of_range_integers_are_validation_errors => |_: &mut Settings| {},
    lists_whose_length_the_cost_cannot_know_are_held_to_the_cost_limit_as_they_resolve => |s: &mut Settings| {
        s.max_complexity = 150;
    },
    a_websocket_may_hold_only_so_many_operations_at_once => |s: &mut Settings| s.ws_max_subscriptions = 2,
    an_address_may_hold_only_so_many_websockets_at_once => |s: &mut Settings| s.ws_max_connections_per_address = 2,
    metrics_are_served_on_their_own_address_when_configured => |s: &mut Settings| {
        s.metrics_listen = Some("127.0.0.1:0".into());
    },
    graphiql_is_served_with_a_content_security_policy => |_: &mut Settings| {},
    introspection_and_field_suggestions_can_be_switched_off => |s: &mut Settings| {
        s.introspection = false;
        s.field_suggestions = false;
    },
);

const LOGIN: &str = r#"login(input: { login: "nobody", password: "wrong-password" }) { token }"#;

/// Posts `query` without a token: the status, the `Retry-After` header and the body.
async fn post(app: &TestApp, body: Value) -> (u16, Option<String>, Value) {
    let response = app.client.post(app.url("/graphql")).json(&body).send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, retry_after, response.json().await.expect("a JSON body"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

async fn aliased_logins_are_each_charged_and_a_request_over_the_budget_gets_429(app: TestApp) {
    // Two logins in one request: 1 + 2 × 10 = 21 of the 30 tokens. Both run (and fail: no such account).
    let two = format!("mutation {{ a: {LOGIN} b: {LOGIN} }}");
    let (status, _, body) = post(&app, json!({ "query": two })).await;
    assert_eq!((status, code(&body)), (200, "UNAUTHENTICATED"), "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(2), "{body}");

    // One more login costs 11; 9 are left.
    let (status, retry_after, body) = post(&app, json!({ "query": format!("mutation {{ {LOGIN} }}") })).await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    let wait: u64 = retry_after.as_deref().and_then(|v| v.parse().ok()).expect("a Retry-After in seconds");
    assert!((1..=30).contains(&wait), "two tokens short at one every ten seconds: Retry-After {wait}");

    // The refused request took nothing: a query (cost 1) still fits.
    let (status, _, body) = post(&app, json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, body["data"]["__typename"].clone()), (200, json!("Query")), "{body}");

    // Three logins spread through a fragment cost 31: more than the whole burst, so never, with a clear message.
    let spread = format!("mutation {{ ...F }} fragment F on Mutation {{ a: {LOGIN} b: {LOGIN} c: {LOGIN} }}");
    let (status, _, body) = post(&app, json!({ "query": spread })).await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
    assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.contains("31")), "{body}");

    // A batch is charged per operation: nine queries cost nine, more than the 8 tokens left.
    let batch: Vec<Value> = (0..9).map(|_| json!({ "query": "{ __typename }" })).collect();
    let (status, _, body) = post(&app, Value::Array(batch)).await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"), "{body}");
}

async fn websocket_operations_are_charged_their_work_from_the_same_budget(app: TestApp) {
    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("two", &format!("mutation {{ a: {LOGIN} b: {LOGIN} }}"), json!({})).await;
    // Both logins ran and failed (no such account): the operation has no data, so it ends in `error`.
    let answer = client.next_json().await;
    assert_eq!((answer["id"].clone(), answer["type"].clone()), (json!("two"), json!("error")), "{answer}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "UNAUTHENTICATED", "{answer}");
    assert_eq!(answer["payload"].as_array().map(Vec::len), Some(2), "{answer}");

    // 9 tokens left: one more login (11) is refused for that operation only.
    client.subscribe("one", &format!("mutation {{ {LOGIN} }}"), json!({})).await;
    let refused = client.next_json().await;
    assert_eq!((refused["id"].clone(), refused["type"].clone()), (json!("one"), json!("error")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{refused}");

    // The connection lives on, and HTTP shares the budget: a query still fits there.
    client.round_trip().await;
    client.subscribe("q", "{ __typename }", json!({})).await;
    assert_eq!(client.next_json().await["payload"]["data"]["__typename"], "Query");
    let (status, _, _) = post(&app, json!({ "query": format!("mutation {{ {LOGIN} }}") })).await;
    assert_eq!(status, 429, "HTTP draws on the budget the websocket used");
}

async fn login(app: &TestApp, login: &str, password: &str) -> Value {
    let query = "mutation($i: LoginInput!) { login(input: $i) { token } }";
    app.gql(None, query, json!({ "i": { "login": login, "password": password } })).await
}

/// The seconds a refused login says to wait.
fn wait_of(body: &Value) -> u64 {
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    let seconds = message.split("try again in ").nth(1).and_then(|rest| rest.split(' ').next());
    seconds.and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no wait in {body}"))
}

async fn an_account_that_keeps_failing_to_log_in_waits_longer_each_time_until_a_success(app: TestApp) {
    app.register("ada").await;
    app.register("bob").await;
    for _ in 0..3 {
        assert_eq!(code(&login(&app, "ada", "not-her-password").await), "UNAUTHENTICATED");
    }
    // Three failures in a row: the account waits a second, even for the right password, by handle or e-mail.
    let refused = login(&app, "ada", "password-123").await;
    assert_eq!(code(&refused), "RATE_LIMITED", "{refused}");
    assert_eq!(wait_of(&refused), 1, "{refused}");
    assert_eq!(code(&login(&app, "ADA@example.org", "password-123").await), "RATE_LIMITED");
    // Another account is not held up.
    assert!(login(&app, "bob", "password-123").await["data"]["login"]["token"].is_string());

    // Once the second has passed, the next failure doubles the wait.
    eventually("the first delay to pass", async || {
        code(&login(&app, "ada", "not-her-password").await) == "UNAUTHENTICATED"
    })
    .await;
    let refused = login(&app, "ada", "password-123").await;
    assert_eq!((code(&refused), wait_of(&refused)), ("RATE_LIMITED", 2), "{refused}");

    // A success after the wait clears the count: a wrong password is then just wrong again.
    eventually("the doubled delay to pass", async || {
        login(&app, "ada", "password-123").await["data"]["login"]["token"].is_string()
    })
    .await;
    assert_eq!(code(&login(&app, "ada", "not-her-password").await), "UNAUTHENTICATED");
    assert!(login(&app, "ada", "password-123").await["data"]["login"]["token"].is_string());
}

async fn an_address_that_keeps_failing_to_log_in_is_refused_whatever_account_it_names(app: TestApp) {
    app.register("ada").await;
    for name in ["x1", "x2", "x3"] {
        assert_eq!(code(&login(&app, name, "guess-guess").await), "UNAUTHENTICATED");
    }
    let refused = login(&app, "ada", "password-123").await;
    assert_eq!(code(&refused), "RATE_LIMITED", "{refused}");
}

async fn responses_over_the_size_limit_are_replaced_by_an_error_over_http_and_websockets(app: TestApp) {
    let big = "{ __schema { types { name description fields { name description } } } }";
    let (status, _, body) = post(&app, json!({ "query": big })).await;
    assert_eq!((status, code(&body)), (200, "RESPONSE_TOO_LARGE"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(body.to_string().len() < 4_096);
    let (_, _, body) = post(&app, json!({ "query": r#"{ space(handle: "all") { handle } }"# })).await;
    assert_eq!(body["data"]["space"]["handle"], "all", "small responses pass: {body}");

    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("big", big, json!({})).await;
    let refused = client.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE", "{refused}");
    client.subscribe("small", "{ __typename }", json!({})).await;
    assert_eq!(client.next_json().await["payload"]["data"]["__typename"], "Query");
}

async fn a_websocket_operation_over_the_timeout_gets_a_timeout_error_and_the_socket_lives_on(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let input = json!({ "i": { "spaceIds": [space], "title": "patience" } });
    // Another connection holds the space's row (PostgreSQL) or the write lock (SQLite): the mutation waits in
    // the middle of its transaction.
    let db = app.db().await;
    let blocker = app.hold_space("agora").await;

    let mut client = WsClient::ready(app.addr, Some(&token)).await;
    let started = Instant::now();
    client.subscribe("slow", create, input.clone()).await;
    let answer = client.next_within(Duration::from_secs(10)).await;
    let Some(Frame::Json(answer)) = answer else { panic!("no answer within 10 s: {answer:?}") };
    assert_eq!((answer["id"].clone(), answer["type"].clone()), (json!("slow"), json!("error")), "{answer}");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "TIMEOUT", "{answer}");
    assert!(started.elapsed() >= Duration::from_secs(1), "answered before the timeout");
    client.round_trip().await;
    blocker.rollback().await.expect("release the lock");

    // The socket goes on, the same mutation now finishes, and the timed-out one wrote nothing.
    client.subscribe("fast", create, input).await;
    let done = client.next_json().await;
    assert!(done["payload"]["data"]["createPost"]["post"]["id"].is_string(), "{done}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM posts"))
        .await
        .expect("count")
        .expect("a row");
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), 1, "the timed-out mutation wrote a post");
}

/// `fragment F_i on Query { ...F_{i+1} ...F_{i+1} }`, 24 deep: 2.5 KB whose expansion has 2^24 fields.
fn doubling_fragments() -> String {
    let mut document = String::from("query Doubling { ...F0 }\n");
    for i in 0..24 {
        document.push_str(&format!("fragment F{i} on Query {{ ...F{n} ...F{n} }}\n", n = i + 1));
    }
    document.push_str("fragment F24 on Query { __typename }\n");
    document
}

fn assert_refused_quickly(started: Instant, errors: &Value, path: &str) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "{path}: refused after {took:?}");
    assert_eq!(errors[0]["extensions"]["code"], "VALIDATION", "{path}: {errors}");
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("fragments"), "{path}: {message}");
}

async fn documents_whose_fragments_spread_twice_are_refused_in_milliseconds_on_every_path(app: TestApp) {
    let document = doubling_fragments();
    assert!(document.len() < 2_600);

    let started = Instant::now();
    let (_, _, body) = post(&app, json!({ "query": document })).await;
    assert_refused_quickly(started, &body["errors"], "POST");

    let started = Instant::now();
    let response = app.client.get(app.url("/graphql")).query(&[("query", document.as_str())]).send().await;
    let body: Value = response.expect("GET").json().await.expect("JSON");
    assert_refused_quickly(started, &body["errors"], "GET");

    let hash: String = Sha256::digest(document.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let started = Instant::now();
    let (_, _, body) = post(&app, json!({ "query": document, "extensions": extensions })).await;
    assert_refused_quickly(started, &body["errors"], "persisted query");

    let mut client = WsClient::ready(app.addr, None).await;
    let started = Instant::now();
    client.subscribe("1", &document, json!({})).await;
    let refused = client.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_refused_quickly(started, &refused["payload"], "graphql-transport-ws");
    client.round_trip().await;

    let mut legacy = WsClient::connect(app.addr, "graphql-ws").await;
    legacy.send(json!({ "type": "connection_init", "payload": {} })).await;
    assert_eq!(legacy.next_json().await["type"], "connection_ack");
    let started = Instant::now();
    legacy.send(json!({ "id": "1", "type": "start", "payload": { "query": document } })).await;
    let refused = loop {
        let message = legacy.next_json().await;
        if message["type"] == "data" {
            break message;
        }
    };
    assert_refused_quickly(started, &refused["payload"]["errors"], "graphql-ws");
}

async fn out_of_range_integers_are_validation_errors(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let literal = r#"{ space(handle: "all") { children(first: 2147483648) { totalCount } } }"#;
    let body = app.gql(None, literal, json!({})).await;
    assert_eq!(code(&body), "VALIDATION", "{body}");
    let variable = r#"query($f: Int) { space(handle: "all") { children(first: $f) { totalCount } } }"#;
    let body = app.gql(None, variable, json!({ "f": 2_147_483_648_i64 })).await;
    assert_eq!(code(&body), "VALIDATION", "{body}");
    let space = app.create_space(&token, "agora", None).await;
    let post = app.create_post(&token, &[&space], "rated").await;
    let rate = "mutation($p: ID!) { ratePost(postId: $p, value: 10000000000) { id } }";
    let body = app.gql(Some(&token), rate, json!({ "p": post })).await;
    assert_eq!(code(&body), "VALIDATION", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "value", "{body}");
}

async fn lists_whose_length_the_cost_cannot_know_are_held_to_the_cost_limit_as_they_resolve(app: TestApp) {
    // A chain of twelve nested spaces: the deepest has twelve ancestors, each of those as many as it is deep.
    let (token, _) = app.register("ada").await;
    let mut parent: Option<String> = None;
    for depth in 1..=12 {
        let id = app.create_space(&token, &format!("chain-{depth}"), parent.as_deref()).await;
        parent = Some(id);
    }
    // One level is what it looks like.
    let data = app.ok(None, r#"{ space(handle: "chain-12") { ancestors { handle } } }"#, json!({})).await;
    assert_eq!(data["space"]["ancestors"].as_array().map(Vec::len), Some(12));
    // Four levels cost a handful before execution, and would resolve more than a thousand fields.
    let nested = r#"{ space(handle: "chain-12") { ancestors { ancestors { ancestors { ancestors { handle } } } } } }"#;
    let body = app.gql(None, nested, json!({})).await;
    assert_eq!(code(&body), "RESPONSE_TOO_LARGE", "{}", body.to_string().chars().take(400).collect::<String>());
    assert_eq!(
        body["errors"].as_array().map(Vec::len),
        Some(1),
        "{}",
        body.to_string().chars().take(400).collect::<String>()
    );
    assert!(body["data"].is_null(), "the response is replaced by the error");
    let size = body.to_string().len();
    assert!(size < 40_000, "the work stopped about where the limit is: {size} bytes");
}

async fn a_websocket_may_hold_only_so_many_operations_at_once(app: TestApp) {
    let space = app.root_id().await;
    let feed = |n: u32| format!("subscription($s: ID!) {{ spaceFeed(spaceId: $s) {{ __typename t{n}: __typename }} }}");
    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("a", &feed(1), json!({ "s": space })).await;
    client.subscribe("b", &feed(2), json!({ "s": space })).await;
    app.wait_for_subscriptions(2).await;
    client.subscribe("c", &feed(3), json!({ "s": space })).await;
    let refused = client.next_json().await;
    assert_eq!((refused["id"].clone(), refused["type"].clone()), (json!("c"), json!("error")), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{refused}");
    // Ending one makes room for another.
    client.send(json!({ "id": "a", "type": "complete" })).await;
    client.subscribe("d", &feed(4), json!({ "s": space })).await;
    client.round_trip().await;
    app.wait_for_subscriptions(2).await;
}

async fn an_address_may_hold_only_so_many_websockets_at_once(app: TestApp) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let first = WsClient::ready(app.addr, None).await;
    let _second = WsClient::ready(app.addr, None).await;
    let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
    match tokio_tungstenite::connect_async(request.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("JSON");
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        }
        Err(other) => panic!("refused, but not with 429: {other}"),
        Ok(_) => panic!("a third websocket from one address was accepted"),
    }
    // Closing one makes room again.
    drop(first);
    eventually("a closed websocket to make room", async || {
        tokio_tungstenite::connect_async(request.clone()).await.is_ok()
    })
    .await;
}

async fn metrics_are_served_on_their_own_address_when_configured(app: TestApp) {
    let metrics = app.metrics_addr.expect("a metrics address");
    assert_ne!(metrics, app.addr);
    let response = app.client.get(app.url("/metrics")).send().await.expect("request");
    assert_eq!(response.status(), 404, "not on the main address");
    let text = app.client.get(format!("http://{metrics}/metrics")).send().await.expect("request");
    assert_eq!(text.status(), 200);
    assert!(text.text().await.expect("text").contains("weco_graphql_operations_total"));
    let other = app.client.get(format!("http://{metrics}/graphql?query=%7B__typename%7D")).send().await;
    assert_eq!(other.expect("request").status(), 404, "the metrics address serves nothing else");
}

async fn graphiql_is_served_with_a_content_security_policy(app: TestApp) {
    let page = app.client.get(app.url("/graphiql")).send().await.expect("request");
    let policy = page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let policy = policy.expect("a Content-Security-Policy header");
    let directive =
        |name: &str| policy.split(';').map(str::trim).find(|d| d.starts_with(name)).unwrap_or_default().to_owned();
    assert_eq!(directive("script-src"), "script-src 'self'", "{policy}");
    assert_eq!(directive("connect-src"), "connect-src 'self'", "{policy}");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'", "{policy}");
    // The page has no inline script left for the policy to block.
    let html = page.text().await.expect("text");
    assert!(!html.contains("<script>"), "inline script in the page");
}

async fn introspection_and_field_suggestions_can_be_switched_off(app: TestApp) {
    // The engine answers introspection fields with null, as if the schema had nothing to tell.
    let body = app.gql(None, "{ __schema { queryType { name } } }", json!({})).await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    let body = app.gql(None, r#"{ __type(name: "Space") { name } }"#, json!({})).await;
    assert!(body["data"]["__type"].is_null(), "{body}");
    assert_eq!(app.ok(None, "{ __typename }", json!({})).await["__typename"], "Query");
    let body = app.gql(None, r#"{ spac(handle: "all") { id } }"#, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("spac") && !message.contains("Did you mean"), "{message}");

    // By default both are on.
    let Some(open) = TestApp::spawn(app.backend).await else { return };
    let body = open.ok(None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["__schema"]["queryType"]["name"], "Query");
    let body = open.gql(None, r#"{ spac(handle: "all") { id } }"#, json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("Did you mean"), "{body}");
}
