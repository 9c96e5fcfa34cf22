//! Media: the images and audio files of posts (their bytes are in the object store), and posts' URL cards.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE post_media (
    id {uuid} PRIMARY KEY,
    post_id {uuid} NOT NULL REFERENCES posts (id),
    position {int} NOT NULL,
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes {int} NOT NULL,
    width {int},
    height {int},
    thumb_content_type TEXT,
    created_at {ts} NOT NULL
);
CREATE INDEX post_media_post_idx ON post_media (post_id, position);

CREATE TABLE post_cards (
    post_id {uuid} PRIMARY KEY REFERENCES posts (id),
    url TEXT NOT NULL,
    title TEXT,
    description TEXT,
    image_url TEXT,
    fetched_at {ts} NOT NULL
)
"#;

const DOWN: &str = r#"
DROP TABLE post_cards;
DROP TABLE post_media
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
