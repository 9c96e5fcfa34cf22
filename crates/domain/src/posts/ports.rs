//! What the posts area needs from a store: posts and where they are placed, reactions, comments and links.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Posts, their placements, reactions, comments and links. Reads for a viewer apply the visibility rule
/// (docs/privacy.md rule 4) in the same statement.
#[async_trait]
pub trait PostRepo: Send + Sync {
    /// Inserts the post directly into `spaces` and makes it appear in every space above them it flows into,
    /// keeping every counter in step.
    async fn insert_post(&self, post: &NewPost, spaces: &[SpaceId]) -> DomainResult<()>;
    /// Active posts by id, whoever asks (for the use cases).
    async fn posts_by_ids(&self, ids: &[PostId]) -> DomainResult<Vec<Post>>;
    /// Those of the posts that the viewer may see: active, with an active row in a space the viewer may access.
    async fn visible_posts(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<Post>>;
    /// Which of `ids` the viewer may see.
    async fn visible_posts_among(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<PostId>>;
    /// The spaces each post was posted or reposted into directly, with whether it is active there.
    async fn direct_spaces(&self, posts: &[PostId]) -> DomainResult<Vec<(PostId, SpaceId, SpacePostState)>>;
    /// Every space the post is active in (and whether it was placed there directly), with its audience, in one
    /// statement.
    async fn placement(&self, post: PostId) -> DomainResult<Placement>;
    /// The audience of each post (the private spaces at or above the spaces it was placed in directly).
    async fn audiences(&self, posts: &[PostId]) -> DomainResult<HashMap<PostId, Vec<SpaceId>>>;
    /// The post's state in one space, if it appears there.
    async fn space_post_state(&self, post: PostId, space: SpaceId) -> DomainResult<Option<SpacePostState>>;
    /// Adds the post directly to more spaces (with aggregation); returns how many were new.
    async fn repost(&self, post: PostId, spaces: &[SpaceId], at: DateTime<Utc>) -> DomainResult<u64>;
    /// Moves the post's row in `space` from `from` to `to`, keeping the space's counters exact; `false` when
    /// it was not in state `from`.
    async fn set_space_post_state(
        &self,
        post: PostId,
        space: SpaceId,
        from: SpacePostState,
        to: SpacePostState,
    ) -> DomainResult<bool>;
    /// Deletes the post everywhere.
    async fn delete_post(&self, post: PostId) -> DomainResult<()>;
    /// Replaces an active post's title, text, address and kinds, marks it edited at `at`, and keeps its
    /// full-text index in step.
    async fn edit_post(&self, edit: &PostEdit, at: DateTime<Utc>) -> DomainResult<()>;

    /// Likes; `false` when already liked.
    async fn like(&self, post: PostId, user: UserId, space: Option<SpaceId>, at: DateTime<Utc>) -> DomainResult<bool>;
    /// Unlikes; `false` when not liked.
    async fn unlike(&self, post: PostId, user: UserId) -> DomainResult<bool>;
    /// Withdraws the user's rating; `false` when there was none.
    async fn unrate(&self, post: PostId, user: UserId) -> DomainResult<bool>;
    /// What `user` contributed: the posts they liked, the posts they rated, and their own posts (not deleted).
    async fn contributions(&self, user: UserId) -> DomainResult<(Vec<PostId>, Vec<PostId>, Vec<PostId>)>;
    /// The comments of `user` not deleted yet.
    async fn comments_of(&self, user: UserId) -> DomainResult<Vec<Comment>>;
    /// Sets the user's rating, replacing an earlier one.
    async fn rate(
        &self,
        post: PostId,
        user: UserId,
        value: i64,
        space: Option<SpaceId>,
        at: DateTime<Utc>,
    ) -> DomainResult<()>;
    /// What `user` has done to each of `posts`.
    async fn post_actions(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>>;

    async fn insert_comment(&self, comment: &Comment) -> DomainResult<()>;
    /// Marks the comment deleted (its text forgotten, its replies kept) and uncounts it everywhere it counted;
    /// `false` when it was deleted already.
    async fn delete_comment(&self, comment: &Comment) -> DomainResult<bool>;
    /// A comment by id, deleted or not, whoever asks (for the use cases).
    async fn comment_by_id(&self, id: CommentId) -> DomainResult<Option<Comment>>;
    /// Those of the comments that hang off posts the viewer may see.
    async fn visible_comments(&self, viewer: Option<UserId>, ids: &[CommentId]) -> DomainResult<Vec<Comment>>;
    /// Top-level comments (`parent` = None) or replies, oldest first — none when the viewer may not see the post.
    async fn comments(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        parent: Option<CommentId>,
        page: &PageRequest,
    ) -> DomainResult<Page<Comment>>;

    /// The links from and to `post` whose other post the viewer may see, most liked first, at most `limit`.
    async fn links_of(&self, viewer: Option<UserId>, post: PostId, limit: i64) -> DomainResult<Vec<PostLink>>;
    /// The link map around `post` in one statement: the most liked links (at most `limit`) from and to it and,
    /// with `depth` 2, from and to the posts those reach, keeping only links whose both posts the viewer may
    /// see; most liked first, at most `limit` in all.
    async fn link_map(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        depth: u8,
        limit: i64,
    ) -> DomainResult<Vec<PostLink>>;
    /// A link whose both posts the viewer may see.
    async fn visible_link(&self, viewer: Option<UserId>, link: LinkId) -> DomainResult<Option<PostLink>>;
    /// Likes a link and counts it; `false` when already liked.
    async fn like_link(&self, link: LinkId, user: UserId, at: DateTime<Utc>) -> DomainResult<bool>;
    /// Takes a like of a link back and uncounts it; `false` when not liked.
    async fn unlike_link(&self, link: LinkId, user: UserId) -> DomainResult<bool>;
    /// Which of `links` the user likes.
    async fn liked_links(&self, user: UserId, links: &[LinkId]) -> DomainResult<Vec<LinkId>>;

    /// Links two posts; `false` when they were linked already.
    async fn link_posts(
        &self,
        source: PostId,
        target: PostId,
        creator: UserId,
        description: &str,
        at: DateTime<Utc>,
    ) -> DomainResult<bool>;
}
