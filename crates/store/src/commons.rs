//! The commons area's SQL: acts recorded per space as they happen (`activity_deltas`, insert-only), their fold
//! into rollups per space and day, week and month (`space_activity`, with the distinct active users of each
//! bucket in `activity_users` and each user's part per day in `space_contributions`), the reads of those
//! rollups, the network's counts, and one level of a space map per statement.

use crate::Db;
use crate::fragments::{gated_sort_key, space_total, viewer_value};
use crate::holarchy::{space_from_row, space_with_access_cols};
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;
use weco_domain::commons::export::{ExportKey, ExportRow, ExportUser, Field};
use weco_domain::commons::ports::{
    Act, ActivityCounts, CommonsRepo, Contribution, ExportPart, Interval, MapChild, PlatformStats,
};
use weco_domain::commons::{bucket_start, max_buckets};
use weco_domain::values::SpaceSort;
use weco_domain::{DomainResult, PostId, ROOT_SPACE_ID, SpaceId, UserId};

const PERIODS: [(Interval, &str); 3] = [(Interval::Day, "D"), (Interval::Week, "W"), (Interval::Month, "M")];

fn period(interval: Interval) -> &'static str {
    match interval {
        Interval::Day => "D",
        Interval::Week => "W",
        Interval::Month => "M",
    }
}

/// Rows per multi-row `INSERT` of the fold (well under SQLite's bound on parameters).
const ROWS_PER_STATEMENT: usize = 200;

/// The counts of one bucket as the fold adds them: everything, then what was direct.
#[derive(Default, Clone, Copy)]
struct Bucket {
    all: [i64; 5],
    direct: [i64; 5],
}

/// Index of the active users in [`Bucket`]'s arrays (the other four are posts, comments, likes, new spaces).
const ACTIVE: usize = 4;

impl<C: ConnectionTrait> Db<C> {
    async fn insert_acts(&self, select: &str, from: &str, values: Vec<Value>) -> DomainResult<()> {
        self.sql()
            .exec(
                "recording activity",
                &format!(
                    "INSERT INTO activity_deltas (space_id, day, direct, user_id, receiver_id, posts, comments, likes, \
                     new_spaces) SELECT {select} {from}"
                ),
                values,
            )
            .await
            .map(drop)
    }

    /// `INSERT … VALUES (…), (…) {tail}` in chunks; each row is `width` values.
    async fn insert_fold_rows(
        &self,
        context: &str,
        head: &str,
        tail: &str,
        width: usize,
        rows: Vec<Vec<Value>>,
    ) -> DomainResult<Vec<sea_orm::QueryResult>> {
        let mut out = Vec::new();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut values = Vec::with_capacity(chunk.len() * width);
            let mut tuples = Vec::with_capacity(chunk.len());
            for row in chunk {
                tuples.push(format!("({})", placeholders(values.len() + 1, width)));
                values.extend(row.iter().cloned());
            }
            let sql = format!("{head} VALUES {} {tail}", tuples.join(", "));
            out.extend(self.sql().all(context, &sql, values).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> CommonsRepo for Db<C> {
    async fn record_post_act(&self, post: PostId, user: UserId, act: Act, at: DateTime<Utc>) -> DomainResult<()> {
        let (posts, comments, likes) = match act {
            Act::Post => (1, 0, 0),
            Act::Comment => (0, 1, 0),
            Act::Like => (0, 0, 1),
        };
        self.insert_acts(
            "sp.space_id, $2, CASE WHEN sp.relationship = 'DIRECT' THEN 1 ELSE 0 END, $3, p.creator_id, $4, $5, $6, 0",
            "FROM space_posts sp JOIN posts p ON p.id = sp.post_id WHERE sp.post_id = $1 AND sp.state = 'ACTIVE'",
            vec![
                v(post.0),
                v(bucket_start(Interval::Day, at)),
                v(user.0),
                v(posts as i64),
                v(comments as i64),
                v(likes as i64),
            ],
        )
        .await
    }

    async fn record_space_created(&self, space: SpaceId, user: UserId, at: DateTime<Utc>) -> DomainResult<()> {
        self.insert_acts(
            "c.ancestor_id, $2, CASE WHEN c.depth = 1 THEN 1 ELSE 0 END, $3, NULL, 0, 0, 0, 1",
            "FROM space_closure c WHERE c.descendant_id = $1 AND c.depth > 0 AND c.flows",
            vec![v(space.0), v(bucket_start(Interval::Day, at)), v(user.0)],
        )
        .await
    }

    async fn fold_activity(&self, limit: u32) -> DomainResult<u64> {
        const CX: &str = "folding activity";
        let skip = if self.backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let rows = self
            .sql()
            .all(
                CX,
                &format!(
                    "DELETE FROM activity_deltas WHERE id IN \
                       (SELECT id FROM activity_deltas ORDER BY id LIMIT {limit}{skip}) \
                     RETURNING space_id, day, direct, user_id, receiver_id, posts, comments, likes, new_spaces"
                ),
                vec![],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Sorted maps: every fold writes rows in one order, so concurrent folds queue rather than deadlock.
        let mut buckets: BTreeMap<(Uuid, &str, DateTime<Utc>), Bucket> = BTreeMap::new();
        let mut users: BTreeSet<(Uuid, &str, DateTime<Utc>, i64, Uuid)> = BTreeSet::new();
        let mut parts: BTreeMap<(Uuid, DateTime<Utc>, Uuid), (i64, i64)> = BTreeMap::new();
        for row in &rows {
            let space: Uuid = get(row, CX, "space_id")?;
            let day: DateTime<Utc> = get(row, CX, "day")?;
            let direct = get::<i64>(row, CX, "direct")? == 1;
            let user: Uuid = get(row, CX, "user_id")?;
            let receiver: Option<Uuid> = get(row, CX, "receiver_id")?;
            let counts = [
                get::<i64>(row, CX, "posts")?,
                get::<i64>(row, CX, "comments")?,
                get::<i64>(row, CX, "likes")?,
                get::<i64>(row, CX, "new_spaces")?,
            ];
            for (interval, p) in PERIODS {
                let start = bucket_start(interval, day);
                let bucket = buckets.entry((space, p, start)).or_default();
                for (i, n) in counts.iter().enumerate() {
                    bucket.all[i] += n;
                    if direct {
                        bucket.direct[i] += n;
                    }
                }
                users.insert((space, p, start, 0, user));
                if direct {
                    users.insert((space, p, start, 1, user));
                }
            }
            if counts[0] > 0 {
                parts.entry((space, day, user)).or_default().0 += counts[0];
            }
            if let (Some(receiver), true) = (receiver, counts[2] > 0) {
                parts.entry((space, day, receiver)).or_default().1 += counts[2];
            }
        }
        // The users new in a bucket are the ones whose row goes in now (a concurrent fold inserting the same
        // row waits for this one and then inserts nothing): each is counted once.
        let user_rows =
            users.iter().map(|(s, p, start, d, u)| vec![v(*s), v(*p), v(*start), v(*d), v(*u)]).collect::<Vec<_>>();
        let fresh = self
            .insert_fold_rows(
                CX,
                "INSERT INTO activity_users (space_id, period, start, direct, user_id)",
                "ON CONFLICT DO NOTHING RETURNING space_id, period, start, direct",
                5,
                user_rows,
            )
            .await?;
        for row in &fresh {
            let space: Uuid = get(row, CX, "space_id")?;
            let p: String = get(row, CX, "period")?;
            let start: DateTime<Utc> = get(row, CX, "start")?;
            let p = PERIODS.iter().map(|(_, name)| *name).find(|name| *name == p).unwrap_or("D");
            let bucket = buckets.entry((space, p, start)).or_default();
            if get::<i64>(row, CX, "direct")? == 1 {
                bucket.direct[ACTIVE] += 1;
            } else {
                bucket.all[ACTIVE] += 1;
            }
        }
        const COLS: [&str; 10] = [
            "posts",
            "comments",
            "likes",
            "new_spaces",
            "active_users",
            "direct_posts",
            "direct_comments",
            "direct_likes",
            "direct_new_spaces",
            "direct_active_users",
        ];
        let bucket_rows = buckets
            .iter()
            .map(|((s, p, start), b)| {
                let mut row = vec![v(*s), v(*p), v(*start)];
                row.extend(b.all.iter().chain(b.direct.iter()).map(|n| v(*n)));
                row
            })
            .collect::<Vec<_>>();
        let adds = COLS.iter().map(|c| format!("{c} = space_activity.{c} + excluded.{c}")).collect::<Vec<_>>();
        self.insert_fold_rows(
            CX,
            &format!("INSERT INTO space_activity (space_id, period, start, {})", COLS.join(", ")),
            &format!("ON CONFLICT (space_id, period, start) DO UPDATE SET {}", adds.join(", ")),
            13,
            bucket_rows,
        )
        .await?;
        let part_rows = parts
            .iter()
            .map(|((s, day, u), (posts, likes))| vec![v(*s), v(*day), v(*u), v(*posts), v(*likes)])
            .collect::<Vec<_>>();
        self.insert_fold_rows(
            CX,
            "INSERT INTO space_contributions (space_id, day, user_id, posts, likes_received)",
            "ON CONFLICT (space_id, day, user_id) DO UPDATE SET \
             posts = space_contributions.posts + excluded.posts, \
             likes_received = space_contributions.likes_received + excluded.likes_received",
            5,
            part_rows,
        )
        .await?;
        Ok(rows.len() as u64)
    }

    async fn activity(
        &self,
        space: SpaceId,
        interval: Interval,
        direct: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> DomainResult<Vec<(DateTime<Utc>, ActivityCounts)>> {
        const CX: &str = "reading activity";
        let pre = if direct { "direct_" } else { "" };
        let sql = format!(
            "SELECT start, {pre}posts AS posts, {pre}comments AS comments, {pre}likes AS likes, \
               {pre}active_users AS active_users, {pre}new_spaces AS new_spaces \
             FROM space_activity WHERE space_id = $1 AND period = $2 AND start >= $3 AND start < $4 \
             ORDER BY start LIMIT {}",
            max_buckets(interval)
        );
        let rows = self.sql().all(CX, &sql, vec![v(space.0), v(period(interval)), v(from), v(to)]).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    get(row, CX, "start")?,
                    ActivityCounts {
                        posts: get(row, CX, "posts")?,
                        comments: get(row, CX, "comments")?,
                        likes: get(row, CX, "likes")?,
                        active_users: get(row, CX, "active_users")?,
                        new_spaces: get(row, CX, "new_spaces")?,
                    },
                ))
            })
            .collect()
    }

    async fn top_contributors(
        &self,
        space: SpaceId,
        since: Option<DateTime<Utc>>,
        first: u32,
    ) -> DomainResult<Vec<Contribution>> {
        const CX: &str = "reading top contributors";
        let since = since.unwrap_or(DateTime::UNIX_EPOCH);
        let sql = format!(
            "SELECT user_id, CAST(SUM(posts) AS BIGINT) AS posts, CAST(SUM(likes_received) AS BIGINT) AS likes \
             FROM space_contributions WHERE space_id = $1 AND day >= $2 \
             GROUP BY user_id ORDER BY 2 DESC, 3 DESC, 1 LIMIT {first}"
        );
        let rows = self.sql().all(CX, &sql, vec![v(space.0), v(since)]).await?;
        rows.iter()
            .map(|row| {
                Ok(Contribution {
                    user: UserId(get(row, CX, "user_id")?),
                    posts: get(row, CX, "posts")?,
                    likes_received: get(row, CX, "likes")?,
                })
            })
            .collect()
    }

    async fn platform_stats(&self) -> DomainResult<PlatformStats> {
        const CX: &str = "reading platform counts";
        let sql = concat!(
            "SELECT (SELECT COUNT(*) FROM users) AS users, ",
            "(SELECT COUNT(*) FROM users WHERE is_coop_member) AS coop_members, ",
            "(SELECT COUNT(*) FROM space_closure c JOIN spaces d ON d.id = c.descendant_id ",
            "  WHERE c.ancestor_id = s.id AND c.depth > 0 AND c.flows AND d.state = 'ACTIVE') AS spaces, ",
            space_total!("total_posts"),
            " AS posts, ",
            space_total!("total_comments"),
            " AS comments, ",
            space_total!("total_post_likes"),
            " AS likes FROM spaces s WHERE s.id = $1"
        );
        let row = self
            .sql()
            .one(CX, sql, vec![v(ROOT_SPACE_ID.0)])
            .await?
            .ok_or_else(|| weco_domain::DomainError::internal(CX, "no root space"))?;
        Ok(PlatformStats {
            users: get(&row, CX, "users")?,
            coop_members: get(&row, CX, "coop_members")?,
            spaces: get(&row, CX, "spaces")?,
            posts: get(&row, CX, "posts")?,
            comments: get(&row, CX, "comments")?,
            likes: get(&row, CX, "likes")?,
        })
    }

    async fn export_batch(
        &self,
        part: ExportPart,
        after: Option<ExportKey>,
        limit: u32,
    ) -> DomainResult<Vec<ExportRow>> {
        self.export_rows(part, after, limit).await
    }

    async fn open_data_name(&self, user: UserId) -> DomainResult<bool> {
        self.sql()
            .scalar("reading open data consent", "SELECT open_data_name AS v FROM users WHERE id = $1", vec![v(user.0)])
            .await
    }

    async fn set_open_data_name(&self, user: UserId, on: bool) -> DomainResult<()> {
        self.sql()
            .exec(
                "recording open data consent",
                "UPDATE users SET open_data_name = $2 WHERE id = $1",
                vec![v(user.0), v(on)],
            )
            .await
            .map(drop)
    }

    async fn map_level(
        &self,
        viewer: Option<UserId>,
        parents: &[SpaceId],
        sort: SpaceSort,
        limit: u32,
    ) -> DomainResult<Vec<MapChild>> {
        const CX: &str = "mapping spaces";
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        // `$1` the limit, `$2` the viewer (the gated sort keys and the access column), then the parents. Direct
        // children of spaces the viewer may access, as `Space.children(depth: DIRECT)` lists them: sorted with
        // the counters of spaces the viewer may not access taken as 0.
        let key = gated_sort_key(sort).expr().unwrap_or("s.id");
        let sql = format!(
            "SELECT * FROM (SELECT e.parent_id AS map_parent, {cols}, \
               ROW_NUMBER() OVER (PARTITION BY e.parent_id ORDER BY {key} DESC, s.id DESC) AS map_rank, \
               COUNT(*) OVER (PARTITION BY e.parent_id) AS map_siblings \
             FROM space_parents e JOIN spaces s ON s.id = e.child_id \
             WHERE e.parent_id IN ({ids}) AND s.state = 'ACTIVE') m \
             WHERE map_rank <= $1 ORDER BY map_parent, map_rank",
            cols = space_with_access_cols(2),
            ids = placeholders(3, parents.len()),
        );
        let mut values = vec![v(i64::from(limit)), viewer_value(viewer)];
        values.extend(uuid_values(parents));
        let rows = self.sql().all(CX, &sql, values).await?;
        rows.iter()
            .map(|row| {
                Ok(MapChild {
                    parent: SpaceId(get(row, CX, "map_parent")?),
                    space: space_from_row(row)?,
                    accessible: get::<i32>(row, CX, "viewer_access")? == 1,
                    siblings: get(row, CX, "map_siblings")?,
                })
            })
            .collect()
    }
}

// ---- the open data export ------------------------------------------------------------------------------------

/// A space no private space is at or above (docs/privacy.md rule 1 for an anonymous visitor).
fn public_space(alias: &str) -> String {
    format!("{alias}.state = 'ACTIVE' AND {alias}.private_above = 0")
}

/// A post an anonymous visitor may see (rule 4): active, with an active appearance in a public space.
fn public_post(alias: &str) -> String {
    format!(
        "{alias}.state = 'ACTIVE' AND EXISTS (SELECT 1 FROM space_posts xa JOIN spaces xs ON xs.id = xa.space_id \
           WHERE xa.post_id = {alias}.id AND xa.state = 'ACTIVE' AND {})",
        public_space("xs")
    )
}

/// The user columns an export reads (never the e-mail address).
const USER_COLS: &str = "u.id AS u_id, u.handle AS u_handle, u.open_data_name AS u_named";

fn export_user(row: &sea_orm::QueryResult) -> DomainResult<Field> {
    const CX: &str = "exporting a user";
    let Some(id) = get::<Option<Uuid>>(row, CX, "u_id")? else { return Ok(Field::User(None)) };
    Ok(Field::User(Some(ExportUser {
        id: UserId(id),
        handle: get(row, CX, "u_handle")?,
        named: get::<bool>(row, CX, "u_named")?,
    })))
}

impl<C: ConnectionTrait> Db<C> {
    pub(crate) async fn export_rows(
        &self,
        part: ExportPart,
        after: Option<ExportKey>,
        limit: u32,
    ) -> DomainResult<Vec<ExportRow>> {
        const CX: &str = "exporting";
        let ExportKey(a, b) = after.unwrap_or(ExportKey(Uuid::nil(), Uuid::nil()));
        let first = after.is_none();
        // `$1`/`$2` the key to start after; `$3` whether this is the first batch (nothing to skip).
        let two = |x: &str, y: &str| format!("($3 = 1 OR {x} > $1 OR ({x} = $1 AND {y} > $2))");
        let one = |x: &str| format!("($3 = 1 OR {x} > $1)");
        let sql = match part {
            ExportPart::Spaces => format!(
                "SELECT s.id, s.handle, s.name, s.description, s.created_at, {USER_COLS} \
                 FROM spaces s LEFT JOIN users u ON u.id = s.creator_id \
                 WHERE {} AND {} ORDER BY s.id LIMIT {limit}",
                public_space("s"),
                one("s.id")
            ),
            ExportPart::Edges => format!(
                "SELECT e.parent_id, e.child_id FROM space_parents e \
                 JOIN spaces p ON p.id = e.parent_id JOIN spaces c ON c.id = e.child_id \
                 WHERE {} AND {} AND {} ORDER BY e.child_id, e.parent_id LIMIT {limit}",
                public_space("p"),
                public_space("c"),
                two("e.child_id", "e.parent_id")
            ),
            ExportPart::Posts => format!(
                "SELECT p.id, p.title, p.text, p.url, p.created_at, p.total_likes, p.total_comments, {USER_COLS} \
                 FROM posts p LEFT JOIN users u ON u.id = p.creator_id \
                 WHERE {} AND {} ORDER BY p.id LIMIT {limit}",
                public_post("p"),
                one("p.id")
            ),
            ExportPart::Comments => format!(
                "SELECT c.id, c.post_id, c.parent_id, c.text, c.created_at, {USER_COLS} \
                 FROM comments c JOIN posts p ON p.id = c.post_id LEFT JOIN users u ON u.id = c.creator_id \
                 WHERE c.state = 'ACTIVE' AND {} AND {} ORDER BY c.id LIMIT {limit}",
                public_post("p"),
                one("c.id")
            ),
            ExportPart::Likes | ExportPart::Ratings => {
                let (table, kind, value, at) = match part {
                    ExportPart::Likes => ("post_likes", "LIKE", "NULL", "r.created_at"),
                    _ => ("post_ratings", "RATING", "r.value", "r.updated_at"),
                };
                format!(
                    "SELECT r.post_id, '{kind}' AS kind, CAST({value} AS BIGINT) AS value, {at} AS created_at, \
                       (SELECT rs.id FROM spaces rs WHERE rs.id = r.space_id AND {}) AS space_id, {USER_COLS} \
                     FROM {table} r JOIN posts p ON p.id = r.post_id LEFT JOIN users u ON u.id = r.user_id \
                     WHERE {} AND {} ORDER BY r.post_id, r.user_id LIMIT {limit}",
                    public_space("rs"),
                    public_post("p"),
                    two("r.post_id", "r.user_id")
                )
            }
        };
        let rows = self.sql().all(CX, &sql, vec![v(a), v(b), v(i64::from(first))]).await?;
        let id = |row: &sea_orm::QueryResult, col: &str| get::<Uuid>(row, CX, col);
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let text = |col: &str| get::<Option<String>>(row, CX, col).map(Field::Text);
            let time = |col: &str| get::<DateTime<Utc>>(row, CX, col).map(|t| Field::Time(Some(t)));
            let (key, fields) = match part {
                ExportPart::Spaces => (
                    ExportKey(id(row, "id")?, Uuid::nil()),
                    vec![
                        Field::Id(Some(id(row, "id")?)),
                        text("handle")?,
                        text("name")?,
                        text("description")?,
                        export_user(row)?,
                        time("created_at")?,
                    ],
                ),
                ExportPart::Edges => (
                    ExportKey(id(row, "child_id")?, id(row, "parent_id")?),
                    vec![Field::Id(Some(id(row, "parent_id")?)), Field::Id(Some(id(row, "child_id")?))],
                ),
                ExportPart::Posts => (
                    ExportKey(id(row, "id")?, Uuid::nil()),
                    vec![
                        Field::Id(Some(id(row, "id")?)),
                        export_user(row)?,
                        text("title")?,
                        text("text")?,
                        text("url")?,
                        time("created_at")?,
                        Field::Text(None),
                        Field::Int(Some(get(row, CX, "total_likes")?)),
                        Field::Int(Some(get(row, CX, "total_comments")?)),
                    ],
                ),
                ExportPart::Comments => (
                    ExportKey(id(row, "id")?, Uuid::nil()),
                    vec![
                        Field::Id(Some(id(row, "id")?)),
                        Field::Id(Some(id(row, "post_id")?)),
                        Field::Id(get(row, CX, "parent_id")?),
                        export_user(row)?,
                        text("text")?,
                        time("created_at")?,
                    ],
                ),
                ExportPart::Likes | ExportPart::Ratings => (
                    ExportKey(id(row, "post_id")?, get::<Option<Uuid>>(row, CX, "u_id")?.unwrap_or_default()),
                    vec![
                        Field::Id(Some(id(row, "post_id")?)),
                        export_user(row)?,
                        text("kind")?,
                        Field::Int(get(row, CX, "value")?),
                        Field::Id(get(row, CX, "space_id")?),
                        time("created_at")?,
                    ],
                ),
            };
            out.push(ExportRow { key, fields });
        }
        if part == ExportPart::Posts && !out.is_empty() {
            self.fill_post_spaces(&mut out).await?;
        }
        Ok(out)
    }

    /// Fills the posts' `space_ids` column: the public spaces each was placed in directly.
    async fn fill_post_spaces(&self, posts: &mut [ExportRow]) -> DomainResult<()> {
        const CX: &str = "exporting posts' spaces";
        let ids: Vec<Uuid> = posts.iter().map(|r| r.key.0).collect();
        let sql = format!(
            "SELECT a.post_id, a.space_id FROM space_posts a JOIN spaces s ON s.id = a.space_id \
             WHERE a.post_id IN ({}) AND a.relationship = 'DIRECT' AND a.state = 'ACTIVE' AND {} \
             ORDER BY a.post_id, a.space_id",
            placeholders(1, ids.len()),
            public_space("s")
        );
        let rows = self.sql().all(CX, &sql, uuid_values(&ids)).await?;
        let mut spaces: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        for row in &rows {
            spaces.entry(get(row, CX, "post_id")?).or_default().push(get::<Uuid>(row, CX, "space_id")?.to_string());
        }
        for post in posts {
            if let Some(list) = spaces.remove(&post.key.0) {
                post.fields[6] = Field::Text(Some(list.join(" ")));
            }
        }
        Ok(())
    }
}
