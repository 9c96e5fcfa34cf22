//! Editing: when a post was last edited. (A deleted comment uses the `DELETED` state comments already have.)

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE posts ADD COLUMN edited_at {ts}
"#;

const DOWN: &str = r#"
ALTER TABLE posts DROP COLUMN edited_at
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
