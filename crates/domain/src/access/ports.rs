//! What the membership-and-access area needs from a store: roles in spaces, access requests and invitations,
//! invite links, and invitations to moderate.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::values::RequestState;
use async_trait::async_trait;
use std::collections::HashMap;

/// Moderators and members of spaces, requests for access and invitations, invite links, moderator invitations.
#[async_trait]
pub trait AccessRepo: Send + Sync {
    async fn add_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<()>;
    /// Ends a moderatorship; `false` when there was none.
    async fn remove_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    async fn count_moderators(&self, space: SpaceId) -> DomainResult<i64>;
    /// Moderators, longest-serving first.
    async fn moderators(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>>;

    async fn add_member(&self, space: SpaceId, user: UserId) -> DomainResult<()>;
    /// Which of `spaces` `user` is a member of.
    async fn member_of_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Ends a membership; `false` when there was none.
    async fn remove_member(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    /// Members, longest-standing first.
    async fn members(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// Serialises changes to one space's roles for the rest of the transaction (so two moderators removing
    /// each other at once cannot leave the space with none).
    async fn lock_space(&self, space: SpaceId) -> DomainResult<()>;

    /// Files a request or an invitation. A second pending one for the same user and space is `CONFLICT`.
    async fn insert_access_request(&self, request: &AccessRequest) -> DomainResult<()>;
    async fn access_requests_by_ids(&self, ids: &[AccessRequestId]) -> DomainResult<Vec<AccessRequest>>;
    /// The pending request or invitation of `user` for `space`, if any.
    async fn pending_access_request(&self, space: SpaceId, user: UserId) -> DomainResult<Option<AccessRequest>>;
    /// Moves a pending request to `state`; `false` when it was no longer pending.
    async fn resolve_access_request(
        &self,
        id: AccessRequestId,
        state: RequestState,
        by: Option<UserId>,
    ) -> DomainResult<bool>;
    /// Pending requests (or invitations) for `space`, oldest first.
    async fn pending_access_requests_for(
        &self,
        space: SpaceId,
        kind: AccessRequestKind,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>>;
    /// Pending invitations addressed to `user`, oldest first.
    async fn pending_access_invitations_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>>;

    /// The invite-link tokens of those of `spaces` that have one.
    async fn invite_link_tokens(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, String>>;
    /// Replaces the space's invite link with one for `token`.
    async fn set_invite_link(&self, space: SpaceId, token: &str, by: UserId) -> DomainResult<()>;
    /// Removes the space's invite link, if it has one.
    async fn remove_invite_link(&self, space: SpaceId) -> DomainResult<()>;
    /// The space a live invite-link token opens.
    async fn space_by_invite_token(&self, token: &str) -> DomainResult<Option<SpaceId>>;

    /// Files an invitation to moderate. A second pending one for the same user and space is `CONFLICT`.
    async fn insert_moderator_invite(&self, invite: &ModeratorInvite) -> DomainResult<()>;
    async fn moderator_invites_by_ids(&self, ids: &[ModeratorInviteId]) -> DomainResult<Vec<ModeratorInvite>>;
    async fn pending_moderator_invite(&self, space: SpaceId, user: UserId) -> DomainResult<Option<ModeratorInvite>>;
    /// Moves a pending invitation to `state`; `false` when it was no longer pending.
    async fn resolve_moderator_invite(&self, id: ModeratorInviteId, state: RequestState) -> DomainResult<bool>;
    /// Pending invitations to moderate `space`, oldest first.
    async fn pending_moderator_invites_for(
        &self,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>>;
    /// Pending invitations to moderate addressed to `user`, oldest first.
    async fn pending_moderator_invites_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>>;
}
