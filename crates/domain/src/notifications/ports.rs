//! What the notifications area needs from a store.

use crate::error::DomainResult;
use crate::ids::{NotificationId, UserId};
use crate::notifications::{NewNotification, Notification};
use crate::page::{Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The notifications table. Every read applies the rules of what a recipient may be shown, in the same
/// statement: nothing from a user they mute, nothing about a post they may not see.
#[async_trait]
pub trait NotificationRepo: Send + Sync {
    /// Writes a notification in one statement, or folds it into the recipient's row with the same `fold_key`
    /// (counting one more actor unless the latest actor acts again, and marking it unseen). Nothing is written
    /// when the recipient is the actor, mutes the actor, or may not see the post it is about. Returns the row
    /// as written, or `None`.
    async fn upsert(
        &self,
        new: &NewNotification,
        id: NotificationId,
        fold_key: &str,
        at: DateTime<Utc>,
    ) -> DomainResult<Option<Notification>>;
    /// The recipient's notifications, newest first, as they may be shown now.
    async fn notifications(
        &self,
        recipient: UserId,
        unseen_only: bool,
        page: &PageRequest,
    ) -> DomainResult<Page<Notification>>;
    /// Which of `ids` belong to `recipient` and may be shown now.
    async fn shown_among(&self, recipient: UserId, ids: &[NotificationId]) -> DomainResult<Vec<NotificationId>>;
    /// How many of the recipient's notifications that may be shown now are unseen.
    async fn unseen(&self, recipient: UserId) -> DomainResult<i64>;
    /// Marks the recipient's notifications `ids` (all of them when `None`) seen; returns how many changed.
    async fn mark_seen(&self, recipient: UserId, ids: Option<&[NotificationId]>) -> DomainResult<u64>;
}
