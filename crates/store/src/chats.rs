//! Chats: the chats, their members (with how far each has read, `seen_at`) and their messages (docs/chat.md).
//! Unseen counts are counted from the messages after a member's `seen_at`, by others, on the index of a chat's
//! messages by time.

use crate::Db;
use crate::accounts::{USER_COLS, user_from_row};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::chat::ports::ChatRepo;
use weco_domain::chat::{Chat, Message};
use weco_domain::{ChatId, DomainResult, MessageId, Page, PageRequest, User, UserId};

const CHAT_COLS: &str = "c.id, c.name, c.direct, c.created_by, c.created_at, c.last_message_at";
const MESSAGE_COLS: &str = "x.id, x.chat_id, x.author_id, x.text, x.reply_to_id, x.created_at";

fn chat_from_row(row: &QueryResult) -> DomainResult<Chat> {
    const CX: &str = "decoding chat";
    Ok(Chat {
        id: ChatId(get::<Uuid>(row, CX, "id")?),
        name: get(row, CX, "name")?,
        direct: get(row, CX, "direct")?,
        created_by: UserId(get::<Uuid>(row, CX, "created_by")?),
        created_at: get(row, CX, "created_at")?,
        last_message_at: get(row, CX, "last_message_at")?,
    })
}

fn message_from_row(row: &QueryResult) -> DomainResult<Message> {
    const CX: &str = "decoding message";
    Ok(Message {
        id: MessageId(get::<Uuid>(row, CX, "id")?),
        chat_id: ChatId(get::<Uuid>(row, CX, "chat_id")?),
        author_id: UserId(get::<Uuid>(row, CX, "author_id")?),
        text: get(row, CX, "text")?,
        reply_to_id: get::<Option<Uuid>>(row, CX, "reply_to_id")?.map(MessageId),
        created_at: get(row, CX, "created_at")?,
    })
}

impl<C: ConnectionTrait + Send + Sync> Db<C> {
    /// Inserts members (seen up to `at`), leaving those who already are; returns how many were added.
    async fn insert_members(&self, chat: ChatId, users: &[UserId], at: DateTime<Utc>) -> DomainResult<u64> {
        if users.is_empty() {
            return Ok(0);
        }
        let rows: Vec<String> = (0..users.len()).map(|i| format!("($1, ${}, $2, $2)", i + 3)).collect();
        let mut values = vec![v(chat.0), v(at)];
        values.extend(uuid_values(users));
        let sql = format!(
            "INSERT INTO chat_members (chat_id, user_id, joined_at, seen_at) VALUES {} ON CONFLICT DO NOTHING",
            rows.join(", ")
        );
        self.sql().exec("adding chat members", &sql, values).await
    }
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> ChatRepo for Db<C> {
    async fn insert_chat(&self, chat: &Chat, direct_key: Option<&str>, members: &[UserId]) -> DomainResult<()> {
        self.sql()
            .exec(
                "starting chat",
                "INSERT INTO chats (id, name, direct, direct_key, created_by, created_at, last_message_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                vec![
                    v(chat.id.0),
                    v(chat.name.clone()),
                    v(chat.direct),
                    v(direct_key.map(str::to_owned)),
                    v(chat.created_by.0),
                    v(chat.created_at),
                ],
            )
            .await?;
        self.insert_members(chat.id, members, chat.created_at).await.map(drop)
    }

    async fn direct_chat(&self, direct_key: &str) -> DomainResult<Option<Chat>> {
        let sql = format!("SELECT {CHAT_COLS} FROM chats c WHERE c.direct_key = $1");
        self.sql().one("finding direct chat", &sql, vec![v(direct_key)]).await?.as_ref().map(chat_from_row).transpose()
    }

    async fn chats_by_ids(&self, ids: &[ChatId]) -> DomainResult<Vec<Chat>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {CHAT_COLS} FROM chats c WHERE c.id IN ({})", placeholders(1, ids.len()));
        self.sql().all("loading chats", &sql, uuid_values(ids)).await?.iter().map(chat_from_row).collect()
    }

    async fn member_of(&self, user: UserId, chats: &[ChatId]) -> DomainResult<Vec<ChatId>> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(chats));
        let sql = format!(
            "SELECT chat_id FROM chat_members WHERE user_id = $1 AND chat_id IN ({})",
            placeholders(2, chats.len())
        );
        let rows = self.sql().all("checking chat membership", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking chat membership", "chat_id").map(ChatId)).collect()
    }

    async fn lock_chat(&self, chat: ChatId) -> DomainResult<()> {
        if self.backend() == sea_orm::DbBackend::Postgres {
            self.sql().all("locking chat", "SELECT id FROM chats WHERE id = $1 FOR UPDATE", vec![v(chat.0)]).await?;
        }
        Ok(())
    }

    async fn add_members(&self, chat: ChatId, users: &[UserId], at: DateTime<Utc>) -> DomainResult<u64> {
        self.insert_members(chat, users, at).await
    }

    async fn remove_member(&self, chat: ChatId, user: UserId) -> DomainResult<bool> {
        let sql = "DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2";
        Ok(self.sql().exec("leaving chat", sql, vec![v(chat.0), v(user.0)]).await? > 0)
    }

    async fn members(&self, chat: ChatId, page: &PageRequest) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing chat members",
            select: USER_COLS,
            base: "FROM chat_members m JOIN users u ON u.id = m.user_id WHERE m.chat_id = $1".to_owned(),
            values: vec![v(chat.0)],
            key: Key::Time("m.joined_at"),
            id: "u.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    async fn member_ids(&self, chat: ChatId, limit: i64) -> DomainResult<Vec<UserId>> {
        let sql = "SELECT user_id FROM chat_members WHERE chat_id = $1 ORDER BY joined_at, user_id LIMIT $2";
        let rows = self.sql().all("listing chat members", sql, vec![v(chat.0), v(limit)]).await?;
        rows.iter().map(|r| get::<Uuid>(r, "listing chat members", "user_id").map(UserId)).collect()
    }

    async fn muting(&self, users: &[UserId], user: UserId) -> DomainResult<Vec<UserId>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(users));
        let sql = format!(
            "SELECT user_id FROM user_mutes WHERE muted_id = $1 AND user_id IN ({})",
            placeholders(2, users.len())
        );
        let rows = self.sql().all("reading mutes", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "reading mutes", "user_id").map(UserId)).collect()
    }

    async fn started_since(&self, user: UserId, since: DateTime<Utc>) -> DomainResult<i64> {
        let sql = "SELECT COUNT(*) AS v FROM chats WHERE created_by = $1 AND created_at >= $2";
        self.sql().scalar("counting chats started", sql, vec![v(user.0), v(since)]).await
    }

    async fn insert_message(&self, message: &Message) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "sending message",
            "INSERT INTO chat_messages (id, chat_id, author_id, text, reply_to_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            vec![
                v(message.id.0),
                v(message.chat_id.0),
                v(message.author_id.0),
                v(message.text.as_str()),
                Value::Uuid(message.reply_to_id.map(|m| m.0)),
                v(message.created_at),
            ],
        )
        .await?;
        sql.exec(
            "sending message",
            "UPDATE chats SET last_message_at = $2 WHERE id = $1",
            vec![v(message.chat_id.0), v(message.created_at)],
        )
        .await?;
        self.mark_seen(message.chat_id, message.author_id, message.created_at).await
    }

    async fn messages_by_ids(&self, ids: &[MessageId]) -> DomainResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {MESSAGE_COLS} FROM chat_messages x WHERE x.id IN ({})", placeholders(1, ids.len()));
        self.sql().all("loading messages", &sql, uuid_values(ids)).await?.iter().map(message_from_row).collect()
    }

    async fn messages(&self, chat: ChatId, page: &PageRequest) -> DomainResult<Page<Message>> {
        let listing = Listing {
            context: "listing messages",
            select: MESSAGE_COLS,
            base: "FROM chat_messages x WHERE x.chat_id = $1".to_owned(),
            values: vec![v(chat.0)],
            key: Key::Time("x.created_at"),
            id: "x.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, message_from_row).await
    }

    async fn mark_seen(&self, chat: ChatId, user: UserId, at: DateTime<Utc>) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "marking chat seen",
            "UPDATE chat_members SET seen_at = CASE WHEN seen_at < $3 THEN $3 ELSE seen_at END \
             WHERE chat_id = $1 AND user_id = $2",
            vec![v(chat.0), v(user.0), v(at)],
        )
        .await?;
        sql.exec(
            "marking chat seen",
            "UPDATE notifications SET seen = TRUE WHERE recipient_id = $2 AND chat_id = $1 AND seen = FALSE",
            vec![v(chat.0), v(user.0)],
        )
        .await
        .map(drop)
    }

    async fn unseen(&self, user: UserId, chats: &[ChatId]) -> DomainResult<HashMap<ChatId, i64>> {
        if chats.is_empty() {
            return Ok(HashMap::new());
        }
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(chats));
        let sql = format!(
            "SELECT m.chat_id, (SELECT COUNT(*) FROM chat_messages x WHERE x.chat_id = m.chat_id \
               AND x.created_at > m.seen_at AND x.author_id <> $1) AS n \
             FROM chat_members m WHERE m.user_id = $1 AND m.chat_id IN ({})",
            placeholders(2, chats.len())
        );
        const CX: &str = "counting unseen messages";
        let rows = self.sql().all(CX, &sql, values).await?;
        rows.iter().map(|r| Ok((ChatId(get::<Uuid>(r, CX, "chat_id")?), get::<i64>(r, CX, "n")?))).collect()
    }

    async fn unseen_total(&self, user: UserId) -> DomainResult<i64> {
        let sql = "SELECT COUNT(*) AS v FROM chat_members m JOIN chat_messages x ON x.chat_id = m.chat_id \
                   AND x.created_at > m.seen_at AND x.author_id <> $1 WHERE m.user_id = $1";
        self.sql().scalar("counting unseen messages", sql, vec![v(user.0)]).await
    }

    async fn chats_of(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<Chat>> {
        let listing = Listing {
            context: "listing chats",
            select: CHAT_COLS,
            base: "FROM chat_members m JOIN chats c ON c.id = m.chat_id WHERE m.user_id = $1".to_owned(),
            values: vec![v(user.0)],
            key: Key::Time("COALESCE(c.last_message_at, c.created_at)"),
            id: "c.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, chat_from_row).await
    }
}
