//! Presence: who is in a room (a chat) now.
//!
//! A user is present in a room while they hold at least one live subscription to it (`chatEvents`). Each
//! process counts its own subscribers ([`LocalPresence`]); a server whose replicas share a Redis also writes each
//! present user there under a key that expires unless the process refreshes it, so what a crashed replica held
//! disappears within seconds (`weco-server`'s `presence` module). The domain only asks the [`Presence`] port.

use crate::error::DomainResult;
use crate::ids::UserId;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Presence in rooms, as the host keeps it.
#[async_trait]
pub trait Presence: Send + Sync {
    /// `user` is in `room` until the guard is dropped.
    fn enter(&self, room: Uuid, user: UserId) -> PresenceGuard;
    /// Which of `users` are in `room` now (on any replica).
    async fn online(&self, room: Uuid, users: &[UserId]) -> DomainResult<Vec<UserId>>;
}

/// Holds a user in a room; dropping it leaves.
pub struct PresenceGuard {
    leave: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl PresenceGuard {
    pub fn new(leave: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self { leave: Some(Box::new(leave)) }
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        if let Some(leave) = self.leave.take() {
            leave();
        }
    }
}

/// What happened to a (room, user) pair in this process when a guard came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The first subscriber of the pair arrived.
    Entered,
    /// The last one left.
    Left,
    /// Another subscriber of a pair already present came or went.
    Unchanged,
}

/// This process's presence: how many live subscriptions each user holds in each room.
#[derive(Default)]
pub struct LocalPresence {
    rooms: Mutex<HashMap<(Uuid, UserId), usize>>,
}

impl LocalPresence {
    /// Counts one more subscription of `user` in `room`.
    pub fn add(&self, room: Uuid, user: UserId) -> Change {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let n = rooms.entry((room, user)).or_default();
        *n += 1;
        if *n == 1 { Change::Entered } else { Change::Unchanged }
    }

    /// Counts one subscription less.
    pub fn remove(&self, room: Uuid, user: UserId) -> Change {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        match rooms.get_mut(&(room, user)) {
            Some(n) if *n > 1 => {
                *n -= 1;
                Change::Unchanged
            }
            Some(_) => {
                rooms.remove(&(room, user));
                Change::Left
            }
            None => Change::Unchanged,
        }
    }

    /// Which of `users` are in `room` in this process.
    pub fn present(&self, room: Uuid, users: &[UserId]) -> Vec<UserId> {
        let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        users.iter().copied().filter(|u| rooms.contains_key(&(room, *u))).collect()
    }

    /// Every (room, user) pair present in this process.
    pub fn pairs(&self) -> Vec<(Uuid, UserId)> {
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }
}

/// Presence within one process only (embedded mode, tests).
#[derive(Default, Clone)]
pub struct InProcessPresence {
    local: Arc<LocalPresence>,
}

#[async_trait]
impl Presence for InProcessPresence {
    fn enter(&self, room: Uuid, user: UserId) -> PresenceGuard {
        self.local.add(room, user);
        let local = self.local.clone();
        PresenceGuard::new(move || {
            local.remove(room, user);
        })
    }

    async fn online(&self, room: Uuid, users: &[UserId]) -> DomainResult<Vec<UserId>> {
        Ok(self.local.present(room, users))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_present_until_their_last_subscription_ends() {
        let presence = InProcessPresence::default();
        let (room, ada, bob) = (Uuid::now_v7(), UserId::generate(), UserId::generate());
        let first = presence.enter(room, ada);
        let second = presence.enter(room, ada);
        assert_eq!(presence.local.present(room, &[ada, bob]), vec![ada]);
        drop(first);
        assert_eq!(presence.local.present(room, &[ada]), vec![ada]);
        drop(second);
        assert!(presence.local.present(room, &[ada]).is_empty());
        assert!(presence.local.present(Uuid::now_v7(), &[ada]).is_empty());
    }
}
