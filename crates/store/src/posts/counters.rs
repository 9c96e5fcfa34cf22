//! A post's counters and the copies its feed rows keep of them, changed under one lock order shared by every
//! write path: first the spaces the post counts in (in id order, in one statement), then the post's row, then its
//! feed rows (`space_posts`). Writes that count in spaces (posts, likes, comments) lock them shared
//! ([`crate::sql::Sql::share_spaces`]) and add to their totals through `space_deltas`, so they never wait for one
//! another on a space; tree edits lock the spaces they touch exclusively, so a like and a tree edit on the same
//! post take turns instead of deadlocking or miscounting (docs/holarchy.md#counters).

use crate::Db;
use crate::fragments::{COPIED_TOTALS, copied_totals, insert_space_deltas, local_hot, post_hot};
use crate::sql::{get, v};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};
use uuid::Uuid;
use weco_domain::{DomainError, DomainResult, PostId, SpaceId};

/// A change to the totals of every space a post is active in (a like, a comment), written as deltas.
pub(super) struct SpaceTotals {
    pub likes: i64,
    pub comments: i64,
    /// A time of activity to carry into the spaces' `last_activity_at`.
    pub active_at: Option<DateTime<Utc>>,
}

/// A post's row in a space after a like cast at or below it: its new local tally and local HOT score.
pub(super) struct LocalShift {
    space: Uuid,
    likes: i64,
    score: f64,
}

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn lock_post(&self, post: PostId) -> DomainResult<()> {
        if self.backend == DbBackend::Postgres {
            self.sql()
                .all("locking post", "SELECT id FROM posts WHERE id = $1 FOR NO KEY UPDATE", vec![v(post.0)])
                .await?;
        }
        Ok(())
    }

    /// Locks (on PostgreSQL), shared, the spaces a post is active in, in id order: the first lock of a write
    /// that counts in them.
    pub(super) async fn lock_post_spaces(&self, post: PostId) -> DomainResult<()> {
        self.sql()
            .share_spaces("SELECT space_id FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE'", vec![v(post.0)])
            .await
    }

    /// Copies the post's counters to its `space_posts` rows and re-scores them, and writes `local` (new local
    /// like tallies and scores by space) in the same statement, so each row gets one new version, not several.
    /// `returning` is the post's row as [`Self::update_post_counters`] returns it.
    pub(super) async fn sync_post_rows(
        &self,
        post: PostId,
        returning: &QueryResult,
        local: &[LocalShift],
    ) -> DomainResult<()> {
        const CX: &str = "syncing post rows";
        let likes: i64 = get(returning, CX, "total_likes")?;
        let comments: i64 = get(returning, CX, "total_comments")?;
        let created: DateTime<Utc> = get(returning, CX, "created_at")?;
        let mut values = vec![v(post.0)];
        let mut set = Vec::new();
        for column in copied_totals() {
            values.push(v(get::<i64>(returning, CX, column)?));
            set.push(format!("{column} = ${}", values.len()));
        }
        values.push(v(get::<DateTime<Utc>>(returning, CX, "last_activity_at")?));
        set.push(format!("last_activity_at = ${}", values.len()));
        values.push(v(post_hot(likes, comments, created)));
        set.push(format!("hot = ${}", values.len()));
        let mut sql = format!("UPDATE space_posts SET {}", set.join(", "));
        if !local.is_empty() {
            let (mut tallies, mut scores) = (String::new(), String::new());
            for shift in local {
                values.extend([v(shift.space), v(shift.likes), v(shift.score)]);
                let n = values.len();
                tallies.push_str(&format!(" WHEN space_id = ${} THEN ${}", n - 2, n - 1));
                scores.push_str(&format!(" WHEN space_id = ${} THEN ${n}", n - 2));
            }
            sql.push_str(&format!(
                ", local_likes = CASE{tallies} ELSE local_likes END, local_hot = CASE{scores} ELSE local_hot END"
            ));
        }
        sql.push_str(" WHERE post_id = $1");
        self.sql().exec(CX, &sql, values).await.map(drop)
    }

    /// Runs `UPDATE posts SET {set} WHERE id = $1 RETURNING …` and copies the result to the post's rows.
    pub(super) async fn update_post_counters(&self, post: PostId, set: &str, values: Vec<Value>) -> DomainResult<()> {
        self.change_counters(post, set, values, None, None).await
    }

    /// In the lock order of this module (a caller passing `spaces` has locked them with
    /// [`Self::lock_post_spaces`] before writing anything): changes the post's counters
    /// (`UPDATE posts SET {set} … RETURNING`); adds `local`'s delta to the local like tallies of its rows in the
    /// spaces at or above `local`'s space (a like cast there) and re-scores them; copies the new totals to its
    /// rows; and adds `spaces` to those spaces' totals.
    pub(super) async fn change_counters(
        &self,
        post: PostId,
        set: &str,
        mut values: Vec<Value>,
        local: Option<(SpaceId, i64)>,
        spaces: Option<SpaceTotals>,
    ) -> DomainResult<()> {
        values.insert(0, v(post.0));
        let row = self
            .sql()
            .one(
                "updating post counters",
                &format!(
                    "UPDATE posts SET {set}, stats_version = stats_version + 1 WHERE id = $1 \
                     RETURNING {COPIED_TOTALS}, created_at, last_activity_at"
                ),
                values,
            )
            .await?
            .ok_or(DomainError::NotFound("post"))?;
        let shifts = match local {
            Some((space, delta)) => self.local_shifts(post, space, delta).await?,
            None => Vec::new(),
        };
        self.sync_post_rows(post, &row, &shifts).await?;
        match spaces {
            Some(totals) => self.count_in_spaces(post, totals).await,
            None => Ok(()),
        }
    }

    /// Copies the post's counters to its rows as they are (after new rows were placed).
    pub(super) async fn resync_post_rows(&self, post: PostId) -> DomainResult<()> {
        let row = self
            .sql()
            .one(
                "reading post counters",
                &format!("SELECT {COPIED_TOTALS}, created_at, last_activity_at FROM posts WHERE id = $1"),
                vec![v(post.0)],
            )
            .await?
            .ok_or(DomainError::NotFound("post"))?;
        self.sync_post_rows(post, &row, &[]).await
    }

    /// The new local like tallies and scores of the post's rows in the spaces at or above `space` after adding
    /// `delta`. The rows are locked (PostgreSQL) until the transaction ends, so the tallies written back are
    /// exact even beside a tree edit re-counting them.
    async fn local_shifts(&self, post: PostId, space: SpaceId, delta: i64) -> DomainResult<Vec<LocalShift>> {
        const CX: &str = "counting local likes";
        let lock = if self.backend == DbBackend::Postgres { " FOR NO KEY UPDATE" } else { "" };
        let rows = self
            .sql()
            .all(
                CX,
                &format!(
                    "SELECT space_id, local_likes, created_at FROM space_posts WHERE post_id = $1 \
                     AND space_id IN (SELECT ancestor_id FROM space_closure WHERE descendant_id = $2) \
                     ORDER BY space_id{lock}"
                ),
                vec![v(post.0), v(space.0)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let likes = get::<i64>(row, CX, "local_likes")? + delta;
                Ok(LocalShift {
                    space: get(row, CX, "space_id")?,
                    likes,
                    score: local_hot(likes, get(row, CX, "created_at")?),
                })
            })
            .collect()
    }

    /// Adds `totals`, as deltas, to the spaces the post is active in (the caller locked them first).
    async fn count_in_spaces(&self, post: PostId, totals: SpaceTotals) -> DomainResult<()> {
        let SpaceTotals { likes, comments, active_at } = totals;
        self.sql()
            .exec(
                "counting in spaces",
                &insert_space_deltas(
                    "space_id, 0, $2, $3, 0, $4",
                    "FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE'",
                ),
                vec![v(post.0), v(likes), v(comments), v(active_at)],
            )
            .await
            .map(drop)
    }
}
