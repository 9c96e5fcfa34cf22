//! What the commons area needs from a store.

use crate::commons::export::{ExportKey, ExportRow};
use crate::error::DomainResult;
use crate::ids::{PostId, SpaceId, UserId};
use crate::model::Space;
use crate::values::SpaceSort;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// An act that counts in the activity of the spaces a post appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Post,
    Comment,
    Like,
}

/// The length of an activity bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Day,
    /// An ISO week, from Monday 00:00 UTC.
    Week,
    /// A calendar month, from its first day 00:00 UTC.
    Month,
}

/// The folded activity of one bucket of one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityCounts {
    pub posts: i64,
    pub comments: i64,
    pub likes: i64,
    pub active_users: i64,
    pub new_spaces: i64,
}

/// A user's part in a space over a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contribution {
    pub user: UserId,
    pub posts: i64,
    pub likes_received: i64,
}

/// Counts over the whole network, of what is public (what flows into the root space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlatformStats {
    pub users: i64,
    pub coop_members: i64,
    pub spaces: i64,
    pub posts: i64,
    pub comments: i64,
    pub likes: i64,
}

/// One child listed on a level of a space map: under `parent`, with whether the viewer may access it and how
/// many children `parent` has in all.
#[derive(Debug, Clone, PartialEq)]
pub struct MapChild {
    pub parent: SpaceId,
    pub space: Space,
    pub accessible: bool,
    pub siblings: i64,
}

/// A part of an exported table read on its own (reactions are likes, then ratings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportPart {
    Spaces,
    Edges,
    Posts,
    Comments,
    Likes,
    Ratings,
}

/// Activity rollups, top contributors, platform counts and space maps.
#[async_trait]
pub trait CommonsRepo: Send + Sync {
    /// Records `act` by `user` on `post`, on the day of `at`, in every space the post is active in (so only
    /// where it flows), marking the spaces it was placed in directly.
    async fn record_post_act(&self, post: PostId, user: UserId, act: Act, at: DateTime<Utc>) -> DomainResult<()>;
    /// Records the creation of `space` by `user` in every space above it that it flows into (its parents
    /// directly).
    async fn record_space_created(&self, space: SpaceId, user: UserId, at: DateTime<Utc>) -> DomainResult<()>;
    /// Folds up to `limit` recorded acts into the rollups; returns how many it folded.
    async fn fold_activity(&self, limit: u32) -> DomainResult<u64>;
    /// The folded buckets of `space` of length `interval` starting in `[from, to)` (missing buckets had no
    /// activity), counting only what was placed in it directly when `direct`.
    async fn activity(
        &self,
        space: SpaceId,
        interval: Interval,
        direct: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> DomainResult<Vec<(DateTime<Utc>, ActivityCounts)>>;
    /// Who posted most in `space` since the day of `since` (all time when `None`), then who received most likes.
    async fn top_contributors(
        &self,
        space: SpaceId,
        since: Option<DateTime<Utc>>,
        first: u32,
    ) -> DomainResult<Vec<Contribution>>;
    async fn platform_stats(&self) -> DomainResult<PlatformStats>;
    /// The first `limit` direct children of each of `parents` (which the viewer may access) by `sort`, as
    /// `Space.children` lists them for `viewer`, in one statement.
    /// Up to `limit` public rows of `part` after `after`, in key order (crate::commons::export).
    async fn export_batch(
        &self,
        part: ExportPart,
        after: Option<ExportKey>,
        limit: u32,
    ) -> DomainResult<Vec<ExportRow>>;
    /// Whether `user` opted in to be named by their handle in open data exports.
    async fn open_data_name(&self, user: UserId) -> DomainResult<bool>;
    async fn set_open_data_name(&self, user: UserId, on: bool) -> DomainResult<()>;
    async fn map_level(
        &self,
        viewer: Option<UserId>,
        parents: &[SpaceId],
        sort: SpaceSort,
        limit: u32,
    ) -> DomainResult<Vec<MapChild>>;
}
