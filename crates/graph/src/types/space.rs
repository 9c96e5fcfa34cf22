use super::{
    Depth, FeedMetric, FeedScope, FeedSort, PostConnection, PostKind, Privacy, SpaceRequestConnection,
    SpaceRequestObject, SpaceSort, TimeRange, UserConnection, UserObject, int,
};
use crate::connection::{connection, page_request, page_request_in};
use crate::error::ApiError;
use crate::error::ApiResult;
use crate::ids::to_id;
use crate::loaders::ViewerSpace;
use crate::loaders::{FeedArgs, FeedKey};
use crate::scope::{app, scope};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use weco_domain::Space;

/// A community. Spaces nest: a space may sit under several parents, and what is posted in it appears in
/// every space above it that it flows into. Viewers who may not access a space see only its id, handle,
/// name and privacy.
#[derive(Clone)]
pub struct SpaceObject(pub Arc<Space>);

impl From<Space> for SpaceObject {
    fn from(s: Space) -> Self {
        Self(Arc::new(s))
    }
}

impl SpaceObject {
    async fn viewer_state(&self, ctx: &Context<'_>) -> ApiResult<ViewerSpace> {
        Ok(scope(ctx)?.loaders.viewer_spaces.load_one(self.0.id).await?.unwrap_or_default())
    }

    /// `Some(value)` when the viewer may access the space, `None` otherwise.
    async fn gated<T>(&self, ctx: &Context<'_>, value: impl FnOnce(&Space) -> T) -> ApiResult<Option<T>> {
        Ok(self.viewer_state(ctx).await?.can_access.then(|| value(&self.0)))
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
    async fn description(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        self.gated(ctx, |s| s.description.clone()).await
    }

    /// Null for viewers who may not access the space.
    async fn created_at(&self, ctx: &Context<'_>) -> ApiResult<Option<DateTime<Utc>>> {
        self.gated(ctx, |s| s.created_at).await
    }

    /// Who created it. Null for the root space and for viewers who may not access the space.
    async fn creator(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        let Some(Some(creator)) = self.gated(ctx, |s| s.creator_id).await? else {
            return Ok(None);
        };
        Ok(scope(ctx)?.loaders.users.load_one(creator).await?.map(UserObject::from))
    }

    /// Whether the viewer may see this space's content (DESIGN §5 rule 1).
    async fn viewer_can_access(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_state(ctx).await?.can_access)
    }

    async fn viewer_is_moderator(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_state(ctx).await?.is_moderator)
    }

    async fn viewer_is_following(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.viewer_state(ctx).await?.is_following)
    }

    /// Whether the viewer holds a membership of this space (what access to a private space takes).
    async fn viewer_is_member(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        super::access::viewer_is_member(ctx, self.0.id).await
    }

    /// The token of the space's invite link: whoever presents it to `joinSpaceWithInviteLink` becomes a member.
    /// Moderators only: null for everyone else, and while the space has no link.
    async fn invite_link_token(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        super::access::invite_link_token(ctx, self.0.id).await
    }

    /// Posts that appear in this space (its own and those flowing up from below). Null without access.
    async fn total_posts(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        self.gated(ctx, |s| int(s.total_posts)).await
    }

    /// Likes on the posts that appear in this space. Null without access.
    async fn total_post_likes(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        self.gated(ctx, |s| int(s.total_post_likes)).await
    }

    /// Comments on the posts that appear in this space. Null without access.
    async fn total_comments(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        self.gated(ctx, |s| int(s.total_comments)).await
    }

    /// Null without access.
    async fn total_followers(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        self.gated(ctx, |s| int(s.total_followers)).await
    }

    /// The spaces directly above this one. `FORBIDDEN` without access.
    async fn parents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).space_parents(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(SpaceConnection::from_page(page, SpaceObject::from))
    }

    /// The spaces below this one: directly (`DIRECT`) or at any depth (`ALL`). `FORBIDDEN` without access.
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(SpaceSort::Likes)")] sort: Option<SpaceSort>,
        #[graphql(default_with = "Some(Depth::Direct)")] depth: Option<Depth>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let scope = scope(ctx)?;
        // Known when this space was looked up by handle; otherwise read here, as the listing needs it anyway.
        let known = scope.loaders.access.load_one(self.0.id).await?;
        let page = app(ctx)
            .space_children(
                scope.viewer,
                self.0.id,
                sort.unwrap_or(SpaceSort::Likes).into(),
                depth.unwrap_or(Depth::Direct).into(),
                page,
                known,
            )
            .await?;
        // The listing read each child's access: their feeds and viewer fields need no statement for it.
        scope.loaders.access.feed_many(page.items.iter().map(|(_, (space, ok))| (space.id, *ok))).await;
        Ok(SpaceConnection::from_page(page.map(|(space, _)| space), SpaceObject::from))
    }

    /// Every space above this one, nearest first, the root last. `FORBIDDEN` without access.
    async fn ancestors(&self, ctx: &Context<'_>) -> ApiResult<Vec<SpaceObject>> {
        let spaces = app(ctx).space_ancestors(scope(ctx)?.viewer, self.0.id).await?;
        Ok(spaces.into_iter().map(SpaceObject::from).collect())
    }

    /// Every space below this one, nearest first. `FORBIDDEN` without access.
    async fn descendants(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).space_descendants(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(SpaceConnection::from_page(page, SpaceObject::from))
    }

    /// The space's moderators, longest-serving first. `FORBIDDEN` without access.
    async fn moderators(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).space_moderators(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }

    /// The space's feed: posts that appear in it (`depth: ALL`, the default, includes everything flowing up
    /// from the spaces it contains; `DIRECT` only what was posted here). `FORBIDDEN` without access.
    #[allow(clippy::too_many_arguments)]
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
        page_request(first, after.as_deref())?;
        let mut kinds = kinds.unwrap_or_default();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        let key = FeedKey {
            space: self.0.id,
            args: FeedArgs {
                sort: sort.unwrap_or(FeedSort::New),
                metric: metric.unwrap_or(FeedMetric::Likes),
                scope: scope.unwrap_or(FeedScope::Global),
                time_range: time_range.unwrap_or(TimeRange::All),
                depth: depth.unwrap_or(Depth::All),
                search: search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
                kinds,
                first: first.unwrap_or(crate::connection::DEFAULT_PAGE_SIZE),
                after,
            },
        };
        match crate::scope::scope(ctx)?.loaders.feeds.load_one(key).await? {
            Some(Some(page)) => Ok(PostConnection::from_page(page)),
            _ => Err(ApiError(weco_domain::DomainError::forbidden("this space is private"))),
        }
    }

    /// Pending requests to place other spaces under this one, oldest first. Moderators only.
    async fn pending_space_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<SpaceRequestConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).pending_space_requests(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(SpaceRequestConnection::from_page(page, SpaceRequestObject))
    }

    /// Who holds a membership, longest-standing first. `FORBIDDEN` without access.
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        super::access::members(ctx, self.0.id, first, after).await
    }

    /// Pending requests for access (or, with `kind: INVITE`, invitations not yet answered), oldest first.
    /// Moderators only.
    async fn pending_access_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(super::AccessRequestKind::Request)")] kind: Option<super::AccessRequestKind>,
    ) -> ApiResult<super::SpaceAccessRequestConnection> {
        super::access::pending_access_requests(ctx, self.0.id, first, after, kind).await
    }

    /// Invitations to moderate this space not yet answered, oldest first. Moderators only.
    async fn pending_moderator_invites(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<super::ModeratorInviteConnection> {
        super::access::pending_moderator_invites(ctx, self.0.id, first, after).await
    }
}

connection!(SpaceConnection, SpaceEdge, SpaceObject, "space");
