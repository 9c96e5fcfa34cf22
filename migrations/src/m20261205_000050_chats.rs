//! Chats: direct chats (one per pair, by `direct_key`) and group chats, their members with how far each has
//! read (`seen_at`), their messages (newest first per chat), and the chat a MESSAGE_RECEIVED notification is about.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE chats (
    id {uuid} PRIMARY KEY,
    name TEXT,
    direct {bool} NOT NULL,
    direct_key TEXT UNIQUE,
    created_by {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    last_message_at {ts}
);
CREATE INDEX chats_created_by_idx ON chats (created_by, created_at);

CREATE TABLE chat_members (
    chat_id {uuid} NOT NULL REFERENCES chats (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    joined_at {ts} NOT NULL,
    seen_at {ts} NOT NULL,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user_idx ON chat_members (user_id, chat_id);

CREATE TABLE chat_messages (
    id {uuid} PRIMARY KEY,
    chat_id {uuid} NOT NULL REFERENCES chats (id),
    author_id {uuid} NOT NULL REFERENCES users (id),
    text TEXT NOT NULL,
    reply_to_id {uuid} REFERENCES chat_messages (id),
    created_at {ts} NOT NULL
);
CREATE INDEX chat_messages_chat_idx ON chat_messages (chat_id, created_at DESC, id DESC);

ALTER TABLE notifications ADD COLUMN chat_id {uuid} REFERENCES chats (id)
"#;

const DOWN: &str = r#"
ALTER TABLE notifications DROP COLUMN chat_id;
DROP TABLE chat_messages;
DROP TABLE chat_members;
DROP TABLE chats
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, DOWN).await
    }
}
