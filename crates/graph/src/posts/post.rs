//! The `Post` type and its connection.

use super::comment::{CommentConnection, CommentObject};
use crate::accounts::{UserObject, load_user};
use crate::connection::{cost, int, page_request_in};
use crate::enums::PostKind;
use crate::error::ApiResult;
use crate::holarchy::SpaceObject;
use crate::ids::to_id;
use crate::scope::{app, scope};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use weco_domain::{Post, PostActions};

/// A post. It was placed directly in one or more spaces and appears in every space above them that it
/// flows into. Everything hanging off it is visible exactly when the post is.
#[derive(Clone)]
pub struct PostObject(pub Arc<Post>);

impl From<Post> for PostObject {
    fn from(p: Post) -> Self {
        Self(Arc::new(p))
    }
}

impl PostObject {
    async fn actions(&self, ctx: &Context<'_>) -> ApiResult<PostActions> {
        Ok(scope(ctx)?.loaders.post_actions.load_one(self.0.id).await?.unwrap_or_default())
    }
}

#[Object(name = "Post")]
impl PostObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }

    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    /// What the post holds (derived from what was given).
    async fn kinds(&self) -> Vec<PostKind> {
        self.0.kinds.iter().map(|k| (*k).into()).collect()
    }

    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.creator_id).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When its creator last changed its title, text or address; null if never.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }

    /// Creation, or the latest comment.
    async fn last_activity_at(&self) -> DateTime<Utc> {
        self.0.last_activity_at
    }

    /// The spaces it was posted or reposted into directly (those the viewer may access).
    async fn spaces(&self, ctx: &Context<'_>) -> ApiResult<Vec<SpaceObject>> {
        let ids = scope(ctx)?.loaders.post_spaces.load_one(self.0.id).await?.unwrap_or_default();
        let mut spaces = scope(ctx)?.loaders.spaces.load_many(ids.iter().copied()).await?;
        Ok(ids.iter().filter_map(|id| spaces.remove(id)).map(SpaceObject::from).collect())
    }

    async fn total_likes(&self) -> i32 {
        int(self.0.total_likes)
    }

    /// Comments at every level.
    async fn total_comments(&self) -> i32 {
        int(self.0.total_comments)
    }

    /// Spaces it was reposted into.
    async fn total_reposts(&self) -> i32 {
        int(self.0.total_reposts)
    }

    async fn total_ratings(&self) -> i32 {
        int(self.0.total_ratings)
    }

    /// Links to and from other posts.
    async fn total_links(&self) -> i32 {
        int(self.0.total_links)
    }

    /// Mean of the ratings (0 to 100); null before the first.
    async fn average_rating(&self) -> Option<f64> {
        self.0.average_rating()
    }

    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.actions(ctx).await?.liked)
    }

    /// The viewer's rating, if any.
    async fn viewer_rating(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        Ok(self.actions(ctx).await?.rating.map(int))
    }

    /// Its images and audio files, in order (docs/media.md).
    async fn media(&self, ctx: &Context<'_>) -> ApiResult<Vec<crate::media::MediaObject>> {
        crate::media::post_media(ctx, self.0.id).await
    }

    /// The preview of its URL, once fetched (null before, and for pages that gave none).
    async fn card(&self, ctx: &Context<'_>) -> ApiResult<Option<crate::media::CardObject>> {
        if self.0.url.is_none() {
            return Ok(None);
        }
        crate::media::post_card(ctx, self.0.id).await
    }

    /// The post's poll, if it is one (null when the viewer may not see the post).
    async fn poll(&self, ctx: &Context<'_>) -> ApiResult<Option<crate::polls::PollObject>> {
        if !self.0.kinds.contains(&weco_domain::values::PostKind::Poll) {
            return Ok(None);
        }
        Ok(scope(ctx)?.loaders.polls.load_one(self.0.id).await?.map(Into::into))
    }

    /// The post's event, if it is one (null when the viewer may not see the post).
    async fn event(&self, ctx: &Context<'_>) -> ApiResult<Option<crate::calendar::EventObject>> {
        if !self.0.kinds.contains(&weco_domain::values::PostKind::Event) {
            return Ok(None);
        }
        Ok(scope(ctx)?.loaders.events.load_one(self.0.id).await?.map(Into::into))
    }

    /// Links from and to other posts the viewer may see, most liked first (`first`: 1 to 100).
    async fn links(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> ApiResult<Vec<super::links::PostLinkObject>> {
        super::links::links(ctx, self.0.id, first).await
    }

    /// The map of links around this post, `depth` hops out (1 or 2), its `limit` most liked links (1 to 200)
    /// between posts the viewer may all see; this post is the first node. Answered in three statements,
    /// whatever its size.
    async fn link_map(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] depth: i32,
        #[graphql(default = 50)] limit: i32,
    ) -> ApiResult<super::links::LinkMapObject> {
        super::links::link_map(ctx, self.0.id, depth, limit).await
    }

    /// Top-level comments, oldest first. Empty when the viewer may not see the post (as on the post a
    /// `deletePost` returns).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<CommentConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).posts().comments(scope(ctx)?.viewer, self.0.id, None, page).await?;
        Ok(CommentConnection::from_page(page, CommentObject::from))
    }

    /// Who liked the post, most recent first, with when (users the viewer mutes left out).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn likes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::people::ReactionConnection> {
        let kind = weco_domain::people::ports::ReactionKind::Like;
        crate::people::reactions(ctx, self.0.id, kind, first, after).await
    }

    /// Who rated the post, most recently rated first, with their rating (users the viewer mutes left out).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn ratings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::people::ReactionConnection> {
        let kind = weco_domain::people::ports::ReactionKind::Rating;
        crate::people::reactions(ctx, self.0.id, kind, first, after).await
    }

    /// Who reposted the post, most recent first, with when: each user once, by their latest repost into a space
    /// the viewer may access where the post still shows (users the viewer mutes left out). Reposts made before
    /// the server kept who made them are counted in `totalReposts` but not listed.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn reposts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::people::ReactionConnection> {
        let kind = weco_domain::people::ports::ReactionKind::Repost;
        crate::people::reactions(ctx, self.0.id, kind, first, after).await
    }
}

/// Edges of a post listing.
#[derive(async_graphql::SimpleObject, Clone)]
#[graphql(name = "PostEdge")]
pub struct PostEdge {
    /// Opaque; pass as `after` to continue after this post.
    pub cursor: String,
    pub node: PostObject,
}

/// A page of posts (feeds are not counted: they can be very long).
#[derive(async_graphql::SimpleObject, Clone)]
#[graphql(name = "PostConnection")]
pub struct PostConnection {
    pub edges: Vec<PostEdge>,
    /// The nodes of `edges`, for clients that need no cursors.
    pub nodes: Vec<PostObject>,
    pub page_info: crate::connection::PageInfo,
}

impl PostConnection {
    pub(crate) fn from_page(page: weco_domain::Page<Post>) -> Self {
        let (edges, page_info, _) = crate::connection::parts(page, PostObject::from);
        Self {
            nodes: edges.iter().map(|(_, n)| n.clone()).collect(),
            edges: edges.into_iter().map(|(cursor, node)| PostEdge { cursor, node }).collect(),
            page_info,
        }
    }
}
