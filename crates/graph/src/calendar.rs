//! Events in the schema: `Event` (reached as `Post.event`), the event input of `createPost`, answering and
//! moving events, and the loaders behind them. A space's calendar is `Space.events` (holarchy).

use crate::accounts::{UserConnection, UserObject};
use crate::connection::{cost, int, page_request_in};
use crate::enums::Depth;
use crate::error::ApiResult;
use crate::ids::parse_id;
use crate::posts::PostObject;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Enum, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::calendar::{self, EventDetails};
use weco_domain::privacy::Accessible;
use weco_domain::{App, DomainError, PostId, Viewer};

/// How someone answers an event.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EventResponse {
    Going,
    Interested,
}

impl From<EventResponse> for calendar::EventResponse {
    fn from(r: EventResponse) -> Self {
        match r {
            EventResponse::Going => Self::Going,
            EventResponse::Interested => Self::Interested,
        }
    }
}

impl From<calendar::EventResponse> for EventResponse {
    fn from(r: calendar::EventResponse) -> Self {
        match r {
            calendar::EventResponse::Going => Self::Going,
            calendar::EventResponse::Interested => Self::Interested,
        }
    }
}

/// When and where an event takes place.
#[derive(InputObject)]
pub struct EventInput {
    pub starts_at: DateTime<Utc>,
    /// Not before `startsAt`; an event lasts at most 366 days.
    pub ends_at: Option<DateTime<Utc>>,
    /// At most 300 characters.
    pub location: Option<String>,
}

impl EventInput {
    pub(crate) fn into_domain(self) -> calendar::EventInput {
        calendar::EventInput { starts_at: self.starts_at, ends_at: self.ends_at, location: self.location }
    }
}

/// The events of posts, those the viewer may see.
pub(crate) struct EventLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for EventLoader {
    type Value = EventDetails;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, EventDetails>, DomainError> {
        Ok(self.app.events().events(self.viewer, keys).await?.into_iter().map(|e| (e.post_id, e)).collect())
    }
}

/// The viewer's answer to each event (absent when none).
pub(crate) struct ViewerResponseLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for ViewerResponseLoader {
    type Value = calendar::EventResponse;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, calendar::EventResponse>, DomainError> {
        self.app.events().viewer_responses(self.viewer, keys).await
    }
}

/// An event: a post with a time and a place.
#[derive(Clone)]
pub struct EventObject(pub Arc<EventDetails>);

impl From<EventDetails> for EventObject {
    fn from(e: EventDetails) -> Self {
        Self(Arc::new(e))
    }
}

impl EventObject {
    async fn responders(
        &self,
        ctx: &Context<'_>,
        response: calendar::EventResponse,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).events().responders(scope(ctx)?.viewer, self.0.post_id, response, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }
}

#[Object(name = "Event")]
impl EventObject {
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }

    async fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }

    /// People going.
    async fn total_going(&self) -> i32 {
        int(self.0.total_going)
    }

    /// People interested.
    async fn total_interested(&self) -> i32 {
        int(self.0.total_interested)
    }

    /// Who is going, most recent answer first (users the viewer mutes left out).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn going(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        self.responders(ctx, calendar::EventResponse::Going, first, after).await
    }

    /// Who is interested, most recent answer first (users the viewer mutes left out).
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn interested(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        self.responders(ctx, calendar::EventResponse::Interested, first, after).await
    }

    /// The viewer's answer; null when they gave none.
    async fn viewer_response(&self, ctx: &Context<'_>) -> ApiResult<Option<EventResponse>> {
        if scope(ctx)?.viewer.id().is_none() {
            return Ok(None);
        }
        Ok(scope(ctx)?.loaders.viewer_responses.load_one(self.0.post_id).await?.map(Into::into))
    }
}

/// `Space.events`: the events appearing in a space (or, with `DIRECT`, placed in it directly) that start in
/// `[from, to)`, soonest first.
pub(crate) async fn space_events(
    ctx: &Context<'_>,
    space: Accessible,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    depth: Depth,
) -> ApiResult<Vec<PostObject>> {
    let events = app(ctx).events().space_events(space, from, to, depth.into()).await?;
    let scope = scope(ctx)?;
    let mut posts = Vec::with_capacity(events.len());
    for (post, event) in events {
        scope.loaders.events.feed_one(post.id, event).await;
        posts.push(PostObject::from(post));
    }
    Ok(posts)
}

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
    /// Answers an event GOING or INTERESTED, replacing an earlier answer; a null response withdraws it.
    async fn respond_to_event(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        response: Option<EventResponse>,
    ) -> ApiResult<EventObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&post_id, "postId")?;
        let event = app(ctx).events().respond(scope.viewer, post, response.map(Into::into)).await?;
        scope.invalidate();
        Ok(event.into())
    }

    /// Moves an event (its time and place; its creator only). Its reminder moves with it.
    async fn update_event(&self, ctx: &Context<'_>, post_id: ID, input: EventInput) -> ApiResult<EventObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&post_id, "postId")?;
        let event = app(ctx).events().update_event(scope.viewer, post, input.into_domain()).await?;
        scope.invalidate();
        Ok(event.into())
    }
}
