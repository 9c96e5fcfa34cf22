//! Per-request DataLoaders. Each turns the keys one level of a query asks for into one batched store call,
//! so the number of statements does not grow with page sizes.

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use std::collections::HashMap;
use weco_domain::{App, DomainError, Space, SpaceId, User, UserId, Viewer};

fn spawner(f: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(f)
}

pub(crate) struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub spaces: DataLoader<SpaceLoader, HashMapCache>,
    pub viewer_spaces: DataLoader<ViewerSpaceLoader, HashMapCache>,
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
