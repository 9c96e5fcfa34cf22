//! GraphQL over HTTP, and bearer tokens for seeded users.

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    endpoint: String,
}

#[derive(Serialize)]
struct Body<'a> {
    query: &'a str,
    variables: &'a Value,
}

impl Client {
    pub fn new(addr: SocketAddr, connections: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(addr.ip().is_loopback(), "refusing {addr}: only loopback servers are load-tested");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .pool_max_idle_per_host(connections.max(1))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { http, endpoint: format!("http://{addr}/graphql") })
    }

    /// Sends one operation; `Err` carries a short description of what went wrong (transport, status or a
    /// GraphQL `errors` entry in a 200 response).
    pub async fn send(&self, token: Option<&str>, query: &str, variables: &Value) -> Result<Vec<u8>, String> {
        let body = serde_json::to_vec(&Body { query, variables }).map_err(|e| e.to_string())?;
        let mut request =
            self.http.post(&self.endpoint).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| format!("transport: {e}"))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| format!("reading body: {e}"))?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", snippet(&bytes)));
        }
        // A JSON string never holds an unescaped quote, so `"errors":` can only be the top-level key.
        if find(&bytes, b"\"errors\":").is_some() {
            return Err(format!("GraphQL errors: {}", snippet(&bytes)));
        }
        Ok(bytes.to_vec())
    }

    /// Sends one operation and returns its `data`, failing on any error.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: &Value) -> anyhow::Result<Value> {
        let body = self.send(token, query, variables).await.map_err(anyhow::Error::msg)?;
        let value: Value = serde_json::from_slice(&body).context("the response is not JSON")?;
        Ok(value["data"].clone())
    }

    /// Logs a user in with a password; returns the token.
    pub async fn login(&self, login: &str, password: &str) -> anyhow::Result<String> {
        let data = self
            .data(
                None,
                "mutation($i: LoginInput!) { login(input: $i) { token } }",
                &serde_json::json!({ "i": { "login": login, "password": password } }),
            )
            .await?;
        match data["login"]["token"].as_str() {
            Some(t) => Ok(t.to_owned()),
            None => bail!("login of {login} returned no token"),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().take(300).collect()
}

/// Mints the server's bearer tokens (HS256, `sub` = user id) with the secret the server was started with.
#[derive(Clone)]
pub struct Minter {
    key: jsonwebtoken::EncodingKey,
}

#[derive(Serialize)]
struct Claims {
    sub: String,
    /// The session: a token names one the server knows. [`SESSIONS_SQL`] opens, for every user, a session whose
    /// id is the user's own.
    sid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

/// Opens (once) a session for every user, with the user's id as its id, so that minted tokens name a session
/// the server accepts.
pub const SESSIONS_SQL: &str = "INSERT INTO sessions (id, user_id, created_at, expires_at) \
     SELECT id, id, now(), now() + interval '1 day' FROM users \
     ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at";

impl Minter {
    pub fn new(secret: &str) -> Self {
        Self { key: jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()) }
    }

    pub fn token(&self, user: Uuid) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims { sub: user.to_string(), sid: user.to_string(), iat: now, nbf: now - 60, exp: now + 3600 };
        Ok(jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &self.key)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_found_only_as_a_key() {
        assert!(find(br#"{"data":null,"errors":[{"message":"x"}]}"#, b"\"errors\":").is_some());
        assert!(find(br#"{"data":{"title":"no \"errors\": here"}}"#, b"\"errors\":").is_none());
    }
}
