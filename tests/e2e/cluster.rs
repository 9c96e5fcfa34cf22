//! Two servers, one PostgreSQL database, one Redis Cluster (three nodes the test starts itself): events travel
//! between the replicas over sharded pub/sub, and persisted queries are shared through the cluster.

use e2e::process::{RedisClusterProcess, ServerProcess};
use e2e::ws::WsClient;
use e2e::{Backend, PATIENCE, TestApp, TestDatabase, poll_until, services_required, wait_for_subscriptions_at};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FEED: &str =
    "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename ... on PostAdded { post { title } } } }";

/// How many connections each node of the cluster has subscribed to the sharded channel `channel` (`PUBSUB
/// SHARDNUMSUB`; each node knows only its own), by port.
async fn shard_subscribers(cluster: &RedisClusterProcess, channel: &str) -> Vec<(u16, i64)> {
    let mut counts = Vec::new();
    for port in &cluster.ports {
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut conn = client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("PUBSUB SHARDNUMSUB on {url}: {e}"));
        counts.push((*port, n));
    }
    counts
}

#[tokio::test(flavor = "current_thread")]
async fn a_space_feed_subscriber_on_one_replica_sees_a_post_made_through_another_over_a_redis_cluster() {
    let cluster = match RedisClusterProcess::start() {
        Ok(cluster) => cluster,
        Err(e) => {
            assert!(!services_required(), "a Redis Cluster is required (WECO_REQUIRE_SERVICES=1): {e}");
            eprintln!("SKIPPED: cannot start a Redis Cluster ({e}); install redis-server 7 to run this test");
            return;
        }
    };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let replica = || {
        ServerProcess::spawn_with(&database.url, |command| {
            command.env("WECO_REDIS_CLUSTER_URLS", cluster.urls()).env("WECO_CHANNEL_PREFIX", &prefix);
        })
    };
    // The first replica migrates the database before it listens; the second finds it ready.
    let a = replica().expect("replica A (is the weco binary built?)");
    let b = replica().expect("replica B");
    // Any test app gives us an HTTP client; talk to the replicas through it.
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (on_a, on_b) = (app.at(a.addr), app.at(b.addr));
    let register = "mutation { register(input: {handle: \"ada\", name: \"Ada\", email: \"ada@example.org\", password: \"password-123\"}) { token } }";
    let token = on_b.ok(None, register, json!({})).await["register"]["token"].as_str().expect("token").to_owned();
    let create_space = "mutation { createSpace(input: {handle: \"agora\", name: \"Agora\"}) { space { id } } }";
    let space = on_a.ok(Some(&token), create_space, json!({})).await["createSpace"]["space"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let mut subscriber = WsClient::ready(a.addr, None).await;
    subscriber.subscribe("f", FEED, json!({ "s": space })).await;
    // Live once A listens on the space's channel and the node owning its slot has A subscribed.
    wait_for_subscriptions_at(&app.client, a.addr, 1).await;
    let channel = format!("{prefix}:space:{space}");
    let subscribed = async || shard_subscribers(&cluster, &channel).await.iter().map(|(_, n)| n).sum::<i64>() >= 1;
    if !poll_until(subscribed).await {
        let counts = shard_subscribers(&cluster, &channel).await;
        let metrics = app.client.get(format!("http://{}/metrics", a.addr)).send().await.expect("GET /metrics");
        let metrics = metrics.text().await.unwrap_or_default();
        let realtime: Vec<&str> =
            metrics.lines().filter(|l| l.starts_with("weco_event") || l.starts_with("weco_subscri")).collect();
        panic!("no node holds A's subscription to {channel} after {PATIENCE:?}: {counts:?}\n{}", realtime.join("\n"));
    }

    let create_post =
        "mutation($s: ID!, $t: String!) { createPost(input: {spaceIds: [$s], title: $t}) { post { id } } }";
    on_b.ok(Some(&token), create_post, json!({ "s": space, "t": "across the cluster" })).await;
    let message = subscriber.next_json().await;
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["data"]["spaceFeed"],
        json!({ "__typename": "PostAdded", "post": { "title": "across the cluster" } })
    );

    // A persisted query registered through one replica is found by the other, through the cluster.
    let query = r#"{ space(handle: "agora") { name } }"#;
    let hash: String = Sha256::digest(query.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = async |addr: std::net::SocketAddr, body: Value| -> Value {
        let url = format!("http://{addr}/graphql");
        app.client.post(url).json(&body).send().await.expect("request").json().await.expect("JSON")
    };
    let registered = post(a.addr, json!({ "query": query, "extensions": extensions })).await;
    assert_eq!(registered["data"]["space"]["name"], "Agora", "{registered}");
    let by_hash = post(b.addr, json!({ "extensions": extensions })).await;
    assert_eq!(by_hash["data"]["space"]["name"], "Agora", "{by_hash}");
}
