//! What the accounts area needs from a store.

use crate::error::DomainResult;
use crate::ids::UserId;
use crate::model::{NewUser, User};
use async_trait::async_trait;

/// Users, their credentials, and whom they mute.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Inserts a user; a taken handle or e-mail is `CONFLICT`.
    async fn insert_user(&self, user: &NewUser) -> DomainResult<User>;
    /// The user whose handle or e-mail is `login`, with their password hash.
    async fn credentials_by_login(&self, login: &str) -> DomainResult<Option<(User, String)>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>>;
    async fn user_by_handle(&self, handle: &str) -> DomainResult<Option<User>>;
    /// Whether the handle, and the e-mail, are taken.
    async fn handle_or_email_taken(&self, handle: &str, email: &str) -> DomainResult<(bool, bool)>;
    /// Mutes (`true`) or unmutes `muted` for `user`; `false` when nothing changed.
    async fn set_muted(&self, user: UserId, muted: UserId, on: bool) -> DomainResult<bool>;
    /// Whom `user` has muted.
    async fn muted_by(&self, user: UserId) -> DomainResult<Vec<UserId>>;
    /// Makes `user` a member of the platform's cooperative (`true`) or not; `false` when nothing changed.
    async fn set_coop_member(&self, user: UserId, member: bool) -> DomainResult<bool>;
    /// Which of `users` are members of the cooperative.
    async fn coop_members_among(&self, users: &[UserId]) -> DomainResult<Vec<UserId>>;
}
