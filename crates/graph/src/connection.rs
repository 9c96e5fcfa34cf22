//! Relay connections with opaque keyset cursors.

use crate::error::ApiError;
use async_graphql::SimpleObject;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use weco_domain::{Cursor, DomainError, Page, PageRequest};

/// Where a page is in its listing.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// More items follow the last one of this page.
    pub has_next_page: bool,
    /// Items precede the first one of this page.
    pub has_previous_page: bool,
    /// The cursor of the first item.
    pub start_cursor: Option<String>,
    /// The cursor of the last item; pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

pub(crate) fn encode_cursor(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(cursor.encode())
}

pub(crate) fn decode_cursor(raw: &str) -> Result<Cursor, ApiError> {
    let malformed = || ApiError(DomainError::validation("after", "is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    Cursor::decode(&text, "after").map_err(ApiError)
}

/// Counters are 64-bit in the store and `Int` (32-bit) in GraphQL; they saturate rather than wrap.
pub(crate) fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(if n < 0 { i32::MIN } else { i32::MAX })
}

/// The page size when a client gives none (or null).
pub(crate) const DEFAULT_PAGE_SIZE: i32 = 20;

/// The cost of a connection field for the query cost limit: what one item's selection costs, times the
/// items it may return (`first`, at least one), plus the field itself. Nested connections multiply, so
/// `descendants(first: 100) { posts(first: 100) { comments(first: 100) … } }` costs a million and more.
pub(crate) fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, weco_domain::page::MAX_PAGE_SIZE as i32) as usize;
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// Validates `first` (0 to 100; null means the default) and decodes `after`.
pub(crate) fn page_request(first: Option<i32>, after: Option<&str>) -> Result<PageRequest, ApiError> {
    let after = after.map(decode_cursor).transpose()?;
    Ok(PageRequest::new(i64::from(first.unwrap_or(DEFAULT_PAGE_SIZE)), after)?)
}

/// [`page_request`] for a connection field: its rows are counted only when the query selects `totalCount`.
pub(crate) fn page_request_in(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<PageRequest, ApiError> {
    let page = page_request(first, after)?;
    Ok(if ctx.look_ahead().field("totalCount").exists() { page } else { page.without_total() })
}

/// Builds `(edges as (cursor, node), page info, total)` from a domain page.
pub(crate) fn parts<T, N>(page: Page<T>, mut node: impl FnMut(T) -> N) -> (Vec<(String, N)>, PageInfo, i32) {
    let edges: Vec<(String, N)> = page.items.into_iter().map(|(c, t)| (encode_cursor(&c), node(t))).collect();
    let info = PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start_cursor: edges.first().map(|(c, _)| c.clone()),
        end_cursor: edges.last().map(|(c, _)| c.clone()),
    };
    let total = page.total_count.unwrap_or(edges.len() as i64);
    (edges, info, i32::try_from(total).unwrap_or(i32::MAX))
}

/// Declares `XConnection` and `XEdge` for node type `X`.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty, $what:literal) => {
        #[doc = concat!("An edge to one ", $what, ".")]
        #[derive(async_graphql::SimpleObject, Clone)]
        pub struct $edge {
            /// Opaque; pass as `after` to continue after this item.
            pub cursor: String,
            pub node: $node,
        }

        #[doc = concat!("A page of ", $what, "s.")]
        #[derive(async_graphql::SimpleObject, Clone)]
        pub struct $conn {
            pub edges: Vec<$edge>,
            /// The nodes of `edges`, for clients that need no cursors.
            pub nodes: Vec<$node>,
            pub page_info: $crate::connection::PageInfo,
            /// How many items the whole listing holds.
            pub total_count: i32,
        }

        impl $conn {
            pub(crate) fn from_page<T>(page: weco_domain::Page<T>, node: impl FnMut(T) -> $node) -> Self {
                let (edges, page_info, total_count) = $crate::connection::parts(page, node);
                Self {
                    nodes: edges.iter().map(|(_, n)| n.clone()).collect(),
                    edges: edges.into_iter().map(|(cursor, node)| $edge { cursor, node }).collect(),
                    page_info,
                    total_count,
                }
            }
        }
    };
}

pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;
    use weco_domain::CursorKey;

    #[test]
    fn cursors_are_opaque_and_round_trip() {
        let c = Cursor::new(CursorKey::Int(17), uuid::Uuid::now_v7());
        let encoded = encode_cursor(&c);
        assert!(!encoded.contains(':'));
        assert_eq!(decode_cursor(&encoded).ok(), Some(c));
    }

    #[test]
    fn a_connection_costs_its_items_times_their_selection() {
        assert_eq!(cost(Some(100), 3), 301);
        assert_eq!(cost(None, 3), 61);
        assert_eq!(cost(Some(0), 3), 4);
        assert_eq!(cost(Some(100), cost(Some(100), cost(Some(100), 2))), 2_010_101);
    }

    #[test]
    fn garbage_cursors_and_oversized_pages_are_validation_errors() {
        assert_eq!(page_request(Some(20), Some("%%%")).map_err(|e| e.0.code()).err(), Some("VALIDATION"));
        assert_eq!(page_request(Some(20), Some("aGVsbG8")).map_err(|e| e.0.code()).err(), Some("VALIDATION"));
        assert_eq!(page_request(Some(101), None).map_err(|e| e.0.code()).err(), Some("VALIDATION"));
        assert!(page_request(Some(100), None).is_ok());
    }
}
