//! Poll deadlines on the durable job queue, with servers as separate processes: a governance poll whose end
//! passes while no server runs is decided at the next start; two replicas and a `closePoll` racing the
//! deadline decide it once.

use e2e::process::ServerProcess;
use e2e::{Backend, TestDatabase, eventually};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::net::SocketAddr;

async fn gql(client: &reqwest::Client, addr: SocketAddr, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request =
        client.post(format!("http://{addr}/graphql")).json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("a response").json().await.expect("JSON")
}

async fn ok(client: &reqwest::Client, addr: SocketAddr, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = gql(client, addr, token, query, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}\nquery: {query}");
    body["data"].clone()
}

async fn count(url: &str, sql: &str) -> i64 {
    let db = Database::connect(url).await.expect("the test database");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    let n = row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n");
    let _ = db.close().await;
    n
}

/// Registers ada, creates the space `town` and proposes a square under it, ending `ends_in` from now; ada
/// votes for it. Returns (token, poll id, end time).
async fn proposal(
    client: &reqwest::Client,
    addr: SocketAddr,
    ends_in: chrono::Duration,
) -> (String, String, chrono::DateTime<chrono::Utc>) {
    let register = "mutation { register(input: {handle: \"ada\", name: \"Ada\", email: \"ada@example.org\", password: \"password-123\"}) { token } }";
    let token =
        ok(client, addr, None, register, json!({})).await["register"]["token"].as_str().unwrap_or_default().to_owned();
    let create = "mutation { createSpace(input: {handle: \"town\", name: \"Town\"}) { space { id } } }";
    let town = ok(client, addr, Some(&token), create, json!({})).await["createSpace"]["space"]["id"].clone();
    let ends_at = chrono::Utc::now() + ends_in;
    let poll = json!({ "type": "SINGLE", "endsAt": ends_at.to_rfc3339(), "governance": {}, "answers": [
        { "text": "a square", "action": { "kind": "CREATE_CHILD_SPACE", "handle": "square", "name": "Square" } },
        { "text": "no" },
    ] });
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id poll { answers { id } } } } }";
    let post =
        ok(client, addr, Some(&token), q, json!({ "i": { "spaceIds": [town], "title": "a square?", "poll": poll } }))
            .await["createPost"]["post"]
            .clone();
    let vote = "mutation($p: ID!, $a: ID!) { voteOnPoll(postId: $p, ballot: [{ answerId: $a }]) { totalVoters } }";
    ok(client, addr, Some(&token), vote, json!({ "p": post["id"], "a": post["poll"]["answers"][0]["id"] })).await;
    (token, post["id"].as_str().unwrap_or_default().to_owned(), ends_at)
}

async fn square_exists(client: &reqwest::Client, addr: SocketAddr) -> bool {
    ok(client, addr, None, "{ space(handle: \"square\") { id } }", json!({})).await["space"].is_object()
}

async fn deadline_passing_while_no_server_runs(backend: Backend) {
    let Some(database) = TestDatabase::create(backend).await.expect("database") else { return };
    let client = reqwest::Client::new();
    let first = ServerProcess::spawn(&database.url, None, "weco").expect("weco (is the binary built?)");
    let (_, _, ends_at) = proposal(&client, first.addr, chrono::Duration::seconds(2)).await;
    drop(first);
    eventually("the end time to pass with no server running", async || chrono::Utc::now() > ends_at).await;
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM decisions").await, 0, "nobody decided yet");
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM jobs").await, 1, "the end job waits");
    let next = ServerProcess::spawn(&database.url, None, "weco").expect("weco restarted");
    eventually("the restarted server to decide", async || square_exists(&client, next.addr).await).await;
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM decisions").await, 1);
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM jobs").await, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_deadline_that_passes_while_no_server_runs_is_decided_at_the_next_start_sqlite() {
    deadline_passing_while_no_server_runs(Backend::Sqlite).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_deadline_that_passes_while_no_server_runs_is_decided_at_the_next_start_postgres() {
    deadline_passing_while_no_server_runs(Backend::Postgres).await;
}

/// Two replicas run due jobs; a `closePoll` through each races the end job. One decision, one new space.
#[tokio::test(flavor = "current_thread")]
async fn two_replicas_and_two_closes_racing_the_deadline_decide_once() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let client = reqwest::Client::new();
    let a = ServerProcess::spawn(&database.url, None, "weco").expect("replica A (is the weco binary built?)");
    let b = ServerProcess::spawn(&database.url, None, "weco").expect("replica B");
    let (token, post, ends_at) = proposal(&client, a.addr, chrono::Duration::milliseconds(1500)).await;
    let close = "mutation($p: ID!) { closePoll(postId: $p) { closed } }";
    eventually("the deadline to come near", async || {
        chrono::Utc::now() + chrono::Duration::milliseconds(30) >= ends_at
    })
    .await;
    let (at_a, at_b) = tokio::join!(
        gql(&client, a.addr, Some(&token), close, json!({ "p": post })),
        gql(&client, b.addr, Some(&token), close, json!({ "p": post })),
    );
    let closed = [&at_a, &at_b].iter().filter(|r| r["data"]["closePoll"]["closed"] == true).count();
    for response in [&at_a, &at_b] {
        let fine = response["data"]["closePoll"]["closed"] == true
            || response["errors"][0]["extensions"]["code"] == "POLL_CLOSED";
        assert!(fine, "{response}");
    }
    assert!(closed <= 1, "one close at most: {at_a} {at_b}");
    eventually("the end job to have run", async || count(&database.url, "SELECT COUNT(*) AS n FROM jobs").await == 0)
        .await;
    assert!(square_exists(&client, b.addr).await);
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM decisions").await, 1, "decided once");
    assert_eq!(count(&database.url, "SELECT COUNT(*) AS n FROM spaces WHERE handle = 'square'").await, 1);
}
