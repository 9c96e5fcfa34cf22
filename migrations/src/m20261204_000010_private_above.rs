//! `spaces.private_above`: how many private spaces lie at or above a space (itself included), kept by every tree
//! edit and privacy change. A space with none is accessible to everyone, which the access predicate answers from
//! this one column instead of walking the closure table.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE spaces ADD COLUMN private_above {int} NOT NULL DEFAULT 0;
UPDATE spaces SET private_above = (
    SELECT COUNT(*) FROM space_closure c JOIN spaces p ON p.id = c.ancestor_id
    WHERE c.descendant_id = spaces.id AND p.privacy = 'PRIVATE'
)
"#;

const DOWN: &str = r#"
ALTER TABLE spaces DROP COLUMN private_above
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
