//! What every handler shares: the application, the schema, the store and the bus, the limits, the rate
//! limiter, persisted queries, the server's counters, the registry of shared subscriptions and the count of
//! open websockets per address.

use crate::admission::DocumentCache;
use crate::http::PersistedQueries;
use crate::limits::{RateLimiter, ServerMetrics};
use crate::ws::{Connections, Groups};
use std::sync::Arc;
use std::time::Duration;
use weco_domain::App;
use weco_graph::WecoSchema;
use weco_realtime::RealtimeBus;
use weco_store::SeaStore;

/// Limits every request is held to.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    /// Largest websocket message, in bytes.
    pub ws_max_message_bytes: usize,
    pub max_batch: usize,
    /// Deepest bracket nesting a document may have (see [`crate::nesting`]), and deepest chain of fragments.
    pub max_nesting: usize,
    /// Largest size of an operation once its fragments are expanded (see [`crate::admission`]).
    pub max_expanded: usize,
    /// Largest response one operation may send, in bytes.
    pub max_response_bytes: usize,
    /// Most operations in progress on one websocket (0: no limit).
    pub ws_max_subscriptions: usize,
    /// Most open websockets per client address (0: no limit).
    pub ws_max_connections_per_address: usize,
    /// Whether `/metrics` has an address of its own (and is then not served on the main one).
    pub metrics_apart: bool,
    /// Longest time a request, or a websocket query, mutation or subscription event, may take.
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    pub ws_origins: Vec<String>,
    /// Whether `X-Forwarded-For` names the client (behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Largest multipart (upload) request, and largest file in one.
    pub media_max_request_bytes: usize,
    pub media_max_file_bytes: usize,
}

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    /// The same application over a store handle whose statements are counted apart: background work (the
    /// outbox relay, the job runner) and the metrics' own reads use it.
    pub background: App,
    pub background_store: Arc<SeaStore>,
    pub schema: WecoSchema,
    pub store: Arc<SeaStore>,
    pub bus: Arc<RealtimeBus>,
    /// How long a websocket client may take to send `connection_init`.
    pub ws_init_timeout: Duration,
    pub limits: HttpLimits,
    pub limiter: Arc<RateLimiter>,
    pub persisted: PersistedQueries,
    pub metrics: Arc<ServerMetrics>,
    /// The subscriptions identical clients share on this server.
    pub groups: Arc<Groups>,
    /// How many open data exports may stream at once, and their pseudonyms' secret.
    pub export: crate::export::ExportGuard,
    /// Open websockets per client address.
    pub ws_connections: Arc<Connections>,
    /// Admitted documents, parsed ([`crate::admission`]).
    pub documents: Arc<DocumentCache>,
    /// Multipart (upload) requests being read or run: bounds the memory their files take.
    pub uploads: Arc<tokio::sync::Semaphore>,
}
