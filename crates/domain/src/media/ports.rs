//! What the media area needs: its tables (media rows and URL cards), the object store and the image work
//! (implemented by the server), and the fetcher of URL cards.

use super::{Card, CardData, Media, NewMedia, Prepared, UploadFile};
use crate::error::DomainResult;
use crate::ids::*;
use async_trait::async_trait;

/// The media rows of posts and their URL cards.
#[async_trait]
pub trait MediaRepo: Send + Sync {
    async fn insert_media(&self, media: &[NewMedia]) -> DomainResult<()>;
    /// The media of these posts, in their order on each post (whoever asks: callers check visibility).
    async fn media_of_posts(&self, posts: &[PostId]) -> DomainResult<Vec<Media>>;
    async fn media_by_id(&self, id: MediaId) -> DomainResult<Option<Media>>;
    /// Deletes the media rows of a post, returning them.
    async fn delete_media_of_post(&self, post: PostId) -> DomainResult<Vec<Media>>;
    /// Writes (or replaces) a post's card.
    async fn put_card(&self, card: &Card) -> DomainResult<()>;
    /// The cards of these posts (whoever asks: callers check visibility).
    async fn cards_of_posts(&self, posts: &[PostId]) -> DomainResult<Vec<Card>>;
}

/// Where media files live and how an upload becomes one: the server's object store (local files or S3) and
/// its image pipeline.
#[async_trait]
pub trait MediaBackend: Send + Sync {
    /// Checks an upload by its content and prepares what is stored: an image decoded (bounded), re-encoded
    /// without its metadata, with a thumbnail; an audio file as it came. `VALIDATION` for anything else.
    async fn prepare(&self, upload: UploadFile) -> DomainResult<Prepared>;
    async fn put(&self, key: &str, bytes: Vec<u8>) -> DomainResult<()>;
    /// The stored bytes, `None` when nothing is stored under `key`.
    async fn get(&self, key: &str) -> DomainResult<Option<Vec<u8>>>;
    /// Deletes what is stored under `key` (nothing stored is not an error).
    async fn delete(&self, key: &str) -> DomainResult<()>;
}

/// Why a card was not fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchRefused {
    /// The address is not public (loopback, private, link-local, …), on the first hop or a redirect.
    NotPublic(String),
    /// The page is not HTML, too large, or said nothing usable.
    Unusable(String),
}

/// Fetches the preview of a URL (with a timeout, a size limit and the address rule).
#[async_trait]
pub trait CardFetcher: Send + Sync {
    /// `Ok(Err(refused))` for a URL that must not or cannot give a card (not retried); `Err` for a failure
    /// worth retrying (a timeout, a server error).
    async fn fetch(&self, url: &str) -> DomainResult<Result<CardData, FetchRefused>>;
}
