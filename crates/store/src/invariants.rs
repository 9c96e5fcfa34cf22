//! Recounts: every value the store derives from other rows, recomputed from those rows and compared with what
//! is stored.
//!
//! The store keeps derived values in step statement by statement, in the transaction that changes what they
//! derive from (docs/holarchy.md): closure rows and their flows, the appearances of posts in the spaces above
//! their own, and every counter. A recount is the independent check that it did: after concurrent writers
//! (interleavings no single test plans), after a bulk load that derived the values by itself (`weco seed`),
//! after a migration. It reads one snapshot, so it may run while writers are busy.
//!
//! What is recounted, and from what:
//! - `space_closure`: a row for every space and each of its ancestors (itself included), `depth` the shortest
//!   path along `space_parents`, and no other row; `flows` by the flow rule (docs/privacy.md rule 2), with the
//!   predicate the store recomputes it with.
//! - `space_posts`, which rows exist: one in every space a direct placement flows into, and no indirect one
//!   that none justifies — by the statements the store adds and prunes them with. Rows of deleted posts and
//!   spaces are kept as they were, so they are left out.
//! - `posts`: likes, live (not deleted) comments, reposts (its `REPOST` rows), ratings and their sum, links (either end).
//! - `comments.total_replies`: direct replies.
//! - `post_links.total_likes`: likes of the link; `post_events`: GOING and INTERESTED answers.
//! - `spaces` (active ones): posts, their likes and their comments over the space's active rows; followers;
//!   `private_above`, the private spaces at or above it.
//! - `users`: followers and following, from `user_follows`.
//! - `space_posts` rows: their copies of the post's counters ([`COPIED_TOTALS`](crate::schema::COPIED_TOTALS)),
//!   `local_likes` (likes cast in the space or below it), `hot` and `local_hot` ([`post_hot`], [`local_hot`]).
//! - Polls (docs/polls.md): `polls.total_voters` (ballots in force), each answer's `total_votes` (ballots in
//!   force naming it; first preferences in a ranked poll) and `total_points`, and every `poll_pairs` count
//!   against the pairs the ballots in force rank (a ranked answer above each answer the ballot leaves out).
//!
//! Each disagreement is one [`Mismatch`]: a row, a column, the stored value and the recounted one. Every value
//! is compared with what it should be, recounted from the rows it derives from: a like left uncounted shows on
//! the post's `total_likes`, on each of its rows' copies and on each of their `hot` scores, all of which are
//! wrong, while a copy that missed an update shows alone.

use crate::error::db_err;
use crate::fragments::{REPOST, copied_totals, local_hot, post_hot, privacy, space_post_state};
use crate::holarchy::{flow_blocked, missing_sql, stale_sql};
use crate::sql::get;
use crate::{Db, SeaStore};
use chrono::{DateTime, Utc};
use sea_orm::{AccessMode, ConnectionTrait, DbBackend, IsolationLevel, TransactionOptions, TransactionTrait, Value};
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;
use weco_domain::values::Privacy;
use weco_domain::{DomainError, DomainResult, SpacePostState};

/// Whether a stored score agrees with its recount. Both come from `hot_score` (or the same formula in SQL, on
/// whole seconds), in floating point, so they agree to far better than a billionth; one like more or less moves
/// a score by far more than that.
fn scores_agree(stored: f64, recounted: f64) -> bool {
    (stored - recounted).abs() < 1e-9
}

/// `space_posts` rows read per statement while checking scores, so memory stays flat on a large database.
const SCORE_CHUNK: u64 = 10_000;

/// A stored or recounted value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    /// The row does not exist (it should, or it should not).
    Absent,
    Int(i64),
    Real(f64),
    Bool(bool),
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Absent => f.write_str("no row"),
            Figure::Int(n) => write!(f, "{n}"),
            Figure::Real(x) => write!(f, "{x}"),
            Figure::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One derived value that disagrees with its recount.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub table: &'static str,
    /// The row's key: `id`, or the two ids of a closure or `space_posts` row.
    pub key: Vec<(&'static str, Uuid)>,
    /// The column that disagrees; `appears` when a whole `space_posts` row is missing or should not be there.
    pub column: &'static str,
    pub stored: Figure,
    pub recounted: Figure,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key: Vec<String> = self.key.iter().map(|(name, id)| format!("{name} {id}")).collect();
        write!(
            f,
            "{} ({}) {}: stored {}, recounted {}",
            self.table,
            key.join(", "),
            self.column,
            self.stored,
            self.recounted
        )
    }
}

/// Recounts every derived value of the database behind `store` in one snapshot and returns each disagreement,
/// in a stable order (by check, then by key); none when the store kept everything true.
pub async fn verify(store: &SeaStore) -> DomainResult<Vec<Mismatch>> {
    let postgres = store.backend() == DbBackend::Postgres;
    // SQLite: a deferred transaction reads one snapshot from its first statement on (WAL).
    let options = TransactionOptions {
        isolation_level: postgres.then_some(IsolationLevel::RepeatableRead),
        access_mode: postgres.then_some(AccessMode::ReadOnly),
        sqlite_transaction_mode: None,
    };
    let tx = store.connection().begin_with_options(options).await.map_err(|e| db_err("beginning a recount", e))?;
    let db = Db { conn: tx, backend: store.backend(), metrics: store.metrics().clone(), replicas: None };
    let mut found = Vec::new();
    db.recount_closure(&mut found).await?;
    db.recount_flows(&mut found).await?;
    db.recount_appearances(&mut found).await?;
    db.recount_counters("posts", "TRUE", &post_counters(), &mut found).await?;
    db.recount_counters("comments", "TRUE", &comment_counters(), &mut found).await?;
    db.recount_counters("spaces", "t.state = 'ACTIVE'", &space_counters(), &mut found).await?;
    db.recount_counters("users", "TRUE", &user_counters(), &mut found).await?;
    db.recount_counters("post_links", "TRUE", &link_counters(), &mut found).await?;
    db.recount_counters_by("post_events", "post_id", "TRUE", &event_counters(), &mut found).await?;
    db.recount_row_copies(&mut found).await?;
    db.recount_scores(&mut found).await?;
    db.recount_counters_by("polls", "post_id", "TRUE", &poll_counters(), &mut found).await?;
    db.recount_counters("poll_answers", "TRUE", &poll_answer_counters(), &mut found).await?;
    db.recount_pairs(&mut found).await?;
    db.conn.commit().await.map_err(|e| db_err("ending a recount", e))?;
    Ok(found)
}

/// A counter column and a query that recounts it per row: `SELECT … AS id, … AS n … GROUP BY …`. Rows the query
/// does not list recount to zero.
struct Counter {
    column: &'static str,
    recount: String,
    /// Whether changes to it may wait in `space_deltas` (the stored value is the column plus them).
    deltas: bool,
}

fn counter(column: &'static str, recount: impl Into<String>) -> Counter {
    Counter { column, recount: recount.into(), deltas: false }
}

/// A space's total, which reads add its unfolded changes to.
fn space_counter(column: &'static str, recount: impl Into<String>) -> Counter {
    Counter { deltas: true, ..counter(column, recount) }
}

fn post_counters() -> Vec<Counter> {
    vec![
        counter("total_likes", "SELECT post_id AS id, COUNT(*) AS n FROM post_likes GROUP BY post_id"),
        counter(
            "total_comments",
            "SELECT post_id AS id, COUNT(*) AS n FROM comments WHERE state = 'ACTIVE' GROUP BY post_id",
        ),
        counter(
            "total_reposts",
            format!("SELECT post_id AS id, COUNT(*) AS n FROM space_posts WHERE kind = '{REPOST}' GROUP BY post_id"),
        ),
        counter("total_ratings", "SELECT post_id AS id, COUNT(*) AS n FROM post_ratings GROUP BY post_id"),
        counter(
            "rating_sum",
            "SELECT post_id AS id, CAST(SUM(value) AS BIGINT) AS n FROM post_ratings GROUP BY post_id",
        ),
        // A link counts on both its posts.
        counter(
            "total_links",
            "SELECT post_id AS id, COUNT(*) AS n FROM \
               (SELECT source_id AS post_id FROM post_links UNION ALL SELECT target_id FROM post_links) k \
             GROUP BY post_id",
        ),
    ]
}

fn comment_counters() -> Vec<Counter> {
    vec![counter(
        "total_replies",
        "SELECT parent_id AS id, COUNT(*) AS n FROM comments WHERE parent_id IS NOT NULL AND state = 'ACTIVE' \
         GROUP BY parent_id",
    )]
}

fn link_counters() -> Vec<Counter> {
    vec![counter("total_likes", "SELECT link_id AS id, COUNT(*) AS n FROM link_likes GROUP BY link_id")]
}

fn event_counters() -> Vec<Counter> {
    let answered = |r: &str| {
        format!("SELECT post_id AS id, COUNT(*) AS n FROM event_responses WHERE response = '{r}' GROUP BY post_id")
    };
    vec![counter("total_going", answered("GOING")), counter("total_interested", answered("INTERESTED"))]
}

fn user_counters() -> Vec<Counter> {
    vec![
        counter("total_followers", "SELECT followed_id AS id, COUNT(*) AS n FROM user_follows GROUP BY followed_id"),
        counter("total_following", "SELECT follower_id AS id, COUNT(*) AS n FROM user_follows GROUP BY follower_id"),
    ]
}

fn space_counters() -> Vec<Counter> {
    let active = space_post_state(SpacePostState::Active);
    vec![
        space_counter(
            "total_posts",
            format!("SELECT space_id AS id, COUNT(*) AS n FROM space_posts WHERE state = '{active}' GROUP BY space_id"),
        ),
        space_counter(
            "total_post_likes",
            format!(
                "SELECT s.space_id AS id, COUNT(*) AS n FROM space_posts s JOIN post_likes l ON l.post_id = s.post_id \
                 WHERE s.state = '{active}' GROUP BY s.space_id"
            ),
        ),
        space_counter(
            "total_comments",
            format!(
                "SELECT s.space_id AS id, COUNT(*) AS n FROM space_posts s JOIN comments c ON c.post_id = s.post_id \
                 WHERE s.state = '{active}' AND c.state = 'ACTIVE' GROUP BY s.space_id"
            ),
        ),
        space_counter("total_followers", "SELECT space_id AS id, COUNT(*) AS n FROM space_followers GROUP BY space_id"),
        counter(
            "private_above",
            format!(
                "SELECT c.descendant_id AS id, COUNT(*) AS n FROM space_closure c JOIN spaces p ON p.id = c.ancestor_id \
                 WHERE p.privacy = '{}' GROUP BY c.descendant_id",
                privacy(Privacy::Private)
            ),
        ),
    ]
}

fn poll_counters() -> Vec<Counter> {
    vec![counter(
        "total_voters",
        "SELECT post_id AS id, COUNT(*) AS n FROM poll_ballots WHERE state = 'CURRENT' GROUP BY post_id",
    )]
}

/// The entries of ballots in force, each with its poll's type (`pl`).
const ENTRIES_IN_FORCE: &str = "poll_ballot_entries e JOIN poll_ballots b ON b.id = e.ballot_id AND b.state = 'CURRENT' \
     JOIN polls pl ON pl.post_id = b.post_id";

fn poll_answer_counters() -> Vec<Counter> {
    vec![
        counter(
            "total_votes",
            format!(
                "SELECT e.answer_id AS id, COUNT(*) AS n FROM {ENTRIES_IN_FORCE} \
                 WHERE pl.poll_type <> 'RANKED' OR e.value = 1 GROUP BY e.answer_id"
            ),
        ),
        counter(
            "total_points",
            format!(
                "SELECT e.answer_id AS id, CAST(SUM(e.value) AS BIGINT) AS n FROM {ENTRIES_IN_FORCE} \
                 WHERE pl.poll_type = 'WEIGHTED' GROUP BY e.answer_id"
            ),
        ),
    ]
}

fn int_or_absent(n: Option<i64>) -> Figure {
    n.map_or(Figure::Absent, Figure::Int)
}

impl<C: ConnectionTrait> Db<C> {
    async fn rows(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<Vec<sea_orm::QueryResult>> {
        self.sql().all(context, sql, values).await
    }

    /// The pairwise counts of ranked polls against the pairs their ballots in force rank: in each ballot, a
    /// ranked answer is above every answer of the poll it ranks lower or leaves out.
    async fn recount_pairs(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "recounting pairwise preferences";
        let sql = "WITH r AS ( \
               SELECT b.post_id, e.answer_id AS above_id, x.id AS below_id, COUNT(*) AS n \
               FROM poll_ballots b JOIN polls pl ON pl.post_id = b.post_id AND pl.poll_type = 'RANKED' \
               JOIN poll_ballot_entries e ON e.ballot_id = b.id \
               JOIN poll_answers x ON x.post_id = b.post_id AND x.id <> e.answer_id \
               LEFT JOIN poll_ballot_entries f ON f.ballot_id = b.id AND f.answer_id = x.id \
               WHERE b.state = 'CURRENT' AND (f.answer_id IS NULL OR f.value > e.value) \
               GROUP BY b.post_id, e.answer_id, x.id) \
             SELECT p.post_id, p.above_id, p.below_id, p.ballots AS stored, CAST(COALESCE(r.n, 0) AS BIGINT) AS recounted \
             FROM poll_pairs p LEFT JOIN r ON r.post_id = p.post_id AND r.above_id = p.above_id AND r.below_id = p.below_id \
             WHERE p.ballots <> COALESCE(r.n, 0) \
             UNION ALL \
             SELECT r.post_id, r.above_id, r.below_id, NULL, CAST(r.n AS BIGINT) FROM r \
             WHERE NOT EXISTS (SELECT 1 FROM poll_pairs p \
                               WHERE p.post_id = r.post_id AND p.above_id = r.above_id AND p.below_id = r.below_id) \
             ORDER BY 1, 2, 3";
        for row in self.rows(CX, sql, vec![]).await? {
            found.push(Mismatch {
                table: "poll_pairs",
                key: vec![
                    ("post_id", get(&row, CX, "post_id")?),
                    ("above_id", get(&row, CX, "above_id")?),
                    ("below_id", get(&row, CX, "below_id")?),
                ],
                column: "ballots",
                stored: int_or_absent(get(&row, CX, "stored")?),
                recounted: int_or_absent(get(&row, CX, "recounted")?),
            });
        }
        Ok(())
    }

    /// Closure rows against the shortest paths along the edges: missing rows, extra rows, wrong depths.
    async fn recount_closure(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "recounting the closure";
        // The depth bound stops the walk should the edges ever hold a cycle (the store refuses them).
        let sql = "WITH RECURSIVE paths(a, d, depth) AS ( \
               SELECT id, id, CAST(0 AS BIGINT) FROM spaces \
               UNION ALL SELECT p.a, e.child_id, p.depth + 1 FROM paths p JOIN space_parents e ON e.parent_id = p.d \
               WHERE p.depth < (SELECT COUNT(*) FROM spaces)), \
             r AS (SELECT a, d, MIN(depth) AS depth FROM paths GROUP BY a, d) \
             SELECT r.a AS ancestor_id, r.d AS descendant_id, c.depth AS stored, r.depth AS recounted \
             FROM r LEFT JOIN space_closure c ON c.ancestor_id = r.a AND c.descendant_id = r.d \
             WHERE c.depth IS NULL OR c.depth <> r.depth \
             UNION ALL \
             SELECT c.ancestor_id, c.descendant_id, c.depth, NULL FROM space_closure c \
             WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.a = c.ancestor_id AND r.d = c.descendant_id) \
             ORDER BY 1, 2";
        for row in self.rows(CX, sql, vec![]).await? {
            found.push(Mismatch {
                table: "space_closure",
                key: vec![
                    ("ancestor_id", get(&row, CX, "ancestor_id")?),
                    ("descendant_id", get(&row, CX, "descendant_id")?),
                ],
                column: "depth",
                stored: int_or_absent(get(&row, CX, "stored")?),
                recounted: int_or_absent(get(&row, CX, "recounted")?),
            });
        }
        Ok(())
    }

    /// Closure rows whose `flows` disagrees with the flow rule.
    async fn recount_flows(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "recounting flows";
        let sql = format!(
            "SELECT c.ancestor_id, c.descendant_id, c.flows FROM space_closure c WHERE c.flows = {} \
             ORDER BY c.ancestor_id, c.descendant_id",
            flow_blocked("c")
        );
        for row in self.rows(CX, &sql, vec![]).await? {
            let flows: bool = get(&row, CX, "flows")?;
            found.push(Mismatch {
                table: "space_closure",
                key: vec![
                    ("ancestor_id", get(&row, CX, "ancestor_id")?),
                    ("descendant_id", get(&row, CX, "descendant_id")?),
                ],
                column: "flows",
                stored: Figure::Bool(flows),
                recounted: Figure::Bool(!flows),
            });
        }
        Ok(())
    }

    /// `space_posts` rows that direct placements and flows call for but are missing, and indirect rows that
    /// nothing justifies.
    async fn recount_appearances(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "recounting appearances";
        let missing = format!("SELECT m.space_id, m.post_id FROM ({}) m ORDER BY 1, 2", missing_sql("TRUE"));
        let stale = format!(
            "SELECT s.space_id, s.post_id FROM space_posts s JOIN posts p ON p.id = s.post_id AND p.state = 'ACTIVE' \
             WHERE s.state <> 'DELETED' AND {} ORDER BY 1, 2",
            stale_sql("s", "TRUE")
        );
        for (sql, appears) in [(missing, true), (stale, false)] {
            for row in self.rows(CX, &sql, vec![]).await? {
                found.push(Mismatch {
                    table: "space_posts",
                    key: vec![("space_id", get(&row, CX, "space_id")?), ("post_id", get(&row, CX, "post_id")?)],
                    column: "appears",
                    stored: Figure::Bool(!appears),
                    recounted: Figure::Bool(appears),
                });
            }
        }
        Ok(())
    }

    /// The `counters` of the rows `t` of `table` where `filter` holds, against their recounts.
    async fn recount_counters(
        &self,
        table: &'static str,
        filter: &str,
        counters: &[Counter],
        found: &mut Vec<Mismatch>,
    ) -> DomainResult<()> {
        self.recount_counters_by(table, "id", filter, counters, found).await
    }

    /// [`Self::recount_counters`] for a table whose key column is `key`.
    async fn recount_counters_by(
        &self,
        table: &'static str,
        key: &'static str,
        filter: &str,
        counters: &[Counter],
        found: &mut Vec<Mismatch>,
    ) -> DomainResult<()> {
        let context = format!("recounting {table}");
        let mut select = vec![format!("t.{key} AS id")];
        let mut joins = String::new();
        let mut differs = Vec::new();
        for (i, c) in counters.iter().enumerate() {
            let stored = if c.deltas {
                format!(
                    "CAST(t.{col} + COALESCE((SELECT SUM(sd.{col}) FROM space_deltas sd WHERE sd.space_id = t.id), 0) \
                     AS BIGINT)",
                    col = c.column
                )
            } else {
                format!("t.{}", c.column)
            };
            select.push(format!("{stored} AS s{i}, COALESCE(j{i}.n, 0) AS r{i}"));
            joins.push_str(&format!(" LEFT JOIN ({}) j{i} ON j{i}.id = t.{key}", c.recount));
            differs.push(format!("{stored} <> COALESCE(j{i}.n, 0)"));
        }
        let sql = format!(
            "SELECT {} FROM {table} t{joins} WHERE ({filter}) AND ({}) ORDER BY t.{key}",
            select.join(", "),
            differs.join(" OR ")
        );
        for row in self.rows(&context, &sql, vec![]).await? {
            let id: Uuid = get(&row, &context, "id")?;
            for (i, c) in counters.iter().enumerate() {
                let stored: i64 = get(&row, &context, &format!("s{i}"))?;
                let recounted: i64 = get(&row, &context, &format!("r{i}"))?;
                if stored != recounted {
                    found.push(Mismatch {
                        table,
                        key: vec![(key, id)],
                        column: c.column,
                        stored: Figure::Int(stored),
                        recounted: Figure::Int(recounted),
                    });
                }
            }
        }
        Ok(())
    }

    /// `space_posts` rows: their copies of the post's counters against the post's recounts, and their local
    /// likes recounted.
    async fn recount_row_copies(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "recounting feed rows";
        let posts = post_counters();
        let mut select = vec!["s.space_id".to_owned(), "s.post_id".to_owned()];
        let mut joins = String::new();
        let mut differs = Vec::new();
        let mut columns = Vec::new();
        for (i, column) in copied_totals().enumerate() {
            let Some(on_post) = posts.iter().find(|c| c.column == column) else {
                return Err(DomainError::internal(CX, format!("the post's {column} has no recount")));
            };
            select.push(format!("s.{column} AS s{i}, COALESCE(j{i}.n, 0) AS r{i}"));
            joins.push_str(&format!(" LEFT JOIN ({}) j{i} ON j{i}.id = s.post_id", on_post.recount));
            differs.push(format!("s.{column} <> COALESCE(j{i}.n, 0)"));
            columns.push(column);
        }
        let i = columns.len();
        select.push(format!("s.local_likes AS s{i}, COALESCE(ll.n, 0) AS r{i}"));
        joins.push_str(
            " LEFT JOIN (SELECT c.ancestor_id AS space_id, l.post_id, COUNT(*) AS n \
                         FROM post_likes l JOIN space_closure c ON c.descendant_id = l.space_id \
                         GROUP BY c.ancestor_id, l.post_id) ll ON ll.space_id = s.space_id AND ll.post_id = s.post_id",
        );
        differs.push("s.local_likes <> COALESCE(ll.n, 0)".to_owned());
        columns.push("local_likes");
        let sql = format!(
            "SELECT {} FROM space_posts s{joins} WHERE {} ORDER BY s.space_id, s.post_id",
            select.join(", "),
            differs.join(" OR ")
        );
        for row in self.rows(CX, &sql, vec![]).await? {
            let key = vec![("space_id", get(&row, CX, "space_id")?), ("post_id", get(&row, CX, "post_id")?)];
            for (i, column) in columns.iter().enumerate() {
                let stored: i64 = get(&row, CX, &format!("s{i}"))?;
                let recounted: i64 = get(&row, CX, &format!("r{i}"))?;
                if stored != recounted {
                    found.push(Mismatch {
                        table: "space_posts",
                        key: key.clone(),
                        column,
                        stored: Figure::Int(stored),
                        recounted: Figure::Int(recounted),
                    });
                }
            }
        }
        Ok(())
    }

    /// `hot` and `local_hot` of every `space_posts` row, scored again from the recounted likes, comments and
    /// local likes. The scores are computed in Rust, as the store writes them, so every row is read, in chunks;
    /// the recounts come from the stored counters, corrected by the mismatches `found` already lists.
    async fn recount_scores(&self, found: &mut Vec<Mismatch>) -> DomainResult<()> {
        const CX: &str = "rescoring feed rows";
        let likes = corrections(found, "posts", "total_likes");
        let comments = corrections(found, "posts", "total_comments");
        let local_likes = corrections(found, "space_posts", "local_likes");
        let mut after: Option<(Uuid, Uuid)> = None;
        loop {
            let (from, values) = match after {
                None => (String::new(), vec![]),
                Some((space, post)) => {
                    ("WHERE (s.space_id, s.post_id) > ($1, $2)".to_owned(), vec![Value::from(space), Value::from(post)])
                }
            };
            let sql = format!(
                "SELECT s.space_id, s.post_id, s.hot, s.local_hot, s.local_likes, p.total_likes, p.total_comments, \
                   p.created_at FROM space_posts s JOIN posts p ON p.id = s.post_id {from} \
                 ORDER BY s.space_id, s.post_id LIMIT {SCORE_CHUNK}"
            );
            let rows = self.rows(CX, &sql, values).await?;
            for row in &rows {
                let space: Uuid = get(row, CX, "space_id")?;
                let post: Uuid = get(row, CX, "post_id")?;
                let created: DateTime<Utc> = get(row, CX, "created_at")?;
                let recounted = |fixes: &HashMap<Vec<Uuid>, i64>, key: &[Uuid], column: &str| -> DomainResult<i64> {
                    match fixes.get(key) {
                        Some(n) => Ok(*n),
                        None => get(row, CX, column),
                    }
                };
                let hot = post_hot(
                    recounted(&likes, &[post], "total_likes")?,
                    recounted(&comments, &[post], "total_comments")?,
                    created,
                );
                let local = local_hot(recounted(&local_likes, &[space, post], "local_likes")?, created);
                for (column, recounted) in [("hot", hot), ("local_hot", local)] {
                    let stored: f64 = get(row, CX, column)?;
                    if !scores_agree(stored, recounted) {
                        found.push(Mismatch {
                            table: "space_posts",
                            key: vec![("space_id", space), ("post_id", post)],
                            column,
                            stored: Figure::Real(stored),
                            recounted: Figure::Real(recounted),
                        });
                    }
                }
                after = Some((space, post));
            }
            if (rows.len() as u64) < SCORE_CHUNK {
                return Ok(());
            }
        }
    }
}

/// The recounted values of `table.column` among the mismatches `found`, by the row's key: where a stored value
/// is not listed, it is right.
fn corrections(found: &[Mismatch], table: &str, column: &str) -> HashMap<Vec<Uuid>, i64> {
    found
        .iter()
        .filter(|m| m.table == table && m.column == column)
        .filter_map(|m| match m.recounted {
            Figure::Int(n) => Some((m.key.iter().map(|(_, id)| *id).collect(), n)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fragments::COPIED_TOTALS;

    /// A counter added to [`COPIED_TOTALS`] without a recount on the post would be checked on the rows against
    /// a post value nothing checks.
    #[test]
    fn every_copied_counter_is_recounted_on_the_post() {
        let recounted: Vec<&str> = post_counters().iter().map(|c| c.column).collect();
        for column in copied_totals() {
            assert!(recounted.contains(&column), "{column} (in {COPIED_TOTALS}) has no recount");
        }
    }

    #[test]
    fn mismatches_name_the_row_the_column_and_both_values() {
        let m = Mismatch {
            table: "posts",
            key: vec![("id", Uuid::nil())],
            column: "total_likes",
            stored: Figure::Int(3),
            recounted: Figure::Int(4),
        };
        assert_eq!(m.to_string(), "posts (id 00000000-0000-0000-0000-000000000000) total_likes: stored 3, recounted 4");
    }
}
