//! `sessions`: one row per issued bearer token (the token's `sid`), from login or registration until it
//! expires or is ended (`logout`, `logoutEverywhere`, a password change). A token whose row is gone no longer
//! works. Expired rows of a user are removed when the user next logs in.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE sessions (
    id {uuid} PRIMARY KEY,
    user_id {uuid} NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id)
"#;

const DOWN: &str = r#"
DROP TABLE sessions
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
