//! Streams: named home feeds over chosen spaces and users, their owner's alone.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

on_both_backends!(
    a_stream_gathers_its_spaces_and_users_posts_once_each,
    streams_are_their_owners_alone_and_checked_when_saved,
);

const CREATE: &str =
    "mutation($i: StreamInput!) { createStream(input: $i) { id name spaces { handle } users { handle } } }";
const POSTS: &str = "query($id: ID!, $s: FeedSort, $m: FeedMetric, $t: TimeRange) { stream(id: $id) { name \
                     posts(sort: $s, metric: $m, timeRange: $t) { nodes { title } } } }";

fn titles(stream: &Value) -> Vec<String> {
    stream["posts"]["nodes"]
        .as_array()
        .map(|a| a.iter().map(|p| p["title"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

async fn a_stream_gathers_its_spaces_and_users_posts_once_each(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;
    let science = app.create_space(&cy, "science", None).await;
    let biology = app.create_space(&cy, "biology", Some(&science)).await;
    let arts = app.create_space(&cy, "arts", None).await;
    app.create_post(&cy, &[&biology], "cells").await;
    let by_bob = app.create_post(&bob, &[&arts], "paintings by bob").await;
    app.create_post(&bob, &[&science], "science by bob").await;
    app.create_post(&cy, &[&arts], "sculpture").await;
    let comment = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"lovely\"}) { id } }";
    app.ok(Some(&cy), comment, json!({ "p": by_bob })).await;

    let input = json!({ "name": "Science and Bob", "spaceIds": [science], "userHandles": ["bob", "BOB"] });
    let created = app.ok(Some(&ada), CREATE, json!({ "i": input })).await["createStream"].clone();
    assert_eq!(created["name"], "Science and Bob");
    assert_eq!(created["spaces"], json!([{ "handle": "science" }]));
    assert_eq!(created["users"], json!([{ "handle": "bob" }]), "each user once");
    let id = created["id"].clone();
    let read = |sort: &'static str, metric: &'static str, range: &'static str| {
        let (app, ada, id) = (&app, &ada, id.clone());
        async move {
            let vars = json!({ "id": id, "s": sort, "m": metric, "t": range });
            titles(&app.ok(Some(ada), POSTS, vars).await["stream"])
        }
    };
    assert_eq!(read("NEW", "LIKES", "ALL").await, vec!["science by bob", "paintings by bob", "cells"]);
    assert_eq!(read("TOP", "COMMENTS", "ALL").await[0], "paintings by bob", "TOP by the metric asked for");
    assert_eq!(read("NEW", "LIKES", "DAY").await.len(), 3, "all made today");
    // The stream is not the home feed: following nothing, Ada's home is empty.
    let home = app.ok(Some(&ada), "{ homeFeed { nodes { title } } }", json!({})).await;
    assert_eq!(home["homeFeed"]["nodes"], json!([]));

    // Updating replaces name and sources; the owner lists their streams.
    let update = "mutation($id: ID!, $i: StreamInput!) { updateStream(id: $id, input: $i) { name } }";
    let input = json!({ "name": "Arts", "spaceIds": [arts], "userHandles": [] });
    app.ok(Some(&ada), update, json!({ "id": id, "i": input })).await;
    assert_eq!(read("NEW", "LIKES", "ALL").await, vec!["sculpture", "paintings by bob"]);
    let mine = app.ok(Some(&ada), "{ me { streams { name } } }", json!({})).await;
    assert_eq!(mine["me"]["streams"], json!([{ "name": "Arts" }]));

    let delete = "mutation($id: ID!) { deleteStream(id: $id) }";
    assert_eq!(app.ok(Some(&ada), delete, json!({ "id": id })).await["deleteStream"], true);
    assert!(app.ok(Some(&ada), POSTS, json!({ "id": id })).await["stream"].is_null());
    assert_eq!(app.ok(Some(&ada), "{ me { streams { name } } }", json!({})).await["me"]["streams"], json!([]));
}

async fn streams_are_their_owners_alone_and_checked_when_saved(app: TestApp) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let agora = app.create_space(&ada, "agora", None).await;
    let lab = app.create_space_with(&ada, json!({ "handle": "lab", "name": "Lab", "privacy": "PRIVATE" })).await;
    let input = json!({ "name": "Mine", "spaceIds": [agora], "userHandles": [] });
    let id = app.ok(Some(&ada), CREATE, json!({ "i": input })).await["createStream"]["id"].clone();

    // Others cannot see, change or delete it; it is not even said to exist.
    assert!(app.ok(Some(&bob), POSTS, json!({ "id": id })).await["stream"].is_null());
    assert!(app.ok(None, POSTS, json!({ "id": id })).await["stream"].is_null());
    let update = "mutation($id: ID!, $i: StreamInput!) { updateStream(id: $id, input: $i) { name } }";
    assert_eq!(app.error_code(Some(&bob), update, json!({ "id": id, "i": input })).await, "NOT_FOUND");
    let delete = "mutation($id: ID!) { deleteStream(id: $id) }";
    assert_eq!(app.error_code(Some(&bob), delete, json!({ "id": id })).await, "NOT_FOUND");
    assert!(
        app.ok(Some(&bob), "{ user(handle: \"ada\") { streams { name } } }", json!({})).await["user"]["streams"]
            .is_null()
    );
    assert_eq!(app.error_code(None, CREATE, json!({ "i": input })).await, "UNAUTHENTICATED");

    // What it names is checked: a name, spaces the owner may access, users that exist.
    let bad = [
        (json!({ "name": " ", "spaceIds": [], "userHandles": [] }), "VALIDATION"),
        (json!({ "name": "Lab", "spaceIds": [lab], "userHandles": [] }), "FORBIDDEN"),
        (json!({ "name": "Ghost", "spaceIds": [], "userHandles": ["nobody"] }), "NOT_FOUND"),
        (json!({ "name": "Bad id", "spaceIds": ["x"], "userHandles": [] }), "VALIDATION"),
    ];
    for (input, code) in bad {
        assert_eq!(app.error_code(Some(&bob), CREATE, json!({ "i": input })).await, code, "{input}");
    }
    assert_eq!(app.ok(Some(&bob), "{ me { streams { name } } }", json!({})).await["me"]["streams"], json!([]));
    // The lab's moderator may follow it in a stream, and sees its posts there.
    app.create_post(&ada, &[&lab], "inside").await;
    let input = json!({ "name": "Lab", "spaceIds": [lab], "userHandles": [] });
    let lab_stream = app.ok(Some(&ada), CREATE, json!({ "i": input })).await["createStream"]["id"].clone();
    assert_eq!(titles(&app.ok(Some(&ada), POSTS, json!({ "id": lab_stream })).await["stream"]), vec!["inside"]);
}
