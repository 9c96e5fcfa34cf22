//! Counters the bus keeps about itself, readable without a metrics crate.
//!
//! Plain atomics so the hot paths (publish, fan-out, every delivery) pay one relaxed add; the server turns a
//! [`MetricsSnapshot`] into whatever exporter it uses.

use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters, shared by the hub, the subscriptions and the backend.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) disconnections: AtomicU64,
    pub(crate) channels: AtomicU64,
    pub(crate) subscribers: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            events_published: get(&self.published),
            publish_failures: get(&self.publish_failures),
            events_received: get(&self.received),
            payloads_rejected: get(&self.rejected),
            events_delivered: get(&self.delivered),
            deliveries_dropped: get(&self.dropped),
            duplicates_dropped: get(&self.duplicates),
            redis_disconnections: get(&self.disconnections),
            active_channels: get(&self.channels),
            active_subscribers: get(&self.subscribers),
        }
    }
}

/// The bus's counters at one moment. All but the two `active_*` gauges only ever grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Events handed to the bus successfully (in-process: fanned out; Redis: PUBLISH or SPUBLISH acknowledged).
    pub events_published: u64,
    /// Events that could not be published (Redis down, timed out, or the publish queue was full). They are lost.
    pub publish_failures: u64,
    /// Messages that arrived from Redis for a channel with local subscribers (always 0 in-process).
    pub events_received: u64,
    /// Messages from Redis that were malformed or of an unknown payload version, and were ignored.
    pub payloads_rejected: u64,
    /// Events handed to local subscribers (one per subscriber per event).
    pub events_delivered: u64,
    /// Events skipped for subscribers that fell behind (the sum of every `Delivery::Lagged(n)`).
    pub deliveries_dropped: u64,
    /// Events that arrived again (same id on the same channel, as after an outbox recovery) and were not handed
    /// to subscribers a second time.
    pub duplicates_dropped: u64,
    /// Times the Redis pub/sub connection was lost (on a Cluster: a node's connection); it reconnects and
    /// resubscribes by itself.
    pub redis_disconnections: u64,
    /// Channels with at least one local subscriber (= channels SUBSCRIBEd in Redis, once settled).
    pub active_channels: u64,
    /// Local subscriptions (streams) currently open.
    pub active_subscribers: u64,
}
