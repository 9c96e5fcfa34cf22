//! One error type for the whole domain. Its [`DomainError::code`] is what clients see as `extensions.code`.

use std::fmt;

pub type DomainResult<T> = Result<T, DomainError>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum DomainError {
    /// The operation needs a logged-in viewer.
    #[error("authentication required")]
    Unauthenticated,
    /// A login named no account, or the wrong password (never saying which).
    #[error("invalid login or password")]
    InvalidCredentials,
    /// The viewer is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing does not exist, or the viewer may not know that it does.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// A uniqueness or state conflict (handle taken, request already answered, …).
    #[error("{0}")]
    Conflict(String),
    /// The tree edit would create a cycle.
    #[error("{0}")]
    Cycle(String),
    /// The target spaces of a post do not share one set of private ancestors.
    #[error("{0}")]
    PrivacyMismatch(String),
    /// The edit would expose existing content to a wider audience.
    #[error("{0}")]
    PrivacyWidening(String),
    /// A vote, re-vote, retraction or new answer on a poll that has closed (by `closePoll` or at its end time).
    #[error("{0}")]
    PollClosed(String),
    /// Too many requests.
    #[error("{0}")]
    RateLimited(String),
    /// The database gave up on a transaction because of another one (a deadlock or a serialization failure,
    /// SQLite's busy lock). The unit of work retries these; one that keeps failing reaches clients as
    /// `INTERNAL`.
    #[error("internal error")]
    Transient(String),
    /// Anything unexpected. The cause is logged, never shown to clients.
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    /// The stable code clients match on (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated | Self::InvalidCredentials => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Validation { .. } => "VALIDATION",
            Self::Conflict(_) => "CONFLICT",
            Self::Cycle(_) => "CYCLE",
            Self::PrivacyMismatch(_) => "PRIVACY_MISMATCH",
            Self::PrivacyWidening(_) => "PRIVACY_WIDENING",
            Self::PollClosed(_) => "POLL_CLOSED",
            Self::RateLimited(_) => "RATE_LIMITED",
            Self::Transient(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    /// Whether running the same transaction again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// Wraps an unexpected failure; `context` says what was being done.
    pub fn internal(context: &str, cause: impl fmt::Display) -> Self {
        Self::Internal(format!("{context}: {cause}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_display() {
        let e = DomainError::internal("loading space", "connection reset by peer");
        assert_eq!(e.to_string(), "internal error");
        assert_eq!(e.code(), "INTERNAL");
    }

    #[test]
    fn validation_errors_name_the_field() {
        let e = DomainError::validation("handle", "must be 2 to 40 characters");
        assert_eq!(e.to_string(), "handle: must be 2 to 40 characters");
        assert_eq!(e.code(), "VALIDATION");
    }
}
