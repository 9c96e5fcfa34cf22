//! The raw-SQL limit: the statements the server ran for a request (captured on the wire, see [`crate::capture`])
//! turned into a *template* that can be executed again directly with sqlx — prepared, binary parameters, on one
//! pooled connection — with fresh values where a request needs them.
//!
//! Every parameter of every statement is classified from the captured samples (in this order):
//! - **input**: equal to a value the tool chose for the request (the post liked, the user, the space);
//! - **derived**: equal to a value an earlier statement of the same request returned (row, column) — e.g. the
//!   new totals that `UPDATE posts … RETURNING` gave and the next statement copies; replayed from the replay's
//!   own results, so counters stay consistent;
//! - **now**: a timestamp taken at the request's time;
//! - **fresh**: a UUIDv7 minted at the request's time (the new post's id) — a new one per replay;
//! - **constant**: the same in every sample (or, failing that, the first sample's value: *approximate*).

use crate::capture::{Bytes, Recorded};
use anyhow::{Context as _, bail};
use sea_orm::sqlx::encode::IsNull;
use sea_orm::sqlx::error::BoxDynError;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::postgres::types::Oid;
use sea_orm::sqlx::postgres::{PgArgumentBuffer, PgConnection, PgPool, PgRow, PgTypeInfo, Postgres};
use sea_orm::sqlx::{AssertSqlSafe, Encode, Executor as _, Row as _, Type};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const OID_INT4: u32 = 23;
const OID_INT8: u32 = 20;
const OID_FLOAT8: u32 = 701;
const OID_TIMESTAMPTZ: u32 = 1184;
const OID_UUID: u32 = 2950;

/// How far from the capture time a timestamp or UUIDv7 may lie and still count as "minted for the request".
const NOW_WINDOW: Duration = Duration::from_secs(120);

/// One captured request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Values the tool chose for the request (binary encodings: a UUID is its 16 bytes).
    pub inputs: Vec<Vec<u8>>,
    pub statements: Vec<Recorded>,
    pub at: SystemTime,
    /// Connection checks (bare Sync round trips) the server's pool made during the request.
    pub pings: u64,
}

#[derive(Debug, Clone)]
pub enum Src {
    Const(Bytes),
    Input(usize),
    Derived { step: usize, row: usize, col: usize, fallback: Bytes },
    Now,
    Fresh(usize),
}

#[derive(Debug, Clone)]
pub struct Step {
    /// The server's pool connection it ran on (requests whose loaders run concurrently use several).
    pub conn: u32,
    pub sql: Arc<str>,
    pub simple: bool,
    pub oids: Vec<u32>,
    pub params: Vec<Src>,
    /// Rows it returned when captured.
    pub rows: usize,
}

/// Where a raw replay gets its connections.
pub enum Source<'a> {
    /// One connection for the whole request.
    Connection(&'a mut PgConnection),
    /// A pool checkout per statement (per transaction), with the pool's connection checks.
    PerStatement(&'a PgPool),
}

/// Time spent in each statement across raw runs (by SQL text): where a request's database time goes.
#[derive(Debug, Default)]
pub struct StepTimes(std::sync::Mutex<HashMap<Arc<str>, (u64, u64)>>);

impl StepTimes {
    fn add(&self, sql: &Arc<str>, elapsed: Duration) {
        if let Ok(mut m) = self.0.lock() {
            let e = m.entry(sql.clone()).or_insert((0, 0));
            e.0 += 1;
            e.1 += elapsed.as_micros() as u64;
        }
    }

    /// (SQL, executions, mean ms, share of all statement time), largest share first.
    pub fn summary(&self) -> Vec<(String, u64, f64, f64)> {
        let Ok(m) = self.0.lock() else { return Vec::new() };
        let total: u64 = m.values().map(|(_, us)| us).sum::<u64>().max(1);
        let mut out: Vec<_> = m
            .iter()
            .map(|(sql, (n, us))| {
                (sql.to_string(), *n, *us as f64 / 1000.0 / (*n).max(1) as f64, *us as f64 / total as f64)
            })
            .collect();
        out.sort_by(|a, b| b.3.total_cmp(&a.3));
        out
    }
}

/// A request's statements, ready to run again.
#[derive(Debug, Clone)]
pub struct Template {
    pub steps: Vec<Step>,
    /// Steps whose rows later steps read.
    needed: BTreeSet<usize>,
    fresh_slots: usize,
    /// Parameters taken from the first sample although the samples disagreed.
    pub approximate: usize,
    /// The server's pool connection checks per request (extra round trips besides the statements).
    pub pings: u64,
}

/// The statements of a sample as one string (to group samples that ran the same SQL).
pub fn signature(statements: &[Recorded]) -> String {
    statements.iter().map(|s| &*s.sql).collect::<Vec<_>>().join("\u{1}")
}

impl Template {
    /// Builds a template from samples that ran the same statements.
    pub fn learn(samples: &[Sample]) -> anyhow::Result<Self> {
        let first = samples.first().context("no sample")?;
        let sig = signature(&first.statements);
        if samples.iter().any(|s| signature(&s.statements) != sig) {
            bail!("the samples ran different statements");
        }
        for r in &first.statements {
            if let Some(e) = &r.error {
                bail!("the server's statement failed while capturing ({e}): {}", r.sql);
            }
            if r.params.iter().any(|p| p.as_deref() == Some(b"<text format>".as_slice())) {
                bail!("a parameter was bound in text format; only binary (sqlx) is replayed: {}", r.sql);
            }
        }
        let mut fresh: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut needed = BTreeSet::new();
        let mut approximate = 0;
        let mut steps = Vec::with_capacity(first.statements.len());
        for (k, stmt) in first.statements.iter().enumerate() {
            let mut params = Vec::with_capacity(stmt.params.len());
            for (i, value) in stmt.params.iter().enumerate() {
                let oid = stmt.oids.get(i).copied().unwrap_or(0);
                let values: Vec<&Bytes> = samples.iter().map(|s| &s.statements[k].params[i]).collect();
                let src = classify(samples, k, oid, &values, &mut fresh);
                match &src {
                    Src::Derived { step, .. } => {
                        needed.insert(*step);
                    }
                    Src::Const(_) if values.iter().any(|v| *v != value) => approximate += 1,
                    _ => {}
                }
                params.push(src);
            }
            steps.push(Step {
                conn: stmt.conn,
                sql: stmt.sql.clone(),
                simple: stmt.simple,
                oids: stmt.oids.clone(),
                params,
                rows: stmt.rows.len(),
            });
        }
        Ok(Self { steps, needed, fresh_slots: fresh.len(), approximate, pings: first.pings })
    }

    /// Statements per run, transaction control (`BEGIN`, `COMMIT`) included.
    pub fn statements(&self) -> usize {
        self.steps.len()
    }

    /// Statements per run without transaction control: what the server's `weco_db_statements_total` counts.
    pub fn counted_statements(&self) -> usize {
        self.steps.iter().filter(|s| !is_tx_control(&s.sql)).count()
    }

    /// Runs the statements with this request's `inputs`: all on `conn`, or (`Source::PerStatement`) each on a
    /// connection checked out of the pool for that statement alone — a transaction keeps its connection from
    /// BEGIN to COMMIT — as the server's sea-orm pool does. On an error the transaction (if any) is rolled back
    /// so the connection stays usable.
    pub async fn run(&self, source: Source<'_>, inputs: &[Vec<u8>], times: &StepTimes) -> anyhow::Result<()> {
        match source {
            Source::Connection(conn) => {
                let result = self.run_inner(Source::Connection(&mut *conn), inputs, times).await;
                if result.is_err() {
                    let _ = conn.execute(sea_orm::sqlx::raw_sql("ROLLBACK")).await;
                }
                result
            }
            Source::PerStatement(pool) => self.run_inner(Source::PerStatement(pool), inputs, times).await,
        }
    }

    async fn run_inner(&self, mut source: Source<'_>, inputs: &[Vec<u8>], times: &StepTimes) -> anyhow::Result<()> {
        let fresh: Vec<Vec<u8>> = (0..self.fresh_slots).map(|_| uuid::Uuid::now_v7().as_bytes().to_vec()).collect();
        let mut results: HashMap<usize, Vec<Vec<Bytes>>> = HashMap::new();
        let mut held: Option<PoolConnection<Postgres>> = None;
        let mut in_tx = false;
        for (k, step) in self.steps.iter().enumerate() {
            let t0 = std::time::Instant::now();
            let conn: &mut PgConnection = match &mut source {
                Source::Connection(c) => c,
                Source::PerStatement(pool) => {
                    if held.is_none() {
                        held = Some(pool.acquire().await?);
                    }
                    match held.as_mut() {
                        Some(c) => c,
                        None => bail!("no connection"),
                    }
                }
            };
            let outcome = self.run_step(conn, step, inputs, &results, &fresh).await;
            let rows = match outcome {
                Ok(rows) => rows,
                Err(e) => {
                    if in_tx && let Some(c) = held.as_mut() {
                        let _ = c.execute(sea_orm::sqlx::raw_sql("ROLLBACK")).await;
                    }
                    return Err(e);
                }
            };
            times.add(&step.sql, t0.elapsed());
            if self.needed.contains(&k)
                && let Some(rows) = rows
            {
                results.insert(k, raw_rows(&rows)?);
            }
            let sql = step.sql.trim().to_ascii_uppercase();
            if sql.starts_with("BEGIN") {
                in_tx = true;
            } else if sql == "COMMIT" || sql == "ROLLBACK" {
                in_tx = false;
            }
            if !in_tx {
                held = None;
            }
        }
        Ok(())
    }

    async fn run_step(
        &self,
        conn: &mut PgConnection,
        step: &Step,
        inputs: &[Vec<u8>],
        results: &HashMap<usize, Vec<Vec<Bytes>>>,
        fresh: &[Vec<u8>],
    ) -> anyhow::Result<Option<Vec<PgRow>>> {
        if step.simple {
            conn.execute(sea_orm::sqlx::raw_sql(AssertSqlSafe(step.sql.clone()))).await?;
            return Ok(None);
        }
        let mut query = sea_orm::sqlx::query(AssertSqlSafe(step.sql.clone()));
        for (i, value) in self.values(step, inputs, results, fresh)?.into_iter().enumerate() {
            query = query.bind(RawParam { oid: step.oids.get(i).copied().unwrap_or(0), value });
        }
        let rows = query.fetch_all(&mut *conn).await.with_context(|| format!("raw statement: {}", step.sql))?;
        Ok(Some(rows))
    }

    /// `EXPLAIN (ANALYZE, BUFFERS)` of each statement of a read-only template, with the parameters a replay
    /// binds (each statement is also run, for the results later ones read). Refuses templates that write.
    pub async fn explain(&self, conn: &mut PgConnection, inputs: &[Vec<u8>]) -> anyhow::Result<Vec<(String, String)>> {
        if self.steps.iter().any(|s| s.simple || !s.sql.trim_start().to_ascii_uppercase().starts_with("SELECT")) {
            bail!("only read-only templates are explained");
        }
        let mut plans = Vec::with_capacity(self.steps.len());
        // Bind exactly as a replay does: run the statements, then explain each with the values it was given —
        // as a custom plan (the first executions of a prepared statement) and as the generic plan PostgreSQL
        // may switch a prepared statement to after five executions (when it does not look costlier).
        let values = self.resolve(conn, inputs).await?;
        for (k, step) in self.steps.iter().enumerate() {
            let mut text = String::new();
            // Custom plan: EXPLAIN plans the statement with the bound values.
            let mut query = sea_orm::sqlx::query(AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS) {}", step.sql)));
            for (i, value) in values[k].iter().enumerate() {
                query = query.bind(RawParam { oid: step.oids.get(i).copied().unwrap_or(0), value: value.clone() });
            }
            let _ = writeln!(text, "-- custom plan (planned for these values)");
            for row in query.fetch_all(&mut *conn).await? {
                let _ = writeln!(text, "{}", row.try_get::<String, _>(0)?);
            }
            // Generic plan: PREPARE it and EXECUTE it under force_generic_plan.
            let mut types = Vec::with_capacity(step.oids.len());
            for oid in &step.oids {
                let name: String = sea_orm::sqlx::query_scalar("SELECT format_type($1, NULL)")
                    .bind(Oid(*oid))
                    .fetch_one(&mut *conn)
                    .await?;
                types.push(name);
            }
            let prepare = if types.is_empty() {
                format!("PREPARE loadgen_explain AS {}", step.sql)
            } else {
                format!("PREPARE loadgen_explain ({}) AS {}", types.join(", "), step.sql)
            };
            conn.execute(sea_orm::sqlx::raw_sql(AssertSqlSafe(prepare))).await?;
            conn.execute(sea_orm::sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")).await?;
            // EXECUTE takes no protocol-level parameters: the values go in as literals.
            let args = values[k]
                .iter()
                .zip(&step.oids)
                .map(|(v, oid)| literal(*oid, v.as_deref()))
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(", ");
            let execute = if types.is_empty() {
                "EXPLAIN (ANALYZE, BUFFERS) EXECUTE loadgen_explain".to_owned()
            } else {
                format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE loadgen_explain({args})")
            };
            let generic = sea_orm::sqlx::query(AssertSqlSafe(execute)).fetch_all(&mut *conn).await;
            conn.execute(sea_orm::sqlx::raw_sql("RESET plan_cache_mode; DEALLOCATE loadgen_explain")).await?;
            let _ = writeln!(text, "-- generic plan (what a prepared statement may switch to after 5 executions)");
            for row in generic? {
                let _ = writeln!(text, "{}", row.try_get::<String, _>(0)?);
            }
            plans.push((step.sql.to_string(), text));
        }
        Ok(plans)
    }

    /// Runs the template and returns the parameter values each statement was bound with.
    async fn resolve(&self, conn: &mut PgConnection, inputs: &[Vec<u8>]) -> anyhow::Result<Vec<Vec<Bytes>>> {
        let mut results: HashMap<usize, Vec<Vec<Bytes>>> = HashMap::new();
        let mut bound = Vec::with_capacity(self.steps.len());
        for (k, step) in self.steps.iter().enumerate() {
            let values = self.values(step, inputs, &results, &[])?;
            let mut query = sea_orm::sqlx::query(AssertSqlSafe(step.sql.clone()));
            for (i, value) in values.iter().enumerate() {
                query = query.bind(RawParam { oid: step.oids.get(i).copied().unwrap_or(0), value: value.clone() });
            }
            let rows = query.fetch_all(&mut *conn).await?;
            results.insert(k, raw_rows(&rows)?);
            bound.push(values);
        }
        Ok(bound)
    }

    fn values(
        &self,
        step: &Step,
        inputs: &[Vec<u8>],
        results: &HashMap<usize, Vec<Vec<Bytes>>>,
        fresh: &[Vec<u8>],
    ) -> anyhow::Result<Vec<Bytes>> {
        step.params
            .iter()
            .map(|src| {
                Ok(match src {
                    Src::Const(v) => v.clone(),
                    Src::Input(j) => Some(inputs.get(*j).context("missing request input")?.clone()),
                    Src::Derived { step, row, col, fallback } => results
                        .get(step)
                        .and_then(|rows| rows.get(*row))
                        .and_then(|r| r.get(*col))
                        .cloned()
                        .unwrap_or_else(|| fallback.clone()),
                    Src::Now => Some(timestamptz_now().to_vec()),
                    Src::Fresh(slot) => fresh.get(*slot).cloned(),
                })
            })
            .collect()
    }

    /// A readable listing: each statement with how its parameters are filled.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (k, step) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "  {:>2}. [conn {}, {} rows] {}", k + 1, step.conn, step.rows, step.sql);
            if !step.params.is_empty() {
                let srcs: Vec<String> = step
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let what = match s {
                            Src::Const(_) => "const".to_owned(),
                            Src::Input(j) => format!("input{j}"),
                            Src::Derived { step, row, col, .. } => format!("from #{} [{row}][{col}]", step + 1),
                            Src::Now => "now".to_owned(),
                            Src::Fresh(slot) => format!("fresh#{slot}"),
                        };
                        format!("${}={what}", i + 1)
                    })
                    .collect();
                let _ = writeln!(out, "      {}", srcs.join(" "));
            }
        }
        out
    }
}

/// A binary parameter value as an SQL literal (for `EXECUTE`), for the types the server binds.
fn literal(oid: u32, v: Option<&[u8]>) -> anyhow::Result<String> {
    let Some(v) = v else { return Ok("NULL".to_owned()) };
    Ok(match oid {
        OID_UUID => format!("'{}'::uuid", uuid::Uuid::from_slice(v)?),
        OID_INT8 => i64::from_be_bytes(v.try_into()?).to_string(),
        OID_INT4 => i32::from_be_bytes(v.try_into()?).to_string(),
        OID_FLOAT8 => format!("{:?}::float8", f64::from_be_bytes(v.try_into()?)),
        16 => (if v.first() == Some(&1) { "true" } else { "false" }).to_owned(),
        OID_TIMESTAMPTZ => {
            let t = timestamptz_of(v).context("timestamp")?;
            format!("'{}'::timestamptz", chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339())
        }
        25 | 1043 => format!("'{}'", String::from_utf8_lossy(v).replace('\'', "''")),
        _ => bail!("cannot write a literal of type {oid}"),
    })
}

/// Rows as binary cells (what later statements may copy).
fn raw_rows(rows: &[PgRow]) -> anyhow::Result<Vec<Vec<Bytes>>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(row.len());
        for c in 0..row.len() {
            let v = row.try_get_raw(c)?;
            cells.push(if sea_orm::sqlx::ValueRef::is_null(&v) {
                None
            } else {
                Some(v.as_bytes().map_err(|e| anyhow::anyhow!("{e}"))?.to_vec())
            });
        }
        out.push(cells);
    }
    Ok(out)
}

pub fn is_tx_control(sql: &str) -> bool {
    let s = sql.trim().to_ascii_uppercase();
    s == "BEGIN" || s == "COMMIT" || s == "ROLLBACK" || s.starts_with("BEGIN ") || s.starts_with("SAVEPOINT")
}

fn classify(samples: &[Sample], k: usize, oid: u32, values: &[&Bytes], fresh: &mut HashMap<Vec<u8>, usize>) -> Src {
    let first = values[0];
    let Some(v0) = first else {
        return Src::Const(None);
    };
    // An input: the same input position in every sample.
    if let Some(j) = samples[0].inputs.iter().position(|x| x == v0)
        && samples.iter().zip(values).all(|(s, v)| v.as_ref().is_some_and(|v| s.inputs.get(j) == Some(v)))
    {
        return Src::Input(j);
    }
    // Derived from an earlier statement's result (the nearest one): consistently across samples if possible,
    // else as in the first sample (batched `IN (…)` lists follow hash-map order, which varies per request).
    // A value that differs between samples is no constant, so even a small count is traced (a post's first
    // like returns total 1, its second 2: both copied from the RETURNING row).
    let varies = values.iter().any(|v| *v != first);
    if derivable(oid, v0) || (varies && traceable(oid)) {
        let mut first_only = None;
        for step in (0..k).rev() {
            let rows = &samples[0].statements[step].rows;
            for (row, cells) in rows.iter().enumerate() {
                for (col, cell) in cells.iter().enumerate() {
                    if cell.as_ref() != Some(v0) {
                        continue;
                    }
                    let consistent = samples.iter().zip(values).all(|(s, v)| {
                        s.statements[step].rows.get(row).and_then(|r| r.get(col)).is_some_and(|c| c == *v)
                    });
                    if consistent {
                        return Src::Derived { step, row, col, fallback: first.clone() };
                    }
                    first_only.get_or_insert(Src::Derived { step, row, col, fallback: first.clone() });
                }
            }
        }
        if let Some(src) = first_only {
            return src;
        }
    }
    if oid == OID_TIMESTAMPTZ
        && samples.iter().zip(values).all(|(s, v)| v.as_deref().and_then(timestamptz_of).is_some_and(|t| near(t, s.at)))
    {
        return Src::Now;
    }
    if oid == OID_UUID
        && samples.iter().zip(values).all(|(s, v)| v.as_deref().and_then(uuid_v7_time).is_some_and(|t| near(t, s.at)))
    {
        let n = fresh.len();
        return Src::Fresh(*fresh.entry(v0.clone()).or_insert(n));
    }
    Src::Const(first.clone())
}

/// Values worth tracing to an earlier result: ids, timestamps, scores and counts other than 0 and ±1 (which
/// are too often equal by chance: a `+ 1` delta is not a copy of a total that happens to be 1).
fn derivable(oid: u32, v: &[u8]) -> bool {
    match oid {
        OID_UUID | OID_TIMESTAMPTZ => true,
        OID_FLOAT8 => v.iter().any(|&b| b != 0),
        OID_INT8 => v.try_into().map(i64::from_be_bytes).is_ok_and(|n| n.abs() >= 2),
        OID_INT4 => v.try_into().map(i32::from_be_bytes).is_ok_and(|n| n.abs() >= 2),
        _ => false,
    }
}

/// Types whose values may be copied from one statement's result into the next.
fn traceable(oid: u32) -> bool {
    matches!(oid, OID_UUID | OID_TIMESTAMPTZ | OID_FLOAT8 | OID_INT8 | OID_INT4)
}

fn near(t: SystemTime, at: SystemTime) -> bool {
    let d = t.duration_since(at).or_else(|_| at.duration_since(t)).unwrap_or(Duration::MAX);
    d <= NOW_WINDOW
}

/// PostgreSQL's binary timestamptz: microseconds since 2000-01-01 UTC.
const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

fn timestamptz_of(v: &[u8]) -> Option<SystemTime> {
    let micros = i64::from_be_bytes(v.try_into().ok()?);
    let unix_micros = micros.checked_add(PG_EPOCH_UNIX_SECS as i64 * 1_000_000)?;
    Some(UNIX_EPOCH + Duration::from_micros(u64::try_from(unix_micros).ok()?))
}

fn timestamptz_now() -> [u8; 8] {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let micros = unix.as_micros() as i64 - PG_EPOCH_UNIX_SECS as i64 * 1_000_000;
    micros.to_be_bytes()
}

/// The creation time of a UUIDv7 (its first 48 bits, milliseconds since the Unix epoch).
fn uuid_v7_time(v: &[u8]) -> Option<SystemTime> {
    if v.len() != 16 || v[6] >> 4 != 7 {
        return None;
    }
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&v[..6]);
    Some(UNIX_EPOCH + Duration::from_millis(u64::from_be_bytes(ms)))
}

/// A parameter as captured: its type OID and binary value, bound as is.
struct RawParam {
    oid: u32,
    value: Bytes,
}

impl Type<Postgres> for RawParam {
    fn type_info() -> PgTypeInfo {
        // Never used: `produces` names each value's type.
        PgTypeInfo::with_oid(Oid(25))
    }
}

impl Encode<'_, Postgres> for RawParam {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match &self.value {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                buf.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(Oid(self.oid)))
    }

    fn size_hint(&self) -> usize {
        self.value.as_ref().map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(sql: &str, oids: &[u32], params: Vec<Bytes>, rows: Vec<Vec<Bytes>>) -> Recorded {
        Recorded {
            conn: 1,
            sql: Arc::from(sql),
            simple: false,
            oids: oids.to_vec(),
            params,
            rows,
            done: true,
            error: None,
        }
    }

    fn i8b(n: i64) -> Bytes {
        Some(n.to_be_bytes().to_vec())
    }

    #[test]
    fn parameters_are_classified_from_samples() {
        let at = SystemTime::now();
        let ts = timestamptz_now().to_vec();
        let sample = |user: u8, post_total: i64| {
            let post = vec![9u8; 16];
            let user = vec![user; 16];
            let fresh_id = uuid::Uuid::now_v7().as_bytes().to_vec();
            Sample {
                inputs: vec![post.clone(), user.clone()],
                at,
                pings: 0,
                statements: vec![
                    rec(
                        "INSERT INTO likes VALUES ($1, $2, $3, $4)",
                        &[OID_UUID, OID_UUID, OID_TIMESTAMPTZ, OID_UUID],
                        vec![Some(post.clone()), Some(user), Some(ts.clone()), Some(fresh_id)],
                        vec![],
                    ),
                    rec(
                        "UPDATE posts SET n = n + $2 WHERE id = $1 RETURNING n",
                        &[OID_UUID, OID_INT8],
                        vec![Some(post.clone()), i8b(1)],
                        vec![vec![i8b(post_total)]],
                    ),
                    rec(
                        "UPDATE rows SET n = $2 WHERE post = $1",
                        &[OID_UUID, OID_INT8],
                        vec![Some(post), i8b(post_total)],
                        vec![],
                    ),
                ],
            }
        };
        let t = Template::learn(&[sample(1, 41), sample(2, 42)]).expect("learn");
        let p = |k: usize, i: usize| &t.steps[k].params[i];
        assert!(matches!(p(0, 0), Src::Input(0)));
        assert!(matches!(p(0, 1), Src::Input(1)));
        assert!(matches!(p(0, 2), Src::Now));
        assert!(matches!(p(0, 3), Src::Fresh(0)));
        assert!(matches!(p(1, 1), Src::Const(_)));
        assert!(matches!(p(2, 1), Src::Derived { step: 1, row: 0, col: 0, .. }));
        assert_eq!(t.approximate, 0);
        assert!(t.needed.contains(&1));
        assert_eq!(t.counted_statements(), 3);
    }

    #[test]
    fn a_small_count_that_varies_between_samples_is_traced_to_its_source() {
        let at = SystemTime::now();
        let sample = |user: u8, total: i64| Sample {
            inputs: vec![vec![9u8; 16], vec![user; 16]],
            at,
            pings: 0,
            statements: vec![
                rec(
                    "UPDATE posts SET n = n + 1 WHERE id = $1 RETURNING n",
                    &[OID_UUID],
                    vec![Some(vec![9u8; 16])],
                    vec![vec![i8b(total)]],
                ),
                rec(
                    "UPDATE rows SET n = $2 WHERE post = $1",
                    &[OID_UUID, OID_INT8],
                    vec![Some(vec![9u8; 16]), i8b(total)],
                    vec![],
                ),
            ],
        };
        let t = Template::learn(&[sample(1, 1), sample(2, 2)]).expect("learn");
        assert!(matches!(t.steps[1].params[1], Src::Derived { step: 0, row: 0, col: 0, .. }));
        // With one sample a 1 stays a constant (it could be a `+ 1`).
        let t = Template::learn(&[sample(1, 1)]).expect("learn");
        assert!(matches!(t.steps[1].params[1], Src::Const(_)));
    }

    #[test]
    fn timestamps_round_trip() {
        let now = timestamptz_now();
        let t = timestamptz_of(&now).expect("decode");
        assert!(near(t, SystemTime::now()));
    }
}
