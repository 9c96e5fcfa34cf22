//! What the holarchy area needs from a store: spaces, the tree between them, follows, and requests to attach.

use crate::error::DomainResult;
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::values::{Depth, Privacy, RequestState, SpaceSort};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};

/// Spaces and the holarchy between them. Listings that a viewer reads return each space with whether that
/// viewer may access it (docs/privacy.md rule 1), read in the same statement.
#[async_trait]
pub trait HolarchyRepo: Send + Sync {
    /// Inserts an active space and its closure self-row. A taken handle is `CONFLICT`.
    async fn insert_space(&self, space: &NewSpace) -> DomainResult<()>;
    /// Active spaces by id, whoever asks (for the use cases; reads for a viewer use [`Self::spaces_for`]).
    async fn spaces_by_ids(&self, ids: &[SpaceId]) -> DomainResult<Vec<Space>>;
    /// Active spaces by id, each with whether the viewer may access it.
    async fn spaces_for(&self, viewer: Option<UserId>, ids: &[SpaceId]) -> DomainResult<Vec<(Space, bool)>>;
    /// The active space with this handle, whoever asks.
    async fn space_by_handle(&self, handle: &str) -> DomainResult<Option<Space>>;
    /// The active space with this handle and whether the viewer may access it, in one statement.
    async fn space_by_handle_for(&self, handle: &str, viewer: Option<UserId>) -> DomainResult<Option<(Space, bool)>>;
    /// Which of `spaces` the viewer may access.
    async fn accessible_among(&self, viewer: Option<UserId>, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// For each space, the private spaces at or above it (its audience, docs/privacy.md).
    async fn private_ancestry(&self, spaces: &[SpaceId]) -> DomainResult<HashMap<SpaceId, BTreeSet<SpaceId>>>;

    /// Which of `spaces` `user` moderates.
    async fn moderated_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Which of `spaces` `user` follows.
    async fn followed_among(&self, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>>;
    /// Follows; `false` when already following. Keeps `total_followers` exact.
    async fn follow(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    /// Unfollows; `false` when not following.
    async fn unfollow(&self, space: SpaceId, user: UserId) -> DomainResult<bool>;
    /// Ends the follows, on the spaces at or below `space`, of followers who may no longer access the space they
    /// follow (after an edit that narrowed who may), keeping `total_followers` exact. Returns how many ended.
    async fn drop_follows_without_access(&self, space: SpaceId) -> DomainResult<u64>;

    /// Folds up to `limit` of the oldest changes to spaces' totals (written as deltas by posts, likes, comments,
    /// follows and tree edits) into the spaces' own columns. Every read adds the changes not folded yet, so
    /// folding changes no total anyone sees. Returns how many changes it folded.
    async fn fold_space_totals(&self, limit: u32) -> DomainResult<u64>;
    /// Changes to spaces' totals not folded yet.
    async fn unfolded_space_totals(&self) -> DomainResult<i64>;
    /// Gives back the room of folded changes, outside any unit of work: on PostgreSQL a deleted change row stays
    /// behind (in the table and its index) until vacuumed, and every read of a space's totals would wade
    /// through them. Skipped when another process is at it.
    async fn reclaim_folded_totals(&self) -> DomainResult<()>;

    /// Serialises tree edits for the rest of the transaction, so two concurrent edits cannot together make
    /// a cycle that neither would alone.
    async fn lock_holarchy(&self) -> DomainResult<()>;
    /// Whether `ancestor` is `descendant` or lies above it.
    async fn is_ancestor_or_self(&self, ancestor: SpaceId, descendant: SpaceId) -> DomainResult<bool>;
    async fn has_edge(&self, parent: SpaceId, child: SpaceId) -> DomainResult<bool>;
    async fn parent_ids(&self, child: SpaceId) -> DomainResult<Vec<SpaceId>>;
    /// Adds the edge and everything derived from it (closure rows, flows, appearances, counters), in a fixed
    /// number of set-based statements; returns the appearances it added. The caller has checked for cycles.
    async fn attach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<Appearances>;
    /// Removes the edge and rebuilds what derives from it; a child left with no parent goes back under the
    /// root. Returns what happened, with the appearances it removed (and added, when the child went back
    /// under the root).
    async fn detach(&self, parent: SpaceId, child: SpaceId) -> DomainResult<(Appearances, DetachOutcome)>;

    /// The spaces directly above `space`.
    async fn parents(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// The spaces below `space` that the viewer can reach by browsing: those with a parent at or below `space`
    /// that the viewer may access (what lies inside a private space stays hidden from its non-members). Counter
    /// sort keys of spaces the viewer may not access count as zero, so neither the order nor the cursors reveal
    /// them.
    async fn children(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        sort: SpaceSort,
        depth: Depth,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// Nearest first, the root last.
    async fn ancestors(&self, viewer: Option<UserId>, space: SpaceId) -> DomainResult<Vec<(Space, bool)>>;
    /// Like [`HolarchyRepo::children`] at every depth, nearest first.
    async fn descendants(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// Spaces matching `query` that the viewer can reach by browsing (see [`HolarchyRepo::children`]).
    async fn search_spaces(
        &self,
        viewer: Option<UserId>,
        query: &str,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;

    async fn update_space_details(&self, space: SpaceId, name: &str, description: &str) -> DomainResult<()>;
    /// Changes a space's privacy and brings flows and appearances (with every counter) in line with it;
    /// returns the appearances that changed.
    async fn set_space_privacy(&self, space: SpaceId, privacy: Privacy) -> DomainResult<Appearances>;
    /// `space` and every space below it.
    async fn subtree_ids(&self, space: SpaceId) -> DomainResult<Vec<SpaceId>>;
    /// Whether a post is placed directly in `space` or any space below it.
    async fn subtree_holds_posts(&self, space: SpaceId) -> DomainResult<bool>;
    /// Deletes a space: its children are detached (those left with no parent go back under the root), it
    /// leaves its parents, its posts leave every feed it fed, requests naming it are closed. Returns the
    /// appearances removed, and how many (private ancestor, space) pairs the spaces that were below it lost —
    /// more than zero means the deletion widened someone's audience.
    async fn delete_space(&self, space: SpaceId) -> DomainResult<(Appearances, u64)>;

    async fn insert_space_request(&self, request: &SpaceRequest) -> DomainResult<()>;
    async fn space_requests_by_ids(&self, ids: &[SpaceRequestId]) -> DomainResult<Vec<SpaceRequest>>;
    async fn pending_space_request(&self, child: SpaceId, parent: SpaceId) -> DomainResult<Option<SpaceRequest>>;
    /// Moves a pending request to `state`; `false` when it was no longer pending. `by` is the user who
    /// answered, if a user did.
    async fn resolve_space_request(
        &self,
        id: SpaceRequestId,
        state: RequestState,
        by: Option<UserId>,
    ) -> DomainResult<bool>;
    /// Pending requests to attach under `parent`, oldest first.
    async fn pending_space_requests_for(&self, parent: SpaceId, page: &PageRequest)
    -> DomainResult<Page<SpaceRequest>>;
}
