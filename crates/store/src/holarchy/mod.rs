//! The holarchy: spaces, follows, the tree between them (kept true by `closure` and `aggregation`), its
//! listings, requests to attach, changes of privacy, and deleting a space.

mod aggregation;
mod closure;
mod totals;

pub(crate) use aggregation::{Report, missing_sql, stale_sql};
pub(crate) use closure::flow_blocked;

use crate::Db;
use crate::fragments::{
    accessible_space, accessible_to, gated_sort_key, insert_space_deltas, listed, privacy, privacy_from_db,
    request_state, request_state_from_db, space_total, viewer_value,
};
use crate::requests::Requests;
use crate::roles::Role;
use crate::sql::{Key, Listing, get, like_contains, placeholders, uuid_values, v, viewer_then_ids};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;
use weco_domain::holarchy::ports::HolarchyRepo;
use weco_domain::values::{Depth, Privacy, RequestState, SpaceSort};
use weco_domain::*;

/// A space's columns as [`space_from_row`] reads them, its totals exact (deltas not folded yet included).
pub(crate) const SPACE_COLS: &str = concat!(
    "s.id, s.handle, s.name, s.description, s.privacy, s.creator_id, s.created_at, ",
    space_total!("total_posts"),
    " AS total_posts, ",
    space_total!("total_post_likes"),
    " AS total_post_likes, ",
    space_total!("total_comments"),
    " AS total_comments, ",
    space_total!("total_followers"),
    " AS total_followers, COALESCE((SELECT MAX(sd.last_activity_at) FROM space_deltas sd \
     WHERE sd.space_id = s.id AND sd.last_activity_at > s.last_activity_at), s.last_activity_at) AS last_activity_at"
);

/// `SPACE_COLS` and `viewer_access`: whether the viewer bound as `$viewer` may access the space.
pub(crate) fn space_with_access_cols(viewer: usize) -> String {
    format!("{SPACE_COLS}, CASE WHEN {} THEN 1 ELSE 0 END AS viewer_access", accessible_space("s", viewer))
}

pub(crate) fn space_with_access_from_row(row: &QueryResult) -> DomainResult<(Space, bool)> {
    Ok((space_from_row(row)?, get::<i32>(row, "decoding space", "viewer_access")? == 1))
}

pub(crate) fn space_from_row(row: &QueryResult) -> DomainResult<Space> {
    const CX: &str = "decoding space";
    Ok(Space {
        id: SpaceId(get::<Uuid>(row, CX, "id")?),
        handle: get(row, CX, "handle")?,
        name: get(row, CX, "name")?,
        description: get(row, CX, "description")?,
        privacy: privacy_from_db(&get::<String>(row, CX, "privacy")?)?,
        creator_id: get::<Option<Uuid>>(row, CX, "creator_id")?.map(UserId),
        created_at: get::<DateTime<Utc>>(row, CX, "created_at")?,
        total_posts: get(row, CX, "total_posts")?,
        total_post_likes: get(row, CX, "total_post_likes")?,
        total_comments: get(row, CX, "total_comments")?,
        total_followers: get(row, CX, "total_followers")?,
        last_activity_at: get::<DateTime<Utc>>(row, CX, "last_activity_at")?,
    })
}

fn request_from_row(row: &QueryResult) -> DomainResult<SpaceRequest> {
    const CX: &str = "decoding space request";
    Ok(SpaceRequest {
        id: SpaceRequestId(get::<Uuid>(row, CX, "id")?),
        child_id: SpaceId(get::<Uuid>(row, CX, "child_id")?),
        parent_id: SpaceId(get::<Uuid>(row, CX, "parent_id")?),
        requester_id: UserId(get::<Uuid>(row, CX, "requester_id")?),
        state: request_state_from_db(&get::<String>(row, CX, "state")?)?,
        created_at: get(row, CX, "created_at")?,
    })
}

/// Requests to attach a space under another.
const SPACE_REQUESTS: Requests<SpaceRequest> = Requests {
    table: "space_requests",
    cols: "r.id, r.child_id, r.parent_id, r.requester_id, r.state, r.created_at",
    decode: request_from_row,
    what: "space request",
};

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

    /// Locks (on PostgreSQL), in one ordered statement and before any change, every space whose totals or feed
    /// rows a tree edit of the subtree of `child` (under `parent`) can touch: the subtree, everything above it,
    /// and everything above `parent`. Likes, comments and posts lock the spaces they count in before their feed
    /// rows too, so they and tree edits queue instead of deadlocking, and the totals a tree edit copies are read
    /// after the writes it waited for.
    async fn lock_edit_scope(&self, parent: Option<SpaceId>, child: SpaceId) -> DomainResult<()> {
        let mut scope = "SELECT a.ancestor_id FROM space_closure a WHERE a.descendant_id IN \
                         (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $1)"
            .to_owned();
        let mut values = vec![v(child.0)];
        if let Some(parent) = parent {
            scope.push_str(" UNION SELECT p.ancestor_id FROM space_closure p WHERE p.descendant_id = $2");
            values.push(v(parent.0));
        }
        self.sql().lock_spaces(&scope, values).await
    }

    async fn count_followers(&self, space: SpaceId, delta: i64) -> DomainResult<()> {
        let sql = insert_space_deltas("$1, 0, 0, 0, $2, NULL", "");
        self.sql().exec("counting followers", &sql, vec![v(space.0), v(delta)]).await.map(drop)
    }

    async fn ids(&self, context: &str, sql: &str, values: Vec<Value>, col: &str) -> DomainResult<Vec<SpaceId>> {
        let rows = self.sql().all(context, sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, context, col).map(SpaceId)).collect()
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> HolarchyRepo for Db<C> {
    async fn insert_space(&self, space: &NewSpace) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "inserting space",
            "INSERT INTO spaces (id, handle, name, description, privacy, creator_id, created_at, last_activity_at, \
               private_above) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
            vec![
                v(space.id.0),
                v(space.handle.clone()),
                v(space.name.clone()),
                v(space.description.clone()),
                v(privacy(space.privacy)),
                v(space.creator_id.0),
                v(space.created_at),
                // Itself, until it is attached under its parents (which recounts it).
                v(i64::from(space.privacy == Privacy::Private)),
            ],
        )
        .await?;
        sql.exec(
            "inserting closure self-row",
            "INSERT INTO space_closure (ancestor_id, descendant_id, depth, flows) VALUES ($1, $1, 0, TRUE)",
            vec![v(space.id.0)],
        )
        .await?;
        Ok(())
    }

    async fn spaces_by_ids(&self, ids: &[SpaceId]) -> DomainResult<Vec<Space>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SPACE_COLS} FROM spaces s WHERE s.state = 'ACTIVE' AND s.id IN ({})",
            placeholders(1, ids.len())
        );
        self.sql().all("loading spaces", &sql, uuid_values(ids)).await?.iter().map(space_from_row).collect()
    }

    async fn spaces_for(&self, viewer: Option<UserId>, ids: &[SpaceId]) -> DomainResult<Vec<(Space, bool)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, ids);
        let sql = format!(
            "SELECT {} FROM spaces s WHERE s.state = 'ACTIVE' AND s.id IN ({in_ids})",
            space_with_access_cols(1)
        );
        self.sql().all("loading spaces", &sql, values).await?.iter().map(space_with_access_from_row).collect()
    }

    async fn space_by_handle(&self, handle: &str) -> DomainResult<Option<Space>> {
        let sql = format!("SELECT {SPACE_COLS} FROM spaces s WHERE s.handle = $1 AND s.state = 'ACTIVE'");
        self.sql().one("finding space", &sql, vec![v(handle)]).await?.as_ref().map(space_from_row).transpose()
    }

    async fn space_by_handle_for(&self, handle: &str, viewer: Option<UserId>) -> DomainResult<Option<(Space, bool)>> {
        const CX: &str = "finding space";
        let sql =
            format!("SELECT {} FROM spaces s WHERE s.handle = $1 AND s.state = 'ACTIVE'", space_with_access_cols(2));
        let row = self.sql().one(CX, &sql, vec![v(handle), viewer_value(viewer)]).await?;
        row.as_ref().map(space_with_access_from_row).transpose()
    }

    async fn moderated_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        self.role_among(Role::Moderator, user, spaces).await
    }

    async fn followed_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        self.role_among(Role::Follower, user, spaces).await
    }

    async fn accessible_among(&self, viewer: Option<UserId>, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        if spaces.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, spaces);
        let sql = format!(
            "SELECT s.id FROM spaces s WHERE s.id IN ({in_ids}) AND s.state = 'ACTIVE' AND {}",
            accessible_space("s", 1)
        );
        let rows = self.sql().all("checking access", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking access", "id").map(SpaceId)).collect()
    }

    async fn follow(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let added = self.add_role(Role::Follower, space, user).await?;
        if added {
            self.count_followers(space, 1).await?;
        }
        Ok(added)
    }

    async fn unfollow(&self, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let removed = self.remove_role(Role::Follower, space, user).await?;
        if removed {
            self.count_followers(space, -1).await?;
        }
        Ok(removed)
    }

    async fn drop_follows_without_access(&self, space: SpaceId) -> DomainResult<u64> {
        let sql = self.sql();
        let lost = |t: &str| {
            format!(
                "{t}.space_id IN (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $1) \
                 AND NOT {}",
                accessible_to(&format!("{t}.space_id"), &format!("{t}.user_id"))
            )
        };
        sql.lock_spaces("SELECT descendant_id FROM space_closure WHERE ancestor_id = $1", vec![v(space.0)]).await?;
        // Counted first, per space, to keep `total_followers` exact.
        let ended = sql
            .exec(
                "uncounting followers without access",
                &insert_space_deltas(
                    "f.space_id, 0, 0, 0, -COUNT(*), NULL",
                    &format!("FROM space_followers f WHERE {} GROUP BY f.space_id", lost("f")),
                ),
                vec![v(space.0)],
            )
            .await?;
        if ended == 0 {
            return Ok(0);
        }
        sql.exec(
            "ending follows without access",
            &format!("DELETE FROM space_followers WHERE {}", lost("space_followers")),
            vec![v(space.0)],
        )
        .await
    }

    async fn fold_space_totals(&self, limit: u32) -> DomainResult<u64> {
        // The acts recorded for the activity rollups are folded by the same loop (docs/commons.md).
        let totals = self.fold_totals(limit).await?;
        let acts = weco_domain::commons::ports::CommonsRepo::fold_activity(self, limit).await?;
        Ok(totals.max(acts))
    }

    async fn unfolded_space_totals(&self) -> DomainResult<i64> {
        self.unfolded_totals().await
    }

    async fn reclaim_folded_totals(&self) -> DomainResult<()> {
        self.reclaim_totals().await
    }

    async fn lock_holarchy(&self) -> DomainResult<()> {
        if self.backend == DbBackend::Postgres {
            // SQLite transactions here are IMMEDIATE: writers are already serialised.
            self.sql().all("locking the holarchy", "SELECT pg_advisory_xact_lock(7426001)", vec![]).await?;
        }
        Ok(())
    }

    async fn is_ancestor_or_self(&self, ancestor: SpaceId, descendant: SpaceId) -> DomainResult<bool> {
        let sql = "SELECT 1 AS v FROM space_closure WHERE ancestor_id = $1 AND descendant_id = $2";
        self.sql().exists("checking ancestry", sql, vec![v(ancestor.0), v(descendant.0)]).await
    }

    async fn has_edge(&self, parent: SpaceId, child: SpaceId) -> DomainResult<bool> {
        let sql = "SELECT 1 AS v FROM space_parents WHERE parent_id = $1 AND child_id = $2";
        self.sql().exists("checking edge", sql, vec![v(parent.0), v(child.0)]).await
    }

    async fn parent_ids(&self, child: SpaceId) -> DomainResult<Vec<SpaceId>> {
        let rows = self
            .sql()
            .all("listing parents", "SELECT parent_id FROM space_parents WHERE child_id = $1", vec![v(child.0)])
            .await?;
        rows.iter().map(|r| get::<Uuid>(r, "listing parents", "parent_id").map(SpaceId)).collect()
    }

    async fn attach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<Appearances> {
        self.lock_edit_scope(Some(parent), child).await?;
        self.attach_edge(parent, child).await?;
        self.realign_after_edit(parent, child).await
    }

    async fn detach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<(Appearances, DetachOutcome)> {
        self.lock_edit_scope(Some(parent), child).await?;
        let outcome = self.detach_edge(parent, child).await?;
        let changes = self.realign_after_edit(parent, child).await?;
        Ok((changes, outcome))
    }

    async fn parents(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>> {
        let select = space_with_access_cols(2);
        let listing = Listing {
            context: "listing parents",
            select: &select,
            base:
                "FROM space_parents e JOIN spaces s ON s.id = e.parent_id WHERE e.child_id = $1 AND s.state = 'ACTIVE'"
                    .into(),
            values: vec![v(space.0), viewer_value(viewer)],
            key: Key::IdOnly,
            id: "s.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, space_with_access_from_row).await
    }

    async fn children(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        sort: SpaceSort,
        depth: Depth,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>> {
        // The viewer is `$2`, for the browsing rule and the gated sort keys. Direct children of a space the viewer
        // may access always pass the browsing rule (that space is their listed parent), so only deeper listings
        // check it.
        let base = match depth {
            Depth::Direct => "FROM space_parents e JOIN spaces s ON s.id = e.child_id \
                 WHERE e.parent_id = $1 AND s.state = 'ACTIVE'"
                .to_owned(),
            Depth::All => format!(
                "FROM space_closure c JOIN spaces s ON s.id = c.descendant_id \
                 WHERE c.ancestor_id = $1 AND c.depth > 0 AND s.state = 'ACTIVE' AND {}",
                listed(2, Some(1))
            ),
        };
        let values = vec![v(space.0), viewer_value(viewer)];
        let select = space_with_access_cols(2);
        let listing = Listing {
            context: "listing child spaces",
            select: &select,
            base,
            values,
            key: gated_sort_key(sort),
            id: "s.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, space_with_access_from_row).await
    }

    async fn ancestors(&self, viewer: Option<UserId>, space: SpaceId) -> DomainResult<Vec<(Space, bool)>> {
        let sql = format!(
            "SELECT {} FROM space_closure c JOIN spaces s ON s.id = c.ancestor_id \
             WHERE c.descendant_id = $1 AND c.depth > 0 AND s.state = 'ACTIVE' \
             ORDER BY CASE WHEN s.id = $2 THEN 1 ELSE 0 END, c.depth, s.id",
            space_with_access_cols(3)
        );
        let values = vec![v(space.0), v(ROOT_SPACE_ID.0), viewer_value(viewer)];
        let rows = self.sql().all("listing ancestors", &sql, values).await?;
        rows.iter().map(space_with_access_from_row).collect()
    }

    async fn descendants(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>> {
        let select = space_with_access_cols(2);
        let listing = Listing {
            context: "listing descendants",
            select: &select,
            base: format!(
                "FROM space_closure c JOIN spaces s ON s.id = c.descendant_id \
                 WHERE c.ancestor_id = $1 AND c.depth > 0 AND s.state = 'ACTIVE' AND {}",
                listed(2, Some(1))
            ),
            values: vec![v(space.0), viewer_value(viewer)],
            key: Key::Int("c.depth"),
            id: "s.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, space_with_access_from_row).await
    }

    async fn search_spaces(
        &self,
        viewer: Option<UserId>,
        query: &str,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>> {
        let select = space_with_access_cols(2);
        let listing = Listing {
            context: "searching spaces",
            select: &select,
            base: format!(
                "FROM spaces s WHERE s.state = 'ACTIVE' AND s.id <> $3 \
                 AND (lower(s.handle) LIKE $1 ESCAPE '\\' OR lower(s.name) LIKE $1 ESCAPE '\\') AND {}",
                listed(2, None)
            ),
            values: vec![v(like_contains(query)), viewer_value(viewer), v(ROOT_SPACE_ID.0)],
            key: gated_sort_key(SpaceSort::Followers),
            id: "s.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, space_with_access_from_row).await
    }

    async fn private_ancestry(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, BTreeSet<SpaceId>>> {
        if spaces.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT c.descendant_id, c.ancestor_id FROM space_closure c JOIN spaces x ON x.id = c.ancestor_id \
             WHERE x.privacy = 'PRIVATE' AND c.descendant_id IN ({})",
            placeholders(1, spaces.len())
        );
        let rows = self.sql().all("reading private ancestry", &sql, uuid_values(spaces)).await?;
        let mut out: HashMap<SpaceId, BTreeSet<SpaceId>> = HashMap::new();
        for row in &rows {
            let d = SpaceId(get::<Uuid>(row, "reading private ancestry", "descendant_id")?);
            let a = SpaceId(get::<Uuid>(row, "reading private ancestry", "ancestor_id")?);
            out.entry(d).or_default().insert(a);
        }
        Ok(out)
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

    async fn set_space_privacy(&self, space: SpaceId, privacy_value: Privacy) -> DomainResult<Appearances> {
        self.lock_edit_scope(None, space).await?;
        self.sql()
            .exec(
                "changing privacy",
                "UPDATE spaces SET privacy = $2 WHERE id = $1",
                vec![v(space.0), v(privacy(privacy_value))],
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

    async fn delete_space(&self, space: SpaceId) -> DomainResult<(Appearances, u64)> {
        let sql = self.sql();
        self.lock_edit_scope(None, space).await?;
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
        let mut changes = Appearances::default();
        for child in children {
            changes.extend(self.detach(space, child).await?.0);
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
        changes.removed.extend(self.prune_appearances("d.space_id = $1", vec![v(space.0)]).await?);
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
        // Its handle is freed for a new space: the row keeps one no space can take (`~` is never in a handle).
        sql.exec(
            "deleting space",
            "UPDATE spaces SET state = 'DELETED', handle = $2 WHERE id = $1",
            vec![v(space.0), v(format!("~{space}"))],
        )
        .await?;

        let after = self.private_pairs(&below).await?;
        Ok((changes, before.saturating_sub(after) as u64))
    }

    async fn insert_space_request(&self, r: &SpaceRequest) -> DomainResult<()> {
        let values = vec![
            v(r.id.0),
            v(r.child_id.0),
            v(r.parent_id.0),
            v(r.requester_id.0),
            v(request_state(r.state)),
            v(r.created_at),
        ];
        SPACE_REQUESTS.insert(self, "id, child_id, parent_id, requester_id, state, created_at", values).await
    }

    async fn space_requests_by_ids(&self, ids: &[SpaceRequestId]) -> DomainResult<Vec<SpaceRequest>> {
        SPACE_REQUESTS.by_ids(self, ids).await
    }

    async fn pending_space_request(&self, child: SpaceId, parent: SpaceId) -> DomainResult<Option<SpaceRequest>> {
        SPACE_REQUESTS.pending(self, "r.child_id = $1 AND r.parent_id = $2", vec![v(child.0), v(parent.0)]).await
    }

    async fn resolve_space_request(
        &self,
        id: SpaceRequestId,
        state: RequestState,
        by: Option<UserId>,
    ) -> DomainResult<bool> {
        SPACE_REQUESTS.resolve(self, id.0, state, &[("resolver_id", v(by.map(|u| u.0)))]).await
    }

    async fn pending_space_requests_for(
        &self,
        parent: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<SpaceRequest>> {
        SPACE_REQUESTS.pending_page(self, "parent_id", "r.parent_id = $1", vec![v(parent.0)], page).await
    }
}
