//! From the model to rows: every column the running server maintains, computed the way its statements would
//! have computed them, and encoded for the backend (PostgreSQL `COPY` text, or bound values for SQLite).
//!
//! The counters are derived here, in Rust, as the posts pass (a set-based recount after the load would read
//! every table again); what the store defines is taken from it ([`weco_store::schema`]): the stored words, the
//! counters a post's rows copy ([`COPIED_TOTALS`], which also gives the column lists) and both HOT scores.
//! The seed's tests recount every derived value with the store's own definitions
//! (`weco_store::invariants::verify`). What is derived:
//! - `posts`: likes, comments (all of them), ratings and their sum, links (either end), reposts (placements
//!   after the first); `last_activity_at` is the latest comment, or the creation.
//! - `space_posts`: one row per (space, post) where the post appears, with the post's counters copied,
//!   `local_likes` = likes cast in that space or below it (closure, self included), `hot` = [`post_hot`],
//!   `local_hot` = [`local_hot`].
//! - `spaces`: posts, likes and comments summed over the active rows in the space, followers counted, and the
//!   last activity: the latest direct placement or comment that reached the space while the post was there.
//! - `comments.total_replies`: direct replies.
//!
//! Columns the store leaves to the schema's defaults when it inserts (the `state` of spaces, posts and
//! comments) are left out here too.

use super::world::*;
use chrono::{DateTime, Datelike, Timelike, Utc};
use sea_orm::Value;
use std::fmt::Write as _;
use std::sync::LazyLock;
use uuid::Uuid;
use weco_domain::SpacePostState;
use weco_domain::values::Privacy;
use weco_store::schema::{
    COPIED_TOTALS, DIRECT, INDIRECT, POST, REPOST, copied_totals, local_hot, post_hot, post_kinds, privacy,
    space_post_state,
};

/// A table and the columns a seed run fills.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
}

impl Table {
    fn new(name: &'static str, columns: impl IntoIterator<Item = &'static str>) -> Self {
        Self { name, columns: columns.into_iter().collect() }
    }
}

macro_rules! table {
    ($id:ident, $name:literal, [$($col:literal),+ $(,)?]) => {
        pub(crate) static $id: LazyLock<Table> = LazyLock::new(|| Table::new($name, [$($col),+]));
    };
}

table!(
    USERS,
    "users",
    ["id", "handle", "name", "email", "password_hash", "bio", "created_at", "total_followers", "total_following"]
);
table!(USER_FOLLOWS, "user_follows", ["follower_id", "followed_id", "created_at"]);
table!(
    NOTIFICATIONS,
    "notifications",
    ["id", "recipient_id", "kind", "fold_key", "actor_id", "count", "seen", "created_at"]
);
table!(
    SPACES,
    "spaces",
    ["id", "handle", "name", "description", "privacy", "creator_id", "created_at", "last_activity_at", "private_above"]
);
table!(SPACE_PARENTS, "space_parents", ["parent_id", "child_id", "created_at"]);
table!(SPACE_CLOSURE, "space_closure", ["ancestor_id", "descendant_id", "depth", "flows"]);
table!(SPACE_MODERATORS, "space_moderators", ["space_id", "user_id", "created_at"]);
table!(SPACE_MEMBERS, "space_members", ["space_id", "user_id", "created_at"]);
table!(SPACE_FOLLOWERS, "space_followers", ["space_id", "user_id", "created_at"]);
table!(USER_MUTES, "user_mutes", ["user_id", "muted_id", "created_at"]);
/// The post's counters: those its rows copy, in the store's order, then the rating sum.
pub(crate) static POSTS: LazyLock<Table> = LazyLock::new(|| {
    let head = ["id", "creator_id", "title", "text", "url", "kinds", "created_at", "last_activity_at"];
    Table::new("posts", head.into_iter().chain(copied_totals()).chain(["rating_sum"]))
});
table!(POSTS_FTS, "posts_fts", ["post_id", "title", "text"]);
/// A post's row in a space: its sort keys and counters copied from the post, in the store's order.
pub(crate) static SPACE_POSTS: LazyLock<Table> = LazyLock::new(|| {
    let head = ["space_id", "post_id", "relationship", "kind", "state", "creator_id", "created_at", "last_activity_at"];
    Table::new("space_posts", head.into_iter().chain(copied_totals()).chain(["local_likes", "hot", "local_hot"]))
});
table!(POST_LIKES, "post_likes", ["post_id", "user_id", "space_id", "created_at"]);
table!(POST_RATINGS, "post_ratings", ["post_id", "user_id", "value", "space_id", "created_at", "updated_at"]);
table!(COMMENTS, "comments", ["id", "post_id", "parent_id", "creator_id", "text", "created_at", "total_replies"]);
table!(POST_LINKS, "post_links", ["id", "source_id", "target_id", "creator_id", "description", "created_at"]);
table!(
    POLLS,
    "polls",
    [
        "post_id",
        "poll_type",
        "answers_locked",
        "closed_at",
        "voters",
        "results_visibility",
        "anonymous",
        "voter_salt",
        "total_voters",
        "version",
        "created_at",
        "space_id",
        "quorum",
        "threshold",
        "decide_when",
        "decided_at"
    ]
);
table!(
    POLL_ANSWERS,
    "poll_answers",
    [
        "id",
        "post_id",
        "position",
        "text",
        "creator_id",
        "total_votes",
        "total_points",
        "created_at",
        "action_kind",
        "action_handle",
        "action_name",
        "action_user_id"
    ]
);
table!(POLL_BALLOTS, "poll_ballots", ["id", "post_id", "voter_key", "voter_id", "reason", "state", "cast_at"]);
table!(POLL_BALLOT_ENTRIES, "poll_ballot_entries", ["ballot_id", "answer_id", "value"]);
table!(POLL_PAIRS, "poll_pairs", ["post_id", "above_id", "below_id", "ballots"]);
table!(POST_EVENTS, "post_events", ["post_id", "starts_at", "ends_at", "location", "total_going", "total_interested"]);
table!(EVENT_RESPONSES, "event_responses", ["post_id", "user_id", "response", "created_at"]);
table!(JOBS, "jobs", ["id", "kind", "job_key", "due_at", "payload", "max_attempts", "created_at"]);
table!(DECISIONS, "decisions", ["id", "post_id", "space_id", "answer_id", "outcome", "votes", "share", "decided_at"]);
// A scratch table the final space counters are loaded into, then applied with one UPDATE.
table!(
    SPACE_TOTALS,
    "seed_space_totals",
    ["id", "total_posts", "total_post_likes", "total_comments", "total_followers", "last_activity_at",]
);

/// A counter the seed derives for each post, by the store's column name.
#[derive(Debug, Clone, Copy)]
enum PostCounter {
    Likes,
    Comments,
    Reposts,
    Ratings,
    Links,
}

impl PostCounter {
    fn of_column(column: &str) -> Option<Self> {
        Some(match column {
            "total_likes" => Self::Likes,
            "total_comments" => Self::Comments,
            "total_reposts" => Self::Reposts,
            "total_ratings" => Self::Ratings,
            "total_links" => Self::Links,
            _ => return None,
        })
    }
}

/// One post's counters.
struct PostTotals {
    likes: i64,
    comments: i64,
    reposts: i64,
    ratings: i64,
    links: i64,
}

impl PostTotals {
    fn get(&self, counter: PostCounter) -> i64 {
        match counter {
            PostCounter::Likes => self.likes,
            PostCounter::Comments => self.comments,
            PostCounter::Reposts => self.reposts,
            PostCounter::Ratings => self.ratings,
            PostCounter::Links => self.links,
        }
    }
}

/// The counters a post's rows copy, in the store's order ([`COPIED_TOTALS`]); an error names one the seed does
/// not derive, so a counter added to the store cannot be left at zero by a seeded database.
fn copied_counters() -> anyhow::Result<Vec<PostCounter>> {
    copied_totals()
        .map(|column| {
            PostCounter::of_column(column).ok_or_else(|| {
                anyhow::anyhow!(
                    "the store copies the post counter {column} ({COPIED_TOTALS}), which the seed does not derive"
                )
            })
        })
        .collect()
}

/// One value of a row.
pub(crate) enum Cell<'a> {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Str(&'a str),
    OptStr(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Real(f64),
    Bool(bool),
    Time(Secs),
    OptTime(Option<Secs>),
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
        Cell::OptUuid(None) | Cell::OptStr(None) | Cell::OptInt(None) | Cell::OptTime(None) => out.push_str("\\N"),
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
        Cell::Int(i) | Cell::OptInt(Some(i)) => {
            let _ = write!(out, "{i}");
        }
        // Rust prints the shortest text that reads back to the same double; PostgreSQL reads it exactly.
        Cell::Real(f) => {
            let _ = write!(out, "{f}");
        }
        Cell::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Cell::Time(secs) | Cell::OptTime(Some(secs)) => {
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
        Cell::OptInt(i) => Value::BigInt(*i),
        Cell::OptTime(secs) => Value::ChronoDateTimeUtc(secs.map(time)),
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
    /// The counters a post's rows copy, in the store's order.
    copied: Vec<PostCounter>,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(
        community: &'a Community,
        hol: &'a Holarchy,
        encoding: Encoding,
        password_hash: &'a str,
    ) -> anyhow::Result<Self> {
        let totals =
            community.spaces.iter().map(|s| Totals { last_activity: s.created, ..Totals::default() }).collect();
        Ok(Self { community, hol, encoding, password_hash, totals, copied: copied_counters()? })
    }

    fn user(&self, i: u32) -> Uuid {
        self.community.users[i as usize].id
    }

    fn space(&self, i: u32) -> Uuid {
        self.community.spaces[i as usize].id
    }

    /// Users, `per_batch` at a time.
    pub(crate) fn users(&self, per_batch: usize) -> Vec<Batch> {
        // Each user's exact follower and following counts.
        let mut follows = vec![(0i64, 0i64); self.community.users.len()];
        for &(follower, followed, _) in &self.community.user_follows {
            follows[followed as usize].0 += 1;
            follows[follower as usize].1 += 1;
        }
        self.community
            .users
            .chunks(per_batch.max(1))
            .enumerate()
            .map(|(c, chunk)| {
                let mut b = Batch::new(self.encoding);
                for (i, u) in chunk.iter().enumerate() {
                    let (followers, following) = follows[c * per_batch.max(1) + i];
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
                            Cell::Int(followers),
                            Cell::Int(following),
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
                    Cell::Str(privacy(if s.private { Privacy::Private } else { Privacy::Public })),
                    Cell::OptUuid(creator),
                    Cell::Time(s.created),
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
        for &(follower, followed, at) in &self.community.user_follows {
            b.push(&USER_FOLLOWS, &[Cell::Uuid(self.user(follower)), Cell::Uuid(self.user(followed)), Cell::Time(at)]);
        }
        for n in &self.community.notices {
            b.push(
                &NOTIFICATIONS,
                &[
                    Cell::Uuid(n.id),
                    Cell::Uuid(self.user(n.recipient)),
                    Cell::Str(n.kind),
                    Cell::Str(&n.fold_key),
                    Cell::OptUuid(Some(self.user(n.actor))),
                    Cell::Int(n.count),
                    Cell::Bool(n.seen),
                    Cell::Time(n.at),
                ],
            );
        }
        b
    }

    /// A poll's rows: the poll with its tallies, answers, ballots, pairwise counts and decision — what the
    /// store's statements would have left after the same ballots (voters ANYONE, no end time).
    fn poll(&self, p: &Post, poll: &SeedPoll, b: &mut Batch) {
        use weco_domain::polls::governance::{DecideWhen, DecisionOutcome};
        use weco_domain::polls::{PollType, PollVoters};
        use weco_store::schema::{
            action_kind_to_db, decide_when_to_db, outcome_to_db, poll_type_to_db, visibility_to_db, voter_key,
            voters_to_db,
        };
        let n = poll.answers.len();
        let voters = poll.ballots.len() as i64;
        let (mut votes, mut points) = (vec![0i64; n], vec![0i64; n]);
        let mut pairs = vec![vec![0i64; n]; n];
        for (_, entries, _, _) in &poll.ballots {
            for &(answer, value) in entries {
                match poll.kind {
                    PollType::Ranked => votes[answer] += i64::from(value == Some(1)),
                    _ => votes[answer] += 1,
                }
                points[answer] += if poll.kind == PollType::Weighted { value.unwrap_or(0) } else { 0 };
            }
            if poll.kind == PollType::Ranked {
                let ranks: Vec<(usize, i64)> = entries.iter().map(|&(a, v)| (a, v.unwrap_or(0))).collect();
                weco_domain::polls::schulze::add_ranking(&mut pairs, &ranks, 1);
            }
        }
        let governance = poll.governance.as_ref();
        let decided = governance.and_then(|g| g.decided);
        b.push(
            &POLLS,
            &[
                Cell::Uuid(p.id),
                Cell::Str(poll_type_to_db(poll.kind)),
                Cell::Bool(true),
                Cell::OptTime(poll.closed),
                Cell::Str(voters_to_db(PollVoters::Anyone)),
                Cell::Str(visibility_to_db(poll.visibility)),
                Cell::Bool(poll.anonymous),
                Cell::Str(&poll.salt),
                Cell::Int(voters),
                Cell::Int(voters + i64::from(poll.closed.is_some())),
                Cell::Time(p.created),
                Cell::OptUuid(governance.map(|g| self.space(g.space))),
                Cell::OptInt(governance.map(|g| g.quorum)),
                Cell::OptInt(governance.map(|g| g.threshold)),
                Cell::OptStr(governance.map(|_| decide_when_to_db(DecideWhen::AtEnd))),
                Cell::OptTime(decided.map(|(_, at)| at)),
            ],
        );
        for (i, (text, id)) in poll.answers.iter().zip(&poll.answer_ids).enumerate() {
            let action = governance.filter(|g| g.answer == i);
            b.push(
                &POLL_ANSWERS,
                &[
                    Cell::Uuid(*id),
                    Cell::Uuid(p.id),
                    Cell::Int(i as i64),
                    Cell::Str(text),
                    Cell::Uuid(self.user(p.creator)),
                    Cell::Int(votes[i]),
                    Cell::Int(points[i]),
                    Cell::Time(p.created),
                    Cell::OptStr(action.map(|g| action_kind_to_db(g.action))),
                    Cell::OptStr(action.and_then(|g| g.handle)),
                    Cell::OptStr(action.and_then(|g| g.name)),
                    Cell::OptUuid(action.and_then(|g| g.user).map(|u| self.user(u))),
                ],
            );
        }
        for ((voter, entries, reason, at), id) in poll.ballots.iter().zip(&poll.ballot_ids) {
            let key = voter_key(&poll.salt, weco_domain::UserId(self.user(*voter)));
            let voter_id = (!poll.anonymous).then(|| self.user(*voter));
            b.push(
                &POLL_BALLOTS,
                &[
                    Cell::Uuid(*id),
                    Cell::Uuid(p.id),
                    Cell::Str(&key),
                    Cell::OptUuid(voter_id),
                    Cell::OptStr(*reason),
                    Cell::Str("CURRENT"),
                    Cell::Time(*at),
                ],
            );
            for &(answer, value) in entries {
                b.push(
                    &POLL_BALLOT_ENTRIES,
                    &[Cell::Uuid(*id), Cell::Uuid(poll.answer_ids[answer]), Cell::OptInt(value)],
                );
            }
        }
        for (above, row) in pairs.iter().enumerate() {
            for (below, &count) in row.iter().enumerate() {
                if count != 0 {
                    b.push(
                        &POLL_PAIRS,
                        &[
                            Cell::Uuid(p.id),
                            Cell::Uuid(poll.answer_ids[above]),
                            Cell::Uuid(poll.answer_ids[below]),
                            Cell::Int(count),
                        ],
                    );
                }
            }
        }
        if let (Some(g), Some((id, at))) = (governance, decided) {
            // The demo's decided poll passed: its action ran (the child space is among the community's).
            let share = if voters > 0 { votes[g.answer] as f64 / voters as f64 } else { 0.0 };
            b.push(
                &DECISIONS,
                &[
                    Cell::Uuid(id),
                    Cell::Uuid(p.id),
                    Cell::Uuid(self.space(g.space)),
                    Cell::Uuid(poll.answer_ids[g.answer]),
                    Cell::Str(outcome_to_db(DecisionOutcome::Executed)),
                    Cell::Int(votes[g.answer]),
                    Cell::Real(share),
                    Cell::Time(at),
                ],
            );
        }
    }

    /// An event's rows: the event with its totals, its answers, and the reminder the server would have queued
    /// (for an event not started yet), due 15 minutes before the start.
    fn event(&self, p: &Post, e: &SeedEvent, b: &mut Batch) {
        b.push(
            &POST_EVENTS,
            &[
                Cell::Uuid(p.id),
                Cell::Time(e.starts),
                Cell::OptTime(e.ends),
                Cell::OptStr(e.location),
                Cell::Int(e.going.len() as i64),
                Cell::Int(e.interested.len() as i64),
            ],
        );
        for (answers, word) in [(&e.going, "GOING"), (&e.interested, "INTERESTED")] {
            for (u, at) in answers {
                b.push(
                    &EVENT_RESPONSES,
                    &[Cell::Uuid(p.id), Cell::Uuid(self.user(*u)), Cell::Str(word), Cell::Time(*at)],
                );
            }
        }
        if e.coming {
            let lead = weco_domain::calendar::REMINDER_LEAD.num_seconds();
            let starts = time(e.starts).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let payload = format!(r#"{{"post":"{}","startsAt":"{starts}"}}"#, p.id);
            let key = format!("event-reminder:{}", p.id);
            b.push(
                &JOBS,
                &[
                    Cell::Uuid(Uuid::from_u128(p.id.as_u128() ^ 0x0e0e)),
                    Cell::Str(weco_domain::calendar::REMINDER_JOB),
                    Cell::Str(&key),
                    Cell::Time(e.starts - lead),
                    Cell::Str(&payload),
                    Cell::Int(i64::from(weco_domain::jobs::DEFAULT_MAX_ATTEMPTS)),
                    Cell::Time(p.created),
                ],
            );
        }
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
        let hot = post_hot(likes, comments, time(p.created));
        let post_id = p.id;
        let creator = self.user(p.creator);
        let totals = PostTotals { likes, comments, reposts, ratings, links };
        let kinds = post_kinds(&p.kinds());

        let mut cells = Vec::with_capacity(SPACE_POSTS.columns.len());
        cells.extend([
            Cell::Uuid(post_id),
            Cell::Uuid(creator),
            Cell::OptStr(p.title.as_deref()),
            Cell::OptStr(p.text.as_deref()),
            Cell::OptStr(p.url.as_deref()),
            Cell::Str(&kinds),
            Cell::Time(p.created),
            Cell::Time(last_activity),
        ]);
        cells.extend(self.copied.iter().map(|&c| Cell::Int(totals.get(c))));
        cells.push(Cell::Int(rating_sum));
        b.push(&POSTS, &cells);
        if let Some(poll) = &p.poll {
            self.poll(p, poll, b);
        }
        if let Some(event) = &p.event {
            self.event(p, event, b);
        }
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
        let active = space_post_state(SpacePostState::Active);
        for (row, local_likes) in rows.iter().zip(local) {
            cells.clear();
            cells.extend([
                Cell::Uuid(self.space(row.space)),
                Cell::Uuid(post_id),
                Cell::Str(if row.direct { DIRECT } else { INDIRECT }),
                Cell::Str(if row.repost { REPOST } else { POST }),
                Cell::Str(active),
                Cell::Uuid(creator),
                Cell::Time(p.created),
                Cell::Time(last_activity),
            ]);
            cells.extend(self.copied.iter().map(|&c| Cell::Int(totals.get(c))));
            cells.extend([
                Cell::Int(local_likes),
                Cell::Real(hot),
                Cell::Real(local_hot(local_likes, time(p.created))),
            ]);
            b.push(&SPACE_POSTS, &cells);
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
    fn every_counter_the_store_copies_is_derived() {
        assert_eq!(copied_counters().expect("known counters").len(), copied_totals().count());
        let columns = &SPACE_POSTS.columns;
        assert!(copied_totals().all(|c| columns.contains(&c)) && POSTS.columns.contains(&"rating_sum"));
    }

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
