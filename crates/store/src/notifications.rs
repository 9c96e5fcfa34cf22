//! Notifications: written (or folded) in one statement that also checks they may be sent, and read back only as
//! far as they may be shown now (docs/notifications.md).

use crate::Db;
use crate::fragments::{not_muted, post_visible_to};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use uuid::Uuid;
use weco_domain::notifications::ports::NotificationRepo;
use weco_domain::notifications::{NewNotification, Notification, NotificationKind};
use weco_domain::{ChatId, CommentId, DomainResult, NotificationId, Page, PageRequest, PostId, SpaceId, UserId};

const NOTIFICATION_COLS: &str = "n.id, n.recipient_id, n.kind, n.actor_id, n.post_id, n.comment_id, n.space_id, n.chat_id, n.count, n.seen, \
     n.created_at";

fn notification_from_row(row: &QueryResult) -> DomainResult<Notification> {
    const CX: &str = "decoding notification";
    Ok(Notification {
        id: NotificationId(get::<Uuid>(row, CX, "id")?),
        recipient_id: UserId(get::<Uuid>(row, CX, "recipient_id")?),
        kind: NotificationKind::parse(&get::<String>(row, CX, "kind")?)?,
        actor_id: get::<Option<Uuid>>(row, CX, "actor_id")?.map(UserId),
        post_id: get::<Option<Uuid>>(row, CX, "post_id")?.map(PostId),
        comment_id: get::<Option<Uuid>>(row, CX, "comment_id")?.map(CommentId),
        space_id: get::<Option<Uuid>>(row, CX, "space_id")?.map(SpaceId),
        chat_id: get::<Option<Uuid>>(row, CX, "chat_id")?.map(ChatId),
        count: get::<i64>(row, CX, "count")?,
        seen: get::<bool>(row, CX, "seen")?,
        created_at: get::<DateTime<Utc>>(row, CX, "created_at")?,
    })
}

/// What may be shown of the notifications `n` of the recipient bound as `$n`: nothing whose latest actor the
/// recipient mutes, nothing about a post they may not see (now), nothing about a chat they are no longer in.
fn shown(recipient: usize) -> String {
    format!(
        "n.recipient_id = ${recipient} AND (n.actor_id IS NULL OR {}) AND (n.post_id IS NULL OR {}) \
         AND (n.chat_id IS NULL OR EXISTS (SELECT 1 FROM chat_members cm \
              WHERE cm.chat_id = n.chat_id AND cm.user_id = ${recipient}))",
        not_muted("n.actor_id", recipient),
        post_visible_to("n.post_id", &format!("${recipient}"))
    )
}

fn optional<T: Into<Uuid>>(id: Option<T>) -> Value {
    Value::Uuid(id.map(Into::into))
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> NotificationRepo for Db<C> {
    async fn upsert(
        &self,
        new: &NewNotification,
        id: NotificationId,
        fold_key: &str,
        at: DateTime<Utc>,
    ) -> DomainResult<Option<Notification>> {
        // The recipient is $2, the actor $5, the post $6.
        let about_post = if new.post.is_some() { post_visible_to("$6", "$2") } else { "TRUE".to_owned() };
        let sql = format!(
            "INSERT INTO notifications \
               (id, recipient_id, kind, fold_key, actor_id, post_id, comment_id, space_id, chat_id, count, seen, \
                created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10, 1, FALSE, $9 \
             WHERE ($5 IS NULL OR ($2 <> $5 AND {})) AND {about_post} \
             ON CONFLICT (recipient_id, fold_key) DO UPDATE SET \
               count = notifications.count + CASE WHEN notifications.actor_id = excluded.actor_id THEN 0 ELSE 1 END, \
               actor_id = excluded.actor_id, comment_id = excluded.comment_id, \
               seen = FALSE, created_at = excluded.created_at \
             RETURNING id, recipient_id, kind, actor_id, post_id, comment_id, space_id, chat_id, count, seen, \
               created_at",
            not_muted("$5", 2)
        );
        let values = vec![
            v(id.0),
            v(new.recipient.0),
            v(new.kind.as_str()),
            v(fold_key),
            optional(new.actor),
            optional(new.post),
            optional(new.comment),
            optional(new.space),
            v(at),
            optional(new.chat()),
        ];
        self.sql().one("notifying", &sql, values).await?.as_ref().map(notification_from_row).transpose()
    }

    async fn notifications(
        &self,
        recipient: UserId,
        unseen_only: bool,
        page: &PageRequest,
    ) -> DomainResult<Page<Notification>> {
        let unseen = if unseen_only { " AND n.seen = FALSE" } else { "" };
        let listing = Listing {
            context: "listing notifications",
            select: NOTIFICATION_COLS,
            base: format!("FROM notifications n WHERE {}{unseen}", shown(1)),
            values: vec![v(recipient.0)],
            key: Key::Time("n.created_at"),
            id: "n.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, notification_from_row).await
    }

    async fn shown_among(&self, recipient: UserId, ids: &[NotificationId]) -> DomainResult<Vec<NotificationId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = vec![v(recipient.0)];
        values.extend(uuid_values(ids));
        let sql =
            format!("SELECT n.id FROM notifications n WHERE {} AND n.id IN ({})", shown(1), placeholders(2, ids.len()));
        let rows = self.sql().all("checking notifications", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking notifications", "id").map(NotificationId)).collect()
    }

    async fn unseen(&self, recipient: UserId) -> DomainResult<i64> {
        let sql = format!("SELECT COUNT(*) AS v FROM notifications n WHERE {} AND n.seen = FALSE", shown(1));
        self.sql().scalar::<i64>("counting unseen notifications", &sql, vec![v(recipient.0)]).await
    }

    async fn mark_seen(&self, recipient: UserId, ids: Option<&[NotificationId]>) -> DomainResult<u64> {
        let mut values = vec![v(recipient.0)];
        let mut sql = "UPDATE notifications SET seen = TRUE WHERE recipient_id = $1 AND seen = FALSE".to_owned();
        if let Some(ids) = ids {
            if ids.is_empty() {
                return Ok(0);
            }
            values.extend(uuid_values(ids));
            sql.push_str(&format!(" AND id IN ({})", placeholders(2, ids.len())));
        }
        self.sql().exec("marking notifications seen", &sql, values).await
    }
}
