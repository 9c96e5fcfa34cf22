//! Links you can read: likes of links between posts, counted on the link.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE post_links ADD COLUMN total_likes {int} NOT NULL DEFAULT 0;
CREATE INDEX post_links_source_idx ON post_links (source_id, total_likes);

CREATE TABLE link_likes (
    link_id {uuid} NOT NULL REFERENCES post_links (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (link_id, user_id)
)
"#;

const DOWN: &str = r#"
DROP TABLE link_likes;
DROP INDEX post_links_source_idx;
ALTER TABLE post_links DROP COLUMN total_likes
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
