//! The HTTP surface: GraphQL over HTTP and WebSocket, GraphiQL with its assets built in, health, readiness
//! and metrics, behind the request-wide layers (body limit, timeout, CORS, request ids, tracing) and, on
//! `/graphql`, the caller's identity and rate limit.

use crate::auth::{Refused, client_ip, credentials_from_headers};
use crate::http::{MediaType2, error_response};
use crate::state::AppState;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use weco_domain::accounts::ClientAddress;

pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let cors = cors_layer(&state.limits.cors_origins);
    let ws = Router::new()
        .route("/graphql/ws", get(crate::ws::upgrade))
        .route_layer(middleware::from_fn_with_state(state.clone(), check_ws_origin));
    // `/graphql` takes multipart uploads up to their own limit; the handler holds other bodies to
    // `max_body_bytes` (`http`).
    let graphql_limit = state.limits.max_body_bytes.max(state.limits.media_max_request_bytes);
    let graphql = Router::new()
        .route("/graphql", get(crate::http::graphql).post(crate::http::graphql))
        .route_layer(middleware::from_fn_with_state(state.clone(), client_address))
        .route_layer(middleware::from_fn_with_state(state.clone(), identify))
        .layer(RequestBodyLimitLayer::new(graphql_limit))
        .layer(middleware::from_fn_with_state(graphql_limit, body_too_large_as_graphql_error));
    let media = Router::new()
        .route("/media/{id}", get(crate::media::serve::file))
        .route("/media/{id}/thumb", get(crate::media::serve::thumb))
        .route_layer(middleware::from_fn_with_state(state.clone(), identify));
    let mut router = Router::new()
        .merge(media)
        .route("/graphiql", get(graphiql))
        .route("/export/{file}", get(crate::export::export_table))
        .route("/graphiql/assets/{file}", get(graphiql_asset))
        .route("/spaces/{handle}/events.ics", get(crate::calendar_feed::space_events_ics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    // With an address of its own (`metrics_listen`), `/metrics` is served there only ([`metrics_router`]).
    if state.limits.metrics_apart {
        router = router.route("/metrics", get(|| async { StatusCode::NOT_FOUND }));
    } else {
        router = router.route("/metrics", get(metrics));
    }
    router
        .layer(RequestBodyLimitLayer::new(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.limits.max_body_bytes, body_too_large_as_graphql_error))
        .merge(graphql)
        .layer(middleware::from_fn_with_state(state.limits.request_timeout, request_timeout))
        .merge(ws)
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .with_state(state)
}

/// Reads the caller's bearer token into [`weco_domain::accounts::Credentials`] for the handler: the viewer, and
/// the session (for `logout`); a bad token, or one whose session has ended, is 401 with code
/// `UNAUTHENTICATED`.
async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match credentials_from_headers(&state, request.headers()).await {
        Ok(credentials) => {
            request.extensions_mut().insert(credentials);
            next.run(request).await
        }
        Err(Refused::Unavailable) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            MediaType2::from_accept(request.headers()),
            "INTERNAL",
            Refused::Unavailable.message(),
        ),
        Err(refused) => error_response(
            StatusCode::UNAUTHORIZED,
            MediaType2::from_accept(request.headers()),
            "UNAUTHENTICATED",
            refused.message(),
        ),
    }
}

/// `/metrics` alone, for the address of its own that `metrics_listen` names: the scraper reaches it there, and
/// the public address does not serve it.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// Reads the client's address (the connection's, or the one a trusted proxy forwarded) for the handler: the
/// rate limiter's budget for anonymous clients, and the login throttle, count by it.
async fn client_address(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let address = ClientAddress(client_ip(&state, request.headers(), peer));
    request.extensions_mut().insert(address);
    next.run(request).await
}

/// Answers requests that take longer than `limit` with 408 and a GraphQL error with code `TIMEOUT`. The
/// handler's future is dropped, and with it any transaction it holds open, which rolls back: an operation that
/// times out keeps none of its writes (in a batch, operations that finished before it keep theirs).
async fn request_timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let media = MediaType2::from_accept(request.headers());
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let limit_ms = limit.as_millis();
            tracing::warn!(limit_ms, "request timed out");
            error_response(
                StatusCode::REQUEST_TIMEOUT,
                media,
                "TIMEOUT",
                &format!("the request took longer than the server allows ({limit_ms} ms) and was cancelled"),
            )
        }
    }
}

/// The body limit answers 413 in plain text (before the handler runs, or when a streamed body outgrows the
/// limit): give the client the same GraphQL error shape as every other refusal, with a code.
async fn body_too_large_as_graphql_error(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let media = MediaType2::from_accept(request.headers());
    let response = next.run(request).await;
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("application/graphql-response+json"));
    // A 413 the handler answered itself (a smaller limit than this layer's) already has its error.
    if response.status() != StatusCode::PAYLOAD_TOO_LARGE || ours {
        return response;
    }
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        media,
        "VALIDATION",
        &format!("the request body is larger than the server accepts ({limit} bytes)"),
    )
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Refuses websocket upgrades from browsers on other origins (cross-site WebSocket hijacking), when origins
/// are configured.
async fn check_ws_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.limits.ws_origins.is_empty()
        && let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !state.limits.ws_origins.iter().any(|o| o == "*" || o.trim() == origin)
    {
        return error_response(
            StatusCode::FORBIDDEN,
            MediaType2::JSON,
            "FORBIDDEN",
            "this origin may not open websockets",
        );
    }
    next.run(request).await
}

const GRAPHIQL_HTML: &str = include_str!("../assets/graphiql.html");

/// What GraphiQL's page may load and reach: its scripts, styles and fonts from `/graphiql/assets` (the page has
/// no inline script: its start-up is `weco-graphiql.js`), requests to this origin only (`/graphql` and the
/// websocket `/graphql/ws`; browsers match `ws:` and `wss:` of the same host with `'self'`), nothing framed or
/// framing it. Inline styles stay allowed: GraphiQL and React set `style` attributes.
const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

async fn graphiql() -> Response {
    let mut response = Html(GRAPHIQL_HTML).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(GRAPHIQL_CSP));
    response
}

/// GraphiQL's scripts and styles, compiled into the binary: the page works offline.
async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../assets/graphiql.min.js"), "text/javascript; charset=utf-8"),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql.min.css"), "text/css; charset=utf-8"),
        "weco-graphiql.js" => (include_bytes!("../assets/weco-graphiql.js"), "text/javascript; charset=utf-8"),
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
    use std::fmt::Write as _;
    let db = state.store.metrics();
    let bus = state.bus.metrics();
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: String| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
    };
    counter("weco_db_statements_total", "SQL statements executed.", db.statements().to_string());
    counter("weco_db_statement_errors_total", "SQL statements that failed.", db.failed().to_string());
    counter("weco_db_statement_seconds_total", "Time spent executing SQL statements.", db.seconds().to_string());
    if let Some(replicas) = state.store.replicas() {
        counter(
            "weco_db_replica_statements_total",
            "SQL statements read replicas answered (not counted above).",
            replicas.statements().to_string(),
        );
    }
    let background = state.background_store.metrics();
    counter(
        "weco_db_background_statements_total",
        "SQL statements of background work (outbox relay, job runner, these metrics), not counted above.",
        background.statements().to_string(),
    );
    counter(
        "weco_graphql_operations_total",
        "GraphQL operations executed over HTTP.",
        m.operations.load(Ordering::Relaxed).to_string(),
    );
    counter("weco_events_published_total", "Events handed to the bus.", bus.events_published.to_string());
    counter("weco_event_publish_failures_total", "Events the bus could not publish.", bus.publish_failures.to_string());
    counter("weco_events_delivered_total", "Events delivered to local subscribers.", bus.events_delivered.to_string());
    counter(
        "weco_events_dropped_total",
        "Events dropped for subscribers that fell behind.",
        bus.deliveries_dropped.to_string(),
    );
    let _ = writeln!(out, "# HELP weco_graphql_errors_total GraphQL errors by extensions.code.");
    let _ = writeln!(out, "# TYPE weco_graphql_errors_total counter");
    if let Ok(errors) = m.errors_by_code.lock() {
        for (code, n) in errors.iter() {
            let _ = writeln!(out, "weco_graphql_errors_total{{code=\"{code}\"}} {n}");
        }
    }
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
    };
    gauge(
        "weco_websocket_connections",
        "Open websocket connections.",
        m.websocket_connections.load(Ordering::Relaxed).to_string(),
    );
    gauge("weco_subscription_channels", "Event channels with local subscribers.", bus.active_channels.to_string());
    gauge(
        "weco_subscriptions_active",
        "Active event subscriptions in this process.",
        bus.active_subscribers.to_string(),
    );
    // The queue and the outbox are shared by every replica: each reports the same numbers.
    match state.background.job_stats().await {
        Ok(jobs) => {
            gauge("weco_jobs_due", "Jobs whose time has come and that no runner has finished.", jobs.due.to_string());
            gauge("weco_jobs_failed", "Jobs that used up their attempts.", jobs.failed.to_string());
        }
        Err(e) => tracing::warn!(error = ?e, "could not read the job queue for the metrics"),
    }
    match state.background.outbox_pending().await {
        Ok(n) => gauge("weco_outbox_pending", "Committed events not yet published and cleared.", n.to_string()),
        Err(e) => tracing::warn!(error = ?e, "could not read the outbox for the metrics"),
    }
    match state.background.holarchy().unfolded_totals().await {
        Ok(n) => gauge(
            "weco_space_deltas_pending",
            "Changes to spaces' totals not folded into the spaces yet.",
            n.to_string(),
        ),
        Err(e) => tracing::warn!(error = ?e, "could not count unfolded totals for the metrics"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
