//! The `Space` type. What a viewer without access sees of it — only its id, handle, name and privacy — is
//! decided by the domain: the view it hands over has no details to show (docs/privacy.md rule 6).

use super::request::{SpaceRequestConnection, SpaceRequestObject};
use crate::access::{ModeratorInviteConnection, SpaceAccessRequestConnection};
use crate::accounts::{UserConnection, UserObject, load_user};
use crate::connection::int;
use crate::connection::{connection, cost, page_request_in};
use crate::enums::{
    AccessRequestKind, Depth, FeedMetric, FeedScope, FeedSort, PostKind, Privacy, SpaceSort, TimeRange,
};
use crate::error::{ApiError, ApiResult};
use crate::ids::to_id;
use crate::posts::PostConnection;
use crate::scope::{app, scope};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use weco_domain::{Accessible, DomainError, SpaceDetails, SpaceView};

/// A community. Spaces nest: a space may sit under several parents, and what is posted in it appears in
/// every space above it that it flows into. Viewers who may not access a space see only its id, handle,
/// name and privacy.
#[derive(Clone)]
pub struct SpaceObject(pub Arc<SpaceView>);

impl From<SpaceView> for SpaceObject {
    fn from(s: SpaceView) -> Self {
        Self(Arc::new(s))
    }
}

impl SpaceObject {
    /// The viewer's proof of access, or `FORBIDDEN`.
    pub(crate) fn proof(&self) -> ApiResult<Accessible> {
        self.0.access.ok_or(ApiError(DomainError::forbidden("this space is private")))
    }

    fn detail<T>(&self, value: impl FnOnce(&SpaceDetails) -> T) -> Option<T> {
        self.0.details.as_ref().map(value)
    }

    async fn viewer_state(&self, ctx: &Context<'_>) -> ApiResult<super::ViewerSpace> {
        Ok(scope(ctx)?.loaders.viewer_spaces.load_one(self.0.id).await?.unwrap_or_default())
    }
}

#[Object(name = "Space")]
impl SpaceObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// Unique, lower-case; the root space is `all`.
    async fn handle(&self) -> &str {
        &self.0.handle
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn privacy(&self) -> Privacy {
        self.0.privacy.into()
    }

    /// Null for viewers who may not access the space.
    async fn description(&self) -> Option<&str> {
        self.0.details.as_ref().map(|d| d.description.as_str())
    }

    /// Null for viewers who may not access the space.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.detail(|d| d.created_at)
    }

    /// Who created it. Null for the root space and for viewers who may not access the space.
    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        match self.detail(|d| d.creator_id).flatten() {
            Some(creator) => Ok(Some(load_user(ctx, creator).await?)),
            None => Ok(None),
        }
    }

    /// Whether the viewer may see this space's content.
    async fn viewer_can_access(&self) -> bool {
        self.0.access.is_some()
    }

    async fn viewer_is_moderator(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_state(ctx).await?.is_moderator)
    }

    async fn viewer_is_following(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_state(ctx).await?.is_following)
    }

    /// Whether the viewer holds a membership of this space (what access to a private space takes).
    async fn viewer_is_member(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        crate::access::viewer_is_member(ctx, self.0.id).await
    }

    /// The token of the space's invite link: whoever presents it to `joinSpaceWithInviteLink` becomes a member.
    /// Moderators only: null for everyone else, and while the space has no link.
    async fn invite_link_token(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        crate::access::invite_link_token(ctx, self.0.id).await
    }

    /// Posts that appear in this space (its own and those flowing up from below). Null without access.
    async fn total_posts(&self) -> Option<i32> {
        self.detail(|d| int(d.total_posts))
    }

    /// Likes on the posts that appear in this space. Null without access.
    async fn total_post_likes(&self) -> Option<i32> {
        self.detail(|d| int(d.total_post_likes))
    }

    /// Comments on the posts that appear in this space. Null without access.
    async fn total_comments(&self) -> Option<i32> {
        self.detail(|d| int(d.total_comments))
    }

    /// Null without access.
    async fn total_followers(&self) -> Option<i32> {
        self.detail(|d| int(d.total_followers))
    }

    /// The spaces directly above this one. `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn parents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).holarchy().parents(self.proof()?, page).await?;
        Ok(super::listed(ctx, page).await)
    }

    /// The spaces below this one: directly (`DIRECT`) or at any depth (`ALL`). `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(SpaceSort::Likes)")] sort: Option<SpaceSort>,
        #[graphql(default_with = "Some(Depth::Direct)")] depth: Option<Depth>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let sort = sort.unwrap_or(SpaceSort::Likes).into();
        let depth = depth.unwrap_or(Depth::Direct).into();
        let page = app(ctx).holarchy().children(self.proof()?, sort, depth, page).await?;
        Ok(super::listed(ctx, page).await)
    }

    /// Every space above this one, nearest first, the root last. `FORBIDDEN` without access.
    async fn ancestors(&self, ctx: &Context<'_>) -> ApiResult<Vec<SpaceObject>> {
        let spaces = app(ctx).holarchy().ancestors(self.proof()?).await?;
        Ok(spaces.into_iter().map(SpaceObject::from).collect())
    }

    /// Every space below this one, nearest first. `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn descendants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).holarchy().descendants(self.proof()?, page).await?;
        Ok(super::listed(ctx, page).await)
    }

    /// The space's moderators, longest-serving first. `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn moderators(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).access().moderators(self.proof()?, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }

    /// The space's feed: posts that appear in it (`depth: ALL`, the default, includes everything flowing up
    /// from the spaces it contains; `DIRECT` only what was posted here). `FORBIDDEN` without access.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(FeedSort::New)")] sort: Option<FeedSort>,
        #[graphql(default_with = "Some(FeedMetric::Likes)")] metric: Option<FeedMetric>,
        #[graphql(default_with = "Some(TimeRange::All)")] time_range: Option<TimeRange>,
        #[graphql(default_with = "Some(Depth::All)")] depth: Option<Depth>,
        search: Option<String>,
        #[graphql(desc = "Only posts holding any of these kinds.")] kinds: Option<Vec<PostKind>>,
        #[graphql(default_with = "Some(FeedScope::Global)", desc = "Whose reactions rank TOP and HOT.")] scope: Option<
            FeedScope,
        >,
    ) -> ApiResult<PostConnection> {
        let args = crate::feeds::FeedArgs::new(first, after, sort, metric, time_range, depth, search, kinds, scope)?;
        crate::feeds::feed(ctx, self.proof()?, args).await
    }

    /// Pending requests to place other spaces under this one, oldest first. Moderators only.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn pending_space_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceRequestConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).holarchy().pending_space_requests(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(SpaceRequestConnection::from_page(page, SpaceRequestObject))
    }

    /// Who holds a membership, longest-standing first. `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).access().members(self.proof()?, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }

    /// Pending requests for access (or, with `kind: INVITE`, invitations not yet answered), oldest first.
    /// Moderators only.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn pending_access_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(AccessRequestKind::Request)")] kind: Option<AccessRequestKind>,
    ) -> ApiResult<SpaceAccessRequestConnection> {
        crate::access::pending_access_requests(ctx, self.0.id, first, after, kind).await
    }

    /// The decisions its governance polls took, newest first: the space's public decision log. `FORBIDDEN`
    /// without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn decisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::polls::DecisionConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).polls().decisions(self.proof()?, page).await?;
        Ok(crate::polls::DecisionConnection::from_page(page, |d| crate::polls::DecisionObject(Arc::new(d))))
    }

    /// What happened in it per day, week or month from the bucket holding `from` up to `to` (at most 400 days,
    /// 160 weeks or 120 months): with `depth: ALL` everything that flows into it, with `DIRECT` only what was
    /// placed in it. `FORBIDDEN` without access.
    #[graphql(complexity = "crate::commons::activity_cost(interval, child_complexity)")]
    async fn activity(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "Some(crate::commons::Interval::Day)")] interval: Option<crate::commons::Interval>,
        #[graphql(default_with = "Some(Depth::All)")] depth: Option<Depth>,
    ) -> ApiResult<Vec<crate::commons::ActivityPointObject>> {
        crate::commons::activity(ctx, self.proof()?, from, to, interval, depth).await
    }

    /// Who posted most in it over `timeRange` (by whole UTC days), then whose posts there were liked most (1 to
    /// 50). `FORBIDDEN` without access.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn top_contributors(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(10)")] first: Option<i32>,
        #[graphql(default_with = "Some(TimeRange::Month)")] time_range: Option<TimeRange>,
    ) -> ApiResult<Vec<crate::commons::ContributorObject>> {
        crate::commons::top_contributors(ctx, self.proof()?, first, time_range).await
    }

    /// Its map: `levels` levels (1 to 4) of children, each node with its first `childLimit` children (1 to 50;
    /// at most 2,000 nodes in all) by `sort` and the count of those left out, as `children` lists them.
    /// `FORBIDDEN` without access.
    #[graphql(complexity = "crate::commons::map_cost(levels, child_limit, child_complexity)")]
    async fn map(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(3)")] levels: Option<i32>,
        #[graphql(default_with = "Some(10)")] child_limit: Option<i32>,
        #[graphql(default_with = "Some(SpaceSort::Likes)")] sort: Option<SpaceSort>,
    ) -> ApiResult<crate::commons::SpaceMapNodeObject> {
        crate::commons::map(ctx, self, self.proof()?, levels, child_limit, sort).await
    }

    /// Its calendar: the events appearing in it (with `depth: DIRECT`, placed in it directly) that start in
    /// `[from, to)` and that the viewer may see, soonest first — at most 500, over at most 366 days.
    /// `FORBIDDEN` without access.
    async fn events(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        #[graphql(default_with = "Some(Depth::All)")] depth: Option<Depth>,
    ) -> ApiResult<Vec<crate::posts::PostObject>> {
        crate::calendar::space_events(ctx, self.proof()?, from, to, depth.unwrap_or(Depth::All)).await
    }

    /// Invitations to moderate this space not yet answered, oldest first. Moderators only.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn pending_moderator_invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<ModeratorInviteConnection> {
        crate::access::pending_moderator_invites(ctx, self.0.id, first, after).await
    }
}

connection!(SpaceConnection, SpaceEdge, SpaceObject, "space");
