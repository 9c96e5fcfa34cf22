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

    /// Whether the query finds a row.
    pub async fn exists(&self, context: &str, sql: &str, values: Vec<Value>) -> DomainResult<bool> {
        Ok(self.one(context, sql, values).await?.is_some())
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

/// The viewer bound as `$1` and `ids` after it: the values, and the placeholders of the ids (`$2, $3, …`).
pub(crate) fn viewer_then_ids<T: Copy + Into<uuid::Uuid>>(
    viewer: Option<weco_domain::UserId>,
    ids: &[T],
) -> (Vec<Value>, String) {
    let mut values = vec![crate::fragments::viewer_value(viewer)];
    values.extend(uuid_values(ids));
    (values, placeholders(2, ids.len()))
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
    /// A floating-point expression (a score).
    Float(&'static str),
    /// The id alone.
    IdOnly,
}

impl Key {
    pub(crate) fn expr(self) -> Option<&'static str> {
        match self {
            Key::Int(e) | Key::Time(e) | Key::Float(e) => Some(e),
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
        use weco_domain::{Cursor, Page};
        let Listing { context, select, base, mut values, key, id, descending, with_total } = listing;
        let total = if with_total && page.count_total {
            Some(self.scalar::<i64>(context, &format!("SELECT COUNT(*) AS v {base}"), values.clone()).await?)
        } else {
            None
        };
        let dir = if descending { "DESC" } else { "ASC" };
        let mut sql = format!("SELECT {select}");
        if let Some(expr) = key.expr() {
            sql.push_str(&format!(", {expr} AS sort_key"));
        }
        sql.push(' ');
        sql.push_str(&base);
        if let Some(after) = &page.after {
            sql.push_str(&keyset_clause(key, id, descending, after, &mut values)?);
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
            items.push((Cursor::new(cursor_key(row, key, context)?, row_id), item));
        }
        let mut result = Page::from_rows(items, page);
        if let Some(total) = total {
            result = result.with_total(total);
        }
        Ok(result)
    }
}

/// The cursor key of a row that selected `key` as `sort_key`.
pub(crate) fn cursor_key(row: &QueryResult, key: Key, context: &str) -> DomainResult<weco_domain::CursorKey> {
    use weco_domain::CursorKey;
    Ok(match key {
        Key::IdOnly => CursorKey::None,
        Key::Int(_) => CursorKey::Int(get::<i64>(row, context, "sort_key")?),
        Key::Float(_) => CursorKey::Float(get::<f64>(row, context, "sort_key")?),
        Key::Time(_) => {
            CursorKey::Int(get::<chrono::DateTime<chrono::Utc>>(row, context, "sort_key")?.timestamp_micros())
        }
    })
}

/// ` AND (key < $k OR (key = $k AND id < $id))` (or `>` ascending) for the rows after `after`; binds its values.
pub(crate) fn keyset_clause(
    key: Key,
    id: &str,
    descending: bool,
    after: &weco_domain::Cursor,
    values: &mut Vec<Value>,
) -> DomainResult<String> {
    let cmp = if descending { "<" } else { ">" };
    let n = values.len();
    let key_value = match key {
        Key::IdOnly => {
            values.push(Value::Uuid(Some(after.id)));
            return Ok(format!(" AND {id} {cmp} ${}", n + 1));
        }
        Key::Int(_) => Value::BigInt(Some(after.int_key("after")?)),
        Key::Float(_) => Value::Double(Some(after.float_key("after")?)),
        Key::Time(_) => Value::ChronoDateTimeUtc(Some(
            chrono::DateTime::from_timestamp_micros(after.int_key("after")?)
                .ok_or_else(|| DomainError::validation("after", "is not a valid cursor"))?,
        )),
    };
    let expr = key.expr().unwrap_or(id);
    values.push(key_value);
    values.push(Value::Uuid(Some(after.id)));
    Ok(format!(" AND ({expr} {cmp} ${a} OR ({expr} = ${a} AND {id} {cmp} ${b}))", a = n + 1, b = n + 2))
}

impl<C: ConnectionTrait> Sql<'_, C> {
    /// On PostgreSQL, locks the spaces rows selected by `ids_sql` in id order, exclusively (`FOR UPDATE`): for
    /// edits of the tree, of privacy and of membership, which recount what flows into those spaces and must not
    /// run beside a write that counts in them ([`Self::share_spaces`]). Taken in id order, before any change, so
    /// overlapping edits queue instead of deadlocking. SQLite transactions here are already serialised.
    pub async fn lock_spaces(&self, ids_sql: &str, values: Vec<Value>) -> DomainResult<()> {
        self.lock_spaces_in(ids_sql, values, "FOR UPDATE").await
    }

    /// Locks (on PostgreSQL) the spaces `ids_sql` selects, in id order, for a write that counts in them (a post,
    /// a like, a comment): `FOR KEY SHARE`, which such writes share with one another and which only a tree edit's
    /// [`Self::lock_spaces`] excludes. Their totals change through `space_deltas`, never in place, so no two of
    /// them wait for the same row.
    pub async fn share_spaces(&self, ids_sql: &str, values: Vec<Value>) -> DomainResult<()> {
        self.lock_spaces_in(ids_sql, values, "FOR KEY SHARE").await
    }

    async fn lock_spaces_in(&self, ids_sql: &str, values: Vec<Value>, mode: &str) -> DomainResult<()> {
        if self.backend == DbBackend::Postgres {
            let sql = format!("SELECT id FROM spaces WHERE id IN ({ids_sql}) ORDER BY id {mode}");
            self.all("locking spaces", &sql, values).await?;
        }
        Ok(())
    }
}
