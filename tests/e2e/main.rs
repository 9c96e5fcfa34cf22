//! End-to-end tests: the real server, over HTTP, on SQLite and on PostgreSQL. One binary, one module per area.

mod access_live;
mod accounts;
mod budgets;
mod clients;
mod cluster;
mod holarchy;
mod home_feed;
mod http;
mod limits;
mod nesting_limits;
mod notifications;
mod operations;
mod people;
mod permissions;
mod posts;
mod privacy;
mod privacy_model;
mod read_replicas;
mod realtime;
mod replicas;
mod sessions;
mod shape;
mod shape_contention;
mod shape_outbox;
mod standards;
mod streams;
