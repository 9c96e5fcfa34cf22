//! Chats in the schema: `Chat`, `Message`, `chat(id)`, `User.chats` and `User.unseenMessages` (the user
//! themself only), the chat mutations, and the live `chatEvents` subscription with presence (docs/chat.md).
//!
//! Every chat object holds the domain's proof that its viewer is a member ([`ChatMember`]); what is read
//! inside a chat takes that proof, so the graph never decides who may read a chat.

use crate::accounts::{UserConnection, UserObject, load_user};
use crate::connection::{connection, decode_cursor, int, page_request_in};
use crate::error::{ApiError, ApiResult};
use crate::ids::{parse_id, to_id};
use crate::scope::{RequestScope, app, scope};
use async_graphql::{Context, ID, Object, Union};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use weco_domain::chat::{Chat, Message};
use weco_domain::events::{Delivery, Event, Topic};
use weco_domain::privacy::ChatMember;
use weco_domain::{ChatId, DomainError, MessageId, PageRequest, UserId};

/// A chat as one of its members sees it.
#[derive(Clone)]
pub struct ChatObject {
    member: ChatMember,
    chat: Arc<Chat>,
    /// The unseen count, when the listing that made this object counted it already.
    unseen: Option<i64>,
}

impl ChatObject {
    fn new(member: ChatMember, chat: Chat) -> Self {
        Self { member, chat: Arc::new(chat), unseen: None }
    }
}

/// A direct chat between two users, or a group chat. Only its members see it.
#[Object(name = "Chat")]
impl ChatObject {
    async fn id(&self) -> ID {
        to_id(self.chat.id)
    }

    /// A group chat's name; null for a direct chat.
    async fn name(&self) -> Option<&str> {
        self.chat.name.as_deref()
    }

    /// A direct chat: two members, for good (nobody is added, nobody leaves).
    async fn direct(&self) -> bool {
        self.chat.direct
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.chat.created_at
    }

    /// When its latest message was sent; null before the first.
    async fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.chat.last_message_at
    }

    /// Its members, in the order they joined.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).chats().members(&self.member, page).await?;
        Ok(UserConnection::from_page(page, UserObject::from))
    }

    /// Its messages, newest first; pass a page's `endCursor` as `before` for the older ones.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(50)")] first: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<MessageConnection> {
        let before = before
            .as_deref()
            .map(decode_cursor)
            .transpose()
            .map_err(|_| ApiError(DomainError::validation("before", "is not a valid cursor")))?;
        let mut page = PageRequest::new(i64::from(first.unwrap_or(50)), before)?;
        if !ctx.look_ahead().field("totalCount").exists() {
            page = page.without_total();
        }
        let page = app(ctx).chats().messages(&self.member, page).await?;
        let member = self.member;
        Ok(MessageConnection::from_page(page, |m| MessageObject::new(member, m)))
    }

    /// How many messages of others the viewer has not seen in it (see `markChatSeen`).
    async fn unseen_messages(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        if let Some(n) = self.unseen {
            return Ok(int(n));
        }
        let counts = app(ctx).chats().unseen(&[self.member]).await?;
        Ok(int(counts.get(&self.chat.id).copied().unwrap_or(0)))
    }

    /// Its members who are in it now: subscribed to its `chatEvents`, on any replica.
    async fn online(&self, ctx: &Context<'_>) -> ApiResult<Vec<UserObject>> {
        let ids = app(ctx).chats().online(&self.member).await?;
        // Loaded together, so the user loader reads them in one batch.
        futures_util::future::try_join_all(ids.into_iter().map(|id| load_user(ctx, id))).await
    }
}

connection!(ChatConnection, ChatEdge, ChatObject, "chat");

/// A message as a member of its chat sees it.
#[derive(Clone)]
pub struct MessageObject {
    member: ChatMember,
    message: Arc<Message>,
}

impl MessageObject {
    fn new(member: ChatMember, message: Message) -> Self {
        Self { member, message: Arc::new(message) }
    }
}

/// A message in a chat.
#[Object(name = "Message")]
impl MessageObject {
    async fn id(&self) -> ID {
        to_id(self.message.id)
    }

    async fn chat(&self, ctx: &Context<'_>) -> ApiResult<ChatObject> {
        let found = app(ctx).chats().chats(self.member.viewer(), &[self.message.chat_id]).await?;
        let (member, chat) = found.into_iter().next().ok_or(DomainError::NotFound("chat"))?;
        Ok(ChatObject::new(member, chat))
    }

    async fn author(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.message.author_id).await
    }

    async fn text(&self) -> &str {
        &self.message.text
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.message.created_at
    }

    /// The message this one answers.
    async fn reply_to(&self, ctx: &Context<'_>) -> ApiResult<Option<MessageObject>> {
        let Some(id) = self.message.reply_to_id else { return Ok(None) };
        let found = app(ctx).chats().messages_by_ids(&self.member, &[id]).await?;
        Ok(found.into_iter().next().map(|m| MessageObject::new(self.member, m)))
    }
}

connection!(MessageConnection, MessageEdge, MessageObject, "message");

/// A message was sent in the chat.
pub struct MessageSent {
    chat_id: ChatId,
    message: MessageObject,
}

#[Object]
impl MessageSent {
    async fn chat_id(&self) -> ID {
        to_id(self.chat_id)
    }

    async fn message(&self) -> &MessageObject {
        &self.message
    }
}

/// A member is typing in the chat (sent at most every two seconds per member; never stored).
pub struct Typing {
    chat_id: ChatId,
    user_id: UserId,
}

#[Object]
impl Typing {
    async fn chat_id(&self) -> ID {
        to_id(self.chat_id)
    }

    async fn user(&self, ctx: &Context<'_>) -> ApiResult<UserObject> {
        load_user(ctx, self.user_id).await
    }
}

/// What happens in a chat, live.
#[derive(Union)]
pub enum ChatEvent {
    MessageSent(MessageSent),
    Typing(Typing),
}

/// `User.chats`: the user's own, most recently active first; `FORBIDDEN` for anyone else.
pub(crate) async fn chats_of(
    ctx: &Context<'_>,
    user: UserId,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<ChatConnection> {
    let page = page_request_in(ctx, first, after.as_deref())?;
    let chats = app(ctx).chats();
    let page = chats.chats_of(scope(ctx)?.viewer, user, page).await?;
    // The unseen counts of the whole page in one statement, when they are asked for.
    let wanted = ctx.look_ahead().field("nodes").field("unseenMessages").exists()
        || ctx.look_ahead().field("edges").field("node").field("unseenMessages").exists();
    let counts = if wanted {
        let members: Vec<ChatMember> = page.items.iter().map(|(_, (m, _))| *m).collect();
        Some(chats.unseen(&members).await?)
    } else {
        None
    };
    Ok(ChatConnection::from_page(page, |(member, chat)| {
        let unseen = counts.as_ref().map(|c| c.get(&chat.id).copied().unwrap_or(0));
        ChatObject { member, chat: Arc::new(chat), unseen }
    }))
}

/// `User.unseenMessages`: null for anyone but the user themself.
pub(crate) async fn unseen_total(ctx: &Context<'_>, user: UserId) -> ApiResult<Option<i32>> {
    Ok(app(ctx).chats().unseen_total(scope(ctx)?.viewer, user).await?.map(int))
}

/// `Notification.chat`: the chat a MESSAGE_RECEIVED is about, while the viewer is a member.
pub(crate) async fn chat_of_notification(ctx: &Context<'_>, chat: Option<ChatId>) -> ApiResult<Option<ChatObject>> {
    let Some(chat) = chat else { return Ok(None) };
    let found = app(ctx).chats().chats(scope(ctx)?.viewer, &[chat]).await?;
    Ok(found.into_iter().next().map(|(m, c)| ChatObject::new(m, c)))
}

#[derive(Default)]
pub struct ChatQuery;

#[Object]
impl ChatQuery {
    /// A chat the viewer is a member of; null for anyone else (and for no such chat).
    async fn chat(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<ChatObject>> {
        let id = parse_id::<ChatId>(&id, "id")?;
        let found = app(ctx).chats().chats(scope(ctx)?.viewer, &[id]).await?;
        Ok(found.into_iter().next().map(|(m, c)| ChatObject::new(m, c)))
    }
}

#[derive(Default)]
pub struct ChatMutation;

fn chat_id(id: &ID) -> ApiResult<ChatId> {
    parse_id::<ChatId>(id, "chatId")
}

#[Object]
impl ChatMutation {
    /// Starts a chat with these users. One other user and no name: the pair's direct chat, the existing one if
    /// any. Otherwise a group chat (at most 100 members). A user who mutes the viewer cannot be named.
    async fn start_chat(
        &self,
        ctx: &Context<'_>,
        user_handles: Vec<String>,
        name: Option<String>,
    ) -> ApiResult<ChatObject> {
        let scope = scope(ctx)?;
        let chat = app(ctx).chats().start(scope.viewer, &user_handles, name.as_deref()).await?;
        scope.invalidate();
        let me = scope.viewer.require()?;
        let found = app(ctx).chats().chats(scope.viewer, &[chat.id]).await?;
        let (member, chat) = found.into_iter().find(|(m, _)| m.user() == me).ok_or(DomainError::NotFound("chat"))?;
        Ok(ChatObject::new(member, chat))
    }

    /// Sends a message (1 to 4,000 characters) in a chat the viewer is a member of; `replyToId` names a message
    /// of the same chat.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        chat_id: ID,
        text: String,
        reply_to_id: Option<ID>,
    ) -> ApiResult<MessageObject> {
        let scope = scope(ctx)?;
        let chat = self::chat_id(&chat_id)?;
        let reply_to = reply_to_id.as_ref().map(|id| parse_id::<MessageId>(id, "replyToId")).transpose()?;
        let chats = app(ctx).chats();
        let message = chats.send(scope.viewer, chat, &text, reply_to).await?;
        scope.invalidate();
        let member = chats.require_member(scope.viewer, chat).await?;
        Ok(MessageObject::new(member, message))
    }

    /// Marks the chat seen: its unseen count drops to zero and its notifications are marked seen.
    async fn mark_chat_seen(&self, ctx: &Context<'_>, chat_id: ID) -> ApiResult<ChatObject> {
        let scope = scope(ctx)?;
        let chat = self::chat_id(&chat_id)?;
        let chats = app(ctx).chats();
        let found = chats.mark_seen(scope.viewer, chat).await?;
        scope.invalidate();
        let member = chats.require_member(scope.viewer, chat).await?;
        Ok(ChatObject { member, chat: Arc::new(found), unseen: Some(0) })
    }

    /// Adds users to a group chat the viewer is a member of (at most 100 members in all).
    async fn add_chat_members(
        &self,
        ctx: &Context<'_>,
        chat_id: ID,
        user_handles: Vec<String>,
    ) -> ApiResult<ChatObject> {
        let scope = scope(ctx)?;
        let chat = self::chat_id(&chat_id)?;
        let chats = app(ctx).chats();
        let found = chats.add_members(scope.viewer, chat, &user_handles).await?;
        scope.invalidate();
        let member = chats.require_member(scope.viewer, chat).await?;
        Ok(ChatObject::new(member, found))
    }

    /// The viewer leaves a group chat (a direct chat cannot be left).
    async fn leave_chat(&self, ctx: &Context<'_>, chat_id: ID) -> ApiResult<bool> {
        let scope = scope(ctx)?;
        let left = app(ctx).chats().leave(scope.viewer, self::chat_id(&chat_id)?).await?;
        scope.invalidate();
        Ok(left)
    }

    /// Tells the chat's live subscribers the viewer is typing: true when sent, false when the viewer did so
    /// less than two seconds ago. Nothing is stored.
    async fn set_typing(&self, ctx: &Context<'_>, chat_id: ID) -> ApiResult<bool> {
        Ok(app(ctx).chats().typing(scope(ctx)?.viewer, self::chat_id(&chat_id)?).await?)
    }
}

/// `chatEvents(chatId)`: messages and typing in a chat the viewer is a member of, live; the viewer is in the
/// chat's presence (`Chat.online`) while it runs. Non-members get `FORBIDDEN`, and a member who leaves is ended
/// with `FORBIDDEN`.
pub(crate) async fn live(
    ctx: &Context<'_>,
    chat_id: ID,
) -> Result<impl Stream<Item = Result<ChatEvent, ApiError>> + use<>, ApiError> {
    let app = app(ctx).clone();
    let scope: RequestScope = scope(ctx)?.clone();
    let chat = parse_id::<ChatId>(&chat_id, "chatId")?;
    let member = app.chats().require_member(scope.viewer, chat).await?;
    let deliveries = app.bus().subscribe_confirmed(Topic::Chat(chat)).await;
    let presence = Arc::new(app.chats().enter(&member));
    let events = deliveries
        .then(move |delivery| {
            let (app, scope, _present) = (app.clone(), scope.clone(), presence.clone());
            async move {
                scope.invalidate();
                let envelope = match delivery {
                    Delivery::Lagged(n) => {
                        return Some(Err(ApiError(DomainError::Conflict(format!(
                            "RESYNC: {n} chat events were dropped for this subscriber; read Chat.messages"
                        )))));
                    }
                    Delivery::Event(envelope) => envelope,
                };
                match &envelope.event {
                    Event::MessageSent { message } if message.chat_id == chat => {
                        let message = MessageObject::new(member, message.as_ref().clone());
                        Some(Ok(ChatEvent::MessageSent(MessageSent { chat_id: chat, message })))
                    }
                    Event::Typing { chat_id, user_id } if *chat_id == chat && *user_id != member.user() => {
                        Some(Ok(ChatEvent::Typing(Typing { chat_id: chat, user_id: *user_id })))
                    }
                    Event::ChatMembersChanged { .. } => match app.chats().still_member(&member).await {
                        Ok(true) => None,
                        Ok(false) => {
                            Some(Err(ApiError(DomainError::forbidden("you are no longer a member of this chat"))))
                        }
                        Err(e) => Some(Err(ApiError(e))),
                    },
                    _ => None,
                }
            }
        })
        .filter_map(|x| async move { x });
    Ok(events)
}
