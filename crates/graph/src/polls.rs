//! Polls in the schema: `Poll` (reached as `Post.poll`), its answers and ballots, the poll input of
//! `createPost`, voting, retracting, adding answers and closing, and the loaders behind them.
//!
//! What a viewer sees of a poll is decided by the domain (`weco_domain::polls::results_visible`): while results
//! are hidden, totals, voters, the winner and the ballots are null or empty. An anonymous poll lists no ballots
//! to anyone.

use crate::accounts::{UserObject, load_user};
use crate::connection::{connection, cost, int, page_request_in};
use crate::enums::{DecideWhen, DecisionOutcome, GovernanceActionKind, PollType, PollVoters, ResultsVisibility};
use crate::error::{ApiError, ApiResult};
use crate::holarchy::{SpaceObject, load_space};
use crate::ids::{parse_id, to_id};
use crate::posts::PostObject;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::polls::governance::{self, Decision, GovernanceAction};
use weco_domain::polls::{self, Ballot, BallotEntry, Poll, PollAnswer};
use weco_domain::{App, DomainError, PollAnswerId, PostId, SpaceId, Viewer};

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

/// The decision taken about each answer (of polls the viewer may see).
pub(crate) struct DecisionLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PollAnswerId> for DecisionLoader {
    type Value = Decision;
    type Error = DomainError;

    async fn load(&self, keys: &[PollAnswerId]) -> Result<HashMap<PollAnswerId, Decision>, DomainError> {
        self.app.polls().answer_decisions(self.viewer, keys).await
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

    /// For a governance poll: the space that decides and its rule.
    async fn governance(&self) -> Option<GovernanceObject> {
        self.0.governance.clone().map(GovernanceObject)
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

    /// What the deciding space does when this answer passes (governance polls).
    async fn action(&self) -> Option<GovernanceActionObject> {
        self.answer.action.clone().map(GovernanceActionObject)
    }

    /// The decision taken about this answer's action, once the poll decided.
    async fn decision(&self, ctx: &Context<'_>) -> ApiResult<Option<DecisionObject>> {
        if self.answer.action.is_none() {
            return Ok(None);
        }
        Ok(scope(ctx)?.loaders.decisions.load_one(self.answer.id).await?.map(|d| DecisionObject(Arc::new(d))))
    }
}

/// The rule of a governance poll.
pub struct GovernanceObject(governance::Governance);

#[Object(name = "Governance")]
impl GovernanceObject {
    /// The space that decides.
    async fn space(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.space_id).await
    }

    /// Voters needed for any answer to pass.
    async fn quorum(&self) -> i32 {
        int(self.0.quorum)
    }

    /// The share (in percent) an answer needs to pass.
    async fn threshold(&self) -> i32 {
        int(self.0.threshold)
    }

    async fn decide_when(&self) -> DecideWhen {
        self.0.decide_when.into()
    }
}

/// What a passing answer makes its space do.
#[derive(Clone)]
pub struct GovernanceActionObject(GovernanceAction);

#[Object(name = "GovernanceAction")]
impl GovernanceActionObject {
    async fn kind(&self) -> GovernanceActionKind {
        self.0.kind.into()
    }

    /// The new child space's handle (CREATE_CHILD_SPACE).
    async fn handle(&self) -> Option<&str> {
        self.0.handle.as_deref()
    }

    /// The new name (CREATE_CHILD_SPACE, UPDATE_SPACE).
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The new description (CREATE_CHILD_SPACE, UPDATE_SPACE).
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The user concerned (ADD_MODERATOR, REMOVE_MODERATOR, GRANT_COOP_MEMBERSHIP).
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        match self.0.user_id {
            Some(id) => load_user(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The child space to detach (DETACH_CHILD), as the viewer sees it.
    async fn space(&self, ctx: &Context<'_>) -> ApiResult<Option<SpaceObject>> {
        match self.0.space_id {
            Some(id) => Ok(scope(ctx)?.loaders.spaces.load_one(id).await?.map(SpaceObject::from)),
            None => Ok(None),
        }
    }
}

/// A decision of a governance poll about one answer's action: part of its space's public decision log.
#[derive(Clone)]
pub struct DecisionObject(pub Arc<Decision>);

impl DecisionObject {
    async fn poll_object(&self, ctx: &Context<'_>) -> ApiResult<Option<PollObject>> {
        Ok(scope(ctx)?.loaders.polls.load_one(self.0.post_id).await?.map(PollObject::from))
    }
}

#[Object(name = "Decision")]
impl DecisionObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The governance poll that decided.
    async fn poll(&self, ctx: &Context<'_>) -> ApiResult<PostObject> {
        let post = scope(ctx)?.loaders.posts.load_one(self.0.post_id).await?;
        post.map(PostObject::from).ok_or(ApiError(DomainError::NotFound("post")))
    }

    /// The space that decided.
    async fn space(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.space_id).await
    }

    /// The answer decided about.
    async fn answer(&self, ctx: &Context<'_>) -> ApiResult<Option<PollAnswerObject>> {
        let Some(poll) = self.poll_object(ctx).await? else { return Ok(None) };
        let shown = poll.shown(ctx).await?;
        Ok(poll.answer(self.0.answer_id, shown))
    }

    /// The answer's action.
    async fn action(&self, ctx: &Context<'_>) -> ApiResult<Option<GovernanceActionObject>> {
        let Some(poll) = self.poll_object(ctx).await? else { return Ok(None) };
        let answer = poll.0.answers.iter().find(|a| a.id == self.0.answer_id);
        Ok(answer.and_then(|a| a.action.clone()).map(GovernanceActionObject))
    }

    async fn outcome(&self) -> DecisionOutcome {
        self.0.outcome.into()
    }

    /// For FAILED: the code of the rule that refused the action (`CONFLICT`, `CYCLE`, `PRIVACY_WIDENING`, …).
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    /// The answer's votes (points for WEIGHTED; first preferences for RANKED) when the poll decided.
    async fn votes(&self) -> i32 {
        int(self.0.votes)
    }

    /// The answer's share, from 0 to 1 (votes ÷ voters; points ÷ (100 × voters); for RANKED 1 for the Schulze
    /// winner, else 0).
    async fn share(&self) -> f64 {
        self.0.share
    }

    async fn decided_at(&self) -> DateTime<Utc> {
        self.0.decided_at
    }
}

connection!(DecisionConnection, DecisionEdge, DecisionObject, "decision");

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
    /// Makes it a governance poll: it needs exactly one space in `spaceIds`, the space that decides.
    pub governance: Option<GovernanceInput>,
}

/// The rule of a governance poll.
#[derive(InputObject)]
pub struct GovernanceInput {
    /// Voters needed for any answer to pass.
    #[graphql(default_with = "Some(1)")]
    pub quorum: Option<i32>,
    /// The share (in percent, 1 to 100) an answer needs to pass.
    #[graphql(default_with = "Some(50)")]
    pub threshold: Option<i32>,
    #[graphql(default_with = "Some(DecideWhen::AtEnd)")]
    pub decide_when: Option<DecideWhen>,
}

/// What an answer of a governance poll makes its space do when it passes.
#[derive(InputObject)]
pub struct GovernanceActionInput {
    pub kind: GovernanceActionKind,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub user_handle: Option<String>,
    pub space_id: Option<ID>,
}

impl GovernanceActionInput {
    fn to_domain(&self, field: &str) -> ApiResult<governance::ActionInput> {
        Ok(governance::ActionInput {
            kind: self.kind.into(),
            handle: self.handle.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            user_handle: self.user_handle.clone(),
            space_id: self
                .space_id
                .as_ref()
                .map(|id| parse_id::<SpaceId>(id, &format!("{field}.spaceId")))
                .transpose()?,
        })
    }
}

impl PollInput {
    pub(crate) fn into_domain(self) -> ApiResult<polls::PollInput> {
        let mut answers = Vec::with_capacity(self.answers.len());
        for (i, answer) in self.answers.iter().enumerate() {
            let field = format!("input.poll.answers.{i}.action");
            let action = answer.action.as_ref().map(|a| a.to_domain(&field)).transpose()?;
            answers.push(polls::AnswerInput { text: answer.text.clone(), action });
        }
        let input = self;
        Ok(polls::PollInput {
            kind: input.kind.into(),
            answers,
            answers_locked: input.answers_locked.unwrap_or(true),
            ends_at: input.ends_at,
            voters: input.voters.unwrap_or(PollVoters::Anyone).into(),
            results_visibility: input.results_visibility.unwrap_or(ResultsVisibility::Always).into(),
            anonymous: input.anonymous.unwrap_or(false),
            governance: input.governance.map(|g| governance::GovernanceInput {
                quorum: i64::from(g.quorum.unwrap_or(1)),
                threshold: i64::from(g.threshold.unwrap_or(50)),
                decide_when: g.decide_when.unwrap_or(DecideWhen::AtEnd).into(),
            }),
        })
    }
}

#[derive(InputObject)]
pub struct PollAnswerInput {
    pub text: String,
    /// For a governance poll: what the space does when this answer passes.
    pub action: Option<GovernanceActionInput>,
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
        let action = answer.action.as_ref().map(|a| a.to_domain("answer.action")).transpose()?;
        let added = app(ctx).polls().add_answer(scope.viewer, post, &answer.text, action).await?;
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
