//! Feeds in the schema: `Space.posts` (batched across every space a query asks for), `searchPosts`.
//!
//! `Space.posts` hands a [`FeedKey`] — the viewer's proof of access to the space and the feed's arguments — to
//! the request's [`FeedLoader`], which gathers every feed asked for at that level of the query (one for
//! `space`, twenty for `space → children → posts`) and loads them in one statement.

use crate::accounts::UserLoader;
use crate::connection::{DEFAULT_PAGE_SIZE, cost, decode_cursor, page_request, page_request_in};
use crate::enums::{Depth, FeedMetric, FeedScope, FeedSort, PostKind, TimeRange};
use crate::error::{ApiError, ApiResult};
use crate::posts::PostConnection;
use crate::scope::{Cached, app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, Object};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::{Accessible, App, DomainError, Page, PageRequest, Post, Viewer};

/// The arguments of one `Space.posts` selection; feeds with equal arguments load together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FeedArgs {
    sort: FeedSort,
    metric: FeedMetric,
    scope: FeedScope,
    time_range: TimeRange,
    depth: Depth,
    search: Option<String>,
    kinds: Vec<PostKind>,
    first: i32,
    after: Option<String>,
}

impl FeedArgs {
    /// The arguments as the schema receives them, with the contract's defaults.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        first: Option<i32>,
        after: Option<String>,
        sort: Option<FeedSort>,
        metric: Option<FeedMetric>,
        time_range: Option<TimeRange>,
        depth: Option<Depth>,
        search: Option<String>,
        kinds: Option<Vec<PostKind>>,
        scope: Option<FeedScope>,
    ) -> ApiResult<Self> {
        // Checked now, so a bad page or cursor is this field's error, not the batch's.
        page_request(first, after.as_deref())?;
        let mut kinds = kinds.unwrap_or_default();
        kinds.sort_by_key(|k| *k as u8);
        kinds.dedup();
        Ok(Self {
            sort: sort.unwrap_or(FeedSort::New),
            metric: metric.unwrap_or(FeedMetric::Likes),
            scope: scope.unwrap_or(FeedScope::Global),
            time_range: time_range.unwrap_or(TimeRange::All),
            depth: depth.unwrap_or(Depth::All),
            search: search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            kinds,
            first: first.unwrap_or(DEFAULT_PAGE_SIZE),
            after,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FeedKey {
    pub space: Accessible,
    pub args: FeedArgs,
}

/// The feed of a space the viewer may access.
pub(crate) async fn feed(ctx: &Context<'_>, space: Accessible, args: FeedArgs) -> ApiResult<PostConnection> {
    match scope(ctx)?.loaders.feeds.load_one(FeedKey { space, args }).await? {
        Some(page) => Ok(PostConnection::from_page(page)),
        None => Err(ApiError(DomainError::internal("loading a feed", "the loader returned no page"))),
    }
}

/// Loads the feeds of many spaces at once: one SQL statement per distinct arguments, however many spaces are
/// asked for.
pub(crate) struct FeedLoader {
    pub app: App,
    pub viewer: Viewer,
    /// Primed with the creators each feed statement returns, so `creator` costs no statement of its own.
    pub users: Arc<Cached<UserLoader>>,
}

impl Loader<FeedKey> for FeedLoader {
    type Value = Page<Post>;
    type Error = DomainError;

    async fn load(&self, keys: &[FeedKey]) -> Result<HashMap<FeedKey, Page<Post>>, DomainError> {
        let mut groups: HashMap<&FeedArgs, Vec<Accessible>> = HashMap::new();
        for key in keys {
            groups.entry(&key.args).or_default().push(key.space);
        }
        let now = weco_domain::now();
        let mut out = HashMap::new();
        for (args, spaces) in groups {
            let after = args.after.as_deref().map(decode_cursor).transpose().map_err(|e| e.0)?;
            let page = PageRequest::new(i64::from(args.first), after)?;
            let domain_args = weco_domain::feeds::FeedArgs {
                sort: args.sort.into(),
                metric: args.metric.into(),
                scope: args.scope.into(),
                depth: args.depth.into(),
                since: weco_domain::values::TimeRange::from(args.time_range).since(now),
                search: args.search.clone(),
                kinds: args.kinds.iter().map(|k| (*k).into()).collect(),
            };
            let (pages, creators) = self.app.feeds().pages(self.viewer, &spaces, &domain_args, page).await?;
            self.users.feed_many(creators.into_iter().map(|u| (u.id, u))).await;
            for (space, page) in spaces.into_iter().zip(pages) {
                out.insert(FeedKey { space, args: args.clone() }, page);
            }
        }
        Ok(out)
    }
}

#[derive(Default)]
pub struct FeedQuery;

#[Object]
impl FeedQuery {
    /// Posts whose title or text match `query` (full-text), newest first, among those the viewer may see.
    #[graphql(complexity = "cost(first, child_complexity)")]
    async fn search_posts(
        &self,
        ctx: &Context<'_>,
        query: String,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).feeds().search(scope(ctx)?.viewer, &query, page).await?;
        Ok(PostConnection::from_page(page))
    }
}
