//! The subscriber side: many `graphql-transport-ws` connections to `spaceFeed`, opened in bounded parallel
//! batches, each recording what it receives. Runs inside the coordinator or in a child process (`worker`),
//! driven by the same [`Command`]s.

use crate::histogram::Histogram;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// What the subscribers select: the selection BENCHMARKS.md describes.
pub const FEED_QUERY: &str =
    "subscription($s: ID!) { spaceFeed(spaceId: $s) { ... on PostAdded { post { id title createdAt } cursor } } }";

/// Titles of measured posts are `subload #<seq> @<send time, µs since the epoch>`; warm-up posts (used to
/// learn that every subscription is live) are `subload warmup <n>`.
pub const TITLE_PREFIX: &str = "subload #";
pub const WARMUP_PREFIX: &str = "subload warmup";

/// How long a connection may take to be accepted and acknowledged.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// Servers to connect to (loopback only); subscriber `i` uses `servers[(first + i) % len]`.
    pub servers: Vec<SocketAddr>,
    pub space_id: String,
    pub count: usize,
    /// Global index of this worker's first subscriber (spreads subscribers over servers evenly).
    pub first: usize,
    /// Connections being opened at once.
    pub parallelism: usize,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum Command {
    Status,
    Stop,
}

/// Counters, readable while the run goes on.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Status {
    /// Subscriptions sent after a `connection_ack`.
    pub joined: u64,
    /// Connections that could not be opened or acknowledged.
    pub failed: u64,
    /// Subscribers that received at least one warm-up post (so their subscription is registered).
    pub live: u64,
    /// Distinct measured posts received, summed over subscribers.
    pub delivered: u64,
    /// Connections that ended (closed by the server or broken) before being told to stop.
    pub ended: u64,
}

/// One measured post as the subscribers saw it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SeqStat {
    pub count: u64,
    /// Latency of the first and of the last subscriber to receive it, µs.
    pub first_us: u64,
    pub last_us: u64,
}

impl SeqStat {
    pub fn add(&mut self, other: &SeqStat) {
        self.count += other.count;
        self.first_us = self.first_us.min(other.first_us);
        self.last_us = self.last_us.max(other.last_us);
    }
}

/// Everything one worker saw, merged by the coordinator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    pub status: Status,
    /// Receive time − send time carried in the title, µs.
    pub latency_us: Histogram,
    /// Per connection: TCP connect + websocket handshake + `connection_init`/`connection_ack` + `subscribe`, µs.
    pub join_us: Histogram,
    /// When each connection joined, µs since the worker started connecting (sorted).
    pub joined_at_us: Vec<u64>,
    /// seq → how many subscribers received it (at least once), and the first and last latency.
    pub per_seq: BTreeMap<u64, SeqStat>,
    /// seq → the post id the subscribers saw for it (to check against what createPost returned).
    pub seq_ids: BTreeMap<u64, String>,
    pub duplicates: u64,
    /// Posts whose id differed between subscribers for the same seq.
    pub id_mismatches: u64,
    /// `next` messages that were not a PostAdded of ours (e.g. stats events, posts from others).
    pub other_events: u64,
    /// `error` messages or `next` with errors.
    pub errors: u64,
    /// First few error payloads, for the report.
    pub error_samples: Vec<String>,
    /// Close codes the server sent (1006 = the connection broke without one).
    pub close_codes: BTreeMap<u16, u64>,
    /// Why connections failed to join (first few).
    pub failure_samples: Vec<String>,
}

struct Shared {
    joined: AtomicU64,
    failed: AtomicU64,
    live: AtomicU64,
    delivered: AtomicU64,
    ended: AtomicU64,
    started: Instant,
    report: Mutex<WorkerReport>,
}

impl Shared {
    fn status(&self) -> Status {
        Status {
            joined: self.joined.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            ended: self.ended.load(Ordering::Relaxed),
        }
    }

    fn report(&self) -> MutexGuard<'_, WorkerReport> {
        self.report.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// A running set of subscribers.
pub struct Subscribers {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Subscribers {
    /// Starts connecting `config.count` subscribers (returns at once).
    pub fn start(config: WorkerConfig) -> Self {
        let shared = Arc::new(Shared {
            joined: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            live: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            ended: AtomicU64::new(0),
            started: Instant::now(),
            report: Mutex::default(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let gate = Arc::new(Semaphore::new(config.parallelism.max(1)));
        let config = Arc::new(config);
        let tasks = (0..config.count)
            .map(|i| {
                let server = config.servers[(config.first + i) % config.servers.len()];
                tokio::spawn(subscriber(
                    server,
                    Arc::clone(&config),
                    Arc::clone(&shared),
                    Arc::clone(&gate),
                    stop_rx.clone(),
                ))
            })
            .collect();
        Self { shared, stop, tasks }
    }

    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Stops every subscriber (closing its socket) and returns what they saw.
    pub async fn stop(self) -> WorkerReport {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let status = self.shared.status();
        let mut report = std::mem::take(&mut *self.shared.report());
        report.status = status;
        report.joined_at_us.sort_unstable();
        report
    }
}

/// The parts of a `next` message the subscribers look at.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "spaceFeed", default)]
    space_feed: Option<Feed>,
}

#[derive(Deserialize)]
struct Feed {
    #[serde(default)]
    post: Option<FeedPost>,
}

#[derive(Deserialize)]
struct FeedPost {
    id: String,
    title: Option<String>,
}

type Socket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn join(server: SocketAddr, space_id: &str) -> Result<Socket, String> {
    // Loopback only: the coordinator refuses any other address, and this checks again.
    if !server.ip().is_loopback() {
        return Err(format!("refusing to connect to {server}: not a loopback address"));
    }
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    let tcp = socket.connect(server).await.map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let mut request = format!("ws://{server}/graphql/ws").into_client_request().map_err(|e| format!("request: {e}"))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
    // Small client buffers, like the server's, so 25,000 of them fit in this process comfortably.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    ws.send(Message::Text(r#"{"type":"connection_init","payload":{}}"#.into()))
        .await
        .map_err(|e| format!("init: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if text.as_str().contains("\"connection_ack\"") {
                    break;
                }
                return Err(format!("expected connection_ack, got {text}"));
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed before ack: {frame:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("before ack: {e}")),
            None => return Err("closed before ack".to_owned()),
        }
    }
    let subscribe = serde_json::json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": FEED_QUERY, "variables": { "s": space_id } },
    });
    ws.send(Message::Text(subscribe.to_string().into())).await.map_err(|e| format!("subscribe: {e}"))?;
    Ok(ws)
}

/// `subload #<seq> @<µs>` → (seq, µs).
fn parse_title(title: &str) -> Option<(u64, u64)> {
    let rest = title.strip_prefix(TITLE_PREFIX)?;
    let (seq, sent) = rest.split_once(" @")?;
    Some((seq.parse().ok()?, sent.parse().ok()?))
}

async fn subscriber(
    server: SocketAddr,
    config: Arc<WorkerConfig>,
    shared: Arc<Shared>,
    gate: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let joined = {
        let Ok(_permit) = gate.acquire().await else { return };
        if *stop.borrow() {
            return;
        }
        let started = Instant::now();
        match tokio::time::timeout(JOIN_TIMEOUT, join(server, &config.space_id)).await {
            Ok(Ok(ws)) => {
                let took = started.elapsed().as_micros() as u64;
                let at = shared.started.elapsed().as_micros() as u64;
                {
                    let mut report = shared.report();
                    report.join_us.record(took);
                    report.joined_at_us.push(at);
                }
                shared.joined.fetch_add(1, Ordering::Relaxed);
                Some(ws)
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e,
                    _ => "timed out".to_owned(),
                };
                shared.failed.fetch_add(1, Ordering::Relaxed);
                let mut report = shared.report();
                if report.failure_samples.len() < 10 {
                    report.failure_samples.push(reason);
                }
                None
            }
        }
    };
    let Some(mut ws) = joined else { return };

    // Which measured posts this subscriber has seen (bit per seq).
    let mut seen: Vec<u64> = Vec::new();
    let mut live = false;
    // One stop future for the whole loop: making a new one per message showed up in profiles.
    let stopped = async {
        // The `Ref` it returns is not `Send`; drop it at once.
        let _ = stop.wait_for(|stop| *stop).await.is_ok();
    };
    tokio::pin!(stopped);
    loop {
        let message = tokio::select! {
            biased;
            message = ws.next() => message,
            _ = &mut stopped => {
                let _ = ws.close(None).await;
                return;
            }
        };
        let received = now_us();
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                *shared.report().close_codes.entry(code).or_default() += 1;
                shared.ended.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => {
                *shared.report().close_codes.entry(1006).or_default() += 1;
                shared.ended.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let parsed: Option<Incoming> = serde_json::from_str(text.as_str()).ok();
        let Some(incoming) = parsed else {
            shared.report().errors += 1;
            continue;
        };
        match incoming.kind.as_str() {
            "next" => {}
            "ping" => {
                let _ = ws.send(Message::Text(r#"{"type":"pong"}"#.into())).await;
                continue;
            }
            "pong" => continue,
            _ => {
                let mut report = shared.report();
                report.errors += 1;
                if report.error_samples.len() < 5 {
                    report.error_samples.push(text.as_str().chars().take(300).collect());
                }
                continue;
            }
        }
        let payload = incoming.payload;
        if payload.as_ref().is_some_and(|p| p.errors.is_some()) {
            let mut report = shared.report();
            report.errors += 1;
            if report.error_samples.len() < 5 {
                report.error_samples.push(text.as_str().chars().take(300).collect());
            }
            continue;
        }
        let post = payload.and_then(|p| p.data).and_then(|d| d.space_feed).and_then(|f| f.post);
        let Some(post) = post else {
            shared.report().other_events += 1;
            continue;
        };
        let title = post.title.as_deref().unwrap_or_default();
        if title.starts_with(WARMUP_PREFIX) {
            if !live {
                live = true;
                shared.live.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let Some((seq, sent)) = parse_title(title) else {
            shared.report().other_events += 1;
            continue;
        };
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if seen.len() <= word {
            seen.resize(word + 1, 0);
        }
        let mut report = shared.report();
        if seen[word] & bit != 0 {
            report.duplicates += 1;
            continue;
        }
        seen[word] |= bit;
        let latency = received.saturating_sub(sent);
        report.latency_us.record(latency);
        report.per_seq.entry(seq).or_insert(SeqStat { count: 0, first_us: latency, last_us: latency }).add(&SeqStat {
            count: 1,
            first_us: latency,
            last_us: latency,
        });
        match report.seq_ids.get(&seq) {
            Some(id) if *id != post.id => report.id_mismatches += 1,
            Some(_) => {}
            None => {
                report.seq_ids.insert(seq, post.id);
            }
        }
        drop(report);
        shared.delivered.fetch_add(1, Ordering::Relaxed);
    }
}

/// The `worker` subcommand: subscribers in a child process, so one load run can hold more sockets than one
/// process's descriptor limit allows. Reads one command per line on stdin, answers one JSON line on stdout.
pub async fn run_worker(config: WorkerConfig) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let subscribers = Subscribers::start(config);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Some(line) = lines.next_line().await? {
        let command: Command = serde_json::from_str(line.trim())?;
        if command == Command::Stop {
            let report = subscribers.stop().await;
            out.write_all(format!("{}\n", serde_json::to_string(&report)?).as_bytes()).await?;
            out.flush().await?;
            return Ok(());
        }
        let status = subscribers.status();
        out.write_all(format!("{}\n", serde_json::to_string(&status)?).as_bytes()).await?;
        out.flush().await?;
    }
    // The coordinator went away: stop quietly.
    let _ = subscribers.stop().await;
    Ok(())
}

/// Subscribers run here or in a child process.
#[allow(clippy::large_enum_variant)] // A handful of workers per run.
pub enum Worker {
    Local(Subscribers),
    Child {
        child: tokio::process::Child,
        stdin: tokio::process::ChildStdin,
        stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    },
}

impl Worker {
    pub fn spawn_child(config: &WorkerConfig) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let exe = std::env::current_exe().context("locating this executable")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("worker")
            .arg(serde_json::to_string(config)?)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker process")?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        let stdout = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        Ok(Self::Child { child, stdin, stdout })
    }

    async fn ask(&mut self, command: Command) -> anyhow::Result<String> {
        use anyhow::Context as _;
        use tokio::io::AsyncWriteExt;
        let Self::Child { stdin, stdout, .. } = self else { anyhow::bail!("not a child worker") };
        stdin.write_all(format!("{}\n", serde_json::to_string(&command)?).as_bytes()).await?;
        stdin.flush().await?;
        stdout.next_line().await?.context("the worker process ended early")
    }

    pub async fn status(&mut self) -> anyhow::Result<Status> {
        match self {
            Self::Local(s) => Ok(s.status()),
            Self::Child { .. } => Ok(serde_json::from_str(&self.ask(Command::Status).await?)?),
        }
    }

    /// The worker's process id (this process for a local worker).
    pub fn pid(&self) -> Option<u32> {
        match self {
            Self::Local(_) => Some(std::process::id()),
            Self::Child { child, .. } => child.id(),
        }
    }

    pub async fn stop(self) -> anyhow::Result<WorkerReport> {
        match self {
            Self::Local(s) => Ok(s.stop().await),
            mut worker @ Self::Child { .. } => {
                let line = worker.ask(Command::Stop).await?;
                if let Self::Child { mut child, .. } = worker {
                    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                }
                Ok(serde_json::from_str(&line)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_title;

    #[test]
    fn titles_round_trip() {
        assert_eq!(parse_title("subload #12 @1700000000000000"), Some((12, 1_700_000_000_000_000)));
        assert_eq!(parse_title("subload warmup 1"), None);
        assert_eq!(parse_title("hello"), None);
    }
}
