//! Writing rows fast, in one transaction: `COPY … FROM STDIN` on PostgreSQL, multi-row INSERTs on SQLite.
//!
//! Loading into indexed tables row by row is what makes bulk loads slow (and, on PostgreSQL, every foreign
//! key check also locks the row it finds). So, inside the transaction, the writer first drops the secondary
//! indexes of the tables it fills (and on PostgreSQL their primary keys and every foreign key too), and
//! rebuilds them from their own catalog definitions once the data is in: one sort per index instead of
//! millions of inserts, and one join per foreign key instead of millions of lookups. Rebuilding checks
//! every constraint again, and the writer compares the catalog before and after, so the schema comes out
//! exactly as it went in. A failure anywhere rolls everything back.

use super::rows::{Batch, Data, Encoding, SPACE_TOTALS, Table};
use anyhow::{Context as _, bail};
use sea_orm::sqlx::{self, Postgres, Row as _};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use std::time::{Duration, Instant};

/// The tables a seed run fills (`spaces` is only updated in place: its rows are few, and the counter
/// updates need its primary key).
const BULK_TABLES: &[&str] = &[
    "users",
    "space_parents",
    "space_closure",
    "space_moderators",
    "space_members",
    "space_followers",
    "user_mutes",
    "user_follows",
    "notifications",
    "posts",
    "space_posts",
    "post_likes",
    "post_ratings",
    "comments",
    "post_links",
];

/// SQLite binds at most 32,766 values per statement.
const SQLITE_MAX_VALUES: usize = 32_766;
const SQLITE_MAX_ROWS: usize = 500;

pub(crate) enum Writer {
    Postgres { tx: sqlx::Transaction<'static, Postgres>, schema: Vec<SchemaItem> },
    Sqlite { tx: DatabaseTransaction, schema: Vec<SchemaItem> },
}

/// An index or constraint, as the catalog defines it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SchemaItem {
    /// 0: index, 1: primary key or unique constraint, 2: foreign key (the order they are rebuilt in).
    order: u8,
    table: String,
    name: String,
    definition: String,
}

fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
}

impl Writer {
    pub(crate) async fn begin(conn: &DatabaseConnection) -> anyhow::Result<Self> {
        match conn.get_database_backend() {
            DbBackend::Postgres => {
                let mut tx = conn.get_postgres_connection_pool().begin().await.context("beginning the load")?;
                // Index builds after the load sort in memory when they can.
                sqlx::raw_sql("SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL synchronous_commit = off")
                    .execute(&mut *tx)
                    .await?;
                Ok(Self::Postgres { tx, schema: Vec::new() })
            }
            DbBackend::Sqlite => {
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                };
                let tx = conn.begin_with_options(options).await.context("beginning the load")?;
                Ok(Self::Sqlite { tx, schema: Vec::new() })
            }
            other => bail!("seeding supports PostgreSQL and SQLite, not {other:?}"),
        }
    }

    pub(crate) fn encoding(&self) -> Encoding {
        match self {
            Self::Postgres { .. } => Encoding::Copy,
            Self::Sqlite { .. } => Encoding::Values,
        }
    }

    /// Runs statements that take no parameters.
    pub(crate) async fn exec(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Self::Postgres { tx, .. } => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut **tx)
                    .await
                    .with_context(|| sql.to_owned())?;
            }
            Self::Sqlite { tx, .. } => {
                tx.execute_unprepared(sql).await.with_context(|| sql.to_owned())?;
            }
        }
        Ok(())
    }

    /// The indexes and constraints to drop before the load and rebuild after it.
    async fn schema(&mut self) -> anyhow::Result<Vec<SchemaItem>> {
        let tables = quoted_list(BULK_TABLES);
        let mut items = Vec::new();
        match self {
            Self::Postgres { tx, .. } => {
                let regclasses = BULK_TABLES.iter().map(|t| format!("'{t}'::regclass")).collect::<Vec<_>>().join(", ");
                let sql = format!(
                    "SELECT 2 AS ord, c.conrelid::regclass::text AS tbl, c.conname::text AS name, \
                       pg_get_constraintdef(c.oid) AS def \
                     FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace \
                     UNION ALL \
                     SELECT 1, c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid) \
                     FROM pg_constraint c WHERE c.contype IN ('p', 'u') AND c.conrelid IN ({regclasses}) \
                     UNION ALL \
                     SELECT 0, i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) \
                     FROM pg_index i WHERE i.indrelid IN ({regclasses}) AND NOT EXISTS \
                       (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))"
                );
                for row in
                    sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut **tx).await.context("reading the catalog")?
                {
                    items.push(SchemaItem {
                        order: u8::try_from(row.try_get::<i32, _>("ord")?)?,
                        table: row.try_get("tbl")?,
                        name: row.try_get("name")?,
                        definition: row.try_get("def")?,
                    });
                }
            }
            Self::Sqlite { tx, .. } => {
                let sql = format!(
                    "SELECT tbl_name, name, sql FROM sqlite_master \
                     WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables})"
                );
                for row in tx.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql)).await? {
                    items.push(SchemaItem {
                        order: 0,
                        table: row.try_get("", "tbl_name")?,
                        name: row.try_get("", "name")?,
                        definition: row.try_get("", "sql")?,
                    });
                }
            }
        }
        items.sort();
        Ok(items)
    }

    /// Drops the indexes and constraints that would slow the load; returns how many.
    pub(crate) async fn drop_indexes(&mut self) -> anyhow::Result<usize> {
        let items = self.schema().await?;
        // Foreign keys go first (they depend on the keys they reference), then keys, then plain indexes.
        for item in items.iter().rev() {
            let sql = match item.order {
                0 => format!("DROP INDEX {}", item.name),
                _ => format!("ALTER TABLE {} DROP CONSTRAINT \"{}\"", item.table, item.name),
            };
            self.exec(&sql).await?;
        }
        let n = items.len();
        match self {
            Self::Postgres { schema, .. } | Self::Sqlite { schema, .. } => *schema = items,
        }
        Ok(n)
    }

    /// Rebuilds what [`Self::drop_indexes`] dropped and checks the catalog matches what it was.
    pub(crate) async fn restore_indexes(&mut self, mut on_each: impl FnMut(&str, Duration)) -> anyhow::Result<()> {
        let saved = match self {
            Self::Postgres { schema, .. } | Self::Sqlite { schema, .. } => std::mem::take(schema),
        };
        for item in &saved {
            let sql = match item.order {
                0 => item.definition.clone(),
                _ => format!("ALTER TABLE {} ADD CONSTRAINT \"{}\" {}", item.table, item.name, item.definition),
            };
            let started = Instant::now();
            self.exec(&sql).await.with_context(|| format!("rebuilding {}", item.name))?;
            on_each(&item.name, started.elapsed());
        }
        let now = self.schema().await?;
        if now != saved {
            bail!(
                "the rebuilt indexes and constraints differ from the original ones:\nbefore: {saved:#?}\nafter: {now:#?}"
            );
        }
        Ok(())
    }

    /// The scratch table for the final space counters.
    pub(crate) async fn create_totals_table(&mut self) -> anyhow::Result<()> {
        let sql = match self {
            Self::Postgres { .. } => {
                "CREATE TEMP TABLE seed_space_totals (id UUID PRIMARY KEY, total_posts BIGINT, total_post_likes BIGINT, \
                 total_comments BIGINT, total_followers BIGINT, last_activity_at TIMESTAMPTZ) ON COMMIT DROP"
            }
            Self::Sqlite { .. } => {
                "CREATE TEMP TABLE seed_space_totals (id BLOB PRIMARY KEY, total_posts INTEGER, total_post_likes INTEGER, \
                 total_comments INTEGER, total_followers INTEGER, last_activity_at TEXT)"
            }
        };
        self.exec(sql).await
    }

    /// Applies the scratch table to `spaces` and drops it.
    pub(crate) async fn apply_totals(&mut self) -> anyhow::Result<()> {
        self.exec(
            "UPDATE spaces SET total_posts = t.total_posts, total_post_likes = t.total_post_likes, \
             total_comments = t.total_comments, total_followers = t.total_followers, \
             last_activity_at = t.last_activity_at FROM seed_space_totals t WHERE spaces.id = t.id",
        )
        .await?;
        self.exec(&format!("DROP TABLE {}", SPACE_TOTALS.name)).await
    }

    pub(crate) async fn write(&mut self, batch: Batch) -> anyhow::Result<()> {
        for rows in batch.tables {
            let table = rows.table;
            match (&mut *self, rows.data) {
                (Self::Postgres { tx, .. }, Data::Copy(text)) => {
                    let sql = format!("COPY {} ({}) FROM STDIN", table.name, table.columns.join(", "));
                    let mut copy = tx.copy_in_raw(&sql).await.with_context(|| sql.clone())?;
                    copy.send(text.into_bytes()).await.with_context(|| format!("loading {}", table.name))?;
                    copy.finish().await.with_context(|| format!("loading {}", table.name))?;
                }
                (Self::Sqlite { tx, .. }, Data::Values(values)) => insert_values(tx, table, values).await?,
                _ => bail!("rows encoded for the other backend"),
            }
        }
        Ok(())
    }

    pub(crate) async fn commit(self) -> anyhow::Result<()> {
        match self {
            Self::Postgres { tx, .. } => tx.commit().await.context("committing the load")?,
            Self::Sqlite { tx, .. } => tx.commit().await.context("committing the load")?,
        }
        Ok(())
    }
}

/// Multi-row INSERTs of at most [`SQLITE_MAX_ROWS`] rows and [`SQLITE_MAX_VALUES`] values each. Plain `?`
/// placeholders, not `$n`: binding a named parameter looks its name up in a list, which makes statements
/// with thousands of them quadratic.
async fn insert_values(tx: &DatabaseTransaction, table: &Table, values: Vec<sea_orm::Value>) -> anyhow::Result<()> {
    let width = table.columns.len();
    let per_statement = (SQLITE_MAX_VALUES / width).min(SQLITE_MAX_ROWS);
    let head = format!("INSERT INTO {} ({}) VALUES ", table.name, table.columns.join(", "));
    let mut full_sql: Option<String> = None;
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let chunk: Vec<sea_orm::Value> = values.by_ref().take(per_statement * width).collect();
        let rows = chunk.len() / width;
        let build = |rows: usize| {
            let mut sql = head.clone();
            for r in 0..rows {
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                for c in 0..width {
                    sql.push_str(if c > 0 { ", ?" } else { "?" });
                }
                sql.push(')');
            }
            sql
        };
        let sql = if rows == per_statement { full_sql.get_or_insert_with(|| build(rows)).clone() } else { build(rows) };
        tx.execute_raw(Statement::from_sql_and_values(DbBackend::Sqlite, sql, chunk))
            .await
            .with_context(|| format!("inserting into {}", table.name))?;
    }
    Ok(())
}

/// After the commit: fresh planner statistics, and on PostgreSQL a vacuum, so the visibility map is set and
/// index-only scans work from the first query on.
pub(crate) async fn analyze(conn: &DatabaseConnection) -> anyhow::Result<()> {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let mut tables = BULK_TABLES.to_vec();
            tables.push("spaces");
            conn.execute_unprepared(&format!("VACUUM (ANALYZE) {}", tables.join(", "))).await?;
        }
        _ => {
            conn.execute_unprepared("ANALYZE").await?;
            conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
    }
    Ok(())
}
