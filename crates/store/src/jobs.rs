//! The jobs table: the durable queue's claims, leases, retries and failures.

use crate::Db;
use crate::sql::{get, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};
use uuid::Uuid;
use weco_domain::jobs::{Job, JobRepo, JobStats, NewJob};
use weco_domain::{DomainError, DomainResult, JobId, now};

/// The longest error text kept on a job.
const ERROR_LIMIT: usize = 2_000;

fn job_from_row(row: &QueryResult) -> DomainResult<Job> {
    const CX: &str = "decoding job";
    Ok(Job {
        id: JobId(get::<Uuid>(row, CX, "id")?),
        kind: get(row, CX, "kind")?,
        key: get(row, CX, "job_key")?,
        due_at: get(row, CX, "due_at")?,
        payload: serde_json::from_str(&get::<String>(row, CX, "payload")?)
            .map_err(|e| DomainError::internal("decoding job payload", e))?,
        attempts: get::<i64>(row, CX, "attempts")? as i32,
        max_attempts: get::<i64>(row, CX, "max_attempts")? as i32,
        prepared: None,
    })
}

fn clip(error: &str) -> String {
    error.chars().take(ERROR_LIMIT).collect()
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> JobRepo for Db<C> {
    async fn enqueue(&self, job: &NewJob) -> DomainResult<JobId> {
        let id = JobId::generate();
        let payload =
            serde_json::to_string(&job.payload).map_err(|e| DomainError::internal("encoding job payload", e))?;
        let values = vec![
            v(id.0),
            v(job.kind.clone()),
            v(job.key.clone()),
            v(job.due_at),
            v(payload),
            v(i64::from(job.max_attempts)),
            v(now()),
        ];
        let insert = "INSERT INTO jobs (id, kind, job_key, due_at, payload, max_attempts, created_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let sql = match job.key {
            // The pending job with the same key is replaced (and its attempts start again).
            Some(_) => format!(
                "{insert} ON CONFLICT (job_key) WHERE state = 'PENDING' DO UPDATE SET kind = excluded.kind, \
                 due_at = excluded.due_at, payload = excluded.payload, max_attempts = excluded.max_attempts, \
                 attempts = 0, leased_until = NULL, last_error = NULL RETURNING id"
            ),
            None => format!("{insert} RETURNING id"),
        };
        let row = self.sql().one("queueing a job", &sql, values).await?;
        let row = row.ok_or_else(|| DomainError::internal("queueing a job", "no row returned"))?;
        Ok(JobId(get::<Uuid>(&row, "queueing a job", "id")?))
    }

    async fn claim_due(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: u32) -> DomainResult<Vec<Job>> {
        let lock = if self.backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET leased_until = $2, attempts = attempts + 1 WHERE id IN ( \
               SELECT id FROM jobs WHERE state = 'PENDING' AND due_at <= $1 \
                 AND (leased_until IS NULL OR leased_until < $1) \
               ORDER BY due_at, id LIMIT {limit}{lock}) \
             RETURNING id, kind, job_key, due_at, payload, attempts, max_attempts"
        );
        let rows = self.sql().all("claiming jobs", &sql, vec![v(now), v(lease_until)]).await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<DomainResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.due_at, j.id));
        Ok(jobs)
    }

    async fn cancel(&self, key: &str) -> DomainResult<u64> {
        self.sql()
            .exec(
                "dropping a job",
                "DELETE FROM jobs WHERE job_key = $1 AND state = 'PENDING'",
                vec![v(key.to_owned())],
            )
            .await
    }

    async fn complete(&self, id: JobId) -> DomainResult<()> {
        self.sql().exec("completing a job", "DELETE FROM jobs WHERE id = $1", vec![v(id.0)]).await.map(drop)
    }

    async fn retry(&self, id: JobId, at: DateTime<Utc>, error: &str) -> DomainResult<()> {
        self.sql()
            .exec(
                "rescheduling a job",
                "UPDATE jobs SET due_at = $2, leased_until = NULL, last_error = $3 WHERE id = $1",
                vec![v(id.0), v(at), v(clip(error))],
            )
            .await
            .map(drop)
    }

    async fn fail(&self, id: JobId, error: &str) -> DomainResult<()> {
        self.sql()
            .exec(
                "failing a job",
                "UPDATE jobs SET state = 'FAILED', leased_until = NULL, last_error = $2 WHERE id = $1",
                vec![v(id.0), v(clip(error))],
            )
            .await
            .map(drop)
    }

    async fn stats(&self, now: DateTime<Utc>) -> DomainResult<JobStats> {
        const CX: &str = "counting jobs";
        let row = self
            .sql()
            .one(
                CX,
                "SELECT COALESCE(SUM(CASE WHEN state = 'PENDING' AND due_at <= $1 THEN 1 ELSE 0 END), 0) AS due, \
                   COALESCE(SUM(CASE WHEN state = 'FAILED' THEN 1 ELSE 0 END), 0) AS failed FROM jobs",
                vec![v(now)],
            )
            .await?
            .ok_or_else(|| DomainError::internal(CX, "no row"))?;
        Ok(JobStats { due: get(&row, CX, "due")?, failed: get(&row, CX, "failed")? })
    }
}
