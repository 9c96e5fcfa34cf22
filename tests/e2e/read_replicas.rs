//! Reads from PostgreSQL streaming replicas, with read-your-own-writes: against a primary and a real streaming
//! replica of it, clusters of the test's own.

use e2e::process::PostgresPair;
use e2e::{TestApp, eventually, services_required};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

const POST: &str = "query($id: ID!) { post(id: $id) { title } }";

#[tokio::test(flavor = "current_thread")]
async fn a_writer_reads_its_own_writes_while_others_read_from_a_lagging_replica() {
    let Some(pair) = PostgresPair::start() else {
        assert!(!services_required(), "PostgreSQL's server binaries are required (WECO_REQUIRE_SERVICES=1)");
        eprintln!("SKIPPED: cannot start a PostgreSQL primary and replica here");
        return;
    };
    let admin = Database::connect(pair.primary_url("postgres")).await.expect("the primary");
    admin.execute_unprepared("CREATE DATABASE weco").await.expect("creating the database");
    let replica = Database::connect(pair.replica_url("postgres")).await.expect("the replica");
    let app =
        TestApp::spawn_on_url(&pair.primary_url("weco"), |s| s.database_replica_urls = vec![pair.replica_url("weco")])
            .await;
    let (ada, _) = app.register("ada").await;
    let space = app.create_space(&ada, "agora", None).await;
    let first = app.create_post(&ada, &[&space], "first").await;
    // Anonymous readers are served by the replica once it has the post.
    eventually("the replica to serve the first post", async || {
        app.ok(None, POST, json!({ "id": first })).await["post"]["title"] == "first"
    })
    .await;
    let served = app.metric("weco_db_replica_statements_total").await;
    assert!(served > 0, "the replica answered reads");

    // The replica stops replaying: what is written now reaches it only when it resumes.
    replica.execute_unprepared("SELECT pg_wal_replay_pause()").await.expect("pausing the replica");
    let second = app.create_post(&ada, &[&space], "second").await;
    // The writer sees it at once (from the primary) …
    assert_eq!(app.ok(Some(&ada), POST, json!({ "id": second })).await["post"]["title"], "second");
    // … while a reader who wrote nothing is served by the replica, which does not have it yet.
    assert!(app.ok(None, POST, json!({ "id": second })).await["post"].is_null(), "read from the paused replica");
    assert!(app.metric("weco_db_replica_statements_total").await > served);

    replica.execute_unprepared("SELECT pg_wal_replay_resume()").await.expect("resuming the replica");
    eventually("the replica to catch up", async || {
        app.ok(None, POST, json!({ "id": second })).await["post"]["title"] == "second"
    })
    .await;
}
