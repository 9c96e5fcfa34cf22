//! The demo's chats: a group chat of the housing co-op's committee (with a reply) and a direct chat between two
//! people who plan a film night, each with some messages not yet seen. Written after the load, through the
//! same columns the server writes; ids and times come from the seed and the reference time.

use super::world::{Community, DAY, Secs, stream, uuid_v7};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;
use weco_domain::UserId;

/// A chat to write: its name (`None`: direct), members by handle, and messages (author, text, the index of the
/// message it answers, minutes after the chat started).
struct ChatDef {
    name: Option<&'static str>,
    members: &'static [&'static str],
    messages: &'static [(&'static str, &'static str, Option<usize>, i64)],
    /// How many days before the reference time it started.
    days_ago: i64,
}

const CHATS: &[ChatDef] = &[
    ChatDef {
        name: Some("Co-op committee"),
        members: &["oliver", "maya", "sam"],
        messages: &[
            ("oliver", "The roofer can come on Thursday. Can someone let him in?", None, 0),
            ("maya", "I'm in the lab all day, sorry.", None, 12),
            ("sam", "I can do the morning. What time is he due?", Some(0), 30),
            ("oliver", "Nine. I'll leave the keys with you tonight.", Some(2), 41),
            ("oliver", "Budget for the repairs is on the agenda for Sunday.", None, 24 * 60),
        ],
        days_ago: 3,
    },
    ChatDef {
        name: None,
        members: &["nadia", "tomas"],
        messages: &[
            ("nadia", "We're showing a jazz documentary next Friday. Would you play before the film?", None, 0),
            ("tomas", "Gladly. Twenty minutes, solo piano?", None, 25),
            ("nadia", "Perfect. Doors at seven.", Some(1), 31),
        ],
        days_ago: 1,
    },
];

fn at(secs: Secs) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Writes the demo's chats; returns how many chats and messages were written.
pub(crate) async fn write(
    conn: &impl ConnectionTrait,
    seed: u64,
    now: Secs,
    community: &Community,
) -> anyhow::Result<(u64, u64)> {
    let backend = conn.get_database_backend();
    let user = |handle: &str| -> anyhow::Result<Uuid> {
        community.users.iter().find(|u| u.handle == handle).map(|u| u.id).with_context(|| format!("no user {handle}"))
    };
    let exec = async |sql: &str, values: Vec<Value>| -> anyhow::Result<()> {
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.context("writing demo chats")?;
        Ok(())
    };
    let mut rng = stream(seed, 31);
    let mut written = 0;
    for chat in CHATS {
        let started = now - chat.days_ago * DAY;
        let id = uuid_v7(&mut rng, started);
        let members: Vec<Uuid> = chat.members.iter().map(|h| user(h)).collect::<anyhow::Result<_>>()?;
        let direct_key = match (chat.name, members.as_slice()) {
            (None, [a, b]) => Some(weco_domain::chat::direct_key(UserId(*a), UserId(*b))),
            _ => None,
        };
        let last = chat.messages.last().map(|m| started + m.3 * 60);
        exec(
            "INSERT INTO chats (id, name, direct, direct_key, created_by, created_at, last_message_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                id.into(),
                chat.name.map(str::to_owned).into(),
                direct_key.is_some().into(),
                direct_key.into(),
                members[0].into(),
                at(started).into(),
                last.map(at).into(),
            ],
        )
        .await?;
        let mut ids: Vec<Uuid> = Vec::new();
        for (author, text, reply_to, minutes) in chat.messages {
            let sent = started + minutes * 60;
            let message = uuid_v7(&mut rng, sent);
            exec(
                "INSERT INTO chat_messages (id, chat_id, author_id, text, reply_to_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    message.into(),
                    id.into(),
                    user(author)?.into(),
                    (*text).into(),
                    reply_to.map(|i| ids[i]).into(),
                    at(sent).into(),
                ],
            )
            .await?;
            ids.push(message);
        }
        written += ids.len() as u64;
        // Each member has seen the chat up to their own latest message (so the others' later ones are unseen).
        for (handle, member) in chat.members.iter().zip(&members) {
            let seen = chat.messages.iter().filter(|m| m.0 == *handle).map(|m| started + m.3 * 60).max();
            exec(
                "INSERT INTO chat_members (chat_id, user_id, joined_at, seen_at) VALUES ($1, $2, $3, $4)",
                vec![id.into(), (*member).into(), at(started).into(), at(seen.unwrap_or(started)).into()],
            )
            .await?;
        }
    }
    Ok((CHATS.len() as u64, written))
}
