//! What the chat area needs from a store.

use crate::chat::{Chat, Message};
use crate::error::DomainResult;
use crate::ids::{ChatId, MessageId, UserId};
use crate::model::User;
use crate::page::{Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Chats, their members and their messages.
#[async_trait]
pub trait ChatRepo: Send + Sync {
    /// Writes a chat and its first members (each seen up to `chat.created_at`). A direct chat carries its
    /// pair's key, unique: a second direct chat of the same pair is `CONFLICT`.
    async fn insert_chat(&self, chat: &Chat, direct_key: Option<&str>, members: &[UserId]) -> DomainResult<()>;
    /// The direct chat of the pair with this key.
    async fn direct_chat(&self, direct_key: &str) -> DomainResult<Option<Chat>>;
    /// Chats by id, in no particular order.
    async fn chats_by_ids(&self, ids: &[ChatId]) -> DomainResult<Vec<Chat>>;
    /// Which of `chats` `user` is a member of.
    async fn member_of(&self, user: UserId, chats: &[ChatId]) -> DomainResult<Vec<ChatId>>;
    /// Locks the chat's row until the transaction ends (on PostgreSQL; SQLite's transactions are serialised),
    /// so that concurrent additions count its members one after the other.
    async fn lock_chat(&self, chat: ChatId) -> DomainResult<()>;
    /// Adds members (seen up to `at`); returns how many were not members yet.
    async fn add_members(&self, chat: ChatId, users: &[UserId], at: DateTime<Utc>) -> DomainResult<u64>;
    /// Removes a member; `false` when they were none.
    async fn remove_member(&self, chat: ChatId, user: UserId) -> DomainResult<bool>;
    /// The chat's members, in the order they joined.
    async fn members(&self, chat: ChatId, page: &PageRequest) -> DomainResult<Page<User>>;
    /// The ids of the chat's first `limit` members.
    async fn member_ids(&self, chat: ChatId, limit: i64) -> DomainResult<Vec<UserId>>;
    /// Which of `users` mute `user`.
    async fn muting(&self, users: &[UserId], user: UserId) -> DomainResult<Vec<UserId>>;
    /// How many chats `user` started at or after `since`.
    async fn started_since(&self, user: UserId, since: DateTime<Utc>) -> DomainResult<i64>;
    /// Writes a message, moves its chat's `last_message_at` to it, and marks the chat seen for its author.
    async fn insert_message(&self, message: &Message) -> DomainResult<()>;
    /// Messages by id, in no particular order.
    async fn messages_by_ids(&self, ids: &[MessageId]) -> DomainResult<Vec<Message>>;
    /// A chat's messages, newest first.
    async fn messages(&self, chat: ChatId, page: &PageRequest) -> DomainResult<Page<Message>>;
    /// Marks the chat seen by `user` up to `at`, and their MESSAGE_RECEIVED notifications of it seen.
    async fn mark_seen(&self, chat: ChatId, user: UserId, at: DateTime<Utc>) -> DomainResult<()>;
    /// How many messages of others each of `chats` holds that `user` has not seen.
    async fn unseen(&self, user: UserId, chats: &[ChatId]) -> DomainResult<HashMap<ChatId, i64>>;
    /// How many messages of others `user` has not seen, in all their chats.
    async fn unseen_total(&self, user: UserId) -> DomainResult<i64>;
    /// The chats `user` is a member of, the most recently active first (the last message, else the creation).
    async fn chats_of(&self, user: UserId, page: &PageRequest) -> DomainResult<Page<Chat>>;
}
