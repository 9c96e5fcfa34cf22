//! The outbox table: announcements written with the work that made them, deleted once published.

use crate::Db;
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;
use weco_domain::events::{Announcement, Event, Topic};
use weco_domain::outbox::OutboxRepo;
use weco_domain::{DomainError, DomainResult, EventId, now};

/// Rows per statement when writing or deleting many.
const CHUNK: usize = 200;

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> OutboxRepo for Db<C> {
    async fn append(&self, announcements: &[Announcement]) -> DomainResult<()> {
        let at = now();
        for chunk in announcements.chunks(CHUNK) {
            let mut values = Vec::with_capacity(chunk.len() * 4);
            let mut rows = Vec::with_capacity(chunk.len());
            for a in chunk {
                let topics =
                    serde_json::to_string(&a.topics).map_err(|e| DomainError::internal("encoding topics", e))?;
                let event = serde_json::to_string(&a.event).map_err(|e| DomainError::internal("encoding event", e))?;
                let n = values.len();
                rows.push(format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
                values.extend([v(a.id.0), v(topics), v(event), v(at)]);
            }
            let sql = format!("INSERT INTO outbox (id, topics, event, created_at) VALUES {}", rows.join(", "));
            self.sql().exec("writing the outbox", &sql, values).await?;
        }
        Ok(())
    }

    async fn claim_stale(&self, before: DateTime<Utc>, limit: u32) -> DomainResult<Vec<Announcement>> {
        const CX: &str = "reading the outbox";
        let lock = if self.backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "SELECT id, topics, event FROM outbox WHERE created_at < $1 ORDER BY created_at, id LIMIT {limit}{lock}"
        );
        let rows = self.sql().all(CX, &sql, vec![v(before)]).await?;
        rows.iter()
            .map(|row| {
                let topics: Vec<Topic> = serde_json::from_str(&get::<String>(row, CX, "topics")?)
                    .map_err(|e| DomainError::internal("decoding outbox topics", e))?;
                let event: Event = serde_json::from_str(&get::<String>(row, CX, "event")?)
                    .map_err(|e| DomainError::internal("decoding outbox event", e))?;
                Ok(Announcement { id: EventId(get::<Uuid>(row, CX, "id")?), topics, event })
            })
            .collect()
    }

    async fn remove(&self, ids: &[EventId]) -> DomainResult<u64> {
        let mut removed = 0;
        for chunk in ids.chunks(CHUNK) {
            let sql = format!("DELETE FROM outbox WHERE id IN ({})", placeholders(1, chunk.len()));
            removed += self.sql().exec("clearing the outbox", &sql, uuid_values(chunk)).await?;
        }
        Ok(removed)
    }

    async fn pending(&self) -> DomainResult<i64> {
        self.sql().scalar("counting the outbox", "SELECT COUNT(*) AS v FROM outbox", vec![]).await
    }
}
