//! What one request knows: who is asking, and its DataLoaders (cached for the request only). Each area defines
//! its loaders in its own module; they are registered here, one line each.

use crate::access::{InviteLinkLoader, MembershipLoader};
use crate::accounts::{CoopMemberLoader, UserLoader};
use crate::calendar::{EventLoader, ViewerResponseLoader};
use crate::error::ApiError;
use crate::feeds::FeedLoader;
use crate::holarchy::{SpaceLoader, ViewerSpaceLoader};
use crate::people::{FollowerCountLoader, ViewerFollowsLoader};
use crate::polls::{DecisionLoader, PollLoader, RosterLoader, ViewerBallotLoader};
use crate::posts::{CommentLoader, LinkLikeLoader, PostActionsLoader, PostLoader, PostSpacesLoader};
use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache};
use std::sync::Arc;
use weco_domain::{App, DomainError, Viewer};

fn spawner(f: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(f)
}

/// A DataLoader with a per-request cache.
pub(crate) type Cached<L> = DataLoader<L, HashMapCache>;

pub(crate) fn cached<L>(loader: L) -> Cached<L>
where
    L: Send + Sync + 'static,
{
    DataLoader::with_cache(loader, spawner, HashMapCache::default())
}

/// The request's loaders, one per kind of batched read.
pub(crate) struct Loaders {
    pub users: Arc<Cached<UserLoader>>,
    pub coop_members: Cached<CoopMemberLoader>,
    pub spaces: Cached<SpaceLoader>,
    pub viewer_spaces: Cached<ViewerSpaceLoader>,
    pub posts: Cached<PostLoader>,
    pub post_actions: Cached<PostActionsLoader>,
    pub post_spaces: Cached<PostSpacesLoader>,
    pub comments: Cached<CommentLoader>,
    pub link_likes: Cached<LinkLikeLoader>,
    pub polls: Cached<PollLoader>,
    pub viewer_ballots: Cached<ViewerBallotLoader>,
    pub poll_rosters: Cached<RosterLoader>,
    pub decisions: Cached<DecisionLoader>,
    pub events: Cached<EventLoader>,
    pub viewer_responses: Cached<ViewerResponseLoader>,
    pub feeds: Cached<FeedLoader>,
    pub memberships: Cached<MembershipLoader>,
    pub invite_links: Cached<InviteLinkLoader>,
    pub follower_counts: Cached<FollowerCountLoader>,
    pub viewer_follows: Cached<ViewerFollowsLoader>,
    pub post_media: Cached<crate::media::PostMediaLoader>,
    pub post_cards: Cached<crate::media::PostCardLoader>,
}

impl Loaders {
    fn new(app: &App, viewer: Viewer) -> Self {
        let users = Arc::new(cached(UserLoader { app: app.clone() }));
        Self {
            coop_members: cached(CoopMemberLoader { app: app.clone() }),
            spaces: cached(SpaceLoader { app: app.clone(), viewer }),
            viewer_spaces: cached(ViewerSpaceLoader { app: app.clone(), viewer }),
            posts: cached(PostLoader { app: app.clone(), viewer }),
            post_actions: cached(PostActionsLoader { app: app.clone(), viewer }),
            post_spaces: cached(PostSpacesLoader { app: app.clone(), viewer }),
            comments: cached(CommentLoader { app: app.clone(), viewer }),
            link_likes: cached(LinkLikeLoader { app: app.clone(), viewer }),
            polls: cached(PollLoader { app: app.clone(), viewer }),
            viewer_ballots: cached(ViewerBallotLoader { app: app.clone(), viewer }),
            poll_rosters: cached(RosterLoader { app: app.clone(), viewer }),
            decisions: cached(DecisionLoader { app: app.clone(), viewer }),
            events: cached(EventLoader { app: app.clone(), viewer }),
            viewer_responses: cached(ViewerResponseLoader { app: app.clone(), viewer }),
            feeds: cached(FeedLoader { app: app.clone(), viewer, users: users.clone() }),
            memberships: cached(MembershipLoader { app: app.clone(), viewer }),
            invite_links: cached(InviteLinkLoader { app: app.clone(), viewer }),
            follower_counts: cached(FollowerCountLoader { app: app.clone(), viewer }),
            viewer_follows: cached(ViewerFollowsLoader { app: app.clone(), viewer }),
            post_media: cached(crate::media::PostMediaLoader { app: app.clone(), viewer }),
            post_cards: cached(crate::media::PostCardLoader { app: app.clone(), viewer }),
            users,
        }
    }

    /// Forgets every cached load.
    fn clear(&self) {
        self.users.clear::<weco_domain::UserId>();
        self.coop_members.clear::<weco_domain::UserId>();
        self.spaces.clear::<weco_domain::SpaceId>();
        self.viewer_spaces.clear::<weco_domain::SpaceId>();
        self.posts.clear::<weco_domain::PostId>();
        self.post_actions.clear::<weco_domain::PostId>();
        self.post_spaces.clear::<weco_domain::PostId>();
        self.comments.clear::<weco_domain::CommentId>();
        self.link_likes.clear::<weco_domain::LinkId>();
        self.polls.clear::<weco_domain::PostId>();
        self.viewer_ballots.clear::<weco_domain::PostId>();
        self.poll_rosters.clear::<weco_domain::PostId>();
        self.decisions.clear::<weco_domain::PollAnswerId>();
        self.events.clear::<weco_domain::PostId>();
        self.viewer_responses.clear::<weco_domain::PostId>();
        self.feeds.clear::<crate::feeds::FeedKey>();
        self.memberships.clear::<weco_domain::SpaceId>();
        self.invite_links.clear::<weco_domain::SpaceId>();
        self.follower_counts.clear::<weco_domain::UserId>();
        self.viewer_follows.clear::<weco_domain::UserId>();
        self.post_media.clear::<weco_domain::PostId>();
        self.post_cards.clear::<weco_domain::PostId>();
    }
}

/// Put into each request's data by the server. Cloning shares the loaders (subscriptions keep a handle).
#[derive(Clone)]
pub struct RequestScope {
    pub viewer: Viewer,
    pub(crate) loaders: Arc<Loaders>,
}

impl RequestScope {
    pub fn new(app: &App, viewer: Viewer) -> Self {
        Self { viewer, loaders: Arc::new(Loaders::new(app, viewer)) }
    }

    /// Forgets cached loads after a mutation, so what it returns reflects what it changed.
    pub(crate) fn invalidate(&self) {
        self.loaders.clear();
    }

    /// Primes the user loader with a user an event carried, so resolving it reads no database.
    pub(crate) async fn feed_user(&self, user: weco_domain::User) {
        self.loaders.users.feed_one(user.id, user).await;
    }
}

/// The application, from a resolver's context.
pub(crate) fn app<'a>(ctx: &Context<'a>) -> &'a App {
    ctx.data_unchecked::<App>()
}

/// The request's viewer and loaders, from a resolver's context.
pub(crate) fn scope<'a>(ctx: &Context<'a>) -> Result<&'a RequestScope, ApiError> {
    ctx.data::<RequestScope>().map_err(|_| ApiError(DomainError::internal("resolving", "request has no scope")))
}
