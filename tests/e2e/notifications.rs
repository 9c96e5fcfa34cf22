//! Notifications: each kind created by the action that causes it, folded per thing and day, never from a muted
//! user, never to the actor, never about what the recipient cannot see (checked again when read), counted while
//! unseen, and pushed live over the `notifications` subscription.

use e2e::process::ServerProcess;
use e2e::ws::WsClient;
use e2e::{
    Backend, TestApp, TestDatabase, on_both_backends, test_redis_url, wait_for_redis_subscribers,
    wait_for_subscriptions_at,
};
use serde_json::{Value, json};
use std::time::Duration;

on_both_backends!(
    likes_of_one_post_fold_into_one_notification_with_the_count_and_the_latest_actor,
    comments_replies_ratings_reposts_mentions_and_follows_each_notify,
    nobody_is_notified_of_their_own_actions_nor_by_users_they_mute,
    nobody_is_notified_about_what_they_cannot_see_even_after_losing_access,
    unseen_notifications_are_counted_and_marked_seen,
    notifications_are_the_users_own,
    notifications_are_pushed_live_to_their_recipient_only,
    requests_and_invitations_notify_who_must_answer_and_who_asked,
    a_like_costs_one_statement_more_for_its_notification,
);

const LIST: &str = "{ me { unseenNotifications notifications(first: 50) { totalCount nodes { id kind count seen \
                    actor { handle } post { title } comment { text } space { handle } } } } }";

/// The viewer's notifications, newest first.
async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let data = app.ok(Some(token), LIST, json!({})).await;
    data["me"]["notifications"]["nodes"].as_array().cloned().unwrap_or_default()
}

/// `(kind, count, actor)` of each of the viewer's notifications, newest first.
async fn summary(app: &TestApp, token: &str) -> Vec<(String, i64, String)> {
    list(app, token)
        .await
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap_or_default().to_owned(),
                n["count"].as_i64().unwrap_or_default(),
                n["actor"]["handle"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn unseen(app: &TestApp, token: &str) -> i64 {
    app.ok(Some(token), "{ me { unseenNotifications } }", json!({})).await["me"]["unseenNotifications"]
        .as_i64()
        .unwrap_or(-1)
}

fn entry(kind: &str, count: i64, actor: &str) -> (String, i64, String) {
    (kind.to_owned(), count, actor.to_owned())
}

const LIKE: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
const UNLIKE: &str = "mutation($p: ID!) { unlikePost(postId: $p) { id } }";
const COMMENT: &str =
    "mutation($p: ID!, $c: ID, $t: String!) { addComment(input: {postId: $p, parentCommentId: $c, text: $t}) { id } }";

async fn comment(app: &TestApp, token: &str, post: &str, parent: Option<&str>, text: &str) -> String {
    let data = app.ok(Some(token), COMMENT, json!({ "p": post, "c": parent, "t": text })).await;
    data["addComment"]["id"].as_str().unwrap_or_default().to_owned()
}

async fn likes_of_one_post_fold_into_one_notification_with_the_count_and_the_latest_actor(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "Engines").await;
    let other = app.create_post(&ada, &[&space], "Looms").await;
    app.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 1, "bob")]);
    app.ok(Some(&cy), LIKE, json!({ "p": post })).await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 2, "cy")], "folded: the latest actor, two people");
    // Taking a like back and giving it again is not one more person.
    app.ok(Some(&cy), UNLIKE, json!({ "p": post })).await;
    app.ok(Some(&cy), LIKE, json!({ "p": post })).await;
    // Liking again what one already likes changes nothing.
    app.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    let notes = list(&app, &ada).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["count"], 2);
    assert_eq!(notes[0]["post"]["title"], "Engines");
    // Another post is another notification, newest first.
    app.ok(Some(&bob), LIKE, json!({ "p": other })).await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 1, "bob"), entry("POST_LIKED", 2, "cy")]);
    assert_eq!(list(&app, &ada).await[0]["post"]["title"], "Looms");
}

async fn comments_replies_ratings_reposts_mentions_and_follows_each_notify(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let space = app.create_space(&ada, "agora", None).await;
    let elsewhere = app.create_space(&bob, "elsewhere", None).await;
    let post = app.create_post(&ada, &[&space], "Engines").await;

    let first = comment(&app, &bob, &post, None, "Lovely").await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_COMMENTED", 1, "bob")]);
    // Cy replies to Bob: Bob hears of the reply, Ada of one more person commenting.
    comment(&app, &cy, &post, Some(&first), "Agreed").await;
    assert_eq!(summary(&app, &bob).await, vec![entry("COMMENT_REPLIED", 1, "cy")]);
    assert_eq!(list(&app, &bob).await[0]["comment"]["text"], "Agreed");
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_COMMENTED", 2, "cy")]);
    // Ada replies to Bob on her own post: Bob hears of it once, as a reply.
    comment(&app, &ada, &post, Some(&first), "Thanks").await;
    assert_eq!(summary(&app, &bob).await, vec![entry("COMMENT_REPLIED", 2, "ada")]);

    app.ok(Some(&bob), "mutation($p: ID!) { ratePost(postId: $p, value: 80) { id } }", json!({ "p": post })).await;
    assert_eq!(summary(&app, &ada).await[0], entry("POST_RATED", 1, "bob"));
    let repost = "mutation($p: ID!, $s: ID!) { repost(input: {postId: $p, spaceIds: [$s]}) { id } }";
    app.ok(Some(&bob), repost, json!({ "p": post, "s": elsewhere })).await;
    assert_eq!(summary(&app, &ada).await[0], entry("POST_REPOSTED", 1, "bob"));

    app.ok(Some(&bob), "mutation { followUser(handle: \"ada\") { id } }", json!({})).await;
    app.ok(Some(&cy), "mutation { followUser(handle: \"ada\") { id } }", json!({})).await;
    assert_eq!(summary(&app, &ada).await[0], entry("USER_FOLLOWED", 2, "cy"));

    // Mentions, in a post and in a comment; one notification per post or comment mentioning.
    let create = "mutation($s: ID!, $t: String!, $x: String) { createPost(input: {spaceIds: [$s], title: $t, text: $x}) { post { id } } }";
    let data = app.ok(Some(&ada), create, json!({ "s": space, "t": "Hello @cy", "x": "and @cy again, @nobody" })).await;
    let mentioning = data["createPost"]["post"]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(summary(&app, &cy).await, vec![entry("MENTIONED", 1, "ada")]);
    assert_eq!(list(&app, &cy).await[0]["post"]["title"], "Hello @cy");
    comment(&app, &bob, &mentioning, None, "@cy @ada look").await;
    let cy_notes = list(&app, &cy).await;
    assert_eq!(cy_notes[0]["kind"], "MENTIONED");
    assert_eq!(cy_notes[0]["comment"]["text"], "@cy @ada look");
    // Ada, whose post it is, hears of the comment once (not again as a mention).
    assert_eq!(summary(&app, &ada).await[0], entry("POST_COMMENTED", 1, "bob"));
    assert_eq!(list(&app, &ada).await.iter().filter(|n| n["kind"] == "MENTIONED").count(), 0);
}

async fn nobody_is_notified_of_their_own_actions_nor_by_users_they_mute(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "Engines").await;
    app.ok(Some(&ada), LIKE, json!({ "p": post })).await;
    comment(&app, &ada, &post, None, "Note to self, @ada").await;
    assert!(list(&app, &ada).await.is_empty(), "nothing from oneself");

    app.ok(Some(&ada), "mutation { muteUser(handle: \"bob\") { id } }", json!({})).await;
    app.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    comment(&app, &bob, &post, None, "Hi @ada").await;
    app.ok(Some(&bob), "mutation { followUser(handle: \"ada\") { id } }", json!({})).await;
    assert!(list(&app, &ada).await.is_empty(), "nothing from a muted user");

    // Muting later hides what came before; unmuting shows it again.
    app.ok(Some(&cy), LIKE, json!({ "p": post })).await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 1, "cy")]);
    app.ok(Some(&ada), "mutation { muteUser(handle: \"cy\") { id } }", json!({})).await;
    assert!(list(&app, &ada).await.is_empty());
    assert_eq!(unseen(&app, &ada).await, 0);
    app.ok(Some(&ada), "mutation { unmuteUser(handle: \"cy\") { id } }", json!({})).await;
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 1, "cy")]);
}

async fn nobody_is_notified_about_what_they_cannot_see_even_after_losing_access(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let lab = app.create_space_with(&ada, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    // Bob is no member: a mention in the lab does not reach him.
    app.ok(
        Some(&ada),
        "mutation($s: ID!) { createPost(input: {spaceIds: [$s], title: \"Secret @bob\"}) { post { id } } }",
        json!({ "s": lab }),
    )
    .await;
    assert!(list(&app, &bob).await.is_empty());

    // Bob joins, posts in the lab, and Ada likes and comments on it: Bob is told.
    let invite = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"bob\") { id } }";
    let request = app.ok(Some(&ada), invite, json!({ "s": lab })).await["inviteToSpace"]["id"].clone();
    let accept = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(&bob), accept, json!({ "r": request })).await;
    let post = app.create_post(&bob, &[&lab], "Inside").await;
    app.ok(Some(&ada), LIKE, json!({ "p": post })).await;
    comment(&app, &ada, &post, None, "Nice").await;
    assert_eq!(
        summary(&app, &bob).await,
        vec![entry("POST_COMMENTED", 1, "ada"), entry("POST_LIKED", 1, "ada"), entry("SPACE_INVITATION", 1, "ada")]
    );
    assert_eq!(unseen(&app, &bob).await, 3);

    // Bob is removed from the lab: the notifications about its post are no longer shown, nor counted; the
    // invitation is, with the lab as an outsider sees it.
    let remove = "mutation($s: ID!) { removeSpaceMember(spaceId: $s, userHandle: \"bob\") { id } }";
    app.ok(Some(&ada), remove, json!({ "s": lab })).await;
    assert_eq!(summary(&app, &bob).await, vec![entry("SPACE_INVITATION", 1, "ada")]);
    assert_eq!(unseen(&app, &bob).await, 1);
    let count = app
        .ok(Some(&bob), "{ me { notifications { totalCount nodes { space { handle description } } } } }", json!({}))
        .await;
    assert_eq!(count["me"]["notifications"]["totalCount"], 1);
    assert_eq!(count["me"]["notifications"]["nodes"][0]["space"], json!({ "handle": "lab", "description": null }));
}

async fn unseen_notifications_are_counted_and_marked_seen(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let mut posts = Vec::new();
    for title in ["one", "two", "three"] {
        posts.push(app.create_post(&ada, &[&space], title).await);
    }
    let (bob, _) = app.register("bob").await;
    for post in &posts {
        app.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    }
    assert_eq!(unseen(&app, &ada).await, 3);
    let notes = list(&app, &ada).await;
    let mark = "mutation($ids: [ID!]) { markNotificationsSeen(ids: $ids) }";
    let marked = app.ok(Some(&ada), mark, json!({ "ids": [notes[0]["id"]] })).await;
    assert_eq!(marked["markNotificationsSeen"], 1);
    let again = app.ok(Some(&ada), mark, json!({ "ids": [notes[0]["id"]] })).await;
    assert_eq!(again["markNotificationsSeen"], 0, "already seen");
    assert_eq!(unseen(&app, &ada).await, 2);
    let unseen_only = "{ me { notifications(unseenOnly: true) { totalCount nodes { post { title } } } } }";
    let data = app.ok(Some(&ada), unseen_only, json!({})).await;
    assert_eq!(data["me"]["notifications"]["totalCount"], 2);
    assert_eq!(
        data["me"]["notifications"]["nodes"],
        json!([{ "post": { "title": "two" } }, { "post": { "title": "one" } }])
    );
    assert_eq!(list(&app, &ada).await[0]["seen"], true);

    // Someone else's ids change nothing; no ids marks all.
    let (cy, _) = app.register("cy").await;
    let theirs = app.ok(Some(&cy), mark, json!({ "ids": [notes[1]["id"]] })).await;
    assert_eq!(theirs["markNotificationsSeen"], 0);
    let all = app.ok(Some(&ada), mark, json!({ "ids": null })).await;
    assert_eq!(all["markNotificationsSeen"], 2);
    assert_eq!(unseen(&app, &ada).await, 0);

    // One more person liking a seen notification's post makes it unseen again, on top.
    app.ok(Some(&cy), LIKE, json!({ "p": posts[0] })).await;
    assert_eq!(unseen(&app, &ada).await, 1);
    let top = &list(&app, &ada).await[0];
    assert_eq!(
        (top["post"]["title"].as_str(), top["count"].as_i64(), top["seen"].as_bool()),
        (Some("one"), Some(2), Some(false))
    );
    assert_eq!(app.error_code(None, mark, json!({ "ids": null })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&ada), mark, json!({ "ids": ["not-an-id"] })).await, "VALIDATION");
}

async fn notifications_are_the_users_own(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    app.ok(Some(&bob), "mutation { followUser(handle: \"ada\") { id } }", json!({})).await;
    let query = "{ user(handle: \"ada\") { unseenNotifications } }";
    assert_eq!(app.ok(Some(&ada), query, json!({})).await["user"]["unseenNotifications"], 1);
    assert!(app.ok(Some(&bob), query, json!({})).await["user"]["unseenNotifications"].is_null());
    assert!(app.ok(None, query, json!({})).await["user"]["unseenNotifications"].is_null());
    let theirs = "{ user(handle: \"ada\") { notifications { totalCount } } }";
    assert_eq!(app.error_code(Some(&bob), theirs, json!({})).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, theirs, json!({})).await, "UNAUTHENTICATED");
}

const LIVE: &str = "subscription { notifications { kind count actor { handle } post { title } } }";

async fn next_notification(client: &mut WsClient) -> Value {
    let message = client.next_json().await;
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["notifications"].clone()
}

async fn notifications_are_pushed_live_to_their_recipient_only(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "Engines").await;

    let mut anonymous = WsClient::ready(app.addr, None).await;
    anonymous.subscribe("n", LIVE, json!({})).await;
    let refused = anonymous.next_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");

    let mut subscriber = WsClient::ready(app.addr, Some(&ada)).await;
    subscriber.subscribe("n", LIVE, json!({})).await;
    let mut bystander = WsClient::ready(app.addr, Some(&cy)).await;
    bystander.subscribe("n", LIVE, json!({})).await;
    app.wait_for_subscriptions(2).await;

    app.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    assert_eq!(
        next_notification(&mut subscriber).await,
        json!({ "kind": "POST_LIKED", "count": 1, "actor": { "handle": "bob" }, "post": { "title": "Engines" } })
    );
    app.ok(Some(&cy), LIKE, json!({ "p": post })).await;
    assert_eq!(next_notification(&mut subscriber).await["count"], 2, "the fold, live");

    // A muted user's actions are never pushed: the next notification is Bob's comment.
    app.ok(Some(&ada), "mutation { muteUser(handle: \"cy\") { id } }", json!({})).await;
    comment(&app, &cy, &post, None, "Muted").await;
    comment(&app, &bob, &post, None, "Heard").await;
    let next = next_notification(&mut subscriber).await;
    assert_eq!((next["kind"].as_str(), next["actor"]["handle"].as_str()), (Some("POST_COMMENTED"), Some("bob")));

    // Cy's subscription heard nothing of Ada's notifications: its first event is its own.
    app.ok(Some(&bob), "mutation { followUser(handle: \"cy\") { id } }", json!({})).await;
    let own = next_notification(&mut bystander).await;
    assert_eq!((own["kind"].as_str(), own["actor"]["handle"].as_str()), (Some("USER_FOLLOWED"), Some("bob")));
}

async fn requests_and_invitations_notify_who_must_answer_and_who_asked(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let (dan, _) = app.register("dan").await;
    let lab = app.create_space_with(&ada, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    let spaces_of = |notes: &[Value]| -> Vec<String> {
        notes.iter().map(|n| n["space"]["handle"].as_str().unwrap_or_default().to_owned()).collect()
    };

    // Requests for access reach the moderators, folded per space and day.
    let request = "mutation($s: ID!) { requestSpaceAccess(spaceId: $s) { id } }";
    let from_bob = app.ok(Some(&bob), request, json!({ "s": lab })).await["requestSpaceAccess"]["id"].clone();
    let from_cy = app.ok(Some(&cy), request, json!({ "s": lab })).await["requestSpaceAccess"]["id"].clone();
    assert_eq!(summary(&app, &ada).await, vec![entry("ACCESS_REQUEST_RECEIVED", 2, "cy")]);
    assert_eq!(spaces_of(&list(&app, &ada).await), vec!["lab"]);

    // Answers reach who asked, accepted or not.
    let respond = "mutation($r: ID!, $a: Boolean!) { respondToAccessRequest(requestId: $r, accept: $a) { state } }";
    app.ok(Some(&ada), respond, json!({ "r": from_bob, "a": true })).await;
    app.ok(Some(&ada), respond, json!({ "r": from_cy, "a": false })).await;
    assert_eq!(summary(&app, &bob).await, vec![entry("ACCESS_REQUEST_ANSWERED", 1, "ada")]);
    assert_eq!(summary(&app, &cy).await, vec![entry("ACCESS_REQUEST_ANSWERED", 1, "ada")]);

    // Invitations reach the invited.
    let invite = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"dan\") { id } }";
    app.ok(Some(&ada), invite, json!({ "s": lab })).await;
    assert_eq!(summary(&app, &dan).await, vec![entry("SPACE_INVITATION", 1, "ada")]);
    let moderate = "mutation($s: ID!) { inviteModerator(spaceId: $s, userHandle: \"bob\") { id } }";
    app.ok(Some(&ada), moderate, json!({ "s": lab })).await;
    assert_eq!(summary(&app, &bob).await[0], entry("MODERATOR_INVITATION", 1, "ada"));

    // A request to attach a space reaches the parent's moderators; the answer reaches who asked.
    let agora = app.create_space(&ada, "agora", None).await;
    let garden = app.create_space(&cy, "garden", None).await;
    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { request { id } } }";
    let asked =
        app.ok(Some(&cy), attach, json!({ "c": garden, "p": agora })).await["attachSpace"]["request"]["id"].clone();
    let ada_notes = list(&app, &ada).await;
    assert_eq!(
        (ada_notes[0]["kind"].as_str(), ada_notes[0]["actor"]["handle"].as_str()),
        (Some("SPACE_REQUEST_RECEIVED"), Some("cy"))
    );
    assert_eq!(spaces_of(&ada_notes[..1]), vec!["agora"]);
    let answer = "mutation($r: ID!) { respondToSpaceRequest(input: {requestId: $r, accept: true}) { state } }";
    app.ok(Some(&ada), answer, json!({ "r": asked })).await;
    let cy_notes = list(&app, &cy).await;
    assert_eq!(cy_notes[0]["kind"], "SPACE_REQUEST_ANSWERED");
    assert_eq!(spaces_of(&cy_notes[..1]), vec!["garden"]);
}

/// A like that notifies the post's author runs exactly one statement more than a like that notifies nobody (the
/// author liking their own post): the notification is one upsert, and it travels in the outbox row the like
/// writes anyway.
async fn a_like_costs_one_statement_more_for_its_notification(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let space = app.create_space(&ada, "agora", None).await;
    let mut posts = Vec::new();
    for title in ["warm-up", "own", "other"] {
        posts.push(app.create_post(&ada, &[&space], title).await);
    }
    app.ok(Some(&ada), LIKE, json!({ "p": posts[0] })).await;
    // Both sessions read (and cached) before counting, so neither like pays for reading its session.
    app.ok(Some(&bob), "{ me { id } }", json!({})).await;
    let before = app.statements().await;
    app.ok(Some(&ada), LIKE, json!({ "p": posts[1] })).await;
    let own = app.statements().await - before;
    let before = app.statements().await;
    app.ok(Some(&bob), LIKE, json!({ "p": posts[2] })).await;
    let other = app.statements().await - before;
    assert_eq!(other, own + 1, "a like that notifies: {other} statements; one that does not: {own}");
    assert_eq!(summary(&app, &ada).await, vec![entry("POST_LIKED", 1, "bob")]);
}

const REGISTER: &str = "mutation($h: String!, $e: String!) { register(input: {handle: $h, name: $h, email: $e, password: \"password-123\"}) { token } }";

/// Registers `handle` through the server at `remote` and returns the token.
async fn register_at(remote: &e2e::Remote<'_>, handle: &str) -> String {
    let data = remote.ok(None, REGISTER, json!({ "h": handle, "e": format!("{handle}@example.org") })).await;
    data["register"]["token"].as_str().expect("token").to_owned()
}

/// Ada's post, made through `remote`: (Ada's token, Bob's token, the post's id).
async fn ada_bob_and_a_post(remote: &e2e::Remote<'_>) -> (String, String, String) {
    let ada = register_at(remote, "ada").await;
    let bob = register_at(remote, "bob").await;
    let create = "mutation { createSpace(input: {handle: \"agora\", name: \"Agora\"}) { space { id } } }";
    let space = remote.ok(Some(&ada), create, json!({})).await["createSpace"]["space"]["id"].clone();
    let post = "mutation($s: ID!) { createPost(input: {spaceIds: [$s], title: \"Engines\"}) { post { id } } }";
    let id = remote.ok(Some(&ada), post, json!({ "s": space })).await["createPost"]["post"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (ada, bob, id)
}

/// Two replicas over one PostgreSQL database and one Redis: Ada listens on replica A, Bob likes her post through
/// replica B, and the notification reaches Ada on A.
#[tokio::test(flavor = "current_thread")]
async fn a_notification_reaches_its_recipient_on_another_replica() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let a = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica A (is the weco binary built?)");
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B");
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let (on_a, on_b) = (app.at(a.addr), app.at(b.addr));
    let (ada, bob, post) = ada_bob_and_a_post(&on_b).await;
    let ada_id = on_a.ok(Some(&ada), "{ me { id } }", json!({})).await["me"]["id"].as_str().expect("id").to_owned();

    let mut subscriber = WsClient::ready(a.addr, Some(&ada)).await;
    subscriber.subscribe("n", LIVE, json!({})).await;
    wait_for_subscriptions_at(&app.client, a.addr, 1).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:user:{ada_id}"), 1).await;
    on_b.ok(Some(&bob), LIKE, json!({ "p": post })).await;
    assert_eq!(
        next_notification(&mut subscriber).await,
        json!({ "kind": "POST_LIKED", "count": 1, "actor": { "handle": "bob" }, "post": { "title": "Engines" } })
    );
}

/// A replica that dies right after committing a like, before publishing anything: the notification is in the
/// outbox, and the other replica's recovery delivers it to Ada, listening there, once.
#[tokio::test(flavor = "current_thread")]
async fn a_notification_committed_by_a_replica_that_crashed_before_publishing_is_delivered() {
    let Some(redis) = test_redis_url().await else { return };
    let Some(database) = TestDatabase::create(Backend::Postgres).await.expect("database") else { return };
    let prefix = format!("weco-test-{}", uuid::Uuid::now_v7().simple());
    let b = ServerProcess::spawn(&database.url, Some(&redis), &prefix).expect("replica B (is the weco binary built?)");
    let a = ServerProcess::spawn_with(&database.url, |c| {
        c.env("WECO_CHANNEL_PREFIX", &prefix).env("REDIS_URL", &redis).env("WECO_FAILPOINT", "abort-after-commit");
    })
    .expect("replica A with the failpoint");
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else { return };
    let on_b = app.at(b.addr);
    // Replica A dies at its first commit with events: everything else goes through B.
    let (ada, bob, post) = ada_bob_and_a_post(&on_b).await;
    let ada_id = on_b.ok(Some(&ada), "{ me { id } }", json!({})).await["me"]["id"].as_str().expect("id").to_owned();
    let mut subscriber = WsClient::ready(b.addr, Some(&ada)).await;
    subscriber.subscribe("n", LIVE, json!({})).await;
    wait_for_subscriptions_at(&app.client, b.addr, 1).await;
    wait_for_redis_subscribers(&redis, &format!("{prefix}:user:{ada_id}"), 1).await;

    let like = app
        .client
        .post(format!("http://{}/graphql", a.addr))
        .bearer_auth(&bob)
        .json(&json!({ "query": LIKE, "variables": { "p": post } }))
        .send()
        .await;
    assert!(like.is_err(), "the server with the failpoint answered instead of aborting: {like:?}");
    drop(a);
    // Recovery waits 5 s before publishing what another process committed; then Ada hears of the like.
    let Some(e2e::ws::Frame::Json(message)) = subscriber.next_within(Duration::from_secs(30)).await else {
        panic!("no notification after the crash")
    };
    assert_eq!(message["payload"]["data"]["notifications"]["kind"], "POST_LIKED", "{message}");
    // Exactly once: the next notification is the next like's.
    let cy = register_at(&on_b, "cy").await;
    on_b.ok(Some(&cy), LIKE, json!({ "p": post })).await;
    let next = next_notification(&mut subscriber).await;
    assert_eq!((next["count"].as_i64(), next["actor"]["handle"].as_str()), (Some(2), Some("cy")));
}
