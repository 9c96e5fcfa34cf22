//! People: following users, profiles, finding users, and the spaces a user belongs to.
//!
//! The home feed gathers what the viewer follows, spaces and users, into one feed.
//!
//! Anyone logged in may follow anyone but themself; following is public (anyone may list a user's followers
//! and whom they follow) and counted exactly. A new follower notifies the user followed
//! ([`crate::notifications`]).

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::model::{Post, User};
use crate::notifications::{self, Fold, NewNotification, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::privacy::SpaceView;
use crate::uow::{Command, UnitOfWork};
use crate::values::{Bio, FeedSort, UserName};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};

/// `updateProfile(input)` as given by the client: what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfileInput {
    pub name: Option<String>,
    pub bio: Option<String>,
}

/// The people service: `app.people()`.
pub struct PeopleService<'a> {
    pub(crate) app: &'a App,
}

async fn user_by_handle(uow: &UnitOfWork, handle: &str) -> DomainResult<User> {
    uow.accounts().user_by_handle(handle.trim()).await?.ok_or(DomainError::NotFound("user"))
}

struct FollowUser {
    handle: String,
    on: bool,
}

#[async_trait]
impl Command for FollowUser {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let me = uow.actor().require_user()?;
        let target = user_by_handle(uow, &self.handle).await?;
        if target.id == me {
            return Err(DomainError::validation("handle", "you cannot follow yourself"));
        }
        if self.on {
            if uow.people().follow_user(me, target.id, uow.now()).await? {
                let new = NewNotification {
                    recipient: target.id,
                    kind: NotificationKind::UserFollowed,
                    actor: Some(me),
                    post: None,
                    comment: None,
                    space: None,
                    fold: Fold::PerDay(target.id.0),
                };
                notifications::notify(uow, new).await?;
            }
        } else {
            uow.people().unfollow_user(me, target.id).await?;
        }
        Ok(target)
    }
}

struct UpdateProfile {
    name: Option<UserName>,
    bio: Option<Bio>,
}

#[async_trait]
impl Command for UpdateProfile {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let me = uow.actor().require_user()?;
        let bio = self.bio.as_ref().map(|b| Some(b.as_str()).filter(|b| !b.is_empty()));
        if self.name.is_some() || bio.is_some() {
            uow.people().update_profile(me, self.name.as_ref().map(UserName::as_str), bio).await?;
        }
        uow.accounts().users_by_ids(&[me]).await?.into_iter().next().ok_or(DomainError::NotFound("user"))
    }
}

impl PeopleService<'_> {
    /// The viewer follows the user `handle` (idempotent).
    pub async fn follow(&self, viewer: Viewer, handle: &str) -> DomainResult<User> {
        self.app.execute(viewer.actor()?, &FollowUser { handle: handle.to_owned(), on: true }).await
    }

    /// The viewer stops following the user `handle` (idempotent).
    pub async fn unfollow(&self, viewer: Viewer, handle: &str) -> DomainResult<User> {
        self.app.execute(viewer.actor()?, &FollowUser { handle: handle.to_owned(), on: false }).await
    }

    /// Changes the viewer's name and bio (an empty bio clears it).
    pub async fn update_profile(&self, viewer: Viewer, input: UpdateProfileInput) -> DomainResult<User> {
        let actor = viewer.actor()?;
        let name = input.name.as_deref().map(|n| UserName::parse(n, "input.name")).transpose()?;
        let bio = input.bio.as_deref().map(|b| Bio::parse(b, "input.bio")).transpose()?;
        self.app.execute(actor, &UpdateProfile { name, bio }).await
    }

    pub async fn followers(&self, viewer: Viewer, user: UserId, page: PageRequest) -> DomainResult<Page<User>> {
        self.app.reads(viewer).people().followers(user, &page).await
    }

    pub async fn following(&self, viewer: Viewer, user: UserId, page: PageRequest) -> DomainResult<Page<User>> {
        self.app.reads(viewer).people().following(user, &page).await
    }

    pub async fn follower_counts(&self, viewer: Viewer, users: &[UserId]) -> DomainResult<HashMap<UserId, i64>> {
        self.app.reads(viewer).people().follower_counts(users).await
    }

    /// Which of `users` the viewer follows (none for an anonymous viewer).
    pub async fn followed_by_viewer(&self, viewer: Viewer, users: &[UserId]) -> DomainResult<HashSet<UserId>> {
        match viewer.id() {
            Some(me) => Ok(self.app.reads(viewer).people().followed_among(me, users).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    /// Users matching `query` on handle, name or bio (each word, or the start of one), most followed first.
    pub async fn search(&self, viewer: Viewer, query: &str, page: PageRequest) -> DomainResult<Page<User>> {
        let query = crate::values::parse_search_query(query, "query")?;
        self.app.reads(viewer).people().search_users(&query, &page).await
    }

    /// The viewer's home feed: posts in the spaces they follow (and everything flowing into them) and by the users
    /// they follow, each once, as they may see them; the root space's feed for an anonymous viewer.
    pub async fn home_feed(&self, viewer: Viewer, sort: FeedSort, page: PageRequest) -> DomainResult<Page<Post>> {
        self.app.reads(viewer).people().home_feed(viewer.id(), sort, &page).await
    }

    /// The spaces `user` moderates or is a member of that the viewer may access.
    pub async fn spaces(&self, viewer: Viewer, user: UserId, page: PageRequest) -> DomainResult<Page<SpaceView>> {
        let page = self.app.reads(viewer).people().user_spaces(viewer.id(), user, &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }
}
