//! The one place database errors become domain errors.

use sea_orm::{DbErr, SqlErr};
use weco_domain::DomainError;

/// Maps a `DbErr`: unique violations become `CONFLICT`, everything else `INTERNAL` with its cause kept for
/// the log. `context` says what was being done.
pub fn db_err(context: &str, err: DbErr) -> DomainError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::conflict(format!("{context}: it already exists")),
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => DomainError::NotFound("referenced item"),
        _ => DomainError::internal(context, err),
    }
}
