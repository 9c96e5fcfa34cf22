//! Media on the server: its settings, the object store behind [`weco_domain::media::ports::MediaBackend`]
//! (a folder of local files, or S3-compatible storage with the `s3` feature), image work on blocking threads
//! with a bound on how many run at once, the card fetcher, and the route that serves files
//! (docs/media.md).

pub mod cards;
pub mod demo;
pub mod process;
pub mod serve;

use async_trait::async_trait;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use weco_domain::media::ports::MediaBackend;
use weco_domain::media::{MediaPorts, Prepared, UploadFile};
use weco_domain::{DomainError, DomainResult};

/// The media settings (part of [`crate::config::Settings`]).
#[derive(clap::Args, Clone, Debug)]
pub struct MediaSettings {
    /// Where media files are kept: `local` (a folder, `media_dir`) or `s3` (S3-compatible storage; needs a
    /// server built with the `s3` feature).
    #[arg(long, env = "WECO_MEDIA_STORE", default_value = "local")]
    pub media_store: String,

    /// The folder of media files with `media_store = "local"`; by default a folder named after the SQLite file
    /// with `.media` added (`weco.db.media`), or `media` in the working directory with PostgreSQL.
    #[arg(long, env = "WECO_MEDIA_DIR")]
    pub media_dir: Option<PathBuf>,

    /// The bucket with `media_store = "s3"` (credentials from the usual `AWS_*` variables).
    #[arg(long, env = "WECO_MEDIA_S3_BUCKET")]
    pub media_s3_bucket: Option<String>,

    /// The endpoint of an S3-compatible service other than AWS (MinIO, Garage, …).
    #[arg(long, env = "WECO_MEDIA_S3_ENDPOINT")]
    pub media_s3_endpoint: Option<String>,

    /// The bucket's region.
    #[arg(long, env = "WECO_MEDIA_S3_REGION")]
    pub media_s3_region: Option<String>,

    /// Largest file accepted, in bytes.
    #[arg(long, env = "WECO_MEDIA_MAX_FILE_BYTES", default_value_t = 10_485_760)]
    pub media_max_file_bytes: usize,

    /// Largest multipart request (all its files and operations), in bytes.
    #[arg(long, env = "WECO_MEDIA_MAX_REQUEST_BYTES", default_value_t = 26_214_400)]
    pub media_max_request_bytes: usize,

    /// Most multipart requests read at once by this server; more wait for their turn.
    #[arg(long, env = "WECO_MEDIA_MAX_UPLOADS_IN_FLIGHT", default_value_t = 16)]
    pub media_max_uploads_in_flight: usize,

    /// Most images decoded and re-encoded at once (each on a blocking thread).
    #[arg(long, env = "WECO_MEDIA_PROCESSING_CONCURRENCY", default_value_t = 2)]
    pub media_processing_concurrency: usize,

    /// Largest width or height of an image.
    #[arg(long, env = "WECO_MEDIA_MAX_IMAGE_SIDE", default_value_t = 8_192)]
    pub media_max_image_side: u32,

    /// Largest image in pixels (width × height): what bounds the memory of decoding one.
    #[arg(long, env = "WECO_MEDIA_MAX_IMAGE_PIXELS", default_value_t = 25_000_000)]
    pub media_max_image_pixels: u64,

    /// Largest side of a thumbnail.
    #[arg(long, env = "WECO_MEDIA_THUMB_SIDE", default_value_t = 320)]
    pub media_thumb_side: u32,

    /// Fetch previews (cards) of posts' URLs.
    #[arg(long, env = "WECO_CARDS", default_value_t = true, action = clap::ArgAction::Set)]
    pub cards: bool,

    /// Longest time a card's fetch may take, redirects included, in milliseconds.
    #[arg(long, env = "WECO_CARD_TIMEOUT_MS", default_value_t = 5_000)]
    pub card_timeout_ms: u64,

    /// Most bytes of a page read for its card.
    #[arg(long, env = "WECO_CARD_MAX_BYTES", default_value_t = 524_288)]
    pub card_max_bytes: usize,

    /// Let cards be fetched from private, loopback and link-local addresses (never on a public server).
    #[arg(long, env = "WECO_CARD_ALLOW_PRIVATE_ADDRESSES")]
    pub card_allow_private_addresses: bool,

    /// `host:port` pairs cards may be fetched from whatever their address (an intranet's wiki), comma-separated.
    #[arg(long, env = "WECO_CARD_ALLOWED_HOSTS", value_delimiter = ',')]
    pub card_allowed_hosts: Vec<String>,
}

impl Default for MediaSettings {
    fn default() -> Self {
        Self {
            media_store: "local".into(),
            media_dir: None,
            media_s3_bucket: None,
            media_s3_endpoint: None,
            media_s3_region: None,
            media_max_file_bytes: 10_485_760,
            media_max_request_bytes: 26_214_400,
            media_max_uploads_in_flight: 16,
            media_processing_concurrency: 2,
            media_max_image_side: 8_192,
            media_max_image_pixels: 25_000_000,
            media_thumb_side: 320,
            cards: true,
            card_timeout_ms: 5_000,
            card_max_bytes: 524_288,
            card_allow_private_addresses: false,
            card_allowed_hosts: Vec::new(),
        }
    }
}

impl MediaSettings {
    /// The folder of local media for a database URL.
    pub fn local_dir(&self, database_url: &str) -> PathBuf {
        if let Some(dir) = &self.media_dir {
            return dir.clone();
        }
        let sqlite_file = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .filter(|path| !path.is_empty() && !path.starts_with(':') && *path != "memory");
        match sqlite_file {
            Some(path) => PathBuf::from(format!("{path}.media")),
            None => PathBuf::from("media"),
        }
    }

    pub fn image_limits(&self) -> process::ImageLimits {
        process::ImageLimits {
            max_side: self.media_max_image_side.max(1),
            max_pixels: self.media_max_image_pixels.max(1),
            thumb_side: self.media_thumb_side.max(16),
        }
    }
}

/// Files in an object store; uploads prepared on blocking threads, at most `concurrency` at once.
pub struct ObjectMedia {
    /// The local folder, made when first needed (a server that never stores media makes none).
    local: Option<PathBuf>,
    store: tokio::sync::OnceCell<Arc<dyn ObjectStore>>,
    processing: Arc<Semaphore>,
    limits: process::ImageLimits,
    max_file_bytes: usize,
}

impl ObjectMedia {
    pub fn open(settings: &MediaSettings, database_url: &str) -> anyhow::Result<Self> {
        let (local, store) = match settings.media_store.as_str() {
            "local" => (Some(settings.local_dir(database_url)), tokio::sync::OnceCell::new()),
            "s3" => (None, tokio::sync::OnceCell::new_with(Some(s3_store(settings)?))),
            other => anyhow::bail!("media_store must be `local` or `s3`, not `{other}`"),
        };
        Ok(Self {
            local,
            store,
            processing: Arc::new(Semaphore::new(settings.media_processing_concurrency.max(1))),
            limits: settings.image_limits(),
            max_file_bytes: settings.media_max_file_bytes,
        })
    }
}

#[cfg(feature = "s3")]
fn s3_store(settings: &MediaSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use anyhow::Context as _;
    let bucket = settings.media_s3_bucket.as_deref().context("media_store = \"s3\" needs media_s3_bucket")?;
    let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &settings.media_s3_endpoint {
        builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(region) = &settings.media_s3_region {
        builder = builder.with_region(region);
    }
    Ok(Arc::new(builder.build().context("configuring the S3 media store")?))
}

#[cfg(not(feature = "s3"))]
fn s3_store(_settings: &MediaSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    anyhow::bail!("media_store = \"s3\" needs a server built with the `s3` feature (cargo build --features s3)")
}

fn store_error(context: &str, e: object_store::Error) -> DomainError {
    DomainError::internal(context, e)
}

impl ObjectMedia {
    async fn store(&self) -> DomainResult<&Arc<dyn ObjectStore>> {
        self.store
            .get_or_try_init(|| async {
                let Some(dir) = &self.local else {
                    return Err(DomainError::internal("opening the media store", "no store configured"));
                };
                std::fs::create_dir_all(dir).map_err(|e| {
                    DomainError::internal("creating the media folder", format!("{}: {e}", dir.display()))
                })?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| store_error("opening the media folder", e))?;
                Ok(Arc::new(store) as Arc<dyn ObjectStore>)
            })
            .await
    }
}

#[async_trait]
impl MediaBackend for ObjectMedia {
    async fn prepare(&self, upload: UploadFile) -> DomainResult<Prepared> {
        if upload.content.len() > self.max_file_bytes {
            return Err(DomainError::validation(
                "input.media",
                format!("{} is larger than the {} bytes a file may have", upload.filename, self.max_file_bytes),
            ));
        }
        // The permit bounds the memory of decoding: at most this many images are in pixels at once.
        let permit = self
            .processing
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| DomainError::internal("waiting to process media", e))?;
        let limits = self.limits;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            process::prepare(upload.content, &limits)
        })
        .await
        .map_err(|e| DomainError::internal("processing media", e))?
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> DomainResult<()> {
        self.store()
            .await?
            .put(&StorePath::from(key), PutPayload::from(bytes))
            .await
            .map_err(|e| store_error("storing a media file", e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> DomainResult<Option<Vec<u8>>> {
        match self.store().await?.get(&StorePath::from(key)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(|e| store_error("reading a media file", e))?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("reading a media file", e)),
        }
    }

    async fn delete(&self, key: &str) -> DomainResult<()> {
        match self.store().await?.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error("deleting a media file", e)),
        }
    }
}

/// The media ports of the application.
pub fn ports(settings: &MediaSettings, database_url: &str) -> anyhow::Result<MediaPorts> {
    let backend = Arc::new(ObjectMedia::open(settings, database_url)?);
    let cards = if settings.cards {
        let rule = cards::AddressRule {
            allow_private: settings.card_allow_private_addresses,
            allowed_hosts: settings.card_allowed_hosts.clone(),
        };
        let fetcher = cards::HttpCardFetcher::new(
            rule,
            Duration::from_millis(settings.card_timeout_ms.max(1)),
            settings.card_max_bytes.max(1024),
        )?;
        Some(Arc::new(fetcher) as Arc<dyn weco_domain::media::ports::CardFetcher>)
    } else {
        None
    };
    Ok(MediaPorts { backend, cards })
}
