//! The end-to-end harness: start the real server on a free port over a fresh database, talk GraphQL to it
//! over HTTP.
//!
//! Every test runs on both backends: SQLite (a fresh file) and PostgreSQL (a fresh database on the server at
//! `WECO_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432`). Without a reachable PostgreSQL the
//! PostgreSQL half of each test says it is skipped and passes — unless `WECO_REQUIRE_SERVICES=1` (as in CI),
//! where it fails.
//!
//! Tests wait for conditions, never for a clock: [`eventually`] polls one until it holds, and the server's
//! `/metrics` gauges tell when a subscription is live ([`TestApp::wait_for_subscriptions`]).

pub mod process;
pub mod smtp;
pub mod ws;

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::oneshot;
use weco_server::{Application, Settings};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_base_url() -> String {
    std::env::var("WECO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn services_required() -> bool {
    std::env::var("WECO_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A fresh, empty database for one test, removed when dropped.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// A database the test owns some other way (a cluster of its own, removed with it).
    Nothing,
}

impl TestDatabase {
    /// `None` when the backend is PostgreSQL and no server answers (and services are not required).
    pub async fn create(backend: Backend) -> anyhow::Result<Option<Self>> {
        let name = format!("weco_test_{}", uuid::Uuid::now_v7().simple());
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Ok(Some(Self { url, cleanup: Cleanup::File(path) }))
            }
            Backend::Postgres => {
                let base = postgres_base_url();
                let admin_url = format!("{base}/postgres");
                let admin = match Database::connect(&admin_url).await {
                    Ok(c) => c,
                    Err(e) if !services_required() => {
                        eprintln!(
                            "SKIPPED: PostgreSQL is not reachable at {base} ({e}); set WECO_TEST_POSTGRES_URL to run this test on PostgreSQL"
                        );
                        return Ok(None);
                    }
                    Err(e) => {
                        return Err(e).context("PostgreSQL is required (WECO_REQUIRE_SERVICES=1) but not reachable");
                    }
                };
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
                admin.close().await?;
                Ok(Some(Self { url: format!("{base}/{name}"), cleanup: Cleanup::Postgres { admin_url, name } }))
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                // The folder of uploaded media, next to the database file.
                let _ = std::fs::remove_dir_all(format!("{}.media", path.display()));
            }
            Cleanup::Nothing => {}
            Cleanup::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; a thread of its own may block on a second one.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
                    rt.block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ =
                                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// A running server over its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when the settings put it on an address of its own.
    pub metrics_addr: Option<SocketAddr>,
    pub backend: Backend,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Dropped last: the server must stop before its database goes.
    pub database: TestDatabase,
}

impl TestApp {
    /// Starts a server on `backend`; `None` when that backend is unavailable here (see the crate docs).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to adjust the settings.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<Self> {
        let database = TestDatabase::create(backend).await.expect("creating the test database")?;
        Some(Self::spawn_on(database, backend, adjust).await)
    }

    /// Starts a server over a database the test made itself (a PostgreSQL cluster of its own, say).
    pub async fn spawn_on_url(url: &str, adjust: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase { url: url.to_owned(), cleanup: Cleanup::Nothing };
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        Self::spawn_on(database, backend, adjust).await
    }

    async fn spawn_on(database: TestDatabase, backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let _ = weco_server::telemetry::init("text");
        let mut settings = Settings::for_database(database.url.clone());
        settings.jwt_secret = Some("test-secret".into());
        settings.db_pool = 8;
        // Tests reach no internet: URL cards are fetched only where a test turns them on (tests/e2e/media.rs).
        settings.media.cards = false;
        adjust(&mut settings);
        let app = Application::build(settings).await.expect("building the application");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = app
                .run_until_stopped(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            addr,
            metrics_addr,
            backend,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(server),
            database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A client for another server (a replica) at `addr`, sharing nothing with this one but the database.
    pub fn at(&self, addr: SocketAddr) -> Remote<'_> {
        Remote { app: self, addr }
    }

    /// Posts a GraphQL request and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sending GraphQL request");
        response.json::<Value>().await.expect("GraphQL response is JSON")
    }

    /// Runs a request that must succeed, and returns its `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}\nquery: {query}");
        body["data"].clone()
    }

    /// Runs a request that must fail, and returns the first error's `extensions.code`.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let body = self.gql(token, query, variables).await;
        let code = body["errors"][0]["extensions"]["code"].as_str();
        assert!(code.is_some(), "expected an error with a code, got: {body:#}\nquery: {query}");
        code.unwrap_or_default().to_owned()
    }

    /// Registers `handle` (password `password-123`) and returns `(token, user id)`.
    pub async fn register(&self, handle: &str) -> (String, String) {
        let data = self
            .ok(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }",
                json!({ "i": { "handle": handle, "name": handle.to_uppercase(), "email": format!("{handle}@example.org"), "password": "password-123" } }),
            )
            .await;
        (
            data["register"]["token"].as_str().unwrap_or_default().to_owned(),
            data["register"]["user"]["id"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Creates a space (under `parent` if given) as `token` and returns its id.
    pub async fn create_space(&self, token: &str, handle: &str, parent: Option<&str>) -> String {
        self.create_space_with(token, json!({ "handle": handle, "name": handle, "parentId": parent })).await
    }

    pub async fn create_space_with(&self, token: &str, input: Value) -> String {
        let data = self
            .ok(
                Some(token),
                "mutation($i: CreateSpaceInput!) { createSpace(input: $i) { space { id } } }",
                json!({ "i": input }),
            )
            .await;
        data["createSpace"]["space"]["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Posts `title` into `spaces` as `token` and returns the post's id.
    pub async fn create_post(&self, token: &str, spaces: &[&str], title: &str) -> String {
        let data = self
            .ok(
                Some(token),
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "spaceIds": spaces, "title": title, "text": format!("about {title}") } }),
            )
            .await;
        data["createPost"]["post"]["id"].as_str().unwrap_or_default().to_owned()
    }

    /// The titles in a space's feed, in order, as `token` sees them; `args` are extra `posts(...)` arguments.
    pub async fn feed(&self, token: Option<&str>, handle: &str, args: &str) -> Vec<String> {
        let q =
            format!("query($h: String) {{ space(handle: $h) {{ posts(first: 100{args}) {{ nodes {{ title }} }} }} }}");
        let data = self.ok(token, &q, json!({ "h": handle })).await;
        data["space"]["posts"]["nodes"]
            .as_array()
            .map(|a| a.iter().map(|p| p["title"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    }

    /// A direct connection to the test's database, for arranging what the API cannot (such as old posts).
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.database.url).await.expect("connecting to the test database")
    }

    /// Begins a transaction on a connection of its own that holds the space `handle` the way a tree edit does, so
    /// a write into that space waits in the middle of its transaction until the returned transaction ends: on
    /// PostgreSQL the space's row `FOR UPDATE` (the lock every post, like and comment waits for), on SQLite the
    /// database's write lock.
    pub async fn hold_space(&self, handle: &str) -> sea_orm::DatabaseTransaction {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let blocker = self.db().await.begin().await.expect("begin");
        let hold = match self.backend {
            Backend::Postgres => "SELECT id FROM spaces WHERE handle = $1 FOR UPDATE",
            Backend::Sqlite => "UPDATE spaces SET name = name WHERE handle = $1",
        };
        let backend = blocker.get_database_backend();
        let statement = sea_orm::Statement::from_sql_and_values(backend, hold, [handle.into()]);
        blocker.execute_raw(statement).await.expect("holding the space");
        blocker
    }

    /// Recounts every derived value in the test's database (counters, copies, scores, the closure table and
    /// the posts' appearances) and fails the test with each one the server left wrong.
    pub async fn assert_invariants(&self) {
        let store = weco_store::SeaStore::from_connection(self.db().await);
        let found = weco_store::invariants::verify(&store).await.expect("recounting the database");
        let listed: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert!(found.is_empty(), "{} values disagree with their recount:\n{}", found.len(), listed.join("\n"));
    }

    /// SQL statements the server has run so far (from `/metrics`).
    pub async fn statements(&self) -> u64 {
        self.metric("weco_db_statements_total").await
    }

    /// A whole-number metric without labels from this server's `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        metric_at(&self.client, self.addr, name).await
    }

    /// Waits until this server holds exactly `n` event subscriptions (see [`wait_for_subscriptions_at`]).
    pub async fn wait_for_subscriptions(&self, n: u64) {
        wait_for_subscriptions_at(&self.client, self.addr, n).await;
    }

    /// The id of the root space `all`.
    pub async fn root_id(&self) -> String {
        let data = self.ok(None, r#"{ space(handle: "all") { id } }"#, json!({})).await;
        data["space"]["id"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Generates a SQLite and a PostgreSQL test for each `async fn name(app: TestApp)` named.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    if let Some(app) = $crate::TestApp::spawn($crate::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::spawn($crate::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// GraphQL requests to another server than the test's own.
pub struct Remote<'a> {
    app: &'a TestApp,
    pub addr: SocketAddr,
}

impl Remote<'_> {
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .app
            .client
            .post(format!("http://{}/graphql", self.addr))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await.expect("request").json().await.expect("JSON");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The Redis tests use, or `None` (after saying so) when none answers and services are not required.
pub async fn test_redis_url() -> Option<String> {
    let url = std::env::var("WECO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let hostport = url.trim_start_matches("redis://").split('/').next().unwrap_or("127.0.0.1:6379").to_owned();
    if tokio::net::TcpStream::connect(&hostport).await.is_ok() {
        return Some(url);
    }
    assert!(!services_required(), "Redis is required (WECO_REQUIRE_SERVICES=1) but not reachable at {url}");
    eprintln!("SKIPPED: Redis is not reachable at {url}; set WECO_TEST_REDIS_URL to run this test");
    None
}

/// `tests/node` with its packages installed (`npm ci --prefix tests/node`), or `None` (after saying so) when
/// Node or the packages are missing and services are not required.
pub fn node_clients_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
    let has_node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if has_node && dir.join("node_modules").exists() {
        return Some(dir);
    }
    assert!(
        !services_required(),
        "Node and tests/node/node_modules are required (WECO_REQUIRE_SERVICES=1): run `npm ci --prefix tests/node`"
    );
    eprintln!("SKIPPED: Node or tests/node/node_modules missing; run `npm ci --prefix tests/node` to run this test");
    None
}

/// How long a test waits for something that should happen promptly before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How often a waiting test looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Polls `check` until it holds; `false` if it still does not after [`PATIENCE`].
pub async fn poll_until(mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until `check` holds, failing the test with a message naming `what` if it does not within [`PATIENCE`].
pub async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    assert!(poll_until(check).await, "timed out after {PATIENCE:?} waiting for {what}");
}

/// A whole-number metric without labels (a counter or a gauge) from the `/metrics` of the server at `addr`.
pub async fn metric_at(client: &reqwest::Client, addr: SocketAddr, name: &str) -> u64 {
    let url = format!("http://{addr}/metrics");
    let text = client.get(url).send().await.expect("GET /metrics").text().await.expect("the metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no whole-number {name} in /metrics:\n{text}"))
}

/// Waits until the server at `addr` holds exactly `n` event subscriptions (its `weco_subscriptions_active`
/// gauge). A subscription is counted once it listens on the bus: with the in-process bus, it then receives
/// whatever is published; with Redis, the channel must also be subscribed there ([`wait_for_redis_subscribers`]).
///
/// Identical subscriptions share one (see `crates/server/src/ws.rs`): the gauge counts distinct ones.
pub async fn wait_for_subscriptions_at(client: &reqwest::Client, addr: SocketAddr, n: u64) {
    let name = "weco_subscriptions_active";
    let mut last = None;
    let reached = poll_until(async || {
        let now = metric_at(client, addr, name).await;
        last = Some(now);
        now == n
    })
    .await;
    assert!(reached, "timed out after {PATIENCE:?} waiting for {name} to be {n} on {addr}; it is {last:?}");
}

/// How many connections Redis at `url` has subscribed to `channel` (`PUBSUB NUMSUB`).
pub async fn redis_subscribers(url: &str, channel: &str) -> i64 {
    let client = redis::Client::open(url).unwrap_or_else(|e| panic!("Redis URL {url}: {e}"));
    let mut conn = client.get_multiplexed_async_connection().await.unwrap_or_else(|e| panic!("Redis at {url}: {e}"));
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("PUBSUB NUMSUB {channel}: {e}"));
    n
}

/// Waits until Redis at `url` counts exactly `n` subscribers of `channel`: from then on, what is published on
/// it reaches each of them.
pub async fn wait_for_redis_subscribers(url: &str, channel: &str, n: i64) {
    let mut last = None;
    let reached = poll_until(async || {
        let now = redis_subscribers(url, channel).await;
        last = Some(now);
        now == n
    })
    .await;
    assert!(reached, "timed out after {PATIENCE:?} waiting for {n} Redis subscribers of {channel}; there are {last:?}");
}
