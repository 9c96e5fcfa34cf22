//! Weco's persistence on PostgreSQL and SQLite through sea-orm.
//!
//! - [`Db`]: the domain's repository ports, implemented once over any sea-orm connection, so the same code
//!   serves plain reads ([`SeaStore`]) and transactions. [`Repos`] hands out each area's repository.
//! - `error`: the one place a `DbErr` becomes a `DomainError` (transient failures marked for a retry).
//! - `sql`: statement helpers, keyset listings, and the few words in which the two dialects differ.
//! - `fragments`: the SQL pieces areas share — access predicates, copied counters, the HOT score, stored words.
//! - One module per area: `accounts`, `holarchy` (spaces and follows; `closure` and `aggregation` keep the
//!   closure table and the posts' appearances true, docs/holarchy.md), `access`, `posts` (placement, counters,
//!   reactions, comments, links), `polls` (polls, rosters, ballots, tallies), `calendar` (events, responses, calendars), `feeds` (feeds, replays, search),
//!   `people` (follows between users, profiles, user search), `notifications`, `outbox`, `jobs`; `roles` and
//!   `requests` read and write the tables of roles in spaces and of requests awaiting an answer, which several
//!   areas share.
//! - [`schema`]: the stored words, copied counters and scores, for code that writes the same rows in bulk.
//! - [`invariants`]: recounts of every derived value from the rows it derives from, with each disagreement.

mod access;
mod accounts;
mod calendar;
mod chats;
mod commons;
mod error;
mod feeds;
mod fragments;
mod holarchy;
pub mod invariants;
mod jobs;
mod media;
mod notifications;
mod outbox;
mod people;
pub(crate) mod polls;
mod posts;
mod replicas;
mod requests;
mod roles;
pub mod schema;
mod sql;

use async_trait::async_trait;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use weco_domain::access::ports::AccessRepo;
use weco_domain::accounts::ports::AccountRepo;
use weco_domain::feeds::ports::FeedRepo;
use weco_domain::holarchy::ports::HolarchyRepo;
use weco_domain::jobs::JobRepo;
use weco_domain::notifications::ports::NotificationRepo;
use weco_domain::outbox::OutboxRepo;
use weco_domain::people::ports::PeopleRepo;
use weco_domain::polls::ports::PollRepo;
use weco_domain::posts::ports::PostRepo;
use weco_domain::uow::{Repos, Store, Transaction};
use weco_domain::{DomainError, DomainResult, UserId, Viewer};

pub use error::db_err;
pub use replicas::Replicas;

/// The repository ports over a sea-orm connection `C`: a pool or an open transaction.
pub struct Db<C> {
    conn: C,
    backend: DbBackend,
    metrics: Arc<StoreMetrics>,
    /// Read replicas of the primary this pool talks to (none in a transaction).
    replicas: Option<Arc<Replicas>>,
}

/// Counters of the SQL the store runs, for `/metrics` and for tests that count statements per request.
#[derive(Debug, Default)]
pub struct StoreMetrics {
    statements: AtomicU64,
    failed: AtomicU64,
    micros: AtomicU64,
}

impl StoreMetrics {
    /// Statements executed so far (transactions' BEGIN and COMMIT not included).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Time spent in statements, in seconds.
    pub fn seconds(&self) -> f64 {
        self.micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// The store outside any transaction.
pub type SeaStore = Db<DatabaseConnection>;

impl<C: ConnectionTrait> Db<C> {
    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    pub fn connection(&self) -> &C {
        &self.conn
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    /// PostgreSQL's `plan_cache_mode` for the pool's sessions (`auto`, `force_generic_plan`,
    /// `force_custom_plan`); `None` leaves the server's setting.
    pub plan_cache_mode: Option<String>,
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 16, plan_cache_mode: None }
    }
}

/// Opens the database named by `options.url` (`postgres://…` or `sqlite://…`).
pub async fn connect(options: &StoreOptions) -> DomainResult<SeaStore> {
    let mut opts = ConnectOptions::new(options.url.clone());
    let plan_cache_mode = options.plan_cache_mode.clone();
    opts.max_connections(options.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        // A connection is tested (one round trip) only after it sat idle for a while, not on every checkout:
        // testing each checkout doubled the round trips of every statement outside a transaction.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(300))
        .max_lifetime(Duration::from_secs(1800))
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(move |o| match &plan_cache_mode {
            Some(mode) => o.options([("plan_cache_mode", mode.as_str())]),
            None => o,
        })
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    let conn = Database::connect(opts).await.map_err(|e| DomainError::internal("connecting to the database", e))?;
    Ok(counted(conn))
}

/// The store over `conn`, counting its statements in metrics of its own.
fn counted(mut conn: DatabaseConnection) -> SeaStore {
    let metrics = Arc::new(StoreMetrics::default());
    let counter = metrics.clone();
    conn.set_metric_callback(move |info| {
        counter.statements.fetch_add(1, Ordering::Relaxed);
        counter.micros.fetch_add(info.elapsed.as_micros() as u64, Ordering::Relaxed);
        if info.failed {
            counter.failed.fetch_add(1, Ordering::Relaxed);
        }
    });
    Db { backend: conn.get_database_backend(), conn, metrics, replicas: None }
}

impl Db<DatabaseConnection> {
    pub fn from_connection(conn: DatabaseConnection) -> Self {
        let backend = conn.get_database_backend();
        Self { conn, backend, metrics: Arc::default(), replicas: None }
    }

    pub fn metrics(&self) -> &Arc<StoreMetrics> {
        &self.metrics
    }

    /// The same pool, with its statements counted apart: background work uses it, so that the statements of
    /// requests (what `/metrics` reports, and what tests count per request) stay exact. It reads the primary only.
    pub fn counted_apart(&self) -> Self {
        counted(self.conn.clone())
    }

    /// Adds read replicas (PostgreSQL streaming replicas of this store's database), opened like the primary.
    pub async fn with_replicas(mut self, options: &StoreOptions, urls: &[String]) -> DomainResult<Self> {
        if urls.is_empty() {
            return Ok(self);
        }
        if self.backend != DbBackend::Postgres {
            return Err(DomainError::internal("opening read replicas", "read replicas need PostgreSQL"));
        }
        let mut dbs = Vec::with_capacity(urls.len());
        for url in urls {
            dbs.push(connect(&StoreOptions { url: url.clone(), ..options.clone() }).await?);
        }
        let replicas = Arc::new(Replicas::new(dbs));
        replicas.refresh().await;
        self.replicas = Some(replicas);
        Ok(self)
    }

    /// The read replicas, if any.
    pub fn replicas(&self) -> Option<&Arc<Replicas>> {
        self.replicas.as_ref()
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> DomainResult<()> {
        self.conn.ping().await.map_err(|e| DomainError::internal("pinging the database", e))
    }

    pub async fn close(self) -> DomainResult<()> {
        self.conn.close().await.map_err(|e| DomainError::internal("closing the database", e))
    }
}

/// Each area's repository is the same `Db`: one line per area.
impl<C: ConnectionTrait + Send + Sync> Repos for Db<C> {
    fn accounts(&self) -> &dyn AccountRepo {
        self
    }
    fn holarchy(&self) -> &dyn HolarchyRepo {
        self
    }
    fn access(&self) -> &dyn AccessRepo {
        self
    }
    fn posts(&self) -> &dyn PostRepo {
        self
    }
    fn polls(&self) -> &dyn PollRepo {
        self
    }
    fn events(&self) -> &dyn weco_domain::calendar::ports::EventRepo {
        self
    }
    fn feeds(&self) -> &dyn FeedRepo {
        self
    }
    fn people(&self) -> &dyn PeopleRepo {
        self
    }
    fn notifications(&self) -> &dyn NotificationRepo {
        self
    }
    fn chats(&self) -> &dyn weco_domain::chat::ports::ChatRepo {
        self
    }
    fn commons(&self) -> &dyn weco_domain::commons::ports::CommonsRepo {
        self
    }
    fn outbox(&self) -> &dyn OutboxRepo {
        self
    }
    fn jobs(&self) -> &dyn JobRepo {
        self
    }
    fn media(&self) -> &dyn weco_domain::media::ports::MediaRepo {
        self
    }
}

impl<C: ConnectionTrait> Db<C> {
    pub(crate) fn sql(&self) -> sql::Sql<'_, C> {
        sql::Sql { conn: &self.conn, backend: self.backend }
    }
}

#[async_trait]
impl Store for Db<DatabaseConnection> {
    fn reader(&self, viewer: Viewer) -> &dyn Repos {
        let Some(replicas) = &self.replicas else { return self };
        let needed = viewer.id().map_or(0, |user| replicas.written_by(user));
        match replicas.pick(needed) {
            Some(replica) => replica,
            None => self,
        }
    }

    async fn committed_by(&self, user: UserId) {
        let Some(replicas) = &self.replicas else { return };
        match replicas::current_lsn(self).await {
            Ok(lsn) => replicas.note_write(user, lsn),
            // Without the position, the user's reads would risk a stale replica: send them to the primary.
            Err(e) => {
                tracing::warn!(error = ?e, "could not read the log position after a write");
                replicas.note_write(user, u64::MAX);
            }
        }
    }

    async fn begin(&self) -> DomainResult<Box<dyn Transaction>> {
        // SQLite: take the write lock up front, so two writers queue instead of failing on lock upgrade.
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let tx = self.conn.begin_with_options(options).await.map_err(|e| db_err("beginning a transaction", e))?;
        Ok(Box::new(Db { conn: tx, backend: self.backend, metrics: self.metrics.clone(), replicas: None }))
    }
}

#[async_trait]
impl Transaction for Db<DatabaseTransaction> {
    async fn commit(self: Box<Self>) -> DomainResult<()> {
        self.conn.commit().await.map_err(|e| db_err("committing", e))
    }

    async fn rollback(self: Box<Self>) -> DomainResult<()> {
        self.conn.rollback().await.map_err(|e| db_err("rolling back", e))
    }

    async fn savepoint(&self) -> DomainResult<Box<dyn Transaction>> {
        let nested = self.conn.begin().await.map_err(|e| db_err("taking a savepoint", e))?;
        Ok(Box::new(Db { conn: nested, backend: self.backend, metrics: self.metrics.clone(), replicas: None }))
    }
}
