//! Who may enter a private space and who runs a space: access requests and invitations, invite links,
//! memberships, moderator invitations and removals, editing a space (its privacy included) and deleting it.
//!
//! Every rule weco.io left to its client is checked here (WECO.md §7): only moderators answer access requests
//! and never their own; only the invitee accepts an invitation, to a space or to moderate it; invite-link
//! tokens are read and rotated by moderators only; a space always keeps a moderator.

use super::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Envelope, Event, Topic};
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::ports::Repo;
use crate::values::{Description, Privacy, RequestState, SpaceName};
use std::collections::{HashMap, HashSet};

/// `updateSpace(input)` as given by the client: only what is given changes.
#[derive(Debug, Clone)]
pub struct UpdateSpaceCommand {
    pub space_id: SpaceId,
    pub name: Option<String>,
    pub description: Option<String>,
    pub privacy: Option<Privacy>,
}

async fn load_space(repo: &dyn Repo, id: SpaceId) -> DomainResult<Space> {
    repo.spaces_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("space"))
}

async fn moderates(repo: &dyn Repo, user: UserId, space: SpaceId) -> DomainResult<bool> {
    Ok(!repo.moderated_among(user, &[space]).await?.is_empty())
}

async fn is_member(repo: &dyn Repo, user: UserId, space: SpaceId) -> DomainResult<bool> {
    Ok(!repo.member_of_among(user, &[space]).await?.is_empty())
}

async fn require_moderator(repo: &dyn Repo, user: UserId, space: SpaceId, what: &str) -> DomainResult<()> {
    if moderates(repo, user, space).await? {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!("only moderators of the space can {what}")))
    }
}

async fn user_named(repo: &dyn Repo, handle: &str) -> DomainResult<User> {
    repo.user_by_handle(handle.trim()).await?.ok_or(DomainError::NotFound("user"))
}

async fn load_access_request(repo: &dyn Repo, id: AccessRequestId) -> DomainResult<AccessRequest> {
    repo.access_requests_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("access request"))
}

async fn load_moderator_invite(repo: &dyn Repo, id: ModeratorInviteId) -> DomainResult<ModeratorInvite> {
    repo.moderator_invites_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("moderator invitation"))
}

/// Grants membership on a pending request or invitation and marks it accepted.
async fn grant(repo: &dyn Repo, request: AccessRequest, by: UserId) -> DomainResult<AccessRequest> {
    repo.add_member(request.space_id, request.user_id).await?;
    if !repo.resolve_access_request(request.id, RequestState::Accepted, by).await? {
        return Err(DomainError::conflict("the request has already been answered"));
    }
    Ok(AccessRequest { state: RequestState::Accepted, ..request })
}

/// Invite links open private spaces only: a public one needs none.
fn require_private(space: &Space, field: &str) -> DomainResult<()> {
    if space.privacy == Privacy::Public {
        return Err(DomainError::validation(field, "the space is public: everyone who may see it has access"));
    }
    Ok(())
}

impl App {
    /// Tells live subscribers of `spaces` that who may access them may have narrowed: each re-checks, and ends
    /// with `FORBIDDEN` when its viewer lost access (DESIGN §5 rule 7). Called after the commit.
    async fn announce_access_changed(&self, spaces: Vec<SpaceId>) {
        let events =
            spaces.into_iter().map(|s| Envelope::new(Topic::Space(s), Event::AccessChanged { space_id: s })).collect();
        self.bus.publish(events).await;
    }
}

/// A fresh invite-link token: 256 random bits, hex-encoded.
fn new_token() -> String {
    rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect()
}

impl App {
    // ---- access to private spaces --------------------------------------------------------------------

    /// Asks the moderators of a private space for access. Asking again returns the pending request; asking
    /// while invited accepts the invitation.
    pub async fn request_space_access(&self, viewer: Viewer, space: SpaceId) -> DomainResult<AccessRequest> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_private(&loaded, "spaceId")?;
        if is_member(&*tx, user, space).await? {
            return Err(DomainError::conflict("you are already a member of this space"));
        }
        let request = match tx.pending_access_request(space, user).await? {
            Some(pending) if pending.kind == AccessRequestKind::Request => return Ok(pending),
            Some(invitation) => grant(&*tx, invitation, user).await?,
            None => {
                let request = AccessRequest {
                    id: AccessRequestId::generate(),
                    space_id: space,
                    user_id: user,
                    kind: AccessRequestKind::Request,
                    state: RequestState::Pending,
                    created_at: now(),
                };
                tx.insert_access_request(&request).await?;
                request
            }
        };
        tx.commit().await?;
        Ok(request)
    }

    /// A moderator of the space accepts (granting membership) or rejects a pending access request. Nobody
    /// answers their own request, and invitations are answered by their invitee.
    pub async fn respond_to_access_request(
        &self,
        viewer: Viewer,
        id: AccessRequestId,
        accept: bool,
    ) -> DomainResult<AccessRequest> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let request = load_access_request(&*tx, id).await?;
        require_moderator(&*tx, user, request.space_id, "answer access requests").await?;
        if request.user_id == user {
            return Err(DomainError::forbidden("you cannot answer your own access request"));
        }
        if request.kind == AccessRequestKind::Invite {
            return Err(DomainError::forbidden("an invitation is answered by the invited user"));
        }
        if request.state != RequestState::Pending {
            return Err(DomainError::conflict("the request has already been answered"));
        }
        load_space(&*tx, request.space_id).await?;
        let answered = if accept {
            grant(&*tx, request, user).await?
        } else {
            if !tx.resolve_access_request(id, RequestState::Rejected, user).await? {
                return Err(DomainError::conflict("the request has already been answered"));
            }
            AccessRequest { state: RequestState::Rejected, ..request }
        };
        tx.commit().await?;
        Ok(answered)
    }

    /// A moderator invites a user into a private space; the user accepts or declines. Inviting someone who
    /// already asked grants their request.
    pub async fn invite_to_space(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<AccessRequest> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "invite people into it").await?;
        require_private(&loaded, "spaceId")?;
        let invitee = user_named(&*tx, handle).await?;
        if is_member(&*tx, invitee.id, space).await? {
            return Err(DomainError::conflict("the user is already a member of this space"));
        }
        let invitation = match tx.pending_access_request(space, invitee.id).await? {
            Some(pending) if pending.kind == AccessRequestKind::Invite => return Ok(pending),
            Some(request) => grant(&*tx, request, user).await?,
            None => {
                let invitation = AccessRequest {
                    id: AccessRequestId::generate(),
                    space_id: space,
                    user_id: invitee.id,
                    kind: AccessRequestKind::Invite,
                    state: RequestState::Pending,
                    created_at: now(),
                };
                tx.insert_access_request(&invitation).await?;
                invitation
            }
        };
        tx.commit().await?;
        Ok(invitation)
    }

    /// The invitee accepts (becoming a member) or declines an invitation into a private space.
    pub async fn respond_to_space_invitation(
        &self,
        viewer: Viewer,
        id: AccessRequestId,
        accept: bool,
    ) -> DomainResult<AccessRequest> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let invitation = load_access_request(&*tx, id).await?;
        if invitation.kind != AccessRequestKind::Invite || invitation.user_id != user {
            return Err(DomainError::forbidden("only the invited user can answer an invitation"));
        }
        if invitation.state != RequestState::Pending {
            return Err(DomainError::conflict("the invitation has already been answered"));
        }
        load_space(&*tx, invitation.space_id).await?;
        let answered = if accept {
            grant(&*tx, invitation, user).await?
        } else {
            if !tx.resolve_access_request(id, RequestState::Rejected, user).await? {
                return Err(DomainError::conflict("the invitation has already been answered"));
            }
            AccessRequest { state: RequestState::Rejected, ..invitation }
        };
        tx.commit().await?;
        Ok(answered)
    }

    /// Gives a private space a new invite link, replacing (and so disabling) the old one. Moderators only.
    pub async fn rotate_invite_link(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "manage its invite link").await?;
        require_private(&loaded, "spaceId")?;
        tx.set_invite_link(space, Some(&new_token()), user).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// Disables a space's invite link. Moderators only.
    pub async fn revoke_invite_link(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "manage its invite link").await?;
        tx.set_invite_link(space, None, user).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// Joins the private space a live invite-link token opens. Joining twice changes nothing.
    pub async fn join_space_with_invite_link(&self, viewer: Viewer, token: &str) -> DomainResult<Space> {
        let user = viewer.require()?;
        let token = token.trim();
        if token.is_empty() || token.len() > 200 {
            return Err(DomainError::validation("token", "is not an invite-link token"));
        }
        let tx = self.store.begin().await?;
        let space = tx.space_by_invite_token(token).await?.ok_or(DomainError::NotFound("invite link"))?;
        let loaded = load_space(&*tx, space).await?;
        if !is_member(&*tx, user, space).await? {
            if let Some(pending) = tx.pending_access_request(space, user).await? {
                grant(&*tx, pending, user).await?;
            } else {
                tx.add_member(space, user).await?;
            }
        }
        tx.commit().await?;
        Ok(loaded)
    }

    /// Ends a user's membership: moderators may remove anyone but a moderator; members may leave.
    pub async fn remove_space_member(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        let member = user_named(&*tx, handle).await?;
        if member.id != user {
            require_moderator(&*tx, user, space, "remove its members").await?;
        }
        tx.lock_space(space).await?;
        if moderates(&*tx, member.id, space).await? {
            return Err(DomainError::conflict("a moderator keeps access: step down or be removed as moderator first"));
        }
        if !tx.remove_member(space, member.id).await? {
            return Err(DomainError::NotFound("member"));
        }
        let narrowed = tx.subtree_ids(space).await?;
        tx.commit().await?;
        self.announce_access_changed(narrowed).await;
        Ok(loaded)
    }

    // ---- moderation --------------------------------------------------------------------------------

    /// A moderator invites a user to moderate the space too; nothing changes until the invitee accepts.
    pub async fn invite_moderator(
        &self,
        viewer: Viewer,
        space: SpaceId,
        handle: &str,
    ) -> DomainResult<ModeratorInvite> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "invite moderators").await?;
        let invitee = user_named(&*tx, handle).await?;
        if moderates(&*tx, invitee.id, space).await? {
            return Err(DomainError::conflict("the user already moderates this space"));
        }
        if let Some(pending) = tx.pending_moderator_invite(space, invitee.id).await? {
            return Ok(pending);
        }
        let invite = ModeratorInvite {
            id: ModeratorInviteId::generate(),
            space_id: space,
            user_id: invitee.id,
            inviter_id: user,
            state: RequestState::Pending,
            created_at: now(),
        };
        tx.insert_moderator_invite(&invite).await?;
        tx.commit().await?;
        Ok(invite)
    }

    /// The invitee accepts (becoming moderator and member) or declines an invitation to moderate. Nobody else
    /// may answer it.
    pub async fn respond_to_moderator_invite(
        &self,
        viewer: Viewer,
        id: ModeratorInviteId,
        accept: bool,
    ) -> DomainResult<ModeratorInvite> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let invite = load_moderator_invite(&*tx, id).await?;
        if invite.user_id != user {
            return Err(DomainError::forbidden("only the invited user can answer an invitation to moderate"));
        }
        if invite.state != RequestState::Pending {
            return Err(DomainError::conflict("the invitation has already been answered"));
        }
        load_space(&*tx, invite.space_id).await?;
        let state = if accept { RequestState::Accepted } else { RequestState::Rejected };
        if !tx.resolve_moderator_invite(id, state).await? {
            return Err(DomainError::conflict("the invitation has already been answered"));
        }
        if accept {
            tx.add_moderator(invite.space_id, user).await?;
            tx.add_member(invite.space_id, user).await?;
        }
        tx.commit().await?;
        Ok(ModeratorInvite { state, ..invite })
    }

    /// A moderator removes another (or themselves); the last moderator stays. The removed user remains a
    /// member.
    pub async fn remove_moderator(&self, viewer: Viewer, space: SpaceId, handle: &str) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "remove moderators").await?;
        let target = user_named(&*tx, handle).await?;
        self.drop_moderator(&*tx, space, target.id).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// A moderator steps down, unless they are the last one.
    pub async fn step_down_as_moderator(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = load_space(&*tx, space).await?;
        require_moderator(&*tx, user, space, "step down").await?;
        self.drop_moderator(&*tx, space, user).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    async fn drop_moderator(&self, repo: &dyn Repo, space: SpaceId, user: UserId) -> DomainResult<()> {
        // Locked first: two moderators removing each other at once must not leave the space with none.
        repo.lock_space(space).await?;
        if !moderates(repo, user, space).await? {
            return Err(DomainError::NotFound("moderator"));
        }
        if repo.count_moderators(space).await? <= 1 {
            return Err(DomainError::conflict("a space keeps at least one moderator"));
        }
        repo.remove_moderator(space, user).await?;
        Ok(())
    }

    /// `removePostFromSpace` / `reinstatePostInSpace`: a moderator who may no longer access the space (a private
    /// space above it withholds membership) must not read its posts through the post these return.
    pub async fn moderate_post(
        &self,
        viewer: Viewer,
        post: PostId,
        space: SpaceId,
        reinstate: bool,
    ) -> DomainResult<Post> {
        viewer.require()?;
        self.require_access(viewer, space).await?;
        self.moderate_post_in_space(viewer, post, space, reinstate).await
    }

    // ---- editing and deleting spaces ----------------------------------------------------------------

    /// Changes a space's name, description or privacy (moderators). Making it private narrows who sees what
    /// is inside and is always allowed; making it public is refused while it or any space below holds posts
    /// (`PRIVACY_WIDENING`).
    pub async fn update_space(&self, viewer: Viewer, cmd: UpdateSpaceCommand) -> DomainResult<Space> {
        let user = viewer.require()?;
        let name = cmd.name.as_deref().map(|n| SpaceName::parse(n, "input.name")).transpose()?;
        let description = cmd.description.as_deref().map(|d| Description::parse(d, "input.description")).transpose()?;
        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        let space = load_space(&*tx, cmd.space_id).await?;
        require_moderator(&*tx, user, space.id, "edit it").await?;
        if name.is_some() || description.is_some() {
            let name = name.map(SpaceName::into_inner).unwrap_or_else(|| space.name.clone());
            let description = description.map(Description::into_inner).unwrap_or_else(|| space.description.clone());
            tx.update_space_details(space.id, &name, &description).await?;
        }
        let mut narrowed = Vec::new();
        if let Some(privacy) = cmd.privacy.filter(|p| *p != space.privacy) {
            if privacy == Privacy::Public {
                if tx.subtree_holds_posts(space.id).await? {
                    return Err(DomainError::PrivacyWidening(
                        "making the space public would expose the posts inside it".into(),
                    ));
                }
                tx.set_invite_link(space.id, None, user).await?;
            }
            tx.set_space_privacy(space.id, privacy).await?;
            if privacy == Privacy::Private {
                narrowed = tx.subtree_ids(space.id).await?;
            }
        }
        let updated = load_space(&*tx, space.id).await?;
        tx.commit().await?;
        self.announce_access_changed(narrowed).await;
        Ok(updated)
    }

    /// Deletes a space (moderators; never the root). Its posts leave the feeds it fed, its children go back
    /// under the root when it was their only parent. Refused (`PRIVACY_WIDENING`) when a space inside would
    /// lose a private ancestor — move or delete those first. Returns the space as it was.
    pub async fn delete_space(&self, viewer: Viewer, space: SpaceId) -> DomainResult<Space> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        tx.lock_holarchy().await?;
        let loaded = load_space(&*tx, space).await?;
        if space == ROOT_SPACE_ID {
            return Err(DomainError::forbidden("the root space cannot be deleted"));
        }
        require_moderator(&*tx, user, space, "delete it").await?;
        if tx.delete_space(space).await? > 0 {
            return Err(DomainError::PrivacyWidening(
                "deleting the space would take the spaces inside it out of a private space: move or delete them first"
                    .into(),
            ));
        }
        tx.commit().await?;
        self.announce_access_changed(vec![space]).await;
        Ok(loaded)
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// An access request or invitation, for its user and the space's moderators only.
    pub async fn access_request(&self, viewer: Viewer, id: AccessRequestId) -> DomainResult<Option<AccessRequest>> {
        let Some(user) = viewer.id() else { return Ok(None) };
        let Some(request) = self.store.access_requests_by_ids(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        if request.user_id == user || moderates(&*self.store, user, request.space_id).await? {
            Ok(Some(request))
        } else {
            Ok(None)
        }
    }

    /// Pending access requests (or invitations) of a space, oldest first. Moderators only.
    pub async fn pending_access_requests(
        &self,
        viewer: Viewer,
        space: SpaceId,
        kind: AccessRequestKind,
        page: PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        let user = viewer.require()?;
        require_moderator(&*self.store, user, space, "see its pending requests").await?;
        self.store.pending_access_requests_for(space, kind, &page).await
    }

    /// The viewer's pending invitations into private spaces.
    pub async fn my_access_invitations(&self, viewer: Viewer, page: PageRequest) -> DomainResult<Page<AccessRequest>> {
        let user = viewer.require()?;
        self.store.pending_access_invitations_of(user, &page).await
    }

    /// Invite-link tokens of the spaces among `spaces` that the viewer moderates (and that have one).
    pub async fn invite_link_tokens(
        &self,
        viewer: Viewer,
        spaces: &[SpaceId],
    ) -> DomainResult<HashMap<SpaceId, String>> {
        let Some(user) = viewer.id() else { return Ok(HashMap::new()) };
        let moderated = self.store.moderated_among(user, spaces).await?;
        self.store.invite_link_tokens(&moderated).await
    }

    /// Which of `posts` the viewer may see (DESIGN §5 rule 4).
    pub async fn visible_posts(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashSet<PostId>> {
        Ok(self.store.visible_posts_among(viewer.id(), posts).await?.into_iter().collect())
    }

    /// Which of `spaces` the viewer is a member of.
    pub async fn member_spaces(&self, viewer: Viewer, spaces: &[SpaceId]) -> DomainResult<HashSet<SpaceId>> {
        match viewer.id() {
            Some(user) => Ok(self.store.member_of_among(user, spaces).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    /// A space's members, for viewers who may access it.
    pub async fn space_members(&self, viewer: Viewer, space: SpaceId, page: PageRequest) -> DomainResult<Page<User>> {
        self.require_access(viewer, space).await?;
        self.store.members(space, &page).await
    }

    /// An invitation to moderate, for its invitee and the space's moderators only.
    pub async fn moderator_invite(
        &self,
        viewer: Viewer,
        id: ModeratorInviteId,
    ) -> DomainResult<Option<ModeratorInvite>> {
        let Some(user) = viewer.id() else { return Ok(None) };
        let Some(invite) = self.store.moderator_invites_by_ids(&[id]).await?.into_iter().next() else {
            return Ok(None);
        };
        if invite.user_id == user || moderates(&*self.store, user, invite.space_id).await? {
            Ok(Some(invite))
        } else {
            Ok(None)
        }
    }

    /// Pending invitations to moderate a space. Moderators only.
    pub async fn pending_moderator_invites(
        &self,
        viewer: Viewer,
        space: SpaceId,
        page: PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        let user = viewer.require()?;
        require_moderator(&*self.store, user, space, "see its pending invitations").await?;
        self.store.pending_moderator_invites_for(space, &page).await
    }

    /// The viewer's pending invitations to moderate.
    pub async fn my_moderator_invites(&self, viewer: Viewer, page: PageRequest) -> DomainResult<Page<ModeratorInvite>> {
        let user = viewer.require()?;
        self.store.pending_moderator_invites_of(user, &page).await
    }
}
