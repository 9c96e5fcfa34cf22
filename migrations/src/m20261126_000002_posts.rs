//! Posts, where they appear (`space_posts`), reactions, comments, links between posts, mutes, and full-text
//! search (tsvector + GIN on PostgreSQL, FTS5 on SQLite).

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE posts (
    id {uuid} PRIMARY KEY,
    creator_id {uuid} NOT NULL REFERENCES users (id),
    title TEXT,
    text TEXT,
    url TEXT,
    kinds TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'DELETED')),
    created_at {ts} NOT NULL,
    last_activity_at {ts} NOT NULL,
    total_likes {int} NOT NULL DEFAULT 0,
    total_comments {int} NOT NULL DEFAULT 0,
    total_reposts {int} NOT NULL DEFAULT 0,
    total_ratings {int} NOT NULL DEFAULT 0,
    rating_sum {int} NOT NULL DEFAULT 0,
    total_links {int} NOT NULL DEFAULT 0,
    -- Bumped with every counter change, so live stats can be ordered and the newest kept.
    stats_version {int} NOT NULL DEFAULT 0
);
CREATE INDEX posts_creator_idx ON posts (creator_id, created_at DESC, id DESC);

-- "Post P appears in space S": one row per (space, post), so a feed is one index range scan. The sort keys
-- are copied here from the post (and kept in step with it) so every feed ordering has its own index.
-- `local_likes` counts the likes cast in this space or below it (the exposure gradient).
CREATE TABLE space_posts (
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    post_id {uuid} NOT NULL REFERENCES posts (id),
    relationship TEXT NOT NULL CHECK (relationship IN ('DIRECT', 'INDIRECT')),
    kind TEXT NOT NULL CHECK (kind IN ('POST', 'REPOST')),
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'REMOVED', 'DELETED')),
    creator_id {uuid} NOT NULL,
    created_at {ts} NOT NULL,
    last_activity_at {ts} NOT NULL,
    total_likes {int} NOT NULL DEFAULT 0,
    total_comments {int} NOT NULL DEFAULT 0,
    total_reposts {int} NOT NULL DEFAULT 0,
    total_ratings {int} NOT NULL DEFAULT 0,
    total_links {int} NOT NULL DEFAULT 0,
    local_likes {int} NOT NULL DEFAULT 0,
    hot {real} NOT NULL DEFAULT 0,
    local_hot {real} NOT NULL DEFAULT 0,
    PRIMARY KEY (space_id, post_id)
);
CREATE INDEX space_posts_post_idx ON space_posts (post_id, relationship);
CREATE INDEX space_posts_new_idx ON space_posts (space_id, created_at DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_active_idx ON space_posts (space_id, last_activity_at DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_hot_idx ON space_posts (space_id, hot DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_local_hot_idx ON space_posts (space_id, local_hot DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_likes_idx ON space_posts (space_id, total_likes DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_local_likes_idx ON space_posts (space_id, local_likes DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_comments_idx ON space_posts (space_id, total_comments DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_reposts_idx ON space_posts (space_id, total_reposts DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_ratings_idx ON space_posts (space_id, total_ratings DESC, post_id DESC) WHERE state = 'ACTIVE';
CREATE INDEX space_posts_links_idx ON space_posts (space_id, total_links DESC, post_id DESC) WHERE state = 'ACTIVE';

CREATE TABLE post_likes (
    post_id {uuid} NOT NULL REFERENCES posts (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    space_id {uuid} REFERENCES spaces (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_likes_space_idx ON post_likes (space_id, post_id);
CREATE INDEX post_likes_user_idx ON post_likes (user_id, post_id);

CREATE TABLE post_ratings (
    post_id {uuid} NOT NULL REFERENCES posts (id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    value {int} NOT NULL CHECK (value BETWEEN 0 AND 100),
    space_id {uuid} REFERENCES spaces (id),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE INDEX post_ratings_user_idx ON post_ratings (user_id, post_id);

CREATE TABLE comments (
    id {uuid} PRIMARY KEY,
    post_id {uuid} NOT NULL REFERENCES posts (id),
    parent_id {uuid} REFERENCES comments (id),
    creator_id {uuid} NOT NULL REFERENCES users (id),
    text TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'DELETED')),
    created_at {ts} NOT NULL,
    total_replies {int} NOT NULL DEFAULT 0
);
CREATE INDEX comments_top_idx ON comments (post_id, created_at, id) WHERE parent_id IS NULL;
CREATE INDEX comments_replies_idx ON comments (parent_id, created_at, id);

-- User-made, described links between posts; counted on both ends.
CREATE TABLE post_links (
    id {uuid} PRIMARY KEY,
    source_id {uuid} NOT NULL REFERENCES posts (id),
    target_id {uuid} NOT NULL REFERENCES posts (id),
    creator_id {uuid} NOT NULL REFERENCES users (id),
    description TEXT NOT NULL DEFAULT '',
    created_at {ts} NOT NULL
);
CREATE UNIQUE INDEX post_links_pair_key ON post_links (source_id, target_id);
CREATE INDEX post_links_target_idx ON post_links (target_id);

CREATE TABLE user_mutes (
    user_id {uuid} NOT NULL REFERENCES users (id),
    muted_id {uuid} NOT NULL REFERENCES users (id),
    created_at {ts} NOT NULL,
    PRIMARY KEY (user_id, muted_id)
)
"#;

const UP_POSTGRES: &str = r#"
ALTER TABLE posts ADD COLUMN search tsvector GENERATED ALWAYS AS
    (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))) STORED;
CREATE INDEX posts_search_idx ON posts USING GIN (search)
"#;

const UP_SQLITE: &str = r#"
CREATE VIRTUAL TABLE posts_fts USING fts5(post_id UNINDEXED, title, text, tokenize = 'unicode61')
"#;

const DOWN: &str = r#"
DROP TABLE user_mutes;
DROP TABLE post_links;
DROP TABLE comments;
DROP TABLE post_ratings;
DROP TABLE post_likes;
DROP TABLE space_posts;
DROP TABLE posts
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
        if !dialect.is_postgres() {
            dialect.run(manager, "DROP TABLE posts_fts").await?;
        }
        dialect.run(manager, DOWN).await
    }
}
