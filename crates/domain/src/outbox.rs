//! The outbox: events that someone must receive survive a crash.
//!
//! A unit of work writes its announcements to the outbox table in its own transaction, so they exist exactly
//! when its writes do. After the commit the process publishes them at once and remembers their ids; the host
//! deletes the published rows in batches ([`App::flush_outbox`], every few hundred milliseconds). If the
//! process dies between commit and publish (or before the rows are deleted), the rows stay: any process —
//! this one when it starts again, or another replica meanwhile — finds rows older than a grace period and
//! publishes them ([`App::recover_outbox`]). On PostgreSQL recovery claims rows with `FOR UPDATE SKIP
//! LOCKED`, so two replicas never publish the same row; on SQLite the one process is the only publisher.
//!
//! Delivery is therefore at least once: a crash after publishing but before deleting publishes an event
//! again. Every event carries its id, and receivers drop an id they have seen (the realtime hub does so for
//! all its subscribers).

use crate::app::App;
use crate::error::DomainResult;
use crate::events::{Announcement, Envelope};
use crate::ids::EventId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use std::time::Duration;

/// The outbox table.
#[async_trait]
pub trait OutboxRepo: Send + Sync {
    /// Writes announcements (in the unit of work's transaction).
    async fn append(&self, announcements: &[Announcement]) -> DomainResult<()>;
    /// Announcements written before `before` and not yet deleted, oldest first, locked for this transaction
    /// (skipping rows another transaction holds).
    async fn claim_stale(&self, before: DateTime<Utc>, limit: u32) -> DomainResult<Vec<Announcement>>;
    /// Deletes the rows of published announcements; ids without a row are ignored.
    async fn remove(&self, ids: &[EventId]) -> DomainResult<u64>;
    /// How many rows wait (published or not), for the metrics.
    async fn pending(&self) -> DomainResult<i64>;
}

/// Ids of events this process published whose rows are not deleted yet.
#[derive(Debug, Default)]
pub(crate) struct Relay {
    published: Mutex<Vec<EventId>>,
}

impl Relay {
    fn push(&self, ids: impl IntoIterator<Item = EventId>) {
        self.published.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(ids);
    }

    fn take(&self) -> Vec<EventId> {
        std::mem::take(&mut *self.published.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// How long a committed event may wait for its own process to publish it before others step in.
pub const RECOVERY_GRACE: Duration = Duration::from_secs(5);

/// The most rows one recovery pass publishes.
pub const RECOVERY_BATCH: u32 = 500;

impl App {
    /// Publishes what a unit of work announced, right after its commit.
    pub(crate) async fn publish_committed(&self, announcements: Vec<Announcement>) {
        if announcements.is_empty() {
            return;
        }
        let ids: Vec<EventId> = announcements.iter().map(|a| a.id).collect();
        let envelopes: Vec<Envelope> = announcements.iter().flat_map(Announcement::envelopes).collect();
        self.ports.bus.publish(envelopes).await;
        self.relay.push(ids);
    }

    /// Deletes the outbox rows of the events this process has published since the last call. The host calls it
    /// every few hundred milliseconds; returns how many rows went.
    pub async fn flush_outbox(&self) -> DomainResult<u64> {
        let ids = self.relay.take();
        if ids.is_empty() {
            return Ok(0);
        }
        match self.ports.store.outbox().remove(&ids).await {
            Ok(n) => Ok(n),
            Err(e) => {
                // Try again next time; until then recovery may publish them again, which receivers tolerate.
                self.relay.push(ids);
                Err(e)
            }
        }
    }

    /// Publishes events whose unit of work committed more than `grace` ago but whose rows are still in the
    /// outbox (their process died before publishing or deleting them), then deletes the rows. Returns how many
    /// were published. Run at start and every few seconds.
    pub async fn recover_outbox(&self, grace: Duration) -> DomainResult<usize> {
        let before = self.ports.clock.now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let tx = self.ports.store.begin().await?;
        let stale = tx.outbox().claim_stale(before, RECOVERY_BATCH).await?;
        if stale.is_empty() {
            return Ok(0);
        }
        let envelopes: Vec<Envelope> = stale.iter().flat_map(Announcement::envelopes).collect();
        self.ports.bus.publish(envelopes).await;
        let ids: Vec<EventId> = stale.iter().map(|a| a.id).collect();
        tx.outbox().remove(&ids).await?;
        tx.commit().await?;
        tracing::info!(events = stale.len(), "published events a stopped process had committed but not published");
        Ok(stale.len())
    }

    /// Rows waiting in the outbox.
    pub async fn outbox_pending(&self) -> DomainResult<i64> {
        self.ports.store.outbox().pending().await
    }
}
