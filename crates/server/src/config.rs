//! Configuration: one typed [`Settings`], with defaults that need no servers at all, read from (lowest
//! precedence first) an optional TOML file named by `--config`/`WECO_CONFIG`, the `WECO_*`/`DATABASE_URL`/
//! `REDIS_URL` environment variables, and flags.
//!
//! The file's keys are the settings' names (`database_url`, `max_depth`, `cors_origins = ["…"]`; every key
//! is in `deploy/weco.example.toml`). It is read only when named: a `weco.toml` lying in the working
//! directory is not picked up by itself. A key the server does not know is an error, so a typo cannot pass
//! unnoticed. [`Cli::load`] turns each key that neither a flag nor a variable sets into the flag it stands
//! for, so clap parses and checks every value, whatever its source, the same way.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The server's settings.
#[derive(Args, Clone)]
pub struct Settings {
    /// Database: `sqlite://PATH?mode=rwc` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://weco.db?mode=rwc")]
    pub database_url: String,

    /// PostgreSQL streaming replicas that answer reads (comma-separated URLs). A user's reads go to a replica
    /// that has replayed their last write, or to the primary (`DATABASE_URL`) when none has.
    #[arg(long, env = "WECO_DATABASE_REPLICA_URLS", value_delimiter = ',')]
    pub database_replica_urls: Vec<String>,

    /// Redis for events between replicas; without it events stay in this process.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// A Redis Cluster for events between replicas instead of one Redis, by the URLs of some of its nodes
    /// (comma-separated; the others are discovered). Events then use sharded pub/sub, so channels spread
    /// over the cluster's shards. Not together with `--redis-url`.
    #[arg(long, env = "WECO_REDIS_CLUSTER_URLS", value_delimiter = ',')]
    pub redis_cluster_urls: Vec<String>,

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

    /// PostgreSQL `plan_cache_mode` of the server's sessions. The default, `force_generic_plan`, plans each
    /// prepared statement once per connection: every statement is a keyed range scan whose best plan does not
    /// depend on its values, and re-planning it per execution cost PostgreSQL more than running it. `auto` is
    /// PostgreSQL's own default; empty leaves the database's setting. Ignored on SQLite.
    #[arg(long, env = "WECO_DB_PLAN_CACHE_MODE", default_value = "force_generic_plan")]
    pub db_plan_cache_mode: String,

    /// How long a websocket client may take to send `connection_init`, in milliseconds.
    #[arg(long, env = "WECO_WS_INIT_TIMEOUT_MS", default_value_t = 10_000)]
    pub ws_init_timeout_ms: u64,

    /// Prefix of the event channels (`{prefix}:space:{id}`); replicas sharing a Redis must share it.
    #[arg(long, env = "WECO_CHANNEL_PREFIX", default_value = "weco")]
    pub channel_prefix: String,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "WECO_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    pub max_body_bytes: usize,

    /// Largest websocket message accepted, in bytes; a client sending more is disconnected with close code
    /// 1009 (message too big).
    #[arg(long, env = "WECO_WS_MAX_MESSAGE_BYTES", default_value_t = 65_536)]
    pub ws_max_message_bytes: usize,

    /// Most operations in one batched request.
    #[arg(long, env = "WECO_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,

    /// Deepest selection nesting a query may have.
    #[arg(long, env = "WECO_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,

    /// Deepest nesting of brackets (`{`, `[`, `(`) a GraphQL document may have: deeper documents are refused
    /// before they are parsed, because the parser recurses once per level on a 2 MiB worker stack, which about
    /// 1,200 levels overflow in release builds and 300 in debug builds (see `nesting.rs`).
    #[arg(
        long,
        env = "WECO_MAX_NESTING",
        default_value_t = 128,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_nesting: usize,

    /// Highest cost a query may have: a field costs 1, a connection `first` times what one of its items
    /// selects (so nested connections multiply). Refused queries get code `VALIDATION`, and so are documents
    /// whose fragments expand to more selections than this, before validation. While it runs, an operation may
    /// resolve at most twice this many fields and list items (lists whose length the cost cannot know, such as
    /// `ancestors`, count by their length), beyond which it is stopped with `RESPONSE_TOO_LARGE`.
    #[arg(long, env = "WECO_MAX_COMPLEXITY", default_value_t = 50_000)]
    pub max_complexity: usize,

    /// Requests per minute per client (user when logged in, IP otherwise); 0 turns the limit off.
    #[arg(long, env = "WECO_RATE_LIMIT_PER_MINUTE", default_value_t = 1_200)]
    pub rate_limit_per_minute: u32,

    /// How many requests a client may send at once before the per-minute rate applies.
    #[arg(long, env = "WECO_RATE_LIMIT_BURST", default_value_t = 200)]
    pub rate_limit_burst: u32,

    /// Failed logins in a row an account may have before each further attempt on it waits: after this many,
    /// attempts are refused with `RATE_LIMITED` for a delay that starts at one second and doubles with each
    /// further failure, up to `login_max_delay_secs`; a successful login clears the count. Counted per
    /// replica, in memory. 0 turns the account throttle off.
    #[arg(long, env = "WECO_LOGIN_FAILURES_BEFORE_DELAY", default_value_t = 5)]
    pub login_failures_before_delay: u32,

    /// Failed logins in a row one client address may have (whatever accounts they name) before its attempts
    /// wait as above. Higher than the account's, since many people may share an address. 0 turns it off.
    #[arg(long, env = "WECO_LOGIN_ADDRESS_FAILURES_BEFORE_DELAY", default_value_t = 20)]
    pub login_address_failures_before_delay: u32,

    /// The longest delay a throttled account or address waits between login attempts, in seconds.
    #[arg(long, env = "WECO_LOGIN_MAX_DELAY_SECS", default_value_t = 900)]
    pub login_max_delay_secs: u64,

    /// Largest response one operation may send, in bytes: an operation that resolves more text than this is
    /// stopped, and a response larger once serialized is replaced, by an error with code `RESPONSE_TOO_LARGE`
    /// (over HTTP and websockets). What ran stays done: a mutation keeps its writes.
    #[arg(long, env = "WECO_MAX_RESPONSE_BYTES", default_value_t = 16_777_216)]
    pub max_response_bytes: usize,

    /// Most operations (subscriptions included) one websocket may have in progress; one more is refused with an
    /// `error` carrying code `RATE_LIMITED`, and the connection stays open. 0 means no limit.
    #[arg(long, env = "WECO_WS_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub ws_max_subscriptions: usize,

    /// Most websockets one client address may hold open on this replica; one more is refused before the
    /// upgrade with status 429 and code `RATE_LIMITED`. 0 means no limit.
    #[arg(long, env = "WECO_WS_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub ws_max_connections_per_address: usize,

    /// Serve `/metrics` on this address instead of the main one (for example `0.0.0.0:9090`, reachable by the
    /// metrics scraper only); unset, `/metrics` is on the main address.
    #[arg(long, env = "WECO_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,

    /// Answer introspection queries (`__schema`, `__type`). GraphiQL and code generators need them; a
    /// deployment may turn them off (`false`) to keep the schema from strangers. `__typename` always works.
    #[arg(long, env = "WECO_INTROSPECTION", default_value_t = true, action = ArgAction::Set)]
    pub introspection: bool,

    /// Suggest field names in validation errors ("Did you mean …?"); `false` keeps errors from spelling out
    /// the schema when introspection is off.
    #[arg(long, env = "WECO_FIELD_SUGGESTIONS", default_value_t = true, action = ArgAction::Set)]
    pub field_suggestions: bool,

    /// Longest time a request may take, in seconds (408 beyond); over websockets, each query, mutation and
    /// subscription event (`TIMEOUT` beyond).
    #[arg(long, env = "WECO_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Longest time a request may take, in milliseconds; when set, it replaces `--request-timeout-secs`.
    #[arg(long, env = "WECO_REQUEST_TIMEOUT_MS")]
    pub request_timeout_ms: Option<u64>,

    /// Origins browsers may call the API from (comma-separated); `*` allows any. Bearer tokens, not cookies,
    /// carry identity, so a wide setting does not expose sessions.
    #[arg(long, env = "WECO_CORS_ORIGINS", default_value = "*", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Origins allowed to open websockets (comma-separated); `*` allows any. Unset (or empty), websockets
    /// follow `cors_origins`: any origin when that is `*`, else only the origins it lists. Clients that send no
    /// `Origin` (not browsers) are always served.
    #[arg(long, env = "WECO_WS_ORIGINS", value_delimiter = ',')]
    pub ws_origins: Vec<String>,

    /// How long, in milliseconds, a replica keeps what it read about a session (whether a token's session is
    /// open): at most one read per session and bound. A session ended (`logout`, `logoutEverywhere`, a
    /// password change) on one replica is refused there at once, but its token may keep working on other
    /// replicas for up to this long, and their websockets close within about twice this. 0 reads the session
    /// on every request (and websockets look every second).
    #[arg(long, env = "WECO_SESSION_CACHE_MS", default_value_t = 5_000)]
    pub session_cache_ms: u64,

    /// Take the client address for rate limiting from the last `X-Forwarded-For` entry (the one the proxy in
    /// front added): set it only behind one proxy that writes that header, or clients could pick their own
    /// address.
    #[arg(long, env = "WECO_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Handles of the platform's admins (comma-separated): they grant and revoke membership of the cooperative.
    #[arg(long, env = "WECO_ADMINS", value_delimiter = ',')]
    pub admins: Vec<String>,

    /// The SMTP server account mail (password resets, e-mail verification) is sent through:
    /// `smtp://host:port` (plain), `smtp://host?tls=required` (STARTTLS), `smtps://user:password@host` (TLS).
    /// Unset: mail is off, and each mail not sent is logged (without its token).
    #[arg(long, env = "WECO_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The sender of account mail, e.g. `Weco <noreply@example.org>`.
    #[arg(long, env = "WECO_MAIL_FROM", default_value = "Weco <noreply@localhost>")]
    pub mail_from: String,

    /// How long a mailed password reset token works, in seconds (at least 60).
    #[arg(long, env = "WECO_PASSWORD_RESET_TTL_SECS", default_value_t = 3_600)]
    pub password_reset_ttl_secs: u64,

    /// How long a mailed e-mail verification token works, in seconds (at least 60).
    #[arg(long, env = "WECO_EMAIL_VERIFICATION_TTL_SECS", default_value_t = 172_800)]
    pub email_verification_ttl_secs: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "WECO_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    /// A test hook that makes the server misbehave on purpose: `abort-after-commit` aborts the process right
    /// after a unit of work that announced events commits, before they are published (what the outbox must survive). Never set
    /// it in production.
    #[arg(long, env = "WECO_FAILPOINT", hide = true)]
    pub failpoint: Option<String>,

    /// Open data exports (`GET /export/{table}.ndjson`) that may stream at once on this server; more are
    /// refused with 429 and `RATE_LIMITED`. 0 turns the HTTP export off (404).
    #[arg(long, env = "WECO_EXPORT_CONCURRENCY", default_value_t = 2)]
    pub export_concurrency: usize,

    /// The secret the HTTP export's pseudonyms are derived from, with the UTC day (replicas must share it);
    /// by default the token secret.
    #[arg(long, env = "WECO_EXPORT_SALT", hide_env_values = true)]
    pub export_salt: Option<String>,

    /// The server's clock when not the system's: set only by code (tests fix the time of what they write with
    /// it), never from the command line or the environment.
    #[arg(skip)]
    pub clock: Option<std::sync::Arc<dyn weco_domain::ports::Clock>>,
    /// Media uploads and URL cards (docs/media.md).
    #[command(flatten)]
    pub media: crate::media::MediaSettings,
}

impl Settings {
    /// Defaults for `database_url`, as if no flag or variable were given — except that rate limiting is off,
    /// which suits tests and tools.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            database_replica_urls: Vec::new(),
            redis_url: None,
            redis_cluster_urls: Vec::new(),
            listen: "127.0.0.1:0".into(),
            jwt_secret: None,
            no_migrate: false,
            db_pool: 16,
            db_plan_cache_mode: "force_generic_plan".into(),
            ws_init_timeout_ms: 10_000,
            max_body_bytes: 1_048_576,
            ws_max_message_bytes: 65_536,
            max_batch: 10,
            max_depth: 16,
            max_nesting: 128,
            max_complexity: 50_000,
            rate_limit_per_minute: 0,
            rate_limit_burst: 200,
            login_failures_before_delay: 5,
            login_address_failures_before_delay: 20,
            login_max_delay_secs: 900,
            max_response_bytes: 16_777_216,
            ws_max_subscriptions: 100,
            ws_max_connections_per_address: 256,
            metrics_listen: None,
            introspection: true,
            field_suggestions: true,
            request_timeout_secs: 30,
            request_timeout_ms: None,
            cors_origins: vec!["*".into()],
            ws_origins: Vec::new(),
            session_cache_ms: 5_000,
            trust_forwarded_for: false,
            admins: Vec::new(),
            smtp_url: None,
            mail_from: "Weco <noreply@localhost>".into(),
            password_reset_ttl_secs: 3_600,
            email_verification_ttl_secs: 172_800,
            channel_prefix: "weco".into(),
            log_format: "text".into(),
            failpoint: None,
            export_concurrency: 2,
            export_salt: None,
            clock: None,
            media: crate::media::MediaSettings::default(),
        }
    }
}

impl Settings {
    /// The origins allowed to open websockets: `ws_origins`, or when it lists none, the CORS origins unless
    /// they allow any (an empty list allows any origin).
    pub fn effective_ws_origins(&self) -> Vec<String> {
        let listed = |list: &[String]| -> Vec<String> {
            list.iter().map(|o| o.trim()).filter(|o| !o.is_empty()).map(str::to_owned).collect()
        };
        let ws = listed(&self.ws_origins);
        if !ws.is_empty() {
            return ws;
        }
        let cors = listed(&self.cors_origins);
        if cors.iter().any(|o| o == "*") { Vec::new() } else { cors }
    }

    /// Longest time a request may take: `request_timeout_ms` when set (at least 1 ms), else
    /// `request_timeout_secs` (at least 1 s).
    pub fn request_timeout(&self) -> Duration {
        match self.request_timeout_ms {
            Some(ms) => Duration::from_millis(ms.max(1)),
            None => Duration::from_secs(self.request_timeout_secs.max(1)),
        }
    }
}

/// Every setting, with secrets kept out of logs and debug output: the token secret is never shown, and
/// passwords in URLs are masked.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "database_replica_urls",
                &self.database_replica_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>(),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_cluster_urls", &self.redis_cluster_urls.iter().map(|u| redact_url(u)).collect::<Vec<_>>())
            .field("listen", &self.listen)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("no_migrate", &self.no_migrate)
            .field("db_pool", &self.db_pool)
            .field("db_plan_cache_mode", &self.db_plan_cache_mode)
            .field("ws_init_timeout_ms", &self.ws_init_timeout_ms)
            .field("channel_prefix", &self.channel_prefix)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("ws_max_message_bytes", &self.ws_max_message_bytes)
            .field("max_batch", &self.max_batch)
            .field("max_depth", &self.max_depth)
            .field("max_nesting", &self.max_nesting)
            .field("max_complexity", &self.max_complexity)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("login_failures_before_delay", &self.login_failures_before_delay)
            .field("login_address_failures_before_delay", &self.login_address_failures_before_delay)
            .field("login_max_delay_secs", &self.login_max_delay_secs)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("ws_max_subscriptions", &self.ws_max_subscriptions)
            .field("ws_max_connections_per_address", &self.ws_max_connections_per_address)
            .field("metrics_listen", &self.metrics_listen)
            .field("introspection", &self.introspection)
            .field("field_suggestions", &self.field_suggestions)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("cors_origins", &self.cors_origins)
            .field("ws_origins", &self.ws_origins)
            .field("session_cache_ms", &self.session_cache_ms)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("admins", &self.admins)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("password_reset_ttl_secs", &self.password_reset_ttl_secs)
            .field("email_verification_ttl_secs", &self.email_verification_ttl_secs)
            .field("log_format", &self.log_format)
            .field("failpoint", &self.failpoint)
            .field("export_concurrency", &self.export_concurrency)
            .field("export_salt", &self.export_salt.as_ref().map(|_| "***"))
            .field("clock", &self.clock.as_ref().map(|_| "fixed by code"))
            .field("media", &self.media)
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

const SETTINGS_HELP: &str = "\
Settings come from, lowest precedence first: built-in defaults, the --config file (read only when one is
named), environment variables, flags. Give settings flags before the subcommand:
  weco --config /etc/weco/weco.toml --listen 0.0.0.0:8080 serve
The file's keys are the settings' names in snake_case (max_depth = 8, cors_origins = [\"https://a.example\"]);
deploy/weco.example.toml lists them all with their defaults. Unknown keys are an error.";

/// `weco`: the Weco server and its tools.
#[derive(Parser, Debug)]
#[command(
    name = "weco",
    version,
    about = "Weco: a cooperatively owned social network of nested communities",
    after_help = SETTINGS_HELP
)]
pub struct Cli {
    /// Read settings from this TOML file (keys: the settings' names, such as `max_depth = 8`); the environment
    /// and flags override what it sets.
    #[arg(long, env = "WECO_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: Settings,
}

impl Cli {
    /// Reads the command line, the environment and the `--config` file. On an error, or after `--help` and
    /// `--version`, prints what clap prints and exits.
    pub fn load() -> Self {
        Self::try_load_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// [`Cli::load`] for the given arguments (the first is the program name): an error names the file and,
    /// for a bad key or value, the key.
    pub fn try_load_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let matches = Self::command().try_get_matches_from(&args)?;
        let mut cli = match matches.get_one::<PathBuf>("config").cloned() {
            None => Self::from_arg_matches(&matches)?,
            Some(path) => {
                let from_file = flags_from_file(&path, &matches)?;
                // The file's flags go first, before any subcommand; they name only settings absent from `args`.
                let mut merged = Vec::with_capacity(args.len() + from_file.len());
                merged.extend(args.first().cloned());
                merged.extend(from_file);
                merged.extend(args.into_iter().skip(1));
                Self::try_parse_from(merged)?
            }
        };
        // An empty list arrives as one empty value (`--cors-origins=`, which is how the file's `[]` is passed).
        for list in [
            &mut cli.settings.cors_origins,
            &mut cli.settings.ws_origins,
            &mut cli.settings.database_replica_urls,
            &mut cli.settings.redis_cluster_urls,
            &mut cli.settings.admins,
            &mut cli.settings.media.card_allowed_hosts,
        ] {
            list.retain(|value| !value.trim().is_empty());
        }
        Ok(cli)
    }
}

/// The flags that stand for the settings the file at `path` sets and that `matches` (the command line and
/// the environment) leaves at their defaults.
fn flags_from_file(path: &Path, matches: &ArgMatches) -> Result<Vec<OsString>, clap::Error> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        file_error(clap::error::ErrorKind::Io, format!("cannot read the configuration file {shown}: {e}"))
    })?;
    // The error names the place but does not quote the line, which may hold a secret.
    let document = toml_edit::Document::parse(text.as_str()).map_err(|e| {
        let start = e.span().map_or(0, |span| span.start);
        let before = text.get(..start).unwrap_or(&text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
        let why = e.message().trim().replace('\n', "; ");
        file_error(
            clap::error::ErrorKind::InvalidValue,
            format!("the configuration file {shown} is not valid TOML: line {line}, column {column}: {why}"),
        )
    })?;
    // Values from the file are checked on their own, without the environment.
    let settings = Settings::augment_args(clap::Command::new("weco")).mut_args(|a| a.env(None::<&'static str>));
    let mut flags = Vec::new();
    for (key, item) in document.iter() {
        let Some(arg) = settings.get_arguments().find(|a| a.get_id().as_str() == key) else {
            let known: Vec<&str> = settings.get_arguments().map(|a| a.get_id().as_str()).collect();
            return Err(file_error(
                clap::error::ErrorKind::UnknownArgument,
                format!("unknown setting `{key}` in {shown}; the settings are: {}", known.join(", ")),
            ));
        };
        let invalid = |why: &str| file_error(clap::error::ErrorKind::InvalidValue, format!("{shown}: `{key}` {why}"));
        let these = flags_for(arg, item).map_err(|why| invalid(&why))?;
        let mut check = vec![OsString::from("weco")];
        check.extend(these.iter().cloned());
        if let Err(e) = settings.clone().try_get_matches_from(check) {
            let message = e.to_string();
            let first = message.lines().next().unwrap_or_default();
            return Err(invalid(&format!("is refused: {}", first.trim_start_matches("error: "))));
        }
        if !matches!(matches.value_source(key), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            flags.extend(these);
        }
    }
    Ok(flags)
}

/// The flags for one key of the file: `--name=value`, `--name` for a true switch, one `--name=…` per list
/// item.
fn flags_for(arg: &Arg, item: &toml_edit::Item) -> Result<Vec<OsString>, String> {
    use toml_edit::Value;
    let long = arg.get_long().unwrap_or(arg.get_id().as_str());
    let Some(value) = item.as_value() else {
        return Err(format!("must be a value (found: {}); settings are top-level keys", item.type_name()));
    };
    if !arg.get_action().takes_values() {
        return match value.as_bool() {
            Some(true) => Ok(vec![format!("--{long}").into()]),
            Some(false) => Ok(Vec::new()),
            None => Err(format!("must be true or false (found: {})", value.type_name())),
        };
    }
    let flag = |v: &Value| -> Result<OsString, String> {
        let text = match v {
            Value::String(s) => s.value().clone(),
            Value::Integer(i) => i.value().to_string(),
            Value::Float(x) => x.value().to_string(),
            Value::Boolean(b) => b.value().to_string(),
            other => return Err(format!("must be a string, a number or a boolean (found: {})", other.type_name())),
        };
        Ok(format!("--{long}={text}").into())
    };
    match value {
        Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            if items.is_empty() {
                // An empty list, rather than the default one.
                return Ok(vec![format!("--{long}=").into()]);
            }
            items.iter().map(flag).collect()
        }
        Value::Array(_) => Err("takes one value, not a list".into()),
        other => Ok(vec![flag(other)?]),
    }
}

fn file_error(kind: clap::error::ErrorKind, message: String) -> clap::Error {
    clap::Error::raw(kind, format!("{message}\n"))
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    ///
    /// Settings are read from the --config file, the environment and flags given before `serve`
    /// (`weco --config weco.toml --listen 0.0.0.0:8080 serve`); `weco --help` lists them all.
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
    /// Write the open data export: the public spaces, edges, posts, comments and reactions, one file per
    /// table, with a data dictionary (README.md). Users are pseudonymised with a salt of this run unless they
    /// opted in; e-mail addresses are never written.
    Export {
        /// The directory to write into (created if missing; files of an earlier export are replaced).
        #[arg(long)]
        out: std::path::PathBuf,
        /// The file format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
        format: ExportFormat,
    },
}

/// The file format of `weco export`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet, one row group per thousand rows, Snappy-compressed (the cargo feature `parquet`).
    #[cfg(feature = "parquet")]
    Parquet,
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

    /// The settings to seed with: `global`, on the database `--database-url` names if given.
    pub fn settings(&self, global: &Settings) -> Settings {
        let mut settings = global.clone();
        if let Some(url) = &self.database_url {
            settings.database_url.clone_from(url);
        }
        settings
    }

    /// What the generator is asked for.
    pub fn options(&self) -> weco_seed::Options {
        weco_seed::Options {
            preset: match self.preset() {
                SeedPreset::Default => weco_seed::Preset::Default,
                SeedPreset::Small => weco_seed::Preset::Small,
                SeedPreset::Demo => weco_seed::Preset::Demo,
            },
            seed: self.seed,
            now: self.now.clone(),
            overrides: weco_seed::Overrides {
                spaces: self.spaces,
                users: self.users,
                posts: self.posts,
                likes: self.likes,
                comments: self.comments,
                ratings: self.ratings,
                links: self.links,
                follows: self.follows,
                private_share: self.private_share,
                multi_parent_share: self.multi_parent_share,
                multi_space_share: self.multi_space_share,
                repost_share: self.repost_share,
            },
            quiet: self.quiet,
        }
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

    #[test]
    fn debug_output_shows_every_setting_with_passwords_masked() {
        let mut s = Settings::for_database("postgres://weco:s3cret@db/weco");
        s.redis_url = Some("redis://:hunter2@cache:6379".into());
        s.redis_cluster_urls = vec!["redis://weco:swordfish@node-a:6379".into()];
        let shown = format!("{s:?}");
        for key in setting_keys() {
            assert!(shown.contains(&format!("{key}: ")), "{key} missing from {shown}");
        }
        assert!(!shown.contains("s3cret") && !shown.contains("hunter2") && !shown.contains("swordfish"), "{shown}");
    }

    #[test]
    fn websockets_follow_the_cors_origins_unless_told_otherwise() {
        let mut s = Settings::for_database("sqlite::memory:");
        assert!(s.effective_ws_origins().is_empty(), "CORS `*`: any origin");
        s.cors_origins = vec!["https://a.example".into(), " ".into()];
        assert_eq!(s.effective_ws_origins(), ["https://a.example"]);
        s.ws_origins = vec!["https://b.example".into()];
        assert_eq!(s.effective_ws_origins(), ["https://b.example"]);
        s.ws_origins = vec!["*".into()];
        assert_eq!(s.effective_ws_origins(), ["*"]);
    }

    #[test]
    fn the_millisecond_timeout_replaces_the_one_in_seconds() {
        let mut s = Settings::for_database("sqlite::memory:");
        assert_eq!(s.request_timeout(), Duration::from_secs(30));
        s.request_timeout_secs = 0;
        assert_eq!(s.request_timeout(), Duration::from_secs(1));
        s.request_timeout_ms = Some(250);
        assert_eq!(s.request_timeout(), Duration::from_millis(250));
    }

    /// A configuration file in the temporary directory, removed when dropped.
    struct ConfigFile(PathBuf);

    impl ConfigFile {
        fn new(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!("weco-config-{}.toml", uuid::Uuid::now_v7().simple()));
            std::fs::write(&path, text).expect("writing the configuration file");
            Self(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().expect("UTF-8 temporary path")
        }
    }

    impl Drop for ConfigFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn setting_keys() -> Vec<String> {
        Settings::augment_args(clap::Command::new("weco")).get_arguments().map(|a| a.get_id().to_string()).collect()
    }

    fn load(args: &[&str]) -> Result<Cli, String> {
        Cli::try_load_from(args).map_err(|e| e.to_string())
    }

    #[test]
    fn a_file_sets_what_flags_do_not_and_flags_win() {
        let file = ConfigFile::new(
            r#"
            # Comments are fine.
            max_depth = 3
            db_pool = 5
            channel_prefix = "from-file"
            cors_origins = ["https://a.example", "https://b.example"]
            trust_forwarded_for = true
            no_migrate = false
            request_timeout_ms = 1500
            "#,
        );
        let cli = load(&["weco", "--config", file.path(), "--db-pool", "9", "--channel-prefix", "flag", "serve"])
            .expect("loads");
        let s = &cli.settings;
        assert_eq!((s.max_depth, s.db_pool, s.channel_prefix.as_str()), (3, 9, "flag"));
        assert_eq!(s.cors_origins, ["https://a.example", "https://b.example"]);
        assert!(s.trust_forwarded_for && !s.no_migrate);
        assert_eq!(s.request_timeout(), Duration::from_millis(1500));
        assert_eq!(s.max_complexity, 50_000, "what nothing sets keeps its default");
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.config.as_deref(), Some(file.0.as_path()));
    }

    #[test]
    fn the_config_flag_may_follow_the_subcommand() {
        let file = ConfigFile::new("max_complexity = 77\nws_origins = []\n");
        let cli = load(&["weco", "serve", "--config", file.path()]).expect("loads");
        assert_eq!(cli.settings.max_complexity, 77);
        let cli = load(&["weco", "migrate", "--config", file.path(), "status"]).expect("loads");
        assert_eq!(cli.settings.max_complexity, 77);
    }

    #[test]
    fn an_empty_list_in_the_file_replaces_the_default_list() {
        let file = ConfigFile::new("cors_origins = []\n");
        let cli = load(&["weco", "--config", file.path()]).expect("loads");
        assert!(cli.settings.cors_origins.is_empty(), "{:?}", cli.settings.cors_origins);
    }

    /// Set by the parent run of an environment test in the child it starts.
    const CHILD: &str = "WECO_CONFIG_TEST_CHILD";

    /// Runs the test `name` again in a child process with `vars` set: a test cannot set variables in its
    /// own process (`set_var` is `unsafe`, which this workspace forbids).
    fn rerun_with_env(name: &str, vars: &[(&str, &str)]) {
        let exe = std::env::current_exe().expect("the test binary");
        let output = std::process::Command::new(exe)
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .envs(vars.iter().copied())
            .output()
            .expect("running the test in a child process");
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{out}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(out.contains("1 passed"), "the child ran no test: {out}");
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_the_environment() {
        let Some(path) = std::env::var_os(CHILD).and(std::env::var_os("WECO_CONFIG")) else {
            let file = ConfigFile::new("max_depth = 3\ndb_pool = 5\nchannel_prefix = \"from-file\"\n");
            rerun_with_env(
                "config::tests::the_environment_overrides_the_file_and_flags_override_the_environment",
                &[("WECO_CONFIG", file.path()), ("WECO_MAX_DEPTH", "7"), ("WECO_DB_POOL", "4")],
            );
            return;
        };
        // In the child: the file comes from WECO_CONFIG, two of its settings from the environment too.
        let cli = load(&["weco", "--db-pool", "9"]).expect("loads");
        let s = &cli.settings;
        assert_eq!(cli.config.as_deref(), Some(Path::new(&path)));
        assert_eq!(s.channel_prefix, "from-file", "file over default");
        assert_eq!(s.max_depth, 7, "environment over file");
        assert_eq!(s.db_pool, 9, "flag over environment and file");
    }

    #[test]
    fn unknown_keys_are_an_error_naming_the_key() {
        let file = ConfigFile::new("max_depth = 3\nmax_dept = 4\n");
        let error = load(&["weco", "--config", file.path()]).expect_err("a typo is refused");
        assert!(error.contains("unknown setting `max_dept`") && error.contains(file.path()), "{error}");
        assert!(error.contains("max_depth"), "the error lists the known settings: {error}");
    }

    #[test]
    fn a_missing_or_unparsable_file_is_an_error_naming_the_path() {
        let missing = std::env::temp_dir().join("weco-no-such-config.toml");
        let missing = missing.to_str().expect("UTF-8");
        let error = load(&["weco", "--config", missing, "serve"]).expect_err("missing file");
        assert!(error.contains("cannot read the configuration file") && error.contains(missing), "{error}");
        let file = ConfigFile::new("max_depth = 3\njwt_secret = \"s3cret\n");
        let error = load(&["weco", "--config", file.path()]).expect_err("bad TOML");
        assert!(error.contains("not valid TOML") && error.contains(file.path()), "{error}");
        assert!(error.contains("line 2, column"), "the error points at the place: {error}");
        assert!(!error.contains("s3cret"), "the error quotes the line: {error}");
    }

    #[test]
    fn values_of_the_wrong_kind_are_errors_naming_the_key() {
        for (text, key, why) in [
            ("max_depth = \"deep\"", "max_depth", "invalid value 'deep'"),
            ("max_depth = -1", "max_depth", "invalid value '-1'"),
            ("no_migrate = \"yes\"", "no_migrate", "must be true or false"),
            ("listen = [\"a\", \"b\"]", "listen", "takes one value"),
            ("log_format = { a = 1 }", "log_format", "(found: inline table)"),
            ("[server]\nlisten = \"x\"", "server", "unknown setting"),
            ("[[max_depth]]", "max_depth", "must be a value"),
        ] {
            let file = ConfigFile::new(text);
            let error = load(&["weco", "--config", file.path()]).expect_err(text);
            assert!(error.contains(&format!("`{key}`")) && error.contains(why), "{text}: {error}");
        }
    }

    #[test]
    fn the_example_file_lists_every_setting_with_its_default() {
        let example = include_str!("../../../deploy/weco.example.toml");
        for key in setting_keys() {
            let listed = example.lines().any(|l| {
                let l = l.trim_start_matches(['#', ' ']);
                l.strip_prefix(key.as_str()).is_some_and(|rest| rest.trim_start().starts_with('='))
            });
            assert!(listed, "deploy/weco.example.toml does not list `{key}`");
        }
        let file = ConfigFile::new(example);
        let from_example = load(&["weco", "--config", file.path()]).expect("the example loads");
        let defaults = load(&["weco"]).expect("defaults");
        assert_eq!(format!("{:?}", from_example.settings), format!("{:?}", defaults.settings));
    }

    fn seed_args(args: &[&str]) -> SeedArgs {
        match load(args).expect("loads").command {
            Some(Command::Seed(args)) => *args,
            other => panic!("expected the seed command, got {other:?}"),
        }
    }

    #[test]
    fn seed_flags_reach_the_generator_and_name_the_database() {
        let global = Settings::for_database("sqlite://weco.db?mode=rwc");
        let args = seed_args(&["weco", "seed", "--database-url", "postgres://p@db/fresh", "--demo", "--quiet"]);
        assert_eq!(args.settings(&global).database_url, "postgres://p@db/fresh");
        let options = args.options();
        assert_eq!(options.preset, weco_seed::Preset::Demo);
        assert!(options.quiet && options.overrides.is_empty() && options.now.is_none());
        assert_eq!(options.seed, 42);

        let args = seed_args(&[
            "weco",
            "seed",
            "--preset",
            "small",
            "--seed",
            "7",
            "--now",
            "2026-01-01T00:00:00Z",
            "--posts",
            "10",
            "--repost-share",
            "0.5",
        ]);
        assert_eq!(args.settings(&global).database_url, global.database_url);
        let options = args.options();
        assert_eq!(
            (options.preset, options.seed, options.now.as_deref()),
            (weco_seed::Preset::Small, 7, Some("2026-01-01T00:00:00Z"))
        );
        assert_eq!((options.overrides.posts, options.overrides.repost_share), (Some(10), Some(0.5)));
        assert!(options.overrides.likes.is_none() && !options.quiet);

        let err = seed_args(&["weco", "seed", "--demo", "--posts", "10"]).options().prepare().expect_err("refused");
        assert!(err.to_string().contains("demo"), "{err}");
    }
}
