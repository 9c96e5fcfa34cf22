//! Users, spaces, the holarchy (edges and closure), roles, follows and requests; the root space `all`.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, Value};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE users (
    id {uuid} PRIMARY KEY,
    handle TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    bio TEXT,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX users_handle_key ON users (handle);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE spaces (
    id {uuid} PRIMARY KEY,
    handle TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    privacy TEXT NOT NULL CHECK (privacy IN ('PUBLIC', 'PRIVATE')),
    creator_id {uuid} REFERENCES users (id),
    created_at {ts} NOT NULL,
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'DELETED')),
    total_posts {int} NOT NULL DEFAULT 0,
    total_post_likes {int} NOT NULL DEFAULT 0,
    total_comments {int} NOT NULL DEFAULT 0,
    total_followers {int} NOT NULL DEFAULT 0,
    last_activity_at {ts} NOT NULL
);
CREATE UNIQUE INDEX spaces_handle_key ON spaces (handle);
CREATE INDEX spaces_name_idx ON spaces (lower(name));
-- Privacy checks look for the private spaces above a space; few spaces are private.
CREATE INDEX spaces_private_idx ON spaces (id) WHERE privacy = 'PRIVATE';

-- Direct edges of the DAG.
CREATE TABLE space_parents (
    parent_id {uuid} NOT NULL REFERENCES spaces (id),
    child_id {uuid} NOT NULL REFERENCES spaces (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX space_parents_child_idx ON space_parents (child_id, parent_id);

-- Every (ancestor, descendant) pair with its shortest distance; self rows at depth 0. `flows` says whether
-- posts in the descendant appear in the ancestor (docs/privacy.md, rule 2).
CREATE TABLE space_closure (
    ancestor_id {uuid} NOT NULL REFERENCES spaces (id),
    descendant_id {uuid} NOT NULL REFERENCES spaces (id),
    depth {int} NOT NULL,
    flows {bool} NOT NULL DEFAULT TRUE,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX space_closure_descendant_idx ON space_closure (descendant_id, ancestor_id);

CREATE TABLE space_moderators (
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_moderators_user_idx ON space_moderators (user_id, space_id);

-- Who holds access to a private space (moderators always do).
CREATE TABLE space_members (
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_members_user_idx ON space_members (user_id, space_id);

CREATE TABLE space_followers (
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (space_id, user_id)
);
CREATE INDEX space_followers_user_idx ON space_followers (user_id, space_id);

-- Requests to attach a child under a parent whose moderators must agree.
CREATE TABLE space_requests (
    id {uuid} PRIMARY KEY,
    child_id {uuid} NOT NULL REFERENCES spaces (id),
    parent_id {uuid} NOT NULL REFERENCES spaces (id),
    requester_id {uuid} NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('PENDING', 'ACCEPTED', 'REJECTED')),
    created_at {ts} NOT NULL,
    resolved_at {ts},
    resolver_id {uuid} REFERENCES users (id)
);
CREATE UNIQUE INDEX space_requests_pending_key ON space_requests (child_id, parent_id) WHERE state = 'PENDING';
CREATE INDEX space_requests_parent_idx ON space_requests (parent_id, state, created_at);

-- Requests for (and invitations to) access to private spaces.
CREATE TABLE space_access_requests (
    id {uuid} PRIMARY KEY,
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('REQUEST', 'INVITE')),
    state TEXT NOT NULL CHECK (state IN ('PENDING', 'ACCEPTED', 'REJECTED')),
    created_at {ts} NOT NULL,
    resolved_at {ts},
    resolver_id {uuid} REFERENCES users (id)
);
CREATE UNIQUE INDEX space_access_requests_pending_key ON space_access_requests (space_id, user_id) WHERE state = 'PENDING';
CREATE INDEX space_access_requests_space_idx ON space_access_requests (space_id, state, created_at)
"#;

const DOWN: &str = r#"
DROP TABLE space_access_requests;
DROP TABLE space_requests;
DROP TABLE space_followers;
DROP TABLE space_members;
DROP TABLE space_moderators;
DROP TABLE space_closure;
DROP TABLE space_parents;
DROP TABLE spaces;
DROP TABLE users
"#;

/// The root space's id; the domain crate names the same value `ROOT_SPACE_ID`.
pub const ROOT_SPACE_UUID: u128 = 0x0000_0000_0000_7000_8000_0000_0000_0001;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let dialect = Dialect::of(manager);
        dialect.run(manager, UP).await?;
        let root = Value::Uuid(Some(sea_orm_migration::sea_orm::prelude::Uuid::from_u128(ROOT_SPACE_UUID)));
        let epoch = Value::ChronoDateTimeUtc(Some(
            sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc::from_timestamp_micros(0).unwrap_or_default(),
        ));
        let conn = manager.get_connection();
        conn.execute_raw(Statement::from_sql_and_values(
            dialect.backend,
            "INSERT INTO spaces (id, handle, name, description, privacy, created_at, last_activity_at) \
             VALUES ($1, 'all', 'All', 'Everything on Weco: every space lies below this one.', 'PUBLIC', $2, $2)",
            [root.clone(), epoch],
        ))
        .await?;
        conn.execute_raw(Statement::from_sql_and_values(
            dialect.backend,
            "INSERT INTO space_closure (ancestor_id, descendant_id, depth, flows) VALUES ($1, $1, 0, TRUE)",
            [root],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, DOWN).await
    }
}
