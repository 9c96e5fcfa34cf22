//! Posts, reposts, moderation of posts in a space, reactions, comments, feeds and search.

use super::App;
use crate::error::{DomainError, DomainResult};
use crate::ids::*;
use crate::model::*;
use crate::page::{Page, PageRequest};
use crate::ports::{Repo, SpacePostState};
use crate::values::{self, PostKind};
use std::collections::{BTreeSet, HashMap, HashSet};

/// `createPost(input)` as given by the client.
#[derive(Debug, Clone, Default)]
pub struct CreatePostCommand {
    pub space_ids: Vec<SpaceId>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
}

/// The most spaces one post may be placed in at once.
pub const MAX_TARGET_SPACES: usize = 20;

fn dedup_targets(spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
    let mut seen = HashSet::new();
    let targets: Vec<SpaceId> = spaces.iter().copied().filter(|s| seen.insert(*s)).collect();
    if targets.is_empty() {
        return Err(DomainError::validation("input.spaceIds", "name at least one space"));
    }
    if targets.len() > MAX_TARGET_SPACES {
        return Err(DomainError::validation("input.spaceIds", format!("name at most {MAX_TARGET_SPACES} spaces")));
    }
    Ok(targets)
}

/// Every target must exist and be accessible to the author (DESIGN §5 rule 3).
async fn check_targets(repo: &dyn Repo, user: UserId, targets: &[SpaceId]) -> DomainResult<()> {
    let found: HashSet<SpaceId> = repo.spaces_by_ids(targets).await?.into_iter().map(|s| s.id).collect();
    if found.len() != targets.len() {
        return Err(DomainError::NotFound("space"));
    }
    let accessible: HashSet<SpaceId> = repo.accessible_among(Some(user), targets).await?.into_iter().collect();
    if accessible.len() != targets.len() {
        return Err(DomainError::forbidden("you may not post in a private space you are not a member of"));
    }
    Ok(())
}

/// All the spaces a post is placed in must share one set of private ancestors (DESIGN §5 rule 3).
async fn check_one_audience(repo: &dyn Repo, spaces: &[SpaceId]) -> DomainResult<()> {
    let ancestry = repo.private_ancestry(spaces).await?;
    let empty = BTreeSet::new();
    let mut sets = spaces.iter().map(|s| ancestry.get(s).unwrap_or(&empty));
    if let Some(first) = sets.next()
        && sets.any(|set| set != first)
    {
        return Err(DomainError::PrivacyMismatch(
            "these spaces have different audiences: a post can only go into spaces behind the same private spaces"
                .into(),
        ));
    }
    Ok(())
}

impl App {
    /// Posts into one or more spaces; the post then appears in every space above them that it flows into.
    pub async fn create_post(&self, viewer: Viewer, cmd: CreatePostCommand) -> DomainResult<Post> {
        let user = viewer.require()?;
        let title = values::parse_title(cmd.title.as_deref())?;
        let text = values::parse_post_text(cmd.text.as_deref())?;
        let url = values::parse_url(cmd.url.as_deref())?;
        let mut kinds = Vec::new();
        if title.is_some() || text.is_some() {
            kinds.push(PostKind::Text);
        }
        if url.is_some() {
            kinds.push(PostKind::Url);
        }
        if kinds.is_empty() {
            return Err(DomainError::validation("input", "a post needs a title, a text or a url"));
        }
        let targets = dedup_targets(&cmd.space_ids)?;
        let tx = self.store.begin().await?;
        check_targets(&*tx, user, &targets).await?;
        check_one_audience(&*tx, &targets).await?;
        let post = NewPost { id: PostId::generate(), creator_id: user, title, text, url, kinds, created_at: now() };
        tx.insert_post(&post, &targets).await?;
        let created = tx.posts_by_ids(&[post.id]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))?;
        let appearances = tx.appearances(post.id).await?;
        let creator = tx.users_by_ids(&[user]).await?.into_iter().next();
        tx.commit().await?;
        self.announce_added(&created, creator, &appearances).await;
        Ok(created)
    }

    /// Adds a post the viewer can see directly to more spaces (the same audience rule applies).
    pub async fn repost(&self, viewer: Viewer, post: PostId, spaces: &[SpaceId]) -> DomainResult<Post> {
        let user = viewer.require()?;
        let targets = dedup_targets(spaces)?;
        let tx = self.store.begin().await?;
        if tx.visible_posts_among(Some(user), &[post]).await?.is_empty() {
            return Err(DomainError::NotFound("post"));
        }
        check_targets(&*tx, user, &targets).await?;
        let mut all: Vec<SpaceId> = tx.direct_spaces(&[post]).await?.into_iter().map(|(_, s, _)| s).collect();
        all.extend(&targets);
        all.sort();
        all.dedup();
        check_one_audience(&*tx, &all).await?;
        let before: HashSet<SpaceId> = tx.appearances(post).await?.into_iter().map(|(s, _)| s).collect();
        tx.repost(post, &targets, now()).await?;
        let reposted = tx.posts_by_ids(&[post]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))?;
        let after = tx.appearances(post).await?;
        let creator = tx.users_by_ids(&[reposted.creator_id]).await?.into_iter().next();
        tx.commit().await?;
        let added: Vec<(SpaceId, bool)> = after.iter().filter(|(s, _)| !before.contains(s)).copied().collect();
        self.announce_added(&reposted, creator, &added).await;
        self.announce_stats(&reposted, &after.iter().map(|(s, _)| *s).collect::<Vec<_>>()).await;
        Ok(reposted)
    }

    /// A moderator hides a post in their space (only there); `reinstate` shows it again.
    pub async fn moderate_post_in_space(
        &self,
        viewer: Viewer,
        post: PostId,
        space: SpaceId,
        reinstate: bool,
    ) -> DomainResult<Post> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        if tx.moderated_among(user, &[space]).await?.is_empty() {
            return Err(DomainError::forbidden("only moderators of the space can remove or reinstate its posts"));
        }
        let loaded = tx.posts_by_ids(&[post]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))?;
        let (from, to) = if reinstate {
            (SpacePostState::Removed, SpacePostState::Active)
        } else {
            (SpacePostState::Active, SpacePostState::Removed)
        };
        let changed = match tx.space_post_state(post, space).await? {
            None => return Err(DomainError::NotFound("post in this space")),
            Some(state) if state == to => false,
            Some(_) => tx.set_space_post_state(post, space, from, to).await?,
        };
        let creator = tx.users_by_ids(&[loaded.creator_id]).await?.into_iter().next();
        let direct = tx.direct_spaces(&[post]).await?.iter().any(|(_, s, _)| *s == space);
        tx.commit().await?;
        if changed && reinstate {
            self.announce_added(&loaded, creator, &[(space, direct)]).await;
        } else if changed {
            self.announce_removed(post, &[space], false).await;
        }
        Ok(loaded)
    }

    /// Its creator deletes a post everywhere. Returns the post as it was.
    pub async fn delete_post(&self, viewer: Viewer, post: PostId) -> DomainResult<Post> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        let loaded = tx.posts_by_ids(&[post]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))?;
        if loaded.creator_id != user {
            return Err(if tx.visible_posts_among(Some(user), &[post]).await?.is_empty() {
                DomainError::NotFound("post")
            } else {
                DomainError::forbidden("only its creator can delete a post")
            });
        }
        let spaces: Vec<SpaceId> = tx.appearances(post).await?.into_iter().map(|(s, _)| s).collect();
        tx.delete_post(post).await?;
        tx.commit().await?;
        self.announce_removed(post, &spaces, true).await;
        Ok(loaded)
    }

    /// Checks the viewer may see the post and, when given, that `space` is a space the post appears in that
    /// the viewer may access (where the reaction is cast).
    async fn check_reaction_target(
        &self,
        repo: &dyn Repo,
        user: UserId,
        post: PostId,
        space: Option<SpaceId>,
    ) -> DomainResult<()> {
        if repo.visible_posts_among(Some(user), &[post]).await?.is_empty() {
            return Err(DomainError::NotFound("post"));
        }
        if let Some(space) = space
            && (repo.space_post_state(post, space).await? != Some(SpacePostState::Active)
                || repo.accessible_among(Some(user), &[space]).await?.is_empty())
        {
            return Err(DomainError::validation("spaceId", "the post does not appear in that space"));
        }
        Ok(())
    }

    /// The post as the transaction left it, and the spaces it is active in (for the stats announcement).
    async fn reload_post(&self, repo: &dyn Repo, post: PostId) -> DomainResult<(Post, Vec<SpaceId>)> {
        let loaded = repo.posts_by_ids(&[post]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))?;
        let spaces = repo.appearances(post).await?.into_iter().map(|(s, _)| s).collect();
        Ok((loaded, spaces))
    }

    /// Likes a post (idempotent); `space` is where the like was cast.
    pub async fn like_post(&self, viewer: Viewer, post: PostId, space: Option<SpaceId>) -> DomainResult<Post> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        self.check_reaction_target(&*tx, user, post, space).await?;
        if !tx.like(post, user, space).await? {
            let (post, _) = self.reload_post(&*tx, post).await?;
            return Ok(post);
        }
        let (post, spaces) = self.reload_post(&*tx, post).await?;
        tx.commit().await?;
        self.announce_stats(&post, &spaces).await;
        Ok(post)
    }

    /// Takes a like back (idempotent).
    pub async fn unlike_post(&self, viewer: Viewer, post: PostId) -> DomainResult<Post> {
        let user = viewer.require()?;
        let tx = self.store.begin().await?;
        self.check_reaction_target(&*tx, user, post, None).await?;
        if !tx.unlike(post, user).await? {
            let (post, _) = self.reload_post(&*tx, post).await?;
            return Ok(post);
        }
        let (post, spaces) = self.reload_post(&*tx, post).await?;
        tx.commit().await?;
        self.announce_stats(&post, &spaces).await;
        Ok(post)
    }

    /// Rates a post 0 to 100, replacing the viewer's earlier rating.
    pub async fn rate_post(
        &self,
        viewer: Viewer,
        post: PostId,
        value: i64,
        space: Option<SpaceId>,
    ) -> DomainResult<Post> {
        let user = viewer.require()?;
        if !(0..=100).contains(&value) {
            return Err(DomainError::validation("value", "must be between 0 and 100"));
        }
        let tx = self.store.begin().await?;
        self.check_reaction_target(&*tx, user, post, space).await?;
        tx.rate(post, user, value, space).await?;
        let (post, spaces) = self.reload_post(&*tx, post).await?;
        tx.commit().await?;
        self.announce_stats(&post, &spaces).await;
        Ok(post)
    }

    /// Comments on a post, or replies to one of its comments.
    pub async fn add_comment(
        &self,
        viewer: Viewer,
        post: PostId,
        parent: Option<CommentId>,
        text: &str,
    ) -> DomainResult<Comment> {
        let user = viewer.require()?;
        let text = values::parse_comment_text(text)?;
        let tx = self.store.begin().await?;
        if tx.visible_posts_among(Some(user), &[post]).await?.is_empty() {
            return Err(DomainError::NotFound("post"));
        }
        if let Some(parent) = parent {
            let found = tx.comments_by_ids(&[parent]).await?.into_iter().next();
            if found.is_none_or(|c| c.post_id != post) {
                return Err(DomainError::validation("input.parentCommentId", "is not a comment on this post"));
            }
        }
        let comment = Comment {
            id: CommentId::generate(),
            post_id: post,
            parent_id: parent,
            creator_id: user,
            text,
            created_at: now(),
            total_replies: 0,
        };
        tx.insert_comment(&comment).await?;
        let (post, spaces) = self.reload_post(&*tx, post).await?;
        tx.commit().await?;
        self.announce_comment(&comment).await;
        self.announce_stats(&post, &spaces).await;
        Ok(comment)
    }

    /// Links two posts the viewer can see.
    pub async fn link_posts(
        &self,
        viewer: Viewer,
        source: PostId,
        target: PostId,
        description: &str,
    ) -> DomainResult<Post> {
        let user = viewer.require()?;
        if source == target {
            return Err(DomainError::validation("input.targetId", "a post cannot link to itself"));
        }
        let description = values::Description::parse(description, "input.description")?;
        let tx = self.store.begin().await?;
        if tx.visible_posts_among(Some(user), &[source, target]).await?.len() != 2 {
            return Err(DomainError::NotFound("post"));
        }
        if !tx.link_posts(source, target, user, description.as_str()).await? {
            return Err(DomainError::conflict("these posts are already linked"));
        }
        let (post, _) = self.reload_post(&*tx, source).await?;
        tx.commit().await?;
        Ok(post)
    }

    /// Mutes or unmutes a user: their posts leave the viewer's feeds.
    pub async fn set_muted(&self, viewer: Viewer, handle: &str, on: bool) -> DomainResult<User> {
        let user = viewer.require()?;
        let target = self.store.user_by_handle(handle).await?.ok_or(DomainError::NotFound("user"))?;
        if target.id == user {
            return Err(DomainError::validation("handle", "you cannot mute yourself"));
        }
        let tx = self.store.begin().await?;
        tx.set_muted(user, target.id, on).await?;
        tx.commit().await?;
        Ok(target)
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// A post, if the viewer may see it.
    pub async fn post(&self, viewer: Viewer, id: PostId) -> DomainResult<Option<Post>> {
        if self.store.visible_posts_among(viewer.id(), &[id]).await?.is_empty() {
            return Ok(None);
        }
        Ok(self.store.posts_by_ids(&[id]).await?.into_iter().next())
    }

    /// Posts by id without a visibility check: for loaders serving posts the viewer already reached through
    /// a checked path.
    pub async fn posts_by_ids(&self, ids: &[PostId]) -> DomainResult<Vec<Post>> {
        self.store.posts_by_ids(ids).await
    }

    pub async fn post_actions(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>> {
        match viewer.id() {
            Some(user) => self.store.post_actions(user, posts).await,
            None => Ok(HashMap::new()),
        }
    }

    /// For each post, the spaces it was posted into directly that the viewer may access (active there).
    pub async fn post_spaces(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, Vec<SpaceId>>> {
        let rows = self.store.direct_spaces(posts).await?;
        let spaces: Vec<SpaceId> = rows.iter().map(|(_, s, _)| *s).collect::<HashSet<_>>().into_iter().collect();
        let accessible = self.accessible_spaces(viewer, &spaces).await?;
        let mut out: HashMap<PostId, Vec<SpaceId>> = HashMap::new();
        for (post, space, state) in rows {
            if state == SpacePostState::Active && accessible.contains(&space) {
                out.entry(post).or_default().push(space);
            }
        }
        Ok(out)
    }

    /// One page of each space's feed, with the creators of their posts (read in the same statement). The caller
    /// has read, in this request, which of the spaces the viewer may access (from [`App::accessible_spaces`],
    /// [`App::space_by_handle_for`] or a listing); `accessible` must hold exactly those. Spaces not in it get
    /// `None` (the API says FORBIDDEN).
    pub async fn feeds_with_access(
        &self,
        viewer: Viewer,
        queries: Vec<FeedQuery>,
        page: PageRequest,
        accessible: &HashSet<SpaceId>,
    ) -> DomainResult<(Vec<Option<Page<Post>>>, Vec<User>)> {
        let allowed: Vec<FeedQuery> = queries
            .iter()
            .filter(|q| accessible.contains(&q.space))
            .cloned()
            .map(|mut q| {
                q.viewer = viewer.id();
                q
            })
            .collect();
        for q in &allowed {
            if q.scope == values::FeedScope::Local
                && q.sort == values::FeedSort::Top
                && q.metric != values::FeedMetric::Likes
            {
                return Err(DomainError::validation("metric", "a LOCAL feed ranks by the likes cast in it: use LIKES"));
            }
            if let Some(search) = &q.search
                && search.chars().count() > 200
            {
                return Err(DomainError::validation("search", "must be at most 200 characters long"));
            }
        }
        let FeedPages { pages, creators } = self.store.feeds(&allowed, &page).await?;
        let mut pages = pages.into_iter();
        let pages = queries.iter().map(|q| if accessible.contains(&q.space) { pages.next() } else { None }).collect();
        Ok((pages, creators))
    }

    pub async fn user_posts(&self, viewer: Viewer, author: UserId, page: PageRequest) -> DomainResult<Page<Post>> {
        self.store.user_posts(viewer.id(), author, &page).await
    }

    pub async fn search_posts(&self, viewer: Viewer, query: &str, page: PageRequest) -> DomainResult<Page<Post>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(DomainError::validation("query", "must not be empty"));
        }
        if query.chars().count() > 200 {
            return Err(DomainError::validation("query", "must be at most 200 characters long"));
        }
        self.store.search_posts(viewer.id(), query, &page).await
    }

    /// Top-level comments of a post, or replies to a comment, oldest first. The caller has reached the post
    /// through a path that checked it is visible.
    pub async fn comments(
        &self,
        post: PostId,
        parent: Option<CommentId>,
        page: PageRequest,
    ) -> DomainResult<Page<Comment>> {
        self.store.comments(post, parent, &page).await
    }

    pub async fn comments_by_ids(&self, ids: &[CommentId]) -> DomainResult<Vec<Comment>> {
        self.store.comments_by_ids(ids).await
    }
}

impl App {
    /// What a reconnecting feed subscriber missed since `after` (a NEW-order cursor), oldest first, at most
    /// `limit` posts. The caller has checked access.
    pub async fn feed_since(
        &self,
        space: SpaceId,
        depth: values::Depth,
        after: &crate::page::Cursor,
        limit: i64,
    ) -> DomainResult<Vec<Post>> {
        self.store.feed_since(space, depth, after, limit).await
    }

    /// Whether the viewer may see the post.
    pub async fn can_see_post(&self, viewer: Viewer, post: PostId) -> DomainResult<bool> {
        Ok(!self.store.visible_posts_among(viewer.id(), &[post]).await?.is_empty())
    }
}
