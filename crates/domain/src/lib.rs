//! The heart of Weco: everything that is true of the product whatever stores or serves it.
//!
//! - [`ids`]: UUID v7 newtype ids (`SpaceId`, `PostId`, …) and the root space's fixed id.
//! - [`values`]: parse-don't-validate value types (`Handle`, `Email`, `Password`, …).
//! - [`error`]: [`DomainError`], whose codes are the API's `extensions.code`.
//! - [`model`]: rows as the domain sees them (`User`, `Space`, `SpaceRequest`, …).
//! - [`page`]: keyset pagination (`PageRequest`, `Cursor`, `Page`).
//! - [`auth`]: password hashing (argon2id) and bearer tokens (JWT).
//! - [`ports`]: the async traits the store and the event bus implement.
//! - [`events`]: what the domain announces after a commit.
//! - [`services`]: the use cases — they check permissions and privacy, then act through the ports.
//!
//! This crate knows no database, no GraphQL and no runtime: it is tested with plain unit tests.

pub mod auth;
pub mod error;
pub mod events;
pub mod ids;
pub mod model;
pub mod page;
pub mod ports;
pub mod services;
pub mod values;

pub use error::{DomainError, DomainResult};
pub use ids::*;
pub use model::*;
pub use page::{Cursor, CursorKey, Page, PageRequest};
pub use services::App;
