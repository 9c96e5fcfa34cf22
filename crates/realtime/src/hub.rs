//! The per-process fan-out: one broadcast channel per bus channel that has local subscribers.
//!
//! Modelled on mini-redis's `db.rs`: a map from channel name to a `tokio::sync::broadcast::Sender`, created when
//! the first local subscriber arrives and removed when the last one leaves. Every websocket subscription is a
//! receiver on that sender, so an event crosses the process boundary once and is fanned out in memory, and the
//! envelope is shared as one `Arc` by every subscriber.
//!
//! A broadcast channel keeps the last `capacity` events; a receiver that falls further behind loses the oldest
//! and is told how many (`Delivery::Lagged`). That is what keeps a slow subscriber from slowing the others or
//! growing memory: nobody ever waits for it and nothing is queued for it beyond the shared ring.
//!
//! Events can arrive twice (the outbox publishes at least once). The hub remembers the ids of the last
//! [`RECENT_EVENTS`] events per process and hands a repeated one on a channel to nobody, so every subscriber
//! of this process gets each event once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::{Notify, broadcast};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use weco_domain::EventId;
use weco_domain::events::{Delivery, Envelope};

/// How many recent events the hub remembers to drop repeats: a repeat comes from a recovery a few seconds after
/// the first delivery, so this covers thousands of events a second.
pub const RECENT_EVENTS: usize = 65_536;

/// What goes down a channel's broadcast: an event, or word that events may have been lost.
#[derive(Debug, Clone)]
enum Item {
    Event(Arc<Envelope>),
    /// The bus lost events it could not know of (its connection to Redis dropped): subscribers must resync.
    Gap,
}

/// The ids of the last events dispatched, with their channels (hashed).
#[derive(Debug, Default)]
struct Recent {
    seen: HashSet<(u64, EventId)>,
    order: VecDeque<(u64, EventId)>,
    hasher: RandomState,
}

impl Recent {
    /// Remembers the event; `false` when it was seen already.
    fn first_time(&mut self, channel: &str, id: EventId) -> bool {
        let key = (self.hasher.hash_one(channel), id);
        if !self.seen.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_EVENTS
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

use crate::metrics::{Counters, MetricsSnapshot};

/// The per-process fan-out of events to local subscribers. See the module docs.
#[derive(Debug)]
pub struct Hub {
    channels: Mutex<HashMap<String, Entry>>,
    recent: Mutex<Recent>,
    capacity: usize,
    counters: Arc<Counters>,
    /// Told about every channel that appeared or disappeared, so a backend can SUBSCRIBE/UNSUBSCRIBE it.
    changes: Option<Arc<ChannelChanges>>,
}

#[derive(Debug)]
struct Entry {
    sender: broadcast::Sender<Item>,
    /// Counted by hand rather than `sender.receiver_count()`: a subscription's receiver is still alive while
    /// its guard runs `leave`, so the broadcast's own count would be off by one at exactly that moment.
    subscribers: usize,
}

impl Hub {
    /// A hub whose subscribers may each fall up to `capacity` events behind (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self::build(capacity, Arc::default(), None)
    }

    pub(crate) fn build(capacity: usize, counters: Arc<Counters>, changes: Option<Arc<ChannelChanges>>) -> Self {
        Self { channels: Mutex::default(), recent: Mutex::default(), capacity: capacity.max(1), counters, changes }
    }

    /// A new local subscription to `channel`. Dropping the returned stream unsubscribes.
    pub fn subscribe(self: &Arc<Self>, channel: &str) -> Subscription {
        let (receiver, created) = {
            let mut channels = self.lock();
            match channels.get_mut(channel) {
                Some(entry) => {
                    entry.subscribers += 1;
                    (entry.sender.subscribe(), false)
                }
                None => {
                    let (sender, receiver) = broadcast::channel(self.capacity);
                    channels.insert(channel.to_owned(), Entry { sender, subscribers: 1 });
                    (receiver, true)
                }
            }
        };
        Counters::add(&self.counters.subscribers, 1);
        if created {
            Counters::add(&self.counters.channels, 1);
            self.changed(channel);
        }
        Subscription {
            inner: BroadcastStream::new(receiver),
            guard: Guard { hub: Arc::clone(self), channel: channel.to_owned() },
        }
    }

    /// Hands `envelope` to every local subscriber of `channel`; returns how many there were. An event already
    /// dispatched on this channel goes to nobody.
    pub fn dispatch(&self, channel: &str, envelope: Arc<Envelope>) -> usize {
        let first = self.recent.lock().unwrap_or_else(PoisonError::into_inner).first_time(channel, envelope.id);
        if !first {
            Counters::add(&self.counters.duplicates, 1);
            return 0;
        }
        match self.lock().get(channel) {
            // `send` fails only when there is no receiver, which the subscriber count rules out; either way
            // there is nobody to deliver to.
            Some(entry) => entry.sender.send(Item::Event(envelope)).unwrap_or(0),
            None => 0,
        }
    }

    /// Tells every local subscriber that events may have been lost (the connection to Redis dropped, and what
    /// was published meanwhile never arrived): each receives `Delivery::Lagged(0)` and resyncs from the database.
    pub fn signal_gap(&self) {
        for entry in self.lock().values() {
            let _ = entry.sender.send(Item::Gap);
        }
    }

    /// Like [`Hub::signal_gap`], for the subscribers of `channel` only (Redis dropped that one subscription).
    pub(crate) fn signal_gap_on(&self, channel: &str) {
        if let Some(entry) = self.lock().get(channel) {
            let _ = entry.sender.send(Item::Gap);
        }
    }

    /// Whether `channel` has at least one local subscriber.
    pub fn has_channel(&self, channel: &str) -> bool {
        self.lock().contains_key(channel)
    }

    /// The channels that have local subscribers.
    pub fn channels(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// How many channels have local subscribers.
    pub fn channel_count(&self) -> usize {
        self.lock().len()
    }

    /// How many local subscriptions are open.
    pub fn subscriber_count(&self) -> usize {
        self.lock().values().map(|e| e.subscribers).sum()
    }

    /// The counters (shared with the bus that owns this hub, if any).
    pub fn metrics(&self) -> MetricsSnapshot {
        self.counters.snapshot()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    fn leave(&self, channel: &str) {
        let removed = {
            let mut channels = self.lock();
            match channels.get_mut(channel) {
                Some(entry) if entry.subscribers > 1 => {
                    entry.subscribers -= 1;
                    false
                }
                Some(_) => {
                    channels.remove(channel);
                    true
                }
                None => false,
            }
        };
        Counters::sub(&self.counters.subscribers, 1);
        if removed {
            Counters::sub(&self.counters.channels, 1);
            self.changed(channel);
        }
    }

    fn changed(&self, channel: &str) {
        if let Some(changes) = &self.changes {
            changes.mark(channel);
        }
    }

    /// The map stays consistent even if a holder panicked (every critical section is a single map update),
    /// so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One local subscriber's stream of deliveries. Never ends on its own; dropping it unsubscribes.
pub struct Subscription {
    inner: BroadcastStream<Item>,
    guard: Guard,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("channel", &self.guard.channel).finish_non_exhaustive()
    }
}

impl Subscription {
    /// The channel this subscription listens on.
    pub fn channel(&self) -> &str {
        &self.guard.channel
    }
}

impl Stream for Subscription {
    type Item = Delivery;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let this = self.get_mut();
        let counters = &this.guard.hub.counters;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(Item::Event(envelope)))) => {
                Counters::add(&counters.delivered, 1);
                Poll::Ready(Some(Delivery::Event(envelope)))
            }
            Poll::Ready(Some(Ok(Item::Gap))) => Poll::Ready(Some(Delivery::Lagged(0))),
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(n)))) => {
                Counters::add(&counters.dropped, n);
                Poll::Ready(Some(Delivery::Lagged(n)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Leaves the hub when the subscription is dropped, however that happens (client gone, query cancelled).
struct Guard {
    hub: Arc<Hub>,
    channel: String,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.hub.leave(&self.channel);
    }
}

/// Channels whose local-subscriber state changed and that a backend must reconcile with Redis.
///
/// A set plus a wake-up rather than a queue of commands: memory stays bounded by the number of distinct
/// channels however fast subscribers come and go, and the backend acts on the hub's state at the time it looks,
/// so a subscribe-unsubscribe-subscribe flurry collapses into at most one command.
#[derive(Debug, Default)]
pub(crate) struct ChannelChanges {
    dirty: Mutex<HashSet<String>>,
    pub(crate) notify: Notify,
}

impl ChannelChanges {
    /// Marks `channel` for reconciliation and wakes the backend.
    pub(crate) fn mark(&self, channel: &str) {
        self.lock().insert(channel.to_owned());
        self.notify.notify_one();
    }

    pub(crate) fn take(&self) -> HashSet<String> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.dirty.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
