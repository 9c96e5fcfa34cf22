//! The server under test: started here, or already running and found by its port.

use crate::proc;
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
    /// Without it the server uses its in-process bus, whatever `REDIS_URL` this tool was started with.
    pub redis_url: Option<&'a str>,
    pub jwt_secret: &'a str,
    /// Where the server's standard error (its log) goes.
    pub log: &'a Path,
    /// Extra environment for the server (`RUST_LOG`, `WECO_*` settings).
    pub env: &'a [(String, String)],
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
    /// Starts `weco --listen 127.0.0.1:0` (serving) and reads the address from its first line of output.
    pub async fn spawn(options: &SpawnOptions<'_>) -> anyhow::Result<Self> {
        let log = std::fs::File::create(options.log).with_context(|| format!("creating {}", options.log.display()))?;
        let mut command = tokio::process::Command::new(options.binary);
        command
            // The flags belong to the top-level command; serving is the default subcommand.
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database-url")
            .arg(options.database_url)
            .arg("--jwt-secret")
            .arg(options.jwt_secret)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        match options.redis_url {
            Some(redis) => command.arg("--redis-url").arg(redis),
            None => command.env_remove("REDIS_URL"),
        };
        for (k, v) in options.env {
            command.env(k, v);
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
        Self { addr, pid: pid.or_else(|| proc::listening_pid(addr.port())), child: None }
    }

    /// Stops a server we started (SIGTERM, then SIGKILL after 10 s). A server we did not start is left alone.
    pub async fn stop(mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id() {
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }

    /// Resident memory in bytes (VmRSS), if the process is known.
    pub fn rss(&self) -> Option<u64> {
        proc::rss(self.pid?)
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        proc::cpu_seconds(self.pid?)
    }
}
