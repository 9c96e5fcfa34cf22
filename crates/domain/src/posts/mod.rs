//! Posts and reactions: creating posts into spaces, reposting, hiding a post in one space, deleting it, likes,
//! ratings, comments and links — and the reads of posts and comments, filtered for their viewer.
//!
//! Every change to a post announces what changed: the post's new appearances (`PostAdded`), its departures
//! (`PostRemoved`), its new totals (`PostStatsChanged`, on the post's topic and every feed it appears in) and
//! new comments (`CommentAdded`).

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{AuthorWire, CommentWire, Event, PostStats, PostWire, Topic};
use crate::ids::*;
use crate::model::*;
use crate::notifications::{self, Fold, NewNotification, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::policy::{self, Action, Standing};
use crate::uow::{Command, Repos, UnitOfWork};
use crate::values::{self, PostKind};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap, HashSet};

/// `createPost(input)` as given by the client.
#[derive(Debug, Default)]
pub struct CreatePostInput {
    pub space_ids: Vec<SpaceId>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub url: Option<String>,
    /// Makes the post a poll (docs/polls.md).
    pub poll: Option<crate::polls::PollInput>,
    /// Images and audio files (docs/media.md).
    pub media: Vec<crate::media::UploadFile>,
    /// Makes the post an event (docs/events.md).
    pub event: Option<crate::calendar::EventInput>,
}

/// `updatePost(id, input)`: each field `None` keeps it, `Some(None)` clears it, `Some(Some(v))` replaces it.
#[derive(Debug, Clone, Default)]
pub struct UpdatePostInput {
    pub title: Option<Option<String>>,
    pub text: Option<Option<String>>,
    pub url: Option<Option<String>>,
}

/// The most links `Post.links` returns.
pub const MAX_LINKS: i64 = 100;
/// The most links a link map holds.
pub const MAX_MAP_LINKS: i64 = 200;
/// How many hops a link map reaches at most.
pub const MAX_MAP_DEPTH: i64 = 2;

/// The link map around a post: its posts (the one asked about first) and the links between them.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkMap {
    pub posts: Vec<Post>,
    pub links: Vec<PostLink>,
}

/// The most spaces one post may be placed in at once.
pub const MAX_TARGET_SPACES: usize = 20;

/// The posts service: `app.posts()`.
pub struct PostService<'a> {
    pub(crate) app: &'a App,
}

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

/// Every target must exist and be accessible to the author (docs/privacy.md rule 3).
async fn check_targets(repos: &dyn Repos, user: UserId, targets: &[SpaceId]) -> DomainResult<()> {
    let found = repos.holarchy().spaces_by_ids(targets).await?.len();
    if found != targets.len() {
        return Err(DomainError::NotFound("space"));
    }
    let accessible = repos.holarchy().accessible_among(Some(user), targets).await?.len();
    if accessible != targets.len() {
        return Err(DomainError::forbidden("you may not post in a private space you are not a member of"));
    }
    Ok(())
}

/// All the spaces a post is placed in must share one set of private ancestors (docs/privacy.md rule 3).
async fn check_one_audience(repos: &dyn Repos, spaces: &[SpaceId]) -> DomainResult<()> {
    let ancestry = repos.holarchy().private_ancestry(spaces).await?;
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

async fn load_post(repos: &dyn Repos, id: PostId) -> DomainResult<Post> {
    repos.posts().posts_by_ids(&[id]).await?.into_iter().next().ok_or(DomainError::NotFound("post"))
}

/// `NOT_FOUND` unless the actor may see the post (what nobody may see, nobody may act on).
async fn require_visible(uow: &UnitOfWork, post: PostId) -> DomainResult<()> {
    let viewer = uow.actor().viewer();
    if uow.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
        return Err(DomainError::NotFound("post"));
    }
    Ok(())
}

/// The author of a post as the wire carries it.
async fn author(repos: &dyn Repos, post: &Post) -> DomainResult<AuthorWire> {
    let user = repos.accounts().users_by_ids(&[post.creator_id]).await?.into_iter().next();
    user.as_ref().map(AuthorWire::from).ok_or(DomainError::NotFound("user"))
}

/// Announces that `post` (whose audience is `audience`) now appears in `spaces` (`true`: placed there directly).
pub(crate) async fn announce_added(
    uow: &mut UnitOfWork,
    post: &Post,
    spaces: &[(SpaceId, bool)],
    audience: &[SpaceId],
) -> DomainResult<()> {
    if spaces.is_empty() {
        return Ok(());
    }
    let author = author(&**uow, post).await?;
    let topics = spaces.iter().map(|(s, _)| Topic::Space(*s)).collect();
    let direct_spaces = spaces.iter().filter(|(_, d)| *d).map(|(s, _)| *s).collect();
    let event = Event::PostAdded {
        post: Box::new(PostWire::from(post)),
        author: Box::new(author),
        direct_spaces,
        audience: audience.to_vec(),
    };
    uow.announce(topics, event);
    Ok(())
}

/// Announces the post's totals (after the change) on its topic and in every feed it appears in.
async fn announce_stats(uow: &mut UnitOfWork, post: PostId) -> DomainResult<Post> {
    let post = load_post(&**uow, post).await?;
    let placement = uow.posts().placement(post.id).await?;
    let mut topics = vec![Topic::Post(post.id)];
    topics.extend(placement.spaces.iter().map(|(s, _)| Topic::Space(*s)));
    let event = Event::PostStatsChanged {
        post_id: post.id,
        stats: PostStats::from(&post),
        direct_spaces: placement.direct(),
        audience: placement.audience,
    };
    uow.announce(topics, event);
    Ok(post)
}

/// Tells a post's creator that `actor` reacted to it (folded per post and day).
async fn notify_creator(uow: &mut UnitOfWork, post: &Post, actor: UserId, kind: NotificationKind) -> DomainResult<()> {
    let new = NewNotification {
        recipient: post.creator_id,
        kind,
        actor: Some(actor),
        post: Some(post.id),
        comment: None,
        space: None,
        fold: Fold::PerDay(post.id.0),
    };
    notifications::notify(uow, new).await
}

struct CreatePost {
    targets: Vec<SpaceId>,
    title: Option<String>,
    text: Option<String>,
    url: Option<String>,
    kinds: Vec<PostKind>,
    poll: Option<crate::polls::ParsedPoll>,
    event: Option<crate::calendar::ParsedEvent>,
    /// The media rows of files already stored (their post id is set here).
    media: Vec<crate::media::Media>,
    /// Whether to queue the fetch of the URL's card.
    fetch_card: bool,
}

#[async_trait]
impl Command for CreatePost {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let user = uow.actor().require_user()?;
        check_targets(&**uow, user, &self.targets).await?;
        check_one_audience(&**uow, &self.targets).await?;
        let post = NewPost {
            id: PostId::generate(),
            creator_id: user,
            title: self.title.clone(),
            text: self.text.clone(),
            url: self.url.clone(),
            kinds: self.kinds.clone(),
            created_at: uow.now(),
        };
        uow.posts().insert_post(&post, &self.targets).await?;
        uow.commons().record_post_act(post.id, user, crate::commons::ports::Act::Post, post.created_at).await?;
        if let Some(poll) = &self.poll {
            crate::polls::create(uow, post.id, user, &self.targets, poll).await?;
        }
        if let Some(event) = &self.event {
            crate::calendar::create(uow, post.id, event).await?;
        }
        if !self.media.is_empty() {
            let rows: Vec<crate::media::Media> =
                self.media.iter().map(|m| crate::media::Media { post_id: post.id, ..m.clone() }).collect();
            uow.media().insert_media(&rows).await?;
        }
        if self.fetch_card
            && let Some(url) = &self.url
        {
            crate::media::queue_card(uow, post.id, url).await?;
        }
        let created = load_post(&**uow, post.id).await?;
        let placement = uow.posts().placement(post.id).await?;
        announce_added(uow, &created, &placement.spaces, &placement.audience).await?;
        let texts = [created.title.as_deref(), created.text.as_deref()];
        notifications::notify_mentions(uow, user, &texts, created.id, None, &[]).await?;
        Ok(created)
    }
}

struct Repost {
    post: PostId,
    targets: Vec<SpaceId>,
}

#[async_trait]
impl Command for Repost {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let user = uow.actor().require_user()?;
        require_visible(uow, self.post).await?;
        check_targets(&**uow, user, &self.targets).await?;
        let mut all: Vec<SpaceId> =
            uow.posts().direct_spaces(&[self.post]).await?.into_iter().map(|(_, s, _)| s).collect();
        let fresh: Vec<SpaceId> = self.targets.iter().filter(|t| !all.contains(t)).copied().collect();
        all.extend(&self.targets);
        all.sort();
        all.dedup();
        check_one_audience(&**uow, &all).await?;
        let before: HashSet<SpaceId> =
            uow.posts().placement(self.post).await?.spaces.into_iter().map(|(s, _)| s).collect();
        uow.posts().repost(self.post, &self.targets, uow.now()).await?;
        // Who reposted where, for `Post.reposts`.
        uow.people().record_reposts(self.post, user, &fresh, uow.now()).await?;
        let after = uow.posts().placement(self.post).await?;
        let added: Vec<(SpaceId, bool)> = after.spaces.iter().filter(|(s, _)| !before.contains(s)).copied().collect();
        let reposted = load_post(&**uow, self.post).await?;
        announce_added(uow, &reposted, &added, &after.audience).await?;
        if !added.is_empty() {
            notify_creator(uow, &reposted, user, NotificationKind::PostReposted).await?;
        }
        announce_stats(uow, self.post).await
    }
}

struct ModeratePost {
    post: PostId,
    space: SpaceId,
    reinstate: bool,
}

#[async_trait]
impl Command for ModeratePost {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let actor = uow.actor();
        // A moderator who may no longer access the space (a private space above withholds membership) must not
        // read its posts through the post this returns.
        let viewer = actor.viewer();
        if actor.user().is_some() && uow.holarchy().accessible_among(viewer.id(), &[self.space]).await?.is_empty() {
            crate::holarchy::load_space(&**uow, self.space).await?;
            return Err(DomainError::forbidden("this space is private"));
        }
        policy::require_moderator(&**uow, &actor, self.space, Action::ModeratePost).await?;
        let loaded = load_post(&**uow, self.post).await?;
        let (from, to) = if self.reinstate {
            (SpacePostState::Removed, SpacePostState::Active)
        } else {
            (SpacePostState::Active, SpacePostState::Removed)
        };
        let changed = match uow.posts().space_post_state(self.post, self.space).await? {
            None => return Err(DomainError::NotFound("post in this space")),
            Some(state) if state == to => false,
            Some(_) => uow.posts().set_space_post_state(self.post, self.space, from, to).await?,
        };
        if changed {
            let direct = uow.posts().direct_spaces(&[self.post]).await?.iter().any(|(_, s, _)| *s == self.space);
            let audience = uow.posts().audiences(&[self.post]).await?.remove(&self.post).unwrap_or_default();
            if self.reinstate {
                announce_added(uow, &loaded, &[(self.space, direct)], &audience).await?;
            } else {
                let direct_spaces = if direct { vec![self.space] } else { Vec::new() };
                uow.announce(
                    vec![Topic::Space(self.space)],
                    Event::PostRemoved { post_id: self.post, deleted: false, direct_spaces, audience },
                );
            }
        }
        Ok(loaded)
    }
}

struct DeletePost {
    post: PostId,
}

#[async_trait]
impl Command for DeletePost {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let actor = uow.actor();
        let loaded = load_post(&**uow, self.post).await?;
        let author = actor.user() == Some(loaded.creator_id);
        if !author {
            require_visible(uow, self.post).await?;
        }
        policy::require(&actor, Standing { author, ..Standing::NONE }, Action::DeletePost)?;
        let placement = uow.posts().placement(self.post).await?;
        uow.posts().delete_post(self.post).await?;
        if loaded.kinds.contains(&PostKind::Event) {
            crate::calendar::forget(uow, self.post).await?;
        }
        crate::media::queue_deletion(uow, self.post).await?;
        let mut topics = vec![Topic::Post(self.post)];
        topics.extend(placement.spaces.iter().map(|(s, _)| Topic::Space(*s)));
        let event = Event::PostRemoved {
            post_id: self.post,
            deleted: true,
            direct_spaces: placement.direct(),
            audience: placement.audience,
        };
        uow.announce(topics, event);
        Ok(loaded)
    }
}

/// Removes what `user` contributed, through the paths of `unlikePost`, a withdrawn rating and `deletePost`, so
/// every counter stays exact, with the same events; their comments are deleted as `deleteComment` deletes them
/// (replies stay, under a deleted comment). Reactions come off first, while the posts they are on still count in
/// their spaces.
pub(crate) async fn erase_contributions(uow: &mut UnitOfWork, user: UserId) -> DomainResult<()> {
    let (liked, rated, own) = uow.posts().contributions(user).await?;
    for post in liked {
        if uow.posts().unlike(post, user).await? {
            announce_stats(uow, post).await?;
        }
    }
    for post in rated {
        if uow.posts().unrate(post, user).await? {
            announce_stats(uow, post).await?;
        }
    }
    for comment in uow.posts().comments_of(user).await? {
        if uow.posts().delete_comment(&comment).await? {
            announce_stats(uow, comment.post_id).await?;
        }
    }
    for post in own {
        let placement = uow.posts().placement(post).await?;
        uow.posts().delete_post(post).await?;
        let mut topics = vec![Topic::Post(post)];
        topics.extend(placement.spaces.iter().map(|(s, _)| Topic::Space(*s)));
        let event = Event::PostRemoved {
            post_id: post,
            deleted: true,
            direct_spaces: placement.direct(),
            audience: placement.audience,
        };
        uow.announce(topics, event);
    }
    Ok(())
}

/// Checks the actor may see the post and, when given, that `space` is a space the post appears in that the
/// actor may access (where the reaction is cast).
async fn check_reaction_target(uow: &UnitOfWork, post: PostId, space: Option<SpaceId>) -> DomainResult<()> {
    require_visible(uow, post).await?;
    if let Some(space) = space {
        let viewer = uow.actor().viewer();
        if uow.posts().space_post_state(post, space).await? != Some(SpacePostState::Active)
            || uow.holarchy().accessible_among(viewer.id(), &[space]).await?.is_empty()
        {
            return Err(DomainError::validation("spaceId", "the post does not appear in that space"));
        }
    }
    Ok(())
}

enum Reaction {
    Like(Option<SpaceId>),
    Unlike,
    Rate(i64, Option<SpaceId>),
}

struct React {
    post: PostId,
    reaction: Reaction,
}

#[async_trait]
impl Command for React {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let user = uow.actor().require_user()?;
        let cast_in = match self.reaction {
            Reaction::Like(space) | Reaction::Rate(_, space) => space,
            Reaction::Unlike => None,
        };
        check_reaction_target(uow, self.post, cast_in).await?;
        let changed = match self.reaction {
            Reaction::Like(space) => uow.posts().like(self.post, user, space, uow.now()).await?,
            Reaction::Unlike => uow.posts().unlike(self.post, user).await?,
            Reaction::Rate(value, space) => {
                uow.posts().rate(self.post, user, value, space, uow.now()).await?;
                true
            }
        };
        if !changed {
            return load_post(&**uow, self.post).await;
        }
        if let Reaction::Like(_) = self.reaction {
            uow.commons().record_post_act(self.post, user, crate::commons::ports::Act::Like, uow.now()).await?;
        }
        let post = announce_stats(uow, self.post).await?;
        let kind = match self.reaction {
            Reaction::Like(_) => Some(NotificationKind::PostLiked),
            Reaction::Rate(..) => Some(NotificationKind::PostRated),
            Reaction::Unlike => None,
        };
        if let Some(kind) = kind {
            notify_creator(uow, &post, user, kind).await?;
        }
        Ok(post)
    }
}

struct AddComment {
    post: PostId,
    parent: Option<CommentId>,
    text: String,
}

#[async_trait]
impl Command for AddComment {
    type Output = Comment;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Comment> {
        let user = uow.actor().require_user()?;
        require_visible(uow, self.post).await?;
        let mut parent_creator = None;
        if let Some(parent) = self.parent {
            match uow.posts().comment_by_id(parent).await? {
                Some(c) if c.post_id == self.post && !c.deleted => parent_creator = Some(c.creator_id),
                _ => return Err(DomainError::validation("input.parentCommentId", "is not a comment on this post")),
            }
        }
        let comment = Comment {
            id: CommentId::generate(),
            post_id: self.post,
            parent_id: self.parent,
            creator_id: user,
            text: self.text.clone(),
            created_at: uow.now(),
            total_replies: 0,
            deleted: false,
        };
        uow.posts().insert_comment(&comment).await?;
        uow.commons().record_post_act(self.post, user, crate::commons::ports::Act::Comment, comment.created_at).await?;
        let audience = uow.posts().audiences(&[self.post]).await?.remove(&self.post).unwrap_or_default();
        let event =
            Event::CommentAdded { post_id: self.post, comment: Box::new(CommentWire::from(&comment)), audience };
        uow.announce(vec![Topic::Post(self.post)], event);
        let post = announce_stats(uow, self.post).await?;
        // The parent's author hears of a reply, the post's author of a comment (once, if they are the same).
        let mut told = vec![user];
        if let (Some(parent), Some(recipient)) = (self.parent, parent_creator) {
            let new = NewNotification {
                recipient,
                kind: NotificationKind::CommentReplied,
                actor: Some(user),
                post: Some(self.post),
                comment: Some(comment.id),
                space: None,
                fold: Fold::PerDay(parent.0),
            };
            notifications::notify(uow, new).await?;
            told.push(recipient);
        }
        if !told.contains(&post.creator_id) {
            let new = NewNotification {
                recipient: post.creator_id,
                kind: NotificationKind::PostCommented,
                actor: Some(user),
                post: Some(self.post),
                comment: Some(comment.id),
                space: None,
                fold: Fold::PerDay(self.post.0),
            };
            notifications::notify(uow, new).await?;
            told.push(post.creator_id);
        }
        notifications::notify_mentions(uow, user, &[Some(&comment.text)], self.post, Some(comment.id), &told).await?;
        Ok(comment)
    }
}

struct UpdatePost {
    post: PostId,
    title: Option<Option<String>>,
    text: Option<Option<String>>,
    url: Option<Option<String>>,
}

#[async_trait]
impl Command for UpdatePost {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let actor = uow.actor();
        let user = actor.require_user()?;
        require_visible(uow, self.post).await?;
        let before = load_post(&**uow, self.post).await?;
        let author = before.creator_id == user;
        policy::require(&actor, Standing { author, ..Standing::NONE }, Action::EditPost)?;
        let title = self.title.clone().unwrap_or(before.title.clone());
        let text = self.text.clone().unwrap_or(before.text.clone());
        let url = self.url.clone().unwrap_or(before.url.clone());
        // TEXT and URL follow what is there now; the other kinds (a poll, an event) stay.
        let mut kinds = Vec::new();
        if title.is_some() || text.is_some() {
            kinds.push(PostKind::Text);
        }
        if url.is_some() {
            kinds.push(PostKind::Url);
        }
        kinds.extend(before.kinds.iter().copied().filter(|k| !matches!(k, PostKind::Text | PostKind::Url)));
        if kinds.is_empty() {
            return Err(DomainError::validation("input", "a post needs a title, a text, a url or a poll"));
        }
        let edit = PostEdit { post: self.post, title, text, url, kinds };
        uow.posts().edit_post(&edit, uow.now()).await?;
        let edited = load_post(&**uow, self.post).await?;
        let audience = uow.posts().audiences(&[self.post]).await?.remove(&self.post).unwrap_or_default();
        uow.announce(
            vec![Topic::Post(self.post)],
            Event::PostEdited { post: Box::new(PostWire::from(&edited)), audience },
        );
        // Only people newly named by the edit are told of a mention.
        let mut told = notifications::mentioned_users(uow, &[before.title.as_deref(), before.text.as_deref()]).await?;
        told.push(user);
        let texts = [edited.title.as_deref(), edited.text.as_deref()];
        notifications::notify_mentions(uow, user, &texts, edited.id, None, &told).await?;
        Ok(edited)
    }
}

struct DeleteComment {
    comment: CommentId,
}

#[async_trait]
impl Command for DeleteComment {
    type Output = Comment;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Comment> {
        let actor = uow.actor();
        actor.require_user()?;
        let Some(comment) = uow.posts().comment_by_id(self.comment).await? else {
            return Err(DomainError::NotFound("comment"));
        };
        require_visible(uow, comment.post_id).await.map_err(|_| DomainError::NotFound("comment"))?;
        let author = actor.user() == Some(comment.creator_id);
        let mut moderator = false;
        if !author {
            let spaces: Vec<SpaceId> =
                uow.posts().placement(comment.post_id).await?.spaces.into_iter().map(|(s, _)| s).collect();
            if let Some(user) = actor.user() {
                moderator = !uow.holarchy().moderated_among(user, &spaces).await?.is_empty();
            }
        }
        policy::require(&actor, Standing { author, moderator, ..Standing::NONE }, Action::DeleteComment)?;
        if uow.posts().delete_comment(&comment).await? {
            announce_stats(uow, comment.post_id).await?;
        }
        uow.posts().comment_by_id(self.comment).await?.ok_or(DomainError::NotFound("comment"))
    }
}

struct LikeLink {
    link: LinkId,
    like: bool,
}

#[async_trait]
impl Command for LikeLink {
    type Output = PostLink;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<PostLink> {
        let user = uow.actor().require_user()?;
        let viewer = uow.actor().viewer();
        if uow.posts().visible_link(viewer.id(), self.link).await?.is_none() {
            return Err(DomainError::NotFound("link"));
        }
        if self.like {
            uow.posts().like_link(self.link, user, uow.now()).await?;
        } else {
            uow.posts().unlike_link(self.link, user).await?;
        }
        uow.posts().visible_link(viewer.id(), self.link).await?.ok_or(DomainError::NotFound("link"))
    }
}

struct LinkPosts {
    source: PostId,
    target: PostId,
    description: String,
}

#[async_trait]
impl Command for LinkPosts {
    type Output = Post;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Post> {
        let user = uow.actor().require_user()?;
        let viewer = uow.actor().viewer();
        if uow.posts().visible_posts_among(viewer.id(), &[self.source, self.target]).await?.len() != 2 {
            return Err(DomainError::NotFound("post"));
        }
        if !uow.posts().link_posts(self.source, self.target, user, &self.description, uow.now()).await? {
            return Err(DomainError::conflict("these posts are already linked"));
        }
        load_post(&**uow, self.source).await
    }
}

impl PostService<'_> {
    /// Posts into one or more spaces; the post then appears in every space above them that it flows into.
    pub async fn create_post(&self, viewer: Viewer, input: CreatePostInput) -> DomainResult<Post> {
        let actor = viewer.actor()?;
        let title = values::parse_title(input.title.as_deref())?;
        let text = values::parse_post_text(input.text.as_deref())?;
        let url = values::parse_url(input.url.as_deref())?;
        let mut kinds = Vec::new();
        if title.is_some() || text.is_some() {
            kinds.push(PostKind::Text);
        }
        if url.is_some() {
            kinds.push(PostKind::Url);
        }
        let poll = input.poll.map(|poll| crate::polls::parse_poll(poll, self.app.ports.clock.now())).transpose()?;
        if poll.is_some() {
            kinds.push(PostKind::Poll);
        }
        let now = self.app.ports.clock.now();
        let event = input.event.map(|event| crate::calendar::parse_event(event, now, "input.event")).transpose()?;
        if event.is_some() {
            kinds.push(PostKind::Event);
        }
        if input.media.is_empty() && kinds.is_empty() {
            return Err(DomainError::validation(
                "input",
                "a post needs a title, a text, a url, a poll, an event or media",
            ));
        }
        let targets = dedup_targets(&input.space_ids)?;
        let (media, keys) = self.app.media().store_uploads(input.media).await?;
        for kind in [crate::media::MediaKind::Image, crate::media::MediaKind::Audio] {
            if media.iter().any(|m| m.kind == kind) {
                kinds.push(match kind {
                    crate::media::MediaKind::Image => PostKind::Image,
                    crate::media::MediaKind::Audio => PostKind::Audio,
                });
            }
        }
        let fetch_card = url.is_some() && self.app.media.as_ref().is_some_and(|m| m.cards.is_some());
        let command = CreatePost { targets, title, text, url, kinds, poll, event, media, fetch_card };
        let created = self.app.execute(actor, &command).await;
        if created.is_err() {
            self.app.media().discard(&keys).await;
        }
        created
    }

    /// Adds a post the viewer can see directly to more spaces (the same audience rule applies).
    pub async fn repost(&self, viewer: Viewer, post: PostId, spaces: &[SpaceId]) -> DomainResult<Post> {
        let actor = viewer.actor()?;
        self.app.execute(actor, &Repost { post, targets: dedup_targets(spaces)? }).await
    }

    /// A moderator hides a post in their space (only there); `reinstate` shows it again.
    pub async fn moderate_post(
        &self,
        viewer: Viewer,
        post: PostId,
        space: SpaceId,
        reinstate: bool,
    ) -> DomainResult<Post> {
        self.app.execute(viewer.actor()?, &ModeratePost { post, space, reinstate }).await
    }

    /// Its creator deletes a post everywhere. Returns the post as it was.
    pub async fn delete_post(&self, viewer: Viewer, post: PostId) -> DomainResult<Post> {
        self.app.execute(viewer.actor()?, &DeletePost { post }).await
    }

    /// Likes a post (idempotent); `space` is where the like was cast.
    pub async fn like_post(&self, viewer: Viewer, post: PostId, space: Option<SpaceId>) -> DomainResult<Post> {
        self.app.execute(viewer.actor()?, &React { post, reaction: Reaction::Like(space) }).await
    }

    /// Takes a like back (idempotent).
    pub async fn unlike_post(&self, viewer: Viewer, post: PostId) -> DomainResult<Post> {
        self.app.execute(viewer.actor()?, &React { post, reaction: Reaction::Unlike }).await
    }

    /// Rates a post 0 to 100, replacing the viewer's earlier rating.
    pub async fn rate_post(
        &self,
        viewer: Viewer,
        post: PostId,
        value: i64,
        space: Option<SpaceId>,
    ) -> DomainResult<Post> {
        let actor = viewer.actor()?;
        if !(0..=100).contains(&value) {
            return Err(DomainError::validation("value", "must be between 0 and 100"));
        }
        self.app.execute(actor, &React { post, reaction: Reaction::Rate(value, space) }).await
    }

    /// Comments on a post, or replies to one of its comments.
    pub async fn add_comment(
        &self,
        viewer: Viewer,
        post: PostId,
        parent: Option<CommentId>,
        text: &str,
    ) -> DomainResult<Comment> {
        let actor = viewer.actor()?;
        let text = values::parse_comment_text(text)?;
        self.app.execute(actor, &AddComment { post, parent, text }).await
    }

    /// Its creator changes a post's title, text or address; the post is marked edited, its search index follows
    /// and subscribers to the post hear of it.
    pub async fn update_post(&self, viewer: Viewer, post: PostId, input: UpdatePostInput) -> DomainResult<Post> {
        let actor = viewer.actor()?;
        let title = input.title.map(|t| values::parse_title(t.as_deref())).transpose()?;
        let text = input.text.map(|t| values::parse_post_text(t.as_deref())).transpose()?;
        let url = input.url.map(|u| values::parse_url(u.as_deref())).transpose()?;
        self.app.execute(actor, &UpdatePost { post, title, text, url }).await
    }

    /// Deletes a comment (its author, or a moderator of a space the post appears in): it stays in the tree,
    /// without its text, so its replies stay; it no longer counts. Deleting it again changes nothing.
    pub async fn delete_comment(&self, viewer: Viewer, comment: CommentId) -> DomainResult<Comment> {
        self.app.execute(viewer.actor()?, &DeleteComment { comment }).await
    }

    /// Links two posts the viewer can see.
    pub async fn link_posts(
        &self,
        viewer: Viewer,
        source: PostId,
        target: PostId,
        description: &str,
    ) -> DomainResult<Post> {
        let actor = viewer.actor()?;
        if source == target {
            return Err(DomainError::validation("input.targetId", "a post cannot link to itself"));
        }
        let description = values::Description::parse(description, "input.description")?.into_inner();
        self.app.execute(actor, &LinkPosts { source, target, description }).await
    }

    /// Likes a link between two posts the viewer can see (idempotent).
    pub async fn like_link(&self, viewer: Viewer, link: LinkId) -> DomainResult<PostLink> {
        self.app.execute(viewer.actor()?, &LikeLink { link, like: true }).await
    }

    /// Takes a like of a link back (idempotent).
    pub async fn unlike_link(&self, viewer: Viewer, link: LinkId) -> DomainResult<PostLink> {
        self.app.execute(viewer.actor()?, &LikeLink { link, like: false }).await
    }

    // ---- reads -------------------------------------------------------------------------------------

    /// The links from and to a post whose other post the viewer may see, most liked first, at most `limit`
    /// (1 to [`MAX_LINKS`]); none when the viewer may not see the post.
    pub async fn links(&self, viewer: Viewer, post: PostId, limit: i64) -> DomainResult<Vec<PostLink>> {
        if !(1..=MAX_LINKS).contains(&limit) {
            return Err(DomainError::validation("first", format!("must be between 1 and {MAX_LINKS}")));
        }
        let store = self.app.reads(viewer);
        if store.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
            return Ok(Vec::new());
        }
        store.posts().links_of(viewer.id(), post, limit).await
    }

    /// The link map around a post, `depth` hops (1 or 2) out, its `limit` (1 to [`MAX_MAP_LINKS`]) most liked
    /// links whose posts the viewer may all see: three statements whatever its size. `None` when the viewer
    /// may not see the post.
    pub async fn link_map(
        &self,
        viewer: Viewer,
        post: PostId,
        depth: i64,
        limit: i64,
    ) -> DomainResult<Option<LinkMap>> {
        if !(1..=MAX_MAP_DEPTH).contains(&depth) {
            return Err(DomainError::validation("depth", format!("must be between 1 and {MAX_MAP_DEPTH}")));
        }
        if !(1..=MAX_MAP_LINKS).contains(&limit) {
            return Err(DomainError::validation("limit", format!("must be between 1 and {MAX_MAP_LINKS}")));
        }
        let store = self.app.reads(viewer);
        if store.posts().visible_posts_among(viewer.id(), &[post]).await?.is_empty() {
            return Ok(None);
        }
        let links = store.posts().link_map(viewer.id(), post, depth as u8, limit).await?;
        let mut ids = vec![post];
        for link in &links {
            for end in [link.source_id, link.target_id] {
                if !ids.contains(&end) {
                    ids.push(end);
                }
            }
        }
        let mut found: HashMap<PostId, Post> =
            store.posts().visible_posts(viewer.id(), &ids).await?.into_iter().map(|p| (p.id, p)).collect();
        let posts: Vec<Post> = ids.iter().filter_map(|id| found.remove(id)).collect();
        // A post hidden between the two reads takes its links with it.
        let shown: HashSet<PostId> = posts.iter().map(|p| p.id).collect();
        let links =
            links.into_iter().filter(|l| shown.contains(&l.source_id) && shown.contains(&l.target_id)).collect();
        Ok(Some(LinkMap { posts, links }))
    }

    /// Which of `links` the viewer likes (none for an anonymous viewer).
    pub async fn liked_links(&self, viewer: Viewer, links: &[LinkId]) -> DomainResult<HashSet<LinkId>> {
        match viewer.id() {
            Some(user) => Ok(self.app.reads(viewer).posts().liked_links(user, links).await?.into_iter().collect()),
            None => Ok(HashSet::new()),
        }
    }

    /// A post, if the viewer may see it.
    pub async fn post(&self, viewer: Viewer, id: PostId) -> DomainResult<Option<Post>> {
        Ok(self.posts(viewer, &[id]).await?.into_iter().next())
    }

    /// Those of the posts the viewer may see (docs/privacy.md rule 4).
    pub async fn posts(&self, viewer: Viewer, ids: &[PostId]) -> DomainResult<Vec<Post>> {
        self.app.reads(viewer).posts().visible_posts(viewer.id(), ids).await
    }

    /// Which of `ids` the viewer may see.
    pub async fn visible(&self, viewer: Viewer, ids: &[PostId]) -> DomainResult<HashSet<PostId>> {
        Ok(self.app.reads(viewer).posts().visible_posts_among(viewer.id(), ids).await?.into_iter().collect())
    }

    /// What the viewer has done to each post (nothing for an anonymous viewer).
    pub async fn actions(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, PostActions>> {
        match viewer.id() {
            Some(user) => self.app.reads(viewer).posts().post_actions(user, posts).await,
            None => Ok(HashMap::new()),
        }
    }

    /// For each post, the spaces it was posted into directly that the viewer may access (active there).
    pub async fn spaces(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, Vec<SpaceId>>> {
        let store = self.app.reads(viewer);
        let rows = store.posts().direct_spaces(posts).await?;
        let spaces: Vec<SpaceId> = rows.iter().map(|(_, s, _)| *s).collect::<HashSet<_>>().into_iter().collect();
        let accessible: HashSet<SpaceId> =
            store.holarchy().accessible_among(viewer.id(), &spaces).await?.into_iter().collect();
        let mut out: HashMap<PostId, Vec<SpaceId>> = HashMap::new();
        for (post, space, state) in rows {
            if state == SpacePostState::Active && accessible.contains(&space) {
                out.entry(post).or_default().push(space);
            }
        }
        Ok(out)
    }

    /// Top-level comments of a post, or replies to a comment, oldest first — empty when the viewer may not see
    /// the post.
    pub async fn comments(
        &self,
        viewer: Viewer,
        post: PostId,
        parent: Option<CommentId>,
        page: PageRequest,
    ) -> DomainResult<Page<Comment>> {
        self.app.reads(viewer).posts().comments(viewer.id(), post, parent, &page).await
    }

    /// Those of the comments that hang off posts the viewer may see.
    pub async fn comments_by_ids(&self, viewer: Viewer, ids: &[CommentId]) -> DomainResult<Vec<Comment>> {
        self.app.reads(viewer).posts().visible_comments(viewer.id(), ids).await
    }
}
