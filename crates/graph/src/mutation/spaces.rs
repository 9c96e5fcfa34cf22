use crate::error::ApiResult;
use crate::ids::parse_id;
use crate::scope::{app, scope};
use crate::types::{Privacy, SpaceObject, SpaceRequestObject};
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use weco_domain::services::{Attachment, CreateSpaceCommand};
use weco_domain::{SpaceId, SpaceRequestId};

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

#[derive(Default)]
pub struct SpaceMutation;

#[Object]
impl SpaceMutation {
    /// Creates a space; the creator becomes its moderator and first follower.
    async fn create_space(&self, ctx: &Context<'_>, input: CreateSpaceInput) -> ApiResult<CreateSpacePayload> {
        let scope = scope(ctx)?;
        let parent_id = input.parent_id.as_ref().map(|id| parse_id::<SpaceId>(id, "input.parentId")).transpose()?;
        let created = app(ctx)
            .create_space(
                scope.viewer,
                CreateSpaceCommand {
                    handle: input.handle,
                    name: input.name,
                    description: input.description.unwrap_or_default(),
                    privacy: input.privacy.unwrap_or(Privacy::Public).into(),
                    parent_id,
                },
            )
            .await?;
        scope.invalidate();
        Ok(CreateSpacePayload { space: created.space.into(), request: created.request.map(SpaceRequestObject) })
    }

    /// Places a space under another as well. The caller must moderate the child. If they also moderate the
    /// parent it is attached at once; otherwise a request is filed for the parent's moderators.
    async fn attach_space(&self, ctx: &Context<'_>, input: AttachSpaceInput) -> ApiResult<AttachSpacePayload> {
        let scope = scope(ctx)?;
        let child = parse_id::<SpaceId>(&input.child_id, "input.childId")?;
        let parent = parse_id::<SpaceId>(&input.parent_id, "input.parentId")?;
        let outcome = app(ctx).attach_space(scope.viewer, child, parent).await?;
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
        let request = app(ctx).respond_to_space_request(scope.viewer, id, input.accept).await?;
        scope.invalidate();
        Ok(SpaceRequestObject(request))
    }

    /// Removes a space from under a parent (moderators of either side). A space left with no parent goes back
    /// under the root. Returns the child.
    async fn detach_space(&self, ctx: &Context<'_>, input: DetachSpaceInput) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let child = parse_id::<SpaceId>(&input.child_id, "input.childId")?;
        let parent = parse_id::<SpaceId>(&input.parent_id, "input.parentId")?;
        let space = app(ctx).detach_space(scope.viewer, child, parent).await?;
        scope.invalidate();
        Ok(space.into())
    }

    async fn follow_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).follow_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    async fn unfollow_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).unfollow_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }
}
