//! Several servers, one database, one Redis: what happens on one replica reaches subscribers on another;
//! a Redis outage does not break writes, and subscriptions recover when it returns.

use e2e::process::{RedisProcess, ServerProcess};
use e2e::ws::WsClient;
use e2e::{
    Backend, TestApp, TestDatabase, eventually, metric_at, test_redis_url, wait_for_redis_subscribers,
    wait_for_subscriptions_at,
};
use serde_json::{Value, json};
use std::time::Duration;

const FEED: &str = "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename ... on PostAdded { post { title } } ... on PostStatsChanged { totalLikes } } }";
const FEED_AFTER: &str = "subscription($s: ID!, $a: String) { spaceFeed(spaceId: $s, after: $a) { __typename ... on PostAdded { post { title } cursor } } }";

async fn next_feed(client: &mut WsClient) -> Value {
    let message = client.next_json().await;
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["spaceFeed"].clone()
}

#[tokio::test(flavor = "current_thread")]
async fn a_subscriber_on_one_replica_sees_posts_and_likes_made_through_another() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    // The first replica migrates the database before it listens; the second finds it ready.
    let a = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica A (is the weco binary built?)");
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B");
    // Any test app gives us an HTTP client; talk to the replicas through it.
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let on_a = app.at(a.addr);
    let on_b = app.at(b.addr);
    let register = "mutation { register(input: {handle: \"ada\", name: \"Ada\", email: \"ada@example.org\", password: \"password-123\"}) { token } }";
    let token = on_b.ok(None, register, json!({})).await["register"]["token"].as_str().expect("token").to_owned();
    let created = on_a
        .ok(
            Some(&token),
            "mutation { createSpace(input: {handle: \"agora\", name: \"Agora\"}) { space { id } } }",
            json!({}),
        )
        .await;
    let space = created["createSpace"]["space"]["id"].as_str().expect("id").to_owned();

    let mut subscriber = WsClient::ready(a.addr, None).await;
    subscriber.subscribe("f", FEED, json!({ "s": space })).await;
    // Live on A once A listens on the space's channel and Redis has A subscribed to it (B subscribes to nothing).
    wait_for_subscriptions_at(&app.client, a.addr, 1).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:space:{space}"), 1).await;

    let create = "mutation($s: ID!, $t: String!) { createPost(input: {spaceIds: [$s], title: $t}) { post { id } } }";
    let post = on_b.ok(Some(&token), create, json!({ "s": space, "t": "across" })).await["createPost"]["post"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(next_feed(&mut subscriber).await, json!({ "__typename": "PostAdded", "post": { "title": "across" } }));
    on_b.ok(Some(&token), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": post })).await;
    assert_eq!(next_feed(&mut subscriber).await, json!({ "__typename": "PostStatsChanged", "totalLikes": 1 }));
    // Each event exactly once: the channel keeps its order, so the next event is the next post.
    on_b.ok(Some(&token), create, json!({ "s": space, "t": "after" })).await;
    assert_eq!(
        next_feed(&mut subscriber).await,
        json!({ "__typename": "PostAdded", "post": { "title": "after" } }),
        "each event exactly once"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_redis_outage_keeps_writes_working_and_subscriptions_recover_by_themselves() {
    let Some(mut redis) = RedisProcess::start() else {
        assert!(!e2e::services_required(), "redis-server is required (WECO_REQUIRE_SERVICES=1)");
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    };
    let url = redis.url();
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.redis_url = Some(url.clone());
        s.channel_prefix = prefix.clone();
    })
    .await
    .expect("server");
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let channel = format!("{prefix}:space:{space}");
    let mut subscriber = WsClient::ready(app.addr, None).await;
    subscriber.subscribe("f", FEED_AFTER, json!({ "s": space, "a": null })).await;
    app.wait_for_subscriptions(1).await;
    wait_for_redis_subscribers(&url, &channel, 1).await;
    app.create_post(&token, &[&space], "before").await;
    let before = next_feed(&mut subscriber).await;
    assert_eq!(before["post"]["title"], "before");

    redis.stop();
    // Writes go on while the bus is down, without waiting for it.
    let during = tokio::time::timeout(Duration::from_secs(3), app.create_post(&token, &[&space], "during")).await;
    assert!(during.is_ok(), "a mutation must not wait for Redis");
    // Its events are lost (pub/sub is at-most-once): the bus gave up on them.
    eventually("the events of the post made during the outage to be counted as lost", async || {
        metric_at(&app.client, app.addr, "weco_event_publish_failures_total").await > 0
    })
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 503, "not ready without the event bus");

    // The subscriber is told it may have missed events: its subscription ends with RESYNC.
    let told = subscriber.next_json().await;
    assert_eq!(told["type"], "error", "{told}");
    assert!(told["payload"][0]["message"].as_str().is_some_and(|m| m.starts_with("RESYNC")), "{told}");

    assert!(redis.restart(), "redis restarts");
    // Once the bus is back (it reconnects by itself, and is ready again once both its connections answer),
    // resubscribing from the last cursor replays the post made during the outage, then goes live.
    eventually("/readyz to answer 200", async || {
        app.client.get(app.url("/readyz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    subscriber.subscribe("g", FEED_AFTER, json!({ "s": space, "a": before["cursor"] })).await;
    assert_eq!(next_feed(&mut subscriber).await["post"]["title"], "during", "replayed from the database");
    wait_for_redis_subscribers(&url, &channel, 1).await;
    app.create_post(&token, &[&space], "after").await;
    assert_eq!(next_feed(&mut subscriber).await["post"]["title"], "after");
}
