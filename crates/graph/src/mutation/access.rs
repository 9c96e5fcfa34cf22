use crate::error::ApiResult;
use crate::ids::parse_id;
use crate::scope::{app, scope};
use crate::types::{ModeratorInviteObject, Privacy, SpaceAccessRequestObject, SpaceObject};
use async_graphql::{Context, ID, InputObject, Object};
use weco_domain::services::UpdateSpaceCommand;
use weco_domain::{AccessRequestId, ModeratorInviteId, SpaceId};

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
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Asks the moderators of a private space for access. Asking again returns the pending request; asking
    /// while invited accepts the invitation.
    async fn request_space_access(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceAccessRequestObject> {
        let scope = scope(ctx)?;
        let request = app(ctx).request_space_access(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(SpaceAccessRequestObject(request))
    }

    /// A moderator of the space accepts (granting membership) or rejects an access request. Never the
    /// requester; invitations are answered with `respondToSpaceInvitation`.
    async fn respond_to_access_request(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        accept: bool,
    ) -> ApiResult<SpaceAccessRequestObject> {
        let scope = scope(ctx)?;
        let id = parse_id::<AccessRequestId>(&request_id, "requestId")?;
        let request = app(ctx).respond_to_access_request(scope.viewer, id, accept).await?;
        scope.invalidate();
        Ok(SpaceAccessRequestObject(request))
    }

    /// A moderator invites a user into a private space; the user answers with `respondToSpaceInvitation`.
    /// Inviting a user who asked for access grants their request.
    async fn invite_to_space(
        &self,
        ctx: &Context<'_>,
        space_id: ID,
        user_handle: String,
    ) -> ApiResult<SpaceAccessRequestObject> {
        let scope = scope(ctx)?;
        let request = app(ctx).invite_to_space(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
        scope.invalidate();
        Ok(SpaceAccessRequestObject(request))
    }

    /// The invited user accepts (becoming a member) or declines an invitation into a private space.
    async fn respond_to_space_invitation(
        &self,
        ctx: &Context<'_>,
        request_id: ID,
        accept: bool,
    ) -> ApiResult<SpaceAccessRequestObject> {
        let scope = scope(ctx)?;
        let id = parse_id::<AccessRequestId>(&request_id, "requestId")?;
        let request = app(ctx).respond_to_space_invitation(scope.viewer, id, accept).await?;
        scope.invalidate();
        Ok(SpaceAccessRequestObject(request))
    }

    /// Gives a private space a new invite link (read it from `Space.inviteLinkToken`); the old one stops
    /// working. Moderators only.
    async fn rotate_space_invite_link(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).rotate_invite_link(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Disables a space's invite link. Moderators only.
    async fn revoke_space_invite_link(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).revoke_invite_link(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Becomes a member of the private space whose live invite link carries `token`.
    async fn join_space_with_invite_link(&self, ctx: &Context<'_>, token: String) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).join_space_with_invite_link(scope.viewer, &token).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Ends a user's membership of a space: moderators remove members (not other moderators); anyone may
    /// leave. Returns the space.
    async fn remove_space_member(
        &self,
        ctx: &Context<'_>,
        space_id: ID,
        user_handle: String,
    ) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).remove_space_member(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// A moderator invites a user to moderate the space too; nothing changes until that user accepts with
    /// `respondToModeratorInvite`.
    async fn invite_moderator(
        &self,
        ctx: &Context<'_>,
        space_id: ID,
        user_handle: String,
    ) -> ApiResult<ModeratorInviteObject> {
        let scope = scope(ctx)?;
        let invite = app(ctx).invite_moderator(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
        scope.invalidate();
        Ok(ModeratorInviteObject(invite))
    }

    /// The invited user accepts (becoming moderator and member) or declines. Nobody else can answer.
    async fn respond_to_moderator_invite(
        &self,
        ctx: &Context<'_>,
        invite_id: ID,
        accept: bool,
    ) -> ApiResult<ModeratorInviteObject> {
        let scope = scope(ctx)?;
        let id = parse_id::<ModeratorInviteId>(&invite_id, "inviteId")?;
        let invite = app(ctx).respond_to_moderator_invite(scope.viewer, id, accept).await?;
        scope.invalidate();
        Ok(ModeratorInviteObject(invite))
    }

    /// A moderator removes a moderator (they stay a member). The last moderator cannot be removed (`CONFLICT`).
    async fn remove_moderator(&self, ctx: &Context<'_>, space_id: ID, user_handle: String) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).remove_moderator(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// The viewer stops moderating the space (staying a member), unless they are its last moderator.
    async fn step_down_as_moderator(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).step_down_as_moderator(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Changes a space's name, description or privacy. Moderators only.
    async fn update_space(&self, ctx: &Context<'_>, input: UpdateSpaceInput) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let cmd = UpdateSpaceCommand {
            space_id: parse_id::<SpaceId>(&input.space_id, "input.spaceId")?,
            name: input.name,
            description: input.description,
            privacy: input.privacy.map(Into::into),
        };
        let space = app(ctx).update_space(scope.viewer, cmd).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Deletes a space (moderators; never the root). Its posts leave every feed it fed; its children go back
    /// under the root when it was their only parent. Refused with `PRIVACY_WIDENING` when that would take a
    /// space out of a private one. Returns the space as it was; it shows as inaccessible from now on.
    async fn delete_space(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).delete_space(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }
}
