//! Links you can read: `Post.links` both ways with description, creator, likes and the other post; liking links
//! (exact under concurrency); the link map of a post — ranked, bounded, answered in the same number of statements
//! for a small map and a larger one — and privacy: a linked post the viewer may not see never shows.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    links_read_both_ways_and_likes_count_exactly,
    the_link_map_takes_the_same_statements_whatever_its_size,
    a_linked_private_post_never_appears,
);

const LINK: &str = "mutation($i: LinkPostsInput!) { linkPosts(input: $i) { id } }";
const LIKE: &str = "mutation($l: ID!) { likeLink(linkId: $l) { totalLikes viewerHasLiked } }";
const UNLIKE: &str = "mutation($l: ID!) { unlikeLink(linkId: $l) { totalLikes viewerHasLiked } }";
const LINKS: &str = "query($p: ID!) { post(id: $p) { totalLinks links { id description direction totalLikes \
     viewerHasLiked creator { handle } post { title } source { title } target { title } } } }";
const MAP: &str = "query($p: ID!, $d: Int, $l: Int) { post(id: $p) { linkMap(depth: $d, limit: $l) { \
     nodes { id title } edges { description totalLikes viewerHasLiked creator { handle } source { title } target { title } } } } }";

fn id(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn link(app: &TestApp, token: &str, source: &str, target: &str, description: &str) {
    let input = json!({ "sourceId": source, "targetId": target, "description": description });
    app.ok(Some(token), LINK, json!({ "i": input })).await;
}

async fn links(app: &TestApp, token: Option<&str>, post: &str) -> Vec<Value> {
    app.ok(token, LINKS, json!({ "p": post })).await["post"]["links"].as_array().cloned().unwrap_or_default()
}

async fn links_read_both_ways_and_likes_count_exactly(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let town = app.create_space(&ada, "town", None).await;
    let a = app.create_post(&ada, &[&town], "A").await;
    let b = app.create_post(&ada, &[&town], "B").await;
    let c = app.create_post(&bob, &[&town], "C").await;
    link(&app, &ada, &a, &b, "leads to").await;
    link(&app, &bob, &c, &a, "answers").await;
    let listed = links(&app, None, &a).await;
    assert_eq!(listed.len(), 2);
    let by_title = |t: &str| listed.iter().find(|l| l["post"]["title"] == t).cloned().unwrap_or_default();
    let (to_b, from_c) = (by_title("B"), by_title("C"));
    assert_eq!(
        (to_b["direction"].clone(), to_b["description"].clone(), to_b["creator"]["handle"].clone()),
        (json!("OUTGOING"), json!("leads to"), json!("ada"))
    );
    assert_eq!((to_b["source"]["title"].clone(), to_b["target"]["title"].clone()), (json!("A"), json!("B")));
    assert_eq!((from_c["direction"].clone(), from_c["creator"]["handle"].clone()), (json!("INCOMING"), json!("bob")));
    assert_eq!(links(&app, None, &b).await[0]["direction"], "INCOMING");

    // Likes: idempotent, taken back, exact under 20 concurrent likers, and ranking the list.
    let from_c_id = id(&from_c["id"]);
    let liked = app.ok(Some(&ada), LIKE, json!({ "l": from_c_id })).await["likeLink"].clone();
    assert_eq!(liked, json!({ "totalLikes": 1, "viewerHasLiked": true }));
    assert_eq!(app.ok(Some(&ada), LIKE, json!({ "l": from_c_id })).await["likeLink"]["totalLikes"], 1);
    let unliked = app.ok(Some(&ada), UNLIKE, json!({ "l": from_c_id })).await["unlikeLink"].clone();
    assert_eq!(unliked, json!({ "totalLikes": 0, "viewerHasLiked": false }));
    assert_eq!(app.ok(Some(&ada), UNLIKE, json!({ "l": from_c_id })).await["unlikeLink"]["totalLikes"], 0);
    let mut fans = Vec::new();
    for i in 0..20 {
        fans.push(app.register(&format!("fan{i}")).await.0);
    }
    let likes = fans.iter().flat_map(|t| {
        let l = from_c_id.clone();
        [app.ok(Some(t), LIKE, json!({ "l": l.clone() })), app.ok(Some(t), LIKE, json!({ "l": l }))]
    });
    futures_util::future::join_all(likes).await;
    let listed = links(&app, Some(&fans[0]), &a).await;
    assert_eq!(listed[0]["post"]["title"], "C", "the most liked first");
    assert_eq!(listed[0]["totalLikes"], 20);
    assert_eq!(listed[0]["viewerHasLiked"], true);
    assert_eq!(listed[1]["viewerHasLiked"], false);
    assert_eq!(app.error_code(None, LIKE, json!({ "l": from_c_id })).await, "UNAUTHENTICATED");
    let unknown = "0190a000-0000-7000-8000-000000000000";
    assert_eq!(app.error_code(Some(&ada), LIKE, json!({ "l": unknown })).await, "NOT_FOUND");
    let bad = json!({ "p": a, "d": 3, "l": 10 });
    assert_eq!(app.error_code(None, MAP, bad).await, "VALIDATION");
    assert_eq!(app.error_code(None, MAP, json!({ "p": a, "d": 1, "l": 0 })).await, "VALIDATION");
    assert_eq!(
        app.error_code(None, "query($p: ID!) { post(id: $p) { links(first: 101) { id } } }", json!({ "p": a })).await,
        "VALIDATION"
    );
    app.assert_invariants().await;
}

/// Builds a star: `center` linked to `spokes` posts, each linked to `rim` more. Returns the center's id.
async fn star(app: &TestApp, token: &str, space: &str, name: &str, spokes: usize, rim: usize) -> String {
    let center = app.create_post(token, &[space], name).await;
    for i in 0..spokes {
        let spoke = app.create_post(token, &[space], &format!("{name}-{i}")).await;
        link(app, token, &center, &spoke, "spoke").await;
        for j in 0..rim {
            let outer = app.create_post(token, &[space], &format!("{name}-{i}-{j}")).await;
            link(app, token, &outer, &spoke, "rim").await;
        }
    }
    center
}

async fn map_statements(app: &TestApp, token: &str, post: &str) -> (u64, usize, usize) {
    let before = app.statements().await;
    let data = app.ok(Some(token), MAP, json!({ "p": post, "d": 2, "l": 200 })).await;
    let spent = app.statements().await - before;
    let map = &data["post"]["linkMap"];
    let n = |v: &Value| v.as_array().map(Vec::len).unwrap_or(0);
    (spent, n(&map["nodes"]), n(&map["edges"]))
}

async fn the_link_map_takes_the_same_statements_whatever_its_size(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let small = star(&app, &ada, &town, "small", 1, 1).await;
    let large = star(&app, &ada, &town, "large", 6, 4).await;
    let (small_spent, small_nodes, small_edges) = map_statements(&app, &ada, &small).await;
    let (large_spent, large_nodes, large_edges) = map_statements(&app, &ada, &large).await;
    assert_eq!((small_nodes, small_edges), (3, 2));
    assert_eq!((large_nodes, large_edges), (1 + 6 + 24, 6 + 24));
    assert_eq!(small_spent, large_spent, "the same statements for 2 and 30 links");
    assert!(large_spent <= 6, "a handful of statements: {large_spent}");
    app.assert_invariants().await;
    // Depth 1 reaches the spokes only; the limit bounds the map, most liked first.
    let data = app.ok(Some(&ada), MAP, json!({ "p": large, "d": 1, "l": 200 })).await;
    assert_eq!(data["post"]["linkMap"]["edges"].as_array().map(Vec::len), Some(6));
    let data = app.ok(Some(&ada), MAP, json!({ "p": large, "d": 2, "l": 5 })).await;
    assert_eq!(data["post"]["linkMap"]["edges"].as_array().map(Vec::len), Some(5));
}

async fn a_linked_private_post_never_appears(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let town = app.create_space(&ada, "town", None).await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let open = app.create_post(&ada, &[&town], "open").await;
    let near = app.create_post(&ada, &[&town], "near").await;
    let secret = app.create_post(&ada, &[&club], "secret").await;
    let beyond = app.create_post(&ada, &[&town], "far").await;
    link(&app, &ada, &open, &near, "public").await;
    link(&app, &ada, &open, &secret, "to the club").await;
    link(&app, &ada, &secret, &beyond, "from the club").await;
    link(&app, &ada, &near, &beyond, "around").await;
    let secret_link = links(&app, Some(&ada), &open).await.into_iter().find(|l| l["post"]["title"] == "secret");
    let secret_link = id(&secret_link.expect("the member sees the link")["id"]);
    for viewer in [None, Some(eve.as_str())] {
        let listed = links(&app, viewer, &open).await;
        assert_eq!(listed.len(), 1, "{viewer:?}");
        assert_eq!(listed[0]["post"]["title"], "near");
        let data = app.ok(viewer, MAP, json!({ "p": open, "d": 2, "l": 50 })).await;
        let text = data.to_string();
        assert!(!text.contains("secret") && !text.contains("club"), "{text}");
        let nodes: Vec<String> = data["post"]["linkMap"]["nodes"]
            .as_array()
            .map(|a| a.iter().map(|n| id(&n["title"])).collect())
            .unwrap_or_default();
        assert_eq!(nodes, ["open", "near", "far"], "reached around the secret, never through it");
        assert_eq!(app.ok(viewer, MAP, json!({ "p": secret, "d": 2, "l": 50 })).await["post"], Value::Null);
    }
    assert_eq!(app.error_code(Some(&eve), LIKE, json!({ "l": secret_link })).await, "NOT_FOUND");
    let member = app.ok(Some(&ada), MAP, json!({ "p": open, "d": 2, "l": 50 })).await;
    assert_eq!(member["post"]["linkMap"]["nodes"].as_array().map(Vec::len), Some(4), "the member sees it all");
}
