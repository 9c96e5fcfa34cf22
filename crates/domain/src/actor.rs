//! Who acts, and who is asking.
//!
//! A [`Viewer`] is whoever reads: a logged-in user or an anonymous visitor. An [`Actor`] is whoever changes
//! something: a user, a decision a space took (a poll that passed, acting with that space's authority), or the
//! system itself (jobs and maintenance). Every write runs as an actor; [`crate::policy`] says what each may do.

use crate::error::{DomainError, DomainResult};
use crate::ids::{PostId, SpaceId, UserId};

/// Who is asking. `None` is an anonymous visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Viewer(pub Option<UserId>);

impl Viewer {
    pub const ANONYMOUS: Viewer = Viewer(None);

    pub fn user(id: UserId) -> Self {
        Self(Some(id))
    }

    pub fn id(&self) -> Option<UserId> {
        self.0
    }

    /// The viewer's id, or `UNAUTHENTICATED`.
    pub fn require(&self) -> DomainResult<UserId> {
        self.0.ok_or(DomainError::Unauthenticated)
    }

    /// The viewer as the actor of a write: a logged-in user, or `UNAUTHENTICATED`.
    pub fn actor(&self) -> DomainResult<Actor> {
        self.require().map(Actor::User)
    }
}

/// Who performs a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A logged-in user, acting for themself.
    User(UserId),
    /// A decision of `space` (the poll `poll` passed): it acts with the authority of that space — what the
    /// space's moderators may do to it — under every structural rule.
    Decision { space: SpaceId, poll: PostId },
    /// The server itself: jobs and maintenance.
    System,
}

impl Actor {
    /// The user behind the actor, if it is one.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(*id),
            Actor::Decision { .. } | Actor::System => None,
        }
    }

    /// The acting user, or `FORBIDDEN` for actors that are not users (for acts only a person can do, like
    /// liking a post).
    pub fn require_user(&self) -> DomainResult<UserId> {
        self.user().ok_or_else(|| DomainError::forbidden("only a user can do this"))
    }

    /// What the actor may read: a user sees as that user; decisions and the system see what the public sees.
    pub fn viewer(&self) -> Viewer {
        Viewer(self.user())
    }
}
