//! Configuration: one typed [`Settings`], read from flags and `WECO_*`/`DATABASE_URL`/`REDIS_URL` environment
//! variables, with defaults that need no servers at all.

use clap::{Args, Parser, Subcommand};
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
            channel_prefix: "weco".into(),
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
