//! What a committed unit of work announces, and where each announcement goes.
//!
//! Events travel as versioned JSON (`{"v":2,"id":…,"topic":…,"event":{"type":"PostAdded",…}}`) on one channel
//! per topic: a space's feed, a post, a user's notifications. A bus carries them between processes (Redis
//! pub/sub) or within one (in-process); see the `weco-realtime` crate.
//!
//! Payloads are wire types of their own, not domain rows: they say exactly what subscribers may see (an author
//! has no e-mail here to forget to clear) and stay stable when the rows change. Every event carries an id;
//! delivery is at least once (the outbox may publish an event again after a crash), and receivers drop an id
//! they have already seen on that channel.

use crate::ids::*;
use crate::model::{Comment, Post, User};
use crate::values::PostKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The payload format's version; bumped on incompatible changes.
pub const EVENT_VERSION: u32 = 2;

/// Where an event is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Everything that changes this space's feed.
    Space(SpaceId),
    /// Everything that changes this post.
    Post(PostId),
    /// A user's notifications.
    User(UserId),
    /// A chat's messages, typing and membership changes (its members only may listen).
    Chat(ChatId),
}

impl Topic {
    /// The channel name under `prefix`: `{prefix}:space:{id}`, `{prefix}:post:{id}`, `{prefix}:user:{id}`.
    pub fn channel(&self, prefix: &str) -> String {
        match self {
            Topic::Space(id) => format!("{prefix}:space:{id}"),
            Topic::Post(id) => format!("{prefix}:post:{id}"),
            Topic::User(id) => format!("{prefix}:user:{id}"),
            Topic::Chat(id) => format!("{prefix}:chat:{id}"),
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

impl From<&Post> for PostStats {
    fn from(post: &Post) -> Self {
        Self {
            total_likes: post.total_likes,
            total_comments: post.total_comments,
            total_ratings: post.total_ratings,
            total_reposts: post.total_reposts,
            version: post.stats_version,
        }
    }
}

/// A post on the wire: everything a subscriber's selection can read from the post itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostWire {
    pub id: PostId,
    pub creator_id: UserId,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub kinds: Vec<PostKind>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub stats: PostStats,
    pub rating_sum: i64,
    pub total_links: i64,
    #[serde(default)]
    pub edited_at: Option<DateTime<Utc>>,
}

impl From<&Post> for PostWire {
    fn from(p: &Post) -> Self {
        Self {
            id: p.id,
            creator_id: p.creator_id,
            title: p.title.clone(),
            text: p.text.clone(),
            url: p.url.clone(),
            kinds: p.kinds.clone(),
            created_at: p.created_at,
            last_activity_at: p.last_activity_at,
            stats: PostStats::from(p),
            rating_sum: p.rating_sum,
            total_links: p.total_links,
            edited_at: p.edited_at,
        }
    }
}

impl From<PostWire> for Post {
    fn from(w: PostWire) -> Self {
        Self {
            id: w.id,
            creator_id: w.creator_id,
            title: w.title,
            text: w.text,
            url: w.url,
            kinds: w.kinds,
            created_at: w.created_at,
            last_activity_at: w.last_activity_at,
            total_likes: w.stats.total_likes,
            total_comments: w.stats.total_comments,
            total_reposts: w.stats.total_reposts,
            total_ratings: w.stats.total_ratings,
            rating_sum: w.rating_sum,
            total_links: w.total_links,
            edited_at: w.edited_at,
            stats_version: w.stats.version,
        }
    }
}

/// An author on the wire: what anyone may see of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorWire {
    pub id: UserId,
    pub handle: String,
    pub name: String,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for AuthorWire {
    fn from(u: &User) -> Self {
        Self { id: u.id, handle: u.handle.clone(), name: u.name.clone(), bio: u.bio.clone(), created_at: u.created_at }
    }
}

impl From<AuthorWire> for User {
    fn from(a: AuthorWire) -> Self {
        Self { id: a.id, handle: a.handle, name: a.name, bio: a.bio, created_at: a.created_at }
    }
}

/// A comment on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentWire {
    pub id: CommentId,
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    pub creator_id: UserId,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub total_replies: i64,
}

impl From<&Comment> for CommentWire {
    fn from(c: &Comment) -> Self {
        Self {
            id: c.id,
            post_id: c.post_id,
            parent_id: c.parent_id,
            creator_id: c.creator_id,
            text: c.text.clone(),
            created_at: c.created_at,
            total_replies: c.total_replies,
        }
    }
}

impl From<CommentWire> for Comment {
    fn from(c: CommentWire) -> Self {
        Self {
            id: c.id,
            post_id: c.post_id,
            parent_id: c.parent_id,
            creator_id: c.creator_id,
            text: c.text,
            created_at: c.created_at,
            total_replies: c.total_replies,
            deleted: false,
        }
    }
}

/// Something that happened. Each carries what subscribers select, so delivering it needs no database read.
/// Feed events name no space: the topic they arrive on is the space whose feed changed.
///
/// Events about a post carry its `audience`: the private spaces whose members alone may see it (empty for a
/// public post), as the unit of work that announced it left them. A subscriber delivers such an event only to a
/// viewer who is a member of every one of them, checked when it arrives — so a subscriber who lost access
/// never sees the next event about a post, whatever order events from several replicas arrive in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A post now appears in the topic's space, placed there directly (the space is among `direct_spaces`, the
    /// spaces it is placed in directly) or flowing up from below.
    PostAdded { post: Box<PostWire>, author: Box<AuthorWire>, direct_spaces: Vec<SpaceId>, audience: Vec<SpaceId> },
    /// A post no longer appears in the topic's space, or (`deleted`) was deleted everywhere. `direct_spaces`
    /// are the spaces it was placed in directly before, so a feed of direct posts only can tell whether it
    /// showed the post.
    PostRemoved { post_id: PostId, deleted: bool, direct_spaces: Vec<SpaceId>, audience: Vec<SpaceId> },
    /// A post's counters changed; the values are the exact totals after the change.
    PostStatsChanged { post_id: PostId, stats: PostStats, direct_spaces: Vec<SpaceId>, audience: Vec<SpaceId> },
    /// Who may access this space (or the spaces below it) may have narrowed: live subscribers re-check.
    AccessChanged { space_id: SpaceId },
    /// A comment was added to a post.
    CommentAdded { post_id: PostId, comment: Box<CommentWire>, audience: Vec<SpaceId> },
    /// A post's poll changed (a ballot, a retraction, a new answer, its closing): the poll as it now is, with
    /// every total. It names no voter; each subscriber shows of it what its viewer may see (results can be
    /// hidden until the viewer votes or the poll ends).
    PollChanged { post_id: PostId, poll: Box<crate::polls::Poll>, audience: Vec<SpaceId> },
    /// A notification was written or folded into (on its recipient's topic). Whether it may be shown is
    /// checked again when it arrives, as every read of notifications does.
    NotificationCreated { notification: Box<crate::notifications::Notification> },
    /// A message was sent in a chat (on the chat's topic).
    MessageSent { message: Box<crate::chat::Message> },
    /// A member is typing in a chat: ephemeral, published on the bus only, never stored.
    Typing { chat_id: ChatId, user_id: UserId },
    /// A chat's members changed (someone joined or left): live subscribers check they are still members.
    ChatMembersChanged { chat_id: ChatId },
    /// Its creator changed a post's title, text or address (on the post's topic).
    PostEdited { post: Box<PostWire>, audience: Vec<SpaceId> },
    /// A post's URL card was fetched (on the post's topic).
    PostCardReady { post_id: PostId, card: Box<crate::media::Card>, audience: Vec<SpaceId> },
}

impl Event {
    /// The audience of the post the event is about (`None` for events about no post).
    pub fn audience(&self) -> Option<&[SpaceId]> {
        match self {
            Event::PostAdded { audience, .. }
            | Event::PostRemoved { audience, .. }
            | Event::PostStatsChanged { audience, .. }
            | Event::CommentAdded { audience, .. }
            | Event::PollChanged { audience, .. }
            | Event::PostEdited { audience, .. }
            | Event::PostCardReady { audience, .. } => Some(audience),
            Event::AccessChanged { .. }
            | Event::NotificationCreated { .. }
            | Event::MessageSent { .. }
            | Event::Typing { .. }
            | Event::ChatMembersChanged { .. } => None,
        }
    }

    /// Whether a feed of direct posts only (`depth: DIRECT`) of `space` shows what this event is about.
    pub fn concerns_direct_feed_of(&self, space: SpaceId) -> bool {
        match self {
            Event::PostAdded { direct_spaces, .. }
            | Event::PostRemoved { direct_spaces, .. }
            | Event::PostStatsChanged { direct_spaces, .. } => direct_spaces.contains(&space),
            Event::AccessChanged { .. }
            | Event::CommentAdded { .. }
            | Event::PollChanged { .. }
            | Event::PostEdited { .. }
            | Event::PostCardReady { .. }
            | Event::NotificationCreated { .. }
            | Event::MessageSent { .. }
            | Event::Typing { .. }
            | Event::ChatMembersChanged { .. } => true,
        }
    }
}

/// An event to publish on several topics at once: one id, one payload, one outbox row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    pub id: EventId,
    pub topics: Vec<Topic>,
    pub event: Event,
}

impl Announcement {
    pub fn new(topics: Vec<Topic>, event: Event) -> Self {
        Self { id: EventId::generate(), topics, event }
    }

    /// One envelope per topic, sharing the announcement's id.
    pub fn envelopes(&self) -> impl Iterator<Item = Envelope> + '_ {
        self.topics.iter().map(|topic| Envelope {
            v: EVENT_VERSION,
            id: self.id,
            topic: *topic,
            event: self.event.clone(),
        })
    }
}

/// An event on its way to one topic, with the payload version and the event's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    pub id: EventId,
    pub topic: Topic,
    pub event: Event,
}

impl Envelope {
    pub fn new(topic: Topic, event: Event) -> Self {
        Self { v: EVENT_VERSION, id: EventId::generate(), topic, event }
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
                direct_spaces: vec![SpaceId::generate()],
                audience: Vec::new(),
            },
        );
        let json = e.to_json();
        assert!(json.contains("\"v\":2") && json.contains("\"type\":\"PostStatsChanged\""), "{json}");
        assert_eq!(Envelope::from_json(&json), Some(e));
    }

    #[test]
    fn unknown_versions_and_garbage_are_ignored() {
        assert_eq!(Envelope::from_json("not json"), None);
        let future = r#"{"v":3,"id":"0190f0f0-f0f0-7f0f-8f0f-f0f0f0f0f0f0","topic":{"User":"0190f0f0-f0f0-7f0f-8f0f-f0f0f0f0f0f0"},"event":{"type":"X"}}"#;
        assert_eq!(Envelope::from_json(future), None);
    }

    #[test]
    fn channels_carry_the_prefix_and_the_topic() {
        let id = SpaceId::generate();
        assert_eq!(Topic::Space(id).channel("weco"), format!("weco:space:{id}"));
    }

    #[test]
    fn an_announcement_gives_every_topic_the_same_event_id() {
        let a = Announcement::new(
            vec![Topic::Space(SpaceId::generate()), Topic::Space(SpaceId::generate())],
            Event::AccessChanged { space_id: SpaceId::generate() },
        );
        let ids: Vec<EventId> = a.envelopes().map(|e| e.id).collect();
        assert_eq!(ids, vec![a.id, a.id]);
    }

    #[test]
    fn an_author_on_the_wire_has_no_e_mail() {
        let author = AuthorWire {
            id: UserId::generate(),
            handle: "ada".into(),
            name: "Ada".into(),
            bio: None,
            created_at: chrono::Utc::now(),
        };
        let json = serde_json::to_string(&author).expect("serialises");
        assert!(!json.contains("email"), "{json}");
    }
}
