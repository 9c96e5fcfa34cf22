//! What differs between one Redis and a Redis Cluster: the connections, the names of the pub/sub commands, and
//! how one round of commands is split. Everything else about the Redis backend (the queue, the control loop,
//! the confirmed channels, the push handler) is the same for both and lives in `redis_backend`.
//!
//! - **One Redis** takes SUBSCRIBE/UNSUBSCRIBE for any channels in one command and PUBLISHes any channels in
//!   one pipeline.
//! - **A Cluster** hashes every channel name to one of 16,384 slots, and each slot belongs to one primary.
//!   Classic PUBLISH is broadcast to every node, so it adds no capacity; sharded pub/sub (SSUBSCRIBE,
//!   SPUBLISH) lives only on the primary owning the channel's slot, so channels spread over the shards. A
//!   command or a pipeline must stay within one slot (the node answers CROSSSLOT otherwise), so every group
//!   here holds the channels of one slot; the groups of a round go out concurrently, and the cluster
//!   connection routes each to its node over the one multiplexed connection it keeps per node. It also
//!   remembers every confirmed SSUBSCRIBE and sends it again after a node reconnects or slots move.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, Slot};
use redis::{Client, ErrorKind, IntoConnectionInfo, ProtocolVersion, PushInfo, RedisError, RedisResult, Value};
use tokio::time::timeout;

use crate::RealtimeError;
use crate::config::RealtimeConfig;

/// A connection to one Redis or to a Redis Cluster. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub(crate) enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// The two links a backend uses: one that carries the subscriptions and receives their messages (pushes go
/// to the handler given when connecting), and one that publishes, so a burst of publishing never queues
/// behind subscription commands or the other way round.
pub(crate) struct Links {
    pub(crate) subscriber: Link,
    pub(crate) publisher: Link,
}

impl Links {
    /// Connects to one Redis at `url` (`redis://[user:pass@]host:port[/db]`). RESP3 is selected whatever
    /// the URL says: push messages and automatic resubscription exist only there.
    pub(crate) async fn single(
        url: &str,
        on_push: impl Fn(PushInfo) -> Result<(), Infallible> + Send + Sync + 'static,
        config: &RealtimeConfig,
    ) -> Result<Self, RealtimeError> {
        let info = url.into_connection_info().map_err(RealtimeError::InvalidUrl)?;
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings)).map_err(RealtimeError::InvalidUrl)?;
        let base = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.redis_timeout))
            .set_response_timeout(Some(config.redis_timeout))
            .set_max_delay(Duration::from_secs(1));
        let subscriber_config = base.clone().set_push_sender(on_push).set_automatic_resubscription();
        let budget = connect_budget(config);
        let subscriber = within(budget, client.get_connection_manager_with_config(subscriber_config)).await?;
        let publisher =
            within(budget, client.get_connection_manager_with_config(base.set_number_of_retries(2))).await?;
        Ok(Self { subscriber: Link::Single(subscriber), publisher: Link::Single(publisher) })
    }

    /// Connects to the Redis Cluster that `nodes` belong to (any of its nodes will do: the rest are found
    /// through `CLUSTER SLOTS`). Credentials come from the first URL, and all must agree.
    pub(crate) async fn cluster(
        nodes: &[String],
        on_push: impl Fn(PushInfo) -> Result<(), Infallible> + Send + Sync + 'static,
        config: &RealtimeConfig,
    ) -> Result<Self, RealtimeError> {
        let builder = || {
            ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                .use_protocol(ProtocolVersion::RESP3)
                .connection_timeout(config.redis_timeout)
                .response_timeout(config.redis_timeout)
                // The client's own retries wait at least 1.28 s each by default, longer than a whole
                // command may take here; failed subscription commands are retried by the control loop
                // anyway, and a publish that fails is counted rather than held up.
                .retries(2)
                .min_retry_wait(10)
                .max_retry_wait(200)
        };
        let subscriber = builder().push_sender(on_push).build().map_err(RealtimeError::InvalidUrl)?;
        let publisher = builder().build().map_err(RealtimeError::InvalidUrl)?;
        let budget = connect_budget(config);
        let subscriber = within(budget, subscriber.get_async_connection()).await?;
        let publisher = within(budget, publisher.get_async_connection()).await?;
        Ok(Self { subscriber: Link::Cluster(subscriber), publisher: Link::Cluster(publisher) })
    }
}

/// How long connecting may take. The connections retry with backoff on their own; the budget keeps a server
/// that starts while Redis is unreachable from hanging for long.
fn connect_budget(config: &RealtimeConfig) -> Duration {
    config.redis_timeout.saturating_mul(3)
}

async fn within<T>(budget: Duration, connecting: impl Future<Output = RedisResult<T>>) -> Result<T, RealtimeError> {
    match timeout(budget, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(RealtimeError::Connect(e)),
        Err(_) => Err(RealtimeError::Timeout),
    }
}

impl Link {
    /// `"redis"` or `"redis-cluster"`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Single(_) => "redis",
            Self::Cluster(_) => "redis-cluster",
        }
    }

    /// Splits `items` into the groups one command or pipeline may carry (at most `max` items each), keeping
    /// their order within each group: on a Cluster, one group per slot of `channel(item)`.
    pub(crate) fn groups<T>(&self, items: Vec<T>, channel: impl Fn(&T) -> &str, max: usize) -> Vec<Vec<T>> {
        match self {
            Self::Single(_) => chunks(items, max),
            Self::Cluster(_) => by_slot(items, channel, max),
        }
    }

    /// SUBSCRIBE (SSUBSCRIBE on a Cluster) to one group of channels; returns once Redis has confirmed each.
    pub(crate) async fn subscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Self::Single(conn) => conn.subscribe(channels).await,
            Self::Cluster(conn) => conn.ssubscribe(channels).await,
        }
    }

    /// UNSUBSCRIBE (SUNSUBSCRIBE on a Cluster) from one group of channels.
    pub(crate) async fn unsubscribe(&mut self, channels: &[String]) -> RedisResult<()> {
        match self {
            Self::Single(conn) => conn.unsubscribe(channels).await,
            Self::Cluster(conn) => conn.sunsubscribe(channels).await,
        }
    }

    /// PUBLISH (SPUBLISH on a Cluster) one group of `(channel, payload)` in one pipeline, in order.
    pub(crate) async fn publish(&mut self, events: &[(String, String)]) -> RedisResult<()> {
        let command = match self {
            Self::Single(_) => "PUBLISH",
            Self::Cluster(_) => "SPUBLISH",
        };
        let mut pipe = redis::pipe();
        for (channel, payload) in events {
            pipe.cmd(command).arg(channel).arg(payload).ignore();
        }
        match self {
            Self::Single(conn) => pipe.exec_async(conn).await,
            Self::Cluster(conn) => pipe.exec_async(conn).await,
        }
    }

    /// PING; on a Cluster, every primary that owns slots must answer.
    pub(crate) async fn ping(&mut self) -> RedisResult<()> {
        match self {
            Self::Single(conn) => redis::cmd("PING").query_async(conn).await,
            Self::Cluster(conn) => {
                // A PING routed to "all primaries" silently skips a primary the connection has dropped while
                // it could not reach it, and would call a cluster with a shard down healthy. So: ask any node
                // for the primaries, and PING each by address.
                let mut slots = redis::cmd("CLUSTER");
                slots.arg("SLOTS");
                let slots = conn.route_command(slots, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random)).await?;
                for (host, port) in primaries(&slots)? {
                    let node = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
                    conn.route_command(redis::cmd("PING"), node).await?.extract_error()?;
                }
                Ok(())
            }
        }
    }
}

/// The `(host, port)` of every primary in a `CLUSTER SLOTS` answer (the first node of each slot range), as the
/// cluster connection names them.
fn primaries(slots: &Value) -> RedisResult<BTreeSet<(String, u16)>> {
    let malformed = || RedisError::from((ErrorKind::Parse, "unexpected CLUSTER SLOTS answer"));
    let Value::Array(ranges) = slots else { return Err(malformed()) };
    let mut primaries = BTreeSet::new();
    for range in ranges {
        let Value::Array(range) = range else { return Err(malformed()) };
        let Some(Value::Array(primary)) = range.get(2) else { return Err(malformed()) };
        let host: String = primary.first().and_then(|h| redis::from_redis_value_ref(h).ok()).ok_or_else(malformed)?;
        let port: u16 = primary.get(1).and_then(|p| redis::from_redis_value_ref(p).ok()).ok_or_else(malformed)?;
        // An empty or `?` endpoint is one the answering node does not know yet; the connection skips it too.
        if !host.is_empty() && host != "?" {
            primaries.insert((host, port));
        }
    }
    Ok(primaries)
}

/// Groups `items` by the slot of `channel(item)`, then into chunks of at most `max`, keeping their order.
fn by_slot<T>(items: Vec<T>, channel: impl Fn(&T) -> &str, max: usize) -> Vec<Vec<T>> {
    let mut slots: HashMap<Slot, Vec<T>> = HashMap::new();
    for item in items {
        slots.entry(Slot::for_key(channel(&item))).or_default().push(item);
    }
    slots.into_values().flat_map(|group| chunks(group, max)).collect()
}

fn chunks<T>(items: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let max = max.max(1);
    if items.len() <= max {
        return if items.is_empty() { Vec::new() } else { vec![items] };
    }
    let mut groups = Vec::with_capacity(items.len().div_ceil(max));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        groups.push(items.by_ref().take(max).collect());
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primaries_of_a_cluster_slots_answer_are_the_first_node_of_each_range() {
        let node = |host: &str, port: i64| {
            Value::Array(vec![Value::BulkString(host.into()), Value::Int(port), Value::BulkString(b"id".to_vec())])
        };
        let range =
            |start, end, nodes: Vec<Value>| Value::Array([vec![Value::Int(start), Value::Int(end)], nodes].concat());
        let slots = Value::Array(vec![
            range(0, 5460, vec![node("10.0.0.1", 7000), node("10.0.0.4", 7003)]),
            range(5461, 10922, vec![node("10.0.0.2", 7001)]),
            range(10923, 12000, vec![node("10.0.0.3", 7002)]),
            range(12001, 16383, vec![node("10.0.0.3", 7002)]),
            range(16383, 16383, vec![node("?", 7009)]),
        ]);
        let found: Vec<(String, u16)> = primaries(&slots).expect("parses").into_iter().collect();
        let expected = [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("10.0.0.3", 7002)];
        assert_eq!(found, expected.map(|(h, p)| (h.to_owned(), p)));
        assert!(primaries(&Value::Int(1)).is_err());
    }

    #[test]
    fn chunks_keep_order_and_bound_their_size() {
        assert!(chunks(Vec::<u8>::new(), 3).is_empty());
        assert_eq!(chunks(vec![1, 2], 3), vec![vec![1, 2]]);
        assert_eq!(chunks(vec![1, 2, 3, 4, 5, 6, 7], 3), vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    }

    #[test]
    fn cluster_groups_hold_the_channels_of_one_slot_in_their_original_order() {
        // A hash tag puts every channel that carries it in one slot; the others spread out.
        let mut events: Vec<(String, usize)> = (0..6).map(|i| (format!("{{same}}:post:{}", i % 2), i)).collect();
        events.extend((0..50).map(|i| (format!("weco:space:{i}"), 100 + i)));
        let groups = by_slot(events, |(channel, _)| channel, 2);
        for group in &groups {
            assert!(group.len() <= 2);
            let slot = Slot::for_key(&group[0].0);
            assert!(group.iter().all(|(channel, _)| Slot::for_key(channel) == slot), "{group:?}");
        }
        let tagged: Vec<usize> =
            groups.iter().flatten().filter(|(channel, _)| channel.starts_with("{same}")).map(|(_, i)| *i).collect();
        assert_eq!(tagged, [0, 1, 2, 3, 4, 5], "one slot, in order, in chunks of two");
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 56);
        assert!(groups.len() > 20, "untagged channels spread over many slots: {} groups", groups.len());
    }
}
