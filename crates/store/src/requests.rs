//! Requests that wait for an answer — to attach a space under another, for access to a private space (or an
//! invitation into one), to moderate a space — each a table of rows with an id, a state that starts PENDING,
//! and a creation time, read and answered the same way.

use crate::Db;
use crate::fragments::request_state;
use crate::sql::{Key, Listing, placeholders, uuid_values, v};
use sea_orm::{ConnectionTrait, QueryResult, Value};
use weco_domain::values::RequestState;
use weco_domain::{DomainResult, Page, PageRequest, now};

/// One kind of request: its table (aliased `r` in SQL), the columns a request is read from, and how.
pub(crate) struct Requests<T> {
    pub table: &'static str,
    /// Columns of `r`, as the decoder reads them.
    pub cols: &'static str,
    pub decode: fn(&QueryResult) -> DomainResult<T>,
    /// What a request is called in error contexts.
    pub what: &'static str,
}

impl<T> Requests<T> {
    /// Inserts a request: `columns` (comma-separated) take `values` in order.
    pub(crate) async fn insert<C: ConnectionTrait>(
        &self,
        db: &Db<C>,
        columns: &str,
        values: Vec<Value>,
    ) -> DomainResult<()> {
        let sql = format!("INSERT INTO {} ({columns}) VALUES ({})", self.table, placeholders(1, values.len()));
        db.sql().exec(&format!("filing {}", self.what), &sql, values).await.map(drop)
    }

    pub(crate) async fn by_ids<C: ConnectionTrait, I: Copy + Into<uuid::Uuid>>(
        &self,
        db: &Db<C>,
        ids: &[I],
    ) -> DomainResult<Vec<T>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {} FROM {} r WHERE r.id IN ({})", self.cols, self.table, placeholders(1, ids.len()));
        let rows = db.sql().all(&format!("loading {}s", self.what), &sql, uuid_values(ids)).await?;
        rows.iter().map(self.decode).collect()
    }

    /// The pending request where `condition` (on `r`) holds, if any.
    pub(crate) async fn pending<C: ConnectionTrait>(
        &self,
        db: &Db<C>,
        condition: &str,
        values: Vec<Value>,
    ) -> DomainResult<Option<T>> {
        let sql = format!("SELECT {} FROM {} r WHERE {condition} AND r.state = 'PENDING'", self.cols, self.table);
        let row = db.sql().one(&format!("finding {}", self.what), &sql, values).await?;
        row.as_ref().map(self.decode).transpose()
    }

    /// Moves a pending request to `state`, setting `resolved_at` and the columns of `extra` (`column = value`
    /// pairs); `false` when it was no longer pending.
    pub(crate) async fn resolve<C: ConnectionTrait>(
        &self,
        db: &Db<C>,
        id: uuid::Uuid,
        state: RequestState,
        extra: &[(&str, Value)],
    ) -> DomainResult<bool> {
        let mut set = "state = $2, resolved_at = $3".to_owned();
        let mut values = vec![v(id), v(request_state(state)), v(now())];
        for (column, value) in extra {
            values.push(value.clone());
            set.push_str(&format!(", {column} = ${}", values.len()));
        }
        let sql = format!("UPDATE {} SET {set} WHERE id = $1 AND state = 'PENDING'", self.table);
        Ok(db.sql().exec(&format!("answering {}", self.what), &sql, values).await? > 0)
    }

    /// Pending requests where `condition` (on `r`, and `s`, the space `r.{space_column}`, which must be active)
    /// holds, oldest first.
    pub(crate) async fn pending_page<C: ConnectionTrait>(
        &self,
        db: &Db<C>,
        space_column: &str,
        condition: &str,
        values: Vec<Value>,
        page: &PageRequest,
    ) -> DomainResult<Page<T>> {
        let listing = Listing {
            context: "listing requests",
            select: self.cols,
            base: format!(
                "FROM {} r JOIN spaces s ON s.id = r.{space_column} AND s.state = 'ACTIVE' \
                 WHERE {condition} AND r.state = 'PENDING'",
                self.table
            ),
            values,
            key: Key::Time("r.created_at"),
            id: "r.id",
            descending: false,
            with_total: true,
        };
        db.sql().page(listing, page, self.decode).await
    }
}
