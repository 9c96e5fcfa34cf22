//! The Redis Cluster bus: replicas sharing a three-node Redis Cluster through sharded pub/sub (SSUBSCRIBE,
//! SPUBLISH). Channels spread over every node, leave it with their last subscriber, recover when their node
//! crashes and comes back, and publishing rides out a node being down.
//!
//! Each test starts a cluster of its own (three `redis-server` children on free ports, joined with
//! `redis-cli --cluster create`), so it can kill a node. Without redis-server the tests print SKIPPED and
//! pass, unless `WECO_REQUIRE_SERVICES=1`.

mod common;

use std::time::Duration;

use common::*;
use weco_domain::events::{Delivery, Topic};
use weco_domain::ids::{PostId, SpaceId, UserId};
use weco_domain::ports::{EventBus, EventStream};
use weco_realtime::{RealtimeBus, RealtimeConfig};

async fn bus(cluster: &OwnCluster, config: RealtimeConfig) -> RealtimeBus {
    RealtimeBus::redis_cluster(&cluster.urls(), config)
        .await
        .unwrap_or_else(|e| panic!("cannot build a cluster bus on {:?}: {e}", cluster.urls()))
}

/// `n` topics of every kind (spaces, posts, users): enough channels that each node owns several.
fn topics(n: usize) -> Vec<Topic> {
    (0..n)
        .map(|i| match i % 3 {
            0 => Topic::Space(SpaceId::generate()),
            1 => Topic::Post(PostId::generate()),
            _ => Topic::User(UserId::generate()),
        })
        .collect()
}

/// The next delivery that is not a gap notice, and how many gap notices came before it.
async fn next_event(stream: &mut EventStream) -> (Delivery, usize) {
    let mut gaps = 0;
    loop {
        match next(stream).await {
            Delivery::Lagged(0) => gaps += 1,
            delivery => return (delivery, gaps),
        }
    }
}

/// Which of the three nodes owns each of `channels`, checked against where the bus actually subscribed them:
/// node by node, `PUBSUB SHARDCHANNELS` lists exactly the channels whose slot that node owns.
async fn subscriptions_by_node(cluster: &OwnCluster, prefix: &str, channels: &[String]) -> Vec<Vec<String>> {
    let owners = cluster.owners(0, channels).await;
    let mut by_node = Vec::new();
    for node in 0..3 {
        let mut expected: Vec<String> = channels.iter().filter(|c| owners[*c] == node).cloned().collect();
        expected.sort();
        let mut subscribed = cluster.shard_channels(node, &format!("{prefix}:*")).await;
        subscribed.sort();
        assert_eq!(subscribed, expected, "node {node} must hold exactly the subscriptions of the channels it owns");
        by_node.push(expected);
    }
    by_node
}

#[tokio::test]
async fn a_subscriber_on_one_replica_receives_what_another_publishes_on_channels_spread_over_every_node() {
    let Some(cluster) = OwnCluster::start().await else { return };
    let config = test_config();
    let prefix = config.prefix.clone();
    let (a, b) = (bus(&cluster, config.clone()).await, bus(&cluster, config).await);
    assert_eq!(a.backend_name(), "redis-cluster");

    // All at once, so the bus takes them to the cluster in one round: one SSUBSCRIBE per slot, each sent to
    // the node owning that slot.
    let topics = topics(90);
    let mut streams: Vec<EventStream> = topics.iter().map(|topic| a.subscribe(*topic)).collect();
    eventually("every channel to be confirmed", async || topics.iter().all(|t| a.is_live(t))).await;
    let channels: Vec<String> = topics.iter().map(|t| a.channel(t)).collect();
    let by_node = subscriptions_by_node(&cluster, &prefix, &channels).await;
    let spread: Vec<usize> = by_node.iter().map(Vec::len).collect();
    eprintln!("{} channels over the three nodes: {spread:?}", channels.len());
    assert!(spread.iter().all(|&n| n > 0), "every node carries some of the channels: {spread:?}");

    // B publishes two events on every channel in one batch; A's subscriber of each gets exactly its own two,
    // in order.
    let mut events: Vec<_> = topics.iter().enumerate().map(|(i, t)| stats_on(*t, i as i64)).collect();
    events.extend(topics.iter().enumerate().map(|(i, t)| stats_on(*t, 1000 + i as i64)));
    b.publish(events).await;
    for (i, stream) in streams.iter_mut().enumerate() {
        assert_eq!(likes(&next(stream).await), i as i64);
        assert_eq!(likes(&next(stream).await), 1000 + i as i64);
    }
    metrics_eventually(&b, "the cluster to acknowledge every SPUBLISH", |m| m.events_published == 180).await;
    let (ma, mb) = (a.metrics(), b.metrics());
    assert_eq!((ma.events_received, ma.events_delivered, ma.active_channels, ma.publish_failures), (180, 180, 90, 0));
    assert_eq!((mb.events_received, mb.publish_failures, mb.active_channels), (0, 0, 0));
    assert!(a.ping().await.is_ok() && b.ping().await.is_ok());
}

#[tokio::test]
async fn dropping_the_last_subscriber_sunsubscribes_the_channel_on_its_node() {
    let Some(cluster) = OwnCluster::start().await else { return };
    let config = test_config();
    let prefix = config.prefix.clone();
    let bus = bus(&cluster, config).await;
    let topic = space_topic();
    let channel = bus.channel(&topic);
    let owner = cluster.owner(0, &channel).await;
    let first = bus.subscribe_confirmed(topic).await;
    let second = bus.subscribe_confirmed(topic).await;
    // Two local subscribers, one subscription on the owning node: the process shares its connection.
    assert_eq!(cluster.shard_numsub(owner, &channel).await, 1);

    drop(first);
    assert!(bus.is_live(&topic), "one local subscriber is left");
    drop(second);
    assert_eq!((bus.hub().channel_count(), bus.metrics().active_channels), (0, 0));
    eventually("SUNSUBSCRIBE to reach the owning node", async || cluster.shard_numsub(owner, &channel).await == 0)
        .await;
    assert!(!bus.is_live(&topic));

    // Many channels leaving at once leave every node.
    let topics = topics(30);
    let streams: Vec<EventStream> = topics.iter().map(|topic| bus.subscribe(*topic)).collect();
    eventually("every channel to be confirmed", async || topics.iter().all(|t| bus.is_live(t))).await;
    drop(streams);
    eventually("every node to drop every channel", async || {
        let mut left = 0;
        for node in 0..3 {
            left += cluster.shard_channels(node, &format!("{prefix}:*")).await.len();
        }
        left == 0
    })
    .await;
    assert!(topics.iter().all(|t| !bus.is_live(t)));
}

#[tokio::test]
async fn subscriptions_on_a_node_that_crashes_and_restarts_recover_by_themselves_after_a_signalled_gap() {
    let Some(mut cluster) = OwnCluster::start().await else { return };
    let config = test_config();
    let prefix = config.prefix.clone();
    let (subscriber, publisher) = (bus(&cluster, config.clone()).await, bus(&cluster, config).await);
    let topics = topics(30);
    let mut streams = Vec::new();
    for topic in &topics {
        streams.push(subscriber.subscribe_confirmed(*topic).await);
    }
    let channels: Vec<String> = topics.iter().map(|t| subscriber.channel(t)).collect();
    let owners = cluster.owners(0, &channels).await;
    let victim = owners[&channels[0]];
    let mut on_victim: Vec<String> = channels.iter().filter(|c| owners[*c] == victim).cloned().collect();
    on_victim.sort();

    publisher.publish(topics.iter().enumerate().map(|(i, t)| stats_on(*t, i as i64)).collect()).await;
    for (i, stream) in streams.iter_mut().enumerate() {
        assert_eq!(likes(&next(stream).await), i as i64);
    }

    cluster.kill(victim);
    // Every subscriber hears that events may have been lost (the notice does not say which node went away).
    for stream in &mut streams {
        assert_eq!(next(stream).await, Delivery::Lagged(0), "a gap is signalled");
    }
    cluster.restart(victim).await;

    // Nobody resubscribes by hand: the bus's connection does when it reaches the node again.
    let survivor = (victim + 1) % 3;
    eventually("the restarted node to hold its channels' subscriptions again", async || {
        let mut now = cluster.shard_channels(victim, &format!("{prefix}:*")).await;
        now.sort();
        now == on_victim
    })
    .await;
    subscriptions_by_node(&cluster, &prefix, &channels).await;
    eventually("the publisher to reach every node again", async || publisher.ping().await.is_ok()).await;

    publisher.publish(topics.iter().enumerate().map(|(i, t)| stats_on(*t, 100 + i as i64)).collect()).await;
    for (i, stream) in streams.iter_mut().enumerate() {
        let (delivery, _) = next_event(stream).await;
        assert_eq!(likes(&delivery), 100 + i as i64, "channel {} (owner {})", channels[i], owners[&channels[i]]);
    }
    let m = subscriber.metrics();
    assert!(m.redis_disconnections >= 1, "{m:?}");
    assert_eq!(m.active_channels, 30);
    assert!(subscriber.ping().await.is_ok());
    assert!(cluster.owner(survivor, &channels[0]).await == victim, "the node came back with its slots");
}

#[tokio::test]
async fn a_channel_whose_slot_moves_to_another_node_follows_it_after_a_signalled_gap() {
    let Some(cluster) = OwnCluster::start().await else { return };
    let config = test_config();
    let (subscriber, publisher) = (bus(&cluster, config.clone()).await, bus(&cluster, config).await);
    let topic = space_topic();
    let channel = subscriber.channel(&topic);
    let mut stream = subscriber.subscribe_confirmed(topic).await;
    publisher.publish(vec![stats_on(topic, 1)]).await;
    assert_eq!(likes(&next(&mut stream).await), 1);

    let to = (cluster.owner(0, &channel).await + 1) % 3;
    let from = cluster.move_slot_of(&channel, to).await;
    // The old owner drops the subscription (and says so); the bus subscribes again, at the new owner.
    assert_eq!(next(&mut stream).await, Delivery::Lagged(0), "a gap is signalled");
    eventually("the new owner to hold the subscription", async || cluster.shard_numsub(to, &channel).await == 1).await;
    assert_eq!(cluster.shard_numsub(from, &channel).await, 0);
    // The publisher still maps the slot to the old owner, is redirected, and learns the new map.
    publisher.publish(vec![stats_on(topic, 2)]).await;
    assert_eq!(likes(&next(&mut stream).await), 2);
    assert!(subscriber.is_live(&topic));
}

#[tokio::test]
async fn publishing_while_a_node_is_down_neither_errors_nor_hangs_and_is_counted() {
    let Some(mut cluster) = OwnCluster::start().await else { return };
    let config = test_config();
    let (subscriber, publisher) = (bus(&cluster, config.clone()).await, bus(&cluster, config).await);
    let old = topics(30);
    let mut streams = Vec::new();
    for topic in &old {
        streams.push(subscriber.subscribe_confirmed(*topic).await);
    }
    let channels: Vec<String> = old.iter().map(|t| subscriber.channel(t)).collect();
    let owners = cluster.owners(0, &channels).await;
    let victim = owners[&channels[0]];
    let down = channels.iter().filter(|c| owners[*c] == victim).count() as u64;

    cluster.kill(victim);
    let events = old.iter().enumerate().map(|(i, t)| stats_on(*t, i as i64)).collect();
    tokio::time::timeout(Duration::from_secs(1), publisher.publish(events))
        .await
        .unwrap_or_else(|_| panic!("publish blocked while a node is down"));
    metrics_eventually(&publisher, "every event to be either published or counted as lost", |m| {
        m.events_published + m.publish_failures == 30
    })
    .await;
    let m = publisher.metrics();
    assert_eq!((m.publish_failures, m.events_published), (down, 30 - down), "only the down node's events are lost");

    // The channels on the nodes still up carry on.
    for (i, stream) in streams.iter_mut().enumerate() {
        if owners[&channels[i]] != victim {
            let (delivery, gaps) = next_event(stream).await;
            assert_eq!(likes(&delivery), i as i64);
            assert!(gaps >= 1, "the lost connection is signalled to every subscriber");
        }
    }
    let ping = tokio::time::timeout(Duration::from_secs(3), publisher.ping()).await;
    assert!(ping.is_ok_and(|p| p.is_err()), "readiness must fail while a primary is down, within 3 s");

    // New channels on the nodes that are up are subscribed as usual meanwhile, whatever the down node's
    // channels are waiting for.
    let survivor = (victim + 1) % 3;
    let fresh = topics(30);
    let fresh_channels: Vec<String> = fresh.iter().map(|t| subscriber.channel(t)).collect();
    let fresh_owners = cluster.owners(survivor, &fresh_channels).await;
    let up: Vec<Topic> = fresh.iter().filter(|t| fresh_owners[&subscriber.channel(t)] != victim).copied().collect();
    let _fresh_streams: Vec<EventStream> = fresh.iter().map(|topic| subscriber.subscribe(*topic)).collect();
    eventually("the new channels on the nodes that are up to be confirmed", async || {
        up.iter().all(|t| subscriber.is_live(t))
    })
    .await;
}

#[tokio::test]
async fn building_a_cluster_bus_without_a_reachable_node_fails_quickly() {
    let nowhere = vec![format!("redis://127.0.0.1:{}", free_port())];
    let building = RealtimeBus::redis_cluster(&nowhere, test_config());
    let result = tokio::time::timeout(Duration::from_secs(5), building).await;
    assert!(result.is_ok_and(|r| r.is_err()), "building must fail, within 5 s");
    assert!(RealtimeBus::redis_cluster(&[], test_config()).await.is_err(), "no nodes");
    assert!(RealtimeBus::redis_cluster(&["not a url".to_owned()], test_config()).await.is_err());
}
