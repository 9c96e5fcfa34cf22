//! Accounts: users, their credentials, and mutes.

use crate::Db;
use crate::sql::{get, placeholders, uuid_values, v};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;
use weco_domain::accounts::mail::{NewAccountToken, TokenPurpose};
use weco_domain::accounts::ports::AccountRepo;
use weco_domain::accounts::sessions::NewSession;
use weco_domain::{DomainResult, NewUser, SessionId, SpaceId, User, UserId, now};

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

    async fn insert_account_token(&self, token: &NewAccountToken) -> DomainResult<()> {
        self.sql()
            .exec(
                "keeping account token",
                "INSERT INTO account_tokens (id, user_id, purpose, token_hash, email, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                vec![
                    v(Uuid::now_v7()),
                    v(token.user_id.0),
                    v(token.purpose.as_str()),
                    v(token.token_hash.clone()),
                    v(token.email.clone()),
                    v(token.created_at),
                    v(token.expires_at),
                ],
            )
            .await
            .map(drop)
    }

    async fn account_tokens_since(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        since: DateTime<Utc>,
    ) -> DomainResult<i64> {
        const CX: &str = "counting account tokens";
        let row = self
            .sql()
            .one(
                CX,
                "SELECT COUNT(*) AS n FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND created_at > $3",
                vec![v(user.0), v(purpose.as_str()), v(since)],
            )
            .await?;
        row.map(|r| get::<i64>(&r, CX, "n")).transpose().map(Option::unwrap_or_default)
    }

    async fn use_account_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<(UserId, String)>> {
        const CX: &str = "using account token";
        let row = self
            .sql()
            .one(
                CX,
                "UPDATE account_tokens SET used_at = $3 \
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                 RETURNING user_id, email",
                vec![v(token_hash), v(purpose.as_str()), v(now)],
            )
            .await?;
        match row {
            Some(row) => Ok(Some((UserId(get::<Uuid>(&row, CX, "user_id")?), get(&row, CX, "email")?))),
            None => Ok(None),
        }
    }

    async fn void_account_tokens(&self, user: UserId, purpose: TokenPurpose, now: DateTime<Utc>) -> DomainResult<u64> {
        self.sql()
            .exec(
                "voiding account tokens",
                "UPDATE account_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
                vec![v(user.0), v(purpose.as_str()), v(now)],
            )
            .await
    }

    async fn user_by_email(&self, email: &str) -> DomainResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users u WHERE u.email = $1 AND u.deleted_at IS NULL");
        self.sql().one("finding user by e-mail", &sql, vec![v(email)]).await?.as_ref().map(user_from_row).transpose()
    }

    async fn email_of(&self, user: UserId) -> DomainResult<Option<(String, Option<DateTime<Utc>>)>> {
        const CX: &str = "reading e-mail";
        let row = self
            .sql()
            .one(CX, "SELECT email, email_verified_at FROM users WHERE id = $1 AND deleted_at IS NULL", vec![v(user.0)])
            .await?;
        match row {
            Some(row) => Ok(Some((get(&row, CX, "email")?, get(&row, CX, "email_verified_at")?))),
            None => Ok(None),
        }
    }

    async fn set_email(&self, user: UserId, email: &str) -> DomainResult<()> {
        self.sql()
            .exec(
                "changing e-mail",
                "UPDATE users SET email = $2, email_verified_at = NULL WHERE id = $1",
                vec![v(user.0), v(email)],
            )
            .await
            .map(drop)
    }

    async fn mark_email_verified(&self, user: UserId, email: &str, at: DateTime<Utc>) -> DomainResult<bool> {
        let n = self
            .sql()
            .exec(
                "verifying e-mail",
                "UPDATE users SET email_verified_at = $3 WHERE id = $1 AND email = $2 AND deleted_at IS NULL",
                vec![v(user.0), v(email), v(at)],
            )
            .await?;
        Ok(n > 0)
    }

    async fn follow_ties(&self, user: UserId) -> DomainResult<(Vec<UserId>, Vec<UserId>, Vec<SpaceId>)> {
        const CX: &str = "reading follows";
        let ids = |rows: Vec<QueryResult>| -> DomainResult<Vec<Uuid>> {
            rows.iter().map(|r| get::<Uuid>(r, CX, "id")).collect()
        };
        let sql = self.sql();
        let id = || vec![v(user.0)];
        let following =
            ids(sql.all(CX, "SELECT followed_id AS id FROM user_follows WHERE follower_id = $1", id()).await?)?;
        let followers =
            ids(sql.all(CX, "SELECT follower_id AS id FROM user_follows WHERE followed_id = $1", id()).await?)?;
        let spaces = ids(sql.all(CX, "SELECT space_id AS id FROM space_followers WHERE user_id = $1", id()).await?)?;
        Ok((
            following.into_iter().map(UserId).collect(),
            followers.into_iter().map(UserId).collect(),
            spaces.into_iter().map(SpaceId).collect(),
        ))
    }

    async fn anonymize_user(&self, user: UserId, handle: &str, email: &str, at: DateTime<Utc>) -> DomainResult<()> {
        let sql = self.sql();
        sql.exec(
            "anonymizing user",
            "UPDATE users SET handle = $2, name = 'Deleted user', bio = NULL, email = $3, password_hash = '!', \
             email_verified_at = NULL, is_coop_member = FALSE, deleted_at = $4 WHERE id = $1",
            vec![v(user.0), v(handle), v(email), v(at)],
        )
        .await?;
        for (cx, statement) in [
            ("ending sessions", "DELETE FROM sessions WHERE user_id = $1"),
            ("dropping account tokens", "DELETE FROM account_tokens WHERE user_id = $1"),
            ("dropping mutes", "DELETE FROM user_mutes WHERE user_id = $1 OR muted_id = $1"),
            ("dropping stream sources", "DELETE FROM stream_users WHERE user_id = $1"),
            (
                "dropping streams' spaces",
                "DELETE FROM stream_spaces WHERE stream_id IN (SELECT id FROM streams WHERE owner_id = $1)",
            ),
            (
                "dropping streams' users",
                "DELETE FROM stream_users WHERE stream_id IN (SELECT id FROM streams WHERE owner_id = $1)",
            ),
            ("dropping streams", "DELETE FROM streams WHERE owner_id = $1"),
            ("dropping notifications", "DELETE FROM notifications WHERE recipient_id = $1"),
            ("dropping memberships", "DELETE FROM space_members WHERE user_id = $1"),
            ("dropping moderator roles", "DELETE FROM space_moderators WHERE user_id = $1"),
        ] {
            sql.exec(cx, statement, vec![v(user.0)]).await?;
        }
        Ok(())
    }
}
