//! People: follows between users (their counts kept on `users` in the same transaction), profiles, user search
//! (tsvector + GIN on PostgreSQL, FTS5 on SQLite, both kept by the database itself), and the spaces a user
//! belongs to.

use crate::Db;
use crate::accounts::{USER_COLS, user_from_row};
use crate::fragments::{accessible_space, gated_sort_key, not_muted, viewer_value, visible_post};
use crate::holarchy::{space_with_access_cols, space_with_access_from_row};
use crate::posts::{POST_COLS, post_from_row};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Value};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::people::Stream;
use weco_domain::people::ports::{FeedSources, PeopleRepo, Reaction, ReactionKind, SourcesOrder};
use weco_domain::values::{FeedMetric, FeedSort, SpaceSort};
use weco_domain::{
    DomainResult, Page, PageRequest, Post, PostId, ROOT_SPACE_ID, Space, SpaceId, StreamId, User, UserId,
};

/// The words of a user search: letters and digits, everything else separates them (as both engines index
/// handles, names and bios).
fn words(query: &str) -> Vec<String> {
    query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).take(16).collect()
}

/// The query for the backend's full-text engine: every word must match a word of the user or the start of one.
/// Only letters and digits reach the engine, so no input is a syntax error.
fn prefix_query(backend: DbBackend, words: &[String]) -> String {
    if backend == DbBackend::Postgres {
        words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ")
    } else {
        words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ")
    }
}

/// A full-text match of user `u` against the query bound as `$n`.
fn user_text_match(backend: DbBackend, n: usize) -> String {
    if backend == DbBackend::Postgres {
        format!("u.search @@ to_tsquery('simple', ${n})")
    } else {
        format!("u.id IN (SELECT f.user_id FROM users_fts f WHERE users_fts MATCH ${n})")
    }
}

/// A post's own key for a home feed ordering: the same whichever space or user brought the post in, so the post
/// shows once and pages never repeat it. HOT is the post's score, which every one of its feed rows carries.
fn home_key(sort: FeedSort, metric: FeedMetric) -> Key {
    match sort {
        FeedSort::New => Key::Time("p.created_at"),
        FeedSort::Active => Key::Time("p.last_activity_at"),
        FeedSort::Top => Key::Int(match metric {
            FeedMetric::Likes => "p.total_likes",
            FeedMetric::Comments => "p.total_comments",
            FeedMetric::Reposts => "p.total_reposts",
            FeedMetric::Ratings => "p.total_ratings",
            FeedMetric::Links => "p.total_links",
        }),
        FeedSort::Hot => Key::Float("(SELECT MAX(h.hot) FROM space_posts h WHERE h.post_id = p.id)"),
    }
}

impl<C: ConnectionTrait + Send + Sync> Db<C> {
    /// Adds `delta` to one user's count `column`.
    async fn count_user(&self, user: UserId, column: &str, delta: i64) -> DomainResult<()> {
        let sql = format!("UPDATE users SET {column} = {column} + $2 WHERE id = $1");
        self.sql().exec("counting follows", &sql, vec![v(user.0), v(delta)]).await.map(drop)
    }

    /// Writes a stream's spaces and users.
    async fn insert_stream_sources(&self, stream: &Stream) -> DomainResult<()> {
        let sql = self.sql();
        for (table, column, ids) in [
            ("stream_spaces", "space_id", stream.space_ids.iter().map(|s| s.0).collect::<Vec<_>>()),
            ("stream_users", "user_id", stream.user_ids.iter().map(|u| u.0).collect::<Vec<_>>()),
        ] {
            if ids.is_empty() {
                continue;
            }
            let rows: Vec<String> = (0..ids.len()).map(|i| format!("($1, ${})", i + 2)).collect();
            let mut values = vec![v(stream.id.0)];
            values.extend(ids.into_iter().map(v));
            let statement = format!("INSERT INTO {table} (stream_id, {column}) VALUES {}", rows.join(", "));
            sql.exec("writing stream sources", &statement, values).await?;
        }
        Ok(())
    }

    /// Streams selected by `select` (id, owner_id, name, created_at), with their spaces and users.
    async fn load_streams(&self, select: &str, values: Vec<Value>) -> DomainResult<Vec<Stream>> {
        const CX: &str = "loading streams";
        let rows = self.sql().all(CX, select, values).await?;
        let mut streams = Vec::with_capacity(rows.len());
        for row in &rows {
            streams.push(Stream {
                id: StreamId(get::<Uuid>(row, CX, "id")?),
                owner_id: UserId(get::<Uuid>(row, CX, "owner_id")?),
                name: get(row, CX, "name")?,
                space_ids: Vec::new(),
                user_ids: Vec::new(),
                created_at: get::<DateTime<Utc>>(row, CX, "created_at")?,
            });
        }
        if streams.is_empty() {
            return Ok(streams);
        }
        let ids: Vec<StreamId> = streams.iter().map(|s| s.id).collect();
        let sources = format!(
            "SELECT stream_id, space_id AS source, 0 AS is_user FROM stream_spaces WHERE stream_id IN ({list}) \
             UNION ALL SELECT stream_id, user_id, 1 FROM stream_users WHERE stream_id IN ({list})",
            list = placeholders(1, ids.len())
        );
        let mut by_stream: HashMap<Uuid, (Vec<SpaceId>, Vec<UserId>)> = HashMap::new();
        for row in self.sql().all(CX, &sources, uuid_values(&ids)).await? {
            let entry = by_stream.entry(get::<Uuid>(&row, CX, "stream_id")?).or_default();
            let source: Uuid = get(&row, CX, "source")?;
            if get::<i32>(&row, CX, "is_user")? == 1 {
                entry.1.push(UserId(source));
            } else {
                entry.0.push(SpaceId(source));
            }
        }
        for stream in &mut streams {
            if let Some((spaces, users)) = by_stream.remove(&stream.id.0) {
                stream.space_ids = spaces;
                stream.user_ids = users;
            }
        }
        Ok(streams)
    }

    /// A listing of the users on one side of `user_follows`: `mine` names the column that holds `user`, `theirs`
    /// the one joined to the users listed.
    async fn follow_listing(
        &self,
        user: UserId,
        mine: &str,
        theirs: &str,
        page: &PageRequest,
    ) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing follows",
            select: USER_COLS,
            base: format!("FROM user_follows f JOIN users u ON u.id = f.{theirs} WHERE f.{mine} = $1"),
            values: vec![v(user.0)],
            key: Key::Time("f.created_at"),
            id: "u.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> PeopleRepo for Db<C> {
    async fn follow_user(&self, follower: UserId, followed: UserId, at: DateTime<Utc>) -> DomainResult<bool> {
        let added = self
            .sql()
            .exec(
                "following user",
                "INSERT INTO user_follows (follower_id, followed_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                vec![v(follower.0), v(followed.0), v(at)],
            )
            .await?
            > 0;
        if added {
            // Users' rows in id order, as every writer that touches two of them does.
            let (first, second) = if follower < followed {
                ((follower, "total_following"), (followed, "total_followers"))
            } else {
                ((followed, "total_followers"), (follower, "total_following"))
            };
            self.count_user(first.0, first.1, 1).await?;
            self.count_user(second.0, second.1, 1).await?;
        }
        Ok(added)
    }

    async fn unfollow_user(&self, follower: UserId, followed: UserId) -> DomainResult<bool> {
        let removed = self
            .sql()
            .exec(
                "unfollowing user",
                "DELETE FROM user_follows WHERE follower_id = $1 AND followed_id = $2",
                vec![v(follower.0), v(followed.0)],
            )
            .await?
            > 0;
        if removed {
            let (first, second) = if follower < followed {
                ((follower, "total_following"), (followed, "total_followers"))
            } else {
                ((followed, "total_followers"), (follower, "total_following"))
            };
            self.count_user(first.0, first.1, -1).await?;
            self.count_user(second.0, second.1, -1).await?;
        }
        Ok(removed)
    }

    async fn followers(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>> {
        self.follow_listing(user, "followed_id", "follower_id", page).await
    }

    async fn following(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>> {
        self.follow_listing(user, "follower_id", "followed_id", page).await
    }

    async fn follower_counts(&self, users: &[UserId]) -> DomainResult<HashMap<UserId, i64>> {
        if users.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!("SELECT id, total_followers FROM users WHERE id IN ({})", placeholders(1, users.len()));
        let rows = self.sql().all("counting followers", &sql, uuid_values(users)).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    UserId(get::<Uuid>(r, "counting followers", "id")?),
                    get::<i64>(r, "counting followers", "total_followers")?,
                ))
            })
            .collect()
    }

    async fn followed_among(&self, follower: UserId, users: &[UserId]) -> DomainResult<Vec<UserId>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = vec![v(follower.0)];
        values.extend(uuid_values(users));
        let sql = format!(
            "SELECT followed_id FROM user_follows WHERE follower_id = $1 AND followed_id IN ({})",
            placeholders(2, users.len())
        );
        let rows = self.sql().all("reading follows", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "reading follows", "followed_id").map(UserId)).collect()
    }

    async fn update_profile(&self, user: UserId, name: Option<&str>, bio: Option<Option<&str>>) -> DomainResult<()> {
        let mut sets = Vec::new();
        let mut values: Vec<Value> = vec![v(user.0)];
        if let Some(name) = name {
            values.push(v(name));
            sets.push(format!("name = ${}", values.len()));
        }
        if let Some(bio) = bio {
            values.push(v(bio.map(str::to_owned)));
            sets.push(format!("bio = ${}", values.len()));
        }
        if sets.is_empty() {
            return Ok(());
        }
        let sql = format!("UPDATE users SET {} WHERE id = $1", sets.join(", "));
        self.sql().exec("updating profile", &sql, values).await.map(drop)
    }

    async fn search_users(&self, query: &str, page: &PageRequest) -> DomainResult<Page<User>> {
        let words = words(query);
        if words.is_empty() {
            return Ok(Page::from_rows(Vec::new(), page).with_total(0));
        }
        let listing = Listing {
            context: "searching users",
            select: USER_COLS,
            // Deleted accounts' placeholders are not found.
            base: format!("FROM users u WHERE {} AND u.deleted_at IS NULL", user_text_match(self.backend, 1)),
            values: vec![v(prefix_query(self.backend, &words))],
            key: Key::Int("u.total_followers"),
            id: "u.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    async fn user_spaces(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>> {
        let select = space_with_access_cols(2);
        let listing = Listing {
            context: "listing a user's spaces",
            select: &select,
            base: format!(
                "FROM spaces s WHERE s.state = 'ACTIVE' \
                 AND s.id IN (SELECT m.space_id FROM space_moderators m WHERE m.user_id = $1 \
                              UNION SELECT b.space_id FROM space_members b WHERE b.user_id = $1) AND {}",
                accessible_space("s", 2)
            ),
            values: vec![v(user.0), viewer_value(viewer)],
            key: gated_sort_key(SpaceSort::Followers),
            id: "s.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, space_with_access_from_row).await
    }

    async fn sources_feed(
        &self,
        viewer: Option<UserId>,
        sources: FeedSources,
        order: &SourcesOrder,
        page: &PageRequest,
    ) -> DomainResult<Page<Post>> {
        // The viewer is $1 (the nil id when anonymous); the root space (anonymous) or the stream is $2.
        let mut values = vec![viewer_value(viewer)];
        // The followed spaces and users, as (table, its space or user column, its owner column, owner).
        let chosen = match sources {
            FeedSources::Follows if viewer.is_some() => {
                Some((("space_followers", "space_id", "user_id"), ("user_follows", "followed_id", "follower_id"), 1))
            }
            FeedSources::Stream(stream) => {
                values.push(v(stream.0));
                Some((("stream_spaces", "space_id", "stream_id"), ("stream_users", "user_id", "stream_id"), 2))
            }
            FeedSources::Follows => None,
        };
        let sources = if let Some(((spaces, space_col, space_owner), (users, user_col, user_owner), owner)) = chosen {
            format!(
                "SELECT sp.post_id FROM {spaces} f \
                   JOIN spaces s ON s.id = f.{space_col} AND s.state = 'ACTIVE' \
                   JOIN space_posts sp ON sp.space_id = f.{space_col} AND sp.state = 'ACTIVE' \
                 WHERE f.{space_owner} = ${owner} AND {access} \
                 UNION \
                 SELECT sp.post_id FROM {users} uf \
                   JOIN posts cp ON cp.creator_id = uf.{user_col} \
                   JOIN space_posts sp ON sp.post_id = cp.id AND sp.relationship = 'DIRECT' AND sp.state = 'ACTIVE' \
                   JOIN spaces s ON s.id = sp.space_id AND s.state = 'ACTIVE' \
                 WHERE uf.{user_owner} = ${owner} AND {access}",
                access = accessible_space("s", 1)
            )
        } else {
            values.push(v(ROOT_SPACE_ID.0));
            "SELECT sp.post_id FROM space_posts sp WHERE sp.space_id = $2 AND sp.state = 'ACTIVE'".to_owned()
        };
        let mut since = String::new();
        if let Some(at) = order.since {
            values.push(v(at));
            since = format!(" AND p.created_at >= ${}", values.len());
        }
        let listing = Listing {
            context: "reading a feed of followed sources",
            select: POST_COLS,
            base: format!(
                "FROM posts p WHERE p.state = 'ACTIVE' AND p.id IN ({sources}) AND {}{since}",
                not_muted("p.creator_id", 1)
            ),
            values,
            key: home_key(order.sort, order.metric),
            id: "p.id",
            descending: true,
            with_total: false,
        };
        self.sql().page(listing, page, post_from_row).await
    }

    async fn insert_stream(&self, stream: &Stream) -> DomainResult<()> {
        self.sql()
            .exec(
                "creating stream",
                "INSERT INTO streams (id, owner_id, name, created_at) VALUES ($1, $2, $3, $4)",
                vec![v(stream.id.0), v(stream.owner_id.0), v(stream.name.as_str()), v(stream.created_at)],
            )
            .await?;
        self.insert_stream_sources(stream).await
    }

    async fn replace_stream(&self, stream: &Stream) -> DomainResult<()> {
        let sql = self.sql();
        let id = vec![v(stream.id.0)];
        sql.exec(
            "renaming stream",
            "UPDATE streams SET name = $2 WHERE id = $1",
            vec![v(stream.id.0), v(stream.name.as_str())],
        )
        .await?;
        sql.exec("clearing stream spaces", "DELETE FROM stream_spaces WHERE stream_id = $1", id.clone()).await?;
        sql.exec("clearing stream users", "DELETE FROM stream_users WHERE stream_id = $1", id).await?;
        self.insert_stream_sources(stream).await
    }

    async fn delete_stream(&self, stream: StreamId) -> DomainResult<bool> {
        let sql = self.sql();
        let id = vec![v(stream.0)];
        sql.exec("deleting stream spaces", "DELETE FROM stream_spaces WHERE stream_id = $1", id.clone()).await?;
        sql.exec("deleting stream users", "DELETE FROM stream_users WHERE stream_id = $1", id.clone()).await?;
        Ok(sql.exec("deleting stream", "DELETE FROM streams WHERE id = $1", id).await? > 0)
    }

    async fn streams_by_ids(&self, ids: &[StreamId]) -> DomainResult<Vec<Stream>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, owner_id, name, created_at FROM streams WHERE id IN ({}) ORDER BY created_at, id",
            placeholders(1, ids.len())
        );
        self.load_streams(&sql, uuid_values(ids)).await
    }

    async fn streams_of(&self, owner: UserId) -> DomainResult<Vec<Stream>> {
        let sql = "SELECT id, owner_id, name, created_at FROM streams WHERE owner_id = $1 ORDER BY created_at, id";
        self.load_streams(sql, vec![v(owner.0)]).await
    }

    async fn record_reposts(
        &self,
        post: PostId,
        user: UserId,
        spaces: &[SpaceId],
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        for space in spaces {
            self.sql()
                .exec(
                    "recording repost",
                    "INSERT INTO post_reposts (post_id, user_id, space_id, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                    vec![v(post.0), v(user.0), v(space.0), v(at)],
                )
                .await?;
        }
        Ok(())
    }

    async fn reactions(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        kind: ReactionKind,
        page: &PageRequest,
    ) -> DomainResult<Page<Reaction>> {
        let (select, table, key) = match kind {
            ReactionKind::Like => (
                format!("{USER_COLS}, r.created_at AS reacted_at, CAST(NULL AS BIGINT) AS value"),
                "post_likes",
                Key::Time("r.created_at"),
            ),
            ReactionKind::Rating => (
                format!("{USER_COLS}, r.updated_at AS reacted_at, r.value AS value"),
                "post_ratings",
                Key::Time("r.updated_at"),
            ),
            ReactionKind::Repost => (
                format!("{USER_COLS}, r.created_at AS reacted_at, CAST(NULL AS BIGINT) AS value"),
                "post_reposts",
                Key::Time("r.created_at"),
            ),
        };
        // A repost shows only where the viewer may look: into a space they may access, still showing the post
        // there; each user once, by their latest such repost.
        let reposts_seen = if kind == ReactionKind::Repost {
            let seen = |r: &str, s: &str| {
                format!(
                    "EXISTS (SELECT 1 FROM spaces {s} JOIN space_posts {s}p ON {s}p.space_id = {s}.id                        AND {s}p.post_id = {r}.post_id AND {s}p.state = 'ACTIVE'                      WHERE {s}.id = {r}.space_id AND {s}.state = 'ACTIVE' AND {})",
                    accessible_space(s, 1)
                )
            };
            format!(
                " AND {} AND NOT EXISTS (SELECT 1 FROM post_reposts r2 WHERE r2.post_id = r.post_id                    AND r2.user_id = r.user_id AND (r2.created_at > r.created_at                      OR (r2.created_at = r.created_at AND r2.space_id > r.space_id)) AND {})",
                seen("r", "rs"),
                seen("r2", "rs2")
            )
        } else {
            String::new()
        };
        let listing = Listing {
            context: "listing reactions",
            select: &select,
            base: format!(
                "FROM {table} r JOIN users u ON u.id = r.user_id JOIN posts p ON p.id = r.post_id \
                 WHERE r.post_id = $2 AND {} AND {}{reposts_seen}",
                visible_post(1),
                not_muted("r.user_id", 1)
            ),
            values: vec![viewer_value(viewer), v(post.0)],
            key,
            id: "u.id",
            descending: true,
            with_total: true,
        };
        self.sql()
            .page(listing, page, |row| {
                Ok(Reaction {
                    user: user_from_row(row)?,
                    at: get::<DateTime<Utc>>(row, "listing reactions", "reacted_at")?,
                    value: get::<Option<i64>>(row, "listing reactions", "value")?,
                })
            })
            .await
    }

    async fn users_by_handles(&self, handles: &[String]) -> DomainResult<Vec<User>> {
        if handles.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.handle IN ({})", placeholders(1, handles.len()));
        let values = handles.iter().map(|h| v(h.as_str())).collect();
        self.sql().all("finding users by handle", &sql, values).await?.iter().map(user_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_letters_and_digits_reach_the_search_engine() {
        let w = words("Ada  o'Lovelace; DROP\"*");
        assert_eq!(w, vec!["ada", "o", "lovelace", "drop"]);
        assert_eq!(prefix_query(DbBackend::Postgres, &w), "ada:* & o:* & lovelace:* & drop:*");
        assert_eq!(prefix_query(DbBackend::Sqlite, &w[..2]), "\"ada\"* \"o\"*");
        assert!(words("-- !!").is_empty());
    }
}
