//! A user's roles in spaces — moderator, member, follower — each a table of `(space_id, user_id, created_at)`
//! rows, read and written the same way.

use crate::Db;
use crate::accounts::{USER_COLS, user_from_row};
use crate::sql::{Key, Listing, get, placeholders, uuid_values, v};
use sea_orm::ConnectionTrait;
use uuid::Uuid;
use weco_domain::{DomainResult, Page, PageRequest, SpaceId, User, UserId, now};

/// A role a user holds in a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Moderator,
    Member,
    Follower,
}

impl Role {
    fn table(self) -> &'static str {
        match self {
            Role::Moderator => "space_moderators",
            Role::Member => "space_members",
            Role::Follower => "space_followers",
        }
    }
}

impl<C: ConnectionTrait> Db<C> {
    /// Gives `user` the role in `space`; `false` when they held it already.
    pub(crate) async fn add_role(&self, role: Role, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let sql = format!(
            "INSERT INTO {} (space_id, user_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            role.table()
        );
        Ok(self.sql().exec("adding a role", &sql, vec![v(space.0), v(user.0), v(now())]).await? > 0)
    }

    /// Takes the role from `user` in `space`; `false` when they did not hold it.
    pub(crate) async fn remove_role(&self, role: Role, space: SpaceId, user: UserId) -> DomainResult<bool> {
        let sql = format!("DELETE FROM {} WHERE space_id = $1 AND user_id = $2", role.table());
        Ok(self.sql().exec("removing a role", &sql, vec![v(space.0), v(user.0)]).await? > 0)
    }

    /// Which of `spaces` `user` holds the role in.
    pub(crate) async fn role_among(&self, role: Role, user: UserId, spaces: &[SpaceId]) -> DomainResult<Vec<SpaceId>> {
        if spaces.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT space_id FROM {} WHERE user_id = $1 AND space_id IN ({})",
            role.table(),
            placeholders(2, spaces.len())
        );
        let mut values = vec![v(user.0)];
        values.extend(uuid_values(spaces));
        let rows = self.sql().all("checking roles", &sql, values).await?;
        rows.iter().map(|r| get::<Uuid>(r, "checking roles", "space_id").map(SpaceId)).collect()
    }

    /// Who holds the role in `space`, longest-standing first.
    pub(crate) async fn role_holders(
        &self,
        role: Role,
        space: SpaceId,
        page: &PageRequest,
    ) -> DomainResult<Page<User>> {
        let listing = Listing {
            context: "listing role holders",
            select: USER_COLS,
            base: format!("FROM {} m JOIN users u ON u.id = m.user_id WHERE m.space_id = $1", role.table()),
            values: vec![v(space.0)],
            key: Key::Time("m.created_at"),
            id: "u.id",
            descending: false,
            with_total: true,
        };
        self.sql().page(listing, page, user_from_row).await
    }

    pub(crate) async fn count_role(&self, role: Role, space: SpaceId) -> DomainResult<i64> {
        let sql = format!("SELECT COUNT(*) AS v FROM {} WHERE space_id = $1", role.table());
        self.sql().scalar("counting role holders", &sql, vec![v(space.0)]).await
    }
}
