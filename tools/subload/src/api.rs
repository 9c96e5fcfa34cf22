//! The GraphQL API over HTTP: what the tool prepares and the posts it creates.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        anyhow::ensure!(addr.ip().is_loopback(), "refusing {addr}: only loopback servers are load-tested");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .no_proxy()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { client, base: format!("http://{addr}") })
    }

    /// Runs one request; fails on transport errors and on GraphQL errors.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut request =
            self.client.post(format!("{}/graphql", self.base)).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await.context("GraphQL response is not JSON")?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    pub async fn ready(&self, wait: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ok =
                self.client.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{} is not ready after {wait:?}", self.base);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Registers `handle` and returns its token.
    pub async fn register(&self, handle: &str) -> anyhow::Result<String> {
        let data = self
            .gql(
                None,
                "mutation($i: RegisterInput!) { register(input: $i) { token } }",
                json!({ "i": { "handle": handle, "name": handle, "email": format!("{handle}@example.org"), "password": "subload-password" } }),
            )
            .await?;
        data["register"]["token"].as_str().map(str::to_owned).context("no token in register's answer")
    }

    pub async fn create_space(&self, token: &str, handle: &str, parent: Option<&str>) -> anyhow::Result<String> {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreateSpaceInput!) { createSpace(input: $i) { space { id } } }",
                json!({ "i": { "handle": handle, "name": handle, "parentId": parent } }),
            )
            .await?;
        data["createSpace"]["space"]["id"].as_str().map(str::to_owned).context("no space id in createSpace's answer")
    }

    pub async fn create_post(&self, token: &str, space: &str, title: &str) -> anyhow::Result<String> {
        let data = self
            .gql(
                Some(token),
                "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }",
                json!({ "i": { "spaceIds": [space], "title": title, "text": "load test" } }),
            )
            .await?;
        data["createPost"]["post"]["id"].as_str().map(str::to_owned).context("no post id in createPost's answer")
    }

    /// `weco_db_statements_total` from `/metrics`.
    pub async fn statements(&self) -> Option<u64> {
        let text = self.client.get(format!("{}/metrics", self.base)).send().await.ok()?.text().await.ok()?;
        text.lines().find_map(|l| l.strip_prefix("weco_db_statements_total ")).and_then(|n| n.trim().parse().ok())
    }
}
