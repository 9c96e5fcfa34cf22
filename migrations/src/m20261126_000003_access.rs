//! Access to private spaces and moderation: invite links (one live token per space, readable by its moderators
//! only) and invitations to moderate (a real row the invitee answers, never a notification).

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
-- The live invite link of a space: whoever presents the token becomes a member. Rotating replaces the row.
CREATE TABLE space_invite_links (
    space_id {uuid} PRIMARY KEY REFERENCES spaces (id),
    token TEXT NOT NULL,
    created_by {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX space_invite_links_token_key ON space_invite_links (token);

-- Invitations to moderate a space; only the invitee may accept.
CREATE TABLE space_moderator_invites (
    id {uuid} PRIMARY KEY,
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    inviter_id {uuid} NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('PENDING', 'ACCEPTED', 'REJECTED')),
    created_at {ts} NOT NULL,
    resolved_at {ts}
);
CREATE UNIQUE INDEX space_moderator_invites_pending_key ON space_moderator_invites (space_id, user_id) WHERE state = 'PENDING';
CREATE INDEX space_moderator_invites_space_idx ON space_moderator_invites (space_id, state, created_at);
CREATE INDEX space_moderator_invites_user_idx ON space_moderator_invites (user_id, state, created_at);

-- A user's own pending invitations to private spaces.
CREATE INDEX space_access_requests_user_idx ON space_access_requests (user_id, state, created_at)
"#;

const DOWN: &str = r#"
DROP INDEX space_access_requests_user_idx;
DROP TABLE space_moderator_invites;
DROP TABLE space_invite_links
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        Dialect::of(manager).run(manager, DOWN).await
    }
}
