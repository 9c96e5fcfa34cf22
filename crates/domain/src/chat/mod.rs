//! Chats: direct chats between two users (one per pair) and group chats with names, their messages (with
//! replies), what each member has not seen yet, typing, and who is in a chat now (docs/chat.md).
//!
//! The rules:
//! - Only members read a chat, write in it or listen to it; every read and write takes a [`ChatMember`] proof,
//!   made here from the store's answer for that user. Non-members get nothing (`chat` is null) or `FORBIDDEN`.
//! - `startChat` with one other user and no name finds the pair's direct chat again, or starts it. A user who
//!   mutes another cannot be drawn into a chat by them (`FORBIDDEN`), direct or group.
//! - A direct chat keeps its two members: nobody is added to it and nobody leaves it.
//! - Each message notifies the other members (`MESSAGE_RECEIVED`, folded per chat and day, never from muted
//!   users); `markChatSeen` clears the chat's unseen count and its notifications.
//! - `MessageSent` goes through the outbox (it must arrive); `Typing` is ephemeral: published on the bus only,
//!   never stored, at most one per user and chat every [`TYPING_INTERVAL`] per process.

pub mod ports;
pub mod presence;

use crate::actor::Viewer;
use crate::app::App;
use crate::error::{DomainError, DomainResult};
use crate::events::{Envelope, Event, Topic};
use crate::ids::{ChatId, MessageId, UserId};
use crate::model::User;
use crate::notifications::{self, Fold, NewNotification, NotificationKind};
use crate::page::{Page, PageRequest};
use crate::privacy::ChatMember;
use crate::uow::{Command, UnitOfWork};
use crate::values::{ChatName, MessageText};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most members a group chat may have.
pub const MAX_CHAT_MEMBERS: usize = 100;
/// The most chats one user may start in an hour (finding a direct chat again does not count).
pub const MAX_CHATS_PER_HOUR: i64 = 30;
/// At most one `Typing` per user and chat this often, per process.
pub const TYPING_INTERVAL: Duration = Duration::from_secs(2);
/// The most (user, chat) pairs the typing throttle remembers before forgetting those older than the interval.
const TYPING_MEMORY: usize = 10_000;

/// A chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    pub id: ChatId,
    /// A group chat's name; `None` for a direct chat (and a group started without one).
    pub name: Option<String>,
    /// A direct chat: its two members, for good.
    pub direct: bool,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

/// A message in a chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub author_id: UserId,
    pub text: String,
    pub reply_to_id: Option<MessageId>,
    pub created_at: DateTime<Utc>,
}

/// The key of a pair's direct chat: both ids, the smaller first.
pub fn direct_key(a: UserId, b: UserId) -> String {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    format!("{x}:{y}")
}

/// The proof that the actor of `uow` is a member of `chat`: `NOT_FOUND` when there is no such chat,
/// `FORBIDDEN` for non-members.
async fn require_member(uow: &UnitOfWork, chat: ChatId) -> DomainResult<(ChatMember, Chat)> {
    let me = uow.actor().require_user()?;
    let found = uow.chats().chats_by_ids(&[chat]).await?.into_iter().next().ok_or(DomainError::NotFound("chat"))?;
    if uow.chats().member_of(me, &[chat]).await?.is_empty() {
        return Err(DomainError::forbidden("only members of a chat may do this"));
    }
    Ok((ChatMember::grant(me, chat), found))
}

/// The users named by `handles` (lower-case, each once), leaving the actor out; `NOT_FOUND` for a handle that
/// names nobody, `FORBIDDEN` when one of them mutes the actor.
async fn others(uow: &UnitOfWork, me: UserId, handles: &[String], field: &str) -> DomainResult<Vec<User>> {
    let users = uow.people().users_by_handles(handles).await?;
    if users.len() != handles.len() {
        return Err(DomainError::NotFound("user"));
    }
    let users: Vec<User> = users.into_iter().filter(|u| u.id != me).collect();
    if users.is_empty() {
        return Err(DomainError::validation(field, "name at least one user other than yourself"));
    }
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    if !uow.chats().muting(&ids, me).await?.is_empty() {
        return Err(DomainError::forbidden("a user you named does not accept chats from you"));
    }
    Ok(users)
}

/// Lower-case handles, each once, at most `max`.
fn handles(raw: &[String], field: &str, max: usize) -> DomainResult<Vec<String>> {
    let mut handles: Vec<String> = raw.iter().map(|h| h.trim().to_lowercase()).collect();
    handles.sort();
    handles.dedup();
    if handles.is_empty() {
        return Err(DomainError::validation(field, "name at least one user"));
    }
    if handles.len() > max {
        return Err(DomainError::validation(field, format!("name at most {max} users")));
    }
    Ok(handles)
}

struct StartChat {
    handles: Vec<String>,
    name: Option<ChatName>,
}

#[async_trait]
impl Command for StartChat {
    type Output = Chat;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Chat> {
        let me = uow.actor().require_user()?;
        let users = others(uow, me, &self.handles, "userHandles").await?;
        let direct = users.len() == 1 && self.name.is_none();
        let key = direct.then(|| direct_key(me, users[0].id));
        if let Some(key) = &key
            && let Some(existing) = uow.chats().direct_chat(key).await?
        {
            return Ok(existing);
        }
        if users.len() + 1 > MAX_CHAT_MEMBERS {
            return Err(DomainError::validation(
                "userHandles",
                format!("a chat has at most {MAX_CHAT_MEMBERS} members"),
            ));
        }
        let since = uow.now() - chrono::Duration::hours(1);
        if uow.chats().started_since(me, since).await? >= MAX_CHATS_PER_HOUR {
            return Err(DomainError::RateLimited(format!(
                "start at most {MAX_CHATS_PER_HOUR} chats an hour; try again later"
            )));
        }
        let chat = Chat {
            id: ChatId::generate(),
            name: self.name.as_ref().map(|n| n.as_str().to_owned()),
            direct,
            created_by: me,
            created_at: uow.now(),
            last_message_at: None,
        };
        let mut members = vec![me];
        members.extend(users.iter().map(|u| u.id));
        uow.chats().insert_chat(&chat, key.as_deref(), &members).await?;
        Ok(chat)
    }
}

struct SendMessage {
    chat: ChatId,
    text: MessageText,
    reply_to: Option<MessageId>,
}

#[async_trait]
impl Command for SendMessage {
    type Output = Message;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Message> {
        let (member, _) = require_member(uow, self.chat).await?;
        if let Some(parent) = self.reply_to {
            let found = uow.chats().messages_by_ids(&[parent]).await?;
            if !found.iter().any(|m| m.chat_id == self.chat) {
                return Err(DomainError::validation("replyToId", "is not a message of this chat"));
            }
        }
        let message = Message {
            id: MessageId::generate(),
            chat_id: self.chat,
            author_id: member.user(),
            text: self.text.as_str().to_owned(),
            reply_to_id: self.reply_to,
            created_at: uow.now(),
        };
        uow.chats().insert_message(&message).await?;
        let members = uow.chats().member_ids(self.chat, MAX_CHAT_MEMBERS as i64).await?;
        for recipient in members.into_iter().filter(|u| *u != member.user()) {
            let new = NewNotification {
                recipient,
                kind: NotificationKind::MessageReceived,
                actor: Some(member.user()),
                post: None,
                comment: None,
                space: None,
                fold: Fold::PerDay(self.chat.0),
            };
            notifications::notify(uow, new).await?;
        }
        uow.announce(vec![Topic::Chat(self.chat)], Event::MessageSent { message: Box::new(message.clone()) });
        Ok(message)
    }
}

struct MarkSeen {
    chat: ChatId,
}

#[async_trait]
impl Command for MarkSeen {
    type Output = Chat;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Chat> {
        let (member, chat) = require_member(uow, self.chat).await?;
        uow.chats().mark_seen(self.chat, member.user(), uow.now()).await?;
        Ok(chat)
    }
}

struct AddMembers {
    chat: ChatId,
    handles: Vec<String>,
}

#[async_trait]
impl Command for AddMembers {
    type Output = Chat;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<Chat> {
        let (member, chat) = require_member(uow, self.chat).await?;
        if chat.direct {
            return Err(DomainError::validation("chatId", "a direct chat has two members; start a group chat"));
        }
        let users = others(uow, member.user(), &self.handles, "userHandles").await?;
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        uow.chats().lock_chat(self.chat).await?;
        let already = uow.chats().member_ids(self.chat, MAX_CHAT_MEMBERS as i64 + 1).await?;
        let new = ids.iter().filter(|u| !already.contains(u)).count();
        if already.len() + new > MAX_CHAT_MEMBERS {
            return Err(DomainError::validation(
                "userHandles",
                format!("a chat has at most {MAX_CHAT_MEMBERS} members"),
            ));
        }
        if uow.chats().add_members(self.chat, &ids, uow.now()).await? > 0 {
            uow.announce(vec![Topic::Chat(self.chat)], Event::ChatMembersChanged { chat_id: self.chat });
        }
        Ok(chat)
    }
}

struct LeaveChat {
    chat: ChatId,
}

#[async_trait]
impl Command for LeaveChat {
    type Output = bool;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<bool> {
        let (member, chat) = require_member(uow, self.chat).await?;
        if chat.direct {
            return Err(DomainError::validation("chatId", "a direct chat cannot be left"));
        }
        uow.chats().remove_member(self.chat, member.user()).await?;
        uow.announce(vec![Topic::Chat(self.chat)], Event::ChatMembersChanged { chat_id: self.chat });
        Ok(true)
    }
}

/// When each (user, chat) last published `Typing` from this process.
#[derive(Default)]
pub(crate) struct TypingThrottle {
    last: Mutex<HashMap<(UserId, ChatId), Instant>>,
}

impl TypingThrottle {
    /// Whether `user` may publish `Typing` in `chat` now (and notes that they do).
    fn allow(&self, user: UserId, chat: ChatId, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() >= TYPING_MEMORY {
            last.retain(|_, at| now.duration_since(*at) < TYPING_INTERVAL);
        }
        match last.get(&(user, chat)) {
            Some(at) if now.duration_since(*at) < TYPING_INTERVAL => false,
            _ => {
                last.insert((user, chat), now);
                true
            }
        }
    }
}

/// The chat service: `app.chats()`.
pub struct ChatService<'a> {
    pub(crate) app: &'a App,
}

impl ChatService<'_> {
    /// Starts a chat with the users `handles` (the viewer is its first member): with one other user and no name,
    /// the pair's direct chat, found again when it exists; else a group chat.
    pub async fn start(&self, viewer: Viewer, handles_in: &[String], name: Option<&str>) -> DomainResult<Chat> {
        let actor = viewer.actor()?;
        let handles = handles(handles_in, "userHandles", MAX_CHAT_MEMBERS)?;
        let name = name.map(|n| ChatName::parse(n, "name")).transpose()?;
        self.app.execute(actor, &StartChat { handles, name }).await
    }

    /// Sends a message (a reply when `reply_to` names a message of the same chat).
    pub async fn send(
        &self,
        viewer: Viewer,
        chat: ChatId,
        text: &str,
        reply_to: Option<MessageId>,
    ) -> DomainResult<Message> {
        let actor = viewer.actor()?;
        let text = MessageText::parse(text, "text")?;
        self.app.execute(actor, &SendMessage { chat, text, reply_to }).await
    }

    /// Marks the chat seen by the viewer: its unseen count and its notifications.
    pub async fn mark_seen(&self, viewer: Viewer, chat: ChatId) -> DomainResult<Chat> {
        self.app.execute(viewer.actor()?, &MarkSeen { chat }).await
    }

    /// Adds users to a group chat the viewer is a member of.
    pub async fn add_members(&self, viewer: Viewer, chat: ChatId, handles_in: &[String]) -> DomainResult<Chat> {
        let actor = viewer.actor()?;
        let handles = handles(handles_in, "userHandles", MAX_CHAT_MEMBERS)?;
        self.app.execute(actor, &AddMembers { chat, handles }).await
    }

    /// The viewer leaves a group chat.
    pub async fn leave(&self, viewer: Viewer, chat: ChatId) -> DomainResult<bool> {
        self.app.execute(viewer.actor()?, &LeaveChat { chat }).await
    }

    /// Tells the chat's live subscribers the viewer is typing: `true` when published, `false` when the viewer
    /// did so less than [`TYPING_INTERVAL`] ago (on this process). Never stored.
    pub async fn typing(&self, viewer: Viewer, chat: ChatId) -> DomainResult<bool> {
        let member = self.require_member(viewer, chat).await?;
        if !self.app.typing.allow(member.user(), chat, Instant::now()) {
            return Ok(false);
        }
        let event = Event::Typing { chat_id: chat, user_id: member.user() };
        self.app.ports.bus.publish(vec![Envelope::new(Topic::Chat(chat), event)]).await;
        Ok(true)
    }

    /// The proof that the viewer is a member of `chat` (read on the primary): `UNAUTHENTICATED` for anonymous
    /// viewers, `NOT_FOUND` when there is no such chat, `FORBIDDEN` for non-members.
    pub async fn require_member(&self, viewer: Viewer, chat: ChatId) -> DomainResult<ChatMember> {
        let me = viewer.require()?;
        let repos = self.app.store();
        if repos.chats().chats_by_ids(&[chat]).await?.is_empty() {
            return Err(DomainError::NotFound("chat"));
        }
        if repos.chats().member_of(me, &[chat]).await?.is_empty() {
            return Err(DomainError::forbidden("only members of a chat may read it or listen to it"));
        }
        Ok(ChatMember::grant(me, chat))
    }

    /// Whether the proof's user is still a member (for live subscriptions, after a change of members).
    pub async fn still_member(&self, member: &ChatMember) -> DomainResult<bool> {
        Ok(!self.app.store().chats().member_of(member.user(), &[member.chat()]).await?.is_empty())
    }

    /// The chats among `ids` the viewer is a member of, with their proofs (others are left out).
    pub async fn chats(&self, viewer: Viewer, ids: &[ChatId]) -> DomainResult<Vec<(ChatMember, Chat)>> {
        let Some(me) = viewer.id() else { return Ok(Vec::new()) };
        let reads = self.app.reads(viewer);
        let mine = reads.chats().member_of(me, ids).await?;
        let chats = reads.chats().chats_by_ids(&mine).await?;
        Ok(chats.into_iter().map(|c| (ChatMember::grant(me, c.id), c)).collect())
    }

    /// The user's chats, most recently active first: the user themself only (`FORBIDDEN` for others).
    pub async fn chats_of(
        &self,
        viewer: Viewer,
        user: UserId,
        page: PageRequest,
    ) -> DomainResult<Page<(ChatMember, Chat)>> {
        if viewer.id() != Some(user) {
            return Err(DomainError::forbidden("a user's chats are their own"));
        }
        let page = self.app.reads(viewer).chats().chats_of(user, &page).await?;
        Ok(page.map(|c| (ChatMember::grant(user, c.id), c)))
    }

    /// How many messages of others the user has not seen in all their chats; `None` for anyone but the user.
    pub async fn unseen_total(&self, viewer: Viewer, user: UserId) -> DomainResult<Option<i64>> {
        if viewer.id() != Some(user) {
            return Ok(None);
        }
        Ok(Some(self.app.reads(viewer).chats().unseen_total(user).await?))
    }

    /// How many messages of others the member has not seen in each chat.
    pub async fn unseen(&self, members: &[ChatMember]) -> DomainResult<HashMap<ChatId, i64>> {
        let Some(first) = members.first() else { return Ok(HashMap::new()) };
        let user = first.user();
        let chats: Vec<ChatId> = members.iter().filter(|m| m.user() == user).map(|m| m.chat()).collect();
        self.app.reads(first.viewer()).chats().unseen(user, &chats).await
    }

    /// The chat's members, in the order they joined.
    pub async fn members(&self, member: &ChatMember, page: PageRequest) -> DomainResult<Page<User>> {
        self.app.reads(member.viewer()).chats().members(member.chat(), &page).await
    }

    /// The chat's messages, newest first.
    pub async fn messages(&self, member: &ChatMember, page: PageRequest) -> DomainResult<Page<Message>> {
        self.app.reads(member.viewer()).chats().messages(member.chat(), &page).await
    }

    /// Messages of the member's chat by id (others are left out).
    pub async fn messages_by_ids(&self, member: &ChatMember, ids: &[MessageId]) -> DomainResult<Vec<Message>> {
        let found = self.app.reads(member.viewer()).chats().messages_by_ids(ids).await?;
        Ok(found.into_iter().filter(|m| m.chat_id == member.chat()).collect())
    }

    /// The chat's members who are in it now (subscribed to its events, on any replica).
    pub async fn online(&self, member: &ChatMember) -> DomainResult<Vec<UserId>> {
        let ids = self.app.reads(member.viewer()).chats().member_ids(member.chat(), MAX_CHAT_MEMBERS as i64).await?;
        self.app.presence.online(member.chat().0, &ids).await
    }

    /// Holds the member in the chat's presence until the guard is dropped.
    pub fn enter(&self, member: &ChatMember) -> presence::PresenceGuard {
        self.app.presence.enter(member.chat().0, member.user())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_direct_key_whoever_starts() {
        let (a, b) = (UserId::generate(), UserId::generate());
        assert_eq!(direct_key(a, b), direct_key(b, a));
        assert_ne!(direct_key(a, b), direct_key(a, UserId::generate()));
    }

    #[test]
    fn typing_is_throttled_per_user_and_chat() {
        let throttle = TypingThrottle::default();
        let (ada, bob, chat) = (UserId::generate(), UserId::generate(), ChatId::generate());
        let start = Instant::now();
        assert!(throttle.allow(ada, chat, start));
        assert!(!throttle.allow(ada, chat, start + Duration::from_millis(500)));
        assert!(throttle.allow(bob, chat, start + Duration::from_millis(500)));
        assert!(throttle.allow(ada, ChatId::generate(), start));
        assert!(throttle.allow(ada, chat, start + TYPING_INTERVAL));
    }

    #[test]
    fn handles_are_lower_case_once_each_and_bounded() {
        let raw = vec!["Ada".to_owned(), " ada ".to_owned(), "bob".to_owned()];
        assert_eq!(handles(&raw, "userHandles", 10).ok(), Some(vec!["ada".to_owned(), "bob".to_owned()]));
        assert!(handles(&[], "userHandles", 10).is_err());
        assert!(handles(&raw, "userHandles", 1).is_err());
    }
}
