//! Registering, logging in, and finding users.

use super::App;
use crate::auth::DUMMY_HASH;
use crate::error::{DomainError, DomainResult};
use crate::ids::UserId;
use crate::model::{NewUser, User, Viewer, now};
use crate::values::{Email, Handle, Password, UserName};

/// `register(input)` as given by the client.
#[derive(Debug, Clone)]
pub struct RegisterCommand {
    pub handle: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

/// `login(input)`: `login` is a handle or an e-mail address.
#[derive(Debug, Clone)]
pub struct LoginCommand {
    pub login: String,
    pub password: String,
}

impl App {
    /// Creates an account and returns a bearer token for it.
    pub async fn register(&self, cmd: RegisterCommand) -> DomainResult<(String, User)> {
        let handle = Handle::parse(&cmd.handle, "input.handle")?;
        let name = UserName::parse(&cmd.name, "input.name")?;
        let email = Email::parse(&cmd.email, "input.email")?;
        let password = Password::parse(&cmd.password, "input.password")?;

        let (handle_taken, email_taken) = self.store.handle_or_email_taken(handle.as_str(), email.as_str()).await?;
        if handle_taken {
            return Err(DomainError::conflict(format!("input.handle: the handle '{handle}' is taken")));
        }
        if email_taken {
            return Err(DomainError::conflict("input.email: an account with this e-mail exists"));
        }
        let password_hash = self.hasher.hash(password.expose().to_owned()).await?;
        let user = self
            .store
            .insert_user(&NewUser {
                id: UserId::generate(),
                handle: handle.into_inner(),
                name: name.into_inner(),
                email: email.as_str().to_owned(),
                password_hash,
                created_at: now(),
            })
            .await?;
        let token = self.tokens.issue(user.id)?;
        Ok((token, user))
    }

    /// Checks a handle-or-email and password. A wrong login and a wrong password look the same, and take
    /// the same time.
    pub async fn login(&self, cmd: LoginCommand) -> DomainResult<(String, User)> {
        let login = cmd.login.trim();
        let found = if login.contains('@') {
            self.store.credentials_by_login(&login.to_lowercase()).await?
        } else {
            self.store.credentials_by_login(login).await?
        };
        let (user, phc) = match found {
            Some((user, phc)) => (Some(user), phc),
            None => (None, DUMMY_HASH.to_owned()),
        };
        let ok = self.hasher.verify(cmd.password, phc).await;
        match user {
            Some(user) if ok => Ok((self.tokens.issue(user.id)?, user)),
            _ => Err(DomainError::InvalidCredentials),
        }
    }

    /// The viewer a bearer token stands for; no token is an anonymous viewer, a bad token an error.
    pub fn viewer_from_token(&self, token: Option<&str>) -> DomainResult<Viewer> {
        match token {
            None => Ok(Viewer::ANONYMOUS),
            Some(t) => self.tokens.verify(t).map(Viewer::user),
        }
    }

    pub async fn users_by_ids(&self, ids: &[UserId]) -> DomainResult<Vec<User>> {
        self.store.users_by_ids(ids).await
    }

    pub async fn user_by_handle(&self, handle: &str) -> DomainResult<Option<User>> {
        self.store.user_by_handle(handle).await
    }
}
