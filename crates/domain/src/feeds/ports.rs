//! What the feeds area needs from a store: pages of feeds, replays, a user's posts, search.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Cursor, Page, PageRequest};
use crate::values::Depth;
use async_trait::async_trait;

/// Lists of posts. Every listing leaves out the posts of users the viewer muted.
#[async_trait]
pub trait FeedRepo: Send + Sync {
    /// One page of each feed, and the creators of their posts, all in one statement. The queries differ only
    /// in their space; the caller has proof the viewer may access each.
    async fn feeds(&self, queries: &[FeedQuery], page: &PageRequest) -> DomainResult<FeedPages>;
    /// Posts that appeared in the space's feed after `after` in NEW order (created later, or as late with a
    /// greater id), oldest first: what a reconnecting subscriber missed.
    async fn feed_since(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        depth: Depth,
        after: &Cursor,
        limit: i64,
    ) -> DomainResult<Vec<Post>>;
    /// The author's posts the viewer may see, newest first.
    async fn user_posts(&self, viewer: Option<UserId>, author: UserId, page: &PageRequest) -> DomainResult<Page<Post>>;
    /// Posts matching `query` (full-text) that the viewer may see, newest first.
    async fn search_posts(&self, viewer: Option<UserId>, query: &str, page: &PageRequest) -> DomainResult<Page<Post>>;
}
