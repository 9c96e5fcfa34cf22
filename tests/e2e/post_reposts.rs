//! `Post.reposts`: who reposted a post, with when, each user once, as the viewer may see them.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(who_reposted_a_post_is_listed_once_each_as_the_viewer_may_see_it);

const REPOST: &str = "mutation($p: ID!, $s: ID!) { repost(input: {postId: $p, spaceIds: [$s]}) { totalReposts } }";
const LIST: &str =
    "query($p: ID!) { post(id: $p) { totalReposts reposts { totalCount nodes { handle } edges { at } } } }";

fn handles(post: &Value) -> Vec<String> {
    post["reposts"]["nodes"]
        .as_array()
        .map(|a| a.iter().map(|u| u["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn who_reposted_a_post_is_listed_once_each_as_the_viewer_may_see_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let agora = app.create_space(&ada, "agora", None).await;
    let one = app.create_space(&bob, "one", None).await;
    let two = app.create_space(&bob, "two", None).await;
    let three = app.create_space(&cy, "three", None).await;
    let post = app.create_post(&ada, &[&agora], "Engines").await;
    let empty = app.ok(None, LIST, json!({ "p": post })).await;
    assert_eq!(empty["post"]["reposts"]["totalCount"], 0);

    app.ok(Some(&bob), REPOST, json!({ "p": post, "s": one })).await;
    app.ok(Some(&cy), REPOST, json!({ "p": post, "s": three })).await;
    app.ok(Some(&bob), REPOST, json!({ "p": post, "s": two })).await;
    // Reposting where it is already placed changes nothing.
    app.ok(Some(&cy), REPOST, json!({ "p": post, "s": agora })).await;
    let data = app.ok(None, LIST, json!({ "p": post })).await;
    assert_eq!(data["post"]["totalReposts"], 3);
    assert_eq!(handles(&data["post"]), vec!["bob", "cy"], "each user once, by their latest repost");
    assert_eq!(data["post"]["reposts"]["totalCount"], 2);
    assert!(data["post"]["reposts"]["edges"][0]["at"].is_string());

    // Where a moderator took the post out, that repost no longer shows: Bob's earlier one does.
    let remove = "mutation($p: ID!, $s: ID!) { removePostFromSpace(input: {postId: $p, spaceId: $s}) { id } }";
    app.ok(Some(&bob), remove, json!({ "p": post, "s": two })).await;
    let data = app.ok(None, LIST, json!({ "p": post })).await;
    assert_eq!(handles(&data["post"]), vec!["cy", "bob"]);
    app.ok(Some(&cy), remove, json!({ "p": post, "s": three })).await;
    assert_eq!(handles(&app.ok(None, LIST, json!({ "p": post })).await["post"]), vec!["bob"]);

    // A viewer who mutes Bob does not see him.
    app.ok(Some(&ada), "mutation { muteUser(handle: \"bob\") { id } }", json!({})).await;
    assert!(handles(&app.ok(Some(&ada), LIST, json!({ "p": post })).await["post"]).is_empty());

    // A post in a private space: its reposts are listed to members only, as the post itself.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "club", "privacy": "PRIVATE" })).await;
    let inner = app.create_space(&ada, "inner", Some(&club)).await;
    let secret = app.create_post(&ada, &[&club], "Plans").await;
    app.ok(Some(&ada), REPOST, json!({ "p": secret, "s": inner })).await;
    let member = app.ok(Some(&ada), LIST, json!({ "p": secret })).await;
    assert_eq!(handles(&member["post"]), vec!["ada"]);
    let outsider = app.ok(Some(&cy), LIST, json!({ "p": secret })).await;
    assert!(outsider["post"].is_null(), "{outsider}");
    app.assert_invariants().await;
}
