//! Events (docs/events.md): a post with a time and a place that people answer GOING or INTERESTED, the calendar
//! of a space (the events of everything flowing into it), and reminders 15 minutes before the start.
//!
//! - An event belongs to its post: whoever may see the post sees the event, its totals and who responded.
//! - A response is one row per user and event; the event's row is locked by every response, so its totals stay
//!   exact under concurrency.
//! - The reminder is one job on the durable queue per event ([`REMINDER_JOB`], keyed by the post), due
//!   [`REMINDER_LEAD`] before the start: moving the event moves the job, deleting the post drops it. When it
//!   runs it reads who is going or interested at that moment, so a withdrawn response gets no reminder, and it
//!   tells them through the notifications area (EVENT_STARTING), which leaves out anyone who may no longer see
//!   the post. A reminder that fell due while no server ran is sent at the next start.

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::jobs::{Job, JobHandler, NewJob};
use crate::model::{Post, User};
use crate::notifications::{self, Fold, NewNotification, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::privacy::{Accessible, SpaceView};
use crate::uow::{Command, UnitOfWork};
use crate::values::{Depth, EventLocation};
use async_trait::async_trait;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::collections::HashMap;

/// How long before its start an event's reminder is sent.
pub const REMINDER_LEAD: Duration = Duration::minutes(15);
/// The job kind that sends an event's reminders.
pub const REMINDER_JOB: &str = "event.reminder";
/// The most people one reminder goes to (the first who responded).
pub const MAX_REMINDED: i64 = 10_000;
/// The longest an event may last.
pub const MAX_DURATION_DAYS: i64 = 366;
/// How far ahead (and back) an event may be placed.
pub const MAX_YEARS_AWAY: i64 = 10;
/// The widest range `Space.events` answers.
pub const MAX_CALENDAR_DAYS: i64 = 366;
/// The most events `Space.events` (and a feed) returns.
pub const MAX_CALENDAR_EVENTS: i64 = 500;

/// How far back a space's public feed reaches.
pub const FEED_PAST_DAYS: i64 = 30;
/// How far ahead a space's public feed reaches.
pub const FEED_AHEAD_DAYS: i64 = 365;

/// `EventInput` as given by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct EventInput {
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
}

/// An event checked against the rules, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
}

/// An event to store (or the new time and place of one).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub post_id: PostId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDetails {
    pub post_id: PostId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub total_going: i64,
    pub total_interested: i64,
}

/// How someone answered an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventResponse {
    Going,
    Interested,
}

impl EventResponse {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Going => "GOING",
            Self::Interested => "INTERESTED",
        }
    }

    pub fn parse(word: &str) -> DomainResult<Self> {
        match word {
            "GOING" => Ok(Self::Going),
            "INTERESTED" => Ok(Self::Interested),
            other => Err(DomainError::internal("decoding event response", other.to_owned())),
        }
    }
}

/// Checks an event's time and place: the end (if any) not before the start, at most [`MAX_DURATION_DAYS`]
/// long, within [`MAX_YEARS_AWAY`] years of now, the location at most [`EventLocation::MAX`] characters.
pub fn parse_event(input: EventInput, now: DateTime<Utc>, field: &str) -> DomainResult<ParsedEvent> {
    let away = Duration::days(365 * MAX_YEARS_AWAY);
    if input.starts_at > now + away || input.starts_at < now - away {
        return Err(DomainError::validation(
            format!("{field}.startsAt"),
            format!("must be within {MAX_YEARS_AWAY} years of now"),
        ));
    }
    if let Some(end) = input.ends_at {
        if end < input.starts_at {
            return Err(DomainError::validation(format!("{field}.endsAt"), "must not be before startsAt"));
        }
        if end - input.starts_at > Duration::days(MAX_DURATION_DAYS) {
            return Err(DomainError::validation(
                format!("{field}.endsAt"),
                format!("an event lasts at most {MAX_DURATION_DAYS} days"),
            ));
        }
    }
    let location = match input.location.as_deref() {
        None => None,
        Some(raw) => Some(EventLocation::parse(raw, &format!("{field}.location"))?.into_inner()),
    }
    .filter(|l| !l.is_empty());
    // Times are kept to the microsecond, as both databases store them.
    let (starts_at, ends_at) = (input.starts_at.trunc_subsecs(6), input.ends_at.map(|t| t.trunc_subsecs(6)));
    Ok(ParsedEvent { starts_at, ends_at, location })
}

fn reminder_key(post: PostId) -> String {
    format!("event-reminder:{post}")
}

/// Plans (or re-plans) the event's reminder: due [`REMINDER_LEAD`] before its start (at once if that is past
/// but the start is not), none once it has started.
async fn plan_reminder(uow: &mut UnitOfWork, post: PostId, starts_at: DateTime<Utc>) -> DomainResult<()> {
    if starts_at <= uow.now() {
        uow.jobs().cancel(&reminder_key(post)).await?;
        return Ok(());
    }
    let payload = serde_json::json!({ "post": post, "startsAt": starts_at });
    let job = NewJob::new(REMINDER_JOB, starts_at - REMINDER_LEAD, payload).keyed(reminder_key(post));
    uow.enqueue(&job).await
}

/// Stores the event of a post being created (inside `createPost`'s unit of work) and plans its reminder.
pub(crate) async fn create(uow: &mut UnitOfWork, post: PostId, event: &ParsedEvent) -> DomainResult<()> {
    let new = NewEvent {
        post_id: post,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        location: event.location.clone(),
    };
    uow.events().insert_event(&new).await?;
    plan_reminder(uow, post, event.starts_at).await
}

/// Drops the reminder of a post being deleted (inside `deletePost`'s unit of work).
pub(crate) async fn forget(uow: &mut UnitOfWork, post: PostId) -> DomainResult<()> {
    uow.jobs().cancel(&reminder_key(post)).await.map(drop)
}

/// Sends an event's reminders, as a job on the durable queue (so also when no server ran at the time, at the
/// next start, and once with several replicas).
pub(crate) struct EventReminder;

#[async_trait]
impl JobHandler for EventReminder {
    async fn run(&self, uow: &mut UnitOfWork, job: &Job) -> DomainResult<()> {
        let post: PostId = serde_json::from_value(job.payload["post"].clone())
            .map_err(|e| DomainError::internal("reading an event's reminder job", e))?;
        let planned: DateTime<Utc> = serde_json::from_value(job.payload["startsAt"].clone())
            .map_err(|e| DomainError::internal("reading an event's reminder job", e))?;
        let Some(event) = uow.events().lock_event(post).await? else { return Ok(()) };
        // Deleted with its post, or moved since (its new reminder is planned apart): nothing to send.
        if event.starts_at.trunc_subsecs(6) != planned.trunc_subsecs(6)
            || uow.posts().posts_by_ids(&[post]).await?.is_empty()
        {
            return Ok(());
        }
        for recipient in uow.events().attendees(post, MAX_REMINDED).await? {
            let new = NewNotification {
                recipient,
                kind: NotificationKind::EventStarting,
                actor: None,
                post: Some(post),
                comment: None,
                space: None,
                fold: Fold::Never(post.0),
            };
            notifications::notify(uow, new).await?;
        }
        Ok(())
    }
}

/// `NOT_FOUND` unless the actor may see the post and it is an event; the event, locked.
async fn lock_visible_event(uow: &UnitOfWork, post: PostId) -> DomainResult<EventDetails> {
    let viewer = uow.actor().viewer();
    if uow.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
        return Err(DomainError::NotFound("post"));
    }
    uow.events().lock_event(post).await?.ok_or(DomainError::NotFound("event"))
}

struct Respond {
    post: PostId,
    response: Option<EventResponse>,
}

#[async_trait]
impl Command for Respond {
    type Output = EventDetails;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<EventDetails> {
        let user = uow.actor().require_user()?;
        lock_visible_event(uow, self.post).await?;
        let before = uow.events().response(self.post, user).await?;
        if before != self.response {
            uow.events().set_response(self.post, user, before, self.response, uow.now()).await?;
        }
        uow.events().lock_event(self.post).await?.ok_or(DomainError::NotFound("event"))
    }
}

struct UpdateEvent {
    post: PostId,
    event: ParsedEvent,
}

#[async_trait]
impl Command for UpdateEvent {
    type Output = EventDetails;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<EventDetails> {
        let user = uow.actor().require_user()?;
        let before = lock_visible_event(uow, self.post).await?;
        let post = uow.posts().posts_by_ids(&[self.post]).await?.into_iter().next();
        if post.map(|p| p.creator_id) != Some(user) {
            return Err(DomainError::forbidden("only its creator may change an event"));
        }
        let new = NewEvent {
            post_id: self.post,
            starts_at: self.event.starts_at,
            ends_at: self.event.ends_at,
            location: self.event.location.clone(),
        };
        uow.events().update_event(&new).await?;
        if before.starts_at != new.starts_at {
            plan_reminder(uow, self.post, new.starts_at).await?;
        }
        uow.events().lock_event(self.post).await?.ok_or(DomainError::NotFound("event"))
    }
}

/// The events service: `app.events()`.
pub struct EventService<'a> {
    pub(crate) app: &'a App,
}

impl EventService<'_> {
    pub fn now(&self) -> DateTime<Utc> {
        self.app.ports.clock.now()
    }

    /// Answers an event (GOING or INTERESTED), replacing an earlier answer; `None` withdraws it.
    pub async fn respond(
        &self,
        viewer: Viewer,
        post: PostId,
        response: Option<EventResponse>,
    ) -> DomainResult<EventDetails> {
        self.app.execute(viewer.actor()?, &Respond { post, response }).await
    }

    /// Moves an event (its creator only); its reminder moves with it.
    pub async fn update_event(&self, viewer: Viewer, post: PostId, input: EventInput) -> DomainResult<EventDetails> {
        let actor = viewer.actor()?;
        let event = parse_event(input, self.now(), "input")?;
        self.app.execute(actor, &UpdateEvent { post, event }).await
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// The events of those of `posts` the viewer may see.
    pub async fn events(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<Vec<EventDetails>> {
        self.app.reads(viewer).events().visible_events(viewer.id(), posts).await
    }

    /// The viewer's responses to each of `posts` (none for an anonymous viewer).
    pub async fn viewer_responses(
        &self,
        viewer: Viewer,
        posts: &[PostId],
    ) -> DomainResult<HashMap<PostId, EventResponse>> {
        match viewer.id() {
            Some(user) => self.app.reads(viewer).events().responses_of(user, posts).await,
            None => Ok(HashMap::new()),
        }
    }

    /// Who responded `response`, most recent first — empty when the viewer may not see the post.
    pub async fn responders(
        &self,
        viewer: Viewer,
        post: PostId,
        response: EventResponse,
        page: PageRequest,
    ) -> DomainResult<Page<User>> {
        let store = self.app.reads(viewer);
        if store.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
            return Ok(Page::from_rows(Vec::new(), &page).with_total(0));
        }
        store.events().responders(viewer.id(), post, response, &page).await
    }

    /// The calendar of a space: the events appearing in it (with `Depth::Direct`, placed in it directly) that
    /// start in `[from, to)` and that the viewer may see, soonest first, at most [`MAX_CALENDAR_EVENTS`].
    pub async fn space_events(
        &self,
        space: Accessible,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        depth: Depth,
    ) -> DomainResult<Vec<(Post, EventDetails)>> {
        if to <= from {
            return Err(DomainError::validation("to", "must be after from"));
        }
        if to - from > Duration::days(MAX_CALENDAR_DAYS) {
            return Err(DomainError::validation("to", format!("a calendar spans at most {MAX_CALENDAR_DAYS} days")));
        }
        let viewer = space.viewer();
        let id = space.check(viewer)?;
        // To the microsecond, as the times are stored (and compared, as text, on SQLite).
        let (from, to) = (from.trunc_subsecs(6), to.trunc_subsecs(6));
        self.app.reads(viewer).events().space_events(viewer.id(), id, depth, from, to, MAX_CALENDAR_EVENTS).await
    }

    /// A space's public calendar, for its feed: the events anyone may see (so none from a private space, nor
    /// flowing only through one) appearing in it, from [`FEED_PAST_DAYS`] ago to [`FEED_AHEAD_DAYS`] ahead,
    /// soonest first, at most [`MAX_CALENDAR_EVENTS`]. `None` when no space has that handle or it is not open
    /// to everyone.
    pub async fn public_calendar(&self, handle: &str) -> DomainResult<Option<(SpaceView, Vec<(Post, EventDetails)>)>> {
        let viewer = Viewer::ANONYMOUS;
        let space = match self.app.holarchy().space_by_handle(viewer, handle).await {
            Ok(Some(space)) => space,
            Ok(None) | Err(DomainError::Validation { .. }) => return Ok(None),
            Err(other) => return Err(other),
        };
        let Some(access) = space.access else { return Ok(None) };
        let now = self.now();
        let (from, to) = (now - Duration::days(FEED_PAST_DAYS), now + Duration::days(FEED_AHEAD_DAYS));
        let events = self
            .app
            .reads(viewer)
            .events()
            .space_events(None, access.space(), Depth::All, from, to, MAX_CALENDAR_EVENTS)
            .await?;
        Ok(Some((space, events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(start_in_hours: i64, end_in_hours: Option<i64>, location: Option<&str>) -> (EventInput, DateTime<Utc>) {
        let now = Utc::now();
        let event = EventInput {
            starts_at: now + Duration::hours(start_in_hours),
            ends_at: end_in_hours.map(|h| now + Duration::hours(h)),
            location: location.map(str::to_owned),
        };
        (event, now)
    }

    #[test]
    fn an_event_ends_after_it_starts_and_lasts_at_most_a_year() {
        let (ok, now) = input(1, Some(3), Some("  the square "));
        assert_eq!(parse_event(ok, now, "input.event").expect("valid").location.as_deref(), Some("the square"));
        let (backwards, now) = input(3, Some(1), None);
        assert!(parse_event(backwards, now, "input.event").is_err());
        let (long, now) = input(1, Some(24 * 400), None);
        assert!(parse_event(long, now, "input.event").is_err());
        let (far, now) = input(24 * 365 * 11, None, None);
        assert!(parse_event(far, now, "input.event").is_err());
        let (blank, now) = input(1, None, Some("   "));
        assert_eq!(parse_event(blank, now, "input.event").expect("valid").location, None);
        let (wordy, now) = input(1, None, Some(&"x".repeat(301)));
        assert!(parse_event(wordy, now, "input.event").is_err());
    }

    #[test]
    fn responses_round_trip_through_their_stored_words() {
        for r in [EventResponse::Going, EventResponse::Interested] {
            assert_eq!(EventResponse::parse(r.as_str()).ok(), Some(r));
        }
    }
}
