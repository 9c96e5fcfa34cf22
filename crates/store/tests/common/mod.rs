//! What the store tests of the unit of work share: a fresh database on either backend, an application over it
//! with a clock the test moves by hand, and an event bus that records what is published.
//!
//! PostgreSQL is the server at `WECO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`); without
//! one the PostgreSQL tests say SKIPPED and pass, unless `WECO_REQUIRE_SERVICES=1`.

#![allow(dead_code)] // Each test binary uses its own part.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use uuid::Uuid;
use weco_domain::app::Failpoints;
use weco_domain::auth::TokenKeys;
use weco_domain::events::{Envelope, Topic};
use weco_domain::ports::{Clock, EventBus, EventStream, InlineHasher};
use weco_domain::{App, Ports};
use weco_store::{SeaStore, StoreOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn services_required() -> bool {
    std::env::var("WECO_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

pub fn postgres_base_url() -> String {
    std::env::var("WECO_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, migrated database, removed when dropped (also when the test panics).
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// `None` when the backend is PostgreSQL and no server answers (and services are not required).
    pub async fn create(backend: Backend) -> Option<Self> {
        let name = format!("weco_uow_{}", Uuid::now_v7().simple());
        let db = match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let url = format!("sqlite://{}?mode=rwc", path.display());
                Self { url, cleanup: Cleanup::File(path) }
            }
            Backend::Postgres => {
                let base = postgres_base_url();
                let admin_url = format!("{base}/postgres");
                let mut options = ConnectOptions::new(admin_url.clone());
                options.connect_timeout(Duration::from_secs(5)).sqlx_logging(false);
                let admin = match Database::connect(options).await {
                    Ok(admin) => admin,
                    Err(e) if !services_required() => {
                        eprintln!("SKIPPED: PostgreSQL is not reachable at {base} ({e})");
                        return None;
                    }
                    Err(e) => {
                        panic!("PostgreSQL is required (WECO_REQUIRE_SERVICES=1) but not reachable at {base}: {e}")
                    }
                };
                admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("creating the test database");
                let _ = admin.close().await;
                Self { url: format!("{base}/{name}"), cleanup: Cleanup::Postgres { admin_url, name } }
            }
        };
        let store = db.connect().await;
        migration::Migrator::up(store.connection(), None).await.expect("migrating");
        Some(db)
    }

    /// A store (a pool of its own) over the database.
    pub async fn connect(&self) -> SeaStore {
        weco_store::connect(&StoreOptions::new(self.url.clone())).await.expect("connecting")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
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

/// A clock that stands still until the test moves it. Waiting (the unit of work's back-off) really waits.
pub struct TestClock {
    now: Mutex<DateTime<Utc>>,
}

impl TestClock {
    /// Starts at a whole second, so that stored times compare exactly.
    pub fn new() -> Arc<Self> {
        let start = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("a time");
        Arc::new(Self { now: Mutex::new(start) })
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += chrono::Duration::from_std(by).expect("a duration");
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }
}

#[async_trait]
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A bus that keeps what is published (and delivers nothing).
#[derive(Default)]
pub struct RecordingBus {
    published: Mutex<Vec<Envelope>>,
}

impl RecordingBus {
    pub fn published(&self) -> Vec<Envelope> {
        self.published.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl EventBus for RecordingBus {
    async fn publish(&self, events: Vec<Envelope>) {
        self.published.lock().unwrap_or_else(PoisonError::into_inner).extend(events);
    }

    fn subscribe(&self, _topic: Topic) -> EventStream {
        Box::pin(futures_util::stream::empty())
    }
}

/// An application over `store` with the given clock and bus.
pub fn app(store: SeaStore, clock: Arc<TestClock>, bus: Arc<RecordingBus>) -> App {
    App::new(Ports {
        store: Arc::new(store),
        hasher: Arc::new(InlineHasher),
        tokens: TokenKeys::new(b"test-secret"),
        bus,
        clock,
        wake_jobs: None,
        failpoints: Failpoints::default(),
        login_throttle: Arc::new(weco_domain::ports::NoLoginThrottle),
    })
}
