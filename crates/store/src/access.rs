//! Membership and access: moderators and members of spaces, access requests and invitations, invite links,
//! and invitations to moderate.

use crate::Db;
use crate::accounts::{USER_COLS, user_from_row};
use crate::fragments::{access_kind, access_kind_from_db, request_state, request_state_from_db};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, QueryResult};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::access::ports::AccessRepo;
use weco_domain::values::RequestState;
use weco_domain::*;

const ACCESS_COLS: &str = "r.id, r.space_id, r.user_id, r.kind, r.state, r.created_at";

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

const INVITE_COLS: &str = "r.id, r.space_id, r.user_id, r.inviter_id, r.state, r.created_at";

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

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> AccessRepo for Db<C> {
    async fn add_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<()> {
        self.sql()
            .exec(
                "adding moderator",
                "INSERT INTO space_moderators (space_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                vec![v(space.0), v(user.0), v(now())],
            )
            .await
            .map(drop)
    }

    async fn moderators(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing moderators",
            select: USER_COLS,
            base: "FROM space_moderators m JOIN users u ON u.id = m.user_id WHERE m.space_id = $1".into(),
            values: vec![v(space.0)],
            key: Key::Time("m.created_at"),
            id: "u.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    async fn add_member(&self, space: SpaceId, user: UserId) -> DomainResult<()> {
        self.sql()
            .exec(
                "adding member",
                "INSERT INTO space_members (space_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                vec![v(space.0), v(user.0), v(now())],
            )
            .await
            .map(drop)
    }

    async fn member_of_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        if spaces.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT space_id FROM space_members WHERE user_id = $1 AND space_id IN ({})",
            placeholders(2, spaces.len())
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(spaces));
        let rows = self.sql().all("checking membership", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking membership", "space_id").map(SpaceId)).collect()
    }

    async fn remove_member(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "removing member",
                "DELETE FROM space_members WHERE space_id = $1 AND user_id = $2",
                vec![v(space.0), v(user.0)],
            )
            .await?;
        Ok(n > 0)
    }

    async fn members(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing members",
            select: USER_COLS,
            base: "FROM space_members m JOIN users u ON u.id = m.user_id WHERE m.space_id = $1".into(),
            values: vec![v(space.0)],
            key: Key::Time("m.created_at"),
            id: "u.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    async fn remove_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "removing moderator",
                "DELETE FROM space_moderators WHERE space_id = $1 AND user_id = $2",
                vec![v(space.0), v(user.0)],
            )
            .await?;
        Ok(n > 0)
    }

    async fn count_moderators(&self, space: SpaceId) -> DomainResult<i64> {
        self.sql()
            .scalar(
                "counting moderators",
                "SELECT COUNT(*) AS v FROM space_moderators WHERE space_id = $1",
                vec![v(space.0)],
            )
            .await
    }

    async fn lock_space(&self, space: SpaceId) -> DomainResult<()> {
        self.sql().lock_spaces("$1", vec![v(space.0)]).await
    }

    async fn insert_access_request(&self, r: &AccessRequest) -> DomainResult<()> {
        self.sql()
            .exec(
                "filing access request",
                "INSERT INTO space_access_requests (id, space_id, user_id, kind, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    v(r.id.0),
                    v(r.space_id.0),
                    v(r.user_id.0),
                    v(access_kind(r.kind)),
                    v(request_state(r.state)),
                    v(r.created_at),
                ],
            )
            .await
            .map(drop)
    }

    async fn access_requests_by_ids(&self, ids: &[AccessRequestId]) -> DomainResult<Vec<AccessRequest>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!("SELECT {ACCESS_COLS} FROM space_access_requests r WHERE r.id IN ({})", placeholders(1, ids.len()));
        let rows = self.sql().all("loading access requests", &sql, uuid_values(ids)).await?;
        rows.iter().map(access_request_from_row).collect()
    }

    async fn pending_access_request(&self, space: SpaceId, user: UserId) -> DomainResult<Option<AccessRequest>> {
        let sql = format!(
            "SELECT {ACCESS_COLS} FROM space_access_requests r \
             WHERE r.space_id = $1 AND r.user_id = $2 AND r.state = 'PENDING'"
        );
        let row = self.sql().one("finding access request", &sql, vec![v(space.0), v(user.0)]).await?;
        row.as_ref().map(access_request_from_row).transpose()
    }

    async fn resolve_access_request(
        &self,
        id: AccessRequestId,
        state: RequestState,
        by: Option<UserId>,
    ) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "answering access request",
                "UPDATE space_access_requests SET state = $2, resolved_at = $3, resolver_id = $4 \
                 WHERE id = $1 AND state = 'PENDING'",
                vec![v(id.0), v(request_state(state)), v(now()), v(by.map(|u| u.0))],
            )
            .await?;
        Ok(n > 0)
    }

    async fn pending_access_requests_for(
        &self,
        space: SpaceId,
        kind: AccessRequestKind,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        let listing = Listing {
            context: "listing access requests",
            select: ACCESS_COLS,
            base: "FROM space_access_requests r WHERE r.space_id = $1 AND r.kind = $2 AND r.state = 'PENDING'".into(),
            values: vec![v(space.0), v(access_kind(kind))],
            key: Key::Time("r.created_at"),
            id: "r.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, access_request_from_row).await
    }

    async fn pending_access_invitations_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>> {
        let listing = Listing {
            context: "listing access invitations",
            select: ACCESS_COLS,
            base: "FROM space_access_requests r JOIN spaces s ON s.id = r.space_id AND s.state = 'ACTIVE' \
                   WHERE r.user_id = $1 AND r.kind = 'INVITE' AND r.state = 'PENDING'"
                .into(),
            values: vec![v(user.0)],
            key: Key::Time("r.created_at"),
            id: "r.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, access_request_from_row).await
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
        self.sql()
            .exec(
                "inviting moderator",
                "INSERT INTO space_moderator_invites (id, space_id, user_id, inviter_id, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    v(i.id.0),
                    v(i.space_id.0),
                    v(i.user_id.0),
                    v(i.inviter_id.0),
                    v(request_state(i.state)),
                    v(i.created_at),
                ],
            )
            .await
            .map(drop)
    }

    async fn moderator_invites_by_ids(&self, ids: &[ModeratorInviteId]) -> DomainResult<Vec<ModeratorInvite>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {INVITE_COLS} FROM space_moderator_invites r WHERE r.id IN ({})",
            placeholders(1, ids.len())
        );
        let rows = self.sql().all("loading moderator invitations", &sql, uuid_values(ids)).await?;
        rows.iter().map(moderator_invite_from_row).collect()
    }

    async fn pending_moderator_invite(&self, space: SpaceId, user: UserId) -> DomainResult<Option<ModeratorInvite>> {
        let sql = format!(
            "SELECT {INVITE_COLS} FROM space_moderator_invites r \
             WHERE r.space_id = $1 AND r.user_id = $2 AND r.state = 'PENDING'"
        );
        let row = self.sql().one("finding moderator invitation", &sql, vec![v(space.0), v(user.0)]).await?;
        row.as_ref().map(moderator_invite_from_row).transpose()
    }

    async fn resolve_moderator_invite(&self, id: ModeratorInviteId, state: RequestState) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "answering moderator invitation",
                "UPDATE space_moderator_invites SET state = $2, resolved_at = $3 WHERE id = $1 AND state = 'PENDING'",
                vec![v(id.0), v(request_state(state)), v(now())],
            )
            .await?;
        Ok(n > 0)
    }

    async fn pending_moderator_invites_for(
        &self,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        let listing = Listing {
            context: "listing moderator invitations",
            select: INVITE_COLS,
            base: "FROM space_moderator_invites r WHERE r.space_id = $1 AND r.state = 'PENDING'".into(),
            values: vec![v(space.0)],
            key: Key::Time("r.created_at"),
            id: "r.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, moderator_invite_from_row).await
    }

    async fn pending_moderator_invites_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>> {
        let listing = Listing {
            context: "listing moderator invitations",
            select: INVITE_COLS,
            base: "FROM space_moderator_invites r JOIN spaces s ON s.id = r.space_id AND s.state = 'ACTIVE' \
                   WHERE r.user_id = $1 AND r.state = 'PENDING'"
                .into(),
            values: vec![v(user.0)],
            key: Key::Time("r.created_at"),
            id: "r.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, moderator_invite_from_row).await
    }
}
