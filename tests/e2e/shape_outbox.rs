//! The outbox survives a crash between a commit and its publication: the real `weco` binary, started with the
//! `abort-after-commit` failpoint, dies right after committing a post; the event it never published is published
//! later by recovery (another replica's, or its own after a restart), exactly once, and the outbox is left empty.

use e2e::process::ServerProcess;
use e2e::ws::WsClient;
use e2e::{
    Backend, PATIENCE, TestDatabase, eventually, metric_at, test_redis_url, wait_for_redis_subscribers,
    wait_for_subscriptions_at,
};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const FEED: &str =
    "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename ... on PostAdded { post { title } } } }";
const CREATE_POST: &str =
    "mutation($s: ID!, $t: String!) { createPost(input: {spaceIds: [$s], title: $t}) { post { id } } }";

/// How long recovery may take to publish a stranded event: the 5 s grace, a 2 s recovery period, and room for
/// a busy machine.
const RECOVERY_PATIENCE: Duration = Duration::from_secs(30);

/// A GraphQL request to the server at `addr`; `Err` when no response came (the server died).
async fn gql_at(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> reqwest::Result<Value> {
    let mut request =
        client.post(format!("http://{addr}/graphql")).json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await?.json::<Value>().await
}

/// Runs a request that must succeed and returns its `data`.
async fn ok_at(
    client: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let body = gql_at(client, addr, token, query, variables).await.expect("a response");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}\nquery: {query}");
    body["data"].clone()
}

/// Registers Ada and creates a space, through the server at `addr`; returns (token, space id).
async fn ada_and_space(client: &reqwest::Client, addr: SocketAddr) -> (String, String) {
    let register = "mutation { register(input: {handle: \"ada\", name: \"Ada\", email: \"ada@example.org\", password: \"password-123\"}) { token } }";
    let token =
        ok_at(client, addr, None, register, json!({})).await["register"]["token"].as_str().expect("token").to_owned();
    let create = "mutation { createSpace(input: {handle: \"agora\", name: \"Agora\"}) { space { id } } }";
    let space = ok_at(client, addr, Some(&token), create, json!({})).await["createSpace"]["space"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (token, space)
}

/// Creates a post through a server that aborts right after the commit: the request gets no response.
async fn create_post_and_crash(client: &reqwest::Client, addr: SocketAddr, token: &str, space: &str, title: &str) {
    let outcome = gql_at(client, addr, Some(token), CREATE_POST, json!({ "s": space, "t": title })).await;
    assert!(outcome.is_err(), "the server with the failpoint answered instead of aborting: {outcome:?}");
    eventually("the aborted server to stop listening", async || tokio::net::TcpStream::connect(addr).await.is_err())
        .await;
}

/// The rows left in the outbox table of the database at `url`.
async fn outbox_rows(url: &str) -> Vec<(String, String)> {
    let db = Database::connect(url).await.expect("connecting to the test database");
    let statement = Statement::from_string(db.get_database_backend(), "SELECT topics, event FROM outbox");
    let rows = db.query_all_raw(statement).await.expect("reading the outbox");
    let rows = rows
        .iter()
        .map(|r| (r.try_get::<String>("", "topics").expect("topics"), r.try_get::<String>("", "event").expect("event")))
        .collect();
    let _ = db.close().await;
    rows
}

/// The title of the post in the next `spaceFeed` event, which must be a `PostAdded`.
async fn next_added(client: &mut WsClient, within: Duration) -> String {
    let Some(e2e::ws::Frame::Json(message)) = client.next_within(within).await else {
        panic!("no feed event within {within:?}")
    };
    assert_eq!(message["type"], "next", "{message}");
    let event = &message["payload"]["data"]["spaceFeed"];
    assert_eq!(event["__typename"], "PostAdded", "{message}");
    event["post"]["title"].as_str().unwrap_or_default().to_owned()
}

/// Two replicas over one PostgreSQL database and one Redis. A `spaceFeed` subscriber listens on replica B; a
/// post is created through replica A, which aborts right after committing it, before publishing. Replica A is
/// restarted without the failpoint, so both replicas run recovery (and claim rows with SKIP LOCKED). The
/// subscriber receives the post exactly once: a sentinel posted through B afterwards is its very next event.
/// The outbox ends empty.
#[tokio::test(flavor = "current_thread")]
async fn an_event_committed_by_a_replica_that_crashed_before_publishing_reaches_another_replica_exactly_once() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B (is the weco binary built?)");
    let a = ServerProcess::spawn_with(&database.url, |c| {
        c.env("WECO_CHANNEL_PREFIX", &prefix).env("REDIS_URL", &redis).env("WECO_FAILPOINT", "abort-after-commit");
    })
    .expect("replica A with the failpoint");
    let client = reqwest::Client::new();
    // Replica A dies at its first commit: everything else goes through B.
    let (token, space) = ada_and_space(&client, b.addr).await;
    let mut subscriber = WsClient::ready(b.addr, None).await;
    subscriber.subscribe("f", FEED, json!({ "s": space })).await;
    wait_for_subscriptions_at(&client, b.addr, 1).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:space:{space}"), 1).await;

    create_post_and_crash(&client, a.addr, &token, &space, "stranded").await;
    drop(a);
    // The post was committed although its author never heard back.
    let titles =
        ok_at(&client, b.addr, None, "{ space(handle: \"agora\") { posts { nodes { title } } } }", json!({})).await;
    assert_eq!(titles["space"]["posts"]["nodes"], json!([{ "title": "stranded" }]));

    let _a = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica A restarted");
    assert_eq!(next_added(&mut subscriber, RECOVERY_PATIENCE).await, "stranded", "the stranded event is published");
    ok_at(&client, b.addr, Some(&token), CREATE_POST, json!({ "s": space, "t": "sentinel" })).await;
    assert_eq!(next_added(&mut subscriber, PATIENCE).await, "sentinel", "the stranded event came exactly once");
    eventually("the outbox to be empty", async || outbox_rows(&database.url).await.is_empty()).await;
}

/// One process on SQLite, started with the failpoint, dies right after committing a post. The event's row is
/// in the outbox file; the server started again on the same file publishes it (its published-events counter
/// counts exactly the row's topics, since nothing else is published there) and clears the outbox.
///
/// (A websocket subscriber on the restarted server would have to be live before recovery's 5 s grace, counted
/// from the crash, runs out — a race with the restart — so the publication is observed through the metrics.)
#[tokio::test(flavor = "current_thread")]
async fn an_event_committed_by_a_process_that_crashed_before_publishing_is_published_when_it_restarts() {
    let Some(database) = TestDatabase::create(Backend::Sqlite).await.expect("database") else { return };
    let client = reqwest::Client::new();
    // Every commit of a process with the failpoint aborts it: the account and the space are made before.
    let setup = ServerProcess::spawn(&database.url, None, "weco").expect("weco (is the binary built?)");
    let (token, space) = ada_and_space(&client, setup.addr).await;
    eventually("the setup's events to be cleared from the outbox", async || {
        metric_at(&client, setup.addr, "weco_outbox_pending").await == 0
    })
    .await;
    drop(setup);

    let crashing = ServerProcess::spawn_with(&database.url, |c| {
        c.env("WECO_FAILPOINT", "abort-after-commit");
    })
    .expect("weco with the failpoint");
    create_post_and_crash(&client, crashing.addr, &token, &space, "stranded").await;
    drop(crashing);

    let rows = outbox_rows(&database.url).await;
    assert_eq!(rows.len(), 1, "the stranded event's row survives the crash: {rows:?}");
    let (topics, event) = &rows[0];
    assert!(event.contains("\"PostAdded\"") && event.contains("stranded"), "{event}");
    let topics: Vec<Value> = serde_json::from_str(topics).expect("topics are JSON");
    assert_eq!(topics.len(), 2, "the space and the root above it: {topics:?}");
    let topics = topics.len() as u64;

    let restarted = ServerProcess::spawn(&database.url, None, "weco").expect("weco restarted");
    wait_until("the restarted server to publish the stranded event", RECOVERY_PATIENCE, async || {
        metric_at(&client, restarted.addr, "weco_events_published_total").await >= topics
    })
    .await;
    eventually("the outbox to be empty", async || metric_at(&client, restarted.addr, "weco_outbox_pending").await == 0)
        .await;
    assert!(outbox_rows(&database.url).await.is_empty());
    let published = metric_at(&client, restarted.addr, "weco_events_published_total").await;
    assert_eq!(published, topics, "published once on each of its topics");
}

/// Polls `check` until it holds, failing the test naming `what` if it does not within `patience`.
async fn wait_until(what: &str, patience: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out after {patience:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
