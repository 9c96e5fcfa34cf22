//! Media rows of posts and their URL cards (the files themselves are in the object store).

use crate::Db;
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use weco_domain::media::ports::MediaRepo;
use weco_domain::media::{Card, Media, MediaKind, NewMedia};
use weco_domain::{DomainError, DomainResult, MediaId, PostId};

const MEDIA_COLS: &str =
    "id, post_id, position, kind, content_type, bytes, width, height, thumb_content_type, created_at";

fn media_from_row(row: &QueryResult) -> DomainResult<Media> {
    const CX: &str = "decoding media";
    let kind: String = get(row, CX, "kind")?;
    Ok(Media {
        id: MediaId(get::<Uuid>(row, CX, "id")?),
        post_id: PostId(get::<Uuid>(row, CX, "post_id")?),
        position: get::<i64>(row, CX, "position")? as i32,
        kind: MediaKind::parse(&kind).ok_or_else(|| DomainError::internal(CX, format!("media kind {kind}")))?,
        content_type: get(row, CX, "content_type")?,
        bytes: get(row, CX, "bytes")?,
        width: get::<Option<i64>>(row, CX, "width")?.map(|w| w as i32),
        height: get::<Option<i64>>(row, CX, "height")?.map(|h| h as i32),
        thumb_content_type: get(row, CX, "thumb_content_type")?,
        created_at: get(row, CX, "created_at")?,
    })
}

fn card_from_row(row: &QueryResult) -> DomainResult<Card> {
    const CX: &str = "decoding card";
    Ok(Card {
        post_id: PostId(get::<Uuid>(row, CX, "post_id")?),
        url: get(row, CX, "url")?,
        title: get(row, CX, "title")?,
        description: get(row, CX, "description")?,
        image_url: get(row, CX, "image_url")?,
        fetched_at: get(row, CX, "fetched_at")?,
    })
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> MediaRepo for Db<C> {
    async fn insert_media(&self, media: &[NewMedia]) -> DomainResult<()> {
        for m in media {
            self.sql()
                .exec(
                    "inserting media",
                    &format!("INSERT INTO post_media ({MEDIA_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                    vec![
                        v(m.id.0),
                        v(m.post_id.0),
                        v(i64::from(m.position)),
                        v(m.kind.as_str()),
                        v(m.content_type.clone()),
                        v(m.bytes),
                        v(m.width.map(i64::from)),
                        v(m.height.map(i64::from)),
                        v(m.thumb_content_type.clone()),
                        v(m.created_at),
                    ],
                )
                .await?;
        }
        Ok(())
    }

    async fn media_of_posts(&self, posts: &[PostId]) -> DomainResult<Vec<Media>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MEDIA_COLS} FROM post_media WHERE post_id IN ({}) ORDER BY post_id, position",
            placeholders(1, posts.len())
        );
        self.sql().all("reading media", &sql, uuid_values(posts)).await?.iter().map(media_from_row).collect()
    }

    async fn media_by_id(&self, id: MediaId) -> DomainResult<Option<Media>> {
        let sql = format!("SELECT {MEDIA_COLS} FROM post_media WHERE id = $1");
        self.sql().one("reading a media file", &sql, vec![v(id.0)]).await?.as_ref().map(media_from_row).transpose()
    }

    async fn delete_media_of_post(&self, post: PostId) -> DomainResult<Vec<Media>> {
        let sql = format!("DELETE FROM post_media WHERE post_id = $1 RETURNING {MEDIA_COLS}");
        self.sql().all("deleting media", &sql, vec![v(post.0)]).await?.iter().map(media_from_row).collect()
    }

    async fn put_card(&self, card: &Card) -> DomainResult<()> {
        self.sql()
            .exec(
                "writing a card",
                "INSERT INTO post_cards (post_id, url, title, description, image_url, fetched_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (post_id) DO UPDATE SET url = excluded.url, \
                 title = excluded.title, description = excluded.description, image_url = excluded.image_url, \
                 fetched_at = excluded.fetched_at",
                vec![
                    v(card.post_id.0),
                    v(card.url.clone()),
                    v(card.title.clone()),
                    v(card.description.clone()),
                    v(card.image_url.clone()),
                    v(card.fetched_at),
                ],
            )
            .await?;
        Ok(())
    }

    async fn cards_of_posts(&self, posts: &[PostId]) -> DomainResult<Vec<Card>> {
        if posts.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT post_id, url, title, description, image_url, fetched_at FROM post_cards WHERE post_id IN ({})",
            placeholders(1, posts.len())
        );
        self.sql().all("reading cards", &sql, uuid_values(posts)).await?.iter().map(card_from_row).collect()
    }
}
