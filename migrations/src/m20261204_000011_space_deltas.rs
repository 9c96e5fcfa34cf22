//! `space_deltas`: changes to spaces' totals, written by the work that causes them and folded into `spaces` a
//! moment later. Writers only ever insert here, so no two posts, likes or comments wait for the same row (the
//! root space's, which every post and like counts in); a read adds the deltas not folded yet to the totals, so
//! every read is exact.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE space_deltas (
    id {serial} PRIMARY KEY,
    space_id {uuid} NOT NULL,
    total_posts {int} NOT NULL DEFAULT 0,
    total_post_likes {int} NOT NULL DEFAULT 0,
    total_comments {int} NOT NULL DEFAULT 0,
    total_followers {int} NOT NULL DEFAULT 0,
    last_activity_at {ts}
);
CREATE INDEX space_deltas_space_idx ON space_deltas (space_id)
"#;

const DOWN: &str = r#"
DROP TABLE space_deltas
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
