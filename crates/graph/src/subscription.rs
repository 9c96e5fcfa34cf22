//! The subscription root: live feeds, post updates and the viewer's notifications.
//!
//! A subscription checks access when it starts (docs/privacy.md rule 7), then maps the bus's deliveries to
//! GraphQL events. Events carry what subscribers select (the post, its author, the new totals), so delivering
//! one needs no database read unless a subscriber selects something about itself (`viewerHasLiked`).
//!
//! - Stats are throttled per subscriber and post, on the leading edge: the first change goes out at once; the
//!   changes that follow within [`STATS_INTERVAL`] are held and the newest (highest `version`) goes out when
//!   the interval ends, so a quiet post updates in milliseconds, a like storm costs one event per interval, and
//!   the last event carries the exact totals. Poll changes are throttled the same way, by the poll's version:
//!   a vote storm on a poll ends on its exact tallies.
//! - `spaceFeed(depth: DIRECT)` hears only of posts placed directly in its space: additions, removals and
//!   stats of the others are dropped.
//! - A logged-in viewer's `spaceFeed` leaves out new posts of the users they muted, as `Space.posts` does.
//! - `spaceFeed(after:)` subscribes first, then replays from the database what was added since the cursor,
//!   then goes live, skipping live events for posts it already replayed: no gap, no duplicate.
//! - A subscriber that falls behind is ended with code `RESYNC` (catch up with `after`), rather than
//!   slowing others or buffering without bound.
//! - Access is re-checked whenever it could have changed: on `AccessChanged` (a tree edit, a privacy change or
//!   a removed membership narrowed who may access the space), and before delivering any event about private
//!   content (an event whose post has a non-empty audience), so a subscriber who lost access never sees the
//!   next such event, whichever replica published it and in whatever order events arrive. Losing access ends
//!   the subscription with `FORBIDDEN`. Events about public content need no check: everyone may see them.

use crate::connection::{decode_cursor, encode_cursor, int};
use crate::enums::Depth;
use crate::error::ApiError;
use crate::ids::{parse_id, to_id};
use crate::polls::PollObject;
use crate::posts::{CommentObject, PostObject};
use crate::scope::{RequestScope, app, scope};
use async_graphql::{Context, ID, Object, Subscription as SubscriptionRoot, Union};
use futures_util::{Stream, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use weco_domain::events::{Delivery, Envelope, Event, PostStats, Topic};
use weco_domain::ports::EventStream;
use weco_domain::{App, Comment, Cursor, CursorKey, DomainError, Post, PostId, SpaceId, User, Viewer};

/// The shortest time between two stats events for one post, per subscriber.
pub const STATS_INTERVAL: Duration = Duration::from_millis(250);

/// The most posts a reconnecting subscriber is sent from the database before going live.
pub const REPLAY_LIMIT: i64 = 1000;

/// A post now appears in the subscribed feed.
pub struct PostAdded {
    space_id: SpaceId,
    post: PostObject,
    cursor: String,
}

#[Object]
impl PostAdded {
    /// The space whose feed it joined.
    async fn space_id(&self) -> ID {
        to_id(self.space_id)
    }

    async fn post(&self) -> &PostObject {
        &self.post
    }

    /// A `Space.posts(sort: NEW)` cursor: pass it as `after` when resubscribing to miss nothing.
    async fn cursor(&self) -> &str {
        &self.cursor
    }
}

/// A post left a feed (`spaceId` set) or was deleted (`spaceId` null).
pub struct PostRemoved {
    space_id: Option<SpaceId>,
    post_id: PostId,
}

#[Object]
impl PostRemoved {
    async fn space_id(&self) -> Option<ID> {
        self.space_id.map(to_id)
    }

    async fn post_id(&self) -> ID {
        to_id(self.post_id)
    }
}

/// A post's totals after a change.
pub struct PostStatsChanged {
    post_id: PostId,
    stats: PostStats,
}

#[Object]
impl PostStatsChanged {
    async fn post_id(&self) -> ID {
        to_id(self.post_id)
    }

    async fn total_likes(&self) -> i32 {
        int(self.stats.total_likes)
    }

    async fn total_comments(&self) -> i32 {
        int(self.stats.total_comments)
    }

    async fn total_ratings(&self) -> i32 {
        int(self.stats.total_ratings)
    }

    async fn total_reposts(&self) -> i32 {
        int(self.stats.total_reposts)
    }
}

/// A comment was added to the post.
pub struct CommentAdded {
    post_id: PostId,
    comment: CommentObject,
}

#[Object]
impl CommentAdded {
    async fn post_id(&self) -> ID {
        to_id(self.post_id)
    }

    async fn comment(&self) -> &CommentObject {
        &self.comment
    }
}

/// A post's poll changed: a ballot, a retraction, a new answer or its closing. The poll shows what the
/// subscriber's viewer may see of it (hidden results stay hidden).
pub struct PollChanged {
    post_id: PostId,
    poll: PollObject,
}

#[Object]
impl PollChanged {
    async fn post_id(&self) -> ID {
        to_id(self.post_id)
    }

    async fn poll(&self) -> &PollObject {
        &self.poll
    }
}

/// Its creator changed a post's title, text or address.
pub struct PostEdited {
    post: PostObject,
}

#[Object]
impl PostEdited {
    async fn post_id(&self) -> ID {
        to_id(self.post.0.id)
    }

    /// The post as it now is.
    async fn post(&self) -> &PostObject {
        &self.post
    }
}

/// A post's URL card was fetched.
pub struct PostCardReady {
    post_id: PostId,
    card: crate::media::CardObject,
}

#[Object]
impl PostCardReady {
    async fn post_id(&self) -> ID {
        to_id(self.post_id)
    }

    async fn card(&self) -> &crate::media::CardObject {
        &self.card
    }
}

/// What changes a feed.
#[derive(Union)]
#[allow(clippy::enum_variant_names)] // The names are the contract's.
pub enum FeedEvent {
    PostAdded(PostAdded),
    PostRemoved(PostRemoved),
    PostStatsChanged(PostStatsChanged),
}

/// What changes a post.
#[derive(Union)]
pub enum PostEvent {
    PostStatsChanged(PostStatsChanged),
    CommentAdded(CommentAdded),
    PostRemoved(PostRemoved),
    PollChanged(PollChanged),
    PostEdited(PostEdited),
    PostCardReady(PostCardReady),
}

fn new_cursor(post: &Post) -> String {
    encode_cursor(&Cursor::new(CursorKey::Int(post.created_at.timestamp_micros()), post.id.0))
}

/// One step of a subscription after throttling.
enum Step {
    Event(Arc<Envelope>),
    /// A post's totals, and whether the post is private (has an audience).
    Stats(PostId, PostStats, bool),
    Lagged(u64),
}

/// A post's throttle: when its last stats went out (and which version), and the newest held back since.
struct Throttle {
    sent_at: Instant,
    sent_version: i64,
    held: Option<PostStats>,
    private: bool,
}

/// A poll's throttle: as [`Throttle`], holding the newest `PollChanged` (by the poll's version).
struct PollThrottle {
    sent_at: Instant,
    sent_version: i64,
    held: Option<Arc<Envelope>>,
}

/// The version of the poll a `PollChanged` carries.
fn poll_version(envelope: &Envelope) -> i64 {
    match &envelope.event {
        Event::PollChanged { poll, .. } => poll.version,
        _ => 0,
    }
}

/// Passes deliveries through, throttling stats and poll changes per post on the leading edge (see the module
/// docs).
struct Coalesce {
    deliveries: EventStream,
    posts: HashMap<PostId, Throttle>,
    polls: HashMap<PostId, PollThrottle>,
    ready: VecDeque<Step>,
    /// Fires when the earliest held stats are due.
    timer: Option<Pin<Box<Sleep>>>,
    ended: bool,
}

impl Coalesce {
    fn new(deliveries: EventStream) -> Self {
        Self {
            deliveries,
            posts: HashMap::new(),
            polls: HashMap::new(),
            ready: VecDeque::new(),
            timer: None,
            ended: false,
        }
    }

    /// Holds the timer to fire by `due` at the latest.
    fn due_by(&mut self, due: Instant) {
        if self.timer.as_ref().is_none_or(|timer| timer.deadline() > due) {
            self.timer = Some(Box::pin(tokio::time::sleep_until(due)));
        }
    }

    fn poll_changed(&mut self, post: PostId, envelope: Arc<Envelope>, now: Instant) {
        let version = poll_version(&envelope);
        match self.polls.get_mut(&post) {
            None => {
                self.polls.insert(post, PollThrottle { sent_at: now, sent_version: version, held: None });
                self.ready.push_back(Step::Event(envelope));
            }
            Some(t) if version <= t.sent_version || t.held.as_ref().is_some_and(|h| poll_version(h) >= version) => {}
            Some(t) if t.held.is_none() && now >= t.sent_at + STATS_INTERVAL => {
                t.sent_at = now;
                t.sent_version = version;
                self.ready.push_back(Step::Event(envelope));
            }
            Some(t) => {
                t.held = Some(envelope);
                let due = t.sent_at + STATS_INTERVAL;
                self.due_by(due);
            }
        }
    }

    fn stats(&mut self, post: PostId, stats: PostStats, private: bool, now: Instant) {
        match self.posts.get_mut(&post) {
            None => {
                self.posts.insert(post, Throttle { sent_at: now, sent_version: stats.version, held: None, private });
                self.ready.push_back(Step::Stats(post, stats, private));
            }
            Some(t) if stats.version <= t.sent_version || t.held.is_some_and(|h| h.version >= stats.version) => {}
            Some(t) if t.held.is_none() && now >= t.sent_at + STATS_INTERVAL => {
                t.sent_at = now;
                t.sent_version = stats.version;
                t.private = private;
                self.ready.push_back(Step::Stats(post, stats, private));
            }
            Some(t) => {
                t.held = Some(stats);
                t.private = private;
                let due = t.sent_at + STATS_INTERVAL;
                if self.timer.as_ref().is_none_or(|timer| timer.deadline() > due) {
                    self.timer = Some(Box::pin(tokio::time::sleep_until(due)));
                }
            }
        }
    }

    /// Sends held stats that are due (all of them when `everything`), forgets posts quiet for an interval,
    /// and sets the timer for the next due ones.
    fn flush(&mut self, now: Instant, everything: bool) {
        let mut next: Option<Instant> = None;
        let ready = &mut self.ready;
        self.posts.retain(|post, t| {
            let due = t.sent_at + STATS_INTERVAL;
            match t.held {
                Some(stats) if everything || due <= now => {
                    t.held = None;
                    t.sent_at = now;
                    t.sent_version = stats.version;
                    ready.push_back(Step::Stats(*post, stats, t.private));
                    true
                }
                Some(_) => {
                    next = Some(next.map_or(due, |n| n.min(due)));
                    true
                }
                // Quiet for a whole interval: the next change may go out at once, as for a new post.
                None => due > now,
            }
        });
        self.polls.retain(|_, t| {
            let due = t.sent_at + STATS_INTERVAL;
            match t.held.take() {
                Some(envelope) if everything || due <= now => {
                    t.sent_at = now;
                    t.sent_version = poll_version(&envelope);
                    ready.push_back(Step::Event(envelope));
                    true
                }
                Some(envelope) => {
                    t.held = Some(envelope);
                    next = Some(next.map_or(due, |n| n.min(due)));
                    true
                }
                None => due > now,
            }
        });
        self.timer = next.map(|at| Box::pin(tokio::time::sleep_until(at)));
    }
}

impl Stream for Coalesce {
    type Item = Step;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<Step>> {
        let this = self.get_mut();
        while !this.ended {
            match this.deliveries.as_mut().poll_next(cx) {
                Poll::Ready(Some(Delivery::Event(envelope))) => match &envelope.event {
                    Event::PostStatsChanged { post_id, stats, audience, .. } => {
                        this.stats(*post_id, *stats, !audience.is_empty(), Instant::now())
                    }
                    Event::PollChanged { post_id, .. } => this.poll_changed(*post_id, envelope.clone(), Instant::now()),
                    _ => this.ready.push_back(Step::Event(envelope)),
                },
                Poll::Ready(Some(Delivery::Lagged(n))) => this.ready.push_back(Step::Lagged(n)),
                Poll::Ready(None) => {
                    this.ended = true;
                    this.flush(Instant::now(), true);
                }
                Poll::Pending => break,
            }
        }
        if let Some(timer) = this.timer.as_mut()
            && timer.as_mut().poll(cx).is_ready()
        {
            this.flush(Instant::now(), false);
            // A new timer must be polled once to be woken.
            if let Some(timer) = this.timer.as_mut() {
                let _ = timer.as_mut().poll(cx);
            }
        }
        match this.ready.pop_front() {
            Some(step) => Poll::Ready(Some(step)),
            None if this.ended => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

/// The error that ends a subscriber who missed events: `n` dropped for falling behind, or (0) an unknown number
/// lost while the event bus was disconnected.
fn resync(n: u64) -> ApiError {
    let why = if n == 0 {
        "events may have been lost while the event bus was disconnected".to_owned()
    } else {
        format!("this subscriber fell behind and {n} events were dropped")
    };
    ApiError(DomainError::Conflict(format!(
        "RESYNC: {why}; resubscribe with `after` set to the last cursor received to catch up"
    )))
}

/// Whether the viewer still may access the space.
async fn still_allowed(app: &App, viewer: Viewer, space: SpaceId) -> bool {
    app.holarchy().access(viewer, &[space]).await.is_ok_and(|s| s.contains_key(&space))
}

/// Whether the viewer still may see the post.
async fn still_visible(app: &App, viewer: Viewer, post: PostId) -> bool {
    app.posts().visible(viewer, &[post]).await.is_ok_and(|v| v.contains(&post))
}

/// Whether a step is about private content, which is delivered only after a fresh access check.
fn is_private(step: &Step) -> bool {
    match step {
        Step::Stats(_, _, private) => *private,
        Step::Event(envelope) => envelope.event.audience().is_some_and(|a| !a.is_empty()),
        Step::Lagged(_) => false,
    }
}

/// Ends a stream after the first error it yields (that error is sent).
fn until_error<T: Send + 'static>(
    stream: impl Stream<Item = Result<T, ApiError>> + Send + 'static,
) -> impl Stream<Item = Result<T, ApiError>> + Send + 'static {
    stream.scan(false, |ended, item| {
        let out = if *ended { None } else { Some(item) };
        if matches!(out, Some(Err(_))) {
            *ended = true;
        }
        async move { out }
    })
}

#[derive(Default)]
pub struct Subscription;

#[SubscriptionRoot]
impl Subscription {
    /// Everything that changes this space's feed: posts added (also in contained spaces when depth = ALL),
    /// posts removed, and live stats of posts in it. `after` is a cursor from Space.posts(sort: NEW) or from an
    /// earlier PostAdded.cursor: posts added since then are delivered first, then live ones, none twice.
    async fn space_feed(
        &self,
        ctx: &Context<'_>,
        space_id: ID,
        #[graphql(default_with = "Some(Depth::All)")] depth: Option<Depth>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<FeedEvent, ApiError>> + use<>, ApiError> {
        let app = app(ctx).clone();
        let scope: RequestScope = scope(ctx)?.clone();
        let viewer = scope.viewer;
        let space = parse_id::<SpaceId>(&space_id, "spaceId")?;
        let depth: weco_domain::values::Depth = depth.unwrap_or(Depth::All).into();
        let direct_only = depth == weco_domain::values::Depth::Direct;
        let after = after.as_deref().map(decode_cursor).transpose()?;
        let proof = app.holarchy().require_access(viewer, space).await?;
        // Subscribe before replaying, so nothing published meanwhile is lost.
        let mut deliveries = app.bus().subscribe_confirmed(Topic::Space(space)).await;
        if direct_only {
            // Dropped before the stats throttle, which keeps a post's totals but not where the post appears.
            deliveries = Box::pin(deliveries.filter(move |delivery| {
                std::future::ready(match delivery {
                    Delivery::Event(envelope) => envelope.event.concerns_direct_feed_of(space),
                    Delivery::Lagged(_) => true,
                })
            }));
        }
        let live = Coalesce::new(deliveries);
        let replayed = match &after {
            Some(cursor) => app.feeds().since(proof, depth, cursor, REPLAY_LIMIT).await?,
            None => Vec::new(),
        };
        let seen: Arc<HashSet<PostId>> = Arc::new(replayed.iter().map(|p| p.id).collect());
        let replay = futures_util::stream::iter(replayed.into_iter().map(move |post| {
            let cursor = new_cursor(&post);
            Ok(FeedEvent::PostAdded(PostAdded { space_id: space, post: post.into(), cursor }))
        }));
        let live = live
            .then(move |step| {
                let (app, scope, seen) = (app.clone(), scope.clone(), seen.clone());
                async move {
                    scope.invalidate();
                    let lost =
                        || Some(Err(ApiError(DomainError::forbidden("you no longer have access to this space"))));
                    if is_private(&step) && !still_allowed(&app, viewer, space).await {
                        return lost();
                    }
                    let envelope = match step {
                        Step::Lagged(n) => return Some(Err(resync(n))),
                        Step::Stats(post_id, stats, _) => {
                            return Some(Ok(FeedEvent::PostStatsChanged(PostStatsChanged { post_id, stats })));
                        }
                        Step::Event(envelope) => envelope,
                    };
                    match &envelope.event {
                        Event::PostAdded { post, author, .. } => {
                            // Whom the viewer muted is read as each post arrives (posts are few; likes are not).
                            let muted = !matches!(app.accounts().has_muted(viewer, author.id).await, Ok(false));
                            if seen.contains(&post.id) || muted {
                                return None;
                            }
                            scope.feed_user(User::from(author.as_ref().clone())).await;
                            let post = Post::from(post.as_ref().clone());
                            let cursor = new_cursor(&post);
                            Some(Ok(FeedEvent::PostAdded(PostAdded { space_id: space, post: post.into(), cursor })))
                        }
                        Event::PostRemoved { post_id, .. } => {
                            Some(Ok(FeedEvent::PostRemoved(PostRemoved { space_id: Some(space), post_id: *post_id })))
                        }
                        Event::AccessChanged { .. } => {
                            if still_allowed(&app, viewer, space).await {
                                None
                            } else {
                                lost()
                            }
                        }
                        Event::PostStatsChanged { .. }
                        | Event::CommentAdded { .. }
                        | Event::PollChanged { .. }
                        | Event::PostEdited { .. }
                        | Event::PostCardReady { .. }
                        | Event::NotificationCreated { .. }
                        | Event::MessageSent { .. }
                        | Event::Typing { .. }
                        | Event::ChatMembersChanged { .. } => None,
                    }
                }
            })
            .filter_map(|x| async move { x });
        Ok(until_error(replay.chain(live)))
    }

    /// Live changes of one post: new totals (throttled), new comments, removal.
    async fn post_updates(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> Result<impl Stream<Item = Result<PostEvent, ApiError>> + use<>, ApiError> {
        let app = app(ctx).clone();
        let scope: RequestScope = scope(ctx)?.clone();
        let post = parse_id::<PostId>(&post_id, "postId")?;
        if !still_visible(&app, scope.viewer, post).await {
            return Err(ApiError(DomainError::NotFound("post")));
        }
        let live = Coalesce::new(app.bus().subscribe_confirmed(Topic::Post(post)).await);
        let events = live
            .then(move |step| {
                let (app, scope) = (app.clone(), scope.clone());
                async move {
                    scope.invalidate();
                    // A deletion is told to everyone who could see the post; it needs no check (and would fail it).
                    let deletion =
                        matches!(&step, Step::Event(e) if matches!(e.event, Event::PostRemoved { deleted: true, .. }));
                    if !deletion && is_private(&step) && !still_visible(&app, scope.viewer, post).await {
                        return Some(Err(ApiError(DomainError::forbidden("you can no longer see this post"))));
                    }
                    match step {
                        Step::Lagged(n) => Some(Err(resync(n))),
                        Step::Stats(post_id, stats, _) => {
                            Some(Ok(PostEvent::PostStatsChanged(PostStatsChanged { post_id, stats })))
                        }
                        Step::Event(envelope) => match &envelope.event {
                            Event::CommentAdded { post_id, comment, .. } => {
                                Some(Ok(PostEvent::CommentAdded(CommentAdded {
                                    post_id: *post_id,
                                    comment: Comment::from(comment.as_ref().clone()).into(),
                                })))
                            }
                            Event::PostRemoved { post_id, deleted: true, .. } => {
                                Some(Ok(PostEvent::PostRemoved(PostRemoved { space_id: None, post_id: *post_id })))
                            }
                            Event::PollChanged { post_id, poll, .. } => Some(Ok(PostEvent::PollChanged(PollChanged {
                                post_id: *post_id,
                                poll: PollObject::from(poll.as_ref().clone()),
                            }))),
                            Event::PostEdited { post, .. } => Some(Ok(PostEvent::PostEdited(PostEdited {
                                post: Post::from(post.as_ref().clone()).into(),
                            }))),
                            Event::PostCardReady { post_id, card, .. } => {
                                Some(Ok(PostEvent::PostCardReady(PostCardReady {
                                    post_id: *post_id,
                                    card: crate::media::CardObject::from(card.as_ref().clone()),
                                })))
                            }
                            _ => None,
                        },
                    }
                }
            })
            .filter_map(|x| async move { x });
        Ok(until_error(events))
    }

    /// The authenticated viewer's notifications, live.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<crate::notifications::NotificationObject, ApiError>> + use<>, ApiError> {
        Ok(until_error(crate::notifications::live(ctx).await?))
    }

    /// Messages sent and members typing in a chat the viewer is a member of (`FORBIDDEN` for others); while it
    /// runs the viewer is among the chat's `online` members.
    async fn chat_events(
        &self,
        ctx: &Context<'_>,
        chat_id: ID,
    ) -> Result<impl Stream<Item = Result<crate::chat::ChatEvent, ApiError>> + use<>, ApiError> {
        Ok(until_error(crate::chat::live(ctx, chat_id).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weco_domain::EventId;

    fn stats(version: i64) -> PostStats {
        PostStats { total_likes: version, total_comments: 0, total_ratings: 0, total_reposts: 0, version }
    }

    fn envelope(post: PostId, version: i64) -> Delivery {
        Delivery::Event(Arc::new(Envelope {
            v: weco_domain::events::EVENT_VERSION,
            id: EventId::generate(),
            topic: Topic::Post(post),
            event: Event::PostStatsChanged {
                post_id: post,
                stats: stats(version),
                direct_spaces: Vec::new(),
                audience: Vec::new(),
            },
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_change_goes_out_at_once_and_a_burst_ends_with_the_newest() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Delivery>();
        let deliveries: EventStream = Box::pin(tokio_stream_shim::UnboundedReceiverStream(rx));
        let mut steps = Coalesce::new(deliveries);
        let post = PostId::generate();
        tx.send(envelope(post, 1)).ok();
        let start = Instant::now();
        match steps.next().await {
            Some(Step::Stats(_, s, _)) => assert_eq!(s.version, 1),
            _ => panic!("expected stats"),
        }
        assert_eq!(Instant::now(), start, "the first change is not delayed");
        for v in 2..=5 {
            tx.send(envelope(post, v)).ok();
        }
        match steps.next().await {
            Some(Step::Stats(_, s, _)) => assert_eq!(s.version, 5, "the newest of the burst"),
            _ => panic!("expected stats"),
        }
        assert_eq!(Instant::now(), start + STATS_INTERVAL, "held until the interval ends");
        // Quiet for longer than an interval: the next change goes out at once again.
        tokio::time::advance(STATS_INTERVAL * 2).await;
        let before = Instant::now();
        tx.send(envelope(post, 6)).ok();
        match steps.next().await {
            Some(Step::Stats(_, s, _)) => assert_eq!(s.version, 6),
            _ => panic!("expected stats"),
        }
        assert_eq!(Instant::now(), before);
    }

    /// A minimal stream over an unbounded receiver, for the test above.
    mod tokio_stream_shim {
        use super::*;

        pub struct UnboundedReceiverStream(pub tokio::sync::mpsc::UnboundedReceiver<Delivery>);

        impl Stream for UnboundedReceiverStream {
            type Item = Delivery;

            fn poll_next(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<Delivery>> {
                self.0.poll_recv(cx)
            }
        }
    }
}
