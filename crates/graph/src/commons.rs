//! The data commons: a space's activity over time, its top contributors, its map, and the network's counts
//! (docs/commons.md). Every read of a space takes the viewer's proof of access, so a private space's numbers
//! are `FORBIDDEN` to non-members, and what does not flow into a space is not counted in it.

use crate::accounts::{UserObject, load_user};
use crate::connection::int;
use crate::enums::{Depth, SpaceSort, TimeRange};
use crate::error::ApiResult;
use crate::holarchy::SpaceObject;
use crate::scope::app;
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use weco_domain::commons::ports::{self, Contribution};
use weco_domain::commons::{ActivityPoint, MapBranch};
use weco_domain::{Accessible, values};

/// The length of an activity bucket (UTC).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum Interval {
    Day,
    /// ISO weeks, from Monday.
    Week,
    /// Calendar months.
    Month,
}

impl From<Interval> for ports::Interval {
    fn from(i: Interval) -> Self {
        match i {
            Interval::Day => Self::Day,
            Interval::Week => Self::Week,
            Interval::Month => Self::Month,
        }
    }
}

/// What happened in a space during one bucket. Acts are counted on the day they happened and are not taken
/// back later (an unliked like, a deleted post still count where they happened).
#[derive(SimpleObject)]
#[graphql(name = "ActivityPoint")]
pub struct ActivityPointObject {
    /// The start of the bucket.
    start: DateTime<Utc>,
    posts: i32,
    comments: i32,
    likes: i32,
    /// Distinct users who posted, commented, liked or created a space in it during the bucket.
    active_users: i32,
    /// Spaces created below it (directly under it with `depth: DIRECT`).
    new_spaces: i32,
}

impl From<ActivityPoint> for ActivityPointObject {
    fn from(p: ActivityPoint) -> Self {
        Self {
            start: p.start,
            posts: int(p.counts.posts),
            comments: int(p.counts.comments),
            likes: int(p.counts.likes),
            active_users: int(p.counts.active_users),
            new_spaces: int(p.counts.new_spaces),
        }
    }
}

/// A user's part in a space: the posts they placed in it (or that flowed into it) and the likes those posts
/// received there.
pub struct ContributorObject(Contribution);

#[Object(name = "Contributor")]
impl ContributorObject {
    async fn user(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.0.user).await
    }

    async fn posts(&self) -> i32 {
        int(self.0.posts)
    }

    async fn likes_received(&self) -> i32 {
        int(self.0.likes_received)
    }
}

/// The network's counts. Spaces, posts, comments and likes count only what is public (what flows into the root
/// space).
#[derive(SimpleObject)]
#[graphql(name = "PlatformStats")]
pub struct PlatformStatsObject {
    users: i32,
    coop_members: i32,
    spaces: i32,
    posts: i32,
    comments: i32,
    likes: i32,
}

/// A node of a space map: the space, its first children (as `Space.children` lists them) and how many of its
/// children were left out by `childLimit`. A child the viewer may not access is shown by name and not opened
/// (its `children` are empty and `hiddenChildren` is 0); so are the nodes on the last level.
pub struct SpaceMapNodeObject {
    space: SpaceObject,
    branch: MapBranch,
}

#[Object(name = "SpaceMapNode")]
impl SpaceMapNodeObject {
    async fn space(&self) -> &SpaceObject {
        &self.space
    }

    async fn children(&self) -> Vec<SpaceMapNodeObject> {
        self.branch
            .children
            .iter()
            .map(|(view, branch)| SpaceMapNodeObject { space: SpaceObject::from(view.clone()), branch: branch.clone() })
            .collect()
    }

    async fn hidden_children(&self) -> i32 {
        int(self.branch.hidden_children)
    }
}

/// `Space.activity`.
pub(crate) async fn activity(
    ctx: &Context<'_>,
    proof: Accessible,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval: Option<Interval>,
    depth: Option<Depth>,
) -> ApiResult<Vec<ActivityPointObject>> {
    let interval = interval.unwrap_or(Interval::Day).into();
    let depth = depth.unwrap_or(Depth::All).into();
    let points = app(ctx).commons().activity(proof, from, to, interval, depth).await?;
    Ok(points.into_iter().map(ActivityPointObject::from).collect())
}

/// `Space.topContributors`.
pub(crate) async fn top_contributors(
    ctx: &Context<'_>,
    proof: Accessible,
    first: Option<i32>,
    time_range: Option<TimeRange>,
) -> ApiResult<Vec<ContributorObject>> {
    let range = values::TimeRange::from(time_range.unwrap_or(TimeRange::Month));
    let found = app(ctx).commons().top_contributors(proof, first.unwrap_or(10), range).await?;
    Ok(found.into_iter().map(ContributorObject).collect())
}

/// `Space.map`.
pub(crate) async fn map(
    ctx: &Context<'_>,
    space: &SpaceObject,
    proof: Accessible,
    levels: Option<i32>,
    child_limit: Option<i32>,
    sort: Option<SpaceSort>,
) -> ApiResult<SpaceMapNodeObject> {
    let sort = sort.unwrap_or(SpaceSort::Likes).into();
    let branch = app(ctx).commons().map(proof, levels.unwrap_or(3), child_limit.unwrap_or(10), sort).await?;
    Ok(SpaceMapNodeObject { space: space.clone(), branch })
}

/// The cost of `Space.map` for the query limit: its most nodes times the cost of one.
pub(crate) fn map_cost(levels: Option<i32>, child_limit: Option<i32>, child_complexity: usize) -> usize {
    let levels = levels.unwrap_or(3).clamp(1, weco_domain::commons::MAX_MAP_LEVELS as i32) as u32;
    let limit = child_limit.unwrap_or(10).clamp(1, weco_domain::commons::MAX_MAP_CHILDREN as i32) as usize;
    let nodes: usize = (1..=levels).map(|k| limit.saturating_pow(k)).fold(1, usize::saturating_add);
    nodes.saturating_mul(child_complexity).saturating_add(1)
}

/// The cost of `Space.activity` for the query limit: its most buckets times the cost of one.
pub(crate) fn activity_cost(interval: Option<Interval>, child_complexity: usize) -> usize {
    let buckets = weco_domain::commons::max_buckets(interval.unwrap_or(Interval::Day).into());
    buckets.saturating_mul(child_complexity).saturating_add(1)
}

#[derive(Default)]
pub struct CommonsQuery;

#[Object]
impl CommonsQuery {
    /// Counts over the whole network: users, cooperative members, and the public spaces, posts, comments and
    /// likes (nothing of private spaces).
    async fn platform_stats(&self, ctx: &Context<'_>) -> ApiResult<PlatformStatsObject> {
        let s = app(ctx).commons().platform_stats().await?;
        Ok(PlatformStatsObject {
            users: int(s.users),
            coop_members: int(s.coop_members),
            spaces: int(s.spaces),
            posts: int(s.posts),
            comments: int(s.comments),
            likes: int(s.likes),
        })
    }
}
