//! The Redis bus: replicas sharing a Redis, unsubscription, bad payloads, and Redis going away and coming back.
//!
//! The first tests use the shared Redis at `WECO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); the fault
//! tests start their own `redis-server` child on a free port so they can kill it. Without Redis the tests print
//! SKIPPED and pass, unless `WECO_REQUIRE_SERVICES=1`.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use weco_domain::events::Delivery;
use weco_domain::ids::PostId;
use weco_domain::ports::EventBus;
use weco_realtime::{RealtimeBus, RealtimeConfig};

async fn bus(url: &str, config: RealtimeConfig) -> RealtimeBus {
    RealtimeBus::redis(url, config).await.unwrap_or_else(|e| panic!("cannot build a Redis bus on {url}: {e}"))
}

#[tokio::test]
async fn a_subscriber_on_one_replica_receives_what_another_replica_publishes_exactly_once() {
    let Some(url) = shared_redis().await else { return };
    let config = test_config();
    let (a, b) = (bus(&url, config.clone()).await, bus(&url, config).await);
    let post = PostId::generate();
    let topic = stats(post, 0).topic;
    let mut first = a.subscribe_confirmed(topic).await;
    let mut second = a.subscribe_confirmed(topic).await;
    assert!(a.is_live(&topic));
    // Two local subscribers, one Redis subscription: the process shares its pub/sub connection.
    assert_eq!(numsub(&url, &a.channel(&topic)).await, 1);

    b.publish(vec![stats(post, 1)]).await;
    let (x, y) = (next(&mut first).await, next(&mut second).await);
    assert_eq!((likes(&x), likes(&y)), (1, 1));
    // Parsed once on arrival and shared.
    let (Delivery::Event(x), Delivery::Event(y)) = (&x, &y) else { unreachable!("likes() accepted only events") };
    assert!(Arc::ptr_eq(x, y));

    // A replica's own events reach its own subscribers through Redis, also exactly once.
    a.publish(vec![stats(post, 2)]).await;
    assert_eq!(likes(&next(&mut first).await), 2);
    assert_eq!(likes(&next(&mut second).await), 2);
    assert_quiet(&mut first, 300).await;
    assert_quiet(&mut second, 300).await;

    assert_eq!(b.hub().channel_count(), 0, "B has no subscribers, so it subscribed to nothing");
    let (ma, mb) = (a.metrics(), b.metrics());
    assert_eq!((ma.events_received, ma.events_delivered, ma.events_published), (2, 4, 1));
    assert_eq!((mb.events_published, mb.events_received, mb.publish_failures), (1, 0, 0));
}

#[tokio::test]
async fn dropping_the_last_subscriber_unsubscribes_the_channel_in_redis() {
    let Some(url) = shared_redis().await else { return };
    let bus = bus(&url, test_config()).await;
    let topic = space_topic();
    let channel = bus.channel(&topic);
    let first = bus.subscribe_confirmed(topic).await;
    let second = bus.subscribe_confirmed(topic).await;
    assert_eq!(numsub(&url, &channel).await, 1);

    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(numsub(&url, &channel).await, 1, "one local subscriber is left");

    drop(second);
    assert_eq!(bus.hub().channel_count(), 0);
    assert_eq!(bus.metrics().active_channels, 0);
    assert!(
        eventually(Duration::from_secs(3), async || numsub(&url, &channel).await == 0).await,
        "PUBSUB NUMSUB did not go back to 0"
    );
    assert!(!bus.is_live(&topic));
}

#[tokio::test]
async fn a_malformed_payload_is_ignored_and_counted() {
    let Some(url) = shared_redis().await else { return };
    let bus = bus(&url, test_config()).await;
    let post = PostId::generate();
    let topic = stats(post, 0).topic;
    let mut stream = bus.subscribe_confirmed(topic).await;

    let mut raw = raw_connection(&url).await.unwrap_or_else(|e| panic!("{e}"));
    for garbage in ["not json", r#"{"v":99,"topic":{"Post":"x"},"event":{"type":"Future"}}"#] {
        redis::cmd("PUBLISH")
            .arg(bus.channel(&topic))
            .arg(garbage)
            .query_async::<i64>(&mut raw)
            .await
            .unwrap_or_else(|e| panic!("raw PUBLISH: {e}"));
    }
    bus.publish(vec![stats(post, 7)]).await;

    assert_eq!(likes(&next(&mut stream).await), 7, "the bad payloads were skipped, the good one delivered");
    assert_eq!(bus.metrics().payloads_rejected, 2);
    assert!(bus.ping().await.is_ok());
}

#[tokio::test]
async fn building_a_redis_bus_without_redis_fails_quickly() {
    let started = Instant::now();
    let result = RealtimeBus::redis(&format!("redis://127.0.0.1:{}", free_port()), test_config()).await;
    assert!(result.is_err());
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(RealtimeBus::redis("not a url", test_config()).await.is_err());
}

#[tokio::test]
async fn publishing_while_redis_is_down_neither_errors_nor_hangs_and_is_counted() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let bus = bus(&redis.url(), test_config()).await;
    let post = PostId::generate();
    let _stream = bus.subscribe_confirmed(stats(post, 0).topic).await;
    redis.kill().await;

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(1), bus.publish(vec![stats(post, 1), stats(post, 2)]))
        .await
        .unwrap_or_else(|_| panic!("publish blocked while Redis is down"));
    assert!(
        metrics_eventually(&bus, Duration::from_secs(5), |m| m.publish_failures == 2).await,
        "the failed publish was not counted: {:?}",
        bus.metrics()
    );
    assert_eq!(bus.metrics().events_published, 0);
    assert!(started.elapsed() < Duration::from_secs(5));

    let started = Instant::now();
    assert!(bus.ping().await.is_err(), "readiness must fail while Redis is down");
    assert!(started.elapsed() < Duration::from_secs(3), "ping took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_subscription_made_before_redis_restarts_receives_events_published_after_it() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let url = redis.url();
    let config = test_config();
    let (subscriber, publisher) = (bus(&url, config.clone()).await, bus(&url, config).await);
    let post = PostId::generate();
    let topic = stats(post, 0).topic;
    let mut stream = subscriber.subscribe_confirmed(topic).await;

    publisher.publish(vec![stats(post, 1)]).await;
    assert_eq!(likes(&next(&mut stream).await), 1);

    redis.kill().await;
    publisher.publish(vec![stats(post, 2)]).await;
    assert!(
        metrics_eventually(&publisher, Duration::from_secs(5), |m| m.publish_failures >= 1).await,
        "the publish while Redis was down was not counted: {:?}",
        publisher.metrics()
    );
    redis.spawn().await.unwrap_or_else(|e| panic!("cannot restart redis-server: {e}"));

    // Nobody resubscribes by hand: the bus does. Events published before it has are lost (pub/sub is
    // at-most-once), so keep publishing until one arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut likes_sent = 100;
    let received = loop {
        likes_sent += 1;
        publisher.publish(vec![stats(post, likes_sent)]).await;
        if let Ok(Some(delivery)) =
            tokio::time::timeout(Duration::from_millis(250), futures_util::StreamExt::next(&mut stream)).await
        {
            break Some(delivery);
        }
        if Instant::now() >= deadline {
            break None;
        }
    };
    let received =
        received.unwrap_or_else(|| panic!("nothing arrived within 10 s of the restart: {:?}", subscriber.metrics()));
    assert!(likes(&received) > 100, "got {received:?}, which was published before the restart");
    assert_eq!(numsub(&url, &subscriber.channel(&topic)).await, 1);
    assert!(subscriber.metrics().redis_disconnections >= 1);
    assert!(subscriber.ping().await.is_ok());
}

#[tokio::test]
async fn subscriptions_recover_even_after_an_outage_longer_than_the_connections_own_retries() {
    // The connection manager gives up reconnecting after a few seconds of backoff; the bus's health ping is
    // what starts it again, so a Redis that is down for a while (a pod being rescheduled) still comes back.
    let Some(mut redis) = OwnRedis::start().await else { return };
    let url = redis.url();
    let bus = bus(&url, test_config()).await;
    let post = PostId::generate();
    let topic = stats(post, 0).topic;
    let mut stream = bus.subscribe_confirmed(topic).await;

    redis.kill().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    redis.spawn().await.unwrap_or_else(|e| panic!("cannot restart redis-server: {e}"));

    assert!(
        eventually(Duration::from_secs(10), async || numsub(&url, &bus.channel(&topic)).await == 1).await,
        "the channel was not resubscribed: {:?}",
        bus.metrics()
    );
    // The publishing connection recovers too (its first attempt after the outage may still fail).
    let mut delivered = None;
    for attempt in 0..20 {
        bus.publish(vec![stats(post, attempt)]).await;
        if let Ok(Some(delivery)) =
            tokio::time::timeout(Duration::from_millis(250), futures_util::StreamExt::next(&mut stream)).await
        {
            delivered = Some(delivery);
            break;
        }
    }
    assert!(delivered.is_some(), "publishing did not recover: {:?}", bus.metrics());
}
