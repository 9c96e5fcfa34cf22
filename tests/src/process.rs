//! Servers as separate processes (the `weco` binary), for tests about replicas and failures, and a Redis
//! server of a test's own.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `weco` binary cargo built next to the test binary.
pub fn weco_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let bin = dir.join(if cfg!(windows) { "weco.exe" } else { "weco" });
    bin.exists().then_some(bin)
}

/// A running `weco serve` process; killed when dropped.
pub struct ServerProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl ServerProcess {
    /// Starts `weco serve` on a free port. `None` when the binary has not been built.
    pub fn spawn(database_url: &str, redis_url: Option<&str>, prefix: &str) -> Option<Self> {
        Self::spawn_with(database_url, |command| {
            command.env("WECO_CHANNEL_PREFIX", prefix);
            if let Some(url) = redis_url {
                command.env("REDIS_URL", url);
            }
        })
    }

    /// Starts `weco [FLAGS] serve` on a free port, after `configure` has added flags (they go before `serve`)
    /// and variables. `None` when the binary has not been built or the server did not start.
    pub fn spawn_with(database_url: &str, configure: impl FnOnce(&mut Command)) -> Option<Self> {
        let bin = weco_binary()?;
        let mut command = Command::new(bin);
        command
            .env("DATABASE_URL", database_url)
            .env("WECO_LISTEN", "127.0.0.1:0")
            .env("WECO_JWT_SECRET", "test-secret")
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_URL")
            .env_remove("WECO_CONFIG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        configure(&mut command);
        command.arg("serve");
        let mut child = command.spawn().ok()?;
        let stdout = child.stdout.take()?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).ok()?;
        let addr = line.trim().strip_prefix("listening on http://")?.parse().ok()?;
        Some(Self { addr, child })
    }

    /// Asks the server to stop (SIGTERM, as a container runtime does) and waits up to `within` for it to exit;
    /// `true` when it exited successfully in time.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        if !sent.is_ok_and(|s| s.success()) {
            return false;
        }
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => return false,
            }
        }
        false
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `redis-server` of the test's own on a free port; it can be stopped and started again on that port.
pub struct RedisProcess {
    pub port: u16,
    child: Option<Child>,
}

impl RedisProcess {
    /// `None` when `redis-server` is not installed.
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let mut redis = Self { port, child: None };
        redis.restart().then_some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it accepts connections.
    pub fn restart(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
