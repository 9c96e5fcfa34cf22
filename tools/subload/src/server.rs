//! The server under test: started here (`--spawn`) or found by its port, and read from `/proc`.

use anyhow::{Context as _, bail};
use std::net::SocketAddr;
use std::path::Path;
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
    pub redis_url: Option<&'a str>,
    pub jwt_secret: &'a str,
    pub log: &'a Path,
    /// Extra `KEY=VALUE` environment for the server (e.g. `RUST_LOG`).
    pub env: &'a [(String, String)],
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
        if let Some(redis) = options.redis_url {
            command.arg("--redis-url").arg(redis);
        }
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
        // Keep draining stdout so the server never blocks writing to it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let pid = child.id();
        Ok(Self { addr, pid, child: Some(child) })
    }

    /// A server already running at `addr`; its PID is `pid`, or the process listening on that port.
    pub fn existing(addr: SocketAddr, pid: Option<u32>) -> Self {
        Self { addr, pid: pid.or_else(|| listening_pid(addr.port())), child: None }
    }

    /// Stops a server we started (SIGTERM, then SIGKILL after 10 s).
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
        rss_of(self.pid?)
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(self.pid?)
    }
}

pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here (0-based from `state`).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// The PID of the process with a socket listening on 127.0.0.1:`port` (from /proc/net/tcp and /proc/*/fd).
fn listening_pid(port: u16) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = f.get(1)?;
        let (_, p) = local.split_once(':')?;
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

/// RSS of this process (the load tool), bytes.
pub fn own_rss() -> Option<u64> {
    rss_of(std::process::id())
}
