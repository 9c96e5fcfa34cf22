//! The closure table, kept true in the same transaction as every edge change (docs/holarchy.md).
//!
//! Every step is one set-based statement whatever the size of the subtree: an attach writes
//! (ancestors of the parent) × (descendants of the child) rows in one INSERT … SELECT; a detach deletes the
//! rows entering the subtree from outside and rebuilds them from the edges that still enter it.

use crate::Db;
use crate::sql::v;
use sea_orm::ConnectionTrait;
use weco_domain::DetachOutcome;
use weco_domain::{DomainResult, ROOT_SPACE_ID, SpaceId, now};

/// True when the closure row `{row}` (A, D) must not flow: a private space lies at or above D but not at or above
/// A (docs/privacy.md rule 2). `flows` is its negation. (Also what [`crate::invariants`] checks `flows` by.)
pub(crate) fn flow_blocked(row: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM space_closure x JOIN spaces p ON p.id = x.ancestor_id \
           WHERE p.privacy = 'PRIVATE' AND x.descendant_id = {row}.descendant_id \
             AND NOT EXISTS (SELECT 1 FROM space_closure y \
                             WHERE y.ancestor_id = x.ancestor_id AND y.descendant_id = {row}.ancestor_id))"
    )
}

/// The subtree of the child bound as `$n`: every space at or below it.
fn subtree(n: usize) -> String {
    format!("(SELECT sub.descendant_id FROM space_closure sub WHERE sub.ancestor_id = ${n})")
}

impl<C: ConnectionTrait> Db<C> {
    /// Adds the edge `parent → child` and the closure rows it implies, keeping shortest depths.
    pub(crate) async fn attach_edge(&self, parent: SpaceId, child: SpaceId) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "inserting edge",
            "INSERT INTO space_parents (parent_id, child_id, created_at) VALUES ($1, $2, $3)",
            vec![v(parent.0), v(child.0), v(now())],
        )
        .await?;
        let least = sql.least();
        sql.exec(
            "extending closure",
            &format!(
                "INSERT INTO space_closure (ancestor_id, descendant_id, depth, flows) \
                 SELECT a.ancestor_id, d.descendant_id, a.depth + 1 + d.depth, TRUE \
                 FROM space_closure a, space_closure d WHERE a.descendant_id = $1 AND d.ancestor_id = $2 \
                 ON CONFLICT (ancestor_id, descendant_id) DO UPDATE SET depth = {least}(space_closure.depth, excluded.depth)"
            ),
            vec![v(parent.0), v(child.0)],
        )
        .await?;
        self.recompute_flows(child).await
    }

    /// Removes the edge `parent → child`; a child left without parents goes back under the root. Then the
    /// closure rows entering the subtree are rebuilt from the edges that still enter it.
    pub(crate) async fn detach_edge(&self, parent: SpaceId, child: SpaceId) -> DomainResult<DetachOutcome> {
        let sql = self.sql();
        sql.exec(
            "deleting edge",
            "DELETE FROM space_parents WHERE parent_id = $1 AND child_id = $2",
            vec![v(parent.0), v(child.0)],
        )
        .await?;
        let remaining: i64 = sql
            .scalar("counting parents", "SELECT COUNT(*) AS v FROM space_parents WHERE child_id = $1", vec![v(child.0)])
            .await?;
        let returned_to_root = remaining == 0;
        if returned_to_root {
            sql.exec(
                "returning space to the root",
                "INSERT INTO space_parents (parent_id, child_id, created_at) VALUES ($1, $2, $3)",
                vec![v(ROOT_SPACE_ID.0), v(child.0), v(now())],
            )
            .await?;
        }
        let before = self.private_ancestry_entering(child).await?;
        sql.exec(
            "cutting closure",
            &format!("DELETE FROM space_closure WHERE descendant_id IN {s} AND ancestor_id NOT IN {s}", s = subtree(1)),
            vec![v(child.0)],
        )
        .await?;
        sql.exec(
            "rebuilding closure",
            &format!(
                "INSERT INTO space_closure (ancestor_id, descendant_id, depth, flows) \
                 SELECT a.ancestor_id, d.descendant_id, MIN(a.depth + 1 + d.depth), TRUE \
                 FROM space_parents e \
                 JOIN space_closure a ON a.descendant_id = e.parent_id \
                 JOIN space_closure d ON d.ancestor_id = e.child_id \
                 WHERE e.child_id IN {s} AND e.parent_id NOT IN {s} \
                 GROUP BY a.ancestor_id, d.descendant_id",
                s = subtree(1)
            ),
            vec![v(child.0)],
        )
        .await?;
        let after = self.private_ancestry_entering(child).await?;
        self.recompute_flows(child).await?;
        Ok(DetachOutcome { returned_to_root, private_ancestry_lost: before.saturating_sub(after) as u64 })
    }

    /// Recounts `private_above` for the subtree of `child`, writing only the spaces whose count changes.
    async fn recount_private_above(&self, child: SpaceId) -> DomainResult<()> {
        self.sql()
            .exec(
                "counting private ancestors",
                &format!(
                    "UPDATE spaces SET private_above = n.cnt \
                     FROM (SELECT c.descendant_id AS id, COUNT(p.id) AS cnt FROM space_closure c \
                           LEFT JOIN spaces p ON p.id = c.ancestor_id AND p.privacy = 'PRIVATE' \
                           WHERE c.descendant_id IN {s} GROUP BY c.descendant_id) n \
                     WHERE spaces.id = n.id AND spaces.private_above <> n.cnt",
                    s = subtree(1)
                ),
                vec![v(child.0)],
            )
            .await
            .map(drop)
    }

    /// How many (private ancestor outside the subtree, space inside it) pairs hold now. A detach can only
    /// remove pairs, so a drop in this number is exactly the audience it widened.
    async fn private_ancestry_entering(&self, child: SpaceId) -> DomainResult<i64> {
        self.sql()
            .scalar(
                "counting private ancestry",
                &format!(
                    "SELECT COUNT(*) AS v FROM space_closure c JOIN spaces p ON p.id = c.ancestor_id \
                     WHERE p.privacy = 'PRIVATE' AND c.descendant_id IN {s} AND c.ancestor_id NOT IN {s}",
                    s = subtree(1)
                ),
                vec![v(child.0)],
            )
            .await
    }

    /// Recomputes what privacy derives from the tree for every space in the subtree of `child`: `flows` of the
    /// closure rows ending there — a row (A, D) flows unless a private space lies at or above D but not at or
    /// above A (docs/privacy.md rule 2) — and each space's `private_above`, the number of private spaces at or
    /// above it, which lets the access predicate answer at once for spaces without any (docs/privacy.md rule 1).
    pub(crate) async fn recompute_flows(&self, child: SpaceId) -> DomainResult<()> {
        self.recount_private_above(child).await?;
        self.sql()
            .exec(
                "recomputing flows",
                &format!(
                    // Only rows whose value changes are written: rewriting unchanged rows costs time and
                    // leaves dead tuples behind on PostgreSQL.
                    "UPDATE space_closure SET flows = NOT flows WHERE descendant_id IN {s} AND flows = {}",
                    flow_blocked("space_closure"),
                    s = subtree(1)
                ),
                vec![v(child.0)],
            )
            .await
            .map(drop)
    }
}
