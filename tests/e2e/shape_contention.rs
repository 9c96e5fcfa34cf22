//! Writers contending for the same rows: transactions the database gives up on (deadlocks, serialization
//! failures, a busy SQLite) are run again inside the unit of work, so clients never see them.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

on_both_backends!(sixteen_writers_contending_for_the_same_posts_and_spaces_never_get_an_internal_error);

/// How long the writers keep at it.
const STORM: Duration = Duration::from_secs(4);
const WRITERS: usize = 16;

const LIKE: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
const UNLIKE: &str = "mutation($p: ID!) { unlikePost(postId: $p) { id } }";
const COMMENT: &str = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"busy\"}) { id } }";
const CREATE: &str = "mutation($s: ID!) { createPost(input: {spaceIds: [$s], title: \"busy\"}) { post { id } } }";
const ATTACH: &str = "mutation($c: ID!, $p: ID!) { attachSpace(input: {childId: $c, parentId: $p}) { attached } }";
const DETACH: &str = "mutation($c: ID!, $p: ID!) { detachSpace(input: {childId: $c, parentId: $p}) { id } }";

/// What the storm saw: outcomes (`ok` or an error code) per operation, and every INTERNAL error in full.
#[derive(Default)]
struct Tally {
    outcomes: BTreeMap<(&'static str, String), usize>,
    internal: Vec<Value>,
}

/// Sixteen writers (each a user of their own) like, unlike, comment on and create posts in a few spaces while
/// they also attach those spaces under two parents and detach them again (the tree edits rewrite the posts'
/// appearances and counters the reactions update), for a few seconds. Refusals the API documents (`CONFLICT`
/// for an edge that exists, `NOT_FOUND` for one that does not) are fine; an `INTERNAL` error — a deadlock or a
/// serialization failure that escaped the unit of work's retries — is not. Afterwards each post's like count
/// is exactly the number of writers whose like stands, and every derived value equals its recount.
async fn sixteen_writers_contending_for_the_same_posts_and_spaces_never_get_an_internal_error(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let parents = [app.create_space(&ada, "left", None).await, app.create_space(&ada, "right", None).await];
    let mut children = Vec::new();
    let mut posts = Vec::new();
    for i in 0..4 {
        let child = app.create_space(&ada, &format!("child-{i}"), None).await;
        posts.push(app.create_post(&ada, &[&child], &format!("post {i}")).await);
        children.push(child);
    }
    let mut writers = Vec::new();
    for i in 0..WRITERS {
        writers.push(app.register(&format!("writer-{i:02}")).await.0);
    }

    let tally = RefCell::new(Tally::default());
    let created = RefCell::new(Vec::<String>::new());
    let deadline = Instant::now() + STORM;
    let work = writers.iter().enumerate().map(|(w, token)| {
        let (app, ada, parents, children, posts, tally, created) =
            (&app, &ada, &parents, &children, &posts, &tally, &created);
        let (mine, ada) = (token.as_str(), ada.as_str());
        async move {
            let mut k = w;
            while Instant::now() < deadline {
                k += 1;
                let post = &posts[k % posts.len()];
                let child = &children[(k / 2) % children.len()];
                let parent = &parents[(k / 3) % parents.len()];
                let (name, token, query, variables) = match (w + k) % 8 {
                    0 | 1 => ("like", mine, LIKE, json!({ "p": post })),
                    2 => ("unlike", mine, UNLIKE, json!({ "p": post })),
                    3 => ("comment", mine, COMMENT, json!({ "p": post })),
                    4 => ("createPost", mine, CREATE, json!({ "s": child })),
                    5 | 6 => ("attach", ada, ATTACH, json!({ "c": child, "p": parent })),
                    _ => ("detach", ada, DETACH, json!({ "c": child, "p": parent })),
                };
                let body = app.gql(Some(token), query, variables).await;
                let outcome = match body["errors"][0]["extensions"]["code"].as_str() {
                    None if body.get("errors").is_none() => "ok".to_owned(),
                    None => format!("no code: {body}"),
                    Some(code) => code.to_owned(),
                };
                if name == "createPost"
                    && let Some(id) = body["data"]["createPost"]["post"]["id"].as_str()
                {
                    created.borrow_mut().push(id.to_owned());
                }
                let mut tally = tally.borrow_mut();
                if outcome == "INTERNAL" {
                    tally.internal.push(body);
                }
                *tally.outcomes.entry((name, outcome)).or_default() += 1;
            }
        }
    });
    futures_util::future::join_all(work).await;

    let tally = tally.into_inner();
    eprintln!("{:?} storm outcomes: {:#?}", app.backend, tally.outcomes);
    assert!(tally.internal.is_empty(), "INTERNAL errors under contention: {:#?}", tally.internal);
    for ((name, outcome), n) in &tally.outcomes {
        assert!(
            outcome == "ok" || matches!((*name, outcome.as_str()), ("attach", "CONFLICT") | ("detach", "NOT_FOUND")),
            "{n} × {name} ended with {outcome}"
        );
    }
    for name in ["like", "unlike", "comment", "createPost", "attach", "detach"] {
        assert!(tally.outcomes.get(&(name, "ok".to_owned())).is_some_and(|n| *n > 0), "no {name} succeeded");
    }

    // The counters the storm updated concurrently are exact.
    let mut all_posts = posts.clone();
    all_posts.extend(created.into_inner());
    for post in posts.iter() {
        let mut standing = 0;
        for token in &writers {
            let data =
                app.ok(Some(token), "query($p: ID!) { post(id: $p) { viewerHasLiked } }", json!({ "p": post })).await;
            standing += i64::from(data["post"]["viewerHasLiked"] == true);
        }
        let data = app.ok(None, "query($p: ID!) { post(id: $p) { totalLikes } }", json!({ "p": post })).await;
        assert_eq!(data["post"]["totalLikes"].as_i64(), Some(standing), "post {post}'s like count");
    }
    let comments = tally.outcomes.get(&("comment", "ok".to_owned())).copied().unwrap_or_default() as i64;
    let mut counted = 0;
    for post in &all_posts {
        let data = app.ok(None, "query($p: ID!) { post(id: $p) { totalComments } }", json!({ "p": post })).await;
        counted += data["post"]["totalComments"].as_i64().unwrap_or_default();
    }
    assert_eq!(counted, comments, "every comment counted once");

    // And so is everything else the storm touched: every space's totals, every feed row's copies and scores,
    // the closure table and the appearances, each against a recount from the rows it derives from.
    app.assert_invariants().await;
}
