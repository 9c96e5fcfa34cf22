//! Per-request DataLoaders. Each turns the keys one level of a query asks for into one batched store call,
//! so the number of statements does not grow with page sizes.

use crate::types::{Depth, FeedMetric, FeedScope, FeedSort, PostKind, TimeRange};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use std::collections::HashMap;
use weco_domain::{
    App, Comment, CommentId, DomainError, FeedQuery, Page, PageRequest, Post, PostActions, PostId, Space, SpaceId,
    User, UserId, Viewer,
};

fn spawner(f: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(f)
}

pub(crate) struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub spaces: DataLoader<SpaceLoader, HashMapCache>,
    pub viewer_spaces: DataLoader<ViewerSpaceLoader, HashMapCache>,
    pub posts: DataLoader<PostLoader, HashMapCache>,
    pub post_viewer: DataLoader<PostViewerLoader, HashMapCache>,
    pub comments: DataLoader<CommentLoader, HashMapCache>,
    pub feeds: DataLoader<FeedLoader, HashMapCache>,
    pub memberships: DataLoader<crate::types::MembershipLoader, HashMapCache>,
    pub invite_links: DataLoader<crate::types::InviteLinkLoader, HashMapCache>,
    pub post_visibility: DataLoader<crate::types::PostVisibilityLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(app: &App, viewer: Viewer) -> Self {
        Self {
            users: DataLoader::with_cache(UserLoader(app.clone()), spawner, HashMapCache::default()),
            spaces: DataLoader::with_cache(SpaceLoader(app.clone()), spawner, HashMapCache::default()),
            viewer_spaces: DataLoader::with_cache(
                ViewerSpaceLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            posts: DataLoader::with_cache(PostLoader(app.clone()), spawner, HashMapCache::default()),
            post_viewer: DataLoader::with_cache(
                PostViewerLoader { app: app.clone(), viewer },
                spawner,
                HashMapCache::default(),
            ),
            comments: DataLoader::with_cache(CommentLoader(app.clone()), spawner, HashMapCache::default()),
            feeds: DataLoader::with_cache(FeedLoader { app: app.clone(), viewer }, spawner, HashMapCache::default()),
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
}

impl Loader<SpaceId> for ViewerSpaceLoader {
    type Value = ViewerSpace;
    type Error = DomainError;

    async fn load(&self, keys: &[SpaceId]) -> Result<HashMap<SpaceId, ViewerSpace>, DomainError> {
        let access = self.app.accessible_spaces(self.viewer, keys).await?;
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

/// What the viewer is to a post: their like and rating, and the post's spaces they may see.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostViewer {
    pub actions: PostActions,
    pub spaces: Vec<SpaceId>,
}

pub(crate) struct PostViewerLoader {
    app: App,
    viewer: Viewer,
}

impl Loader<PostId> for PostViewerLoader {
    type Value = PostViewer;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, PostViewer>, DomainError> {
        let mut actions = self.app.post_actions(self.viewer, keys).await?;
        let mut spaces = self.app.post_spaces(self.viewer, keys).await?;
        Ok(keys
            .iter()
            .map(|id| {
                let view = PostViewer {
                    actions: actions.remove(id).unwrap_or_default(),
                    spaces: spaces.remove(id).unwrap_or_default(),
                };
                (*id, view)
            })
            .collect())
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
            let pages = self.app.feeds(self.viewer, queries, page).await?;
            for (space, page) in spaces.into_iter().zip(pages) {
                out.insert(FeedKey { space, args: args.clone() }, page);
            }
        }
        Ok(out)
    }
}
