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
use crate::ids::{PostId, SpaceId, StreamId, UserId};
use crate::model::{Post, User};
use crate::notifications::{self, Fold, NewNotification, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::privacy::SpaceView;
use crate::uow::{Command, UnitOfWork};
use crate::values::{Bio, FeedMetric, FeedSort, StreamName, TimeRange, UserName};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::{FeedSources, Reaction, ReactionKind, SourcesOrder};
use std::collections::{HashMap, HashSet};

/// `updateProfile(input)` as given by the client: what is `None` stays as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfileInput {
    pub name: Option<String>,
    pub bio: Option<String>,
    /// Whether open data exports name the user by their handle instead of a pseudonym.
    pub open_data_name: Option<bool>,
}

/// A stream: a named home feed over spaces and users its owner chose. Streams are their owner's alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub id: StreamId,
    pub owner_id: UserId,
    pub name: String,
    pub space_ids: Vec<SpaceId>,
    pub user_ids: Vec<UserId>,
    pub created_at: DateTime<Utc>,
}

/// `createStream(input)` and `updateStream(id, input)` as given by the client.
#[derive(Debug, Clone, Default)]
pub struct StreamInput {
    pub name: String,
    pub space_ids: Vec<SpaceId>,
    pub user_handles: Vec<String>,
}

/// The most spaces, and the most users, one stream may name.
pub const MAX_STREAM_SOURCES: usize = 100;

/// The most streams one user may keep.
pub const MAX_STREAMS: usize = 50;

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
    open_data_name: Option<bool>,
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
        if let Some(on) = self.open_data_name {
            uow.commons().set_open_data_name(me, on).await?;
        }
        uow.accounts().users_by_ids(&[me]).await?.into_iter().next().ok_or(DomainError::NotFound("user"))
    }
}

/// `NOT_FOUND` unless the stream exists and is the actor's (others' streams are not even said to exist).
async fn own_stream(uow: &UnitOfWork, id: StreamId) -> DomainResult<Stream> {
    let me = uow.actor().require_user()?;
    let found = uow.people().streams_by_ids(&[id]).await?.into_iter().next();
    found.filter(|s| s.owner_id == me).ok_or(DomainError::NotFound("stream"))
}

struct SaveStream {
    /// `None`: a new stream.
    id: Option<StreamId>,
    name: StreamName,
    spaces: Vec<SpaceId>,
    handles: Vec<String>,
}

#[async_trait]
impl Command for SaveStream {
    type Output = Stream;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Stream> {
        let me = uow.actor().require_user()?;
        let existing = match self.id {
            Some(id) => Some(own_stream(uow, id).await?),
            None => {
                if uow.people().streams_of(me).await?.len() >= MAX_STREAMS {
                    return Err(DomainError::validation("input", format!("keep at most {MAX_STREAMS} streams")));
                }
                None
            }
        };
        if uow.holarchy().spaces_by_ids(&self.spaces).await?.len() != self.spaces.len() {
            return Err(DomainError::NotFound("space"));
        }
        if uow.holarchy().accessible_among(Some(me), &self.spaces).await?.len() != self.spaces.len() {
            return Err(DomainError::forbidden("a stream may only follow spaces you may access"));
        }
        let users = uow.people().users_by_handles(&self.handles).await?;
        if users.len() != self.handles.len() {
            return Err(DomainError::NotFound("user"));
        }
        let stream = Stream {
            id: existing.as_ref().map_or_else(StreamId::generate, |s| s.id),
            owner_id: me,
            name: self.name.as_str().to_owned(),
            space_ids: self.spaces.clone(),
            user_ids: users.iter().map(|u| u.id).collect(),
            created_at: existing.as_ref().map_or(uow.now(), |s| s.created_at),
        };
        if existing.is_some() {
            uow.people().replace_stream(&stream).await?;
        } else {
            uow.people().insert_stream(&stream).await?;
        }
        Ok(stream)
    }
}

struct DeleteStream {
    id: StreamId,
}

#[async_trait]
impl Command for DeleteStream {
    type Output = bool;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<bool> {
        own_stream(uow, self.id).await?;
        uow.people().delete_stream(self.id).await
    }
}

/// Checks a stream's input: its name, and each space and handle once, within the limits.
fn save_stream(id: Option<StreamId>, input: StreamInput) -> DomainResult<SaveStream> {
    let name = StreamName::parse(&input.name, "input.name")?;
    let mut spaces = input.space_ids;
    spaces.sort();
    spaces.dedup();
    let mut handles: Vec<String> = input.user_handles.iter().map(|h| h.trim().to_lowercase()).collect();
    handles.sort();
    handles.dedup();
    if spaces.len() > MAX_STREAM_SOURCES {
        return Err(DomainError::validation("input.spaceIds", format!("name at most {MAX_STREAM_SOURCES} spaces")));
    }
    if handles.len() > MAX_STREAM_SOURCES {
        return Err(DomainError::validation("input.userHandles", format!("name at most {MAX_STREAM_SOURCES} users")));
    }
    Ok(SaveStream { id, name, spaces, handles })
}

impl PeopleService<'_> {
    /// Creates a stream over spaces the viewer may access and users.
    pub async fn create_stream(&self, viewer: Viewer, input: StreamInput) -> DomainResult<Stream> {
        let actor = viewer.actor()?;
        self.app.execute(actor, &save_stream(None, input)?).await
    }

    /// Replaces the name, spaces and users of one of the viewer's streams.
    pub async fn update_stream(&self, viewer: Viewer, id: StreamId, input: StreamInput) -> DomainResult<Stream> {
        let actor = viewer.actor()?;
        self.app.execute(actor, &save_stream(Some(id), input)?).await
    }

    /// Deletes one of the viewer's streams.
    pub async fn delete_stream(&self, viewer: Viewer, id: StreamId) -> DomainResult<bool> {
        self.app.execute(viewer.actor()?, &DeleteStream { id }).await
    }

    /// One of the viewer's streams; `None` for anyone else's (or none).
    pub async fn stream(&self, viewer: Viewer, id: StreamId) -> DomainResult<Option<Stream>> {
        let Some(me) = viewer.id() else { return Ok(None) };
        let found = self.app.reads(viewer).people().streams_by_ids(&[id]).await?.into_iter().next();
        Ok(found.filter(|s| s.owner_id == me))
    }

    /// The user's streams, oldest first; `None` for anyone but the user themself.
    pub async fn streams(&self, viewer: Viewer, user: UserId) -> DomainResult<Option<Vec<Stream>>> {
        match viewer.id() {
            Some(me) if me == user => Ok(Some(self.app.reads(viewer).people().streams_of(me).await?)),
            _ => Ok(None),
        }
    }

    /// A stream's posts, gathered as the home feed's are, from its spaces and users.
    pub async fn stream_posts(
        &self,
        viewer: Viewer,
        stream: &Stream,
        sort: FeedSort,
        metric: FeedMetric,
        time_range: TimeRange,
        page: PageRequest,
    ) -> DomainResult<Page<Post>> {
        if viewer.id() != Some(stream.owner_id) {
            return Err(DomainError::NotFound("stream"));
        }
        let order = SourcesOrder { sort, metric, since: time_range.since(self.app.ports.clock.now()) };
        let sources = FeedSources::Stream(stream.id);
        self.app.reads(viewer).people().sources_feed(viewer.id(), sources, &order, &page).await
    }

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
        self.app.execute(actor, &UpdateProfile { name, bio, open_data_name: input.open_data_name }).await
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
        let order = SourcesOrder { sort, metric: FeedMetric::Likes, since: None };
        self.app.reads(viewer).people().sources_feed(viewer.id(), FeedSources::Follows, &order, &page).await
    }

    /// Who liked, or rated, a post the viewer may see, most recent first (empty when they may not see it).
    pub async fn reactions(
        &self,
        viewer: Viewer,
        post: PostId,
        kind: ReactionKind,
        page: PageRequest,
    ) -> DomainResult<Page<Reaction>> {
        self.app.reads(viewer).people().reactions(viewer.id(), post, kind, &page).await
    }

    /// The spaces `user` moderates or is a member of that the viewer may access.
    pub async fn spaces(&self, viewer: Viewer, user: UserId, page: PageRequest) -> DomainResult<Page<SpaceView>> {
        let page = self.app.reads(viewer).people().user_spaces(viewer.id(), user, &page).await?;
        Ok(page.map(|(s, ok)| SpaceView::new(s, viewer, ok)))
    }
}
