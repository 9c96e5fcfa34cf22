//! Activity over time: the acts (posts, comments, likes, new spaces) recorded per space they count in by the
//! work that does them (`activity_deltas`, insert-only), and the rollups the fold of spaces' totals makes of
//! them: per space and day, ISO week and month (`space_activity`), the distinct users active in each
//! (`activity_users`) and what each user contributed per space and day (`space_contributions`).

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE activity_deltas (
    id {serial} PRIMARY KEY,
    space_id {uuid} NOT NULL,
    day {ts} NOT NULL,
    direct {int} NOT NULL,
    user_id {uuid} NOT NULL,
    receiver_id {uuid},
    posts {int} NOT NULL DEFAULT 0,
    comments {int} NOT NULL DEFAULT 0,
    likes {int} NOT NULL DEFAULT 0,
    new_spaces {int} NOT NULL DEFAULT 0
);

CREATE TABLE space_activity (
    space_id {uuid} NOT NULL,
    period TEXT NOT NULL CHECK (period IN ('D', 'W', 'M')),
    start {ts} NOT NULL,
    posts {int} NOT NULL DEFAULT 0,
    comments {int} NOT NULL DEFAULT 0,
    likes {int} NOT NULL DEFAULT 0,
    new_spaces {int} NOT NULL DEFAULT 0,
    active_users {int} NOT NULL DEFAULT 0,
    direct_posts {int} NOT NULL DEFAULT 0,
    direct_comments {int} NOT NULL DEFAULT 0,
    direct_likes {int} NOT NULL DEFAULT 0,
    direct_new_spaces {int} NOT NULL DEFAULT 0,
    direct_active_users {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (space_id, period, start)
);

CREATE TABLE activity_users (
    space_id {uuid} NOT NULL,
    period TEXT NOT NULL,
    start {ts} NOT NULL,
    direct {int} NOT NULL,
    user_id {uuid} NOT NULL,
    PRIMARY KEY (space_id, period, start, direct, user_id)
);

CREATE TABLE space_contributions (
    space_id {uuid} NOT NULL,
    day {ts} NOT NULL,
    user_id {uuid} NOT NULL,
    posts {int} NOT NULL DEFAULT 0,
    likes_received {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (space_id, day, user_id)
)
"#;

const DOWN: &str = r#"
DROP TABLE space_contributions;
DROP TABLE activity_users;
DROP TABLE space_activity;
DROP TABLE activity_deltas
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
