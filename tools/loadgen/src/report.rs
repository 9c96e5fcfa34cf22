//! What a run found, printed as text, as a Markdown table (for BENCHMARKS.md) and as JSON.

use crate::procfs::CpuDelta;
use crate::workloads::Kind;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub memory_mb: u64,
    pub kernel: String,
    pub postgres: String,
    pub postgres_settings: Vec<(String, String)>,
    pub data: Vec<(String, i64)>,
    pub pg_stat_statements: Result<(), String>,
}

/// One measured run of one workload, against the server or as raw SQL.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub kind: Kind,
    pub target: Target,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub cpu: CpuDelta,
    /// SQL statements per request: the server's `weco_db_statements_total` delta (server runs), or the
    /// replayed template's statements without BEGIN/COMMIT (raw runs).
    pub statements_per_request: Option<f64>,
    /// Per request, from `pg_stat_statements` (every statement, BEGIN/COMMIT included) when available.
    pub pgss_per_request: Option<f64>,
    /// Server: seconds inside SQL calls per request (`weco_db_statement_seconds_total`), in ms.
    pub sql_ms_per_request: Option<f64>,
    /// Server: events published per request (W4, W5).
    pub events_per_request: Option<f64>,
    /// Server: peak resident memory during the run (VmHWM after a reset), and at its end, in MB.
    pub peak_rss_mb: Option<f64>,
    pub end_rss_mb: Option<f64>,
    /// Why the run ended before its time (e.g. the storm ran out of users).
    pub note: Option<String>,
    /// Raw runs: each statement's executions, mean ms and share of the statement time (largest first).
    pub statement_times: Vec<(String, u64, f64, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Target {
    Server,
    Raw,
}

impl Run {
    pub fn per_request_ms(&self, seconds: f64) -> f64 {
        if self.requests == 0 { 0.0 } else { seconds * 1000.0 / self.requests as f64 }
    }
    pub fn server_cpu_ms(&self) -> Option<f64> {
        self.cpu.server.map(|s| self.per_request_ms(s))
    }
    pub fn pg_cpu_ms(&self) -> f64 {
        self.per_request_ms(self.cpu.postgres)
    }
    pub fn tool_cpu_ms(&self) -> f64 {
        self.per_request_ms(self.cpu.tool)
    }
    /// CPU per request of everything this request needs on the machine (server + PostgreSQL + this tool).
    pub fn cpu_ms_per_request(&self) -> f64 {
        self.server_cpu_ms().unwrap_or(0.0) + self.pg_cpu_ms() + self.tool_cpu_ms()
    }

    /// Requests per second the machine's cores could serve if they did nothing else: cores ÷ CPU per request.
    /// Unlike the measured rate, other load on the machine does not lower it.
    pub fn cpu_capacity(&self, cores: usize) -> f64 {
        let ms = self.cpu_ms_per_request();
        if ms > 0.0 { cores as f64 * 1000.0 / ms } else { 0.0 }
    }

    /// Share of the machine's CPU capacity that was busy, and the part of it outside server, PostgreSQL and tool.
    pub fn busy_and_other(&self) -> (f64, f64) {
        if self.cpu.machine_total <= 0.0 {
            return (0.0, 0.0);
        }
        (self.cpu.machine_busy / self.cpu.machine_total, self.cpu.other() / self.cpu.machine_total)
    }
}

/// The target of each workload (BENCHMARKS.md), and whether the server run met it.
pub fn targets(kind: Kind, server: &Run, raw: Option<&Run>) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let stmts = server.statements_per_request.unwrap_or(f64::MAX);
    match kind {
        Kind::W1 | Kind::W2Top | Kind::W2New => {
            out.push(("≥ 4,000 req/s".to_owned(), server.throughput >= 4000.0));
            out.push(("p99 ≤ 15 ms".to_owned(), server.p99_ms <= 15.0));
            out.push(("≤ 2 SQL/req".to_owned(), stmts <= 2.0 + 1e-9));
            if let Some(raw) = raw.filter(|r| r.throughput > 0.0) {
                out.push(("≥ 0.3 of raw".to_owned(), server.throughput / raw.throughput >= 0.3));
            }
        }
        Kind::W3 => out.push(("≥ 1,300 req/s".to_owned(), server.throughput >= 1300.0)),
        Kind::W4 => {
            out.push(("≥ 1,000 posts/s".to_owned(), server.throughput >= 1000.0));
            out.push(("p99 ≤ 20 ms".to_owned(), server.p99_ms <= 20.0));
        }
        Kind::W5Hot => out.push(("≥ 600 likes/s".to_owned(), server.throughput >= 600.0)),
        Kind::W5Random => {}
    }
    if server.errors > 0 {
        out.push(("no errors".to_owned(), false));
    }
    out
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_else(|| "–".to_owned())
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 { format!("{:.2}", a / b) } else { "–".to_owned() }
}

/// One line per run, as the runs finish.
pub fn run_line(r: &Run) -> String {
    let (busy, other) = r.busy_and_other();
    format!(
        "{:<18} {:<6} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  max {:>7.1} ms  err {:>4}  \
         cpu/req: server {} ms, pg {:.3} ms, tool {:.3} ms  sql/req {}{}  busy {:.0}% (other {:.0}%){}",
        r.kind.name(),
        match r.target {
            Target::Server => "server",
            Target::Raw => "raw",
        },
        r.throughput,
        r.p50_ms,
        r.p99_ms,
        r.max_ms,
        r.errors,
        opt(r.server_cpu_ms(), 3),
        r.pg_cpu_ms(),
        r.tool_cpu_ms(),
        opt(r.statements_per_request, 2),
        r.pgss_per_request.map(|p| format!(" (pgss {p:.2})")).unwrap_or_default(),
        busy * 100.0,
        other * 100.0,
        r.peak_rss_mb.map(|m| format!("  peak RSS {m:.1} MB")).unwrap_or_default(),
    )
}

/// `server / raw (ratio)`.
fn pair(server: f64, raw: Option<f64>, digits: usize) -> String {
    match raw {
        Some(r) => format!("{server:.digits$} / {r:.digits$} ({})", ratio(server, r)),
        None => format!("{server:.digits$} / –"),
    }
}

/// The comparison table (Markdown): each workload's server figures next to the raw-SQL figures, as
/// `server / raw (server÷raw)`.
pub fn markdown(runs: &[Run], idle_rss_mb: Option<f64>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | req/s server / raw (ratio) | p50 ms server / raw (ratio) | p99 ms server / raw (ratio) | \
         max ms server | errors | SQL statements/req server / raw | server CPU ms/req | \
         PostgreSQL CPU ms/req server / raw (ratio) | SQL ms/req inside server | peak RSS MB | targets |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut kinds: Vec<Kind> = runs.iter().map(|r| r.kind).collect();
    kinds.dedup();
    for kind in kinds {
        let server = runs.iter().find(|r| r.kind == kind && r.target == Target::Server);
        let raw = runs.iter().find(|r| r.kind == kind && r.target == Target::Raw);
        let Some(s) = server else {
            if let Some(r) = raw {
                let _ = writeln!(
                    out,
                    "| {} | – / {:.0} | – / {:.2} | – / {:.2} | – | {} | – / {} | – | – / {:.3} | – | – | – |",
                    kind.name(),
                    r.throughput,
                    r.p50_ms,
                    r.p99_ms,
                    r.errors,
                    opt(r.statements_per_request, 0),
                    r.pg_cpu_ms(),
                );
            }
            continue;
        };
        let t = targets(kind, s, raw)
            .into_iter()
            .map(|(what, ok)| format!("{} {what}", if ok { "✅" } else { "❌" }))
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {} | {} / {} | {} | {} | {} | {} | {} |",
            kind.name(),
            pair(s.throughput, raw.map(|r| r.throughput), 0),
            pair(s.p50_ms, raw.map(|r| r.p50_ms), 2),
            pair(s.p99_ms, raw.map(|r| r.p99_ms), 2),
            s.max_ms,
            s.errors + raw.map_or(0, |r| r.errors),
            opt(s.statements_per_request, 2),
            raw.and_then(|r| r.statements_per_request).map(|x| format!("{x:.0}")).unwrap_or_else(|| "–".into()),
            opt(s.server_cpu_ms(), 3),
            pair(s.pg_cpu_ms(), raw.map(|r| r.pg_cpu_ms()), 3),
            opt(s.sql_ms_per_request, 2),
            opt(s.peak_rss_mb, 1),
            if t.is_empty() { "–".to_owned() } else { t },
        );
    }
    if let Some(idle) = idle_rss_mb {
        let _ = writeln!(
            out,
            "\nServer RSS idle (after start, before load): {idle:.1} MB ({} ≤ 60 MB).",
            if idle <= 60.0 { "✅" } else { "❌" }
        );
    }
    if let Some(w1) = runs.iter().find(|r| r.kind == Kind::W1 && r.target == Target::Server)
        && let Some(peak) = w1.peak_rss_mb
    {
        let _ = writeln!(
            out,
            "Server peak RSS under W1: {peak:.1} MB ({} ≤ 150 MB).",
            if peak <= 150.0 { "✅" } else { "❌" }
        );
    }
    out
}

/// Where each raw run's statement time went (the top statements).
pub fn statement_table(runs: &[Run], top: usize) -> String {
    let mut out = String::new();
    for r in runs.iter().filter(|r| r.target == Target::Raw && !r.statement_times.is_empty()) {
        let _ = writeln!(out, "{} (raw SQL, {} clients): time per statement", r.kind.name(), r.concurrency);
        for (sql, n, mean, share) in r.statement_times.iter().take(top) {
            let short: String = sql.chars().take(150).collect();
            let _ = writeln!(out, "  {:>5.1}%  {:>8.3} ms × {:>7}  {short}", share * 100.0, mean, n);
        }
    }
    out
}

/// The CPU split of each run: where the machine's two cores went.
pub fn cpu_table(runs: &[Run], cores: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| workload | target | req/s | server CPU ms/req | PostgreSQL CPU ms/req | load tool CPU ms/req | \
         CPU-bound capacity req/s | machine busy | other processes |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let (busy, other) = r.busy_and_other();
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {:.3} | {:.3} | {:.0} | {:.0}% | {:.0}% |",
            r.kind.name(),
            match r.target {
                Target::Server => "server",
                Target::Raw => "raw SQL",
            },
            r.throughput,
            opt(r.server_cpu_ms(), 3),
            r.pg_cpu_ms(),
            r.tool_cpu_ms(),
            r.cpu_capacity(cores),
            busy * 100.0,
            other * 100.0
        );
    }
    out
}
