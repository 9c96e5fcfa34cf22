//! The one place database errors become domain errors.

use sea_orm::{DbErr, SqlErr};
use weco_domain::DomainError;

/// Maps a `DbErr`: unique violations become `CONFLICT`, foreign-key violations `NOT_FOUND`; a deadlock, a
/// serialization failure or SQLite's busy lock is transient (the unit of work runs again); everything else is
/// `INTERNAL`, with its cause kept for the log. `context` says what was being done.
pub fn db_err(context: &str, err: DbErr) -> DomainError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            return DomainError::conflict(format!("{context}: it already exists"));
        }
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => return DomainError::NotFound("referenced item"),
        _ => {}
    }
    if is_transient(&err) {
        return DomainError::Transient(format!("{context}: {err}"));
    }
    DomainError::internal(context, err)
}

/// PostgreSQL's deadlock (40P01) and serialization failure (40001); SQLite's busy and locked results.
fn is_transient(err: &DbErr) -> bool {
    let sqlx = match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)) | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_database_error() {
        Some(db) => match db.code().as_deref() {
            Some("40P01" | "40001") => true,
            // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            Some(code) => code.parse::<i32>().is_ok_and(|c| c & 0xff == 5 || c & 0xff == 6),
            None => false,
        },
        None => false,
    }
}
