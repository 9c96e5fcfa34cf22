//! The Redis bus: replicas sharing a Redis, unsubscription, bad payloads, and Redis going away and coming back.
//!
//! The first tests use the shared Redis at `WECO_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); the fault
//! tests start their own `redis-server` child on a free port so they can kill it. Without Redis the tests print
//! SKIPPED and pass, unless `WECO_REQUIRE_SERVICES=1`.

mod common;

use std::sync::Arc;
use std::time::Duration;

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
    // Once Redis has acknowledged A's PUBLISH, whatever it sends on the channel comes after that event: the next
    // event published is the next one each subscriber gets, with no second copy of event 2 before it.
    metrics_eventually(&a, "Redis to acknowledge A's PUBLISH", |m| m.events_published == 1).await;
    b.publish(vec![stats(post, 3)]).await;
    assert_eq!(likes(&next(&mut first).await), 3, "event 2 came once");
    assert_eq!(likes(&next(&mut second).await), 3, "event 2 came once");

    assert_eq!(b.hub().channel_count(), 0, "B has no subscribers, so it subscribed to nothing");
    metrics_eventually(&b, "Redis to acknowledge B's two PUBLISHes", |m| m.events_published == 2).await;
    let (ma, mb) = (a.metrics(), b.metrics());
    assert_eq!((ma.events_received, ma.events_delivered, ma.events_published), (3, 6, 1));
    assert_eq!((mb.events_published, mb.events_received, mb.publish_failures), (2, 0, 0));
}

#[tokio::test]
async fn dropping_the_last_subscriber_unsubscribes_the_channel_in_redis() {
    let Some(url) = shared_redis().await else { return };
    let bus = bus(&url, test_config()).await;
    let topic = space_topic();
    let channel = bus.channel(&topic);
    let first = bus.subscribe_confirmed(topic).await;
    let second = bus.subscribe_confirmed(topic).await;
    // A second channel, whose only subscriber leaves after `first`.
    let marker = space_topic();
    let marker_channel = bus.channel(&marker);
    let marker_subscriber = bus.subscribe_confirmed(marker).await;
    assert_eq!(numsub(&url, &channel).await, 1);

    drop(first);
    drop(marker_subscriber);
    // The bus takes channel changes to Redis in order, on one connection: once the marker channel is gone from
    // Redis, whatever dropping `first` set off has reached Redis too.
    eventually("Redis to drop the marker channel", async || numsub(&url, &marker_channel).await == 0).await;
    assert_eq!(numsub(&url, &channel).await, 1, "one local subscriber is left");
    assert!(bus.is_live(&topic));

    drop(second);
    assert_eq!(bus.hub().channel_count(), 0);
    assert_eq!(bus.metrics().active_channels, 0);
    eventually("PUBSUB NUMSUB to go back to 0", async || numsub(&url, &channel).await == 0).await;
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
    let nowhere = format!("redis://127.0.0.1:{}", free_port());
    let building = RealtimeBus::redis(&nowhere, test_config());
    let result = tokio::time::timeout(Duration::from_secs(5), building).await;
    assert!(result.is_ok_and(|r| r.is_err()), "building must fail, within 5 s");
    assert!(RealtimeBus::redis("not a url", test_config()).await.is_err());
}

#[tokio::test]
async fn publishing_while_redis_is_down_neither_errors_nor_hangs_and_is_counted() {
    let Some(mut redis) = OwnRedis::start().await else { return };
    let bus = bus(&redis.url(), test_config()).await;
    let post = PostId::generate();
    let _stream = bus.subscribe_confirmed(stats(post, 0).topic).await;
    redis.kill().await;

    tokio::time::timeout(Duration::from_secs(1), bus.publish(vec![stats(post, 1), stats(post, 2)]))
        .await
        .unwrap_or_else(|_| panic!("publish blocked while Redis is down"));
    metrics_eventually(&bus, "the failed publish to be counted", |m| m.publish_failures == 2).await;
    assert_eq!(bus.metrics().events_published, 0);

    let ping = tokio::time::timeout(Duration::from_secs(3), bus.ping()).await;
    assert!(ping.is_ok_and(|p| p.is_err()), "readiness must fail while Redis is down, within 3 s");
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
    metrics_eventually(&publisher, "the publish while Redis was down to be counted", |m| m.publish_failures >= 1).await;
    redis.spawn().await.unwrap_or_else(|e| panic!("cannot restart redis-server: {e}"));

    // The subscriber hears that events may have been lost while the connection was down.
    assert!(matches!(next(&mut stream).await, Delivery::Lagged(0)), "a gap is signalled");
    // Nobody resubscribes by hand: the bus does. Events published before it has are lost (pub/sub is
    // at-most-once), so publish once Redis has the subscription again and the publisher reaches it.
    let channel = subscriber.channel(&topic);
    eventually("the subscriber's channel to be resubscribed in Redis", async || numsub(&url, &channel).await == 1)
        .await;
    eventually("the publisher to reach Redis again", async || publisher.ping().await.is_ok()).await;
    publisher.publish(vec![stats(post, 101)]).await;
    let received = next(&mut stream).await;
    assert_eq!(likes(&received), 101, "got {received:?}, which was published before the restart");
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
    // Not a wait for something: the outage itself is what is under test, and it must outlast the connection
    // manager's own reconnect attempts, which end unobserved after a few seconds of backoff.
    tokio::time::sleep(Duration::from_secs(6)).await;
    redis.spawn().await.unwrap_or_else(|e| panic!("cannot restart redis-server: {e}"));

    let channel = bus.channel(&topic);
    eventually("the channel to be resubscribed in Redis", async || numsub(&url, &channel).await == 1).await;
    // The publishing connection recovers too (the first command after the outage may still fail): once it
    // answers, what is published arrives.
    eventually("both connections to answer again", async || bus.ping().await.is_ok()).await;
    bus.publish(vec![stats(post, 1)]).await;
    // Each lost connection was signalled as a gap (as many as the reconnect attempts that failed).
    let mut delivery = next(&mut stream).await;
    let mut gaps = 0;
    while matches!(delivery, Delivery::Lagged(0)) {
        gaps += 1;
        delivery = next(&mut stream).await;
    }
    assert!(gaps >= 1, "the outage is signalled");
    assert_eq!(likes(&delivery), 1, "publishing did not recover: {:?}", bus.metrics());
}
