//! The in-process bus and the hub behind every bus: fan-out, unsubscription on drop, lagging subscribers.

mod common;

use std::sync::Arc;

use common::{assert_idle, likes, next, stats};
use weco_domain::events::Delivery;
use weco_domain::ids::PostId;
use weco_domain::ports::EventBus;
use weco_realtime::{RealtimeBus, RealtimeConfig};

#[tokio::test]
async fn every_subscriber_of_a_topic_receives_each_event_once_and_other_topics_receive_nothing() {
    let bus = RealtimeBus::in_process(RealtimeConfig::default());
    let (post, other) = (PostId::generate(), PostId::generate());
    let mut subscribers: Vec<_> = (0..3).map(|_| bus.subscribe(stats(post, 0).topic)).collect();
    let mut bystander = bus.subscribe(stats(other, 0).topic);

    bus.publish(vec![stats(post, 1), stats(post, 2)]).await;

    let mut first = Vec::new();
    for subscriber in &mut subscribers {
        let one = next(subscriber).await;
        assert_eq!(likes(&one), 1);
        assert_eq!(likes(&next(subscriber).await), 2);
        first.push(one);
    }
    // One envelope shared by every subscriber, not a copy each.
    let [Delivery::Event(a), Delivery::Event(b), Delivery::Event(c)] = first.as_slice() else {
        panic!("expected three events, got {first:?}")
    };
    assert!(Arc::ptr_eq(a, b) && Arc::ptr_eq(b, c));
    for subscriber in &mut subscribers {
        assert_idle(subscriber);
    }
    assert_idle(&mut bystander);

    let m = bus.metrics();
    assert_eq!((m.events_published, m.events_delivered, m.publish_failures), (2, 6, 0));
    assert_eq!((m.active_channels, m.active_subscribers), (2, 4));
}

#[tokio::test]
async fn dropping_the_last_subscriber_of_a_topic_removes_its_channel() {
    let bus = RealtimeBus::in_process(RealtimeConfig::default());
    let (post, other) = (PostId::generate(), PostId::generate());
    let topic = stats(post, 0).topic;
    let first = bus.subscribe(topic);
    let second = bus.subscribe(topic);
    let third = bus.subscribe(stats(other, 0).topic);
    assert_eq!((bus.hub().channel_count(), bus.hub().subscriber_count()), (2, 3));
    assert!(bus.is_live(&topic));

    drop(first);
    assert_eq!((bus.hub().channel_count(), bus.hub().subscriber_count()), (2, 2));
    drop(second);
    assert_eq!(bus.hub().channel_count(), 1);
    assert!(!bus.is_live(&topic));
    drop(third);
    assert_eq!((bus.hub().channel_count(), bus.hub().subscriber_count()), (0, 0));
    let m = bus.metrics();
    assert_eq!((m.active_channels, m.active_subscribers), (0, 0));

    // Publishing to a topic nobody listens to is fine and delivers nothing.
    bus.publish(vec![stats(post, 1)]).await;
    assert_eq!(bus.metrics().events_delivered, 0);

    // And the topic can be subscribed again.
    let mut again = bus.subscribe(topic);
    bus.publish(vec![stats(post, 2)]).await;
    assert_eq!(likes(&next(&mut again).await), 2);
}

#[tokio::test]
async fn a_slow_subscriber_is_told_it_lagged_while_a_fast_one_gets_everything() {
    let bus = RealtimeBus::in_process(RealtimeConfig { capacity: 4, ..RealtimeConfig::default() });
    let post = PostId::generate();
    let mut fast = bus.subscribe(stats(post, 0).topic);
    let mut slow = bus.subscribe(stats(post, 0).topic);

    for i in 0..10 {
        bus.publish(vec![stats(post, i)]).await;
        assert_eq!(likes(&next(&mut fast).await), i, "the fast subscriber is never held back");
    }

    // The slow one lost the six oldest, is told so, then gets the four the buffer kept.
    assert_eq!(next(&mut slow).await, Delivery::Lagged(6));
    for i in 6..10 {
        assert_eq!(likes(&next(&mut slow).await), i);
    }
    assert_idle(&mut slow);

    let m = bus.metrics();
    assert_eq!((m.deliveries_dropped, m.events_delivered), (6, 14));
}

#[tokio::test]
async fn the_in_process_bus_is_always_ready_and_names_channels_with_its_prefix() {
    let bus = RealtimeBus::in_process(RealtimeConfig::with_prefix("custom"));
    assert!(bus.ping().await.is_ok());
    assert_eq!(bus.backend_name(), "in-process");
    let topic = stats(PostId::generate(), 0).topic;
    assert!(bus.channel(&topic).starts_with("custom:post:"));

    // Confirmed subscriptions need no round trip in-process.
    let mut stream = bus.subscribe_confirmed(topic).await;
    bus.publish(vec![stats(PostId::generate(), 0)]).await;
    assert_idle(&mut stream);
}
