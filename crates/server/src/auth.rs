//! Who is asking: the one place a bearer token is read, from an `Authorization` header or from a websocket's
//! `connection_init` payload, and the client's address for rate limiting.

use crate::state::AppState;
use axum::http::{HeaderMap, header};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use weco_domain::DomainError;
use weco_domain::accounts::Credentials;

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The header is not `Bearer <token>`.
    Malformed,
    /// The token is forged, expired, not valid yet, or its session has ended (or never existed here).
    Invalid,
    /// The session could not be checked (the database did not answer).
    Unavailable,
}

impl Refused {
    pub fn message(self) -> &'static str {
        match self {
            Refused::Malformed => "expected 'Authorization: Bearer <token>'",
            Refused::Invalid => "the bearer token is invalid or expired, or its session has ended",
            Refused::Unavailable => "internal error",
        }
    }
}

/// The token of `Bearer <token>` (either case of the scheme); a bare token when `bare_allowed`.
fn token_of(value: &str, bare_allowed: bool) -> Result<&str, Refused> {
    let token = match value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) {
        Some(token) => token.trim(),
        None if bare_allowed => value.trim(),
        None => return Err(Refused::Malformed),
    };
    if token.is_empty() { Err(Refused::Malformed) } else { Ok(token) }
}

/// The credentials a token stands for: its signature and dates, then its session (one read of the store at
/// most, none while the session cache holds the answer).
async fn credentials_of(state: &AppState, token: &str) -> Result<Credentials, Refused> {
    match state.app.accounts().authenticate(Some(token)).await {
        Ok(credentials) => Ok(credentials),
        Err(DomainError::Unauthenticated | DomainError::InvalidCredentials) => Err(Refused::Invalid),
        Err(error) => {
            tracing::error!(%error, "checking a session failed");
            Err(Refused::Unavailable)
        }
    }
}

/// The credentials named by `Authorization: Bearer <token>`; no header is an anonymous viewer.
pub async fn credentials_from_headers(state: &AppState, headers: &HeaderMap) -> Result<Credentials, Refused> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(Credentials::ANONYMOUS) };
    let value = value.to_str().map_err(|_| Refused::Malformed)?;
    credentials_of(state, token_of(value, false)?).await
}

/// The credentials named in a websocket `connection_init` payload: `{"authorization": "Bearer <token>"}` or
/// `{"token": "<token>"}`; none is an anonymous viewer.
pub async fn credentials_from_payload(state: &AppState, payload: Option<&Value>) -> Result<Credentials, Refused> {
    let Some(payload) = payload.filter(|p| p.is_object()) else { return Ok(Credentials::ANONYMOUS) };
    let header = ["authorization", "Authorization"].iter().find_map(|k| payload.get(*k));
    let token = match (header, payload.get("token")) {
        (Some(value), _) => token_of(value.as_str().ok_or(Refused::Malformed)?, true)?,
        (None, Some(value)) => token_of(value.as_str().ok_or(Refused::Malformed)?, true)?,
        (None, None) => return Ok(Credentials::ANONYMOUS),
    };
    credentials_of(state, token).await
}

/// The client's address: the connection's, or behind a trusted proxy the last `X-Forwarded-For` entry — the
/// address the proxy in front of the server saw. Entries before it are whatever the client sent (proxies
/// append to the header, or add one of their own after the client's), so the first one could be any address
/// the client chose, and every per-address limit with it.
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.limits.trust_forwarded_for
        && let Some(ip) = forwarded_for(headers)
    {
        return ip;
    }
    peer.ip()
}

/// The last address in the `X-Forwarded-For` headers, if it is one.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    last.rsplit(',').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_is_read_in_either_case_and_never_empty() {
        assert_eq!(token_of("Bearer abc", false), Ok("abc"));
        assert_eq!(token_of("bearer  abc ", false), Ok("abc"));
        assert_eq!(token_of("abc", false), Err(Refused::Malformed));
        assert_eq!(token_of("abc", true), Ok("abc"));
        assert_eq!(token_of("Bearer ", false), Err(Refused::Malformed));
        assert_eq!(token_of("Bearer    ", true), Err(Refused::Malformed));
        assert_eq!(token_of("", true), Err(Refused::Malformed));
    }

    #[test]
    fn the_forwarded_address_is_the_one_the_proxy_added_not_one_the_client_sent() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_for(&headers), None);
        headers.append("x-forwarded-for", "1.1.1.1, 10.0.0.7".parse().expect("header"));
        assert_eq!(forwarded_for(&headers), "10.0.0.7".parse().ok());
        headers.append("x-forwarded-for", "192.0.2.9".parse().expect("header"));
        assert_eq!(forwarded_for(&headers), "192.0.2.9".parse().ok(), "a proxy that adds a header of its own");
        headers.insert("x-forwarded-for", "10.0.0.7, not-an-address".parse().expect("header"));
        assert_eq!(forwarded_for(&headers), None);
    }
}
