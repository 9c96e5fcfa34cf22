use e2e::ws::{Frame, WsClient};
use e2e::{Backend, PATIENCE, TestApp, on_both_backends};
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    a_post_in_a_deep_space_reaches_subscribers_of_every_ancestor,
    a_like_storm_is_coalesced_and_ends_on_the_exact_totals,
    resubscribing_with_a_cursor_replays_what_was_missed_exactly_once,
    subscriptions_obey_privacy_when_they_start,
    protocol_violations_close_with_the_specified_codes,
    queries_and_mutations_also_work_over_the_socket,
    the_legacy_graphql_ws_protocol_is_spoken_too,
    comments_and_removals_reach_post_subscribers,
    identical_subscriptions_share_one_execution_and_stop_with_their_last_member,
);

const FEED: &str = "subscription($s: ID!, $d: Depth, $a: String) { spaceFeed(spaceId: $s, depth: $d, after: $a) { __typename ... on PostAdded { spaceId cursor post { id title creator { handle } } } ... on PostRemoved { spaceId postId } ... on PostStatsChanged { postId totalLikes totalComments } } }";

/// The payload data of the next `next` message for operation `id`.
async fn next_data(client: &mut WsClient, id: &str) -> Value {
    let message = client.next_json().await;
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"].clone()
}

async fn chain(app: &TestApp, token: &str, depth: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for i in 0..depth {
        let id = app.create_space(token, &format!("level-{i}"), ids.last().map(String::as_str)).await;
        ids.push(id);
    }
    ids
}

async fn a_post_in_a_deep_space_reaches_subscribers_of_every_ancestor(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let levels = chain(&app, &token, 6).await;
    let root = app.root_id().await;
    let mut at_root = WsClient::ready(app.addr, None).await;
    at_root.subscribe("root", FEED, json!({ "s": root })).await;
    let mut at_level2 = WsClient::ready(app.addr, Some(&token)).await;
    at_level2.subscribe("l2", FEED, json!({ "s": levels[2] })).await;
    let mut direct_level2 = WsClient::ready(app.addr, None).await;
    direct_level2.subscribe("d2", FEED, json!({ "s": levels[2], "d": "DIRECT" })).await;
    app.wait_for_subscriptions(3).await;

    let deep = app.create_post(&token, &[&levels[5]], "from the depths").await;
    for (client, id, space) in [(&mut at_root, "root", &root), (&mut at_level2, "l2", &levels[2])] {
        let data = next_data(client, id).await;
        let added = &data["spaceFeed"];
        assert_eq!(added["__typename"], "PostAdded");
        assert_eq!(added["spaceId"], *space);
        assert_eq!(added["post"]["id"], deep);
        assert_eq!(added["post"]["title"], "from the depths");
        assert_eq!(added["post"]["creator"]["handle"], "ada");
        assert!(added["cursor"].as_str().is_some_and(|c| !c.is_empty()));
    }
    // Level 2's events come in the order they happened: the DIRECT subscriber's first is the post made right
    // there, after the one that flowed up from below.
    let here = app.create_post(&token, &[&levels[2]], "right here").await;
    let data = next_data(&mut direct_level2, "d2").await;
    assert_eq!(data["spaceFeed"]["post"]["id"], here, "DIRECT skips what flows up: {data}");
}

async fn a_like_storm_is_coalesced_and_ends_on_the_exact_totals(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "storm").await;
    let mut fans = Vec::new();
    for i in 0..25 {
        fans.push(app.register(&format!("fan{i:02}")).await.0);
    }
    let mut client = WsClient::ready(app.addr, None).await;
    client
        .subscribe(
            "p",
            "subscription($p: ID!) { postUpdates(postId: $p) { ... on PostStatsChanged { totalLikes } } }",
            json!({ "p": post }),
        )
        .await;
    let mut feed = WsClient::ready(app.addr, None).await;
    feed.subscribe("f", FEED, json!({ "s": space })).await;
    app.wait_for_subscriptions(2).await;

    let like = "mutation($p: ID!) { likePost(postId: $p) { totalLikes } }";
    let storm = fans.iter().map(|t| app.gql(Some(t), like, json!({ "p": post })));
    for body in futures_util::future::join_all(storm).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    // 25 likes, but fewer stat events, each newer than the one before, up to the exact total.
    let seen = totals_up_to(&mut client, "postUpdates", 25).await;
    assert!(seen.len() < 25, "not coalesced: {} events for 25 likes: {seen:?}", seen.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "an older total after a newer one: {seen:?}");
    // Feed subscribers see the same exact final total.
    totals_up_to(&mut feed, "spaceFeed", 25).await;

    // Nothing follows the exact total but what changes it: after one more change, the next event of each is
    // the new total (per post, events come in order).
    app.ok(Some(&fans[0]), "mutation($p: ID!) { unlikePost(postId: $p) { id } }", json!({ "p": post })).await;
    for (client, field) in [(&mut client, "postUpdates"), (&mut feed, "spaceFeed")] {
        let message = client.next_json().await;
        assert_eq!(message["payload"]["data"][field]["totalLikes"], 24, "the last event carried the total: {message}");
    }
}

/// Reads `field`'s `totalLikes` from each event until one carries `total`; returns the totals read.
async fn totals_up_to(client: &mut WsClient, field: &str, total: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    while seen.last() != Some(&total) {
        let Some(Frame::Json(message)) = client.next_within(PATIENCE).await else {
            panic!("{field} never reached {total} likes; the totals were {seen:?}")
        };
        let likes = message["payload"]["data"][field]["totalLikes"].as_i64();
        seen.push(likes.unwrap_or_else(|| panic!("an event without totalLikes: {message}")));
        assert!(seen.last() <= Some(&total), "beyond the total: {seen:?}");
    }
    seen
}

async fn resubscribing_with_a_cursor_replays_what_was_missed_exactly_once(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let top = app.create_space(&ada, "top", None).await;
    let inner = app.create_space(&ada, "inner", Some(&top)).await;
    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("a", FEED, json!({ "s": top })).await;
    app.wait_for_subscriptions(1).await;
    app.create_post(&ada, &[&inner], "one").await;
    let first = next_data(&mut client, "a").await;
    let cursor = first["spaceFeed"]["cursor"].clone();
    drop(client);

    // Missed while away.
    app.create_post(&ada, &[&inner], "two").await;
    app.create_post(&ada, &[&top], "three").await;

    let mut client = WsClient::ready(app.addr, None).await;
    client.subscribe("b", FEED, json!({ "s": top, "a": cursor })).await;
    let mut titles = Vec::new();
    for _ in 0..2 {
        titles.push(
            next_data(&mut client, "b").await["spaceFeed"]["post"]["title"].as_str().unwrap_or_default().to_owned(),
        );
    }
    assert_eq!(titles, ["two", "three"], "replayed oldest first");
    app.create_post(&ada, &[&inner], "four").await;
    assert_eq!(next_data(&mut client, "b").await["spaceFeed"]["post"]["title"], "four");
    // Nothing twice: the next event is the next post.
    app.create_post(&ada, &[&top], "five").await;
    assert_eq!(next_data(&mut client, "b").await["spaceFeed"]["post"]["title"], "five", "nothing twice");
    // A cursor from Space.posts(sort: NEW) works the same way.
    let page = app
        .ok(
            None,
            r#"{ space(handle: "top") { posts(sort: NEW, first: 10) { edges { cursor node { title } } } } }"#,
            json!({}),
        )
        .await;
    let edges = page["space"]["posts"]["edges"].as_array().expect("edges").clone();
    let oldest_but_one = edges[edges.len() - 2]["cursor"].clone();
    let mut again = WsClient::ready(app.addr, None).await;
    again.subscribe("c", FEED, json!({ "s": top, "a": oldest_but_one })).await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(
            next_data(&mut again, "c").await["spaceFeed"]["post"]["title"].as_str().unwrap_or_default().to_owned(),
        );
    }
    assert_eq!(replayed, ["three", "four", "five"]);
}

async fn subscriptions_obey_privacy_when_they_start(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let secret = app.create_post(&ada, &[&club], "secret").await;
    for token in [None, Some(bob.as_str())] {
        let mut client = WsClient::ready(app.addr, token).await;
        client.subscribe("s", FEED, json!({ "s": club })).await;
        let message = client.next_json().await;
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(message["payload"][0]["extensions"]["code"], "FORBIDDEN");
        client
            .subscribe("p", "subscription($p: ID!) { postUpdates(postId: $p) { __typename } }", json!({ "p": secret }))
            .await;
        let message = client.next_json().await;
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(message["payload"][0]["extensions"]["code"], "NOT_FOUND");
    }
    // The member may.
    let mut member = WsClient::ready(app.addr, Some(&ada)).await;
    member.subscribe("s", FEED, json!({ "s": club })).await;
    // The refused subscriptions never listened: the member's is the only one.
    app.wait_for_subscriptions(1).await;
    app.create_post(&ada, &[&club], "inside").await;
    assert_eq!(next_data(&mut member, "s").await["spaceFeed"]["post"]["title"], "inside");
}

async fn protocol_violations_close_with_the_specified_codes(app: TestApp) {
    let root = app.root_id().await;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": FEED, "variables": { "s": root } } });

    let mut c = WsClient::connect(app.addr, "graphql-transport-ws").await;
    c.send_raw("{not json").await;
    assert_eq!(c.closed_code().await, 4400, "invalid message");

    let mut c = WsClient::connect(app.addr, "graphql-transport-ws").await;
    c.send(json!({ "type": "what" })).await;
    assert_eq!(c.closed_code().await, 4400, "unknown type");

    let mut c = WsClient::connect(app.addr, "graphql-transport-ws").await;
    c.send(subscribe.clone()).await;
    assert_eq!(c.closed_code().await, 4401, "subscribe before ack");

    let mut c = WsClient::connect(app.addr, "graphql-transport-ws").await;
    c.send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer forged" } })).await;
    assert_eq!(c.closed_code().await, 4403, "forbidden init");

    let mut c = WsClient::ready(app.addr, None).await;
    c.send(json!({ "type": "connection_init" })).await;
    assert_eq!(c.closed_code().await, 4429, "second init");

    let mut c = WsClient::ready(app.addr, None).await;
    c.send(subscribe.clone()).await;
    c.send(subscribe.clone()).await;
    assert_eq!(c.closed_code().await, 4409, "duplicate id");

    let mut c = WsClient::ready(app.addr, None).await;
    c.send(json!({ "type": "ping" })).await;
    assert_eq!(c.next_json().await, json!({ "type": "pong" }));
    // Completing an operation stops it; its id may then be reused.
    c.send(subscribe.clone()).await;
    c.send(json!({ "id": "1", "type": "complete" })).await;
    c.send(subscribe).await;
    // Reusing the id is accepted (a 4409 close would come before the pong).
    c.round_trip().await;

    // A server with a short init timeout closes idle connections with 4408.
    let quick = TestApp::spawn_with(app.backend, |s| s.ws_init_timeout_ms = 300).await.expect("server");
    let mut c = WsClient::connect(quick.addr, "graphql-transport-ws").await;
    let code = tokio::time::timeout(Duration::from_secs(5), c.closed_code()).await;
    assert_eq!(code.ok(), Some(4408), "init timeout, well within 5 s");
    let _ = Backend::Sqlite;
}

async fn queries_and_mutations_also_work_over_the_socket(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let mut c = WsClient::ready(app.addr, Some(&token)).await;
    c.subscribe("q", "{ me { handle } }", json!({})).await;
    assert_eq!(next_data(&mut c, "q").await["me"]["handle"], "ada");
    assert_eq!(c.next_json().await, json!({ "id": "q", "type": "complete" }));
    c.subscribe(
        "m",
        "mutation { createSpace(input: {handle: \"viaws\", name: \"Via WS\"}) { space { handle } } }",
        json!({}),
    )
    .await;
    assert_eq!(next_data(&mut c, "m").await["createSpace"]["space"]["handle"], "viaws");
    assert_eq!(c.next_json().await["type"], "complete");
    c.subscribe("bad", "{ nope }", json!({})).await;
    let message = c.next_json().await;
    assert_eq!(message["type"], "error", "validation errors come as `error`: {message}");
}

async fn the_legacy_graphql_ws_protocol_is_spoken_too(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let mut c = WsClient::connect(app.addr, "graphql-ws").await;
    c.send(json!({ "type": "connection_init", "payload": { "token": token } })).await;
    assert_eq!(c.next_json().await["type"], "connection_ack");
    c.send(json!({ "id": "1", "type": "start", "payload": { "query": "{ me { handle } }" } })).await;
    let data = c.next_json().await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["payload"]["data"]["me"]["handle"], "ada");
    assert_eq!(c.next_json().await, json!({ "id": "1", "type": "complete" }));
    c.send(json!({ "id": "2", "type": "start", "payload": { "query": FEED, "variables": { "s": space } } })).await;
    app.wait_for_subscriptions(1).await;
    app.create_post(&token, &[&space], "legacy").await;
    let data = c.next_json().await;
    assert_eq!(data["type"], "data");
    assert_eq!(data["payload"]["data"]["spaceFeed"]["post"]["title"], "legacy");
    c.send(json!({ "id": "2", "type": "stop" })).await;
    let mut bad = WsClient::connect(app.addr, "graphql-ws").await;
    bad.send(json!({ "type": "connection_init", "payload": { "token": "forged" } })).await;
    assert_eq!(bad.next_json().await["type"], "connection_error");
}

async fn comments_and_removals_reach_post_subscribers(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "talk").await;
    let mut c = WsClient::ready(app.addr, None).await;
    let q = "subscription($p: ID!) { postUpdates(postId: $p) { __typename ... on CommentAdded { postId comment { text creator { handle } } } ... on PostRemoved { postId spaceId } ... on PostStatsChanged { totalComments } } }";
    c.subscribe("p", q, json!({ "p": post })).await;
    let mut feed = WsClient::ready(app.addr, None).await;
    feed.subscribe("f", FEED, json!({ "s": space })).await;
    app.wait_for_subscriptions(2).await;
    app.ok(
        Some(&ada),
        "mutation($p: ID!) { addComment(input: {postId: $p, text: \"hello\"}) { id } }",
        json!({ "p": post }),
    )
    .await;
    let first = next_data(&mut c, "p").await;
    assert_eq!(first["postUpdates"]["__typename"], "CommentAdded");
    assert_eq!(first["postUpdates"]["comment"]["text"], "hello");
    assert_eq!(first["postUpdates"]["comment"]["creator"]["handle"], "ada");
    let stats = next_data(&mut c, "p").await;
    assert_eq!(stats["postUpdates"]["totalComments"], 1);
    app.ok(Some(&ada), "mutation($p: ID!) { deletePost(id: $p) { id } }", json!({ "p": post })).await;
    let removed = next_data(&mut c, "p").await;
    assert_eq!(removed["postUpdates"], json!({ "__typename": "PostRemoved", "postId": post, "spaceId": null }));
    loop {
        let event = next_data(&mut feed, "f").await;
        if event["spaceFeed"]["__typename"] == "PostRemoved" {
            assert_eq!(event["spaceFeed"]["spaceId"], space);
            break;
        }
    }
}

/// Identical subscriptions (same viewer, query and variables) run once and fan out to every member; members
/// come and go independently, and a group whose members all left is started afresh by the next subscriber.
async fn identical_subscriptions_share_one_execution_and_stop_with_their_last_member(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let mut first = WsClient::ready(app.addr, None).await;
    first.subscribe("a", FEED, json!({ "s": space })).await;
    let mut second = WsClient::ready(app.addr, None).await;
    second.subscribe("b", FEED, json!({ "s": space })).await;
    let mut signed_in = WsClient::ready(app.addr, Some(&ada)).await;
    signed_in.subscribe("c", FEED, json!({ "s": space })).await;
    // Each socket has handled its `subscribe` (so the second has joined the first's group), and both groups
    // listen on the bus.
    for client in [&mut first, &mut second, &mut signed_in] {
        client.round_trip().await;
    }
    app.wait_for_subscriptions(2).await;

    let one = app.create_post(&ada, &[&space], "one").await;
    for (client, id) in [(&mut first, "a"), (&mut second, "b"), (&mut signed_in, "c")] {
        assert_eq!(next_data(client, id).await["spaceFeed"]["post"]["id"], one, "each member gets its own id");
    }
    // Every member has received, so every group runs: two executions for three members.
    assert_eq!(app.metric("weco_subscriptions_active").await, 2, "the anonymous pair shares one");
    // One member leaves (by `complete`); the others carry on.
    first.send(json!({ "id": "a", "type": "complete" })).await;
    first.round_trip().await;
    let two = app.create_post(&ada, &[&space], "two").await;
    assert_eq!(next_data(&mut second, "b").await["spaceFeed"]["post"]["id"], two);
    // A completed member gets nothing: the pong is the next frame it reads.
    first.round_trip().await;
    // Everyone anonymous leaves, which stops their group; a newcomer starts it anew and gets only what follows.
    drop(second);
    drop(first);
    app.wait_for_subscriptions(1).await;
    let mut third = WsClient::ready(app.addr, None).await;
    third.subscribe("d", FEED, json!({ "s": space })).await;
    app.wait_for_subscriptions(2).await;
    let three = app.create_post(&ada, &[&space], "three").await;
    assert_eq!(next_data(&mut third, "d").await["spaceFeed"]["post"]["id"], three);
    assert_eq!(next_data(&mut signed_in, "c").await["spaceFeed"]["post"]["id"], two);
    assert_eq!(next_data(&mut signed_in, "c").await["spaceFeed"]["post"]["id"], three);
}
