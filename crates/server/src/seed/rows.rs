//! From the model to rows: every column the running server maintains, computed the way its statements would
//! have computed them, and encoded for the backend (PostgreSQL `COPY` text, or bound values for SQLite).
//!
//! The counters follow crates/store exactly:
//! - `posts`: likes, comments (all of them), ratings and their sum, links (either end), reposts (placements
//!   after the first); `last_activity_at` is the latest comment, or the creation.
//! - `space_posts`: one row per (space, post) where the post appears, with the post's counters copied,
//!   `local_likes` = likes cast in that space or below it (closure, self included), `hot` =
//!   `hot_score(likes + comments, created_at)`, `local_hot` = `hot_score(local_likes, created_at)`.
//! - `spaces`: posts, likes and comments summed over the active rows in the space, followers counted, and the
//!   last activity: the latest direct placement or comment that reached the space while the post was there.
//! - `comments.total_replies`: direct replies.

use super::world::*;
use chrono::{DateTime, Datelike, Timelike, Utc};
use sea_orm::Value;
use std::fmt::Write as _;
use uuid::Uuid;
use weco_domain::values::hot_score;

/// A table and the columns a seed run fills.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
}

macro_rules! table {
    ($id:ident, $name:literal, [$($col:literal),+ $(,)?]) => {
        pub(crate) const $id: Table = Table { name: $name, columns: &[$($col),+] };
    };
}

table!(USERS, "users", ["id", "handle", "name", "email", "password_hash", "bio", "created_at"]);
table!(
    SPACES,
    "spaces",
    [
        "id",
        "handle",
        "name",
        "description",
        "privacy",
        "creator_id",
        "created_at",
        "state",
        "last_activity_at",
        "private_above"
    ]
);
table!(SPACE_PARENTS, "space_parents", ["parent_id", "child_id", "created_at"]);
table!(SPACE_CLOSURE, "space_closure", ["ancestor_id", "descendant_id", "depth", "flows"]);
table!(SPACE_MODERATORS, "space_moderators", ["space_id", "user_id", "created_at"]);
table!(SPACE_MEMBERS, "space_members", ["space_id", "user_id", "created_at"]);
table!(SPACE_FOLLOWERS, "space_followers", ["space_id", "user_id", "created_at"]);
table!(USER_MUTES, "user_mutes", ["user_id", "muted_id", "created_at"]);
table!(
    POSTS,
    "posts",
    [
        "id",
        "creator_id",
        "title",
        "text",
        "url",
        "kinds",
        "state",
        "created_at",
        "last_activity_at",
        "total_likes",
        "total_comments",
        "total_reposts",
        "total_ratings",
        "rating_sum",
        "total_links",
    ]
);
table!(POSTS_FTS, "posts_fts", ["post_id", "title", "text"]);
table!(
    SPACE_POSTS,
    "space_posts",
    [
        "space_id",
        "post_id",
        "relationship",
        "kind",
        "state",
        "creator_id",
        "created_at",
        "last_activity_at",
        "total_likes",
        "total_comments",
        "total_reposts",
        "total_ratings",
        "total_links",
        "local_likes",
        "hot",
        "local_hot",
    ]
);
table!(POST_LIKES, "post_likes", ["post_id", "user_id", "space_id", "created_at"]);
table!(POST_RATINGS, "post_ratings", ["post_id", "user_id", "value", "space_id", "created_at", "updated_at"]);
table!(
    COMMENTS,
    "comments",
    ["id", "post_id", "parent_id", "creator_id", "text", "state", "created_at", "total_replies"]
);
table!(POST_LINKS, "post_links", ["id", "source_id", "target_id", "creator_id", "description", "created_at"]);
// A scratch table the final space counters are loaded into, then applied with one UPDATE.
table!(
    SPACE_TOTALS,
    "seed_space_totals",
    ["id", "total_posts", "total_post_likes", "total_comments", "total_followers", "last_activity_at",]
);

/// One value of a row.
pub(crate) enum Cell<'a> {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Str(&'a str),
    OptStr(Option<&'a str>),
    Int(i64),
    Real(f64),
    Bool(bool),
    Time(Secs),
}

/// How rows travel to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// PostgreSQL `COPY … FROM STDIN` text format.
    Copy,
    /// Values bound to multi-row INSERTs (SQLite), exactly as the store binds them.
    Values,
}

pub(crate) enum Data {
    Copy(String),
    Values(Vec<Value>),
}

/// Rows for one table.
pub(crate) struct TableRows {
    pub table: &'static Table,
    pub rows: u64,
    pub data: Data,
}

fn time(secs: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl TableRows {
    fn push(&mut self, cells: &[Cell<'_>]) {
        debug_assert_eq!(cells.len(), self.table.columns.len(), "{}", self.table.name);
        self.rows += 1;
        match &mut self.data {
            Data::Copy(out) => {
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push('\t');
                    }
                    copy_cell(out, cell);
                }
                out.push('\n');
            }
            Data::Values(values) => values.extend(cells.iter().map(value)),
        }
    }
}

fn copy_cell(out: &mut String, cell: &Cell<'_>) {
    match cell {
        Cell::Uuid(u) | Cell::OptUuid(Some(u)) => {
            out.push_str(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        }
        Cell::OptUuid(None) | Cell::OptStr(None) => out.push_str("\\N"),
        Cell::Str(s) | Cell::OptStr(Some(s)) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // Rust prints the shortest text that reads back to the same double; PostgreSQL reads it exactly.
        Cell::Real(f) => {
            let _ = write!(out, "{f}");
        }
        Cell::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Cell::Time(secs) => {
            let t = time(*secs);
            let _ = write!(
                out,
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+00",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        }
    }
}

fn value(cell: &Cell<'_>) -> Value {
    match cell {
        Cell::Uuid(u) => Value::Uuid(Some(*u)),
        Cell::OptUuid(u) => Value::Uuid(*u),
        Cell::Str(s) => Value::String(Some((*s).to_owned())),
        Cell::OptStr(s) => Value::String(s.map(str::to_owned)),
        Cell::Int(i) => Value::BigInt(Some(*i)),
        Cell::Real(f) => Value::Double(Some(*f)),
        Cell::Bool(b) => Value::Bool(Some(*b)),
        Cell::Time(secs) => Value::ChronoDateTimeUtc(Some(time(*secs))),
    }
}

/// Rows for several tables, in the order they must be written (referenced rows first).
pub(crate) struct Batch {
    pub encoding: Encoding,
    pub tables: Vec<TableRows>,
}

impl Batch {
    pub(crate) fn new(encoding: Encoding) -> Self {
        Self { encoding, tables: Vec::new() }
    }

    pub(crate) fn push(&mut self, table: &'static Table, cells: &[Cell<'_>]) {
        let i = match self.tables.iter().position(|t| std::ptr::eq(t.table, table)) {
            Some(i) => i,
            None => {
                let data = match self.encoding {
                    Encoding::Copy => Data::Copy(String::new()),
                    Encoding::Values => Data::Values(Vec::new()),
                };
                self.tables.push(TableRows { table, rows: 0, data });
                self.tables.len() - 1
            }
        };
        self.tables[i].push(cells);
    }

    pub(crate) fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| match &t.data {
                Data::Copy(s) => s.len(),
                Data::Values(v) => v.len() * 16,
            })
            .sum()
    }
}

/// A space's counters as the posts pass by.
#[derive(Default, Clone, Copy)]
struct Totals {
    posts: i64,
    likes: i64,
    comments: i64,
    last_activity: Secs,
}

/// Turns the model into rows, keeping the spaces' counters as it goes.
pub(crate) struct Rows<'a> {
    community: &'a Community,
    hol: &'a Holarchy,
    encoding: Encoding,
    password_hash: &'a str,
    totals: Vec<Totals>,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(community: &'a Community, hol: &'a Holarchy, encoding: Encoding, password_hash: &'a str) -> Self {
        let totals =
            community.spaces.iter().map(|s| Totals { last_activity: s.created, ..Totals::default() }).collect();
        Self { community, hol, encoding, password_hash, totals }
    }

    fn user(&self, i: u32) -> Uuid {
        self.community.users[i as usize].id
    }

    fn space(&self, i: u32) -> Uuid {
        self.community.spaces[i as usize].id
    }

    /// Users, `per_batch` at a time.
    pub(crate) fn users(&self, per_batch: usize) -> Vec<Batch> {
        self.community
            .users
            .chunks(per_batch.max(1))
            .map(|chunk| {
                let mut b = Batch::new(self.encoding);
                for u in chunk {
                    b.push(
                        &USERS,
                        &[
                            Cell::Uuid(u.id),
                            Cell::Str(&u.handle),
                            Cell::Str(&u.name),
                            Cell::Str(&u.email),
                            Cell::Str(self.password_hash),
                            Cell::OptStr(u.bio.as_deref()),
                            Cell::Time(u.joined),
                        ],
                    );
                }
                b
            })
            .collect()
    }

    /// Spaces (counters zero for now), edges, closure, roles and mutes.
    pub(crate) fn holarchy(&self) -> Batch {
        let mut b = Batch::new(self.encoding);
        let spaces = &self.community.spaces;
        for (i, s) in spaces.iter().enumerate().skip(1) {
            let creator = s.creator.map(|c| self.user(c));
            let private_above = self.hol.ancestors[i].iter().filter(|&&(a, _)| spaces[a as usize].private).count();
            b.push(
                &SPACES,
                &[
                    Cell::Uuid(s.id),
                    Cell::Str(&s.handle),
                    Cell::Str(&s.name),
                    Cell::Str(&s.description),
                    Cell::Str(if s.private { "PRIVATE" } else { "PUBLIC" }),
                    Cell::OptUuid(creator),
                    Cell::Time(s.created),
                    Cell::Str("ACTIVE"),
                    Cell::Time(s.created),
                    Cell::Int(private_above as i64),
                ],
            );
        }
        for s in spaces.iter().skip(1) {
            for &(parent, at) in &s.parents {
                b.push(&SPACE_PARENTS, &[Cell::Uuid(self.space(parent)), Cell::Uuid(s.id), Cell::Time(at)]);
            }
        }
        for (d, ancestors) in self.hol.ancestors.iter().enumerate().skip(1) {
            for &(a, depth) in ancestors {
                b.push(
                    &SPACE_CLOSURE,
                    &[
                        Cell::Uuid(self.space(a)),
                        Cell::Uuid(spaces[d].id),
                        Cell::Int(i64::from(depth)),
                        Cell::Bool(self.hol.flows(a, d as u32)),
                    ],
                );
            }
        }
        for (table, roles) in [
            (&SPACE_MODERATORS, &self.community.moderators),
            (&SPACE_MEMBERS, &self.community.members),
            (&SPACE_FOLLOWERS, &self.community.followers),
        ] {
            for r in roles {
                b.push(table, &[Cell::Uuid(self.space(r.space)), Cell::Uuid(self.user(r.user)), Cell::Time(r.at)]);
            }
        }
        for &(user, muted, at) in &self.community.mutes {
            b.push(&USER_MUTES, &[Cell::Uuid(self.user(user)), Cell::Uuid(self.user(muted)), Cell::Time(at)]);
        }
        b
    }

    /// A post with its appearances, likes, ratings and comments.
    pub(crate) fn post(&mut self, p: &Post, b: &mut Batch) {
        let rows = appearances(self.hol, &p.spaces, p.created, &p.reposts);
        let likes = p.likes.len() as i64;
        let comments = p.comments.len() as i64;
        let ratings = p.ratings.len() as i64;
        let rating_sum: i64 = p.ratings.iter().map(|r| r.value).sum();
        let reposts = p.total_reposts(&rows);
        let links = i64::from(p.links);
        let last_comment = p.comments.iter().map(|c| c.at).max();
        let last_activity = last_comment.unwrap_or(p.created).max(p.created);
        let hot = hot_score(likes + comments, time(p.created));
        let post_id = p.id;
        let creator = self.user(p.creator);

        b.push(
            &POSTS,
            &[
                Cell::Uuid(post_id),
                Cell::Uuid(creator),
                Cell::OptStr(p.title.as_deref()),
                Cell::OptStr(p.text.as_deref()),
                Cell::OptStr(p.url.as_deref()),
                Cell::Str(p.kinds()),
                Cell::Str("ACTIVE"),
                Cell::Time(p.created),
                Cell::Time(last_activity),
                Cell::Int(likes),
                Cell::Int(comments),
                Cell::Int(reposts),
                Cell::Int(ratings),
                Cell::Int(rating_sum),
                Cell::Int(links),
            ],
        );
        if self.encoding == Encoding::Values {
            // SQLite's FTS5 table; PostgreSQL derives its tsvector column by itself.
            b.push(
                &POSTS_FTS,
                &[
                    Cell::Uuid(post_id),
                    Cell::Str(p.title.as_deref().unwrap_or_default()),
                    Cell::Str(p.text.as_deref().unwrap_or_default()),
                ],
            );
        }

        // Local likes: each like counts in every row at or above the space it was cast in.
        let mut local = vec![0i64; rows.len()];
        for like in &p.likes {
            let Some(cast) = like.space else { continue };
            for &(a, _) in &self.hol.ancestors[cast as usize] {
                if let Ok(i) = rows.binary_search_by_key(&a, |r| r.space) {
                    local[i] += 1;
                }
            }
        }
        for (row, local_likes) in rows.iter().zip(local) {
            b.push(
                &SPACE_POSTS,
                &[
                    Cell::Uuid(self.space(row.space)),
                    Cell::Uuid(post_id),
                    Cell::Str(if row.direct { "DIRECT" } else { "INDIRECT" }),
                    Cell::Str(if row.repost { "REPOST" } else { "POST" }),
                    Cell::Str("ACTIVE"),
                    Cell::Uuid(creator),
                    Cell::Time(p.created),
                    Cell::Time(last_activity),
                    Cell::Int(likes),
                    Cell::Int(comments),
                    Cell::Int(reposts),
                    Cell::Int(ratings),
                    Cell::Int(links),
                    Cell::Int(local_likes),
                    Cell::Real(hot),
                    Cell::Real(hot_score(local_likes, time(p.created))),
                ],
            );
            let t = &mut self.totals[row.space as usize];
            t.posts += 1;
            t.likes += likes;
            t.comments += comments;
            if let Some(at) = row.placed {
                t.last_activity = t.last_activity.max(at);
            }
            // Each comment sets the last activity of the spaces the post is in at that moment.
            if let Some(at) = last_comment.filter(|&at| at >= row.since) {
                t.last_activity = t.last_activity.max(at);
            }
        }

        for like in &p.likes {
            b.push(
                &POST_LIKES,
                &[
                    Cell::Uuid(post_id),
                    Cell::Uuid(self.user(like.user)),
                    Cell::OptUuid(like.space.map(|s| self.space(s))),
                    Cell::Time(like.at),
                ],
            );
        }
        for r in &p.ratings {
            b.push(
                &POST_RATINGS,
                &[
                    Cell::Uuid(post_id),
                    Cell::Uuid(self.user(r.user)),
                    Cell::Int(r.value),
                    Cell::OptUuid(r.space.map(|s| self.space(s))),
                    Cell::Time(r.at),
                    Cell::Time(r.at),
                ],
            );
        }
        let mut replies = vec![0i64; p.comments.len()];
        for c in &p.comments {
            if let Some(parent) = c.parent {
                replies[parent as usize] += 1;
            }
        }
        for (c, replies) in p.comments.iter().zip(replies) {
            b.push(
                &COMMENTS,
                &[
                    Cell::Uuid(c.id),
                    Cell::Uuid(post_id),
                    Cell::OptUuid(c.parent.map(|i| p.comments[i as usize].id)),
                    Cell::Uuid(self.user(c.creator)),
                    Cell::Str(&c.text),
                    Cell::Str("ACTIVE"),
                    Cell::Time(c.at),
                    Cell::Int(replies),
                ],
            );
        }
    }

    pub(crate) fn links(&self, links: &[Link]) -> Batch {
        let mut b = Batch::new(self.encoding);
        for l in links {
            b.push(
                &POST_LINKS,
                &[
                    Cell::Uuid(l.id),
                    Cell::Uuid(l.source),
                    Cell::Uuid(l.target),
                    Cell::Uuid(self.user(l.creator)),
                    Cell::Str(l.description),
                    Cell::Time(l.at),
                ],
            );
        }
        b
    }

    /// Every space's final counters, root included, for the scratch table.
    pub(crate) fn totals(&self) -> Batch {
        let mut followers = vec![0i64; self.totals.len()];
        for f in &self.community.followers {
            followers[f.space as usize] += 1;
        }
        let mut b = Batch::new(self.encoding);
        for (i, t) in self.totals.iter().enumerate() {
            b.push(
                &SPACE_TOTALS,
                &[
                    Cell::Uuid(self.community.spaces[i].id),
                    Cell::Int(t.posts),
                    Cell::Int(t.likes),
                    Cell::Int(t.comments),
                    Cell::Int(followers[i]),
                    Cell::Time(t.last_activity),
                ],
            );
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_formats() {
        let mut b = Batch::new(Encoding::Copy);
        b.push(
            &POST_LINKS,
            &[
                Cell::Uuid(Uuid::from_u128(1)),
                Cell::OptUuid(None),
                Cell::Uuid(Uuid::nil()),
                Cell::Int(-3),
                Cell::Str("a\tb\\c\nd"),
                Cell::Time(86_400 + 61),
            ],
        );
        let Data::Copy(text) = &b.tables[0].data else { panic!("copy data") };
        assert_eq!(
            text,
            "00000000-0000-0000-0000-000000000001\t\\N\t00000000-0000-0000-0000-000000000000\t-3\ta\\tb\\\\c\\nd\t1970-01-02 00:01:01+00\n"
        );
    }
}
