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

    // The post's own topic hears nothing of memberships: the next event is checked before it is delivered (the
    // test server re-checks before every event; see `TestApp::spawn_with`).
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"secret reply\"}) { id } }";
    app.ok(Some(&ada), comment, json!({ "p": post })).await;
    let ended = updates.next_json().await;
    assert_eq!(ended["type"], "error", "the removed member must not see the comment: {ended}");
    assert_eq!(ended["payload"][0]["extensions"]["code"], "FORBIDDEN");
}
