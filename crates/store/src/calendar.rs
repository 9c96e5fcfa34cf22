//! Events (docs/events.md): one row per event post with its totals, locked by every response so they stay
//! exact; one row per response; and the calendar of a space, read through the posts' appearances in it.

use crate::Db;
use crate::accounts::{USER_COLS, user_from_row};
use crate::fragments::{not_muted, viewer_value, visible_post};
use crate::posts::{POST_COLS, post_from_row};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v, viewer_then_ids};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult};
use std::collections::HashMap;
use uuid::Uuid;
use weco_domain::calendar::ports::EventRepo;
use weco_domain::calendar::{EventDetails, EventResponse, NewEvent};
use weco_domain::values::Depth;
use weco_domain::*;

/// Every column of an event `e`.
const EVENT_COLS: &str = "e.post_id, e.starts_at, e.ends_at, e.location, e.total_going, e.total_interested";

fn event_from_row(row: &QueryResult) -> DomainResult<EventDetails> {
    const CX: &str = "decoding event";
    Ok(EventDetails {
        post_id: PostId(get::<Uuid>(row, CX, "post_id")?),
        starts_at: get(row, CX, "starts_at")?,
        ends_at: get(row, CX, "ends_at")?,
        location: get(row, CX, "location")?,
        total_going: get(row, CX, "total_going")?,
        total_interested: get(row, CX, "total_interested")?,
    })
}

/// How a change of response moves the totals: (going, interested).
fn deltas(before: Option<EventResponse>, after: Option<EventResponse>) -> (i64, i64) {
    let weight = |r: Option<EventResponse>| match r {
        Some(EventResponse::Going) => (1, 0),
        Some(EventResponse::Interested) => (0, 1),
        None => (0, 0),
    };
    let (b, a) = (weight(before), weight(after));
    (a.0 - b.0, a.1 - b.1)
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> EventRepo for Db<C> {
    async fn insert_event(&self, event: &NewEvent) -> DomainResult<()> {
        self.sql()
            .exec(
                "storing an event",
                "INSERT INTO post_events (post_id, starts_at, ends_at, location) VALUES ($1, $2, $3, $4)",
                vec![v(event.post_id.0), v(event.starts_at), v(event.ends_at), v(event.location.clone())],
            )
            .await
            .map(drop)
    }

    async fn lock_event(&self, post: PostId) -> DomainResult<Option<EventDetails>> {
        let lock = if self.backend == DbBackend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {EVENT_COLS} FROM post_events e WHERE e.post_id = $1{lock}");
        let row = self.sql().one("loading an event", &sql, vec![v(post.0)]).await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn update_event(&self, event: &NewEvent) -> DomainResult<()> {
        self.sql()
            .exec(
                "moving an event",
                "UPDATE post_events SET starts_at = $2, ends_at = $3, location = $4 WHERE post_id = $1",
                vec![v(event.post_id.0), v(event.starts_at), v(event.ends_at), v(event.location.clone())],
            )
            .await
            .map(drop)
    }

    async fn response(&self, post: PostId, user: UserId) -> DomainResult<Option<EventResponse>> {
        const CX: &str = "reading a response";
        let row = self
            .sql()
            .one(
                CX,
                "SELECT response FROM event_responses WHERE post_id = $1 AND user_id = $2",
                vec![v(post.0), v(user.0)],
            )
            .await?;
        row.map(|r| EventResponse::parse(&get::<String>(&r, CX, "response")?)).transpose()
    }

    async fn set_response(
        &self,
        post: PostId,
        user: UserId,
        before: Option<EventResponse>,
        after: Option<EventResponse>,
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        const CX: &str = "answering an event";
        match after {
            Some(response) => {
                self.sql()
                    .exec(
                        CX,
                        "INSERT INTO event_responses (post_id, user_id, response, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (post_id, user_id) DO UPDATE SET response = excluded.response, \
                           created_at = excluded.created_at",
                        vec![v(post.0), v(user.0), v(response.as_str()), v(at)],
                    )
                    .await?;
            }
            None => {
                self.sql()
                    .exec(
                        CX,
                        "DELETE FROM event_responses WHERE post_id = $1 AND user_id = $2",
                        vec![v(post.0), v(user.0)],
                    )
                    .await?;
            }
        }
        let (going, interested) = deltas(before, after);
        self.sql()
            .exec(
                CX,
                "UPDATE post_events SET total_going = total_going + $2, total_interested = total_interested + $3 \
                 WHERE post_id = $1",
                vec![v(post.0), v(going), v(interested)],
            )
            .await
            .map(drop)
    }

    async fn visible_events(&self, viewer: Option<UserId>, posts: &[PostId]) -> DomainResult<Vec<EventDetails>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let (values, in_ids) = viewer_then_ids(viewer, posts);
        let sql = format!(
            "SELECT {EVENT_COLS} FROM post_events e JOIN posts p ON p.id = e.post_id \
             WHERE e.post_id IN ({in_ids}) AND {}",
            visible_post(1)
        );
        let rows = self.sql().all("loading events", &sql, values).await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn responses_of(&self, user: UserId, posts: &[PostId]) -> DomainResult<HashMap<PostId, EventResponse>> {
        if posts.is_empty() {
            return Ok(HashMap::new());
        }
        const CX: &str = "reading responses";
        let sql = format!(
            "SELECT post_id, response FROM event_responses WHERE user_id = $1 AND post_id IN ({})",
            placeholders(2, posts.len())
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(posts));
        let rows = self.sql().all(CX, &sql, values).await?;
        rows.iter()
            .map(|r| {
                Ok((PostId(get::<Uuid>(r, CX, "post_id")?), EventResponse::parse(&get::<String>(r, CX, "response")?)?))
            })
            .collect()
    }

    async fn responders(
        &self,
        viewer: Option<UserId>,
        post: PostId,
        response: EventResponse,
        page: &PageRequest,
    ) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing who responded",
            select: USER_COLS,
            base: format!(
                "FROM event_responses r JOIN users u ON u.id = r.user_id \
                 WHERE r.post_id = $1 AND r.response = $3 AND {}",
                not_muted("r.user_id", 2)
            ),
            values: vec![v(post.0), viewer_value(viewer), v(response.as_str())],
            key: Key::Time("r.created_at"),
            id: "u.id",
            descending: true,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    async fn attendees(&self, post: PostId, limit: i64) -> DomainResult<Vec<UserId>> {
        const CX: &str = "listing who responded";
        let rows = self
            .sql()
            .all(
                CX,
                &format!(
                    "SELECT user_id FROM event_responses WHERE post_id = $1 ORDER BY created_at, user_id LIMIT {}",
                    limit.max(0)
                ),
                vec![v(post.0)],
            )
            .await?;
        rows.iter().map(|r| Ok(UserId(get::<Uuid>(r, CX, "user_id")?))).collect()
    }

    async fn space_events(
        &self,
        viewer: Option<UserId>,
        space: SpaceId,
        depth: Depth,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> DomainResult<Vec<(Post, EventDetails)>> {
        let direct = if depth == Depth::Direct { " AND sp.relationship = 'DIRECT'" } else { "" };
        let sql = format!(
            "SELECT {POST_COLS}, {EVENT_COLS} FROM space_posts sp \
               JOIN post_events e ON e.post_id = sp.post_id JOIN posts p ON p.id = sp.post_id \
             WHERE sp.space_id = $2 AND sp.state = 'ACTIVE'{direct} AND e.starts_at >= $3 AND e.starts_at < $4 \
               AND {} \
             ORDER BY e.starts_at, p.id LIMIT {}",
            visible_post(1),
            limit.max(0)
        );
        let values = vec![viewer_value(viewer), v(space.0), v(from), v(to)];
        let rows = self.sql().all("reading a calendar", &sql, values).await?;
        rows.iter().map(|r| Ok((post_from_row(r)?, event_from_row(r)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_response_moves_each_total_by_at_most_one() {
        use EventResponse::*;
        assert_eq!(deltas(None, Some(Going)), (1, 0));
        assert_eq!(deltas(Some(Going), Some(Interested)), (-1, 1));
        assert_eq!(deltas(Some(Interested), None), (0, -1));
        assert_eq!(deltas(Some(Going), Some(Going)), (0, 0));
    }
}
