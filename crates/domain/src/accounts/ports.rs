//! What the accounts area needs from a store.

use crate::accounts::mail::{NewAccountToken, TokenPurpose};
use crate::accounts::sessions::NewSession;
use crate::error::DomainResult;
use crate::ids::{SessionId, SpaceId, UserId};
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
    /// Keeps a one-time token (its hash).
    async fn insert_account_token(&self, token: &NewAccountToken) -> DomainResult<()>;
    /// How many tokens for `purpose` were issued to `user` since `since`.
    async fn account_tokens_since(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        since: DateTime<Utc>,
    ) -> DomainResult<i64>;
    /// Uses up the token with this hash if it is for `purpose`, unused and unexpired at `now`: its user and the
    /// address it was sent to. A token is used once, even by two requests at the same time.
    async fn use_account_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<(UserId, String)>>;
    /// Uses up every unused token of `user` for `purpose`.
    async fn void_account_tokens(&self, user: UserId, purpose: TokenPurpose, now: DateTime<Utc>) -> DomainResult<u64>;
    /// The account with this e-mail address.
    async fn user_by_email(&self, email: &str) -> DomainResult<Option<User>>;
    /// The e-mail address of `user`, and when it was verified.
    async fn email_of(&self, user: UserId) -> DomainResult<Option<(String, Option<DateTime<Utc>>)>>;
    /// Changes the e-mail address of `user` (not verified yet); a taken address is `CONFLICT`.
    async fn set_email(&self, user: UserId, email: &str) -> DomainResult<()>;
    /// Marks the address of `user` verified, if it still is `email`; `false` when it is not.
    async fn mark_email_verified(&self, user: UserId, email: &str, at: DateTime<Utc>) -> DomainResult<bool>;
    /// Whom `user` follows, who follows them, and which spaces they follow.
    async fn follow_ties(&self, user: UserId) -> DomainResult<(Vec<UserId>, Vec<UserId>, Vec<SpaceId>)>;
    /// Turns `user` into the placeholder of a deleted account: `handle`, the name "Deleted user", no bio, the
    /// unusable address `email` and password, no sessions, tokens, mutes (either way), streams, notifications,
    /// memberships or moderator roles. Their content, ballots and follows are not touched here.
    async fn anonymize_user(&self, user: UserId, handle: &str, email: &str, at: DateTime<Utc>) -> DomainResult<()>;
}
