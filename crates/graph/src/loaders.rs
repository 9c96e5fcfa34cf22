//! Per-request DataLoaders. Each turns the keys one level of a query asks for into one batched store call,
//! so the number of statements does not grow with page sizes.

use crate::types::{Depth, FeedMetric, FeedScope, FeedSort, PostKind, TimeRange};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use weco_domain::{
    App, Comment, CommentId, DomainError, FeedQuery, Page, PageRequest, Post, PostActions, PostId, Space, SpaceId,
    User, UserId, Viewer,
};

fn spawner(f: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(f)
}

pub(crate) struct Loaders {
    pub users: Arc<DataLoader<UserLoader, HashMapCache>>,
    /// Whether the viewer may access a space; primed by lookups that read it along the way.
    pub access: Arc<DataLoader<AccessLoader, HashMapCache>>,
    pub spaces: DataLoader<SpaceLoader, HashMapCache>,
    pub viewer_spaces: DataLoader<ViewerSpaceLoader, HashMapCache>,
    pub posts: DataLoader<PostLoader, HashMapCache>,
    pub post_actions: DataLoader<PostActionsLoader, HashMapCache>,
    pub post_spaces: DataLoader<PostSpacesLoader, HashMapCache>,
    pub comments: DataLoader<CommentLoader, HashMapCache>,
    pub feeds: DataLoader<FeedLoader, HashMapCache>,
    pub memberships: DataLoader<crate::types::MembershipLoader, HashMapCache>,
    pub invite_links: DataLoader<crate::types::InviteLinkLoader, HashMapCache>,
    pub post_visibility: DataLoader<crate::types::PostVisibilityLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(app: &App, viewer: Viewer) -> Self {
        let users = Arc::new(DataLoader::with_cache(UserLoader(app.clone()), spawner, HashMapCache::default()));
        let access = Arc::new(DataLoader::with_cache(
            AccessLoader { app: app.clone(), viewer },
            spawner,
            HashMapCache::default(),
        ));
        Self {
            users: users.clone(),
            access: access.clone(),
            spaces: DataLoader::with_cache(SpaceLoader(app.clone()), spawner, HashMapCache::default()),
            viewer_spaces: DataLoader::with_cache(
                ViewerSpaceLoader { app: app.clone(), viewer, access: access.clone() },
                spawner,
                HashMapCache::default(),
            ),
            posts: DataLoader::with_cache(PostLoader(app.clone()), spawner, HashMapCache::default()),
            post_actions: DataLoader::with_cache(
                PostActionsLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            post_spaces: DataLoader::with_cache(
                PostSpacesLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            comments: DataLoader::with_cache(CommentLoader(app.clone()), spawner, HashMapCache::default()),
            feeds: DataLoader::with_cache(
                FeedLoader { app: app.clone(), viewer, access, users },
                spawner,
                HashMapCache::default(),
            ),
            memberships: DataLoader::with_cache(
                crate::types::MembershipLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            invite_links: DataLoader::with_cache(
                crate::types::InviteLinkLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            post_visibility: DataLoader::with_cache(
                crate::types::PostVisibilityLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
        }
    }
}

pub(crate) struct UserLoader(App);

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, DomainError> {
        Ok(self.0.users_by_ids(keys).await?.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Which spaces the viewer may access (DESIGN §5 rule 1), for everything in the request that needs to know.
pub(crate) struct AccessLoader {
    app: App,
    viewer: Viewer,
}

impl Loader<SpaceId> for AccessLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, bool>, DomainError> {
        let accessible = self.app.accessible_spaces(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, accessible.contains(id))).collect())
    }
}

/// The spaces of `keys` the viewer may access, from the request's [`AccessLoader`].
async fn accessible_among(
    access: &DataLoader<AccessLoader, HashMapCache>,
    keys: &[SpaceId],
) -> Result<HashSet<SpaceId>, DomainError> {
    Ok(access.load_many(keys.iter().copied()).await?.into_iter().filter(|(_, ok)| *ok).map(|(id, _)| id).collect())
}

pub(crate) struct SpaceLoader(App);

impl Loader<SpaceId> for SpaceLoader {
    type Value = Space;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, Space>, DomainError> {
        Ok(self.0.spaces_by_ids(keys).await?.into_iter().map(|s| (s.id, s)).collect())
    }
}

/// What the viewer is to a space: may they access it, do they moderate it, do they follow it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewerSpace {
    pub can_access: bool,
    pub is_moderator: bool,
    pub is_following: bool,
}

pub(crate) struct ViewerSpaceLoader {
    app: App,
    viewer: Viewer,
    access: Arc<DataLoader<AccessLoader, HashMapCache>>,
}

impl Loader<SpaceId> for ViewerSpaceLoader {
    type Value = ViewerSpace;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, ViewerSpace>, DomainError> {
        let access = accessible_among(&self.access, keys).await?;
        let (moderated, followed) = if self.viewer.id().is_some() {
            (self.app.moderated_spaces(self.viewer, keys).await?, self.app.followed_spaces(self.viewer, keys).await?)
        } else {
            Default::default()
        };
        Ok(keys
            .iter()
            .map(|id| {
                (
                    *id,
                    ViewerSpace {
                        can_access: access.contains(id),
                        is_moderator: moderated.contains(id),
                        is_following: followed.contains(id),
                    },
                )
            })
            .collect())
    }
}

pub(crate) struct PostLoader(App);

impl Loader<PostId> for PostLoader {
    type Value = Post;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Post>, DomainError> {
        Ok(self.0.posts_by_ids(keys).await?.into_iter().map(|p| (p.id, p)).collect())
    }
}

pub(crate) struct CommentLoader(App);

impl Loader<CommentId> for CommentLoader {
    type Value = Comment;
    type Error = DomainError;

    async fn load(&self, keys: &[CommentId]) -> Result<HashMap<CommentId, Comment>, DomainError> {
        Ok(self.0.comments_by_ids(keys).await?.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// What the viewer has done to a post: their like and rating (no statement for anonymous viewers).
pub(crate) struct PostActionsLoader {
    app: App,
    viewer: Viewer,
}

impl Loader<PostId> for PostActionsLoader {
    type Value = PostActions;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, PostActions>, DomainError> {
        let mut actions = self.app.post_actions(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, actions.remove(id).unwrap_or_default())).collect())
    }
}

/// The spaces a post was posted into directly that the viewer may see.
pub(crate) struct PostSpacesLoader {
    app: App,
    viewer: Viewer,
}

impl Loader<PostId> for PostSpacesLoader {
    type Value = Vec<SpaceId>;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Vec<SpaceId>>, DomainError> {
        let mut spaces = self.app.post_spaces(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, spaces.remove(id).unwrap_or_default())).collect())
    }
}

/// The arguments of one `Space.posts` selection; feeds with equal arguments load together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FeedArgs {
    pub sort: FeedSort,
    pub metric: FeedMetric,
    pub scope: FeedScope,
    pub time_range: TimeRange,
    pub depth: Depth,
    pub search: Option<String>,
    pub kinds: Vec<PostKind>,
    pub first: i32,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FeedKey {
    pub space: SpaceId,
    pub args: FeedArgs,
}

/// Loads the feeds of many spaces at once: one access check and one SQL statement per distinct arguments,
/// however many spaces are asked for. `None` means the viewer may not access that space.
pub(crate) struct FeedLoader {
    app: App,
    viewer: Viewer,
    access: Arc<DataLoader<AccessLoader, HashMapCache>>,
    /// Primed with the creators each feed statement returns, so `creator` costs no statement of its own.
    users: Arc<DataLoader<UserLoader, HashMapCache>>,
}

impl Loader<FeedKey> for FeedLoader {
    type Value = Option<Page<Post>>;
    type Error = DomainError;

    async fn load(&self, keys: &[FeedKey]) -> Result<HashMap<FeedKey, Option<Page<Post>>>, DomainError> {
        let mut groups: HashMap<&FeedArgs, Vec<SpaceId>> = HashMap::new();
        for key in keys {
            groups.entry(&key.args).or_default().push(key.space);
        }
        let now = weco_domain::now();
        let mut out = HashMap::new();
        for (args, spaces) in groups {
            let after = args.after.as_deref().map(crate::connection::decode_cursor).transpose().map_err(|e| e.0)?;
            let page = PageRequest::new(i64::from(args.first), after)?;
            let since = weco_domain::values::TimeRange::from(args.time_range).since(now);
            let queries = spaces
                .iter()
                .map(|space| FeedQuery {
                    space: *space,
                    sort: args.sort.into(),
                    metric: args.metric.into(),
                    scope: args.scope.into(),
                    depth: args.depth.into(),
                    since,
                    search: args.search.clone(),
                    kinds: args.kinds.iter().map(|k| (*k).into()).collect(),
                    viewer: None,
                })
                .collect();
            let accessible = accessible_among(&self.access, &spaces).await?;
            let (pages, creators) = self.app.feeds_with_access(self.viewer, queries, page, &accessible).await?;
            self.users.feed_many(creators.into_iter().map(|u| (u.id, u))).await;
            for (space, page) in spaces.into_iter().zip(pages) {
                out.insert(FeedKey { space, args: args.clone() }, page);
            }
        }
        Ok(out)
    }
}
