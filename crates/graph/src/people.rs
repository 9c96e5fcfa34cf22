//! People in the schema: following users, their followers and whom they follow, the spaces they belong to,
//! profiles, and `searchUsers`. The fields are `User`'s (see `accounts`), resolved here.

use crate::accounts::{UserConnection, UserObject};
use crate::connection::{PageInfo, cost, page_request_in, parts};
use crate::enums::{FeedMetric, FeedSort, TimeRange};
use crate::error::ApiResult;
use crate::holarchy::{SpaceConnection, SpaceObject, listed};
use crate::ids::{parse_id, to_id};
use crate::posts::PostConnection;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::people::ports::{Reaction, ReactionKind};
use weco_domain::people::{Stream, StreamInput as NewStream, UpdateProfileInput as UpdateProfile};
use weco_domain::{App, DomainError, PostId, SpaceId, StreamId, UserId, Viewer};

/// How many followers each user has.
pub(crate) struct FollowerCountLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<UserId> for FollowerCountLoader {
    type Value = i64;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, i64>, DomainError> {
        let mut counts = self.app.people().follower_counts(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, counts.remove(id).unwrap_or(0))).collect())
    }
}

/// Whether the viewer follows each user (no statement for anonymous viewers).
pub(crate) struct ViewerFollowsLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<UserId> for ViewerFollowsLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, bool>, DomainError> {
        let followed = self.app.people().followed_by_viewer(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, followed.contains(id))).collect())
    }
}

pub(crate) async fn followers(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<UserConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).people().followers(scope(ctx)?.viewer, user, page).await?;
    Ok(UserConnection::from_page(page, UserObject::from))
}

pub(crate) async fn following(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<UserConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).people().following(scope(ctx)?.viewer, user, page).await?;
    Ok(UserConnection::from_page(page, UserObject::from))
}

pub(crate) async fn total_followers(ctx: &Context<'_>, user: UserId) -> ApiResult<i64> {
    Ok(scope(ctx)?.loaders.follower_counts.load_one(user).await?.unwrap_or(0))
}

pub(crate) async fn viewer_is_following(ctx: &Context<'_>, user: UserId) -> ApiResult<bool> {
    Ok(scope(ctx)?.loaders.viewer_follows.load_one(user).await?.unwrap_or(false))
}

pub(crate) async fn spaces(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<SpaceConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).people().spaces(scope(ctx)?.viewer, user, page).await?;
    Ok(listed(ctx, page).await)
}

/// One user who liked or rated a post, and when.
#[derive(async_graphql::SimpleObject, Clone)]
pub struct ReactionEdge {
    /// Opaque; pass as `after` to continue after this user.
    pub cursor: String,
    pub node: UserObject,
    /// When they liked it, or last rated it.
    pub at: DateTime<Utc>,
    /// The rating they gave (0 to 100); null for a like.
    pub value: Option<i32>,
}

/// A page of the users who liked or rated a post, most recent first.
#[derive(async_graphql::SimpleObject, Clone)]
pub struct ReactionConnection {
    pub edges: Vec<ReactionEdge>,
    /// The users of `edges`, for clients that need neither cursors nor times.
    pub nodes: Vec<UserObject>,
    pub page_info: PageInfo,
    /// How many users the whole list holds.
    pub total_count: i32,
}

/// `Post.likes` and `Post.ratings`.
pub(crate) async fn reactions(
    ctx: &Context<'_>,
    post: PostId,
    kind: ReactionKind,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<ReactionConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let page = app(ctx).people().reactions(scope(ctx)?.viewer, post, kind, page).await?;
    let (edges, page_info, total_count) = parts(page, |r: Reaction| r);
    let edges: Vec<ReactionEdge> = edges
        .into_iter()
        .map(|(cursor, r)| ReactionEdge {
            cursor,
            node: UserObject::from(r.user),
            at: r.at,
            value: r.value.map(crate::connection::int),
        })
        .collect();
    Ok(ReactionConnection { nodes: edges.iter().map(|e| e.node.clone()).collect(), edges, page_info, total_count })
}

/// A named home feed over spaces and users of its owner's choosing; only its owner sees it.
#[derive(Clone)]
pub struct StreamObject(pub Arc<Stream>);

impl From<Stream> for StreamObject {
    fn from(s: Stream) -> Self {
        Self(Arc::new(s))
    }
}

#[Object(name = "Stream")]
impl StreamObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its spaces, as the viewer may see them now.
    async fn spaces(&self, ctx: &Context<'_>) -> ApiResult<Vec<SpaceObject>> {
        let mut found = scope(ctx)?.loaders.spaces.load_many(self.0.space_ids.iter().copied()).await?;
        Ok(self.0.space_ids.iter().filter_map(|id: &SpaceId| found.remove(id)).map(SpaceObject::from).collect())
    }

    async fn users(&self, ctx: &Context<'_>) -> ApiResult<Vec<UserObject>> {
        let mut found = scope(ctx)?.loaders.users.load_many(self.0.user_ids.iter().copied()).await?;
        Ok(self.0.user_ids.iter().filter_map(|id| found.remove(id)).map(UserObject::from).collect())
    }

    /// The posts in its spaces (with everything flowing into them) and by its users, each once, as the home feed
    /// gathers them; `metric` is what TOP ranks by, `timeRange` how far back posts may have been created.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(FeedSort::New)")] sort: Option<FeedSort>,
        #[graphql(default_with = "Some(FeedMetric::Likes)")] metric: Option<FeedMetric>,
        #[graphql(default_with = "Some(TimeRange::All)")] time_range: Option<TimeRange>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let sort = sort.unwrap_or(FeedSort::New).into();
        let metric = metric.unwrap_or(FeedMetric::Likes).into();
        let time_range = time_range.unwrap_or(TimeRange::All).into();
        let viewer = scope(ctx)?.viewer;
        let page = app(ctx).people().stream_posts(viewer, &self.0, sort, metric, time_range, page).await?;
        Ok(PostConnection::from_page(page))
    }
}

/// `User.streams`: the user's own streams, oldest first; null for anyone else.
pub(crate) async fn streams(ctx: &Context<'_>, user: UserId) -> ApiResult<Option<Vec<StreamObject>>> {
    let found = app(ctx).people().streams(scope(ctx)?.viewer, user).await?;
    Ok(found.map(|streams| streams.into_iter().map(StreamObject::from).collect()))
}

/// A stream's name and sources (replacing all of them when updating).
#[derive(InputObject)]
pub struct StreamInput {
    /// 1 to 100 characters.
    pub name: String,
    /// Spaces the viewer may access, at most 100.
    pub space_ids: Vec<ID>,
    /// At most 100.
    pub user_handles: Vec<String>,
}

impl StreamInput {
    fn into_domain(self) -> ApiResult<NewStream> {
        let space_ids = self.space_ids.iter().map(|id| parse_id(id, "input.spaceIds")).collect::<Result<_, _>>()?;
        Ok(NewStream { name: self.name, space_ids, user_handles: self.user_handles })
    }
}

/// Changes to the viewer's profile; what is left out stays.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// Up to 1,000 characters; empty clears it.
    pub bio: Option<String>,
    /// True: open data exports name the user by their handle; false (the default): by a pseudonym.
    pub open_data_name: Option<bool>,
}

#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
    /// One of the viewer's streams (null for anyone else's).
    async fn stream(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<StreamObject>> {
        let id = parse_id::<StreamId>(&id, "id")?;
        Ok(app(ctx).people().stream(scope(ctx)?.viewer, id).await?.map(StreamObject::from))
    }

    /// The viewer's home: posts in the spaces they follow (with everything that flows into them) and by the users
    /// they follow, each post once, as they may see them and without the users they mute; ordered by each post's
    /// own creation time (NEW), last activity (ACTIVE), likes (TOP) or HOT score. Anonymous viewers get the root
    /// space's feed.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn home_feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(FeedSort::New)")] sort: Option<FeedSort>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let sort = sort.unwrap_or(FeedSort::New).into();
        let page = app(ctx).people().home_feed(scope(ctx)?.viewer, sort, page).await?;
        Ok(PostConnection::from_page(page))
    }

    /// Users whose handle, name or bio contain every word of `query` (whole, or as the start of a word), most
    /// followed first.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn search_users(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).people().search(scope(ctx)?.viewer, &query, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }
}

#[derive(Default)]
pub struct PeopleMutation;

#[Object]
impl PeopleMutation {
    /// Creates a stream: a named home feed over the spaces and users given.
    async fn create_stream(&self, ctx: &Context<'_>, input: StreamInput) -> ApiResult<StreamObject> {
        let scope = scope(ctx)?;
        let stream = app(ctx).people().create_stream(scope.viewer, input.into_domain()?).await?;
        scope.invalidate();
        Ok(stream.into())
    }

    /// Replaces one of the viewer's streams' name, spaces and users.
    async fn update_stream(&self, ctx: &Context<'_>, id: ID, input: StreamInput) -> ApiResult<StreamObject> {
        let scope = scope(ctx)?;
        let id = parse_id::<StreamId>(&id, "id")?;
        let stream = app(ctx).people().update_stream(scope.viewer, id, input.into_domain()?).await?;
        scope.invalidate();
        Ok(stream.into())
    }

    /// Deletes one of the viewer's streams.
    async fn delete_stream(&self, ctx: &Context<'_>, id: ID) -> ApiResult<bool> {
        let scope = scope(ctx)?;
        let id = parse_id::<StreamId>(&id, "id")?;
        let deleted = app(ctx).people().delete_stream(scope.viewer, id).await?;
        scope.invalidate();
        Ok(deleted)
    }

    /// Follows a user (idempotent); they are notified.
    async fn follow_user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).people().follow(scope.viewer, &handle).await?;
        scope.invalidate();
        Ok(user.into())
    }

    /// Stops following a user (idempotent).
    async fn unfollow_user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).people().unfollow(scope.viewer, &handle).await?;
        scope.invalidate();
        Ok(user.into())
    }

    /// Changes the viewer's name or bio.
    async fn update_profile(&self, ctx: &Context<'_>, input: UpdateProfileInput) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx)
            .people()
            .update_profile(
                scope.viewer,
                UpdateProfile { name: input.name, bio: input.bio, open_data_name: input.open_data_name },
            )
            .await?;
        scope.invalidate();
        Ok(user.into())
    }
}
