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

/// A PostgreSQL primary and a streaming replica of it, clusters of the test's own on free ports (started as the
/// `postgres` system user with the server binaries of the machine's PostgreSQL); stopped and removed when
/// dropped.
pub struct PostgresPair {
    pub primary: u16,
    pub replica: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl PostgresPair {
    /// `None` when PostgreSQL's server binaries (or `runuser`) are not on this machine.
    pub fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()?;
        let dir = std::env::temp_dir().join(format!("weco-pg-pair-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).ok()?;
        let _ = Command::new("chown").arg("postgres").arg(&dir).status();
        let (primary, replica) = (free_port()?, free_port()?);
        let pair = Self { primary, replica, dir, bin };
        let primary_dir = pair.dir.join("primary");
        pair.as_postgres("initdb", &["-D", path(&primary_dir), "-A", "trust", "-U", "postgres"])?;
        let hba = primary_dir.join("pg_hba.conf");
        let mut rules = std::fs::read_to_string(&hba).ok()?;
        rules.push_str("\nhost replication all 127.0.0.1/32 trust\n");
        std::fs::write(&hba, rules).ok()?;
        pair.start_cluster(&primary_dir, primary)?;
        let replica_dir = pair.dir.join("replica");
        let port = primary.to_string();
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-D", path(&replica_dir), "-R", "-X", "stream"];
        pair.as_postgres("pg_basebackup", &args)?;
        pair.start_cluster(&replica_dir, replica)?;
        Some(pair)
    }

    pub fn primary_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.primary)
    }

    pub fn replica_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.replica)
    }

    fn start_cluster(&self, data: &std::path::Path, port: u16) -> Option<()> {
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", path(&self.dir));
        let log = self.dir.join(format!("{port}.log"));
        self.as_postgres("pg_ctl", &["-D", path(data), "-o", &options, "-l", path(&log), "-w", "start"])
    }

    /// Runs one of PostgreSQL's programs as the `postgres` user (they refuse to run as root).
    fn as_postgres(&self, program: &str, args: &[&str]) -> Option<()> {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(())
    }
}

impl Drop for PostgresPair {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            let data = self.dir.join(data);
            let _ = self.as_postgres("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A three-node Redis Cluster of the test's own: `redis-server --cluster-enabled yes` children on free ports,
/// joined with `redis-cli --cluster create` (three primaries, no replicas), their state files in a temporary
/// directory. Dropping it kills the nodes and removes the directory.
pub struct RedisClusterProcess {
    pub ports: Vec<u16>,
    dir: PathBuf,
    nodes: Vec<Child>,
}

impl RedisClusterProcess {
    /// `Err` when `redis-server` or `redis-cli` is missing or the cluster does not form.
    pub fn start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("weco-e2e-cluster-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // Bound all at once while picking, so no port is handed out twice; the bus ports are explicit so they
        // never collide with the usual `port + 10000`.
        let listeners: Vec<_> = (0..6).filter_map(|_| std::net::TcpListener::bind("127.0.0.1:0").ok()).collect();
        let mut ports: Vec<u16> = listeners.iter().filter_map(|l| l.local_addr().ok()).map(|a| a.port()).collect();
        drop(listeners);
        if ports.len() != 6 {
            return Err("no free ports".into());
        }
        let bus_ports = ports.split_off(3);
        let mut cluster = Self { ports, dir, nodes: Vec::new() };
        for (port, bus_port) in cluster.ports.clone().into_iter().zip(bus_ports) {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--cluster-enabled", "yes"])
                .args(["--cluster-port", &bus_port.to_string()])
                .arg("--cluster-config-file")
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
                .arg("--dir")
                .arg(&cluster.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot run redis-server: {e}"))?;
            cluster.nodes.push(child);
            if !wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
                return Err(format!("redis-server on port {port} did not accept connections"));
            }
        }
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        create.args(cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")));
        let created = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!("redis-cli --cluster create failed: {}", String::from_utf8_lossy(&created.stdout)));
        }
        for port in cluster.ports.clone() {
            let ok = wait_until(Duration::from_secs(10), || {
                Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
            });
            if !ok {
                return Err(format!("node {port} did not reach cluster_state:ok"));
            }
        }
        Ok(cluster)
    }

    /// The nodes' URLs, comma-separated, as `WECO_REDIS_CLUSTER_URLS` takes them.
    pub fn urls(&self) -> String {
        self.ports.iter().map(|port| format!("redis://127.0.0.1:{port}")).collect::<Vec<_>>().join(",")
    }
}

impl Drop for RedisClusterProcess {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn free_port() -> Option<u16> {
    std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok().map(|a| a.port())
}

/// Polls `check` every 50 ms for up to `limit`; true as soon as it holds.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
