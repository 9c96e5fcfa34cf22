//! The `Comment` type and its connection.

use super::post::PostObject;
use crate::accounts::{UserObject, load_user};
use crate::connection::{connection, cost, int, page_request_in};
use crate::error::{ApiError, ApiResult};
use crate::ids::to_id;
use crate::scope::{app, scope};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use weco_domain::{Comment, DomainError};

/// A comment on a post; comments form a tree of any depth.
#[derive(Clone)]
pub struct CommentObject(pub Arc<Comment>);

impl From<Comment> for CommentObject {
    fn from(c: Comment) -> Self {
        Self(Arc::new(c))
    }
}

#[Object(name = "Comment")]
impl CommentObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// Null once the comment is deleted.
    async fn text(&self) -> Option<&str> {
        (!self.0.deleted).then_some(self.0.text.as_str())
    }

    /// Deleted by its author or a moderator: it stays in the tree, without its text, so its replies stay.
    async fn deleted(&self) -> bool {
        self.0.deleted
    }

    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.creator_id).await
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn post(&self, ctx: &Context<'_>) -> ApiResult<PostObject> {
        let post = scope(ctx)?.loaders.posts.load_one(self.0.post_id).await?;
        post.map(PostObject::from).ok_or(ApiError(DomainError::NotFound("post")))
    }

    /// The comment this one replies to; null at the top level.
    async fn parent(&self, ctx: &Context<'_>) -> ApiResult<Option<CommentObject>> {
        let Some(parent) = self.0.parent_id else { return Ok(None) };
        Ok(scope(ctx)?.loaders.comments.load_one(parent).await?.map(CommentObject::from))
    }

    /// Direct replies.
    async fn total_replies(&self) -> i32 {
        int(self.0.total_replies)
    }

    /// Direct replies, oldest first.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn replies(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<CommentConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).posts().comments(scope(ctx)?.viewer, self.0.post_id, Some(self.0.id), page).await?;
        Ok(CommentConnection::from_page(page, CommentObject::from))
    }
}

connection!(CommentConnection, CommentEdge, CommentObject, "comment");
