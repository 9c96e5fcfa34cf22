//! The holarchy in the schema: `Space` and `SpaceRequest`, the space queries, creating, attaching, detaching,
//! following, editing and deleting spaces, and the loaders behind them.

mod request;
mod space;

pub use request::SpaceRequestObject;
pub use space::{SpaceConnection, SpaceObject};

use crate::connection::{cost, page_request_in};
use crate::enums::Privacy;
use crate::error::{ApiError, ApiResult};
use crate::ids::parse_id;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use std::collections::HashMap;
use weco_domain::holarchy::{Attachment, CreateSpaceInput as CreateSpace, UpdateSpaceInput as UpdateSpace};
use weco_domain::{App, DomainError, Page, SpaceId, SpaceRequestId, SpaceView, Viewer};

/// Spaces by id as the viewer sees them (their access read in the same statement).
pub(crate) struct SpaceLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<SpaceId> for SpaceLoader {
    type Value = SpaceView;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, SpaceView>, DomainError> {
        Ok(self.app.holarchy().spaces(self.viewer, keys).await?.into_iter().map(|s| (s.id, s)).collect())
    }
}

/// What the viewer is to a space besides having access: do they moderate it, do they follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewerSpace {
    pub is_moderator: bool,
    pub is_following: bool,
}

pub(crate) struct ViewerSpaceLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<SpaceId> for ViewerSpaceLoader {
    type Value = ViewerSpace;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, ViewerSpace>, DomainError> {
        if self.viewer.id().is_none() {
            return Ok(HashMap::new());
        }
        let holarchy = self.app.holarchy();
        let moderated = holarchy.moderated_spaces(self.viewer, keys).await?;
        let followed = holarchy.followed_spaces(self.viewer, keys).await?;
        Ok(keys
            .iter()
            .map(|id| (*id, ViewerSpace { is_moderator: moderated.contains(id), is_following: followed.contains(id) }))
            .collect())
    }
}

/// A space by id, as the viewer sees it.
pub(crate) async fn load_space(ctx: &Context<'_>, id: SpaceId) -> ApiResult<SpaceObject> {
    let space = scope(ctx)?.loaders.spaces.load_one(id).await?;
    space.map(SpaceObject::from).ok_or(ApiError(DomainError::NotFound("space")))
}

/// A listing of spaces, remembered by the request so that fields asked of them later need no statement.
pub(crate) async fn listed(ctx: &Context<'_>, page: Page<SpaceView>) -> SpaceConnection {
    if let Ok(scope) = scope(ctx) {
        scope.loaders.spaces.feed_many(page.items.iter().map(|(_, s)| (s.id, s.clone()))).await;
    }
    SpaceConnection::from_page(page, SpaceObject::from)
}

#[derive(Default)]
pub struct SpaceQuery;

#[Object]
impl SpaceQuery {
    /// A space by handle or id (give one). The root space has handle `all`. Private spaces the viewer may not
    /// access show only their id, handle, name and privacy.
    async fn space(&self, ctx: &Context<'_>, handle: Option<String>, id: Option<ID>) -> ApiResult<Option<SpaceObject>> {
        let scope = scope(ctx)?;
        let space = match (handle, id) {
            (Some(handle), None) => {
                let found = app(ctx).holarchy().space_by_handle(scope.viewer, &handle).await?;
                if let Some(space) = &found {
                    scope.loaders.spaces.feed_one(space.id, space.clone()).await;
                }
                found
            }
            (None, Some(id)) => scope.loaders.spaces.load_one(parse_id::<SpaceId>(&id, "id")?).await?,
            _ => return Err(ApiError(DomainError::validation("handle", "give exactly one of handle and id"))),
        };
        Ok(space.map(SpaceObject::from))
    }

    /// Spaces whose handle or name contains `query`, most followed first, among those the viewer can reach by
    /// browsing: what lies inside a private space stays hidden from its non-members, and a space the viewer may
    /// not access counts as having no followers.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn search_spaces(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).holarchy().search(scope(ctx)?.viewer, &query, page).await?;
        Ok(listed(ctx, page).await)
    }

    /// A request to attach a space; visible to its requester and the moderators of both spaces.
    async fn space_request(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<SpaceRequestObject>> {
        let id = parse_id::<SpaceRequestId>(&id, "id")?;
        Ok(app(ctx).holarchy().space_request(scope(ctx)?.viewer, id).await?.map(SpaceRequestObject))
    }
}

/// A new space.
#[derive(InputObject)]
pub struct CreateSpaceInput {
    /// 2 to 40 lower-case letters, digits, `-` or `_`; unique among spaces.
    pub handle: String,
    pub name: String,
    #[graphql(default_with = "Some(String::new())")]
    pub description: Option<String>,
    #[graphql(default_with = "Some(Privacy::Public)")]
    pub privacy: Option<Privacy>,
    /// Where to place it. Without a parent the creator moderates, it starts under the root and a request goes
    /// to the parent's moderators.
    pub parent_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateSpacePayload {
    pub space: SpaceObject,
    /// Set when the parent's moderators must approve.
    pub request: Option<SpaceRequestObject>,
}

#[derive(InputObject)]
pub struct AttachSpaceInput {
    pub child_id: ID,
    pub parent_id: ID,
}

#[derive(SimpleObject)]
pub struct AttachSpacePayload {
    /// The child is now under the parent.
    pub attached: bool,
    /// Set when the parent's moderators must approve first.
    pub request: Option<SpaceRequestObject>,
}

#[derive(InputObject)]
pub struct RespondToSpaceRequestInput {
    pub request_id: ID,
    pub accept: bool,
}

#[derive(InputObject)]
pub struct DetachSpaceInput {
    pub child_id: ID,
    pub parent_id: ID,
}

/// What to change about a space; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateSpaceInput {
    pub space_id: ID,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `PRIVATE` narrows who sees what the space holds and is always allowed; `PUBLIC` is refused with
    /// `PRIVACY_WIDENING` while the space or any space below it holds posts.
    pub privacy: Option<Privacy>,
}

#[derive(Default)]
pub struct SpaceMutation;

#[Object]
impl SpaceMutation {
    /// Creates a space; the creator becomes its moderator and first follower.
    async fn create_space(&self, ctx: &Context<'_>, input: CreateSpaceInput) -> ApiResult<CreateSpacePayload> {
        let scope = scope(ctx)?;
        let parent_id = input.parent_id.as_ref().map(|id| parse_id::<SpaceId>(id, "input.parentId")).transpose()?;
        let command = CreateSpace {
            handle: input.handle,
            name: input.name,
            description: input.description.unwrap_or_default(),
            privacy: input.privacy.unwrap_or(Privacy::Public).into(),
            parent_id,
        };
        let created = app(ctx).holarchy().create_space(scope.viewer, command).await?;
        scope.invalidate();
        Ok(CreateSpacePayload { space: created.space.into(), request: created.request.map(SpaceRequestObject) })
    }

    /// Places a space under another as well. The caller must moderate the child. If they also moderate the
    /// parent it is attached at once; otherwise a request is filed for the parent's moderators.
    async fn attach_space(&self, ctx: &Context<'_>, input: AttachSpaceInput) -> ApiResult<AttachSpacePayload> {
        let scope = scope(ctx)?;
        let child = parse_id::<SpaceId>(&input.child_id, "input.childId")?;
        let parent = parse_id::<SpaceId>(&input.parent_id, "input.parentId")?;
        let outcome = app(ctx).holarchy().attach_space(scope.viewer, child, parent).await?;
        scope.invalidate();
        Ok(match outcome {
            Attachment::Attached => AttachSpacePayload { attached: true, request: None },
            Attachment::Requested(r) => AttachSpacePayload { attached: false, request: Some(SpaceRequestObject(r)) },
        })
    }

    /// A moderator of the parent accepts or rejects a request.
    async fn respond_to_space_request(
        &self,
        ctx: &Context<'_>,
        input: RespondToSpaceRequestInput,
    ) -> ApiResult<SpaceRequestObject> {
        let scope = scope(ctx)?;
        let id = parse_id::<SpaceRequestId>(&input.request_id, "input.requestId")?;
        let request = app(ctx).holarchy().respond_to_space_request(scope.viewer, id, input.accept).await?;
        scope.invalidate();
        Ok(SpaceRequestObject(request))
    }

    /// Removes a space from under a parent (moderators of either side). A space left with no parent goes back
    /// under the root. Returns the child.
    async fn detach_space(&self, ctx: &Context<'_>, input: DetachSpaceInput) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let child = parse_id::<SpaceId>(&input.child_id, "input.childId")?;
        let parent = parse_id::<SpaceId>(&input.parent_id, "input.parentId")?;
        let space = app(ctx).holarchy().detach_space(scope.viewer, child, parent).await?;
        scope.invalidate();
        Ok(space.into())
    }

    async fn follow_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).holarchy().follow_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    async fn unfollow_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).holarchy().unfollow_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Changes a space's name, description or privacy. Moderators only.
    async fn update_space(&self, ctx: &Context<'_>, input: UpdateSpaceInput) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let command = UpdateSpace {
            space_id: parse_id::<SpaceId>(&input.space_id, "input.spaceId")?,
            name: input.name,
            description: input.description,
            privacy: input.privacy.map(Into::into),
        };
        let space = app(ctx).holarchy().update_space(scope.viewer, command).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Deletes a space (moderators; never the root). Its posts leave every feed it fed; its children go back
    /// under the root when it was their only parent. Refused with `PRIVACY_WIDENING` when that would take a
    /// space out of a private one. Returns the space as it was; it shows as inaccessible from now on.
    async fn delete_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).holarchy().delete_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }
}
