//! `weco seed`: fills a fresh database with a generated community, straight through the real schema.
//!
//! Deterministic: the same seed, preset, counts and reference time (`--now`, by default today at 00:00 UTC)
//! give the same rows, ids included, on either backend. Every seeded user's password is
//! [`SEED_PASSWORD`] (`password`); the one argon2 hash of it is computed once and shared by all of them.
//!
//! The server's CLI (`weco seed`) maps its flags to [`Options`], opens and migrates the database, and calls
//! [`Seeding::run`]; tests call [`run`].
//!
//! How (module by module):
//! - `synth` and `demo` build the model (`world`): users, spaces with their parents and privacy, roles, and
//!   posts with their placements, reposts, likes, ratings, comments and links; `chats` writes the demo's chats
//!   once the rest is loaded.
//! - `world::Holarchy` derives the closure table (shortest depths), the flow rule (docs/privacy.md rule 2) and
//!   each area's audience from the edges, the way the store's set-based SQL would.
//! - `rows` computes every counter and denormalised column the running server keeps (`space_posts` rows,
//!   local likes, hot scores, space and post counters) and encodes the rows, with the store's stored words,
//!   copied counters and scores (`weco_store::schema`).
//! - `sink` loads them in one transaction (`COPY` on PostgreSQL, multi-row INSERTs on SQLite) with
//!   secondary indexes and foreign keys dropped during the load and rebuilt after, then analyses.
//!
//! Generation runs on a blocking thread and hands chunks to the loader through a small bounded channel, so
//! the two overlap and memory stays flat (posts are generated 10,000 at a time). The tests recount every
//! derived value of a seeded database with the store's definitions (`weco_store::invariants::verify`).

mod chats;
mod demo;
mod progress;
mod rows;
mod sink;
mod synth;
mod words;
mod world;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use progress::{Progress, Step};
use rows::{Batch, Encoding, Rows};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use weco_store::SeaStore;
use world::{Community, Holarchy, Link, Post, Secs};

/// The password of every seeded user.
pub const SEED_PASSWORD: &str = "password";

/// How much to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub spaces: u32,
    pub users: u32,
    pub posts: u32,
    pub likes: u64,
    pub comments: u64,
    pub ratings: u64,
    pub links: u32,
    /// Follows besides each creator's own.
    pub follows: u64,
    /// Share of spaces that are private.
    pub private_share: f64,
    /// Share of spaces with a second parent.
    pub multi_parent_share: f64,
    /// Share of posts created in two spaces.
    pub multi_space_share: f64,
    /// Share of posts reposted into another space.
    pub repost_share: f64,
}

impl Plan {
    /// The benchmark data set.
    pub fn default_preset() -> Self {
        Self {
            spaces: 10_000,
            users: 100_000,
            posts: 1_000_000,
            likes: 5_000_000,
            comments: 1_000_000,
            ratings: 500_000,
            links: 20_000,
            follows: 300_000,
            private_share: 0.03,
            multi_parent_share: 0.05,
            multi_space_share: 0.08,
            repost_share: 0.015,
        }
    }

    /// Small enough for tests.
    pub fn small_preset() -> Self {
        Self {
            spaces: 200,
            users: 500,
            posts: 5_000,
            likes: 20_000,
            comments: 5_000,
            ratings: 2_000,
            links: 200,
            follows: 1_500,
            ..Self::default_preset()
        }
    }

    /// The preset's plan with `overrides` applied, checked.
    fn new(preset: Preset, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut plan = match preset {
            Preset::Default => Self::default_preset(),
            Preset::Small => Self::small_preset(),
            Preset::Demo => {
                if !overrides.is_empty() {
                    bail!("the demo preset is hand-written: counts and shares do not apply to it");
                }
                // Unused: the demo generator has its own fixed content.
                return Ok(Self::small_preset());
            }
        };
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = overrides.$field { plan.$field = v; })* };
        }
        set!(spaces, users, posts, likes, comments, ratings, links, follows);
        set!(private_share, multi_parent_share, multi_space_share, repost_share);
        if plan.spaces == 0 || plan.users == 0 {
            bail!("--spaces and --users must be at least 1");
        }
        for (name, share) in [
            ("--private-share", plan.private_share),
            ("--multi-parent-share", plan.multi_parent_share),
            ("--multi-space-share", plan.multi_space_share),
            ("--repost-share", plan.repost_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                bail!("{name} must be between 0 and 1");
            }
        }
        Ok(plan)
    }
}

/// Which data set to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// For benchmarks: 10,000 spaces, 100,000 users, 1,000,000 posts, 5,000,000 likes.
    Default,
    /// For tests: 200 spaces, 500 users, 5,000 posts, 20,000 likes.
    Small,
    /// A small, readable community to explore in GraphiQL.
    Demo,
}

/// Counts and shares that replace the preset's (the `weco seed` flags of the same names).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Spaces besides the root.
    pub spaces: Option<u32>,
    pub users: Option<u32>,
    pub posts: Option<u32>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub ratings: Option<u64>,
    pub links: Option<u32>,
    /// Follows besides each creator's own.
    pub follows: Option<u64>,
    pub private_share: Option<f64>,
    pub multi_parent_share: Option<f64>,
    pub multi_space_share: Option<f64>,
    pub repost_share: Option<f64>,
}

impl Overrides {
    /// Whether no count or share was given.
    pub fn is_empty(&self) -> bool {
        [self.spaces, self.users, self.posts, self.links].iter().all(Option::is_none)
            && [self.likes, self.comments, self.ratings, self.follows].iter().all(Option::is_none)
            && [self.private_share, self.multi_parent_share, self.multi_space_share, self.repost_share]
                .iter()
                .all(Option::is_none)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub preset: Preset,
    /// Random seed: the same seed, counts and `now` give the same rows, ids included.
    pub seed: u64,
    /// The reference time everything is dated back from (RFC 3339); `None`: today at 00:00 UTC.
    pub now: Option<String>,
    pub overrides: Overrides,
    /// No progress output.
    pub quiet: bool,
}

impl Options {
    /// The preset with the default seed (42), today as the reference time, and progress output.
    pub fn new(preset: Preset) -> Self {
        Self { preset, seed: 42, now: None, overrides: Overrides::default(), quiet: false }
    }

    /// Checks the options (counts, shares, the reference time) before anything touches a database.
    pub fn prepare(&self) -> anyhow::Result<Seeding> {
        let started = Instant::now();
        let plan = Plan::new(self.preset, &self.overrides)?;
        let now = reference_time(self.now.as_deref())?;
        Ok(Seeding { started, preset: self.preset, plan, now, seed: self.seed, quiet: self.quiet })
    }
}

/// A checked seed run, ready to fill a database.
#[derive(Debug, Clone)]
pub struct Seeding {
    /// When the run started (the report's total counts from here, opening the database included).
    started: Instant,
    preset: Preset,
    plan: Plan,
    now: Secs,
    seed: u64,
    quiet: bool,
}

/// Fills the fresh database behind `store` as `options` say; `database` names it in messages (a URL with its
/// password masked, say).
pub async fn run(store: &SeaStore, database: &str, options: &Options) -> anyhow::Result<Report> {
    options.prepare()?.run(store, database).await
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub preset: Preset,
    pub seed: u64,
    pub now: DateTime<Utc>,
    /// Rows written per table, in load order.
    pub rows: Vec<(&'static str, u64)>,
    /// Time per step.
    pub steps: Vec<(&'static str, Duration)>,
    pub total: Duration,
    /// Facts about the shape of the data (depths, privacy, skew).
    pub notes: Vec<String>,
}

impl Report {
    pub fn rows_in(&self, table: &str) -> u64 {
        self.rows.iter().find(|(t, _)| *t == table).map_or(0, |(_, n)| *n)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seeded preset {:?} with seed {} (reference time {})",
            self.preset,
            self.seed,
            self.now.to_rfc3339()
        )?;
        writeln!(f, "rows:")?;
        for (table, n) in &self.rows {
            writeln!(f, "  {table:<18} {n:>12}")?;
        }
        writeln!(f, "shape:")?;
        for note in &self.notes {
            writeln!(f, "  {note}")?;
        }
        writeln!(f, "time:")?;
        for (step, took) in &self.steps {
            writeln!(f, "  {step:<18} {:>9.1} s", took.as_secs_f64())?;
        }
        writeln!(f, "  {:<18} {:>9.1} s", "total", self.total.as_secs_f64())?;
        write!(f, "every seeded user's password is \"{SEED_PASSWORD}\"")
    }
}

/// The reference time: `--now`, or today at 00:00 UTC (so runs on the same day produce the same data).
fn reference_time(now: Option<&str>) -> anyhow::Result<Secs> {
    match now {
        Some(raw) => Ok(DateTime::parse_from_rfc3339(raw)
            .with_context(|| format!("--now {raw:?} is not an RFC 3339 time (like 2026-01-01T00:00:00Z)"))?
            .timestamp()),
        None => Ok(Utc::now().date_naive().and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())),
    }
}

/// Seeding adds to nothing: it would break unique handles and make the counters lie.
async fn refuse_unless_fresh(conn: &DatabaseConnection, database: &str) -> anyhow::Result<()> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM spaces) AS spaces, \
             (SELECT COUNT(*) FROM posts) AS posts",
        ))
        .await
        .context("checking the database is empty")?
        .context("checking the database is empty: no row")?;
    let (users, spaces, posts): (i64, i64, i64) =
        (row.try_get("", "users")?, row.try_get("", "spaces")?, row.try_get("", "posts")?);
    if users > 0 || spaces > 1 || posts > 0 {
        bail!(
            "the database at {} is not empty ({users} users, {spaces} spaces, {posts} posts): `weco seed` only \
             fills a fresh database; point --database-url (or DATABASE_URL) at a new one, or drop this one first",
            database
        );
    }
    Ok(())
}

/// Posts to generate: a synthetic skeleton expanded chunk by chunk, or the demo's hand-written posts.
enum Content {
    Synthetic(Box<synth::Skeleton>),
    Demo(Vec<Post>),
}

/// What generation hands the loader.
enum Msg {
    /// A new step of `total` units.
    Step(&'static str, u64),
    /// Rows, and how many units of the current step they complete.
    Batch(Batch, u64),
}

struct Shared {
    seed: u64,
    now: Secs,
    community: Community,
    hol: Holarchy,
    password_hash: String,
}

/// Generates every row and sends it down `tx`; returns notes on the shape of the data.
fn generate(
    shared: &Shared,
    content: Content,
    links: &[Link],
    encoding: Encoding,
    tx: &mpsc::Sender<Msg>,
) -> anyhow::Result<Vec<String>> {
    let send = |msg: Msg| tx.blocking_send(msg).map_err(|_| anyhow::anyhow!("the loader stopped"));
    let mut rows = Rows::new(&shared.community, &shared.hol, encoding, &shared.password_hash)?;
    send(Msg::Step("users", shared.community.users.len() as u64))?;
    for batch in rows.users(20_000) {
        let n = batch.rows();
        send(Msg::Batch(batch, n))?;
    }
    let holarchy = rows.holarchy();
    send(Msg::Step("holarchy", holarchy.rows()))?;
    let n = holarchy.rows();
    send(Msg::Batch(holarchy, n))?;

    let mut tally = Tally::default();
    match content {
        Content::Synthetic(skeleton) => {
            let total = skeleton.id.len();
            send(Msg::Step("posts", total as u64))?;
            for index in 0..total.div_ceil(synth::CHUNK) {
                let posts = synth::chunk(shared.seed, shared.now, &shared.community, &shared.hol, &skeleton, index);
                let batch = tally.add(&posts, &mut rows, encoding);
                send(Msg::Batch(batch, posts.len() as u64))?;
            }
        }
        Content::Demo(posts) => {
            send(Msg::Step("posts", posts.len() as u64))?;
            let batch = tally.add(&posts, &mut rows, encoding);
            send(Msg::Batch(batch, posts.len() as u64))?;
        }
    }
    send(Msg::Step("links", links.len() as u64))?;
    send(Msg::Batch(rows.links(links), links.len() as u64))?;
    let totals = rows.totals();
    send(Msg::Step("counters", totals.rows()))?;
    let n = totals.rows();
    send(Msg::Batch(totals, n))?;
    Ok(shape_notes(shared, tally))
}

/// Counts kept while posts pass, for the report.
#[derive(Default)]
struct Tally {
    likes: Vec<u32>,
    multi_space: u64,
    reposted: u64,
}

impl Tally {
    fn add(&mut self, posts: &[Post], rows: &mut Rows<'_>, encoding: Encoding) -> Batch {
        let mut batch = Batch::new(encoding);
        for p in posts {
            rows.post(p, &mut batch);
            self.likes.push(p.likes.len() as u32);
            self.multi_space += u64::from(p.spaces.len() > 1);
            self.reposted += u64::from(!p.reposts.is_empty());
        }
        batch
    }
}

fn shape_notes(shared: &Shared, tally: Tally) -> Vec<String> {
    let Tally { mut likes, multi_space, reposted } = tally;
    let (community, hol) = (&shared.community, &shared.hol);
    let mut by_depth = [0u64; 16];
    for anc in hol.ancestors.iter().skip(1) {
        let depth = anc.first().map_or(0, |&(_, d)| d as usize);
        by_depth[depth.min(15)] += 1;
    }
    let deepest = by_depth.iter().rposition(|&n| n > 0).unwrap_or(0);
    let depths: Vec<String> = (1..=deepest).map(|d| format!("{d}:{}", by_depth[d])).collect();
    let private = community.spaces.iter().filter(|s| s.private).count();
    let in_private = hol.area.iter().filter(|&&a| hol.areas[a as usize].audience.is_some()).count();
    let multi_parent = community.spaces.iter().filter(|s| s.parents.len() > 1).count();
    likes.sort_unstable_by(|a, b| b.cmp(a));
    let total_likes: u64 = likes.iter().map(|&n| u64::from(n)).sum();
    let top = likes.len().div_ceil(100);
    let top_likes: u64 = likes.iter().take(top).map(|&n| u64::from(n)).sum();
    let none = likes.iter().filter(|&&n| n == 0).count();
    vec![
        format!("spaces by depth below `all`: {}", depths.join(" ")),
        format!(
            "{private} private spaces ({in_private} spaces behind one), {multi_parent} with two parents, \
             {} closure rows",
            hol.closure_rows()
        ),
        format!("{multi_space} posts created in two spaces, {reposted} reposted"),
        format!(
            "likes: most on one post {}, top 1% of posts hold {:.0}%, {:.0}% of posts have none",
            likes.first().copied().unwrap_or(0),
            100.0 * top_likes as f64 / total_likes.max(1) as f64,
            100.0 * none as f64 / likes.len().max(1) as f64
        ),
    ]
}

impl Seeding {
    /// Generates the data set and loads it into the database behind `store`, which must be migrated and hold
    /// nothing yet (refused otherwise); `database` names it in messages.
    pub async fn run(self, store: &SeaStore, database: &str) -> anyhow::Result<Report> {
        let Seeding { started, preset, plan, now, seed, quiet } = self;
        let progress = Progress::new(quiet);
        let mut steps: Vec<(&'static str, Duration)> = Vec::new();
        let conn = store.connection();
        refuse_unless_fresh(conn, database).await?;

        let step = progress.step("generate", 0);
        let (shared, content, links) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let password_hash = weco_domain::auth::hash_password(SEED_PASSWORD)?;
            let (community, content, links) = match preset {
                Preset::Demo => {
                    let (community, posts, links) = demo::build(seed, now);
                    (community, Content::Demo(posts), links)
                }
                _ => {
                    let users = synth::users(&plan, seed, now);
                    let community = synth::community(&plan, seed, now, users);
                    let hol = Holarchy::derive(&community);
                    let mut skeleton = synth::skeleton(&plan, seed, now, &community, &hol);
                    let links = synth::links(&plan, seed, now, &community, &hol, &mut skeleton);
                    (community, Content::Synthetic(Box::new(skeleton)), links)
                }
            };
            let hol = Holarchy::derive(&community);
            Ok((Arc::new(Shared { seed, now, community, hol, password_hash }), content, links))
        })
        .await??;
        steps.push((
            "generate holarchy",
            step.finish(&format!(
                "{} users, {} spaces",
                shared.community.users.len(),
                shared.community.spaces.len() - 1
            )),
        ));

        let mut writer = sink::Writer::begin(conn).await?;
        let encoding = writer.encoding();
        let dropped = writer.drop_indexes().await?;
        writer.create_totals_table().await?;

        let (tx, mut rx) = mpsc::channel::<Msg>(2);
        let generator = {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || generate(&shared, content, &links, encoding, &tx))
        };
        let mut rows: Vec<(&'static str, u64)> = Vec::new();
        let mut current: Option<(&'static str, Step)> = None;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Step(name, total) => {
                    if let Some((name, step)) = current.take() {
                        steps.push((name, step.finish("loaded")));
                    }
                    current = Some((name, progress.step(name, total)));
                }
                Msg::Batch(batch, units) => {
                    for t in &batch.tables {
                        match rows.iter_mut().find(|(name, _)| *name == t.table.name) {
                            Some((_, n)) => *n += t.rows,
                            None => rows.push((t.table.name, t.rows)),
                        }
                    }
                    if let Some((_, step)) = &current {
                        step.message(&format!("{} MB", batch.bytes() >> 20));
                    }
                    writer.write(batch).await?;
                    if let Some((_, step)) = &mut current {
                        step.inc(units);
                    }
                }
            }
        }
        let notes = generator.await.context("the generator panicked")??;
        if let Some((name, step)) = current.take() {
            steps.push((name, step.finish("loaded")));
        }
        rows.retain(|(table, _)| *table != rows::SPACE_TOTALS.name);

        let mut step = progress.step("indexes", dropped as u64);
        writer.apply_totals().await?;
        let mut rebuilds: Vec<(String, Duration)> = Vec::new();
        writer
            .restore_indexes(|name, took| {
                step.message(name);
                step.inc(1);
                rebuilds.push((name.to_owned(), took));
            })
            .await?;
        rebuilds.sort_by_key(|(_, took)| std::cmp::Reverse(*took));
        let slowest: Vec<String> = rebuilds
            .iter()
            .take(5)
            .filter(|(_, took)| took.as_secs_f64() >= 0.1)
            .map(|(name, took)| format!("{name} {:.1} s", took.as_secs_f64()))
            .collect();
        let mut notes = notes;
        if !slowest.is_empty() {
            notes.push(format!("slowest index and constraint rebuilds: {}", slowest.join(", ")));
        }
        writer.commit().await?;
        steps.push(("indexes", step.finish(&format!("{dropped} indexes and constraints rebuilt"))));
        if preset == Preset::Demo {
            let (chats, messages) = chats::write(conn, seed, now, &shared.community).await?;
            rows.push(("chats", chats));
            rows.push(("chat_messages", messages));
        }

        let step = progress.step("analyze", 0);
        sink::analyze(conn).await.context("analysing")?;
        steps.push(("analyze", step.finish("statistics updated")));

        let report = Report {
            preset,
            seed,
            now: DateTime::from_timestamp(now, 0).unwrap_or_default(),
            rows,
            steps,
            total: started.elapsed(),
            notes,
        };
        progress.say(&format!("done in {:.1} s", report.total.as_secs_f64()));
        Ok(report)
    }
}
