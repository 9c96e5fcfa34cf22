//! Polls (docs/polls.md): a poll belongs to its post; its answers with their totals; the roster taken when it
//! was created; ballots with their history (a ballot replaced or retracted stays, ended); and, for ranked
//! polls, the pairwise preference counts the Schulze method reads; for governance polls the deciding space, its
//! rule, each answer's action, and the decisions taken.

use crate::dialect::Dialect;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
-- One row per poll, locked by every ballot on it so its totals stay exact. `voter_salt` makes each voter's key
-- (a hash of salt and user) in this poll; it is read by the store only and never leaves it.
CREATE TABLE polls (
    post_id {uuid} PRIMARY KEY REFERENCES posts (id),
    poll_type TEXT NOT NULL CHECK (poll_type IN ('SINGLE', 'MULTIPLE', 'WEIGHTED', 'RANKED')),
    answers_locked {bool} NOT NULL,
    ends_at {ts},
    closed_at {ts},
    voters TEXT NOT NULL CHECK (voters IN ('ANYONE', 'FOLLOWERS', 'MEMBERS', 'MODERATORS', 'COOP_MEMBERS')),
    results_visibility TEXT NOT NULL CHECK (results_visibility IN ('ALWAYS', 'AFTER_VOTE', 'AFTER_END')),
    anonymous {bool} NOT NULL,
    voter_salt TEXT NOT NULL,
    eligible_voters {int},
    total_voters {int} NOT NULL DEFAULT 0,
    version {int} NOT NULL DEFAULT 0,
    created_at {ts} NOT NULL,
    -- Governance polls: the space that decides, quorum (voters), threshold (percent), when it decides, and
    -- when it did (once).
    space_id {uuid} REFERENCES spaces (id),
    quorum {int},
    threshold {int},
    decide_when TEXT CHECK (decide_when IN ('AT_END', 'ON_THRESHOLD')),
    decided_at {ts}
);

CREATE TABLE poll_answers (
    id {uuid} PRIMARY KEY,
    post_id {uuid} NOT NULL REFERENCES polls (post_id),
    position {int} NOT NULL,
    text TEXT NOT NULL,
    creator_id {uuid} NOT NULL REFERENCES users (id),
    total_votes {int} NOT NULL DEFAULT 0,
    total_points {int} NOT NULL DEFAULT 0,
    created_at {ts} NOT NULL,
    -- What the answer makes the deciding space do when it passes (governance polls).
    action_kind TEXT,
    action_handle TEXT,
    action_name TEXT,
    action_description TEXT,
    action_user_id {uuid} REFERENCES users (id),
    action_space_id {uuid} REFERENCES spaces (id)
);
CREATE UNIQUE INDEX poll_answers_position_key ON poll_answers (post_id, position);

-- Who may vote, as it was when the poll was created (none for ANYONE).
CREATE TABLE poll_roster (
    post_id {uuid} NOT NULL REFERENCES polls (post_id),
    user_id {uuid} NOT NULL REFERENCES users (id),
    PRIMARY KEY (post_id, user_id)
);

-- Every ballot ever cast: the one in force per voter has state CURRENT; a re-vote ends it as REPLACED, a
-- retraction as RETRACTED. `voter_key` finds a voter's ballots; `voter_id` is NULL in anonymous polls.
CREATE TABLE poll_ballots (
    id {uuid} PRIMARY KEY,
    post_id {uuid} NOT NULL REFERENCES polls (post_id),
    voter_key TEXT NOT NULL,
    voter_id {uuid} REFERENCES users (id),
    reason TEXT,
    state TEXT NOT NULL CHECK (state IN ('CURRENT', 'REPLACED', 'RETRACTED')),
    cast_at {ts} NOT NULL,
    ended_at {ts}
);
CREATE UNIQUE INDEX poll_ballots_current_key ON poll_ballots (post_id, voter_key) WHERE state = 'CURRENT';
CREATE INDEX poll_ballots_list_idx ON poll_ballots (post_id, cast_at DESC, id DESC) WHERE state = 'CURRENT';

CREATE TABLE poll_ballot_entries (
    ballot_id {uuid} NOT NULL REFERENCES poll_ballots (id),
    answer_id {uuid} NOT NULL REFERENCES poll_answers (id),
    value {int},
    PRIMARY KEY (ballot_id, answer_id)
);

-- Ranked polls: how many ballots in force rank `above_id` over `below_id`.
CREATE TABLE poll_pairs (
    post_id {uuid} NOT NULL REFERENCES polls (post_id),
    above_id {uuid} NOT NULL REFERENCES poll_answers (id),
    below_id {uuid} NOT NULL REFERENCES poll_answers (id),
    ballots {int} NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, above_id, below_id)
);

-- The decisions of governance polls, one per answer with an action (unique: an action runs once).
CREATE TABLE decisions (
    id {uuid} PRIMARY KEY,
    post_id {uuid} NOT NULL REFERENCES polls (post_id),
    space_id {uuid} NOT NULL REFERENCES spaces (id),
    answer_id {uuid} NOT NULL REFERENCES poll_answers (id),
    outcome TEXT NOT NULL CHECK (outcome IN ('EXECUTED', 'REJECTED', 'FAILED')),
    error_code TEXT,
    votes {int} NOT NULL,
    share {real} NOT NULL,
    decided_at {ts} NOT NULL
);
CREATE UNIQUE INDEX decisions_answer_key ON decisions (answer_id);
CREATE INDEX decisions_space_idx ON decisions (space_id, decided_at DESC, id DESC);

-- Members of the platform's cooperative (granted by its admins).
ALTER TABLE users ADD COLUMN is_coop_member {bool} NOT NULL DEFAULT FALSE
"#;

const DOWN: &str = r#"
ALTER TABLE users DROP COLUMN is_coop_member;
DROP TABLE decisions;
DROP TABLE poll_pairs;
DROP TABLE poll_ballot_entries;
DROP TABLE poll_ballots;
DROP TABLE poll_roster;
DROP TABLE poll_answers;
DROP TABLE polls
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
