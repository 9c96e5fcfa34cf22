//! Editing: `updatePost` by its creator only (marked edited, found by its new words and no longer by the old
//! ones, pushed to the post's subscribers as `PostEdited`), and `deleteComment` by its author or a moderator of a
//! space the post is in (replies stay, the comment shows as deleted, every counter stays exact, twice is
//! harmless).

use e2e::ws::WsClient;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    its_creator_edits_a_post_and_search_and_subscribers_follow,
    nobody_else_edits_a_post_and_bad_edits_write_nothing,
    a_deleted_comment_keeps_its_replies_and_every_counter_stays_exact,
    only_its_author_or_a_moderator_deletes_a_comment,
);

const UPDATE: &str =
    "mutation($id: ID!, $i: UpdatePostInput!) { updatePost(id: $id, input: $i) { title text url kinds editedAt } }";
const SEARCH: &str = "query($q: String!) { searchPosts(query: $q) { nodes { title } } }";
const DELETE: &str = "mutation($id: ID!) { deleteComment(id: $id) { id text deleted totalReplies } }";

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn found(app: &TestApp, words: &str) -> Vec<String> {
    let data = app.ok(None, SEARCH, json!({ "q": words })).await;
    data["searchPosts"]["nodes"].as_array().map(|a| a.iter().map(|n| id(&n["title"])).collect()).unwrap_or_default()
}

async fn its_creator_edits_a_post_and_search_and_subscribers_follow(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id editedAt } } }";
    let input = json!({ "spaceIds": [town], "title": "Mitochondria", "text": "the powerhouse", "url": "https://example.org/a" });
    let post = app.ok(Some(&ada), create, json!({ "i": input })).await["createPost"]["post"].clone();
    assert_eq!(post["editedAt"], Value::Null);
    let post = id(&post["id"]);
    assert_eq!(found(&app, "powerhouse").await, ["Mitochondria"]);

    let mut watcher = WsClient::ready(app.addr, None).await;
    watcher
        .subscribe(
            "p",
            "subscription($p: ID!) { postUpdates(postId: $p) { __typename ... on PostEdited { postId post { title editedAt } } } }",
            json!({ "p": post }),
        )
        .await;
    app.wait_for_subscriptions(1).await;

    // Text replaced, title kept (left out), address cleared (null).
    let edited =
        app.ok(Some(&ada), UPDATE, json!({ "id": post, "i": { "text": "the ribosome factory", "url": null } })).await;
    let edited = &edited["updatePost"];
    assert_eq!(edited["title"], "Mitochondria");
    assert_eq!(edited["text"], "the ribosome factory");
    assert_eq!(edited["url"], Value::Null);
    assert_eq!(edited["kinds"], json!(["TEXT"]));
    assert!(edited["editedAt"].is_string());
    assert_eq!(found(&app, "ribosome").await, ["Mitochondria"], "the index follows");
    assert!(found(&app, "powerhouse").await.is_empty(), "the old words are gone");

    let message = watcher.next_json().await;
    let pushed = &message["payload"]["data"]["postUpdates"];
    assert_eq!(pushed["__typename"], "PostEdited", "{message}");
    assert_eq!(pushed["postId"], post.as_str());
    assert!(pushed["post"]["editedAt"].is_string());
}

async fn nobody_else_edits_a_post_and_bad_edits_write_nothing(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let town = app.create_space(&ada, "town", None).await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let post = app.create_post(&ada, &[&town], "original").await;
    let secret = app.create_post(&ada, &[&club], "secret").await;
    let change = json!({ "title": "hijacked" });
    assert_eq!(app.error_code(Some(&bob), UPDATE, json!({ "id": post, "i": change })).await, "FORBIDDEN");
    assert_eq!(app.error_code(Some(&bob), UPDATE, json!({ "id": secret, "i": change })).await, "NOT_FOUND");
    assert_eq!(app.error_code(None, UPDATE, json!({ "id": post, "i": change })).await, "UNAUTHENTICATED");
    let too_long = json!({ "title": "x".repeat(301) });
    assert_eq!(app.error_code(Some(&ada), UPDATE, json!({ "id": post, "i": too_long })).await, "VALIDATION");
    let empty = json!({ "title": null, "text": null });
    assert_eq!(app.error_code(Some(&ada), UPDATE, json!({ "id": post, "i": empty })).await, "VALIDATION");
    let bad_url = json!({ "url": "ftp://example.org" });
    assert_eq!(app.error_code(Some(&ada), UPDATE, json!({ "id": post, "i": bad_url })).await, "VALIDATION");
    let data = app.ok(None, "query($p: ID!) { post(id: $p) { title editedAt } }", json!({ "p": post })).await;
    assert_eq!(data["post"], json!({ "title": "original", "editedAt": null }), "nothing written");
}

const ADD: &str = "mutation($i: AddCommentInput!) { addComment(input: $i) { id } }";

async fn comment(app: &TestApp, token: &str, post: &str, parent: Option<&str>, text: &str) -> String {
    let input = json!({ "postId": post, "parentCommentId": parent, "text": text });
    id(&app.ok(Some(token), ADD, json!({ "i": input })).await["addComment"]["id"])
}

async fn totals(app: &TestApp, post: &str) -> (i64, i64, i64) {
    let q = "query($p: ID!) { post(id: $p) { totalComments } town: space(handle: \"town\") { totalComments } city: space(handle: \"city\") { totalComments } }";
    let data = app.ok(None, q, json!({ "p": post })).await;
    let n = |v: &Value| v.as_i64().unwrap_or(-1);
    (n(&data["post"]["totalComments"]), n(&data["town"]["totalComments"]), n(&data["city"]["totalComments"]))
}

async fn a_deleted_comment_keeps_its_replies_and_every_counter_stays_exact(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let city = app.create_space(&ada, "city", None).await;
    let town = app.create_space(&ada, "town", Some(&city)).await;
    let post = app.create_post(&ada, &[&town], "picnic").await;
    let first = comment(&app, &bob, &post, None, "first!").await;
    let reply = comment(&app, &ada, &post, Some(&first), "a reply").await;
    comment(&app, &bob, &post, Some(&reply), "a reply to the reply").await;
    comment(&app, &bob, &post, None, "second").await;
    assert_eq!(totals(&app, &post).await, (4, 4, 4));

    for _ in 0..2 {
        let deleted = app.ok(Some(&bob), DELETE, json!({ "id": first })).await["deleteComment"].clone();
        assert_eq!(deleted, json!({ "id": first, "text": null, "deleted": true, "totalReplies": 1 }));
        assert_eq!(totals(&app, &post).await, (3, 3, 3), "uncounted once, in the post and every space above");
    }
    let deleted_reply = app.ok(Some(&ada), DELETE, json!({ "id": reply })).await["deleteComment"].clone();
    assert_eq!(deleted_reply["totalReplies"], 1, "its own reply stays");
    assert_eq!(totals(&app, &post).await, (2, 2, 2));

    // The tree still holds them, shown as deleted, with their replies under them.
    let q = "query($p: ID!) { post(id: $p) { comments { nodes { text deleted totalReplies replies { nodes { text deleted \
             replies { nodes { text deleted } } } } } } } }";
    let tree = app.ok(None, q, json!({ "p": post })).await;
    let top = &tree["post"]["comments"]["nodes"];
    assert_eq!(top[0]["text"], Value::Null);
    assert_eq!(top[0]["deleted"], true);
    assert_eq!(top[0]["totalReplies"], 0, "its deleted reply no longer counts");
    assert_eq!(top[0]["replies"]["nodes"][0]["deleted"], true);
    assert_eq!(top[0]["replies"]["nodes"][0]["replies"]["nodes"][0]["text"], "a reply to the reply");
    assert_eq!(top[1]["text"], "second");
    // A deleted comment takes no new replies.
    let input = json!({ "postId": post, "parentCommentId": first, "text": "late" });
    assert_eq!(app.error_code(Some(&ada), ADD, json!({ "i": input })).await, "VALIDATION");
    app.assert_invariants().await;
}

async fn only_its_author_or_a_moderator_deletes_a_comment(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cat, _) = app.register("cat").await;
    let (eve, _) = app.register("eve").await;
    // ada moderates town; bob posts there; cat comments.
    let town = app.create_space(&ada, "town", None).await;
    let post = app.create_post(&bob, &[&town], "bob's post").await;
    let by_cat = comment(&app, &cat, &post, None, "cat was here").await;
    let other = comment(&app, &cat, &post, None, "again").await;
    assert_eq!(app.error_code(Some(&bob), DELETE, json!({ "id": by_cat })).await, "FORBIDDEN", "the post's creator");
    assert_eq!(app.error_code(Some(&eve), DELETE, json!({ "id": by_cat })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, DELETE, json!({ "id": by_cat })).await, "UNAUTHENTICATED");
    let unknown = "0190a000-0000-7000-8000-000000000000";
    assert_eq!(app.error_code(Some(&ada), DELETE, json!({ "id": unknown })).await, "NOT_FOUND");
    assert_eq!(
        app.ok(Some(&ada), DELETE, json!({ "id": by_cat })).await["deleteComment"]["deleted"],
        true,
        "moderator"
    );
    assert_eq!(app.ok(Some(&cat), DELETE, json!({ "id": other })).await["deleteComment"]["deleted"], true, "author");
    // In a private space, an outsider cannot even find it.
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let secret = app.create_post(&ada, &[&club], "secret").await;
    let hidden = comment(&app, &ada, &secret, None, "hidden").await;
    assert_eq!(app.error_code(Some(&eve), DELETE, json!({ "id": hidden })).await, "NOT_FOUND");
    app.assert_invariants().await;
}
