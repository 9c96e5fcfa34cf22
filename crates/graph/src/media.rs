//! Media and URL cards in the schema: `Post.media` (`Media`), `Post.card` (`Card`) and their loaders. Files
//! are uploaded with `createPost(input: { media: [Upload!] })` through the GraphQL multipart request
//! specification (docs/media.md).

use crate::error::ApiResult;
use crate::ids::to_id;
use async_graphql::dataloader::Loader;
use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use weco_domain::media::{Card, Media, MediaKind};
use weco_domain::{App, DomainError, PostId, Viewer};

/// The media of posts the viewer may see, in order, read in one statement per batch.
pub(crate) struct PostMediaLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostMediaLoader {
    type Value = Vec<Media>;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Vec<Media>>, DomainError> {
        self.app.media().media(self.viewer, keys).await
    }
}

/// The URL cards of posts the viewer may see.
pub(crate) struct PostCardLoader {
    pub app: App,
    pub viewer: Viewer,
}

impl Loader<PostId> for PostCardLoader {
    type Value = Card;
    type Error = DomainError;

    async fn load(&self, keys: &[PostId]) -> Result<HashMap<PostId, Card>, DomainError> {
        self.app.media().cards(self.viewer, keys).await
    }
}

/// What a media file is.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum MediaType {
    Image,
    Audio,
}

/// An image or audio file of a post. Its URLs answer only viewers who may see the post (send the same bearer
/// token); images were re-encoded without their metadata.
pub struct MediaObject(pub Media);

#[Object(name = "Media")]
impl MediaObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    #[graphql(name = "type")]
    async fn kind(&self) -> MediaType {
        match self.0.kind {
            MediaKind::Image => MediaType::Image,
            MediaKind::Audio => MediaType::Audio,
        }
    }

    /// Where the file is served, relative to the server (`/media/{id}`).
    async fn url(&self) -> String {
        format!("/media/{}", self.0.id)
    }

    /// A smaller version of an image (null for audio).
    async fn thumbnail_url(&self) -> Option<String> {
        self.0.thumb_content_type.as_ref().map(|_| format!("/media/{}/thumb", self.0.id))
    }

    /// Pixels (images only).
    async fn width(&self) -> Option<i32> {
        self.0.width
    }

    async fn height(&self) -> Option<i32> {
        self.0.height
    }

    /// The type read from the file's content (`image/jpeg`, `image/png`, `audio/mpeg`, …).
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }

    /// Size of the stored file.
    async fn bytes(&self) -> i32 {
        i32::try_from(self.0.bytes).unwrap_or(i32::MAX)
    }
}

/// The preview of a post's URL, read from the page's OpenGraph and meta tags.
#[derive(SimpleObject)]
#[graphql(name = "Card")]
pub struct CardObject {
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// An absolute http(s) address the page names as its image (not fetched by the server).
    pub image_url: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

impl From<Card> for CardObject {
    fn from(c: Card) -> Self {
        Self {
            url: c.url,
            title: c.title,
            description: c.description,
            image_url: c.image_url,
            fetched_at: c.fetched_at,
        }
    }
}

pub(crate) async fn post_media(ctx: &async_graphql::Context<'_>, post: PostId) -> ApiResult<Vec<MediaObject>> {
    let media = crate::scope::scope(ctx)?.loaders.post_media.load_one(post).await?.unwrap_or_default();
    Ok(media.into_iter().map(MediaObject).collect())
}

pub(crate) async fn post_card(ctx: &async_graphql::Context<'_>, post: PostId) -> ApiResult<Option<CardObject>> {
    Ok(crate::scope::scope(ctx)?.loaders.post_cards.load_one(post).await?.map(CardObject::from))
}
