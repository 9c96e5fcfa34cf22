//! The durable job queue: work that must happen later (a poll's end, an event's reminder) or again until it
//! succeeds, kept in the database so it survives restarts.
//!
//! A job has a kind, a due time, a JSON payload, an attempt count and a lease. It is queued in the same
//! transaction as the data it follows ([`crate::uow::UnitOfWork::enqueue`]); a job with a key replaces the
//! pending job of the same key (so "remind me at 9" moved to 10 is one job, not two). Any process claims due
//! jobs ([`App::run_due_jobs`]): on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so with several replicas each job
//! runs once; on SQLite the one process claims them. A claim is a lease: a job whose runner died is claimable
//! again when its lease ends. Jobs that fell due while no server ran run at the next start.
//!
//! A job runs as a unit of work that also deletes the job's row, so its effects and its completion commit
//! together. A failure is retried with exponential back-off until `max_attempts`, then the job is kept as
//! FAILED for an operator to look at (`weco_jobs_failed` in the metrics).

use crate::actor::Actor;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::JobId;
use crate::uow::{Command, UnitOfWork};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A job to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub kind: String,
    /// Replaces the pending job with the same key, if any.
    pub key: Option<String>,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, due_at: DateTime<Utc>, payload: serde_json::Value) -> Self {
        Self { kind: kind.into(), key: None, due_at, payload, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }

    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

/// Attempts a job gets unless it says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub key: Option<String>,
    pub due_at: DateTime<Utc>,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub max_attempts: i32,
    /// What the handler's [`JobHandler::prepare`] found, outside the unit of work.
    pub prepared: Option<serde_json::Value>,
}

/// The queue's state, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Pending jobs whose time has come.
    pub due: i64,
    /// Jobs that used up their attempts.
    pub failed: i64,
}

/// The jobs table.
#[async_trait]
pub trait JobRepo: Send + Sync {
    /// Queues a job (replacing a pending job with the same key).
    async fn enqueue(&self, job: &NewJob) -> DomainResult<JobId>;
    /// Leases up to `limit` due jobs until `lease_until`, counting an attempt for each, oldest due first;
    /// jobs leased by others (whose lease has not ended) are skipped.
    async fn claim_due(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: u32) -> DomainResult<Vec<Job>>;
    /// Drops the pending job with this key, if any; returns how many were dropped.
    async fn cancel(&self, key: &str) -> DomainResult<u64>;
    /// Deletes a job that ran to completion.
    async fn complete(&self, id: JobId) -> DomainResult<()>;
    /// Puts a job back, due at `at`, remembering why it failed.
    async fn retry(&self, id: JobId, at: DateTime<Utc>, error: &str) -> DomainResult<()>;
    /// Keeps a job that used up its attempts as FAILED.
    async fn fail(&self, id: JobId, error: &str) -> DomainResult<()>;
    async fn stats(&self, now: DateTime<Utc>) -> DomainResult<JobStats>;
}

/// Runs the jobs of one kind, inside the unit of work that completes them.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Work done before the unit of work, holding no transaction (fetching over the network); its result is
    /// handed to [`JobHandler::run`] as [`Job::prepared`]. A failure counts as the attempt's failure.
    async fn prepare(&self, _job: &Job) -> DomainResult<Option<serde_json::Value>> {
        Ok(None)
    }

    async fn run(&self, uow: &mut UnitOfWork, job: &Job) -> DomainResult<()>;
}

/// The handlers, by job kind.
#[derive(Default, Clone)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    /// The handlers of this crate's areas.
    pub fn with_builtin_handlers() -> Self {
        Self::default()
            .register(crate::polls::POLL_END_JOB, Arc::new(crate::polls::PollEnd))
            .register(crate::calendar::REMINDER_JOB, Arc::new(crate::calendar::EventReminder))
    }

    /// Adds (or replaces) the handler of `kind`.
    pub fn register(mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.into(), handler);
        self
    }
}

/// How long a claimed job is reserved for its runner.
pub const LEASE: Duration = Duration::from_secs(60);

/// The pause before attempt `attempts + 1`: 2 s doubling, at most an hour.
fn retry_delay(attempts: i32) -> Duration {
    Duration::from_secs((2u64 << attempts.clamp(0, 11)).min(3600))
}

/// The unit of work of one job: its handler, then its completion.
struct RunJob<'a> {
    handler: &'a dyn JobHandler,
    job: &'a Job,
}

#[async_trait]
impl Command for RunJob<'_> {
    type Output = ();

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
        self.handler.run(uow, self.job).await?;
        uow.jobs().complete(self.job.id).await
    }
}

/// What one pass of the runner did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobsRun {
    pub completed: usize,
    pub retried: usize,
    pub failed: usize,
}

impl App {
    /// Claims and runs the jobs that are due, at most `limit`. The host calls it every second and when woken.
    pub async fn run_due_jobs(&self, limit: u32) -> DomainResult<JobsRun> {
        let now = self.ports.clock.now();
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claimed = {
            let tx = self.ports.store.begin().await?;
            let claimed = tx.jobs().claim_due(now, lease_until, limit).await?;
            tx.commit().await?;
            claimed
        };
        let mut run = JobsRun::default();
        for mut job in claimed {
            let outcome = match self.jobs.handlers.get(&job.kind) {
                Some(handler) => match handler.prepare(&job).await {
                    Ok(prepared) => {
                        job.prepared = prepared;
                        self.execute(Actor::System, &RunJob { handler: handler.as_ref(), job: &job }).await
                    }
                    Err(e) => Err(e),
                },
                None => Err(DomainError::internal("running a job", format!("no handler for job kind '{}'", job.kind))),
            };
            let Err(error) = outcome else {
                run.completed += 1;
                continue;
            };
            let message = match &error {
                DomainError::Internal(cause) => cause.clone(),
                other => other.to_string(),
            };
            if job.attempts >= job.max_attempts {
                tracing::error!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job failed for good");
                self.ports.store.jobs().fail(job.id, &message).await?;
                run.failed += 1;
            } else {
                let at =
                    self.ports.clock.now() + chrono::Duration::from_std(retry_delay(job.attempts)).unwrap_or_default();
                tracing::warn!(job = %job.id, kind = %job.kind, attempts = job.attempts, error = %message, "job failed; retrying later");
                self.ports.store.jobs().retry(job.id, at, &message).await?;
                run.retried += 1;
            }
        }
        Ok(run)
    }

    pub async fn job_stats(&self) -> DomainResult<JobStats> {
        self.ports.store.jobs().stats(self.ports.clock.now()).await
    }

    /// Queues a job outside any other work (for the host and tools).
    pub async fn enqueue_job(&self, job: NewJob) -> DomainResult<()> {
        struct Enqueue(NewJob);
        #[async_trait]
        impl Command for Enqueue {
            type Output = ();
            async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
                uow.enqueue(&self.0).await
            }
        }
        self.execute(Actor::System, &Enqueue(job)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay(1), Duration::from_secs(4));
        assert_eq!(retry_delay(2), Duration::from_secs(8));
        assert!(retry_delay(5) > retry_delay(4));
        assert_eq!(retry_delay(40), Duration::from_secs(3600));
    }
}
