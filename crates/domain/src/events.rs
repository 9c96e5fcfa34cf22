//! What the domain announces after a transaction commits, and where each announcement goes.
//!
//! Events travel as versioned JSON (`{"v":1,"type":"PostAdded",…}`) on one channel per topic: a space's feed,
//! a post, a user's notifications. A bus carries them between processes (Redis pub/sub) or within one
//! (in-process); see the `weco-realtime` crate.

use crate::ids::*;
use serde::{Deserialize, Serialize};

/// The payload format's version; bumped on incompatible changes.
pub const EVENT_VERSION: u32 = 1;

/// Where an event is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Everything that changes this space's feed.
    Space(SpaceId),
    /// Everything that changes this post.
    Post(PostId),
    /// A user's notifications.
    User(UserId),
}

impl Topic {
    /// The channel name under `prefix`: `{prefix}:space:{id}`, `{prefix}:post:{id}`, `{prefix}:user:{id}`.
    pub fn channel(&self, prefix: &str) -> String {
        match self {
            Topic::Space(id) => format!("{prefix}:space:{id}"),
            Topic::Post(id) => format!("{prefix}:post:{id}"),
            Topic::User(id) => format!("{prefix}:user:{id}"),
        }
    }
}

/// A post's counters, as carried by stats events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostStats {
    pub total_likes: i64,
    pub total_comments: i64,
    pub total_ratings: i64,
    pub total_reposts: i64,
    /// The post's `stats_version`: events may arrive out of order, the highest version is the truth.
    pub version: i64,
}

/// Something that happened. Each carries what subscribers select, so delivering it needs no database read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A post now appears in `space_id`, placed there directly or flowing up from below. It carries the post
    /// and its creator (without e-mail), so subscribers render it without reading the database.
    PostAdded { space_id: SpaceId, direct: bool, post: Box<crate::model::Post>, creator: Box<crate::model::User> },
    /// A post no longer appears in `space_id` (`None`: deleted everywhere).
    PostRemoved { space_id: Option<SpaceId>, post_id: PostId },
    /// A post's counters changed; the values are the exact totals after the change.
    PostStatsChanged { post_id: PostId, stats: PostStats },
    /// Who may access this space (or the spaces below it) may have narrowed: live subscribers re-check.
    AccessChanged { space_id: SpaceId },
    /// A comment was added to a post.
    CommentAdded { post_id: PostId, comment: Box<crate::model::Comment> },
}

/// An event on its way: the topic it goes to and the event, with the payload version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub topic: Topic,
    pub event: Event,
}

impl Envelope {
    pub fn new(topic: Topic, event: Event) -> Self {
        Self { v: EVENT_VERSION, topic, event }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a payload; `None` for malformed JSON or a version this build does not know.
    pub fn from_json(raw: &str) -> Option<Self> {
        serde_json::from_str::<Self>(raw).ok().filter(|e| e.v == EVENT_VERSION)
    }
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Event(std::sync::Arc<Envelope>),
    /// The subscriber fell behind and `n` events were dropped for it: it must resync from the database.
    Lagged(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_as_versioned_json() {
        let e = Envelope::new(
            Topic::Post(PostId::generate()),
            Event::PostStatsChanged {
                post_id: PostId::generate(),
                stats: PostStats { total_likes: 3, total_comments: 1, total_ratings: 0, total_reposts: 2, version: 7 },
            },
        );
        let json = e.to_json();
        assert!(json.contains("\"v\":1") && json.contains("\"type\":\"PostStatsChanged\""), "{json}");
        assert_eq!(Envelope::from_json(&json), Some(e));
    }

    #[test]
    fn unknown_versions_and_garbage_are_ignored() {
        assert_eq!(Envelope::from_json("not json"), None);
        let future = r#"{"v":2,"topic":{"User":"0190f0f0-f0f0-7f0f-8f0f-f0f0f0f0f0f0"},"event":{"type":"X"}}"#;
        assert_eq!(Envelope::from_json(future), None);
    }

    #[test]
    fn channels_carry_the_prefix_and_the_topic() {
        let id = SpaceId::generate();
        assert_eq!(Topic::Space(id).channel("weco"), format!("weco:space:{id}"));
    }
}
