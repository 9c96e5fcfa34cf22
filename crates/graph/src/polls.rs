//! Polls in the schema: `Poll` (reached as `Post.poll`), its answers and ballots, the poll input of
//! `createPost`, voting, retracting, adding answers and closing, and the loaders behind them.
//!
//! What a viewer sees of a poll is decided by the domain (`weco_domain::polls::results_visible`): while results
//! are hidden, totals, voters, the winner and the ballots are null or empty. An anonymous poll lists no ballots
//! to anyone.

use crate::accounts::{UserObject, load_user};
use crate::connection::{connection, cost, int, page_request_in};
use crate::enums::{PollType, PollVoters, ResultsVisibility};
use crate::error::{ApiError, ApiResult};
use crate::ids::{parse_id, to_id};
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::polls::{self, Ballot, BallotEntry, Poll, PollAnswer};
use weco_domain::{App, DomainError, PollAnswerId, PostId, Viewer};

/// The polls of posts, those the viewer may see, with their winners.
pub(crate) struct PollLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PollLoader {
    type Value = Poll;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Poll>, DomainError> {
        Ok(self.app.polls().polls(self.viewer, keys).await?.into_iter().map(|p| (p.post_id, p)).collect())
    }
}

/// The viewer's ballot in force in each poll (absent when none).
pub(crate) struct ViewerBallotLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for ViewerBallotLoader {
    type Value = Ballot;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Ballot>, DomainError> {
        self.app.polls().viewer_ballots(self.viewer, keys).await
    }
}

/// Whether the viewer is on each poll's roster.
pub(crate) struct RosterLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for RosterLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, bool>, DomainError> {
        let on = self.app.polls().on_roster(self.viewer, keys).await?;
        Ok(keys.iter().map(|k| (*k, on.contains(k))).collect())
    }
}

/// A poll as its viewer sees it.
#[derive(Clone)]
pub struct PollObject(pub Arc<Poll>);

impl From<Poll> for PollObject {
    fn from(p: Poll) -> Self {
        Self(Arc::new(p))
    }
}

impl PollObject {
    async fn viewer_ballot_of(&self, ctx: &Context<'_>) -> ApiResult<Option<Ballot>> {
        if scope(ctx)?.viewer.id().is_none() {
            return Ok(None);
        }
        Ok(scope(ctx)?.loaders.viewer_ballots.load_one(self.0.post_id).await?)
    }

    /// Whether the viewer sees the results (reads the viewer's ballot only when that decides it).
    async fn shown(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let now = app(ctx).polls().now();
        if polls::results_visible(&self.0, now, false) {
            return Ok(true);
        }
        if !polls::results_visible(&self.0, now, true) {
            return Ok(false);
        }
        Ok(self.viewer_ballot_of(ctx).await?.is_some())
    }

    fn answer(&self, id: PollAnswerId, shown: bool) -> Option<PollAnswerObject> {
        let answer = self.0.answers.iter().find(|a| a.id == id)?;
        Some(PollAnswerObject { answer: answer.clone(), kind: self.0.kind, shown })
    }

    fn entries(&self, ballot: &Ballot, shown: bool) -> Vec<BallotEntryObject> {
        ballot
            .entries
            .iter()
            .filter_map(|e| Some(BallotEntryObject { answer: self.answer(e.answer_id, shown)?, value: e.value }))
            .collect()
    }
}

#[Object(name = "Poll")]
impl PollObject {
    #[graphql(name = "type")]
    async fn kind(&self) -> PollType {
        self.0.kind.into()
    }

    /// In the order they were added.
    async fn answers(&self, ctx: &Context<'_>) -> ApiResult<Vec<PollAnswerObject>> {
        let shown = self.shown(ctx).await?;
        Ok(self.0.answers.iter().map(|a| PollAnswerObject { answer: a.clone(), kind: self.0.kind, shown }).collect())
    }

    /// False when anyone who may vote may also add answers.
    async fn answers_locked(&self) -> bool {
        self.0.answers_locked
    }

    /// When it stops taking ballots; null: open until closed.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }

    /// Closed by `closePoll`, or past `endsAt`.
    async fn closed(&self, ctx: &Context<'_>) -> bool {
        self.0.is_closed(app(ctx).polls().now())
    }

    async fn voters(&self) -> PollVoters {
        self.0.voters.into()
    }

    async fn results_visibility(&self) -> ResultsVisibility {
        self.0.results_visibility.into()
    }

    /// Voters with a ballot in force; null while results are hidden from the viewer.
    async fn total_voters(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        Ok(self.shown(ctx).await?.then(|| int(self.0.total_voters)))
    }

    /// The size of the roster taken when the poll was created; null for ANYONE.
    async fn eligible_voters(&self) -> Option<i32> {
        self.0.eligible_voters.map(int)
    }

    /// Nobody, moderators and admins included, can see who cast which ballot.
    async fn anonymous(&self) -> bool {
        self.0.anonymous
    }

    /// Who voted what and why, newest first; empty when the poll is anonymous or its results are hidden.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn ballots(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<BallotConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).polls().ballots(scope(ctx)?.viewer, self.0.post_id, page).await?;
        let poll = self.clone();
        Ok(BallotConnection::from_page(page, |ballot| BallotObject {
            entries: poll.entries(&ballot, true),
            ballot: Arc::new(ballot),
        }))
    }

    /// Whether the viewer may vote now: logged in, the poll open, and among its voters.
    async fn viewer_can_vote(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let viewer = scope(ctx)?.viewer;
        let on_roster = if self.0.voters == polls::PollVoters::Anyone || viewer.id().is_none() {
            false
        } else {
            scope(ctx)?.loaders.poll_rosters.load_one(self.0.post_id).await?.unwrap_or(false)
        };
        Ok(app(ctx).polls().can_vote(viewer, &self.0, on_roster))
    }

    /// The viewer's ballot in force; null when they have none.
    async fn viewer_ballot(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<BallotEntryObject>>> {
        let Some(ballot) = self.viewer_ballot_of(ctx).await? else { return Ok(None) };
        let shown = self.shown(ctx).await?;
        Ok(Some(self.entries(&ballot, shown)))
    }

    /// The answer with the most votes (points for WEIGHTED; the Schulze winner for RANKED); null while results
    /// are hidden, without votes, or on a tie.
    async fn winner(&self, ctx: &Context<'_>) -> ApiResult<Option<PollAnswerObject>> {
        if !self.shown(ctx).await? {
            return Ok(None);
        }
        Ok(self.0.winner.and_then(|id| self.answer(id, true)))
    }
}

/// An answer of a poll.
#[derive(Clone)]
pub struct PollAnswerObject {
    answer: PollAnswer,
    kind: polls::PollType,
    /// Whether the viewer sees the poll's results.
    shown: bool,
}

#[Object(name = "PollAnswer")]
impl PollAnswerObject {
    async fn id(&self) -> ID {
        to_id(self.answer.id)
    }

    async fn text(&self) -> &str {
        &self.answer.text
    }

    /// Who added it (the poll's creator, or a voter in a poll with open answers).
    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.answer.creator_id).await
    }

    /// Ballots naming it (for RANKED: ranking it first); null while results are hidden.
    async fn total_votes(&self) -> Option<i32> {
        self.shown.then(|| int(self.answer.total_votes))
    }

    /// Points given to it in a WEIGHTED poll; null for other types and while results are hidden.
    async fn total_points(&self) -> Option<i32> {
        (self.shown && self.kind == polls::PollType::Weighted).then(|| int(self.answer.total_points))
    }
}

/// One line of a ballot.
#[derive(Clone)]
pub struct BallotEntryObject {
    answer: PollAnswerObject,
    value: Option<i64>,
}

#[Object(name = "BallotEntry")]
impl BallotEntryObject {
    async fn answer(&self) -> &PollAnswerObject {
        &self.answer
    }

    /// Points (WEIGHTED) or rank (RANKED); null for SINGLE and MULTIPLE.
    async fn value(&self) -> Option<i32> {
        self.value.map(int)
    }
}

/// A ballot in force: who voted what, and why.
#[derive(Clone)]
pub struct BallotObject {
    ballot: Arc<Ballot>,
    entries: Vec<BallotEntryObject>,
}

#[Object(name = "Ballot")]
impl BallotObject {
    async fn voter(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        // Anonymous ballots are never listed; one without a voter cannot reach here.
        let voter = self.ballot.voter_id.ok_or(ApiError(DomainError::NotFound("voter")))?;
        load_user(ctx, voter).await
    }

    async fn entries(&self) -> &[BallotEntryObject] {
        &self.entries
    }

    async fn reason(&self) -> Option<&str> {
        self.ballot.reason.as_deref()
    }

    async fn cast_at(&self) -> DateTime<Utc> {
        self.ballot.cast_at
    }
}

connection!(BallotConnection, BallotEdge, BallotObject, "ballot");

/// A poll, given with `createPost`.
#[derive(InputObject)]
pub struct PollInput {
    #[graphql(name = "type")]
    pub kind: PollType,
    /// 2 to 50 when the answers are locked; 0 to 50 otherwise.
    pub answers: Vec<PollAnswerInput>,
    #[graphql(default_with = "Some(true)")]
    pub answers_locked: Option<bool>,
    /// Null: open until `closePoll`.
    pub ends_at: Option<DateTime<Utc>>,
    #[graphql(default_with = "Some(PollVoters::Anyone)")]
    pub voters: Option<PollVoters>,
    #[graphql(default_with = "Some(ResultsVisibility::Always)")]
    pub results_visibility: Option<ResultsVisibility>,
    /// True: nobody, moderators included, can see who cast which ballot.
    #[graphql(default_with = "Some(false)")]
    pub anonymous: Option<bool>,
}

impl From<PollInput> for polls::PollInput {
    fn from(input: PollInput) -> Self {
        Self {
            kind: input.kind.into(),
            answers: input.answers.into_iter().map(|a| a.text).collect(),
            answers_locked: input.answers_locked.unwrap_or(true),
            ends_at: input.ends_at,
            voters: input.voters.unwrap_or(PollVoters::Anyone).into(),
            results_visibility: input.results_visibility.unwrap_or(ResultsVisibility::Always).into(),
            anonymous: input.anonymous.unwrap_or(false),
        }
    }
}

#[derive(InputObject)]
pub struct PollAnswerInput {
    pub text: String,
}

/// One line of a ballot: an answer and, for WEIGHTED and RANKED, its points or rank.
#[derive(InputObject)]
pub struct BallotEntryInput {
    pub answer_id: ID,
    pub value: Option<i32>,
}

#[derive(Default)]
pub struct PollMutation;

#[Object]
impl PollMutation {
    /// Casts the viewer's ballot in a poll, replacing their earlier one (which is kept as history).
    async fn vote_on_poll(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        // Secret: traces of the operation (OpenTelemetry spans) record no ballot and no reason.
        #[graphql(secret)] ballot: Vec<BallotEntryInput>,
        #[graphql(secret)] reason: Option<String>,
    ) -> ApiResult<PollObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&post_id, "postId")?;
        let entries = ballot
            .iter()
            .map(|e| Ok(BallotEntry { answer_id: parse_id(&e.answer_id, "ballot")?, value: e.value.map(i64::from) }))
            .collect::<ApiResult<Vec<_>>>()?;
        let poll = app(ctx).polls().vote(scope.viewer, post, entries, reason.as_deref()).await?;
        scope.invalidate();
        Ok(poll.into())
    }

    /// Takes the viewer's ballot back (kept as history).
    async fn retract_vote(&self, ctx: &Context<'_>, post_id: ID) -> ApiResult<PollObject> {
        let scope = scope(ctx)?;
        let poll = app(ctx).polls().retract(scope.viewer, parse_id(&post_id, "postId")?).await?;
        scope.invalidate();
        Ok(poll.into())
    }

    /// Adds an answer to a poll whose answers are not locked (its creator, or anyone who may vote in it).
    async fn add_poll_answer(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        answer: PollAnswerInput,
    ) -> ApiResult<PollAnswerObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&post_id, "postId")?;
        let added = app(ctx).polls().add_answer(scope.viewer, post, &answer.text).await?;
        scope.invalidate();
        let poll = scope.loaders.polls.load_one(post).await?.ok_or(ApiError(DomainError::NotFound("poll")))?;
        let poll = PollObject::from(poll);
        let shown = poll.shown(ctx).await?;
        poll.answer(added.id, shown).ok_or(ApiError(DomainError::NotFound("answer")))
    }

    /// Closes a poll before its end time: its creator, or a moderator of a space it was posted in.
    async fn close_poll(&self, ctx: &Context<'_>, post_id: ID) -> ApiResult<PollObject> {
        let scope = scope(ctx)?;
        let poll = app(ctx).polls().close(scope.viewer, parse_id(&post_id, "postId")?).await?;
        scope.invalidate();
        Ok(poll.into())
    }
}
