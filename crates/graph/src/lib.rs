//! Weco's GraphQL schema. It knows the domain and nothing below it: it builds and prints its SDL with no
//! database, and a server feeds it an [`weco_domain::App`] and a per-request [`RequestScope`].
//!
//! - [`error`]: the one mapping from `DomainError` to GraphQL errors with `extensions.code`.
//! - `ids`, `connection`: ID parsing, opaque cursors and Relay connections.
//! - `loaders`: per-request DataLoaders, so nested fields cost one batched query per level.
//! - `types`: the object types (`User`, `Space`, `SpaceRequest`, …).
//! - `query`, `mutation`: the roots, merged per area; `subscription`: live feeds and post updates.

pub mod error;

mod connection;
mod ids;
mod loaders;
mod mutation;
mod query;
mod scope;
mod subscription;
mod types;

use async_graphql::{Schema, SchemaBuilder};
use weco_domain::App;

pub use error::ApiError;
pub use mutation::Mutation;
pub use query::Query;
pub use scope::RequestScope;
pub use subscription::Subscription;

/// The executable schema.
pub type WecoSchema = Schema<Query, Mutation, Subscription>;

/// Limits every deployment gets.
#[derive(Debug, Clone, Copy)]
pub struct SchemaLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// How stale a `postUpdates` subscriber's right to see its post may become: before delivering an event,
    /// the subscription re-checks visibility if it last did longer ago than this.
    pub access_recheck: std::time::Duration,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self { max_depth: 16, max_complexity: 5_000, access_recheck: std::time::Duration::from_secs(15) }
    }
}

/// The schema with `app` as its data.
pub fn build_schema(app: App, limits: SchemaLimits) -> WecoSchema {
    schema_builder(app, limits).finish()
}

/// [`build_schema`] before `finish`, for a host that adds extensions (such as tracing).
pub fn schema_builder(app: App, limits: SchemaLimits) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .data(app)
        .data(limits)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
}

/// The SDL clients are written against (what `schema.graphql` holds).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription).finish().sdl()
}
