//! The unit of work: one transaction, the commands run in it, and the events they announce, written to the
//! outbox in the same transaction.
//!
//! Every write goes through [`App::execute`]: it begins a transaction, runs a [`Command`] (which may run
//! others: "the poll passed: create the space, log the decision, notify the voters" is one command made of
//! three), writes the announcements to the outbox table, commits, and hands the announcements to the relay
//! ([`crate::outbox`]) to publish. A transaction the database gave up on because of another one (a deadlock,
//! a serialization failure, SQLite's busy lock) is rolled back and run again from the start, a few times, with
//! a growing, jittered pause — so a command must not have effects outside its transaction.
//!
//! The ports every store implements meet here: [`Repos`] gives each area's repository, [`Store`] reads outside
//! a transaction or begins one, [`Transaction`] commits. A new area adds its repository trait in its own
//! `ports.rs` and one accessor line to [`Repos`].

use crate::access::ports::AccessRepo;
use crate::accounts::ports::AccountRepo;
use crate::actor::{Actor, Viewer};
use crate::app::App;
use crate::chat::ports::ChatRepo;
use crate::commons::ports::CommonsRepo;
use crate::error::{DomainError, DomainResult};
use crate::events::{Announcement, Event, Topic};
use crate::feeds::ports::FeedRepo;
use crate::holarchy::ports::HolarchyRepo;
use crate::ids::UserId;
use crate::jobs::{JobRepo, NewJob};
use crate::notifications::ports::NotificationRepo;
use crate::outbox::OutboxRepo;
use crate::people::ports::PeopleRepo;
use crate::polls::ports::PollRepo;
use crate::posts::ports::PostRepo;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Each area's repository, over one connection or one transaction.
pub trait Repos: Send + Sync {
    fn accounts(&self) -> &dyn AccountRepo;
    fn holarchy(&self) -> &dyn HolarchyRepo;
    fn access(&self) -> &dyn AccessRepo;
    fn posts(&self) -> &dyn PostRepo;
    fn polls(&self) -> &dyn PollRepo;
    fn events(&self) -> &dyn crate::calendar::ports::EventRepo;
    fn feeds(&self) -> &dyn FeedRepo;
    fn people(&self) -> &dyn PeopleRepo;
    fn notifications(&self) -> &dyn NotificationRepo;
    fn chats(&self) -> &dyn ChatRepo;
    fn commons(&self) -> &dyn CommonsRepo;
    fn outbox(&self) -> &dyn OutboxRepo;
    fn jobs(&self) -> &dyn JobRepo;
    fn media(&self) -> &dyn crate::media::ports::MediaRepo;
}

/// A database: reads outside a transaction, or opens one.
#[async_trait]
pub trait Store: Repos {
    async fn begin(&self) -> DomainResult<Box<dyn Transaction>>;

    /// Where a read for `viewer` goes outside a transaction: a read replica that has caught up with everything
    /// the viewer wrote, or the primary (a store without replicas is its own reader).
    fn reader(&self, viewer: Viewer) -> &dyn Repos;

    /// Told after a unit of work by `user` commits, so that the user's next reads see it (a store with read
    /// replicas notes where the primary's log is, and reads for the user wait for a replica to reach it).
    async fn committed_by(&self, _user: UserId) {}
}

/// An open transaction; dropped without [`Transaction::commit`] it rolls back.
#[async_trait]
pub trait Transaction: Repos {
    async fn commit(self: Box<Self>) -> DomainResult<()>;
    /// Undoes the transaction (for a savepoint: what was done since it was taken).
    async fn rollback(self: Box<Self>) -> DomainResult<()>;
    /// A savepoint inside this transaction: committed, its work joins the transaction; rolled back, only its
    /// work is undone. Use the savepoint, not this transaction, until it ends.
    async fn savepoint(&self) -> DomainResult<Box<dyn Transaction>>;
}

/// One unit of work in progress: its transaction (reach the repositories through it: `uow.posts()`), who acts,
/// and what it will announce once committed.
pub struct UnitOfWork {
    tx: Box<dyn Transaction>,
    actor: Actor,
    admins: std::sync::Arc<std::collections::HashSet<String>>,
    now: DateTime<Utc>,
    announcements: Vec<Announcement>,
    jobs_enqueued: bool,
}

impl std::ops::Deref for UnitOfWork {
    type Target = dyn Transaction;

    fn deref(&self) -> &Self::Target {
        &*self.tx
    }
}

impl UnitOfWork {
    /// Who performs the work.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The handles of the platform's admins (the setting `WECO_ADMINS`).
    pub fn admins(&self) -> &std::collections::HashSet<String> {
        &self.admins
    }

    /// The time of the unit of work: every row it writes carries the same.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Announces `event` on `topics` once the work commits (nothing is heard of work that rolls back).
    pub fn announce(&mut self, topics: Vec<Topic>, event: Event) {
        if !topics.is_empty() {
            self.announcements.push(Announcement::new(topics, event));
        }
    }

    /// Queues a job in the same transaction: it exists exactly when the work commits.
    pub async fn enqueue(&mut self, job: &NewJob) -> DomainResult<()> {
        self.tx.jobs().enqueue(job).await?;
        self.jobs_enqueued = true;
        Ok(())
    }

    /// Runs `command` as `actor` inside a savepoint: if it fails, everything it wrote, announced and queued is
    /// undone and its error returned, and the unit of work goes on (a decision records a refused action this
    /// way, with nothing of it left behind). A transient failure is returned too, and the caller should give
    /// it up to the retry of the whole unit of work.
    pub async fn run_isolated<C: Command>(&mut self, actor: Actor, command: &C) -> DomainResult<C::Output> {
        let savepoint = self.tx.savepoint().await?;
        let outer = std::mem::replace(&mut self.tx, savepoint);
        let outer_actor = std::mem::replace(&mut self.actor, actor);
        let (announced, enqueued) = (self.announcements.len(), self.jobs_enqueued);
        let result = command.run(self).await;
        self.actor = outer_actor;
        let savepoint = std::mem::replace(&mut self.tx, outer);
        match result {
            Ok(output) => {
                savepoint.commit().await?;
                Ok(output)
            }
            Err(e) => {
                savepoint.rollback().await?;
                self.announcements.truncate(announced);
                self.jobs_enqueued = enqueued;
                Err(e)
            }
        }
    }

    /// What the work has announced so far.
    pub fn announcements(&self) -> &[Announcement] {
        &self.announcements
    }
}

/// A use case that writes: it runs inside a [`UnitOfWork`] and may be run again if the transaction is retried,
/// so it keeps no state of its own between runs.
#[async_trait]
pub trait Command: Send + Sync {
    type Output: Send;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Self::Output>;
}

/// How many times a unit of work runs before a transient failure is given up on.
pub const MAX_ATTEMPTS: u32 = 6;

/// The pause before attempt `attempt` (2, 3, …): 4 ms doubling each time, jittered between half and the whole.
fn back_off(attempt: u32) -> Duration {
    let ceiling = 4u64 << (attempt.saturating_sub(2)).min(8);
    let jitter = rand::random::<f64>() * 0.5 + 0.5;
    Duration::from_micros((ceiling as f64 * 1000.0 * jitter) as u64)
}

impl App {
    /// Runs `command` as `actor` in one unit of work: begin, run, write the outbox, commit, publish. Transient
    /// failures (deadlocks, serialization failures, a busy SQLite) are retried up to [`MAX_ATTEMPTS`] times.
    pub async fn execute<C: Command>(&self, actor: Actor, command: &C) -> DomainResult<C::Output> {
        let mut attempt = 1;
        loop {
            match self.attempt(actor, command).await {
                Err(e) if e.is_transient() && attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(attempt, error = ?e, "retrying a unit of work");
                    self.ports.clock.sleep(back_off(attempt)).await;
                }
                Err(DomainError::Transient(cause)) => {
                    return Err(DomainError::internal("running a unit of work", format!("gave up: {cause}")));
                }
                other => return other,
            }
        }
    }

    async fn attempt<C: Command>(&self, actor: Actor, command: &C) -> DomainResult<C::Output> {
        let tx = self.ports.store.begin().await?;
        let mut uow = UnitOfWork {
            tx,
            actor,
            admins: self.admins.clone(),
            now: self.ports.clock.now(),
            announcements: Vec::new(),
            jobs_enqueued: false,
        };
        let output = command.run(&mut uow).await?;
        let UnitOfWork { tx, announcements, jobs_enqueued, .. } = uow;
        if !announcements.is_empty() {
            tx.outbox().append(&announcements).await?;
        }
        tx.commit().await?;
        if self.ports.failpoints.abort_after_commit && !announcements.is_empty() {
            // A test hook: the crash the outbox exists for, between the commit of events and their publication.
            tracing::error!("failpoint abort_after_commit: aborting after a commit, before publishing");
            std::process::abort();
        }
        if let Some(user) = actor.user() {
            self.ports.store.committed_by(user).await;
        }
        self.publish_committed(announcements).await;
        if jobs_enqueued && let Some(wake) = &self.ports.wake_jobs {
            wake();
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_grows_and_stays_bounded() {
        for attempt in 2..20 {
            let pause = back_off(attempt);
            let ceiling = Duration::from_millis(4 << (attempt - 2).min(8));
            assert!(pause <= ceiling && pause >= ceiling / 2, "attempt {attempt}: {pause:?}");
        }
    }
}
