//! Keyset pagination. A cursor names the last row seen by its sort key and id; the next page starts
//! strictly after it. No OFFSET anywhere, so a page costs the same wherever it is.

use crate::error::{DomainError, DomainResult};
use uuid::Uuid;

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The sort key part of a cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CursorKey {
    /// The id alone orders the listing.
    None,
    /// An integer key (a counter, or a time in microseconds).
    Int(i64),
    /// A floating-point key (a score).
    Float(f64),
}

/// A position in a listing: the sort key and id of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub key: CursorKey,
    pub id: Uuid,
}

impl Cursor {
    pub fn new(key: CursorKey, id: Uuid) -> Self {
        Self { key, id }
    }

    /// The cursor's plain form (the API wraps it opaquely).
    pub fn encode(&self) -> String {
        match self.key {
            CursorKey::None => format!("n:{}", self.id.simple()),
            CursorKey::Int(v) => format!("i{v}:{}", self.id.simple()),
            CursorKey::Float(v) => format!("f{:016x}:{}", v.to_bits(), self.id.simple()),
        }
    }

    pub fn decode(raw: &str, field: &str) -> DomainResult<Self> {
        let malformed = || DomainError::validation(field, "is not a valid cursor");
        let (key, id) = raw.split_once(':').ok_or_else(malformed)?;
        let id = Uuid::try_parse(id).map_err(|_| malformed())?;
        let key = match key.split_at_checked(1).ok_or_else(malformed)? {
            ("n", "") => CursorKey::None,
            ("i", v) => CursorKey::Int(v.parse().map_err(|_| malformed())?),
            ("f", v) => {
                let bits = u64::from_str_radix(v, 16).map_err(|_| malformed())?;
                let f = f64::from_bits(bits);
                if !f.is_finite() {
                    return Err(malformed());
                }
                CursorKey::Float(f)
            }
            _ => return Err(malformed()),
        };
        Ok(Self { key, id })
    }

    pub fn int_key(&self, field: &str) -> DomainResult<i64> {
        match self.key {
            CursorKey::Int(v) => Ok(v),
            _ => Err(DomainError::validation(field, "cursor belongs to a different ordering")),
        }
    }

    pub fn float_key(&self, field: &str) -> DomainResult<f64> {
        match self.key {
            CursorKey::Float(v) => Ok(v),
            _ => Err(DomainError::validation(field, "cursor belongs to a different ordering")),
        }
    }
}

/// A validated page request: at most [`MAX_PAGE_SIZE`] rows after an optional cursor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageRequest {
    pub first: i64,
    pub after: Option<Cursor>,
    /// Whether listings that can count their rows should (a `COUNT(*)` over the whole listing): only when
    /// the caller will show the total.
    pub count_total: bool,
}

impl PageRequest {
    pub fn new(first: i64, after: Option<Cursor>) -> DomainResult<Self> {
        if first < 0 {
            return Err(DomainError::validation("first", "must not be negative"));
        }
        if first > MAX_PAGE_SIZE {
            return Err(DomainError::validation("first", format!("must be at most {MAX_PAGE_SIZE}")));
        }
        Ok(Self { first, after, count_total: true })
    }

    pub fn first(n: i64) -> Self {
        Self { first: n.clamp(0, MAX_PAGE_SIZE), after: None, count_total: true }
    }

    /// The same request, without counting the listing's rows.
    pub fn without_total(self) -> Self {
        Self { count_total: false, ..self }
    }

    /// How many rows to fetch: one more than asked, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.first + 1
    }
}

/// One page of a listing. Each item comes with its cursor.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(Cursor, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    /// Set for listings whose size the API reports (`totalCount`).
    pub total_count: Option<i64>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub fn from_rows(mut rows: Vec<(Cursor, T)>, request: &PageRequest) -> Self {
        let has_next_page = rows.len() as i64 > request.first;
        rows.truncate(request.first.max(0) as usize);
        Self { items: rows, has_next_page, has_previous_page: request.after.is_some(), total_count: None }
    }

    pub fn with_total(mut self, total: i64) -> Self {
        self.total_count = Some(total);
        self
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(|(c, t)| (c, f(t))).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            total_count: self.total_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_survive_a_round_trip_for_every_key_kind() {
        let id = Uuid::now_v7();
        for key in [CursorKey::None, CursorKey::Int(-42), CursorKey::Int(1_700_000_000_000_000), CursorKey::Float(3.25)]
        {
            let c = Cursor::new(key, id);
            assert_eq!(Cursor::decode(&c.encode(), "after").ok(), Some(c));
        }
    }

    #[test]
    fn a_malformed_cursor_is_a_validation_error() {
        for bad in [
            "",
            "x",
            "i:nope",
            "i12:not-a-uuid",
            "q1:0190f0f0f0f0f0f0f0f0f0f0f0f0f0f0",
            "fzz:0190f0f0f0f0f0f0f0f0f0f0f0f0f0f0",
        ] {
            let err = Cursor::decode(bad, "after").expect_err(bad);
            assert_eq!(err.code(), "VALIDATION");
        }
    }

    #[test]
    fn more_than_a_hundred_rows_per_page_is_refused() {
        assert!(PageRequest::new(100, None).is_ok());
        assert_eq!(PageRequest::new(101, None).map_err(|e| e.code()), Err("VALIDATION"));
        assert!(PageRequest::new(-1, None).is_err());
    }

    #[test]
    fn a_page_built_from_one_extra_row_knows_another_follows() {
        let req = PageRequest::new(2, None).expect("valid");
        let rows: Vec<(Cursor, u8)> = (0..3).map(|i| (Cursor::new(CursorKey::Int(i), Uuid::nil()), i as u8)).collect();
        let page = Page::from_rows(rows, &req);
        assert_eq!(page.items.len(), 2);
        assert!(page.has_next_page);
    }
}
