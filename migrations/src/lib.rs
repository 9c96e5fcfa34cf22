//! Weco's schema, as ordered migrations that run on PostgreSQL and SQLite.
//!
//! Each migration writes its DDL once, with a few type words ([`Dialect`]) filled in per backend, so the
//! two schemas cannot drift apart.

pub use sea_orm_migration::prelude::*;

mod dialect;
mod m20261126_000001_accounts_and_holarchy;
mod m20261126_000002_posts;
mod m20261126_000003_access;
mod m20261204_000004_outbox_and_jobs;
mod m20261204_000010_private_above;
mod m20261204_000011_space_deltas;
mod m20261205_000011_polls;
mod m20261205_000030_sessions;
mod m20261205_000040_people_and_notifications;
mod m20261205_000041_streams;
mod m20261205_000050_account_recovery;
mod m20261205_000050_chats;
mod m20261205_000050_events;
mod m20261205_000050_media;
mod m20261205_000051_post_edits;
mod m20261205_000051_post_reposts;
mod m20261205_000052_link_likes;
mod m20261205_000060_activity;
mod m20261205_000061_open_data;

pub use dialect::Dialect;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_accounts_and_holarchy::Migration),
            Box::new(m20261126_000002_posts::Migration),
            Box::new(m20261126_000003_access::Migration),
            Box::new(m20261204_000004_outbox_and_jobs::Migration),
            Box::new(m20261204_000010_private_above::Migration),
            Box::new(m20261204_000011_space_deltas::Migration),
            Box::new(m20261205_000011_polls::Migration),
            Box::new(m20261205_000030_sessions::Migration),
            Box::new(m20261205_000040_people_and_notifications::Migration),
            Box::new(m20261205_000041_streams::Migration),
            Box::new(m20261205_000050_account_recovery::Migration),
            Box::new(m20261205_000050_chats::Migration),
            Box::new(m20261205_000050_events::Migration),
            Box::new(m20261205_000050_media::Migration),
            Box::new(m20261205_000051_post_edits::Migration),
            Box::new(m20261205_000051_post_reposts::Migration),
            Box::new(m20261205_000052_link_likes::Migration),
            Box::new(m20261205_000060_activity::Migration),
            Box::new(m20261205_000061_open_data::Migration),
        ]
    }
}
