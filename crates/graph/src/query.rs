//! The query root.

use crate::connection::page_request_in;
use crate::error::{ApiError, ApiResult};
use crate::ids::parse_id;
use crate::scope::{app, scope};
use crate::types::{PostConnection, PostObject, SpaceConnection, SpaceObject, SpaceRequestObject, UserObject};
use async_graphql::{Context, ID, MergedObject, Object};
use weco_domain::{DomainError, PostId, SpaceId, SpaceRequestId};

#[derive(MergedObject, Default)]
pub struct Query(AccountQuery, SpaceQuery, PostQuery, crate::types::AccessQuery);

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The logged-in viewer; null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        let scope = scope(ctx)?;
        let Some(id) = scope.viewer.id() else { return Ok(None) };
        Ok(scope.loaders.users.load_one(id).await?.map(UserObject::from))
    }

    /// A user by handle.
    async fn user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<Option<UserObject>> {
        Ok(app(ctx).user_by_handle(&handle).await?.map(UserObject::from))
    }
}

#[derive(Default)]
pub struct SpaceQuery;

#[Object]
impl SpaceQuery {
    /// A space by handle or id (give one). The root space has handle `all`. Private spaces the viewer may not
    /// access show only their id, handle, name and privacy.
    async fn space(&self, ctx: &Context<'_>, handle: Option<String>, id: Option<ID>) -> ApiResult<Option<SpaceObject>> {
        let space = match (handle, id) {
            (Some(handle), None) => {
                let scope = scope(ctx)?;
                match app(ctx).space_by_handle_for(scope.viewer, &handle).await? {
                    Some((space, accessible)) => {
                        // What the lookup read along the way: later fields (its feed) need no statement for it.
                        scope.loaders.access.feed_one(space.id, accessible).await;
                        scope.loaders.spaces.feed_one(space.id, space.clone()).await;
                        Some(space)
                    }
                    None => None,
                }
            }
            (None, Some(id)) => scope(ctx)?.loaders.spaces.load_one(parse_id::<SpaceId>(&id, "id")?).await?,
            _ => return Err(ApiError(DomainError::validation("handle", "give exactly one of handle and id"))),
        };
        Ok(space.map(SpaceObject::from))
    }

    /// Spaces whose handle or name contains `query`, most followed first, among those the viewer can reach by
    /// browsing: what lies inside a private space stays hidden from its non-members, and a space the viewer may
    /// not access counts as having no followers.
    async fn search_spaces(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).search_spaces(scope(ctx)?.viewer, &query, page).await?;
        Ok(SpaceConnection::from_page(page, SpaceObject::from))
    }

    /// A request to attach a space; visible to its requester and the moderators of both spaces.
    async fn space_request(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<SpaceRequestObject>> {
        let id = parse_id::<SpaceRequestId>(&id, "id")?;
        match app(ctx).space_request(scope(ctx)?.viewer, id).await {
            Ok(request) => Ok(Some(SpaceRequestObject(request))),
            Err(DomainError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// A post, if the viewer may see it (otherwise null, as if it did not exist).
    async fn post(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<PostObject>> {
        let id = parse_id::<PostId>(&id, "id")?;
        Ok(app(ctx).post(scope(ctx)?.viewer, id).await?.map(PostObject::from))
    }

    /// Posts whose title or text match `query` (full-text), newest first, among those the viewer may see.
    async fn search_posts(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).search_posts(scope(ctx)?.viewer, &query, page).await?;
        Ok(PostConnection::from_page(page))
    }
}
