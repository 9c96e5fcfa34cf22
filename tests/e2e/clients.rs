//! Third-party clients against the server: the npm `graphql-ws` client over websockets.

use e2e::{TestApp, node_clients_dir, on_both_backends};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

on_both_backends!(the_npm_graphql_ws_client_receives_live_posts_and_likes);

async fn the_npm_graphql_ws_client_receives_live_posts_and_likes(app: TestApp) {
    let Some(dir) = node_clients_dir() else { return };
    let (token, _) = app.register("ada").await;
    let space = app.create_space(&token, "agora", None).await;
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("graphql-ws-client.mjs"))
        .arg(format!("ws://{}/graphql/ws", app.addr))
        .arg(&token)
        .arg(&space)
        .arg("2")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        let line = line.expect("node answers in time").expect("reading").expect("a line");
        serde_json::from_str(&line).expect("JSON line")
    };
    assert_eq!(next().await, json!({ "connected": true }));
    assert_eq!(next().await, json!({ "query": { "data": { "me": { "handle": "ada" } } } }));
    // The client subscribes right after its query; act once the server listens for it.
    app.wait_for_subscriptions(1).await;
    let post = app.create_post(&token, &[&space], "hello node").await;
    let added = next().await;
    assert_eq!(added["data"]["spaceFeed"]["__typename"], "PostAdded", "{added}");
    assert_eq!(added["data"]["spaceFeed"]["post"], json!({ "title": "hello node", "creator": { "handle": "ada" } }));
    app.ok(Some(&token), "mutation($p: ID!) { likePost(postId: $p) { id } }", json!({ "p": post })).await;
    let stats = next().await;
    assert_eq!(
        stats["data"]["spaceFeed"],
        json!({ "__typename": "PostStatsChanged", "postId": post, "totalLikes": 1 })
    );
    let status =
        tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("node exits").expect("status");
    assert!(status.success());
}
