//! Sessions: every issued token has one (a row of `sessions`, named by the token's `sid`), and a token works
//! only while its session is open. `logout` ends one, `logoutEverywhere` all of a user's, and a password change
//! all but the one that made it.
//!
//! Checking a session costs one indexed read; [`SessionCache`] keeps each answer for a short bound
//! (`session_cache_ms`), so a replica reads a busy session at most once per bound. A session ended on one
//! replica is forgotten there at once; on the others its token may keep working until their entry is older
//! than the bound.
//!
//! Open websockets hold their session for as long as they live. Rather than each socket re-reading its own
//! session on a timer (ten thousand sockets: thousands of wake-ups and reads a second), a socket registers with
//! the replica's [`SessionWatch`] and waits, costing nothing, until told its session ended: at once when it ends
//! on this replica, and within the bound when it ends elsewhere or expires, because one task per replica reads
//! all watched sessions together, [`SessionWatch::BATCH`] to a statement, once per bound.

use crate::ids::{SessionId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

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
    /// The sessions open websockets hold; told at once of every ending this cache learns of.
    watch: Arc<SessionWatch>,
}

impl SessionCache {
    /// The default bound: how long an answer is kept.
    pub const DEFAULT_BOUND: Duration = Duration::from_secs(5);
    /// At most this many sessions are remembered; beyond, stale answers are dropped first, then all.
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// Keeps answers for `bound`; a zero bound keeps nothing (every check reads the store).
    pub fn new(bound: Duration) -> Self {
        Self { bound, capacity: Self::DEFAULT_CAPACITY, entries: Mutex::default(), watch: Arc::default() }
    }

    /// The sessions this replica's websockets hold.
    pub fn watch(&self) -> &Arc<SessionWatch> {
        &self.watch
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

    /// Remembers that `session` ended (on this replica: at once), and tells the websockets holding it.
    pub fn ended(&self, session: SessionId) {
        if !self.bound.is_zero() {
            self.lock().insert(session, (None, Instant::now()));
        }
        self.watch.end(session);
    }

    /// Remembers that every session of `user` ended, except `kept`, and tells the websockets holding them.
    pub fn ended_for_user(&self, user: UserId, kept: Option<SessionId>) {
        self.watch.end_for_user(user, kept);
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

/// The sessions of this replica's open websockets, each watched once however many sockets hold it.
#[derive(Default)]
pub struct SessionWatch {
    entries: Mutex<HashMap<SessionId, Watched>>,
}

struct Watched {
    user: UserId,
    /// How many [`SessionGuard`]s hold the session.
    holders: usize,
    /// Set to `true` once, when the session ends.
    ended: watch::Sender<bool>,
}

/// A socket's hold on its session: [`SessionGuard::ended`] resolves when the session ends. Dropping the guard
/// stops watching the session once no other socket holds it.
pub struct SessionGuard {
    watch: Arc<SessionWatch>,
    session: SessionId,
    ended: watch::Receiver<bool>,
}

impl SessionWatch {
    /// How many sessions one statement of [`crate::accounts::AccountService::check_watched_sessions`] reads.
    pub const BATCH: usize = 500;

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Watched>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches `session` of `user` until the guard is dropped.
    pub fn hold(self: &Arc<Self>, session: SessionId, user: UserId) -> SessionGuard {
        let mut entries = self.lock();
        let entry =
            entries.entry(session).or_insert_with(|| Watched { user, holders: 0, ended: watch::Sender::new(false) });
        entry.holders += 1;
        let ended = entry.ended.subscribe();
        SessionGuard { watch: self.clone(), session, ended }
    }

    /// The sessions watched now that have not ended.
    pub fn watched(&self) -> Vec<SessionId> {
        self.lock().iter().filter(|(_, w)| !*w.ended.borrow()).map(|(id, _)| *id).collect()
    }

    /// How many sessions are watched.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells the holders of `session` that it ended.
    pub fn end(&self, session: SessionId) {
        if let Some(w) = self.lock().get(&session) {
            w.ended.send_replace(true);
        }
    }

    /// Tells the holders of every session of `user` but `kept` that it ended.
    pub fn end_for_user(&self, user: UserId, kept: Option<SessionId>) {
        for (session, w) in self.lock().iter() {
            if w.user == user && Some(*session) != kept {
                w.ended.send_replace(true);
            }
        }
    }
}

impl SessionGuard {
    /// Resolves once the session has ended (at once if it already has).
    pub async fn ended(&mut self) {
        // The sender lives as long as any guard of the session, this one included.
        let _ = self.ended.wait_for(|ended| *ended).await;
    }

    /// Whether the session is known to have ended.
    pub fn has_ended(&self) -> bool {
        *self.ended.borrow()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut entries = self.watch.lock();
        if let Some(w) = entries.get_mut(&self.session) {
            w.holders -= 1;
            if w.holders == 0 {
                entries.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn holders_of_a_session_learn_it_ended_and_the_last_one_out_forgets_it() {
        let watch = Arc::new(SessionWatch::default());
        let (a, b, user) = (SessionId::generate(), SessionId::generate(), UserId::generate());
        let mut first = watch.hold(a, user);
        let mut second = watch.hold(a, user);
        let other = watch.hold(b, user);
        assert_eq!(watch.len(), 2);
        watch.end(a);
        first.ended().await;
        second.ended().await;
        assert!(!other.has_ended());
        assert_eq!(watch.watched(), vec![b], "an ended session is not read again");
        drop(first);
        assert_eq!(watch.len(), 2, "still held");
        drop(second);
        assert_eq!(watch.len(), 1);
        watch.end_for_user(user, Some(b));
        assert!(!other.has_ended(), "the kept session stays open");
        watch.end_for_user(user, None);
        assert!(other.has_ended());
        drop(other);
        assert!(watch.is_empty());
    }

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
