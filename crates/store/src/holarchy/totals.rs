//! Spaces' totals without a busy row: every write that changes a total (a post, a like, a comment, a follow, a
//! tree edit) inserts a change row into `space_deltas` instead of updating the space, and the fold here adds
//! them into the spaces a moment later. Reads add the rows not folded yet ([`crate::fragments::space_total`]),
//! so totals are exact at every moment; the fold changes none of them.
//!
//! The fold takes a batch of the oldest change rows (on PostgreSQL skipping rows another fold holds), deletes
//! them, and adds their sums to their spaces, locking those spaces in id order first like every other writer of
//! spaces — and the same transaction does both, so a change is never counted twice nor lost.

use crate::Db;
use crate::fragments::SPACE_TOTALS;
use crate::sql::{get, placeholders, uuid_values, v};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value};
use std::collections::BTreeMap;
use uuid::Uuid;
use weco_domain::DomainResult;

/// The sums of a space's change rows: one figure per [`SPACE_TOTALS`] and the latest activity.
#[derive(Default)]
struct Sums {
    totals: [i64; SPACE_TOTALS.len()],
    active_at: Option<DateTime<Utc>>,
}

/// Spaces updated per statement.
const SPACES_PER_STATEMENT: usize = 100;

impl<C: ConnectionTrait> Db<C> {
    pub(super) async fn fold_totals(&self, limit: u32) -> DomainResult<u64> {
        const CX: &str = "folding space totals";
        let skip = if self.backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = self.sql();
        let rows = sql
            .all(
                CX,
                &format!(
                    "DELETE FROM space_deltas WHERE id IN \
                       (SELECT id FROM space_deltas ORDER BY id LIMIT {limit}{skip}) \
                     RETURNING space_id, {}, last_activity_at",
                    SPACE_TOTALS.join(", ")
                ),
                vec![],
            )
            .await?;
        let mut sums: BTreeMap<Uuid, Sums> = BTreeMap::new();
        for row in &rows {
            let entry = sums.entry(get(row, CX, "space_id")?).or_default();
            for (sum, column) in entry.totals.iter_mut().zip(SPACE_TOTALS) {
                *sum += get::<i64>(row, CX, column)?;
            }
            let at: Option<DateTime<Utc>> = get(row, CX, "last_activity_at")?;
            entry.active_at = entry.active_at.max(at);
        }
        let spaces: Vec<(Uuid, Sums)> = sums.into_iter().collect();
        for chunk in spaces.chunks(SPACES_PER_STATEMENT) {
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
            let in_ids = placeholders(1, ids.len());
            if self.backend == DbBackend::Postgres {
                sql.all(
                    "locking spaces",
                    &format!("SELECT id FROM spaces WHERE id IN ({in_ids}) ORDER BY id FOR NO KEY UPDATE"),
                    uuid_values(&ids),
                )
                .await?;
            }
            let mut values: Vec<Value> = uuid_values(&ids);
            let mut set = Vec::new();
            for (i, column) in SPACE_TOTALS.iter().enumerate() {
                let mut cases = String::new();
                for (n, (_, s)) in chunk.iter().enumerate() {
                    if s.totals[i] != 0 {
                        values.push(v(s.totals[i]));
                        cases.push_str(&format!(" WHEN ${} THEN ${}", n + 1, values.len()));
                    }
                }
                if !cases.is_empty() {
                    set.push(format!("{column} = {column} + CASE id{cases} ELSE 0 END"));
                }
            }
            let mut latest = String::new();
            for (n, (_, s)) in chunk.iter().enumerate() {
                if let Some(at) = s.active_at {
                    values.push(v(at));
                    latest.push_str(&format!(
                        " WHEN id = ${} AND last_activity_at < ${m} THEN ${m}",
                        n + 1,
                        m = values.len()
                    ));
                }
            }
            if !latest.is_empty() {
                set.push(format!("last_activity_at = CASE{latest} ELSE last_activity_at END"));
            }
            if set.is_empty() {
                continue;
            }
            sql.exec(CX, &format!("UPDATE spaces SET {} WHERE id IN ({in_ids})", set.join(", ")), values).await?;
        }
        Ok(rows.len() as u64)
    }

    /// `VACUUM (SKIP_LOCKED) space_deltas` on PostgreSQL, by the simple protocol (a vacuum runs in no
    /// transaction); nothing on SQLite, whose deletes leave nothing behind in the table's index.
    pub(super) async fn reclaim_totals(&self) -> DomainResult<()> {
        if self.backend == DbBackend::Postgres {
            self.conn
                .execute_unprepared("VACUUM (SKIP_LOCKED) space_deltas")
                .await
                .map_err(|e| crate::error::db_err("reclaiming folded totals", e))?;
        }
        Ok(())
    }

    pub(super) async fn unfolded_totals(&self) -> DomainResult<i64> {
        self.sql().scalar("counting unfolded totals", "SELECT COUNT(*) AS v FROM space_deltas", vec![]).await
    }
}
