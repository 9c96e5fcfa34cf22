//! Posts and reactions, one concern per module: `placement` (where a post is), `counters` (its totals and
//! their copies in its feed rows, under one lock order), `reactions` (likes and ratings), `comments`, `links`.
//! Feeds and search are the `feeds` module's.

mod comments;
mod counters;
mod links;
mod placement;
mod reactions;

use crate::Db;
use crate::fragments::{post_kinds_from_db, space_post_state_from_db, visible_post};
use crate::sql::{get, placeholders, uuid_values, v, viewer_then_ids};
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
     p.total_links, p.stats_version, p.edited_at";

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
        edited_at: get(row, CX, "edited_at")?,
    })
}

/// The private spaces at or above the spaces the post bound as `post` is placed in directly (column `space_id`).
fn audience_sql(post: &str) -> String {
    format!(
        "SELECT DISTINCT c.ancestor_id AS space_id FROM space_posts d \
         JOIN space_closure c ON c.descendant_id = d.space_id JOIN spaces x ON x.id = c.ancestor_id \
         WHERE d.post_id = {post} AND d.relationship = 'DIRECT' AND d.state <> 'DELETED' AND x.privacy = 'PRIVATE'"
    )
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
        let (values, in_ids) = viewer_then_ids(viewer, ids);
        let sql = format!("SELECT {POST_COLS} FROM posts p WHERE p.id IN ({in_ids}) AND {}", visible_post(1));
        self.sql().all("loading posts", &sql, values).await?.iter().map(post_from_row).collect()
    }

    async fn visible_posts_among(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<PostId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, ids);
        let sql = format!("SELECT p.id FROM posts p WHERE p.id IN ({in_ids}) AND {}", visible_post(1));
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

    async fn placement(&self, post: PostId) -> DomainResult<Placement> {
        const CX: &str = "reading a post's placement";
        // Its appearances and its audience in one statement: `kind` tells the rows apart.
        let sql = format!(
            "SELECT space_id, relationship AS kind FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE' \
             UNION ALL SELECT a.space_id, 'AUDIENCE' AS kind FROM ({}) a",
            audience_sql("$1")
        );
        let rows = self.sql().all(CX, &sql, vec![v(post.0)]).await?;
        let mut placement = Placement::default();
        for row in &rows {
            let space = SpaceId(get(row, CX, "space_id")?);
            match get::<String>(row, CX, "kind")?.as_str() {
                "AUDIENCE" => placement.audience.push(space),
                kind => placement.spaces.push((space, kind == "DIRECT")),
            }
        }
        placement.audience.sort();
        Ok(placement)
    }

    async fn audiences(&self, posts: &[PostId]) -> DomainResult<HashMap<PostId, Vec<SpaceId>>> {
        const CX: &str = "reading audiences";
        if posts.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT DISTINCT d.post_id, c.ancestor_id AS space_id FROM space_posts d \
             JOIN space_closure c ON c.descendant_id = d.space_id JOIN spaces x ON x.id = c.ancestor_id \
             WHERE d.post_id IN ({}) AND d.relationship = 'DIRECT' AND d.state <> 'DELETED' AND x.privacy = 'PRIVATE'",
            placeholders(1, posts.len())
        );
        let rows = self.sql().all(CX, &sql, uuid_values(posts)).await?;
        let mut out: HashMap<PostId, Vec<SpaceId>> = HashMap::new();
        for row in &rows {
            out.entry(PostId(get(row, CX, "post_id")?)).or_default().push(SpaceId(get(row, CX, "space_id")?));
        }
        for audience in out.values_mut() {
            audience.sort();
        }
        Ok(out)
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

    async fn edit_post(&self, edit: &PostEdit, at: DateTime<Utc>) -> DomainResult<()> {
        self.change_post(edit, at).await
    }

    async fn like(&self, post: PostId, user: UserId, space: Option<SpaceId>, at: DateTime<Utc>) -> DomainResult<bool> {
        self.like_post(post, user, space, at).await
    }

    async fn unlike(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        self.unlike_post(post, user).await
    }

    async fn unrate(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        self.unrate_post(post, user).await
    }

    async fn contributions(&self, user: UserId) -> DomainResult<(Vec<PostId>, Vec<PostId>, Vec<PostId>)> {
        const CX: &str = "reading a user's contributions";
        let sql = self.sql();
        let ids = |rows: Vec<sea_orm::QueryResult>| -> DomainResult<Vec<PostId>> {
            rows.iter().map(|r| get::<Uuid>(r, CX, "id").map(PostId)).collect()
        };
        let user = || vec![v(user.0)];
        let liked = ids(sql
            .all(
                CX,
                "SELECT l.post_id AS id FROM post_likes l JOIN posts p ON p.id = l.post_id \
                 WHERE l.user_id = $1 AND p.state = 'ACTIVE' ORDER BY l.post_id",
                user(),
            )
            .await?)?;
        let rated = ids(sql
            .all(
                CX,
                "SELECT r.post_id AS id FROM post_ratings r JOIN posts p ON p.id = r.post_id \
                 WHERE r.user_id = $1 AND p.state = 'ACTIVE' ORDER BY r.post_id",
                user(),
            )
            .await?)?;
        let own = ids(sql
            .all(CX, "SELECT id FROM posts WHERE creator_id = $1 AND state = 'ACTIVE' ORDER BY id", user())
            .await?)?;
        Ok((liked, rated, own))
    }

    async fn comments_of(&self, user: UserId) -> DomainResult<Vec<Comment>> {
        self.comments_by(user).await
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

    async fn delete_comment(&self, comment: &Comment) -> DomainResult<bool> {
        self.remove_comment(comment).await
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

    async fn links_of(&self, viewer: Option<UserId>, post: PostId, limit: i64) -> DomainResult<Vec<PostLink>> {
        self.links_touching(viewer, post, limit).await
    }

    async fn link_map(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        depth: u8,
        limit: i64,
    ) -> DomainResult<Vec<PostLink>> {
        self.map_links(viewer, post, depth, limit).await
    }

    async fn visible_link(&self, viewer: Option<UserId>, link: LinkId) -> DomainResult<Option<PostLink>> {
        self.link_seen_by(viewer, link).await
    }

    async fn like_link(&self, link: LinkId, user: UserId, at: DateTime<Utc>) -> DomainResult<bool> {
        self.add_link_like(link, user, at).await
    }

    async fn unlike_link(&self, link: LinkId, user: UserId) -> DomainResult<bool> {
        self.remove_link_like(link, user).await
    }

    async fn liked_links(&self, user: UserId, links: &[LinkId]) -> DomainResult<Vec<LinkId>> {
        self.links_liked_by(user, links).await
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
