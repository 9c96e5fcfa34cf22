//! Presence shared by replicas: who is in which chat now, on any replica.
//!
//! Each process counts its own subscribers ([`LocalPresence`]). With a shared Redis, each (chat, user) pair
//! present here is also a key, `{prefix}:presence:{<chat>}:<user>`, holding this replica's id and expiring after
//! [`PRESENCE_TTL`]; a heartbeat refreshes every pair present here each [`HEARTBEAT`]. A replica that dies stops
//! refreshing, so its users drop out within [`PRESENCE_TTL`]. When the last local subscriber of a pair leaves,
//! the key is deleted if this replica wrote it last (another replica holding the same user writes it again at
//! its next heartbeat). `Chat.online` reads the chat's keys in one `MGET` (the chat in braces keeps them in one
//! slot of a Redis Cluster) and adds the pairs present here.

use crate::shared_redis::SharedRedis;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use uuid::Uuid;
use weco_domain::chat::presence::{Change, LocalPresence, Presence, PresenceGuard};
use weco_domain::{DomainResult, UserId};

/// How long a presence key lives without a heartbeat.
pub const PRESENCE_TTL: Duration = Duration::from_secs(6);
/// How often a replica refreshes the keys of the pairs present on it.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// Presence in this process, written through to Redis for the other replicas.
pub struct RedisPresence {
    local: Arc<LocalPresence>,
    conn: SharedRedis,
    prefix: String,
    replica: String,
}

impl RedisPresence {
    /// Starts the heartbeat (it stops when the presence is dropped). Must be called within a Tokio runtime.
    pub fn start(conn: SharedRedis, prefix: &str) -> Arc<Self> {
        let presence = Arc::new(Self {
            local: Arc::default(),
            conn,
            prefix: prefix.to_owned(),
            replica: Uuid::now_v7().to_string(),
        });
        tokio::spawn(heartbeat(Arc::downgrade(&presence)));
        presence
    }

    fn key(&self, room: Uuid, user: UserId) -> String {
        format!("{}:presence:{{{room}}}:{user}", self.prefix)
    }

    /// Writes the keys of these pairs, room by room (one slot each).
    async fn refresh(&self, pairs: &[(Uuid, UserId)]) -> redis::RedisResult<()> {
        let mut by_room: HashMap<Uuid, Vec<UserId>> = HashMap::new();
        for (room, user) in pairs {
            by_room.entry(*room).or_default().push(*user);
        }
        for (room, users) in by_room {
            let mut pipe = redis::pipe();
            for user in users {
                pipe.cmd("SET")
                    .arg(self.key(room, user))
                    .arg(&self.replica)
                    .arg("PX")
                    .arg(PRESENCE_TTL.as_millis() as u64)
                    .ignore();
            }
            let mut conn = self.conn.clone();
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    /// Deletes the pair's key if this replica wrote it last.
    async fn forget(&self, room: Uuid, user: UserId) -> redis::RedisResult<()> {
        let key = self.key(room, user);
        let mut conn = self.conn.clone();
        let owner: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        if owner.as_deref() == Some(self.replica.as_str()) {
            redis::cmd("DEL").arg(&key).query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }
}

async fn heartbeat(presence: Weak<RedisPresence>) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(presence) = presence.upgrade() else { return };
        let pairs = presence.local.pairs();
        if pairs.is_empty() {
            continue;
        }
        if let Err(e) = presence.refresh(&pairs).await {
            tracing::warn!(error = %e, "could not refresh presence in Redis");
        }
    }
}

/// Runs `work` on the current runtime, if there is one (a guard may be dropped outside any).
fn spawn(work: impl Future<Output = ()> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(work);
    }
}

/// The presence the server wires in: shared through Redis when there is one (see [`RedisPresence`]).
#[derive(Clone)]
pub struct SharedPresence(pub Arc<RedisPresence>);

#[async_trait]
impl Presence for SharedPresence {
    fn enter(&self, room: Uuid, user: UserId) -> PresenceGuard {
        if self.0.local.add(room, user) == Change::Entered {
            let presence = self.0.clone();
            spawn(async move {
                if let Err(e) = presence.refresh(&[(room, user)]).await {
                    tracing::warn!(error = %e, "could not write presence to Redis");
                }
            });
        }
        let presence = self.0.clone();
        PresenceGuard::new(move || {
            if presence.local.remove(room, user) == Change::Left {
                spawn(async move {
                    if let Err(e) = presence.forget(room, user).await {
                        tracing::warn!(error = %e, "could not remove presence from Redis");
                    }
                });
            }
        })
    }

    async fn online(&self, room: Uuid, users: &[UserId]) -> DomainResult<Vec<UserId>> {
        let here = self.0.local.present(room, users);
        if users.is_empty() {
            return Ok(here);
        }
        let keys: Vec<String> = users.iter().map(|u| self.0.key(room, *u)).collect();
        let mut conn = self.0.conn.clone();
        let found: Vec<Option<String>> = match redis::cmd("MGET").arg(&keys).query_async(&mut conn).await {
            Ok(found) => found,
            Err(e) => {
                // Redis is down: what this replica knows is all there is to say.
                tracing::warn!(error = %e, "could not read presence from Redis");
                return Ok(here);
            }
        };
        Ok(users
            .iter()
            .zip(found)
            .filter(|(user, value)| value.is_some() || here.contains(user))
            .map(|(user, _)| *user)
            .collect())
    }
}
