//! Membership and access in the schema: requests for access and invitations, invitations to moderate, the
//! queries that find them, the mutations that answer them, and the loaders behind the viewer-specific `Space`
//! fields (membership, invite link).

use crate::accounts::{UserObject, load_user};
use crate::connection::{connection, page_request_in};
use crate::enums::{AccessRequestKind, RequestState};
use crate::error::ApiResult;
use crate::holarchy::{SpaceObject, load_space};
use crate::ids::{parse_id, to_id};
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use weco_domain::{
    AccessRequest, AccessRequestId, App, DomainError, ModeratorInvite, ModeratorInviteId, SpaceId, Viewer,
};

/// A request for access to a private space, or an invitation into one. Visible to its user and to the space's
/// moderators.
#[derive(Clone)]
pub struct SpaceAccessRequestObject(pub AccessRequest);

#[Object(name = "SpaceAccessRequest")]
impl SpaceAccessRequestObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The private space.
    async fn space(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.space_id).await
    }

    /// Who asked, or who is invited.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.user_id).await
    }

    async fn state(&self) -> RequestState {
        self.0.state.into()
    }

    /// A request (moderators answer) or an invitation (the invited user answers).
    async fn kind(&self) -> AccessRequestKind {
        self.0.kind.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

connection!(SpaceAccessRequestConnection, SpaceAccessRequestEdge, SpaceAccessRequestObject, "space access request");

/// An invitation to moderate a space. Only the invited user can accept it. Visible to the invitee and to the
/// space's moderators.
#[derive(Clone)]
pub struct ModeratorInviteObject(pub ModeratorInvite);

#[Object(name = "ModeratorInvite")]
impl ModeratorInviteObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn space(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.space_id).await
    }

    /// Who is invited.
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.user_id).await
    }

    /// The moderator who invited them.
    async fn inviter(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.inviter_id).await
    }

    async fn state(&self) -> RequestState {
        self.0.state.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

connection!(ModeratorInviteConnection, ModeratorInviteEdge, ModeratorInviteObject, "moderator invitation");

#[derive(Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// An access request or invitation; visible to its user and the space's moderators (null otherwise).
    async fn space_access_request(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<SpaceAccessRequestObject>> {
        let id = parse_id::<AccessRequestId>(&id, "id")?;
        Ok(app(ctx).access().access_request(scope(ctx)?.viewer, id).await?.map(SpaceAccessRequestObject))
    }

    /// An invitation to moderate; visible to the invitee and the space's moderators (null otherwise).
    async fn moderator_invite(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ModeratorInviteObject>> {
        let id = parse_id::<ModeratorInviteId>(&id, "id")?;
        Ok(app(ctx).access().moderator_invite(scope(ctx)?.viewer, id).await?.map(ModeratorInviteObject))
    }

    /// The viewer's pending invitations into private spaces, oldest first. Needs a login.
    async fn access_invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceAccessRequestConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).access().my_access_invitations(scope(ctx)?.viewer, page).await?;
        Ok(SpaceAccessRequestConnection::from_page(page, SpaceAccessRequestObject))
    }

    /// The viewer's pending invitations to moderate, oldest first. Needs a login.
    async fn moderator_invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<ModeratorInviteConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).access().my_moderator_invites(scope(ctx)?.viewer, page).await?;
        Ok(ModeratorInviteConnection::from_page(page, ModeratorInviteObject))
    }
}

// ---- the Space fields of this area (called from `space.rs`) -----------------------------------------------

pub(crate) async fn viewer_is_member(ctx: &Context<'_>, space: SpaceId) -> ApiResult<bool> {
    Ok(scope(ctx)?.loaders.memberships.load_one(space).await?.unwrap_or(false))
}

pub(crate) async fn invite_link_token(ctx: &Context<'_>, space: SpaceId) -> ApiResult<Option<String>> {
    Ok(scope(ctx)?.loaders.invite_links.load_one(space).await?)
}

pub(crate) async fn pending_access_requests(
    ctx: &Context<'_>,
    space: SpaceId,
    first: Option<i32>,
    after: Option<String>,
    kind: Option<AccessRequestKind>,
) -> ApiResult<SpaceAccessRequestConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let kind = kind.unwrap_or(AccessRequestKind::Request).into();
    let page = app(ctx).access().pending_access_requests(scope(ctx)?.viewer, space, kind, page).await?;
    Ok(SpaceAccessRequestConnection::from_page(page, SpaceAccessRequestObject))
}

pub(crate) async fn pending_moderator_invites(
    ctx: &Context<'_>,
    space: SpaceId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<ModeratorInviteConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).access().pending_moderator_invites(scope(ctx)?.viewer, space, page).await?;
    Ok(ModeratorInviteConnection::from_page(page, ModeratorInviteObject))
}

// ---- loaders -------------------------------------------------------------------------------------------

/// Whether the viewer is a member of each space.
pub(crate) struct MembershipLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<SpaceId> for MembershipLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, bool>, DomainError> {
        let members = self.app.access().member_spaces(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, members.contains(id))).collect())
    }
}

/// The invite-link tokens of the spaces the viewer moderates; other spaces get none.
pub(crate) struct InviteLinkLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<SpaceId> for InviteLinkLoader {
    type Value = String;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, String>, DomainError> {
        self.app.access().invite_link_tokens(self.viewer, keys).await
    }
}

#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Asks the moderators of a private space for access. Asking again returns the pending request; asking
    /// while invited accepts the invitation.
    async fn request_space_access(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceAccessRequestObject> {
        let scope = scope(ctx)?;
        let request = app(ctx).access().request_space_access(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
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
        let request = app(ctx).access().respond_to_access_request(scope.viewer, id, accept).await?;
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
        let request =
            app(ctx).access().invite_to_space(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
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
        let request = app(ctx).access().respond_to_space_invitation(scope.viewer, id, accept).await?;
        scope.invalidate();
        Ok(SpaceAccessRequestObject(request))
    }

    /// Gives a private space a new invite link (read it from `Space.inviteLinkToken`); the old one stops
    /// working. Moderators only.
    async fn rotate_space_invite_link(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).access().rotate_invite_link(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Disables a space's invite link. Moderators only.
    async fn revoke_space_invite_link(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).access().revoke_invite_link(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// Becomes a member of the private space whose live invite link carries `token`.
    async fn join_space_with_invite_link(&self, ctx: &Context<'_>, token: String) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).access().join_space_with_invite_link(scope.viewer, &token).await?;
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
        let space =
            app(ctx).access().remove_space_member(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
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
        let invite =
            app(ctx).access().invite_moderator(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
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
        let invite = app(ctx).access().respond_to_moderator_invite(scope.viewer, id, accept).await?;
        scope.invalidate();
        Ok(ModeratorInviteObject(invite))
    }

    /// A moderator removes a moderator (they stay a member). The last moderator cannot be removed (`CONFLICT`).
    async fn remove_moderator(&self, ctx: &Context<'_>, space_id: ID, user_handle: String) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space =
            app(ctx).access().remove_moderator(scope.viewer, parse_id(&space_id, "spaceId")?, &user_handle).await?;
        scope.invalidate();
        Ok(space.into())
    }

    /// The viewer stops moderating the space (staying a member), unless they are its last moderator.
    async fn step_down_as_moderator(&self, ctx: &Context<'_>, space_id: ID) -> ApiResult<SpaceObject> {
        let scope = scope(ctx)?;
        let space = app(ctx).access().step_down_as_moderator(scope.viewer, parse_id(&space_id, "spaceId")?).await?;
        scope.invalidate();
        Ok(space.into())
    }
}
