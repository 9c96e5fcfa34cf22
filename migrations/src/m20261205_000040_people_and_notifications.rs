//! People and notifications: who follows whom (with exact follower and following counts on `users`), full-text
//! search over users (tsvector + GIN on PostgreSQL, FTS5 on SQLite, kept by triggers so bulk loads need nothing
//! more), and `notifications`, folded by `fold_key` (one row per recipient and key).

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE users ADD COLUMN total_followers {int} NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN total_following {int} NOT NULL DEFAULT 0;

CREATE TABLE user_follows (
    follower_id {uuid} NOT NULL REFERENCES users (id),
    followed_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (follower_id, followed_id)
);
CREATE INDEX user_follows_followed_idx ON user_follows (followed_id, created_at DESC, follower_id DESC);
CREATE INDEX user_follows_follower_idx ON user_follows (follower_id, created_at DESC, followed_id DESC);

-- One row per notification as its recipient sees it: actions of several people on the same thing fold into one
-- row (same `fold_key`), which keeps the latest actor and counts the actors.
CREATE TABLE notifications (
    id {uuid} PRIMARY KEY,
    recipient_id {uuid} NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    fold_key TEXT NOT NULL,
    actor_id {uuid} REFERENCES users (id),
    post_id {uuid} REFERENCES posts (id),
    comment_id {uuid} REFERENCES comments (id),
    space_id {uuid} REFERENCES spaces (id),
    count {int} NOT NULL DEFAULT 1,
    seen {bool} NOT NULL DEFAULT FALSE,
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX notifications_fold_key ON notifications (recipient_id, fold_key);
CREATE INDEX notifications_recipient_idx ON notifications (recipient_id, created_at DESC, id DESC);
CREATE INDEX notifications_unseen_idx ON notifications (recipient_id) WHERE seen = FALSE
"#;

const UP_POSTGRES: &str = r#"
ALTER TABLE users ADD COLUMN search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', handle || ' ' || name || ' ' || coalesce(bio, ''))) STORED;
CREATE INDEX users_search_idx ON users USING GIN (search)
"#;

// Each trigger is written on one line: statements are split at a semicolon that ends a line.
const UP_SQLITE: &str = r#"
CREATE VIRTUAL TABLE users_fts USING fts5(user_id UNINDEXED, handle, name, bio, tokenize = 'unicode61');
INSERT INTO users_fts (user_id, handle, name, bio) SELECT id, handle, name, coalesce(bio, '') FROM users;
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN INSERT INTO users_fts (user_id, handle, name, bio) VALUES (new.id, new.handle, new.name, coalesce(new.bio, '')); END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF handle, name, bio ON users BEGIN DELETE FROM users_fts WHERE user_id = old.id; INSERT INTO users_fts (user_id, handle, name, bio) VALUES (new.id, new.handle, new.name, coalesce(new.bio, '')); END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN DELETE FROM users_fts WHERE user_id = old.id; END
"#;

const DOWN: &str = r#"
DROP TABLE notifications;
DROP TABLE user_follows;
ALTER TABLE users DROP COLUMN total_following;
ALTER TABLE users DROP COLUMN total_followers
"#;

const DOWN_POSTGRES: &str = r#"
ALTER TABLE users DROP COLUMN search
"#;

const DOWN_SQLITE: &str = r#"
DROP TRIGGER users_fts_delete;
DROP TRIGGER users_fts_update;
DROP TRIGGER users_fts_insert;
DROP TABLE users_fts
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let dialect = Dialect::of(manager);
        dialect.run(manager, UP).await?;
        dialect.run(manager, if dialect.is_postgres() { UP_POSTGRES } else { UP_SQLITE }).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let dialect = Dialect::of(manager);
        dialect.run(manager, if dialect.is_postgres() { DOWN_POSTGRES } else { DOWN_SQLITE }).await?;
        dialect.run(manager, DOWN).await
    }
}
