//! The data commons: activity per day, week and month from rollups (with a clock the test sets, so that acts
//! fall on known days), DIRECT against ALL, a private child's activity kept out of its public parent, top
//! contributors, the platform's counts, and space maps with the children left out and the private ones closed.

use chrono::{DateTime, NaiveDate, Utc};
use e2e::{Backend, TestApp, eventually};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use weco_domain::ports::Clock;

/// The server's clock: the system's until the test sets a time. Tokens are signed with the time they are
/// issued at and checked against the system's, so the test logs everyone in first and then moves the clock
/// into the past.
#[derive(Clone, Default)]
struct TestClock(Arc<Mutex<Option<DateTime<Utc>>>>);

impl TestClock {
    fn set(&self, day: &str, hour: u32) {
        let at = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a day").and_hms_opt(hour, 0, 0).expect("a time");
        *self.0.lock().expect("the clock") = Some(at.and_utc());
    }
}

#[async_trait::async_trait]
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().expect("the clock").unwrap_or_else(Utc::now)
    }

    async fn sleep(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

async fn spawn(backend: Backend) -> Option<(TestApp, TestClock)> {
    let clock = TestClock::default();
    let shared = clock.clone();
    let app = TestApp::spawn_with(backend, move |s| s.clock = Some(Arc::new(shared))).await?;
    Some((app, clock))
}

macro_rules! with_clock_on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    if let Some((app, clock)) = super::spawn(e2e::Backend::Sqlite).await {
                        super::$name(app, clock).await;
                    }
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    if let Some((app, clock)) = super::spawn(e2e::Backend::Postgres).await {
                        super::$name(app, clock).await;
                    }
                }
            }
        )*
    };
}

with_clock_on_both_backends!(
    activity_counts_known_acts_on_known_days_by_day_week_and_month,
    maps_list_children_up_to_the_limit_count_the_rest_and_keep_private_ones_closed,
    graphiql_ships_the_analysts_examples_and_they_run,
    the_export_holds_public_data_only_with_users_pseudonymised_unless_they_opted_in,
);

const LIKE: &str = "mutation($p: ID!) { likePost(postId: $p) { id } }";
const COMMENT: &str = "mutation($p: ID!) { addComment(input: {postId: $p, text: \"a thought\"}) { id } }";
const ACTIVITY: &str = "query($h: String!, $from: DateTime!, $to: DateTime!, $i: Interval!, $d: Depth!) { \
    space(handle: $h) { activity(from: $from, to: $to, interval: $i, depth: $d) { \
    start posts comments likes activeUsers newSpaces } } }";

/// `(day, [posts, comments, likes, activeUsers, newSpaces])` for each point with any activity, and how many
/// points there were.
fn points(data: &Value) -> (Vec<(String, [i64; 5])>, usize) {
    let list = data["space"]["activity"].as_array().cloned().unwrap_or_default();
    let busy = list
        .iter()
        .map(|p| {
            let start =
                DateTime::parse_from_rfc3339(p["start"].as_str().unwrap_or_default()).expect("an RFC 3339 start");
            let n = |k: &str| p[k].as_i64().unwrap_or(-1);
            (
                start.format("%Y-%m-%d").to_string(),
                [n("posts"), n("comments"), n("likes"), n("activeUsers"), n("newSpaces")],
            )
        })
        .filter(|(_, c)| c.iter().any(|n| *n != 0))
        .collect();
    (busy, list.len())
}

async fn activity(
    app: &TestApp,
    token: Option<&str>,
    handle: &str,
    (from, to): (&str, &str),
    interval: &str,
    depth: &str,
) -> (Vec<(String, [i64; 5])>, usize) {
    let vars = json!({ "h": handle, "from": from, "to": to, "i": interval, "d": depth });
    points(&app.ok(token, ACTIVITY, vars).await)
}

fn day(d: &str, counts: [i64; 5]) -> (String, [i64; 5]) {
    (d.to_owned(), counts)
}

async fn activity_counts_known_acts_on_known_days_by_day_week_and_month(app: TestApp, clock: TestClock) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let (cy, _) = app.register("cy").await;

    // Monday 3 March 2025.
    clock.set("2025-03-03", 9);
    let science = app.create_space(&ada, "science", None).await;
    let physics = app.create_space(&ada, "physics", Some(&science)).await;
    let lab = app
        .create_space_with(&ada, json!({ "handle": "lab", "name": "Lab", "parentId": science, "privacy": "PRIVATE" }))
        .await;
    let p1 = app.create_post(&ada, &[&science], "p1").await;
    let p2 = app.create_post(&bob, &[&physics], "p2").await;
    let secret = app.create_post(&ada, &[&lab], "secret").await;
    app.ok(Some(&bob), LIKE, json!({ "p": p1 })).await;
    app.ok(Some(&cy), COMMENT, json!({ "p": p2 })).await;
    app.ok(Some(&ada), LIKE, json!({ "p": secret })).await;
    app.ok(Some(&ada), COMMENT, json!({ "p": secret })).await;
    // Tuesday.
    clock.set("2025-03-04", 15);
    app.create_post(&cy, &[&science], "p3").await;
    app.ok(Some(&bob), COMMENT, json!({ "p": p1 })).await;
    app.ok(Some(&cy), LIKE, json!({ "p": p1 })).await;
    app.ok(Some(&ada), LIKE, json!({ "p": p2 })).await;
    // An unlike takes nothing back, and a like given again is not a new act in the day's users.
    app.ok(Some(&ada), "mutation($p: ID!) { unlikePost(postId: $p) { id } }", json!({ "p": p2 })).await;
    // Monday of the next week.
    clock.set("2025-03-10", 8);
    app.create_post(&bob, &[&physics], "p4").await;

    let week = ("2025-03-03T00:00:00Z", "2025-03-11T00:00:00Z");
    // [posts, comments, likes, activeUsers, newSpaces]
    let all_by_day = vec![
        day("2025-03-03", [2, 1, 1, 3, 1]),
        day("2025-03-04", [1, 1, 2, 3, 0]),
        day("2025-03-10", [1, 0, 0, 1, 0]),
    ];
    let mut seen = (Vec::new(), 0);
    eventually("the acts to be folded into science's activity", async || {
        seen = activity(&app, None, "science", week, "DAY", "ALL").await;
        seen.0 == all_by_day
    })
    .await;
    assert_eq!(seen.1, 8, "one point per day, the quiet ones included");

    // Only what was placed in science itself, and the spaces created directly under it.
    let direct = activity(&app, None, "science", week, "DAY", "DIRECT").await;
    assert_eq!(direct.0, vec![day("2025-03-03", [1, 0, 1, 2, 1]), day("2025-03-04", [1, 1, 1, 2, 0])]);

    let weeks = activity(&app, None, "science", ("2025-03-05T12:00:00Z", "2025-03-11T00:00:00Z"), "WEEK", "ALL").await;
    assert_eq!(weeks, (vec![day("2025-03-03", [3, 2, 3, 3, 1]), day("2025-03-10", [1, 0, 0, 1, 0])], 2));
    let months =
        activity(&app, None, "science", ("2025-02-10T00:00:00Z", "2025-04-01T00:00:00Z"), "MONTH", "ALL").await;
    assert_eq!(months, (vec![day("2025-03-01", [4, 2, 3, 3, 1])], 2), "February is quiet, March holds it all");

    // The private lab counts in itself, for its members only.
    let inside = activity(&app, Some(&ada), "lab", week, "DAY", "ALL").await;
    assert_eq!(inside.0, vec![day("2025-03-03", [1, 1, 1, 1, 0])]);
    let code = app
        .error_code(Some(&bob), ACTIVITY, json!({ "h": "lab", "from": week.0, "to": week.1, "i": "DAY", "d": "ALL" }))
        .await;
    assert_eq!(code, "FORBIDDEN");

    // The root counts the public spaces created and the public posts, nothing of the lab.
    let root = activity(&app, None, "all", week, "DAY", "ALL").await;
    assert_eq!(root.0[0], day("2025-03-03", [2, 1, 1, 3, 2]));

    // Bounds.
    let too_long =
        json!({ "h": "science", "from": "2024-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z", "i": "DAY", "d": "ALL" });
    assert_eq!(app.error_code(None, ACTIVITY, too_long).await, "VALIDATION");
    let backwards = json!({ "h": "science", "from": week.1, "to": week.0, "i": "DAY", "d": "ALL" });
    assert_eq!(app.error_code(None, ACTIVITY, backwards).await, "VALIDATION");

    // Top contributors: most posts first, then most likes received on them.
    let top = app
        .ok(
            None,
            "{ space(handle: \"science\") { topContributors(timeRange: ALL) { user { handle } posts likesReceived } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        top["space"]["topContributors"],
        json!([
            { "user": { "handle": "bob" }, "posts": 2, "likesReceived": 1 },
            { "user": { "handle": "ada" }, "posts": 1, "likesReceived": 2 },
            { "user": { "handle": "cy" }, "posts": 1, "likesReceived": 0 },
        ])
    );
    let recent = app
        .ok(
            None,
            "{ space(handle: \"science\") { topContributors(timeRange: DAY) { user { handle } posts } } }",
            json!({}),
        )
        .await;
    assert_eq!(recent["space"]["topContributors"], json!([{ "user": { "handle": "bob" }, "posts": 1 }]), "only today");
    let lab_top = "{ space(handle: \"lab\") { topContributors { posts } } }";
    assert_eq!(app.error_code(Some(&bob), lab_top, json!({})).await, "FORBIDDEN");

    // The platform counts public content only: the lab's post, like and comment are not in it.
    let stats = app.ok(None, "{ platformStats { users coopMembers spaces posts comments likes } }", json!({})).await;
    assert_eq!(
        stats["platformStats"],
        json!({ "users": 3, "coopMembers": 0, "spaces": 2, "posts": 4, "comments": 2, "likes": 2 })
    );
}

const MAP: &str = "query($h: String!, $l: Int!, $c: Int!, $s: SpaceSort!) { space(handle: $h) { \
    map(levels: $l, childLimit: $c, sort: $s) { space { handle } hiddenChildren \
      children { space { handle viewerCanAccess } hiddenChildren \
        children { space { handle } hiddenChildren children { space { handle } } } } } } }";

fn names(node: &Value) -> Vec<String> {
    node["children"]
        .as_array()
        .map(|a| a.iter().map(|c| c["space"]["handle"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn child<'a>(node: &'a Value, handle: &str) -> &'a Value {
    node["children"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["space"]["handle"] == handle))
        .unwrap_or_else(|| panic!("{handle} in {node:#}"))
}

async fn maps_list_children_up_to_the_limit_count_the_rest_and_keep_private_ones_closed(app: TestApp, _: TestClock) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bob").await;
    let hub = app.create_space(&ada, "hub", None).await;
    let a1 = app.create_space(&ada, "a1", Some(&hub)).await;
    let vault = app
        .create_space_with(&ada, json!({ "handle": "vault", "name": "Vault", "parentId": hub, "privacy": "PRIVATE" }))
        .await;
    app.create_space(&ada, "a2", Some(&hub)).await;
    app.create_space(&ada, "a3", Some(&hub)).await;
    app.create_space(&ada, "inner", Some(&vault)).await;
    app.create_space(&ada, "b1", Some(&a1)).await;
    app.create_space(&ada, "b2", Some(&a1)).await;

    // Newest first, three per node: a1 is left out and counted; the vault shows by name, closed.
    let map = app.ok(Some(&bob), MAP, json!({ "h": "hub", "l": 3, "c": 3, "s": "NEW" })).await;
    let root = &map["space"]["map"];
    assert_eq!(root["space"]["handle"], "hub");
    assert_eq!(names(root), ["a3", "a2", "vault"]);
    assert_eq!(root["hiddenChildren"], 1);
    let closed = child(root, "vault");
    assert_eq!(closed["space"]["viewerCanAccess"], false);
    assert_eq!(names(closed), Vec::<String>::new(), "what lies inside the vault stays hidden");
    assert_eq!(closed["hiddenChildren"], 0, "not even its count shows");

    // Its members see inside.
    let member = app.ok(Some(&ada), MAP, json!({ "h": "hub", "l": 3, "c": 3, "s": "NEW" })).await;
    let open = child(&member["space"]["map"], "vault");
    assert_eq!(names(open), ["inner"]);
    assert_eq!(open["hiddenChildren"], 0);

    // By posts, one per node: a1 (the only one with a post) first, and one of its two children.
    app.create_post(&ada, &[&a1], "news").await;
    let by_posts = app.ok(None, MAP, json!({ "h": "hub", "l": 2, "c": 1, "s": "POSTS" })).await;
    let root = &by_posts["space"]["map"];
    assert_eq!(names(root), ["a1"]);
    assert_eq!(root["hiddenChildren"], 3);
    let a1_node = child(root, "a1");
    assert_eq!(names(a1_node).len(), 1);
    assert_eq!(a1_node["hiddenChildren"], 1);
    let b = &a1_node["children"][0];
    assert_eq!(b["children"], json!([]), "two levels asked: the third is not opened");

    // A private space's map is its members' only; limits are checked.
    assert_eq!(app.error_code(Some(&bob), MAP, json!({ "h": "vault", "l": 1, "c": 5, "s": "NEW" })).await, "FORBIDDEN");
    assert_eq!(app.error_code(None, MAP, json!({ "h": "hub", "l": 5, "c": 2, "s": "NEW" })).await, "VALIDATION");
    assert_eq!(app.error_code(None, MAP, json!({ "h": "hub", "l": 2, "c": 0, "s": "NEW" })).await, "VALIDATION");
    assert_eq!(app.error_code(None, MAP, json!({ "h": "hub", "l": 3, "c": 50, "s": "NEW" })).await, "VALIDATION");
}

/// The text of the JavaScript template literal assigned to `name` in `source`.
fn template(source: &str, name: &str) -> String {
    let start = source.find(&format!("const {name} = `")).unwrap_or_else(|| panic!("{name} in GraphiQL's start-up"));
    let rest = &source[start..];
    let open = rest.find('`').expect("an opening backtick") + 1;
    let close = rest[open..].find('`').expect("a closing backtick");
    rest[open..open + close].replace("\\`", "`")
}

async fn graphiql_ships_the_analysts_examples_and_they_run(app: TestApp, _: TestClock) {
    let (ada, _) = app.register("ada").await;
    let science = app.create_space(&ada, "science", None).await;
    app.create_post(&ada, &[&science], "hello").await;
    let script = app.client.get(app.url("/graphiql/assets/weco-graphiql.js")).send().await.expect("the script");
    let source = script.text().await.expect("its text");
    assert!(source.contains("defaultTabs"), "the examples open as tabs");
    let vars = json!({ "handle": "all", "from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z" });
    let activity = app.ok(None, &template(&source, "activityQuery"), vars.clone()).await;
    assert_eq!(activity["space"]["activity"].as_array().map(Vec::len), Some(49), "a point per week");
    let map = app.ok(None, &template(&source, "mapQuery"), json!({ "handle": "all" })).await;
    assert_eq!(map["space"]["map"]["children"][0]["space"]["handle"], "science");
    let top = app.ok(None, &template(&source, "contributorsQuery"), json!({ "handle": "all" })).await;
    assert_eq!(top["platformStats"]["spaces"], 1);
    assert_eq!(top["platformStats"]["posts"], 1);
}

async fn export(app: &TestApp, table: &str) -> (reqwest::StatusCode, String) {
    let response = app.client.get(app.url(&format!("/export/{table}"))).send().await.expect("the export");
    let status = response.status();
    (status, response.text().await.expect("its body"))
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect()
}

async fn the_export_holds_public_data_only_with_users_pseudonymised_unless_they_opted_in(app: TestApp, _: TestClock) {
    let (ada, _) = app.register("ada").await;
    let (bob, _) = app.register("bobbington").await;
    let profile = "mutation { updateProfile(input: {openDataName: true}) { handle openDataName } }";
    let named = app.ok(Some(&ada), profile, json!({})).await;
    assert_eq!(named["updateProfile"]["openDataName"], true);
    let others = app.ok(Some(&bob), "{ user(handle: \"ada\") { openDataName } }", json!({})).await;
    assert_eq!(others["user"]["openDataName"], Value::Null, "a user's choice is their own to read");

    let open = app.create_space(&ada, "open", None).await;
    let hidden =
        app.create_space_with(&bob, json!({ "handle": "hiddenden", "name": "Hidden Den", "privacy": "PRIVATE" })).await;
    let inner = app.create_space(&bob, "innerroom", Some(&hidden)).await;
    let public_post = app.create_post(&bob, &[&open], "a public finding").await;
    let secret = app.create_post(&bob, &[&inner], "a secret plan").await;
    app.ok(Some(&ada), LIKE, json!({ "p": public_post })).await;
    app.ok(Some(&ada), COMMENT, json!({ "p": public_post })).await;
    app.ok(Some(&bob), LIKE, json!({ "p": secret })).await;
    app.ok(Some(&bob), COMMENT, json!({ "p": secret })).await;

    let mut all = String::new();
    let mut tables = std::collections::HashMap::new();
    for table in ["spaces", "edges", "posts", "comments", "reactions"] {
        let (status, body) = export(&app, &format!("{table}.ndjson")).await;
        assert_eq!(status, 200, "{table}");
        all.push_str(&body);
        tables.insert(table, lines(&body));
    }
    for leak in [
        "hiddenden",
        "Hidden Den",
        "innerroom",
        "a secret plan",
        "bobbington",
        "@example.org",
        &hidden,
        &inner,
        &secret,
    ] {
        assert!(!all.contains(leak), "the export holds {leak:?}:\n{all}");
    }
    let handles: Vec<&str> = tables["spaces"].iter().filter_map(|s| s["handle"].as_str()).collect();
    assert_eq!(handles.len(), 2, "the root and open: {handles:?}");
    assert!(handles.contains(&"open"));
    let posts = &tables["posts"];
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["id"], public_post.as_str());
    assert_eq!(posts[0]["title"], "a public finding");
    assert_eq!(posts[0]["space_ids"], open.as_str());
    assert_eq!(posts[0]["total_likes"], 1);
    let pseudonym = posts[0]["creator"].as_str().unwrap_or_default().to_owned();
    assert!(pseudonym.starts_with("u_") && pseudonym.len() == 18, "bob is a pseudonym: {pseudonym}");
    assert_eq!(
        tables["spaces"].iter().find(|s| s["handle"] == "open").map(|s| s["creator"].clone()),
        Some(json!("ada"))
    );
    assert_eq!(tables["comments"].len(), 1);
    assert_eq!(tables["comments"][0]["creator"], "ada", "ada opted in");
    assert_eq!(
        tables["reactions"],
        vec![json!({
            "post_id": public_post, "user": "ada", "kind": "LIKE", "value": null, "space_id": null,
            "created_at": tables["reactions"][0]["created_at"],
        })]
    );
    assert_eq!(tables["edges"].len(), 1, "open under the root: {:?}", tables["edges"]);
    // The same pseudonym in every table of one day's export.
    let (_, again) = export(&app, "posts.ndjson").await;
    assert_eq!(lines(&again)[0]["creator"], pseudonym.as_str());
    assert_eq!(export(&app, "users.ndjson").await.0, 404);

    // `weco export` writes the same tables and a data dictionary, with a salt of its own.
    let dir = std::env::temp_dir().join(format!("weco-export-{}", uuid::Uuid::now_v7().simple()));
    let settings = weco_server::Settings::for_database(app.database.url.clone());
    let store = weco_server::startup::open_store(&settings).await.expect("the store");
    let counts = weco_server::export::export_to_dir(&store, &dir, weco_server::config::ExportFormat::Ndjson)
        .await
        .expect("the export");
    assert_eq!(counts, vec![("spaces", 2), ("edges", 1), ("posts", 1), ("comments", 1), ("reactions", 1)]);
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("the data dictionary");
    for column in ["space_ids", "total_likes", "created_at", "parent_id"] {
        assert!(readme.contains(&format!("`{column}`")), "the dictionary names {column}");
    }
    let files: Vec<Value> = lines(&std::fs::read_to_string(dir.join("posts.ndjson")).expect("posts"));
    assert_eq!(files[0]["title"], "a public finding");
    assert_ne!(files[0]["creator"], pseudonym.as_str(), "another export, another salt");
    let written = ["spaces", "edges", "posts", "comments", "reactions"]
        .iter()
        .map(|t| std::fs::read_to_string(dir.join(format!("{t}.ndjson"))).expect("a table"))
        .collect::<String>();
    assert!(!written.contains("a secret plan") && !written.contains("bobbington") && !written.contains("@example.org"));
    let _ = std::fs::remove_dir_all(&dir);

    // Parquet: the same tables, read back with the documented schema.
    let counts = weco_server::export::export_to_dir(&store, &dir, weco_server::config::ExportFormat::Parquet)
        .await
        .expect("the Parquet export");
    assert_eq!(counts, vec![("spaces", 2), ("edges", 1), ("posts", 1), ("comments", 1), ("reactions", 1)]);
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("the data dictionary");
    for table in weco_domain::commons::export::ExportTable::ALL {
        let documented = weco_domain::commons::export::parquet_schema(table);
        assert!(readme.contains(&documented), "the dictionary shows the {} schema", table.name());
        let file = std::fs::File::open(dir.join(format!("{}.parquet", table.name()))).expect("a Parquet file");
        let reader = parquet::file::reader::SerializedFileReader::new(file).expect("a Parquet reader");
        use parquet::file::reader::FileReader as _;
        let schema = reader.metadata().file_metadata().schema().clone();
        let expected = parquet::schema::parser::parse_message_type(&documented).expect("the documented schema");
        assert_eq!(schema, expected, "{}", table.name());
    }
    let file = std::fs::File::open(dir.join("posts.parquet")).expect("posts");
    let reader = parquet::file::reader::SerializedFileReader::new(file).expect("a reader");
    let rows: Vec<parquet::record::Row> = reader.into_iter().collect::<Result<_, _>>().expect("the rows");
    assert_eq!(rows.len(), 1);
    let columns: std::collections::HashMap<String, parquet::record::Field> =
        rows[0].get_column_iter().map(|(name, field)| (name.clone(), field.clone())).collect();
    assert_eq!(columns["title"], parquet::record::Field::Str("a public finding".into()));
    assert_eq!(columns["id"], parquet::record::Field::Str(public_post.clone()));
    assert_eq!(columns["total_likes"], parquet::record::Field::Long(1));
    assert!(matches!(columns["created_at"], parquet::record::Field::TimestampMicros(_)), "{:?}", columns["created_at"]);
    assert!(matches!(&columns["creator"], parquet::record::Field::Str(s) if s.starts_with("u_")));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn the_http_export_can_be_turned_off(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.export_concurrency = 0).await else { return };
    let (status, body) = export(&app, "posts.ndjson").await;
    assert_eq!(status, 404);
    let body: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

mod the_http_export_can_be_turned_off {
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::the_http_export_can_be_turned_off(e2e::Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::the_http_export_can_be_turned_off(e2e::Backend::Postgres).await;
    }
}
