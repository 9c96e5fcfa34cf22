//! The outbox (events a committed unit of work must announce, kept until published) and the durable job queue.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
-- One row per announcement, written in the transaction of the work that announces it and deleted once
-- published. `topics` is a JSON array of topics; `event` the JSON event. Rows older than a few seconds were
-- left behind by a process that stopped between its commit and its publishing: recovery publishes them.
CREATE TABLE outbox (
    id {uuid} PRIMARY KEY,
    topics TEXT NOT NULL,
    event TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX outbox_created_idx ON outbox (created_at);

-- Work to do at a time: claimed by one runner at a time through a lease, retried with back-off, kept as
-- FAILED when it runs out of attempts. A job with a key replaces the pending job with the same key.
CREATE TABLE jobs (
    id {uuid} PRIMARY KEY,
    kind TEXT NOT NULL,
    job_key TEXT,
    state TEXT NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'FAILED')),
    due_at {ts} NOT NULL,
    payload TEXT NOT NULL,
    attempts {int} NOT NULL DEFAULT 0,
    max_attempts {int} NOT NULL,
    leased_until {ts},
    last_error TEXT,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX jobs_key_pending_key ON jobs (job_key) WHERE state = 'PENDING';
CREATE INDEX jobs_due_idx ON jobs (due_at) WHERE state = 'PENDING'
"#;

const DOWN: &str = r#"
DROP TABLE jobs;
DROP TABLE outbox
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, DOWN).await
    }
}
