//! Keeping `space_posts` true: "post P appears in space S" for every space above P's direct spaces that it
//! flows into (DESIGN.md §4, appendix A), with the spaces' counters in step.
//!
//! Both operations take a filter on the *direct* rows they start from (`d.…`), so the same statements serve
//! post creation (`d.post_id = $1`) and tree edits (`d.space_id IN subtree`). Each is a fixed number of
//! set-based statements whatever the number of rows.

use crate::Db;
use crate::sql::v;
use sea_orm::{ConnectionTrait, Value};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::values::hot_score;
use weco_domain::{DomainResult, SpaceId};

/// Appearances justified by a direct placement but not yet recorded: (space, post) pairs.
fn missing_sql(filter: &str) -> String {
    format!(
        "SELECT DISTINCT c.ancestor_id AS space_id, d.post_id AS post_id \
         FROM space_posts d JOIN space_closure c ON c.descendant_id = d.space_id AND c.flows = TRUE AND c.depth > 0 \
         JOIN posts p ON p.id = d.post_id AND p.state = 'ACTIVE' \
         WHERE d.relationship = 'DIRECT' AND d.state <> 'DELETED' AND ({filter}) \
           AND NOT EXISTS (SELECT 1 FROM space_posts e WHERE e.space_id = c.ancestor_id AND e.post_id = d.post_id)"
    )
}

/// The condition on `{t}` (a `space_posts` row) for an indirect appearance that no direct placement
/// justifies any more, among posts placed directly where `filter` holds.
fn stale_sql(t: &str, filter: &str) -> String {
    format!(
        "{t}.relationship = 'INDIRECT' \
         AND {t}.post_id IN (SELECT d.post_id FROM space_posts d WHERE d.relationship = 'DIRECT' AND ({filter})) \
         AND NOT EXISTS (SELECT 1 FROM space_posts j JOIN space_closure c \
                           ON c.descendant_id = j.space_id AND c.ancestor_id = {t}.space_id AND c.flows = TRUE \
                         WHERE j.post_id = {t}.post_id AND j.relationship = 'DIRECT' AND j.state <> 'DELETED')"
    )
}

impl<C: ConnectionTrait> Db<C> {
    /// Records every missing indirect appearance of the posts placed directly where `filter` holds.
    pub(crate) async fn add_appearances(&self, filter: &str, values: Vec<Value>) -> DomainResult<()> {
        let sql = self.sql();
        let missing = missing_sql(filter);
        sql.lock_spaces(&format!("SELECT m.space_id FROM ({missing}) m"), values.clone()).await?;
        sql.exec(
            "counting new appearances",
            &format!(
                "UPDATE spaces SET total_posts = total_posts + n.cnt, total_post_likes = total_post_likes + n.likes, \
                   total_comments = total_comments + n.comments \
                 FROM (SELECT m.space_id, COUNT(*) AS cnt, SUM(p.total_likes) AS likes, SUM(p.total_comments) AS comments \
                       FROM ({missing}) m JOIN posts p ON p.id = m.post_id GROUP BY m.space_id) n \
                 WHERE spaces.id = n.space_id"
            ),
            values.clone(),
        )
        .await?;
        let base = format!("({} - 1700000000) / 45000.0", sql.epoch("p.created_at"));
        sql.exec(
            "recording appearances",
            &format!(
                "INSERT INTO space_posts (space_id, post_id, relationship, kind, state, creator_id, created_at, \
                   last_activity_at, total_likes, total_comments, total_reposts, total_ratings, total_links, local_likes, \
                   hot, local_hot) \
                 SELECT m.space_id, p.id, 'INDIRECT', 'POST', 'ACTIVE', p.creator_id, p.created_at, p.last_activity_at, \
                   p.total_likes, p.total_comments, p.total_reposts, p.total_ratings, p.total_links, 0, \
                   (SELECT MAX(h.hot) FROM space_posts h WHERE h.post_id = p.id), {base} \
                 FROM ({missing}) m JOIN posts p ON p.id = m.post_id WHERE TRUE \
                 ON CONFLICT (space_id, post_id) DO NOTHING"
            ),
            values,
        )
        .await?;
        Ok(())
    }

    /// Removes indirect appearances that no direct placement justifies any more.
    pub(crate) async fn prune_appearances(&self, filter: &str, values: Vec<Value>) -> DomainResult<()> {
        let sql = self.sql();
        let stale = stale_sql("s", filter);
        sql.lock_spaces(&format!("SELECT s.space_id FROM space_posts s WHERE {stale}"), values.clone()).await?;
        sql.exec(
            "counting removed appearances",
            &format!(
                "UPDATE spaces SET total_posts = total_posts - n.cnt, total_post_likes = total_post_likes - n.likes, \
                   total_comments = total_comments - n.comments \
                 FROM (SELECT s.space_id, COUNT(*) AS cnt, SUM(s.total_likes) AS likes, SUM(s.total_comments) AS comments \
                       FROM space_posts s WHERE s.state = 'ACTIVE' AND {stale} GROUP BY s.space_id) n \
                 WHERE spaces.id = n.space_id"
            ),
            values.clone(),
        )
        .await?;
        sql.exec(
            "removing appearances",
            &format!("DELETE FROM space_posts WHERE {}", stale_sql("space_posts", filter)),
            values,
        )
        .await?;
        Ok(())
    }

    /// After a tree edit under `parent` that moved the subtree of `child`: brings appearances, and the local
    /// like tallies of the spaces above `parent`, back in line with the new holarchy.
    pub(crate) async fn realign_after_edit(&self, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
        let subtree = "d.space_id IN (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $1)";
        self.prune_appearances(subtree, vec![v(child.0)]).await?;
        self.add_appearances(subtree, vec![v(child.0)]).await?;
        let rows = "space_id IN (SELECT a.ancestor_id FROM space_closure a WHERE a.descendant_id = $1) \
                    AND post_id IN (SELECT l.post_id FROM post_likes l WHERE l.space_id IN \
                      (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $2))";
        self.sql()
            .exec(
                "recounting local likes",
                &format!(
                    "UPDATE space_posts SET local_likes = (SELECT COUNT(*) FROM post_likes l \
                       JOIN space_closure c ON c.descendant_id = l.space_id AND c.ancestor_id = space_posts.space_id \
                       WHERE l.post_id = space_posts.post_id) WHERE {rows}"
                ),
                vec![v(parent.0), v(child.0)],
            )
            .await?;
        self.refresh_local_hot(rows, vec![v(parent.0), v(child.0)]).await
    }

    /// Recomputes `local_hot` from `local_likes` for the `space_posts` rows where `condition` holds.
    pub(crate) async fn refresh_local_hot(&self, condition: &str, values: Vec<Value>) -> DomainResult<()> {
        let sql = self.sql();
        let rows = sql
            .all(
                "reading local tallies",
                &format!("SELECT space_id, post_id, local_likes, created_at FROM space_posts WHERE {condition}"),
                values,
            )
            .await?;
        let mut scores: HashMap<(Uuid, Uuid), f64> = HashMap::new();
        for row in &rows {
            let cx = "reading local tallies";
            let key = (crate::sql::get::<Uuid>(row, cx, "space_id")?, crate::sql::get::<Uuid>(row, cx, "post_id")?);
            let likes: i64 = crate::sql::get(row, cx, "local_likes")?;
            scores.insert(key, hot_score(likes, crate::sql::get(row, cx, "created_at")?));
        }
        self.set_local_hot(&scores).await
    }

    /// Writes `local_hot` for the given rows, a few hundred rows per statement.
    pub(crate) async fn set_local_hot(&self, scores: &HashMap<(Uuid, Uuid), f64>) -> DomainResult<()> {
        let entries: Vec<_> = scores.iter().collect();
        for chunk in entries.chunks(200) {
            let mut values = Vec::with_capacity(chunk.len() * 3);
            let mut cases = String::new();
            let mut keys = Vec::with_capacity(chunk.len());
            for ((space, post), score) in chunk {
                let n = values.len();
                cases.push_str(&format!(" WHEN space_id = ${} AND post_id = ${} THEN ${}", n + 1, n + 2, n + 3));
                keys.push(format!("(space_id = ${} AND post_id = ${})", n + 1, n + 2));
                values.extend([v(*space), v(*post), v(**score)]);
            }
            let sql = format!(
                "UPDATE space_posts SET local_hot = CASE{cases} ELSE local_hot END WHERE {}",
                keys.join(" OR ")
            );
            self.sql().exec("writing local scores", &sql, values).await?;
        }
        Ok(())
    }
}
