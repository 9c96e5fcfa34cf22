//! Polls: the poll row (locked by every ballot, so its totals stay exact), answers with their totals, the roster
//! snapshot, ballots with their history, and the pairwise counts of ranked polls (docs/polls.md).
//!
//! Each voter's ballots in a poll are found by a voter key: a hash of the poll's own random salt and the user's
//! id. In an anonymous poll the ballot row holds only that key, never the voter's id, and no read returns the
//! key or the salt: what a ballot says cannot be read back to who cast it.

use crate::Db;
use crate::fragments::visible_post;
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v, viewer_then_ids};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::polls::governance::{
    DecideWhen, Decision, DecisionOutcome, Governance, GovernanceAction, GovernanceActionKind,
};
use weco_domain::polls::ports::{BallotEnd, PollRepo};
use weco_domain::polls::{
    Ballot, BallotEntry, NewPoll, Poll, PollAnswer, PollType, PollVoters, ResultsVisibility, Roster, TallyChange,
};
use weco_domain::*;

pub fn poll_type_to_db(kind: PollType) -> &'static str {
    match kind {
        PollType::Single => "SINGLE",
        PollType::Multiple => "MULTIPLE",
        PollType::Weighted => "WEIGHTED",
        PollType::Ranked => "RANKED",
    }
}

fn poll_type_from_db(s: &str) -> DomainResult<PollType> {
    Ok(match s {
        "SINGLE" => PollType::Single,
        "MULTIPLE" => PollType::Multiple,
        "WEIGHTED" => PollType::Weighted,
        "RANKED" => PollType::Ranked,
        other => return Err(DomainError::internal("decoding poll", format!("poll type {other}"))),
    })
}

pub fn voters_to_db(voters: PollVoters) -> &'static str {
    match voters {
        PollVoters::Anyone => "ANYONE",
        PollVoters::Followers => "FOLLOWERS",
        PollVoters::Members => "MEMBERS",
        PollVoters::Moderators => "MODERATORS",
        PollVoters::CoopMembers => "COOP_MEMBERS",
    }
}

fn voters_from_db(s: &str) -> DomainResult<PollVoters> {
    Ok(match s {
        "ANYONE" => PollVoters::Anyone,
        "FOLLOWERS" => PollVoters::Followers,
        "MEMBERS" => PollVoters::Members,
        "MODERATORS" => PollVoters::Moderators,
        "COOP_MEMBERS" => PollVoters::CoopMembers,
        other => return Err(DomainError::internal("decoding poll", format!("voters {other}"))),
    })
}

pub fn visibility_to_db(visibility: ResultsVisibility) -> &'static str {
    match visibility {
        ResultsVisibility::Always => "ALWAYS",
        ResultsVisibility::AfterVote => "AFTER_VOTE",
        ResultsVisibility::AfterEnd => "AFTER_END",
    }
}

fn visibility_from_db(s: &str) -> DomainResult<ResultsVisibility> {
    Ok(match s {
        "ALWAYS" => ResultsVisibility::Always,
        "AFTER_VOTE" => ResultsVisibility::AfterVote,
        "AFTER_END" => ResultsVisibility::AfterEnd,
        other => return Err(DomainError::internal("decoding poll", format!("results visibility {other}"))),
    })
}

pub fn decide_when_to_db(when: DecideWhen) -> &'static str {
    match when {
        DecideWhen::AtEnd => "AT_END",
        DecideWhen::OnThreshold => "ON_THRESHOLD",
    }
}

pub fn action_kind_to_db(kind: GovernanceActionKind) -> &'static str {
    match kind {
        GovernanceActionKind::CreateChildSpace => "CREATE_CHILD_SPACE",
        GovernanceActionKind::AddModerator => "ADD_MODERATOR",
        GovernanceActionKind::RemoveModerator => "REMOVE_MODERATOR",
        GovernanceActionKind::UpdateSpace => "UPDATE_SPACE",
        GovernanceActionKind::DetachChild => "DETACH_CHILD",
        GovernanceActionKind::MakePrivate => "MAKE_PRIVATE",
        GovernanceActionKind::GrantCoopMembership => "GRANT_COOP_MEMBERSHIP",
    }
}

fn action_kind_from_db(s: &str) -> DomainResult<GovernanceActionKind> {
    use GovernanceActionKind as K;
    [
        K::CreateChildSpace,
        K::AddModerator,
        K::RemoveModerator,
        K::UpdateSpace,
        K::DetachChild,
        K::MakePrivate,
        K::GrantCoopMembership,
    ]
    .into_iter()
    .find(|k| action_kind_to_db(*k) == s)
    .ok_or_else(|| DomainError::internal("decoding poll answer", format!("action kind {s}")))
}

pub fn outcome_to_db(outcome: DecisionOutcome) -> &'static str {
    match outcome {
        DecisionOutcome::Executed => "EXECUTED",
        DecisionOutcome::Rejected => "REJECTED",
        DecisionOutcome::Failed => "FAILED",
    }
}

fn decision_from_row(row: &QueryResult) -> DomainResult<Decision> {
    const CX: &str = "decoding decision";
    let outcome = match get::<String>(row, CX, "outcome")?.as_str() {
        "EXECUTED" => DecisionOutcome::Executed,
        "REJECTED" => DecisionOutcome::Rejected,
        "FAILED" => DecisionOutcome::Failed,
        other => return Err(DomainError::internal(CX, format!("outcome {other}"))),
    };
    Ok(Decision {
        id: DecisionId(get(row, CX, "id")?),
        post_id: PostId(get(row, CX, "post_id")?),
        space_id: SpaceId(get(row, CX, "space_id")?),
        answer_id: PollAnswerId(get(row, CX, "answer_id")?),
        outcome,
        error_code: get(row, CX, "error_code")?,
        votes: get(row, CX, "votes")?,
        share: get(row, CX, "share")?,
        decided_at: get(row, CX, "decided_at")?,
    })
}

const DECISION_COLS: &str =
    "d.id, d.post_id, d.space_id, d.answer_id, d.outcome, d.error_code, d.votes, d.share, d.decided_at";

/// The voter key of `user` in the poll whose salt is `salt`.
pub fn voter_key(salt: &str, user: UserId) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b":");
    hasher.update(user.0.as_bytes());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every column of a poll `pl` and its post `p` that [`poll_from_row`] reads.
const POLL_COLS: &str = "pl.post_id, p.creator_id, pl.poll_type, pl.answers_locked, pl.ends_at, pl.closed_at, \
     pl.voters, pl.results_visibility, pl.anonymous, pl.eligible_voters, pl.total_voters, pl.version, \
     pl.space_id, pl.quorum, pl.threshold, pl.decide_when, pl.decided_at";

fn poll_from_row(row: &QueryResult) -> DomainResult<Poll> {
    const CX: &str = "decoding poll";
    Ok(Poll {
        post_id: PostId(get(row, CX, "post_id")?),
        creator_id: UserId(get(row, CX, "creator_id")?),
        kind: poll_type_from_db(&get::<String>(row, CX, "poll_type")?)?,
        answers_locked: get(row, CX, "answers_locked")?,
        ends_at: get(row, CX, "ends_at")?,
        closed_at: get(row, CX, "closed_at")?,
        voters: voters_from_db(&get::<String>(row, CX, "voters")?)?,
        results_visibility: visibility_from_db(&get::<String>(row, CX, "results_visibility")?)?,
        anonymous: get(row, CX, "anonymous")?,
        eligible_voters: get(row, CX, "eligible_voters")?,
        total_voters: get(row, CX, "total_voters")?,
        version: get(row, CX, "version")?,
        answers: Vec::new(),
        winner: None,
        governance: match get::<Option<Uuid>>(row, CX, "space_id")? {
            None => None,
            Some(space) => Some(Governance {
                space_id: SpaceId(space),
                quorum: get::<Option<i64>>(row, CX, "quorum")?.unwrap_or(1),
                threshold: get::<Option<i64>>(row, CX, "threshold")?.unwrap_or(50),
                decide_when: match get::<Option<String>>(row, CX, "decide_when")?.as_deref() {
                    Some("ON_THRESHOLD") => DecideWhen::OnThreshold,
                    _ => DecideWhen::AtEnd,
                },
                decided_at: get(row, CX, "decided_at")?,
            }),
        },
    })
}

fn answer_from_row(row: &QueryResult) -> DomainResult<(PostId, PollAnswer)> {
    const CX: &str = "decoding poll answer";
    Ok((
        PostId(get(row, CX, "post_id")?),
        PollAnswer {
            id: PollAnswerId(get(row, CX, "id")?),
            text: get(row, CX, "text")?,
            creator_id: UserId(get(row, CX, "creator_id")?),
            total_votes: get(row, CX, "total_votes")?,
            total_points: get(row, CX, "total_points")?,
            created_at: get(row, CX, "created_at")?,
            action: match get::<Option<String>>(row, CX, "action_kind")? {
                None => None,
                Some(kind) => Some(GovernanceAction {
                    kind: action_kind_from_db(&kind)?,
                    handle: get(row, CX, "action_handle")?,
                    name: get(row, CX, "action_name")?,
                    description: get(row, CX, "action_description")?,
                    user_id: get::<Option<Uuid>>(row, CX, "action_user_id")?.map(UserId),
                    space_id: get::<Option<Uuid>>(row, CX, "action_space_id")?.map(SpaceId),
                }),
            },
        },
    ))
}

/// The columns of an answer's action, in the order [`answer_action_values`] gives their values.
const ACTION_COLS: &str =
    "action_kind, action_handle, action_name, action_description, action_user_id, action_space_id";

fn answer_action_values(answer: &PollAnswer) -> Vec<Value> {
    let a = answer.action.as_ref();
    vec![
        v(a.map(|a| action_kind_to_db(a.kind))),
        v(a.and_then(|a| a.handle.clone())),
        v(a.and_then(|a| a.name.clone())),
        v(a.and_then(|a| a.description.clone())),
        v(a.and_then(|a| a.user_id.map(|u| u.0))),
        v(a.and_then(|a| a.space_id.map(|s| s.0))),
    ]
}

fn ballot_from_row(row: &QueryResult) -> DomainResult<Ballot> {
    const CX: &str = "decoding ballot";
    Ok(Ballot {
        id: BallotId(get(row, CX, "id")?),
        voter_id: get::<Option<Uuid>>(row, CX, "voter_id")?.map(UserId),
        entries: Vec::new(),
        reason: get(row, CX, "reason")?,
        cast_at: get(row, CX, "cast_at")?,
    })
}

/// The most rows one multi-row insert binds.
const ROWS_PER_STATEMENT: usize = 400;

impl<C: ConnectionTrait> Db<C> {
    /// Fills in the answers of `polls`, in their order.
    async fn with_answers(&self, mut polls: Vec<Poll>) -> DomainResult<Vec<Poll>> {
        if polls.is_empty() {
            return Ok(polls);
        }
        let ids: Vec<PostId> = polls.iter().map(|p| p.post_id).collect();
        let sql = format!(
            "SELECT post_id, id, text, creator_id, total_votes, total_points, created_at, {ACTION_COLS} \
             FROM poll_answers WHERE post_id IN ({}) ORDER BY post_id, position",
            placeholders(1, ids.len())
        );
        let rows = self.sql().all("loading poll answers", &sql, uuid_values(&ids)).await?;
        let mut by_post: HashMap<PostId, Vec<PollAnswer>> = HashMap::new();
        for row in &rows {
            let (post, answer) = answer_from_row(row)?;
            by_post.entry(post).or_default().push(answer);
        }
        for poll in &mut polls {
            poll.answers = by_post.remove(&poll.post_id).unwrap_or_default();
        }
        Ok(polls)
    }

    async fn salt(&self, post: PostId) -> DomainResult<String> {
        self.sql()
            .scalar("reading a poll's salt", "SELECT voter_salt AS v FROM polls WHERE post_id = $1", vec![v(post.0)])
            .await
    }

    /// Fills in the entries of `ballots`, in the order of the poll's answers.
    async fn with_entries(&self, mut ballots: Vec<Ballot>) -> DomainResult<Vec<Ballot>> {
        if ballots.is_empty() {
            return Ok(ballots);
        }
        const CX: &str = "loading ballot entries";
        let ids: Vec<BallotId> = ballots.iter().map(|b| b.id).collect();
        let sql = format!(
            "SELECT e.ballot_id, e.answer_id, e.value FROM poll_ballot_entries e \
             JOIN poll_answers a ON a.id = e.answer_id WHERE e.ballot_id IN ({}) ORDER BY e.ballot_id, a.position",
            placeholders(1, ids.len())
        );
        let rows = self.sql().all(CX, &sql, uuid_values(&ids)).await?;
        let mut by_ballot: HashMap<BallotId, Vec<BallotEntry>> = HashMap::new();
        for row in &rows {
            by_ballot.entry(BallotId(get(row, CX, "ballot_id")?)).or_default().push(BallotEntry {
                answer_id: PollAnswerId(get(row, CX, "answer_id")?),
                value: get(row, CX, "value")?,
            });
        }
        for ballot in &mut ballots {
            ballot.entries = by_ballot.remove(&ballot.id).unwrap_or_default();
        }
        Ok(ballots)
    }

    /// Runs `INSERT INTO {into} VALUES …` for `rows` (each `width` values), a few hundred rows per statement,
    /// with `suffix` after the values.
    async fn insert_rows(
        &self,
        context: &str,
        into: &str,
        width: usize,
        rows: Vec<Vec<Value>>,
        suffix: &str,
    ) -> DomainResult<()> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut values = Vec::with_capacity(chunk.len() * width);
            let mut tuples = Vec::with_capacity(chunk.len());
            for row in chunk {
                tuples.push(format!("({})", placeholders(values.len() + 1, width)));
                values.extend(row.iter().cloned());
            }
            let sql = format!("INSERT INTO {into} VALUES {}{suffix}", tuples.join(", "));
            self.sql().exec(context, &sql, values).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> PollRepo for Db<C> {
    async fn insert_poll(&self, poll: &NewPoll, roster: &Roster) -> DomainResult<()> {
        let salt = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        self.sql()
            .exec(
                "creating a poll",
                "INSERT INTO polls (post_id, poll_type, answers_locked, ends_at, voters, results_visibility, \
                 anonymous, voter_salt, created_at, space_id, quorum, threshold, decide_when) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                vec![
                    v(poll.post_id.0),
                    v(poll_type_to_db(poll.kind)),
                    v(poll.answers_locked),
                    v(poll.ends_at),
                    v(voters_to_db(poll.voters)),
                    v(visibility_to_db(poll.results_visibility)),
                    v(poll.anonymous),
                    v(salt),
                    v(poll.created_at),
                    v(poll.governance.map(|(space, _)| space.0)),
                    v(poll.governance.map(|(_, rule)| rule.quorum)),
                    v(poll.governance.map(|(_, rule)| rule.threshold)),
                    v(poll.governance.map(|(_, rule)| decide_when_to_db(rule.decide_when))),
                ],
            )
            .await?;
        let rows = poll
            .answers
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut row = vec![
                    v(a.id.0),
                    v(poll.post_id.0),
                    v(i as i64),
                    v(a.text.clone()),
                    v(a.creator_id.0),
                    v(a.created_at),
                ];
                row.extend(answer_action_values(a));
                row
            })
            .collect();
        let into = format!("poll_answers (id, post_id, position, text, creator_id, created_at, {ACTION_COLS})");
        self.insert_rows("creating poll answers", &into, 12, rows, "").await?;
        let (table, spaces) = match roster {
            Roster::Anyone => return Ok(()),
            Roster::Followers(spaces) => ("space_followers", spaces.as_slice()),
            Roster::Members(spaces) => ("space_members", spaces.as_slice()),
            Roster::Moderators(spaces) => ("space_moderators", spaces.as_slice()),
            Roster::CoopMembers => ("", &[][..]),
        };
        let mut values = vec![v(poll.post_id.0)];
        let source = if table.is_empty() {
            "SELECT DISTINCT pl.post_id, u.id FROM polls pl JOIN users u ON u.is_coop_member WHERE pl.post_id = $1"
                .to_owned()
        } else {
            values.extend(uuid_values(spaces));
            format!(
                "SELECT DISTINCT pl.post_id, r.user_id FROM polls pl JOIN {table} r ON r.space_id IN ({}) \
                 WHERE pl.post_id = $1",
                placeholders(2, spaces.len())
            )
        };
        let sql = format!("INSERT INTO poll_roster (post_id, user_id) {source}");
        self.sql().exec("taking a poll's roster", &sql, values).await?;
        self.sql()
            .exec(
                "counting a poll's roster",
                "UPDATE polls SET eligible_voters = (SELECT COUNT(*) FROM poll_roster r WHERE r.post_id = $1) \
                 WHERE post_id = $1",
                vec![v(poll.post_id.0)],
            )
            .await?;
        Ok(())
    }

    async fn lock_poll(&self, post: PostId) -> DomainResult<Option<Poll>> {
        if self.backend == DbBackend::Postgres {
            self.sql()
                .all("locking a poll", "SELECT post_id FROM polls WHERE post_id = $1 FOR UPDATE", vec![v(post.0)])
                .await?;
        }
        let sql = format!("SELECT {POLL_COLS} FROM polls pl JOIN posts p ON p.id = pl.post_id WHERE pl.post_id = $1");
        let row = self.sql().one("loading a poll", &sql, vec![v(post.0)]).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_answers(vec![poll_from_row(&row)?]).await?.into_iter().next())
    }

    async fn visible_polls(&self, viewer: Option<UserId>, posts: &[PostId]) -> DomainResult<Vec<Poll>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, posts);
        let sql = format!(
            "SELECT {POLL_COLS} FROM polls pl JOIN posts p ON p.id = pl.post_id WHERE pl.post_id IN ({in_ids}) AND {}",
            visible_post(1)
        );
        let rows = self.sql().all("loading polls", &sql, values).await?;
        let polls = rows.iter().map(poll_from_row).collect::<DomainResult<Vec<_>>>()?;
        self.with_answers(polls).await
    }

    async fn pairs(&self, posts: &[PostId]) -> DomainResult<Vec<(PostId, PollAnswerId, PollAnswerId, i64)>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        const CX: &str = "loading pairwise preferences";
        let sql = format!(
            "SELECT post_id, above_id, below_id, ballots FROM poll_pairs WHERE post_id IN ({}) AND ballots <> 0",
            placeholders(1, posts.len())
        );
        let rows = self.sql().all(CX, &sql, uuid_values(posts)).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    PostId(get(r, CX, "post_id")?),
                    PollAnswerId(get(r, CX, "above_id")?),
                    PollAnswerId(get(r, CX, "below_id")?),
                    get(r, CX, "ballots")?,
                ))
            })
            .collect()
    }

    async fn on_roster(&self, user: UserId, posts: &[PostId]) -> DomainResult<Vec<PostId>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT post_id FROM poll_roster WHERE user_id = $1 AND post_id IN ({})",
            placeholders(2, posts.len())
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(posts));
        let rows = self.sql().all("reading rosters", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "reading rosters", "post_id").map(PostId)).collect()
    }

    async fn current_ballots(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, Ballot>> {
        if posts.is_empty() {
            return Ok(HashMap::new());
        }
        const CX: &str = "reading a voter's ballots";
        let sql = format!("SELECT post_id, voter_salt FROM polls WHERE post_id IN ({})", placeholders(1, posts.len()));
        let salts = self.sql().all(CX, &sql, uuid_values(posts)).await?;
        if salts.is_empty() {
            return Ok(HashMap::new());
        }
        let mut values = Vec::with_capacity(salts.len() * 2);
        for row in &salts {
            values.push(v(get::<Uuid>(row, CX, "post_id")?));
        }
        for row in &salts {
            values.push(v(voter_key(&get::<String>(row, CX, "voter_salt")?, user)));
        }
        let n = salts.len();
        let sql = format!(
            "SELECT id, post_id, voter_id, reason, cast_at FROM poll_ballots \
             WHERE state = 'CURRENT' AND post_id IN ({}) AND voter_key IN ({})",
            placeholders(1, n),
            placeholders(n + 1, n)
        );
        let rows = self.sql().all(CX, &sql, values).await?;
        let mut posts_of = Vec::with_capacity(rows.len());
        let mut ballots = Vec::with_capacity(rows.len());
        for row in &rows {
            posts_of.push(PostId(get(row, CX, "post_id")?));
            ballots.push(ballot_from_row(row)?);
        }
        let ballots = self.with_entries(ballots).await?;
        Ok(posts_of.into_iter().zip(ballots).collect())
    }

    async fn end_ballot(&self, ballot: BallotId, end: BallotEnd, at: DateTime<Utc>) -> DomainResult<()> {
        let state = match end {
            BallotEnd::Replaced => "REPLACED",
            BallotEnd::Retracted => "RETRACTED",
        };
        self.sql()
            .exec(
                "ending a ballot",
                "UPDATE poll_ballots SET state = $2, ended_at = $3 WHERE id = $1 AND state = 'CURRENT'",
                vec![v(ballot.0), v(state), v(at)],
            )
            .await?;
        Ok(())
    }

    async fn insert_ballot(&self, post: PostId, voter: UserId, anonymous: bool, ballot: &Ballot) -> DomainResult<()> {
        let key = voter_key(&self.salt(post).await?, voter);
        let voter_id = (!anonymous).then_some(voter.0);
        self.sql()
            .exec(
                "casting a ballot",
                "INSERT INTO poll_ballots (id, post_id, voter_key, voter_id, reason, state, cast_at) \
                 VALUES ($1, $2, $3, $4, $5, 'CURRENT', $6)",
                vec![v(ballot.id.0), v(post.0), v(key), v(voter_id), v(ballot.reason.clone()), v(ballot.cast_at)],
            )
            .await?;
        let rows = ballot.entries.iter().map(|e| vec![v(ballot.id.0), v(e.answer_id.0), v(e.value)]).collect();
        self.insert_rows("casting a ballot", "poll_ballot_entries (ballot_id, answer_id, value)", 3, rows, "").await
    }

    async fn apply_tally(&self, post: PostId, change: &TallyChange) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "counting voters",
            "UPDATE polls SET total_voters = total_voters + $2, version = version + 1 WHERE post_id = $1",
            vec![v(post.0), v(change.voters)],
        )
        .await?;
        for (answer, votes, points) in &change.answers {
            sql.exec(
                "counting votes",
                "UPDATE poll_answers SET total_votes = total_votes + $3, total_points = total_points + $4 \
                 WHERE id = $2 AND post_id = $1",
                vec![v(post.0), v(answer.0), v(*votes), v(*points)],
            )
            .await?;
        }
        if !change.pairs.is_empty() {
            let rows = change.pairs.iter().map(|(a, b, n)| vec![v(post.0), v(a.0), v(b.0), v(*n)]).collect();
            self.insert_rows(
                "counting pairwise preferences",
                "poll_pairs (post_id, above_id, below_id, ballots)",
                4,
                rows,
                " ON CONFLICT (post_id, above_id, below_id) DO UPDATE SET ballots = poll_pairs.ballots + excluded.ballots",
            )
            .await?;
        }
        Ok(())
    }

    async fn add_answer(&self, post: PostId, answer: &PollAnswer, ranked: bool, at: DateTime<Utc>) -> DomainResult<()> {
        self.sql()
            .exec(
                "adding a poll answer",
                &format!(
                    "INSERT INTO poll_answers (id, post_id, position, text, creator_id, created_at, {ACTION_COLS}) \
                     VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM poll_answers WHERE post_id = $2), \
                     $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ),
                [
                    vec![v(answer.id.0), v(post.0), v(answer.text.clone()), v(answer.creator_id.0), v(at)],
                    answer_action_values(answer),
                ]
                .concat(),
            )
            .await?;
        if ranked {
            // Every ballot in force ranks each answer it names above the new one, which it could not name.
            self.sql()
                .exec(
                    "ranking a new answer",
                    "INSERT INTO poll_pairs (post_id, above_id, below_id, ballots) \
                     SELECT b.post_id, e.answer_id, na.id, COUNT(*) FROM poll_ballots b \
                     JOIN poll_ballot_entries e ON e.ballot_id = b.id JOIN poll_answers na ON na.id = $2 \
                     WHERE b.post_id = $1 AND b.state = 'CURRENT' GROUP BY b.post_id, e.answer_id, na.id",
                    vec![v(post.0), v(answer.id.0)],
                )
                .await?;
        }
        Ok(())
    }

    async fn close_poll(&self, post: PostId, at: DateTime<Utc>) -> DomainResult<bool> {
        let closed = self
            .sql()
            .exec(
                "closing a poll",
                "UPDATE polls SET closed_at = $2 WHERE post_id = $1 AND closed_at IS NULL",
                vec![v(post.0), v(at)],
            )
            .await?;
        Ok(closed > 0)
    }

    async fn mark_decided(&self, post: PostId, at: DateTime<Utc>) -> DomainResult<bool> {
        let marked = self
            .sql()
            .exec(
                "deciding a poll",
                "UPDATE polls SET decided_at = $2 WHERE post_id = $1 AND decided_at IS NULL AND space_id IS NOT NULL",
                vec![v(post.0), v(at)],
            )
            .await?;
        Ok(marked > 0)
    }

    async fn insert_decision(&self, d: &Decision) -> DomainResult<()> {
        self.sql()
            .exec(
                "recording a decision",
                "INSERT INTO decisions (id, post_id, space_id, answer_id, outcome, error_code, votes, share, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                vec![
                    v(d.id.0),
                    v(d.post_id.0),
                    v(d.space_id.0),
                    v(d.answer_id.0),
                    v(outcome_to_db(d.outcome)),
                    v(d.error_code.clone()),
                    v(d.votes),
                    v(d.share),
                    v(d.decided_at),
                ],
            )
            .await?;
        Ok(())
    }

    async fn decisions(&self, space: SpaceId, page: &PageRequest) -> DomainResult<Page<Decision>> {
        let listing = Listing {
            context: "listing decisions",
            select: DECISION_COLS,
            // A decision is listed while its poll stands in the space that decided (the caller has checked the
            // viewer may access that space, so the poll is visible to them): a deleted or removed proposal takes
            // its decisions out of the log rather than leaving entries without a poll.
            base: "FROM decisions d WHERE d.space_id = $1 \
                   AND EXISTS (SELECT 1 FROM posts p JOIN space_posts a ON a.post_id = p.id \
                               WHERE p.id = d.post_id AND p.state = 'ACTIVE' \
                                 AND a.space_id = d.space_id AND a.state = 'ACTIVE')"
                .to_owned(),
            values: vec![v(space.0)],
            key: Key::Time("d.decided_at"),
            id: "d.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, decision_from_row).await
    }

    async fn decisions_of_answers(&self, answers: &[PollAnswerId]) -> DomainResult<Vec<Decision>> {
        if answers.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {DECISION_COLS} FROM decisions d WHERE d.answer_id IN ({})",
            placeholders(1, answers.len())
        );
        let rows = self.sql().all("reading decisions", &sql, uuid_values(answers)).await?;
        rows.iter().map(decision_from_row).collect()
    }

    async fn ballots(&self, post: PostId, page: &PageRequest) -> DomainResult<Page<Ballot>> {
        let listing = Listing {
            context: "listing ballots",
            select: "b.id, b.voter_id, b.reason, b.cast_at",
            base: "FROM poll_ballots b WHERE b.post_id = $1 AND b.state = 'CURRENT' AND b.voter_id IS NOT NULL"
                .to_owned(),
            values: vec![v(post.0)],
            key: Key::Time("b.cast_at"),
            id: "b.id",
            descending: true,
            with_total: true,
        };
        let page = self.sql().page(listing, page, ballot_from_row).await?;
        let (cursors, ballots): (Vec<Cursor>, Vec<Ballot>) = page.items.into_iter().unzip();
        let ballots = self.with_entries(ballots).await?;
        Ok(Page { items: cursors.into_iter().zip(ballots).collect(), ..page })
    }
}
