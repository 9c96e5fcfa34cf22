//! The bus the server uses: a hub plus a backend (in-process, one Redis, or a Redis Cluster), implementing the
//! domain's `EventBus`.

use std::sync::Arc;

use async_trait::async_trait;
use weco_domain::events::{Envelope, Topic};
use weco_domain::ports::{EventBus, EventStream};

use crate::config::RealtimeConfig;
use crate::hub::{ChannelChanges, Hub};
use crate::metrics::{Counters, MetricsSnapshot};
use crate::redis_backend::{RedisBackend, Target};

/// Why a bus could not be built or is not ready.
#[derive(Debug, thiserror::Error)]
pub enum RealtimeError {
    #[error("invalid Redis URL or cluster nodes: {0}")]
    InvalidUrl(#[source] redis::RedisError),
    #[error("cannot connect to Redis: {0}")]
    Connect(#[source] redis::RedisError),
    #[error("Redis error: {0}")]
    Redis(#[source] redis::RedisError),
    #[error("Redis did not answer in time")]
    Timeout,
}

/// The event bus: publishes events and streams them to local subscribers through one [`Hub`].
///
/// Cheap to clone (all clones share the hub, the connections and the counters). Dropping the last clone stops
/// its background tasks; open subscriptions keep the hub alive but receive nothing more.
#[derive(Clone)]
pub struct RealtimeBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: RealtimeConfig,
    hub: Arc<Hub>,
    counters: Arc<Counters>,
    backend: Backend,
}

enum Backend {
    /// Publishing hands events straight to the hub (the embedded, single-process mode).
    InProcess,
    /// Publishing goes only to Redis (one node or a Cluster); the pub/sub reader hands events back to the hub,
    /// so local subscribers get each event exactly once whichever replica published it.
    Redis(RedisBackend),
}

impl std::fmt::Debug for RealtimeBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeBus")
            .field("backend", &self.backend_name())
            .field("prefix", &self.inner.config.prefix)
            .finish_non_exhaustive()
    }
}

impl RealtimeBus {
    /// A bus within this process only (embedded mode, tests).
    pub fn in_process(config: RealtimeConfig) -> Self {
        let counters = Arc::new(Counters::default());
        let hub = Arc::new(Hub::build(config.capacity, Arc::clone(&counters), None));
        Self { inner: Arc::new(Inner { config, hub, counters, backend: Backend::InProcess }) }
    }

    /// A bus over Redis pub/sub at `url` (`redis://[user:pass@]host:port[/db]`; RESP3 is selected whatever the
    /// URL says). Fails if Redis cannot be reached now; once built, it rides out Redis restarts by itself.
    /// Must be called within a Tokio runtime (it spawns its tasks).
    pub async fn redis(url: &str, config: RealtimeConfig) -> Result<Self, RealtimeError> {
        Self::remote(Target::Single(url), config).await
    }

    /// A bus over a Redis Cluster's sharded pub/sub (SSUBSCRIBE/SPUBLISH), reached through `nodes`
    /// (`redis://[user:pass@]host:port` of any of its nodes; the others are discovered). Each channel lives on
    /// the shard that owns its hash slot, so channels spread over the shards and so does the pub/sub load, which
    /// classic PUBLISH (broadcast to every node) would not. Behaves as [`RealtimeBus::redis`] otherwise: one
    /// subscriber connection per process (multiplexed per node), subscriptions that recover by themselves
    /// when a node restarts or slots move, publishing that never waits. Fails if no node can be reached now.
    pub async fn redis_cluster(nodes: &[String], config: RealtimeConfig) -> Result<Self, RealtimeError> {
        Self::remote(Target::Cluster(nodes), config).await
    }

    async fn remote(target: Target<'_>, config: RealtimeConfig) -> Result<Self, RealtimeError> {
        let counters = Arc::new(Counters::default());
        let changes = Arc::new(ChannelChanges::default());
        let hub = Arc::new(Hub::build(config.capacity, Arc::clone(&counters), Some(Arc::clone(&changes))));
        let backend = RedisBackend::connect(target, Arc::clone(&hub), changes, Arc::clone(&counters), &config).await?;
        Ok(Self { inner: Arc::new(Inner { config, hub, counters, backend: Backend::Redis(backend) }) })
    }

    /// Readiness: Redis answers PING on both connections, on a Cluster every primary does (in-process: always
    /// ready).
    pub async fn ping(&self) -> Result<(), RealtimeError> {
        match &self.inner.backend {
            Backend::InProcess => Ok(()),
            Backend::Redis(redis) => redis.ping().await,
        }
    }

    /// Like [`EventBus::subscribe`], but returns only once the bus is sure to deliver what is published from
    /// now on (Redis has confirmed the SUBSCRIBE), or `subscribe_timeout` has passed (the stream then starts
    /// delivering when Redis comes back). Use it before catching up from the database, so nothing published
    /// between the catch-up query and the SUBSCRIBE is missed.
    pub async fn subscribe_confirmed(&self, topic: Topic) -> EventStream {
        let stream = self.subscribe(topic);
        if let Backend::Redis(redis) = &self.inner.backend {
            let channel = self.channel(&topic);
            if !redis.wait_live(&channel).await {
                tracing::warn!(
                    channel,
                    "Redis has not confirmed the subscription yet; events may be missed until it does"
                );
            }
        }
        stream
    }

    /// Whether events published on `topic` from now on will reach this process's subscribers: it has local
    /// subscribers and (with Redis) the SUBSCRIBE is confirmed.
    pub fn is_live(&self, topic: &Topic) -> bool {
        let channel = self.channel(topic);
        match &self.inner.backend {
            Backend::InProcess => self.inner.hub.has_channel(&channel),
            Backend::Redis(redis) => self.inner.hub.has_channel(&channel) && redis.is_live(&channel),
        }
    }

    /// The channel name of `topic` on this bus (`{prefix}:space:{id}` …).
    pub fn channel(&self, topic: &Topic) -> String {
        topic.channel(&self.inner.config.prefix)
    }

    /// The channel prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.config.prefix
    }

    /// `"in-process"`, `"redis"` or `"redis-cluster"`, for logs and health output.
    pub fn backend_name(&self) -> &'static str {
        match &self.inner.backend {
            Backend::InProcess => "in-process",
            Backend::Redis(redis) => redis.name(),
        }
    }

    /// The counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.counters.snapshot()
    }

    /// The hub behind this bus (for inspection; subscribe through the bus so channel names get the prefix).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }
}

#[async_trait]
impl EventBus for RealtimeBus {
    async fn publish(&self, events: Vec<Envelope>) {
        if events.is_empty() {
            return;
        }
        let prefix = &self.inner.config.prefix;
        match &self.inner.backend {
            Backend::InProcess => {
                for envelope in events {
                    let channel = envelope.topic.channel(prefix);
                    self.inner.hub.dispatch(&channel, Arc::new(envelope));
                    Counters::add(&self.inner.counters.published, 1);
                }
            }
            Backend::Redis(redis) => {
                let batch = events.iter().map(|e| (e.topic.channel(prefix), e.to_json())).collect();
                redis.publish(batch, &self.inner.counters);
            }
        }
    }

    async fn subscribe_confirmed(&self, topic: Topic) -> EventStream {
        RealtimeBus::subscribe_confirmed(self, topic).await
    }

    fn subscribe(&self, topic: Topic) -> EventStream {
        Box::pin(self.inner.hub.subscribe(&self.channel(&topic)))
    }
}
