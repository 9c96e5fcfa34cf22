//! Links you can read: `PostLink` (reached as `Post.links` and in a `LinkMap`), liking links, and the loader of
//! the viewer's likes. A link shows only when the viewer may see both its posts (the domain's reads decide).

use super::post::PostObject;
use crate::accounts::{UserObject, load_user};
use crate::connection::int;
use crate::error::{ApiError, ApiResult};
use crate::ids::{parse_id, to_id};
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::{App, DomainError, LinkId, PostId, PostLink, Viewer};

/// Whether the viewer likes each link.
pub(crate) struct LinkLikeLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<LinkId> for LinkLikeLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[LinkId]) -> Result<HashMap<LinkId, bool>, DomainError> {
        let liked = self.app.posts().liked_links(self.viewer, keys).await?;
        Ok(keys.iter().map(|k| (*k, liked.contains(k))).collect())
    }
}

/// Which way a link points, seen from the post it was listed from.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum LinkDirection {
    /// From this post to the other.
    Outgoing,
    /// From the other post to this one.
    Incoming,
}

/// A described link from one post to another.
#[derive(Clone)]
pub struct PostLinkObject {
    link: Arc<PostLink>,
    /// The post it was listed from, if any.
    from: Option<PostId>,
}

impl PostLinkObject {
    pub(crate) fn new(link: PostLink, from: Option<PostId>) -> Self {
        Self { link: Arc::new(link), from }
    }
}

async fn load_post(ctx: &Context<'_>, id: PostId) -> ApiResult<PostObject> {
    let post = scope(ctx)?.loaders.posts.load_one(id).await?;
    post.map(PostObject::from).ok_or(ApiError(DomainError::NotFound("post")))
}

#[Object(name = "PostLink")]
impl PostLinkObject {
    async fn id(&self) -> ID {
        to_id(self.link.id)
    }

    async fn description(&self) -> &str {
        &self.link.description
    }

    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.link.creator_id).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.link.created_at
    }

    async fn total_likes(&self) -> i32 {
        int(self.link.total_likes)
    }

    async fn viewer_has_liked(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        if scope(ctx)?.viewer.id().is_none() {
            return Ok(false);
        }
        Ok(scope(ctx)?.loaders.link_likes.load_one(self.link.id).await?.unwrap_or(false))
    }

    async fn source(&self, ctx: &Context<'_>) -> ApiResult<PostObject> {
        load_post(ctx, self.link.source_id).await
    }

    async fn target(&self, ctx: &Context<'_>) -> ApiResult<PostObject> {
        load_post(ctx, self.link.target_id).await
    }

    /// Seen from the post it was listed from (`Post.links`); null elsewhere.
    async fn direction(&self) -> Option<LinkDirection> {
        let from = self.from?;
        Some(if self.link.source_id == from { LinkDirection::Outgoing } else { LinkDirection::Incoming })
    }

    /// The other post, seen from the post it was listed from (`Post.links`); null elsewhere.
    async fn post(&self, ctx: &Context<'_>) -> ApiResult<Option<PostObject>> {
        let Some(from) = self.from else { return Ok(None) };
        let other = if self.link.source_id == from { self.link.target_id } else { self.link.source_id };
        Ok(Some(load_post(ctx, other).await?))
    }
}

/// The link map around a post: its posts (the one asked about first) and the links between them, most liked
/// first.
#[derive(SimpleObject)]
#[graphql(name = "LinkMap")]
pub struct LinkMapObject {
    pub nodes: Vec<PostObject>,
    pub edges: Vec<PostLinkObject>,
}

/// `Post.links`.
pub(crate) async fn links(ctx: &Context<'_>, post: PostId, first: i32) -> ApiResult<Vec<PostLinkObject>> {
    let links = app(ctx).posts().links(scope(ctx)?.viewer, post, i64::from(first)).await?;
    Ok(links.into_iter().map(|l| PostLinkObject::new(l, Some(post))).collect())
}

/// `Post.linkMap`: its posts go into the request's post loader, so resolving the edges' ends reads nothing more.
pub(crate) async fn link_map(ctx: &Context<'_>, post: PostId, depth: i32, limit: i32) -> ApiResult<LinkMapObject> {
    let scope = scope(ctx)?;
    let map = app(ctx).posts().link_map(scope.viewer, post, i64::from(depth), i64::from(limit)).await?;
    let Some(map) = map else { return Ok(LinkMapObject { nodes: Vec::new(), edges: Vec::new() }) };
    scope.loaders.posts.feed_many(map.posts.iter().map(|p| (p.id, p.clone()))).await;
    Ok(LinkMapObject {
        nodes: map.posts.into_iter().map(PostObject::from).collect(),
        edges: map.links.into_iter().map(|l| PostLinkObject::new(l, None)).collect(),
    })
}

#[derive(Default)]
pub struct LinkMutation;

#[Object]
impl LinkMutation {
    /// Likes a link between two posts the viewer can see (idempotent).
    async fn like_link(&self, ctx: &Context<'_>, link_id: ID) -> ApiResult<PostLinkObject> {
        let scope = scope(ctx)?;
        let link = app(ctx).posts().like_link(scope.viewer, parse_id(&link_id, "linkId")?).await?;
        scope.invalidate();
        Ok(PostLinkObject::new(link, None))
    }

    /// Takes the viewer's like of a link back (idempotent).
    async fn unlike_link(&self, ctx: &Context<'_>, link_id: ID) -> ApiResult<PostLinkObject> {
        let scope = scope(ctx)?;
        let link = app(ctx).posts().unlike_link(scope.viewer, parse_id(&link_id, "linkId")?).await?;
        scope.invalidate();
        Ok(PostLinkObject::new(link, None))
    }
}
