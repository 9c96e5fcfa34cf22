//! The Redis side of the bus, for one Redis or a Redis Cluster: one pub/sub connection per process, one
//! publishing connection, two small tasks. What differs between the two (connections, command names, how a
//! round of commands is split by slot) is in `redis_link`; all the rest is here, shared.
//!
//! - **Receiving.** The subscriber link is on RESP3 with a push handler and automatic resubscription: when a
//!   socket dies it reconnects and replays the subscriptions it had confirmed (a plain `aio::PubSub` would
//!   silently stay dead). On one Redis that is a `ConnectionManager`. On a Cluster it is the cluster
//!   connection, which keeps one multiplexed connection per node and reconnects each by itself; but its
//!   replay sends all of a node's sharded channels in one SSUBSCRIBE, which the node refuses (CROSSSLOT) as
//!   soon as they span two slots. So on a Cluster the backend resubscribes itself: a lost node connection
//!   (or a node dropping channels when their slots move) marks the confirmed channels stale, and the control
//!   task SSUBSCRIBEs them again, slot by slot, until the node answers. The push handler parses each message
//!   once and hands the shared envelope to the hub, on the connection's own push-forwarding task.
//! - **Subscribing.** The hub marks channels that gained their first or lost their last local subscriber; the
//!   control task reconciles each with Redis (SUBSCRIBE/UNSUBSCRIBE, or SSUBSCRIBE/SUNSUBSCRIBE on a
//!   Cluster, batched into as few commands as the link allows, sent concurrently), retries failures on every
//!   `health_interval` tick (only a few while they keep failing, all of them once one goes through), and
//!   pings the connection at that pace so a connection whose reconnect attempts ran out tries again.
//! - **Publishing.** `publish` never waits for Redis: batches go into a bounded queue that a publisher task
//!   drains into pipelined PUBLISHes (SPUBLISHes, one pipeline per slot, on a Cluster) on the publishing
//!   link. With Redis down, each attempt is bounded by `redis_timeout`; failures (and batches refused by a
//!   full queue) are logged and counted, never returned.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream;
use redis::{Msg, PushInfo, PushKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, timeout, timeout_at};
use weco_domain::events::Envelope;

use crate::RealtimeError;
use crate::config::RealtimeConfig;
use crate::hub::{ChannelChanges, Hub};
use crate::metrics::Counters;
use crate::redis_link::{Link, Links};

/// The most PUBLISH commands sent in one pipeline when the queue has a backlog.
const MAX_PIPELINE: usize = 512;
/// The most channels named in one SUBSCRIBE/UNSUBSCRIBE.
const MAX_CHANNELS_PER_COMMAND: usize = 256;
/// How many failed channels a tick retries while retries keep failing. With a node down, each attempt at one of
/// its channels costs a connection attempt and up to `redis_timeout`; thousands of them every tick would hold
/// up the channels of the nodes that are up.
const RETRY_PROBE: usize = 16;
/// The most commands (or pipelines) in flight at once in one round. One Redis needs one or two per round;
/// on a Cluster nearly every channel has a slot of its own, and a round trip each, one after the other,
/// would make a burst of new channels wait on each other.
const MAX_CONCURRENT_COMMANDS: usize = 64;

/// One `publish` call's events, as (channel, JSON payload).
type Batch = Vec<(String, String)>;

pub(crate) struct RedisBackend {
    publisher: Link,
    subscriber: Link,
    queue: mpsc::Sender<Batch>,
    live: Arc<Live>,
    redis_timeout: Duration,
    subscribe_timeout: Duration,
    _control: AbortOnDrop,
}

/// Where the backend connects.
pub(crate) enum Target<'a> {
    /// One Redis, by URL.
    Single(&'a str),
    /// A Redis Cluster, by the URLs of some of its nodes.
    Cluster(&'a [String]),
}

impl RedisBackend {
    pub(crate) async fn connect(
        target: Target<'_>,
        hub: Arc<Hub>,
        changes: Arc<ChannelChanges>,
        counters: Arc<Counters>,
        config: &RealtimeConfig,
    ) -> Result<Self, RealtimeError> {
        let live = Arc::new(Live::default());
        let receiver = Receiver {
            hub: Arc::clone(&hub),
            changes: Arc::clone(&changes),
            live: Arc::clone(&live),
            resubscribe: matches!(target, Target::Cluster(_)),
        };
        let on_push = move |push: PushInfo| -> Result<(), Infallible> {
            receiver.handle(push);
            Ok(())
        };
        let Links { subscriber, publisher } = match target {
            Target::Single(url) => Links::single(url, on_push, config).await?,
            Target::Cluster(nodes) => Links::cluster(nodes, on_push, config).await?,
        };

        let (queue, queue_rx) = mpsc::channel(config.publish_queue.max(1));
        tokio::spawn(publish_loop(queue_rx, publisher.clone(), Arc::clone(&counters), config.redis_timeout));
        let control = tokio::spawn(control_loop(
            hub,
            changes,
            subscriber.clone(),
            Arc::clone(&live),
            config.health_interval,
            config.redis_timeout,
        ));
        Ok(Self {
            publisher,
            subscriber,
            queue,
            live,
            redis_timeout: config.redis_timeout,
            subscribe_timeout: config.subscribe_timeout,
            _control: AbortOnDrop(control),
        })
    }

    /// `"redis"` or `"redis-cluster"`.
    pub(crate) fn name(&self) -> &'static str {
        self.subscriber.name()
    }

    /// Queues a batch for PUBLISH. Never waits: a full queue means Redis is not keeping up, and the batch is lost.
    pub(crate) fn publish(&self, batch: Batch, counters: &Counters) {
        let n = batch.len() as u64;
        if let Err(e) = self.queue.try_send(batch) {
            Counters::add(&counters.publish_failures, n);
            let reason = match e {
                mpsc::error::TrySendError::Full(_) => "the publish queue is full (Redis slow or down)",
                mpsc::error::TrySendError::Closed(_) => "the publisher task has stopped",
            };
            tracing::warn!(events = n, reason, "realtime events dropped before reaching Redis");
        }
    }

    /// Whether Redis has confirmed the SUBSCRIBE for `channel`.
    pub(crate) fn is_live(&self, channel: &str) -> bool {
        self.live.contains(channel)
    }

    /// Waits (up to `subscribe_timeout`) until Redis has confirmed the SUBSCRIBE for `channel`.
    pub(crate) async fn wait_live(&self, channel: &str) -> bool {
        self.live.wait(channel, self.subscribe_timeout).await
    }

    /// PING on both connections (on a Cluster, on every primary of each), each bounded by `redis_timeout`.
    pub(crate) async fn ping(&self) -> Result<(), RealtimeError> {
        for link in [&self.publisher, &self.subscriber] {
            let mut link = link.clone();
            match timeout(self.redis_timeout, link.ping()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(RealtimeError::Redis(e)),
                Err(_) => return Err(RealtimeError::Timeout),
            }
        }
        Ok(())
    }
}

/// What the push handler of the subscriber link needs.
struct Receiver {
    hub: Arc<Hub>,
    changes: Arc<ChannelChanges>,
    live: Arc<Live>,
    /// Whether the backend resubscribes by itself after a disconnection (on a Cluster; see the module docs).
    resubscribe: bool,
}

impl Receiver {
    /// Handles one push: a message (a sharded one on a Cluster) for a channel with local subscribers is parsed
    /// once and fanned out; the rest are confirmations, notices that a node dropped a channel, and
    /// disconnection notices.
    fn handle(&self, push: PushInfo) {
        let hub = &self.hub;
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let Some(msg) = Msg::from_push_info(push) else { return };
                let channel = msg.get_channel_name();
                // A message can still arrive for a channel whose last subscriber just left (the UNSUBSCRIBE is
                // on its way); there is nobody to parse it for.
                if !hub.has_channel(channel) {
                    return;
                }
                let counters = hub.counters();
                Counters::add(&counters.received, 1);
                match std::str::from_utf8(msg.get_payload_bytes()).ok().and_then(Envelope::from_json) {
                    Some(envelope) => {
                        hub.dispatch(channel, Arc::new(envelope));
                    }
                    None => {
                        Counters::add(&counters.rejected, 1);
                        tracing::warn!(
                            channel,
                            "ignoring a realtime payload that is malformed or of an unknown version"
                        );
                    }
                }
            }
            PushKind::SUnsubscribe if self.resubscribe => {
                // Our own SUNSUBSCRIBE is confirmed for a channel the hub no longer has. One the hub still has
                // was dropped by the node (its slot moved to another): subscribe it again, at its new owner.
                let Some(channel) = push.data.first().and_then(|c| redis::from_redis_value_ref::<String>(c).ok())
                else {
                    return;
                };
                if hub.has_channel(&channel) && self.live.mark_stale(&channel) {
                    // What is published there until the new owner has the subscription is lost.
                    hub.signal_gap_on(&channel);
                    self.changes.mark(&channel);
                }
            }
            PushKind::Disconnection => {
                Counters::add(&hub.counters().disconnections, 1);
                tracing::warn!("the Redis pub/sub connection was lost; reconnecting and resubscribing");
                // What is published until the subscriptions are back never arrives: subscribers resync. On a
                // Cluster the notice is for one node, but it does not say which, nor which channels that node
                // carried: every subscriber resyncs, which costs each a database read and loses nothing.
                hub.signal_gap();
                if self.resubscribe {
                    // Again, which channels were on that node is unknown: SSUBSCRIBE is idempotent, so every
                    // confirmed channel is subscribed again; those on nodes that stayed up are confirmed at once.
                    for channel in self.live.mark_all_stale() {
                        self.changes.mark(&channel);
                    }
                }
            }
            _ => {}
        }
    }
}

async fn publish_loop(mut queue: mpsc::Receiver<Batch>, link: Link, counters: Arc<Counters>, redis_timeout: Duration) {
    while let Some(mut batch) = queue.recv().await {
        // Whatever else is already waiting rides in the same round: under load, one round trip carries many
        // events. Order on each channel is kept: a channel's events share a group (one pipeline, in order),
        // and one publisher task finishes a round before it starts the next.
        while batch.len() < MAX_PIPELINE {
            match queue.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let groups = link.groups(batch, |(channel, _)| channel, MAX_PIPELINE);
        stream::iter(groups)
            .for_each_concurrent(MAX_CONCURRENT_COMMANDS, |group| {
                let (mut link, counters) = (link.clone(), &counters);
                async move {
                    let n = group.len() as u64;
                    match timeout(redis_timeout, link.publish(&group)).await {
                        Ok(Ok(())) => Counters::add(&counters.published, n),
                        Ok(Err(e)) => {
                            Counters::add(&counters.publish_failures, n);
                            tracing::warn!(events = n, error = %e, "publishing realtime events to Redis failed; they are lost");
                        }
                        Err(_) => {
                            Counters::add(&counters.publish_failures, n);
                            tracing::warn!(events = n, timeout = ?redis_timeout, "publishing realtime events to Redis timed out; they are lost");
                        }
                    }
                }
            })
            .await;
    }
}

async fn control_loop(
    hub: Arc<Hub>,
    changes: Arc<ChannelChanges>,
    mut link: Link,
    live: Arc<Live>,
    health_interval: Duration,
    redis_timeout: Duration,
) {
    // A zero interval would make `interval` panic.
    let mut tick = tokio::time::interval(health_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut retries = Retries::default();
    let mut retry_now = false;
    loop {
        let ticked = tokio::select! {
            () = changes.notify.notified() => false,
            _ = tick.tick() => {
                // One Redis: the manager reconnects on a disconnection notice, but gives up after a few
                // attempts; a command on it starts a new round, so a long outage still ends with the
                // subscriptions restored. (A Cluster connection keeps trying by itself; this costs it a PING.)
                let ping = timeout(redis_timeout, link.ping()).await;
                if !matches!(ping, Ok(Ok(()))) {
                    tracing::debug!(error = %describe(ping), "the Redis pub/sub connection is not answering");
                }
                true
            }
        };

        let mut channels = changes.take();
        let probing = retries.probing;
        let retried =
            if ticked || retry_now { retries.take(if probing { RETRY_PROBE } else { usize::MAX }) } else { Vec::new() };
        retry_now = false;
        channels.extend(retried.iter().cloned());

        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        for channel in channels {
            let (wanted, (confirmed, stale)) = (hub.has_channel(&channel), live.state(&channel));
            if wanted && (!confirmed || stale) {
                subscribe.push(channel);
            } else if !wanted && confirmed {
                unsubscribe.push(channel);
            }
        }
        let mut failed = reconcile(&link, &live, Change::Subscribe, subscribe, redis_timeout).await;
        failed.extend(reconcile(&link, &live, Change::Unsubscribe, unsubscribe, redis_timeout).await);

        if !retried.is_empty() {
            // Every retry failed: Redis (or a node) is still away, so the next ticks only probe. One went
            // through: it is back, and the others need not wait for the next tick.
            retries.probing = retried.iter().all(|channel| failed.contains(channel));
            retry_now = probing && !retries.probing && !retries.channels.is_empty();
        }
        retries.channels.extend(failed);
        if retry_now {
            changes.notify.notify_one();
        }
    }
}

/// Channels whose last change failed, to try again on the next tick.
#[derive(Debug, Default)]
struct Retries {
    channels: HashSet<String>,
    /// The last retries all failed: retry only [`RETRY_PROBE`] of them per tick.
    probing: bool,
}

impl Retries {
    fn take(&mut self, limit: usize) -> Vec<String> {
        let taken: Vec<String> = self.channels.iter().take(limit).cloned().collect();
        for channel in &taken {
            self.channels.remove(channel);
        }
        taken
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Subscribe,
    Unsubscribe,
}

/// Takes `channels` to Redis as one kind of change, in as few commands as the link allows, concurrently; marks
/// the confirmed ones live (or not), and returns those whose command failed.
async fn reconcile(
    link: &Link,
    live: &Live,
    change: Change,
    channels: Vec<String>,
    redis_timeout: Duration,
) -> HashSet<String> {
    let groups = link.groups(channels, String::as_str, MAX_CHANNELS_PER_COMMAND);
    let outcomes: Vec<Option<Vec<String>>> = stream::iter(groups)
        .map(|group| {
            let mut link = link.clone();
            async move {
                let sent = match change {
                    Change::Subscribe => timeout(redis_timeout, link.subscribe(&group)).await,
                    Change::Unsubscribe => timeout(redis_timeout, link.unsubscribe(&group)).await,
                };
                match sent {
                    Ok(Ok(())) => {
                        live.set(&group, change == Change::Subscribe);
                        None
                    }
                    failed => {
                        tracing::warn!(?change, channels = group.len(), error = %describe(failed), "a subscription change failed; will retry");
                        Some(group)
                    }
                }
            }
        })
        .buffer_unordered(MAX_CONCURRENT_COMMANDS)
        .collect()
        .await;
    outcomes.into_iter().flatten().flatten().collect()
}

fn describe(result: Result<redis::RedisResult<()>, tokio::time::error::Elapsed>) -> String {
    match result {
        Ok(Ok(())) => "none".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    }
}

/// The channels Redis has confirmed (and of those, the ones to subscribe again), and a version bumped on every
/// change so waiters can wake.
#[derive(Debug)]
struct Live {
    state: Mutex<LiveState>,
    version: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct LiveState {
    confirmed: HashSet<String>,
    /// Confirmed channels that Redis may have dropped since (their node's connection was lost, or their slot
    /// moved): still live as far as `is_live` goes, as on one Redis during an outage, but due a SUBSCRIBE.
    stale: HashSet<String>,
}

impl Default for Live {
    fn default() -> Self {
        Self { state: Mutex::default(), version: watch::Sender::new(0) }
    }
}

impl Live {
    fn contains(&self, channel: &str) -> bool {
        self.lock().confirmed.contains(channel)
    }

    /// Whether `channel` is confirmed, and whether it is stale.
    fn state(&self, channel: &str) -> (bool, bool) {
        let state = self.lock();
        (state.confirmed.contains(channel), state.stale.contains(channel))
    }

    fn set(&self, channels: &[String], live: bool) {
        {
            let mut state = self.lock();
            for channel in channels {
                state.stale.remove(channel);
                if live {
                    state.confirmed.insert(channel.clone());
                } else {
                    state.confirmed.remove(channel);
                }
            }
        }
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Marks a confirmed channel stale; false if it is not confirmed (nothing to redo).
    fn mark_stale(&self, channel: &str) -> bool {
        let mut state = self.lock();
        if !state.confirmed.contains(channel) {
            return false;
        }
        state.stale.insert(channel.to_owned());
        true
    }

    /// Marks every confirmed channel stale and returns them.
    fn mark_all_stale(&self) -> Vec<String> {
        let mut state = self.lock();
        let confirmed: Vec<String> = state.confirmed.iter().cloned().collect();
        state.stale.extend(confirmed.iter().cloned());
        confirmed
    }

    async fn wait(&self, channel: &str, limit: Duration) -> bool {
        // Subscribed before the first check, so a confirmation between the check and the wait still wakes us.
        let mut changed = self.version.subscribe();
        let deadline = Instant::now() + limit;
        loop {
            if self.contains(channel) {
                return true;
            }
            match timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return self.contains(channel),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, LiveState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the control task with the bus (it holds only the hub and a connection clone, so nothing else would).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
