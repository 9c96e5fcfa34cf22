//! Accounts: registering, logging in and out, sessions, changing passwords, finding users, and muting them.

pub mod deletion;
pub mod mail;
pub mod ports;
pub mod recovery;
pub mod sessions;

use crate::actor::{Actor, Viewer};
use crate::app::App;
use crate::auth::DUMMY_HASH;
use crate::error::{DomainError, DomainResult};
use crate::ids::{SessionId, UserId};
use crate::model::{NewUser, User};
use crate::ports::LoginAttempt;
use crate::uow::{Command, UnitOfWork};
use crate::values::{Email, Handle, Password, UserName, parse_login};
use async_trait::async_trait;
use sessions::NewSession;
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

/// Who a request's token says is asking: the viewer, and the session the token belongs to (none when
/// anonymous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Credentials {
    pub viewer: Viewer,
    pub session: Option<SessionId>,
}

impl Credentials {
    pub const ANONYMOUS: Credentials = Credentials { viewer: Viewer::ANONYMOUS, session: None };
}

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

/// Inserts a new user whose input was checked and whose password was hashed, and opens their first session.
struct Register {
    handle: Handle,
    name: UserName,
    email: Email,
    password_hash: String,
    session: SessionId,
    lifetime: chrono::Duration,
    /// The verification mail to the new address.
    verification: mail::Outgoing,
}

#[async_trait]
impl Command for Register {
    type Output = (User, NewSession);

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<(User, NewSession)> {
        let (handle_taken, email_taken) =
            uow.accounts().handle_or_email_taken(self.handle.as_str(), self.email.as_str()).await?;
        if handle_taken {
            return Err(DomainError::conflict(format!("input.handle: the handle '{}' is taken", self.handle)));
        }
        if email_taken {
            return Err(DomainError::conflict("input.email: an account with this e-mail exists"));
        }
        let user = uow
            .accounts()
            .insert_user(&NewUser {
                id: UserId::generate(),
                handle: self.handle.as_str().to_owned(),
                name: self.name.as_str().to_owned(),
                email: self.email.as_str().to_owned(),
                password_hash: self.password_hash.clone(),
                created_at: uow.now(),
            })
            .await?;
        self.verification.issue(uow, user.id, &user.handle, self.email.as_str()).await?;
        let session = new_session(uow, user.id, self.session, self.lifetime);
        uow.accounts().insert_session(&session).await?;
        Ok((user, session))
    }
}

fn new_session(uow: &UnitOfWork, user: UserId, id: SessionId, lifetime: chrono::Duration) -> NewSession {
    NewSession { id, user_id: user, created_at: uow.now(), expires_at: uow.now() + lifetime }
}

/// Opens a session for the acting user (a login).
struct StartSession {
    session: SessionId,
    lifetime: chrono::Duration,
}

#[async_trait]
impl Command for StartSession {
    type Output = NewSession;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<NewSession> {
        let user = uow.actor().require_user()?;
        let session = new_session(uow, user, self.session, self.lifetime);
        uow.accounts().insert_session(&session).await?;
        Ok(session)
    }
}

/// Ends sessions of the acting user: only `only` when given, else all but `except`.
struct EndSessions {
    only: Option<SessionId>,
    except: Option<SessionId>,
}

#[async_trait]
impl Command for EndSessions {
    type Output = u64;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<u64> {
        let user = uow.actor().require_user()?;
        uow.accounts().end_sessions(user, self.only, self.except).await
    }
}

/// Sets the acting user's new password (checked and hashed) and ends their other sessions.
struct ChangePassword {
    password_hash: String,
    kept: Option<SessionId>,
}

#[async_trait]
impl Command for ChangePassword {
    type Output = u64;

    async fn run(&self, uow: &mut UnitOfWork) -> DomainResult<u64> {
        let user = uow.actor().require_user()?;
        uow.accounts().set_password_hash(user, &self.password_hash).await?;
        uow.accounts().end_sessions(user, None, self.kept).await
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
        let register = Register {
            handle,
            name,
            email,
            password_hash,
            session: SessionId::generate(),
            lifetime: self.lifetime(),
            verification: mail::Outgoing::new(self.app, mail::TokenPurpose::Verify),
        };
        let (user, session) = self.app.execute(Actor::System, &register).await?;
        Ok((self.token_for(&session)?, user))
    }

    fn lifetime(&self) -> chrono::Duration {
        let now = self.app.ports.clock.now();
        self.app.ports.tokens.expiry(now) - now
    }

    fn token_for(&self, session: &NewSession) -> DomainResult<String> {
        self.app.ports.tokens.issue(session.user_id, session.id, session.created_at)
    }

    /// Opens a session for `user` and returns its token.
    async fn start_session(&self, user: UserId) -> DomainResult<String> {
        let start = StartSession { session: SessionId::generate(), lifetime: self.lifetime() };
        let session = self.app.execute(Actor::User(user), &start).await?;
        self.token_for(&session)
    }

    /// Checks a handle-or-email and password. A wrong login and a wrong password look the same, and take
    /// the same time.
    ///
    /// Every attempt passes the login throttle first ([`crate::ports::LoginThrottle`]): after a run of
    /// failures for the account (found by handle or e-mail alike) or from the address, attempts are refused
    /// with `RATE_LIMITED` until a delay has passed, without checking the password. Accounts that do not exist
    /// are throttled by the login given, so the refusal says nothing about which accounts exist.
    pub async fn login(&self, input: LoginInput) -> DomainResult<(String, User)> {
        // Handles and e-mail addresses are stored lower-cased: a login matches whatever its case.
        let login = parse_login(&input.login, "input.login")?;
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
                Ok((self.start_session(user.id).await?, user))
            }
            _ => {
                throttle.failed(&attempt);
                Err(DomainError::InvalidCredentials)
            }
        }
    }

    /// Who a bearer token stands for; no token is an anonymous viewer. A token that is forged, expired, not
    /// valid yet, or whose session is not open (ended, or never issued here: an unknown user) is
    /// `UNAUTHENTICATED`. At most one read of the store, and none while the session's answer is cached.
    pub async fn authenticate(&self, token: Option<&str>) -> DomainResult<Credentials> {
        let Some(token) = token else { return Ok(Credentials::ANONYMOUS) };
        let claims = self.app.ports.tokens.verify(token)?;
        if !self.session_open(claims.session, claims.user).await? {
            return Err(DomainError::Unauthenticated);
        }
        Ok(Credentials { viewer: Viewer::user(claims.user), session: Some(claims.session) })
    }

    /// Whether `session` of `user` is still open, as known within the session cache's bound.
    pub async fn session_open(&self, session: SessionId, user: UserId) -> DomainResult<bool> {
        let cache = &self.app.sessions;
        let owner = match cache.get(session) {
            Some(owner) => owner,
            None => {
                // The primary: a session opened a moment ago may not have reached a read replica yet.
                let now = self.app.ports.clock.now();
                let owner = self.app.ports.store.accounts().session_user(session, now).await?;
                cache.put(session, owner);
                owner
            }
        };
        Ok(owner == Some(user))
    }

    /// Watches the session of `credentials` for a websocket that lives on it (`None` without a session):
    /// the guard's [`sessions::SessionGuard::ended`] resolves when the session ends, at once when it ends on
    /// this replica and within [`Self::session_cache_bound`] otherwise ([`Self::check_watched_sessions`]).
    pub fn watch_session(&self, credentials: Credentials) -> Option<sessions::SessionGuard> {
        let (session, user) = (credentials.session?, credentials.viewer.id()?);
        Some(self.app.sessions.watch().hold(session, user))
    }

    /// Reads whether the sessions this replica's websockets hold are still open, a batch to a statement, and
    /// ends those that are not (ended on another replica, or expired). Returns how many ended. The server runs
    /// it once per session cache bound.
    pub async fn check_watched_sessions(&self) -> DomainResult<usize> {
        let watched = self.app.sessions.watch().watched();
        let now = self.app.ports.clock.now();
        let mut ended = 0;
        for batch in watched.chunks(sessions::SessionWatch::BATCH) {
            let open: std::collections::HashSet<SessionId> =
                self.app.ports.store.accounts().open_sessions(batch, now).await?.into_iter().collect();
            for session in batch.iter().filter(|s| !open.contains(s)) {
                self.app.sessions.ended(*session);
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// How long a session's answer is kept ([`sessions::SessionCache`]): a session ended on another replica
    /// may still be taken as open here for that long.
    pub fn session_cache_bound(&self) -> std::time::Duration {
        self.app.sessions.bound()
    }

    /// `logout`: ends the session the request's token belongs to; its token stops working.
    pub async fn logout(&self, credentials: Credentials) -> DomainResult<bool> {
        let actor = credentials.viewer.actor()?;
        let session = credentials.session.ok_or(DomainError::Unauthenticated)?;
        let ended = self.app.execute(actor, &EndSessions { only: Some(session), except: None }).await?;
        self.app.sessions.ended(session);
        Ok(ended > 0)
    }

    /// `logoutEverywhere`: ends every session of the viewer, this one included. Returns how many ended.
    pub async fn logout_everywhere(&self, viewer: Viewer) -> DomainResult<u64> {
        let user = viewer.require()?;
        let ended = self.app.execute(Actor::User(user), &EndSessions { only: None, except: None }).await?;
        self.app.sessions.ended_for_user(user, None);
        Ok(ended)
    }

    /// `changePassword`: checks the current password (under the login throttle, as a login), sets the new one,
    /// and ends every other session of the user; the session that made the change stays open. Returns how many
    /// sessions ended.
    pub async fn change_password(
        &self,
        credentials: Credentials,
        current: String,
        new: &str,
        address: Option<IpAddr>,
    ) -> DomainResult<u64> {
        let user = credentials.viewer.require()?;
        let password = Password::parse(new, "newPassword")?;
        self.check_password(user, current, address, "currentPassword").await?;
        let password_hash = self.app.ports.hasher.hash(password.expose().to_owned()).await?;
        let kept = credentials.session;
        let ended = self.app.execute(Actor::User(user), &ChangePassword { password_hash, kept }).await?;
        self.app.sessions.ended_for_user(user, kept);
        Ok(ended)
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
