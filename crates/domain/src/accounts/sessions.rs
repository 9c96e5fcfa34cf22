//! Sessions: every issued token has one (a row of `sessions`, named by the token's `sid`), and a token works
//! only while its session is open. `logout` ends one, `logoutEverywhere` all of a user's, and a password change
//! all but the one that made it.
//!
//! Checking a session costs one indexed read; [`SessionCache`] keeps each answer for a short bound
//! (`session_cache_ms`), so a replica reads a busy session at most once per bound. A session ended on one
//! replica is forgotten there at once; on the others its token may keep working until their entry is older
//! than the bound.

use crate::ids::{SessionId, UserId};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A new session, as the store writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The answers of recent session reads: the session's user while it is open, `None` once it is not.
pub struct SessionCache {
    bound: Duration,
    capacity: usize,
    entries: Mutex<HashMap<SessionId, (Option<UserId>, Instant)>>,
}

impl SessionCache {
    /// The default bound: how long an answer is kept.
    pub const DEFAULT_BOUND: Duration = Duration::from_secs(5);
    /// At most this many sessions are remembered; beyond, stale answers are dropped first, then all.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// Keeps answers for `bound`; a zero bound keeps nothing (every check reads the store).
    pub fn new(bound: Duration) -> Self {
        Self { bound, capacity: Self::DEFAULT_CAPACITY, entries: Mutex::default() }
    }

    pub fn bound(&self) -> Duration {
        self.bound
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, (Option<UserId>, Instant)>> {
        // Every critical section leaves the map consistent, so a poisoned one is still usable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept answer for `session`, if it is younger than the bound: `Some(Some(user))` open,
    /// `Some(None)` ended or unknown.
    pub fn get(&self, session: SessionId) -> Option<Option<UserId>> {
        if self.bound.is_zero() {
            return None;
        }
        let entries = self.lock();
        let (user, at) = entries.get(&session)?;
        (at.elapsed() < self.bound).then_some(*user)
    }

    /// Keeps what the store said of `session`.
    pub fn put(&self, session: SessionId, user: Option<UserId>) {
        if self.bound.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&session) {
            let bound = self.bound;
            entries.retain(|_, (_, at)| at.elapsed() < bound);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(session, (user, Instant::now()));
    }

    /// Remembers that `session` ended (on this replica: at once).
    pub fn ended(&self, session: SessionId) {
        if !self.bound.is_zero() {
            self.lock().insert(session, (None, Instant::now()));
        }
    }

    /// Remembers that every session of `user` ended, except `kept`.
    pub fn ended_for_user(&self, user: UserId, kept: Option<SessionId>) {
        let mut entries = self.lock();
        for (session, (owner, at)) in entries.iter_mut() {
            if *owner == Some(user) && Some(*session) != kept {
                *owner = None;
                *at = Instant::now();
            }
        }
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_BOUND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_for_the_bound_and_endings_replace_them() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let (a, b, user) = (SessionId::generate(), SessionId::generate(), UserId::generate());
        assert_eq!(cache.get(a), None);
        cache.put(a, Some(user));
        cache.put(b, Some(user));
        assert_eq!(cache.get(a), Some(Some(user)));
        cache.ended(a);
        assert_eq!(cache.get(a), Some(None));
        cache.put(a, Some(user));
        cache.ended_for_user(user, Some(b));
        assert_eq!((cache.get(a), cache.get(b)), (Some(None), Some(Some(user))));
    }

    #[test]
    fn a_zero_bound_keeps_nothing() {
        let cache = SessionCache::new(Duration::ZERO);
        let a = SessionId::generate();
        cache.put(a, Some(UserId::generate()));
        assert_eq!(cache.get(a), None);
    }

    #[test]
    fn a_full_cache_makes_room() {
        let mut cache = SessionCache::new(Duration::from_secs(60));
        cache.capacity = 3;
        let user = UserId::generate();
        let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
        for id in &ids {
            cache.put(*id, Some(user));
        }
        assert!(cache.lock().len() <= 3);
        assert_eq!(cache.get(ids[4]), Some(Some(user)), "the newest answer is kept");
    }
}
