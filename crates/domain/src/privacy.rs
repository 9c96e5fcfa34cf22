//! The privacy boundary (docs/privacy.md). Reads leave the domain already filtered for their viewer:
//!
//! - [`Accessible`] proves that a viewer may access a space (rule 1). Only this crate can make one, from what
//!   the store read for that viewer; every read inside a space (its feed, its children, its members) takes one,
//!   so no caller can skip the check or pass a stale answer for another viewer.
//! - [`SpaceView`] is a space as its viewer may see it: without access only its id, handle, name and privacy
//!   (rule 6) — the details are not there to leak.

use crate::actor::Viewer;
use crate::error::{DomainError, DomainResult};
use crate::ids::{SpaceId, UserId};
use crate::model::Space;
use crate::values::Privacy;
use chrono::{DateTime, Utc};

/// Proof that `viewer` may access `space`. Cheap to copy; made only by the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Accessible {
    space: SpaceId,
    viewer: Viewer,
}

impl Accessible {
    /// Made where the domain has read the viewer's access.
    pub(crate) fn grant(viewer: Viewer, space: SpaceId) -> Self {
        Self { space, viewer }
    }

    pub fn space(&self) -> SpaceId {
        self.space
    }

    pub fn viewer(&self) -> Viewer {
        self.viewer
    }

    /// Checks the proof was made for `viewer` (a proof never crosses from one viewer's request to another's).
    pub(crate) fn check(&self, viewer: Viewer) -> DomainResult<SpaceId> {
        if self.viewer == viewer {
            Ok(self.space)
        } else {
            Err(DomainError::internal("checking access", "a proof of access was made for another viewer"))
        }
    }
}

/// What a viewer with access sees of a space beyond its name.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceDetails {
    pub description: String,
    pub creator_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub total_posts: i64,
    pub total_post_likes: i64,
    pub total_comments: i64,
    pub total_followers: i64,
    pub last_activity_at: DateTime<Utc>,
}

/// A space as one viewer may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceView {
    pub id: SpaceId,
    pub handle: String,
    pub name: String,
    pub privacy: Privacy,
    /// Set when the viewer may access the space.
    pub access: Option<Accessible>,
    /// Set exactly when `access` is.
    pub details: Option<SpaceDetails>,
}

impl SpaceView {
    /// The view of `space` for `viewer`, who may access it or not.
    pub(crate) fn new(space: Space, viewer: Viewer, accessible: bool) -> Self {
        let access = accessible.then(|| Accessible::grant(viewer, space.id));
        let details = accessible.then_some(SpaceDetails {
            description: space.description,
            creator_id: space.creator_id,
            created_at: space.created_at,
            total_posts: space.total_posts,
            total_post_likes: space.total_post_likes,
            total_comments: space.total_comments,
            total_followers: space.total_followers,
            last_activity_at: space.last_activity_at,
        });
        Self { id: space.id, handle: space.handle, name: space.name, privacy: space.privacy, access, details }
    }

    /// Views of rows the store read with the viewer's access beside each.
    pub(crate) fn all(rows: Vec<(Space, bool)>, viewer: Viewer) -> Vec<Self> {
        rows.into_iter().map(|(space, ok)| Self::new(space, viewer, ok)).collect()
    }
}

/// Proof that `user` is a member of `chat`: only members read a chat, write in it or listen to it. Made only by
/// the domain, from the store's answer read for that user (`crate::chat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChatMember {
    chat: crate::ids::ChatId,
    user: UserId,
}

impl ChatMember {
    /// Made where the domain has read the membership.
    pub(crate) fn grant(user: UserId, chat: crate::ids::ChatId) -> Self {
        Self { chat, user }
    }

    pub fn chat(&self) -> crate::ids::ChatId {
        self.chat
    }

    pub fn user(&self) -> UserId {
        self.user
    }

    /// The viewer the proof was made for.
    pub fn viewer(&self) -> Viewer {
        Viewer::user(self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        Space {
            id: SpaceId::generate(),
            handle: "inner".into(),
            name: "Inner".into(),
            description: "secret plans".into(),
            privacy: Privacy::Private,
            creator_id: Some(UserId::generate()),
            created_at: Utc::now(),
            total_posts: 7,
            total_post_likes: 3,
            total_comments: 2,
            total_followers: 5,
            last_activity_at: Utc::now(),
        }
    }

    #[test]
    fn a_viewer_without_access_sees_only_the_name_of_a_space() {
        let view = SpaceView::new(space(), Viewer::ANONYMOUS, false);
        assert_eq!((view.handle.as_str(), view.name.as_str()), ("inner", "Inner"));
        assert!(view.access.is_none() && view.details.is_none());
        assert!(!format!("{view:?}").contains("secret"));
    }

    #[test]
    fn a_viewer_with_access_sees_the_details_and_holds_a_proof_for_themself_only() {
        let me = Viewer::user(UserId::generate());
        let view = SpaceView::new(space(), me, true);
        assert_eq!(view.details.as_ref().map(|d| d.total_posts), Some(7));
        let proof = view.access.expect("access");
        assert_eq!(proof.check(me).ok(), Some(view.id));
        assert!(proof.check(Viewer::ANONYMOUS).is_err());
    }
}
