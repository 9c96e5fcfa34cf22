//! Posts and reactions in the schema: `Post` and `Comment`, the `post` query, creating, reposting, moderating,
//! deleting, reacting, commenting, linking, and the loaders behind them.

mod comment;
mod links;
mod post;

pub use comment::CommentObject;
pub(crate) use links::{LinkLikeLoader, LinkMutation};
pub use post::{PostConnection, PostObject};

use crate::error::ApiResult;
use crate::ids::parse_id;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use std::collections::HashMap;
use weco_domain::posts::CreatePostInput as CreatePost;
use weco_domain::{App, Comment, CommentId, DomainError, Post, PostActions, PostId, SpaceId, Viewer};

/// Posts by id, those the viewer may see (docs/privacy.md rule 4), read in one statement.
pub(crate) struct PostLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostLoader {
    type Value = Post;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Post>, DomainError> {
        Ok(self.app.posts().posts(self.viewer, keys).await?.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// Comments by id, those on posts the viewer may see.
pub(crate) struct CommentLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<CommentId> for CommentLoader {
    type Value = Comment;
    type Error = DomainError;

    async fn load(&self, keys: &[CommentId]) -> Result<HashMap<CommentId, Comment>, DomainError> {
        Ok(self.app.posts().comments_by_ids(self.viewer, keys).await?.into_iter().map(|c| (c.id, c)).collect())
    }
}

/// What the viewer has done to a post: their like and rating (no statement for anonymous viewers).
pub(crate) struct PostActionsLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostActionsLoader {
    type Value = PostActions;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, PostActions>, DomainError> {
        let mut actions = self.app.posts().actions(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, actions.remove(id).unwrap_or_default())).collect())
    }
}

/// The spaces a post was posted into directly that the viewer may access.
pub(crate) struct PostSpacesLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostSpacesLoader {
    type Value = Vec<SpaceId>;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Vec<SpaceId>>, DomainError> {
        let mut spaces = self.app.posts().spaces(self.viewer, keys).await?;
        Ok(keys.iter().map(|id| (*id, spaces.remove(id).unwrap_or_default())).collect())
    }
}

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// A post, if the viewer may see it (otherwise null, as if it did not exist).
    async fn post(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<PostObject>> {
        let id = parse_id::<PostId>(&id, "id")?;
        Ok(scope(ctx)?.loaders.posts.load_one(id).await?.map(PostObject::from))
    }
}

/// A new post. Give at least one of title, text and url.
#[derive(InputObject)]
pub struct CreatePostInput {
    /// Where to post it; all must share one audience (the same private spaces above them).
    pub space_ids: Vec<ID>,
    pub title: Option<String>,
    pub text: Option<String>,
    /// An http(s) address.
    pub url: Option<String>,
    /// Makes the post a poll.
    pub poll: Option<crate::polls::PollInput>,
    /// Images (JPEG, PNG) and audio files (MP3, Ogg, WAV, FLAC, M4A), at most 4, sent through the GraphQL
    /// multipart request specification. The type is read from each file's content.
    pub media: Option<Vec<async_graphql::Upload>>,
    /// Makes the post an event.
    pub event: Option<crate::calendar::EventInput>,
}

/// A post's new title, text or address: a field left out stays as it is, a null clears it.
#[derive(InputObject)]
pub struct UpdatePostInput {
    pub title: MaybeUndefined<String>,
    pub text: MaybeUndefined<String>,
    /// An http(s) address.
    pub url: MaybeUndefined<String>,
}

fn change(field: MaybeUndefined<String>) -> Option<Option<String>> {
    match field {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(SimpleObject)]
pub struct CreatePostPayload {
    pub post: PostObject,
}

#[derive(InputObject)]
pub struct RepostInput {
    pub post_id: ID,
    pub space_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct RemovePostFromSpaceInput {
    pub post_id: ID,
    pub space_id: ID,
}

#[derive(InputObject)]
pub struct ReinstatePostInSpaceInput {
    pub post_id: ID,
    pub space_id: ID,
}

#[derive(InputObject)]
pub struct AddCommentInput {
    pub post_id: ID,
    /// The comment this one replies to.
    pub parent_comment_id: Option<ID>,
    pub text: String,
}

#[derive(InputObject)]
pub struct LinkPostsInput {
    pub source_id: ID,
    pub target_id: ID,
    #[graphql(default)]
    pub description: String,
}

/// The files of a multipart request, as the domain takes them.
fn uploads(ctx: &Context<'_>, uploads: Vec<async_graphql::Upload>) -> ApiResult<Vec<weco_domain::media::UploadFile>> {
    let max = weco_domain::media::MAX_FILES_PER_POST;
    if uploads.len() > max {
        return Err(DomainError::validation("input.media", format!("a post holds at most {max} files")).into());
    }
    uploads
        .iter()
        .enumerate()
        .map(|(i, upload)| {
            let value = upload
                .value(ctx)
                .map_err(|_| DomainError::validation(format!("input.media.{i}"), "no such file in the request"))?;
            Ok(weco_domain::media::UploadFile { filename: value.filename, content: value.content.into() })
        })
        .collect()
}

fn space_ids(ids: &[ID], field: &str) -> ApiResult<Vec<SpaceId>> {
    ids.iter().map(|id| parse_id(id, field)).collect()
}

#[derive(Default)]
pub struct PostMutation;

#[Object]
impl PostMutation {
    /// Posts into one or more spaces; the post also appears in every space above them it flows into.
    async fn create_post(&self, ctx: &Context<'_>, input: CreatePostInput) -> ApiResult<CreatePostPayload> {
        let scope = scope(ctx)?;
        let command = CreatePost {
            space_ids: space_ids(&input.space_ids, "input.spaceIds")?,
            title: input.title,
            text: input.text,
            url: input.url,
            poll: input.poll.map(crate::polls::PollInput::into_domain).transpose()?,
            event: input.event.map(crate::calendar::EventInput::into_domain),
            media: uploads(ctx, input.media.unwrap_or_default())?,
        };
        let post = app(ctx).posts().create_post(scope.viewer, command).await?;
        scope.invalidate();
        Ok(CreatePostPayload { post: post.into() })
    }

    /// Changes a post's title, text or address (its creator only); the post shows `editedAt` and subscribers to
    /// it receive `PostEdited`.
    async fn update_post(&self, ctx: &Context<'_>, id: ID, input: UpdatePostInput) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let changes = weco_domain::posts::UpdatePostInput {
            title: change(input.title),
            text: change(input.text),
            url: change(input.url),
        };
        let post = app(ctx).posts().update_post(scope.viewer, parse_id(&id, "id")?, changes).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Deletes a comment (its author, or a moderator of a space the post is in). It stays in the tree as deleted
    /// (`text` null), so its replies stay; deleting it again changes nothing.
    async fn delete_comment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<CommentObject> {
        let scope = scope(ctx)?;
        let comment = app(ctx).posts().delete_comment(scope.viewer, parse_id(&id, "id")?).await?;
        scope.invalidate();
        Ok(comment.into())
    }

    /// Adds a post directly to more spaces.
    async fn repost(&self, ctx: &Context<'_>, input: RepostInput) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&input.post_id, "input.postId")?;
        let spaces = space_ids(&input.space_ids, "input.spaceIds")?;
        let post = app(ctx).posts().repost(scope.viewer, post, &spaces).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Hides a post in one space (moderators of that space); it stays everywhere else.
    async fn remove_post_from_space(
        &self,
        ctx: &Context<'_>,
        input: RemovePostFromSpaceInput,
    ) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&input.post_id, "input.postId")?;
        let space = parse_id::<SpaceId>(&input.space_id, "input.spaceId")?;
        let post = app(ctx).posts().moderate_post(scope.viewer, post, space, false).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Shows a removed post in that space again (moderators of that space).
    async fn reinstate_post_in_space(
        &self,
        ctx: &Context<'_>,
        input: ReinstatePostInSpaceInput,
    ) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&input.post_id, "input.postId")?;
        let space = parse_id::<SpaceId>(&input.space_id, "input.spaceId")?;
        let post = app(ctx).posts().moderate_post(scope.viewer, post, space, true).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Deletes a post everywhere (its creator only). Returns the post as it was.
    async fn delete_post(&self, ctx: &Context<'_>, id: ID) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let post = app(ctx).posts().delete_post(scope.viewer, parse_id(&id, "id")?).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Likes a post (idempotent). `spaceId` is the space the like was cast in.
    async fn like_post(&self, ctx: &Context<'_>, post_id: ID, space_id: Option<ID>) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let space = space_id.as_ref().map(|s| parse_id::<SpaceId>(s, "spaceId")).transpose()?;
        let post = app(ctx).posts().like_post(scope.viewer, parse_id(&post_id, "postId")?, space).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Takes the viewer's like back (idempotent).
    async fn unlike_post(&self, ctx: &Context<'_>, post_id: ID) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let post = app(ctx).posts().unlike_post(scope.viewer, parse_id(&post_id, "postId")?).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Rates a post from 0 to 100, replacing the viewer's earlier rating.
    async fn rate_post(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
        value: i32,
        space_id: Option<ID>,
    ) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let space = space_id.as_ref().map(|s| parse_id::<SpaceId>(s, "spaceId")).transpose()?;
        let post =
            app(ctx).posts().rate_post(scope.viewer, parse_id(&post_id, "postId")?, i64::from(value), space).await?;
        scope.invalidate();
        Ok(post.into())
    }

    /// Comments on a post, or replies to one of its comments.
    async fn add_comment(&self, ctx: &Context<'_>, input: AddCommentInput) -> ApiResult<CommentObject> {
        let scope = scope(ctx)?;
        let post = parse_id::<PostId>(&input.post_id, "input.postId")?;
        let parent = input.parent_comment_id.as_ref().map(|c| parse_id(c, "input.parentCommentId")).transpose()?;
        let comment = app(ctx).posts().add_comment(scope.viewer, post, parent, &input.text).await?;
        scope.invalidate();
        Ok(comment.into())
    }

    /// Links two posts with a description. Returns the source post.
    async fn link_posts(&self, ctx: &Context<'_>, input: LinkPostsInput) -> ApiResult<PostObject> {
        let scope = scope(ctx)?;
        let source = parse_id::<PostId>(&input.source_id, "input.sourceId")?;
        let target = parse_id::<PostId>(&input.target_id, "input.targetId")?;
        let post = app(ctx).posts().link_posts(scope.viewer, source, target, &input.description).await?;
        scope.invalidate();
        Ok(post.into())
    }
}
