//! Notifications in the schema: `Notification`, `User.notifications` and `User.unseenNotifications` (the user
//! themself only), `markNotificationsSeen`, and the live `notifications` subscription.

use crate::accounts::{UserObject, load_user};
use crate::connection::{connection, int, page_request_in};
use crate::error::{ApiError, ApiResult};
use crate::holarchy::SpaceObject;
use crate::ids::{parse_id, to_id};
use crate::posts::{CommentObject, PostObject};
use crate::scope::{RequestScope, app, scope};
use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use weco_domain::events::{Delivery, Event, Topic};
use weco_domain::notifications::{Notification, NotificationKind as Kind};
use weco_domain::{DomainError, NotificationId, UserId};

/// What a notification is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NotificationKind {
    /// Someone commented on your post (folded per post and day).
    PostCommented,
    /// Someone replied to your comment (folded per comment and day).
    CommentReplied,
    /// Someone liked your post (folded per post and day).
    PostLiked,
    /// Someone rated your post (folded per post and day).
    PostRated,
    /// Someone reposted your post into more spaces (folded per post and day).
    PostReposted,
    /// Someone mentioned you as `@handle` in a post or comment you can see.
    Mentioned,
    /// Someone followed you (folded per day).
    UserFollowed,
    /// A space asks to be attached under one you moderate.
    SpaceRequestReceived,
    /// Your request to attach a space was answered.
    SpaceRequestAnswered,
    /// Someone asks for access to a private space you moderate.
    AccessRequestReceived,
    /// Your request for access was answered.
    AccessRequestAnswered,
    /// You were invited into a private space.
    SpaceInvitation,
    /// You were invited to moderate a space.
    ModeratorInvitation,
    /// A poll you voted in was decided.
    PollDecided,
    /// An event you respond to starts soon.
    EventStarting,
    /// A message in one of your chats.
    MessageReceived,
}

impl From<Kind> for NotificationKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::PostCommented => Self::PostCommented,
            Kind::CommentReplied => Self::CommentReplied,
            Kind::PostLiked => Self::PostLiked,
            Kind::PostRated => Self::PostRated,
            Kind::PostReposted => Self::PostReposted,
            Kind::Mentioned => Self::Mentioned,
            Kind::UserFollowed => Self::UserFollowed,
            Kind::SpaceRequestReceived => Self::SpaceRequestReceived,
            Kind::SpaceRequestAnswered => Self::SpaceRequestAnswered,
            Kind::AccessRequestReceived => Self::AccessRequestReceived,
            Kind::AccessRequestAnswered => Self::AccessRequestAnswered,
            Kind::SpaceInvitation => Self::SpaceInvitation,
            Kind::ModeratorInvitation => Self::ModeratorInvitation,
            Kind::PollDecided => Self::PollDecided,
            Kind::EventStarting => Self::EventStarting,
            Kind::MessageReceived => Self::MessageReceived,
        }
    }
}

/// Something that happened that concerns the viewer. Several people doing the same to the same thing on one day
/// are one notification: `count` of them, `actor` the latest.
#[derive(Clone)]
pub struct NotificationObject(pub Arc<Notification>);

impl From<Notification> for NotificationObject {
    fn from(n: Notification) -> Self {
        Self(Arc::new(n))
    }
}

#[Object(name = "Notification")]
impl NotificationObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn kind(&self) -> NotificationKind {
        self.0.kind.into()
    }

    /// When it happened (last, for a folded notification).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn seen(&self) -> bool {
        self.0.seen
    }

    /// Who did it (the latest of them).
    async fn actor(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        match self.0.actor_id {
            Some(id) => load_user(ctx, id).await.map(Some),
            None => Ok(None),
        }
    }

    /// How many people are folded into this notification.
    async fn count(&self) -> i32 {
        int(self.0.count)
    }

    /// The post it is about, if the viewer may see it.
    async fn post(&self, ctx: &Context<'_>) -> ApiResult<Option<PostObject>> {
        let Some(id) = self.0.post_id else { return Ok(None) };
        Ok(scope(ctx)?.loaders.posts.load_one(id).await?.map(PostObject::from))
    }

    /// The comment it is about (the latest one, for folded comments and replies), if the viewer may see it.
    async fn comment(&self, ctx: &Context<'_>) -> ApiResult<Option<CommentObject>> {
        let Some(id) = self.0.comment_id else { return Ok(None) };
        Ok(scope(ctx)?.loaders.comments.load_one(id).await?.map(CommentObject::from))
    }

    /// The space it is about, as the viewer may see it.
    async fn space(&self, ctx: &Context<'_>) -> ApiResult<Option<SpaceObject>> {
        let Some(id) = self.0.space_id else { return Ok(None) };
        Ok(scope(ctx)?.loaders.spaces.load_one(id).await?.map(SpaceObject::from))
    }

    /// The chat a MESSAGE_RECEIVED is about, while the viewer is a member of it.
    async fn chat(&self, ctx: &Context<'_>) -> ApiResult<Option<crate::chat::ChatObject>> {
        crate::chat::chat_of_notification(ctx, self.0.chat_id).await
    }
}

connection!(NotificationConnection, NotificationEdge, NotificationObject, "notification");

/// `User.notifications`: the user's own, newest first; `FORBIDDEN` for anyone else.
pub(crate) async fn notifications(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
    unseen_only: bool,
) -> ApiResult<NotificationConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).notifications().list(scope(ctx)?.viewer, user, unseen_only, page).await?;
    Ok(NotificationConnection::from_page(page, NotificationObject::from))
}

/// `User.unseenNotifications`: null for anyone but the user themself.
pub(crate) async fn unseen(ctx: &Context<'_>, user: UserId) -> ApiResult<Option<i32>> {
    Ok(app(ctx).notifications().unseen(scope(ctx)?.viewer, user).await?.map(int))
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks the viewer's notifications `ids` seen (all of them when no ids are given); returns how many changed.
    async fn mark_notifications_seen(&self, ctx: &Context<'_>, ids: Option<Vec<ID>>) -> ApiResult<i32> {
        let scope = scope(ctx)?;
        let ids = ids
            .map(|ids| ids.iter().map(|id| parse_id::<NotificationId>(id, "ids")).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        let changed = app(ctx).notifications().mark_seen(scope.viewer, ids).await?;
        scope.invalidate();
        Ok(i32::try_from(changed).unwrap_or(i32::MAX))
    }
}

/// The viewer's notifications, live: each one written or folded into from now on, once it is checked that it may
/// still be shown (its actor not muted, its post still visible). Anonymous viewers get `UNAUTHENTICATED`.
pub(crate) async fn live(
    ctx: &Context<'_>,
) -> Result<impl Stream<Item = Result<NotificationObject, ApiError>> + use<>, ApiError> {
    let app = app(ctx).clone();
    let scope: RequestScope = scope(ctx)?.clone();
    let viewer = scope.viewer;
    let me = viewer.require()?;
    let deliveries = app.bus().subscribe_confirmed(Topic::User(me)).await;
    let events = deliveries
        .then(move |delivery| {
            let (app, scope) = (app.clone(), scope.clone());
            async move {
                scope.invalidate();
                let envelope = match delivery {
                    Delivery::Lagged(n) => {
                        return Some(Err(ApiError(DomainError::Conflict(format!(
                            "RESYNC: {n} notifications were dropped for this subscriber; read User.notifications"
                        )))));
                    }
                    Delivery::Event(envelope) => envelope,
                };
                let Event::NotificationCreated { notification } = &envelope.event else { return None };
                match app.notifications().may_deliver(viewer, notification).await {
                    Ok(true) => Some(Ok(NotificationObject::from(notification.as_ref().clone()))),
                    Ok(false) => None,
                    Err(e) => Some(Err(ApiError(e))),
                }
            }
        })
        .filter_map(|x| async move { x });
    Ok(events)
}
