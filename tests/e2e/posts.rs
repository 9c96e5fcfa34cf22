use e2e::{Backend, TestApp, on_both_backends};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

on_both_backends!(
    a_post_in_a_deep_space_appears_in_every_ancestor_feed_and_direct_shows_only_its_own,
    a_post_reachable_by_two_paths_appears_once_per_feed,
    attaching_and_detaching_a_subtree_moves_its_posts_in_and_out_of_feeds,
    feeds_sort_by_new_active_top_and_hot_within_time_ranges,
    paging_forty_five_posts_by_twenty_returns_each_exactly_once,
    likes_are_idempotent_and_counted_everywhere_the_post_appears,
    thirty_concurrent_likes_by_thirty_users_count_exactly_thirty,
    ratings_replace_and_are_range_checked,
    comments_nest_and_are_counted_at_every_level,
    a_moderator_removes_a_post_from_their_space_only,
    only_the_creator_deletes_a_post,
    search_finds_posts_by_words_in_title_or_text,
    posts_stay_inside_their_private_boundary,
    reposting_adds_a_post_to_more_spaces,
    local_scope_ranks_by_likes_cast_below_the_space,
    linked_posts_rank_in_top_by_links,
    muted_users_leave_the_viewers_feeds,
    nested_queries_cost_the_same_number_of_statements_at_any_page_size,
    a_feed_with_its_creators_costs_two_statements,
    listings_count_their_rows_only_when_totalcount_is_selected,
);

const POST_FIELDS: &str =
    "id title totalLikes totalComments totalReposts totalRatings averageRating viewerHasLiked viewerRating";

async fn post(app: &TestApp, token: Option<&str>, id: &str) -> Value {
    let q = format!("query($id: ID!) {{ post(id: $id) {{ {POST_FIELDS} spaces {{ handle }} }} }}");
    app.ok(token, &q, json!({ "id": id })).await["post"].clone()
}

async fn space_totals(app: &TestApp, token: Option<&str>, handle: &str) -> Value {
    let q = "query($h: String) { space(handle: $h) { totalPosts totalPostLikes totalComments } }";
    app.ok(token, q, json!({ "h": handle })).await["space"].clone()
}

/// science > biology > genetics > dna, all by `token`'s user.
async fn chain(app: &TestApp, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for handle in ["science", "biology", "genetics", "dna"] {
        let id = app.create_space(token, handle, ids.last().map(String::as_str)).await;
        ids.push(id);
    }
    ids
}

async fn a_post_in_a_deep_space_appears_in_every_ancestor_feed_and_direct_shows_only_its_own(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let ids = chain(&app, &token).await;
    app.create_post(&token, &[&ids[3]], "double helix").await;
    app.create_post(&token, &[&ids[1]], "cells").await;
    for handle in ["all", "science", "biology"] {
        assert_eq!(app.feed(None, handle, "").await, ["cells", "double helix"], "{handle}");
    }
    for handle in ["genetics", "dna"] {
        assert_eq!(app.feed(None, handle, "").await, ["double helix"], "{handle}");
    }
    assert_eq!(app.feed(None, "biology", ", depth: DIRECT").await, ["cells"]);
    assert_eq!(app.feed(None, "dna", ", depth: DIRECT").await, ["double helix"]);
    assert!(app.feed(None, "science", ", depth: DIRECT").await.is_empty());
    assert_eq!(space_totals(&app, None, "science").await["totalPosts"], 2);
    assert_eq!(space_totals(&app, None, "dna").await["totalPosts"], 1);
}

async fn a_post_reachable_by_two_paths_appears_once_per_feed(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let science = app.create_space(&token, "science", None).await;
    let chem = app.create_space(&token, "chemistry", Some(&science)).await;
    let bio = app.create_space(&token, "biology", Some(&science)).await;
    let biochem = app.create_space(&token, "biochemistry", Some(&chem)).await;
    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
    app.ok(Some(&token), attach, json!({ "c": biochem, "p": bio })).await;
    app.create_post(&token, &[&biochem], "enzymes").await;
    // Posted directly into a space it also reaches from below.
    app.create_post(&token, &[&biochem, &science], "metabolism").await;
    for handle in ["all", "science", "chemistry", "biology", "biochemistry"] {
        assert_eq!(app.feed(None, handle, "").await, ["metabolism", "enzymes"], "{handle}");
    }
    assert_eq!(space_totals(&app, None, "science").await["totalPosts"], 2);
    assert_eq!(space_totals(&app, None, "all").await["totalPosts"], 2);
}

async fn attaching_and_detaching_a_subtree_moves_its_posts_in_and_out_of_feeds(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let science = app.create_space(&token, "science", None).await;
    let arts = app.create_space(&token, "arts", None).await;
    let design = app.create_space(&token, "design", None).await;
    let typo = app.create_space(&token, "typography", Some(&design)).await;
    app.create_post(&token, &[&typo], "kerning").await;
    app.create_post(&token, &[&design], "grids").await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { totalLikes } }";
    let kerning = app.ok(None, r#"{ space(handle: "typography") { posts { nodes { id } } } }"#, json!({})).await;
    let kerning = kerning["space"]["posts"]["nodes"][0]["id"].as_str().expect("id").to_owned();
    app.ok(Some(&token), like, json!({ "p": kerning })).await;
    assert!(app.feed(None, "science", "").await.is_empty());

    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
    let detach = "mutation($c: ID!, $p: ID!) { detachSpace(input: {childId: $c, parentId: $p}) { id } }";
    app.ok(Some(&token), attach, json!({ "c": design, "p": science })).await;
    assert_eq!(app.feed(None, "science", "").await, ["grids", "kerning"]);
    assert_eq!(
        space_totals(&app, None, "science").await,
        json!({ "totalPosts": 2, "totalPostLikes": 1, "totalComments": 0 })
    );
    app.ok(Some(&token), attach, json!({ "c": design, "p": arts })).await;
    assert_eq!(app.feed(None, "arts", "").await, ["grids", "kerning"]);

    app.ok(Some(&token), detach, json!({ "c": design, "p": science })).await;
    assert!(app.feed(None, "science", "").await.is_empty());
    assert_eq!(
        space_totals(&app, None, "science").await,
        json!({ "totalPosts": 0, "totalPostLikes": 0, "totalComments": 0 })
    );
    assert_eq!(app.feed(None, "arts", "").await, ["grids", "kerning"]);
    // Detaching only the inner space takes only its posts away.
    app.ok(Some(&token), detach, json!({ "c": typo, "p": design })).await;
    assert_eq!(app.feed(None, "arts", "").await, ["grids"]);
    assert_eq!(app.feed(None, "design", "").await, ["grids"]);
    assert_eq!(app.feed(None, "all", "").await, ["grids", "kerning"], "the root still holds everything");
    assert_eq!(space_totals(&app, None, "all").await["totalPosts"], 2);
    assert_eq!(
        space_totals(&app, None, "arts").await,
        json!({ "totalPosts": 1, "totalPostLikes": 0, "totalComments": 0 })
    );
}

/// Moves a post's creation time back by `hours` (the API always stamps "now").
async fn age_post(app: &TestApp, post: &str, hours: i64) {
    let db = app.db().await;
    let when = chrono_like_hours_ago(hours);
    let (cast, param) = match app.backend {
        Backend::Postgres => ("::uuid", format!("'{post}'")),
        Backend::Sqlite => ("", format!("X'{}'", post.replace('-', ""))),
    };
    let ts = match app.backend {
        Backend::Postgres => format!("'{when}'::timestamptz"),
        Backend::Sqlite => format!("'{when}'"),
    };
    for table in [
        "posts SET created_at = {ts}, last_activity_at = {ts} WHERE id = {p}",
        "space_posts SET created_at = {ts}, last_activity_at = {ts} WHERE post_id = {p}",
    ] {
        let sql = format!("UPDATE {}", table.replace("{ts}", &ts).replace("{p}", &format!("{param}{cast}")));
        db.execute_unprepared(&sql).await.expect("ageing a post");
    }
}

fn chrono_like_hours_ago(hours: i64) -> String {
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs((hours * 3600) as u64);
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    // RFC 3339 in UTC, as both backends store it.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

async fn feeds_sort_by_new_active_top_and_hot_within_time_ranges(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let s = app.create_space(&ada, "agora", None).await;
    let old = app.create_post(&ada, &[&s], "old").await;
    let popular = app.create_post(&ada, &[&s], "popular").await;
    let talked = app.create_post(&ada, &[&s], "talked").await;
    let fresh = app.create_post(&ada, &[&s], "fresh").await;
    age_post(&app, &old, 24 * 40).await;
    age_post(&app, &popular, 24 * 3).await;
    age_post(&app, &talked, 2).await;
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    for token in [&ada, &bob, &cy] {
        app.ok(Some(token), like, json!({ "p": popular })).await;
    }
    app.ok(Some(&bob), like, json!({ "p": old })).await;
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"hm\"}) { id } }";
    app.ok(Some(&bob), comment, json!({ "p": talked })).await;
    app.ok(Some(&bob), comment, json!({ "p": talked })).await;
    let _ = fresh;

    assert_eq!(app.feed(None, "agora", ", sort: NEW").await, ["fresh", "talked", "popular", "old"]);
    // Comments are activity: the talked-about post leads ACTIVE.
    assert_eq!(app.feed(None, "agora", ", sort: ACTIVE").await, ["talked", "fresh", "popular", "old"]);
    // Ties are broken newest first.
    assert_eq!(app.feed(None, "agora", ", sort: TOP").await, ["popular", "old", "fresh", "talked"]);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, metric: COMMENTS").await[0], "talked");
    assert_eq!(app.feed(None, "agora", ", sort: TOP, timeRange: HOUR").await, ["fresh"]);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, timeRange: DAY").await, ["fresh", "talked"]);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, timeRange: WEEK").await, ["popular", "fresh", "talked"]);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, timeRange: MONTH").await.len(), 3);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, timeRange: YEAR").await.len(), 4);
    // HOT: engagement raises a post, age lowers it; the 40-day-old post sinks below everything.
    let hot = app.feed(None, "agora", ", sort: HOT").await;
    assert_eq!(hot.last().map(String::as_str), Some("old"), "{hot:?}");
    assert_eq!(hot[0], "talked", "{hot:?}");
    // A new like moves a post up the HOT ordering.
    let before = app.feed(None, "agora", ", sort: HOT").await;
    let pos = |v: &Vec<String>, t: &str| v.iter().position(|x| x == t);
    for token in [&ada, &cy] {
        app.ok(Some(token), like, json!({ "p": fresh })).await;
    }
    let after = app.feed(None, "agora", ", sort: HOT").await;
    assert!(pos(&after, "fresh") <= pos(&before, "fresh"), "{before:?} -> {after:?}");
    assert_eq!(after[0], "fresh");
}

async fn paging_forty_five_posts_by_twenty_returns_each_exactly_once(app: TestApp) {
    let (token, _) = app.register("ada").await;
    let hub = app.create_space(&token, "hub", None).await;
    let inner = app.create_space(&token, "inner", Some(&hub)).await;
    for i in 0..45 {
        let target = if i % 2 == 0 { &hub } else { &inner };
        app.create_post(&token, &[target], &format!("p{i:02}")).await;
    }
    for sort in ["NEW", "TOP", "HOT", "ACTIVE"] {
        let q = format!(
            "query($a: String) {{ space(handle: \"hub\") {{ posts(first: 20, after: $a, sort: {sort}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ title }} }} }} }}"
        );
        let mut seen = Vec::new();
        let mut after = Value::Null;
        let mut pages = 0;
        loop {
            let data = app.ok(None, &q, json!({ "a": after })).await;
            let posts = &data["space"]["posts"];
            seen.extend(
                posts["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .map(|n| n["title"].as_str().unwrap_or_default().to_owned()),
            );
            pages += 1;
            if posts["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = posts["pageInfo"]["endCursor"].clone();
            // A post arriving mid-paging does not disturb what follows the cursor.
            if pages == 1 && sort == "NEW" {
                app.create_post(&token, &[&hub], "late").await;
            }
        }
        assert_eq!(pages, 3, "{sort}");

        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        // The post created while NEW was being paged comes before the cursor: NEW never shows it, the
        // orderings paged afterwards do.
        let expected = if sort == "NEW" { 45 } else { 46 };
        assert_eq!(unique.len(), expected, "{sort}: {seen:?}");
        assert_eq!(seen.len(), expected, "{sort}: duplicates in {seen:?}");
        assert_eq!(seen.contains(&"late".to_owned()), sort != "NEW");
    }
}

async fn likes_are_idempotent_and_counted_everywhere_the_post_appears(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let ids = chain(&app, &ada).await;
    let p = app.create_post(&ada, &[&ids[3]], "helix").await;
    let like = format!("mutation($p: ID!) {{ likePost(postId: $p) {{ {POST_FIELDS} }} }}");
    let unlike = format!("mutation($p: ID!) {{ unlikePost(postId: $p) {{ {POST_FIELDS} }} }}");
    for _ in 0..2 {
        let liked = app.ok(Some(&bob), &like, json!({ "p": p })).await;
        assert_eq!(liked["likePost"]["totalLikes"], 1);
        assert_eq!(liked["likePost"]["viewerHasLiked"], true);
    }
    assert_eq!(post(&app, Some(&ada), &p).await["viewerHasLiked"], false);
    for handle in ["all", "science", "dna"] {
        assert_eq!(space_totals(&app, None, handle).await["totalPostLikes"], 1, "{handle}");
    }
    for _ in 0..2 {
        let unliked = app.ok(Some(&bob), &unlike, json!({ "p": p })).await;
        assert_eq!(unliked["unlikePost"]["totalLikes"], 0);
        assert_eq!(unliked["unlikePost"]["viewerHasLiked"], false);
    }
    assert_eq!(space_totals(&app, None, "science").await["totalPostLikes"], 0);
    assert_eq!(app.error_code(None, &like, json!({ "p": p })).await, "UNAUTHENTICATED");
    let missing = "00000000-0000-7000-8000-00000000beef";
    assert_eq!(app.error_code(Some(&bob), &like, json!({ "p": missing })).await, "NOT_FOUND");
    // The space a like is cast in must be one where the post appears.
    let other = app.create_space(&ada, "elsewhere", None).await;
    let cast = "mutation($p: ID!, $s: ID) { likePost(postId: $p, spaceId: $s) { totalLikes } }";
    assert_eq!(app.error_code(Some(&bob), cast, json!({ "p": p, "s": other })).await, "VALIDATION");
    app.ok(Some(&bob), cast, json!({ "p": p, "s": ids[1] })).await;
}

async fn thirty_concurrent_likes_by_thirty_users_count_exactly_thirty(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let ids = chain(&app, &ada).await;
    let p = app.create_post(&ada, &[&ids[3]], "storm").await;
    let mut tokens = Vec::new();
    for i in 0..30 {
        tokens.push(app.register(&format!("fan{i:02}")).await.0);
    }
    let like = "mutation($p: ID!, $s: ID) { likePost(postId: $p, spaceId: $s) { totalLikes } }";
    let likes = tokens.iter().map(|t| app.gql(Some(t), like, json!({ "p": p, "s": ids[3] })));
    for body in futures_util::future::join_all(likes).await {
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_eq!(post(&app, None, &p).await["totalLikes"], 30);
    for handle in ["all", "science", "biology", "genetics", "dna"] {
        assert_eq!(space_totals(&app, None, handle).await["totalPostLikes"], 30, "{handle}");
    }
    // And thirty concurrent unlikes bring it back to zero.
    let unlike = "mutation($p: ID!) { unlikePost(postId: $p) { totalLikes } }";
    for body in futures_util::future::join_all(tokens.iter().map(|t| app.gql(Some(t), unlike, json!({ "p": p })))).await
    {
        assert!(body.get("errors").is_none(), "{body}");
    }
    assert_eq!(post(&app, None, &p).await["totalLikes"], 0);
    assert_eq!(space_totals(&app, None, "all").await["totalPostLikes"], 0);
}

async fn ratings_replace_and_are_range_checked(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let s = app.create_space(&ada, "agora", None).await;
    let p = app.create_post(&ada, &[&s], "rate me").await;
    let rate =
        "mutation($p: ID!, $v: Int!) { ratePost(postId: $p, value: $v) { totalRatings averageRating viewerRating } }";
    let r = app.ok(Some(&bob), rate, json!({ "p": p, "v": 40 })).await;
    assert_eq!(r["ratePost"], json!({ "totalRatings": 1, "averageRating": 40.0, "viewerRating": 40 }));
    let r = app.ok(Some(&bob), rate, json!({ "p": p, "v": 90 })).await;
    assert_eq!(r["ratePost"], json!({ "totalRatings": 1, "averageRating": 90.0, "viewerRating": 90 }));
    let r = app.ok(Some(&ada), rate, json!({ "p": p, "v": 0 })).await;
    assert_eq!(r["ratePost"], json!({ "totalRatings": 2, "averageRating": 45.0, "viewerRating": 0 }));
    for bad in [-1, 101, 1000] {
        assert_eq!(app.error_code(Some(&bob), rate, json!({ "p": p, "v": bad })).await, "VALIDATION", "{bad}");
    }
    let after = post(&app, Some(&bob), &p).await;
    assert_eq!(after["viewerRating"], 90);
    assert_eq!(after["averageRating"], 45.0);
    assert_eq!(app.feed(None, "agora", ", sort: TOP, metric: RATINGS").await, ["rate me"]);
}

async fn comments_nest_and_are_counted_at_every_level(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let ids = chain(&app, &ada).await;
    let p = app.create_post(&ada, &[&ids[2]], "discuss").await;
    let add = "mutation($p: ID!, $c: ID, $t: String!) { addComment(input: {postId: $p, parentCommentId: $c, text: $t}) { id text parent { id } post { id } creator { handle } } }";
    let top = app.ok(Some(&bob), add, json!({ "p": p, "t": "first" })).await["addComment"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reply = app.ok(Some(&ada), add, json!({ "p": p, "c": top, "t": "reply" })).await;
    assert_eq!(reply["addComment"]["parent"]["id"], top);
    let reply_id = reply["addComment"]["id"].as_str().expect("id").to_owned();
    let deep = app.ok(Some(&bob), add, json!({ "p": p, "c": reply_id, "t": "deeper" })).await;
    assert_eq!(deep["addComment"]["creator"]["handle"], "bob");
    app.ok(Some(&bob), add, json!({ "p": p, "t": "second" })).await;
    let q = r#"query($id: ID!) { post(id: $id) { totalComments comments { totalCount nodes { text totalReplies replies { totalCount nodes { text totalReplies replies { nodes { text } } } } } } } }"#;
    let data = app.ok(None, q, json!({ "id": p })).await;
    let post = &data["post"];
    assert_eq!(post["totalComments"], 4);
    assert_eq!(post["comments"]["totalCount"], 2);
    assert_eq!(post["comments"]["nodes"][0]["text"], "first");
    assert_eq!(post["comments"]["nodes"][0]["totalReplies"], 1);
    assert_eq!(post["comments"]["nodes"][0]["replies"]["nodes"][0]["text"], "reply");
    assert_eq!(post["comments"]["nodes"][0]["replies"]["nodes"][0]["replies"]["nodes"][0]["text"], "deeper");
    assert_eq!(post["comments"]["nodes"][1]["text"], "second");
    for handle in ["all", "science", "genetics"] {
        assert_eq!(space_totals(&app, None, handle).await["totalComments"], 4, "{handle}");
    }
    assert_eq!(space_totals(&app, None, "dna").await["totalComments"], 0);
    // A reply must belong to the same post; empty text is refused.
    let other = app.create_post(&ada, &[&ids[2]], "other").await;
    assert_eq!(app.error_code(Some(&bob), add, json!({ "p": other, "c": top, "t": "x" })).await, "VALIDATION");
    assert_eq!(app.error_code(Some(&bob), add, json!({ "p": p, "t": "   " })).await, "VALIDATION");
    assert_eq!(app.error_code(None, add, json!({ "p": p, "t": "anon" })).await, "UNAUTHENTICATED");
    assert_eq!(app.ok(None, q, json!({ "id": p })).await["post"]["totalComments"], 4);
}

async fn a_moderator_removes_a_post_from_their_space_only(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&ada, "science", None).await;
    let bio = app.create_space(&bob, "biology", None).await;
    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { request { id } } }";
    let req =
        app.ok(Some(&bob), attach, json!({ "c": bio, "p": science })).await["attachSpace"]["request"]["id"].clone();
    app.ok(
        Some(&ada),
        "mutation($r: ID!) { respondToSpaceRequest(input: {requestId: $r, accept: true}) { state } }",
        json!({ "r": req }),
    )
    .await;
    let p = app.create_post(&bob, &[&bio], "cells").await;
    let remove = "mutation($p: ID!, $s: ID!) { removePostFromSpace(input: {postId: $p, spaceId: $s}) { id } }";
    let reinstate = "mutation($p: ID!, $s: ID!) { reinstatePostInSpace(input: {postId: $p, spaceId: $s}) { id } }";
    // Ada moderates science, not biology.
    assert_eq!(app.error_code(Some(&ada), remove, json!({ "p": p, "s": bio })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, remove, json!({ "p": p, "s": science })).await, "UNAUTHENTICATED");
    app.ok(Some(&ada), remove, json!({ "p": p, "s": science })).await;
    assert!(app.feed(None, "science", "").await.is_empty());
    assert_eq!(app.feed(None, "biology", "").await, ["cells"]);
    assert_eq!(app.feed(None, "all", "").await, ["cells"]);
    assert_eq!(space_totals(&app, None, "science").await["totalPosts"], 0);
    assert_eq!(space_totals(&app, None, "biology").await["totalPosts"], 1);
    assert_eq!(post(&app, None, &p).await["title"], "cells", "still visible through its other spaces");
    app.ok(Some(&ada), reinstate, json!({ "p": p, "s": science })).await;
    assert_eq!(app.feed(None, "science", "").await, ["cells"]);
    assert_eq!(space_totals(&app, None, "science").await["totalPosts"], 1);
}

async fn only_the_creator_deletes_a_post(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let ids = chain(&app, &ada).await;
    let p = app.create_post(&ada, &[&ids[3]], "ephemeral").await;
    app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": p })).await;
    let delete = "mutation($id: ID!) { deletePost(id: $id) { id title } }";
    assert_eq!(app.error_code(None, delete, json!({ "id": p })).await, "UNAUTHENTICATED");
    assert_eq!(app.error_code(Some(&bob), delete, json!({ "id": p })).await, "FORBIDDEN");
    assert_eq!(app.ok(Some(&ada), delete, json!({ "id": p })).await["deletePost"]["title"], "ephemeral");
    assert!(post(&app, Some(&ada), &p).await.is_null());
    for handle in ["all", "science", "dna"] {
        assert!(app.feed(None, handle, "").await.is_empty(), "{handle}");
        assert_eq!(
            space_totals(&app, None, handle).await,
            json!({ "totalPosts": 0, "totalPostLikes": 0, "totalComments": 0 })
        );
    }
    assert_eq!(app.error_code(Some(&ada), delete, json!({ "id": p })).await, "NOT_FOUND");
}

async fn search_finds_posts_by_words_in_title_or_text(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let s = app.create_space(&ada, "agora", None).await;
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    app.ok(
        Some(&ada),
        create,
        json!({ "i": { "spaceIds": [s], "title": "Mitochondria", "text": "the powerhouse of the cell" } }),
    )
    .await;
    app.ok(Some(&ada), create, json!({ "i": { "spaceIds": [s], "title": "Ribosomes", "text": "protein factories" } }))
        .await;
    app.ok(Some(&ada), create, json!({ "i": { "spaceIds": [s], "url": "https://example.org/cell" } })).await;
    let q = "query($q: String!) { searchPosts(query: $q) { nodes { title } } }";
    let titles = |v: &Value| -> Vec<String> {
        v["searchPosts"]["nodes"]
            .as_array()
            .map(|a| a.iter().map(|n| n["title"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    };
    assert_eq!(titles(&app.ok(None, q, json!({ "q": "powerhouse" })).await), ["Mitochondria"]);
    assert_eq!(titles(&app.ok(None, q, json!({ "q": "ribosomes" })).await), ["Ribosomes"]);
    assert_eq!(titles(&app.ok(None, q, json!({ "q": "protein factories" })).await), ["Ribosomes"]);
    assert!(titles(&app.ok(None, q, json!({ "q": "nothing-like-this" })).await).is_empty());
    // Operators and quotes in user input are words, not syntax errors.
    app.ok(None, q, json!({ "q": "\"cell AND (" })).await;
    assert_eq!(app.error_code(None, q, json!({ "q": " " })).await, "VALIDATION");
    assert_eq!(app.feed(None, "agora", ", search: \"factories\"").await, ["Ribosomes"]);
}

async fn posts_stay_inside_their_private_boundary(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let open = app.create_space(&ada, "open", None).await;
    let club = app
        .create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE", "parentId": open }))
        .await;
    let room = app.create_space(&ada, "room", Some(&club)).await;
    let secret = app.create_post(&ada, &[&room], "secret").await;
    app.create_post(&ada, &[&open], "public").await;
    // It flows up to the private boundary and no further.
    assert_eq!(app.feed(Some(&ada), "club", "").await, ["secret"]);
    assert_eq!(app.feed(Some(&ada), "open", "").await, ["public"]);
    assert_eq!(app.feed(None, "all", "").await, ["public"]);
    assert_eq!(space_totals(&app, None, "open").await["totalPosts"], 1);
    // Outsiders cannot read it by id, in feeds or in search.
    assert!(post(&app, Some(&bob), &secret).await.is_null());
    assert!(post(&app, None, &secret).await.is_null());
    assert_eq!(post(&app, Some(&ada), &secret).await["title"], "secret");
    let feed = r#"{ space(handle: "room") { posts { nodes { id } } } }"#;
    assert_eq!(app.error_code(Some(&bob), feed, json!({})).await, "FORBIDDEN");
    let search = "query($q: String!) { searchPosts(query: $q) { nodes { id } } }";
    assert_eq!(app.ok(Some(&bob), search, json!({ "q": "secret" })).await["searchPosts"]["nodes"], json!([]));
    let by_user = r#"{ user(handle: "ada") { posts { nodes { title } } } }"#;
    assert_eq!(app.ok(Some(&bob), by_user, json!({})).await["user"]["posts"]["nodes"], json!([{ "title": "public" }]));
    // Mixed audiences are refused, and outsiders may not post inside.
    let create = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let mixed = json!({ "i": { "spaceIds": [room, open], "title": "both" } });
    assert_eq!(app.error_code(Some(&ada), create, mixed).await, "PRIVACY_MISMATCH");
    let inside = json!({ "i": { "spaceIds": [room], "title": "intruder" } });
    assert_eq!(app.error_code(Some(&bob), create, inside).await, "FORBIDDEN");
    // Everything hanging off it is hidden too.
    let like = "mutation($p: ID!) { likePost(postId: $p) { id } }";
    assert_eq!(app.error_code(Some(&bob), like, json!({ "p": secret })).await, "NOT_FOUND");
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"hi\"}) { id } }";
    assert_eq!(app.error_code(Some(&bob), comment, json!({ "p": secret })).await, "NOT_FOUND");
    let repost = "mutation($p: ID!, $s: [ID!]!) { repost(input: {postId: $p, spaceIds: $s}) { id } }";
    assert_eq!(app.error_code(Some(&ada), repost, json!({ "p": secret, "s": [open] })).await, "PRIVACY_MISMATCH");
    assert!(app.feed(None, "open", "").await == ["public"]);
}

async fn reposting_adds_a_post_to_more_spaces(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let science = app.create_space(&ada, "science", None).await;
    let bio = app.create_space(&ada, "biology", Some(&science)).await;
    let arts = app.create_space(&bob, "arts", None).await;
    let p = app.create_post(&ada, &[&bio], "fractals").await;
    let repost = "mutation($p: ID!, $s: [ID!]!) { repost(input: {postId: $p, spaceIds: $s}) { totalReposts spaces { handle } } }";
    let r = app.ok(Some(&bob), repost, json!({ "p": p, "s": [arts] })).await;
    assert_eq!(r["repost"]["totalReposts"], 1);
    let mut spaces: Vec<String> = r["repost"]["spaces"]
        .as_array()
        .expect("spaces")
        .iter()
        .map(|s| s["handle"].as_str().unwrap_or_default().to_owned())
        .collect();
    spaces.sort();
    assert_eq!(spaces, ["arts", "biology"]);
    assert_eq!(app.feed(None, "arts", "").await, ["fractals"]);
    assert_eq!(app.feed(None, "all", "").await, ["fractals"], "once, though reachable from two places");
    // Reposting where it already flows makes it direct there.
    let r = app.ok(Some(&ada), repost, json!({ "p": p, "s": [science] })).await;
    assert_eq!(r["repost"]["totalReposts"], 2);
    assert_eq!(app.feed(None, "science", ", depth: DIRECT").await, ["fractals"]);
    assert_eq!(space_totals(&app, None, "science").await["totalPosts"], 1);
    assert_eq!(space_totals(&app, None, "all").await["totalPosts"], 1);
    // Again changes nothing.
    let r = app.ok(Some(&ada), repost, json!({ "p": p, "s": [science] })).await;
    assert_eq!(r["repost"]["totalReposts"], 2);
    assert_eq!(app.feed(None, "all", ", sort: TOP, metric: REPOSTS").await, ["fractals"]);
}

async fn local_scope_ranks_by_likes_cast_below_the_space(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let science = app.create_space(&ada, "science", None).await;
    let bio = app.create_space(&ada, "biology", Some(&science)).await;
    let physics = app.create_space(&ada, "physics", Some(&science)).await;
    let cells = app.create_post(&ada, &[&bio], "cells").await;
    let quarks = app.create_post(&ada, &[&physics], "quarks").await;
    let like = "mutation($p: ID!, $s: ID) { likePost(postId: $p, spaceId: $s) { id } }";
    // Quarks gets more likes overall, all cast at the top; cells gets two, cast inside biology.
    for i in 0..3 {
        let (t, _) = app.register(&format!("fan{i}")).await;
        app.ok(Some(&t), like, json!({ "p": quarks, "s": science })).await;
    }
    for i in 0..2 {
        let (bio_fan, _) = app.register(&format!("biofan{i}")).await;
        app.ok(Some(&bio_fan), like, json!({ "p": cells, "s": bio })).await;
    }
    assert_eq!(app.feed(None, "science", ", sort: TOP").await, ["quarks", "cells"]);
    assert_eq!(app.feed(None, "science", ", sort: TOP, scope: LOCAL").await, ["quarks", "cells"]);
    assert_eq!(app.feed(None, "biology", ", sort: TOP, scope: LOCAL").await, ["cells"]);
    // In physics nobody liked quarks from inside: it has no local likes there.
    let q = r#"{ space(handle: "all") { posts(sort: TOP, scope: LOCAL) { nodes { title } } } }"#;
    assert_eq!(app.ok(None, q, json!({})).await["space"]["posts"]["nodes"][0]["title"], "quarks");
    // Moving biology under physics brings its local likes along.
    let attach = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
    app.ok(Some(&ada), attach, json!({ "c": bio, "p": physics })).await;
    assert_eq!(app.feed(None, "physics", ", sort: TOP, scope: LOCAL").await, ["cells", "quarks"]);
    assert_eq!(app.feed(None, "physics", ", sort: HOT, scope: LOCAL").await[0], "cells");
    let q = r#"{ space(handle: "science") { posts(sort: TOP, scope: LOCAL, metric: COMMENTS) { nodes { id } } } }"#;
    assert_eq!(app.error_code(None, q, json!({})).await, "VALIDATION");
}

async fn linked_posts_rank_in_top_by_links(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let s = app.create_space(&ada, "agora", None).await;
    let a = app.create_post(&ada, &[&s], "a").await;
    let b = app.create_post(&ada, &[&s], "b").await;
    let c = app.create_post(&ada, &[&s], "c").await;
    let link = "mutation($s: ID!, $t: ID!) { linkPosts(input: {sourceId: $s, targetId: $t, description: \"see also\"}) { totalLinks } }";
    assert_eq!(app.ok(Some(&ada), link, json!({ "s": b, "t": a })).await["linkPosts"]["totalLinks"], 1);
    app.ok(Some(&ada), link, json!({ "s": c, "t": a })).await;
    assert_eq!(app.error_code(Some(&ada), link, json!({ "s": c, "t": a })).await, "CONFLICT");
    assert_eq!(app.error_code(Some(&ada), link, json!({ "s": a, "t": a })).await, "VALIDATION");
    let top = app.feed(None, "agora", ", sort: TOP, metric: LINKS").await;
    assert_eq!(top[0], "a");
}

async fn muted_users_leave_the_viewers_feeds(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let s = app.create_space(&ada, "agora", None).await;
    app.create_post(&ada, &[&s], "from ada").await;
    app.create_post(&bob, &[&s], "from bob").await;
    app.ok(Some(&ada), "mutation { muteUser(handle: \"bob\") { handle } }", json!({})).await;
    assert_eq!(app.feed(Some(&ada), "agora", "").await, ["from ada"]);
    assert_eq!(app.feed(None, "agora", "").await, ["from bob", "from ada"]);
    app.ok(Some(&ada), "mutation { unmuteUser(handle: \"bob\") { handle } }", json!({})).await;
    assert_eq!(app.feed(Some(&ada), "agora", "").await.len(), 2);
}

async fn nested_queries_cost_the_same_number_of_statements_at_any_page_size(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let hub = app.create_space(&ada, "hub", None).await;
    for i in 0..6 {
        let child = app.create_space(&ada, &format!("kid{i}"), Some(&hub)).await;
        for j in 0..6 {
            let p = app.create_post(if j % 2 == 0 { &ada } else { &bob }, &[&child], &format!("k{i}p{j}")).await;
            if j % 3 == 0 {
                app.ok(Some(&bob), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": p })).await;
            }
        }
    }
    let q = "query($n: Int, $m: Int) { space(handle: \"hub\") { name children(first: $n) { nodes { handle totalPosts viewerIsFollowing posts(first: $m, sort: TOP) { nodes { title totalLikes totalComments viewerHasLiked creator { handle } spaces { handle } } } } } } }";
    let mut counts = Vec::new();
    for (n, m) in [(2, 2), (6, 6)] {
        let before = app.statements().await;
        let data = app.ok(Some(&bob), q, json!({ "n": n, "m": m })).await;
        let after = app.statements().await;
        let kids = data["space"]["children"]["nodes"].as_array().expect("children");
        assert_eq!(kids.len(), n);
        assert_eq!(kids[0]["posts"]["nodes"].as_array().expect("posts").len(), m);
        counts.push(after - before);
    }
    assert_eq!(counts[0], counts[1], "statements for a small and a large page: {counts:?}");
    assert!(counts[1] <= 16, "statements per nested request: {counts:?}");
}

/// The space lookup reads the viewer's access, and the feed statement reads the creators: a feed page with its
/// authors is two statements, for anonymous and logged-in viewers alike.
async fn a_feed_with_its_creators_costs_two_statements(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let s = app.create_space(&ada, "forum", None).await;
    for i in 0..5 {
        app.create_post(if i % 2 == 0 { &ada } else { &bob }, &[&s], &format!("p{i}")).await;
    }
    let q = "{ space(handle: \"forum\") { posts(first: 10, sort: TOP) { nodes { title creator { handle name } } } } }";
    for viewer in [None, Some(&bob)] {
        let before = app.statements().await;
        let data = app.ok(viewer.map(String::as_str), q, json!({})).await;
        let after = app.statements().await;
        let nodes = data["space"]["posts"]["nodes"].as_array().expect("posts").clone();
        let mut authors: Vec<(String, String)> = nodes
            .iter()
            .map(|n| {
                (n["title"].as_str().unwrap_or("").to_owned(), n["creator"]["handle"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        authors.sort();
        let expected: Vec<(String, String)> =
            (0..5).map(|i| (format!("p{i}"), if i % 2 == 0 { "ada" } else { "bob" }.to_owned())).collect();
        assert_eq!(authors, expected, "each post with its own creator");
        assert_eq!(after - before, 2, "statements for a feed page with its creators (viewer {viewer:?})");
    }
}

async fn listings_count_their_rows_only_when_totalcount_is_selected(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let hub = app.create_space(&ada, "hub", None).await;
    for i in 0..3 {
        app.create_space(&ada, &format!("kid{i}"), Some(&hub)).await;
    }
    let mut cost = Vec::new();
    for selection in ["nodes { handle }", "totalCount nodes { handle }"] {
        let q = format!("{{ space(handle: \"hub\") {{ children(first: 2) {{ {selection} }} }} }}");
        let before = app.statements().await;
        let data = app.ok(Some(&ada), &q, json!({})).await;
        cost.push(app.statements().await - before);
        assert_eq!(data["space"]["children"]["nodes"].as_array().map(Vec::len), Some(2));
        if selection.starts_with("totalCount") {
            assert_eq!(data["space"]["children"]["totalCount"], 3);
        }
    }
    assert_eq!(cost[1], cost[0] + 1, "one COUNT statement, only with totalCount: {cost:?}");
}
