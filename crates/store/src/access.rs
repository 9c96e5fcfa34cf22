//! Membership and access: moderators and members of spaces, access requests and invitations, invite links,
//! and invitations to moderate.

use crate::Db;
use crate::fragments::{access_kind, access_kind_from_db, request_state, request_state_from_db};
use crate::requests::Requests;
use crate::roles::Role;
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, QueryResult};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::access::ports::AccessRepo;
use weco_domain::values::RequestState;
use weco_domain::*;

fn access_request_from_row(row: &QueryResult) -> DomainResult<AccessRequest> {
    const CX: &str = "decoding access request";
    Ok(AccessRequest {
        id: AccessRequestId(get::<Uuid>(row, CX, "id")?),
        space_id: SpaceId(get::<Uuid>(row, CX, "space_id")?),
        user_id: UserId(get::<Uuid>(row, CX, "user_id")?),
        kind: access_kind_from_db(&get::<String>(row, CX, "kind")?)?,
        state: request_state_from_db(&get::<String>(row, CX, "state")?)?,
        created_at: get(row, CX, "created_at")?,
    })
}

fn moderator_invite_from_row(row: &QueryResult) -> DomainResult<ModeratorInvite> {
    const CX: &str = "decoding moderator invitation";
    Ok(ModeratorInvite {
        id: ModeratorInviteId(get::<Uuid>(row, CX, "id")?),
        space_id: SpaceId(get::<Uuid>(row, CX, "space_id")?),
        user_id: UserId(get::<Uuid>(row, CX, "user_id")?),
        inviter_id: UserId(get::<Uuid>(row, CX, "inviter_id")?),
        state: request_state_from_db(&get::<String>(row, CX, "state")?)?,
        created_at: get(row, CX, "created_at")?,
    })
}

/// Requests for access to private spaces, and invitations into them.
const ACCESS_REQUESTS: Requests<AccessRequest> = Requests {
    table: "space_access_requests",
    cols: "r.id, r.space_id, r.user_id, r.kind, r.state, r.created_at",
    decode: access_request_from_row,
    what: "access request",
};

/// Invitations to moderate a space.
const MODERATOR_INVITES: Requests<ModeratorInvite> = Requests {
    table: "space_moderator_invites",
    cols: "r.id, r.space_id, r.user_id, r.inviter_id, r.state, r.created_at",
    decode: moderator_invite_from_row,
    what: "moderator invitation",
};

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> AccessRepo for Db<C> {
    async fn add_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<()> {
        self.add_role(Role::Moderator, space, user).await.map(drop)
    }

    async fn remove_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        self.remove_role(Role::Moderator, space, user).await
    }

    async fn count_moderators(&self, space: SpaceId) -> DomainResult<i64> {
        self.count_role(Role::Moderator, space).await
    }

    async fn moderators(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>> {
        self.role_holders(Role::Moderator, space, page).await
    }

    async fn add_member(&self, space: SpaceId, user: UserId) -> DomainResult<()> {
        self.add_role(Role::Member, space, user).await.map(drop)
    }

    async fn member_of_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        self.role_among(Role::Member, user, spaces).await
    }

    async fn remove_member(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        self.remove_role(Role::Member, space, user).await
    }

    async fn members(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>> {
        self.role_holders(Role::Member, space, page).await
    }

    async fn lock_space(&self, space: SpaceId) -> DomainResult<()> {
        self.sql().lock_spaces("$1", vec![v(space.0)]).await
    }

    async fn insert_access_request(&self, r: &AccessRequest) -> DomainResult<()> {
        let values = vec![
            v(r.id.0),
            v(r.space_id.0),
            v(r.user_id.0),
            v(access_kind(r.kind)),
            v(request_state(r.state)),
            v(r.created_at),
        ];
        ACCESS_REQUESTS.insert(self, "id, space_id, user_id, kind, state, created_at", values).await
    }

    async fn access_requests_by_ids(&self, ids: &[AccessRequestId]) -> DomainResult<Vec<AccessRequest>> {
        ACCESS_REQUESTS.by_ids(self, ids).await
    }

    async fn pending_access_request(&self, space: SpaceId, user: UserId) -> DomainResult<Option<AccessRequest>> {
        ACCESS_REQUESTS.pending(self, "r.space_id = $1 AND r.user_id = $2", vec![v(space.0), v(user.0)]).await
    }

    async fn resolve_access_request(
        &self,
        id: AccessRequestId,
        state: RequestState,
        by: Option<UserId>,
    ) -> DomainResult<bool> {
        ACCESS_REQUESTS.resolve(self, id.0, state, &[("resolver_id", v(by.map(|u| u.0)))]).await
    }

    async fn pending_access_requests_for(
        &self,
        space: SpaceId,
        kind: AccessRequestKind,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        let values = vec![v(space.0), v(access_kind(kind))];
        ACCESS_REQUESTS.pending_page(self, "space_id", "r.space_id = $1 AND r.kind = $2", values, page).await
    }

    async fn pending_access_invitations_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        ACCESS_REQUESTS
            .pending_page(self, "space_id", "r.user_id = $1 AND r.kind = 'INVITE'", vec![v(user.0)], page)
            .await
    }

    async fn invite_link_tokens(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, String>> {
        if spaces.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT space_id, token FROM space_invite_links WHERE space_id IN ({})",
            placeholders(1, spaces.len())
        );
        let rows = self.sql().all("reading invite links", &sql, uuid_values(spaces)).await?;
        rows.iter()
            .map(|r| {
                const CX: &str = "reading invite links";
                Ok((SpaceId(get::<Uuid>(r, CX, "space_id")?), get::<String>(r, CX, "token")?))
            })
            .collect()
    }

    async fn set_invite_link(&self, space: SpaceId, token: &str, by: UserId) -> DomainResult<()> {
        self.sql()
            .exec(
                "setting invite link",
                "INSERT INTO space_invite_links (space_id, token, created_by, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (space_id) DO UPDATE SET token = excluded.token, created_by = excluded.created_by, \
                   created_at = excluded.created_at",
                vec![v(space.0), v(token), v(by.0), v(now())],
            )
            .await
            .map(drop)
    }

    async fn remove_invite_link(&self, space: SpaceId) -> DomainResult<()> {
        self.sql()
            .exec("revoking invite link", "DELETE FROM space_invite_links WHERE space_id = $1", vec![v(space.0)])
            .await
            .map(drop)
    }

    async fn space_by_invite_token(&self, token: &str) -> DomainResult<Option<SpaceId>> {
        let row = self
            .sql()
            .one(
                "following invite link",
                "SELECT l.space_id FROM space_invite_links l JOIN spaces s ON s.id = l.space_id \
                 WHERE l.token = $1 AND s.state = 'ACTIVE'",
                vec![v(token)],
            )
            .await?;
        row.map(|r| get::<Uuid>(&r, "following invite link", "space_id").map(SpaceId)).transpose()
    }

    async fn insert_moderator_invite(&self, i: &ModeratorInvite) -> DomainResult<()> {
        let values = vec![
            v(i.id.0),
            v(i.space_id.0),
            v(i.user_id.0),
            v(i.inviter_id.0),
            v(request_state(i.state)),
            v(i.created_at),
        ];
        MODERATOR_INVITES.insert(self, "id, space_id, user_id, inviter_id, state, created_at", values).await
    }

    async fn moderator_invites_by_ids(&self, ids: &[ModeratorInviteId]) -> DomainResult<Vec<ModeratorInvite>> {
        MODERATOR_INVITES.by_ids(self, ids).await
    }

    async fn pending_moderator_invite(&self, space: SpaceId, user: UserId) -> DomainResult<Option<ModeratorInvite>> {
        MODERATOR_INVITES.pending(self, "r.space_id = $1 AND r.user_id = $2", vec![v(space.0), v(user.0)]).await
    }

    async fn resolve_moderator_invite(&self, id: ModeratorInviteId, state: RequestState) -> DomainResult<bool> {
        MODERATOR_INVITES.resolve(self, id.0, state, &[]).await
    }

    async fn pending_moderator_invites_for(
        &self,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        MODERATOR_INVITES.pending_page(self, "space_id", "r.space_id = $1", vec![v(space.0)], page).await
    }

    async fn pending_moderator_invites_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        MODERATOR_INVITES.pending_page(self, "space_id", "r.user_id = $1", vec![v(user.0)], page).await
    }
}
