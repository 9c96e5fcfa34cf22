//! Keeping `space_posts` true: "post P appears in space S" for every space above P's direct spaces that it
//! flows into (docs/holarchy.md#aggregation), with the spaces' counters in step.
//!
//! Both operations take a filter on the *direct* rows they start from (`d.…`), so the same statements serve
//! post creation (`d.post_id = $1`) and tree edits (`d.space_id IN subtree`). Each is a fixed number of
//! set-based statements whatever the number of rows. A tree edit also asks which appearances changed (the
//! newest [`Appearances::LIMIT`] each way), to announce them to live feeds.

use crate::Db;
use crate::fragments::{INDIRECT, POST, insert_space_deltas, insert_space_posts, local_hot};
use crate::sql::{get, v};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::{Appearance, Appearances, DomainResult, PostId, SpaceId};

/// Whether an edit reports the appearances it changes (tree edits do; placing a post knows its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    Changes,
    Nothing,
}

fn appearance(row: &QueryResult, context: &str) -> DomainResult<Appearance> {
    Ok(Appearance {
        space: SpaceId(get::<Uuid>(row, context, "space_id")?),
        post: PostId(get::<Uuid>(row, context, "post_id")?),
        direct: false,
    })
}

/// Appearances justified by a direct placement but not yet recorded: (space, post) pairs. (Also what
/// [`crate::invariants`] reports as missing.)
pub(crate) fn missing_sql(filter: &str) -> String {
    format!(
        "SELECT DISTINCT c.ancestor_id AS space_id, d.post_id AS post_id \
         FROM space_posts d JOIN space_closure c ON c.descendant_id = d.space_id AND c.flows = TRUE AND c.depth > 0 \
         JOIN posts p ON p.id = d.post_id AND p.state = 'ACTIVE' \
         WHERE d.relationship = 'DIRECT' AND d.state <> 'DELETED' AND ({filter}) \
           AND NOT EXISTS (SELECT 1 FROM space_posts e WHERE e.space_id = c.ancestor_id AND e.post_id = d.post_id)"
    )
}

/// The condition on `{t}` (a `space_posts` row) for an indirect appearance that no direct placement
/// justifies any more, among posts placed directly where `filter` holds. (Also what [`crate::invariants`]
/// reports as stale.)
pub(crate) fn stale_sql(t: &str, filter: &str) -> String {
    format!(
        "{t}.relationship = 'INDIRECT' \
         AND {t}.post_id IN (SELECT d.post_id FROM space_posts d WHERE d.relationship = 'DIRECT' AND ({filter})) \
         AND NOT EXISTS (SELECT 1 FROM space_posts j JOIN space_closure c \
                           ON c.descendant_id = j.space_id AND c.ancestor_id = {t}.space_id AND c.flows = TRUE \
                         WHERE j.post_id = {t}.post_id AND j.relationship = 'DIRECT' AND j.state <> 'DELETED')"
    )
}

impl<C: ConnectionTrait> Db<C> {
    /// Records every missing indirect appearance of the posts placed directly where `filter` holds; returns
    /// the newest of them when asked to.
    pub(crate) async fn add_appearances(
        &self,
        filter: &str,
        values: Vec<Value>,
        report: Report,
    ) -> DomainResult<Vec<Appearance>> {
        let sql = self.sql();
        let missing = missing_sql(filter);
        let added = match report {
            Report::Nothing => Vec::new(),
            Report::Changes => {
                const CX: &str = "listing new appearances";
                let rows = sql
                    .all(
                        CX,
                        &format!(
                            "SELECT m.space_id, m.post_id FROM ({missing}) m JOIN posts p ON p.id = m.post_id \
                             ORDER BY p.created_at DESC, p.id DESC LIMIT {}",
                            Appearances::LIMIT
                        ),
                        values.clone(),
                    )
                    .await?;
                rows.iter().map(|r| appearance(r, CX)).collect::<DomainResult<_>>()?
            }
        };
        sql.share_spaces(&format!("SELECT m.space_id FROM ({missing}) m"), values.clone()).await?;
        sql.exec(
            "counting new appearances",
            &insert_space_deltas(
                "m.space_id, COUNT(*), SUM(p.total_likes), SUM(p.total_comments), 0, NULL",
                &format!("FROM ({missing}) m JOIN posts p ON p.id = m.post_id GROUP BY m.space_id"),
            ),
            values.clone(),
        )
        .await?;
        sql.exec(
            "recording appearances",
            &format!(
                "{} ON CONFLICT (space_id, post_id) DO NOTHING",
                insert_space_posts(
                    self.backend,
                    "m.space_id",
                    INDIRECT,
                    POST,
                    "(SELECT MAX(h.hot) FROM space_posts h WHERE h.post_id = p.id)",
                    &format!("FROM ({missing}) m JOIN posts p ON p.id = m.post_id WHERE TRUE"),
                )
            ),
            values,
        )
        .await?;
        Ok(added)
    }

    /// Removes indirect appearances that no direct placement justifies any more; returns the newest of those
    /// that showed in a feed.
    pub(crate) async fn prune_appearances(&self, filter: &str, values: Vec<Value>) -> DomainResult<Vec<Appearance>> {
        let sql = self.sql();
        let stale = stale_sql("s", filter);
        const CX: &str = "listing stale appearances";
        let rows = sql
            .all(
                CX,
                &format!(
                    "SELECT s.space_id, s.post_id FROM space_posts s JOIN posts p ON p.id = s.post_id \
                     WHERE s.state = 'ACTIVE' AND {stale} ORDER BY p.created_at DESC, p.id DESC LIMIT {}",
                    Appearances::LIMIT
                ),
                values.clone(),
            )
            .await?;
        let removed = rows.iter().map(|r| appearance(r, CX)).collect::<DomainResult<Vec<_>>>()?;
        sql.share_spaces(&format!("SELECT s.space_id FROM space_posts s WHERE {stale}"), values.clone()).await?;
        sql.exec(
            "counting removed appearances",
            &insert_space_deltas(
                "s.space_id, -COUNT(*), -SUM(s.total_likes), -SUM(s.total_comments), 0, NULL",
                &format!("FROM space_posts s WHERE s.state = 'ACTIVE' AND {stale} GROUP BY s.space_id"),
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
        Ok(removed)
    }

    /// After a tree edit under `parent` that moved the subtree of `child`: brings appearances, and the local
    /// like tallies of the spaces above `parent`, back in line with the new holarchy. Returns the appearances
    /// that changed.
    pub(crate) async fn realign_after_edit(&self, parent: SpaceId, child: SpaceId) -> DomainResult<Appearances> {
        let subtree = "d.space_id IN (SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = $1)";
        let removed = self.prune_appearances(subtree, vec![v(child.0)]).await?;
        let added = self.add_appearances(subtree, vec![v(child.0)], Report::Changes).await?;
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
        self.refresh_local_hot(rows, vec![v(parent.0), v(child.0)]).await?;
        Ok(Appearances { added, removed })
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
            scores.insert(key, local_hot(likes, crate::sql::get(row, cx, "created_at")?));
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
