//! Media and URL cards: images and audio files attached to posts, and the preview of a post's URL
//! (docs/media.md).
//!
//! An upload is checked by its content and prepared by the [`ports::MediaBackend`] before any transaction
//! (images are decoded, re-encoded without their metadata and given a thumbnail, off the async runtime), its
//! files are written to the object store, and the post and its media rows are then written in one unit of
//! work; a refused post deletes the files it wrote. A media file is served only to viewers who may see its
//! post (docs/privacy.md rule 4). Deleting a post queues the deletion of its files (`media.delete`).
//!
//! A post with a URL queues `card.fetch`: the fetch runs before the job's unit of work (no transaction is
//! held over the network), and the card is then stored and announced to the post's subscribers
//! (`PostCardReady`).

pub mod ports;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Event, Topic};
use crate::ids::*;
use crate::jobs::{Job, JobHandler, NewJob};
use crate::uow::UnitOfWork;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ports::{CardFetcher, FetchRefused, MediaBackend};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The most files one post may hold.
pub const MAX_FILES_PER_POST: usize = 4;

/// What a media file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MediaKind {
    Image,
    Audio,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "IMAGE",
            MediaKind::Audio => "AUDIO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IMAGE" => Some(MediaKind::Image),
            "AUDIO" => Some(MediaKind::Audio),
            _ => None,
        }
    }
}

/// An uploaded file as the transport received it (held in memory: the server bounds how many uploading
/// requests run at once and how large each may be).
#[derive(Debug)]
pub struct UploadFile {
    /// The name the client gave; only for messages (the type is read from the content).
    pub filename: String,
    pub content: Vec<u8>,
}

/// An upload checked and ready to store.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: MediaKind,
    pub content_type: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub body: Vec<u8>,
    /// A smaller image (for images), in `thumb_content_type`.
    pub thumb: Option<(Vec<u8>, String)>,
}

/// A media file of a post.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    pub id: MediaId,
    pub post_id: PostId,
    /// Its place among the post's files, from 0.
    pub position: i32,
    pub kind: MediaKind,
    pub content_type: String,
    /// The size of the stored file.
    pub bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// The thumbnail's type, when it has one.
    pub thumb_content_type: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A media row to write.
pub type NewMedia = Media;

/// Where a media file's bytes are kept in the object store.
pub fn object_key(id: MediaId, thumb: bool) -> String {
    if thumb { format!("{id}.thumb") } else { id.to_string() }
}

/// What a fetched page says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CardData {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
}

/// The preview of a post's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub post_id: PostId,
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

/// The media area's outside world, given to the [`App`] by the host ([`App::with_media`]).
#[derive(Clone)]
pub struct MediaPorts {
    pub backend: Arc<dyn MediaBackend>,
    /// Fetches URL cards; without it posts get no cards.
    pub cards: Option<Arc<dyn CardFetcher>>,
}

/// The job that deletes the files of a deleted post.
pub const MEDIA_DELETE_JOB: &str = "media.delete";
/// The job that fetches a post's URL card.
pub const CARD_FETCH_JOB: &str = "card.fetch";
/// Attempts of a card fetch that fails in a way worth retrying (timeouts, server errors).
pub const CARD_FETCH_ATTEMPTS: i32 = 3;

/// The jobs of this area, for the host to register with its ports.
pub fn register_jobs(registry: crate::jobs::JobRegistry, ports: &MediaPorts) -> crate::jobs::JobRegistry {
    let mut registry = registry.register(MEDIA_DELETE_JOB, Arc::new(DeleteMedia { backend: ports.backend.clone() }));
    if let Some(fetcher) = &ports.cards {
        registry = registry.register(CARD_FETCH_JOB, Arc::new(FetchCard { fetcher: fetcher.clone() }));
    }
    registry
}

/// Queues the fetch of a post's card (inside the unit of work that wrote the post).
pub(crate) async fn queue_card(uow: &mut UnitOfWork, post: PostId, url: &str) -> DomainResult<()> {
    let mut job = NewJob::new(CARD_FETCH_JOB, uow.now(), serde_json::json!({ "post": post, "url": url }))
        .keyed(format!("card:{post}"));
    job.max_attempts = CARD_FETCH_ATTEMPTS;
    uow.enqueue(&job).await
}

/// Queues the deletion of a deleted post's files, if it has any.
pub(crate) async fn queue_deletion(uow: &mut UnitOfWork, post: PostId) -> DomainResult<()> {
    if uow.media().media_of_posts(&[post]).await?.is_empty() {
        return Ok(());
    }
    let job = NewJob::new(MEDIA_DELETE_JOB, uow.now(), serde_json::json!({ "post": post }))
        .keyed(format!("media-delete:{post}"));
    uow.enqueue(&job).await
}

fn payload_post(job: &Job) -> DomainResult<PostId> {
    serde_json::from_value::<PostId>(job.payload["post"].clone())
        .map_err(|e| DomainError::internal("reading a media job's payload", e))
}

/// Deletes the media rows and files of a deleted post.
struct DeleteMedia {
    backend: Arc<dyn MediaBackend>,
}

#[async_trait]
impl JobHandler for DeleteMedia {
    async fn run(&self, uow: &mut UnitOfWork, job: &Job) -> DomainResult<()> {
        let post = payload_post(job)?;
        for media in uow.media().delete_media_of_post(post).await? {
            self.backend.delete(&object_key(media.id, false)).await?;
            if media.thumb_content_type.is_some() {
                self.backend.delete(&object_key(media.id, true)).await?;
            }
        }
        Ok(())
    }
}

/// Fetches a post's card (before the unit of work), then stores and announces it.
struct FetchCard {
    fetcher: Arc<dyn CardFetcher>,
}

#[async_trait]
impl JobHandler for FetchCard {
    async fn prepare(&self, job: &Job) -> DomainResult<Option<serde_json::Value>> {
        let url = job.payload["url"].as_str().unwrap_or_default();
        let fetched = match self.fetcher.fetch(url).await? {
            Ok(data) => serde_json::to_value(&data).map_err(|e| DomainError::internal("keeping a card", e))?,
            Err(FetchRefused::NotPublic(why)) => {
                tracing::info!(url, why, "card not fetched: the address is not public");
                serde_json::Value::Null
            }
            Err(FetchRefused::Unusable(why)) => {
                tracing::info!(url, why, "card not fetched: nothing usable");
                serde_json::Value::Null
            }
        };
        Ok(Some(fetched))
    }

    async fn run(&self, uow: &mut UnitOfWork, job: &Job) -> DomainResult<()> {
        let post = payload_post(job)?;
        let Some(fetched) = job.prepared.clone().filter(|v| !v.is_null()) else { return Ok(()) };
        let data: CardData =
            serde_json::from_value(fetched).map_err(|e| DomainError::internal("reading a fetched card", e))?;
        // The post may have been deleted, or its URL changed, while the page was fetched.
        let Some(current) = uow.posts().posts_by_ids(&[post]).await?.into_iter().next() else { return Ok(()) };
        let url = job.payload["url"].as_str().unwrap_or_default();
        if current.url.as_deref() != Some(url) {
            return Ok(());
        }
        let card = Card {
            post_id: post,
            url: url.to_owned(),
            title: data.title,
            description: data.description,
            image_url: data.image_url,
            fetched_at: uow.now(),
        };
        uow.media().put_card(&card).await?;
        let audience = uow.posts().audiences(&[post]).await?.remove(&post).unwrap_or_default();
        uow.announce(vec![Topic::Post(post)], Event::PostCardReady { post_id: post, card: Box::new(card), audience });
        Ok(())
    }
}

/// A media file as served: its row, its bytes, and whether its post is public (cacheable by anyone).
#[derive(Debug)]
pub struct Served {
    pub media: Media,
    pub thumb: bool,
    pub body: Vec<u8>,
    pub public: bool,
}

/// The media service: `app.media()`.
pub struct MediaService<'a> {
    pub(crate) app: &'a App,
}

impl MediaService<'_> {
    /// Whether uploads are accepted (the host configured a store).
    pub fn enabled(&self) -> bool {
        self.app.media.is_some()
    }

    /// The media of those posts the viewer may see, in order.
    pub async fn media(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, Vec<Media>>> {
        let visible: HashSet<PostId> = self.app.posts().visible(viewer, posts).await?;
        let ids: Vec<PostId> = posts.iter().copied().filter(|p| visible.contains(p)).collect();
        let mut out: HashMap<PostId, Vec<Media>> = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        for media in self.app.reads(viewer).media().media_of_posts(&ids).await? {
            out.entry(media.post_id).or_default().push(media);
        }
        Ok(out)
    }

    /// The cards of those posts the viewer may see.
    pub async fn cards(&self, viewer: Viewer, posts: &[PostId]) -> DomainResult<HashMap<PostId, Card>> {
        let visible: HashSet<PostId> = self.app.posts().visible(viewer, posts).await?;
        let ids: Vec<PostId> = posts.iter().copied().filter(|p| visible.contains(p)).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self.app.reads(viewer).media().cards_of_posts(&ids).await?.into_iter().map(|c| (c.post_id, c)).collect())
    }

    /// A media file (or its thumbnail) for the viewer: `None` when it does not exist or its post is not
    /// visible to them (docs/privacy.md rule 4) — the caller answers both the same way.
    pub async fn open(&self, viewer: Viewer, id: MediaId, thumb: bool) -> DomainResult<Option<Served>> {
        let Some(ports) = &self.app.media else { return Ok(None) };
        let store = self.app.reads(viewer);
        let Some(media) = store.media().media_by_id(id).await? else { return Ok(None) };
        if thumb && media.thumb_content_type.is_none() {
            return Ok(None);
        }
        if store.posts().visible_posts_among(viewer.id(), &[media.post_id]).await?.is_empty() {
            return Ok(None);
        }
        let public = store.posts().audiences(&[media.post_id]).await?.get(&media.post_id).is_none_or(Vec::is_empty);
        let Some(body) = ports.backend.get(&object_key(media.id, thumb)).await? else { return Ok(None) };
        Ok(Some(Served { media, thumb, body, public }))
    }

    /// Checks and stores the uploads of a new post, before its unit of work. Returns the rows to write (their
    /// post and time are set by the caller) and the keys written, to delete if the post is refused.
    pub(crate) async fn store_uploads(&self, uploads: Vec<UploadFile>) -> DomainResult<(Vec<Media>, Vec<String>)> {
        if uploads.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let Some(ports) = &self.app.media else {
            return Err(DomainError::validation("input.media", "this server does not accept media"));
        };
        if uploads.len() > MAX_FILES_PER_POST {
            return Err(DomainError::validation(
                "input.media",
                format!("a post holds at most {MAX_FILES_PER_POST} files"),
            ));
        }
        let mut prepared = Vec::with_capacity(uploads.len());
        for (i, upload) in uploads.into_iter().enumerate() {
            let item = ports.backend.prepare(upload).await.map_err(|e| match e {
                DomainError::Validation { message, .. } => DomainError::validation(format!("input.media.{i}"), message),
                other => other,
            })?;
            prepared.push(item);
        }
        let mut rows = Vec::with_capacity(prepared.len());
        let mut keys = Vec::new();
        let now = self.app.ports.clock.now();
        for (position, p) in prepared.into_iter().enumerate() {
            let id = MediaId::generate();
            let written = async {
                keys.push(object_key(id, false));
                let bytes = p.body.len() as i64;
                ports.backend.put(&object_key(id, false), p.body).await?;
                let mut thumb_content_type = None;
                if let Some((thumb, content_type)) = p.thumb {
                    keys.push(object_key(id, true));
                    ports.backend.put(&object_key(id, true), thumb).await?;
                    thumb_content_type = Some(content_type);
                }
                Ok::<_, DomainError>((bytes, thumb_content_type))
            }
            .await;
            let (bytes, thumb_content_type) = match written {
                Ok(w) => w,
                Err(e) => {
                    self.discard(&keys).await;
                    return Err(e);
                }
            };
            rows.push(Media {
                id,
                post_id: PostId(uuid::Uuid::nil()),
                position: position as i32,
                kind: p.kind,
                content_type: p.content_type,
                bytes,
                width: p.width,
                height: p.height,
                thumb_content_type,
                created_at: now,
            });
        }
        Ok((rows, keys))
    }

    /// Deletes files written for a post that was refused (best effort: a failure is logged).
    pub(crate) async fn discard(&self, keys: &[String]) {
        let Some(ports) = &self.app.media else { return };
        for key in keys {
            if let Err(e) = ports.backend.delete(key).await {
                tracing::warn!(key, error = ?e, "could not delete the file of a refused upload");
            }
        }
    }
}
