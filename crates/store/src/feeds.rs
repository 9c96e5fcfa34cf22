//! Feeds: every ordering of what appears in a space, a reconnecting subscriber's replay, a user's posts, and
//! full-text search (tsvector + GIN on PostgreSQL, FTS5 on SQLite). Every listing leaves out the posts of users
//! the viewer muted.

use crate::Db;
use crate::accounts::{CREATOR_COLS, creator_from_row};
use crate::fragments::{not_muted, post_kind, viewer_value, visible_post};
use crate::posts::{POST_COLS, post_from_row};
use crate::sql::{Key, Listing, cursor_key, get, keyset_clause, v};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DbBackend, Value};
use std::collections::HashMap;
use weco_domain::feeds::ports::FeedRepo;
use weco_domain::values::{Depth, FeedMetric, FeedScope, FeedSort};
use weco_domain::*;

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
                q.kinds.iter().map(|k| format!("(',' || p.kinds || ',') LIKE '%,{},%'", post_kind(*k))).collect();
            conditions.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        if let Some(viewer) = q.viewer {
            values.push(v(viewer.0));
            conditions.push_str(&format!(" AND {}", not_muted("sp.creator_id", values.len())));
        }
        if let Some(after) = &page.after {
            let key = feed_key(q.sort, q.metric, q.scope);
            conditions.push_str(&keyset_clause(key, "sp.post_id", true, after, &mut values)?);
        }
        Ok(Self { conditions, values })
    }
}

fn feed_branch(q: &FeedQuery, page: &PageRequest, space_param: usize, shared: &FeedParams) -> String {
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

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> FeedRepo for Db<C> {
    async fn feeds(&self, queries: &[FeedQuery], page: &PageRequest) -> DomainResult<FeedPages> {
        let Some(first) = queries.first() else { return Ok(FeedPages::default()) };
        let shared = FeedParams::build(self.backend, first, page)?;
        let mut values = shared.values.clone();
        let mut branches = Vec::with_capacity(queries.len());
        for q in queries {
            values.push(v(q.space.0));
            branches.push(feed_branch(q, page, values.len(), &shared));
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

    async fn feed_since(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        depth: Depth,
        after: &Cursor,
        limit: i64,
    ) -> DomainResult<Vec<Post>> {
        let mut values = vec![v(space.0), viewer_value(viewer)];
        let keyset = keyset_clause(Key::Time("sp.created_at"), "sp.post_id", false, after, &mut values)?;
        let direct = if depth == Depth::Direct { " AND sp.relationship = 'DIRECT'" } else { "" };
        let sql = format!(
            "SELECT {POST_COLS} FROM space_posts sp JOIN posts p ON p.id = sp.post_id \
             WHERE sp.space_id = $1 AND sp.state = 'ACTIVE' AND {}{direct}{keyset} \
             ORDER BY sp.created_at ASC, sp.post_id ASC LIMIT {limit}",
            not_muted("sp.creator_id", 2)
        );
        self.sql().all("replaying feed", &sql, values).await?.iter().map(post_from_row).collect()
    }

    async fn user_posts(&self, viewer: Option<UserId>, author: UserId, page: &PageRequest) -> DomainResult<Page<Post>> {
        let listing = Listing {
            context: "listing user posts",
            select: POST_COLS,
            base: format!(
                "FROM posts p WHERE p.creator_id = $2 AND {} AND {}",
                visible_post(1),
                not_muted("p.creator_id", 1)
            ),
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
            base: format!(
                "FROM posts p WHERE {} AND {} AND {}",
                text_match(self.backend, 2),
                visible_post(1),
                not_muted("p.creator_id", 1)
            ),
            values: vec![viewer_value(viewer), v(text_query(self.backend, query))],
            key: Key::Time("p.created_at"),
            id: "p.id",
            descending: true,
            with_total: false,
        };
        self.sql().page(listing, page, post_from_row).await
    }
}
