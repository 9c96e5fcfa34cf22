//! GraphQL over HTTP, to the spec (graphql-http's audit suite), in front of the schema:
//!
//! - `POST` takes `application/json` (415 otherwise — which is also Apollo's CSRF rule: a "simple" content
//!   type a browser form could send is never executed); `GET` takes the query string and runs queries only
//!   (405 with `Allow: POST` for mutations).
//! - `Accept` picks `application/graphql-response+json` (request errors then get 400 and no `data` key) or
//!   legacy `application/json` (always 200); anything else is 406.
//! - Malformed JSON, a missing query or unparsable variables are 400 with `extensions.code = VALIDATION`.
//! - Batches (a JSON array) are allowed up to `max_batch` operations.
//! - Automatic persisted queries (Apollo APQ): `extensions.persistedQuery.sha256Hash` with or without the
//!   query; the queries are kept in Redis (or a Redis Cluster) when configured, so every replica knows them.
//! - File uploads (docs/media.md) follow the GraphQL multipart request specification: `multipart/form-data`
//!   with `operations`, `map` and the files. A browser form can send that type without a preflight, so such a
//!   request must carry a non-empty `Apollo-Require-Preflight` or `X-Apollo-Operation-Name` header (Apollo's
//!   CSRF rule; 400 otherwise). At most `media_max_uploads_in_flight` of them are read at once, each up to
//!   `media_max_request_bytes`, each file up to `media_max_file_bytes` (413 beyond).
//! - Every error leaving here carries `extensions.code`.

use crate::admission::{AdmissionLimits, admit};
use crate::limits::{Client, OverBudget};
use crate::shared_redis::SharedRedis;
use crate::state::AppState;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError, Variables};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use weco_domain::accounts::{ClientAddress, Credentials};
use weco_graph::RequestScope;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Which response media type the client accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum MediaType {
    GraphQlResponse,
    Json,
}

impl MediaType {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            MediaType::GraphQlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        })
    }
}

/// Picks the response type from `Accept` (`None`: nothing acceptable).
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let types: Vec<&str> = accept.split(',').map(|t| t.split(';').next().unwrap_or("").trim()).collect();
    if types.contains(&GRAPHQL_RESPONSE) {
        Some(MediaType::GraphQlResponse)
    } else if types.iter().any(|t| *t == JSON || *t == "*/*" || *t == "application/*") {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// An error response with `extensions.code`, before or instead of execution.
pub fn error_response(status: StatusCode, media: MediaType2, code: &str, message: &str) -> HttpResponse {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, media.0.header());
    response
}

/// A response media type for errors raised outside this module (public wrapper).
#[derive(Clone, Copy)]
pub struct MediaType2(MediaType);

impl MediaType2 {
    pub const JSON: MediaType2 = MediaType2(MediaType::Json);

    /// The type a request's `Accept` asks for, or JSON when it accepts neither.
    pub fn from_accept(headers: &HeaderMap) -> MediaType2 {
        MediaType2(negotiate(headers).unwrap_or(MediaType::Json))
    }
}

fn fail(status: StatusCode, media: MediaType, code: &str, message: &str) -> HttpResponse {
    error_response(status, MediaType2(media), code, message)
}

/// Reads a GET request's query string into a request.
fn request_from_query(raw: Option<&str>) -> Result<Request, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| e.to_string())?;
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let mut request = Request::new(get("query").unwrap_or_default());
    if let Some(name) = get("operationName").filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(vars) = get("variables").filter(|v| !v.is_empty()) {
        let value: Value = serde_json::from_str(vars).map_err(|_| "variables must be a JSON object".to_owned())?;
        if !value.is_object() && !value.is_null() {
            return Err("variables must be a JSON object".into());
        }
        request = request.variables(Variables::from_json(value));
    }
    if let Some(ext) = get("extensions").filter(|v| !v.is_empty()) {
        let value: Value = serde_json::from_str(ext).map_err(|_| "extensions must be a JSON object".to_owned())?;
        request.extensions =
            serde_json::from_value(value).map_err(|_| "extensions must be a JSON object".to_owned())?;
    }
    Ok(request)
}

/// Parses one request object of a POST body, checking the types the spec requires.
fn request_from_json(value: Value) -> Result<Request, String> {
    let Value::Object(map) = &value else { return Err("the body must be a JSON object".into()) };
    match map.get("query") {
        Some(Value::String(_)) => {}
        None | Some(Value::Null) if has_persisted_hash(map.get("extensions")) => {}
        None | Some(Value::Null) => return Err("the body must contain a query".into()),
        Some(_) => return Err("query must be a string".into()),
    }
    if let Some(v) = map.get("variables")
        && !(v.is_object() || v.is_null())
    {
        return Err("variables must be a JSON object".into());
    }
    if let Some(v) = map.get("operationName")
        && !(v.is_string() || v.is_null())
    {
        return Err("operationName must be a string".into());
    }
    if let Some(v) = map.get("extensions")
        && !(v.is_object() || v.is_null())
    {
        return Err("extensions must be a JSON object".into());
    }
    serde_json::from_value::<Request>(value).map_err(|e| e.to_string())
}

fn has_persisted_hash(extensions: Option<&Value>) -> bool {
    extensions.and_then(|e| e.get("persistedQuery")).and_then(|p| p.get("sha256Hash")).is_some()
}

/// Resolves Apollo's automatic persisted queries: registers `query` under its hash, or looks the query up.
async fn resolve_persisted(state: &AppState, request: &mut Request) -> Result<(), (&'static str, String)> {
    let Some(persisted) = request.extensions.get("persistedQuery") else { return Ok(()) };
    let persisted = persisted.clone().into_json().unwrap_or_default();
    let Some(hash) = persisted.get("sha256Hash").and_then(Value::as_str).map(str::to_lowercase) else {
        return Ok(());
    };
    if persisted.get("version").and_then(Value::as_i64) != Some(1) {
        return Err(("VALIDATION", "PersistedQueryNotSupported".into()));
    }
    if request.query.is_empty() {
        match state.persisted.get(&hash).await {
            Some(query) => request.query = query,
            None => return Err(("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound".into())),
        }
    } else {
        let digest = Sha256::digest(request.query.as_bytes());
        let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if actual != hash {
            return Err(("VALIDATION", "provided sha256Hash does not match the query".into()));
        }
        state.persisted.set(&hash, &request.query).await;
    }
    request.extensions.remove("persistedQuery");
    Ok(())
}

/// Gives every error a code: request errors (parse, validation, limits) are `VALIDATION`, anything else that
/// lacks one is `INTERNAL`.
fn ensure_codes(response: &mut Response) {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = if error.path.is_empty() { "VALIDATION" } else { "INTERNAL" };
            error.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
}

/// No data and errors without a path: the request could not be executed at all.
fn is_request_error(response: &Response) -> bool {
    matches!(response.data, async_graphql::Value::Null)
        && !response.errors.is_empty()
        && response.errors.iter().all(|e: &ServerError| e.path.is_empty())
}

/// A 429 with code `RATE_LIMITED` and `Retry-After`, for a request its client's budget cannot pay for.
pub fn over_budget_response(media: MediaType2, over: &OverBudget) -> HttpResponse {
    let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, media, "RATE_LIMITED", &over.message());
    if let Ok(v) = HeaderValue::from_str(&over.retry_after_secs().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The error that replaces a response larger than `max_response_bytes`.
pub fn too_large(limit: usize) -> Response {
    let mut error = ServerError::new(
        format!(
            "the response is larger than the server sends ({limit} bytes): ask for fewer items or fields \
             (the operation ran; a mutation kept its writes)"
        ),
        None,
    );
    error.extensions.get_or_insert_with(Default::default).set("code", "RESPONSE_TOO_LARGE");
    Response::from_errors(vec![error])
}

/// A response the schema stopped for its size (`RESPONSE_TOO_LARGE`, see `weco_graph`'s budget) is replaced by
/// that error alone, without data: the data it holds is cut short arbitrarily.
pub fn stopped_for_size(response: &Response) -> Option<Response> {
    let stopped = response.errors.iter().find(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|code| matches!(code, async_graphql::Value::String(code) if code == "RESPONSE_TOO_LARGE"))
    })?;
    let mut error = ServerError::new(stopped.message.clone(), None);
    error.extensions = stopped.extensions.clone();
    Some(Response::from_errors(vec![error]))
}

/// `POST /graphql` and `GET /graphql`. The viewer (`identify`) and the client's address were read by the layers
/// in front (`routes`).
///
/// The client's budget ([`crate::limits::RateLimiter`]) pays for the whole request before anything executes:
/// each operation its cost ([`crate::admission`]), a batch the sum of its operations'; a request refused before
/// its documents are read costs one token.
pub async fn graphql(
    State(state): State<AppState>,
    Extension(credentials): Extension<Credentials>,
    Extension(address): Extension<ClientAddress>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Body,
) -> HttpResponse {
    let viewer = credentials.viewer;
    let client = Client::of(&viewer, address.0);
    // Held until the response is built: the files of a multipart request live as long as its execution.
    let mut _upload_permit = None;
    let prepared = if method == Method::POST && is_multipart(&headers) {
        prepare_multipart(&state, &headers, body).await.map(|(requests, media, cost, permit)| {
            _upload_permit = Some(permit);
            (requests, media, cost)
        })
    } else {
        match axum::body::to_bytes(body, state.limits.max_body_bytes).await {
            Ok(body) => prepare(&state, &method, &headers, raw_query.as_deref(), &body).await,
            Err(_) => Err(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                MediaType2::from_accept(&headers),
                "VALIDATION",
                &format!("the request body is larger than the server accepts ({} bytes)", state.limits.max_body_bytes),
            )),
        }
    };
    let (requests, media, cost) = match prepared {
        Ok(prepared) => prepared,
        Err(refused) => {
            if let Err(over) = state.limiter.charge(client, 1) {
                return over_budget_response(MediaType2::from_accept(&headers), &over);
            }
            return refused;
        }
    };
    if let Err(over) = state.limiter.charge(client, cost) {
        return over_budget_response(MediaType2(media), &over);
    }

    let batch = requests.len() > 1;
    let scope = |r: Request| r.data(RequestScope::new(&state.app, viewer)).data(address).data(credentials);
    let mut responses: Vec<Response> = if batch {
        match state.schema.execute_batch(BatchRequest::Batch(requests.into_iter().map(scope).collect())).await {
            BatchResponse::Batch(rs) => rs,
            BatchResponse::Single(r) => vec![r],
        }
    } else {
        let mut responses = Vec::with_capacity(1);
        for request in requests {
            responses.push(state.schema.execute(scope(request)).await);
        }
        responses
    };
    for response in &mut responses {
        ensure_codes(response);
    }
    state.metrics.record_graphql(&responses);

    let status = if media == MediaType::GraphQlResponse && !batch && responses.iter().all(is_request_error) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let max = state.limits.max_response_bytes;
    let render = |r: &Response| -> String {
        let stopped = stopped_for_size(r);
        let r = stopped.as_ref().unwrap_or(r);
        let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
        if media == MediaType::GraphQlResponse
            && is_request_error(r)
            && let Some(obj) = v.as_object_mut()
        {
            obj.remove("data");
        }
        let text = v.to_string();
        if text.len() <= max {
            return text;
        }
        tracing::warn!(bytes = text.len(), limit = max, "a response over the size limit was replaced by an error");
        state.metrics.count_error("RESPONSE_TOO_LARGE");
        serde_json::to_string(&too_large(max)).unwrap_or_default()
    };
    let body = if batch {
        format!("[{}]", responses.iter().map(render).collect::<Vec<_>>().join(","))
    } else {
        responses.first().map(render).unwrap_or_else(|| "null".to_owned())
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, media.header());
    response
}

/// Reads, checks and measures the request: its operations (persisted queries resolved, each admitted by
/// [`crate::admission::admit`] and parsed once), the response type, and what it costs. `Err` is the answer to
/// a request that cannot run.
async fn prepare(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: &Bytes,
) -> Result<(Vec<Request>, MediaType, u32), HttpResponse> {
    let Some(media) = negotiate(headers) else {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "VALIDATION",
            "accepted response types: application/graphql-response+json, application/json",
        ));
    };

    let mut requests = match *method {
        Method::GET => match request_from_query(raw_query) {
            Ok(r) => vec![r],
            Err(message) => return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message)),
        },
        Method::POST => {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence != JSON && essence != GRAPHQL_RESPONSE {
                return Err(fail(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    media,
                    "VALIDATION",
                    "send the request as application/json",
                ));
            }
            let Ok(value) = serde_json::from_slice::<Value>(body) else {
                return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", "the body is not valid JSON"));
            };
            let values = match value {
                Value::Array(items) => {
                    if items.is_empty() || items.len() > state.limits.max_batch {
                        let message = format!("a batch holds 1 to {} operations", state.limits.max_batch);
                        return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message));
                    }
                    items
                }
                other => vec![other],
            };
            let mut requests = Vec::with_capacity(values.len());
            for value in values {
                match request_from_json(value) {
                    Ok(r) => requests.push(r),
                    Err(message) => return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message)),
                }
            }
            requests
        }
        _ => return Err(fail(StatusCode::METHOD_NOT_ALLOWED, media, "VALIDATION", "use GET or POST")),
    };

    let cost = admit_all(state, method, media, &mut requests).await?;
    Ok((requests, media, cost))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("multipart/form-data")
}

/// Reads a multipart request (the GraphQL multipart request specification) into its operations, with their
/// files, checked like any other request. Returns the permit that counts it among the uploads in flight.
async fn prepare_multipart(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Vec<Request>, MediaType, u32, tokio::sync::OwnedSemaphorePermit), HttpResponse> {
    use futures_util::{StreamExt, TryStreamExt};
    let Some(media) = negotiate(headers) else {
        return Err(fail(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "VALIDATION",
            "accepted response types: application/graphql-response+json, application/json",
        ));
    };
    let preflight = ["apollo-require-preflight", "x-apollo-operation-name"]
        .iter()
        .any(|name| headers.get(*name).and_then(|v| v.to_str().ok()).is_some_and(|v| !v.trim().is_empty()));
    if !preflight {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            media,
            "VALIDATION",
            "a multipart request must send a non-empty Apollo-Require-Preflight header (protection against \
             cross-site request forgery)",
        ));
    }
    let permit = state
        .uploads
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| fail(StatusCode::SERVICE_UNAVAILABLE, media, "INTERNAL", "the server is shutting down"))?;
    let limit = state.limits.media_max_request_bytes;
    let over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = over.clone();
    let mut seen = 0usize;
    let stream = body
        .into_data_stream()
        .map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len();
            if seen > limit {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(std::io::Error::other("request too large"));
            }
            Ok(chunk)
        })
        .into_async_read();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(state.limits.media_max_file_bytes)
        .max_num_files(weco_domain::media::MAX_FILES_PER_POST * state.limits.max_batch);
    let too_large = |what: &str, bytes: usize| {
        fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            "VALIDATION",
            &format!("{what} is larger than the server accepts ({bytes} bytes)"),
        )
    };
    let batch = match async_graphql::http::receive_batch_body(content_type, stream, options).await {
        Ok(batch) => batch,
        Err(_) if over.load(std::sync::atomic::Ordering::Relaxed) => return Err(too_large("the request", limit)),
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
            return Err(too_large("a file", state.limits.media_max_file_bytes));
        }
        Err(e) => {
            return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &format!("bad multipart request: {e}")));
        }
    };
    let mut requests = match batch {
        BatchRequest::Single(r) => vec![r],
        BatchRequest::Batch(rs) => rs,
    };
    if requests.is_empty() || requests.len() > state.limits.max_batch {
        let message = format!("a batch holds 1 to {} operations", state.limits.max_batch);
        return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message));
    }
    let cost = admit_all(state, &Method::POST, media, &mut requests).await?;
    Ok((requests, media, cost, permit))
}

/// Admits each operation ([`crate::admission::admit`], persisted queries resolved) and sums their costs.
async fn admit_all(
    state: &AppState,
    method: &Method,
    media: MediaType,
    requests: &mut [Request],
) -> Result<u32, HttpResponse> {
    let limits = AdmissionLimits { max_nesting: state.limits.max_nesting, max_expanded: state.limits.max_expanded };
    let mut cost: u32 = 0;
    for request in requests.iter_mut() {
        if let Err((code, message)) = resolve_persisted(state, request).await {
            // Apollo clients read this as "send the full query".
            return Err(fail(StatusCode::OK, media, code, &message));
        }
        if request.query.trim().is_empty() {
            return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", "the request has no query"));
        }
        let admission = match admit(request, limits, &state.documents) {
            Ok(admission) => admission,
            Err(refusal) => {
                // As for a parse error: 400 for the GraphQL response type, 200 for legacy JSON clients.
                let status = if media == MediaType::GraphQlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
                return Err(fail(status, media, "VALIDATION", &refusal.to_string()));
            }
        };
        cost = cost.saturating_add(admission.cost);
        match admission.kind {
            Ok(OperationType::Query) => {}
            Ok(_) if *method == Method::GET => {
                let mut response = fail(
                    StatusCode::METHOD_NOT_ALLOWED,
                    media,
                    "VALIDATION",
                    "only queries may be sent with GET; send mutations with POST",
                );
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                return Err(response);
            }
            Ok(OperationType::Subscription) => {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    media,
                    "VALIDATION",
                    "subscriptions run over the websocket at /graphql/ws",
                ));
            }
            Ok(OperationType::Mutation) => {}
            Err(message) if media == MediaType::GraphQlResponse => {
                return Err(fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message));
            }
            // Legacy JSON clients get the parse error from the executor, with status 200.
            Err(_) => {}
        }
    }
    Ok(cost)
}

/// Where APQ keeps queries by hash.
#[derive(Clone)]
pub enum PersistedQueries {
    /// This process only, bounded.
    Local(Arc<std::sync::Mutex<lru_map::LruMap>>),
    /// Shared by every replica.
    Redis { conn: SharedRedis, prefix: String },
}

impl PersistedQueries {
    pub fn local(capacity: usize) -> Self {
        Self::Local(Arc::new(std::sync::Mutex::new(lru_map::LruMap::new(capacity))))
    }

    /// Queries kept in Redis (one, or a Cluster, where each key goes to the node owning its slot).
    pub fn redis(conn: SharedRedis, prefix: &str) -> Self {
        Self::Redis { conn, prefix: format!("{prefix}:apq:") }
    }

    async fn get(&self, hash: &str) -> Option<String> {
        match self {
            Self::Local(map) => map.lock().ok()?.get(hash),
            Self::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                redis::cmd("GET").arg(format!("{prefix}{hash}")).query_async::<Option<String>>(&mut conn).await.ok()?
            }
        }
    }

    async fn set(&self, hash: &str, query: &str) {
        match self {
            Self::Local(map) => {
                if let Ok(mut map) = map.lock() {
                    map.insert(hash.to_owned(), query.to_owned());
                }
            }
            Self::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                // A day is plenty: clients send the full query again when a hash is unknown.
                let stored = redis::cmd("SET")
                    .arg(format!("{prefix}{hash}"))
                    .arg(query)
                    .arg("EX")
                    .arg(86_400)
                    .query_async::<()>(&mut conn)
                    .await;
                if let Err(e) = stored {
                    tracing::warn!(error = %e, "could not store a persisted query in Redis");
                }
            }
        }
    }
}

/// A tiny bounded map with least-recently-inserted eviction, enough for persisted queries.
mod lru_map {
    use std::collections::{HashMap, VecDeque};

    pub struct LruMap {
        capacity: usize,
        map: HashMap<String, String>,
        order: VecDeque<String>,
    }

    impl LruMap {
        pub fn new(capacity: usize) -> Self {
            Self { capacity: capacity.max(1), map: HashMap::new(), order: VecDeque::new() }
        }

        pub fn get(&self, key: &str) -> Option<String> {
            self.map.get(key).cloned()
        }

        pub fn insert(&mut self, key: String, value: String) {
            if self.map.insert(key.clone(), value).is_none() {
                self.order.push_back(key);
                while self.order.len() > self.capacity {
                    if let Some(old) = self.order.pop_front() {
                        self.map.remove(&old);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn accept_negotiation_prefers_the_graphql_response_type() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(
            negotiate(&accept("application/graphql-response+json, application/json")),
            Some(MediaType::GraphQlResponse)
        );
        assert_eq!(negotiate(&accept("application/json")), Some(MediaType::Json));
        assert_eq!(negotiate(&accept("*/*")), Some(MediaType::Json));
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn get_requests_read_variables_as_json() {
        let r = request_from_query(Some("query=%7Bme%7Bid%7D%7D&variables=%7B%22a%22%3A1%7D")).expect("request");
        assert_eq!(r.query, "{me{id}}");
        assert!(request_from_query(Some("query=x&variables=nope")).is_err());
    }

    #[test]
    fn post_bodies_must_have_the_spec_types() {
        assert!(request_from_json(json!({ "query": "{ a }" })).is_ok());
        assert!(request_from_json(json!({ "query": 1 })).is_err());
        assert!(request_from_json(json!({ "query": "{ a }", "variables": "x" })).is_err());
        assert!(request_from_json(json!({})).is_err());
        assert!(
            request_from_json(json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "ab" } } }))
                .is_ok()
        );
    }

    #[test]
    fn the_local_persisted_query_map_is_bounded() {
        let mut map = lru_map::LruMap::new(2);
        for k in ["a", "b", "c"] {
            map.insert(k.into(), k.into());
        }
        assert_eq!(map.get("a"), None);
        assert_eq!(map.get("c").as_deref(), Some("c"));
    }
}
