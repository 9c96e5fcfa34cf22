//! Posts, reactions, comments, feeds and search.

use crate::Db;
use crate::sql::{Key, Listing, cursor_key, get, keyset_clause, placeholders, uuid_values, v};
use crate::users::{CREATOR_COLS, creator_from_row};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;
use weco_domain::ports::{PostRepo, SpacePostState};
use weco_domain::values::{Depth, FeedMetric, FeedScope, FeedSort, PostKind, hot_score};
use weco_domain::*;

const POST_COLS: &str = "p.id, p.creator_id, p.title, p.text, p.url, p.kinds, p.created_at, p.last_activity_at, \
     p.total_likes, p.total_comments, p.total_reposts, p.total_ratings, p.rating_sum, p.total_links, p.stats_version";

/// A post's row in a space after a like cast at or below it: its new local tally and local HOT score.
struct LocalShift {
    space: Uuid,
    likes: i64,
    score: f64,
}

const COMMENT_COLS: &str = "c.id, c.post_id, c.parent_id, c.creator_id, c.text, c.created_at, c.total_replies";

fn post_from_row(row: &QueryResult) -> DomainResult<Post> {
    const CX: &str = "decoding post";
    Ok(Post {
        id: PostId(get::<Uuid>(row, CX, "id")?),
        creator_id: UserId(get::<Uuid>(row, CX, "creator_id")?),
        title: get(row, CX, "title")?,
        text: get(row, CX, "text")?,
        url: get(row, CX, "url")?,
        kinds: PostKind::split(&get::<String>(row, CX, "kinds")?),
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
    })
}

/// The condition that the viewer bound as `$n` may see post `p` (DESIGN §5 rule 4): it has an active row in an
/// active space the viewer may access. (A post's direct spaces share one audience when it is placed, but tree
/// edits that narrow an audience — attaching under a private space, making a space private — can later split
/// it; each row then answers for its own space.)
fn visible(n: usize) -> String {
    format!(
        "p.state = 'ACTIVE' \
         AND EXISTS (SELECT 1 FROM space_posts a JOIN spaces vs ON vs.id = a.space_id AND vs.state = 'ACTIVE' \
                     WHERE a.post_id = p.id AND a.state = 'ACTIVE' AND {})",
        crate::access::accessible("a.space_id", n)
    )
}

fn viewer_value(viewer: Option<UserId>) -> Value {
    v(viewer.map(|u| u.0).unwrap_or(Uuid::nil()))
}

/// A full-text match of `p` against the query bound as `$n`.
fn text_match(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("p.search @@ websearch_to_tsquery('simple', ${n})")
    } else {
        format!("p.id IN (SELECT f.post_id FROM posts_fts f WHERE posts_fts MATCH ${n})")
    }
}

/// The query as the backend's full-text engine takes it: each word quoted for FTS5, so user input can never
/// be a syntax error; PostgreSQL's `websearch_to_tsquery` takes it as typed.
fn text_query(backend: DbBackend, query: &str) -> String {
    if backend == DbBackend::Postgres {
        return query.to_owned();
    }
    query.split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ")
}

fn feed_key(sort: FeedSort, metric: FeedMetric, scope: FeedScope) -> Key {
    match (sort, scope) {
        (FeedSort::New, _) => Key::Time("sp.created_at"),
        (FeedSort::Active, _) => Key::Time("sp.last_activity_at"),
        (FeedSort::Hot, FeedScope::Global) => Key::Float("sp.hot"),
        (FeedSort::Hot, FeedScope::Local) => Key::Float("sp.local_hot"),
        (FeedSort::Top, FeedScope::Local) => Key::Int("sp.local_likes"),
        (FeedSort::Top, FeedScope::Global) => Key::Int(match metric {
            FeedMetric::Likes => "sp.total_likes",
            FeedMetric::Comments => "sp.total_comments",
            FeedMetric::Reposts => "sp.total_reposts",
            FeedMetric::Ratings => "sp.total_ratings",
            FeedMetric::Links => "sp.total_links",
        }),
    }
}

impl<C: ConnectionTrait> Db<C> {
    async fn lock_post(&self, post: PostId) -> DomainResult<()> {
        if self.backend == DbBackend::Postgres {
            self.sql()
                .all("locking post", "SELECT id FROM posts WHERE id = $1 FOR NO KEY UPDATE", vec![v(post.0)])
                .await?;
        }
        Ok(())
    }

    /// Locks (on PostgreSQL) the spaces a post is active in, in id order.
    async fn lock_post_spaces(&self, post: PostId) -> DomainResult<()> {
        self.sql()
            .lock_spaces("SELECT space_id FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE'", vec![v(post.0)])
            .await
    }

    /// Copies the post's counters to its `space_posts` rows and re-scores them, and writes `local` (new local
    /// like tallies and scores by space) in the same statement, so each row gets one new version, not several.
    async fn sync_post_rows(&self, post: PostId, returning: &QueryResult, local: &[LocalShift]) -> DomainResult<()> {
        const CX: &str = "syncing post rows";
        let likes: i64 = get(returning, CX, "total_likes")?;
        let comments: i64 = get(returning, CX, "total_comments")?;
        let created: DateTime<Utc> = get(returning, CX, "created_at")?;
        let mut values = vec![
            v(post.0),
            v(likes),
            v(comments),
            v(get::<i64>(returning, CX, "total_reposts")?),
            v(get::<i64>(returning, CX, "total_ratings")?),
            v(get::<i64>(returning, CX, "total_links")?),
            v(get::<DateTime<Utc>>(returning, CX, "last_activity_at")?),
            v(hot_score(likes + comments, created)),
        ];
        let mut sql = String::from(
            "UPDATE space_posts SET total_likes = $2, total_comments = $3, total_reposts = $4, total_ratings = $5, \
               total_links = $6, last_activity_at = $7, hot = $8",
        );
        if !local.is_empty() {
            let (mut tallies, mut scores) = (String::new(), String::new());
            for shift in local {
                values.extend([v(shift.space), v(shift.likes), v(shift.score)]);
                let n = values.len();
                tallies.push_str(&format!(" WHEN space_id = ${} THEN ${}", n - 2, n - 1));
                scores.push_str(&format!(" WHEN space_id = ${} THEN ${n}", n - 2));
            }
            sql.push_str(&format!(
                ", local_likes = CASE{tallies} ELSE local_likes END, local_hot = CASE{scores} ELSE local_hot END"
            ));
        }
        sql.push_str(" WHERE post_id = $1");
        self.sql().exec(CX, &sql, values).await.map(drop)
    }

    /// Runs `UPDATE posts SET {set} WHERE id = $1 RETURNING …` and copies the result to the post's rows.
    async fn update_post_counters(&self, post: PostId, set: &str, values: Vec<Value>) -> DomainResult<()> {
        self.update_post_counters_and_local(post, set, values, None).await
    }

    /// [`Self::update_post_counters`] that also adds `delta` to the local like tallies of the post's rows in the
    /// spaces at or above `space` (a like cast there), re-scoring them.
    async fn update_post_counters_and_local(
        &self,
        post: PostId,
        set: &str,
        mut values: Vec<Value>,
        local: Option<(SpaceId, i64)>,
    ) -> DomainResult<()> {
        values.insert(0, v(post.0));
        let row = self
            .sql()
            .one(
                "updating post counters",
                &format!(
                    "UPDATE posts SET {set}, stats_version = stats_version + 1 WHERE id = $1 RETURNING total_likes, total_comments, total_reposts, \
                     total_ratings, total_links, created_at, last_activity_at"
                ),
                values,
            )
            .await?
            .ok_or(DomainError::NotFound("post"))?;
        let shifts = match local {
            Some((space, delta)) => self.local_shifts(post, space, delta).await?,
            None => Vec::new(),
        };
        self.sync_post_rows(post, &row, &shifts).await
    }

    /// The new local like tallies and scores of the post's rows in the spaces at or above `space` after adding
    /// `delta`. The rows are locked (PostgreSQL) until the transaction ends, so the tallies written back are
    /// exact even beside a tree edit re-counting them.
    async fn local_shifts(&self, post: PostId, space: SpaceId, delta: i64) -> DomainResult<Vec<LocalShift>> {
        const CX: &str = "counting local likes";
        let lock = if self.backend == DbBackend::Postgres { " FOR NO KEY UPDATE" } else { "" };
        let rows = self
            .sql()
            .all(
                CX,
                &format!(
                    "SELECT space_id, local_likes, created_at FROM space_posts WHERE post_id = $1 \
                     AND space_id IN (SELECT ancestor_id FROM space_closure WHERE descendant_id = $2) \
                     ORDER BY space_id{lock}"
                ),
                vec![v(post.0), v(space.0)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let likes = get::<i64>(row, CX, "local_likes")? + delta;
                Ok(LocalShift {
                    space: get(row, CX, "space_id")?,
                    likes,
                    score: hot_score(likes, get(row, CX, "created_at")?),
                })
            })
            .collect()
    }

    fn feed_branch(&self, q: &FeedQuery, page: &PageRequest, space_param: usize, shared: &FeedParams) -> String {
        let key = feed_key(q.sort, q.metric, q.scope);
        let mut sql = format!(
            "SELECT * FROM (SELECT {POST_COLS}, {CREATOR_COLS}, sp.space_id AS feed_space, {} AS sort_key \
             FROM space_posts sp JOIN posts p ON p.id = sp.post_id LEFT JOIN users u ON u.id = p.creator_id \
             WHERE sp.space_id = ${space_param} AND sp.state = 'ACTIVE'",
            key.expr().unwrap_or("sp.post_id")
        );
        if q.depth == Depth::Direct {
            sql.push_str(" AND sp.relationship = 'DIRECT'");
        }
        sql.push_str(&shared.conditions);
        sql.push_str(&format!(
            " ORDER BY {k} DESC, sp.post_id DESC LIMIT {} ) AS f{space_param}",
            page.fetch_limit(),
            k = key.expr().unwrap_or("sp.post_id")
        ));
        sql
    }
}

/// The conditions every branch of a feed statement shares, with their values bound once.
struct FeedParams {
    conditions: String,
    values: Vec<Value>,
}

impl FeedParams {
    fn build(backend: DbBackend, q: &FeedQuery, page: &PageRequest) -> DomainResult<Self> {
        let mut values = Vec::new();
        let mut conditions = String::new();
        if let Some(since) = q.since {
            values.push(v(since));
            conditions.push_str(&format!(" AND sp.created_at >= ${}", values.len()));
        }
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            values.push(v(text_query(backend, search)));
            conditions.push_str(&format!(" AND {}", text_match(backend, values.len())));
        }
        if !q.kinds.is_empty() {
            let any: Vec<String> =
                q.kinds.iter().map(|k| format!("(',' || p.kinds || ',') LIKE '%,{},%'", k.as_str())).collect();
            conditions.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        if let Some(viewer) = q.viewer {
            values.push(v(viewer.0));
            conditions.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM user_mutes mu WHERE mu.user_id = ${} AND mu.muted_id = sp.creator_id)",
                values.len()
            ));
        }
        if let Some(after) = &page.after {
            let key = feed_key(q.sort, q.metric, q.scope);
            conditions.push_str(&keyset_clause(key, "sp.post_id", true, after, &mut values)?);
        }
        Ok(Self { conditions, values })
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> PostRepo for Db<C> {
    async fn private_ancestry(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, BTreeSet<SpaceId>>> {
        if spaces.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT c.descendant_id, c.ancestor_id FROM space_closure c JOIN spaces x ON x.id = c.ancestor_id \
             WHERE x.privacy = 'PRIVATE' AND c.descendant_id IN ({})",
            placeholders(1, spaces.len())
        );
        let rows = self.sql().all("reading private ancestry", &sql, uuid_values(spaces)).await?;
        let mut out: HashMap<SpaceId, BTreeSet<SpaceId>> = HashMap::new();
        for row in &rows {
            let d = SpaceId(get::<Uuid>(row, "reading private ancestry", "descendant_id")?);
            let a = SpaceId(get::<Uuid>(row, "reading private ancestry", "ancestor_id")?);
            out.entry(d).or_default().insert(a);
        }
        Ok(out)
    }

    async fn insert_post(&self, post: &NewPost, spaces: &[SpaceId]) -> DomainResult<()> {
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
                v(PostKind::join(&post.kinds)),
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
        self.repost(post.id, spaces, post.created_at).await?;
        Ok(())
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

    async fn visible_posts_among(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<PostId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT p.id FROM posts p WHERE p.id IN ({}) AND {}", placeholders(2, ids.len()), visible(1));
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
                let state = if get::<String>(r, CX, "state")? == "ACTIVE" {
                    SpacePostState::Active
                } else {
                    SpacePostState::Removed
                };
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
                Ok((SpaceId(get(r, CX, "space_id")?), get::<String>(r, CX, "relationship")? == "DIRECT"))
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
        Ok(match row.map(|r| get::<String>(&r, "reading post state", "state")).transpose()?.as_deref() {
            Some("ACTIVE") => Some(SpacePostState::Active),
            Some("REMOVED") => Some(SpacePostState::Removed),
            _ => None,
        })
    }

    async fn repost(&self, post: PostId, spaces: &[SpaceId], at: DateTime<Utc>) -> DomainResult<u64> {
        let sql = self.sql();
        let targets = placeholders(2, spaces.len());
        let mut values = vec![v(post.0)];
        values.extend(uuid_values(spaces));
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
        // Lock the targets and everything above them in one ordered statement, before any update: locking the
        // targets first and their ancestors later would let two posts into nested spaces deadlock.
        sql.lock_spaces(
            &format!(
                "SELECT c.ancestor_id FROM space_closure c WHERE c.descendant_id IN ({})",
                placeholders(1, spaces.len())
            ),
            uuid_values(spaces),
        )
        .await?;
        let mut counted = vec![v(post.0), v(at)];
        counted.extend(uuid_values(spaces));
        sql.exec(
            "counting new placements",
            &format!(
                "UPDATE spaces SET total_posts = total_posts + 1, total_post_likes = total_post_likes + n.likes, \
                   total_comments = total_comments + n.comments, last_activity_at = $2 \
                 FROM (SELECT s.id AS space_id, p.total_likes AS likes, p.total_comments AS comments {}) n \
                 WHERE spaces.id = n.space_id",
                fresh(3)
            ),
            counted,
        )
        .await?;
        let kind = if first_placement == 0 { "POST" } else { "REPOST" };
        let base = format!("({} - 1700000000) / 45000.0", sql.epoch("p.created_at"));
        let inserted = sql
            .exec(
                "placing post",
                &format!(
                    "INSERT INTO space_posts (space_id, post_id, relationship, kind, state, creator_id, created_at, \
                       last_activity_at, total_likes, total_comments, total_reposts, total_ratings, total_links, \
                       local_likes, hot, local_hot) \
                     SELECT s.id, p.id, 'DIRECT', '{kind}', 'ACTIVE', p.creator_id, p.created_at, p.last_activity_at, \
                       p.total_likes, p.total_comments, p.total_reposts, p.total_ratings, p.total_links, 0, {base}, {base} \
                     {}",
                    fresh(2)
                ),
                values,
            )
            .await?;
        let new = upgraded + inserted;
        if first_placement > 0 && new > 0 {
            self.update_post_counters(post, "total_reposts = total_reposts + $2", vec![v(new as i64)]).await?;
        } else {
            let row = sql
                .one(
                    "reading post counters",
                    "SELECT total_likes, total_comments, total_reposts, total_ratings, total_links, created_at, \
                     last_activity_at FROM posts WHERE id = $1",
                    vec![v(post.0)],
                )
                .await?
                .ok_or(DomainError::NotFound("post"))?;
            self.sync_post_rows(post, &row, &[]).await?;
        }
        self.add_appearances("d.post_id = $1", vec![v(post.0)]).await?;
        Ok(new)
    }

    async fn set_space_post_state(
        &self,
        post: PostId,
        space: SpaceId,
        from: SpacePostState,
        to: SpacePostState,
    ) -> DomainResult<bool> {
        let sql = self.sql();
        sql.lock_spaces("$1", vec![v(space.0)]).await?;
        let row = sql
            .one(
                "moderating post",
                "UPDATE space_posts SET state = $4 WHERE post_id = $1 AND space_id = $2 AND state = $3 \
                 RETURNING total_likes, total_comments",
                vec![v(post.0), v(space.0), v(from.as_str()), v(to.as_str())],
            )
            .await?;
        let Some(row) = row else { return Ok(false) };
        let sign: i64 = if to == SpacePostState::Active { 1 } else { -1 };
        let likes: i64 = get(&row, "moderating post", "total_likes")?;
        let comments: i64 = get(&row, "moderating post", "total_comments")?;
        sql.exec(
            "counting moderated post",
            "UPDATE spaces SET total_posts = total_posts + $2, total_post_likes = total_post_likes + $3, \
             total_comments = total_comments + $4 WHERE id = $1",
            vec![v(space.0), v(sign), v(sign * likes), v(sign * comments)],
        )
        .await?;
        Ok(true)
    }

    async fn delete_post(&self, post: PostId) -> DomainResult<()> {
        let sql = self.sql();
        self.lock_post(post).await?;
        self.lock_post_spaces(post).await?;
        sql.exec(
            "uncounting deleted post",
            "UPDATE spaces SET total_posts = total_posts - 1, total_post_likes = total_post_likes - n.likes, \
               total_comments = total_comments - n.comments \
             FROM (SELECT space_id, total_likes AS likes, total_comments AS comments FROM space_posts \
                   WHERE post_id = $1 AND state = 'ACTIVE') n WHERE spaces.id = n.space_id",
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

    async fn like(&self, post: PostId, user: UserId, space: Option<SpaceId>) -> DomainResult<bool> {
        let sql = self.sql();
        let added = sql
            .exec(
                "liking",
                "INSERT INTO post_likes (post_id, user_id, space_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                vec![v(post.0), v(user.0), v(space.map(|s| s.0)), v(now())],
            )
            .await?;
        if added == 0 {
            return Ok(false);
        }
        self.update_post_counters_and_local(post, "total_likes = total_likes + 1", vec![], space.map(|s| (s, 1)))
            .await?;
        self.lock_post_spaces(post).await?;
        sql.exec(
            "counting like in spaces",
            "UPDATE spaces SET total_post_likes = total_post_likes + 1 \
             WHERE id IN (SELECT space_id FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE')",
            vec![v(post.0)],
        )
        .await?;
        Ok(true)
    }

    async fn unlike(&self, post: PostId, user: UserId) -> DomainResult<bool> {
        let sql = self.sql();
        let removed = sql
            .all(
                "unliking",
                "DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2 RETURNING space_id",
                vec![v(post.0), v(user.0)],
            )
            .await?;
        let Some(row) = removed.first() else { return Ok(false) };
        let cast_in: Option<Uuid> = get(row, "unliking", "space_id")?;
        let local = cast_in.map(|s| (SpaceId(s), -1));
        self.update_post_counters_and_local(post, "total_likes = total_likes - 1", vec![], local).await?;
        self.lock_post_spaces(post).await?;
        sql.exec(
            "uncounting like in spaces",
            "UPDATE spaces SET total_post_likes = total_post_likes - 1 \
             WHERE id IN (SELECT space_id FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE')",
            vec![v(post.0)],
        )
        .await?;
        Ok(true)
    }

    async fn rate(&self, post: PostId, user: UserId, value: i64, space: Option<SpaceId>) -> DomainResult<()> {
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
        let at = now();
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

    async fn post_actions(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>> {
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

    async fn insert_comment(&self, c: &Comment) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "inserting comment",
            "INSERT INTO comments (id, post_id, parent_id, creator_id, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            vec![v(c.id.0), v(c.post_id.0), v(c.parent_id.map(|p| p.0)), v(c.creator_id.0), v(c.text.clone()), v(c.created_at)],
        )
        .await?;
        self.update_post_counters(
            c.post_id,
            "total_comments = total_comments + 1, last_activity_at = $2",
            vec![v(c.created_at)],
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
        self.lock_post_spaces(c.post_id).await?;
        sql.exec(
            "counting comment in spaces",
            "UPDATE spaces SET total_comments = total_comments + 1, last_activity_at = $2 \
             WHERE id IN (SELECT space_id FROM space_posts WHERE post_id = $1 AND state = 'ACTIVE')",
            vec![v(c.post_id.0), v(c.created_at)],
        )
        .await?;
        Ok(())
    }

    async fn comments_by_ids(&self, ids: &[CommentId]) -> DomainResult<Vec<Comment>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COMMENT_COLS} FROM comments c WHERE c.state = 'ACTIVE' AND c.id IN ({})",
            placeholders(1, ids.len())
        );
        self.sql().all("loading comments", &sql, uuid_values(ids)).await?.iter().map(comment_from_row).collect()
    }

    async fn comments(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        page: &PageRequest,
    ) -> DomainResult<Page<Comment>> {
        let (base, values) = match parent {
            None => {
                ("FROM comments c WHERE c.post_id = $1 AND c.parent_id IS NULL AND c.state = 'ACTIVE'", vec![v(post.0)])
            }
            Some(parent) => ("FROM comments c WHERE c.parent_id = $1 AND c.state = 'ACTIVE'", vec![v(parent.0)]),
        };
        let listing = Listing {
            context: "listing comments",
            select: COMMENT_COLS,
            base: base.into(),
            values,
            key: Key::Time("c.created_at"),
            id: "c.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, comment_from_row).await
    }

    async fn feeds(&self, queries: &[FeedQuery], page: &PageRequest) -> DomainResult<FeedPages> {
        let Some(first) = queries.first() else { return Ok(FeedPages::default()) };
        let shared = FeedParams::build(self.backend, first, page)?;
        let mut values = shared.values.clone();
        let mut branches = Vec::with_capacity(queries.len());
        for q in queries {
            values.push(v(q.space.0));
            branches.push(self.feed_branch(q, page, values.len(), &shared));
        }
        let rows = self.sql().all("reading feeds", &branches.join(" UNION ALL "), values).await?;
        let key = feed_key(first.sort, first.metric, first.scope);
        let mut grouped: HashMap<SpaceId, Vec<(Cursor, Post)>> = HashMap::new();
        let mut creators: HashMap<UserId, User> = HashMap::new();
        for row in &rows {
            const CX: &str = "reading feeds";
            let post = post_from_row(row)?;
            if let Some(creator) = creator_from_row(row)? {
                creators.insert(creator.id, creator);
            }
            let cursor = Cursor::new(cursor_key(row, key, CX)?, post.id.0);
            grouped.entry(SpaceId(get(row, CX, "feed_space")?)).or_default().push((cursor, post));
        }
        let pages = queries
            .iter()
            .map(|q| {
                let mut items = grouped.remove(&q.space).unwrap_or_default();
                items.sort_by(|(a, _), (b, _)| cursor_order(b, a));
                Page::from_rows(items, page)
            })
            .collect();
        Ok(FeedPages { pages, creators: creators.into_values().collect() })
    }

    async fn feed_since(&self, space: SpaceId, depth: Depth, after: &Cursor, limit: i64) -> DomainResult<Vec<Post>> {
        let mut values = vec![v(space.0)];
        let keyset = keyset_clause(Key::Time("sp.created_at"), "sp.post_id", false, after, &mut values)?;
        let direct = if depth == Depth::Direct { " AND sp.relationship = 'DIRECT'" } else { "" };
        let sql = format!(
            "SELECT {POST_COLS} FROM space_posts sp JOIN posts p ON p.id = sp.post_id \
             WHERE sp.space_id = $1 AND sp.state = 'ACTIVE'{direct}{keyset} \
             ORDER BY sp.created_at ASC, sp.post_id ASC LIMIT {limit}"
        );
        self.sql().all("replaying feed", &sql, values).await?.iter().map(post_from_row).collect()
    }

    async fn user_posts(&self, viewer: Option<UserId>, author: UserId, page: &PageRequest) -> DomainResult<Page<Post>> {
        let listing = Listing {
            context: "listing user posts",
            select: POST_COLS,
            base: format!("FROM posts p WHERE p.creator_id = $2 AND {}", visible(1)),
            values: vec![viewer_value(viewer), v(author.0)],
            key: Key::Time("p.created_at"),
            id: "p.id",
            descending: true,
            with_total: false,
        };
        self.sql().page(listing, page, post_from_row).await
    }

    async fn search_posts(&self, viewer: Option<UserId>, query: &str, page: &PageRequest) -> DomainResult<Page<Post>> {
        let listing = Listing {
            context: "searching posts",
            select: POST_COLS,
            base: format!("FROM posts p WHERE {} AND {}", text_match(self.backend, 2), visible(1)),
            values: vec![viewer_value(viewer), v(text_query(self.backend, query))],
            key: Key::Time("p.created_at"),
            id: "p.id",
            descending: true,
            with_total: false,
        };
        self.sql().page(listing, page, post_from_row).await
    }

    async fn link_posts(
        &self,
        source: PostId,
        target: PostId,
        creator: UserId,
        description: &str,
    ) -> DomainResult<bool> {
        let added = self
            .sql()
            .exec(
                "linking posts",
                "INSERT INTO post_links (id, source_id, target_id, creator_id, description, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                vec![v(Uuid::now_v7()), v(source.0), v(target.0), v(creator.0), v(description), v(now())],
            )
            .await?;
        if added == 0 {
            return Ok(false);
        }
        // Lock both posts in id order, so two links between the same posts cannot deadlock.
        let (a, b) = if source.0 < target.0 { (source, target) } else { (target, source) };
        for post in [a, b] {
            self.update_post_counters(post, "total_links = total_links + 1", vec![]).await?;
        }
        Ok(true)
    }

    async fn set_muted(&self, user: UserId, muted: UserId, on: bool) -> DomainResult<bool> {
        let n = if on {
            self.sql()
                .exec(
                    "muting",
                    "INSERT INTO user_mutes (user_id, muted_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    vec![v(user.0), v(muted.0), v(now())],
                )
                .await?
        } else {
            self.sql()
                .exec(
                    "unmuting",
                    "DELETE FROM user_mutes WHERE user_id = $1 AND muted_id = $2",
                    vec![v(user.0), v(muted.0)],
                )
                .await?
        };
        Ok(n > 0)
    }
}

/// Orders cursors by key, then id (ascending; callers reverse for descending feeds).
fn cursor_order(a: &Cursor, b: &Cursor) -> std::cmp::Ordering {
    use weco_domain::CursorKey::*;
    let by_key = match (a.key, b.key) {
        (Int(x), Int(y)) => x.cmp(&y),
        (Float(x), Float(y)) => x.total_cmp(&y),
        _ => std::cmp::Ordering::Equal,
    };
    by_key.then(a.id.cmp(&b.id))
}
