//! Deleting an account (`deleteAccount`): the user's personal data goes, their contributions stay under a
//! "deleted user" placeholder.
//!
//! In one transaction: the user's row becomes the placeholder (handle `deleted-` and 12 hex digits of the id,
//! name "Deleted user", no bio, an unusable address and password; the old handle and address are free for new
//! accounts at once), and every session ends (every token stops working: at once on this replica, within the
//! session cache's bound on the others). Their follows of users and spaces end through the same paths as
//! `unfollowUser` and `unfollowSpace`, so every follower count stays exact; their mutes (either way), streams,
//! notifications, pending tokens, memberships and moderator roles are removed. Their posts, comments, reactions,
//! reposts and poll ballots stay, shown as by the placeholder, so no counter, tally or decision changes — or, in
//! `ERASE`, their posts are deleted, likes and ratings withdrawn and comments hidden first
//! ([`crate::posts::erase_contributions`]).

use super::{AccountService, Credentials};
use crate::actor::Actor;
use crate::error::DomainResult;
use crate::ids::UserId;
use crate::uow::{Command, UnitOfWork};
use async_trait::async_trait;
use std::net::IpAddr;

/// What `deleteAccount` does with the user's contributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountDeletion {
    /// Posts, comments, reactions and ballots stay, shown as by a deleted user.
    Anonymize,
    /// As `Anonymize`, and the user's posts are deleted, their likes and ratings withdrawn and their comments
    /// hidden, through the same paths as doing so by hand, so every counter stays exact.
    Erase,
}

/// The placeholder handle of a deleted account.
pub fn deleted_handle(user: UserId) -> String {
    let hex = user.0.simple().to_string();
    format!("deleted-{}", &hex[hex.len() - 12..])
}

struct Delete(AccountDeletion);

#[async_trait]
impl Command for Delete {
    type Output = ();

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<()> {
        let user = uow.actor().require_user()?;
        if self.0 == AccountDeletion::Erase {
            crate::posts::erase_contributions(uow, user).await?;
        }
        let (following, followers, spaces) = uow.accounts().follow_ties(user).await?;
        for followed in following {
            uow.people().unfollow_user(user, followed).await?;
        }
        for follower in followers {
            uow.people().unfollow_user(follower, user).await?;
        }
        for space in spaces {
            uow.holarchy().unfollow(space, user).await?;
        }
        let email = format!("{}@deleted.invalid", user.0.simple());
        uow.accounts().anonymize_user(user, &deleted_handle(user), &email, uow.now()).await
    }
}

impl AccountService<'_> {
    /// `deleteAccount`: given the password (`VALIDATION` on `password` when wrong, throttled like logins),
    /// deletes the viewer's account in `mode`.
    pub async fn delete_account(
        &self,
        credentials: Credentials,
        password: String,
        mode: AccountDeletion,
        address: Option<IpAddr>,
    ) -> DomainResult<bool> {
        let user = credentials.viewer.require()?;
        self.check_password(user, password, address, "password").await?;
        self.app.execute(Actor::User(user), &Delete(mode)).await?;
        self.app.sessions.ended_for_user(user, None);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_handle_is_a_valid_handle() {
        let handle = deleted_handle(UserId::generate());
        assert_eq!(handle.len(), "deleted-".len() + 12);
        assert!(crate::values::Handle::parse(&handle, "handle").is_ok(), "{handle}");
    }
}
