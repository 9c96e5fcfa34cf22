//! Membership and access: who may enter a private space and who runs a space — access requests and
//! invitations, invite links, memberships, invitations to moderate, removing and stepping down.
//!
//! Every rule a client could otherwise bend is checked here: only moderators answer access requests and never
//! their own; only the invitee answers an invitation, to a space or to moderate it; invite-link tokens are read
//! and rotated by moderators only; a space always keeps a moderator.

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::holarchy::{load_space, narrowed, view_in};
use crate::ids::*;
use crate::model::*;
use crate::notifications::{self, Fold, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::policy::{self, Action, Standing};
use crate::privacy::{Accessible, SpaceView};
use crate::uow::{Command, Repos, UnitOfWork};
use crate::values::{Privacy, RequestState};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};

/// The access service: `app.access()`.
pub struct AccessService<'a> {
    pub(crate) app: &'a App,
}

async fn moderates(repos: &dyn Repos, user: UserId, space: SpaceId) -> DomainResult<bool> {
    Ok(!repos.holarchy().moderated_among(user, &[space]).await?.is_empty())
}

async fn is_member(repos: &dyn Repos, user: UserId, space: SpaceId) -> DomainResult<bool> {
    Ok(!repos.access().member_of_among(user, &[space]).await?.is_empty())
}

async fn user_named(repos: &dyn Repos, handle: &str) -> DomainResult<User> {
    repos.accounts().user_by_handle(handle.trim()).await?.ok_or(DomainError::NotFound("user"))
}

async fn load_access_request(repos: &dyn Repos, id: AccessRequestId) -> DomainResult<AccessRequest> {
    repos
        .access()
        .access_requests_by_ids(&[id])
        .await?
        .into_iter()
        .next()
        .ok_or(DomainError::NotFound("access request"))
}

async fn load_moderator_invite(repos: &dyn Repos, id: ModeratorInviteId) -> DomainResult<ModeratorInvite> {
    let found = repos.access().moderator_invites_by_ids(&[id]).await?.into_iter().next();
    found.ok_or(DomainError::NotFound("moderator invitation"))
}

/// Grants membership on a pending request or invitation and marks it accepted.
async fn grant(uow: &UnitOfWork, request: AccessRequest) -> DomainResult<AccessRequest> {
    uow.access().add_member(request.space_id, request.user_id).await?;
    if !uow.access().resolve_access_request(request.id, RequestState::Accepted, uow.actor().user()).await? {
        return Err(DomainError::conflict("the request has already been answered"));
    }
    Ok(AccessRequest { state: RequestState::Accepted, ..request })
}

/// Access requests and invite links concern private spaces only. A public space inside private ones is
/// entered through them: the error names the private spaces above it that `asker` (when given: who would ask)
/// is not a member of yet, nearest first — those are the ones to ask for access to instead.
async fn require_private(repos: &dyn Repos, space: &Space, field: &str, asker: Option<UserId>) -> DomainResult<()> {
    if space.privacy == Privacy::Private {
        return Ok(());
    }
    let ancestry = repos.holarchy().private_ancestry(&[space.id]).await?.remove(&space.id).unwrap_or_default();
    if ancestry.is_empty() {
        return Err(DomainError::validation(field, "the space is public: everyone who may see it has access"));
    }
    let ancestry: Vec<SpaceId> = ancestry.into_iter().collect();
    let joined: HashSet<SpaceId> = match asker {
        Some(user) => repos.access().member_of_among(user, &ancestry).await?.into_iter().collect(),
        None => HashSet::new(),
    };
    let missing: Vec<SpaceId> = ancestry.iter().copied().filter(|s| !joined.contains(s)).collect();
    if missing.is_empty() {
        return Err(DomainError::validation(
            field,
            "the space is public, and you are a member of every private space it lies inside: you have access",
        ));
    }
    // The nearest first: a private space inside another has it (and more) among its own private ancestors.
    let mut spaces = repos.holarchy().spaces_by_ids(&missing).await?;
    let above = repos.holarchy().private_ancestry(&missing).await?;
    spaces.sort_by_key(|s| (std::cmp::Reverse(above.get(&s.id).map_or(0, |a| a.len())), s.handle.clone()));
    let quoted: Vec<String> = spaces.iter().map(|s| format!("'{}'", s.handle)).collect();
    let message = match quoted.as_slice() {
        [one] => {
            format!("the space is public, but it lies inside the private space {one}: ask for access to {one} instead")
        }
        [rest @ .., last] => format!(
            "the space is public, but it lies inside the private spaces {} and {last}: ask for access to each of \
             them instead, the nearest first",
            rest.join(", ")
        ),
        [] => "the space is public, but it lies inside private spaces: ask for access to those instead".to_owned(),
    };
    Err(DomainError::validation(field, message))
}

/// A fresh invite-link token: 256 random bits, hex-encoded.
fn new_token() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
}

struct RequestAccess {
    space: SpaceId,
}

#[async_trait]
impl Command for RequestAccess {
    type Output = AccessRequest;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<AccessRequest> {
        let user = uow.actor().require_user()?;
        let space = load_space(&**uow, self.space).await?;
        require_private(&**uow, &space, "spaceId", Some(user)).await?;
        if is_member(&**uow, user, space.id).await? {
            return Err(DomainError::conflict("you are already a member of this space"));
        }
        match uow.access().pending_access_request(space.id, user).await? {
            Some(pending) if pending.kind == AccessRequestKind::Request => Ok(pending),
            Some(invitation) => grant(uow, invitation).await,
            None => {
                let request = AccessRequest {
                    id: AccessRequestId::generate(),
                    space_id: space.id,
                    user_id: user,
                    kind: AccessRequestKind::Request,
                    state: RequestState::Pending,
                    created_at: uow.now(),
                };
                uow.access().insert_access_request(&request).await?;
                let (kind, fold) = (NotificationKind::AccessRequestReceived, Fold::PerDay(space.id.0));
                notifications::notify_moderators(uow, space.id, kind, Some(user), fold).await?;
                Ok(request)
            }
        }
    }
}

/// A moderator answers a request, or the invitee answers an invitation.
struct Answer {
    id: AccessRequestId,
    accept: bool,
    /// Answering an invitation (the invitee) rather than a request (a moderator).
    invitation: bool,
}

#[async_trait]
impl Command for Answer {
    type Output = AccessRequest;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<AccessRequest> {
        let actor = uow.actor();
        let request = load_access_request(&**uow, self.id).await?;
        let what = if self.invitation { "invitation" } else { "request" };
        if self.invitation {
            let invitee = request.kind == AccessRequestKind::Invite && actor.user() == Some(request.user_id);
            policy::require(&actor, Standing { invitee, ..Standing::NONE }, Action::AnswerInvitation)?;
        } else {
            policy::require_moderator(&**uow, &actor, request.space_id, Action::AnswerAccessRequest).await?;
            if actor.user() == Some(request.user_id) {
                return Err(DomainError::forbidden("you cannot answer your own access request"));
            }
            if request.kind == AccessRequestKind::Invite {
                return Err(DomainError::forbidden("an invitation is answered by the invited user"));
            }
        }
        if request.state != RequestState::Pending {
            return Err(DomainError::conflict(format!("the {what} has already been answered")));
        }
        load_space(&**uow, request.space_id).await?;
        let answered = if self.accept {
            grant(uow, request).await?
        } else {
            if !uow.access().resolve_access_request(self.id, RequestState::Rejected, actor.user()).await? {
                return Err(DomainError::conflict(format!("the {what} has already been answered")));
            }
            AccessRequest { state: RequestState::Rejected, ..request }
        };
        if !self.invitation {
            let kind = NotificationKind::AccessRequestAnswered;
            notifications::notify_about_space(uow, answered.user_id, kind, answered.space_id, answered.id.0).await?;
        }
        Ok(answered)
    }
}

struct InviteMember {
    space: SpaceId,
    handle: String,
}

#[async_trait]
impl Command for InviteMember {
    type Output = AccessRequest;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<AccessRequest> {
        let actor = uow.actor();
        let space = load_space(&**uow, self.space).await?;
        policy::require_moderator(&**uow, &actor, space.id, Action::InviteMember).await?;
        require_private(&**uow, &space, "spaceId", None).await?;
        let invitee = user_named(&**uow, &self.handle).await?;
        if is_member(&**uow, invitee.id, space.id).await? {
            return Err(DomainError::conflict("the user is already a member of this space"));
        }
        match uow.access().pending_access_request(space.id, invitee.id).await? {
            Some(pending) if pending.kind == AccessRequestKind::Invite => Ok(pending),
            Some(request) => grant(uow, request).await,
            None => {
                let invitation = AccessRequest {
                    id: AccessRequestId::generate(),
                    space_id: space.id,
                    user_id: invitee.id,
                    kind: AccessRequestKind::Invite,
                    state: RequestState::Pending,
                    created_at: uow.now(),
                };
                uow.access().insert_access_request(&invitation).await?;
                let kind = NotificationKind::SpaceInvitation;
                notifications::notify_about_space(uow, invitee.id, kind, space.id, invitation.id.0).await?;
                Ok(invitation)
            }
        }
    }
}

struct SetInviteLink {
    space: SpaceId,
    /// Rotate (a new link) or revoke (none).
    rotate: bool,
}

#[async_trait]
impl Command for SetInviteLink {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        let space = load_space(&**uow, self.space).await?;
        policy::require_moderator(&**uow, &actor, space.id, Action::ManageInviteLink).await?;
        if self.rotate {
            require_private(&**uow, &space, "spaceId", None).await?;
            uow.access().set_invite_link(space.id, &new_token(), actor.require_user()?).await?;
        } else {
            uow.access().remove_invite_link(space.id).await?;
        }
        view_in(uow, space.id).await
    }
}

struct JoinWithInviteLink {
    token: String,
}

#[async_trait]
impl Command for JoinWithInviteLink {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let user = uow.actor().require_user()?;
        let space =
            uow.access().space_by_invite_token(&self.token).await?.ok_or(DomainError::NotFound("invite link"))?;
        if !is_member(&**uow, user, space).await? {
            match uow.access().pending_access_request(space, user).await? {
                Some(pending) => {
                    grant(uow, pending).await?;
                }
                None => uow.access().add_member(space, user).await?,
            }
        }
        view_in(uow, space).await
    }
}

struct RemoveMember {
    space: SpaceId,
    handle: String,
}

#[async_trait]
impl Command for RemoveMember {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        load_space(&**uow, self.space).await?;
        let member = user_named(&**uow, &self.handle).await?;
        // Anyone may leave; removing someone else takes a moderator.
        if actor.user() != Some(member.id) {
            policy::require_moderator(&**uow, &actor, self.space, Action::RemoveMember).await?;
        }
        uow.access().lock_space(self.space).await?;
        if moderates(&**uow, member.id, self.space).await? {
            return Err(DomainError::conflict("a moderator keeps access: step down or be removed as moderator first"));
        }
        if !uow.access().remove_member(self.space, member.id).await? {
            return Err(DomainError::NotFound("member"));
        }
        narrowed(uow, self.space).await?;
        view_in(uow, self.space).await
    }
}

struct InviteModerator {
    space: SpaceId,
    handle: String,
}

#[async_trait]
impl Command for InviteModerator {
    type Output = ModeratorInvite;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<ModeratorInvite> {
        let actor = uow.actor();
        load_space(&**uow, self.space).await?;
        policy::require_moderator(&**uow, &actor, self.space, Action::InviteModerator).await?;
        let invitee = user_named(&**uow, &self.handle).await?;
        if moderates(&**uow, invitee.id, self.space).await? {
            return Err(DomainError::conflict("the user already moderates this space"));
        }
        if let Some(pending) = uow.access().pending_moderator_invite(self.space, invitee.id).await? {
            return Ok(pending);
        }
        let invite = ModeratorInvite {
            id: ModeratorInviteId::generate(),
            space_id: self.space,
            user_id: invitee.id,
            inviter_id: actor.require_user()?,
            state: RequestState::Pending,
            created_at: uow.now(),
        };
        uow.access().insert_moderator_invite(&invite).await?;
        let kind = NotificationKind::ModeratorInvitation;
        notifications::notify_about_space(uow, invitee.id, kind, self.space, invite.id.0).await?;
        Ok(invite)
    }
}

struct AnswerModeratorInvite {
    id: ModeratorInviteId,
    accept: bool,
}

#[async_trait]
impl Command for AnswerModeratorInvite {
    type Output = ModeratorInvite;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<ModeratorInvite> {
        let actor = uow.actor();
        let invite = load_moderator_invite(&**uow, self.id).await?;
        let invitee = actor.user() == Some(invite.user_id);
        policy::require(&actor, Standing { invitee, ..Standing::NONE }, Action::AnswerInvitation)?;
        if invite.state != RequestState::Pending {
            return Err(DomainError::conflict("the invitation has already been answered"));
        }
        load_space(&**uow, invite.space_id).await?;
        let state = if self.accept { RequestState::Accepted } else { RequestState::Rejected };
        if !uow.access().resolve_moderator_invite(self.id, state).await? {
            return Err(DomainError::conflict("the invitation has already been answered"));
        }
        if self.accept {
            uow.access().add_moderator(invite.space_id, invite.user_id).await?;
            uow.access().add_member(invite.space_id, invite.user_id).await?;
        }
        Ok(ModeratorInvite { state, ..invite })
    }
}

/// Ends a moderatorship: removed by a moderator, or stepping down (`handle` = `None`).
pub(crate) struct DropModerator {
    pub(crate) space: SpaceId,
    pub(crate) handle: Option<String>,
}

#[async_trait]
impl Command for DropModerator {
    type Output = SpaceView;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<SpaceView> {
        let actor = uow.actor();
        load_space(&**uow, self.space).await?;
        policy::require_moderator(&**uow, &actor, self.space, Action::RemoveModerator).await?;
        let target = match &self.handle {
            Some(handle) => user_named(&**uow, handle).await?.id,
            None => actor.require_user()?,
        };
        // Locked first: two moderators removing each other at once must not leave the space with none.
        uow.access().lock_space(self.space).await?;
        if !moderates(&**uow, target, self.space).await? {
            return Err(DomainError::NotFound("moderator"));
        }
        if uow.access().count_moderators(self.space).await? <= 1 {
            return Err(DomainError::conflict("a space keeps at least one moderator"));
        }
        uow.access().remove_moderator(self.space, target).await?;
        view_in(uow, self.space).await
    }
}

impl AccessService<'_> {
    /// Asks the moderators of a private space for access. Asking again returns the pending request; asking
    /// while invited accepts the invitation.
    pub async fn request_space_access(&self, viewer: Viewer, space: SpaceId) -> DomainResult<AccessRequest> {
        self.app.execute(viewer.actor()?, &RequestAccess { space }).await
    }

    /// A moderator of the space accepts (granting membership) or rejects a pending access request. Nobody
    /// answers their own request, and invitations are answered by their invitee.
    pub async fn respond_to_access_request(
        &self,
        viewer: Viewer,
        id: AccessRequestId,
        accept: bool,
    ) -> DomainResult<AccessRequest> {
        self.app.execute(viewer.actor()?, &Answer { id, accept, invitation: false }).await
    }

    /// A moderator invites a user into a private space; the user accepts or declines. Inviting someone who
    /// already asked grants their request.
    pub async fn invite_to_space(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<AccessRequest> {
        self.app.execute(viewer.actor()?, &InviteMember { space, handle: handle.to_owned() }).await
    }

    /// The invitee accepts (becoming a member) or declines an invitation into a private space.
    pub async fn respond_to_space_invitation(
        &self,
        viewer: Viewer,
        id: AccessRequestId,
        accept: bool,
    ) -> DomainResult<AccessRequest> {
        self.app.execute(viewer.actor()?, &Answer { id, accept, invitation: true }).await
    }

    /// Gives a private space a new invite link, replacing (and so disabling) the old one. Moderators only.
    pub async fn rotate_invite_link(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &SetInviteLink { space, rotate: true }).await
    }

    /// Disables a space's invite link. Moderators only.
    pub async fn revoke_invite_link(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &SetInviteLink { space, rotate: false }).await
    }

    /// Joins the private space a live invite-link token opens. Joining twice changes nothing.
    pub async fn join_space_with_invite_link(&self, viewer: Viewer, token: &str) -> DomainResult<SpaceView> {
        let actor = viewer.actor()?;
        let token = token.trim();
        if token.is_empty() || token.len() > 200 || token.chars().any(char::is_control) {
            return Err(DomainError::validation("token", "is not an invite-link token"));
        }
        self.app.execute(actor, &JoinWithInviteLink { token: token.to_owned() }).await
    }

    /// Ends a user's membership: moderators may remove anyone but a moderator; members may leave.
    pub async fn remove_space_member(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &RemoveMember { space, handle: handle.to_owned() }).await
    }

    /// A moderator invites a user to moderate the space too; nothing changes until the invitee accepts.
    pub async fn invite_moderator(
        &self,
        viewer: Viewer,
        space: SpaceId,
        handle: &str,
    ) -> DomainResult<ModeratorInvite> {
        self.app.execute(viewer.actor()?, &InviteModerator { space, handle: handle.to_owned() }).await
    }

    /// The invitee accepts (becoming moderator and member) or declines an invitation to moderate.
    pub async fn respond_to_moderator_invite(
        &self,
        viewer: Viewer,
        id: ModeratorInviteId,
        accept: bool,
    ) -> DomainResult<ModeratorInvite> {
        self.app.execute(viewer.actor()?, &AnswerModeratorInvite { id, accept }).await
    }

    /// A moderator removes another (or themselves); the last moderator stays. The removed user remains a
    /// member.
    pub async fn remove_moderator(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &DropModerator { space, handle: Some(handle.to_owned()) }).await
    }

    /// A moderator steps down, unless they are the last one.
    pub async fn step_down_as_moderator(&self, viewer: Viewer, space: SpaceId) -> DomainResult<SpaceView> {
        self.app.execute(viewer.actor()?, &DropModerator { space, handle: None }).await
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// An access request or invitation, for its user and the space's moderators only.
    pub async fn access_request(&self, viewer: Viewer, id: AccessRequestId) -> DomainResult<Option<AccessRequest>> {
        let Some(user) = viewer.id() else { return Ok(None) };
        let store = self.app.reads(viewer);
        let Some(request) = store.access().access_requests_by_ids(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        let visible = request.user_id == user || moderates(store, user, request.space_id).await?;
        Ok(visible.then_some(request))
    }

    /// Pending access requests (or invitations) of a space, oldest first. Moderators only.
    pub async fn pending_access_requests(
        &self,
        viewer: Viewer,
        space: SpaceId,
        kind: AccessRequestKind,
        page: PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        let store = self.app.reads(viewer);
        policy::require_moderator(store, &viewer.actor()?, space, Action::SeeAccessRequests).await?;
        store.access().pending_access_requests_for(space, kind, &page).await
    }

    /// The viewer's pending invitations into private spaces.
    pub async fn my_access_invitations(&self, viewer: Viewer, page: PageRequest) -> DomainResult<Page<AccessRequest>> {
        let user = viewer.require()?;
        self.app.reads(viewer).access().pending_access_invitations_of(user, &page).await
    }

    /// Invite-link tokens of the spaces among `spaces` that the viewer moderates (and that have one).
    pub async fn invite_link_tokens(
        &self,
        viewer: Viewer,
        spaces: &[SpaceId],
    ) -> DomainResult<HashMap<SpaceId, String>> {
        let Some(user) = viewer.id() else { return Ok(HashMap::new()) };
        let store = self.app.reads(viewer);
        let moderated = store.holarchy().moderated_among(user, spaces).await?;
        store.access().invite_link_tokens(&moderated).await
    }

    /// Which of `spaces` the viewer is a member of.
    pub async fn member_spaces(&self, viewer: Viewer, spaces: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => {
                Ok(self.app.reads(viewer).access().member_of_among(user, spaces).await?.into_iter().collect())
            }
            None => Ok(HashSet::new()),
        }
    }

    /// A space's members, longest-standing first.
    pub async fn members(&self, space: Accessible, page: PageRequest) -> DomainResult<Page<User>> {
        self.app.reads(space.viewer()).access().members(space.space(), &page).await
    }

    /// A space's moderators, longest-serving first.
    pub async fn moderators(&self, space: Accessible, page: PageRequest) -> DomainResult<Page<User>> {
        self.app.reads(space.viewer()).access().moderators(space.space(), &page).await
    }

    /// An invitation to moderate, for its invitee and the space's moderators only.
    pub async fn moderator_invite(
        &self,
        viewer: Viewer,
        id: ModeratorInviteId,
    ) -> DomainResult<Option<ModeratorInvite>> {
        let Some(user) = viewer.id() else { return Ok(None) };
        let store = self.app.reads(viewer);
        let Some(invite) = store.access().moderator_invites_by_ids(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        let visible = invite.user_id == user || moderates(store, user, invite.space_id).await?;
        Ok(visible.then_some(invite))
    }

    /// Pending invitations to moderate a space. Moderators only.
    pub async fn pending_moderator_invites(
        &self,
        viewer: Viewer,
        space: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        let store = self.app.reads(viewer);
        policy::require_moderator(store, &viewer.actor()?, space, Action::SeeAccessRequests).await?;
        store.access().pending_moderator_invites_for(space, &page).await
    }

    /// The viewer's pending invitations to moderate.
    pub async fn my_moderator_invites(&self, viewer: Viewer, page: PageRequest) -> DomainResult<Page<ModeratorInvite>> {
        let user = viewer.require()?;
        self.app.reads(viewer).access().pending_moderator_invites_of(user, &page).await
    }
}
