//! Live subscriptions follow access as it changes (docs/privacy.md rule 7): losing access ends them with FORBIDDEN.

use e2e::ws::WsClient;
use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(a_member_removed_from_a_private_space_loses_its_live_feed_and_post_updates);

async fn a_member_removed_from_a_private_space_loses_its_live_feed_and_post_updates(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let invite = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"bob\") { id } }";
    let request = app.ok(Some(&ada), invite, json!({ "s": club })).await["inviteToSpace"]["id"].clone();
    let accept = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(&bob), accept, json!({ "r": request })).await;
    let post = app.create_post(&ada, &[&club], "members only").await;

    let mut feed = WsClient::ready(app.addr, Some(&bob)).await;
    feed.subscribe("f", "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename } }", json!({ "s": club })).await;
    let mut updates = WsClient::ready(app.addr, Some(&bob)).await;
    updates
        .subscribe("p", "subscription($p: ID!) { postUpdates(postId: $p) { __typename } }", json!({ "p": post }))
        .await;
    app.wait_for_subscriptions(2).await;
    // While a member, Bob hears what happens.
    app.create_post(&ada, &[&club], "second").await;
    assert_eq!(feed.next_json().await["type"], "next");

    let remove = "mutation($s: ID!) { removeSpaceMember(spaceId: $s, userHandle: \"bob\") { id } }";
    app.ok(Some(&ada), remove, json!({ "s": club })).await;
    let ended = feed.next_json().await;
    assert_eq!(ended["type"], "error", "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");

    // The post's own topic hears nothing of memberships: the next event about the private post is checked
    // before it is delivered.
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"secret reply\"}) { id } }";
    app.ok(Some(&ada), comment, json!({ "p": post })).await;
    let ended = updates.next_json().await;
    assert_eq!(ended["type"], "error", "the removed member must not see the comment: {ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

on_both_backends!(an_outsider_loses_the_feed_of_a_public_space_once_it_is_placed_under_a_private_one);

/// The feed of a public space T that an outsider watches ends with FORBIDDEN as soon as T goes behind a private
/// space — directly, or by an accepted request — before any post they could no longer see reaches them.
async fn an_outsider_loses_the_feed_of_a_public_space_once_it_is_placed_under_a_private_one(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (eve, _) = app.register("eve").await;
    let feed = "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename ... on PostAdded { post { title } } } }";
    let attach =
        "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached request { id } } }";
    // Directly: Ada moderates both spaces.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let town = app.create_space(&ada, "town", None).await;
    // Through a request: Bob's square goes under Ada's club once Ada accepts.
    let square = app.create_space(&bob, "square", None).await;
    let mut outsider = WsClient::ready(app.addr, Some(&eve)).await;
    outsider.subscribe("t", feed, json!({ "s": town })).await;
    outsider.subscribe("s", feed, json!({ "s": square })).await;
    app.wait_for_subscriptions(2).await;
    app.create_post(&ada, &[&town], "open").await;
    let first = outsider.next_json().await;
    assert_eq!(first["payload"]["data"]["spaceFeed"]["post"]["title"], "open", "{first}");

    let attached = app.ok(Some(&ada), attach, json!({ "c": town, "p": club })).await;
    assert_eq!(attached["attachSpace"]["attached"], true);
    app.create_post(&ada, &[&town], "members only").await;
    let ended = outsider.next_json().await;
    assert_eq!((ended["id"].as_str(), ended["type"].as_str()), (Some("t"), Some("error")), "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");

    let requested = app.ok(Some(&bob), attach, json!({ "c": square, "p": club })).await;
    let request = requested["attachSpace"]["request"]["id"].clone();
    let answer = "mutation($r: ID!) { respondToSpaceRequest(input: {requestId: $r, accept: true}) { state } }";
    app.ok(Some(&ada), answer, json!({ "r": request })).await;
    // Only members of the club may post there now.
    app.create_post(&ada, &[&square], "inside now").await;
    let ended = outsider.next_json().await;
    assert_eq!((ended["id"].as_str(), ended["type"].as_str()), (Some("s"), Some("error")), "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

on_both_backends!(a_space_made_private_ends_the_live_feeds_and_post_updates_of_outsiders);

async fn a_space_made_private_ends_the_live_feeds_and_post_updates_of_outsiders(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let town = app.create_space(&ada, "town", None).await;
    let post = app.create_post(&ada, &[&town], "open").await;
    let mut outsider = WsClient::ready(app.addr, Some(&eve)).await;
    outsider
        .subscribe("f", "subscription($s: ID!) { spaceFeed(spaceId: $s) { __typename } }", json!({ "s": town }))
        .await;
    outsider
        .subscribe("p", "subscription($p: ID!) { postUpdates(postId: $p) { __typename } }", json!({ "p": post }))
        .await;
    app.wait_for_subscriptions(2).await;

    let private = "mutation($s: ID!) { updateSpace(input: {spaceId: $s, privacy: PRIVATE}) { privacy } }";
    app.ok(Some(&ada), private, json!({ "s": town })).await;
    let ended = outsider.next_json().await;
    assert_eq!((ended["id"].as_str(), ended["type"].as_str()), (Some("f"), Some("error")), "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");
    // The post's subscriber hears of no comment it may no longer see.
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"members only now\"}) { id } }";
    app.ok(Some(&ada), comment, json!({ "p": post })).await;
    let ended = outsider.next_json().await;
    assert_eq!((ended["id"].as_str(), ended["type"].as_str()), (Some("p"), Some("error")), "{ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");
}

/// The same over Redis: events about the now private content are checked when they arrive, whichever bus
/// carried them.
#[tokio::test(flavor = "current_thread")]
async fn over_redis_an_outsider_loses_the_feed_of_a_space_placed_under_a_private_one() {
    let Some(redis) = e2e::test_redis_url().await else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let app = TestApp::spawn_with(e2e::Backend::Postgres, |s| {
        s.redis_url = Some(redis);
        s.channel_prefix = prefix;
    })
    .await;
    if let Some(app) = app {
        an_outsider_loses_the_feed_of_a_public_space_once_it_is_placed_under_a_private_one(app).await;
    }
}
