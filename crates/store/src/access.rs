//! Membership of private spaces, access requests and invitations, invite links, moderator invitations, editing a
//! space's privacy, and deleting spaces.
//!
//! Also the SQL words for "the viewer may access this space" and "the viewer can reach this space by browsing",
//! which the listings of `spaces` use so that nothing inside a private space shows to its non-members.

use crate::Db;
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use crate::users::{USER_COLS, user_from_row};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, QueryResult, Value};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::ports::{AccessRepo, SpaceRepo};
use weco_domain::values::{Privacy, RequestState, SpaceSort};
use weco_domain::*;

/// True when the viewer bound as `$viewer` may access the space `col` (DESIGN §5 rule 1): no private space at or
/// above it lacks the viewer's membership. An anonymous viewer is bound as the nil UUID, a member of nothing.
pub(crate) fn accessible(col: &str, viewer: usize) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM space_closure ac JOIN spaces ap ON ap.id = ac.ancestor_id \
           WHERE ac.descendant_id = {col} AND ap.privacy = 'PRIVATE' \
             AND NOT EXISTS (SELECT 1 FROM space_members am WHERE am.space_id = ap.id AND am.user_id = ${viewer}))"
    )
}

/// True when space `s` has a parent the viewer bound as `$viewer` may access — it shows (as a name at least) in
/// a listing the viewer may open. With `under`, only parents at or below the space bound as `$under` count.
pub(crate) fn listed(viewer: usize, under: Option<usize>) -> String {
    let within = under
        .map(|n| {
            format!(
                " AND EXISTS (SELECT 1 FROM space_closure lc WHERE lc.ancestor_id = ${n} AND lc.descendant_id = le.parent_id)"
            )
        })
        .unwrap_or_default();
    format!(
        "EXISTS (SELECT 1 FROM space_parents le JOIN spaces lp ON lp.id = le.parent_id AND lp.state = 'ACTIVE' \
           WHERE le.child_id = s.id{within} AND {})",
        accessible("le.parent_id", viewer)
    )
}

/// `CASE WHEN <the viewer bound as $2 may access s> THEN col ELSE 0 END`, as a `'static` string for [`Key`].
macro_rules! gated_by_viewer_2 {
    ($col:literal) => {
        concat!(
            "CASE WHEN NOT EXISTS (SELECT 1 FROM space_closure ac JOIN spaces ap ON ap.id = ac.ancestor_id \
               WHERE ac.descendant_id = s.id AND ap.privacy = 'PRIVATE' \
                 AND NOT EXISTS (SELECT 1 FROM space_members am WHERE am.space_id = ap.id AND am.user_id = $2)) \
             THEN ",
            $col,
            " ELSE 0 END"
        )
    };
}

/// The sort key of a space listing whose viewer is bound as `$2`. A counter of a space the viewer may not access
/// counts as zero: sorting by it, or reading it back from a cursor, must not reveal it.
pub(crate) fn gated_sort_key(sort: SpaceSort) -> Key {
    match sort {
        SpaceSort::Likes => Key::Int(gated_by_viewer_2!("s.total_post_likes")),
        SpaceSort::Posts => Key::Int(gated_by_viewer_2!("s.total_posts")),
        SpaceSort::Comments => Key::Int(gated_by_viewer_2!("s.total_comments")),
        SpaceSort::Followers => Key::Int(gated_by_viewer_2!("s.total_followers")),
        SpaceSort::New => Key::Time("s.created_at"),
    }
}

/// An anonymous viewer is bound as the nil UUID, which is no one's id.
pub(crate) fn viewer_value(viewer: Option<UserId>) -> Value {
    v(viewer.map(|u| u.0).unwrap_or(Uuid::nil()))
}

const ACCESS_COLS: &str = "r.id, r.space_id, r.user_id, r.kind, r.state, r.created_at";

fn access_request_from_row(row: &QueryResult) -> DomainResult<AccessRequest> {
    const CX: &str = "decoding access request";
    Ok(AccessRequest {
        id: AccessRequestId(get::<Uuid>(row, CX, "id")?),
        space_id: SpaceId(get::<Uuid>(row, CX, "space_id")?),
        user_id: UserId(get::<Uuid>(row, CX, "user_id")?),
        kind: AccessRequestKind::from_db(&get::<String>(row, CX, "kind")?)?,
        state: RequestState::from_db(&get::<String>(row, CX, "state")?)?,
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
        state: RequestState::from_db(&get::<String>(row, CX, "state")?)?,
        created_at: get(row, CX, "created_at")?,
    })
}

impl<C: ConnectionTrait> Db<C> {
    /// (private space, space) ancestry pairs held by `spaces`.
    async fn private_pairs(&self, spaces: &[SpaceId]) -> DomainResult<i64> {
        if spaces.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(*) AS v FROM space_closure c JOIN spaces p ON p.id = c.ancestor_id \
             WHERE p.privacy = 'PRIVATE' AND c.descendant_id IN ({})",
            placeholders(1, spaces.len())
        );
        self.sql().scalar("counting private ancestry", &sql, uuid_values(spaces)).await
    }

    async fn ids(&self, context: &str, sql: &str, values: Vec<Value>, col: &str) -> DomainResult<Vec<SpaceId>> {
        let rows = self.sql().all(context, sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, context, col).map(SpaceId)).collect()
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> AccessRepo for Db<C> {
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
        self.ids("checking membership", &sql, values, "space_id").await
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
                    v(r.kind.as_str()),
                    v(r.state.as_str()),
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

    async fn resolve_access_request(&self, id: AccessRequestId, state: RequestState, by: UserId) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "answering access request",
                "UPDATE space_access_requests SET state = $2, resolved_at = $3, resolver_id = $4 \
                 WHERE id = $1 AND state = 'PENDING'",
                vec![v(id.0), v(state.as_str()), v(now()), v(by.0)],
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
            values: vec![v(space.0), v(kind.as_str())],
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

    async fn set_invite_link(&self, space: SpaceId, token: Option<&str>, by: UserId) -> DomainResult<()> {
        let sql = self.sql();
        match token {
            Some(token) => sql
                .exec(
                    "setting invite link",
                    "INSERT INTO space_invite_links (space_id, token, created_by, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (space_id) DO UPDATE SET token = excluded.token, created_by = excluded.created_by, \
                       created_at = excluded.created_at",
                    vec![v(space.0), v(token), v(by.0), v(now())],
                )
                .await
                .map(drop),
            None => sql
                .exec("revoking invite link", "DELETE FROM space_invite_links WHERE space_id = $1", vec![v(space.0)])
                .await
                .map(drop),
        }
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
                    v(i.state.as_str()),
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
                vec![v(id.0), v(state.as_str()), v(now())],
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

    async fn update_space_details(&self, space: SpaceId, name: &str, description: &str) -> DomainResult<()> {
        self.sql()
            .exec(
                "updating space",
                "UPDATE spaces SET name = $2, description = $3 WHERE id = $1 AND state = 'ACTIVE'",
                vec![v(space.0), v(name), v(description)],
            )
            .await
            .map(drop)
    }

    async fn set_space_privacy(&self, space: SpaceId, privacy: Privacy) -> DomainResult<()> {
        self.sql()
            .exec(
                "changing privacy",
                "UPDATE spaces SET privacy = $2 WHERE id = $1",
                vec![v(space.0), v(privacy.as_str())],
            )
            .await?;
        // Only rows ending at or below the space can change: a row (A, D) flows unless a private space lies
        // above D and not above A, and this space lies above D only when D is in its subtree.
        self.recompute_flows(space).await?;
        self.realign_after_edit(space, space).await
    }

    async fn subtree_ids(&self, space: SpaceId) -> DomainResult<Vec<SpaceId>> {
        self.ids(
            "listing a subtree",
            "SELECT descendant_id FROM space_closure WHERE ancestor_id = $1",
            vec![v(space.0)],
            "descendant_id",
        )
        .await
    }

    async fn subtree_holds_posts(&self, space: SpaceId) -> DomainResult<bool> {
        let row = self
            .sql()
            .one(
                "looking for posts",
                "SELECT 1 AS v FROM space_posts d \
                 WHERE d.relationship = 'DIRECT' AND d.state <> 'DELETED' \
                   AND d.space_id IN (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $1) \
                 LIMIT 1",
                vec![v(space.0)],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn delete_space(&self, space: SpaceId) -> DomainResult<u64> {
        let sql = self.sql();
        let below = self
            .ids(
                "listing the spaces below",
                "SELECT descendant_id FROM space_closure WHERE ancestor_id = $1 AND descendant_id <> $1",
                vec![v(space.0)],
                "descendant_id",
            )
            .await?;
        let before = self.private_pairs(&below).await?;

        // Its children leave it (back under the root when it was their only parent), taking their posts out of
        // the feeds they reached through it.
        let children = self
            .ids(
                "listing children",
                "SELECT child_id FROM space_parents WHERE parent_id = $1 ORDER BY child_id",
                vec![v(space.0)],
                "child_id",
            )
            .await?;
        for child in children {
            self.detach(space, child).await?;
        }

        // It leaves its parents. With no descendants left, only its own closure rows go.
        sql.exec("cutting space from its parents", "DELETE FROM space_parents WHERE child_id = $1", vec![v(space.0)])
            .await?;
        sql.exec(
            "cutting space from the closure",
            "DELETE FROM space_closure WHERE (descendant_id = $1 OR ancestor_id = $1) AND ancestor_id <> descendant_id",
            vec![v(space.0)],
        )
        .await?;

        // Its posts: hidden there, and gone from every feed no other placement justifies.
        sql.exec(
            "hiding the space's posts",
            "UPDATE space_posts SET state = 'DELETED' WHERE space_id = $1",
            vec![v(space.0)],
        )
        .await?;
        self.prune_appearances("d.space_id = $1", vec![v(space.0)]).await?;
        let liked_here = "post_id IN (SELECT l.post_id FROM post_likes l WHERE l.space_id = $1)";
        sql.exec(
            "recounting local likes",
            &format!(
                "UPDATE space_posts SET local_likes = (SELECT COUNT(*) FROM post_likes l \
                   JOIN space_closure c ON c.descendant_id = l.space_id AND c.ancestor_id = space_posts.space_id \
                   WHERE l.post_id = space_posts.post_id) WHERE {liked_here}"
            ),
            vec![v(space.0)],
        )
        .await?;
        self.refresh_local_hot(liked_here, vec![v(space.0)]).await?;

        // Whatever was waiting on it is closed.
        let closed = vec![v(space.0), v(now())];
        sql.exec(
            "closing space requests",
            "UPDATE space_requests SET state = 'REJECTED', resolved_at = $2 \
             WHERE state = 'PENDING' AND (child_id = $1 OR parent_id = $1)",
            closed.clone(),
        )
        .await?;
        sql.exec(
            "closing access requests",
            "UPDATE space_access_requests SET state = 'REJECTED', resolved_at = $2 WHERE state = 'PENDING' AND space_id = $1",
            closed.clone(),
        )
        .await?;
        sql.exec(
            "closing moderator invitations",
            "UPDATE space_moderator_invites SET state = 'REJECTED', resolved_at = $2 \
             WHERE state = 'PENDING' AND space_id = $1",
            closed,
        )
        .await?;
        sql.exec("revoking invite link", "DELETE FROM space_invite_links WHERE space_id = $1", vec![v(space.0)])
            .await?;
        sql.exec("deleting space", "UPDATE spaces SET state = 'DELETED' WHERE id = $1", vec![v(space.0)]).await?;

        let after = self.private_pairs(&below).await?;
        Ok(before.saturating_sub(after) as u64)
    }
}
