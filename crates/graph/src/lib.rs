//! Weco's GraphQL schema. It knows the domain and nothing below it: it builds and prints its SDL with no
//! database, and a server feeds it an [`weco_domain::App`] and a per-request [`RequestScope`].
//!
//! Shared pieces:
//! - [`error`]: the one mapping from `DomainError` to GraphQL errors with `extensions.code`.
//! - `ids`, `connection`: ID parsing, opaque cursors, Relay connections and their cost for the query limit.
//! - `scope`: the request's viewer and its DataLoaders, so nested fields cost one batched query per level.
//! - `enums`: the schema's enums.
//! - `budget`: the cost limit and the response size held at run time, while the operation resolves.
//!
//! One module per area, each with its types, its query and mutation roots and its loaders: `accounts`,
//! `holarchy`, `access`, `posts`, `polls`, `feeds`, `people`, `notifications`, `chat`; `subscription` streams live feeds,
//! `holarchy`, `access`, `posts`, `polls`, `calendar` (events), `feeds`, `people`, `notifications`; `subscription` streams live feeds,
//! post updates and notifications. The roots
//! below merge the areas' roots: a new area adds one name to each.

pub mod error;

mod access;
mod accounts;
mod budget;
mod calendar;
mod chat;
mod commons;
mod connection;
mod enums;
mod feeds;
mod holarchy;
mod ids;
mod media;
mod notifications;
mod people;
mod polls;
mod posts;
mod scope;
mod subscription;

use async_graphql::{MergedObject, Schema, SchemaBuilder};
use weco_domain::App;

pub use error::ApiError;
pub use scope::RequestScope;
pub use subscription::Subscription;

/// The query root: each area's queries.
#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountQuery,
    holarchy::SpaceQuery,
    posts::PostQuery,
    feeds::FeedQuery,
    access::AccessQuery,
    people::PeopleQuery,
    chat::ChatQuery,
    commons::CommonsQuery,
);

/// The mutation root: each area's mutations. Every mutation is one unit of work in the domain.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    holarchy::SpaceMutation,
    posts::PostMutation,
    posts::LinkMutation,
    polls::PollMutation,
    calendar::EventMutation,
    access::AccessMutation,
    people::PeopleMutation,
    notifications::NotificationMutation,
    chat::ChatMutation,
);

/// The executable schema.
pub type WecoSchema = Schema<Query, Mutation, Subscription>;

/// Limits every deployment gets.
#[derive(Debug, Clone, Copy)]
pub struct SchemaLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Most bytes of text one operation may resolve (see `budget`).
    pub max_response_bytes: usize,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self { max_depth: 16, max_complexity: 50_000, max_response_bytes: 16 * 1024 * 1024 }
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
        .extension(error::InputErrors)
        .extension(budget::ResolveBudget {
            max_resolved: limits.max_complexity.saturating_mul(2),
            max_bytes: limits.max_response_bytes,
        })
}

/// The SDL clients are written against (what `schema.graphql` holds).
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), Subscription).finish().sdl()
}
