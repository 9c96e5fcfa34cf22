//! The server under test (started here with `--spawn`, or already running at `--url`), and its `/metrics`.

use anyhow::{Context as _, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A server process, started by us or not.
pub struct Server {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    child: Option<tokio::process::Child>,
}

pub struct SpawnOptions<'a> {
    pub binary: &'a Path,
    pub database_url: &'a str,
    pub jwt_secret: &'a str,
    pub log: &'a Path,
    pub db_pool: Option<u32>,
}

/// The server binary: `$CARGO_TARGET_DIR/release/weco`, else `weco` next to this tool (the same cargo target
/// directory), else `target/release/weco`.
pub fn default_binary() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("release").join("weco");
    }
    if let Some(sibling) = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.join("weco")))
        && sibling.is_file()
    {
        return sibling;
    }
    PathBuf::from("target").join("release").join("weco")
}

impl Server {
    /// Starts `weco --listen 127.0.0.1:0` with rate limiting off, and reads the address from its first line.
    pub async fn spawn(options: &SpawnOptions<'_>) -> anyhow::Result<Self> {
        let log = std::fs::File::create(options.log).with_context(|| format!("creating {}", options.log.display()))?;
        let mut command = tokio::process::Command::new(options.binary);
        command
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(options.database_url)
            .arg("--jwt-secret")
            .arg(options.jwt_secret)
            .env("WECO_RATE_LIMIT_PER_MINUTE", "0")
            .env_remove("REDIS_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(pool) = options.db_pool {
            command.arg("--db-pool").arg(pool.to_string());
        }
        let mut child = command.spawn().with_context(|| format!("starting {}", options.binary.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("the server did not print its address within 120 s")??
            .with_context(|| format!("the server exited before listening; see {}", options.log.display()))?;
        let addr: SocketAddr = first
            .strip_prefix("listening on http://")
            .with_context(|| format!("unexpected first line from the server: {first}"))?
            .trim()
            .parse()
            .context("parsing the server address")?;
        if !addr.ip().is_loopback() {
            bail!("the server listens on {addr}, not on loopback");
        }
        // Keep draining stdout (bounded by the process's life) so the server never blocks writing to it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id();
        Ok(Self { addr, pid, child: Some(child) })
    }

    /// A server already running at `addr`; its PID is `pid`, or the process listening on that port.
    pub fn existing(addr: SocketAddr, pid: Option<u32>) -> Self {
        Self { addr, pid: pid.or_else(|| listening_pid(addr.port())), child: None }
    }

    /// Stops a server we started (SIGTERM, then SIGKILL after 10 s). A server we did not start is left alone.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// The counters of the server's `/metrics` this tool reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    pub statements: f64,
    pub statement_errors: f64,
    pub statement_seconds: f64,
    pub operations: f64,
    pub events_published: f64,
}

impl Metrics {
    pub async fn fetch(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<Self> {
        let text = client.get(format!("http://{addr}/metrics")).send().await?.error_for_status()?.text().await?;
        let mut m = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            match name {
                "weco_db_statements_total" => m.statements = value,
                "weco_db_statement_errors_total" => m.statement_errors = value,
                "weco_db_statement_seconds_total" => m.statement_seconds = value,
                "weco_graphql_operations_total" => m.operations = value,
                "weco_events_published_total" => m.events_published = value,
                _ => {}
            }
        }
        if m.operations == 0.0 && !text.contains("weco_db_statements_total") {
            bail!("http://{addr}/metrics has no weco_db_statements_total");
        }
        Ok(m)
    }

    pub fn delta(&self, before: &Self) -> Self {
        Self {
            statements: self.statements - before.statements,
            statement_errors: self.statement_errors - before.statement_errors,
            statement_seconds: self.statement_seconds - before.statement_seconds,
            operations: self.operations - before.operations,
            events_published: self.events_published - before.events_published,
        }
    }
}

/// The PID of the process with a socket listening on 127.0.0.1:`port` (from /proc/net/tcp and /proc/*/fd).
fn listening_pid(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (_, p) = f.get(1)?.split_once(':')?;
        (u16::from_str_radix(p, 16).ok()? == port && *f.get(3)? == "0A").then(|| f.get(9).map(|s| s.to_string()))?
    })?;
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == target) {
                return Some(pid);
            }
        }
    }
    None
}
