//! What `/proc` says about the processes in a run: CPU time (utime + stime) of the server, of PostgreSQL's
//! processes and of this tool, the server's resident memory, and the whole machine's busy time.

use std::collections::HashMap;

use weco_tool_support::proc::{TICKS_PER_SEC, comm, parse_stat_cpu};
pub use weco_tool_support::proc::{cpu_seconds, status_bytes};

/// Resets the peak resident size (`VmHWM`) of `pid` to its current size (`echo 5 > /proc/PID/clear_refs`), so a
/// later `VmHWM` is the peak of what ran in between. False when the kernel or permissions refuse.
pub fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// CPU seconds of PostgreSQL's processes that work for database `db`, by PID: its backends (the process title
/// names the database), their parallel workers, and the shared helpers (postmaster, WAL writer, checkpointer,
/// background writer, autovacuum launcher). Backends of other databases (other people's tests on the same
/// cluster) are left out: they count as other load. Summing deltas over PIDs present at both ends measures
/// PostgreSQL's work in between (pooled backends live through a run).
pub fn postgres_cpu(db: &str) -> HashMap<u32, f64> {
    let mut titles = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return HashMap::new() };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if comm(&stat) != Some("postgres") {
            continue;
        }
        let Some(cpu) = parse_stat_cpu(&stat) else { continue };
        let title = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().to_owned())
            .unwrap_or_default();
        titles.insert(pid, (title, cpu));
    }
    let needle = format!(" {db} ");
    let ours: std::collections::HashSet<u32> =
        titles.iter().filter(|(_, (t, _))| format!("{t} ").contains(&needle)).map(|(p, _)| *p).collect();
    titles
        .into_iter()
        .filter(|(pid, (title, _))| {
            if ours.contains(pid) {
                return true;
            }
            if let Some(leader) = title.split("parallel worker for PID ").nth(1) {
                return leader.trim().parse::<u32>().is_ok_and(|l| ours.contains(&l));
            }
            let helper =
                ["checkpointer", "background writer", "walwriter", "autovacuum launcher", "logical replication"];
            !title.contains(": ") || helper.iter().any(|h| title.ends_with(h) || title.contains(&format!(": {h}")))
        })
        .map(|(pid, (_, cpu))| (pid, cpu))
        .collect()
}

/// PostgreSQL CPU seconds between two [`postgres_cpu`] snapshots (processes born in between count whole).
pub fn postgres_cpu_delta(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>) -> f64 {
    after.iter().map(|(pid, cpu)| (cpu - before.get(pid).copied().unwrap_or(0.0)).max(0.0)).sum()
}

/// The machine's (busy, total) CPU seconds across all cores, from the first line of `/proc/stat`.
pub fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let ticks: Vec<f64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    Some(((total - idle) / TICKS_PER_SEC, total / TICKS_PER_SEC))
}

/// A CPU picture of the machine at one instant.
#[derive(Debug, Clone)]
pub struct CpuSnapshot {
    pub server: Option<f64>,
    pub postgres: HashMap<u32, f64>,
    pub tool: Option<f64>,
    pub machine: Option<(f64, f64)>,
}

impl CpuSnapshot {
    pub fn take(server_pid: Option<u32>, db: &str) -> Self {
        Self {
            server: server_pid.and_then(cpu_seconds),
            postgres: postgres_cpu(db),
            tool: cpu_seconds(std::process::id()),
            machine: machine_cpu(),
        }
    }
}

/// CPU seconds spent between two snapshots.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct CpuDelta {
    /// The server under test (None in raw-SQL runs or when its PID is unknown).
    pub server: Option<f64>,
    /// PostgreSQL's work for the benchmark database (its backends and the shared helpers).
    pub postgres: f64,
    /// This tool (HTTP client or sqlx client).
    pub tool: f64,
    /// Everything busy on the machine (all processes), and the capacity (cores × wall time).
    pub machine_busy: f64,
    pub machine_total: f64,
}

impl CpuDelta {
    pub fn between(a: &CpuSnapshot, b: &CpuSnapshot) -> Self {
        let (machine_busy, machine_total) = match (a.machine, b.machine) {
            (Some((b0, t0)), Some((b1, t1))) => (b1 - b0, t1 - t0),
            _ => (0.0, 0.0),
        };
        Self {
            server: match (a.server, b.server) {
                (Some(x), Some(y)) => Some(y - x),
                _ => None,
            },
            postgres: postgres_cpu_delta(&a.postgres, &b.postgres),
            tool: match (a.tool, b.tool) {
                (Some(x), Some(y)) => y - x,
                _ => 0.0,
            },
            machine_busy,
            machine_total,
        }
    }

    /// Busy time not accounted to the server, PostgreSQL or this tool: other work on the machine (noise).
    pub fn other(&self) -> f64 {
        (self.machine_busy - self.server.unwrap_or(0.0) - self.postgres - self.tool).max(0.0)
    }
}
