//! Accounts: registering, logging in, finding users, and muting them.

pub mod ports;

use crate::actor::{Actor, Viewer};
use crate::app::App;
use crate::auth::DUMMY_HASH;
use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::model::{NewUser, User};
use crate::ports::LoginAttempt;
use crate::uow::{Command, UnitOfWork};
use crate::values::{Email, Handle, Password, UserName};
use async_trait::async_trait;
use std::net::IpAddr;

/// `register(input)` as given by the client.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub handle: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// `login(input)`: `login` is a handle or an e-mail address.
#[derive(Debug, Clone)]
pub struct LoginInput {
    pub login: String,
    pub password: String,
    /// Where the attempt comes from, when known: the login throttle also counts failures per address.
    pub address: Option<IpAddr>,
}

/// The client address of a request, as the server read it (the connection's, or the one a trusted proxy
/// forwarded), for the use cases that count per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

/// The accounts service: `app.accounts()`.
pub struct AccountService<'a> {
    pub(crate) app: &'a App,
}

/// Grants or revokes membership of the cooperative.
struct SetCoopMember {
    handle: String,
    member: bool,
}

#[async_trait]
impl Command for SetCoopMember {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let actor = uow.actor();
        let admin = match actor.user() {
            Some(user) => {
                let me = uow.accounts().users_by_ids(&[user]).await?.into_iter().next();
                me.is_some_and(|me| uow.admins().contains(&me.handle))
            }
            None => false,
        };
        let standing = crate::policy::Standing { admin, ..crate::policy::Standing::NONE };
        crate::policy::require(&actor, standing, crate::policy::Action::ManageCoopMembership)?;
        let user = uow.accounts().user_by_handle(&self.handle).await?.ok_or(DomainError::NotFound("user"))?;
        uow.accounts().set_coop_member(user.id, self.member).await?;
        Ok(user)
    }
}

/// Inserts a new user whose input was checked and whose password was hashed.
struct Register {
    handle: Handle,
    name: UserName,
    email: Email,
    password_hash: String,
}

#[async_trait]
impl Command for Register {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let (handle_taken, email_taken) =
            uow.accounts().handle_or_email_taken(self.handle.as_str(), self.email.as_str()).await?;
        if handle_taken {
            return Err(DomainError::conflict(format!("input.handle: the handle '{}' is taken", self.handle)));
        }
        if email_taken {
            return Err(DomainError::conflict("input.email: an account with this e-mail exists"));
        }
        uow.accounts()
            .insert_user(&NewUser {
                id: UserId::generate(),
                handle: self.handle.as_str().to_owned(),
                name: self.name.as_str().to_owned(),
                email: self.email.as_str().to_owned(),
                password_hash: self.password_hash.clone(),
                created_at: uow.now(),
            })
            .await
    }
}

/// Mutes or unmutes a user for the acting user.
struct SetMuted {
    handle: String,
    on: bool,
}

#[async_trait]
impl Command for SetMuted {
    type Output = User;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<User> {
        let user = uow.actor().require_user()?;
        let target = uow.accounts().user_by_handle(self.handle.trim()).await?.ok_or(DomainError::NotFound("user"))?;
        if target.id == user {
            return Err(DomainError::validation("handle", "you cannot mute yourself"));
        }
        uow.accounts().set_muted(user, target.id, self.on).await?;
        Ok(target)
    }
}

impl AccountService<'_> {
    /// Creates an account and returns a bearer token for it.
    pub async fn register(&self, input: RegisterInput) -> DomainResult<(String, User)> {
        let handle = Handle::parse(&input.handle, "input.handle")?;
        let name = UserName::parse(&input.name, "input.name")?;
        let email = Email::parse(&input.email, "input.email")?;
        let password = Password::parse(&input.password, "input.password")?;
        let password_hash = self.app.ports.hasher.hash(password.expose().to_owned()).await?;
        let user = self.app.execute(Actor::System, &Register { handle, name, email, password_hash }).await?;
        let token = self.app.ports.tokens.issue(user.id)?;
        Ok((token, user))
    }

    /// Checks a handle-or-email and password. A wrong login and a wrong password look the same, and take
    /// the same time.
    ///
    /// Every attempt passes the login throttle first ([`crate::ports::LoginThrottle`]): after a run of
    /// failures for the account (found by handle or e-mail alike) or from the address, attempts are refused
    /// with `RATE_LIMITED` until a delay has passed, without checking the password. Accounts that do not exist
    /// are throttled by the login given, so the refusal says nothing about which accounts exist.
    pub async fn login(&self, input: LoginInput) -> DomainResult<(String, User)> {
        let trimmed = input.login.trim();
        let login = if trimmed.contains('@') { trimmed.to_lowercase() } else { trimmed.to_owned() };
        let store = &self.app.ports.store;
        let found = store.accounts().credentials_by_login(&login).await?;
        let account = match &found {
            Some((user, _)) => user.id.to_string(),
            None => format!("login:{login}"),
        };
        let attempt = LoginAttempt { account, address: input.address };
        let throttle = &self.app.ports.login_throttle;
        if let Err(wait) = throttle.check(&attempt) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(DomainError::RateLimited(format!("too many failed logins: try again in {} s", seconds.max(1))));
        }
        let (user, phc) = match found {
            Some((user, phc)) => (Some(user), phc),
            None => (None, DUMMY_HASH.to_owned()),
        };
        let ok = self.app.ports.hasher.verify(input.password, phc).await;
        match user {
            Some(user) if ok => {
                throttle.succeeded(&attempt);
                Ok((self.app.ports.tokens.issue(user.id)?, user))
            }
            _ => {
                throttle.failed(&attempt);
                Err(DomainError::InvalidCredentials)
            }
        }
    }

    /// The viewer a bearer token stands for; no token is an anonymous viewer, a bad token an error.
    pub fn viewer_from_token(&self, token: Option<&str>) -> DomainResult<Viewer> {
        match token {
            None => Ok(Viewer::ANONYMOUS),
            Some(t) => self.app.ports.tokens.verify(t).map(Viewer::user),
        }
    }

    /// Mutes or unmutes a user: their posts leave the viewer's feeds and searches.
    pub async fn set_muted(&self, viewer: Viewer, handle: &str, on: bool) -> DomainResult<User> {
        self.app.execute(viewer.actor()?, &SetMuted { handle: handle.to_owned(), on }).await
    }

    /// Whether the viewer has muted `author` (never, for an anonymous viewer).
    pub async fn has_muted(&self, viewer: Viewer, author: UserId) -> DomainResult<bool> {
        match viewer.id() {
            Some(user) => Ok(self.app.ports.store.accounts().muted_by(user).await?.contains(&author)),
            None => Ok(false),
        }
    }

    /// Grants (`member`) or revokes a user's membership of the platform's cooperative: platform admins only.
    pub async fn set_coop_member(&self, viewer: Viewer, handle: &str, member: bool) -> DomainResult<User> {
        let actor = viewer.actor()?;
        self.app.execute(actor, &SetCoopMember { handle: handle.to_owned(), member }).await
    }

    /// Which of `users` are members of the cooperative (who is, is public).
    pub async fn coop_members(&self, users: &[UserId]) -> DomainResult<std::collections::HashSet<UserId>> {
        Ok(self.app.ports.store.accounts().coop_members_among(users).await?.into_iter().collect())
    }

    /// Users are public: anyone may see any user's handle, name and bio.
    pub async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>> {
        self.app.ports.store.accounts().users_by_ids(ids).await
    }

    pub async fn user_by_handle(&self, handle: &str) -> DomainResult<Option<User>> {
        self.app.ports.store.accounts().user_by_handle(handle).await
    }
}
