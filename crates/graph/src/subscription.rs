//! The subscription root: live feeds and post updates.
//!
//! A subscription checks access when it starts (DESIGN §5 rule 7), then maps the bus's deliveries to GraphQL
//! events. Events carry what subscribers select (the post, its creator, the new totals), so delivering one
//! needs no database read unless a subscriber selects something about itself (`viewerHasLiked`).
//!
//! - Stats bursts are coalesced per subscriber: at most one `PostStatsChanged` per post per
//!   [`STATS_INTERVAL`], always the newest (highest `version`), so the last one carries the exact totals.
//! - `spaceFeed(after:)` subscribes first, then replays from the database what was added since the cursor,
//!   then goes live, skipping live events for posts it already replayed: no gap, no duplicate.
//! - A subscriber that falls behind is ended with code `RESYNC` (catch up with `after`), rather than
//!   slowing others or buffering without bound.
//! - `AccessChanged` on the topic makes the subscription re-check access; losing it ends it with `FORBIDDEN`.

use crate::connection::{decode_cursor, encode_cursor};
use crate::error::ApiError;
use crate::ids::{parse_id, to_id};
use crate::scope::{RequestScope, app, scope};
use crate::types::{CommentObject, Depth, PostObject, int};
use async_graphql::{Context, ID, Object, Subscription as SubscriptionRoot, Union};
use futures_util::{Stream, StreamExt};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use weco_domain::events::{Delivery, Envelope, Event, PostStats, Topic};
use weco_domain::{App, Cursor, CursorKey, DomainError, Post, PostId, SpaceId, Viewer};

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
}

fn new_cursor(post: &Post) -> String {
    encode_cursor(&Cursor::new(CursorKey::Int(post.created_at.timestamp_micros()), post.id.0))
}

/// One step of a subscription after coalescing.
enum Step {
    Event(std::sync::Arc<Envelope>),
    Stats(PostId, PostStats),
    Lagged(u64),
}

/// Passes events through, holding back stats: per post, the newest snapshot is sent at most once per
/// interval (and at the end of every interval in which one arrived).
fn coalesce(deliveries: weco_domain::ports::EventStream) -> impl Stream<Item = Step> + Send {
    enum Input {
        Delivery(Option<Delivery>),
        Tick,
    }
    let ticks = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(STATS_INTERVAL).await;
        Some((Input::Tick, ()))
    });
    let deliveries =
        deliveries.map(|d| Input::Delivery(Some(d))).chain(futures_util::stream::once(async { Input::Delivery(None) }));
    let merged = futures_util::stream::select(deliveries, ticks);
    let mut pending: HashMap<PostId, PostStats> = HashMap::new();
    let mut sent: HashMap<PostId, i64> = HashMap::new();
    merged.flat_map(move |input| {
        let mut out: Vec<Step> = Vec::new();
        match input {
            Input::Delivery(Some(Delivery::Event(envelope))) => match &envelope.event {
                Event::PostStatsChanged { post_id, stats } => {
                    let newer = pending.get(post_id).is_none_or(|p| stats.version > p.version)
                        && sent.get(post_id).is_none_or(|v| stats.version > *v);
                    if newer {
                        pending.insert(*post_id, *stats);
                    }
                }
                _ => out.push(Step::Event(envelope)),
            },
            Input::Delivery(Some(Delivery::Lagged(n))) => out.push(Step::Lagged(n)),
            Input::Delivery(None) | Input::Tick => {
                for (post, stats) in pending.drain() {
                    sent.insert(post, stats.version);
                    out.push(Step::Stats(post, stats));
                }
            }
        }
        futures_util::stream::iter(out)
    })
}

fn resync(n: u64) -> ApiError {
    ApiError(DomainError::Conflict(format!(
        "RESYNC: this subscriber fell behind and {n} events were dropped; resubscribe with `after` set to the \
         last cursor received to catch up"
    )))
}

/// Whether the viewer still may access the space (after an `AccessChanged`).
async fn still_allowed(app: &App, viewer: Viewer, space: SpaceId) -> bool {
    app.accessible_spaces(viewer, &[space]).await.is_ok_and(|s| s.contains(&space))
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
        let after = after.as_deref().map(decode_cursor).transpose()?;
        app.require_access(viewer, space).await?;
        // Subscribe before replaying, so nothing published meanwhile is lost.
        let live = coalesce(app.bus.subscribe_confirmed(Topic::Space(space)).await);
        let replayed = match &after {
            Some(cursor) => app.feed_since(space, depth, cursor, REPLAY_LIMIT).await?,
            None => Vec::new(),
        };
        let seen: std::sync::Arc<HashSet<PostId>> = std::sync::Arc::new(replayed.iter().map(|p| p.id).collect());
        let replay = futures_util::stream::iter(replayed.into_iter().map(move |post| {
            let cursor = new_cursor(&post);
            Ok(FeedEvent::PostAdded(PostAdded { space_id: space, post: post.into(), cursor }))
        }));
        let live = live
            .then(move |step| {
                let (app, scope, seen) = (app.clone(), scope.clone(), seen.clone());
                async move {
                    scope.invalidate();
                    match step {
                        Step::Lagged(n) => Some(Err(resync(n))),
                        Step::Stats(post_id, stats) => {
                            Some(Ok(FeedEvent::PostStatsChanged(PostStatsChanged { post_id, stats })))
                        }
                        Step::Event(envelope) => match &envelope.event {
                            Event::PostAdded { direct, post, creator, .. } => {
                                if seen.contains(&post.id) || (depth == weco_domain::values::Depth::Direct && !direct) {
                                    return None;
                                }
                                scope.feed_user(creator.as_ref().clone()).await;
                                let cursor = new_cursor(post);
                                Some(Ok(FeedEvent::PostAdded(PostAdded {
                                    space_id: space,
                                    post: post.as_ref().clone().into(),
                                    cursor,
                                })))
                            }
                            Event::PostRemoved { space_id, post_id } => {
                                Some(Ok(FeedEvent::PostRemoved(PostRemoved { space_id: *space_id, post_id: *post_id })))
                            }
                            Event::AccessChanged { .. } => {
                                if still_allowed(&app, viewer, space).await {
                                    None
                                } else {
                                    Some(Err(ApiError(DomainError::forbidden(
                                        "you no longer have access to this space",
                                    ))))
                                }
                            }
                            Event::PostStatsChanged { .. } | Event::CommentAdded { .. } => None,
                        },
                    }
                }
            })
            .filter_map(|x| async move { x });
        Ok(replay.chain(live).scan(false, |ended, item| {
            // An error item ends the subscription after it is sent.
            let out = if *ended { None } else { Some(item) };
            if matches!(out, Some(Err(_))) {
                *ended = true;
            }
            async move { out }
        }))
    }

    /// Live changes of one post: new totals (coalesced), new comments, removal.
    async fn post_updates(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> Result<impl Stream<Item = Result<PostEvent, ApiError>> + use<>, ApiError> {
        let app = app(ctx).clone();
        let scope: RequestScope = scope(ctx)?.clone();
        let post = parse_id::<PostId>(&post_id, "postId")?;
        if !app.can_see_post(scope.viewer, post).await? {
            return Err(ApiError(DomainError::NotFound("post")));
        }
        let recheck = ctx.data_opt::<crate::SchemaLimits>().copied().unwrap_or_default().access_recheck;
        let last_check = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        let live = coalesce(app.bus.subscribe_confirmed(Topic::Post(post)).await);
        let events = live
            .then(move |step| {
                let (app, scope, last_check) = (app.clone(), scope.clone(), last_check.clone());
                async move {
                    scope.invalidate();
                    // Post topics hear nothing of access changes, so the right to see the post is re-checked
                    // before delivering, at most once per `recheck`: losing access ends the subscription.
                    // A deletion is told to everyone who could see the post; it needs no check (and would fail it).
                    let deletion =
                        matches!(&step, Step::Event(e) if matches!(e.event, Event::PostRemoved { space_id: None, .. }));
                    let due = !deletion && last_check.lock().map(|t| t.elapsed() >= recheck).unwrap_or(true);
                    if due {
                        if let Ok(mut t) = last_check.lock() {
                            *t = std::time::Instant::now();
                        }
                        if !app.can_see_post(scope.viewer, post).await.unwrap_or(false) {
                            return Some(Err(ApiError(DomainError::forbidden("you can no longer see this post"))));
                        }
                    }
                    match step {
                        Step::Lagged(n) => Some(Err(resync(n))),
                        Step::Stats(post_id, stats) => {
                            Some(Ok(PostEvent::PostStatsChanged(PostStatsChanged { post_id, stats })))
                        }
                        Step::Event(envelope) => match &envelope.event {
                            Event::CommentAdded { post_id, comment } => {
                                Some(Ok(PostEvent::CommentAdded(CommentAdded {
                                    post_id: *post_id,
                                    comment: comment.as_ref().clone().into(),
                                })))
                            }
                            Event::PostRemoved { space_id, post_id } => {
                                Some(Ok(PostEvent::PostRemoved(PostRemoved { space_id: *space_id, post_id: *post_id })))
                            }
                            _ => None,
                        },
                    }
                }
            })
            .filter_map(|x| async move { x });
        Ok(events.scan(false, |ended, item| {
            let out = if *ended { None } else { Some(item) };
            if matches!(out, Some(Err(_))) {
                *ended = true;
            }
            async move { out }
        }))
    }
}
