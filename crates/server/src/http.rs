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
//! - Every error leaving here carries `extensions.code`.

use crate::shared_redis::SharedRedis;
use crate::state::AppState;
use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError, Variables};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use weco_domain::Viewer;
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

/// The kind of operation the request would run (after APQ resolved its query).
fn operation_type(request: &Request) -> Result<OperationType, String> {
    let doc = async_graphql::parser::parse_query(&request.query).map_err(|e| e.to_string())?;
    let mut selected = doc.operations.iter().filter(|(name, _)| match (&request.operation_name, name) {
        (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
        (Some(_), None) => false,
        (None, _) => true,
    });
    match (selected.next(), selected.next()) {
        (Some((_, op)), None) => Ok(op.node.ty),
        (Some(_), Some(_)) => Err("the document has several operations: name one with operationName".into()),
        (None, _) => Err("no operation with that name".into()),
    }
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

/// `POST /graphql` and `GET /graphql`. The viewer was read, and the rate limit applied, by the layers in front
/// (`routes`).
pub async fn graphql(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> HttpResponse {
    let Some(media) = negotiate(&headers) else {
        return fail(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "VALIDATION",
            "accepted response types: application/graphql-response+json, application/json",
        );
    };

    let mut requests = match method {
        Method::GET => match request_from_query(raw_query.as_deref()) {
            Ok(r) => vec![r],
            Err(message) => return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message),
        },
        Method::POST => {
            let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence != JSON && essence != GRAPHQL_RESPONSE {
                return fail(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    media,
                    "VALIDATION",
                    "send the request as application/json",
                );
            }
            let Ok(value) = serde_json::from_slice::<Value>(&body) else {
                return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", "the body is not valid JSON");
            };
            let values = match value {
                Value::Array(items) => {
                    if items.is_empty() || items.len() > state.limits.max_batch {
                        let message = format!("a batch holds 1 to {} operations", state.limits.max_batch);
                        return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message);
                    }
                    items
                }
                other => vec![other],
            };
            let mut requests = Vec::with_capacity(values.len());
            for value in values {
                match request_from_json(value) {
                    Ok(r) => requests.push(r),
                    Err(message) => return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message),
                }
            }
            requests
        }
        _ => return fail(StatusCode::METHOD_NOT_ALLOWED, media, "VALIDATION", "use GET or POST"),
    };

    for request in &mut requests {
        if let Err((code, message)) = resolve_persisted(&state, request).await {
            // Apollo clients read this as "send the full query".
            return fail(StatusCode::OK, media, code, &message);
        }
        if request.query.trim().is_empty() {
            return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", "the request has no query");
        }
        // Before anything parses it (`operation_type` is the first): a deep enough document overflows the parser.
        if let Err(too_deep) = crate::nesting::check(&request.query, state.limits.max_nesting) {
            // As for a parse error: 400 for the GraphQL response type, 200 for legacy JSON clients.
            let status = if media == MediaType::GraphQlResponse { StatusCode::BAD_REQUEST } else { StatusCode::OK };
            return fail(status, media, "VALIDATION", &too_deep.to_string());
        }
        match operation_type(request) {
            Ok(OperationType::Query) => {}
            Ok(_) if method == Method::GET => {
                let mut response = fail(
                    StatusCode::METHOD_NOT_ALLOWED,
                    media,
                    "VALIDATION",
                    "only queries may be sent with GET; send mutations with POST",
                );
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                return response;
            }
            Ok(OperationType::Subscription) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    media,
                    "VALIDATION",
                    "subscriptions run over the websocket at /graphql/ws",
                );
            }
            Ok(OperationType::Mutation) => {}
            Err(message) if media == MediaType::GraphQlResponse => {
                return fail(StatusCode::BAD_REQUEST, media, "VALIDATION", &message);
            }
            // Legacy JSON clients get the parse error from the executor, with status 200.
            Err(_) => {}
        }
    }

    let batch = requests.len() > 1;
    let scope = |r: Request| r.data(RequestScope::new(&state.app, viewer));
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
    let render = |r: &Response| -> Value {
        let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
        if media == MediaType::GraphQlResponse
            && is_request_error(r)
            && let Some(obj) = v.as_object_mut()
        {
            obj.remove("data");
        }
        v
    };
    let body = if batch {
        Value::Array(responses.iter().map(render).collect())
    } else {
        responses.first().map(render).unwrap_or(Value::Null)
    };
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, media.header());
    response
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
