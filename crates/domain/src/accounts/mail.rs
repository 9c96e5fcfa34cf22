//! Mail to users: password resets and e-mail verification.
//!
//! A mail is queued as a job ([`MAIL_JOB`]) in the transaction of the action that sends it, so a crash never
//! loses one, and the job is retried with back-off until the mail server takes it ([`crate::jobs`]). The mail
//! is sent outside any transaction, then the job is completed; a mail sent whose completion did not commit is
//! sent again: delivery is at least once.
//!
//! Without a [`Mailer`] (no SMTP server configured) nothing is queued: the action still happens, and a line at
//! info level says which mail was not sent to which user, never with its token.
//!
//! A mail carries a one-time token: 32 random bytes, hex-encoded. The database keeps only its SHA-256
//! (`account_tokens`); the queued mail holds the token itself until it is sent (the job's row is deleted then).

use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::jobs::{Job, JobHandler, NewJob};
use crate::uow::UnitOfWork;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The job kind of an outgoing mail.
pub const MAIL_JOB: &str = "mail.send";

/// One plain-text mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Sends mail (an SMTP client in the server).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Hands the mail to the mail server; an error is retried later.
    async fn send(&self, mail: &Mail) -> Result<(), String>;
}

/// How account mail is sent, and how long its tokens work.
#[derive(Clone)]
pub struct MailSettings {
    /// `None`: mail is off, and only logged as not sent.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// How long a password reset token works (default an hour).
    pub reset_ttl: chrono::Duration,
    /// How long an e-mail verification token works (default two days).
    pub verify_ttl: chrono::Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self { mailer: None, reset_ttl: chrono::Duration::hours(1), verify_ttl: chrono::Duration::hours(48) }
    }
}

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    Reset,
    Verify,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "RESET",
            Self::Verify => "VERIFY",
        }
    }
}

/// A one-time token as stored: its hash only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccountToken {
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    pub token_hash: String,
    /// The address the token is mailed to.
    pub email: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// At most this many mails of one purpose go to one account per hour; more requests are answered as usual
/// but send nothing.
pub const MAILS_PER_HOUR: i64 = 3;

/// A new random token (64 hex digits).
pub(crate) fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the database keeps of a token. Tokens are long random strings, so a plain SHA-256 suffices.
pub(crate) fn token_hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The longest token accepted as input (the real ones are 64 characters).
pub const TOKEN_MAX: usize = 128;

/// A token given by a client: refused with `VALIDATION` on `field` when it cannot be one.
pub(crate) fn parse_token(raw: &str, field: &str) -> DomainResult<String> {
    let token = raw.trim();
    if token.is_empty() || token.len() > TOKEN_MAX {
        return Err(DomainError::validation(field, "is not a valid token"));
    }
    Ok(token.to_owned())
}

/// A token mail about to be issued in a unit of work: the token is drawn before the work starts, so a retried
/// unit of work issues the same one.
pub(crate) struct Outgoing {
    pub purpose: TokenPurpose,
    pub token: String,
    pub ttl: chrono::Duration,
    pub mail_on: bool,
}

impl Outgoing {
    pub(crate) fn new(app: &App, purpose: TokenPurpose) -> Self {
        let ttl = match purpose {
            TokenPurpose::Reset => app.mail.reset_ttl,
            TokenPurpose::Verify => app.mail.verify_ttl,
        };
        Self { purpose, token: new_token(), ttl, mail_on: app.mail.mailer.is_some() }
    }

    /// Keeps the token (hashed) and queues its mail to `email` for the user `handle`, unless the account got
    /// [`MAILS_PER_HOUR`] of them already. Returns whether a mail was queued.
    pub(crate) async fn issue(
        &self,
        uow: &mut UnitOfWork,
        user: UserId,
        handle: &str,
        email: &str,
    ) -> DomainResult<bool> {
        let now = uow.now();
        let recent = uow.accounts().account_tokens_since(user, self.purpose, now - chrono::Duration::hours(1)).await?;
        if recent >= MAILS_PER_HOUR {
            tracing::info!(user = %user, purpose = self.purpose.as_str(), "mail limit reached: no mail sent");
            return Ok(false);
        }
        uow.accounts()
            .insert_account_token(&NewAccountToken {
                user_id: user,
                purpose: self.purpose,
                token_hash: token_hash(&self.token),
                email: email.to_owned(),
                created_at: now,
                expires_at: now + self.ttl,
            })
            .await?;
        if !self.mail_on {
            tracing::info!(user = %user, purpose = self.purpose.as_str(), "mail is off: no mail sent");
            return Ok(false);
        }
        let mail = self.compose(handle, email);
        let payload = serde_json::to_value(&mail).map_err(|e| DomainError::internal("encoding mail", e))?;
        uow.enqueue(&NewJob::new(MAIL_JOB, now, payload)).await?;
        Ok(true)
    }

    fn compose(&self, handle: &str, email: &str) -> Mail {
        let minutes = self.ttl.num_minutes();
        let valid = if minutes % 60 == 0 { format!("{} hours", minutes / 60) } else { format!("{minutes} minutes") };
        let valid = if valid == "1 hours" { "1 hour".to_owned() } else { valid };
        let (subject, body) = match self.purpose {
            TokenPurpose::Reset => (
                "Reset your Weco password".to_owned(),
                format!(
                    "Someone asked to reset the password of @{handle} on Weco.\r\n\r\n\
                     To choose a new password, give this token within {valid}:\r\n\r\n\
                     Token: {}\r\n\r\n\
                     The token works once. If you did not ask for it, ignore this mail: your password stays.\r\n",
                    self.token
                ),
            ),
            TokenPurpose::Verify => (
                "Confirm your e-mail address on Weco".to_owned(),
                format!(
                    "This address was given for @{handle} on Weco.\r\n\r\n\
                     To confirm it, give this token within {valid}:\r\n\r\n\
                     Token: {}\r\n\r\n\
                     If you did not sign up, ignore this mail.\r\n",
                    self.token
                ),
            ),
        };
        Mail { to: email.to_owned(), subject, body }
    }
}

/// Sends a queued mail.
struct SendMail(Arc<dyn Mailer>);

#[async_trait]
impl JobHandler for SendMail {
    /// Sent outside any transaction: a slow mail server must not hold a database lock (on SQLite, every write).
    async fn prepare(&self, job: &Job) -> DomainResult<Option<serde_json::Value>> {
        let mail: Mail =
            serde_json::from_value(job.payload.clone()).map_err(|e| DomainError::internal("decoding mail", e))?;
        self.0.send(&mail).await.map_err(|e| DomainError::internal("sending mail", e))?;
        Ok(None)
    }

    /// Sent already: the unit of work only completes the job.
    async fn run(&self, _uow: &mut UnitOfWork, _job: &Job) -> DomainResult<()> {
        Ok(())
    }
}

impl App {
    /// The same application sending account mail with these settings (and running the mail jobs).
    pub fn with_mail(mut self, settings: MailSettings) -> Self {
        if let Some(mailer) = &settings.mailer {
            let registry = (*self.jobs).clone().register(MAIL_JOB, Arc::new(SendMail(mailer.clone())));
            self.jobs = Arc::new(registry);
        }
        self.mail = Arc::new(settings);
        self
    }

    /// Whether account mail is sent (an SMTP server is configured).
    pub fn mail_on(&self) -> bool {
        self.mail.mailer.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&format!(" {a}\n")));
        assert_ne!(token_hash(&a), a);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
