//! The Weco server: the composition root. It reads the configuration, opens the store, builds the schema
//! and serves it.
//!
//! - [`config`]: the typed `Settings` (defaults, environment, flags) and the CLI.
//! - [`startup`]: [`startup::Application`], which binds (port 0 works) and runs until told to stop.
//! - [`state`]: [`state::AppState`], what every handler shares.
//! - [`routes`]: the HTTP surface and its layers; [`auth`]: reading bearer tokens and client addresses;
//!   [`http`]: GraphQL over HTTP to the spec (with APQ); [`limits`]: rate limiting and the server's counters; [`nesting`]: the bracket-depth guard every
//!   document passes before it is parsed.
//! - [`shared_redis`]: the Redis the replicas share (none, one, or a Cluster), for events and persisted queries.
//! - [`tasks`]: the background work — the outbox relay and the job runner.
//! - [`ws`]: GraphQL over WebSocket (`graphql-transport-ws` and the legacy `graphql-ws`).
//! - [`seed`]: `weco seed`, a deterministic generator of realistic data loaded straight into the database.
//! - [`telemetry`] sets up logging.

pub mod auth;
pub mod config;
pub mod http;
pub mod limits;
pub mod nesting;
pub mod routes;
pub mod seed;
pub mod shared_redis;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
