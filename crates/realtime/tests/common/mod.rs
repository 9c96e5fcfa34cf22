//! Helpers shared by the realtime tests: events, waiting for conditions (never for a clock), and Redis (the
//! shared one, a private `redis-server` child the fault tests can kill, or a private three-node Redis
//! Cluster).

#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;
use std::path::PathBuf;
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

/// A stats event like [`stats`], on any topic (the bus routes by topic, whatever the event).
pub fn stats_on(topic: Topic, likes: i64) -> Envelope {
    Envelope { topic, ..stats(PostId::generate(), likes) }
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
    free_ports(1)[0]
}

/// `n` distinct free ports (all bound at once while they are picked, so none is handed out twice).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}")))
        .collect();
    listeners.iter().map(|l| l.local_addr().unwrap_or_else(|e| panic!("no local address: {e}")).port()).collect()
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

/// A three-node Redis Cluster of the test's own: three `redis-server --cluster-enabled yes` children on free
/// ports, joined with `redis-cli --cluster create` (three primaries, no replicas), their cluster state files in
/// a temporary directory. Dropping it kills the nodes and removes the directory (also when the test panics).
pub struct OwnCluster {
    /// The nodes' client ports.
    pub ports: Vec<u16>,
    /// The nodes' cluster bus ports, fixed so a restarted node comes back exactly as it was.
    bus_ports: Vec<u16>,
    dir: PathBuf,
    /// Plain (blocking) children: killing and reaping one takes a moment, and `Drop` can do it too.
    nodes: Vec<Option<std::process::Child>>,
}

impl OwnCluster {
    /// Starts one; `None` after printing SKIPPED if `redis-server` or `redis-cli` is not installed.
    pub async fn start() -> Option<Self> {
        match Self::try_start().await {
            Ok(cluster) => Some(cluster),
            Err(e) if !services_required() => {
                eprintln!("SKIPPED: cannot start a Redis Cluster ({e}); install redis-server 7 to run this test");
                None
            }
            Err(e) => panic!("a Redis Cluster is required (WECO_REQUIRE_SERVICES=1) but cannot start: {e}"),
        }
    }

    async fn try_start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("weco-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut ports = free_ports(6);
        let bus_ports = ports.split_off(3);
        // Made before the nodes start, so whatever fails from here on is cleaned up by `Drop`.
        let mut cluster = Self { ports, bus_ports, dir, nodes: vec![None, None, None] };
        for node in 0..3 {
            cluster.spawn(node).await?;
        }
        let mut create = tokio::process::Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = create.stdin(Stdio::null()).output().await.map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&created.stdout),
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        cluster.wait_ok().await?;
        Ok(cluster)
    }

    /// The nodes' URLs, as a replica would be configured with them.
    pub fn urls(&self) -> Vec<String> {
        self.ports.iter().map(|port| format!("redis://127.0.0.1:{port}")).collect()
    }

    /// (Re)starts node `node` on its ports with its cluster state file, and waits until it answers PING.
    pub async fn spawn(&mut self, node: usize) -> Result<(), String> {
        let (port, bus_port) = (self.ports[node], self.bus_ports[node]);
        let config_file = self.dir.join(format!("nodes-{port}.conf"));
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
            .args(["--cluster-port", &bus_port.to_string()])
            .arg("--cluster-config-file")
            .arg(&config_file)
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        self.nodes[node] = Some(child);
        let url = format!("redis://127.0.0.1:{port}");
        if poll_until(Duration::from_secs(5), async || raw_connection(&url).await.is_ok()).await {
            Ok(())
        } else {
            Err(format!("redis-server on port {port} did not answer within 5 s"))
        }
    }

    /// SIGKILL node `node`, as a crash would: no goodbye to the clients, its state file left as it was.
    pub fn kill(&mut self, node: usize) {
        if let Some(mut child) = self.nodes[node].take() {
            // Fails only if it has exited already, which leaves nothing to do.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts a killed node (it rejoins with its state file) and waits until the cluster is whole again.
    pub async fn restart(&mut self, node: usize) {
        self.spawn(node).await.unwrap_or_else(|e| panic!("cannot restart node {node}: {e}"));
        self.wait_ok().await.unwrap_or_else(|e| panic!("the cluster did not recover: {e}"));
    }

    /// Waits until every running node reports `cluster_state:ok` (`redis-cli -p P cluster info`).
    pub async fn wait_ok(&self) -> Result<(), String> {
        for (node, port) in self.ports.iter().enumerate() {
            if self.nodes[node].is_none() {
                continue;
            }
            let ok = poll_until(PATIENCE, async || {
                let info = tokio::process::Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .stdin(Stdio::null())
                    .output()
                    .await;
                info.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
            })
            .await;
            if !ok {
                return Err(format!("node {port} did not reach cluster_state:ok within {PATIENCE:?}"));
            }
        }
        Ok(())
    }

    /// A plain connection to node `node` (not a cluster connection: commands reach that node only).
    pub async fn node(&self, node: usize) -> redis::aio::MultiplexedConnection {
        let url = format!("redis://127.0.0.1:{}", self.ports[node]);
        raw_connection(&url).await.unwrap_or_else(|e| panic!("node {node} at {url}: {e}"))
    }

    /// The index of the node that owns `channel`'s hash slot, from `CLUSTER KEYSLOT` and `CLUSTER SLOTS` on
    /// node `ask`.
    pub async fn owner(&self, ask: usize, channel: &str) -> usize {
        let mut conn = self.node(ask).await;
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT: {e}"));
        let ranges: redis::Value = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER SLOTS: {e}"));
        let int = |v: &redis::Value| match v {
            redis::Value::Int(i) => *i,
            other => panic!("expected an integer in CLUSTER SLOTS, got {other:?}"),
        };
        let redis::Value::Array(ranges) = ranges else { panic!("CLUSTER SLOTS answered {ranges:?}") };
        for range in &ranges {
            let redis::Value::Array(range) = range else { panic!("a CLUSTER SLOTS range is {range:?}") };
            let (start, end) = (int(&range[0]), int(&range[1]));
            if (start..=end).contains(&slot) {
                let redis::Value::Array(primary) = &range[2] else { panic!("a CLUSTER SLOTS node is {:?}", range[2]) };
                let port = int(&primary[1]);
                return self
                    .ports
                    .iter()
                    .position(|p| i64::from(*p) == port)
                    .unwrap_or_else(|| panic!("slot {slot} is served by port {port}, not one of ours"));
            }
        }
        panic!("no node serves slot {slot}")
    }

    /// The hash slot of `channel` (`CLUSTER KEYSLOT`).
    pub async fn slot(&self, channel: &str) -> i64 {
        let mut conn = self.node(0).await;
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CLUSTER KEYSLOT: {e}"))
    }

    /// Moves the hash slot of `channel` (holding no keys) from its owner to node `to`, as a resharding does, and
    /// waits until every node agrees on the new owner. Returns the former owner.
    pub async fn move_slot_of(&self, channel: &str, to: usize) -> usize {
        let (slot, from) = (self.slot(channel).await, self.owner(0, channel).await);
        assert_ne!(from, to, "{channel} is on node {to} already");
        let id = async |node: usize| -> String {
            let mut conn = self.node(node).await;
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("CLUSTER MYID: {e}"))
        };
        let (from_id, to_id) = (id(from).await, id(to).await);
        let setslot = async |node: usize, args: &[&str]| {
            let mut conn = self.node(node).await;
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(args)
                .query_async::<()>(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("CLUSTER SETSLOT {slot} {args:?} on node {node}: {e}"));
        };
        setslot(to, &["IMPORTING", &from_id]).await;
        setslot(from, &["MIGRATING", &to_id]).await;
        setslot(to, &["NODE", &to_id]).await;
        setslot(from, &["NODE", &to_id]).await;
        setslot(3 - from - to, &["NODE", &to_id]).await;
        for node in 0..3 {
            let what = format!("node {node} to see slot {slot} on node {to}");
            eventually(&what, async || self.owner(node, channel).await == to).await;
        }
        from
    }

    /// The owner of each channel (see [`OwnCluster::owner`]).
    pub async fn owners(&self, ask: usize, channels: &[String]) -> HashMap<String, usize> {
        let mut owners = HashMap::new();
        for channel in channels {
            owners.insert(channel.clone(), self.owner(ask, channel).await);
        }
        owners
    }

    /// How many connections node `node` has subscribed to the sharded channel `channel` (`PUBSUB SHARDNUMSUB`).
    pub async fn shard_numsub(&self, node: usize, channel: &str) -> i64 {
        let mut conn = self.node(node).await;
        let (_, n): (String, i64) = redis::cmd("PUBSUB")
            .arg("SHARDNUMSUB")
            .arg(channel)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("PUBSUB SHARDNUMSUB on node {node}: {e}"));
        n
    }

    /// The sharded channels that have subscribers on node `node` and match `pattern`
    /// (`PUBSUB SHARDCHANNELS pattern` on that node).
    pub async fn shard_channels(&self, node: usize, pattern: &str) -> Vec<String> {
        let mut conn = self.node(node).await;
        redis::cmd("PUBSUB")
            .arg("SHARDCHANNELS")
            .arg(pattern)
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("PUBSUB SHARDCHANNELS on node {node}: {e}"))
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
