//! The heart of Weco: everything that is true of the product whatever stores or serves it.
//!
//! Shared pieces:
//! - [`ids`]: UUID v7 newtype ids (`SpaceId`, `PostId`, …) and the root space's fixed id.
//! - [`values`]: parse-don't-validate value types (`Handle`, `Email`, `Password`, …).
//! - [`error`]: [`DomainError`], whose codes are the API's `extensions.code`.
//! - [`model`]: rows as the domain sees them (`User`, `Space`, `Post`, …).
//! - [`page`]: keyset pagination (`PageRequest`, `Cursor`, `Page`).
//! - [`auth`]: password hashing (argon2id) and bearer tokens (JWT).
//! - [`actor`]: who acts — a user, a decision of a space, or the system.
//! - [`policy`]: every "who may do this" rule, in one table.
//! - [`privacy`]: the privacy boundary — proofs of access only this crate can make, and space views that
//!   hide what a viewer may not see.
//! - [`events`]: what a committed unit of work announces, as wire types of their own.
//! - [`uow`]: the unit of work — one transaction, the commands run in it, and its events written to the
//!   outbox in the same transaction; the ports every store implements.
//! - [`outbox`]: the relay that publishes committed events and recovers those a crash left behind.
//! - [`jobs`]: the durable job queue and the handlers that run due jobs.
//! - [`ports`]: the ports that are not a database — the event bus, password hashing, the clock.
//! - [`app`]: [`App`], the ports wired together, with one service per area.
//!
//! The areas, each with its ports (`ports.rs`: the repository trait the store implements) and its service
//! (`mod.rs`: the use cases, as commands run through the unit of work, and the reads):
//! [`accounts`], [`holarchy`], [`access`], [`posts`], [`polls`], [`calendar`] (events), [`feeds`], [`people`],
//! [`notifications`], [`chat`], [`commons`].
//!
//! This crate knows no database, no GraphQL and no runtime: it is tested with plain unit tests.

pub mod access;
pub mod accounts;
pub mod actor;
pub mod app;
pub mod auth;
pub mod calendar;
pub mod chat;
pub mod commons;
pub mod error;
pub mod events;
pub mod feeds;
pub mod holarchy;
pub mod ids;
pub mod jobs;
pub mod media;
pub mod model;
pub mod notifications;
pub mod outbox;
pub mod page;
pub mod people;
pub mod policy;
pub mod polls;
pub mod ports;
pub mod posts;
pub mod privacy;
pub mod uow;
pub mod values;

pub use actor::{Actor, Viewer};
pub use app::{App, Ports};
pub use error::{DomainError, DomainResult};
pub use ids::*;
pub use model::*;
pub use page::{Cursor, CursorKey, Page, PageRequest};
pub use privacy::{Accessible, SpaceDetails, SpaceView};
