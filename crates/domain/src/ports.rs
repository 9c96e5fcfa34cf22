//! The ports: async traits the outer crates implement. Services only ever talk to these.
//!
//! A [`Store`] reads outside any transaction; [`Store::begin`] opens a [`Transaction`] that offers the same
//! [`Repo`] methods and commits all or nothing — one transaction per mutation.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::values::{Depth, RequestState, SpaceSort};
use async_trait::async_trait;

/// Users and their credentials.
#[async_trait]
pub trait UserRepo: Send + Sync {
    /// Inserts a user; a taken handle or e-mail is `CONFLICT`.
    async fn insert_user(&self, user: &NewUser) -> DomainResult<User>;
    /// The user whose handle or e-mail is `login`, with their password hash.
    async fn credentials_by_login(&self, login: &str) -> DomainResult<Option<(User, String)>>;
    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>>;
    async fn user_by_handle(&self, handle: &str) -> DomainResult<Option<User>>;
    async fn handle_or_email_taken(&self, handle: &str, email: &str) -> DomainResult<(bool, bool)>;
}

/// Spaces, roles in them, and the holarchy between them.
#[async_trait]
pub trait SpaceRepo: Send + Sync {
    /// Inserts an active space and its closure self-row. A taken handle is `CONFLICT`.
    async fn insert_space(&self, space: &NewSpace) -> DomainResult<()>;
    async fn spaces_by_ids(&self, ids: &[SpaceId]) -> DomainResult<Vec<Space>>;
    async fn space_by_handle(&self, handle: &str) -> DomainResult<Option<Space>>;

    async fn add_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<()>;
    async fn add_member(&self, space: SpaceId, user: UserId) -> DomainResult<()>;
    /// Which of `spaces` `user` moderates.
    async fn moderated_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Which of `spaces` `user` follows.
    async fn followed_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Which of `spaces` the viewer may access (DESIGN §5 rule 1: a membership for every private space at or
    /// above it).
    async fn accessible_among(&self, viewer: Option<UserId>, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Follows; `false` when already following. Keeps `total_followers` exact.
    async fn follow(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    /// Unfollows; `false` when not following.
    async fn unfollow(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    async fn moderators(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>>;

    /// Serialises tree edits for the rest of the transaction, so two concurrent edits cannot together make
    /// a cycle that neither would alone.
    async fn lock_holarchy(&self) -> DomainResult<()>;
    /// Whether `ancestor` is `descendant` or lies above it.
    async fn is_ancestor_or_self(&self, ancestor: SpaceId, descendant: SpaceId) -> DomainResult<bool>;
    async fn has_edge(&self, parent: SpaceId, child: SpaceId) -> DomainResult<bool>;
    async fn parent_ids(&self, child: SpaceId) -> DomainResult<Vec<SpaceId>>;
    /// Adds the edge and everything derived from it (closure rows, flows), in a few set-based statements.
    /// The caller has checked for cycles.
    async fn attach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<()>;
    /// Removes the edge and rebuilds what derives from it; a child left with no parent goes back under the
    /// root. Returns how many (private ancestor, space) pairs the subtree lost — more than zero means the
    /// edit widened someone's audience.
    async fn detach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<DetachOutcome>;

    async fn parents(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<Space>>;
    async fn children(&self, space: SpaceId, sort: SpaceSort, depth: Depth, page: &PageRequest)
    -> DomainResult<Page<Space>>;
    /// Nearest first, the root last.
    async fn ancestors(&self, space: SpaceId) -> DomainResult<Vec<Space>>;
    async fn descendants(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<Space>>;
    async fn search_spaces(&self, query: &str, page: &PageRequest) -> DomainResult<Page<Space>>;

    async fn insert_space_request(&self, request: &SpaceRequest) -> DomainResult<()>;
    async fn space_requests_by_ids(&self, ids: &[SpaceRequestId]) -> DomainResult<Vec<SpaceRequest>>;
    async fn pending_space_request(&self, child: SpaceId, parent: SpaceId) -> DomainResult<Option<SpaceRequest>>;
    /// Moves a pending request to `state`; `false` when it was no longer pending.
    async fn resolve_space_request(&self, id: SpaceRequestId, state: RequestState, by: UserId) -> DomainResult<bool>;
    /// Pending requests to attach under `parent`, oldest first.
    async fn pending_space_requests_for(&self, parent: SpaceId, page: &PageRequest) -> DomainResult<Page<SpaceRequest>>;
}

/// What a detach did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachOutcome {
    /// The child had no parent left and went back under the root.
    pub returned_to_root: bool,
    /// (private ancestor, space in the subtree) pairs that no longer hold.
    pub private_ancestry_lost: u64,
}

/// Everything a service may read or write.
pub trait Repo: UserRepo + SpaceRepo {}
impl<T: UserRepo + SpaceRepo + ?Sized> Repo for T {}

/// A database: reads outside a transaction, or opens one.
#[async_trait]
pub trait Store: Repo {
    async fn begin(&self) -> DomainResult<Box<dyn Transaction>>;
}

/// An open transaction; dropped without [`Transaction::commit`] it rolls back.
#[async_trait]
pub trait Transaction: Repo {
    async fn commit(self: Box<Self>) -> DomainResult<()>;
}

/// Password hashing, run where CPU-heavy work belongs (a blocking thread on a server).
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: String) -> DomainResult<String>;
    async fn verify(&self, password: String, phc: String) -> bool;
}

/// Hashes on the calling thread; for tools and tests that have no runtime to protect.
pub struct InlineHasher;

#[async_trait]
impl PasswordHasher for InlineHasher {
    async fn hash(&self, password: String) -> DomainResult<String> {
        crate::auth::hash_password(&password)
    }

    async fn verify(&self, password: String, phc: String) -> bool {
        crate::auth::verify_password(&password, &phc)
    }
}
