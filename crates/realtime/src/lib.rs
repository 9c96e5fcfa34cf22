//! Weco's event bus: the realtime half of the server, behind the domain port `weco_domain::ports::EventBus`.
//!
//! The server publishes domain events after a transaction commits; GraphQL subscriptions stream them to
//! websocket clients. One process holds **one** Redis pub/sub connection however many websockets it serves
//! (on a Redis Cluster, one per node, multiplexed), and fans events out in memory.
//!
//! Module map:
//! - [`bus`] — [`RealtimeBus`], the `EventBus` the server wires in: `RealtimeBus::in_process` (embedded mode),
//!   `RealtimeBus::redis` (replicas sharing a Redis) or `RealtimeBus::redis_cluster` (replicas sharing a Redis
//!   Cluster, on sharded pub/sub), plus readiness (`ping`) and counters (`metrics`).
//! - [`hub`] — [`Hub`], the per-process fan-out: a broadcast channel per channel with local subscribers,
//!   created with the first and removed with the last; [`Subscription`] is one subscriber's stream, yielding
//!   `Delivery::Lagged(n)` when it falls more than `capacity` events behind.
//! - `redis_backend` — the single pub/sub connection (RESP3, automatic resubscription), SUBSCRIBE/UNSUBSCRIBE
//!   as channels come and go, and a queued, pipelined publisher; the same for one Redis and a Cluster.
//! - `redis_link` — what differs: a `ConnectionManager` and PUBLISH/SUBSCRIBE for one Redis, a cluster
//!   connection and SPUBLISH/SSUBSCRIBE grouped by hash slot for a Cluster.
//! - [`config`] — [`RealtimeConfig`]: channel prefix, per-subscriber buffer, timeouts.
//! - [`metrics`] — [`MetricsSnapshot`]: plain counters, no metrics crate.
//!
//! Delivery is at most once (Redis pub/sub drops what is published while it is down or while a subscriber
//! lags); subscribers resync from the database on `Lagged` or on reconnect, as docs/contract.md describes.

pub mod bus;
pub mod config;
pub mod hub;
pub mod metrics;
mod redis_backend;
mod redis_link;

pub use bus::{RealtimeBus, RealtimeError};
pub use config::RealtimeConfig;
pub use hub::{Hub, Subscription};
pub use metrics::MetricsSnapshot;
