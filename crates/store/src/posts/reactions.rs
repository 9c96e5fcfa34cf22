//! Likes and ratings: the reaction rows, and every counter they move.

use super::counters::SpaceTotals;
use crate::Db;
use crate::sql::{get, placeholders, uuid_values, v};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::{DomainResult, PostActions, PostId, SpaceId, UserId};

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn like_post(
        &self,
        post: PostId,
        user: UserId,
        space: Option<SpaceId>,
        at: DateTime<Utc>,
    ) -> DomainResult<bool> {
        self.lock_post_spaces(post).await?;
        let added = self
            .sql()
            .exec(
                "liking",
                "INSERT INTO post_likes (post_id, user_id, space_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                vec![v(post.0), v(user.0), v(space.map(|s| s.0)), v(at)],
            )
            .await?;
        if added == 0 {
            return Ok(false);
        }
        let spaces = SpaceTotals { likes: 1, comments: 0, active_at: None };
        self.change_counters(post, "total_likes = total_likes + 1", vec![], space.map(|s| (s, 1)), Some(spaces))
            .await?;
        Ok(true)
    }

    pub(super) async fn unlike_post(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        self.lock_post_spaces(post).await?;
        let removed = self
            .sql()
            .all(
                "unliking",
                "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2 RETURNING space_id",
                vec![v(post.0), v(user.0)],
            )
            .await?;
        let Some(row) = removed.first() else { return Ok(false) };
        let cast_in: Option<Uuid> = get(row, "unliking", "space_id")?;
        let local = cast_in.map(|s| (SpaceId(s), -1));
        let spaces = SpaceTotals { likes: -1, comments: 0, active_at: None };
        self.change_counters(post, "total_likes = total_likes - 1", vec![], local, Some(spaces)).await?;
        Ok(true)
    }

    pub(super) async fn unrate_post(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        self.lock_post(post).await?;
        let removed = self
            .sql()
            .one(
                "withdrawing rating",
                "DELETE FROM post_ratings WHERE post_id = $1 AND user_id = $2 RETURNING value",
                vec![v(post.0), v(user.0)],
            )
            .await?;
        let Some(row) = removed else { return Ok(false) };
        let value: i64 = get(&row, "withdrawing rating", "value")?;
        self.update_post_counters(
            post,
            "total_ratings = total_ratings - 1, rating_sum = rating_sum - $2",
            vec![v(value)],
        )
        .await?;
        Ok(true)
    }

    pub(super) async fn rate_post(
        &self,
        post: PostId,
        user: UserId,
        value: i64,
        space: Option<SpaceId>,
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        let sql = self.sql();
        self.lock_post(post).await?;
        let old = sql
            .one(
                "reading rating",
                "SELECT value FROM post_ratings WHERE post_id = $1 AND user_id = $2",
                vec![v(post.0), v(user.0)],
            )
            .await?
            .map(|r| get::<i64>(&r, "reading rating", "value"))
            .transpose()?;
        match old {
            Some(old) => {
                sql.exec(
                    "replacing rating",
                    "UPDATE post_ratings SET value = $3, space_id = $4, updated_at = $5 WHERE post_id = $1 AND user_id = $2",
                    vec![v(post.0), v(user.0), v(value), v(space.map(|s| s.0)), v(at)],
                )
                .await?;
                self.update_post_counters(post, "rating_sum = rating_sum + $2", vec![v(value - old)]).await
            }
            None => {
                sql.exec(
                    "rating",
                    "INSERT INTO post_ratings (post_id, user_id, value, space_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                    vec![v(post.0), v(user.0), v(value), v(space.map(|s| s.0)), v(at)],
                )
                .await?;
                self.update_post_counters(
                    post,
                    "total_ratings = total_ratings + 1, rating_sum = rating_sum + $2",
                    vec![v(value)],
                )
                .await
            }
        }
    }

    pub(super) async fn actions_on(
        &self,
        user: UserId,
        posts: &[PostId],
    ) -> DomainResult<HashMap<PostId, PostActions>> {
        if posts.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = placeholders(2, posts.len());
        let sql = format!(
            "SELECT post_id, 1 AS liked, NULL AS rating FROM post_likes WHERE user_id = $1 AND post_id IN ({ids}) \
             UNION ALL \
             SELECT post_id, 0 AS liked, value AS rating FROM post_ratings WHERE user_id = $1 AND post_id IN ({ids})"
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(posts));
        let rows = self.sql().all("reading viewer actions", &sql, values).await?;
        let mut out: HashMap<PostId, PostActions> = HashMap::new();
        for row in &rows {
            const CX: &str = "reading viewer actions";
            let entry = out.entry(PostId(get(row, CX, "post_id")?)).or_default();
            if get::<i32>(row, CX, "liked")? == 1 {
                entry.liked = true;
            }
            if let Some(rating) = get::<Option<i64>>(row, CX, "rating")? {
                entry.rating = Some(rating);
            }
        }
        Ok(out)
    }
}
