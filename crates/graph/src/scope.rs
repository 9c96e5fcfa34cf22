//! What one request knows: who is asking, and its DataLoaders (cached for the request only).

use crate::error::ApiError;
use crate::loaders::Loaders;
use async_graphql::Context;
use weco_domain::{App, DomainError, Viewer};

/// Put into each request's data by the server. Cloning shares the loaders (subscriptions keep a handle).
#[derive(Clone)]
pub struct RequestScope {
    pub viewer: Viewer,
    pub(crate) loaders: std::sync::Arc<Loaders>,
}

impl RequestScope {
    pub fn new(app: &App, viewer: Viewer) -> Self {
        Self { viewer, loaders: std::sync::Arc::new(Loaders::new(app, viewer)) }
    }
}

/// The application, the request's viewer and loaders, from a resolver's context.
pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a App {
    ctx.data_unchecked::<App>()
}

pub(crate) fn scope<'a>(ctx: &Context<'a>) -> Result<&'a RequestScope, ApiError> {
    ctx.data::<RequestScope>().map_err(|_| ApiError(DomainError::internal("resolving", "request has no scope")))
}

impl RequestScope {
    /// Forgets cached loads after a mutation, so what it returns reflects what it changed.
    pub(crate) fn invalidate(&self) {
        self.loaders.users.clear::<weco_domain::UserId>();
        self.loaders.spaces.clear::<weco_domain::SpaceId>();
        self.loaders.viewer_spaces.clear::<weco_domain::SpaceId>();
        self.loaders.posts.clear::<weco_domain::PostId>();
        self.loaders.access.clear::<weco_domain::SpaceId>();
        self.loaders.post_actions.clear::<weco_domain::PostId>();
        self.loaders.post_spaces.clear::<weco_domain::PostId>();
        self.loaders.comments.clear::<weco_domain::CommentId>();
        self.loaders.feeds.clear::<crate::loaders::FeedKey>();
        self.loaders.memberships.clear::<weco_domain::SpaceId>();
        self.loaders.invite_links.clear::<weco_domain::SpaceId>();
        self.loaders.post_visibility.clear::<weco_domain::PostId>();
    }
}

impl RequestScope {
    /// Primes the user loader with a user an event carried, so resolving it reads no database.
    pub(crate) async fn feed_user(&self, user: weco_domain::User) {
        self.loaders.users.feed_one(user.id, user).await;
    }
}
