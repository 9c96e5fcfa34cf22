//! Accounts: users, their credentials, and mutes.

use crate::Db;
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use weco_domain::accounts::ports::AccountRepo;
use weco_domain::accounts::sessions::NewSession;
use weco_domain::{DomainResult, NewUser, SessionId, User, UserId, now};

/// What anyone may see of a user (never the e-mail address or the password hash).
pub(crate) const USER_COLS: &str = "u.id, u.handle, u.name, u.bio, u.created_at";

pub(crate) fn user_from_row(row: &QueryResult) -> DomainResult<User> {
    decode_user(row, "decoding user", &["id", "handle", "name", "bio", "created_at"])
}

/// A post's creator selected beside it (`CREATOR_COLS`), or `None` when the join found no user.
pub(crate) const CREATOR_COLS: &str = "u.id AS creator__id, u.handle AS creator__handle, u.name AS creator__name, \
     u.bio AS creator__bio, u.created_at AS creator__created_at";

pub(crate) fn creator_from_row(row: &QueryResult) -> DomainResult<Option<User>> {
    const CX: &str = "decoding creator";
    const NAMES: [&str; 5] = ["creator__id", "creator__handle", "creator__name", "creator__bio", "creator__created_at"];
    if get::<Option<Uuid>>(row, CX, NAMES[0])?.is_none() {
        return Ok(None);
    }
    decode_user(row, CX, &NAMES).map(Some)
}

/// A user from the columns named `[id, handle, name, bio, created_at]`.
fn decode_user(row: &QueryResult, cx: &str, names: &[&str; 5]) -> DomainResult<User> {
    let [id, handle, name, bio, created_at] = *names;
    Ok(User {
        id: UserId(get::<Uuid>(row, cx, id)?),
        handle: get(row, cx, handle)?,
        name: get(row, cx, name)?,
        bio: get(row, cx, bio)?,
        created_at: get::<DateTime<Utc>>(row, cx, created_at)?,
    })
}

#[async_trait]
impl<C: ConnectionTrait + Send + Sync> AccountRepo for Db<C> {
    async fn insert_user(&self, user: &NewUser) -> DomainResult<User> {
        self.sql()
            .exec(
                "inserting user",
                "INSERT INTO users (id, handle, name, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    v(user.id.0),
                    v(user.handle.clone()),
                    v(user.name.clone()),
                    v(user.email.clone()),
                    v(user.password_hash.clone()),
                    v(user.created_at),
                ],
            )
            .await?;
        Ok(User {
            id: user.id,
            handle: user.handle.clone(),
            name: user.name.clone(),
            bio: None,
            created_at: user.created_at,
        })
    }

    async fn credentials_by_login(&self, login: &str) -> DomainResult<Option<(User, String)>> {
        let row = self
            .sql()
            .one(
                "finding login",
                &format!(
                    "SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.handle = $1 OR u.email = $1 LIMIT 1"
                ),
                vec![v(login)],
            )
            .await?;
        match row {
            Some(row) => Ok(Some((user_from_row(&row)?, get(&row, "decoding user", "password_hash")?))),
            None => Ok(None),
        }
    }

    async fn password_hash(&self, user: UserId) -> DomainResult<Option<String>> {
        let row = self
            .sql()
            .one("reading password hash", "SELECT password_hash FROM users WHERE id = $1", vec![v(user.0)])
            .await?;
        row.map(|row| get(&row, "reading password hash", "password_hash")).transpose()
    }

    async fn set_password_hash(&self, user: UserId, password_hash: &str) -> DomainResult<()> {
        self.sql()
            .exec(
                "changing password",
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                vec![v(user.0), v(password_hash)],
            )
            .await?;
        Ok(())
    }

    async fn insert_session(&self, session: &NewSession) -> DomainResult<()> {
        self.sql()
            .exec(
                "forgetting expired sessions",
                "DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2",
                vec![v(session.user_id.0), v(session.created_at)],
            )
            .await?;
        self.sql()
            .exec(
                "opening session",
                "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                vec![v(session.id.0), v(session.user_id.0), v(session.created_at), v(session.expires_at)],
            )
            .await?;
        Ok(())
    }

    async fn session_user(&self, session: SessionId, now: DateTime<Utc>) -> DomainResult<Option<UserId>> {
        let row = self
            .sql()
            .one(
                "checking session",
                "SELECT user_id FROM sessions WHERE id = $1 AND expires_at > $2",
                vec![v(session.0), v(now)],
            )
            .await?;
        row.map(|row| get::<Uuid>(&row, "checking session", "user_id").map(UserId)).transpose()
    }

    async fn open_sessions(&self, sessions: &[SessionId], now: DateTime<Utc>) -> DomainResult<Vec<SessionId>> {
        if sessions.is_empty() {
            return Ok(Vec::new());
        }
        let sql =
            format!("SELECT id FROM sessions WHERE expires_at > $1 AND id IN ({})", placeholders(2, sessions.len()));
        let mut values = vec![v(now)];
        values.extend(sessions.iter().map(|s| v(s.0)));
        let rows = self.sql().all("checking sessions", &sql, values).await?;
        rows.iter().map(|row| get::<Uuid>(row, "checking sessions", "id").map(SessionId)).collect()
    }

    async fn end_sessions(
        &self,
        user: UserId,
        only: Option<SessionId>,
        except: Option<SessionId>,
    ) -> DomainResult<u64> {
        match (only, except) {
            (Some(only), _) => {
                self.sql()
                    .exec(
                        "ending session",
                        "DELETE FROM sessions WHERE user_id = $1 AND id = $2",
                        vec![v(user.0), v(only.0)],
                    )
                    .await
            }
            (None, Some(kept)) => {
                self.sql()
                    .exec(
                        "ending other sessions",
                        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2",
                        vec![v(user.0), v(kept.0)],
                    )
                    .await
            }
            (None, None) => {
                self.sql().exec("ending all sessions", "DELETE FROM sessions WHERE user_id = $1", vec![v(user.0)]).await
            }
        }
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.id IN ({})", placeholders(1, ids.len()));
        self.sql().all("loading users", &sql, uuid_values(ids)).await?.iter().map(user_from_row).collect()
    }

    async fn user_by_handle(&self, handle: &str) -> DomainResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.handle = $1");
        self.sql().one("finding user", &sql, vec![v(handle)]).await?.as_ref().map(user_from_row).transpose()
    }

    async fn handle_or_email_taken(&self, handle: &str, email: &str) -> DomainResult<(bool, bool)> {
        let rows = self
            .sql()
            .all(
                "checking handle and e-mail",
                "SELECT handle, email FROM users WHERE handle = $1 OR email = $2",
                vec![v(handle), v(email)],
            )
            .await?;
        let mut taken = (false, false);
        for row in rows {
            taken.0 |= get::<String>(&row, "checking handle", "handle")? == handle;
            taken.1 |= get::<String>(&row, "checking e-mail", "email")? == email;
        }
        Ok(taken)
    }

    async fn set_muted(&self, user: UserId, muted: UserId, on: bool) -> DomainResult<bool> {
        let n = if on {
            self.sql()
                .exec(
                    "muting",
                    "INSERT INTO user_mutes (user_id, muted_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    vec![v(user.0), v(muted.0), v(now())],
                )
                .await?
        } else {
            self.sql()
                .exec(
                    "unmuting",
                    "DELETE FROM user_mutes WHERE user_id = $1 AND muted_id = $2",
                    vec![v(user.0), v(muted.0)],
                )
                .await?
        };
        Ok(n > 0)
    }

    async fn muted_by(&self, user: UserId) -> DomainResult<Vec<UserId>> {
        let rows = self
            .sql()
            .all("reading mutes", "SELECT muted_id FROM user_mutes WHERE user_id = $1", vec![v(user.0)])
            .await?;
        rows.iter().map(|r| get::<Uuid>(r, "reading mutes", "muted_id").map(UserId)).collect()
    }

    async fn set_coop_member(&self, user: UserId, member: bool) -> DomainResult<bool> {
        let changed = self
            .sql()
            .exec(
                "setting cooperative membership",
                "UPDATE users SET is_coop_member = $2 WHERE id = $1 AND is_coop_member <> $2",
                vec![v(user.0), v(member)],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn coop_members_among(&self, users: &[UserId]) -> DomainResult<Vec<UserId>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT id FROM users WHERE is_coop_member AND id IN ({})", placeholders(1, users.len()));
        let rows = self.sql().all("reading cooperative membership", &sql, uuid_values(users)).await?;
        rows.iter().map(|r| get::<Uuid>(r, "reading cooperative membership", "id").map(UserId)).collect()
    }
}
