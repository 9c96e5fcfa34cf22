//! `weco seed`: the seeded data is what the API would have produced.
//!
//! Every value the store derives (closure, flows, which posts appear where, every counter, local likes, hot
//! scores) is recounted from the base rows by the store's own definitions (`weco_store::invariants::verify`),
//! which must find nothing. The checks here add what is particular to seeded data: its shape, its audiences,
//! its timeline, that it is the same for the same seed on both backends. The PostgreSQL tests use a fresh
//! database on `WECO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`) and say SKIPPED when
//! none answers, unless `WECO_REQUIRE_SERVICES=1`.

use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult, Statement};
use weco_seed::{Options, Preset, Report};
use weco_store::{SeaStore, StoreOptions};

const NOW: &str = "2026-01-01T00:00:00Z";

/// The preset at the tests' reference time, quietly.
fn options(preset: Preset) -> Options {
    Options { now: Some(NOW.into()), quiet: true, ..Options::new(preset) }
}

fn postgres_base_url() -> String {
    std::env::var("WECO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn services_required() -> bool {
    std::env::var("WECO_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A fresh database, removed when dropped.
struct Fresh {
    url: String,
    postgres: Option<(String, String)>,
    file: Option<std::path::PathBuf>,
}

impl Fresh {
    fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("weco_seed_{}.db", uuid::Uuid::now_v7().simple()));
        Self { url: format!("sqlite://{}?mode=rwc", path.display()), postgres: None, file: Some(path) }
    }

    /// `None` (after saying SKIPPED) when PostgreSQL does not answer and is not required.
    async fn postgres() -> Option<Self> {
        let base = postgres_base_url();
        let admin_url = format!("{base}/postgres");
        let admin = match Database::connect(&admin_url).await {
            Ok(admin) => admin,
            Err(e) if !services_required() => {
                eprintln!("SKIPPED: PostgreSQL is not reachable at {base} ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL is required (WECO_REQUIRE_SERVICES=1) but not reachable: {e}"),
        };
        let name = format!("weco_test_{}", uuid::Uuid::now_v7().simple());
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        admin.close().await.expect("close admin connection");
        Some(Self { url: format!("{base}/{name}"), postgres: Some((admin_url, name)), file: None })
    }

    /// The database, migrated, as `weco seed` opens it.
    async fn store(&self) -> SeaStore {
        let store = weco_store::connect(&StoreOptions::new(&self.url)).await.expect("opening the store");
        migration::Migrator::up(store.connection(), None).await.expect("migrating");
        store
    }

    async fn seed(&self, options: &Options) -> anyhow::Result<Report> {
        weco_seed::run(&self.store().await, &self.url, options).await
    }

    async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url).await.expect("connect to the seeded database")
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(path) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        if let Some((admin_url, name)) = self.postgres.clone() {
            // Drop runs inside the test's runtime; a thread of its own may block on a second one.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = rows(db, sql).await.into_iter().next().unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<i64>("", "v").unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Fails with `what` unless `sql` (a `SELECT … AS v`) counts zero rows.
async fn none(db: &DatabaseConnection, what: &str, sql: &str) {
    let n = scalar(db, sql).await;
    assert_eq!(n, 0, "{what}: {n} disagreements\n{sql}");
}

/// The private spaces at or above the direct spaces of the post in `post_col` of `alias` whose members do
/// not include `user_col`: an actor who could not have seen the post.
fn outsiders(table: &str, post_col: &str, user_col: &str) -> String {
    format!(
        "SELECT COUNT(*) AS v FROM {table} a JOIN space_posts d ON d.post_id = a.{post_col} AND d.relationship = 'DIRECT' \
         JOIN space_closure c ON c.descendant_id = d.space_id \
         JOIN spaces x ON x.id = c.ancestor_id AND x.privacy = 'PRIVATE' \
         WHERE NOT EXISTS (SELECT 1 FROM space_members m WHERE m.space_id = x.id AND m.user_id = a.{user_col})"
    )
}

/// Every consistency check; returns nothing, fails on the first disagreement.
async fn verify(db: &DatabaseConnection, report: &Report) {
    // Row counts match the report (the root space and its closure self-row came with the migration).
    for (table, n) in &report.rows {
        let extra = i64::from(matches!(*table, "spaces" | "space_closure"));
        assert_eq!(scalar(db, &format!("SELECT COUNT(*) AS v FROM {table}")).await, *n as i64 + extra, "{table}");
    }

    // Every derived value, recounted by the store's definitions: the closure and its flows, which posts
    // appear where, every counter and copy, local likes, hot scores.
    let store = SeaStore::from_connection(db.clone());
    let found = weco_store::invariants::verify(&store).await.expect("recounting");
    let listed: Vec<String> = found.iter().take(20).map(ToString::to_string).collect();
    assert!(found.is_empty(), "{} derived values disagree with their recount:\n{}", found.len(), listed.join("\n"));

    // What the recount does not cover: how the seed placed posts, and the times it copied.
    none(db, "spaces without a parent", "SELECT COUNT(*) AS v FROM spaces s WHERE s.handle <> 'all' AND NOT EXISTS (SELECT 1 FROM space_parents e WHERE e.child_id = s.id)").await;
    none(db, "posts without a direct POST row", "SELECT COUNT(*) AS v FROM posts p WHERE NOT EXISTS (SELECT 1 FROM space_posts s WHERE s.post_id = p.id AND s.relationship = 'DIRECT' AND s.kind = 'POST')").await;
    none(
        db,
        "indirect reposts",
        "SELECT COUNT(*) AS v FROM space_posts WHERE kind = 'REPOST' AND relationship <> 'DIRECT'",
    )
    .await;
    none(
        db,
        "direct spaces with different audiences",
        "SELECT COUNT(*) AS v FROM space_posts d1 JOIN space_posts d2 ON d2.post_id = d1.post_id AND d2.relationship = 'DIRECT' \
         WHERE d1.relationship = 'DIRECT' AND EXISTS ( \
           SELECT 1 FROM space_closure c JOIN spaces x ON x.id = c.ancestor_id AND x.privacy = 'PRIVATE' \
           WHERE c.descendant_id = d1.space_id \
             AND NOT EXISTS (SELECT 1 FROM space_closure c2 WHERE c2.descendant_id = d2.space_id AND c2.ancestor_id = x.id))",
    )
    .await;
    none(
        db,
        "post last activity",
        "SELECT COUNT(*) AS v FROM posts p WHERE p.state <> 'ACTIVE' \
           OR p.last_activity_at <> COALESCE((SELECT MAX(c.created_at) FROM comments c WHERE c.post_id = p.id), p.created_at)",
    )
    .await;
    none(
        db,
        "space_posts copies of the post's author and times",
        "SELECT COUNT(*) AS v FROM space_posts s JOIN posts p ON p.id = s.post_id WHERE \
           s.creator_id <> p.creator_id OR s.created_at <> p.created_at OR s.last_activity_at <> p.last_activity_at \
           OR s.state <> 'ACTIVE'",
    )
    .await;
    none(db, "spaces and comments not active", "SELECT (SELECT COUNT(*) FROM spaces WHERE state <> 'ACTIVE') + (SELECT COUNT(*) FROM comments WHERE state <> 'ACTIVE') AS v").await;

    none(
        db,
        "space last activity",
        "SELECT COUNT(*) AS v FROM spaces x WHERE x.last_activity_at < x.created_at OR EXISTS ( \
           SELECT 1 FROM space_posts s WHERE s.space_id = x.id AND s.relationship = 'DIRECT' AND s.kind = 'POST' \
             AND s.created_at > x.last_activity_at)",
    )
    .await;

    // Reactions are cast in spaces the post appears in.
    for table in ["post_likes", "post_ratings"] {
        none(
            db,
            table,
            &format!(
                "SELECT COUNT(*) AS v FROM {table} l WHERE l.space_id IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM space_posts s WHERE s.post_id = l.post_id AND s.space_id = l.space_id AND s.state = 'ACTIVE')"
            ),
        )
        .await;
    }

    // Nobody acts on a post they could not see (docs/privacy.md rule 4): authors, likers, raters, commenters,
    // linkers.
    for (table, post, user) in [
        ("posts", "id", "creator_id"),
        ("post_likes", "post_id", "user_id"),
        ("post_ratings", "post_id", "user_id"),
        ("comments", "post_id", "creator_id"),
        ("post_links", "source_id", "creator_id"),
        ("post_links", "target_id", "creator_id"),
    ] {
        none(db, &format!("{table}.{user} outside the audience"), &outsiders(table, post, user)).await;
    }
    none(
        db,
        "followers outside the audience",
        "SELECT COUNT(*) AS v FROM space_followers f JOIN space_closure c ON c.descendant_id = f.space_id \
         JOIN spaces x ON x.id = c.ancestor_id AND x.privacy = 'PRIVATE' \
         WHERE NOT EXISTS (SELECT 1 FROM space_members m WHERE m.space_id = x.id AND m.user_id = f.user_id)",
    )
    .await;
    none(
        db,
        "creators moderate, belong to and follow their spaces",
        "SELECT COUNT(*) AS v FROM spaces s WHERE s.creator_id IS NOT NULL AND ( \
           NOT EXISTS (SELECT 1 FROM space_moderators m WHERE m.space_id = s.id AND m.user_id = s.creator_id) \
           OR NOT EXISTS (SELECT 1 FROM space_members m WHERE m.space_id = s.id AND m.user_id = s.creator_id) \
           OR NOT EXISTS (SELECT 1 FROM space_followers m WHERE m.space_id = s.id AND m.user_id = s.creator_id))",
    )
    .await;

    // Time runs forwards.
    none(
        db,
        "timeline",
        "SELECT (SELECT COUNT(*) FROM post_likes l JOIN posts p ON p.id = l.post_id WHERE l.created_at < p.created_at) \
         + (SELECT COUNT(*) FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.created_at < p.created_at) \
         + (SELECT COUNT(*) FROM comments r JOIN comments c ON c.id = r.parent_id WHERE r.created_at < c.created_at) \
         + (SELECT COUNT(*) FROM posts p JOIN users u ON u.id = p.creator_id WHERE p.created_at < u.created_at) \
         + (SELECT COUNT(*) FROM post_likes l JOIN users u ON u.id = l.user_id WHERE l.created_at < u.created_at) AS v",
    )
    .await;

    // Seeded users log in with the documented password.
    let hash: String = rows(db, "SELECT password_hash FROM users ORDER BY handle LIMIT 1").await[0]
        .try_get("", "password_hash")
        .expect("password hash");
    assert!(weco_domain::auth::verify_password(weco_seed::SEED_PASSWORD, &hash));
}

/// Everything that identifies the data set, in a form that compares across runs and backends. Column types
/// are spelled out (`u`uid, `t`ime, `i`nteger, `s`tring): SQLite would happily decode an integer as a time.
async fn fingerprint(db: &DatabaseConnection) -> String {
    let mut out = String::new();
    for (sql, columns) in [
        ("SELECT id, handle, email, created_at FROM users ORDER BY id", "usst"),
        (
            "SELECT id, handle, privacy, total_posts, total_post_likes, total_comments, total_followers, last_activity_at \
             FROM spaces ORDER BY id",
            "ussiiiit",
        ),
        (
            "SELECT id, creator_id, kinds, total_likes, total_comments, total_ratings, rating_sum, total_links, \
             total_reposts, created_at, last_activity_at FROM posts ORDER BY id",
            "uusiiiiiitt",
        ),
        (
            "SELECT space_id, post_id, relationship, kind, local_likes FROM space_posts ORDER BY space_id, post_id",
            "uussi",
        ),
        ("SELECT id, post_id, parent_id, created_at FROM comments ORDER BY id", "uuut"),
        ("SELECT post_id, user_id, space_id, created_at FROM post_likes ORDER BY post_id, user_id", "uuut"),
    ] {
        for row in rows(db, sql).await {
            for (i, kind) in columns.chars().enumerate() {
                let text = match kind {
                    'u' => format!("{:?}", row.try_get_by_index::<Option<uuid::Uuid>>(i).expect("uuid")),
                    't' => row.try_get_by_index::<chrono::DateTime<chrono::Utc>>(i).expect("time").to_rfc3339(),
                    'i' => row.try_get_by_index::<i64>(i).expect("integer").to_string(),
                    _ => row.try_get_by_index::<String>(i).expect("string"),
                };
                out.push_str(&text);
                out.push('|');
            }
            out.push('\n');
        }
    }
    out
}

async fn check_shape(db: &DatabaseConnection) {
    let deepest = scalar(db, "SELECT MAX(depth) AS v FROM space_closure").await;
    assert!((8..=9).contains(&deepest), "the holarchy is {deepest} levels deep");
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM spaces WHERE privacy = 'PRIVATE'").await > 0, "private spaces");
    assert!(
        scalar(
            db,
            "SELECT COUNT(*) AS v FROM (SELECT child_id FROM space_parents GROUP BY child_id HAVING COUNT(*) > 1) x"
        )
        .await
            > 0,
        "spaces with two parents"
    );
    assert!(
        scalar(db, "SELECT COUNT(*) AS v FROM (SELECT post_id FROM space_posts WHERE relationship = 'DIRECT' GROUP BY post_id HAVING COUNT(*) > 1) x").await > 0,
        "posts in two spaces"
    );
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM comments WHERE parent_id IS NOT NULL").await > 0, "replies");
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM space_posts WHERE kind = 'REPOST'").await > 0, "reposts");
    // One post in fifty is a poll, of every type, voted on by those who liked it.
    let (polls, posts) =
        (scalar(db, "SELECT COUNT(*) AS v FROM polls").await, scalar(db, "SELECT COUNT(*) AS v FROM posts").await);
    assert_eq!(polls, posts / 50, "polls");
    assert_eq!(scalar(db, "SELECT COUNT(DISTINCT poll_type) AS v FROM polls").await, 4, "every type");
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM poll_ballots").await > 0, "ballots");
    // Skew: the most-liked post has far more likes than the average one.
    let max = scalar(db, "SELECT MAX(total_likes) AS v FROM posts").await;
    let avg =
        scalar(db, "SELECT COUNT(*) AS v FROM post_likes").await / scalar(db, "SELECT COUNT(*) AS v FROM posts").await;
    assert!(max > 10 * avg.max(1), "likes are not skewed: max {max}, mean {avg}");
}

async fn demo_checks(db: &DatabaseConnection) {
    let handles: Vec<String> =
        rows(db, "SELECT handle FROM spaces").await.iter().map(|r| r.try_get("", "handle").expect("handle")).collect();
    for handle in
        ["science", "biology", "genetics", "dna", "physics", "arts", "music", "bristol", "easton", "genetics-lab"]
    {
        assert!(handles.iter().any(|h| h == handle), "demo space {handle} missing");
    }
    none(
        db,
        "DNA sits under Science",
        "SELECT 1 - COUNT(*) AS v FROM space_closure c JOIN spaces a ON a.id = c.ancestor_id JOIN spaces d ON d.id = c.descendant_id \
         WHERE a.handle = 'science' AND d.handle = 'dna' AND c.depth = 3 AND c.flows = TRUE",
    )
    .await;
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM users").await, 12);
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM posts").await >= 30);
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM comments").await >= 15);
    // Polls of every type, an anonymous one, and two governance polls: one decided (its child space exists and
    // its decision is logged), one still open.
    for kind in ["SINGLE", "MULTIPLE", "WEIGHTED", "RANKED"] {
        let sql = format!("SELECT COUNT(*) AS v FROM polls WHERE poll_type = '{kind}'");
        assert!(scalar(db, &sql).await > 0, "a {kind} poll");
    }
    assert_eq!(
        scalar(db, "SELECT COUNT(*) AS v FROM poll_ballots WHERE voter_id IS NULL").await,
        5,
        "anonymous ballots"
    );
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM polls WHERE space_id IS NOT NULL").await, 2, "governance polls");
    assert_eq!(
        scalar(db, "SELECT COUNT(*) AS v FROM polls WHERE decided_at IS NULL AND space_id IS NOT NULL").await,
        1
    );
    assert!(handles.iter().any(|h| h == "easton-repair-cafe"), "the decided poll's space");
    // Every demo user follows people and has been followed, with exact counts, and has notifications of it,
    // folded one per day, some unseen.
    none(db, "users following no one", "SELECT COUNT(*) AS v FROM users u WHERE u.total_following < 3").await;
    none(
        db,
        "follow counts that differ from the follows",
        "SELECT COUNT(*) AS v FROM users u WHERE u.total_followers <>            (SELECT COUNT(*) FROM user_follows f WHERE f.followed_id = u.id)          OR u.total_following <> (SELECT COUNT(*) FROM user_follows f WHERE f.follower_id = u.id)",
    )
    .await;
    none(
        db,
        "notification counts that differ from the follows they fold",
        "SELECT COUNT(*) AS v FROM users u WHERE u.total_followers <>            (SELECT COALESCE(SUM(n.count), 0) FROM notifications n WHERE n.recipient_id = u.id AND n.kind = 'USER_FOLLOWED')",
    )
    .await;
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM notifications WHERE seen = FALSE").await > 0, "unseen ones");
    none(
        db,
        "a notification whose actor does not follow its recipient",
        "SELECT COUNT(*) AS v FROM notifications n WHERE NOT EXISTS            (SELECT 1 FROM user_follows f WHERE f.follower_id = n.actor_id AND f.followed_id = n.recipient_id)",
    )
    .await;
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) AS v FROM decisions d JOIN spaces s ON s.id = d.space_id \
             WHERE s.handle = 'easton' AND d.outcome = 'EXECUTED'"
        )
        .await,
        1
    );
    // A group chat and a direct chat, with replies, and messages their members have not seen yet.
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM chats WHERE direct = FALSE AND name IS NOT NULL").await, 1);
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM chats WHERE direct = TRUE AND direct_key IS NOT NULL").await, 1);
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM chat_messages").await, 8);
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM chat_messages WHERE reply_to_id IS NOT NULL").await, 3);
    assert!(
        scalar(
            db,
            "SELECT COUNT(*) AS v FROM chat_members m JOIN chat_messages x ON x.chat_id = m.chat_id \
             AND x.created_at > m.seen_at AND x.author_id <> m.user_id"
        )
        .await
            > 0,
        "unseen messages"
    );
    // Events past and coming, with answers; the coming ones have their reminders queued.
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM post_events").await, 4);
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM event_responses").await, 17);
    assert_eq!(scalar(db, "SELECT COUNT(*) AS v FROM jobs WHERE kind = 'event.reminder'").await, 3);
    assert!(scalar(db, "SELECT COUNT(*) AS v FROM post_links").await > 0, "links between demo posts");
}

#[tokio::test]
async fn seed_small_sqlite() {
    let db = Fresh::sqlite();
    let report = db.seed(&options(Preset::Small)).await.expect("seed");
    assert_eq!(report.rows_in("posts"), 5_000);
    let conn = db.connect().await;
    assert_eq!(conn.get_database_backend(), DbBackend::Sqlite);
    verify(&conn, &report).await;
    check_shape(&conn).await;
    // Posts are searchable through SQLite's FTS table.
    assert!(scalar(&conn, "SELECT COUNT(*) AS v FROM posts_fts WHERE posts_fts MATCH 'welcome'").await > 0);

    // Seeding refuses a database that already has data.
    let again = db.seed(&options(Preset::Small)).await.expect_err("a second seed must be refused");
    assert!(format!("{again:#}").contains("not empty"), "{again:#}");

    // The same seed gives the same data, ids included.
    let twin = Fresh::sqlite();
    twin.seed(&options(Preset::Small)).await.expect("seed twin");
    assert!(fingerprint(&conn).await == fingerprint(&twin.connect().await).await, "same seed, different data");
}

#[tokio::test]
async fn seed_small_postgres() {
    let Some(db) = Fresh::postgres().await else { return };
    let report = db.seed(&options(Preset::Small)).await.expect("seed");
    let conn = db.connect().await;
    verify(&conn, &report).await;
    check_shape(&conn).await;
    assert!(
        scalar(&conn, "SELECT COUNT(*) AS v FROM posts WHERE search @@ websearch_to_tsquery('simple', 'welcome')")
            .await
            > 0
    );
    // Indexes and constraints were rebuilt: the feed index exists and a duplicate appearance is refused.
    assert!(scalar(&conn, "SELECT COUNT(*) AS v FROM pg_indexes WHERE indexname = 'space_posts_hot_idx'").await == 1);
    let dup = conn
        .execute_unprepared("INSERT INTO space_posts SELECT * FROM space_posts LIMIT 1")
        .await
        .expect_err("the primary key is back");
    assert!(dup.to_string().contains("duplicate"), "{dup}");

    // The same seed gives the same data on SQLite, ids included.
    let twin = Fresh::sqlite();
    twin.seed(&options(Preset::Small)).await.expect("seed twin");
    assert!(fingerprint(&conn).await == fingerprint(&twin.connect().await).await, "PostgreSQL and SQLite differ");
    // A different seed gives different data.
    let other = Fresh::sqlite();
    let mut seven = options(Preset::Small);
    seven.seed = 7;
    (seven.overrides.posts, seven.overrides.likes) = (Some(500), Some(1000));
    other.seed(&seven).await.expect("seed other");
    assert!(fingerprint(&conn).await != fingerprint(&other.connect().await).await);
}

#[tokio::test]
async fn seed_demo_sqlite() {
    let db = Fresh::sqlite();
    let report = db.seed(&options(Preset::Demo)).await.expect("seed demo");
    let conn = db.connect().await;
    verify(&conn, &report).await;
    demo_checks(&conn).await;
}

#[tokio::test]
async fn seed_demo_postgres() {
    let Some(db) = Fresh::postgres().await else { return };
    let report = db.seed(&options(Preset::Demo)).await.expect("seed demo");
    let conn = db.connect().await;
    verify(&conn, &report).await;
    demo_checks(&conn).await;
}

#[test]
fn counts_do_not_apply_to_the_demo() {
    let mut demo = options(Preset::Demo);
    demo.overrides.posts = Some(10);
    let err = demo.prepare().expect_err("refused");
    assert!(err.to_string().contains("demo"), "{err}");
}

#[test]
fn bad_counts_shares_and_times_are_refused_before_any_database_is_opened() {
    let mut none = options(Preset::Small);
    none.overrides.users = Some(0);
    assert!(none.prepare().expect_err("no users").to_string().contains("--users"));
    let mut share = options(Preset::Small);
    share.overrides.private_share = Some(1.5);
    assert!(share.prepare().expect_err("share").to_string().contains("--private-share"));
    let mut time = options(Preset::Small);
    time.now = Some("yesterday".into());
    assert!(format!("{:#}", time.prepare().expect_err("time")).contains("RFC 3339"));
}
