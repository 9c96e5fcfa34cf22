//! The durable job queue on both backends, through the domain's `App` over the real store: due and future
//! jobs, keyed replacement, retries with back-off up to FAILED, leases that outlive a dead runner, and several
//! runners at once each running a job exactly once.
//!
//! Time is a test clock moved by hand (due times, back-off and leases all read it), so nothing waits.

mod common;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::{Backend, RecordingBus, TestClock, TestDatabase, app};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use weco_domain::jobs::{Job, JobHandler, JobRegistry, JobStats, JobsRun, LEASE, NewJob};
use weco_domain::uow::{Store, UnitOfWork};
use weco_domain::{App, DomainError, DomainResult};
use weco_store::SeaStore;

const KIND: &str = "test.count";

/// Records every run of a job (its payload's `n` and the attempt it was), and fails on purpose when told to.
#[derive(Default)]
struct Counting {
    fail: bool,
    /// Real time each run takes, so that runners overlap.
    work: Option<Duration>,
    runs: Mutex<Vec<(i64, i32)>>,
}

impl Counting {
    fn failing() -> Arc<Self> {
        Arc::new(Self { fail: true, ..Self::default() })
    }

    fn runs(&self) -> Vec<(i64, i32)> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many times each `n` ran.
    fn counts(&self) -> BTreeMap<i64, usize> {
        let mut counts = BTreeMap::new();
        for (n, _) in self.runs() {
            *counts.entry(n).or_default() += 1;
        }
        counts
    }
}

#[async_trait]
impl JobHandler for Counting {
    async fn run(&self, _uow: &mut UnitOfWork, job: &Job) -> DomainResult<()> {
        if let Some(work) = self.work {
            tokio::time::sleep(work).await;
        }
        let n = job.payload["n"].as_i64().unwrap_or(-1);
        self.runs.lock().unwrap_or_else(PoisonError::into_inner).push((n, job.attempts));
        if self.fail {
            return Err(DomainError::internal("running a test job", "it fails on purpose"));
        }
        Ok(())
    }
}

/// A fresh database with an application whose job registry knows [`KIND`].
struct Fixture {
    db: TestDatabase,
    clock: Arc<TestClock>,
    handler: Arc<Counting>,
    app: App,
    /// A second pool, for looking at the table and for claiming as another runner would.
    raw: SeaStore,
}

impl Fixture {
    async fn new(backend: Backend, handler: Arc<Counting>) -> Option<Self> {
        let db = TestDatabase::create(backend).await?;
        let clock = TestClock::new();
        let app = runner(&db, &clock, &handler).await;
        let raw = db.connect().await;
        Some(Self { db, clock, handler, app, raw })
    }

    fn now(&self) -> DateTime<Utc> {
        weco_domain::ports::Clock::now(&*self.clock)
    }

    fn job(&self, n: i64, due_in_secs: i64) -> NewJob {
        NewJob::new(KIND, self.now() + chrono::Duration::seconds(due_in_secs), json!({ "n": n }))
    }

    async fn run(&self) -> JobsRun {
        self.app.run_due_jobs(32).await.expect("running due jobs")
    }

    async fn stats(&self) -> JobStats {
        self.app.job_stats().await.expect("job stats")
    }

    /// Every row of the jobs table: (payload, state, attempts, last error).
    async fn rows(&self) -> Vec<(String, String, i64, Option<String>)> {
        let conn = self.raw.connection();
        let statement = Statement::from_string(
            conn.get_database_backend(),
            "SELECT payload, state, attempts, last_error FROM jobs ORDER BY created_at, id",
        );
        let rows = conn.query_all_raw(statement).await.expect("reading the jobs");
        rows.iter()
            .map(|r| {
                (
                    r.try_get("", "payload").expect("payload"),
                    r.try_get("", "state").expect("state"),
                    r.try_get::<i64>("", "attempts").expect("attempts"),
                    r.try_get("", "last_error").expect("last_error"),
                )
            })
            .collect()
    }
}

/// An application over a pool of its own, sharing the clock and the handler: a runner, as a replica is.
async fn runner(db: &TestDatabase, clock: &Arc<TestClock>, handler: &Arc<Counting>) -> App {
    let registry = JobRegistry::with_builtin_handlers().register(KIND, handler.clone());
    app(db.connect().await, clock.clone(), Arc::new(RecordingBus::default())).with_jobs(registry)
}

const fn completed(n: usize) -> JobsRun {
    JobsRun { completed: n, retried: 0, failed: 0 }
}

async fn a_due_job_runs_at_the_next_pass_and_a_future_one_waits_for_its_time(backend: Backend) {
    let Some(f) = Fixture::new(backend, Arc::default()).await else { return };
    f.app.enqueue_job(f.job(1, -1)).await.expect("queueing a job due a second ago");
    f.app.enqueue_job(f.job(2, 60)).await.expect("queueing a job due in a minute");
    assert_eq!(f.stats().await, JobStats { due: 1, failed: 0 });

    assert_eq!(f.run().await, completed(1));
    assert_eq!(f.handler.runs(), [(1, 1)], "the due job ran, at its first attempt");
    assert_eq!(f.run().await, completed(0), "the other is not due yet");
    assert_eq!(f.stats().await, JobStats { due: 0, failed: 0 });

    f.clock.advance(Duration::from_secs(59));
    assert_eq!(f.run().await, completed(0), "a second early");
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(f.run().await, completed(1), "due now");
    assert_eq!(f.handler.runs(), [(1, 1), (2, 1)]);
    assert!(f.rows().await.is_empty(), "a completed job's row is deleted");
    assert_eq!(f.run().await, completed(0));
}

async fn a_keyed_job_replaces_the_pending_job_with_the_same_key(backend: Backend) {
    let Some(f) = Fixture::new(backend, Arc::default()).await else { return };
    f.app.enqueue_job(f.job(1, 3600).keyed("reminder:42")).await.expect("queueing");
    f.app.enqueue_job(f.job(2, -1).keyed("reminder:42")).await.expect("queueing it again, due now");
    f.app.enqueue_job(f.job(3, -1).keyed("reminder:43")).await.expect("another key");
    let rows = f.rows().await;
    assert_eq!(rows.len(), 2, "one pending job per key: {rows:?}");
    assert_eq!(f.stats().await, JobStats { due: 2, failed: 0 });

    assert_eq!(f.run().await, completed(2));
    assert_eq!(f.handler.counts(), BTreeMap::from([(2, 1), (3, 1)]), "the replaced job never runs");
    f.clock.advance(Duration::from_secs(7200));
    assert_eq!(f.run().await, completed(0), "not at its old time either");

    // Once the job is done, its key is free for the next one.
    f.app.enqueue_job(f.job(4, -1).keyed("reminder:42")).await.expect("queueing under a used key");
    assert_eq!(f.run().await, completed(1));
    assert_eq!(f.handler.counts(), BTreeMap::from([(2, 1), (3, 1), (4, 1)]));
}

async fn a_failing_job_is_retried_with_back_off_and_kept_as_failed_after_its_attempts(backend: Backend) {
    let Some(f) = Fixture::new(backend, Counting::failing()).await else { return };
    f.app.enqueue_job(NewJob { max_attempts: 3, ..f.job(1, 0) }).await.expect("queueing");
    let retried = JobsRun { completed: 0, retried: 1, failed: 0 };

    assert_eq!(f.run().await, retried, "the first attempt fails");
    assert_eq!(f.run().await, completed(0), "and is not tried again at once");
    assert_eq!(f.stats().await, JobStats { due: 0, failed: 0 });
    // After attempt 1 the job waits 4 s, after attempt 2 8 s (2 s doubling).
    f.clock.advance(Duration::from_secs(3));
    assert_eq!(f.run().await, completed(0), "a second before its back-off ends");
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(f.run().await, retried, "the second attempt fails");
    f.clock.advance(Duration::from_secs(7));
    assert_eq!(f.run().await, completed(0), "the back-off grew");
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(f.run().await, JobsRun { completed: 0, retried: 0, failed: 1 }, "the last attempt fails for good");
    assert_eq!(f.handler.runs(), [(1, 1), (1, 2), (1, 3)]);

    assert_eq!(f.stats().await, JobStats { due: 0, failed: 1 });
    let rows = f.rows().await;
    assert_eq!(rows.len(), 1, "a failed job is kept for an operator: {rows:?}");
    let (_, state, attempts, error) = &rows[0];
    assert_eq!((state.as_str(), *attempts), ("FAILED", 3));
    assert!(error.as_deref().is_some_and(|e| e.contains("it fails on purpose")), "{error:?}");
    f.clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(f.run().await, completed(0), "a failed job never runs again");
    assert_eq!(f.handler.runs().len(), 3);
}

async fn a_job_whose_runner_died_runs_again_when_its_lease_ends(backend: Backend) {
    let Some(f) = Fixture::new(backend, Arc::default()).await else { return };
    f.app.enqueue_job(f.job(1, -1)).await.expect("queueing");
    // Another runner claims the job and dies before completing it: its claim is committed, nothing else.
    let now = f.now();
    let lease_until = now + chrono::Duration::from_std(LEASE).expect("lease");
    let tx = f.raw.begin().await.expect("begin");
    let claimed = tx.jobs().claim_due(now, lease_until, 10).await.expect("claiming");
    tx.commit().await.expect("commit");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);

    assert_eq!(f.run().await, completed(0), "the job is leased to the other runner");
    assert_eq!(f.stats().await.due, 1, "still due: nobody finished it");
    f.clock.advance(LEASE - Duration::from_secs(1));
    assert_eq!(f.run().await, completed(0), "the lease has a second to go");
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(f.run().await, completed(1), "the lease ended: the job runs again");
    assert_eq!(f.handler.runs(), [(1, 2)], "as its second attempt");
    assert!(f.rows().await.is_empty());
}

async fn two_runners_at_once_run_each_of_fifty_jobs_exactly_once(backend: Backend) {
    let handler = Arc::new(Counting { work: Some(Duration::from_millis(2)), ..Counting::default() });
    let Some(f) = Fixture::new(backend, handler.clone()).await else { return };
    for n in 0..50 {
        f.app.enqueue_job(f.job(n, -1)).await.expect("queueing");
    }
    let other = runner(&f.db, &f.clock, &handler).await;
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let pass = |app: App, start: Arc<tokio::sync::Barrier>| async move {
        start.wait().await;
        let mut done = 0;
        loop {
            let run = app.run_due_jobs(4).await.expect("running due jobs");
            assert_eq!((run.retried, run.failed), (0, 0));
            if run.completed == 0 {
                return done;
            }
            done += run.completed;
        }
    };
    let one = tokio::spawn(pass(f.app.clone(), start.clone()));
    let two = tokio::spawn(pass(other, start));
    let (one, two) = (one.await.expect("runner one"), two.await.expect("runner two"));
    eprintln!("{backend:?}: runner one completed {one} jobs, runner two {two}");

    assert_eq!(one + two, 50, "every job completed once");
    let counts = handler.counts();
    assert_eq!(counts.len(), 50, "every job ran: {counts:?}");
    assert!(counts.values().all(|c| *c == 1), "a job ran twice: {counts:?}");
    assert!(f.rows().await.is_empty());
}

/// PostgreSQL: while one runner's claim is still open (its rows locked), another runner's claim skips those
/// rows instead of waiting for them or taking them too.
async fn a_claim_skips_jobs_another_runner_is_claiming(backend: Backend) {
    let Some(f) = Fixture::new(backend, Arc::default()).await else { return };
    for n in 0..6 {
        f.app.enqueue_job(f.job(n, -1)).await.expect("queueing");
    }
    let now = f.now();
    let lease_until = now + chrono::Duration::from_std(LEASE).expect("lease");
    let other = f.db.connect().await;
    let first = f.raw.begin().await.expect("begin");
    let mine = first.jobs().claim_due(now, lease_until, 4).await.expect("claiming");
    let second = other.begin().await.expect("begin");
    let theirs = tokio::time::timeout(Duration::from_secs(10), second.jobs().claim_due(now, lease_until, 4))
        .await
        .expect("a claim must skip locked jobs, not wait for them")
        .expect("claiming");
    assert_eq!((mine.len(), theirs.len()), (4, 2));
    assert!(mine.iter().all(|j| theirs.iter().all(|t| t.id != j.id)), "a job claimed twice");
    second.commit().await.expect("commit");
    first.commit().await.expect("commit");
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both_backends!(
    a_due_job_runs_at_the_next_pass_and_a_future_one_waits_for_its_time,
    a_keyed_job_replaces_the_pending_job_with_the_same_key,
    a_failing_job_is_retried_with_back_off_and_kept_as_failed_after_its_attempts,
    a_job_whose_runner_died_runs_again_when_its_lease_ends,
    two_runners_at_once_run_each_of_fifty_jobs_exactly_once,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_skips_jobs_another_runner_is_claiming_on_postgres() {
    a_claim_skips_jobs_another_runner_is_claiming(Backend::Postgres).await;
}
