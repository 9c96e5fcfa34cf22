//! The home feed: posts in the spaces a user follows (with everything that flows into them) and by the users
//! they follow, each post once, as they may see them, without muted users, in every ordering, paged by keyset.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};
use std::collections::HashSet;

on_both_backends!(
    followed_spaces_and_users_bring_each_post_once,
    the_home_feed_keeps_privacy_and_mutes,
    every_ordering_pages_through_45_posts_by_20_without_repeats,
    an_anonymous_home_is_the_root_feed,
);

const HOME: &str = "query($s: FeedSort, $a: String, $n: Int) { homeFeed(sort: $s, after: $a, first: $n) { \
                    nodes { title totalLikes createdAt lastActivityAt } pageInfo { hasNextPage endCursor } } }";

async fn home(app: &TestApp, token: Option<&str>) -> Vec<String> {
    let data = app.ok(token, HOME, json!({ "s": "NEW", "a": null, "n": 100 })).await;
    titles(&data["homeFeed"])
}

fn titles(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .map(|a| a.iter().map(|p| p["title"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn follow_space(app: &TestApp, token: &str, space: &str) {
    app.ok(Some(token), "mutation($s: ID!) { followSpace(spaceId: $s) { id } }", json!({ "s": space })).await;
}

async fn follow_user(app: &TestApp, token: &str, handle: &str) {
    app.ok(Some(token), "mutation($h: String!) { followUser(handle: $h) { id } }", json!({ "h": handle })).await;
}

async fn followed_spaces_and_users_bring_each_post_once(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let science = app.create_space(&cy, "science", None).await;
    let biology = app.create_space(&cy, "biology", Some(&science)).await;
    let elsewhere = app.create_space(&cy, "elsewhere", None).await;
    assert!(home(&app, Some(&ada)).await.is_empty(), "following nothing, the home is empty");
    follow_space(&app, &ada, &science).await;
    follow_user(&app, &ada, "bob").await;

    app.create_post(&cy, &[&biology], "flows up from biology").await;
    app.create_post(&cy, &[&science, &biology], "in both spaces").await;
    app.create_post(&bob, &[&elsewhere], "by bob elsewhere").await;
    app.create_post(&bob, &[&science], "by bob in science").await;
    app.create_post(&cy, &[&elsewhere], "neither").await;
    let feed = home(&app, Some(&ada)).await;
    assert_eq!(feed, vec!["by bob in science", "by bob elsewhere", "in both spaces", "flows up from biology"]);

    // A repost into a followed space brings the post once, at its own place in time.
    let neither = app.feed(None, "elsewhere", "").await;
    assert_eq!(neither[0], "neither");
    let post = app.ok(None, "{ space(handle: \"elsewhere\") { posts(first: 1) { nodes { id } } } }", json!({})).await;
    let id = post["space"]["posts"]["nodes"][0]["id"].clone();
    let repost = "mutation($p: ID!, $s: ID!) { repost(input: {postId: $p, spaceIds: [$s]}) { id } }";
    app.ok(Some(&cy), repost, json!({ "p": id, "s": biology })).await;
    let feed = home(&app, Some(&ada)).await;
    assert_eq!(
        feed,
        vec!["neither", "by bob in science", "by bob elsewhere", "in both spaces", "flows up from biology"]
    );
    let unique: HashSet<&String> = feed.iter().collect();
    assert_eq!(unique.len(), feed.len(), "each post once: {feed:?}");
    let before = app.statements().await;
    home(&app, Some(&ada)).await;
    assert_eq!(app.statements().await - before, 1, "the home feed is one statement");

    // Unfollowing takes the source's posts away.
    app.ok(Some(&ada), "mutation($s: ID!) { unfollowSpace(spaceId: $s) { id } }", json!({ "s": science })).await;
    assert_eq!(home(&app, Some(&ada)).await, vec!["by bob in science", "by bob elsewhere"]);
}

async fn the_home_feed_keeps_privacy_and_mutes(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let agora = app.create_space(&cy, "agora", None).await;
    let lab = app.create_space_with(&bob, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    follow_user(&app, &ada, "bob").await;
    follow_space(&app, &ada, &agora).await;
    app.create_post(&bob, &[&lab], "secret").await;
    app.create_post(&bob, &[&agora], "public by bob").await;
    app.create_post(&cy, &[&agora], "by cy").await;
    assert_eq!(
        home(&app, Some(&ada)).await,
        vec!["by cy", "public by bob"],
        "a followed user's private posts stay hidden"
    );

    let invite = "mutation($s: ID!) { inviteToSpace(spaceId: $s, userHandle: \"ada\") { id } }";
    let request = app.ok(Some(&bob), invite, json!({ "s": lab })).await["inviteToSpace"]["id"].clone();
    let accept = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(&ada), accept, json!({ "r": request })).await;
    assert_eq!(home(&app, Some(&ada)).await, vec!["by cy", "public by bob", "secret"], "visible once a member");

    app.ok(Some(&ada), "mutation { muteUser(handle: \"cy\") { id } }", json!({})).await;
    assert_eq!(home(&app, Some(&ada)).await, vec!["public by bob", "secret"], "muted users' posts are left out");
}

async fn every_ordering_pages_through_45_posts_by_20_without_repeats(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let agora = app.create_space(&cy, "agora", None).await;
    let elsewhere = app.create_space(&cy, "elsewhere", None).await;
    follow_space(&app, &ada, &agora).await;
    follow_user(&app, &ada, "bob").await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"so\"}) { id } }";
    for i in 0..45 {
        // Half in the followed space, half by the followed user elsewhere; some in both ways.
        let (author, space) = if i % 2 == 0 { (&cy, &agora) } else { (&bob, &elsewhere) };
        let id = app.create_post(author, &[space.as_str()], &format!("post {i:02}")).await;
        if i % 3 == 0 {
            app.ok(Some(&ada), like, json!({ "p": id })).await;
        }
        if i % 5 == 0 {
            app.ok(Some(&bob), like, json!({ "p": id })).await;
            app.ok(Some(&cy), comment, json!({ "p": id })).await;
        }
    }
    for sort in ["NEW", "ACTIVE", "TOP", "HOT"] {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = app.ok(Some(&ada), HOME, json!({ "s": sort, "a": after, "n": 20 })).await;
            let page = &data["homeFeed"];
            let nodes = page["nodes"].as_array().cloned().unwrap_or_default();
            sizes.push(nodes.len());
            seen.extend(nodes);
            if page["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(sizes, vec![20, 20, 5], "{sort}");
        let names: HashSet<&str> = seen.iter().filter_map(|p| p["title"].as_str()).collect();
        assert_eq!(names.len(), 45, "{sort}: every post once");
        let time = |p: &Value, field: &str| {
            chrono::DateTime::parse_from_rfc3339(p[field].as_str().unwrap_or_default()).expect("a date-time")
        };
        let ordered = |field: &str| seen.windows(2).all(|w| time(&w[0], field) >= time(&w[1], field));
        match sort {
            "NEW" => assert!(ordered("createdAt"), "NEW is newest first"),
            "ACTIVE" => assert!(ordered("lastActivityAt"), "ACTIVE is most recently active first"),
            "TOP" => assert!(
                seen.windows(2).all(|w| w[0]["totalLikes"].as_i64() >= w[1]["totalLikes"].as_i64()),
                "TOP is most liked first"
            ),
            _ => {}
        }
        if sort == "TOP" {
            assert_eq!(seen[0]["totalLikes"], 2);
        }
    }
}

async fn an_anonymous_home_is_the_root_feed(app: TestApp) {
    let (cy, _) = app.register("cy").await;
    let agora = app.create_space(&cy, "agora", None).await;
    let lab = app.create_space_with(&cy, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    app.create_post(&cy, &[&agora], "public").await;
    app.create_post(&cy, &[&lab], "private").await;
    assert_eq!(home(&app, None).await, vec!["public"]);
    assert_eq!(home(&app, None).await, app.feed(None, "all", "").await);
}
