//! Streams: a user's named home feeds over spaces and users of their choosing.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE streams (
    id {uuid} PRIMARY KEY,
    owner_id {uuid} NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    created_at {ts} NOT NULL
);
CREATE INDEX streams_owner_idx ON streams (owner_id, created_at);

CREATE TABLE stream_spaces (
    stream_id {uuid} NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    PRIMARY KEY (stream_id, space_id)
);

CREATE TABLE stream_users (
    stream_id {uuid} NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
    user_id {uuid} NOT NULL REFERENCES users (id),
    PRIMARY KEY (stream_id, user_id)
)
"#;

const DOWN: &str = r#"
DROP TABLE stream_users;
DROP TABLE stream_spaces;
DROP TABLE streams
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
