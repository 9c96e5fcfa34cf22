//! Getting back into an account and proving an address: password resets and e-mail verification, both by a
//! one-time token sent by mail ([`super::mail`]).
//!
//! - `requestPasswordReset(email)` answers `true` whatever the address, so it tells nobody which addresses
//!   have accounts; for an account's address it mails a reset token (at most [`super::mail::MAILS_PER_HOUR`]
//!   an hour). `resetPassword(token, newPassword)` uses the token up, sets the password, ends every session of
//!   the user, voids their other reset tokens, marks the address verified (the token reached it) and logs in.
//! - A verification token is mailed at registration and when the address changes; `verifyEmail(token)` marks
//!   the address verified if it still is the one the token was sent to. Unverified accounts may do everything
//!   verified ones may: verification only tells the user (and, later, mail features) that the address works.

use super::mail::{Outgoing, TokenPurpose, parse_token, token_hash};
use super::sessions::NewSession;
use super::{AccountService, Credentials, new_session};
use crate::actor::{Actor, Viewer};
use crate::error::{DomainError, DomainResult};
use crate::ids::{SessionId, UserId};
use crate::model::User;
use crate::ports::LoginAttempt;
use crate::uow::{Command, UnitOfWork};
use crate::values::{Email, Password};
use async_trait::async_trait;
use std::net::IpAddr;

/// The error of a token that is unknown, used, expired or for something else.
fn bad_token() -> DomainError {
    DomainError::validation("token", "is invalid, used or expired")
}

struct RequestReset {
    email: Email,
    outgoing: Outgoing,
}

#[async_trait]
impl Command for RequestReset {
    type Output = ();

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
        if let Some(user) = uow.accounts().user_by_email(self.email.as_str()).await? {
            self.outgoing.issue(uow, user.id, &user.handle, self.email.as_str()).await?;
        }
        Ok(())
    }
}

struct ResetPassword {
    token_hash: String,
    password_hash: String,
    session: SessionId,
    lifetime: chrono::Duration,
}

#[async_trait]
impl Command for ResetPassword {
    type Output = (User, NewSession);

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<(User, NewSession)> {
        let now = uow.now();
        let accounts = uow.accounts();
        let (user, email) =
            accounts.use_account_token(&self.token_hash, TokenPurpose::Reset, now).await?.ok_or_else(bad_token)?;
        accounts.set_password_hash(user, &self.password_hash).await?;
        accounts.end_sessions(user, None, None).await?;
        accounts.void_account_tokens(user, TokenPurpose::Reset, now).await?;
        accounts.mark_email_verified(user, &email, now).await?;
        let found = accounts.users_by_ids(&[user]).await?.into_iter().next().ok_or_else(bad_token)?;
        let session = new_session(uow, user, self.session, self.lifetime);
        uow.accounts().insert_session(&session).await?;
        Ok((found, session))
    }
}

struct VerifyEmail {
    token_hash: String,
}

#[async_trait]
impl Command for VerifyEmail {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let now = uow.now();
        let accounts = uow.accounts();
        let (user, email) =
            accounts.use_account_token(&self.token_hash, TokenPurpose::Verify, now).await?.ok_or_else(bad_token)?;
        if !accounts.mark_email_verified(user, &email, now).await? {
            return Err(DomainError::validation("token", "was sent to an address the account no longer has"));
        }
        accounts.users_by_ids(&[user]).await?.into_iter().next().ok_or_else(bad_token)
    }
}

struct ChangeEmail {
    email: Email,
    outgoing: Outgoing,
}

#[async_trait]
impl Command for ChangeEmail {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let user = uow.actor().require_user()?;
        let accounts = uow.accounts();
        let (current, _) = accounts.email_of(user).await?.ok_or(DomainError::Unauthenticated)?;
        if current == self.email.as_str() {
            return Err(DomainError::validation("email", "is already the account's address"));
        }
        if accounts.handle_or_email_taken("", self.email.as_str()).await?.1 {
            return Err(DomainError::conflict("email: an account with this e-mail exists"));
        }
        accounts.set_email(user, self.email.as_str()).await?;
        accounts.void_account_tokens(user, TokenPurpose::Verify, uow.now()).await?;
        let found =
            uow.accounts().users_by_ids(&[user]).await?.into_iter().next().ok_or(DomainError::NotFound("user"))?;
        self.outgoing.issue(uow, user, &found.handle, self.email.as_str()).await?;
        Ok(found)
    }
}

struct RequestVerification {
    outgoing: Outgoing,
}

#[async_trait]
impl Command for RequestVerification {
    type Output = bool;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<bool> {
        let user = uow.actor().require_user()?;
        let (email, verified) = uow.accounts().email_of(user).await?.ok_or(DomainError::Unauthenticated)?;
        if verified.is_some() {
            return Ok(false);
        }
        let found =
            uow.accounts().users_by_ids(&[user]).await?.into_iter().next().ok_or(DomainError::NotFound("user"))?;
        self.outgoing.issue(uow, user, &found.handle, &email).await
    }
}

impl AccountService<'_> {
    /// `requestPasswordReset`: mails a reset token when `email` is an account's address. Always `true` for a
    /// well-formed address (`VALIDATION` otherwise), so the answer says nothing about which accounts exist.
    pub async fn request_password_reset(&self, email: &str) -> DomainResult<bool> {
        let email = Email::parse(email, "email")?;
        let outgoing = Outgoing::new(self.app, TokenPurpose::Reset);
        self.app.execute(Actor::System, &RequestReset { email, outgoing }).await?;
        Ok(true)
    }

    /// `resetPassword`: sets a new password with a mailed token, ends every session of the user, and logs in.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> DomainResult<(String, User)> {
        let token = parse_token(token, "token")?;
        let password = Password::parse(new_password, "newPassword")?;
        let password_hash = self.app.ports.hasher.hash(password.expose().to_owned()).await?;
        let reset = ResetPassword {
            token_hash: token_hash(&token),
            password_hash,
            session: SessionId::generate(),
            lifetime: self.lifetime(),
        };
        let (user, session) = self.app.execute(Actor::System, &reset).await?;
        self.app.sessions.ended_for_user(user.id, Some(session.id));
        Ok((self.token_for(&session)?, user))
    }

    /// `verifyEmail`: marks the address a mailed token was sent to verified. No login needed: the token is the
    /// proof.
    pub async fn verify_email(&self, token: &str) -> DomainResult<User> {
        let token = parse_token(token, "token")?;
        self.app.execute(Actor::System, &VerifyEmail { token_hash: token_hash(&token) }).await
    }

    /// `changeEmail`: given the current password (throttled like logins), sets a new, unverified address and
    /// mails it a verification token.
    pub async fn change_email(
        &self,
        credentials: Credentials,
        password: String,
        email: &str,
        address: Option<IpAddr>,
    ) -> DomainResult<User> {
        let user = credentials.viewer.require()?;
        let email = Email::parse(email, "email")?;
        self.check_password(user, password, address, "password").await?;
        let outgoing = Outgoing::new(self.app, TokenPurpose::Verify);
        self.app.execute(Actor::User(user), &ChangeEmail { email, outgoing }).await
    }

    /// `requestEmailVerification`: mails the viewer's unverified address a new token. `false` when the address
    /// is verified already or the hourly limit is reached.
    pub async fn request_email_verification(&self, viewer: Viewer) -> DomainResult<bool> {
        let user = viewer.require()?;
        let outgoing = Outgoing::new(self.app, TokenPurpose::Verify);
        self.app.execute(Actor::User(user), &RequestVerification { outgoing }).await
    }

    /// The e-mail address of `user` and whether it is verified: for the user themself only (`None` for anyone
    /// else).
    pub async fn email_status(&self, viewer: Viewer, user: UserId) -> DomainResult<Option<(String, bool)>> {
        if viewer.id() != Some(user) {
            return Ok(None);
        }
        let found = self.app.ports.store.accounts().email_of(user).await?;
        Ok(found.map(|(email, verified)| (email, verified.is_some())))
    }

    /// Checks the password of `user` under the login throttle, as a login does: a wrong one is `VALIDATION` on
    /// `field`.
    pub(crate) async fn check_password(
        &self,
        user: UserId,
        password: String,
        address: Option<IpAddr>,
        field: &str,
    ) -> DomainResult<()> {
        let store = &self.app.ports.store;
        let phc = store.accounts().password_hash(user).await?.ok_or(DomainError::Unauthenticated)?;
        let attempt = LoginAttempt { account: user.to_string(), address };
        let throttle = &self.app.ports.login_throttle;
        if let Err(wait) = throttle.check(&attempt) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(DomainError::RateLimited(format!(
                "too many wrong passwords: try again in {} s",
                seconds.max(1)
            )));
        }
        if !self.app.ports.hasher.verify(password, phc).await {
            throttle.failed(&attempt);
            return Err(DomainError::validation(field, "is not your current password"));
        }
        throttle.succeeded(&attempt);
        Ok(())
    }
}
