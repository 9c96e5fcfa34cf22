//! The HTTP surface: GraphQL over HTTP, GraphiQL with its assets built in, health and readiness.

use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use weco_domain::{App, Viewer};
use weco_graph::{RequestScope, WecoSchema};
use weco_realtime::RealtimeBus;
use weco_store::SeaStore;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub schema: WecoSchema,
    pub store: Arc<SeaStore>,
    pub bus: Arc<RealtimeBus>,
    /// How long a websocket client may take to send `connection_init`.
    pub ws_init_timeout: std::time::Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(crate::ws::upgrade))
        .route("/graphiql", get(graphiql))
        .route("/graphiql/assets/{file}", get(graphiql_asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// A GraphQL error response with `extensions.code`, for failures before execution.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The viewer named by `Authorization: Bearer <token>`; no header is an anonymous viewer. The error is the
/// message of a 401 response.
fn viewer(app: &App, headers: &HeaderMap) -> Result<Viewer, &'static str> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(Viewer::ANONYMOUS) };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match token {
        Some(token) => app.viewer_from_token(Some(token)).map_err(|_| "the bearer token is invalid or expired"),
        None => Err("expected 'Authorization: Bearer <token>'"),
    }
}

/// Whether the operation a request would run is a mutation (or a subscription), which GET must not run.
fn is_write(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else { return false };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&request.operation_name, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty != OperationType::Query
    })
}

async fn graphql(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    request: GraphQLBatchRequest,
) -> Response {
    let viewer = match viewer(&state.app, &headers) {
        Ok(v) => v,
        Err(message) => return error_response(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message),
    };
    let batch = request.into_inner();
    if method == Method::GET && batch.iter().any(is_write) {
        let mut response =
            error_response(StatusCode::METHOD_NOT_ALLOWED, "FORBIDDEN", "mutations are not allowed over GET; use POST");
        response.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    let batch = match batch {
        async_graphql::BatchRequest::Single(r) => {
            async_graphql::BatchRequest::Single(r.data(RequestScope::new(&state.app, viewer)))
        }
        async_graphql::BatchRequest::Batch(rs) => async_graphql::BatchRequest::Batch(
            rs.into_iter().map(|r| r.data(RequestScope::new(&state.app, viewer))).collect(),
        ),
    };
    GraphQLResponse::from(state.schema.execute_batch(batch).await).into_response()
}

const GRAPHIQL_HTML: &str = include_str!("../assets/graphiql.html");

async fn graphiql() -> Html<&'static str> {
    Html(GRAPHIQL_HTML)
}

/// GraphiQL's scripts and styles, compiled into the binary: the page works offline.
async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../assets/graphiql.min.js"), "text/javascript; charset=utf-8"),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql.min.css"), "text/css; charset=utf-8"),
        "react.production.min.js" => {
            (include_bytes!("../assets/react.production.min.js"), "text/javascript; charset=utf-8")
        }
        "react-dom.production.min.js" => {
            (include_bytes!("../assets/react-dom.production.min.js"), "text/javascript; charset=utf-8")
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = ?e, "readiness check failed: database");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
    }
    if let Err(e) = state.bus.ping().await {
        tracing::warn!(error = %e, "readiness check failed: event bus");
        return (StatusCode::SERVICE_UNAVAILABLE, "event bus unavailable").into_response();
    }
    (StatusCode::OK, "ready").into_response()
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let db = state.store.metrics();
    let body = format!(
        "# HELP weco_db_statements_total SQL statements executed.\n\
         # TYPE weco_db_statements_total counter\n\
         weco_db_statements_total {}\n\
         # HELP weco_db_statement_errors_total SQL statements that failed.\n\
         # TYPE weco_db_statement_errors_total counter\n\
         weco_db_statement_errors_total {}\n\
         # HELP weco_db_statement_seconds_total Time spent executing SQL statements.\n\
         # TYPE weco_db_statement_seconds_total counter\n\
         weco_db_statement_seconds_total {}\n",
        db.statements(),
        db.failed(),
        db.seconds()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
