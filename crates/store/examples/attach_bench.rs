//! Times one big tree edit: attaching a 1,000-space subtree under a space at depth 8, and detaching it again.
//!
//! ```text
//! cargo run --release -p weco-store --example attach_bench -- --database-url postgres://postgres@127.0.0.1:5432/<db>
//! ```
//!
//! Given a database it migrates it and adds its spaces there (under fresh handles). Given only a PostgreSQL
//! server (`postgres://…:5432` with no database name) it creates a database of its own and drops it at the end.
//! A `sqlite://…` URL works too.
//!
//! The chain `root → c1 → … → c8` and the subtree (fan-out 10: 1 + 10 + 100 + 889 spaces, depth 3, first
//! under the root) are built through `HolarchyRepo::insert_space` and `HolarchyRepo::attach`, one transaction each.
//! Then, for each round, the subtree's root is attached under `c8` and detached again, each in one transaction
//! through `HolarchyRepo` as the service does it (lock, cycle check, edit, commit). The subtree keeps its edge to
//! the root throughout, so the detach never sends it back there. Statements are counted with sea-orm's metric
//! callback, which sees every statement but not BEGIN and COMMIT.

use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};
use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;
use weco_domain::uow::{Repos, Store};
use weco_domain::values::Privacy;
use weco_domain::{NewSpace, NewUser, ROOT_SPACE_ID, SpaceId, UserId, now};
use weco_store::SeaStore;

type BoxResult<T> = Result<T, Box<dyn Error>>;

const CHAIN_DEPTH: usize = 8;
const SUBTREE_SIZE: usize = 1_000;
const FAN_OUT: usize = 10;

struct Args {
    url: String,
    rounds: usize,
    /// Print every measured statement with its time.
    trace: bool,
}

fn usage() -> String {
    "usage: attach_bench --database-url <postgres://…[/db] | sqlite://…> [--rounds N] [--trace]".into()
}

fn parse_args() -> BoxResult<Args> {
    let mut url = std::env::var("DATABASE_URL").ok();
    let mut rounds = 3;
    let mut trace = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => url = Some(args.next().ok_or_else(usage)?),
            "--rounds" => rounds = args.next().ok_or_else(usage)?.parse()?,
            "--trace" => trace = true,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{}", usage()).into()),
        }
    }
    Ok(Args { url: url.ok_or_else(usage)?, rounds: rounds.max(1), trace })
}

/// `Some(server URL without a trailing slash)` when `url` names a PostgreSQL server but no database.
fn postgres_server_only(url: &str) -> Option<String> {
    let rest = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://"))?;
    let rest = rest.split('?').next().unwrap_or(rest);
    match rest.split_once('/') {
        Some((_, db)) if !db.is_empty() => None,
        _ => Some(url.split('?').next().unwrap_or(url).trim_end_matches('/').to_owned()),
    }
}

/// A database made for this run, dropped at the end.
struct TemporaryDatabase {
    admin_url: String,
    name: String,
}

impl TemporaryDatabase {
    async fn create(server: &str) -> BoxResult<(Self, String)> {
        let name = format!("weco_bench_{}", Uuid::now_v7().simple());
        let admin_url = format!("{server}/postgres");
        let admin = Database::connect(&admin_url).await?;
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        admin.close().await?;
        Ok((Self { admin_url, name: name.clone() }, format!("{server}/{name}")))
    }

    async fn drop_database(self) -> BoxResult<()> {
        let admin = Database::connect(&self.admin_url).await?;
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await?;
        admin.close().await?;
        Ok(())
    }
}

/// Counts every statement the connection runs, and while `tracing` is on, keeps each one's time and text.
#[derive(Clone, Default)]
struct Counter {
    count: Arc<AtomicU64>,
    tracing: Arc<AtomicBool>,
    trace: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Counter {
    fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn record(&self, info: &sea_orm::metric::Info<'_>) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if self.tracing.load(Ordering::Relaxed) {
            let sql: String = info.statement.sql.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Ok(mut trace) = self.trace.lock() {
                trace.push((info.elapsed, sql));
            }
        }
    }

    fn start_trace(&self) {
        if let Ok(mut trace) = self.trace.lock() {
            trace.clear();
        }
        self.tracing.store(true, Ordering::Relaxed);
    }

    fn take_trace(&self) -> Vec<(Duration, String)> {
        self.tracing.store(false, Ordering::Relaxed);
        self.trace.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()
    }
}

struct Bench {
    store: SeaStore,
    statements: Counter,
    user: UserId,
    run: String,
}

/// One measured transaction.
struct Measured {
    op: &'static str,
    round: usize,
    edit: Duration,
    transaction: Duration,
    statements: u64,
    rows_before: i64,
    rows_after: i64,
    /// Each statement of the transaction: time and SQL.
    trace: Vec<(Duration, String)>,
}

impl Bench {
    async fn closure_rows(&self) -> BoxResult<i64> {
        let conn = self.store.connection();
        let row = conn
            .query_one_raw(Statement::from_string(self.store.backend(), "SELECT COUNT(*) AS n FROM space_closure"))
            .await?
            .ok_or("COUNT(*) returned no row")?;
        Ok(row.try_get::<i64>("", "n")?)
    }

    fn new_space(&self, handle: String) -> NewSpace {
        NewSpace {
            id: SpaceId::generate(),
            name: handle.clone(),
            handle,
            description: String::new(),
            privacy: Privacy::Public,
            creator_id: self.user,
            created_at: now(),
        }
    }

    /// `root → c1 → … → c8`; returns c8.
    async fn build_chain(&self) -> BoxResult<SpaceId> {
        let tx = self.store.begin().await?;
        tx.holarchy().lock_holarchy().await?;
        let mut parent = ROOT_SPACE_ID;
        for i in 1..=CHAIN_DEPTH {
            let space = self.new_space(format!("{}-c{i}", self.run));
            tx.holarchy().insert_space(&space).await?;
            tx.holarchy().attach(parent, space.id).await?;
            parent = space.id;
        }
        tx.commit().await?;
        Ok(parent)
    }

    /// 1,000 spaces, breadth first with fan-out 10, the first one under the root; returns the first.
    async fn build_subtree(&self) -> BoxResult<SpaceId> {
        let tx = self.store.begin().await?;
        tx.holarchy().lock_holarchy().await?;
        let mut ids = Vec::with_capacity(SUBTREE_SIZE);
        for k in 0..SUBTREE_SIZE {
            let space = self.new_space(format!("{}-t{k}", self.run));
            let parent = if k == 0 { ROOT_SPACE_ID } else { ids[(k - 1) / FAN_OUT] };
            tx.holarchy().insert_space(&space).await?;
            tx.holarchy().attach(parent, space.id).await?;
            ids.push(space.id);
        }
        tx.commit().await?;
        Ok(ids[0])
    }

    async fn attach(&self, round: usize, parent: SpaceId, child: SpaceId) -> BoxResult<Measured> {
        let rows_before = self.closure_rows().await?;
        let statements = self.statements.get();
        self.statements.start_trace();
        let started = Instant::now();
        let tx = self.store.begin().await?;
        tx.holarchy().lock_holarchy().await?;
        if tx.holarchy().is_ancestor_or_self(child, parent).await? || tx.holarchy().has_edge(parent, child).await? {
            return Err("the subtree cannot be attached there".into());
        }
        let edit_started = Instant::now();
        tx.holarchy().attach(parent, child).await?;
        let edit = edit_started.elapsed();
        tx.commit().await?;
        let transaction = started.elapsed();
        let statements = self.statements.get() - statements;
        let trace = self.statements.take_trace();
        let rows_after = self.closure_rows().await?;
        Ok(Measured { op: "attach", round, edit, transaction, statements, rows_before, rows_after, trace })
    }

    async fn detach(&self, round: usize, parent: SpaceId, child: SpaceId) -> BoxResult<Measured> {
        let rows_before = self.closure_rows().await?;
        let statements = self.statements.get();
        self.statements.start_trace();
        let started = Instant::now();
        let tx = self.store.begin().await?;
        tx.holarchy().lock_holarchy().await?;
        if !tx.holarchy().has_edge(parent, child).await? {
            return Err("the subtree is not attached there".into());
        }
        let edit_started = Instant::now();
        let (_, outcome) = tx.holarchy().detach(parent, child).await?;
        let edit = edit_started.elapsed();
        tx.commit().await?;
        let transaction = started.elapsed();
        let statements = self.statements.get() - statements;
        let trace = self.statements.take_trace();
        let rows_after = self.closure_rows().await?;
        if outcome.returned_to_root || outcome.private_ancestry_lost != 0 {
            return Err(format!("unexpected detach outcome {outcome:?}").into());
        }
        Ok(Measured { op: "detach", round, edit, transaction, statements, rows_before, rows_after, trace })
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

async fn bench(url: &str, rounds: usize, trace: bool) -> BoxResult<()> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(4).sqlx_logging(false);
    let mut conn = Database::connect(options).await?;
    let statements = Counter::default();
    let counter = statements.clone();
    conn.set_metric_callback(move |info| counter.record(info));
    let backend = conn.get_database_backend();
    migration::Migrator::up(&conn, None).await?;
    let store = SeaStore::from_connection(conn);

    let run = format!("bench-{:08x}", Uuid::now_v7().as_u128() as u32);
    let user = UserId::generate();
    store
        .accounts()
        .insert_user(&NewUser {
            id: user,
            handle: run.clone(),
            name: "Attach bench".into(),
            email: format!("{run}@example.org"),
            password_hash: "not-a-hash".into(),
            created_at: now(),
        })
        .await?;
    let bench = Bench { store, statements, user, run };

    let started = Instant::now();
    let s0 = bench.statements.get();
    let deep = bench.build_chain().await?;
    let subtree = bench.build_subtree().await?;
    println!(
        "{backend:?}: built a chain of depth {CHAIN_DEPTH} and a subtree of {SUBTREE_SIZE} spaces (fan-out {FAN_OUT}, depth 3) \
         in {} ms with {} statements; space_closure now holds {} rows",
        ms(started.elapsed()),
        bench.statements.get() - s0,
        bench.closure_rows().await?,
    );
    println!("edit = the HolarchyRepo::attach/detach call alone; transaction = begin, lock, checks, edit, commit");
    println!();
    println!(
        "{:<7} {:>5} {:>10} {:>17} {:>11} {:>13} {:>12} {:>14}",
        "op", "round", "edit (ms)", "transaction (ms)", "statements", "rows before", "rows after", "rows written"
    );
    let mut results = Vec::new();
    for round in 1..=rounds {
        results.push(bench.attach(round, deep, subtree).await?);
        results.push(bench.detach(round, deep, subtree).await?);
    }
    for m in &results {
        println!(
            "{:<7} {:>5} {:>10} {:>17} {:>11} {:>13} {:>12} {:>+14}",
            m.op,
            m.round,
            ms(m.edit),
            ms(m.transaction),
            m.statements,
            m.rows_before,
            m.rows_after,
            m.rows_after - m.rows_before
        );
    }
    println!();
    println!("statements: as seen by sea-orm's metric callback, i.e. without BEGIN and COMMIT");
    if trace {
        for m in &results {
            println!();
            println!("{} round {}:", m.op, m.round);
            for (elapsed, sql) in &m.trace {
                let sql: String = sql.chars().take(110).collect();
                println!("  {:>8} ms  {sql}", ms(*elapsed));
            }
        }
    }
    bench.store.close().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> BoxResult<()> {
    let args = parse_args()?;
    match postgres_server_only(&args.url) {
        Some(server) => {
            let (database, url) = TemporaryDatabase::create(&server).await?;
            println!("using a temporary database {}", database.name);
            let result = bench(&url, args.rounds, args.trace).await;
            database.drop_database().await?;
            result
        }
        None => bench(&args.url, args.rounds, args.trace).await,
    }
}
