//! Posts and reactions, one concern per module: `placement` (where a post is), `counters` (its totals and
//! their copies in its feed rows, under one lock order), `reactions` (likes and ratings), `comments`, `links`.
//! Feeds and search are the `feeds` module's.

mod comments;
mod counters;
mod links;
mod placement;
mod reactions;

use crate::Db;
use crate::fragments::{DIRECT, post_kinds_from_db, space_post_state_from_db, viewer_value, visible_post};
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::posts::ports::PostRepo;
use weco_domain::*;

/// Every column of a post `p`.
pub(crate) const POST_COLS: &str = "p.id, p.creator_id, p.title, p.text, p.url, p.kinds, p.created_at, \
     p.last_activity_at, p.total_likes, p.total_comments, p.total_reposts, p.total_ratings, p.rating_sum, \
     p.total_links, p.stats_version";

pub(crate) fn post_from_row(row: &QueryResult) -> DomainResult<Post> {
    const CX: &str = "decoding post";
    Ok(Post {
        id: PostId(get::<Uuid>(row, CX, "id")?),
        creator_id: UserId(get::<Uuid>(row, CX, "creator_id")?),
        title: get(row, CX, "title")?,
        text: get(row, CX, "text")?,
        url: get(row, CX, "url")?,
        kinds: post_kinds_from_db(&get::<String>(row, CX, "kinds")?),
        created_at: get::<DateTime<Utc>>(row, CX, "created_at")?,
        last_activity_at: get::<DateTime<Utc>>(row, CX, "last_activity_at")?,
        total_likes: get(row, CX, "total_likes")?,
        total_comments: get(row, CX, "total_comments")?,
        total_reposts: get(row, CX, "total_reposts")?,
        total_ratings: get(row, CX, "total_ratings")?,
        rating_sum: get(row, CX, "rating_sum")?,
        total_links: get(row, CX, "total_links")?,
        stats_version: get(row, CX, "stats_version")?,
    })
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> PostRepo for Db<C> {
    async fn insert_post(&self, post: &NewPost, spaces: &[SpaceId]) -> DomainResult<()> {
        self.place_new_post(post, spaces).await
    }

    async fn posts_by_ids(&self, ids: &[PostId]) -> DomainResult<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {POST_COLS} FROM posts p WHERE p.state = 'ACTIVE' AND p.id IN ({})",
            placeholders(1, ids.len())
        );
        self.sql().all("loading posts", &sql, uuid_values(ids)).await?.iter().map(post_from_row).collect()
    }

    async fn visible_posts(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<Post>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {POST_COLS} FROM posts p WHERE p.id IN ({}) AND {}",
            placeholders(2, ids.len()),
            visible_post(1)
        );
        let mut values = vec![viewer_value(viewer)];
        values.extend(uuid_values(ids));
        self.sql().all("loading posts", &sql, values).await?.iter().map(post_from_row).collect()
    }

    async fn visible_posts_among(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<PostId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!("SELECT p.id FROM posts p WHERE p.id IN ({}) AND {}", placeholders(2, ids.len()), visible_post(1));
        let mut values = vec![viewer_value(viewer)];
        values.extend(uuid_values(ids));
        let rows = self.sql().all("checking post visibility", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking post visibility", "id").map(PostId)).collect()
    }

    async fn direct_spaces(&self, posts: &[PostId]) -> DomainResult<Vec<(PostId, SpaceId, SpacePostState)>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT post_id, space_id, state FROM space_posts WHERE relationship = 'DIRECT' AND state <> 'DELETED' \
             AND post_id IN ({}) ORDER BY space_id",
            placeholders(1, posts.len())
        );
        let rows = self.sql().all("listing post spaces", &sql, uuid_values(posts)).await?;
        rows.iter()
            .map(|r| {
                const CX: &str = "listing post spaces";
                let state =
                    space_post_state_from_db(&get::<String>(r, CX, "state")?).unwrap_or(SpacePostState::Removed);
                Ok((PostId(get(r, CX, "post_id")?), SpaceId(get(r, CX, "space_id")?), state))
            })
            .collect()
    }

    async fn appearances(&self, post: PostId) -> DomainResult<Vec<(SpaceId, bool)>> {
        let rows = self
            .sql()
            .all(
                "listing appearances",
                "SELECT space_id, relationship FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE'",
                vec![v(post.0)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                const CX: &str = "listing appearances";
                Ok((SpaceId(get(r, CX, "space_id")?), get::<String>(r, CX, "relationship")? == DIRECT))
            })
            .collect()
    }

    async fn space_post_state(&self, post: PostId, space: SpaceId) -> DomainResult<Option<SpacePostState>> {
        let row = self
            .sql()
            .one(
                "reading post state",
                "SELECT state FROM space_posts WHERE post_id = $1 AND space_id = $2",
                vec![v(post.0), v(space.0)],
            )
            .await?;
        let state = row.map(|r| get::<String>(&r, "reading post state", "state")).transpose()?;
        Ok(state.as_deref().and_then(space_post_state_from_db))
    }

    async fn repost(&self, post: PostId, spaces: &[SpaceId], at: DateTime<Utc>) -> DomainResult<u64> {
        self.place(post, spaces, at).await
    }

    async fn set_space_post_state(
        &self,
        post: PostId,
        space: SpaceId,
        from: SpacePostState,
        to: SpacePostState,
    ) -> DomainResult<bool> {
        self.move_space_post(post, space, from, to).await
    }

    async fn delete_post(&self, post: PostId) -> DomainResult<()> {
        self.remove_post(post).await
    }

    async fn like(&self, post: PostId, user: UserId, space: Option<SpaceId>, at: DateTime<Utc>) -> DomainResult<bool> {
        self.like_post(post, user, space, at).await
    }

    async fn unlike(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        self.unlike_post(post, user).await
    }

    async fn rate(
        &self,
        post: PostId,
        user: UserId,
        value: i64,
        space: Option<SpaceId>,
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        self.rate_post(post, user, value, space, at).await
    }

    async fn post_actions(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>> {
        self.actions_on(user, posts).await
    }

    async fn insert_comment(&self, comment: &Comment) -> DomainResult<()> {
        self.add_comment(comment).await
    }

    async fn comment_by_id(&self, id: CommentId) -> DomainResult<Option<Comment>> {
        self.comment(id).await
    }

    async fn visible_comments(&self, viewer: Option<UserId>, ids: &[CommentId]) -> DomainResult<Vec<Comment>> {
        self.comments_seen_by(viewer, ids).await
    }

    async fn comments(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        parent: Option<CommentId>,
        page: &PageRequest,
    ) -> DomainResult<Page<Comment>> {
        self.comment_page(viewer, post, parent, page).await
    }

    async fn link_posts(
        &self,
        source: PostId,
        target: PostId,
        creator: UserId,
        description: &str,
        at: DateTime<Utc>,
    ) -> DomainResult<bool> {
        self.add_link(source, target, creator, description, at).await
    }
}
