//! Read replicas: PostgreSQL streaming replicas that answer reads, with read-your-own-writes for the writer.
//!
//! After a user's unit of work commits, the store notes where the primary's write-ahead log is
//! (`pg_current_wal_lsn()`); a background task notes, every few tens of milliseconds, how far each replica has
//! replayed it (`pg_last_wal_replay_lsn()`). A read for a user goes to a replica that has replayed past that
//! user's last write, and to the primary when none has: a user always sees what they just did. Readers who
//! wrote nothing lately (anonymous ones included) read from any healthy replica, round robin. A replica whose
//! position cannot be read is left out until it answers again.
//!
//! The notes live in this process: behind a load balancer, a user's next request may reach another server
//! process, which answers it from a replica that may lag by the replication delay (milliseconds on a healthy
//! pair). Route a user's requests to one process (sticky sessions) where that matters.

use crate::error::db_err;
use crate::{SeaStore, StoreMetrics};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use weco_domain::{DomainError, DomainResult, UserId};

/// A log position (`LSN`) as a number: `16/B374D848` is `0x16_B374D848`.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

struct Replica {
    db: SeaStore,
    replayed: AtomicU64,
    healthy: AtomicBool,
}

/// The replicas of one primary, and where each user's last write left the primary's log.
pub struct Replicas {
    members: Vec<Replica>,
    written: Mutex<HashMap<UserId, u64>>,
    next: AtomicUsize,
}

impl Replicas {
    pub(crate) fn new(dbs: Vec<SeaStore>) -> Self {
        let members = dbs
            .into_iter()
            .map(|db| Replica { db, replayed: AtomicU64::new(0), healthy: AtomicBool::new(false) })
            .collect();
        Self { members, written: Mutex::default(), next: AtomicUsize::new(0) }
    }

    /// A healthy replica that has replayed at least `needed`, taken in turn.
    pub(crate) fn pick(&self, needed: u64) -> Option<&SeaStore> {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|i| &self.members[(start + i) % n]).find_map(|r| {
            let ready = r.healthy.load(Ordering::Acquire) && r.replayed.load(Ordering::Acquire) >= needed;
            ready.then_some(&r.db)
        })
    }

    /// Where the primary's log was after `user`'s last write (0: nothing noted).
    pub(crate) fn written_by(&self, user: UserId) -> u64 {
        self.written.lock().unwrap_or_else(PoisonError::into_inner).get(&user).copied().unwrap_or(0)
    }

    pub(crate) fn note_write(&self, user: UserId, lsn: u64) {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = written.entry(user).or_insert(0);
        *entry = (*entry).max(lsn);
    }

    /// Reads how far each replica has replayed, and forgets the writes every healthy replica has replayed.
    pub async fn refresh(&self) {
        let mut slowest = u64::MAX;
        for replica in &self.members {
            let position = replica
                .db
                .connection()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_last_wal_replay_lsn()::text AS v".to_owned(),
                ))
                .await
                .ok()
                .flatten()
                .and_then(|row| row.try_get::<Option<String>>("", "v").ok().flatten())
                .and_then(|text| parse_lsn(&text));
            match position {
                Some(lsn) => {
                    replica.replayed.store(lsn, Ordering::Release);
                    replica.healthy.store(true, Ordering::Release);
                    slowest = slowest.min(lsn);
                }
                None => {
                    if replica.healthy.swap(false, Ordering::AcqRel) {
                        tracing::warn!("a read replica does not answer; reads go elsewhere until it does");
                    }
                }
            }
        }
        if slowest != u64::MAX {
            self.written.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, lsn| *lsn > slowest);
        }
    }

    /// The statements the replicas ran, summed.
    pub fn statements(&self) -> u64 {
        self.members.iter().map(|r| r.db.metrics().statements()).sum()
    }

    pub fn metrics(&self) -> Vec<Arc<StoreMetrics>> {
        self.members.iter().map(|r| r.db.metrics().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Where the primary's log is now.
pub(crate) async fn current_lsn(db: &SeaStore) -> DomainResult<u64> {
    const CX: &str = "reading the log position";
    let row = db
        .connection()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_current_wal_lsn()::text AS v".to_owned()))
        .await
        .map_err(|e| db_err(CX, e))?
        .ok_or_else(|| DomainError::internal(CX, "no row"))?;
    let text: String = row.try_get("", "v").map_err(|e| DomainError::internal(CX, e))?;
    parse_lsn(&text).ok_or_else(|| DomainError::internal(CX, text))
}

#[cfg(test)]
mod tests {
    use super::parse_lsn;

    #[test]
    fn log_positions_read_as_numbers_that_order_like_the_log() {
        assert_eq!(parse_lsn("0/3016038"), Some(0x3016038));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert!(parse_lsn("16/B374D848") > parse_lsn("15/FFFFFFFF"));
        assert_eq!(parse_lsn("nope"), None);
    }
}
