//! `invariants::verify` against a community built through the store's own repositories: it finds nothing after
//! every kind of change the store makes (placements, reposts, reactions, comments, links, moderation, follows,
//! tree edits, privacy changes, deletions), and it finds exactly the value that was broken, with its row, its
//! column, the stored value and the recounted one.
//!
//! Both backends run the same script: SQLite on a fresh file, PostgreSQL on a fresh database on the server at
//! `WECO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`), dropped afterwards. Without a
//! reachable PostgreSQL the PostgreSQL test says SKIPPED and passes, unless `WECO_REQUIRE_SERVICES=1`.

use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement, Value};
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;
use weco_domain::uow::Repos;
use weco_domain::values::{PostKind, Privacy};
use weco_domain::*;
use weco_store::invariants::{Figure, Mismatch, verify};
use weco_store::{SeaStore, StoreOptions};

fn services_required() -> bool {
    std::env::var("WECO_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

fn postgres_base_url() -> String {
    std::env::var("WECO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, empty database, removed when dropped (also when the test panics).
struct TestDatabase {
    url: String,
    file: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("weco_invariants_{}.db", Uuid::now_v7().simple()));
        Self { url: format!("sqlite://{}?mode=rwc", path.display()), file: Some(path), postgres: None }
    }

    /// `None` (after saying SKIPPED) when PostgreSQL does not answer and is not required.
    async fn postgres() -> Option<Self> {
        let base = postgres_base_url();
        let admin_url = format!("{base}/postgres");
        let mut options = ConnectOptions::new(admin_url.clone());
        options.connect_timeout(Duration::from_secs(5)).acquire_timeout(Duration::from_secs(5)).sqlx_logging(false);
        let admin = match Database::connect(options).await {
            Ok(admin) => admin,
            Err(e) if !services_required() => {
                eprintln!("SKIPPED: PostgreSQL is not reachable at {base} ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL is required (WECO_REQUIRE_SERVICES=1) but not reachable at {base}: {e}"),
        };
        let name = format!("weco_invariants_{}", Uuid::now_v7().simple());
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("creating the test database");
        admin.close().await.expect("closing the admin connection");
        Some(Self { url: format!("{base}/{name}"), file: None, postgres: Some((admin_url, name)) })
    }

    async fn store(&self) -> SeaStore {
        let store = weco_store::connect(&StoreOptions::new(&self.url)).await.expect("opening the store");
        migration::Migrator::up(store.connection(), None).await.expect("migrating");
        store
    }
}

impl Drop for TestDatabase {
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

/// The community the script builds, by name.
struct World {
    cy: UserId,
    /// a ← root; b ← a (later ← d); p (private: ann, ben) ← a; c ← p; d ← root; e ← a (no posts).
    a: SpaceId,
    b: SpaceId,
    c: SpaceId,
    d: SpaceId,
    e: SpaceId,
    /// In b; liked, rated, commented, linked, reposted into d.
    post1: PostId,
    /// In c, behind p.
    post2: PostId,
    /// In b and d; hidden in b by a moderator.
    post3: PostId,
    /// The reply to the first comment on post1.
    comment: CommentId,
}

async fn user(store: &SeaStore, handle: &str) -> UserId {
    let id = UserId::generate();
    store
        .accounts()
        .insert_user(&NewUser {
            id,
            handle: handle.into(),
            name: handle.into(),
            email: format!("{handle}@example.org"),
            password_hash: "not-a-hash".into(),
            created_at: now(),
        })
        .await
        .expect("inserting a user");
    id
}

async fn space(store: &SeaStore, handle: &str, privacy: Privacy, creator: UserId, parent: SpaceId) -> SpaceId {
    let id = SpaceId::generate();
    let holarchy = store.holarchy();
    holarchy
        .insert_space(&NewSpace {
            id,
            handle: handle.into(),
            name: handle.into(),
            description: String::new(),
            privacy,
            creator_id: creator,
            created_at: now(),
        })
        .await
        .expect("inserting a space");
    holarchy.attach(parent, id).await.expect("attaching a space");
    id
}

async fn post(store: &SeaStore, creator: UserId, spaces: &[SpaceId]) -> PostId {
    let id = PostId::generate();
    let new = NewPost {
        id,
        creator_id: creator,
        title: Some("A title".into()),
        text: None,
        url: None,
        kinds: vec![PostKind::Text],
        created_at: now(),
    };
    store.posts().insert_post(&new, spaces).await.expect("inserting a post");
    id
}

async fn comment(store: &SeaStore, post: PostId, parent: Option<CommentId>, creator: UserId) -> CommentId {
    let id = CommentId::generate();
    let c = Comment {
        id,
        post_id: post,
        parent_id: parent,
        creator_id: creator,
        text: "Agreed".into(),
        created_at: now(),
        total_replies: 0,
        deleted: false,
    };
    store.posts().insert_comment(&c).await.expect("inserting a comment");
    id
}

async fn nothing_found(store: &SeaStore, after: &str) {
    let found = verify(store).await.expect("verifying");
    let listed: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(found.is_empty(), "after {after}:\n{}", listed.join("\n"));
}

/// Builds the community through the repositories, verifying as it goes.
async fn build(store: &SeaStore) -> World {
    nothing_found(store, "migrating").await;
    let (ann, ben, cy) = (user(store, "ann").await, user(store, "ben").await, user(store, "cy").await);
    let a = space(store, "a", Privacy::Public, ann, ROOT_SPACE_ID).await;
    let b = space(store, "b", Privacy::Public, ann, a).await;
    let p = space(store, "p", Privacy::Private, ann, a).await;
    for member in [ann, ben] {
        store.access().add_member(p, member).await.expect("adding a member");
    }
    let c = space(store, "c", Privacy::Public, ann, p).await;
    let d = space(store, "d", Privacy::Public, ben, ROOT_SPACE_ID).await;
    let e = space(store, "e", Privacy::Public, ben, a).await;
    let holarchy = store.holarchy();
    for (s, u) in [(a, ann), (a, ben), (d, cy), (b, cy)] {
        assert!(holarchy.follow(s, u).await.expect("following"));
    }
    assert!(holarchy.unfollow(d, cy).await.expect("unfollowing"));
    nothing_found(store, "building the holarchy").await;

    let post1 = post(store, ann, &[b]).await;
    let post2 = post(store, ann, &[c]).await;
    let post3 = post(store, ben, &[b, d]).await;
    let posts = store.posts();
    assert!(posts.like(post1, ben, Some(b), now()).await.expect("liking"));
    assert!(posts.like(post1, cy, Some(a), now()).await.expect("liking"));
    assert!(posts.like(post1, ann, None, now()).await.expect("liking"));
    assert!(posts.like(post2, ben, Some(c), now()).await.expect("liking"));
    assert!(posts.like(post3, cy, Some(d), now()).await.expect("liking"));
    assert!(posts.like(post3, ann, Some(b), now()).await.expect("liking"));
    assert!(posts.unlike(post3, cy).await.expect("unliking"));
    posts.rate(post1, ben, 80, Some(b), now()).await.expect("rating");
    posts.rate(post1, cy, 60, None, now()).await.expect("rating");
    posts.rate(post1, cy, 70, Some(a), now()).await.expect("rating again");
    let first = comment(store, post1, None, ben).await;
    let reply = comment(store, post1, Some(first), ann).await;
    comment(store, post2, None, ben).await;
    assert!(posts.link_posts(post1, post3, ann, "see also", now()).await.expect("linking"));
    assert_eq!(posts.repost(post1, &[d], now()).await.expect("reposting"), 1);
    assert!(
        posts
            .set_space_post_state(post3, b, SpacePostState::Active, SpacePostState::Removed)
            .await
            .expect("moderating")
    );
    nothing_found(store, "posting and reacting").await;

    // Tree edits move appearances and local likes; a privacy change moves flows; a deletion hides rows.
    holarchy.detach(a, b).await.expect("detaching b");
    holarchy.attach(d, b).await.expect("attaching b under d");
    holarchy.set_space_privacy(d, Privacy::Private).await.expect("making d private");
    holarchy.set_space_privacy(d, Privacy::Public).await.expect("making d public");
    let gone = space(store, "gone", Privacy::Public, ann, a).await;
    let doomed = post(store, ann, &[gone]).await;
    assert!(posts.like(doomed, ben, Some(gone), now()).await.expect("liking"));
    holarchy.delete_space(gone).await.expect("deleting a space");
    let deleted = post(store, ben, &[c]).await;
    assert!(posts.like(deleted, ann, Some(c), now()).await.expect("liking"));
    posts.delete_post(deleted).await.expect("deleting a post");
    nothing_found(store, "tree edits and deletions").await;

    World { cy, a, b, c, d, e, post1, post2, post3, comment: reply }
}

async fn exec(store: &SeaStore, sql: &str, values: Vec<Value>) {
    let backend = store.backend();
    store
        .connection()
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn int(store: &SeaStore, sql: &str, values: Vec<Value>) -> i64 {
    let backend = store.backend();
    let row = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<i64>("", "v").unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn mismatch(
    table: &'static str,
    key: &[(&'static str, Uuid)],
    column: &'static str,
    stored: Figure,
    recounted: Figure,
) -> Mismatch {
    Mismatch { table, key: key.to_vec(), column, stored, recounted }
}

/// Breaks something with `breaking`, checks `verify` finds exactly `expected`, and mends it with `mending`.
async fn finds_exactly(
    store: &SeaStore,
    breaking: (&str, Vec<Value>),
    mending: (&str, Vec<Value>),
    expected: Vec<Mismatch>,
) {
    exec(store, breaking.0, breaking.1).await;
    let found = verify(store).await.expect("verifying");
    assert_eq!(found, expected, "after {}", breaking.0);
    exec(store, mending.0, mending.1).await;
    nothing_found(store, mending.0).await;
}

async fn script(store: &SeaStore) {
    let w = build(store).await;
    // Every total so far waits in change rows; folding them into the spaces changes no total.
    let holarchy = store.holarchy();
    assert!(holarchy.unfolded_space_totals().await.expect("counting change rows") > 0, "nothing to fold");
    while holarchy.fold_space_totals(7).await.expect("folding") > 0 {}
    assert_eq!(holarchy.unfolded_space_totals().await.expect("counting change rows"), 0);
    nothing_found(store, "folding every total").await;
    // The folded rows leave nothing behind for reads to pass over once reclaimed (on PostgreSQL, deleted rows
    // stay in the table until a vacuum; the vacuum cuts off the empty pages).
    holarchy.reclaim_folded_totals().await.expect("reclaiming");
    if store.backend() == DbBackend::Postgres {
        let pages = int(store, "SELECT CAST(pg_relation_size('space_deltas') AS BIGINT) AS v", vec![]).await;
        assert_eq!(pages, 0, "the vacuum leaves space_deltas empty");
    }
    let (a, b, c, d, e) = (w.a.0, w.b.0, w.c.0, w.d.0, w.e.0);
    let (post1, post2, post3) = (w.post1.0, w.post2.0, w.post3.0);

    // A post counter.
    finds_exactly(
        store,
        ("UPDATE posts SET total_likes = total_likes + 5 WHERE id = $1", vec![post1.into()]),
        ("UPDATE posts SET total_likes = total_likes - 5 WHERE id = $1", vec![post1.into()]),
        vec![mismatch("posts", &[("id", post1)], "total_likes", Figure::Int(8), Figure::Int(3))],
    )
    .await;
    finds_exactly(
        store,
        ("UPDATE posts SET rating_sum = 0 WHERE id = $1", vec![post1.into()]),
        ("UPDATE posts SET rating_sum = 150 WHERE id = $1", vec![post1.into()]),
        vec![mismatch("posts", &[("id", post1)], "rating_sum", Figure::Int(0), Figure::Int(150))],
    )
    .await;
    // A reply count, a space counter.
    finds_exactly(
        store,
        ("UPDATE comments SET total_replies = 4 WHERE id = $1", vec![w.comment.0.into()]),
        ("UPDATE comments SET total_replies = 0 WHERE id = $1", vec![w.comment.0.into()]),
        vec![mismatch("comments", &[("id", w.comment.0)], "total_replies", Figure::Int(4), Figure::Int(0))],
    )
    .await;
    let followers = int(store, "SELECT total_followers AS v FROM spaces WHERE id = $1", vec![a.into()]).await;
    finds_exactly(
        store,
        ("UPDATE spaces SET total_followers = total_followers + 1 WHERE id = $1", vec![a.into()]),
        ("UPDATE spaces SET total_followers = total_followers - 1 WHERE id = $1", vec![a.into()]),
        vec![mismatch("spaces", &[("id", a)], "total_followers", Figure::Int(followers + 1), Figure::Int(followers))],
    )
    .await;
    // A feed row's copy and its scores.
    finds_exactly(
        store,
        (
            "UPDATE space_posts SET total_comments = 9 WHERE space_id = $1 AND post_id = $2",
            vec![d.into(), post1.into()],
        ),
        (
            "UPDATE space_posts SET total_comments = 2 WHERE space_id = $1 AND post_id = $2",
            vec![d.into(), post1.into()],
        ),
        vec![mismatch(
            "space_posts",
            &[("space_id", d), ("post_id", post1)],
            "total_comments",
            Figure::Int(9),
            Figure::Int(2),
        )],
    )
    .await;
    let hot_sql = "SELECT hot, local_hot FROM space_posts WHERE space_id = $1 AND post_id = $2";
    let backend = store.backend();
    let row = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(backend, hot_sql, vec![b.into(), post1.into()]))
        .await
        .expect("reading scores")
        .expect("a row");
    let (hot, local_hot): (f64, f64) =
        (row.try_get("", "hot").expect("hot"), row.try_get("", "local_hot").expect("local_hot"));
    finds_exactly(
        store,
        ("UPDATE space_posts SET hot = 0 WHERE space_id = $1 AND post_id = $2", vec![b.into(), post1.into()]),
        (
            "UPDATE space_posts SET hot = $3 WHERE space_id = $1 AND post_id = $2",
            vec![b.into(), post1.into(), hot.into()],
        ),
        vec![mismatch(
            "space_posts",
            &[("space_id", b), ("post_id", post1)],
            "hot",
            Figure::Real(0.0),
            Figure::Real(hot),
        )],
    )
    .await;
    // A local tally that is wrong makes its score wrong too: both are listed, with what they should be.
    finds_exactly(
        store,
        (
            "UPDATE space_posts SET local_likes = local_likes + 1, local_hot = $3 WHERE space_id = $1 AND post_id = $2",
            vec![b.into(), post1.into(), (local_hot + 1.0).into()],
        ),
        (
            "UPDATE space_posts SET local_likes = local_likes - 1, local_hot = $3 WHERE space_id = $1 AND post_id = $2",
            vec![b.into(), post1.into(), local_hot.into()],
        ),
        vec![
            mismatch(
                "space_posts",
                &[("space_id", b), ("post_id", post1)],
                "local_likes",
                Figure::Int(2),
                Figure::Int(1),
            ),
            mismatch(
                "space_posts",
                &[("space_id", b), ("post_id", post1)],
                "local_hot",
                Figure::Real(local_hot + 1.0),
                Figure::Real(local_hot),
            ),
        ],
    )
    .await;
    // The closure: a depth, a flow (e holds no posts, so nothing else moves).
    finds_exactly(
        store,
        ("UPDATE space_closure SET depth = 7 WHERE ancestor_id = $1 AND descendant_id = $2", vec![a.into(), c.into()]),
        ("UPDATE space_closure SET depth = 2 WHERE ancestor_id = $1 AND descendant_id = $2", vec![a.into(), c.into()]),
        vec![mismatch(
            "space_closure",
            &[("ancestor_id", a), ("descendant_id", c)],
            "depth",
            Figure::Int(7),
            Figure::Int(2),
        )],
    )
    .await;
    finds_exactly(
        store,
        (
            "UPDATE space_closure SET flows = FALSE WHERE ancestor_id = $1 AND descendant_id = $2",
            vec![a.into(), e.into()],
        ),
        (
            "UPDATE space_closure SET flows = TRUE WHERE ancestor_id = $1 AND descendant_id = $2",
            vec![a.into(), e.into()],
        ),
        vec![mismatch(
            "space_closure",
            &[("ancestor_id", a), ("descendant_id", e)],
            "flows",
            Figure::Bool(false),
            Figure::Bool(true),
        )],
    )
    .await;
    finds_exactly(
        store,
        ("DELETE FROM space_closure WHERE ancestor_id = $1 AND descendant_id = $2", vec![a.into(), e.into()]),
        (
            "INSERT INTO space_closure (ancestor_id, descendant_id, depth, flows) VALUES ($1, $2, 1, TRUE)",
            vec![a.into(), e.into()],
        ),
        vec![mismatch(
            "space_closure",
            &[("ancestor_id", a), ("descendant_id", e)],
            "depth",
            Figure::Absent,
            Figure::Int(1),
        )],
    )
    .await;
    // A row behind a private space that should not be there: post2 does not flow out of p. The root's counters
    // now disagree with its rows too.
    let root = ROOT_SPACE_ID.0;
    let total = |column: &'static str| async move {
        int(store, &format!("SELECT {column} AS v FROM spaces WHERE id = $1"), vec![root.into()]).await
    };
    let (posts, likes, comments) =
        (total("total_posts").await, total("total_post_likes").await, total("total_comments").await);
    let stale = "INSERT INTO space_posts (space_id, post_id, relationship, kind, creator_id, created_at, last_activity_at, \
                 total_likes, total_comments, total_ratings, local_likes, hot, local_hot) \
                 SELECT $1, p.id, 'INDIRECT', 'POST', p.creator_id, p.created_at, p.last_activity_at, p.total_likes, \
                   p.total_comments, p.total_ratings, s.local_likes, s.hot, s.local_hot \
                 FROM posts p JOIN space_posts s ON s.post_id = p.id AND s.space_id = $3 WHERE p.id = $2";
    finds_exactly(
        store,
        (stale, vec![root.into(), post2.into(), c.into()]),
        ("DELETE FROM space_posts WHERE space_id = $1 AND post_id = $2", vec![root.into(), post2.into()]),
        vec![
            mismatch(
                "space_posts",
                &[("space_id", root), ("post_id", post2)],
                "appears",
                Figure::Bool(true),
                Figure::Bool(false),
            ),
            mismatch("spaces", &[("id", root)], "total_posts", Figure::Int(posts), Figure::Int(posts + 1)),
            mismatch("spaces", &[("id", root)], "total_post_likes", Figure::Int(likes), Figure::Int(likes + 1)),
            mismatch("spaces", &[("id", root)], "total_comments", Figure::Int(comments), Figure::Int(comments + 1)),
        ],
    )
    .await;

    // A like the store never counted: the post's total, each row's copy and score, the local tallies and scores
    // at and above the space it was cast in, and each space's total are all wrong — and all listed.
    exec(
        store,
        "INSERT INTO post_likes (post_id, user_id, space_id, created_at) VALUES ($1, $2, $3, $4)",
        vec![post3.into(), w.cy.0.into(), d.into(), now().into()],
    )
    .await;
    let found = verify(store).await.expect("verifying");
    let columns: Vec<(&str, &str)> = found.iter().map(|m| (m.table, m.column)).collect();
    for expected in [
        ("posts", "total_likes"),
        ("spaces", "total_post_likes"),
        ("space_posts", "total_likes"),
        ("space_posts", "local_likes"),
        ("space_posts", "hot"),
        ("space_posts", "local_hot"),
    ] {
        assert!(columns.contains(&expected), "{expected:?} missing from {columns:?}");
    }
    let post = found.iter().find(|m| m.table == "posts").expect("the post's mismatch");
    assert_eq!(post, &mismatch("posts", &[("id", post3)], "total_likes", Figure::Int(1), Figure::Int(2)));
    let local: Vec<Uuid> = found.iter().filter(|m| m.column == "local_likes").map(|m| m.key[0].1).collect();
    assert_eq!(local, sorted(vec![d, root]), "local tallies change at and above d only");
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

#[tokio::test]
async fn verify_finds_exactly_what_is_broken_on_sqlite() {
    let db = TestDatabase::sqlite();
    let store = db.store().await;
    assert_eq!(store.backend(), DbBackend::Sqlite);
    script(&store).await;
}

#[tokio::test]
async fn verify_finds_exactly_what_is_broken_on_postgres() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let store = db.store().await;
    script(&store).await;
}
