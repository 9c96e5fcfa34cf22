//! Settings of a bus, with defaults that suit one server process.

use std::time::Duration;

/// How a [`RealtimeBus`](crate::RealtimeBus) behaves. `RealtimeConfig::default()` is what production uses
/// unless configured otherwise; tests shorten the timeouts and use a random prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealtimeConfig {
    /// Channel names are `{prefix}:space:{id}` and so on; replicas that share a Redis must share the prefix,
    /// and deployments that share a Redis must not. On a Redis Cluster, a prefix holding a hash tag (`{…}`)
    /// would put every channel in one slot, on one node: leave braces out.
    pub prefix: String,
    /// How many events a subscriber may fall behind before it gets `Delivery::Lagged` (per channel ring size).
    pub capacity: usize,
    /// Bound on connecting to Redis and on each Redis command (PUBLISH batch, SUBSCRIBE, PING).
    pub redis_timeout: Duration,
    /// Publish batches waiting for Redis; when full (Redis slow or down) further batches are dropped and
    /// counted as failures instead of queuing without bound.
    pub publish_queue: usize,
    /// How often the pub/sub connection is pinged. The ping is what makes it notice a dead socket and
    /// reconnect (and resubscribe) even after its own reconnect attempts gave up; failed SUBSCRIBE/UNSUBSCRIBE
    /// commands are retried at the same pace.
    pub health_interval: Duration,
    /// How long [`RealtimeBus::subscribe_confirmed`](crate::RealtimeBus::subscribe_confirmed) waits for Redis
    /// to confirm a new channel.
    pub subscribe_timeout: Duration,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            prefix: "weco".to_owned(),
            capacity: 256,
            redis_timeout: Duration::from_secs(2),
            publish_queue: 1024,
            health_interval: Duration::from_secs(1),
            subscribe_timeout: Duration::from_secs(2),
        }
    }
}

impl RealtimeConfig {
    /// The defaults with another channel prefix.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), ..Self::default() }
    }
}
