//! What the accounts area needs from a store.

use crate::accounts::sessions::NewSession;
use crate::error::DomainResult;
use crate::ids::{SessionId, UserId};
use crate::model::{NewUser, User};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Users, their credentials, and whom they mute.
#[async_trait]
pub trait AccountRepo: Send + Sync {
    /// Inserts a user; a taken handle or e-mail is `CONFLICT`.
    async fn insert_user(&self, user: &NewUser) -> DomainResult<User>;
    /// The user whose handle or e-mail is `login`, with their password hash.
    async fn credentials_by_login(&self, login: &str) -> DomainResult<Option<(User, String)>>;
    /// The password hash of `user`.
    async fn password_hash(&self, user: UserId) -> DomainResult<Option<String>>;
    /// Replaces the password hash of `user`.
    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> DomainResult<()>;
    /// Opens a session, and forgets the user's sessions that expired before it started.
    async fn insert_session(&self, session: &NewSession) -> DomainResult<()>;
    /// The user of `session` while it is open (not ended and not expired at `now`).
    async fn session_user(&self, session: SessionId, now: DateTime<Utc>) -> DomainResult<Option<UserId>>;
    /// Which of `sessions` are open at `now` (at most [`crate::accounts::sessions::SessionWatch::BATCH`] at once).
    async fn open_sessions(&self, sessions: &[SessionId], now: DateTime<Utc>) -> DomainResult<Vec<SessionId>>;
    /// Ends `user`'s sessions: only `only` when given, else all of them but `except`. Returns how many ended.
    async fn end_sessions(&self, user: UserId, only: Option<SessionId>, except: Option<SessionId>)
    -> DomainResult<u64>;
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
