//! `GET /spaces/{handle}/events.ics`: a space's public events as an iCalendar feed (RFC 5545) that calendar apps
//! subscribe to (docs/events.md). Only events anyone may see are in it; a space that is not open to everyone
//! has no feed (404, as if it did not exist). The feed carries an entity tag and may be cached for a few
//! minutes; a client that sends the tag back gets 304 while nothing changed.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use icalendar::{Calendar, Component, Event, EventLike};
use sha2::{Digest, Sha256};

/// How long clients and caches may keep a feed without asking again.
pub const FEED_MAX_AGE_SECONDS: u32 = 300;

pub async fn space_events_ics(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    headers: HeaderMap,
) -> Response {
    let calendar = match state.app.events().public_calendar(&handle).await {
        Ok(Some(calendar)) => calendar,
        Ok(None) => return (StatusCode::NOT_FOUND, "no public space with this handle\n").into_response(),
        Err(error) => {
            tracing::error!(%error, "building a space's calendar feed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the feed could not be built\n").into_response();
        }
    };
    let (space, events) = calendar;
    let mut feed = Calendar::new();
    feed.name(&space.name);
    if let Some(details) = &space.details
        && !details.description.is_empty()
    {
        feed.description(&details.description);
    }
    for (post, event) in &events {
        let mut item = Event::new();
        item.uid(&format!("{}@weco", post.id))
            .timestamp(post.created_at)
            .created(post.created_at)
            .summary(post.title.as_deref().unwrap_or("Event"))
            .starts(event.starts_at)
            .ends(event.ends_at.unwrap_or(event.starts_at));
        if let Some(text) = &post.text {
            item.description(text);
        }
        if let Some(location) = &event.location {
            item.location(location);
        }
        if let Some(url) = &post.url {
            item.url(url);
        }
        feed.push(item.done());
    }
    let body = feed.done().to_string();
    let digest = Sha256::digest(body.as_bytes());
    let tag = format!("\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let cache = format!("public, max-age={FEED_MAX_AGE_SECONDS}");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response =
        if matches { StatusCode::NOT_MODIFIED.into_response() } else { (StatusCode::OK, body).into_response() };
    let h = response.headers_mut();
    if !matches {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/calendar; charset=utf-8"));
    }
    if let Ok(value) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, value);
    }
    response
}
