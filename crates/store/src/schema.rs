//! What the store writes, for code that writes the same rows another way and must write exactly what the
//! store would: `weco seed`, whose bulk loader fills a fresh database without going through the store's
//! statements (one row at a time would take hours).
//!
//! Each item is the one the store's own statements use, so a stored word, a copied counter or a score cannot
//! drift between the two. Columns a bulk writer leaves out get the schema's defaults, as the store's own
//! INSERTs do (`state` of spaces, posts and comments). What a bulk writer derives itself (counters, local
//! likes, appearances) is checked against the store's definitions by [`crate::invariants::verify`].

pub use crate::polls::{
    action_kind_to_db, decide_when_to_db, outcome_to_db, poll_type_to_db, visibility_to_db, voter_key, voters_to_db,
};

pub use crate::fragments::{
    COPIED_TOTALS, DIRECT, INDIRECT, POST, REPOST, copied_totals, local_hot, post_hot, post_kinds, privacy,
    space_post_state,
};
