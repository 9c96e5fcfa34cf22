//! Polls: a poll is a post (created by `createPost` with a poll), so it flows up the holarchy, ranks in feeds
//! and follows every privacy rule of its post. This module holds its rules (docs/polls.md):
//!
//! - **Ballots** are checked against the poll's type ([`validate_ballot`]); anything else is `VALIDATION`, and
//!   nothing is written.
//! - **Voters** are everyone who may see the post (`ANYONE`), or the roster taken when the poll was created:
//!   following, joining or being promoted later gives no vote.
//! - **Tallies** (per-answer totals, voters, and for ranked polls the pairwise preference counts the Schulze
//!   method reads, [`schulze`]) change in the vote's transaction, with the poll's row locked, by exactly what
//!   the ballot adds and the ballot it replaces takes away ([`TallyChange`]).
//! - **Re-voting** replaces the ballot in force; the old one is kept as history. Retracting ends it.
//! - **Results** are shown per [`ResultsVisibility`] ([`results_visible`]); an **anonymous** poll never shows who
//!   cast which ballot, to anyone.
//! - Every change announces `PollChanged` on the post's topic, carrying the poll; each subscriber sees of it
//!   what its viewer may.
//! - A poll with an end time takes no ballot after it; a job on the durable queue ([`POLL_END_JOB`]) records
//!   its closing at that time and announces it, once.

pub mod governance;
pub mod ports;
pub mod schulze;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Event, Topic};
use crate::ids::*;
use crate::jobs::{Job, JobHandler, NewJob};
use crate::page::{Page, PageRequest};
use crate::policy::{self, Action, Standing};
use crate::uow::{Command, UnitOfWork};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::BallotEnd;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The most answers a poll may have.
pub const MAX_ANSWERS: usize = 50;
/// The fewest answers a poll with a locked list may have.
pub const MIN_LOCKED_ANSWERS: usize = 2;
/// The points a weighted ballot hands out.
pub const WEIGHTED_POINTS: i64 = 100;
/// The longest answer text.
pub const MAX_ANSWER_CHARS: usize = 300;
/// The longest reason a ballot may carry.
pub const MAX_REASON_CHARS: usize = 5_000;

/// How a ballot is filled in and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PollType {
    /// One answer; answers count ballots.
    Single,
    /// One or more distinct answers; answers count ballots.
    Multiple,
    /// 100 points spread over answers (at least 1 each); answers sum points.
    Weighted,
    /// A ranking 1..k of some answers; the Schulze method elects.
    Ranked,
}

/// Who may vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PollVoters {
    /// Everyone logged in who may see the post.
    Anyone,
    /// The followers of the poll's spaces when it was created.
    Followers,
    /// Their members when it was created.
    Members,
    /// Their moderators when it was created.
    Moderators,
    /// The platform's cooperative members when it was created.
    CoopMembers,
}

/// When results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultsVisibility {
    Always,
    /// To a viewer who has a ballot in force, and to everyone once the poll is closed.
    AfterVote,
    /// Once the poll is closed.
    AfterEnd,
}

/// An answer as given.
#[derive(Debug, Clone)]
pub struct AnswerInput {
    pub text: String,
    pub action: Option<governance::ActionInput>,
}

/// A poll as given with `createPost`.
#[derive(Debug, Clone)]
pub struct PollInput {
    pub kind: PollType,
    pub answers: Vec<AnswerInput>,
    pub answers_locked: bool,
    pub ends_at: Option<DateTime<Utc>>,
    pub voters: PollVoters,
    pub results_visibility: ResultsVisibility,
    pub anonymous: bool,
    pub governance: Option<governance::GovernanceInput>,
}

/// An answer with its totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollAnswer {
    pub id: PollAnswerId,
    pub text: String,
    pub creator_id: UserId,
    /// Ballots naming it (SINGLE, MULTIPLE, WEIGHTED); first preferences (RANKED).
    pub total_votes: i64,
    /// Points given to it (WEIGHTED; zero otherwise).
    pub total_points: i64,
    pub created_at: DateTime<Utc>,
    /// What the deciding space does when the answer passes (governance polls).
    #[serde(default)]
    pub action: Option<governance::GovernanceAction>,
}

/// A poll with its answers and totals. It holds nothing about who voted, so it can travel in events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub post_id: PostId,
    pub creator_id: UserId,
    pub kind: PollType,
    pub answers_locked: bool,
    pub ends_at: Option<DateTime<Utc>>,
    /// Set by `closePoll`.
    pub closed_at: Option<DateTime<Utc>>,
    pub voters: PollVoters,
    pub results_visibility: ResultsVisibility,
    pub anonymous: bool,
    /// The size of the roster; `None` for `ANYONE`.
    pub eligible_voters: Option<i64>,
    /// Voters with a ballot in force.
    pub total_voters: i64,
    /// Grows with every change: of two snapshots, the higher version is the newer.
    pub version: i64,
    /// In the order they were added.
    pub answers: Vec<PollAnswer>,
    /// The winning answer: the most votes (points for WEIGHTED), or the Schulze winner (RANKED); `None`
    /// without votes or on a tie.
    pub winner: Option<PollAnswerId>,
    /// Set for a governance poll: the space that decides and its rule.
    #[serde(default)]
    pub governance: Option<governance::Governance>,
}

impl Poll {
    /// Whether the poll takes no more ballots: closed by `closePoll`, or past its end time.
    pub fn is_closed(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_some() || self.ends_at.is_some_and(|end| end <= now)
    }

    fn require_open(&self, now: DateTime<Utc>) -> DomainResult<()> {
        if self.is_closed(now) { Err(DomainError::PollClosed("this poll is closed".into())) } else { Ok(()) }
    }

    fn answer_index(&self, id: PollAnswerId) -> Option<usize> {
        self.answers.iter().position(|a| a.id == id)
    }

    /// Sets [`Poll::winner`] from the totals, or for a ranked poll from its pairwise counts
    /// `(above, below, ballots)`.
    pub fn with_winner(mut self, pairs: &[(PollAnswerId, PollAnswerId, i64)]) -> Self {
        self.winner = match self.kind {
            PollType::Ranked => {
                let n = self.answers.len();
                let mut d = vec![vec![0i64; n]; n];
                for (above, below, count) in pairs {
                    if let (Some(i), Some(j)) = (self.answer_index(*above), self.answer_index(*below)) {
                        d[i][j] += count;
                    }
                }
                if self.total_voters == 0 { None } else { schulze::winner(&d).map(|i| self.answers[i].id) }
            }
            kind => {
                let score = |a: &PollAnswer| if kind == PollType::Weighted { a.total_points } else { a.total_votes };
                let best = self.answers.iter().map(score).max().unwrap_or(0);
                let mut leaders = self.answers.iter().filter(|a| best > 0 && score(a) == best);
                match (leaders.next(), leaders.next()) {
                    (Some(one), None) => Some(one.id),
                    _ => None,
                }
            }
        };
        self
    }
}

/// Whether a viewer sees a poll's results (totals, voters, winner, ballots): always, after casting a ballot
/// (`has_ballot`), or once it is closed.
pub fn results_visible(poll: &Poll, now: DateTime<Utc>, has_ballot: bool) -> bool {
    match poll.results_visibility {
        ResultsVisibility::Always => true,
        ResultsVisibility::AfterVote => has_ballot || poll.is_closed(now),
        ResultsVisibility::AfterEnd => poll.is_closed(now),
    }
}

/// One line of a ballot: an answer and, for WEIGHTED and RANKED, its points or rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotEntry {
    pub answer_id: PollAnswerId,
    pub value: Option<i64>,
}

/// A ballot. `voter_id` is `None` in an anonymous poll: the store keeps no voter beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ballot {
    pub id: BallotId,
    pub voter_id: Option<UserId>,
    pub entries: Vec<BallotEntry>,
    pub reason: Option<String>,
    pub cast_at: DateTime<Utc>,
}

/// What the store needs to create a poll.
#[derive(Debug, Clone)]
pub struct NewPoll {
    pub post_id: PostId,
    pub kind: PollType,
    pub answers_locked: bool,
    pub ends_at: Option<DateTime<Utc>>,
    pub voters: PollVoters,
    pub results_visibility: ResultsVisibility,
    pub anonymous: bool,
    pub answers: Vec<PollAnswer>,
    pub created_at: DateTime<Utc>,
    /// The deciding space and its rule, for a governance poll.
    pub governance: Option<(SpaceId, governance::GovernanceInput)>,
}

/// Whose votes a new poll takes, read once when it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roster {
    Anyone,
    Followers(Vec<SpaceId>),
    Members(Vec<SpaceId>),
    Moderators(Vec<SpaceId>),
    CoopMembers,
}

/// A change of a poll's tallies: voters, `(answer, votes, points)` and pairwise `(above, below, ballots)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TallyChange {
    pub voters: i64,
    pub answers: Vec<(PollAnswerId, i64, i64)>,
    pub pairs: Vec<(PollAnswerId, PollAnswerId, i64)>,
}

impl TallyChange {
    /// Adds (`sign` = 1) or takes away (`sign` = -1) what one valid ballot counts in `poll`.
    pub fn count(&mut self, poll: &Poll, entries: &[BallotEntry], sign: i64) {
        self.voters += sign;
        for entry in entries {
            let (votes, points) = match poll.kind {
                PollType::Single | PollType::Multiple => (1, 0),
                PollType::Weighted => (1, entry.value.unwrap_or(0)),
                PollType::Ranked => (i64::from(entry.value == Some(1)), 0),
            };
            self.answers.push((entry.answer_id, votes * sign, points * sign));
        }
        if poll.kind == PollType::Ranked {
            let ranks: Vec<(usize, i64)> =
                entries.iter().filter_map(|e| Some((poll.answer_index(e.answer_id)?, e.value.unwrap_or(0)))).collect();
            for (above, below, n) in schulze::pairs(poll.answers.len(), &ranks) {
                self.pairs.push((poll.answers[above].id, poll.answers[below].id, n * sign));
            }
        }
    }

    /// The same change with the entries of each answer and pair summed, zeros dropped.
    pub fn merged(&self) -> TallyChange {
        let mut answers: Vec<(PollAnswerId, i64, i64)> = Vec::new();
        for (id, votes, points) in &self.answers {
            match answers.iter_mut().find(|(a, _, _)| a == id) {
                Some(entry) => {
                    entry.1 += votes;
                    entry.2 += points;
                }
                None => answers.push((*id, *votes, *points)),
            }
        }
        answers.retain(|(_, v, p)| *v != 0 || *p != 0);
        let mut pairs: HashMap<(PollAnswerId, PollAnswerId), i64> = HashMap::new();
        for (a, b, n) in &self.pairs {
            *pairs.entry((*a, *b)).or_default() += n;
        }
        let mut pairs: Vec<_> = pairs.into_iter().filter(|(_, n)| *n != 0).map(|((a, b), n)| (a, b, n)).collect();
        pairs.sort();
        TallyChange { voters: self.voters, answers, pairs }
    }
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::validation("ballot", message)
}

/// Checks a ballot against the poll's type and answers (docs/polls.md#ballots).
pub fn validate_ballot(poll: &Poll, entries: &[BallotEntry]) -> DomainResult<Vec<BallotEntry>> {
    if entries.is_empty() {
        return Err(invalid("name at least one answer"));
    }
    if entries.iter().any(|e| poll.answer_index(e.answer_id).is_none()) {
        return Err(invalid("names an answer that is not one of this poll's"));
    }
    let distinct: HashSet<PollAnswerId> = entries.iter().map(|e| e.answer_id).collect();
    if distinct.len() != entries.len() {
        return Err(invalid("names an answer more than once"));
    }
    match poll.kind {
        PollType::Single => {
            if entries.len() != 1 {
                return Err(invalid("a single-choice ballot names exactly one answer"));
            }
            if entries.iter().any(|e| e.value.is_some()) {
                return Err(invalid("a single-choice ballot takes no value"));
            }
        }
        PollType::Multiple => {
            if entries.iter().any(|e| e.value.is_some()) {
                return Err(invalid("a multiple-choice ballot takes no values"));
            }
        }
        PollType::Weighted => {
            let mut sum = 0i64;
            for entry in entries {
                match entry.value {
                    None => return Err(invalid("a weighted ballot gives each answer it names a number of points")),
                    Some(v) if v < 1 => return Err(invalid("a weighted ballot gives each answer at least 1 point")),
                    Some(v) => sum = sum.saturating_add(v),
                }
            }
            if sum != WEIGHTED_POINTS {
                return Err(invalid(format!("the points of a weighted ballot sum to {WEIGHTED_POINTS}, not {sum}")));
            }
        }
        PollType::Ranked => {
            let mut ranks = Vec::with_capacity(entries.len());
            for entry in entries {
                match entry.value {
                    None => return Err(invalid("a ranked ballot gives each answer it names a rank")),
                    Some(v) => ranks.push(v),
                }
            }
            ranks.sort_unstable();
            if ranks.iter().enumerate().any(|(i, r)| *r != i as i64 + 1) {
                return Err(invalid("the ranks of a ranked ballot are 1, 2, 3 … each once, without gaps"));
            }
        }
    }
    Ok(entries.to_vec())
}

fn parse_answer_text(raw: &str, field: &str) -> DomainResult<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::validation(field, "may not be blank"));
    }
    if text.chars().count() > MAX_ANSWER_CHARS {
        return Err(DomainError::validation(field, format!("must be at most {MAX_ANSWER_CHARS} characters")));
    }
    Ok(text.to_owned())
}

fn parse_reason(raw: Option<&str>) -> DomainResult<Option<String>> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(DomainError::validation("reason", format!("must be at most {MAX_REASON_CHARS} characters")));
    }
    Ok(Some(text.to_owned()))
}

/// A poll input checked, ready to be stored with its post.
#[derive(Debug, Clone)]
pub struct ParsedPoll {
    input: PollInput,
    answers: Vec<(String, Option<governance::ActionInput>)>,
}

/// Checks a poll given with `createPost`: 2 to 50 answers when locked (0 to 50 when open), texts, an end in
/// the future.
pub fn parse_poll(input: PollInput, now: DateTime<Utc>) -> DomainResult<ParsedPoll> {
    let min = if input.answers_locked { MIN_LOCKED_ANSWERS } else { 0 };
    if input.answers.len() < min || input.answers.len() > MAX_ANSWERS {
        return Err(DomainError::validation(
            "input.poll.answers",
            format!("a poll {} has {min} to {MAX_ANSWERS} answers", if min > 0 { "with locked answers" } else { "" })
                .replace("  ", " "),
        ));
    }
    let mut answers = Vec::with_capacity(input.answers.len());
    for (i, answer) in input.answers.iter().enumerate() {
        let text = parse_answer_text(&answer.text, &format!("input.poll.answers.{i}.text"))?;
        let action = match &answer.action {
            None => None,
            Some(_) if input.governance.is_none() => {
                return Err(DomainError::validation(
                    format!("input.poll.answers.{i}.action"),
                    "only a governance poll's answers carry actions",
                ));
            }
            Some(action) => Some(governance::parse_action(action, &format!("input.poll.answers.{i}.action"))?),
        };
        answers.push((text, action));
    }
    if let Some(rule) = input.governance {
        governance::parse_governance(rule)?;
    }
    if input.ends_at.is_some_and(|end| end <= now) {
        return Err(DomainError::validation("input.poll.endsAt", "must be in the future"));
    }
    Ok(ParsedPoll { input, answers })
}

/// Stores the poll of a post being created (inside `createPost`'s unit of work), with its roster taken now.
pub(crate) async fn create(
    uow: &mut UnitOfWork,
    post: PostId,
    creator: UserId,
    spaces: &[SpaceId],
    parsed: &ParsedPoll,
) -> DomainResult<()> {
    let now = uow.now();
    let input = &parsed.input;
    let deciding = match (input.governance, spaces) {
        (None, _) => None,
        (Some(rule), [space]) => Some((*space, rule)),
        (Some(_), _) => {
            return Err(DomainError::validation(
                "input.spaceIds",
                "a governance poll is posted in exactly one space: the space that decides",
            ));
        }
    };
    let mut answers = Vec::with_capacity(parsed.answers.len());
    for (i, (text, action)) in parsed.answers.iter().enumerate() {
        let action = match (action, deciding) {
            (Some(action), Some((space, _))) => Some(
                governance::resolve_action(uow, action, space, input.voters, &format!("input.poll.answers.{i}.action"))
                    .await?,
            ),
            _ => None,
        };
        answers.push(PollAnswer {
            id: PollAnswerId::generate(),
            text: text.clone(),
            creator_id: creator,
            total_votes: 0,
            total_points: 0,
            created_at: now,
            action,
        });
    }
    let roster = match input.voters {
        PollVoters::Anyone => Roster::Anyone,
        PollVoters::Followers => Roster::Followers(spaces.to_vec()),
        PollVoters::Members => Roster::Members(spaces.to_vec()),
        PollVoters::Moderators => Roster::Moderators(spaces.to_vec()),
        PollVoters::CoopMembers => Roster::CoopMembers,
    };
    let poll = NewPoll {
        post_id: post,
        kind: input.kind,
        answers_locked: input.answers_locked,
        ends_at: input.ends_at,
        voters: input.voters,
        results_visibility: input.results_visibility,
        anonymous: input.anonymous,
        answers,
        created_at: now,
        governance: deciding,
    };
    uow.polls().insert_poll(&poll, &roster).await?;
    if let Some(ends_at) = input.ends_at {
        let job =
            NewJob::new(POLL_END_JOB, ends_at, serde_json::json!({ "post": post })).keyed(format!("poll-end:{post}"));
        uow.enqueue(&job).await?;
    }
    Ok(())
}

/// The job kind that closes a poll at its end time.
pub const POLL_END_JOB: &str = "poll.end";

/// Closes a poll at its end time, as a job on the durable queue (so it happens also when no server ran then, on
/// the next start, and once with several replicas). A poll closed before (by `closePoll`) is left as it is:
/// a poll closes once.
pub(crate) struct PollEnd;

#[async_trait]
impl JobHandler for PollEnd {
    async fn run(&self, uow: &mut UnitOfWork, job: &Job) -> DomainResult<()> {
        let post: PostId = serde_json::from_value(job.payload["post"].clone())
            .map_err(|e| DomainError::internal("reading a poll's end job", e))?;
        let Some(poll) = uow.polls().lock_poll(post).await? else { return Ok(()) };
        // Closed before (by `closePoll`, or on its threshold), or deleted with its post: nothing to do.
        if poll.closed_at.is_some() || uow.posts().posts_by_ids(&[post]).await?.is_empty() {
            return Ok(());
        }
        let at = poll.ends_at.unwrap_or(job.due_at);
        uow.polls().close_poll(post, at).await?;
        uow.polls().apply_tally(post, &TallyChange::default()).await?;
        let poll = current(uow, post).await?;
        governance::decide(uow, &poll).await?;
        announce(uow, post).await?;
        Ok(())
    }
}

/// `NOT_FOUND` unless the actor may see the post and it has a poll; the poll, locked.
async fn lock_visible_poll(uow: &UnitOfWork, post: PostId) -> DomainResult<Poll> {
    let viewer = uow.actor().viewer();
    if uow.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
        return Err(DomainError::NotFound("post"));
    }
    uow.polls().lock_poll(post).await?.ok_or(DomainError::NotFound("poll"))
}

/// `FORBIDDEN` unless `user` may vote in `poll`.
async fn require_voter(uow: &UnitOfWork, poll: &Poll, user: UserId) -> DomainResult<()> {
    if poll.voters != PollVoters::Anyone && uow.polls().on_roster(user, &[poll.post_id]).await?.is_empty() {
        return Err(DomainError::forbidden("you are not among the voters of this poll"));
    }
    Ok(())
}

/// Applies `change` — and for a governance poll deciding on its threshold, decides and closes it once an answer
/// with an action passes — then reads the poll back with its winner and announces it.
async fn apply_and_announce(uow: &mut UnitOfWork, post: PostId, change: &TallyChange) -> DomainResult<Poll> {
    uow.polls().apply_tally(post, &change.merged()).await?;
    let poll = current(uow, post).await?;
    if governance::crossed(&poll) {
        uow.polls().close_poll(post, uow.now()).await?;
        governance::decide(uow, &poll).await?;
    }
    announce(uow, post).await
}

/// The poll as it now is, with its winner (its row locked).
async fn current(uow: &UnitOfWork, post: PostId) -> DomainResult<Poll> {
    let poll = uow.polls().lock_poll(post).await?.ok_or(DomainError::NotFound("poll"))?;
    let pairs = pairs_of(&**uow, &poll).await?;
    Ok(poll.with_winner(&pairs))
}

/// Announces the poll as it now is (`PollChanged`) on the post's topic; returns it.
async fn announce(uow: &mut UnitOfWork, post: PostId) -> DomainResult<Poll> {
    let poll = current(uow, post).await?;
    let audience = uow.posts().audiences(&[post]).await?.remove(&post).unwrap_or_default();
    uow.announce(vec![Topic::Post(post)], Event::PollChanged { post_id: post, poll: Box::new(poll.clone()), audience });
    Ok(poll)
}

async fn pairs_of(repos: &dyn crate::uow::Repos, poll: &Poll) -> DomainResult<Vec<(PollAnswerId, PollAnswerId, i64)>> {
    if poll.kind != PollType::Ranked {
        return Ok(Vec::new());
    }
    Ok(repos.polls().pairs(&[poll.post_id]).await?.into_iter().map(|(_, a, b, n)| (a, b, n)).collect())
}

struct Vote {
    post: PostId,
    entries: Vec<BallotEntry>,
    reason: Option<String>,
}

#[async_trait]
impl Command for Vote {
    type Output = Poll;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Poll> {
        let user = uow.actor().require_user()?;
        let poll = lock_visible_poll(uow, self.post).await?;
        poll.require_open(uow.now())?;
        require_voter(uow, &poll, user).await?;
        let entries = validate_ballot(&poll, &self.entries)?;
        let mut change = TallyChange::default();
        if let Some(old) = uow.polls().current_ballots(user, &[self.post]).await?.remove(&self.post) {
            uow.polls().end_ballot(old.id, BallotEnd::Replaced, uow.now()).await?;
            change.count(&poll, &old.entries, -1);
        }
        let ballot = Ballot {
            id: BallotId::generate(),
            voter_id: (!poll.anonymous).then_some(user),
            entries,
            reason: self.reason.clone(),
            cast_at: uow.now(),
        };
        uow.polls().insert_ballot(self.post, user, poll.anonymous, &ballot).await?;
        change.count(&poll, &ballot.entries, 1);
        apply_and_announce(uow, self.post, &change).await
    }
}

struct Retract {
    post: PostId,
}

#[async_trait]
impl Command for Retract {
    type Output = Poll;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Poll> {
        let user = uow.actor().require_user()?;
        let poll = lock_visible_poll(uow, self.post).await?;
        poll.require_open(uow.now())?;
        let Some(old) = uow.polls().current_ballots(user, &[self.post]).await?.remove(&self.post) else {
            let pairs = pairs_of(&**uow, &poll).await?;
            return Ok(poll.with_winner(&pairs));
        };
        uow.polls().end_ballot(old.id, BallotEnd::Retracted, uow.now()).await?;
        let mut change = TallyChange::default();
        change.count(&poll, &old.entries, -1);
        apply_and_announce(uow, self.post, &change).await
    }
}

struct AddAnswer {
    post: PostId,
    text: String,
    action: Option<governance::ActionInput>,
}

#[async_trait]
impl Command for AddAnswer {
    type Output = PollAnswer;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<PollAnswer> {
        let user = uow.actor().require_user()?;
        let poll = lock_visible_poll(uow, self.post).await?;
        poll.require_open(uow.now())?;
        if poll.creator_id != user {
            require_voter(uow, &poll, user).await?;
        }
        if poll.answers_locked {
            return Err(DomainError::validation("postId", "the answers of this poll are locked"));
        }
        if poll.answers.len() >= MAX_ANSWERS {
            return Err(DomainError::validation("answer", format!("a poll has at most {MAX_ANSWERS} answers")));
        }
        let action = match (&self.action, &poll.governance) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(DomainError::validation("answer.action", "only a governance poll's answers carry actions"));
            }
            (Some(action), Some(rule)) => {
                Some(governance::resolve_action(uow, action, rule.space_id, poll.voters, "answer.action").await?)
            }
        };
        let answer = PollAnswer {
            id: PollAnswerId::generate(),
            text: self.text.clone(),
            creator_id: user,
            total_votes: 0,
            total_points: 0,
            created_at: uow.now(),
            action,
        };
        uow.polls().add_answer(self.post, &answer, poll.kind == PollType::Ranked, uow.now()).await?;
        uow.polls().apply_tally(self.post, &TallyChange::default()).await?;
        announce(uow, self.post).await?;
        Ok(answer)
    }
}

struct Close {
    post: PostId,
}

#[async_trait]
impl Command for Close {
    type Output = Poll;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Poll> {
        let actor = uow.actor();
        let poll = lock_visible_poll(uow, self.post).await?;
        let author = actor.user() == Some(poll.creator_id);
        let mut moderator = false;
        if !author {
            for (_, space, _) in uow.posts().direct_spaces(&[self.post]).await? {
                if policy::moderator_of(&**uow, &actor, space).await?.moderator {
                    moderator = true;
                    break;
                }
            }
        }
        policy::require(&actor, Standing { author, moderator, ..Standing::NONE }, Action::ClosePoll)?;
        poll.require_open(uow.now())?;
        uow.polls().close_poll(self.post, uow.now()).await?;
        uow.polls().apply_tally(self.post, &TallyChange::default()).await?;
        let poll = current(uow, self.post).await?;
        governance::decide(uow, &poll).await?;
        announce(uow, self.post).await
    }
}

/// The polls service: `app.polls()`.
pub struct PollService<'a> {
    pub(crate) app: &'a App,
}

impl PollService<'_> {
    /// The time polls are judged open or closed by.
    pub fn now(&self) -> DateTime<Utc> {
        self.app.ports.clock.now()
    }

    /// Casts the viewer's ballot, replacing the one they cast before (kept as history).
    pub async fn vote(
        &self,
        viewer: Viewer,
        post: PostId,
        entries: Vec<BallotEntry>,
        reason: Option<&str>,
    ) -> DomainResult<Poll> {
        let actor = viewer.actor()?;
        let reason = parse_reason(reason)?;
        self.app.execute(actor, &Vote { post, entries, reason }).await
    }

    /// Takes the viewer's ballot back (it is kept as history); nothing changes when they have none.
    pub async fn retract(&self, viewer: Viewer, post: PostId) -> DomainResult<Poll> {
        self.app.execute(viewer.actor()?, &Retract { post }).await
    }

    /// Adds an answer to a poll whose answer list is open (its creator, or anyone who may vote in it).
    pub async fn add_answer(
        &self,
        viewer: Viewer,
        post: PostId,
        text: &str,
        action: Option<governance::ActionInput>,
    ) -> DomainResult<PollAnswer> {
        let actor = viewer.actor()?;
        let text = parse_answer_text(text, "answer.text")?;
        let action = action.map(|a| governance::parse_action(&a, "answer.action")).transpose()?;
        self.app.execute(actor, &AddAnswer { post, text, action }).await
    }

    /// A space's decisions, newest first: its public decision log (empty without access to the space).
    pub async fn decisions(
        &self,
        space: crate::privacy::Accessible,
        page: PageRequest,
    ) -> DomainResult<Page<governance::Decision>> {
        let viewer = space.viewer();
        let id = space.check(viewer)?;
        self.app.reads(viewer).polls().decisions(id, &page).await
    }

    /// The decisions about `answers` (those of polls the viewer may see).
    pub async fn answer_decisions(
        &self,
        viewer: Viewer,
        answers: &[PollAnswerId],
    ) -> DomainResult<HashMap<PollAnswerId, governance::Decision>> {
        let store = self.app.reads(viewer);
        let decisions = store.polls().decisions_of_answers(answers).await?;
        let posts: Vec<PostId> = decisions.iter().map(|d| d.post_id).collect();
        let visible: HashSet<PostId> =
            store.posts().visible_posts_among(viewer.id(), &posts).await?.into_iter().collect();
        Ok(decisions.into_iter().filter(|d| visible.contains(&d.post_id)).map(|d| (d.answer_id, d)).collect())
    }

    /// Closes a poll: its creator, or a moderator of a space it was posted in.
    pub async fn close(&self, viewer: Viewer, post: PostId) -> DomainResult<Poll> {
        self.app.execute(viewer.actor()?, &Close { post }).await
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// The polls of those of `posts` the viewer may see, with their winners.
    pub async fn polls(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<Vec<Poll>> {
        let store = self.app.reads(viewer);
        let polls = store.polls().visible_polls(viewer.id(), posts).await?;
        let ranked: Vec<PostId> = polls.iter().filter(|p| p.kind == PollType::Ranked).map(|p| p.post_id).collect();
        let mut pairs: HashMap<PostId, Vec<(PollAnswerId, PollAnswerId, i64)>> = HashMap::new();
        if !ranked.is_empty() {
            for (post, a, b, n) in store.polls().pairs(&ranked).await? {
                pairs.entry(post).or_default().push((a, b, n));
            }
        }
        Ok(polls
            .into_iter()
            .map(|poll| {
                let pairs = pairs.remove(&poll.post_id).unwrap_or_default();
                poll.with_winner(&pairs)
            })
            .collect())
    }

    /// The viewer's ballot in force in each of `posts` (none for an anonymous viewer).
    pub async fn viewer_ballots(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, Ballot>> {
        match viewer.id() {
            Some(user) => self.app.reads(viewer).polls().current_ballots(user, posts).await,
            None => Ok(HashMap::new()),
        }
    }

    /// Which of `posts` have the viewer on their roster.
    pub async fn on_roster(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashSet<PostId>> {
        match viewer.id() {
            Some(user) => Ok(self.app.reads(viewer).polls().on_roster(user, posts).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    /// Whether the viewer may vote in `poll` now (given whether they are on its roster).
    pub fn can_vote(&self, viewer: Viewer, poll: &Poll, on_roster: bool) -> bool {
        viewer.id().is_some() && !poll.is_closed(self.now()) && (poll.voters == PollVoters::Anyone || on_roster)
    }

    /// Who voted what and why, newest first: empty for an anonymous poll, for results hidden from the viewer,
    /// and for a post the viewer may not see.
    pub async fn ballots(&self, viewer: Viewer, post: PostId, page: PageRequest) -> DomainResult<Page<Ballot>> {
        let nothing = || Page::from_rows(Vec::new(), &page).with_total(0);
        let Some(poll) = self.polls(viewer, &[post]).await?.into_iter().next() else { return Ok(nothing()) };
        if poll.anonymous {
            return Ok(nothing());
        }
        let has_ballot = !self.viewer_ballots(viewer, &[post]).await?.is_empty();
        if !results_visible(&poll, self.now(), has_ballot) {
            return Ok(nothing());
        }
        self.app.reads(viewer).polls().ballots(post, &page).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(kind: PollType, n: usize) -> Poll {
        let creator = UserId::generate();
        Poll {
            post_id: PostId::generate(),
            creator_id: creator,
            kind,
            answers_locked: true,
            ends_at: None,
            closed_at: None,
            voters: PollVoters::Anyone,
            results_visibility: ResultsVisibility::Always,
            anonymous: false,
            eligible_voters: None,
            total_voters: 0,
            version: 0,
            answers: (0..n)
                .map(|i| PollAnswer {
                    id: PollAnswerId::generate(),
                    text: format!("answer {i}"),
                    creator_id: creator,
                    total_votes: 0,
                    total_points: 0,
                    created_at: Utc::now(),
                    action: None,
                })
                .collect(),
            winner: None,
            governance: None,
        }
    }

    fn entry(poll: &Poll, i: usize, value: Option<i64>) -> BallotEntry {
        BallotEntry { answer_id: poll.answers[i].id, value }
    }

    fn code(poll: &Poll, entries: &[BallotEntry]) -> Result<(), &'static str> {
        validate_ballot(poll, entries).map(|_| ()).map_err(|e| e.code())
    }

    #[test]
    fn every_ballot_rule() {
        let single = poll(PollType::Single, 3);
        assert_eq!(code(&single, &[entry(&single, 0, None)]), Ok(()));
        assert_eq!(code(&single, &[]), Err("VALIDATION"));
        assert_eq!(code(&single, &[entry(&single, 0, None), entry(&single, 1, None)]), Err("VALIDATION"));
        assert_eq!(code(&single, &[entry(&single, 0, Some(1))]), Err("VALIDATION"));
        let other = poll(PollType::Single, 2);
        assert_eq!(code(&single, &[entry(&other, 0, None)]), Err("VALIDATION"));

        let multiple = poll(PollType::Multiple, 3);
        assert_eq!(code(&multiple, &[entry(&multiple, 0, None), entry(&multiple, 2, None)]), Ok(()));
        assert_eq!(code(&multiple, &[entry(&multiple, 0, None), entry(&multiple, 0, None)]), Err("VALIDATION"));

        let weighted = poll(PollType::Weighted, 3);
        assert_eq!(code(&weighted, &[entry(&weighted, 0, Some(60)), entry(&weighted, 1, Some(40))]), Ok(()));
        assert_eq!(code(&weighted, &[entry(&weighted, 0, Some(60)), entry(&weighted, 1, Some(39))]), Err("VALIDATION"));
        assert_eq!(code(&weighted, &[entry(&weighted, 0, Some(100)), entry(&weighted, 1, Some(0))]), Err("VALIDATION"));
        assert_eq!(code(&weighted, &[entry(&weighted, 0, None)]), Err("VALIDATION"));

        let ranked = poll(PollType::Ranked, 4);
        assert_eq!(code(&ranked, &[entry(&ranked, 2, Some(1)), entry(&ranked, 0, Some(2))]), Ok(()));
        assert_eq!(code(&ranked, &[entry(&ranked, 2, Some(1)), entry(&ranked, 0, Some(3))]), Err("VALIDATION"));
        assert_eq!(code(&ranked, &[entry(&ranked, 2, Some(1)), entry(&ranked, 0, Some(1))]), Err("VALIDATION"));
        assert_eq!(code(&ranked, &[entry(&ranked, 2, None)]), Err("VALIDATION"));
        assert_eq!(code(&ranked, &[entry(&ranked, 2, Some(2))]), Err("VALIDATION"));
    }

    #[test]
    fn a_replaced_ballot_takes_away_exactly_what_it_added() {
        let ranked = poll(PollType::Ranked, 3);
        let first = [entry(&ranked, 0, Some(1)), entry(&ranked, 1, Some(2))];
        let mut change = TallyChange::default();
        change.count(&ranked, &first, 1);
        change.count(&ranked, &first, -1);
        let merged = change.merged();
        assert_eq!((merged.voters, merged.answers.len(), merged.pairs.len()), (0, 0, 0));
    }

    #[test]
    fn winners_need_a_strict_lead() {
        let mut single = poll(PollType::Single, 2);
        assert_eq!(single.clone().with_winner(&[]).winner, None, "no votes");
        single.answers[0].total_votes = 2;
        single.answers[1].total_votes = 2;
        assert_eq!(single.clone().with_winner(&[]).winner, None, "a tie");
        single.answers[1].total_votes = 3;
        assert_eq!(single.clone().with_winner(&[]).winner, Some(single.answers[1].id));
    }

    #[test]
    fn results_show_by_visibility() {
        let mut p = poll(PollType::Single, 2);
        let now = Utc::now();
        p.results_visibility = ResultsVisibility::AfterVote;
        assert!(!results_visible(&p, now, false));
        assert!(results_visible(&p, now, true));
        p.results_visibility = ResultsVisibility::AfterEnd;
        assert!(!results_visible(&p, now, true));
        p.ends_at = Some(now - chrono::Duration::seconds(1));
        assert!(results_visible(&p, now, false), "past its end time");
    }
}
