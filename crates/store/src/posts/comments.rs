//! Comments: the tree under a post, its counters, and the reads of it for a viewer who may see the post.

use super::counters::SpaceTotals;
use crate::Db;
use crate::fragments::{viewer_value, visible_post};
use crate::sql::{Key, Listing, get, v, viewer_then_ids};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use weco_domain::{Comment, CommentId, DomainResult, Page, PageRequest, PostId, UserId};

const COMMENT_COLS: &str = "c.id, c.post_id, c.parent_id, c.creator_id, c.text, c.created_at, c.total_replies, c.state";

fn comment_from_row(row: &QueryResult) -> DomainResult<Comment> {
    const CX: &str = "decoding comment";
    Ok(Comment {
        id: CommentId(get::<Uuid>(row, CX, "id")?),
        post_id: PostId(get::<Uuid>(row, CX, "post_id")?),
        parent_id: get::<Option<Uuid>>(row, CX, "parent_id")?.map(CommentId),
        creator_id: UserId(get::<Uuid>(row, CX, "creator_id")?),
        text: get(row, CX, "text")?,
        created_at: get(row, CX, "created_at")?,
        total_replies: get(row, CX, "total_replies")?,
        deleted: get::<String>(row, CX, "state")? == "DELETED",
    })
}

/// The comment `c`'s post may be seen by the viewer bound as `$n`.
fn on_visible_post(n: usize) -> String {
    format!("EXISTS (SELECT 1 FROM posts p WHERE p.id = c.post_id AND {})", visible_post(n))
}

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn add_comment(&self, c: &Comment) -> DomainResult<()> {
        self.lock_post_spaces(c.post_id).await?;
        let sql = self.sql();
        sql.exec(
            "inserting comment",
            "INSERT INTO comments (id, post_id, parent_id, creator_id, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![v(c.id.0), v(c.post_id.0), v(c.parent_id.map(|p| p.0)), v(c.creator_id.0), v(c.text.clone()), v(c.created_at)],
        )
        .await?;
        if let Some(parent) = c.parent_id {
            sql.exec(
                "counting reply",
                "UPDATE comments SET total_replies = total_replies + 1 WHERE id = $1",
                vec![v(parent.0)],
            )
            .await?;
        }
        let spaces = SpaceTotals { likes: 0, comments: 1, active_at: Some(c.created_at) };
        self.change_counters(
            c.post_id,
            "total_comments = total_comments + 1, last_activity_at = $2",
            vec![v(c.created_at)],
            None,
            Some(spaces),
        )
        .await
    }

    /// Marks a comment deleted and forgets its text; its replies stay. Uncounts it from its post, its parent's
    /// replies and the spaces the post is active in; `false` when it was deleted already.
    pub(super) async fn remove_comment(&self, c: &Comment) -> DomainResult<bool> {
        self.lock_post_spaces(c.post_id).await?;
        let sql = self.sql();
        let changed = sql
            .exec(
                "deleting comment",
                "UPDATE comments SET state = 'DELETED', text = '' WHERE id = $1 AND state = 'ACTIVE'",
                vec![v(c.id.0)],
            )
            .await?;
        if changed == 0 {
            return Ok(false);
        }
        if let Some(parent) = c.parent_id {
            sql.exec(
                "uncounting reply",
                "UPDATE comments SET total_replies = total_replies - 1 WHERE id = $1",
                vec![v(parent.0)],
            )
            .await?;
        }
        let spaces = SpaceTotals { likes: 0, comments: -1, active_at: None };
        self.change_counters(c.post_id, "total_comments = total_comments - 1", Vec::new(), None, Some(spaces)).await?;
        Ok(true)
    }

    pub(super) async fn comments_by(&self, user: UserId) -> DomainResult<Vec<Comment>> {
        let sql = format!("SELECT {COMMENT_COLS} FROM comments c WHERE c.creator_id = $1 AND c.state = 'ACTIVE'");
        self.sql().all("loading a user's comments", &sql, vec![v(user.0)]).await?.iter().map(comment_from_row).collect()
    }

    pub(super) async fn comment(&self, id: CommentId) -> DomainResult<Option<Comment>> {
        let sql = format!("SELECT {COMMENT_COLS} FROM comments c WHERE c.id = $1");
        self.sql().one("loading comment", &sql, vec![v(id.0)]).await?.as_ref().map(comment_from_row).transpose()
    }

    pub(super) async fn comments_seen_by(
        &self,
        viewer: Option<UserId>,
        ids: &[CommentId],
    ) -> DomainResult<Vec<Comment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, ids);
        let sql = format!("SELECT {COMMENT_COLS} FROM comments c WHERE c.id IN ({in_ids}) AND {}", on_visible_post(1));
        self.sql().all("loading comments", &sql, values).await?.iter().map(comment_from_row).collect()
    }

    pub(super) async fn comment_page(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        parent: Option<CommentId>,
        page: &PageRequest,
    ) -> DomainResult<Page<Comment>> {
        let (under, id) = match parent {
            None => ("c.post_id = $2 AND c.parent_id IS NULL", v(post.0)),
            Some(parent) => ("c.parent_id = $2", v(parent.0)),
        };
        let listing = Listing {
            context: "listing comments",
            select: COMMENT_COLS,
            // Deleted comments stay in the tree (as deleted), so their replies can be reached.
            base: format!("FROM comments c WHERE {under} AND {}", on_visible_post(1)),
            values: vec![viewer_value(viewer), id],
            key: Key::Time("c.created_at"),
            id: "c.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, comment_from_row).await
    }
}
