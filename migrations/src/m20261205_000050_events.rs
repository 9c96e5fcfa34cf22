//! Events (docs/events.md): the time and place of an event post with its totals, and who answered it how.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
-- One row per event post, locked by every response so its totals stay exact.
CREATE TABLE post_events (
    post_id {uuid} PRIMARY KEY REFERENCES posts (id),
    starts_at {ts} NOT NULL,
    ends_at {ts},
    location TEXT,
    total_going {int} NOT NULL DEFAULT 0,
    total_interested {int} NOT NULL DEFAULT 0
);
CREATE INDEX post_events_starts_idx ON post_events (starts_at, post_id);

-- One answer per user and event.
CREATE TABLE event_responses (
    post_id {uuid} NOT NULL REFERENCES post_events (post_id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    response TEXT NOT NULL CHECK (response IN ('GOING', 'INTERESTED')),
    created_at {ts} NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX event_responses_list_idx ON event_responses (post_id, response, created_at DESC, user_id DESC)
"#;

const DOWN: &str = r#"
DROP TABLE event_responses;
DROP TABLE post_events
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
