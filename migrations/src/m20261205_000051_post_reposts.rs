//! Who reposted a post where, and when: the list `Post.reposts` (the counters stay on `posts` and
//! `space_posts`).

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE post_reposts (
    post_id {uuid} NOT NULL REFERENCES posts (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (post_id, user_id, space_id)
);
CREATE INDEX post_reposts_post_idx ON post_reposts (post_id, created_at DESC, user_id);
CREATE INDEX post_reposts_user_idx ON post_reposts (user_id)
"#;

const DOWN: &str = r#"
DROP TABLE post_reposts
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
