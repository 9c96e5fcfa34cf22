//! People in the schema: following users, their followers and whom they follow, the spaces they belong to,
//! profiles, and `searchUsers`. The fields are `User`'s (see `accounts`), resolved here.

use crate::accounts::{UserConnection, UserObject};
use crate::connection::{cost, page_request_in};
use crate::enums::FeedSort;
use crate::error::ApiResult;
use crate::holarchy::{SpaceConnection, listed};
use crate::posts::PostConnection;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, InputObject, Object};
use std::collections::HashMap;
use weco_domain::people::UpdateProfileInput as UpdateProfile;
use weco_domain::{App, DomainError, UserId, Viewer};

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

/// Changes to the viewer's profile; what is left out stays.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// Up to 1,000 characters; empty clears it.
    pub bio: Option<String>,
}

#[derive(Default)]
pub struct PeopleQuery;

#[Object]
impl PeopleQuery {
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
        let user =
            app(ctx).people().update_profile(scope.viewer, UpdateProfile { name: input.name, bio: input.bio }).await?;
        scope.invalidate();
        Ok(user.into())
    }
}
