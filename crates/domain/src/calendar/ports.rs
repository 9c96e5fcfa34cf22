//! What the events area needs from a store: an event per post, who responded how, and the calendar of a space.

use super::{EventDetails, EventResponse, NewEvent};
use crate::error::DomainResult;
use crate::ids::*;
use crate::model::Post;
use crate::page::{Page, PageRequest};
use crate::values::Depth;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Events. An event belongs to its post: reads for a viewer return only events of posts the viewer may see
/// (docs/privacy.md rule 4), in the same statement.
#[async_trait]
pub trait EventRepo: Send + Sync {
    /// Stores the event of a new post.
    async fn insert_event(&self, event: &NewEvent) -> DomainResult<()>;
    /// The event of `post`, its row locked until the transaction ends (on PostgreSQL; SQLite transactions are
    /// serialised), so concurrent responses queue and the totals stay exact.
    async fn lock_event(&self, post: PostId) -> DomainResult<Option<EventDetails>>;
    /// Moves an event (its time and place).
    async fn update_event(&self, event: &NewEvent) -> DomainResult<()>;
    /// The user's response to the event, if any.
    async fn response(&self, post: PostId, user: UserId) -> DomainResult<Option<EventResponse>>;
    /// Sets (or, with `None`, withdraws) the user's response and moves the totals by what changed.
    async fn set_response(
        &self,
        post: PostId,
        user: UserId,
        before: Option<EventResponse>,
        after: Option<EventResponse>,
        at: DateTime<Utc>,
    ) -> DomainResult<()>;
    /// The events of those of `posts` the viewer may see.
    async fn visible_events(&self, viewer: Option<UserId>, posts: &[PostId]) -> DomainResult<Vec<EventDetails>>;
    /// The user's responses to each of `posts`.
    async fn responses_of(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, EventResponse>>;
    /// Who responded `response`, most recent first (users the viewer mutes left out).
    async fn responders(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        response: EventResponse,
        page: &PageRequest,
    ) -> DomainResult<Page<crate::model::User>>;
    /// Everyone going or interested, at most `limit` (for reminders).
    async fn attendees(&self, post: PostId, limit: i64) -> DomainResult<Vec<UserId>>;
    /// The events appearing in `space` (with `Depth::Direct`, placed there directly) that start in `[from, to)`
    /// and that the viewer may see, soonest first, at most `limit`.
    async fn space_events(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        depth: Depth,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> DomainResult<Vec<(Post, EventDetails)>>;
}
