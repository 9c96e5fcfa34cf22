//! Where a post is: placing it in spaces (creation and reposts, with its appearances above them), hiding it in
//! one space, deleting it everywhere — each with the spaces' counters in step.

use crate::Db;
use crate::fragments::{DIRECT, POST, REPOST, insert_space_deltas, insert_space_posts, post_kinds, space_post_state};
use crate::holarchy::Report;
use crate::sql::{placeholders, uuid_values, v};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend};
use weco_domain::{DomainResult, NewPost, PostEdit, PostId, SpaceId, SpacePostState};

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn place_new_post(&self, post: &NewPost, spaces: &[SpaceId]) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "inserting post",
            "INSERT INTO posts (id, creator_id, title, text, url, kinds, created_at, last_activity_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            vec![
                v(post.id.0),
                v(post.creator_id.0),
                v(post.title.clone()),
                v(post.text.clone()),
                v(post.url.clone()),
                v(post_kinds(&post.kinds)),
                v(post.created_at),
            ],
        )
        .await?;
        if self.backend == DbBackend::Sqlite {
            sql.exec(
                "indexing post text",
                "INSERT INTO posts_fts (post_id, title, text) VALUES ($1, $2, $3)",
                vec![v(post.id.0), v(post.title.clone().unwrap_or_default()), v(post.text.clone().unwrap_or_default())],
            )
            .await?;
        }
        self.place(post.id, spaces, post.created_at).await?;
        Ok(())
    }

    /// Replaces the post's title, text, address and kinds (PostgreSQL's search column is generated from them;
    /// SQLite's FTS5 row is written again).
    pub(super) async fn change_post(&self, edit: &PostEdit, at: DateTime<Utc>) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "editing post",
            "UPDATE posts SET title = $2, text = $3, url = $4, kinds = $5, edited_at = $6 \
             WHERE id = $1 AND state = 'ACTIVE'",
            vec![
                v(edit.post.0),
                v(edit.title.clone()),
                v(edit.text.clone()),
                v(edit.url.clone()),
                v(post_kinds(&edit.kinds)),
                v(at),
            ],
        )
        .await?;
        if self.backend == DbBackend::Sqlite {
            sql.exec("re-indexing post", "DELETE FROM posts_fts WHERE post_id = $1", vec![v(edit.post.0)]).await?;
            sql.exec(
                "re-indexing post",
                "INSERT INTO posts_fts (post_id, title, text) VALUES ($1, $2, $3)",
                vec![
                    v(edit.post.0),
                    v(edit.title.clone().unwrap_or_default()),
                    v(edit.text.clone().unwrap_or_default()),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// Places the post directly in `spaces` (a first placement, or a repost), with its appearances above them;
    /// returns how many placements were new.
    pub(super) async fn place(&self, post: PostId, spaces: &[SpaceId], at: DateTime<Utc>) -> DomainResult<u64> {
        let sql = self.sql();
        let targets = placeholders(2, spaces.len());
        let mut values = vec![v(post.0)];
        values.extend(uuid_values(spaces));
        // The targets and everything above them, shared, in one ordered statement, then the post (the lock order
        // of `counters`).
        sql.share_spaces(
            &format!(
                "SELECT c.ancestor_id FROM space_closure c WHERE c.descendant_id IN ({})",
                placeholders(1, spaces.len())
            ),
            uuid_values(spaces),
        )
        .await?;
        self.lock_post(post).await?;
        let first_placement: i64 = sql
            .scalar(
                "checking placements",
                "SELECT COUNT(*) AS v FROM space_posts WHERE post_id = $1 AND relationship = 'DIRECT'",
                vec![v(post.0)],
            )
            .await?;
        let upgraded = sql
            .exec(
                "reposting where the post already appears",
                &format!(
                    "UPDATE space_posts SET relationship = 'DIRECT', kind = 'REPOST' \
                     WHERE post_id = $1 AND relationship = 'INDIRECT' AND space_id IN ({targets})"
                ),
                values.clone(),
            )
            .await?;
        // The target spaces the post does not appear in yet, with the post; targets bound from `$start`.
        let fresh = |start: usize| {
            format!(
                "FROM spaces s JOIN posts p ON p.id = $1 WHERE s.id IN ({}) \
                 AND NOT EXISTS (SELECT 1 FROM space_posts e WHERE e.space_id = s.id AND e.post_id = p.id)",
                placeholders(start, spaces.len())
            )
        };
        let mut counted = vec![v(post.0), v(at)];
        counted.extend(uuid_values(spaces));
        sql.exec(
            "counting new placements",
            &insert_space_deltas("s.id, 1, p.total_likes, p.total_comments, 0, $2", &fresh(3)),
            counted,
        )
        .await?;
        let kind = if first_placement == 0 { POST } else { REPOST };
        let hot = crate::fragments::hot_base(self.backend, "p.created_at");
        let inserted = sql
            .exec("placing post", &insert_space_posts(self.backend, "s.id", DIRECT, kind, &hot, &fresh(2)), values)
            .await?;
        let new = upgraded + inserted;
        if first_placement > 0 && new > 0 {
            self.update_post_counters(post, "total_reposts = total_reposts + $2", vec![v(new as i64)]).await?;
        } else {
            self.resync_post_rows(post).await?;
        }
        self.add_appearances("d.post_id = $1", vec![v(post.0)], Report::Nothing).await?;
        Ok(new)
    }

    pub(super) async fn move_space_post(
        &self,
        post: PostId,
        space: SpaceId,
        from: SpacePostState,
        to: SpacePostState,
    ) -> DomainResult<bool> {
        let sql = self.sql();
        sql.share_spaces("$1", vec![v(space.0)]).await?;
        let row = sql
            .one(
                "moderating post",
                "UPDATE space_posts SET state = $4 WHERE post_id = $1 AND space_id = $2 AND state = $3 \
                 RETURNING total_likes, total_comments",
                vec![v(post.0), v(space.0), v(space_post_state(from)), v(space_post_state(to))],
            )
            .await?;
        let Some(row) = row else { return Ok(false) };
        let sign: i64 = if to == SpacePostState::Active { 1 } else { -1 };
        let likes: i64 = crate::sql::get(&row, "moderating post", "total_likes")?;
        let comments: i64 = crate::sql::get(&row, "moderating post", "total_comments")?;
        sql.exec(
            "counting moderated post",
            &insert_space_deltas("$1, $2, $3, $4, 0, NULL", ""),
            vec![v(space.0), v(sign), v(sign * likes), v(sign * comments)],
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn remove_post(&self, post: PostId) -> DomainResult<()> {
        let sql = self.sql();
        self.lock_post_spaces(post).await?;
        self.lock_post(post).await?;
        sql.exec(
            "uncounting deleted post",
            &insert_space_deltas(
                "space_id, -1, -total_likes, -total_comments, 0, NULL",
                "FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE'",
            ),
            vec![v(post.0)],
        )
        .await?;
        sql.exec("hiding deleted post", "UPDATE space_posts SET state = 'DELETED' WHERE post_id = $1", vec![v(post.0)])
            .await?;
        sql.exec("deleting post", "UPDATE posts SET state = 'DELETED' WHERE id = $1", vec![v(post.0)]).await?;
        if self.backend == DbBackend::Sqlite {
            sql.exec("unindexing post", "DELETE FROM posts_fts WHERE post_id = $1", vec![v(post.0)]).await?;
        }
        Ok(())
    }
}
