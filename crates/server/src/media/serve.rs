//! `GET /media/{id}` and `GET /media/{id}/thumb`: a media file for a viewer who may see its post (the bearer
//! token is read by the same layer as `/graphql`). Anyone else — and a file that does not exist — gets 404,
//! so nothing tells a private file from a missing one. Files never change under their id: they are sent with
//! an `ETag` and `Cache-Control: immutable` (`public` for a post in public spaces, `private` otherwise).

use crate::http::{MediaType2, error_response};
use crate::state::AppState;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use weco_domain::MediaId;
use weco_domain::accounts::Credentials;

const YEAR: &str = "max-age=31536000, immutable";

pub async fn file(
    State(state): State<AppState>,
    Extension(credentials): Extension<Credentials>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &credentials, &id, false, &headers).await
}

pub async fn thumb(
    State(state): State<AppState>,
    Extension(credentials): Extension<Credentials>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    serve(&state, &credentials, &id, true, &headers).await
}

fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, MediaType2::JSON, "NOT_FOUND", "no such media file")
}

async fn serve(state: &AppState, credentials: &Credentials, id: &str, thumb: bool, headers: &HeaderMap) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(id) else { return not_found() };
    let served = match state.app.media().open(credentials.viewer, MediaId(id), thumb).await {
        Ok(Some(served)) => served,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = ?e, "serving a media file");
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, MediaType2::JSON, "INTERNAL", "internal error");
        }
    };
    let etag = format!("\"{}{}\"", served.media.id, if thumb { "-thumb" } else { "" });
    let cache = if served.public { format!("public, {YEAR}") } else { format!("private, {YEAR}") };
    let content_type = if thumb {
        served.media.thumb_content_type.clone().unwrap_or_else(|| served.media.content_type.clone())
    } else {
        served.media.content_type.clone()
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response =
        if matches { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, served.body).into_response() };
    let h = response.headers_mut();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::ETAG, value(&etag));
    h.insert(header::CACHE_CONTROL, value(&cache));
    if !matches {
        h.insert(header::CONTENT_TYPE, value(&content_type));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    if !served.public {
        h.insert(header::VARY, HeaderValue::from_static("Authorization"));
    }
    response
}
