//! The application: the ports wired together, and one service per area.
//!
//! `app.posts().like(viewer, post, space)`, `app.holarchy().children(…)`: each area's service is a thin view of
//! the [`App`] defined in that area's module. A new area adds its module and one accessor here.

use crate::access::AccessService;
use crate::accounts::AccountService;
use crate::accounts::sessions::SessionCache;
use crate::auth::TokenKeys;
use crate::calendar::EventService;
use crate::chat::ChatService;
use crate::chat::presence::{InProcessPresence, Presence};
use crate::feeds::FeedService;
use crate::holarchy::HolarchyService;
use crate::jobs::JobRegistry;
use crate::notifications::NotificationService;
use crate::outbox::Relay;
use crate::people::PeopleService;
use crate::polls::PollService;
use crate::ports::{Clock, EventBus, LoginThrottle, PasswordHasher};
use crate::posts::PostService;
use crate::uow::Store;
use std::sync::Arc;

/// Test hooks that make the server misbehave on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failpoints {
    /// Abort the process right after a unit of work that announced events commits, before they are published:
    /// what the outbox must survive.
    pub abort_after_commit: bool,
}

/// What the application needs from the outside world.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: TokenKeys,
    /// Where committed events go, and where subscriptions read them.
    pub bus: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    /// Consulted by every login: slows password guessing down per account and per address.
    pub login_throttle: Arc<dyn LoginThrottle>,
    /// Called after a unit of work that queued a job commits, so a job runner can look at once.
    pub wake_jobs: Option<Arc<dyn Fn() + Send + Sync>>,
    pub failpoints: Failpoints,
}

/// The application. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct App {
    pub(crate) ports: Ports,
    pub(crate) relay: Arc<Relay>,
    pub(crate) jobs: Arc<JobRegistry>,
    /// Recent answers about sessions, kept for a short bound ([`SessionCache`]).
    pub(crate) sessions: Arc<SessionCache>,
    /// The handles of the platform's admins, who grant and revoke membership of the cooperative.
    pub(crate) admins: Arc<std::collections::HashSet<String>>,
    /// Who is in which chat now (this process only, unless the host shares it between replicas).
    pub(crate) presence: Arc<dyn Presence>,
    /// When each user last said they were typing in each chat, from this process.
    pub(crate) typing: Arc<crate::chat::TypingThrottle>,
    /// How account mail is sent ([`crate::accounts::mail`]).
    pub(crate) mail: Arc<crate::accounts::mail::MailSettings>,
    /// The object store and image pipeline of media, and the fetcher of URL cards (none: no uploads, no cards).
    pub(crate) media: Option<Arc<crate::media::MediaPorts>>,
}

impl App {
    pub fn new(ports: Ports) -> Self {
        Self {
            ports,
            relay: Arc::default(),
            jobs: Arc::new(JobRegistry::with_builtin_handlers()),
            sessions: Arc::default(),
            admins: Arc::default(),
            presence: Arc::new(InProcessPresence::default()),
            typing: Arc::default(),
            mail: Arc::default(),
            media: None,
        }
    }

    /// The same application keeping presence in chats with `presence` (shared between replicas by the host).
    pub fn with_presence(mut self, presence: Arc<dyn Presence>) -> Self {
        self.presence = presence;
        self
    }

    /// The same application storing media and fetching URL cards through `ports`, with their jobs registered.
    pub fn with_media(mut self, ports: crate::media::MediaPorts) -> Self {
        let registry = crate::media::register_jobs((*self.jobs).clone(), &ports);
        self.jobs = Arc::new(registry);
        self.media = Some(Arc::new(ports));
        self
    }

    /// The same application keeping answers about sessions for `bound` (zero: reading the store every time).
    pub fn with_session_cache(mut self, bound: std::time::Duration) -> Self {
        self.sessions = Arc::new(SessionCache::new(bound));
        self
    }

    /// The same application with these platform admins (handles; the setting `WECO_ADMINS`).
    pub fn with_admins(mut self, handles: impl IntoIterator<Item = String>) -> Self {
        self.admins =
            Arc::new(handles.into_iter().map(|h| h.trim().to_lowercase()).filter(|h| !h.is_empty()).collect());
        self
    }

    /// The same application over another handle of the store (the same database), sharing everything else —
    /// the relay's memory of published events included. Background work runs on one, so its statements are
    /// counted apart from those of requests.
    pub fn with_store(&self, store: Arc<dyn Store>) -> Self {
        let mut app = self.clone();
        app.ports.store = store;
        app
    }

    /// The same application with more job handlers (for areas outside this crate, and tests).
    pub fn with_jobs(mut self, registry: JobRegistry) -> Self {
        self.jobs = Arc::new(registry);
        self
    }

    /// Where `viewer`'s reads go: a read replica that has caught up with what they wrote, or the primary.
    pub(crate) fn reads(&self, viewer: crate::actor::Viewer) -> &dyn crate::uow::Repos {
        self.ports.store.reader(viewer)
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.ports.bus
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.ports.store
    }

    pub fn accounts(&self) -> AccountService<'_> {
        AccountService { app: self }
    }

    pub fn holarchy(&self) -> HolarchyService<'_> {
        HolarchyService { app: self }
    }

    pub fn access(&self) -> AccessService<'_> {
        AccessService { app: self }
    }

    pub fn media(&self) -> crate::media::MediaService<'_> {
        crate::media::MediaService { app: self }
    }

    pub fn posts(&self) -> PostService<'_> {
        PostService { app: self }
    }

    pub fn polls(&self) -> PollService<'_> {
        PollService { app: self }
    }

    pub fn events(&self) -> EventService<'_> {
        EventService { app: self }
    }

    pub fn feeds(&self) -> FeedService<'_> {
        FeedService { app: self }
    }

    pub fn people(&self) -> PeopleService<'_> {
        PeopleService { app: self }
    }

    pub fn notifications(&self) -> NotificationService<'_> {
        NotificationService { app: self }
    }

    pub fn chats(&self) -> ChatService<'_> {
        ChatService { app: self }
    }

    pub fn commons(&self) -> crate::commons::CommonsService<'_> {
        crate::commons::CommonsService { app: self }
    }
}
