//! Who may do what: every permission rule of the product, in one table.
//!
//! A service gathers the actor's [`Standing`] towards what it acts on (does the user moderate the space, did
//! they write the post, are they the one invited) and asks [`require`] whether the actor may take the
//! [`Action`]. Privacy (who may *see* what) is not here but in the store's reads and [`crate::privacy`]; this
//! module decides who may *change* what.
//!
//! Actors:
//! - a **user** acts by their standing: moderators run their space, authors own their posts, an invitee
//!   answers their own invitation;
//! - a **decision** of a space (a poll that passed) has that space's authority — anything a moderator of the
//!   deciding space may do to it — and nothing personal (it writes no posts and answers no invitation); a
//!   decision of the root space also admits members to the cooperative;
//! - the **system** (jobs, maintenance) may do anything.

use crate::actor::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::SpaceId;
use crate::uow::Repos;

/// Something an actor may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // ---- holarchy (the standing is towards the space named) -------------------------------------------
    /// Place a space under another one (standing towards the child).
    AttachSpace,
    /// Accept a space under this one, at once or by answering its request (standing towards the parent).
    AdoptSpace,
    /// Take a space out from under a parent (standing towards either side).
    DetachSpace,
    /// See the requests to attach spaces under this one.
    SeeSpaceRequests,
    /// Change a space's name, description or privacy.
    EditSpace,
    /// Delete a space.
    DeleteSpace,
    // ---- membership and access ------------------------------------------------------------------------
    /// Answer someone's request for access to this space.
    AnswerAccessRequest,
    /// Invite someone into this private space.
    InviteMember,
    /// Read, rotate or revoke this space's invite link.
    ManageInviteLink,
    /// End someone else's membership of this space.
    RemoveMember,
    /// See the pending requests and invitations of this space.
    SeeAccessRequests,
    /// Invite someone to moderate this space.
    InviteModerator,
    /// Remove a moderator of this space.
    RemoveModerator,
    /// Answer an invitation (into a space, or to moderate one) addressed to the actor.
    AnswerInvitation,
    // ---- posts ----------------------------------------------------------------------------------------
    /// Hide or reinstate a post in this space.
    ModeratePost,
    /// Delete a post everywhere.
    DeletePost,
    /// Change a post's title, text or address.
    EditPost,
    /// Delete a comment (standing towards the comment's author and the spaces its post appears in).
    DeleteComment,
    // ---- polls ----------------------------------------------------------------------------------------
    /// Close a poll before its end time (standing towards the poll's post and the spaces it was posted in).
    ClosePoll,
    // ---- the platform ---------------------------------------------------------------------------------
    /// Grant or revoke someone's membership of the platform's cooperative.
    ManageCoopMembership,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::AttachSpace,
        Action::AdoptSpace,
        Action::DetachSpace,
        Action::SeeSpaceRequests,
        Action::EditSpace,
        Action::DeleteSpace,
        Action::AnswerAccessRequest,
        Action::InviteMember,
        Action::ManageInviteLink,
        Action::RemoveMember,
        Action::SeeAccessRequests,
        Action::InviteModerator,
        Action::RemoveModerator,
        Action::AnswerInvitation,
        Action::ModeratePost,
        Action::DeletePost,
        Action::EditPost,
        Action::DeleteComment,
        Action::ClosePoll,
        Action::ManageCoopMembership,
    ];

    /// What the actor needs to be, in words, for the error a refusal gives.
    fn refusal(self) -> &'static str {
        match self {
            Action::AttachSpace => "only a moderator of the child space can attach it",
            Action::AdoptSpace => "only a moderator of the parent space can accept spaces under it",
            Action::DetachSpace => "only moderators of the child or the parent can detach",
            Action::SeeSpaceRequests => "only moderators see a space's pending requests",
            Action::EditSpace => "only moderators of the space can edit it",
            Action::DeleteSpace => "only moderators of the space can delete it",
            Action::AnswerAccessRequest => "only moderators of the space can answer access requests",
            Action::InviteMember => "only moderators of the space can invite people into it",
            Action::ManageInviteLink => "only moderators of the space can manage its invite link",
            Action::RemoveMember => "only moderators of the space can remove its members",
            Action::SeeAccessRequests => "only moderators of the space can see its pending requests",
            Action::InviteModerator => "only moderators of the space can invite moderators",
            Action::RemoveModerator => "only moderators of the space can remove moderators",
            Action::AnswerInvitation => "only the invited user can answer an invitation",
            Action::ModeratePost => "only moderators of the space can remove or reinstate its posts",
            Action::DeletePost => "only its creator can delete a post",
            Action::EditPost => "only its creator can edit a post",
            Action::DeleteComment => "only its author or a moderator of a space the post is in can delete a comment",
            Action::ClosePoll => "only its creator or a moderator of a space it was posted in can close a poll",
            Action::ManageCoopMembership => "only platform admins grant or revoke membership of the cooperative",
        }
    }
}

/// What the actor is to the thing acted on. Gathered by the service from the store; a decision's standing is
/// "moderator" exactly towards its own space.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Standing {
    /// Moderates the space acted on (or is a decision of it).
    pub moderator: bool,
    /// Wrote the post acted on.
    pub author: bool,
    /// Is the user an invitation acted on is addressed to.
    pub invitee: bool,
    /// Is a platform admin (named in the setting `WECO_ADMINS`).
    pub admin: bool,
}

impl Standing {
    pub const NONE: Standing = Standing { moderator: false, author: false, invitee: false, admin: false };
    pub const MODERATOR: Standing = Standing { moderator: true, ..Standing::NONE };
    pub const AUTHOR: Standing = Standing { author: true, ..Standing::NONE };
    pub const INVITEE: Standing = Standing { invitee: true, ..Standing::NONE };
    pub const ADMIN: Standing = Standing { admin: true, ..Standing::NONE };
}

/// Whether `actor`, standing as `standing`, may take `action`.
pub fn allows(actor: &Actor, standing: Standing, action: Action) -> bool {
    match actor {
        Actor::System => true,
        Actor::User(_) => match action {
            Action::DeletePost | Action::EditPost => standing.author,
            Action::DeleteComment => standing.author || standing.moderator,
            Action::AnswerInvitation => standing.invitee,
            Action::ClosePoll => standing.author || standing.moderator,
            Action::ManageCoopMembership => standing.admin,
            _ => standing.moderator,
        },
        Actor::Decision { space, .. } => match action {
            // Nothing personal: a decision writes no posts and is invited nowhere.
            Action::DeletePost | Action::EditPost | Action::AnswerInvitation => false,
            // The cooperative decides who joins it through polls of the root space (and only those).
            Action::ManageCoopMembership => *space == crate::ids::ROOT_SPACE_ID,
            _ => standing.moderator,
        },
    }
}

/// `FORBIDDEN` (naming who may) unless `actor` may take `action`.
pub fn require(actor: &Actor, standing: Standing, action: Action) -> DomainResult<()> {
    if allows(actor, standing, action) { Ok(()) } else { Err(DomainError::forbidden(action.refusal())) }
}

/// The actor's standing as a moderator of `space`: a user who moderates it, a decision of that very space, or
/// the system.
pub(crate) async fn moderator_of(repos: &dyn Repos, actor: &Actor, space: SpaceId) -> DomainResult<Standing> {
    let moderator = match actor {
        Actor::User(user) => !repos.holarchy().moderated_among(*user, &[space]).await?.is_empty(),
        Actor::Decision { space: deciding, .. } => *deciding == space,
        Actor::System => true,
    };
    Ok(Standing { moderator, ..Standing::NONE })
}

/// [`require`] for an action on `space` that takes its moderators.
pub(crate) async fn require_moderator(
    repos: &dyn Repos,
    actor: &Actor,
    space: SpaceId,
    action: Action,
) -> DomainResult<()> {
    require(actor, moderator_of(repos, actor, space).await?, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PostId, SpaceId, UserId};

    /// The whole table: actor kind × action × standing → allowed. Read a row as "a <actor> who is <standing>
    /// may <action>".
    #[test]
    fn the_permission_table() {
        let user = Actor::User(UserId::generate());
        let decision = Actor::Decision { space: SpaceId::generate(), poll: PostId::generate() };
        let system = Actor::System;
        let root_decision = Actor::Decision { space: crate::ids::ROOT_SPACE_ID, poll: PostId::generate() };
        use Action::*;
        let moderated = [
            AttachSpace,
            AdoptSpace,
            DetachSpace,
            SeeSpaceRequests,
            EditSpace,
            DeleteSpace,
            AnswerAccessRequest,
            InviteMember,
            ManageInviteLink,
            RemoveMember,
            SeeAccessRequests,
            InviteModerator,
            RemoveModerator,
            ModeratePost,
        ];
        // (actor, standing, action, allowed)
        let mut table: Vec<(&Actor, Standing, Action, bool)> = Vec::new();
        for action in moderated {
            table.extend([
                (&user, Standing::MODERATOR, action, true),
                (&user, Standing::NONE, action, false),
                (&user, Standing::AUTHOR, action, false),
                (&user, Standing::INVITEE, action, false),
                (&decision, Standing::MODERATOR, action, true),
                (&decision, Standing::NONE, action, false),
                (&system, Standing::NONE, action, true),
            ]);
        }
        table.extend([
            (&user, Standing::AUTHOR, DeletePost, true),
            (&user, Standing::MODERATOR, DeletePost, false),
            (&user, Standing::NONE, DeletePost, false),
            (&decision, Standing::MODERATOR, DeletePost, false),
            (&system, Standing::NONE, DeletePost, true),
            (&user, Standing::AUTHOR, EditPost, true),
            (&user, Standing::MODERATOR, EditPost, false),
            (&user, Standing::NONE, EditPost, false),
            (&decision, Standing::MODERATOR, EditPost, false),
            (&system, Standing::NONE, EditPost, true),
            (&user, Standing::AUTHOR, DeleteComment, true),
            (&user, Standing::MODERATOR, DeleteComment, true),
            (&user, Standing::NONE, DeleteComment, false),
            (&user, Standing::INVITEE, DeleteComment, false),
            (&decision, Standing::MODERATOR, DeleteComment, true),
            (&decision, Standing::NONE, DeleteComment, false),
            (&system, Standing::NONE, DeleteComment, true),
            (&user, Standing::INVITEE, AnswerInvitation, true),
            (&user, Standing::MODERATOR, AnswerInvitation, false),
            (&user, Standing::NONE, AnswerInvitation, false),
            (&decision, Standing::MODERATOR, AnswerInvitation, false),
            (&system, Standing::NONE, AnswerInvitation, true),
            (&user, Standing::AUTHOR, ClosePoll, true),
            (&user, Standing::MODERATOR, ClosePoll, true),
            (&user, Standing::NONE, ClosePoll, false),
            (&user, Standing::INVITEE, ClosePoll, false),
            (&decision, Standing::MODERATOR, ClosePoll, true),
            (&decision, Standing::NONE, ClosePoll, false),
            (&system, Standing::NONE, ClosePoll, true),
            (&user, Standing::ADMIN, ManageCoopMembership, true),
            (&user, Standing::MODERATOR, ManageCoopMembership, false),
            (&user, Standing::NONE, ManageCoopMembership, false),
            (&decision, Standing::MODERATOR, ManageCoopMembership, false),
            (&root_decision, Standing::NONE, ManageCoopMembership, true),
            (&system, Standing::NONE, ManageCoopMembership, true),
        ]);
        for (actor, standing, action, allowed) in &table {
            assert_eq!(allows(actor, *standing, *action), *allowed, "{actor:?} as {standing:?} → {action:?}");
        }
        // Every action is in the table.
        for action in Action::ALL {
            assert!(table.iter().any(|(_, _, a, _)| *a == action), "{action:?} has no row");
        }
    }

    #[test]
    fn a_refusal_is_forbidden_and_says_who_may() {
        let err = require(&Actor::User(UserId::generate()), Standing::NONE, Action::DeleteSpace).expect_err("refused");
        assert_eq!(err.code(), "FORBIDDEN");
        assert!(err.to_string().contains("moderators"), "{err}");
    }
}
