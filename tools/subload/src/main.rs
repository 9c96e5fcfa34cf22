//! `weco-subload`: a subscription load test for Weco's realtime feeds.
//!
//! Opens N `graphql-transport-ws` subscribers to `spaceFeed` of one test space, creates posts in random spaces
//! below it at R per second through the GraphQL API, and reports how long joining took, how much server memory
//! each idle subscriber costs, and per delivered event the latency from the createPost request's send time
//! (carried in the post's title) to its receipt, with loss and duplicates. Loopback (127.0.0.1) only.
//!
//! ```sh
//! weco-subload --spawn --database-url postgres://postgres@127.0.0.1:5432/weco_subload \
//!     --redis-url redis://127.0.0.1:6379 --subscribers 10000 --rate 5 --duration 30s --json out.json
//! weco-subload --url http://127.0.0.1:8080 --subscribers 1000
//! ```

mod api;
mod histogram;
mod poll;
mod subscribers;

use anyhow::{Context as _, bail};
use api::Api;
use clap::{Parser, Subcommand};
use histogram::Histogram;
use rand::Rng as _;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use subscribers::{Subscribers, Worker, WorkerConfig, WorkerReport};
use weco_tool_support::proc;
use weco_tool_support::server::{Server, SpawnOptions, default_binary};

/// Most subscribers one run may open (and at most this many posts): the tool is bounded by design.
const MAX_SUBSCRIBERS: usize = 100_000;
const MAX_POSTS: u64 = 100_000;
/// Descriptors kept free in each process besides the subscribers' sockets.
const FD_MARGIN: u64 = 256;

#[derive(Parser, Debug)]
#[command(name = "weco-subload", version, about = "Load-test Weco's spaceFeed subscriptions (loopback only)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,

    /// A running server, `http://127.0.0.1:PORT` (repeat for replicas sharing a database and Redis).
    #[arg(long)]
    url: Vec<String>,
    /// PID of each `--url` server, for RSS and CPU; found from the listening socket when omitted.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Start the server(s) here instead: `serve --listen 127.0.0.1:0`.
    #[arg(long, conflicts_with = "url")]
    spawn: bool,
    /// How many server processes to spawn (replicas on one database and Redis; needs --redis-url for >1).
    #[arg(long, default_value_t = 1)]
    replicas: usize,
    /// The server binary for --spawn [default: $CARGO_TARGET_DIR/release/weco or target/release/weco].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Passed to the spawned server.
    #[arg(long)]
    database_url: Option<String>,
    /// Passed to the spawned server.
    #[arg(long)]
    redis_url: Option<String>,
    /// Where spawned servers write their logs (`server-<i>.log`) [default: the temp directory].
    #[arg(long)]
    log_dir: Option<PathBuf>,

    /// Websocket subscribers to open.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Posts created per second.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// How long to create posts (`30s`, `2m`, `1500ms`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Levels of spaces below the test space.
    #[arg(long, default_value_t = 6)]
    depth: usize,
    /// Children per space in the test tree.
    #[arg(long, default_value_t = 2)]
    fanout: usize,
    /// Connections being opened at once (across all subscriber processes).
    #[arg(long, default_value_t = 64)]
    parallelism: usize,
    /// Subscriber processes [default: as few as the descriptor limit allows].
    #[arg(long)]
    procs: Option<usize>,
    /// How long to wait for late deliveries after the last post.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    drain: Duration,
    /// Pause after every subscriber is live before reading the server's memory.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// Give up joining after this long.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    join_timeout: Duration,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A label for the report (e.g. the commit or the change being measured).
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Internal: run a share of the subscribers in this process, driven over stdin/stdout.
    #[command(hide = true)]
    Worker { config: String },
    /// One hot poll: votes per second from concurrent clients (tallies checked) and `PollChanged` latency.
    Poll(Box<poll::PollArgs>),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number.parse().map_err(|_| format!("not a duration: {text}"))?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {text} (use ms, s or m)")),
    };
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("out of range: {text}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `http://127.0.0.1:PORT` → the address; anything but 127.0.0.1 is refused.
fn loopback_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url.strip_prefix("http://").context("--url must start with http://")?;
    let host_port = rest.trim_end_matches('/');
    let addr: SocketAddr =
        host_port.parse().with_context(|| format!("--url must be http://127.0.0.1:PORT, got {url}"))?;
    if addr.ip() != std::net::IpAddr::V4(Ipv4Addr::LOCALHOST) {
        bail!("refusing {url}: this tool only connects to 127.0.0.1");
    }
    Ok(addr)
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

fn log(started: Instant, message: impl AsRef<str>) {
    eprintln!("[{:7.2}s] {}", started.elapsed().as_secs_f64(), message.as_ref());
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force.
fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    }
}

#[derive(Debug, Serialize, Default)]
struct Machine {
    nproc: usize,
    memory_total_mb: u64,
    kernel: String,
    fd_limit: u64,
}

fn machine(fd_limit: u64) -> Machine {
    let memory_total_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    Machine {
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_total_mb,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        fd_limit,
    }
}

#[derive(Debug, Serialize, Default)]
struct Report {
    label: String,
    machine: Machine,
    subscribers: usize,
    replicas: usize,
    subscriber_processes: usize,
    rate_per_s: f64,
    duration_s: f64,
    spaces_below: usize,

    // Joining.
    joined: u64,
    join_failed: u64,
    /// From the first connection attempt until the last `subscribe` was sent.
    connect_all_s: f64,
    connect_rate_per_s: f64,
    /// Connections per second over the first and the last tenth of the joins.
    connect_rate_first_tenth: f64,
    connect_rate_last_tenth: f64,
    join_p50_ms: f64,
    join_p99_ms: f64,
    join_max_ms: f64,
    /// From the first connection attempt until every subscriber had received a warm-up post.
    all_live_s: f64,
    live: u64,

    // Memory.
    server_rss_before_mb: f64,
    server_rss_idle_mb: f64,
    server_rss_after_load_mb: f64,
    /// (idle − before) / joined.
    server_kb_per_idle_subscriber: f64,
    tool_rss_mb: f64,

    // Delivery.
    posts_created: u64,
    posts_failed: u64,
    expected: u64,
    delivered: u64,
    lost: u64,
    loss_pct: f64,
    duplicates: u64,
    id_mismatches: u64,
    other_events: u64,
    errors: u64,
    ended_early: u64,
    close_codes: BTreeMap<u16, u64>,
    /// Receive time − createPost request send time.
    latency_p50_ms: f64,
    latency_p90_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    latency_mean_ms: f64,
    latency_samples: u64,
    /// Per post: latency of its first receipt (the pipeline without fan-out)…
    first_receipt_p50_ms: f64,
    first_receipt_p99_ms: f64,
    /// …and last receipt − first receipt (the fan-out to every subscriber).
    fanout_spread_p50_ms: f64,
    fanout_spread_p99_ms: f64,
    fanout_spread_max_ms: f64,
    /// createPost round trip (send → response).
    create_post_p50_ms: f64,
    create_post_p99_ms: f64,
    create_post_max_ms: f64,

    // Cost on the server during the posting phase.
    server_cpu_s: f64,
    server_cpu_pct: f64,
    /// The load tool's own CPU (all its processes) while posting.
    tool_cpu_s: f64,
    tool_cpu_pct: f64,
    /// The whole machine's CPU while posting, % of all cores, and what neither the server nor the tool used
    /// (PostgreSQL, Redis, and anything else running), % of one core.
    machine_busy_pct: f64,
    others_cpu_pct: f64,
    /// 1-minute load average when posting started and ended.
    load_average_start: f64,
    load_average_end: f64,
    /// Server CPU with every subscriber idle (during the settle pause), % of one core.
    server_idle_cpu_pct: f64,
    db_statements_per_post: Option<f64>,

    error_samples: Vec<String>,
    failure_samples: Vec<String>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

struct CreatedPost {
    seq: u64,
    id: String,
    rtt_us: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Worker { config }) = cli.command {
        raise_fd_limit();
        let config: WorkerConfig = serde_json::from_str(&config).context("worker configuration")?;
        return subscribers::run_worker(config).await;
    }
    if let Some(Cmd::Poll(args)) = cli.command {
        return poll::run(*args).await;
    }
    run(cli).await
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let started = Instant::now();
    if cli.subscribers == 0 || cli.subscribers > MAX_SUBSCRIBERS {
        bail!("--subscribers must be between 1 and {MAX_SUBSCRIBERS}");
    }
    if !(cli.rate > 0.0 && cli.rate <= 1000.0) {
        bail!("--rate must be in (0, 1000]");
    }
    let total_posts = (cli.rate * cli.duration.as_secs_f64()).round() as u64;
    if total_posts == 0 || total_posts > MAX_POSTS {
        bail!("rate × duration must give between 1 and {MAX_POSTS} posts");
    }
    if cli.depth == 0 || cli.fanout == 0 || cli.fanout.saturating_pow(cli.depth as u32) > 4096 {
        bail!("--depth and --fanout must be ≥ 1 with at most 4096 spaces on the last level");
    }
    let fd_limit = raise_fd_limit();
    let per_process = fd_limit.saturating_sub(FD_MARGIN).max(1) as usize;
    let procs = cli.procs.unwrap_or_else(|| cli.subscribers.div_ceil(per_process)).max(1);
    if cli.subscribers.div_ceil(procs) > per_process {
        bail!(
            "{} subscribers in {procs} process(es) exceed the descriptor limit ({fd_limit}); use --procs {}",
            cli.subscribers,
            cli.subscribers.div_ceil(per_process)
        );
    }

    // The server(s).
    let mut servers = Vec::new();
    if cli.spawn {
        if cli.replicas > 1 && cli.redis_url.is_none() {
            bail!("--replicas > 1 needs --redis-url (replicas exchange events through Redis)");
        }
        if cli.subscribers.div_ceil(cli.replicas) > per_process {
            log(
                started,
                format!(
                    "warning: {} subscribers per server exceed its descriptor limit ({fd_limit}); use more --replicas",
                    cli.subscribers.div_ceil(cli.replicas)
                ),
            );
        }
        let binary = cli.server_bin.clone().unwrap_or_else(default_binary);
        let database_url = cli.database_url.clone().context("--spawn needs --database-url")?;
        let secret = format!("subload-{:016x}", rand::rng().random::<u64>());
        let log_dir = cli.log_dir.clone().unwrap_or_else(std::env::temp_dir);
        for i in 0..cli.replicas.max(1) {
            let log_path = log_dir.join(format!("weco-subload-server-{i}.log"));
            // One client makes the spaces and the posts, and opens every socket from one address: the rate
            // budget and the per-address socket cap are off for the measurement.
            let mut env: Vec<(String, String)> = vec![
                ("WECO_RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
                ("WECO_WS_MAX_CONNECTIONS_PER_ADDRESS".to_owned(), "0".to_owned()),
            ];
            env.extend(std::env::var("SUBLOAD_SERVER_RUST_LOG").map(|v| ("RUST_LOG".to_owned(), v)));
            let options = SpawnOptions {
                binary: &binary,
                database_url: &database_url,
                redis_url: cli.redis_url.as_deref(),
                jwt_secret: &secret,
                log: &log_path,
                env: &env,
            };
            let server = Server::spawn(&options).await?;
            log(
                started,
                format!("server {i} listening on {} (pid {:?}, log {})", server.addr, server.pid, log_path.display()),
            );
            servers.push(server);
        }
    } else {
        if cli.url.is_empty() {
            bail!("give --url http://127.0.0.1:PORT or --spawn");
        }
        for (i, url) in cli.url.iter().enumerate() {
            let server = Server::existing(loopback_addr(url)?, cli.server_pid.get(i).copied());
            log(started, format!("server {i} at {} (pid {:?})", server.addr, server.pid));
            servers.push(server);
        }
    }
    let result = measure(&cli, &servers, procs, fd_limit, total_posts, started).await;
    for server in servers {
        server.stop().await;
    }
    let report = result?;
    print_report(&report);
    if let Some(path) = &cli.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        log(started, format!("wrote {}", path.display()));
    }
    Ok(())
}

/// Busy and total CPU time of the whole machine so far (jiffies, from /proc/stat).
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|l| l.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

fn rss_total(servers: &[Server]) -> Option<u64> {
    servers.iter().map(Server::rss).sum()
}

fn cpu_total(servers: &[Server]) -> Option<f64> {
    servers.iter().map(Server::cpu_seconds).sum()
}

async fn statements_total(apis: &[Api]) -> Option<u64> {
    let mut total = 0;
    for api in apis {
        total += api.statements().await?;
    }
    Some(total)
}

async fn measure(
    cli: &Cli,
    servers: &[Server],
    procs: usize,
    fd_limit: u64,
    total_posts: u64,
    started: Instant,
) -> anyhow::Result<Report> {
    let apis: Vec<Api> = servers.iter().map(|s| Api::new(s.addr)).collect::<anyhow::Result<_>>()?;
    for api in &apis {
        api.ready(Duration::from_secs(60)).await?;
    }
    let api = &apis[0];

    // Data: a user and a tree of spaces under one test space.
    let tag = format!("{:08x}", rand::rng().random::<u32>());
    let token = api.register(&format!("subload-{tag}")).await.context("registering the test user")?;
    let top = api.create_space(&token, &format!("sl-{tag}"), None).await.context("creating the test space")?;
    let mut below: Vec<String> = Vec::new();
    let mut level = vec![top.clone()];
    for depth in 1..=cli.depth {
        let mut next = Vec::new();
        for (p, parent) in level.iter().enumerate() {
            for c in 0..cli.fanout {
                let handle = format!("sl-{tag}-{depth}-{p}-{c}");
                next.push(api.create_space(&token, &handle, Some(parent)).await.context("creating a test space")?);
            }
        }
        below.extend(next.iter().cloned());
        level = next;
    }
    log(started, format!("test space {top} with {} spaces below it, {} levels deep", below.len(), cli.depth));
    let below = Arc::new(below);
    let random_space = {
        let below = Arc::clone(&below);
        move || below[rand::rng().random_range(0..below.len())].clone()
    };
    // One post before measuring memory, so first-use allocations are not counted per subscriber.
    api.create_post(&token, &random_space(), "subload warmup 0").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_total(servers);

    // Subscribers.
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let mut workers = Vec::new();
    let share = cli.subscribers.div_ceil(procs);
    let connect_started = Instant::now();
    for p in 0..procs {
        let first = p * share;
        let count = share.min(cli.subscribers - first);
        let config = WorkerConfig {
            servers: addrs.clone(),
            space_id: top.clone(),
            count,
            first,
            parallelism: cli.parallelism.div_ceil(procs),
        };
        workers.push(if procs == 1 {
            Worker::Local(Subscribers::start(config))
        } else {
            Worker::spawn_child(&config)?
        });
    }
    log(
        started,
        format!("opening {} subscribers ({procs} process(es), {} at a time)", cli.subscribers, cli.parallelism),
    );
    let mut last_log = Instant::now();
    let connect_all = loop {
        let (mut joined, mut failed) = (0, 0);
        for w in &mut workers {
            let s = w.status().await?;
            joined += s.joined;
            failed += s.failed;
        }
        if joined + failed >= cli.subscribers as u64 {
            break connect_started.elapsed();
        }
        if connect_started.elapsed() > cli.join_timeout {
            log(started, format!("join timeout: {joined} joined, {failed} failed"));
            break connect_started.elapsed();
        }
        if last_log.elapsed() > Duration::from_secs(5) {
            log(started, format!("{joined} joined, {failed} failed"));
            last_log = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    log(started, format!("joining done in {:.2}s", connect_all.as_secs_f64()));

    // Warm-up posts until every joined subscriber has received one: then every subscription is registered.
    let mut warmups = 1;
    let (all_live, live) = loop {
        let (mut joined, mut live) = (0, 0);
        for w in &mut workers {
            let s = w.status().await?;
            joined += s.joined.saturating_sub(s.ended);
            live += s.live;
        }
        if live >= joined {
            break (connect_started.elapsed(), live);
        }
        if connect_started.elapsed() > cli.join_timeout {
            log(started, format!("only {live} of {joined} subscribers live"));
            break (connect_started.elapsed(), live);
        }
        api.create_post(&token, &random_space(), &format!("subload warmup {warmups}")).await?;
        warmups += 1;
        let wait = Instant::now();
        while wait.elapsed() < Duration::from_millis(1500) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut now_live = 0;
            for w in &mut workers {
                now_live += w.status().await?.live;
            }
            if now_live >= joined {
                break;
            }
        }
    };
    log(started, format!("{live} subscribers live after {:.2}s ({warmups} warm-up posts)", all_live.as_secs_f64()));
    let idle_cpu_before = cpu_total(servers);
    tokio::time::sleep(cli.settle).await;
    let idle_cpu = match (idle_cpu_before, cpu_total(servers)) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let rss_idle = rss_total(servers);
    let worker_pids: Vec<u32> = workers.iter().filter_map(Worker::pid).collect();
    let tool_cpu = || worker_pids.iter().filter_map(|p| proc::cpu_seconds(*p)).sum::<f64>();

    // Posting.
    let statements_before = statements_total(&apis).await;
    let cpu_before = cpu_total(servers);
    let tool_cpu_before = tool_cpu();
    let machine_before = machine_cpu();
    let load_start = load_average();
    let posting_started = Instant::now();
    let created: Arc<Mutex<Vec<CreatedPost>>> = Arc::default();
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / cli.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut in_flight = Vec::new();
    log(started, format!("creating {total_posts} posts at {}/s", cli.rate));
    for seq in 0..total_posts {
        ticker.tick().await;
        let api = apis[seq as usize % apis.len()].clone();
        let (token, space, created, failures) =
            (token.clone(), random_space(), Arc::clone(&created), Arc::clone(&failures));
        in_flight.push(tokio::spawn(async move {
            let sent = now_us();
            let t0 = Instant::now();
            match api.create_post(&token, &space, &format!("{}{seq} @{sent}", subscribers::TITLE_PREFIX)).await {
                Ok(id) => {
                    let rtt_us = t0.elapsed().as_micros() as u64;
                    created.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(CreatedPost {
                        seq,
                        id,
                        rtt_us,
                    });
                }
                Err(e) => {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    eprintln!("createPost #{seq} failed: {e:#}");
                }
            }
        }));
    }
    for task in in_flight {
        let _ = task.await;
    }
    let posting = posting_started.elapsed();
    let cpu_after = cpu_total(servers);
    let tool_cpu_used = tool_cpu() - tool_cpu_before;
    let load_end = load_average();
    let (machine_busy_pct, others_cpu_pct) = match (machine_before, machine_cpu(), cpu_before, cpu_after) {
        (Some((b0, t0)), Some((b1, t1)), Some(s0), Some(s1)) if t1 > t0 => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let busy_s = (b1 - b0) as f64 / 100.0;
            let wall = (t1 - t0) as f64 / 100.0 / cores;
            (100.0 * (b1 - b0) as f64 / (t1 - t0) as f64, 100.0 * (busy_s - (s1 - s0) - tool_cpu_used).max(0.0) / wall)
        }
        _ => (0.0, 0.0),
    };
    let statements_after = statements_total(&apis).await;
    let created = std::mem::take(&mut *created.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let posts_created = created.len() as u64;

    // Late deliveries.
    let mut joined_total = 0;
    for w in &mut workers {
        joined_total += w.status().await?.joined;
    }
    let expected = joined_total * posts_created;
    let drain_started = Instant::now();
    loop {
        let mut delivered = 0;
        for w in &mut workers {
            delivered += w.status().await?.delivered;
        }
        if delivered >= expected || drain_started.elapsed() > cli.drain {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_after = rss_total(servers);
    // The coordinator, plus its subscriber processes when it has any.
    let tool_rss = proc::rss(std::process::id()).unwrap_or(0)
        + worker_pids.iter().filter(|p| **p != std::process::id()).filter_map(|p| proc::rss(*p)).sum::<u64>();

    let mut merged = WorkerReport::default();
    for w in workers {
        let r = w.stop().await?;
        merge(&mut merged, r);
    }
    log(started, "subscribers closed");

    // Compare what was received with what was created.
    let ids: BTreeMap<u64, &str> = created.iter().map(|p| (p.seq, p.id.as_str())).collect();
    let ours = || merged.per_seq.iter().filter(|(seq, _)| ids.contains_key(seq)).map(|(_, s)| s);
    let delivered: u64 = ours().map(|s| s.count).sum();
    let (mut first, mut spread) = (Histogram::default(), Histogram::default());
    for s in ours() {
        first.record(s.first_us);
        spread.record(s.last_us.saturating_sub(s.first_us));
    }
    let id_mismatches = merged.id_mismatches
        + merged.seq_ids.iter().filter(|(seq, id)| ids.get(seq).is_some_and(|expected| expected != id)).count() as u64;
    let mut rtt = Histogram::default();
    for p in &created {
        rtt.record(p.rtt_us);
    }
    let connect_rates = decile_rates(&merged.joined_at_us);
    let n = merged.status.joined.max(1) as f64;
    let mb = |b: Option<u64>| b.map_or(0.0, |b| b as f64 / 1_048_576.0);
    let cpu = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let report = Report {
        label: cli.label.clone(),
        machine: machine(fd_limit),
        subscribers: cli.subscribers,
        replicas: servers.len(),
        subscriber_processes: procs,
        rate_per_s: cli.rate,
        duration_s: cli.duration.as_secs_f64(),
        spaces_below: below.len(),
        joined: merged.status.joined,
        join_failed: merged.status.failed,
        connect_all_s: connect_all.as_secs_f64(),
        connect_rate_per_s: merged.status.joined as f64 / connect_all.as_secs_f64().max(1e-9),
        connect_rate_first_tenth: connect_rates.0,
        connect_rate_last_tenth: connect_rates.1,
        join_p50_ms: ms(merged.join_us.quantile(0.5)),
        join_p99_ms: ms(merged.join_us.quantile(0.99)),
        join_max_ms: ms(merged.join_us.max()),
        all_live_s: all_live.as_secs_f64(),
        live,
        server_rss_before_mb: mb(rss_before),
        server_rss_idle_mb: mb(rss_idle),
        server_rss_after_load_mb: mb(rss_after),
        server_kb_per_idle_subscriber: match (rss_before, rss_idle) {
            (Some(a), Some(b)) => (b as f64 - a as f64) / 1024.0 / n,
            _ => 0.0,
        },
        tool_rss_mb: tool_rss as f64 / 1_048_576.0,
        posts_created,
        posts_failed: failures.load(std::sync::atomic::Ordering::Relaxed),
        expected,
        delivered,
        lost: expected.saturating_sub(delivered),
        loss_pct: if expected == 0 { 0.0 } else { 100.0 * expected.saturating_sub(delivered) as f64 / expected as f64 },
        duplicates: merged.duplicates,
        id_mismatches,
        other_events: merged.other_events,
        errors: merged.errors,
        ended_early: merged.status.ended,
        close_codes: merged.close_codes.clone(),
        latency_p50_ms: ms(merged.latency_us.quantile(0.5)),
        latency_p90_ms: ms(merged.latency_us.quantile(0.9)),
        latency_p99_ms: ms(merged.latency_us.quantile(0.99)),
        latency_max_ms: ms(merged.latency_us.max()),
        latency_mean_ms: merged.latency_us.mean() / 1000.0,
        latency_samples: merged.latency_us.count(),
        first_receipt_p50_ms: ms(first.quantile(0.5)),
        first_receipt_p99_ms: ms(first.quantile(0.99)),
        fanout_spread_p50_ms: ms(spread.quantile(0.5)),
        fanout_spread_p99_ms: ms(spread.quantile(0.99)),
        fanout_spread_max_ms: ms(spread.max()),
        create_post_p50_ms: ms(rtt.quantile(0.5)),
        create_post_p99_ms: ms(rtt.quantile(0.99)),
        create_post_max_ms: ms(rtt.max()),
        server_cpu_s: cpu,
        server_cpu_pct: 100.0 * cpu / posting.as_secs_f64().max(1e-9),
        tool_cpu_s: tool_cpu_used,
        tool_cpu_pct: 100.0 * tool_cpu_used / posting.as_secs_f64().max(1e-9),
        machine_busy_pct,
        others_cpu_pct,
        load_average_start: load_start,
        load_average_end: load_end,
        server_idle_cpu_pct: 100.0 * idle_cpu / cli.settle.as_secs_f64().max(1e-9),
        db_statements_per_post: match (statements_before, statements_after) {
            (Some(a), Some(b)) if posts_created > 0 => Some((b - a) as f64 / posts_created as f64),
            _ => None,
        },
        error_samples: merged.error_samples.clone(),
        failure_samples: merged.failure_samples.clone(),
    };
    Ok(report)
}

fn merge(into: &mut WorkerReport, r: WorkerReport) {
    into.status.joined += r.status.joined;
    into.status.failed += r.status.failed;
    into.status.live += r.status.live;
    into.status.delivered += r.status.delivered;
    into.status.ended += r.status.ended;
    into.latency_us.merge(&r.latency_us);
    into.join_us.merge(&r.join_us);
    into.joined_at_us.extend(r.joined_at_us);
    into.joined_at_us.sort_unstable();
    for (seq, stat) in r.per_seq {
        into.per_seq.entry(seq).and_modify(|s| s.add(&stat)).or_insert(stat);
    }
    for (seq, id) in r.seq_ids {
        match into.seq_ids.get(&seq) {
            Some(existing) if *existing != id => into.id_mismatches += 1,
            Some(_) => {}
            None => {
                into.seq_ids.insert(seq, id);
            }
        }
    }
    into.duplicates += r.duplicates;
    into.id_mismatches += r.id_mismatches;
    into.other_events += r.other_events;
    into.errors += r.errors;
    for (code, n) in r.close_codes {
        *into.close_codes.entry(code).or_default() += n;
    }
    into.error_samples.extend(r.error_samples);
    into.error_samples.truncate(5);
    into.failure_samples.extend(r.failure_samples);
    into.failure_samples.truncate(10);
}

/// Joins per second over the first and the last tenth of the joins (by join time).
fn decile_rates(times_us: &[u64]) -> (f64, f64) {
    let n = times_us.len();
    if n < 20 {
        return (0.0, 0.0);
    }
    let tenth = n / 10;
    let rate = |from: usize, to: usize| {
        let span = times_us[to].saturating_sub(times_us[from]) as f64 / 1e6;
        (to - from) as f64 / span.max(1e-6)
    };
    (rate(0, tenth), rate(n - 1 - tenth, n - 1))
}

fn print_report(r: &Report) {
    let rows: Vec<(&str, String)> = vec![
        ("label", r.label.clone()),
        (
            "machine",
            format!(
                "{} cores, {} MB, kernel {}, fd limit {}",
                r.machine.nproc, r.machine.memory_total_mb, r.machine.kernel, r.machine.fd_limit
            ),
        ),
        ("servers / subscriber processes", format!("{} / {}", r.replicas, r.subscriber_processes)),
        ("subscribers joined / failed", format!("{} / {}", r.joined, r.join_failed)),
        ("time to join all", format!("{:.2} s ({:.0}/s)", r.connect_all_s, r.connect_rate_per_s)),
        (
            "join rate first / last tenth",
            format!("{:.0}/s / {:.0}/s", r.connect_rate_first_tenth, r.connect_rate_last_tenth),
        ),
        (
            "join per connection p50/p99/max",
            format!("{:.1} / {:.1} / {:.1} ms", r.join_p50_ms, r.join_p99_ms, r.join_max_ms),
        ),
        ("all live (warm-up received)", format!("{} after {:.2} s", r.live, r.all_live_s)),
        (
            "server RSS before / idle / after load",
            format!(
                "{:.1} / {:.1} / {:.1} MB",
                r.server_rss_before_mb, r.server_rss_idle_mb, r.server_rss_after_load_mb
            ),
        ),
        ("server memory per idle subscriber", format!("{:.1} KB", r.server_kb_per_idle_subscriber)),
        (
            "posts created / failed",
            format!(
                "{} / {} at {}/s for {} s into {} spaces",
                r.posts_created, r.posts_failed, r.rate_per_s, r.duration_s, r.spaces_below
            ),
        ),
        ("events expected / delivered", format!("{} / {}", r.expected, r.delivered)),
        ("lost / duplicates", format!("{} ({:.3} %) / {}", r.lost, r.loss_pct, r.duplicates)),
        (
            "latency p50 / p90 / p99 / max",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} ms",
                r.latency_p50_ms, r.latency_p90_ms, r.latency_p99_ms, r.latency_max_ms
            ),
        ),
        (
            "first receipt of a post p50 / p99",
            format!("{:.1} / {:.1} ms", r.first_receipt_p50_ms, r.first_receipt_p99_ms),
        ),
        (
            "fan-out spread (last − first) p50 / p99 / max",
            format!("{:.1} / {:.1} / {:.1} ms", r.fanout_spread_p50_ms, r.fanout_spread_p99_ms, r.fanout_spread_max_ms),
        ),
        ("createPost round trip p50 / p99", format!("{:.1} / {:.1} ms", r.create_post_p50_ms, r.create_post_p99_ms)),
        ("server CPU while posting", format!("{:.1} s ({:.0} % of one core)", r.server_cpu_s, r.server_cpu_pct)),
        ("load tool CPU while posting", format!("{:.1} s ({:.0} % of one core)", r.tool_cpu_s, r.tool_cpu_pct)),
        (
            "machine busy while posting",
            format!(
                "{:.0} % of all cores; PostgreSQL, Redis and others {:.0} % of one core; load {:.1} → {:.1}",
                r.machine_busy_pct, r.others_cpu_pct, r.load_average_start, r.load_average_end
            ),
        ),
        ("server CPU idle (all subscribed)", format!("{:.1} % of one core", r.server_idle_cpu_pct)),
        ("DB statements per post", r.db_statements_per_post.map_or("n/a".to_owned(), |s| format!("{s:.1}"))),
        ("errors / other events / ended early", format!("{} / {} / {}", r.errors, r.other_events, r.ended_early)),
        ("load tool RSS", format!("{:.1} MB", r.tool_rss_mb)),
    ];
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("weco-subload: spaceFeed with {} subscribers", r.subscribers);
    for (k, v) in rows {
        println!("  {k:<width$}  {v}");
    }
    if !r.close_codes.is_empty() {
        println!("  close codes: {:?}", r.close_codes);
    }
    for s in &r.error_samples {
        println!("  error: {s}");
    }
    for s in &r.failure_samples {
        println!("  join failure: {s}");
    }
}
