//! The Redis that replicas share, as the settings name it: none (everything stays in this process), one Redis
//! (`redis_url`), or a Redis Cluster (`redis_cluster_urls`). The event bus and the persisted queries both use
//! it, so they cannot disagree about where replicas meet.

use crate::config::{Settings, redact_url};
use anyhow::Context as _;
use std::time::Duration;

/// Where the replicas meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisTarget<'a> {
    /// Nowhere: one process.
    None,
    /// One Redis, by URL.
    Single(&'a str),
    /// A Redis Cluster, by the URLs of some of its nodes.
    Cluster(&'a [String]),
}

impl<'a> RedisTarget<'a> {
    /// The target the settings name; an error when they name both one Redis and a Cluster, since which one the
    /// replicas should meet in would be a guess (and replicas guessing differently would not hear each other).
    pub fn from_settings(settings: &'a Settings) -> anyhow::Result<Self> {
        match (settings.redis_url.as_deref(), settings.redis_cluster_urls.as_slice()) {
            (Some(_), [_, ..]) => anyhow::bail!(
                "both redis_url (REDIS_URL, --redis-url) and redis_cluster_urls (WECO_REDIS_CLUSTER_URLS, \
                 --redis-cluster-urls) are set: set redis_url for one Redis, or redis_cluster_urls for a Redis \
                 Cluster, not both"
            ),
            (Some(url), []) => Ok(Self::Single(url)),
            (None, []) => Ok(Self::None),
            (None, nodes) => Ok(Self::Cluster(nodes)),
        }
    }

    /// Where, for logs and errors, passwords masked.
    pub fn describe(&self) -> String {
        match self {
            Self::None => "this process".to_owned(),
            Self::Single(url) => format!("Redis at {}", redact_url(url)),
            Self::Cluster(nodes) => {
                let nodes: Vec<String> = nodes.iter().map(|node| redact_url(node)).collect();
                format!("the Redis Cluster at {}", nodes.join(", "))
            }
        }
    }
}

/// A connection to one Redis, or to a Redis Cluster (each command then goes to the node owning its key's slot).
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub enum SharedRedis {
    Single(redis::aio::ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl SharedRedis {
    /// Connects to `target`; `None` for [`RedisTarget::None`]. Fails if Redis does not answer within 5 s.
    pub async fn connect(target: RedisTarget<'_>) -> anyhow::Result<Option<Self>> {
        let budget = Duration::from_secs(5);
        let connecting = async {
            Ok::<_, anyhow::Error>(match target {
                RedisTarget::None => None,
                RedisTarget::Single(url) => {
                    let client = redis::Client::open(url)?;
                    Some(Self::Single(redis::aio::ConnectionManager::new(client).await?))
                }
                RedisTarget::Cluster(nodes) => {
                    let client = redis::cluster::ClusterClient::new(nodes.iter().map(String::as_str))?;
                    Some(Self::Cluster(client.get_async_connection().await?))
                }
            })
        };
        tokio::time::timeout(budget, connecting)
            .await
            .with_context(|| format!("{} did not answer within {budget:?}", target.describe()))?
    }
}

impl redis::aio::ConnectionLike for SharedRedis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_name_one_redis_a_cluster_or_neither_but_never_both() {
        let mut settings = Settings::for_database("sqlite::memory:");
        assert_eq!(RedisTarget::from_settings(&settings).expect("neither"), RedisTarget::None);
        settings.redis_url = Some("redis://cache:6379".into());
        assert_eq!(RedisTarget::from_settings(&settings).expect("one"), RedisTarget::Single("redis://cache:6379"));
        settings.redis_cluster_urls = vec!["redis://:hunter2@node-a:6379".into(), "redis://node-b:6379".into()];
        let error = RedisTarget::from_settings(&settings).expect_err("both").to_string();
        assert!(error.contains("redis_url") && error.contains("redis_cluster_urls"), "{error}");
        settings.redis_url = None;
        let target = RedisTarget::from_settings(&settings).expect("a cluster");
        assert_eq!(target, RedisTarget::Cluster(&settings.redis_cluster_urls));
        assert_eq!(target.describe(), "the Redis Cluster at redis://:***@node-a:6379, redis://node-b:6379");
    }
}
