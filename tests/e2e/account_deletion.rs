//! `deleteAccount`: the account's personal data and sessions go, its contributions stay under a "deleted
//! user" placeholder, and every counter stays exact.

use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(
    an_anonymized_account_keeps_its_content_as_a_deleted_user_and_loses_the_rest,
    an_erased_account_takes_its_posts_and_reactions_with_it_and_every_counter_follows,
);

const DELETE: &str = "mutation($p: String!) { deleteAccount(password: $p, mode: ANONYMIZE) }";
const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { token } }";
const ME: &str = "{ me { handle } }";

async fn an_anonymized_account_keeps_its_content_as_a_deleted_user_and_loses_the_rest(app: TestApp) {
    let (ada, ada_id) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let second = app.ok(None, LOGIN, json!({ "l": "ada", "p": "password-123" })).await["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let agora = app.create_space(&bob, "agora", None).await;
    let post = app.create_post(&ada, &[&agora], "Engines").await;
    let bobs = app.create_post(&bob, &[&agora], "Looms").await;
    app.ok(Some(&ada), "mutation($s: ID!) { followSpace(spaceId: $s) { id } }", json!({ "s": agora })).await;
    app.ok(Some(&ada), "mutation { followUser(handle: \"bob\") { id } }", json!({})).await;
    app.ok(Some(&cy), "mutation { followUser(handle: \"ada\") { id } }", json!({})).await;
    app.ok(Some(&cy), "mutation { muteUser(handle: \"ada\") { id } }", json!({})).await;
    app.ok(Some(&ada), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": bobs })).await;
    app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": post })).await;
    let comment = "mutation($p: ID!) { addComment(input: { postId: $p, text: \"Lovely\" }) { id } }";
    app.ok(Some(&ada), comment, json!({ "p": bobs })).await;
    let counts = "{ bob: user(handle: \"bob\") { totalFollowers } cy: user(handle: \"cy\") { following { totalCount } } \
                  agora: space(handle: \"agora\") { totalFollowers } }";
    let before = app.ok(Some(&bob), counts, json!({})).await;
    assert_eq!(before["bob"]["totalFollowers"], 1);
    assert_eq!(before["cy"]["following"]["totalCount"], 1);

    // The password is asked for.
    let wrong = app.gql(Some(&ada), DELETE, json!({ "p": "not-my-password" })).await;
    assert_eq!(wrong["errors"][0]["extensions"]["code"], "VALIDATION", "{wrong}");
    assert_eq!(wrong["errors"][0]["extensions"]["field"], "password", "{wrong}");
    assert_eq!(app.error_code(None, DELETE, json!({ "p": "password-123" })).await, "UNAUTHENTICATED");
    assert_eq!(app.ok(Some(&ada), ME, json!({})).await["me"]["handle"], "ada", "nothing happened yet");

    assert_eq!(app.ok(Some(&ada), DELETE, json!({ "p": "password-123" })).await["deleteAccount"], true);

    // Every session ended; no login works.
    for token in [&ada, &second] {
        assert_eq!(app.error_code(Some(token), ME, json!({})).await, "UNAUTHENTICATED");
    }
    for login in ["ada", "ada@example.org"] {
        let code = app.error_code(None, LOGIN, json!({ "l": login, "p": "password-123" })).await;
        assert_eq!(code, "UNAUTHENTICATED");
    }
    // The content stays, by a placeholder that says nothing of who it was.
    let shown = app
        .ok(
            Some(&bob),
            "query($p: ID!, $b: ID!) { post(id: $p) { title totalLikes creator { id handle name bio } } \
               bobs: post(id: $b) { totalLikes totalComments comments { nodes { text creator { name } } } } }",
            json!({ "p": post, "b": bobs }),
        )
        .await;
    assert_eq!(shown["post"]["title"], "Engines");
    assert_eq!(shown["post"]["totalLikes"], 1);
    let creator = &shown["post"]["creator"];
    assert_eq!(creator["id"], ada_id.as_str());
    assert_eq!(creator["name"], "Deleted user");
    assert!(creator["bio"].is_null());
    let placeholder = creator["handle"].as_str().expect("handle").to_owned();
    // `deleted-` and the id's last 12 hex digits: nothing of the old handle or name.
    let hex = ada_id.replace('-', "");
    assert_eq!(placeholder, format!("deleted-{}", &hex[hex.len() - 12..]));
    assert_eq!(shown["bobs"]["totalLikes"], 1, "her like stays");
    assert_eq!(shown["bobs"]["totalComments"], 1, "her comment stays");
    assert_eq!(shown["bobs"]["comments"]["nodes"][0]["creator"]["name"], "Deleted user");

    // Follows ended with exact counts; she is not found by her old handle or by search.
    let after = app.ok(Some(&bob), counts, json!({})).await;
    assert_eq!(after["bob"]["totalFollowers"], 0);
    assert_eq!(after["cy"]["following"]["totalCount"], 0);
    assert_eq!(
        after["agora"]["totalFollowers"].as_i64(),
        before["agora"]["totalFollowers"].as_i64().map(|n| n - 1),
        "the space she followed lost her"
    );
    assert!(app.ok(None, "{ user(handle: \"ada\") { id } }", json!({})).await["user"].is_null());
    for query in ["ada", "deleted"] {
        let found =
            app.ok(None, "query($q: String!) { searchUsers(query: $q) { totalCount } }", json!({ "q": query })).await;
        assert_eq!(found["searchUsers"]["totalCount"], 0, "{query}");
    }
    // Her handle and address are free for a new account, which inherits nothing.
    let (again, again_id) = app.register("ada").await;
    assert_ne!(again_id, ada_id);
    let fresh = app
        .ok(Some(&again), "{ me { totalFollowers following { totalCount } posts { nodes { id } } } }", json!({}))
        .await;
    assert_eq!(fresh["me"]["totalFollowers"], 0);
    assert!(fresh["me"]["posts"]["nodes"].as_array().is_some_and(Vec::is_empty));
    app.assert_invariants().await;
}

async fn an_erased_account_takes_its_posts_and_reactions_with_it_and_every_counter_follows(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let agora = app.create_space(&bob, "agora", None).await;
    let hers = app.create_post(&ada, &[&agora], "Engines").await;
    let bobs = app.create_post(&bob, &[&agora], "Looms").await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    let rate = "mutation($p: ID!, $v: Int!) { ratePost(postId: $p, value: $v) { id } }";
    let comment =
        "mutation($p: ID!, $r: ID) { addComment(input: { postId: $p, parentCommentId: $r, text: \"Lovely\" }) { id } }";
    app.ok(Some(&cy), like, json!({ "p": hers })).await;
    app.ok(Some(&cy), rate, json!({ "p": hers, "v": 90 })).await;
    app.ok(Some(&cy), comment, json!({ "p": hers })).await;
    app.ok(Some(&ada), like, json!({ "p": bobs })).await;
    app.ok(Some(&cy), like, json!({ "p": bobs })).await;
    app.ok(Some(&ada), rate, json!({ "p": bobs, "v": 80 })).await;
    app.ok(Some(&cy), rate, json!({ "p": bobs, "v": 60 })).await;
    let her_comment = app.ok(Some(&ada), comment, json!({ "p": bobs })).await["addComment"]["id"].clone();
    app.ok(Some(&cy), comment, json!({ "p": bobs, "r": her_comment })).await;
    let state = "query($h: ID!, $b: ID!) { hers: post(id: $h) { id } \
                   bobs: post(id: $b) { totalLikes totalRatings averageRating totalComments comments { nodes { text } } } \
                   agora: space(handle: \"agora\") { totalPosts } }";
    let before = app.ok(Some(&bob), state, json!({ "h": hers, "b": bobs })).await;
    assert_eq!(before["bobs"]["totalLikes"], 2);
    assert_eq!(before["bobs"]["totalRatings"], 2);
    assert_eq!(before["agora"]["totalPosts"], 2);

    let erase = "mutation($p: String!) { deleteAccount(password: $p, mode: ERASE) }";
    assert_eq!(app.ok(Some(&ada), erase, json!({ "p": "password-123" })).await["deleteAccount"], true);
    assert_eq!(app.error_code(Some(&ada), ME, json!({})).await, "UNAUTHENTICATED");

    let after = app.ok(Some(&bob), state, json!({ "h": hers, "b": bobs })).await;
    assert!(after["hers"].is_null(), "her post is gone: {after}");
    assert_eq!(after["agora"]["totalPosts"], 1, "and no longer counted in its space");
    assert_eq!(after["bobs"]["totalLikes"], 1, "her like is withdrawn");
    assert_eq!(after["bobs"]["totalRatings"], 1, "her rating is withdrawn");
    assert_eq!(after["bobs"]["averageRating"], 60.0);
    assert_eq!(after["bobs"]["comments"]["nodes"], json!([{ "text": null }]), "her comment shows as deleted: {after}");
    assert_eq!(before["bobs"]["totalComments"], 2);
    assert_eq!(after["bobs"]["totalComments"], 1, "hers is no longer counted; the reply under it is");
    let cys = app.ok(Some(&cy), "{ me { posts { nodes { id } } } }", json!({})).await;
    assert!(cys["me"]["posts"]["nodes"].as_array().is_some_and(Vec::is_empty));
    app.assert_invariants().await;
}
