//! What the people area needs from a store.

use crate::error::DomainResult;
use crate::ids::UserId;
use crate::model::{Post, Space, User};
use crate::page::{Page, PageRequest};
use crate::values::FeedSort;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Follows between users (with their exact counts), profiles, user search, and the spaces a user belongs to.
#[async_trait]
pub trait PeopleRepo: Send + Sync {
    /// `follower` follows `followed`, keeping both users' counts exact; `false` when it already did.
    async fn follow_user(&self, follower: UserId, followed: UserId, at: DateTime<Utc>) -> DomainResult<bool>;
    /// `follower` stops following `followed`; `false` when it did not.
    async fn unfollow_user(&self, follower: UserId, followed: UserId) -> DomainResult<bool>;
    /// Who follows `user`, most recent first.
    async fn followers(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// Whom `user` follows, most recent first.
    async fn following(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// How many followers each user has.
    async fn follower_counts(&self, users: &[UserId]) -> DomainResult<HashMap<UserId, i64>>;
    /// Which of `users` `follower` follows.
    async fn followed_among(&self, follower: UserId, users: &[UserId]) -> DomainResult<Vec<UserId>>;
    /// Sets the name and the bio (`Some(None)` clears it); what is `None` stays.
    async fn update_profile(&self, user: UserId, name: Option<&str>, bio: Option<Option<&str>>) -> DomainResult<()>;
    /// Users whose handle, name or bio match every word of `query` (as a word or the start of one), most
    /// followed first.
    async fn search_users(&self, query: &str, page: &PageRequest) -> DomainResult<Page<User>>;
    /// The spaces `user` moderates or is a member of, among those the viewer may access, with access (always
    /// true here), most followed first.
    async fn user_spaces(
        &self,
        viewer: Option<UserId>,
        user: UserId,
        page: &PageRequest,
    ) -> DomainResult<Page<(Space, bool)>>;
    /// The viewer's home feed, in one statement: the posts appearing in the spaces they follow (with everything
    /// that flows into them) and those placed by the users they follow, each once, among those they may see,
    /// without the posts of users they mute, ordered by the post's own key for `sort` (creation, last activity,
    /// likes, HOT score), then id. An anonymous viewer gets the root space's feed.
    async fn home_feed(&self, viewer: Option<UserId>, sort: FeedSort, page: &PageRequest) -> DomainResult<Page<Post>>;
    /// The users with these handles (lower-case), in no particular order.
    async fn users_by_handles(&self, handles: &[String]) -> DomainResult<Vec<User>>;
}
