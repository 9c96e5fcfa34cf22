//! What the polls area needs from a store: polls and their answers, rosters, ballots with their history, and
//! the tallies (per-answer totals, voters, pairwise preferences) kept in step with the ballots.

use super::governance::Decision;
use super::{Ballot, NewPoll, Poll, Roster, TallyChange};
use crate::error::DomainResult;
use crate::ids::*;
use crate::page::{Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// How a ballot stopped counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BallotEnd {
    /// Its voter cast a new one.
    Replaced,
    /// Its voter took it back.
    Retracted,
}

/// Polls. A poll belongs to its post: reads for a viewer return only polls of posts the viewer may see
/// (docs/privacy.md rule 4), in the same statement.
#[async_trait]
pub trait PollRepo: Send + Sync {
    /// Stores the poll of a new post with its answers, and snapshots its roster (who may vote) as it is now.
    async fn insert_poll(&self, poll: &NewPoll, roster: &Roster) -> DomainResult<()>;
    /// The poll of `post` with its answers, its row locked until the transaction ends (on PostgreSQL; SQLite
    /// transactions are serialised), so concurrent ballots on one poll queue and its tallies stay exact.
    async fn lock_poll(&self, post: PostId) -> DomainResult<Option<Poll>>;
    /// The polls of those of `posts` the viewer may see, with their answers (no winner yet: see `pairs`).
    async fn visible_polls(&self, viewer: Option<UserId>, posts: &[PostId]) -> DomainResult<Vec<Poll>>;
    /// The stored pairwise preference counts of ranked polls: `(post, above, below, ballots)`.
    async fn pairs(&self, posts: &[PostId]) -> DomainResult<Vec<(PostId, PollAnswerId, PollAnswerId, i64)>>;
    /// Which of `posts` have `user` on their roster.
    async fn on_roster(&self, user: UserId, posts: &[PostId]) -> DomainResult<Vec<PostId>>;
    /// The user's ballot in force in each of `posts` (found through the poll's voter key, so it works for
    /// anonymous polls too).
    async fn current_ballots(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, Ballot>>;
    /// Ends a ballot in force; it stays as history.
    async fn end_ballot(&self, ballot: BallotId, end: BallotEnd, at: DateTime<Utc>) -> DomainResult<()>;
    /// Stores a ballot in force for `voter`. In an anonymous poll the row keeps only the poll's voter key,
    /// which no read turns back into the voter.
    async fn insert_ballot(&self, post: PostId, voter: UserId, anonymous: bool, ballot: &Ballot) -> DomainResult<()>;
    /// Applies a change of the tallies and bumps the poll's version.
    async fn apply_tally(&self, post: PostId, change: &TallyChange) -> DomainResult<()>;
    /// Adds an answer at the end of the poll's list. For a ranked poll, the ballots in force rank every answer
    /// they name above the new one, and its pairwise counts are set from them.
    async fn add_answer(
        &self,
        post: PostId,
        answer: &super::PollAnswer,
        ranked: bool,
        at: DateTime<Utc>,
    ) -> DomainResult<()>;
    /// Closes the poll; `false` when it was closed already.
    async fn close_poll(&self, post: PostId, at: DateTime<Utc>) -> DomainResult<bool>;
    /// The ballots in force of a poll that is not anonymous, newest first, with their voters.
    async fn ballots(&self, post: PostId, page: &PageRequest) -> DomainResult<Page<Ballot>>;
    /// Marks a governance poll decided; `false` when it was already.
    async fn mark_decided(&self, post: PostId, at: DateTime<Utc>) -> DomainResult<bool>;
    /// Records a decision (one per answer: a second is `CONFLICT`).
    async fn insert_decision(&self, decision: &Decision) -> DomainResult<()>;
    /// A space's decisions, newest first.
    async fn decisions(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<Decision>>;
    /// The decisions about `answers`.
    async fn decisions_of_answers(&self, answers: &[PollAnswerId]) -> DomainResult<Vec<Decision>>;
}
