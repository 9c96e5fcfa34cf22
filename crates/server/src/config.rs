//! Configuration: one typed [`Settings`], read from flags and `WECO_*`/`DATABASE_URL`/`REDIS_URL` environment
//! variables, with defaults that need no servers at all.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt;

/// The server's settings.
#[derive(Args, Clone)]
pub struct Settings {
    /// Database: `sqlite://PATH?mode=rwc` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://weco.db?mode=rwc")]
    pub database_url: String,

    /// Redis for events between replicas; without it events stay in this process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "WECO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Secret that signs bearer tokens; by default a random one per start (tokens then die with the process).
    #[arg(long, env = "WECO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Do not run migrations at start.
    #[arg(long)]
    pub no_migrate: bool,

    /// Database connection pool size.
    #[arg(long, env = "WECO_DB_POOL", default_value_t = 16)]
    pub db_pool: u32,

    /// How long a websocket client may take to send `connection_init`, in milliseconds.
    #[arg(long, env = "WECO_WS_INIT_TIMEOUT_MS", default_value_t = 10_000)]
    pub ws_init_timeout_ms: u64,

    /// How long a post subscriber's right to see the post may go unchecked while events flow, in milliseconds.
    #[arg(long, env = "WECO_SUBSCRIPTION_ACCESS_RECHECK_MS", default_value_t = 15_000)]
    pub subscription_access_recheck_ms: u64,

    /// Prefix of the event channels (`{prefix}:space:{id}`); replicas sharing a Redis must share it.
    #[arg(long, env = "WECO_CHANNEL_PREFIX", default_value = "weco")]
    pub channel_prefix: String,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "WECO_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Most operations in one batched request.
    #[arg(long, env = "WECO_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Deepest selection nesting a query may have.
    #[arg(long, env = "WECO_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,

    /// Highest complexity score a query may have (roughly: fields times page sizes).
    #[arg(long, env = "WECO_MAX_COMPLEXITY", default_value_t = 5_000)]
    pub max_complexity: usize,

    /// Requests per minute per client (user when logged in, IP otherwise); 0 turns the limit off.
    #[arg(long, env = "WECO_RATE_LIMIT_PER_MINUTE", default_value_t = 1_200)]
    pub rate_limit_per_minute: u32,

    /// How many requests a client may send at once before the per-minute rate applies.
    #[arg(long, env = "WECO_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,

    /// Longest time a request may take, in seconds (408 beyond).
    #[arg(long, env = "WECO_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Origins browsers may call the API from (comma-separated); `*` allows any. Bearer tokens, not cookies,
    /// carry identity, so a wide setting does not expose sessions.
    #[arg(long, env = "WECO_CORS_ORIGINS", default_value = "*", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Origins allowed to open websockets (comma-separated); empty allows any (non-browser clients send none).
    #[arg(long, env = "WECO_WS_ORIGINS", value_delimiter = ',')]
    pub ws_origins: Vec<String>,

    /// Take the client address for rate limiting from the first `X-Forwarded-For` entry: set it only behind a
    /// proxy that writes that header, or clients could pick their own address.
    #[arg(long, env = "WECO_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Log format: `text` or `json`.
    #[arg(long, env = "WECO_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

impl Settings {
    /// Defaults for `database_url`, as if no flag or variable were given — except that rate limiting is off,
    /// which suits tests and tools.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: None,
            listen: "127.0.0.1:0".into(),
            jwt_secret: None,
            no_migrate: false,
            db_pool: 16,
            ws_init_timeout_ms: 10_000,
            subscription_access_recheck_ms: 15_000,
            max_body_bytes: 1_048_576,
            max_batch: 10,
            max_depth: 16,
            max_complexity: 5_000,
            rate_limit_per_minute: 0,
            rate_limit_burst: 200,
            request_timeout_secs: 30,
            cors_origins: vec!["*".into()],
            ws_origins: Vec::new(),
            trust_forwarded_for: false,
            channel_prefix: "weco".into(),
            log_format: "text".into(),
        }
    }
}

/// Secrets stay out of logs and debug output.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("listen", &self.listen)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("no_migrate", &self.no_migrate)
            .field("db_pool", &self.db_pool)
            .finish()
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((auth, host)) = rest.split_once('@') else { return url.to_owned() };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// `weco`: the Weco server and its tools.
#[derive(Parser, Debug)]
#[command(name = "weco", version, about = "Weco: a cooperatively owned social network of nested communities")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    Serve,
    /// Apply or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL schema (SDL) to standard output.
    PrintSchema,
    /// Fill a fresh database with a generated community (every seeded user's password is `password`).
    Seed(Box<SeedArgs>),
}

/// Which data set `weco seed` generates.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedPreset {
    /// For benchmarks: 10,000 spaces, 100,000 users, 1,000,000 posts, 5,000,000 likes.
    Default,
    /// For tests: 200 spaces, 500 users, 5,000 posts, 20,000 likes.
    Small,
    /// A small, readable community to explore in GraphiQL.
    Demo,
}

/// `weco seed`: generate a realistic community, deterministically, into the configured database (which is
/// migrated first and must hold no users). Counts override the preset's.
#[derive(Args, Debug, Clone)]
pub struct SeedArgs {
    /// Database to fill, if not the one in the global settings (so `weco seed --database-url …` works too).
    #[arg(long)]
    pub database_url: Option<String>,
    /// The data set.
    #[arg(long, value_enum, default_value_t = SeedPreset::Default)]
    pub preset: SeedPreset,
    /// Shorthand for `--preset demo`.
    #[arg(long)]
    pub demo: bool,
    /// Random seed: the same seed, counts and `--now` give the same rows, ids included.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The reference time everything is dated back from (RFC 3339); default: today at 00:00 UTC.
    #[arg(long)]
    pub now: Option<String>,
    /// Spaces besides the root.
    #[arg(long)]
    pub spaces: Option<u32>,
    #[arg(long)]
    pub users: Option<u32>,
    #[arg(long)]
    pub posts: Option<u32>,
    #[arg(long)]
    pub likes: Option<u64>,
    #[arg(long)]
    pub comments: Option<u64>,
    #[arg(long)]
    pub ratings: Option<u64>,
    /// Links between posts.
    #[arg(long)]
    pub links: Option<u32>,
    /// Space follows besides each creator's own.
    #[arg(long)]
    pub follows: Option<u64>,
    /// Share of spaces that are private, 0 to 1 (default 0.03).
    #[arg(long)]
    pub private_share: Option<f64>,
    /// Share of spaces with a second parent, 0 to 1 (default 0.05).
    #[arg(long)]
    pub multi_parent_share: Option<f64>,
    /// Share of posts created in two spaces, 0 to 1 (default 0.08).
    #[arg(long)]
    pub multi_space_share: Option<f64>,
    /// Share of posts reposted into another space, 0 to 1 (default 0.015).
    #[arg(long)]
    pub repost_share: Option<f64>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

impl SeedArgs {
    pub fn preset(&self) -> SeedPreset {
        if self.demo { SeedPreset::Demo } else { self.preset }
    }

    /// Whether any count or share was given.
    pub fn has_counts(&self) -> bool {
        [self.spaces, self.users, self.posts, self.links].iter().any(Option::is_some)
            || [self.likes, self.comments, self.ratings, self.follows].iter().any(Option::is_some)
            || [self.private_share, self.multi_parent_share, self.multi_space_share, self.repost_share]
                .iter()
                .any(Option::is_some)
    }
}

#[derive(Subcommand, Debug, Clone, Copy)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(redact_url("postgres://weco:s3cret@db:5432/weco"), "postgres://weco:***@db:5432/weco");
        assert_eq!(redact_url("sqlite://weco.db?mode=rwc"), "sqlite://weco.db?mode=rwc");
    }

    #[test]
    fn debug_output_never_shows_the_token_secret() {
        let mut s = Settings::for_database("sqlite::memory:");
        s.jwt_secret = Some("topsecret".into());
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
