//! What the people area needs from a store.

use crate::error::DomainResult;
use crate::ids::{PostId, SpaceId, StreamId, UserId};
use crate::model::{Post, Space, User};
use crate::page::{Page, PageRequest};
use crate::people::Stream;
use crate::values::{FeedMetric, FeedSort};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Where the posts of a feed of followed sources come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedSources {
    /// The spaces and users the viewer follows (the home feed).
    Follows,
    /// The spaces and users of one stream.
    Stream(StreamId),
}

/// How a feed of followed sources is ordered and cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcesOrder {
    pub sort: FeedSort,
    /// What TOP ranks by.
    pub metric: FeedMetric,
    /// Only posts created at or after this time.
    pub since: Option<DateTime<Utc>>,
}

/// What a user did to a post, for the lists of who liked and rated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionKind {
    Like,
    Rating,
    /// A repost, listed once per user (their latest repost into a space the viewer may access).
    Repost,
}

/// One user's reaction to a post: when (a rating: when last given), and the rating's value.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub user: User,
    pub at: DateTime<Utc>,
    pub value: Option<i64>,
}

/// Follows between users (with their exact counts), profiles, user search, and the spaces a user belongs to.
#[async_trait]
pub trait PeopleRepo: Send + Sync {
    /// `follower` follows `followed`, keeping both users' counts exact; `false` when it already did.
    async fn follow_user(&self, follower: UserId, followed: UserId, at: DateTime<Utc>) -> DomainResult<bool>;
    /// `follower` stops following `followed`; `false` when it did not.
    async fn unfollow_user(&self, follower: UserId, followed: UserId) -> DomainResult<bool>;
    /// Who follows `user`, most recent first.
    async fn followers(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// Whom `user` follows, most recent first.
    async fn following(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// How many followers each user has.
    async fn follower_counts(&self, users: &[UserId]) -> DomainResult<HashMap<UserId, i64>>;
    /// Which of `users` `follower` follows.
    async fn followed_among(&self, follower: UserId, users: &[UserId]) -> DomainResult<Vec<UserId>>;
    /// Sets the name and the bio (`Some(None)` clears it); what is `None` stays.
    async fn update_profile(&self, user: UserId, name: Option<&str>, bio: Option<Option<&str>>) -> DomainResult<()>;
    /// Users whose handle, name or bio match every word of `query` (as a word or the start of one), most
    /// followed first.
    async fn search_users(&self, query: &str, page: &PageRequest) -> DomainResult<Page<User>>;
    /// The spaces `user` moderates or is a member of, among those the viewer may access, with access (always
    /// true here), most followed first.
    async fn user_spaces(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// The viewer's home feed (`FeedSources::Follows`), in one statement: the posts appearing in the spaces they follow (with everything
    /// that flows into them) and those placed by the users they follow, each once, among those they may see,
    /// without the posts of users they mute, ordered by the post's own key for `sort` (creation, last activity,
    /// likes, HOT score), then id. An anonymous viewer gets the root space's feed.
    /// A stream's posts are gathered the same way from its spaces and users (the caller checked the viewer owns
    /// it).
    async fn sources_feed(
        &self,
        viewer: Option<UserId>,
        sources: FeedSources,
        order: &SourcesOrder,
        page: &PageRequest,
    ) -> DomainResult<Page<Post>>;
    /// Writes a new stream with its spaces and users.
    async fn insert_stream(&self, stream: &Stream) -> DomainResult<()>;
    /// Replaces a stream's name, spaces and users.
    async fn replace_stream(&self, stream: &Stream) -> DomainResult<()>;
    /// Deletes a stream; `false` when there was none.
    async fn delete_stream(&self, stream: StreamId) -> DomainResult<bool>;
    /// Streams by id, with their spaces and users.
    async fn streams_by_ids(&self, ids: &[StreamId]) -> DomainResult<Vec<Stream>>;
    /// A user's streams, oldest first, with their spaces and users.
    async fn streams_of(&self, owner: UserId) -> DomainResult<Vec<Stream>>;
    /// Who reacted to the post (liked it, or rated it), most recent first, leaving out users the viewer mutes;
    /// nothing when the viewer may not see the post.
    /// Records that `user` reposted `post` into `spaces` (where it was not placed directly before) at `at`.
    async fn record_reposts(
        &self,
        post: PostId,
        user: UserId,
        spaces: &[SpaceId],
        at: DateTime<Utc>,
    ) -> DomainResult<()>;
    async fn reactions(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        kind: ReactionKind,
        page: &PageRequest,
    ) -> DomainResult<Page<Reaction>>;
    /// The users with these handles (lower-case), in no particular order.
    async fn users_by_handles(&self, handles: &[String]) -> DomainResult<Vec<User>>;
}
