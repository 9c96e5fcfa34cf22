//! Regressions for the unit-of-work server: what live feeds hear (DIRECT feeds, the leading edge of stats,
//! tree edits), follows that end with access, mutes, and the query cost limit.

use e2e::ws::WsClient;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tokio::time::Instant;

on_both_backends!(
    a_direct_feed_hears_nothing_of_posts_that_only_flow_into_it,
    the_first_stats_of_a_quiet_post_go_out_without_the_coalescing_delay,
    attaching_detaching_and_deleting_a_space_tell_the_feeds_above_it,
    a_follower_of_a_space_made_private_is_no_longer_counted,
    a_follower_of_a_space_placed_under_a_private_space_is_no_longer_counted,
    a_follower_removed_from_a_private_space_is_no_longer_counted,
    a_muted_authors_posts_are_left_out_of_search_user_posts_and_feeds,
    a_muted_authors_new_posts_are_left_out_of_the_viewers_live_feed,
    a_query_whose_nested_pages_cost_too_much_is_refused_before_it_runs,
);

const FEED: &str = "subscription($s: ID!, $d: Depth) { spaceFeed(spaceId: $s, depth: $d) { __typename \
    ... on PostAdded { spaceId post { id title } } ... on PostRemoved { spaceId postId } \
    ... on PostStatsChanged { postId totalLikes totalComments } } }";

const LIKE: &str = "mutation($p: ID!) { likePost(postId: $p) { totalLikes } }";

/// The `spaceFeed` payload of the next message, which must be a `next` of operation `id`.
async fn next_feed(client: &mut WsClient, id: &str) -> Value {
    let message = client.next_json().await;
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["spaceFeed"].clone()
}

/// What a feed event says, in a few words that tests compare whole: `added <title>`, `removed <post id>`,
/// `stats <post id> likes=<n>`.
fn describe(event: &Value) -> String {
    match event["__typename"].as_str() {
        Some("PostAdded") => format!("added {}", event["post"]["title"].as_str().unwrap_or_default()),
        Some("PostRemoved") => format!("removed {}", event["postId"].as_str().unwrap_or_default()),
        Some("PostStatsChanged") => {
            format!("stats {} likes={}", event["postId"].as_str().unwrap_or_default(), event["totalLikes"])
        }
        _ => format!("unexpected {event}"),
    }
}

async fn total_followers(app: &TestApp, token: &str, space: &str) -> i64 {
    let data = app.ok(Some(token), "query($s: ID) { space(id: $s) { totalFollowers } }", json!({ "s": space })).await;
    data["space"]["totalFollowers"].as_i64().unwrap_or_else(|| panic!("no totalFollowers: {data}"))
}

async fn follow(app: &TestApp, token: &str, space: &str) {
    app.ok(Some(token), "mutation($s: ID!) { followSpace(spaceId: $s) { id } }", json!({ "s": space })).await;
}

/// Makes `handle` a member of the private space `space` (invited by `moderator`, accepted by `token`).
async fn admit(app: &TestApp, moderator: &str, token: &str, space: &str, handle: &str) {
    let invite = "mutation($s: ID!, $u: String!) { inviteToSpace(spaceId: $s, userHandle: $u) { id } }";
    let request =
        app.ok(Some(moderator), invite, json!({ "s": space, "u": handle })).await["inviteToSpace"]["id"].clone();
    let accept = "mutation($r: ID!) { respondToSpaceInvitation(requestId: $r, accept: true) { state } }";
    app.ok(Some(token), accept, json!({ "r": request })).await;
}

// ---------------------------------------------------------------------------------------------------------
// Live feeds
// ---------------------------------------------------------------------------------------------------------

/// A post placed in a child space flows into the parent's feed. A DIRECT subscriber of the parent shows only
/// what was posted in the parent itself, so it must hear neither the post's new totals nor its removal from
/// the parent by the parent's moderator — while an ALL subscriber hears both. A later post in the parent is
/// the sentinel: it must be the DIRECT subscriber's very next event. Stats of a post placed directly in the
/// parent still reach the DIRECT subscriber.
async fn a_direct_feed_hears_nothing_of_posts_that_only_flow_into_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let parent = app.create_space(&ada, "parent", None).await;
    let child = app.create_space(&ada, "child", Some(&parent)).await;
    let below = app.create_post(&ada, &[&child], "below").await;

    let mut direct = WsClient::ready(app.addr, None).await;
    direct.subscribe("d", FEED, json!({ "s": parent, "d": "DIRECT" })).await;
    let mut all = WsClient::ready(app.addr, None).await;
    all.subscribe("a", FEED, json!({ "s": parent, "d": "ALL" })).await;
    app.wait_for_subscriptions(2).await;

    app.ok(Some(&bob), LIKE, json!({ "p": below })).await;
    let remove = "mutation($p: ID!, $s: ID!) { removePostFromSpace(input: {postId: $p, spaceId: $s}) { id } }";
    app.ok(Some(&ada), remove, json!({ "p": below, "s": parent })).await;
    let here = app.create_post(&ada, &[&parent], "sentinel").await;

    let mut heard = Vec::new();
    for _ in 0..3 {
        heard.push(describe(&next_feed(&mut all, "a").await));
    }
    assert_eq!(
        heard,
        [format!("stats {below} likes=1"), format!("removed {below}"), "added sentinel".to_owned()],
        "the ALL subscriber hears everything that happens to the post flowing up"
    );
    let first = next_feed(&mut direct, "d").await;
    assert_eq!(
        describe(&first),
        "added sentinel",
        "the DIRECT subscriber must hear nothing of a post that is not placed directly in its space: {first}"
    );
    app.ok(Some(&bob), LIKE, json!({ "p": here })).await;
    let stats = next_feed(&mut direct, "d").await;
    assert_eq!(describe(&stats), format!("stats {here} likes=1"), "stats of a direct post still go out");
}

/// The first stats of a quiet post go out at once (the leading edge of the per-post throttle); only the
/// changes that follow within the 250 ms interval wait.
///
/// A latency property, measured on a machine that may be busy: for each of five fresh posts the time from
/// the like's HTTP response to the arrival of its stats event (negative when the event wins the race) is
/// measured, and the median must stay under 150 ms. Held on the trailing edge, every sample would be at
/// least ~250 ms (the event is published before the response is written, then held for the interval), so
/// the median is far from the bound in both directions: one or two samples slowed by a loaded scheduler do
/// not move it.
async fn the_first_stats_of_a_quiet_post_go_out_without_the_coalescing_delay(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let mut feed = WsClient::ready(app.addr, None).await;
    feed.subscribe("f", FEED, json!({ "s": space })).await;
    app.wait_for_subscriptions(1).await;

    let mut samples_ms = Vec::new();
    for i in 0..5 {
        let post = app.create_post(&ada, &[&space], &format!("quiet {i}")).await;
        assert_eq!(describe(&next_feed(&mut feed, "f").await), format!("added quiet {i}"));
        let like = async {
            let body = app.gql(Some(&ada), LIKE, json!({ "p": post })).await;
            assert!(body.get("errors").is_none(), "{body}");
            Instant::now()
        };
        let event = async {
            let event = next_feed(&mut feed, "f").await;
            (Instant::now(), event)
        };
        let (responded, (arrived, event)) = tokio::join!(like, event);
        assert_eq!(describe(&event), format!("stats {post} likes=1"));
        let ms = if arrived >= responded {
            arrived.duration_since(responded).as_secs_f64() * 1000.0
        } else {
            -(responded.duration_since(arrived).as_secs_f64() * 1000.0)
        };
        samples_ms.push(ms);
    }
    eprintln!("{:?}: first stats {samples_ms:.1?} ms after the like's response", app.backend);
    let mut sorted = samples_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!(
        median < 150.0,
        "the first stats of a quiet post were held back: median {median:.0} ms after the like's response \
         (samples {samples_ms:.0?} ms)"
    );
}

/// Tree edits change which feeds a post appears in, and say so: attaching a space that holds posts adds them
/// to the feeds above (`PostAdded`), detaching it takes them out (`PostRemoved`), and deleting it takes them out
/// of every feed above it.
async fn attaching_detaching_and_deleting_a_space_tell_the_feeds_above_it(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let parent = app.create_space(&ada, "parent", None).await;
    let moved = app.create_space(&ada, "moved", None).await;
    let first = app.create_post(&ada, &[&moved], "first").await;
    let second = app.create_post(&ada, &[&moved], "second").await;

    let mut feed = WsClient::ready(app.addr, None).await;
    feed.subscribe("p", FEED, json!({ "s": parent })).await;
    app.wait_for_subscriptions(1).await;

    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
    let detach = "mutation($c: ID!, $p: ID!) { detachSpace(input: {childId: $c, parentId: $p}) { id } }";
    let added: BTreeSet<String> = ["added first".to_owned(), "added second".to_owned()].into();
    let removed: BTreeSet<String> = [format!("removed {first}"), format!("removed {second}")].into();

    let data = app.ok(Some(&ada), attach, json!({ "c": moved, "p": parent })).await;
    assert_eq!(data["attachSpace"]["attached"], true);
    assert_eq!(two_events(&mut feed).await, added, "attaching adds the child's posts to the parent's feed");

    app.ok(Some(&ada), detach, json!({ "c": moved, "p": parent })).await;
    assert_eq!(two_events(&mut feed).await, removed, "detaching takes them out again");

    app.ok(Some(&ada), attach, json!({ "c": moved, "p": parent })).await;
    assert_eq!(two_events(&mut feed).await, added, "attaching again adds them again");

    app.ok(Some(&ada), "mutation($s: ID!) { deleteSpace(spaceId: $s) { id } }", json!({ "s": moved })).await;
    assert_eq!(two_events(&mut feed).await, removed, "deleting the child takes its posts out of the parent's feed");
    assert!(app.feed(Some(&ada), "parent", "").await.is_empty(), "and the feed agrees");

    // Nothing else was said: the next event is the next post.
    app.create_post(&ada, &[&parent], "sentinel").await;
    assert_eq!(describe(&next_feed(&mut feed, "p").await), "added sentinel");
}

/// The next two feed events, described, as a set (a tree edit announces its posts in no particular order).
async fn two_events(feed: &mut WsClient) -> BTreeSet<String> {
    let mut events = BTreeSet::new();
    for _ in 0..2 {
        events.insert(describe(&next_feed(feed, "p").await));
    }
    events
}

// ---------------------------------------------------------------------------------------------------------
// Followers who lose access
// ---------------------------------------------------------------------------------------------------------

/// Bob follows a public space and a public space below it; the upper one is made private (Bob is no member):
/// both lose him as a follower, as their moderator sees.
async fn a_follower_of_a_space_made_private_is_no_longer_counted(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let outer = app.create_space(&ada, "outer", None).await;
    let inner = app.create_space(&ada, "inner", Some(&outer)).await;
    follow(&app, &bob, &outer).await;
    follow(&app, &bob, &inner).await;
    assert_eq!(total_followers(&app, &ada, &outer).await, 2, "Ada (the creator) and Bob");
    assert_eq!(total_followers(&app, &ada, &inner).await, 2);

    let private = "mutation($s: ID!) { updateSpace(input: {spaceId: $s, privacy: PRIVATE}) { privacy } }";
    app.ok(Some(&ada), private, json!({ "s": outer })).await;
    assert_eq!(total_followers(&app, &ada, &outer).await, 1, "Bob may no longer access the space he followed");
    assert_eq!(total_followers(&app, &ada, &inner).await, 1, "nor the space below it");
}

/// Bob follows a public space, which is then placed under a private space he is not a member of.
async fn a_follower_of_a_space_placed_under_a_private_space_is_no_longer_counted(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let open = app.create_space(&ada, "open", None).await;
    follow(&app, &bob, &open).await;
    assert_eq!(total_followers(&app, &ada, &open).await, 2);

    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
    let data = app.ok(Some(&ada), attach, json!({ "c": open, "p": club })).await;
    assert_eq!(data["attachSpace"]["attached"], true);
    assert_eq!(total_followers(&app, &ada, &open).await, 1, "Bob may no longer access the space he followed");
}

/// Bob, a member of a private space, follows it; a moderator removes him as member.
async fn a_follower_removed_from_a_private_space_is_no_longer_counted(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    admit(&app, &ada, &bob, &club, "bob").await;
    follow(&app, &bob, &club).await;
    assert_eq!(total_followers(&app, &ada, &club).await, 2);

    let remove = "mutation($s: ID!) { removeSpaceMember(spaceId: $s, userHandle: \"bob\") { id } }";
    app.ok(Some(&ada), remove, json!({ "s": club })).await;
    assert_eq!(total_followers(&app, &ada, &club).await, 1, "Bob may no longer access the space he followed");
}

// ---------------------------------------------------------------------------------------------------------
// Mutes
// ---------------------------------------------------------------------------------------------------------

/// Bob mutes Ada: her posts leave his searches, her post listing and his feeds, and nobody else's.
async fn a_muted_authors_posts_are_left_out_of_search_user_posts_and_feeds(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let space = app.create_space(&ada, "agora", None).await;
    app.create_post(&ada, &[&space], "zebra by ada").await;
    app.create_post(&carl, &[&space], "zebra by carl").await;
    app.ok(Some(&bob), "mutation { muteUser(handle: \"ada\") { id } }", json!({})).await;

    let search = async |token: &str| {
        let data = app.ok(Some(token), "{ searchPosts(query: \"zebra\") { nodes { title } } }", json!({})).await;
        titles(&data["searchPosts"]["nodes"])
    };
    assert_eq!(search(&bob).await, ["zebra by carl"], "Bob's search leaves out Ada's post");
    assert_eq!(search(&carl).await, ["zebra by carl", "zebra by ada"], "Carl muted nobody");

    let user_posts = async |token: &str| {
        let data = app.ok(Some(token), "{ user(handle: \"ada\") { posts { nodes { title } } } }", json!({})).await;
        titles(&data["user"]["posts"]["nodes"])
    };
    assert!(user_posts(&bob).await.is_empty(), "Bob does not see Ada's posts on her page either");
    assert_eq!(user_posts(&carl).await, ["zebra by ada"]);

    for args in ["", ", sort: TOP", ", sort: HOT", ", depth: DIRECT", ", search: \"zebra\""] {
        assert_eq!(app.feed(Some(&bob), "agora", args).await, ["zebra by carl"], "Bob's feed ({args})");
        assert_eq!(app.feed(Some(&carl), "agora", args).await.len(), 2, "Carl's feed ({args})");
    }
    assert_eq!(app.feed(Some(&bob), "all", "").await, ["zebra by carl"], "and the feeds above");
}

/// The live feed is a feed too: Bob, who muted Ada, hears nothing of her new post (a feed replayed with
/// `after` leaves it out already), while Carl does. Carl's later post is the sentinel.
async fn a_muted_authors_new_posts_are_left_out_of_the_viewers_live_feed(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (carl, _) = app.register("carl").await;
    let space = app.create_space(&ada, "agora", None).await;
    app.ok(Some(&bob), "mutation { muteUser(handle: \"ada\") { id } }", json!({})).await;
    let mut muting = WsClient::ready(app.addr, Some(&bob)).await;
    muting.subscribe("f", FEED, json!({ "s": space })).await;
    let mut other = WsClient::ready(app.addr, Some(&carl)).await;
    other.subscribe("f", FEED, json!({ "s": space })).await;
    app.wait_for_subscriptions(2).await;

    app.create_post(&ada, &[&space], "by ada").await;
    app.create_post(&carl, &[&space], "by carl").await;
    assert_eq!(describe(&next_feed(&mut other, "f").await), "added by ada");
    assert_eq!(describe(&next_feed(&mut other, "f").await), "added by carl");
    let first = next_feed(&mut muting, "f").await;
    assert_eq!(describe(&first), "added by carl", "Bob muted Ada, yet his live feed delivered her post: {first}");
}

fn titles(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .map(|a| a.iter().map(|p| p["title"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------
// The query cost limit
// ---------------------------------------------------------------------------------------------------------

/// Nested connections multiply their page sizes: descendants × posts × comments × replies at 100 each could
/// ask for a hundred million rows. Such a query is refused with `VALIDATION` before anything runs; the same
/// shape with small pages, and a three-level comment thread with the default page sizes, are accepted.
async fn a_query_whose_nested_pages_cost_too_much_is_refused_before_it_runs(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let post = app.create_post(&ada, &[&space], "thread").await;
    let comment = "mutation($p: ID!, $c: ID, $t: String!) { addComment(input: {postId: $p, parentCommentId: $c, text: $t}) { id } }";
    let mut parent = Value::Null;
    for level in 1..=3 {
        let data = app.ok(Some(&ada), comment, json!({ "p": post, "c": parent, "t": format!("level {level}") })).await;
        parent = data["addComment"]["id"].clone();
    }
    let statements = app.statements().await;

    let nested = |n: u32| {
        format!(
            "{{ space(handle: \"all\") {{ descendants(first: {n}) {{ nodes {{ posts(first: {n}) {{ nodes {{ \
             comments(first: {n}) {{ nodes {{ replies(first: {n}) {{ nodes {{ id }} }} }} }} }} }} }} }} }} }}"
        )
    };
    let body = app.gql(None, &nested(100), json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "VALIDATION", "{body}");
    assert!(body["data"].is_null(), "nothing of a refused query runs: {body}");
    assert_eq!(app.statements().await, statements, "refused before any statement ran");

    let small = app.ok(None, &nested(2), json!({})).await;
    assert_eq!(
        small["space"]["descendants"]["nodes"][0]["posts"]["nodes"][0]["comments"]["nodes"].as_array().map(Vec::len),
        Some(1),
        "{small}"
    );

    let thread = "query($p: ID!) { post(id: $p) { comments { nodes { text replies { nodes { text \
                  replies { nodes { text } } } } } } } }";
    let data = app.ok(None, thread, json!({ "p": post })).await;
    let top = &data["post"]["comments"]["nodes"][0];
    assert_eq!(top["text"], "level 1", "{data}");
    assert_eq!(top["replies"]["nodes"][0]["text"], "level 2", "{data}");
    assert_eq!(top["replies"]["nodes"][0]["replies"]["nodes"][0]["text"], "level 3", "{data}");
}
