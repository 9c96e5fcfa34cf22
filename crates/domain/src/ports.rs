//! The ports: async traits the outer crates implement. Services only ever talk to these.
//!
//! A [`Store`] reads outside any transaction; [`Store::begin`] opens a [`Transaction`] that offers the same
//! [`Repo`] methods and commits all or nothing — one transaction per mutation.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Cursor, Page, PageRequest};
use crate::values::{Depth, Privacy, RequestState, SpaceSort};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

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
    /// The active space with this handle, and whether the viewer may access it (the rule of
    /// [`SpaceRepo::accessible_among`]), in one statement.
    async fn space_by_handle_for(&self, handle: &str, viewer: Option<UserId>) -> DomainResult<Option<(Space, bool)>>;

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
    /// The spaces below `space` that the viewer can reach by browsing: those with a parent at or below `space`
    /// that the viewer may access (what lies inside a private space stays hidden from its non-members). Counter
    /// sort keys of spaces the viewer may not access count as zero, so neither the order nor the cursors reveal
    /// them. Each child comes with whether the viewer may access it.
    async fn children(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        sort: SpaceSort,
        depth: Depth,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// Nearest first, the root last.
    async fn ancestors(&self, space: SpaceId) -> DomainResult<Vec<Space>>;
    /// Like [`SpaceRepo::children`] at every depth, nearest first.
    async fn descendants(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<Space>>;
    /// Spaces matching `query` that the viewer can reach by browsing (see [`SpaceRepo::children`]).
    async fn search_spaces(&self, viewer: Option<UserId>, query: &str, page: &PageRequest)
    -> DomainResult<Page<Space>>;

    async fn insert_space_request(&self, request: &SpaceRequest) -> DomainResult<()>;
    async fn space_requests_by_ids(&self, ids: &[SpaceRequestId]) -> DomainResult<Vec<SpaceRequest>>;
    async fn pending_space_request(&self, child: SpaceId, parent: SpaceId) -> DomainResult<Option<SpaceRequest>>;
    /// Moves a pending request to `state`; `false` when it was no longer pending.
    async fn resolve_space_request(&self, id: SpaceRequestId, state: RequestState, by: UserId) -> DomainResult<bool>;
    /// Pending requests to attach under `parent`, oldest first.
    async fn pending_space_requests_for(&self, parent: SpaceId, page: &PageRequest)
    -> DomainResult<Page<SpaceRequest>>;
}

/// What a detach did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachOutcome {
    /// The child had no parent left and went back under the root.
    pub returned_to_root: bool,
    /// (private ancestor, space in the subtree) pairs that no longer hold.
    pub private_ancestry_lost: u64,
}

/// Whether a post shows in one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpacePostState {
    Active,
    /// Hidden there by a moderator of that space.
    Removed,
}

impl SpacePostState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Removed => "REMOVED",
        }
    }
}

/// Posts, where they appear, reactions and comments.
#[async_trait]
pub trait PostRepo: Send + Sync {
    /// For each space, the private spaces at or above it (its Priv set, DESIGN §5).
    async fn private_ancestry(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, BTreeSet<SpaceId>>>;
    /// Inserts the post directly into `spaces` and makes it appear in every space above them it flows into,
    /// keeping every counter in step.
    async fn insert_post(&self, post: &NewPost, spaces: &[SpaceId]) -> DomainResult<()>;
    /// Active posts by id.
    async fn posts_by_ids(&self, ids: &[PostId]) -> DomainResult<Vec<Post>>;
    /// Which of `ids` the viewer may see: those with an active row in a space the viewer may access (DESIGN §5
    /// rule 4).
    async fn visible_posts_among(&self, viewer: Option<UserId>, ids: &[PostId]) -> DomainResult<Vec<PostId>>;
    /// The spaces each post was posted or reposted into directly, with whether it is active there.
    async fn direct_spaces(&self, posts: &[PostId]) -> DomainResult<Vec<(PostId, SpaceId, SpacePostState)>>;
    /// Every space the post is active in, and whether it was placed there directly.
    async fn appearances(&self, post: PostId) -> DomainResult<Vec<(SpaceId, bool)>>;
    /// The post's state in one space, if it appears there.
    async fn space_post_state(&self, post: PostId, space: SpaceId) -> DomainResult<Option<SpacePostState>>;
    /// Adds the post directly to more spaces (with aggregation); returns how many were new.
    async fn repost(&self, post: PostId, spaces: &[SpaceId], at: DateTime<Utc>) -> DomainResult<u64>;
    /// Moves the post's row in `space` from `from` to `to`, keeping the space's counters exact; `false` when
    /// it was not in state `from`.
    async fn set_space_post_state(
        &self,
        post: PostId,
        space: SpaceId,
        from: SpacePostState,
        to: SpacePostState,
    ) -> DomainResult<bool>;
    /// Deletes the post everywhere.
    async fn delete_post(&self, post: PostId) -> DomainResult<()>;
    /// Likes; `false` when already liked.
    async fn like(&self, post: PostId, user: UserId, space: Option<SpaceId>) -> DomainResult<bool>;
    /// Unlikes; `false` when not liked.
    async fn unlike(&self, post: PostId, user: UserId) -> DomainResult<bool>;
    /// Sets the user's rating, replacing an earlier one.
    async fn rate(&self, post: PostId, user: UserId, value: i64, space: Option<SpaceId>) -> DomainResult<()>;
    async fn post_actions(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>>;
    async fn insert_comment(&self, comment: &Comment) -> DomainResult<()>;
    async fn comments_by_ids(&self, ids: &[CommentId]) -> DomainResult<Vec<Comment>>;
    /// Top-level comments (`parent` = None) or replies, oldest first.
    async fn comments(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        page: &PageRequest,
    ) -> DomainResult<Page<Comment>>;
    /// One page of each feed, and the creators of their posts, all in one statement. The queries differ only
    /// in their space.
    async fn feeds(&self, queries: &[FeedQuery], page: &PageRequest) -> DomainResult<FeedPages>;
    /// Posts that appeared in the space's feed after `after` in NEW order (created later, or as late with a
    /// greater id), oldest first: what a reconnecting subscriber missed.
    async fn feed_since(&self, space: SpaceId, depth: Depth, after: &Cursor, limit: i64) -> DomainResult<Vec<Post>>;
    /// The author's posts the viewer may see, newest first.
    async fn user_posts(&self, viewer: Option<UserId>, author: UserId, page: &PageRequest) -> DomainResult<Page<Post>>;
    /// Posts matching `query` (full-text) that the viewer may see, newest first.
    async fn search_posts(&self, viewer: Option<UserId>, query: &str, page: &PageRequest) -> DomainResult<Page<Post>>;
    /// Links two posts; `false` when they were linked already.
    async fn link_posts(
        &self,
        source: PostId,
        target: PostId,
        creator: UserId,
        description: &str,
    ) -> DomainResult<bool>;
    /// Mutes (`true`) or unmutes a user for `user`'s feeds; `false` when nothing changed.
    async fn set_muted(&self, user: UserId, muted: UserId, on: bool) -> DomainResult<bool>;
}

/// Membership of private spaces, access requests and invitations, invite links, moderator invitations, and
/// editing or deleting spaces.
#[async_trait]
pub trait AccessRepo: Send + Sync {
    /// Which of `spaces` `user` is a member of.
    async fn member_of_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Ends a membership; `false` when there was none.
    async fn remove_member(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    /// Members, longest-standing first.
    async fn members(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// Ends a moderatorship; `false` when there was none.
    async fn remove_moderator(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    async fn count_moderators(&self, space: SpaceId) -> DomainResult<i64>;
    /// Serialises changes to one space's roles for the rest of the transaction (so two moderators removing
    /// each other at once cannot leave the space with none).
    async fn lock_space(&self, space: SpaceId) -> DomainResult<()>;

    /// Files a request or an invitation. A second pending one for the same user and space is `CONFLICT`.
    async fn insert_access_request(&self, request: &AccessRequest) -> DomainResult<()>;
    async fn access_requests_by_ids(&self, ids: &[AccessRequestId]) -> DomainResult<Vec<AccessRequest>>;
    /// The pending request or invitation of `user` for `space`, if any.
    async fn pending_access_request(&self, space: SpaceId, user: UserId) -> DomainResult<Option<AccessRequest>>;
    /// Moves a pending request to `state`; `false` when it was no longer pending.
    async fn resolve_access_request(&self, id: AccessRequestId, state: RequestState, by: UserId) -> DomainResult<bool>;
    /// Pending requests (or invitations) for `space`, oldest first.
    async fn pending_access_requests_for(
        &self,
        space: SpaceId,
        kind: AccessRequestKind,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>>;
    /// Pending invitations addressed to `user`, oldest first.
    async fn pending_access_invitations_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<AccessRequest>>;

    /// The invite-link tokens of those of `spaces` that have one.
    async fn invite_link_tokens(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, String>>;
    /// Replaces the space's invite link with `token`, or removes it (`None`).
    async fn set_invite_link(&self, space: SpaceId, token: Option<&str>, by: UserId) -> DomainResult<()>;
    /// The space a live invite-link token opens.
    async fn space_by_invite_token(&self, token: &str) -> DomainResult<Option<SpaceId>>;

    /// Files an invitation to moderate. A second pending one for the same user and space is `CONFLICT`.
    async fn insert_moderator_invite(&self, invite: &ModeratorInvite) -> DomainResult<()>;
    async fn moderator_invites_by_ids(&self, ids: &[ModeratorInviteId]) -> DomainResult<Vec<ModeratorInvite>>;
    async fn pending_moderator_invite(&self, space: SpaceId, user: UserId) -> DomainResult<Option<ModeratorInvite>>;
    /// Moves a pending invitation to `state`; `false` when it was no longer pending.
    async fn resolve_moderator_invite(&self, id: ModeratorInviteId, state: RequestState) -> DomainResult<bool>;
    /// Pending invitations to moderate `space`, oldest first.
    async fn pending_moderator_invites_for(
        &self,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>>;
    /// Pending invitations to moderate addressed to `user`, oldest first.
    async fn pending_moderator_invites_of(
        &self,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<ModeratorInvite>>;

    async fn update_space_details(&self, space: SpaceId, name: &str, description: &str) -> DomainResult<()>;
    /// Changes a space's privacy and brings flows and appearances (with every counter) in line with it.
    async fn set_space_privacy(&self, space: SpaceId, privacy: Privacy) -> DomainResult<()>;
    /// `space` and every space below it.
    async fn subtree_ids(&self, space: SpaceId) -> DomainResult<Vec<SpaceId>>;
    /// Whether a post is placed directly in `space` or any space below it.
    async fn subtree_holds_posts(&self, space: SpaceId) -> DomainResult<bool>;
    /// Deletes a space: its children are detached (those left with no parent go back under the root), it
    /// leaves its parents, its posts leave every feed it fed, requests naming it are closed. Returns how many
    /// (private ancestor, space) pairs the spaces that were below it lost — more than zero means the deletion
    /// widened someone's audience.
    async fn delete_space(&self, space: SpaceId) -> DomainResult<u64>;
}

/// Everything a service may read or write.
pub trait Repo: UserRepo + SpaceRepo + PostRepo + AccessRepo {}
impl<T: UserRepo + SpaceRepo + PostRepo + AccessRepo + ?Sized> Repo for T {}

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

/// The event bus: publishes events after commits and streams them to subscribers. Implemented by the
/// `weco-realtime` crate (Redis pub/sub between replicas, or in-process).
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events. Never fails the caller: a bus that is down logs and counts the failure.
    async fn publish(&self, events: Vec<crate::events::Envelope>);
    /// A stream of what is published on `topic` from now on. Dropping it unsubscribes.
    fn subscribe(&self, topic: crate::events::Topic) -> EventStream;
    /// Like [`EventBus::subscribe`], but returns once the bus is sure to deliver what is published from now
    /// on (a remote bus has confirmed the subscription). Subscribe this way before catching up from the
    /// database, so nothing published in between is missed.
    async fn subscribe_confirmed(&self, topic: crate::events::Topic) -> EventStream {
        self.subscribe(topic)
    }
}

/// A subscriber's stream of deliveries.
pub type EventStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = crate::events::Delivery> + Send>>;
