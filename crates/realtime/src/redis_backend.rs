//! The Redis side of the bus: one pub/sub connection per process, one publishing connection, two small tasks.
//!
//! - **Receiving.** A `ConnectionManager` on RESP3 with a push sender and automatic resubscription: when the
//!   socket dies it reconnects and replays SUBSCRIBE for every channel it had confirmed (a plain
//!   `aio::PubSub` would silently stay dead). Its push sender is a closure that parses each message once and
//!   hands the shared envelope to the hub; it runs on the manager's own push-forwarding task, so there is no
//!   extra queue between Redis and the hub.
//! - **Subscribing.** The hub marks channels that gained their first or lost their last local subscriber; the
//!   control task reconciles each with Redis (SUBSCRIBE/UNSUBSCRIBE, batched), retries failures every
//!   `health_interval`, and pings the connection at that pace so a connection whose reconnect attempts ran
//!   out tries again.
//! - **Publishing.** `publish` never waits for Redis: batches go into a bounded queue that a publisher task
//!   drains into pipelined PUBLISHes on a second `ConnectionManager`. With Redis down, each attempt is bounded by
//!   `redis_timeout`; failures (and batches refused by a full queue) are logged and counted, never returned.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, Msg, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, timeout, timeout_at};
use weco_domain::events::Envelope;

use crate::RealtimeError;
use crate::config::RealtimeConfig;
use crate::hub::{ChannelChanges, Hub};
use crate::metrics::Counters;

/// The most PUBLISH commands sent in one pipeline when the queue has a backlog.
const MAX_PIPELINE: usize = 512;
/// The most channels named in one SUBSCRIBE/UNSUBSCRIBE.
const MAX_CHANNELS_PER_COMMAND: usize = 256;

/// One `publish` call's events, as (channel, JSON payload).
type Batch = Vec<(String, String)>;

pub(crate) struct RedisBackend {
    publisher: ConnectionManager,
    subscriber: ConnectionManager,
    queue: mpsc::Sender<Batch>,
    live: Arc<Live>,
    redis_timeout: Duration,
    subscribe_timeout: Duration,
    _control: AbortOnDrop,
}

impl RedisBackend {
    pub(crate) async fn connect(
        url: &str,
        hub: Arc<Hub>,
        changes: Arc<ChannelChanges>,
        counters: Arc<Counters>,
        config: &RealtimeConfig,
    ) -> Result<Self, RealtimeError> {
        // Push messages and automatic resubscription exist only on RESP3; setting it here rather than asking
        // for `?protocol=resp3` in the URL means any ordinary redis:// URL works.
        let info = url.into_connection_info().map_err(RealtimeError::InvalidUrl)?;
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings)).map_err(RealtimeError::InvalidUrl)?;

        let push_hub = Arc::clone(&hub);
        let on_push = move |push: PushInfo| -> Result<(), Infallible> {
            handle_push(&push_hub, push);
            Ok(())
        };
        let base = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.redis_timeout))
            .set_response_timeout(Some(config.redis_timeout))
            .set_max_delay(Duration::from_secs(1));
        let subscriber_config = base.clone().set_push_sender(on_push).set_automatic_resubscription();
        // The manager retries the initial connection with backoff on its own; the budget keeps a server that
        // starts while Redis is unreachable from hanging for long.
        let budget = config.redis_timeout.saturating_mul(3);
        let subscriber = connect(&client, subscriber_config, budget).await?;
        let publisher = connect(&client, base.set_number_of_retries(2), budget).await?;

        let live = Arc::new(Live::default());
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

    /// PING on both connections, each bounded by `redis_timeout`.
    pub(crate) async fn ping(&self) -> Result<(), RealtimeError> {
        for manager in [&self.publisher, &self.subscriber] {
            let mut manager = manager.clone();
            match timeout(self.redis_timeout, redis::cmd("PING").query_async::<()>(&mut manager)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(RealtimeError::Redis(e)),
                Err(_) => return Err(RealtimeError::Timeout),
            }
        }
        Ok(())
    }
}

async fn connect(
    client: &Client,
    config: ConnectionManagerConfig,
    budget: Duration,
) -> Result<ConnectionManager, RealtimeError> {
    match timeout(budget, client.get_connection_manager_with_config(config)).await {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(e)) => Err(RealtimeError::Connect(e)),
        Err(_) => Err(RealtimeError::Timeout),
    }
}

/// Handles one push from the pub/sub connection: a message for a channel with local subscribers is parsed once
/// and fanned out; everything else is a confirmation or a disconnection notice.
fn handle_push(hub: &Hub, push: PushInfo) {
    match push.kind {
        PushKind::Message => {
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
                    tracing::warn!(channel, "ignoring a realtime payload that is malformed or of an unknown version");
                }
            }
        }
        PushKind::Disconnection => {
            Counters::add(&hub.counters().disconnections, 1);
            tracing::warn!("the Redis pub/sub connection was lost; reconnecting and resubscribing");
            // What is published until the subscriptions are back never arrives: subscribers resync.
            hub.signal_gap();
        }
        _ => {}
    }
}

async fn publish_loop(
    mut queue: mpsc::Receiver<Batch>,
    mut conn: ConnectionManager,
    counters: Arc<Counters>,
    redis_timeout: Duration,
) {
    while let Some(mut batch) = queue.recv().await {
        // Whatever else is already waiting rides in the same pipeline: under load, one round trip carries many
        // events, and order is kept because there is one publisher task.
        while batch.len() < MAX_PIPELINE {
            match queue.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let n = batch.len() as u64;
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        match timeout(redis_timeout, pipe.exec_async(&mut conn)).await {
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
}

async fn control_loop(
    hub: Arc<Hub>,
    changes: Arc<ChannelChanges>,
    mut conn: ConnectionManager,
    live: Arc<Live>,
    health_interval: Duration,
    redis_timeout: Duration,
) {
    // A zero interval would make `interval` panic.
    let mut tick = tokio::time::interval(health_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = changes.notify.notified() => {}
            _ = tick.tick() => {
                // The manager reconnects on a disconnection notice, but gives up after a few attempts; a command
                // on it starts a new round, so a long outage still ends with the subscriptions restored.
                let ping = timeout(redis_timeout, redis::cmd("PING").query_async::<()>(&mut conn)).await;
                if !matches!(ping, Ok(Ok(()))) {
                    tracing::debug!(error = %describe(ping), "the Redis pub/sub connection is not answering");
                }
            }
        }

        let mut subscribe = Vec::new();
        let mut unsubscribe = Vec::new();
        for channel in changes.take() {
            match (hub.has_channel(&channel), live.contains(&channel)) {
                (true, false) => subscribe.push(channel),
                (false, true) => unsubscribe.push(channel),
                _ => {}
            }
        }
        for chunk in subscribe.chunks(MAX_CHANNELS_PER_COMMAND) {
            match timeout(redis_timeout, conn.subscribe(chunk)).await {
                Ok(Ok(())) => live.set(chunk, true),
                failed => {
                    tracing::warn!(channels = chunk.len(), error = %describe(failed), "SUBSCRIBE failed; will retry");
                    changes.requeue(chunk.iter().cloned());
                }
            }
        }
        for chunk in unsubscribe.chunks(MAX_CHANNELS_PER_COMMAND) {
            match timeout(redis_timeout, conn.unsubscribe(chunk)).await {
                Ok(Ok(())) => live.set(chunk, false),
                failed => {
                    tracing::warn!(channels = chunk.len(), error = %describe(failed), "UNSUBSCRIBE failed; will retry");
                    changes.requeue(chunk.iter().cloned());
                }
            }
        }
    }
}

fn describe(result: Result<redis::RedisResult<()>, tokio::time::error::Elapsed>) -> String {
    match result {
        Ok(Ok(())) => "none".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    }
}

/// The channels Redis has confirmed, and a version bumped on every change so waiters can wake.
#[derive(Debug)]
struct Live {
    channels: Mutex<HashSet<String>>,
    version: watch::Sender<u64>,
}

impl Default for Live {
    fn default() -> Self {
        Self { channels: Mutex::default(), version: watch::Sender::new(0) }
    }
}

impl Live {
    fn contains(&self, channel: &str) -> bool {
        self.lock().contains(channel)
    }

    fn set(&self, channels: &[String], live: bool) {
        {
            let mut set = self.lock();
            for channel in channels {
                if live {
                    set.insert(channel.clone());
                } else {
                    set.remove(channel);
                }
            }
        }
        self.version.send_modify(|v| *v = v.wrapping_add(1));
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

    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stops the control task with the bus (it holds only the hub and a connection clone, so nothing else would).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
