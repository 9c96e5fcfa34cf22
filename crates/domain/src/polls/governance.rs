//! Governance polls: a poll with `governance` decides for its one space, and each answer may carry an action the
//! space takes when the answer passes (docs/polls.md#governance).
//!
//! The decision is taken once — at the end time, by `closePoll`, or with `ON_THRESHOLD` as soon as an answer
//! with an action passes — under the poll's row lock, marked by `decided_at`. Each answer with an action is
//! then judged: it passes when the poll has at least `quorum` voters and its share reaches `threshold` percent
//! (votes ÷ voters; points ÷ (100 × voters) for WEIGHTED; for RANKED only the Schulze winner passes). A passing
//! action runs as [`Actor::Decision`] of the space — with its moderators' authority, under every structural
//! rule — in a savepoint: refused, it is recorded FAILED with the refusal's code and nothing of it remains;
//! done, EXECUTED. Answers that do not pass are recorded REJECTED. One decision per answer (a unique key), so
//! an action never runs twice.

use super::{Poll, PollType, PollVoters};
use crate::actor::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::uow::UnitOfWork;
use crate::values::{Description, Handle, Privacy, SpaceName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// When a governance poll decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecideWhen {
    /// At its end time or when it is closed.
    AtEnd,
    /// Also as soon as an answer with an action passes.
    OnThreshold,
}

/// What a passing answer makes its space do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GovernanceActionKind {
    /// A new space (`handle`, `name`, `description`) under the deciding space; the poll's creator moderates it.
    CreateChildSpace,
    /// `user` becomes a moderator (and member) of the space.
    AddModerator,
    /// `user` stops moderating the space (a space keeps at least one moderator).
    RemoveModerator,
    /// New `name` and/or `description`.
    UpdateSpace,
    /// The child `space` leaves the deciding space.
    DetachChild,
    /// The deciding space becomes private (never the reverse).
    MakePrivate,
    /// `user` becomes a member of the cooperative (root-space polls of cooperative members only).
    GrantCoopMembership,
}

/// How a decision went for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecisionOutcome {
    Executed,
    Rejected,
    Failed,
}

/// The rule of a governance poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Governance {
    /// The space that decides (the poll's one space).
    pub space_id: SpaceId,
    /// Voters needed for any answer to pass.
    pub quorum: i64,
    /// Percent of the share an answer needs.
    pub threshold: i64,
    pub decide_when: DecideWhen,
    /// When the poll decided (once).
    pub decided_at: Option<DateTime<Utc>>,
}

/// An answer's action, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceAction {
    pub kind: GovernanceActionKind,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub user_id: Option<UserId>,
    pub space_id: Option<SpaceId>,
}

/// `GovernanceInput` as given.
#[derive(Debug, Clone, Copy)]
pub struct GovernanceInput {
    pub quorum: i64,
    pub threshold: i64,
    pub decide_when: DecideWhen,
}

/// `GovernanceActionInput` as given.
#[derive(Debug, Clone)]
pub struct ActionInput {
    pub kind: GovernanceActionKind,
    pub handle: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub user_handle: Option<String>,
    pub space_id: Option<SpaceId>,
}

/// A decision taken about one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub id: DecisionId,
    pub post_id: PostId,
    pub space_id: SpaceId,
    pub answer_id: PollAnswerId,
    pub outcome: DecisionOutcome,
    /// The code of the refusal, for FAILED.
    pub error_code: Option<String>,
    /// Votes (points for WEIGHTED) the answer had.
    pub votes: i64,
    /// Its share, 0 to 1.
    pub share: f64,
    pub decided_at: DateTime<Utc>,
}

/// Checks the governance rule.
pub fn parse_governance(input: GovernanceInput) -> DomainResult<GovernanceInput> {
    if input.quorum < 0 {
        return Err(DomainError::validation("input.poll.governance.quorum", "may not be negative"));
    }
    if !(1..=100).contains(&input.threshold) {
        return Err(DomainError::validation("input.poll.governance.threshold", "is a percentage from 1 to 100"));
    }
    Ok(input)
}

/// Checks an action's fields for its kind (`field` names the action in errors); user handles are resolved when
/// the poll is stored.
pub fn parse_action(input: &ActionInput, field: &str) -> DomainResult<ActionInput> {
    let need =
        |what: &str| DomainError::validation(format!("{field}.{what}"), format!("{:?} needs {what}", input.kind));
    let mut checked = input.clone();
    match input.kind {
        GovernanceActionKind::CreateChildSpace => {
            let handle = input.handle.as_deref().ok_or_else(|| need("handle"))?;
            checked.handle = Some(Handle::parse(handle, &format!("{field}.handle"))?.as_str().to_owned());
            let name = input.name.as_deref().ok_or_else(|| need("name"))?;
            checked.name = Some(SpaceName::parse(name, &format!("{field}.name"))?.as_str().to_owned());
            let description = input.description.as_deref().unwrap_or_default();
            checked.description =
                Some(Description::parse(description, &format!("{field}.description"))?.as_str().to_owned());
        }
        GovernanceActionKind::AddModerator
        | GovernanceActionKind::RemoveModerator
        | GovernanceActionKind::GrantCoopMembership => {
            input.user_handle.as_deref().ok_or_else(|| need("userHandle"))?;
        }
        GovernanceActionKind::UpdateSpace => {
            if input.name.is_none() && input.description.is_none() {
                return Err(need("name or description"));
            }
            if let Some(name) = &input.name {
                checked.name = Some(SpaceName::parse(name, &format!("{field}.name"))?.as_str().to_owned());
            }
            if let Some(description) = &input.description {
                checked.description =
                    Some(Description::parse(description, &format!("{field}.description"))?.as_str().to_owned());
            }
        }
        GovernanceActionKind::DetachChild => {
            input.space_id.ok_or_else(|| need("spaceId"))?;
        }
        GovernanceActionKind::MakePrivate => {}
    }
    Ok(checked)
}

/// Resolves an action for storing in a poll of `space` with `voters`: its user by handle (`VALIDATION` when
/// there is none), and the rule that only the root space's polls of cooperative members grant membership.
pub(crate) async fn resolve_action(
    uow: &UnitOfWork,
    input: &ActionInput,
    space: SpaceId,
    voters: PollVoters,
    field: &str,
) -> DomainResult<GovernanceAction> {
    if input.kind == GovernanceActionKind::GrantCoopMembership
        && (space != ROOT_SPACE_ID || voters != PollVoters::CoopMembers)
    {
        return Err(DomainError::validation(
            format!("{field}.kind"),
            "only a poll of the root space whose voters are COOP_MEMBERS grants cooperative membership",
        ));
    }
    let user_id = match &input.user_handle {
        Some(handle) => Some(
            uow.accounts()
                .user_by_handle(handle.trim())
                .await?
                .ok_or_else(|| DomainError::validation(format!("{field}.userHandle"), "no user has this handle"))?
                .id,
        ),
        None => None,
    };
    Ok(GovernanceAction {
        kind: input.kind,
        handle: input.handle.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        user_id,
        space_id: input.space_id,
    })
}

/// `(votes, share, passes)` of each answer of a decided poll, in order.
pub fn judge(poll: &Poll, governance: &Governance) -> Vec<(i64, f64, bool)> {
    let voters = poll.total_voters;
    let quorate = voters >= governance.quorum && voters > 0;
    poll.answers
        .iter()
        .map(|answer| match poll.kind {
            PollType::Ranked => {
                let won = poll.winner == Some(answer.id);
                (answer.total_votes, if won { 1.0 } else { 0.0 }, quorate && won)
            }
            PollType::Weighted => {
                let share = if voters > 0 { answer.total_points as f64 / (100 * voters) as f64 } else { 0.0 };
                (answer.total_points, share, quorate && answer.total_points >= governance.threshold * voters)
            }
            PollType::Single | PollType::Multiple => {
                let share = if voters > 0 { answer.total_votes as f64 / voters as f64 } else { 0.0 };
                (answer.total_votes, share, quorate && answer.total_votes * 100 >= governance.threshold * voters)
            }
        })
        .collect()
}

/// Whether an ON_THRESHOLD poll has an answer with an action that passes now.
pub fn crossed(poll: &Poll) -> bool {
    let Some(governance) = &poll.governance else { return false };
    governance.decide_when == DecideWhen::OnThreshold
        && governance.decided_at.is_none()
        && judge(poll, governance).iter().zip(&poll.answers).any(|((_, _, passes), a)| *passes && a.action.is_some())
}

/// Takes the poll's decision, once: judges each answer with an action, runs those that pass, and records every
/// outcome. `poll` is the poll as locked, with its winner. Does nothing for a poll without governance or one
/// that decided already.
pub(crate) async fn decide(uow: &mut UnitOfWork, poll: &Poll) -> DomainResult<()> {
    let Some(governance) = &poll.governance else { return Ok(()) };
    if governance.decided_at.is_some() {
        return Ok(());
    }
    let now = uow.now();
    if !uow.polls().mark_decided(poll.post_id, now).await? {
        return Ok(());
    }
    let decider = Actor::Decision { space: governance.space_id, poll: poll.post_id };
    for (answer, (votes, share, passes)) in poll.answers.iter().zip(judge(poll, governance)) {
        let Some(action) = &answer.action else { continue };
        let (outcome, error_code) = if passes {
            match uow.run_isolated(decider, &Execute { action: action.clone(), space: governance.space_id, poll }).await
            {
                Ok(()) => (DecisionOutcome::Executed, None),
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => (DecisionOutcome::Failed, Some(e.code().to_owned())),
            }
        } else {
            (DecisionOutcome::Rejected, None)
        };
        let decision = Decision {
            id: DecisionId::generate(),
            post_id: poll.post_id,
            space_id: governance.space_id,
            answer_id: answer.id,
            outcome,
            error_code,
            votes,
            share,
            decided_at: now,
        };
        uow.polls().insert_decision(&decision).await?;
    }
    tell_of_decision(uow, poll, governance.space_id).await
}

/// The most voters of one poll told of its decision.
pub const MAX_VOTERS_TOLD: usize = 1_000;

/// Tells who took part that the poll decided (`POLL_DECIDED`, one notification each, in the decision's unit of
/// work): its creator and, unless the poll is anonymous (whose ballots name nobody), the first
/// [`MAX_VOTERS_TOLD`] voters whose ballots stand.
async fn tell_of_decision(uow: &mut UnitOfWork, poll: &Poll, space: SpaceId) -> DomainResult<()> {
    use crate::notifications::{Fold, NewNotification, NotificationKind, notify};
    use crate::page::{MAX_PAGE_SIZE, PageRequest};
    let mut recipients = vec![poll.creator_id];
    if !poll.anonymous {
        let mut after = None;
        while recipients.len() <= MAX_VOTERS_TOLD {
            let page = PageRequest { first: MAX_PAGE_SIZE, after, count_total: false };
            let ballots = uow.polls().ballots(poll.post_id, &page).await?;
            recipients.extend(ballots.items.iter().filter_map(|(_, ballot)| ballot.voter_id));
            match ballots.items.last() {
                Some((cursor, _)) if ballots.has_next_page => after = Some(*cursor),
                _ => break,
            }
        }
    }
    let mut told = std::collections::HashSet::new();
    for recipient in recipients.into_iter().take(MAX_VOTERS_TOLD + 1) {
        if !told.insert(recipient) {
            continue;
        }
        let new = NewNotification {
            recipient,
            kind: NotificationKind::PollDecided,
            actor: None,
            post: Some(poll.post_id),
            comment: None,
            space: Some(space),
            fold: Fold::Never(poll.post_id.0),
        };
        notify(uow, new).await?;
    }
    Ok(())
}

/// One passing action, run as the decision of its space.
struct Execute<'a> {
    action: GovernanceAction,
    space: SpaceId,
    poll: &'a Poll,
}

#[async_trait::async_trait]
impl crate::uow::Command for Execute<'_> {
    type Output = ();

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
        use crate::holarchy::{CreateSpace, DetachSpace, UpdateSpace};
        let a = &self.action;
        let invalid = || DomainError::validation("action", "is missing a field its kind needs");
        match a.kind {
            GovernanceActionKind::CreateChildSpace => {
                let command = CreateSpace {
                    creator: self.poll.creator_id,
                    handle: Handle::parse(a.handle.as_deref().ok_or_else(invalid)?, "action.handle")?,
                    name: SpaceName::parse(a.name.as_deref().ok_or_else(invalid)?, "action.name")?,
                    description: Description::parse(
                        a.description.as_deref().unwrap_or_default(),
                        "action.description",
                    )?,
                    privacy: Privacy::Public,
                    parent: Some(self.space),
                };
                command.run(uow).await.map(drop)
            }
            GovernanceActionKind::AddModerator => {
                let user = a.user_id.ok_or_else(invalid)?;
                crate::policy::require_moderator(
                    &**uow,
                    &uow.actor(),
                    self.space,
                    crate::policy::Action::InviteModerator,
                )
                .await?;
                crate::holarchy::load_space(&**uow, self.space).await?;
                if !uow.holarchy().moderated_among(user, &[self.space]).await?.is_empty() {
                    return Err(DomainError::conflict("this user moderates the space already"));
                }
                uow.access().add_moderator(self.space, user).await?;
                uow.access().add_member(self.space, user).await?;
                Ok(())
            }
            GovernanceActionKind::RemoveModerator => {
                let user = a.user_id.ok_or_else(invalid)?;
                let handle = uow.accounts().users_by_ids(&[user]).await?.into_iter().next().map(|u| u.handle);
                let command =
                    crate::access::DropModerator { space: self.space, handle: Some(handle.ok_or_else(invalid)?) };
                command.run(uow).await.map(drop)
            }
            GovernanceActionKind::UpdateSpace => {
                let name = a.name.as_deref().map(|n| SpaceName::parse(n, "action.name")).transpose()?;
                let description =
                    a.description.as_deref().map(|d| Description::parse(d, "action.description")).transpose()?;
                UpdateSpace { space: self.space, name, description, privacy: None }.run(uow).await.map(drop)
            }
            GovernanceActionKind::DetachChild => {
                let child = a.space_id.ok_or_else(invalid)?;
                DetachSpace { child, parent: self.space }.run(uow).await.map(drop)
            }
            GovernanceActionKind::MakePrivate => {
                UpdateSpace { space: self.space, name: None, description: None, privacy: Some(Privacy::Private) }
                    .run(uow)
                    .await
                    .map(drop)
            }
            GovernanceActionKind::GrantCoopMembership => {
                // Only a root-space poll of cooperative members carries this action (checked when it was made).
                let user = a.user_id.ok_or_else(invalid)?;
                crate::policy::require(
                    &uow.actor(),
                    crate::policy::Standing::NONE,
                    crate::policy::Action::ManageCoopMembership,
                )?;
                uow.accounts().set_coop_member(user, true).await.map(drop)
            }
        }
    }
}
