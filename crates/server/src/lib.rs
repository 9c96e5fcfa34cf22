//! The Weco server: the composition root. It reads the configuration, opens the store, builds the schema
//! and serves it.
//!
//! - [`config`]: the typed `Settings` (defaults, environment, flags) and the CLI.
//! - [`startup`]: [`startup::Application`], which binds (port 0 works) and runs until told to stop.
//! - [`state`]: [`state::AppState`], what every handler shares.
//! - [`routes`]: the HTTP surface and its layers; [`auth`]: reading bearer tokens and client addresses;
//!   [`http`]: GraphQL over HTTP to the spec (with APQ); [`limits`]: the rate limiter, what operations cost,
//!   the login back-off and the server's counters; [`admission`]: what every document passes before it runs
//!   (nesting, one parse, fragment expansion, cost); [`nesting`]: the bracket-depth guard every document passes
//!   before it is parsed.
//! - [`shared_redis`]: the Redis the replicas share (none, one, or a Cluster), for events, persisted queries and
//!   presence ([`presence`]: who is in which chat now, on any replica).
//! - [`tasks`]: the background work — the outbox relay and the job runner.
//! - [`ws`]: GraphQL over WebSocket (`graphql-transport-ws` and the legacy `graphql-ws`).
//! - `weco seed` is the `weco-seed` crate's; [`config::SeedArgs`] maps its flags.
//! - [`telemetry`] sets up logging.

pub mod admission;
pub mod auth;
pub mod calendar_feed;
pub mod config;
pub mod export;
pub mod http;
pub mod limits;
pub mod mail;
pub mod media;
pub mod nesting;
pub mod presence;
pub mod routes;
pub mod shared_redis;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod ws;

pub use config::Settings;
pub use startup::Application;
