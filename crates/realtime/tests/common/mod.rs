//! Helpers shared by the realtime tests: events, waiting for conditions (never for a clock), and Redis (the
//! shared one, or a private `redis-server` child the fault tests can kill).

#![allow(dead_code)] // each test file uses a different subset

use std::process::Stdio;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use weco_domain::events::{Delivery, Envelope, Event, PostStats, Topic};
use weco_domain::ids::{PostId, SpaceId};
use weco_domain::ports::EventStream;
use weco_realtime::{MetricsSnapshot, RealtimeBus, RealtimeConfig};

/// A stats event for `post` whose like count tells events apart.
pub fn stats(post: PostId, likes: i64) -> Envelope {
    Envelope::new(
        Topic::Post(post),
        Event::PostStatsChanged {
            post_id: post,
            stats: PostStats {
                total_likes: likes,
                total_comments: 0,
                total_ratings: 0,
                total_reposts: 0,
                version: likes,
            },
            direct_spaces: Vec::new(),
            audience: Vec::new(),
        },
    )
}

pub fn likes(delivery: &Delivery) -> i64 {
    match delivery {
        Delivery::Event(envelope) => match &envelope.event {
            Event::PostStatsChanged { stats, .. } => stats.total_likes,
            other => panic!("unexpected event {other:?}"),
        },
        Delivery::Lagged(n) => panic!("unexpected Lagged({n})"),
    }
}

pub fn space_topic() -> Topic {
    Topic::Space(SpaceId::generate())
}

/// How long a test waits for something that should happen promptly before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The next delivery, failing the test if none comes within [`PATIENCE`].
pub async fn next(stream: &mut EventStream) -> Delivery {
    match tokio::time::timeout(PATIENCE, stream.next()).await {
        Ok(Some(delivery)) => delivery,
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no delivery within {PATIENCE:?}"),
    }
}

/// Fails the test if a delivery is already waiting. Only the in-process bus can be checked this way: it hands
/// events to subscribers within `publish`, so once that returns, whatever it delivers is there to read.
pub fn assert_idle(stream: &mut EventStream) {
    // Unconstrained: the task's cooperative budget must not make a waiting delivery look absent.
    if let Some(delivery) = tokio::task::unconstrained(stream.next()).now_or_never() {
        panic!("expected nothing, got {delivery:?}");
    }
}

/// Polls `check` every 50 ms for up to `limit`; true as soon as it holds.
pub async fn poll_until(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `check` holds, failing the test with a message naming `what` if it does not within [`PATIENCE`].
pub async fn eventually(what: &str, check: impl AsyncFnMut() -> bool) {
    assert!(poll_until(PATIENCE, check).await, "timed out after {PATIENCE:?} waiting for {what}");
}

/// Waits until the bus's counters satisfy `check` (see [`eventually`]); the failure shows the last counters.
pub async fn metrics_eventually(bus: &RealtimeBus, what: &str, check: impl Fn(&MetricsSnapshot) -> bool) {
    let reached = poll_until(PATIENCE, async || check(&bus.metrics())).await;
    assert!(reached, "timed out after {PATIENCE:?} waiting for {what}; the counters are {:?}", bus.metrics());
}

/// Short timeouts so failure paths finish quickly, and a random prefix so runs never see each other's events.
pub fn test_config() -> RealtimeConfig {
    RealtimeConfig {
        prefix: format!("weco-test-{}", uuid::Uuid::new_v4().simple()),
        redis_timeout: Duration::from_millis(500),
        health_interval: Duration::from_millis(200),
        subscribe_timeout: Duration::from_secs(3),
        ..RealtimeConfig::default()
    }
}

fn services_required() -> bool {
    std::env::var("WECO_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

pub fn shared_redis_url() -> String {
    std::env::var("WECO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A plain connection for inspecting Redis from the outside (PUBSUB NUMSUB, raw PUBLISH).
pub async fn raw_connection(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection())
        .await
        .map_err(|_| "connection timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async::<()>(&mut conn))
        .await
        .map_err(|_| "PING timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// The shared test Redis, or `None` after printing SKIPPED (a failure when `WECO_REQUIRE_SERVICES=1`).
pub async fn shared_redis() -> Option<String> {
    let url = shared_redis_url();
    match raw_connection(&url).await {
        Ok(_) => Some(url),
        Err(e) if !services_required() => {
            eprintln!("SKIPPED: Redis not reachable at {url} ({e}); set WECO_TEST_REDIS_URL to run this test");
            None
        }
        Err(e) => panic!("Redis is required (WECO_REQUIRE_SERVICES=1) but not reachable at {url}: {e}"),
    }
}

/// How many connections Redis has subscribed to `channel`.
pub async fn numsub(url: &str, channel: &str) -> i64 {
    let mut conn = raw_connection(url).await.unwrap_or_else(|e| panic!("Redis at {url}: {e}"));
    let (_, n): (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(channel)
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("PUBSUB NUMSUB: {e}"));
    n
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("no local address: {e}")).port()
}

/// A private `redis-server` child on a fixed port, killed when dropped (also when the test panics).
pub struct OwnRedis {
    pub port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    /// Starts one on a free port; `None` after printing SKIPPED if `redis-server` is not installed.
    pub async fn start() -> Option<Self> {
        let mut own = Self { port: free_port(), child: None };
        match own.spawn().await {
            Ok(()) => Some(own),
            Err(e) if !services_required() => {
                eprintln!("SKIPPED: cannot run redis-server ({e}); install redis-server to run this test");
                None
            }
            Err(e) => panic!("redis-server is required (WECO_REQUIRE_SERVICES=1) but cannot run: {e}"),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// (Re)starts the server on the same port and waits until it answers.
    pub async fn spawn(&mut self) -> Result<(), String> {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        self.child = Some(child);
        let url = self.url();
        if poll_until(Duration::from_secs(5), async || raw_connection(&url).await.is_ok()).await {
            Ok(())
        } else {
            Err(format!("redis-server on port {} did not answer within 5 s", self.port))
        }
    }

    /// SIGKILL, as a crash would: no goodbye to the clients.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap_or_else(|e| panic!("cannot kill redis-server: {e}"));
        }
    }
}
