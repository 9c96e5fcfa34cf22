//! Notifications: what happened that concerns a user — a like, a comment, a reply, a mention, a new follower —
//! written in the transaction of the action that caused it and announced on the recipient's topic, so the
//! outbox carries it to every replica and it is never lost between commit and delivery.
//!
//! The rules (docs/notifications.md):
//! - Nobody is notified of their own actions, nor of the actions of a user they mute.
//! - Nobody is notified about a post they may not see; and since access can be lost later, every read (the
//!   list, the unseen count, a live delivery) checks again and leaves out what may no longer be shown.
//! - Reactions fold: all the likes of one post on one day are one notification, with the number of people
//!   (`count`) and the latest of them (`actor`); likewise ratings, reposts, comments on a post, replies to a
//!   comment and new followers. Mentions and answers to requests are one notification each.
//! - A notification that folds in one more actor becomes unseen again and moves to the top.

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Event, Topic};
use crate::ids::*;
use crate::page::{Page, PageRequest};
use crate::uow::{Command, UnitOfWork};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use uuid::Uuid;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationKind {
    PostCommented,
    CommentReplied,
    PostLiked,
    PostRated,
    PostReposted,
    Mentioned,
    UserFollowed,
    SpaceRequestReceived,
    SpaceRequestAnswered,
    AccessRequestReceived,
    AccessRequestAnswered,
    SpaceInvitation,
    ModeratorInvitation,
    PollDecided,
    EventStarting,
    MessageReceived,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 16] = [
        Self::PostCommented,
        Self::CommentReplied,
        Self::PostLiked,
        Self::PostRated,
        Self::PostReposted,
        Self::Mentioned,
        Self::UserFollowed,
        Self::SpaceRequestReceived,
        Self::SpaceRequestAnswered,
        Self::AccessRequestReceived,
        Self::AccessRequestAnswered,
        Self::SpaceInvitation,
        Self::ModeratorInvitation,
        Self::PollDecided,
        Self::EventStarting,
        Self::MessageReceived,
    ];

    /// The stored word (the API's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostCommented => "POST_COMMENTED",
            Self::CommentReplied => "COMMENT_REPLIED",
            Self::PostLiked => "POST_LIKED",
            Self::PostRated => "POST_RATED",
            Self::PostReposted => "POST_REPOSTED",
            Self::Mentioned => "MENTIONED",
            Self::UserFollowed => "USER_FOLLOWED",
            Self::SpaceRequestReceived => "SPACE_REQUEST_RECEIVED",
            Self::SpaceRequestAnswered => "SPACE_REQUEST_ANSWERED",
            Self::AccessRequestReceived => "ACCESS_REQUEST_RECEIVED",
            Self::AccessRequestAnswered => "ACCESS_REQUEST_ANSWERED",
            Self::SpaceInvitation => "SPACE_INVITATION",
            Self::ModeratorInvitation => "MODERATOR_INVITATION",
            Self::PollDecided => "POLL_DECIDED",
            Self::EventStarting => "EVENT_STARTING",
            Self::MessageReceived => "MESSAGE_RECEIVED",
        }
    }

    pub fn parse(word: &str) -> DomainResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == word)
            .ok_or_else(|| DomainError::internal("decoding notification", format!("unknown kind {word}")))
    }
}

/// How a notification folds with others of its kind for the same recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// With every other about the same thing (a post, a comment, the recipient) on the same UTC day.
    PerDay(Uuid),
    /// Never: one notification per thing (a mention in one post or comment, one request).
    Never(Uuid),
}

/// A notification to write (or to fold into an existing one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub recipient: UserId,
    pub kind: NotificationKind,
    /// Who acted; `None` for what no one person did (a decision, a reminder).
    pub actor: Option<UserId>,
    pub post: Option<PostId>,
    pub comment: Option<CommentId>,
    pub space: Option<SpaceId>,
    pub fold: Fold,
}

impl NewNotification {
    /// The chat it is about: a `MESSAGE_RECEIVED` folds on its chat.
    pub fn chat(&self) -> Option<ChatId> {
        match (self.kind, self.fold) {
            (NotificationKind::MessageReceived, Fold::PerDay(about) | Fold::Never(about)) => Some(ChatId(about)),
            _ => None,
        }
    }

    /// The key rows fold on, unique per recipient.
    pub fn fold_key(&self, at: DateTime<Utc>) -> String {
        match self.fold {
            Fold::PerDay(about) => format!("{}:{about}:{}", self.kind.as_str(), at.format("%Y-%m-%d")),
            Fold::Never(about) => format!("{}:{about}", self.kind.as_str()),
        }
    }
}

/// A notification as stored (and as it travels on the bus).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub recipient_id: UserId,
    pub kind: NotificationKind,
    /// The latest actor.
    pub actor_id: Option<UserId>,
    pub post_id: Option<PostId>,
    pub comment_id: Option<CommentId>,
    pub space_id: Option<SpaceId>,
    /// The chat a `MESSAGE_RECEIVED` is about.
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    /// How many actors are folded into it.
    pub count: i64,
    pub seen: bool,
    /// When it was written, or last folded into.
    pub created_at: DateTime<Utc>,
}

/// Writes a notification in the unit of work, and announces it on the recipient's topic once committed. One
/// statement, none when the actor would notify themself.
pub(crate) async fn notify(uow: &mut UnitOfWork, new: NewNotification) -> DomainResult<()> {
    if Some(new.recipient) == new.actor {
        return Ok(());
    }
    let at = uow.now();
    let key = new.fold_key(at);
    if let Some(written) = uow.notifications().upsert(&new, NotificationId::generate(), &key, at).await? {
        uow.announce(
            vec![Topic::User(written.recipient_id)],
            Event::NotificationCreated { notification: Box::new(written) },
        );
    }
    Ok(())
}

/// The most moderators of one space told of a request to it.
pub const MAX_MODERATORS_TOLD: i64 = 100;

/// Tells the moderators of `space` (the first [`MAX_MODERATORS_TOLD`]) of something that needs one of them.
pub(crate) async fn notify_moderators(
    uow: &mut UnitOfWork,
    space: SpaceId,
    kind: NotificationKind,
    actor: Option<UserId>,
    fold: Fold,
) -> DomainResult<()> {
    let moderators = uow.access().moderators(space, &PageRequest::first(MAX_MODERATORS_TOLD)).await?;
    for (_, moderator) in moderators.items {
        let new = NewNotification {
            recipient: moderator.id,
            kind,
            actor,
            post: None,
            comment: None,
            space: Some(space),
            fold,
        };
        notify(uow, new).await?;
    }
    Ok(())
}

/// Tells `recipient` of something about `space` (an answer, an invitation): one notification each.
pub(crate) async fn notify_about_space(
    uow: &mut UnitOfWork,
    recipient: UserId,
    kind: NotificationKind,
    space: SpaceId,
    about: Uuid,
) -> DomainResult<()> {
    let actor = uow.actor().user();
    let new = NewNotification {
        recipient,
        kind,
        actor,
        post: None,
        comment: None,
        space: Some(space),
        fold: Fold::Never(about),
    };
    notify(uow, new).await
}

/// The most users one text may mention (the rest are not notified).
pub const MAX_MENTIONS: usize = 20;

/// The handles mentioned in `text` as `@handle`, lower-cased, each once, at most [`MAX_MENTIONS`]. An `@`
/// inside a word (an e-mail address) mentions nobody.
pub fn mentions(text: &str) -> Vec<String> {
    let is_handle_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut i = 0;
    while i < chars.len() && found.len() < MAX_MENTIONS {
        let starts = chars[i] == '@' && (i == 0 || !(is_handle_char(chars[i - 1]) || chars[i - 1] == '@'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && is_handle_char(chars[j]) {
            j += 1;
        }
        let handle: String = chars[i + 1..j].iter().collect::<String>().to_lowercase();
        let handle = handle.trim_end_matches(['-', '_']).to_owned();
        if (crate::values::Handle::MIN..=crate::values::Handle::MAX).contains(&handle.len())
            && seen.insert(handle.clone())
        {
            found.push(handle);
        }
        i = j;
    }
    found
}

/// Notifies the users mentioned in `texts` (the title and text of a post, or a comment), except those in
/// `already` (told of the same thing another way). Each is notified only if they may see the post.
/// The users that `texts` mention (at most [`MAX_MENTIONS`]).
pub(crate) async fn mentioned_users(uow: &UnitOfWork, texts: &[Option<&str>]) -> DomainResult<Vec<UserId>> {
    let mut handles: Vec<String> = Vec::new();
    for text in texts.iter().flatten() {
        for h in mentions(text) {
            if !handles.contains(&h) && handles.len() < MAX_MENTIONS {
                handles.push(h);
            }
        }
    }
    if handles.is_empty() {
        return Ok(Vec::new());
    }
    Ok(uow.people().users_by_handles(&handles).await?.into_iter().map(|u| u.id).collect())
}

pub(crate) async fn notify_mentions(
    uow: &mut UnitOfWork,
    actor: UserId,
    texts: &[Option<&str>],
    post: PostId,
    comment: Option<CommentId>,
    already: &[UserId],
) -> DomainResult<()> {
    let mut handles: Vec<String> = Vec::new();
    for text in texts.iter().flatten() {
        for h in mentions(text) {
            if !handles.contains(&h) && handles.len() < MAX_MENTIONS {
                handles.push(h);
            }
        }
    }
    if handles.is_empty() {
        return Ok(());
    }
    let users = uow.people().users_by_handles(&handles).await?;
    let about = comment.map_or(post.0, |c| c.0);
    for user in users {
        if already.contains(&user.id) {
            continue;
        }
        let new = NewNotification {
            recipient: user.id,
            kind: NotificationKind::Mentioned,
            actor: Some(actor),
            post: Some(post),
            comment,
            space: None,
            fold: Fold::Never(about),
        };
        notify(uow, new).await?;
    }
    Ok(())
}

/// The notifications service: `app.notifications()`.
pub struct NotificationService<'a> {
    pub(crate) app: &'a App,
}

struct MarkSeen {
    ids: Option<Vec<NotificationId>>,
}

#[async_trait]
impl Command for MarkSeen {
    type Output = u64;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<u64> {
        let user = uow.actor().require_user()?;
        uow.notifications().mark_seen(user, self.ids.as_deref()).await
    }
}

/// The most ids one `markNotificationsSeen` may name.
pub const MAX_MARKED: usize = 500;

impl NotificationService<'_> {
    /// The viewer's notifications, newest first (only the viewer's own).
    pub async fn list(
        &self,
        viewer: Viewer,
        user: UserId,
        unseen_only: bool,
        page: PageRequest,
    ) -> DomainResult<Page<Notification>> {
        let me = viewer.require()?;
        if me != user {
            return Err(DomainError::forbidden("only the user themself may read their notifications"));
        }
        self.app.reads(viewer).notifications().notifications(me, unseen_only, &page).await
    }

    /// How many of the viewer's notifications are unseen; `None` for anyone but the user themself.
    pub async fn unseen(&self, viewer: Viewer, user: UserId) -> DomainResult<Option<i64>> {
        match viewer.id() {
            Some(me) if me == user => Ok(Some(self.app.reads(viewer).notifications().unseen(me).await?)),
            _ => Ok(None),
        }
    }

    /// Marks the viewer's notifications `ids` (all of them when `None`) seen; returns how many changed.
    pub async fn mark_seen(&self, viewer: Viewer, ids: Option<Vec<NotificationId>>) -> DomainResult<u64> {
        let actor = viewer.actor()?;
        if ids.as_ref().is_some_and(|ids| ids.len() > MAX_MARKED) {
            return Err(DomainError::validation("ids", format!("name at most {MAX_MARKED} notifications")));
        }
        self.app.execute(actor, &MarkSeen { ids }).await
    }

    /// Whether a notification that was just announced may still be shown to the viewer (it is theirs, its actor
    /// is not muted, its post is visible to them). Read on the primary: the notification was written by someone
    /// else's unit of work, which a replica may not have replayed yet.
    pub async fn may_deliver(&self, viewer: Viewer, notification: &Notification) -> DomainResult<bool> {
        let Some(me) = viewer.id() else { return Ok(false) };
        if notification.recipient_id != me {
            return Ok(false);
        }
        let shown = self.app.ports.store.notifications().shown_among(me, &[notification.id]).await?;
        Ok(!shown.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_once_each_and_never_inside_words() {
        assert_eq!(mentions("hi @Ada and @bob-smith, @ada again"), vec!["ada", "bob-smith"]);
        assert_eq!(mentions("mail ada@example.org"), Vec::<String>::new());
        assert_eq!(mentions("@a is too short, @@ada is not one, (@carla)"), vec!["carla"]);
        assert_eq!(mentions("@dan."), vec!["dan"]);
    }

    #[test]
    fn reactions_fold_per_day_and_mentions_never() {
        let post = PostId::generate();
        let new = NewNotification {
            recipient: UserId::generate(),
            kind: NotificationKind::PostLiked,
            actor: Some(UserId::generate()),
            post: Some(post),
            comment: None,
            space: None,
            fold: Fold::PerDay(post.0),
        };
        let day = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        assert_eq!(new.fold_key(day), new.fold_key(day + chrono::Duration::hours(1)));
        assert_ne!(new.fold_key(day), new.fold_key(day + chrono::Duration::days(1)));
        let mention = NewNotification { kind: NotificationKind::Mentioned, fold: Fold::Never(post.0), ..new };
        assert_eq!(mention.fold_key(day), mention.fold_key(day + chrono::Duration::days(3)));
    }

    #[test]
    fn every_kind_round_trips_through_its_word() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()).ok(), Some(kind));
        }
    }
}
