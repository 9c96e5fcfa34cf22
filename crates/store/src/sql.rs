//! Statement helpers. SQL is written once with `$n` placeholders, which both PostgreSQL and SQLite accept.

use crate::error::db_err;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TryGetable, Value};
use weco_domain::{DomainError, DomainResult};

pub(crate) struct Sql<'c, C> {
    pub conn: &'c C,
    pub backend: DbBackend,
}

impl<C: ConnectionTrait> Sql<'_, C> {
    fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, values)
    }

    pub async fn all(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<Vec<QueryResult>> {
        self.conn.query_all_raw(self.stmt(sql, values)).await.map_err(|e| db_err(context, e))
    }

    pub async fn one(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<Option<QueryResult>> {
        self.conn.query_one_raw(self.stmt(sql, values)).await.map_err(|e| db_err(context, e))
    }

    /// Runs a statement and returns the number of rows it touched.
    pub async fn exec(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<u64> {
        self.conn.execute_raw(self.stmt(sql, values)).await.map(|r| r.rows_affected()).map_err(|e| db_err(context, e))
    }

    /// A single value from a single row.
    pub async fn scalar<T: TryGetable>(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<T> {
        let row = self.one(context, sql, values).await?.ok_or_else(|| DomainError::internal(context, "no row"))?;
        get(&row, context, "v")
    }

    /// `LEAST` on PostgreSQL, `MIN` on SQLite (two-argument scalar forms).
    pub fn least(&self) -> &'static str {
        if self.backend == DbBackend::Postgres { "LEAST" } else { "MIN" }
    }
}

/// Reads column `col` of `row`.
pub(crate) fn get<T: TryGetable>(row: &QueryResult, context: &str, col: &str) -> DomainResult<T> {
    row.try_get::<T>("", col).map_err(|e| DomainError::internal(context, format!("column {col}: {e}")))
}

/// `$start, $start+1, …` for `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn uuid_values<T: Copy + Into<uuid::Uuid>>(ids: &[T]) -> Vec<Value> {
    ids.iter().map(|id| Value::Uuid(Some((*id).into()))).collect()
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_contains(query: &str) -> String {
    let mut out = String::with_capacity(query.len() + 2);
    out.push('%');
    for c in query.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) fn v<T: Into<Value>>(x: T) -> Value {
    x.into()
}

/// What a listing is ordered by (then by id, in the same direction).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key {
    /// An integer expression.
    Int(&'static str),
    /// A timestamp expression; cursors carry it in microseconds.
    Time(&'static str),
    /// The id alone.
    IdOnly,
}

impl Key {
    fn expr(self) -> Option<&'static str> {
        match self {
            Key::Int(e) | Key::Time(e) => Some(e),
            Key::IdOnly => None,
        }
    }
}

/// One keyset-paginated listing: `SELECT {select}, key FROM/WHERE {base} AND keyset ORDER BY key, id LIMIT n+1`.
pub(crate) struct Listing<'a> {
    pub context: &'a str,
    /// The select list (without the sort key).
    pub select: &'a str,
    /// `FROM … WHERE …` (there is always a WHERE, so the keyset condition can be AND-ed on).
    pub base: String,
    pub values: Vec<Value>,
    pub key: Key,
    /// The id column to break ties with.
    pub id: &'static str,
    pub descending: bool,
    pub with_total: bool,
}

impl<C: ConnectionTrait> Sql<'_, C> {
    pub async fn page<T>(
        &self,
        listing: Listing<'_>,
        page: &weco_domain::PageRequest,
        decode: impl Fn(&QueryResult) -> DomainResult<T>,
    ) -> DomainResult<weco_domain::Page<T>> {
        use weco_domain::{Cursor, CursorKey, Page};
        let Listing { context, select, base, mut values, key, id, descending, with_total } = listing;
        let total = if with_total {
            Some(self.scalar::<i64>(context, &format!("SELECT COUNT(*) AS v {base}"), values.clone()).await?)
        } else {
            None
        };
        let (cmp, dir) = if descending { ("<", "DESC") } else { (">", "ASC") };
        let mut sql = format!("SELECT {select}");
        if let Some(expr) = key.expr() {
            sql.push_str(&format!(", {expr} AS sort_key"));
        }
        sql.push(' ');
        sql.push_str(&base);
        if let Some(after) = page.after {
            let n = values.len();
            match key {
                Key::IdOnly => {
                    sql.push_str(&format!(" AND {id} {cmp} ${}", n + 1));
                    values.push(Value::Uuid(Some(after.id)));
                }
                Key::Int(expr) | Key::Time(expr) => {
                    let k = after.int_key("after")?;
                    let key_value = match key {
                        Key::Time(_) => Value::ChronoDateTimeUtc(Some(
                            chrono::DateTime::from_timestamp_micros(k)
                                .ok_or_else(|| DomainError::validation("after", "is not a valid cursor"))?,
                        )),
                        _ => Value::BigInt(Some(k)),
                    };
                    sql.push_str(&format!(
                        " AND ({expr} {cmp} ${a} OR ({expr} = ${a} AND {id} {cmp} ${b}))",
                        a = n + 1,
                        b = n + 2
                    ));
                    values.push(key_value);
                    values.push(Value::Uuid(Some(after.id)));
                }
            }
        }
        match key.expr() {
            Some(expr) => sql.push_str(&format!(" ORDER BY {expr} {dir}, {id} {dir}")),
            None => sql.push_str(&format!(" ORDER BY {id} {dir}")),
        }
        sql.push_str(&format!(" LIMIT {}", page.fetch_limit()));
        let rows = self.all(context, &sql, values).await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let item = decode(row)?;
            let row_id: uuid::Uuid = get(row, context, "id")?;
            let cursor_key = match key {
                Key::IdOnly => CursorKey::None,
                Key::Int(_) => CursorKey::Int(get::<i64>(row, context, "sort_key")?),
                Key::Time(_) => {
                    CursorKey::Int(get::<chrono::DateTime<chrono::Utc>>(row, context, "sort_key")?.timestamp_micros())
                }
            };
            items.push((Cursor::new(cursor_key, row_id), item));
        }
        let mut result = Page::from_rows(items, page);
        if let Some(total) = total {
            result = result.with_total(total);
        }
        Ok(result)
    }
}
