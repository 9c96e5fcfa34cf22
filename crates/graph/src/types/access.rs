//! Access to private spaces and moderation: requests and invitations, invitations to moderate, the queries that
//! find them, and the loaders behind the viewer-specific `Space` fields (membership, invite link).

use super::{RequestState, SpaceObject, UserObject};
use crate::connection::{connection, page_request_in};
use crate::error::{ApiError, ApiResult};
use crate::ids::{parse_id, to_id};
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use weco_domain::{
    AccessRequest, AccessRequestId, App, DomainError, ModeratorInvite, ModeratorInviteId, PostId, SpaceId, UserId,
    Viewer,
};

/// Who started an access request.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AccessRequestKind {
    /// The user asked; the space's moderators answer.
    Request,
    /// A moderator invited the user; the user answers.
    Invite,
}

impl From<weco_domain::AccessRequestKind> for AccessRequestKind {
    fn from(k: weco_domain::AccessRequestKind) -> Self {
        match k {
            weco_domain::AccessRequestKind::Request => Self::Request,
            weco_domain::AccessRequestKind::Invite => Self::Invite,
        }
    }
}

impl From<AccessRequestKind> for weco_domain::AccessRequestKind {
    fn from(k: AccessRequestKind) -> Self {
        match k {
            AccessRequestKind::Request => Self::Request,
            AccessRequestKind::Invite => Self::Invite,
        }
    }
}

pub(crate) async fn load_space(ctx: &Context<'_>, id: SpaceId) -> ApiResult<SpaceObject> {
    let space = scope(ctx)?.loaders.spaces.load_one(id).await?;
    space.map(SpaceObject::from).ok_or(ApiError(DomainError::NotFound("space")))
}

async fn load_user(ctx: &Context<'_>, id: UserId) -> ApiResult<UserObject> {
    let user = scope(ctx)?.loaders.users.load_one(id).await?;
    user.map(UserObject::from).ok_or(ApiError(DomainError::NotFound("user")))
}

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
        Ok(app(ctx).access_request(scope(ctx)?.viewer, id).await?.map(SpaceAccessRequestObject))
    }

    /// An invitation to moderate; visible to the invitee and the space's moderators (null otherwise).
    async fn moderator_invite(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ModeratorInviteObject>> {
        let id = parse_id::<ModeratorInviteId>(&id, "id")?;
        Ok(app(ctx).moderator_invite(scope(ctx)?.viewer, id).await?.map(ModeratorInviteObject))
    }

    /// The viewer's pending invitations into private spaces, oldest first. Needs a login.
    async fn access_invitations(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceAccessRequestConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).my_access_invitations(scope(ctx)?.viewer, page).await?;
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
        let page = app(ctx).my_moderator_invites(scope(ctx)?.viewer, page).await?;
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

pub(crate) async fn members(
    ctx: &Context<'_>,
    space: SpaceId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<super::UserConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).space_members(scope(ctx)?.viewer, space, page).await?;
    Ok(super::UserConnection::from_page(page, UserObject::from))
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
    let page = app(ctx).pending_access_requests(scope(ctx)?.viewer, space, kind, page).await?;
    Ok(SpaceAccessRequestConnection::from_page(page, SpaceAccessRequestObject))
}

pub(crate) async fn pending_moderator_invites(
    ctx: &Context<'_>,
    space: SpaceId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<ModeratorInviteConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).pending_moderator_invites(scope(ctx)?.viewer, space, page).await?;
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
        let members = self.app.member_spaces(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, members.contains(id))).collect())
    }
}

/// Whether the viewer may see each post. Everything hanging off a post is shown only when it is, whichever way
/// the post was reached (a mutation's return value, an event).
pub(crate) struct PostVisibilityLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostVisibilityLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, bool>, DomainError> {
        let visible = self.app.visible_posts(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, visible.contains(id))).collect())
    }
}

pub(crate) async fn post_is_visible(ctx: &Context<'_>, post: PostId) -> ApiResult<bool> {
    Ok(scope(ctx)?.loaders.post_visibility.load_one(post).await?.unwrap_or(false))
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
        self.app.invite_link_tokens(self.viewer, keys).await
    }
}
