//! Rows as the domain sees them: what the store returns and the services reason about.

use crate::ids::*;
use crate::values::{Privacy, RequestState};
use chrono::{DateTime, Utc};

/// A registered user as others may see them: never the password hash, never the e-mail address (which only
/// logging in reads).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub handle: String,
    pub name: String,
    pub bio: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What the store needs to create a user; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub handle: String,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A space with its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub id: SpaceId,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub privacy: Privacy,
    pub creator_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub total_posts: i64,
    pub total_post_likes: i64,
    pub total_comments: i64,
    pub total_followers: i64,
    pub last_activity_at: DateTime<Utc>,
}

/// What the store needs to create a space.
#[derive(Debug, Clone)]
pub struct NewSpace {
    pub id: SpaceId,
    pub handle: String,
    pub name: String,
    pub description: String,
    pub privacy: Privacy,
    pub creator_id: UserId,
    pub created_at: DateTime<Utc>,
}

/// A request to attach `child` under `parent`, answered by the parent's moderators.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceRequest {
    pub id: SpaceRequestId,
    pub child_id: SpaceId,
    pub parent_id: SpaceId,
    pub requester_id: UserId,
    pub state: RequestState,
    pub created_at: DateTime<Utc>,
}

/// Whether an access request came from the user or from a moderator's invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessRequestKind {
    /// The user asked; a moderator answers.
    Request,
    /// A moderator invited; the user answers.
    Invite,
}

/// A request for, or an invitation to, access to a private space.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    pub space_id: SpaceId,
    pub user_id: UserId,
    pub kind: AccessRequestKind,
    pub state: RequestState,
    pub created_at: DateTime<Utc>,
}

/// An invitation to moderate a space. Only the invitee may accept it (weco.io let anyone do so).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeratorInvite {
    pub id: ModeratorInviteId,
    pub space_id: SpaceId,
    pub user_id: UserId,
    pub inviter_id: UserId,
    pub state: RequestState,
    pub created_at: DateTime<Utc>,
}

/// Timestamps are kept to the microsecond so they compare equal on every backend.
pub fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// A post with its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: PostId,
    pub creator_id: UserId,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub kinds: Vec<crate::values::PostKind>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub total_likes: i64,
    pub total_comments: i64,
    pub total_reposts: i64,
    pub total_ratings: i64,
    pub rating_sum: i64,
    pub total_links: i64,
    /// When its creator last changed its title, text or address.
    pub edited_at: Option<DateTime<Utc>>,
    /// Grows with every change of the counters: of two snapshots, the higher version is the newer.
    pub stats_version: i64,
}

impl Post {
    /// The mean rating, when there is one.
    pub fn average_rating(&self) -> Option<f64> {
        (self.total_ratings > 0).then(|| self.rating_sum as f64 / self.total_ratings as f64)
    }
}

/// What the store needs to create a post.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub id: PostId,
    pub creator_id: UserId,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub kinds: Vec<crate::values::PostKind>,
    pub created_at: DateTime<Utc>,
}

/// A comment; `parent_id` is set on replies.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: CommentId,
    pub post_id: PostId,
    pub parent_id: Option<CommentId>,
    pub creator_id: UserId,
    /// Empty once deleted.
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub total_replies: i64,
    /// Deleted by its author or a moderator: it stays in the tree (its replies hang off it) without its text.
    pub deleted: bool,
}

/// A described link from one post to another, counted on both.
#[derive(Debug, Clone, PartialEq)]
pub struct PostLink {
    pub id: LinkId,
    pub source_id: PostId,
    pub target_id: PostId,
    pub creator_id: UserId,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub total_likes: i64,
}

/// A post's new title, text, address and kinds (`updatePost`).
#[derive(Debug, Clone, PartialEq)]
pub struct PostEdit {
    pub post: PostId,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    pub kinds: Vec<crate::values::PostKind>,
}

/// What the viewer has done to a post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostActions {
    pub liked: bool,
    pub rating: Option<i64>,
}

/// Pages of feeds (one per query, in order), with the creators of their posts read alongside.
#[derive(Debug, Clone, Default)]
pub struct FeedPages {
    pub pages: Vec<crate::Page<Post>>,
    pub creators: Vec<User>,
}

/// A feed request, as the store answers it.
#[derive(Debug, Clone)]
pub struct FeedQuery {
    pub space: SpaceId,
    pub sort: crate::values::FeedSort,
    pub metric: crate::values::FeedMetric,
    pub scope: crate::values::FeedScope,
    pub depth: crate::values::Depth,
    /// Only posts created at or after this time.
    pub since: Option<DateTime<Utc>>,
    pub search: Option<String>,
    pub kinds: Vec<crate::values::PostKind>,
    /// Whose mutes to apply.
    pub viewer: Option<UserId>,
}

/// Whether a post shows in one space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpacePostState {
    Active,
    /// Hidden there by a moderator of that space.
    Removed,
}

/// Where a post is: every space it is active in (and whether it was placed there directly), and its audience —
/// the private spaces at or above the spaces it was placed in (whose members alone may see it; none for a
/// public post).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub spaces: Vec<(SpaceId, bool)>,
    pub audience: Vec<SpaceId>,
}

impl Placement {
    /// The spaces it was placed in directly.
    pub fn direct(&self) -> Vec<SpaceId> {
        self.spaces.iter().filter(|(_, d)| *d).map(|(s, _)| *s).collect()
    }
}

/// What a detach did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachOutcome {
    /// The child had no parent left and went back under the root.
    pub returned_to_root: bool,
    /// (private ancestor, space in the subtree) pairs that no longer hold.
    pub private_ancestry_lost: u64,
}

/// A change to the feeds of a tree edit: `post` now appears in (or no longer appears in) `space`, placed there
/// directly or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Appearance {
    pub space: SpaceId,
    pub post: PostId,
    pub direct: bool,
}

/// What a tree edit did to the feeds: the appearances it added and removed, newest posts first, at most
/// [`Appearances::LIMIT`] each (a move of a large subtree changes more; feeds read later are exact, live
/// subscribers hear of the newest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appearances {
    pub added: Vec<Appearance>,
    pub removed: Vec<Appearance>,
}

impl Appearances {
    /// The most appearances of each kind one edit reports.
    pub const LIMIT: usize = 500;

    pub fn extend(&mut self, other: Appearances) {
        self.added.extend(other.added);
        self.removed.extend(other.removed);
    }
}
