//! `weco-loadgen`: closed-loop GraphQL load against a Weco server (workloads W1–W5 of BENCHMARKS.md), and — in the same run —
//! the same workloads' SQL executed directly against PostgreSQL (the limit), so each figure reads as a ratio
//! server/raw. Loopback (127.0.0.1) only.
//!
//! How it works:
//! 1. It finds the seeded data each workload aims at (a deep space, the root, a depth-8 space, a hot post…).
//! 2. **Capture**: it starts a second, short-lived `weco` whose database connections go through a recording
//!    proxy ([`capture`]), sends a few requests of each workload, and so learns exactly which statements the
//!    server executes per request, with their parameters and results ([`replay`] turns them into templates).
//! 3. **Server runs**: for each workload, `--concurrency` clients send requests back to back for `--warmup`
//!    then `--duration`; it reads latencies, GraphQL errors, the server's CPU (/proc), peak RSS, SQL statements
//!    (the server's `/metrics`, and `pg_stat_statements` when loaded) and PostgreSQL's CPU.
//! 4. **Raw runs**: the same number of clients replay the captured statements with sqlx (prepared, binary
//!    parameters) on a pool of as many connections, with fresh values per request (users, new ids, times).
//!
//! ```sh
//! export CARGO_TARGET_DIR=/var/tmp/weco-target
//! cargo build --release -p weco-server -p weco-loadgen
//! $CARGO_TARGET_DIR/release/weco-loadgen --spawn \
//!     --database-url postgres://postgres@127.0.0.1:5432/weco_bench \
//!     --concurrency 16 --warmup 3s --duration 20s --markdown --json loadgen.json
//! ```

mod capture;
mod gql;
mod procfs;
mod replay;
mod report;
mod run;
mod server;
mod workloads;

use anyhow::{Context as _, bail};
use capture::Capture;
use clap::Parser;
use replay::{Sample, Template};
use report::{Machine, Run, Target};
use run::{Outcome, Window, closed_loop, quantile_ms};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sea_orm::sqlx::{self, Row as _};
use server::Metrics;
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use weco_tool_support::server::{Server, SpawnOptions, default_binary};
use workloads::{Fixtures, Kind, Request};

#[derive(Parser, Debug)]
#[command(
    name = "weco-loadgen",
    version,
    about = "Closed-loop GraphQL workloads against Weco, and the raw-SQL limit (loopback only)"
)]
struct Cli {
    /// A running server, `http://127.0.0.1:PORT` (start it with WECO_RATE_LIMIT_PER_MINUTE=0).
    #[arg(long, conflicts_with = "spawn")]
    url: Option<String>,
    /// PID of the `--url` server, for CPU and RSS [default: the process listening on its port].
    #[arg(long)]
    server_pid: Option<u32>,
    /// Start the server here instead (`weco --listen 127.0.0.1:0`, rate limit off).
    #[arg(long)]
    spawn: bool,
    /// The server binary (for --spawn and for the capture server) [default: $CARGO_TARGET_DIR/release/weco].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The seeded PostgreSQL database (loopback): fixtures, capture, raw-SQL runs, and the spawned server's.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The `--url` server's token secret, to mint tokens for seeded users; without it users log in.
    #[arg(long, env = "WECO_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Password of the seeded users (for logins).
    #[arg(long, default_value = "password")]
    password: String,
    /// Without a token secret: how many seeded users log in (each storm like needs its own user).
    #[arg(long, default_value_t = 200)]
    login_users: usize,

    /// Concurrent clients (and raw-SQL connections).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured time per run (`20s`, `1m`, `500ms`).
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured time before each run's window.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// Workloads, in order [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    workloads: Vec<Kind>,
    /// Which side to measure.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// Most requests per run (a bound besides the duration).
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// How raw-SQL runs take pool connections (an experiment knob; the default is the limit).
    #[arg(long, value_enum, default_value_t = Checkout::Request)]
    raw_checkout: Checkout,
    /// Tokio worker threads of this tool (it shares the machine with the server and PostgreSQL).
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// The spawned server's database pool [default: the server's own default].
    #[arg(long)]
    db_pool: Option<u32>,

    /// W1's space is at least this deep.
    #[arg(long, default_value_t = 6)]
    w1_min_depth: i64,
    /// W4 posts into a space this deep (else the deepest).
    #[arg(long, default_value_t = 8)]
    w4_depth: i64,
    /// Users who have not liked the hot post, set aside for the storm (each likes once).
    #[arg(long, default_value_t = 60_000)]
    storm_users: usize,
    /// Random posts for W5-random (each captured once for the raw replay).
    #[arg(long, default_value_t = 48)]
    random_posts: usize,
    /// Viewers (W3), authors (W4) and likers on random posts (W5-random; the more, the rarer a repeated like).
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Pause after the server starts before reading its idle RSS.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    settle: Duration,

    /// Print each workload's captured statements and how the replay fills their parameters.
    #[arg(long)]
    show_sql: bool,
    /// Print `EXPLAIN (ANALYZE, BUFFERS)` of the read workloads' statements (and of the root's TOP/MONTH feed),
    /// custom and generic plans, with the parameters the server binds.
    #[arg(long)]
    explain: bool,
    /// Print the figures as Markdown tables too.
    #[arg(long)]
    markdown: bool,
    /// Write the whole report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Where spawned servers write their logs [default: the temp directory].
    #[arg(long)]
    log_dir: Option<PathBuf>,
}

/// How raw runs take connections from their pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Checkout {
    /// One checkout per request (the limit: a request's statements on one connection).
    Request,
    /// One checkout per statement (per transaction) with sqlx's connection check on acquire and release, as
    /// the server's sea-orm pool works: shows what those extra round trips cost.
    Statement,
    /// One checkout per request, without the check on acquire (`test_before_acquire(false)`).
    Unchecked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Both,
    Server,
    Raw,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("not a duration: {text}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {text} (use ms, s or m)")),
    };
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{text} is out of range (0 to 1 h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(cli.client_threads.max(1)).enable_all().build()?;
    runtime.block_on(run(cli))
}

/// The database URL's host and port, which must be loopback.
fn database_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let options = PgConnectOptions::from_str(url).context("parsing --database-url")?;
    let host = options.get_host();
    if host.starts_with('/') {
        bail!("--database-url must name a TCP host on loopback (127.0.0.1), not a Unix socket");
    }
    let addr = (host, options.get_port()).to_socket_addrs()?.next().with_context(|| format!("resolving {host}"))?;
    if !addr.ip().is_loopback() {
        bail!("--database-url points at {addr}: only loopback databases are used");
    }
    Ok(addr)
}

/// The same URL with its host and port replaced (to go through the capture proxy), TLS off.
fn via_proxy(url: &str, proxy: SocketAddr) -> anyhow::Result<String> {
    let (scheme, rest) = url.split_once("://").context("--database-url has no scheme")?;
    let (auth, after_auth) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let path_start = after_auth.find(['/', '?']).unwrap_or(after_auth.len());
    let tail = &after_auth[path_start..];
    let sep = if tail.contains('?') { '&' } else { '?' };
    Ok(format!("{scheme}://{auth}{proxy}{tail}{sep}sslmode=disable"))
}

async fn machine(pool: &PgPool) -> anyhow::Result<Machine> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_default();
    let memory_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024);
    let postgres: String = sqlx::query_scalar("SELECT version()").fetch_one(pool).await?;
    let mut settings = Vec::new();
    for name in [
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "max_connections",
        "jit",
        "shared_preload_libraries",
    ] {
        let row = sqlx::query("SELECT setting, coalesce(unit, '') AS unit FROM pg_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
        if let Some(row) = row {
            let (v, u): (String, String) = (row.try_get("setting")?, row.try_get("unit")?);
            settings.push((name.to_owned(), if u.is_empty() { v } else { format!("{v} × {u}") }));
        }
    }
    let mut data = Vec::new();
    for table in ["spaces", "users", "posts", "post_likes", "space_posts", "comments"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .unwrap_or(-1);
        data.push((table.to_owned(), n));
    }
    Ok(Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model,
        memory_mb,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        postgres,
        postgres_settings: settings,
        data,
        pg_stat_statements: pgss_calls(pool).await.map(drop),
    })
}

/// Statements executed in this database so far, per `pg_stat_statements`; Err says why it is not available.
async fn pgss_calls(pool: &PgPool) -> Result<f64, String> {
    sqlx::query_scalar::<_, f64>(
        "SELECT coalesce(sum(calls), 0)::float8 FROM pg_stat_statements \
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| match e.as_database_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    })
}

/// How requests authenticate against the server under test.
#[derive(Clone)]
enum Auth {
    Mint(gql::Minter),
    Tokens(Arc<HashMap<uuid::Uuid, String>>),
}

impl Auth {
    fn token(&self, user: uuid::Uuid) -> Result<String, String> {
        match self {
            Auth::Mint(m) => m.token(user).map_err(|e| e.to_string()),
            Auth::Tokens(t) => t.get(&user).cloned().ok_or_else(|| format!("no token for user {user}")),
        }
    }
}

/// The captured statements of each workload, as templates (W5-random has one per captured post).
struct Captured {
    templates: HashMap<Kind, Vec<Template>>,
    /// For W5-random: which of `Fixtures::random_posts` each template belongs to.
    random_posts: Vec<usize>,
    /// W3's statement count at another shape (2 children × 3 posts), to show it does not depend on the shape.
    w3_small_shape: Option<usize>,
    /// Statements per request the capture server's `/metrics` counted (to check the capture is complete).
    metrics_per_request: HashMap<Kind, f64>,
    /// Feeds captured only to be explained (`--explain`): the root's TOP/MONTH feed.
    explain_only: Vec<(String, Template)>,
}

/// The root's TOP feed of the last month (explained with `--explain`, not loaded).
const ROOT_TOP_MONTH: &str = "query RootTopMonth($h: String!) { space(handle: $h) { posts(sort: TOP, timeRange: MONTH, \
    first: 20) { nodes { id title createdAt totalLikes totalComments creator { id handle name } } } } }";

#[derive(serde::Serialize)]
struct CaptureReport {
    kind: Kind,
    statements: usize,
    counted_statements: usize,
    server_metrics_statements: Option<f64>,
    /// Bare Sync round trips (sqlx `test_before_acquire` pings) per request.
    pool_checks: u64,
    approximate_params: usize,
    sql: String,
}

async fn capture_phase(
    cli: &Cli,
    pool: &PgPool,
    fixtures: &Fixtures,
    kinds: &[Kind],
    db_addr: SocketAddr,
    log_dir: &std::path::Path,
) -> anyhow::Result<Captured> {
    let proxy = Capture::start(db_addr).await?;
    let url = via_proxy(&cli.database_url, proxy.addr)?;
    let secret = uuid::Uuid::new_v4().to_string();
    let binary = cli.server_bin.clone().unwrap_or_else(default_binary);
    let log = log_dir.join("weco-loadgen-capture-server.log");
    let server = Server::spawn(&SpawnOptions {
        binary: &binary,
        database_url: &url,
        redis_url: None,
        jwt_secret: &secret,
        log: &log,
        env: &server_env(Some(4)),
    })
    .await
    .with_context(|| {
        format!("starting the capture server {} (build it: cargo build --release -p weco-server)", binary.display())
    })?;
    let client = gql::Client::new(server.addr, 4)?;
    let minter = gql::Minter::new(&secret);
    let target = CaptureServer { proxy: &proxy, client: &client, minter: &minter, addr: server.addr };
    let result = capture_all(pool, fixtures, kinds, target, cli.explain).await;
    server.stop().await;
    drop(proxy);
    result
}

/// Sends one request through the capture server and returns the statements it ran.
async fn capture_one(
    proxy: &Capture,
    client: &gql::Client,
    minter: &gql::Minter,
    query: &str,
    req: &Request,
) -> anyhow::Result<Sample> {
    let token = req.user.map(|u| minter.token(u)).transpose()?;
    let mark = proxy.mark();
    let pings = proxy.pings();
    let at = SystemTime::now();
    client.send(token.as_deref(), query, &req.variables).await.map_err(|e| anyhow::anyhow!("capturing: {e}"))?;
    // Every statement has been answered before the response was sent; give the proxy a moment to log it.
    let mut statements = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        statements = proxy.since(mark);
        if statements.iter().all(|s| s.done) {
            break;
        }
    }
    Ok(Sample { inputs: req.inputs.clone(), statements, at, pings: proxy.pings() - pings })
}

/// Learns a template from samples: those that ran the most common statement sequence (loaders running
/// concurrently may interleave differently from one request to the next).
fn learn(samples: &[Sample]) -> anyhow::Result<Template> {
    let mut groups: HashMap<String, Vec<Sample>> = HashMap::new();
    for s in samples {
        groups.entry(replay::signature(&s.statements)).or_default().push(s.clone());
    }
    let best = groups.into_values().max_by_key(Vec::len).context("no sample")?;
    Template::learn(&best)
}

/// The environment of a spawned server: rate limiting off (the load comes from one address), and the pool size
/// if one is asked for.
fn server_env(db_pool: Option<u32>) -> Vec<(String, String)> {
    let mut env = vec![("WECO_RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned())];
    env.extend(db_pool.map(|n| ("WECO_DB_POOL".to_owned(), n.to_string())));
    env
}

/// The capture server and how to reach it.
struct CaptureServer<'a> {
    proxy: &'a Capture,
    client: &'a gql::Client,
    minter: &'a gql::Minter,
    addr: SocketAddr,
}

async fn capture_all(
    pool: &PgPool,
    f: &Fixtures,
    kinds: &[Kind],
    server: CaptureServer<'_>,
    explain: bool,
) -> anyhow::Result<Captured> {
    let CaptureServer { proxy, client, minter, addr } = server;
    let mut templates = HashMap::new();
    let mut metrics_per_request = HashMap::new();
    let mut random_posts = Vec::new();
    let mut w3_small_shape = None;
    let salt = rand::random::<u64>();
    for &kind in kinds {
        let query = kind.query();
        if kind == Kind::W5Random {
            let mut list = Vec::new();
            let mut sent = 0usize;
            let before = Metrics::fetch(&client.http, addr).await?;
            // Two likes per post by two users: values that change from one like to the next (the post's new
            // total) are then traced to the statement that returned them.
            for (n, post) in f.random_posts.iter().enumerate() {
                // Two users who have not liked the post (a repeated like takes the short, idempotent path).
                let candidates: Vec<uuid::Uuid> = (0..8)
                    .map(|k| f.users[(salt as usize).wrapping_add(n * 7919 + k * 104_729) % f.users.len()].id)
                    .collect();
                let likers: Vec<uuid::Uuid> = sqlx::query_scalar(
                    "SELECT u FROM unnest($1::uuid[]) AS u \
                     WHERE NOT EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = $2 AND l.user_id = u) LIMIT 2",
                )
                .bind(&candidates)
                .bind(post.id)
                .fetch_all(pool)
                .await?;
                let mut samples = Vec::with_capacity(2);
                for user in likers {
                    let id = |u: uuid::Uuid| u.as_bytes().to_vec();
                    let req = Request {
                        variables: serde_json::json!({ "p": post.id, "s": post.space }),
                        user: Some(user),
                        inputs: vec![id(post.id), id(user), id(post.space)],
                        template: 0,
                    };
                    match capture_one(proxy, client, minter, &query, &req).await {
                        Ok(s) => samples.push(s),
                        Err(e) => eprintln!("  capture of a like on post {} failed: {e}", post.id),
                    }
                    sent += 1;
                }
                match learn(&samples) {
                    Ok(t) => {
                        list.push(t);
                        random_posts.push(n);
                    }
                    Err(e) => eprintln!("  post {}: {e}", post.id),
                }
            }
            let after = Metrics::fetch(&client.http, addr).await?;
            if sent > 0 {
                metrics_per_request.insert(kind, after.delta(&before).statements / sent as f64);
            }
            templates.insert(kind, list);
            continue;
        }
        // One warm-up request (first statements on a connection may differ), then the samples.
        let n_samples = if kind.is_write() { 3 } else { 4 };
        let mut samples = Vec::new();
        let mut before = None;
        for i in 0..=n_samples {
            let Some(req) = workloads::request(kind, f, i as u64 + 1_000, salt, &[0], true) else {
                bail!("{}: out of inputs while capturing", kind.name());
            };
            if i == 1 {
                before = Some(Metrics::fetch(&client.http, addr).await?);
            }
            let sample = capture_one(proxy, client, minter, &query, &req).await.with_context(|| kind.name())?;
            if i > 0 {
                samples.push(sample);
            }
        }
        let after = Metrics::fetch(&client.http, addr).await?;
        if let Some(before) = before {
            metrics_per_request.insert(kind, after.delta(&before).statements / n_samples as f64);
        }
        let template = learn(&samples).with_context(|| format!("learning {}", kind.name()))?;
        templates.insert(kind, vec![template]);
        if kind == Kind::W3 {
            let req = workloads::request(kind, f, 7, salt, &[0], true).context("W3 request")?;
            let small = capture_one(proxy, client, minter, &workloads::nested_query(2, 3), &req).await?;
            w3_small_shape = Some(small.statements.iter().filter(|s| !replay::is_tx_control(&s.sql)).count());
        }
    }
    let mut explain_only = Vec::new();
    if explain {
        let req = workloads::request(Kind::W2Top, f, 0, salt, &[0], true).context("request")?;
        let mut samples = Vec::new();
        for _ in 0..3 {
            samples.push(capture_one(proxy, client, minter, ROOT_TOP_MONTH, &req).await?);
        }
        explain_only.push(("root TOP/MONTH".to_owned(), learn(&samples[1..])?));
    }
    Ok(Captured { templates, random_posts, w3_small_shape, metrics_per_request, explain_only })
}

/// Peak and current RSS in MB.
fn rss_mb(pid: Option<u32>, field: &str) -> Option<f64> {
    pid.and_then(|p| procfs::status_bytes(p, field)).map(|b| b as f64 / 1_048_576.0)
}

struct Ctx {
    cli: Cli,
    /// The benchmark database's name (to tell its PostgreSQL backends from others').
    db_name: String,
    fixtures: Arc<Fixtures>,
    raw_pool: PgPool,
    pgss: bool,
}

async fn measure_server(
    ctx: &Ctx,
    kind: Kind,
    server: &Server,
    client: &gql::Client,
    auth: &Auth,
    random_posts: Arc<Vec<usize>>,
) -> anyhow::Result<Run> {
    let cli = &ctx.cli;
    // Counters are read before the loop starts and after it ends (no request in flight at either end), and
    // divided by every request sent, warm-up included: exact per-request statement and event counts.
    let m0 = Metrics::fetch(&client.http, server.addr).await?;
    let q0 = if ctx.pgss { pgss_calls(&ctx.raw_pool).await.ok() } else { None };
    let window = Window::new(cli.warmup, cli.duration);
    let (f, client2, auth2, query) = (ctx.fixtures.clone(), client.clone(), auth.clone(), Arc::new(kind.query()));
    let salt = rand::random::<u64>();
    let task = tokio::spawn(closed_loop(cli.concurrency, window, cli.max_requests, move |i| {
        let (f, client, auth, query, random_posts) =
            (f.clone(), client2.clone(), auth2.clone(), query.clone(), random_posts.clone());
        async move {
            let Some(req) = workloads::request(kind, &f, i, salt, &random_posts, false) else {
                return Outcome::Exhausted;
            };
            let token = match req.user.map(|u| auth.token(u)).transpose() {
                Ok(t) => t,
                Err(e) => return Outcome::Err(e),
            };
            match client.send(token.as_deref(), &query, &req.variables).await {
                Ok(_) => Outcome::Ok,
                Err(e) => Outcome::Err(e),
            }
        }
    }));
    tokio::time::sleep_until(window.measure_start).await;
    if let Some(pid) = server.pid {
        procfs::reset_peak_rss(pid);
    }
    let c0 = procfs::CpuSnapshot::take(server.pid, &ctx.db_name);
    let result = task.await?;
    let c1 = procfs::CpuSnapshot::take(server.pid, &ctx.db_name);
    let m1 = Metrics::fetch(&client.http, server.addr).await?;
    let q1 = if ctx.pgss { pgss_calls(&ctx.raw_pool).await.ok() } else { None };
    let dm = m1.delta(&m0);
    let requests = result.latencies_us.len() as u64;
    let total = result.total_requests;
    let per = |x: f64| if total > 0 { Some(x / total as f64) } else { None };
    let note = result.exhausted.then(|| format!("stopped early: the storm used all {} users", ctx.fixtures.storm_pool));
    Ok(Run {
        kind,
        target: Target::Server,
        concurrency: cli.concurrency,
        requests,
        errors: result.errors,
        error_samples: result.error_samples,
        seconds: result.seconds,
        throughput: if result.seconds > 0.0 { requests as f64 / result.seconds } else { 0.0 },
        p50_ms: quantile_ms(&result.latencies_us, 0.5),
        p99_ms: quantile_ms(&result.latencies_us, 0.99),
        max_ms: quantile_ms(&result.latencies_us, 1.0),
        cpu: procfs::CpuDelta::between(&c0, &c1),
        statements_per_request: per(dm.statements),
        pgss_per_request: match (q0, q1) {
            (Some(a), Some(b)) => per(b - a - 1.0),
            _ => None,
        },
        sql_ms_per_request: per(dm.statement_seconds * 1000.0),
        events_per_request: per(dm.events_published),
        peak_rss_mb: rss_mb(server.pid, "VmHWM"),
        end_rss_mb: rss_mb(server.pid, "VmRSS"),
        note,
        statement_times: Vec::new(),
    })
}

async fn measure_raw(
    ctx: &Ctx,
    kind: Kind,
    templates: Arc<Vec<Template>>,
    random_posts: Arc<Vec<usize>>,
    server_pid: Option<u32>,
) -> anyhow::Result<Run> {
    let cli = &ctx.cli;
    let q0 = if ctx.pgss { pgss_calls(&ctx.raw_pool).await.ok() } else { None };
    let window = Window::new(cli.warmup, cli.duration);
    let (f, pool) = (ctx.fixtures.clone(), ctx.raw_pool.clone());
    let salt = rand::random::<u64>();
    let templates2 = templates.clone();
    let per_statement = cli.raw_checkout == Checkout::Statement;
    let times = Arc::new(replay::StepTimes::default());
    let times2 = times.clone();
    let task = tokio::spawn(closed_loop(cli.concurrency, window, cli.max_requests, move |i| {
        let (f, pool, templates, random_posts, times) =
            (f.clone(), pool.clone(), templates2.clone(), random_posts.clone(), times2.clone());
        async move {
            let Some(req) = workloads::request(kind, &f, i, salt, &random_posts, true) else {
                return Outcome::Exhausted;
            };
            let Some(template) = templates.get(req.template) else { return Outcome::Err("no template".into()) };
            let run = async {
                if per_statement {
                    template.run(replay::Source::PerStatement(&pool), &req.inputs, &times).await
                } else {
                    let mut conn = pool.acquire().await.context("acquiring a connection")?;
                    template.run(replay::Source::Connection(&mut conn), &req.inputs, &times).await
                }
            };
            match tokio::time::timeout(Duration::from_secs(30), run).await {
                Ok(Ok(())) => Outcome::Ok,
                Ok(Err(e)) => Outcome::Err(format!("{e:#}")),
                Err(_) => Outcome::Err("timed out after 30 s".into()),
            }
        }
    }));
    tokio::time::sleep_until(window.measure_start).await;
    let c0 = procfs::CpuSnapshot::take(server_pid, &ctx.db_name);
    let result = task.await?;
    let c1 = procfs::CpuSnapshot::take(server_pid, &ctx.db_name);
    let q1 = if ctx.pgss { pgss_calls(&ctx.raw_pool).await.ok() } else { None };
    let requests = result.latencies_us.len() as u64;
    let total = result.total_requests;
    let per = |x: f64| if total > 0 { Some(x / total as f64) } else { None };
    let stmts = if templates.is_empty() {
        None
    } else {
        Some(templates.iter().map(|t| t.counted_statements() as f64).sum::<f64>() / templates.len() as f64)
    };
    let mut cpu = procfs::CpuDelta::between(&c0, &c1);
    // The idle server's CPU is not part of a raw run; it stays in "other".
    cpu.server = None;
    Ok(Run {
        kind,
        target: Target::Raw,
        concurrency: cli.concurrency,
        requests,
        errors: result.errors,
        error_samples: result.error_samples,
        seconds: result.seconds,
        throughput: if result.seconds > 0.0 { requests as f64 / result.seconds } else { 0.0 },
        p50_ms: quantile_ms(&result.latencies_us, 0.5),
        p99_ms: quantile_ms(&result.latencies_us, 0.99),
        max_ms: quantile_ms(&result.latencies_us, 1.0),
        cpu,
        statements_per_request: stmts,
        pgss_per_request: match (q0, q1) {
            (Some(a), Some(b)) => per(b - a - 1.0),
            _ => None,
        },
        sql_ms_per_request: None,
        events_per_request: None,
        peak_rss_mb: None,
        end_rss_mb: None,
        note: result.exhausted.then(|| format!("stopped early: the storm used all {} users", ctx.fixtures.storm_pool)),
        statement_times: times.summary(),
    })
}

/// One request of each read workload, checked in full: how many posts a page holds (an empty feed would
/// measure nothing).
async fn preflight(client: &gql::Client, f: &Fixtures, kinds: &[Kind], auth: &Auth) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for &kind in kinds.iter().filter(|k| !k.is_write()) {
        let req = workloads::request(kind, f, 0, 0, &[], false).context("request")?;
        let token = req.user.map(|u| auth.token(u)).transpose().map_err(anyhow::Error::msg)?;
        let data = client.data(token.as_deref(), &kind.query(), &req.variables).await.with_context(|| kind.name())?;
        let space = &data["space"];
        if space.is_null() {
            bail!("{}: the space was not found", kind.name());
        }
        let note = if kind == Kind::W3 {
            let children = space["children"]["nodes"].as_array().map_or(0, Vec::len);
            let posts: usize = space["children"]["nodes"]
                .as_array()
                .map_or(0, |c| c.iter().map(|n| n["posts"]["nodes"].as_array().map_or(0, Vec::len)).sum());
            format!("{}: {children} children, {posts} posts in all", kind.name())
        } else {
            format!("{}: {} posts on the page", kind.name(), space["posts"]["nodes"].as_array().map_or(0, Vec::len))
        };
        notes.push(note);
    }
    Ok(notes)
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    machine: &'a Machine,
    concurrency: usize,
    warmup_secs: f64,
    duration_secs: f64,
    fixtures: &'a Fixtures,
    captures: Vec<CaptureReport>,
    w3_statements_small_shape: Option<usize>,
    idle_rss_mb: Option<f64>,
    runs: &'a [Run],
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let db_addr = database_addr(&cli.database_url)?;
    if !cli.spawn && cli.url.is_none() {
        bail!("give --spawn (start target/release/weco) or --url http://127.0.0.1:PORT");
    }
    if cli.concurrency == 0 || cli.concurrency > 1024 {
        bail!("--concurrency must be 1 to 1024");
    }
    let kinds: Vec<Kind> = if cli.workloads.is_empty() { Kind::ALL.to_vec() } else { cli.workloads.clone() };
    let log_dir = cli.log_dir.clone().unwrap_or_else(std::env::temp_dir);
    let raw_pool = PgPoolOptions::new()
        .test_before_acquire(cli.raw_checkout != Checkout::Unchecked)
        .max_connections(cli.concurrency as u32 + 1)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&cli.database_url)
        .await
        .context("connecting to --database-url")?;

    let machine = machine(&raw_pool).await?;
    println!(
        "machine: {} cores ({}), {} MB, kernel {}",
        machine.nproc, machine.cpu_model, machine.memory_mb, machine.kernel
    );
    println!("{}", machine.postgres);
    println!(
        "postgres: {}",
        machine.postgres_settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    );
    println!("data: {}", machine.data.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
    let pgss = machine.pg_stat_statements.is_ok();
    match &machine.pg_stat_statements {
        Ok(()) => println!("pg_stat_statements: available (statement counts per request from it too)"),
        Err(e) => println!(
            "pg_stat_statements: not available ({e}; shared_preload_libraries = '{}'); statement counts come from \
             the server's /metrics and from the wire",
            machine.postgres_settings.iter().find(|(k, _)| k == "shared_preload_libraries").map_or("", |(_, v)| v)
        ),
    }

    let mut fixtures = Fixtures::find(
        &raw_pool,
        &workloads::FixtureOptions {
            w1_min_depth: cli.w1_min_depth,
            w4_depth: cli.w4_depth,
            storm_users: cli.storm_users,
            random_posts: cli.random_posts,
            users: cli.users,
        },
    )
    .await?;
    println!(
        "fixtures: W1 space `{}` (depth {}, {} posts); root `{}` ({} posts); W3 space `{}` ({} children with ≥10 posts); \
         W4 space `{}` (depth {}); hot posts {} ({} likes, server storm) and {} ({} likes, raw storm), {} users who \
         have liked neither; {} random posts",
        fixtures.deep.handle,
        fixtures.deep.depth,
        fixtures.deep.posts,
        fixtures.root.handle,
        fixtures.root.posts,
        fixtures.nested.handle,
        fixtures.nested_children,
        fixtures.deep8.handle,
        fixtures.deep8.depth,
        fixtures.hot.id,
        fixtures.hot.likes,
        fixtures.hot_raw.id,
        fixtures.hot_raw.likes,
        fixtures.storm_pool,
        fixtures.random_posts.len()
    );

    // The server under test (started before the capture only when attached to an existing one).
    let secret = cli.jwt_secret.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let needs_server = cli.mode != Mode::Raw;

    // Minted tokens name a session each: the user's own, opened here for every user (a server from before
    // sessions existed has no such table, and takes tokens without one).
    let sessions: bool = sqlx::query_scalar("SELECT to_regclass('sessions') IS NOT NULL").fetch_one(&raw_pool).await?;
    if sessions {
        sqlx::query(gql::SESSIONS_SQL).execute(&raw_pool).await.context("opening a session for every user")?;
    }

    // Capture: learn each workload's statements through a second, short-lived server.
    println!("capturing the statements of each workload through a recording proxy…");
    let captured = capture_phase(&cli, &raw_pool, &fixtures, &kinds, db_addr, &log_dir).await?;
    let mut capture_reports = Vec::new();
    for &kind in &kinds {
        let Some(list) = captured.templates.get(&kind) else { continue };
        let Some(t) = list.first() else {
            println!("  {}: nothing captured", kind.name());
            continue;
        };
        let metrics = captured.metrics_per_request.get(&kind).copied();
        println!(
            "  {}: {} statements per request on the wire ({} without BEGIN/COMMIT; server /metrics: {}), \
             and {} pool connection checks (bare Sync round trips){}",
            kind.name(),
            t.statements(),
            t.counted_statements(),
            metrics.map(|m| format!("{m:.2}")).unwrap_or_else(|| "–".into()),
            t.pings,
            if list.len() > 1 { format!(", {} templates (one per post)", list.len()) } else { String::new() }
        );
        if cli.show_sql {
            print!("{}", t.describe());
        }
        capture_reports.push(CaptureReport {
            kind,
            statements: t.statements(),
            counted_statements: t.counted_statements(),
            server_metrics_statements: metrics,
            pool_checks: t.pings,
            approximate_params: t.approximate,
            sql: t.describe(),
        });
    }
    if let Some(small) = captured.w3_small_shape
        && let Some(t) = captured.templates.get(&Kind::W3).and_then(|l| l.first())
    {
        println!(
            "  W3 statements per request: {} at 5 children × 10 posts, {small} at 2 × 3 ({})",
            t.counted_statements(),
            if small == t.counted_statements() {
                "independent of the result size"
            } else {
                "DEPENDS on the result size"
            }
        );
    }

    if cli.explain {
        let mut conn = raw_pool.acquire().await?;
        let mut targets: Vec<(String, &Template, Vec<Vec<u8>>)> = Vec::new();
        for &kind in kinds.iter().filter(|k| !k.is_write()) {
            if let Some(t) = captured.templates.get(&kind).and_then(|l| l.first()) {
                let req = workloads::request(kind, &fixtures, 0, 0, &[], true).context("request")?;
                targets.push((kind.name().to_owned(), t, req.inputs));
            }
        }
        for (label, t) in &captured.explain_only {
            targets.push((label.clone(), t, Vec::new()));
        }
        for (label, t, inputs) in targets {
            println!("\n=== EXPLAIN: {label} ===");
            for (sql, plan) in t.explain(&mut conn, &inputs).await.with_context(|| format!("explaining {label}"))? {
                println!("{sql}\n{plan}");
            }
        }
    }

    let mut server = None;
    let mut client = None;
    let mut auth = Auth::Mint(gql::Minter::new(&secret));
    let mut idle_rss_mb = None;
    if needs_server {
        let s = if cli.spawn {
            let binary = cli.server_bin.clone().unwrap_or_else(default_binary);
            let log = log_dir.join("weco-loadgen-server.log");
            let s = Server::spawn(&SpawnOptions {
                binary: &binary,
                database_url: &cli.database_url,
                redis_url: None,
                jwt_secret: &secret,
                log: &log,
                env: &server_env(cli.db_pool),
            })
            .await?;
            println!("server: spawned {} at {} (pid {:?}, log {})", binary.display(), s.addr, s.pid, log.display());
            s
        } else {
            let url = cli.url.as_deref().unwrap_or_default();
            let addr: SocketAddr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .with_context(|| format!("--url {url}: give http://127.0.0.1:PORT"))?;
            if !addr.ip().is_loopback() {
                bail!("--url {url}: only loopback servers are load-tested");
            }
            let s = Server::existing(addr, cli.server_pid);
            println!("server: {} (pid {:?})", s.addr, s.pid);
            s
        };
        let c = gql::Client::new(s.addr, cli.concurrency + 4)?;
        tokio::time::sleep(cli.settle).await;
        idle_rss_mb = rss_mb(s.pid, "VmRSS");
        if let Some(idle) = idle_rss_mb {
            println!("server RSS idle: {idle:.1} MB");
        }
        // Seeded users' password works (and, without the server's secret, the tokens to use come from logins).
        let probe = &fixtures.users[0];
        match c.login(&probe.handle, &cli.password).await {
            Ok(_) => println!("login as seeded user `{}` with the seed password: ok", probe.handle),
            Err(e) => println!("login as seeded user `{}` failed: {e:#}", probe.handle),
        }
        if cli.url.is_some() && cli.jwt_secret.is_none() {
            let n = cli.login_users.min(fixtures.users.len());
            println!("no --jwt-secret for the --url server: logging {n} users in (and {n} storm users)…");
            fixtures.users.truncate(n);
            fixtures.storm_users.truncate(n);
            fixtures.storm_pool = fixtures.storm_users.len();
            let mut tokens = HashMap::new();
            for u in fixtures.users.iter().chain(fixtures.storm_users.iter()) {
                tokens.insert(
                    u.id,
                    c.login(&u.handle, &cli.password).await.with_context(|| format!("login {}", u.handle))?,
                );
            }
            auth = Auth::Tokens(Arc::new(tokens));
        }
        server = Some(s);
        client = Some(c);
    }

    let db_name = PgConnectOptions::from_str(&cli.database_url)?.get_database().unwrap_or("postgres").to_owned();
    let ctx = Ctx { cli, db_name, fixtures: Arc::new(fixtures), raw_pool, pgss };
    if let Some(c) = &client {
        for note in preflight(c, &ctx.fixtures, &kinds, &auth).await? {
            println!("preflight {note}");
        }
    }
    println!(
        "\nruns: {} clients, {:?} warm-up + {:?} measured each{}\n",
        ctx.cli.concurrency,
        ctx.cli.warmup,
        ctx.cli.duration,
        if ctx.cli.mode == Mode::Both { ", server then raw SQL" } else { "" }
    );
    let random_posts = Arc::new(captured.random_posts.clone());
    let mut runs = Vec::new();
    for &kind in &kinds {
        if let (Some(s), Some(c)) = (&server, &client) {
            let r = measure_server(&ctx, kind, s, c, &auth, random_posts.clone()).await?;
            println!("{}", report::run_line(&r));
            for e in &r.error_samples {
                println!("    error: {e}");
            }
            if let Some(n) = &r.note {
                println!("    {n}");
            }
            runs.push(r);
        }
        if ctx.cli.mode != Mode::Server {
            let Some(templates) = captured.templates.get(&kind).filter(|t| !t.is_empty()) else {
                println!("{}: no captured statements to replay", kind.name());
                continue;
            };
            let r = measure_raw(
                &ctx,
                kind,
                Arc::new(templates.clone()),
                random_posts.clone(),
                server.as_ref().and_then(|s| s.pid),
            )
            .await?;
            println!("{}", report::run_line(&r));
            for e in &r.error_samples {
                println!("    error: {e}");
            }
            if let Some(n) = &r.note {
                println!("    {n}");
            }
            runs.push(r);
        }
    }
    println!("\nstorm users used: {} of {}", ctx.fixtures.storm_used(), ctx.fixtures.storm_pool);
    println!("\n{}", report::statement_table(&runs, 6));
    if ctx.cli.markdown {
        println!("\n{}", report::markdown(&runs, idle_rss_mb));
        println!("{}", report::cpu_table(&runs, machine.nproc));
    }
    if let Some(path) = &ctx.cli.json {
        let json = JsonReport {
            machine: &machine,
            concurrency: ctx.cli.concurrency,
            warmup_secs: ctx.cli.warmup.as_secs_f64(),
            duration_secs: ctx.cli.duration.as_secs_f64(),
            fixtures: &ctx.fixtures,
            captures: capture_reports,
            w3_statements_small_shape: captured.w3_small_shape,
            idle_rss_mb,
            runs: &runs,
        };
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    }
    if let Some(s) = server {
        s.stop().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("2h").is_err());
    }

    #[test]
    fn the_proxy_url_keeps_user_database_and_options() {
        let proxy: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        assert_eq!(
            via_proxy("postgres://postgres@127.0.0.1:5432/weco_bench", proxy).expect("url"),
            "postgres://postgres@127.0.0.1:4000/weco_bench?sslmode=disable"
        );
        assert_eq!(
            via_proxy("postgres://u:p@localhost/db?application_name=x", proxy).expect("url"),
            "postgres://u:p@127.0.0.1:4000/db?application_name=x&sslmode=disable"
        );
    }

    #[test]
    fn only_loopback_databases_are_accepted() {
        assert!(database_addr("postgres://postgres@127.0.0.1:5432/x").is_ok());
        assert!(database_addr("postgres://postgres@10.1.2.3:5432/x").is_err());
    }
}
