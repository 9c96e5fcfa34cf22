//! `weco-subload poll`: one hot poll — how many votes per second it takes from concurrent clients with its tallies
//! exact afterwards, and how long `PollChanged` takes to reach its subscribers.
//!
//! 1. Registers `--voters` users and creates a SINGLE poll with four answers in a fresh space.
//! 2. Opens `--subscribers` anonymous `graphql-transport-ws` subscriptions to `postUpdates` of the poll, casts one
//!    probe vote and waits until every subscriber has heard of it (so all are live).
//! 3. Latency: `--latency-votes` votes one after the other at `--rate` per second, each by a new voter; vote k makes
//!    `totalVoters` k + 1. A subscriber's updates of one poll are throttled (the first at once, then the newest
//!    at most once per interval), so vote k reached it with the first `PollChanged` showing k + 1 voters or
//!    more. Latency is that receipt time − the vote request's send time; a vote never reflected is a loss.
//! 4. Throughput: the subscribers close, then `--clients` clients vote as fast as they can for `--duration`,
//!    each vote by the next voter (new voters first; once all have voted, re-votes, which replace a ballot).
//! 5. Checks the poll's tallies against what was confirmed: `totalVoters` = voters with a ballot, and the answers'
//!    `totalVotes` add up to it.

use crate::api::Api;
use crate::histogram::Histogram;
use crate::{log, loopback_addr, ms, parse_duration};
use anyhow::{Context as _, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use weco_tool_support::server::{Server, SpawnOptions, default_binary};

const MAX_VOTERS: usize = 100_000;
const MAX_POLL_SUBSCRIBERS: usize = 10_000;
const VOTE: &str = "mutation($p: ID!, $b: [BallotEntryInput!]!) { voteOnPoll(postId: $p, ballot: $b) { totalVoters } }";
const UPDATES: &str =
    "subscription($p: ID!) { postUpdates(postId: $p) { __typename ... on PollChanged { poll { totalVoters } } } }";

#[derive(clap::Args, Debug)]
pub struct PollArgs {
    /// A running server, `http://127.0.0.1:PORT`.
    #[arg(long)]
    url: Option<String>,
    /// PID of the `--url` server, for RSS and CPU; found from the listening socket when omitted.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Start the server here instead: `serve --listen 127.0.0.1:0` with the rate budget off.
    #[arg(long, conflicts_with = "url")]
    spawn: bool,
    /// The server binary for --spawn [default: $CARGO_TARGET_DIR/release/weco or target/release/weco].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Passed to the spawned server.
    #[arg(long)]
    database_url: Option<String>,
    /// Passed to the spawned server.
    #[arg(long)]
    redis_url: Option<String>,
    /// Where the spawned server writes its log [default: the temp directory].
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Users registered to vote.
    #[arg(long, default_value_t = 2000)]
    voters: usize,
    /// Subscribers of the poll's updates during the latency phase.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Votes of the latency phase (one after the other).
    #[arg(long, default_value_t = 100)]
    latency_votes: usize,
    /// Votes per second in the latency phase.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Concurrent voting clients in the throughput phase.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// How long the throughput phase votes.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    duration: Duration,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A label for the report.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Serialize, Default)]
struct PollReport {
    label: String,
    voters: usize,
    subscribers: usize,
    latency_votes: usize,
    delivered: u64,
    expected: u64,
    lost: u64,
    latency_p50_ms: f64,
    latency_p90_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    clients: usize,
    seconds: f64,
    votes_ok: u64,
    votes_failed: u64,
    first_errors: Vec<String>,
    votes_per_second: f64,
    vote_p50_ms: f64,
    vote_p99_ms: f64,
    server_cpu_ms_per_vote: Option<f64>,
    server_rss_mb: Option<f64>,
    total_voters: i64,
    voters_with_a_ballot: usize,
    answer_votes_sum: i64,
    exact: bool,
}

pub async fn run(args: PollArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.voters == 0 || args.voters > MAX_VOTERS {
        bail!("--voters must be between 1 and {MAX_VOTERS}");
    }
    if args.subscribers > MAX_POLL_SUBSCRIBERS {
        bail!("--subscribers must be at most {MAX_POLL_SUBSCRIBERS}");
    }
    if args.latency_votes + 1 > args.voters {
        bail!("--latency-votes must be below --voters (each latency vote is a new voter)");
    }
    if !(args.rate > 0.0 && args.rate <= 1000.0) || args.clients == 0 || args.clients > 256 {
        bail!("--rate must be in (0, 1000] and --clients in 1..=256");
    }
    crate::raise_fd_limit();
    let server = if args.spawn {
        let binary = args.server_bin.clone().unwrap_or_else(default_binary);
        let database_url = args.database_url.clone().context("--spawn needs --database-url")?;
        let secret = format!("pollload-{:016x}", rand::random::<u64>());
        let log_path = args.log_dir.clone().unwrap_or_else(std::env::temp_dir).join("weco-subload-poll-server.log");
        // One address casts every vote and opens every socket: the rate budget and the socket cap are off.
        let env: Vec<(String, String)> = vec![
            ("WECO_RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
            ("WECO_WS_MAX_CONNECTIONS_PER_ADDRESS".to_owned(), "0".to_owned()),
        ];
        let options = SpawnOptions {
            binary: &binary,
            database_url: &database_url,
            redis_url: args.redis_url.as_deref(),
            jwt_secret: &secret,
            log: &log_path,
            env: &env,
        };
        let server = Server::spawn(&options).await?;
        log(started, format!("server listening on {} (log {})", server.addr, log_path.display()));
        server
    } else {
        let url = args.url.as_deref().context("give --url http://127.0.0.1:PORT or --spawn")?;
        Server::existing(loopback_addr(url)?, args.server_pid)
    };
    let result = measure(&args, &server, started).await;
    server.stop().await;
    let report = result?;
    print(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !report.exact {
        bail!("the poll's tallies do not match the confirmed votes");
    }
    Ok(())
}

async fn measure(args: &PollArgs, server: &Server, started: Instant) -> anyhow::Result<PollReport> {
    let api = Api::new(server.addr)?;
    api.ready(Duration::from_secs(60)).await?;
    let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);

    // The poll.
    let owner = api.register(&format!("pl{run}owner")).await?;
    let space = api.create_space(&owner, &format!("pl{run}"), None).await?;
    let created = api
        .gql(
            Some(&owner),
            "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id poll { answers { id } } } } }",
            json!({ "i": { "spaceIds": [space], "title": "A hot poll", "poll": {
                "type": "SINGLE", "answers": [{ "text": "a" }, { "text": "b" }, { "text": "c" }, { "text": "d" }] } } }),
        )
        .await?;
    let post = created["createPost"]["post"]["id"].as_str().context("no poll id")?.to_owned();
    let answers: Vec<String> = created["createPost"]["post"]["poll"]["answers"]
        .as_array()
        .context("no answers")?
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();

    // The voters, registered a few at a time (each registration hashes a password).
    log(started, format!("registering {} voters", args.voters));
    let next = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(Mutex::new(vec![String::new(); args.voters]));
    let mut registering = Vec::new();
    for _ in 0..8 {
        let (api, next, tokens, run, total) = (api.clone(), next.clone(), tokens.clone(), run.clone(), args.voters);
        registering.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return anyhow::Ok(());
                }
                let token = api.register(&format!("pl{run}v{i}")).await?;
                tokens.lock().await[i] = token;
            }
        }));
    }
    for task in registering {
        task.await??;
    }
    let tokens: Arc<Vec<String>> = Arc::new(std::mem::take(&mut *tokens.lock().await));
    let voter = Voter { api: api.clone(), tokens, post: post.clone(), answers: Arc::new(answers) };
    let vote = |i: usize, answer: usize| voter.vote(i, answer);

    // Subscribers, then a probe vote every one of them must hear of.
    log(started, format!("opening {} subscribers", args.subscribers));
    let heard: Arc<Vec<Heard>> = Arc::new((0..args.subscribers).map(|_| Mutex::new(Vec::new())).collect());
    let mut sockets = Vec::new();
    for chunk in (0..args.subscribers).collect::<Vec<_>>().chunks(64) {
        let joined = futures_util::future::join_all(chunk.iter().map(|_| subscribe(server.addr, &post))).await;
        for socket in joined {
            sockets.push(socket?);
        }
    }
    let listeners: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let heard = heard.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    let Message::Text(text) = message else { continue };
                    let at = Instant::now();
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                    if let Some(total) = value["payload"]["data"]["postUpdates"]["poll"]["totalVoters"].as_i64() {
                        heard[i].lock().await.push((total, at));
                    }
                }
            })
        })
        .collect();
    vote(0, 0).await.context("the probe vote")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut live = 0;
        for h in heard.iter() {
            live += usize::from(h.lock().await.iter().any(|(t, _)| *t == 1));
        }
        if live == args.subscribers {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {live} of {} subscribers heard the probe vote within 60 s", args.subscribers);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Latency: one vote after another, vote k by voter k, which makes totalVoters k + 1.
    log(started, format!("latency: {} votes at {}/s", args.latency_votes, args.rate));
    let mut sent: HashMap<i64, Instant> = HashMap::new();
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let mut tick = tokio::time::interval(period);
    for k in 1..=args.latency_votes {
        tick.tick().await;
        sent.insert(k as i64 + 1, Instant::now());
        vote(k, k % voter.answers.len()).await.with_context(|| format!("latency vote {k}"))?;
    }
    let last = args.latency_votes as i64 + 1;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut done = 0;
        for h in heard.iter() {
            done += usize::from(h.lock().await.iter().any(|(t, _)| *t == last));
        }
        if done == args.subscribers || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for listener in &listeners {
        listener.abort();
    }
    // A subscriber's updates of one poll are throttled (the newest state at most once per interval), so vote k
    // reached a subscriber with the first update that shows its total or a later one.
    let mut latency = Histogram::default();
    let mut delivered = 0u64;
    for h in heard.iter() {
        let h = h.lock().await;
        for (total, sent) in &sent {
            if let Some(at) = h.iter().filter(|(t, _)| t >= total).map(|(_, at)| *at).min() {
                latency.record(at.saturating_duration_since(*sent).as_micros() as u64);
                delivered += 1;
            }
        }
    }
    let expected = (args.subscribers * args.latency_votes) as u64;

    // Throughput: `clients` clients vote as fast as they can.
    log(started, format!("throughput: {} clients for {:?}", args.clients, args.duration));
    let cpu_before = server.cpu_seconds();
    let next_voter = Arc::new(AtomicUsize::new(args.latency_votes + 1));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let until = Instant::now() + args.duration;
    let began = Instant::now();
    let mut clients = Vec::new();
    for c in 0..args.clients {
        let (next_voter, ok, failed, errors, voter) =
            (next_voter.clone(), ok.clone(), failed.clone(), errors.clone(), voter.clone());
        let voters = args.voters;
        let answer_count = voter.answers.len();
        clients.push(tokio::spawn(async move {
            let mut times = Histogram::default();
            let mut n = c;
            while Instant::now() < until {
                let i = next_voter.fetch_add(1, Ordering::Relaxed) % voters;
                n += 1;
                let t = Instant::now();
                match voter.vote(i, n % answer_count).await {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        times.record(t.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut errors = errors.lock().await;
                        if errors.len() < 5 {
                            errors.push(e.to_string());
                        }
                    }
                }
            }
            times
        }));
    }
    let mut vote_times = Histogram::default();
    for client in clients {
        vote_times.merge(&client.await?);
    }
    let seconds = began.elapsed().as_secs_f64();
    let cpu_after = server.cpu_seconds();
    let (votes_ok, votes_failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));

    // The tallies against what was confirmed: every voter up to the last one handed out has a ballot (a failed
    // vote leaves none only if it was that voter's first).
    let poll = api
        .gql(
            None,
            "query($p: ID!) { post(id: $p) { poll { totalVoters answers { totalVotes } } } }",
            json!({ "p": post }),
        )
        .await?;
    let total_voters = poll["post"]["poll"]["totalVoters"].as_i64().context("no totalVoters")?;
    let answer_votes_sum: i64 = poll["post"]["poll"]["answers"]
        .as_array()
        .context("no answers")?
        .iter()
        .map(|a| a["totalVotes"].as_i64().unwrap_or(-1_000_000))
        .sum();
    let handed_out = next_voter.load(Ordering::Relaxed).min(args.voters);
    let voters_with_a_ballot = if votes_failed == 0 { handed_out } else { 0 };
    let exact = votes_failed == 0 && total_voters == handed_out as i64 && answer_votes_sum == total_voters;

    Ok(PollReport {
        label: args.label.clone(),
        voters: args.voters,
        subscribers: args.subscribers,
        latency_votes: args.latency_votes,
        delivered,
        expected,
        lost: expected.saturating_sub(delivered),
        latency_p50_ms: ms(latency.quantile(0.5)),
        latency_p90_ms: ms(latency.quantile(0.9)),
        latency_p99_ms: ms(latency.quantile(0.99)),
        latency_max_ms: ms(latency.max()),
        clients: args.clients,
        seconds,
        votes_ok,
        votes_failed,
        first_errors: errors.lock().await.clone(),
        votes_per_second: votes_ok as f64 / seconds,
        vote_p50_ms: ms(vote_times.quantile(0.5)),
        vote_p99_ms: ms(vote_times.quantile(0.99)),
        server_cpu_ms_per_vote: cpu_before.zip(cpu_after).map(|(b, a)| (a - b) * 1000.0 / votes_ok.max(1) as f64),
        server_rss_mb: server.rss().map(|b| b as f64 / 1_048_576.0),
        total_voters,
        voters_with_a_ballot,
        answer_votes_sum,
        exact,
    })
}

/// What one subscriber heard: each `PollChanged`'s `totalVoters` and when it arrived.
type Heard = Mutex<Vec<(i64, Instant)>>;

/// Casts ballots for the registered voters.
#[derive(Clone)]
struct Voter {
    api: Api,
    tokens: Arc<Vec<String>>,
    post: String,
    answers: Arc<Vec<String>>,
}

impl Voter {
    async fn vote(&self, voter: usize, answer: usize) -> anyhow::Result<Value> {
        let variables = json!({ "p": self.post, "b": [{ "answerId": self.answers[answer] }] });
        self.api.gql(Some(&self.tokens[voter]), VOTE, variables).await
    }
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// An anonymous `graphql-transport-ws` subscription to the poll's `postUpdates`, acknowledged.
async fn subscribe(server: SocketAddr, post: &str) -> anyhow::Result<Socket> {
    anyhow::ensure!(server.ip().is_loopback(), "refusing {server}: not loopback");
    let tcp = tokio::net::TcpStream::connect(server).await?;
    tcp.set_nodelay(true)?;
    let mut request = format!("ws://{server}/graphql/ws").into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await?;
    ws.send(Message::Text(r#"{"type":"connection_init","payload":{}}"#.into())).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().contains("connection_ack") => break,
            Some(Ok(Message::Text(text))) => bail!("expected connection_ack, got {text}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("before ack: {e}"),
            None => bail!("closed before ack"),
        }
    }
    let subscribe =
        json!({ "id": "1", "type": "subscribe", "payload": { "query": UPDATES, "variables": { "p": post } } });
    ws.send(Message::Text(subscribe.to_string().into())).await?;
    Ok(ws)
}

fn print(r: &PollReport) {
    println!("\n## One hot poll{}", if r.label.is_empty() { String::new() } else { format!(" ({})", r.label) });
    println!(
        "PollChanged to {} subscribers, {} votes one after another: delivered {}/{} (lost {}), latency p50 {:.1} ms, \
         p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.subscribers,
        r.latency_votes,
        r.delivered,
        r.expected,
        r.lost,
        r.latency_p50_ms,
        r.latency_p90_ms,
        r.latency_p99_ms,
        r.latency_max_ms
    );
    println!(
        "{} clients for {:.1} s: {} votes ({} failed), {:.0} votes/s, vote p50 {:.1} ms, p99 {:.1} ms, server CPU \
         {} ms/vote, RSS {} MB",
        r.clients,
        r.seconds,
        r.votes_ok,
        r.votes_failed,
        r.votes_per_second,
        r.vote_p50_ms,
        r.vote_p99_ms,
        r.server_cpu_ms_per_vote.map_or("?".to_owned(), |c| format!("{c:.2}")),
        r.server_rss_mb.map_or("?".to_owned(), |m| format!("{m:.0}")),
    );
    println!(
        "tallies: totalVoters {} (voters with a ballot: {}), answers' totalVotes sum {} — {}",
        r.total_voters,
        r.voters_with_a_ballot,
        r.answer_votes_sum,
        if r.exact { "exact" } else { "NOT EXACT" }
    );
    for e in &r.first_errors {
        println!("error: {e}");
    }
}
