//! Building and running the server.

use crate::config::{Settings, redact_url};
use crate::http::PersistedQueries;
use crate::limits::{LoginBackoff, RateLimiter};
use crate::routes;
use crate::shared_redis::{RedisTarget, SharedRedis};
use crate::state::{AppState, HttpLimits};
use crate::tasks::Background;
use anyhow::Context as _;
use migration::{Migrator, MigratorTrait};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use weco_domain::app::Failpoints;
use weco_domain::auth::TokenKeys;
use weco_domain::{App, Ports};
use weco_graph::{SchemaLimits, schema_builder};
use weco_realtime::{RealtimeBus, RealtimeConfig};
use weco_store::{SeaStore, StoreOptions};

/// What the domain needs of the runtime: password hashing on tokio's blocking pool (so a burst of logins never
/// stalls the event loop) and tokio's timers.
mod runtime {
    use std::time::Duration;
    use weco_domain::DomainResult;
    use weco_domain::ports::{Clock, PasswordHasher};

    pub struct BlockingHasher;

    #[async_trait::async_trait]
    impl PasswordHasher for BlockingHasher {
        async fn hash(&self, password: String) -> DomainResult<String> {
            tokio::task::spawn_blocking(move || weco_domain::auth::hash_password(&password))
                .await
                .map_err(|e| weco_domain::DomainError::internal("hashing password", e))?
        }

        async fn verify(&self, password: String, phc: String) -> bool {
            tokio::task::spawn_blocking(move || weco_domain::auth::verify_password(&password, &phc))
                .await
                .unwrap_or(false)
        }
    }

    pub struct TokioClock;

    #[async_trait::async_trait]
    impl Clock for TokioClock {
        async fn sleep(&self, duration: Duration) {
            tokio::time::sleep(duration).await;
        }
    }
}

/// Opens the database named in `settings` and, unless told not to, brings its schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SeaStore> {
    let options = StoreOptions {
        url: settings.database_url.clone(),
        max_connections: settings.db_pool,
        plan_cache_mode: Some(settings.db_plan_cache_mode.clone()).filter(|m| !m.is_empty()),
    };
    let store = weco_store::connect(&options)
        .await
        .with_context(|| format!("opening the database at {}", redact_url(&settings.database_url)))?;
    if !settings.no_migrate {
        migrate_exclusively(store.connection(), &settings.database_url).await?;
    }
    let replicas: Vec<String> =
        settings.database_replica_urls.iter().filter(|u| !u.trim().is_empty()).cloned().collect();
    let store = store.with_replicas(&options, &replicas).await.context("opening the read replicas")?;
    Ok(store)
}

/// Runs pending migrations. On PostgreSQL, replicas starting together take turns through an advisory lock
/// held on a connection of its own, so only the first one migrates and the others find the schema ready.
async fn migrate_exclusively(conn: &sea_orm::DatabaseConnection, url: &str) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, DbBackend};
    if conn.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(conn, None).await.context("running migrations");
    }
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    let lock = sea_orm::Database::connect(options).await.context("opening the migration lock connection")?;
    lock.execute_unprepared("SELECT pg_advisory_lock(7426002)").await.context("taking the migration lock")?;
    let result = Migrator::up(conn, None).await.context("running migrations");
    let _ = lock.execute_unprepared("SELECT pg_advisory_unlock(7426002)").await;
    let _ = lock.close().await;
    result
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    /// Where `/metrics` is served when it has an address of its own.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    wake_jobs: Arc<Notify>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, false).await
    }

    /// [`Application::build`]; with `graphql_spans`, every GraphQL request is also traced phase by phase
    /// (parse, validation, execution) and field by field (fields returning objects), which costs a span each
    /// and is worth it when spans are exported.
    pub async fn build_with(settings: Settings, graphql_spans: bool) -> anyhow::Result<Self> {
        // Checked before anything is opened: a replica must not start half configured.
        let shared = RedisTarget::from_settings(&settings)?;
        let store = Arc::new(open_store(&settings).await?);
        let secret = match &settings.jwt_secret {
            Some(secret) if !secret.is_empty() => secret.as_bytes().to_vec(),
            _ => {
                tracing::warn!("no WECO_JWT_SECRET set: using a random token secret; tokens end with this process");
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        let realtime = RealtimeConfig::with_prefix(settings.channel_prefix.clone());
        let bus = Arc::new(
            match shared {
                RedisTarget::None => Ok(RealtimeBus::in_process(realtime)),
                RedisTarget::Single(url) => RealtimeBus::redis(url, realtime).await,
                RedisTarget::Cluster(nodes) => RealtimeBus::redis_cluster(nodes, realtime).await,
            }
            .with_context(|| format!("connecting the event bus to {}", shared.describe()))?,
        );
        tracing::info!(bus = bus.backend_name(), prefix = bus.prefix(), "event bus ready");
        let wake_jobs = Arc::new(Notify::new());
        let wake = wake_jobs.clone();
        let shared_redis =
            SharedRedis::connect(shared).await.with_context(|| format!("connecting to {}", shared.describe()))?;
        let app = App::new(Ports {
            store: store.clone(),
            hasher: Arc::new(runtime::BlockingHasher),
            tokens: TokenKeys::new(&secret),
            bus: bus.clone(),
            clock: settings.clock.clone().unwrap_or_else(|| Arc::new(runtime::TokioClock)),
            login_throttle: Arc::new(LoginBackoff::new(
                settings.login_failures_before_delay,
                settings.login_address_failures_before_delay,
                std::time::Duration::from_secs(settings.login_max_delay_secs),
            )),
            wake_jobs: Some(Arc::new(move || wake.notify_one())),
            failpoints: Failpoints { abort_after_commit: settings.failpoint.as_deref() == Some("abort-after-commit") },
        })
        .with_session_cache(std::time::Duration::from_millis(settings.session_cache_ms))
        .with_admins(settings.admins.iter().cloned())
        .with_mail(crate::mail::mail_settings(&settings)?)
        .with_media(crate::media::ports(&settings.media, &settings.database_url)?);
        let app = match &shared_redis {
            Some(conn) => app.with_presence(Arc::new(crate::presence::SharedPresence(
                crate::presence::RedisPresence::start(conn.clone(), &settings.channel_prefix),
            ))),
            None => app,
        };
        let mut schema = schema_builder(
            app.clone(),
            SchemaLimits {
                max_depth: settings.max_depth,
                max_complexity: settings.max_complexity,
                max_response_bytes: settings.max_response_bytes.max(1024),
            },
        );
        // Each event of a websocket subscription is held to the request timeout (`ws`).
        schema = schema.extension(crate::ws::EventTimeouts);
        if !settings.introspection {
            schema = schema.disable_introspection();
        }
        if !settings.field_suggestions {
            schema = schema.disable_suggestions();
        }
        if graphql_spans {
            schema = schema.extension(async_graphql::extensions::Tracing);
        }
        let schema = schema.finish();
        let persisted = match shared_redis {
            Some(conn) => PersistedQueries::redis(conn, &settings.channel_prefix),
            None => PersistedQueries::local(10_000),
        };
        let listener =
            TcpListener::bind(&settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let metrics_listener = match settings.metrics_listen.as_deref().filter(|a| !a.trim().is_empty()) {
            Some(address) => {
                Some(TcpListener::bind(address).await.with_context(|| format!("binding {address} for the metrics"))?)
            }
            None => None,
        };
        let ws_init_timeout = std::time::Duration::from_millis(settings.ws_init_timeout_ms);
        let limits = HttpLimits {
            max_body_bytes: settings.max_body_bytes,
            ws_max_message_bytes: settings.ws_max_message_bytes.max(1024),
            max_batch: settings.max_batch.max(1),
            max_nesting: settings.max_nesting.max(1),
            // Every field of an expanded query counts at least once towards its cost (see `admission`).
            max_expanded: settings.max_complexity,
            max_response_bytes: settings.max_response_bytes.max(1024),
            ws_max_subscriptions: settings.ws_max_subscriptions,
            ws_max_connections_per_address: settings.ws_max_connections_per_address,
            metrics_apart: metrics_listener.is_some(),
            request_timeout: settings.request_timeout(),
            cors_origins: settings.cors_origins.clone(),
            ws_origins: settings.effective_ws_origins(),
            trust_forwarded_for: settings.trust_forwarded_for,
            media_max_request_bytes: settings.media.media_max_request_bytes.max(1024),
            media_max_file_bytes: settings.media.media_max_file_bytes.max(1),
        };
        let background_store = Arc::new(store.counted_apart());
        let state = AppState {
            background: app.with_store(background_store.clone()),
            background_store,
            app,
            schema,
            store,
            bus,
            ws_init_timeout,
            limits,
            limiter: Arc::new(RateLimiter::new(settings.rate_limit_per_minute, settings.rate_limit_burst)),
            persisted,
            metrics: Arc::default(),
            groups: Arc::default(),
            ws_connections: Arc::default(),
            documents: Arc::default(),
            export: crate::export::ExportGuard::new(
                settings.export_concurrency,
                settings.export_salt.clone().map(String::into_bytes).unwrap_or_else(|| secret.clone()),
            ),
            uploads: Arc::new(tokio::sync::Semaphore::new(settings.media.media_max_uploads_in_flight.max(1))),
        };
        Ok(Self { listener, addr, metrics_listener, state, wake_jobs })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served when `metrics_listen` is set (it is then not on the main address).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish and stops the background work
    /// (the outbox relay and the job runner, [`crate::tasks`]).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let replicas = self.state.store.replicas().cloned();
        let background = Background::start(self.state.background.clone(), self.wake_jobs, replicas);
        let router = routes::router(self.state.clone());
        // The metrics address, if any, is served until the main one stops.
        let metrics = self.metrics_listener.map(|listener| {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving =
                axum::serve(listener, routes::metrics_router(self.state.clone())).with_graceful_shutdown(async move {
                    let _ = stopped.await;
                });
            (stop, tokio::spawn(async move { serving.await }))
        });
        let served = axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving");
        if let Some((stop, serving)) = metrics {
            let _ = stop.send(());
            let _ = serving.await;
        }
        background.stop().await;
        served
    }
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
