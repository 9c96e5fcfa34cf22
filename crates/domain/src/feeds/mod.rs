//! Feeds: what appears in a space (its own posts and those flowing up from below), in every ordering, a
//! reconnecting subscriber's replay, a user's posts, and full-text search — each for its viewer, leaving out
//! the posts of users the viewer muted. Also what tree edits announce about the feeds they change.

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{AuthorWire, Event, PostWire, Topic};
use crate::ids::*;
use crate::model::*;
use crate::page::{Cursor, Page, PageRequest};
use crate::privacy::Accessible;
use crate::uow::UnitOfWork;
use crate::values::{Depth, FeedMetric, FeedScope, FeedSort, PostKind};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The arguments of a feed, shared by every space asked for at once.
#[derive(Debug, Clone)]
pub struct FeedArgs {
    pub sort: FeedSort,
    pub metric: FeedMetric,
    pub scope: FeedScope,
    pub depth: Depth,
    /// Only posts created at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub search: Option<String>,
    pub kinds: Vec<PostKind>,
}

/// The feeds service: `app.feeds()`.
pub struct FeedService<'a> {
    pub(crate) app: &'a App,
}

impl FeedService<'_> {
    /// One page of each space's feed (in the order of `spaces`), with the creators of their posts, in one
    /// statement whatever the number of spaces.
    pub async fn pages(
        &self,
        viewer: Viewer,
        spaces: &[Accessible],
        args: &FeedArgs,
        page: PageRequest,
    ) -> DomainResult<(Vec<Page<Post>>, Vec<User>)> {
        if args.scope == FeedScope::Local && args.sort == FeedSort::Top && args.metric != FeedMetric::Likes {
            return Err(DomainError::validation("metric", "a LOCAL feed ranks by the likes cast in it: use LIKES"));
        }
        let search = match args.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(search) => Some(crate::values::parse_search_query(search, "search")?),
            None => None,
        };
        let mut queries = Vec::with_capacity(spaces.len());
        for proof in spaces {
            queries.push(FeedQuery {
                space: proof.check(viewer)?,
                sort: args.sort,
                metric: args.metric,
                scope: args.scope,
                depth: args.depth,
                since: args.since,
                search: search.clone(),
                kinds: args.kinds.clone(),
                viewer: viewer.id(),
            });
        }
        let FeedPages { pages, creators } = self.app.reads(viewer).feeds().feeds(&queries, &page).await?;
        Ok((pages, creators))
    }

    /// What a reconnecting feed subscriber missed since `after` (a NEW-order cursor), oldest first, at most
    /// `limit` posts.
    pub async fn since(&self, space: Accessible, depth: Depth, after: &Cursor, limit: i64) -> DomainResult<Vec<Post>> {
        let viewer = space.viewer();
        // From the primary, never a replica: the caller subscribed to live events first, and an event can
        // arrive before a lagging replica has its row, which would leave a gap between replay and live.
        let primary: &dyn crate::uow::Repos = self.app.store().as_ref();
        primary.feeds().feed_since(viewer.id(), space.space(), depth, after, limit).await
    }

    /// The author's posts that the viewer may see, newest first.
    pub async fn user_posts(&self, viewer: Viewer, author: UserId, page: PageRequest) -> DomainResult<Page<Post>> {
        self.app.reads(viewer).feeds().user_posts(viewer.id(), author, &page).await
    }

    /// Posts whose title or text match `query` (full-text), newest first, among those the viewer may see.
    pub async fn search(&self, viewer: Viewer, query: &str, page: PageRequest) -> DomainResult<Page<Post>> {
        let query = crate::values::parse_search_query(query, "query")?;
        self.app.reads(viewer).feeds().search_posts(viewer.id(), &query, &page).await
    }
}

/// Announces what a tree edit did to the feeds: each post that now appears in more spaces, and each that
/// left some (one announcement per post, on the topics of the spaces concerned).
pub(crate) async fn announce_appearances(uow: &mut UnitOfWork, changes: &Appearances) -> DomainResult<()> {
    let mut added: HashMap<PostId, Vec<(SpaceId, bool)>> = HashMap::new();
    for a in &changes.added {
        added.entry(a.post).or_default().push((a.space, a.direct));
    }
    let mut removed: HashMap<PostId, Vec<(SpaceId, bool)>> = HashMap::new();
    for a in &changes.removed {
        removed.entry(a.post).or_default().push((a.space, a.direct));
    }
    let concerned: Vec<PostId> = added.keys().chain(removed.keys()).copied().collect();
    let mut audiences = if concerned.is_empty() { HashMap::new() } else { uow.posts().audiences(&concerned).await? };
    if !added.is_empty() {
        let ids: Vec<PostId> = added.keys().copied().collect();
        let posts = uow.posts().posts_by_ids(&ids).await?;
        let mut creators: Vec<UserId> = posts.iter().map(|p| p.creator_id).collect();
        creators.sort();
        creators.dedup();
        let authors: HashMap<UserId, AuthorWire> =
            uow.accounts().users_by_ids(&creators).await?.iter().map(|u| (u.id, AuthorWire::from(u))).collect();
        for post in posts {
            let (Some(spaces), Some(author)) = (added.get(&post.id), authors.get(&post.creator_id)) else { continue };
            uow.announce(
                spaces.iter().map(|(s, _)| Topic::Space(*s)).collect(),
                Event::PostAdded {
                    post: Box::new(PostWire::from(&post)),
                    author: Box::new(author.clone()),
                    direct_spaces: spaces.iter().filter(|(_, d)| *d).map(|(s, _)| *s).collect(),
                    audience: audiences.get(&post.id).cloned().unwrap_or_default(),
                },
            );
        }
    }
    for (post, spaces) in removed {
        uow.announce(
            spaces.iter().map(|(s, _)| Topic::Space(*s)).collect(),
            Event::PostRemoved {
                post_id: post,
                deleted: false,
                direct_spaces: spaces.iter().filter(|(_, d)| *d).map(|(s, _)| *s).collect(),
                audience: audiences.remove(&post).unwrap_or_default(),
            },
        );
    }
    Ok(())
}
