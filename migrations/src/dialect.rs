//! The few words in which PostgreSQL and SQLite DDL differ.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

/// Type names for one backend.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub backend: DatabaseBackend,
}

impl Dialect {
    pub fn of(manager: &SchemaManager<'_>) -> Self {
        Self { backend: manager.get_database_backend() }
    }

    pub fn is_postgres(&self) -> bool {
        self.backend == DatabaseBackend::Postgres
    }

    /// Replaces `{uuid}`, `{ts}`, `{bool}`, `{int}` and `{real}` in `ddl`.
    pub fn render(&self, ddl: &str) -> String {
        let pg = self.is_postgres();
        ddl.replace("{uuid}", if pg { "UUID" } else { "BLOB" })
            .replace("{ts}", if pg { "TIMESTAMPTZ" } else { "TEXT" })
            .replace("{bool}", "BOOLEAN")
            .replace("{int}", if pg { "BIGINT" } else { "INTEGER" })
            .replace("{real}", if pg { "DOUBLE PRECISION" } else { "REAL" })
    }

    /// Runs each `;`-separated statement of `ddl` after rendering it.
    pub async fn run(&self, manager: &SchemaManager<'_>, ddl: &str) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for statement in self.render(ddl).split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            conn.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
