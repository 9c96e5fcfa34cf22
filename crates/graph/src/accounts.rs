//! Accounts in the schema: `User`, `me` and `user`, registering, logging in and out, changing passwords,
//! muting.

use crate::connection::{connection, page_request_in};
use crate::error::{ApiError, ApiResult};
use crate::ids::to_id;
use crate::posts::PostConnection;
use crate::scope::{app, scope};
use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use weco_domain::accounts::{ClientAddress, Credentials, LoginInput as Login, RegisterInput as Register};
use weco_domain::{App, DomainError, User, UserId};

/// A person on Weco.
#[derive(Clone)]
pub struct UserObject(pub Arc<User>);

impl From<User> for UserObject {
    fn from(u: User) -> Self {
        Self(Arc::new(u))
    }
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// Unique, lower-case; how others mention this user.
    async fn handle(&self) -> &str {
        &self.0.handle
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the user says about themselves.
    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }

    /// Whether open data exports name this user by their handle (otherwise by a pseudonym). Null for anyone
    /// but the user themself.
    async fn open_data_name(&self, ctx: &Context<'_>) -> ApiResult<Option<bool>> {
        Ok(crate::scope::app(ctx).commons().open_data_name(scope(ctx)?.viewer, self.0.id).await?)
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The account's e-mail address: the user themself only (null for anyone else).
    async fn email(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let status = app(ctx).accounts().email_status(scope(ctx)?.viewer, self.0.id).await?;
        Ok(status.map(|(email, _)| email))
    }

    /// Whether the account's e-mail address was verified (by `verifyEmail` or a password reset): the user
    /// themself only (null for anyone else).
    async fn email_verified(&self, ctx: &Context<'_>) -> ApiResult<Option<bool>> {
        let status = app(ctx).accounts().email_status(scope(ctx)?.viewer, self.0.id).await?;
        Ok(status.map(|(_, verified)| verified))
    }

    /// A member of the platform's cooperative: may vote in polls for cooperative members.
    async fn is_coop_member(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(scope(ctx)?.loaders.coop_members.load_one(self.0.id).await?.unwrap_or(false))
    }

    /// The user's posts that the viewer may see, newest first.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).feeds().user_posts(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(PostConnection::from_page(page))
    }

    /// Who follows this user, most recent first.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        crate::people::followers(ctx, self.0.id, first, after).await
    }

    /// Whom this user follows, most recent first.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<UserConnection> {
        crate::people::following(ctx, self.0.id, first, after).await
    }

    /// How many users follow this one.
    async fn total_followers(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        Ok(crate::connection::int(crate::people::total_followers(ctx, self.0.id).await?))
    }

    /// Whether the viewer follows this user.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        crate::people::viewer_is_following(ctx, self.0.id).await
    }

    /// The spaces this user moderates or is a member of, among those the viewer may access, most followed first.
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn spaces(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::holarchy::SpaceConnection> {
        crate::people::spaces(ctx, self.0.id, first, after).await
    }

    /// The user's notifications, newest first: readable by the user themself only (`FORBIDDEN` for others).
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] unseen_only: Option<bool>,
    ) -> ApiResult<crate::notifications::NotificationConnection> {
        crate::notifications::notifications(ctx, self.0.id, first, after, unseen_only.unwrap_or(false)).await
    }

    /// The user's streams, oldest first; null for anyone but the user themself.
    async fn streams(&self, ctx: &Context<'_>) -> ApiResult<Option<Vec<crate::people::StreamObject>>> {
        crate::people::streams(ctx, self.0.id).await
    }

    /// How many of the user's notifications are unseen; null for anyone but the user themself.
    async fn unseen_notifications(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        crate::notifications::unseen(ctx, self.0.id).await
    }

    /// The user's chats, most recently active first: readable by the user themself only (`FORBIDDEN` for
    /// others).
    #[graphql(complexity = "crate::connection::cost(first, child_complexity)")]
    async fn chats(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::chat::ChatConnection> {
        crate::chat::chats_of(ctx, self.0.id, first, after).await
    }

    /// How many messages of others the user has not seen in all their chats; null for anyone but the user.
    async fn unseen_messages(&self, ctx: &Context<'_>) -> ApiResult<Option<i32>> {
        crate::chat::unseen_total(ctx, self.0.id).await
    }
}

connection!(UserConnection, UserEdge, UserObject, "user");

/// A user by id (users are public).
pub(crate) async fn load_user(ctx: &Context<'_>, id: UserId) -> ApiResult<UserObject> {
    let user = scope(ctx)?.loaders.users.load_one(id).await?;
    user.map(UserObject::from).ok_or(ApiError(DomainError::NotFound("user")))
}

/// Whether each user is a member of the cooperative.
pub(crate) struct CoopMemberLoader {
    pub app: App,
}

impl Loader<UserId> for CoopMemberLoader {
    type Value = bool;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, bool>, DomainError> {
        let members = self.app.accounts().coop_members(keys).await?;
        Ok(keys.iter().map(|k| (*k, members.contains(k))).collect())
    }
}

pub(crate) struct UserLoader {
    pub app: App,
}

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = DomainError;

    async fn load(&self, keys: &[UserId]) -> Result<HashMap<UserId, User>, DomainError> {
        Ok(self.app.accounts().users_by_ids(keys).await?.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// A new account.
#[derive(InputObject)]
pub struct RegisterInput {
    /// 2 to 40 lower-case letters, digits, `-` or `_`; unique.
    pub handle: String,
    pub name: String,
    /// Must contain one `@`; unique.
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    /// A handle or an e-mail address.
    pub login: String,
    pub password: String,
}

/// What `deleteAccount` does with the user's contributions.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AccountDeletion")]
pub enum AccountDeletionMode {
    /// Posts, comments, reactions, reposts and poll ballots stay, shown as by a deleted user.
    Anonymize,
    /// The user's posts are deleted, likes and ratings withdrawn (every counter follows) and comments hidden;
    /// reposts and poll ballots stay, shown as by a deleted user.
    Erase,
}

/// A bearer token (send it as `Authorization: Bearer <token>`) and its user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub user: UserObject,
}

/// What `changePassword` did.
#[derive(SimpleObject)]
pub struct ChangePasswordPayload {
    pub user: UserObject,
    /// How many other sessions it ended (their tokens no longer work).
    pub ended_sessions: i32,
}

/// The request's credentials, as the server read them from its token (anonymous when there is none).
fn credentials(ctx: &Context<'_>) -> ApiResult<Credentials> {
    let viewer = scope(ctx)?.viewer;
    let session = ctx.data_opt::<Credentials>().filter(|c| c.viewer == viewer).and_then(|c| c.session);
    Ok(Credentials { viewer, session })
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The logged-in viewer; null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Option<UserObject>> {
        let scope = scope(ctx)?;
        let Some(id) = scope.viewer.id() else { return Ok(None) };
        Ok(scope.loaders.users.load_one(id).await?.map(UserObject::from))
    }

    /// A user by handle.
    async fn user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<Option<UserObject>> {
        Ok(app(ctx).accounts().user_by_handle(&handle).await?.map(UserObject::from))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and logs in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let RegisterInput { handle, name, email, password } = input;
        let (token, user) = app(ctx).accounts().register(Register { handle, name, email, password }).await?;
        Ok(AuthPayload { token, user: user.into() })
    }

    /// Logs in with a handle or e-mail address and a password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        // The server hands each request the client's address, which the login throttle also counts by.
        let address = ctx.data_opt::<ClientAddress>().map(|a| a.0);
        let (token, user) =
            app(ctx).accounts().login(Login { login: input.login, password: input.password, address }).await?;
        Ok(AuthPayload { token, user: user.into() })
    }

    /// Ends the session of the token this request carries: the token stops working (on other replicas within
    /// the server's session cache bound, a few seconds). True when it was open.
    async fn logout(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(app(ctx).accounts().logout(credentials(ctx)?).await?)
    }

    /// Ends every session of the viewer, this one included: every token they hold stops working. Returns how
    /// many sessions ended.
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> ApiResult<i32> {
        let ended = app(ctx).accounts().logout_everywhere(scope(ctx)?.viewer).await?;
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Changes the viewer's password, given the current one (refused with `VALIDATION` on field
    /// `currentPassword` when wrong, and throttled like logins), and ends every other session of theirs: the
    /// token that made the change keeps working, every other one stops.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> ApiResult<ChangePasswordPayload> {
        let credentials = credentials(ctx)?;
        let address = ctx.data_opt::<ClientAddress>().map(|a| a.0);
        let accounts = app(ctx).accounts();
        let ended = accounts.change_password(credentials, current_password, &new_password, address).await?;
        let user = load_user(ctx, credentials.viewer.require()?).await?;
        Ok(ChangePasswordPayload { user, ended_sessions: i32::try_from(ended).unwrap_or(i32::MAX) })
    }

    /// Mails a password reset token to the account with this address, if there is one (at most 3 an hour per
    /// account). Always true, so it tells nobody which addresses have accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> ApiResult<bool> {
        Ok(app(ctx).accounts().request_password_reset(&email).await?)
    }

    /// Sets a new password with a mailed reset token (single use, expiring), ends every session of the user
    /// (every earlier token stops working) and logs in. A bad, used or expired token is `VALIDATION` on `token`.
    async fn reset_password(&self, ctx: &Context<'_>, token: String, new_password: String) -> ApiResult<AuthPayload> {
        let (token, user) = app(ctx).accounts().reset_password(&token, &new_password).await?;
        Ok(AuthPayload { token, user: user.into() })
    }

    /// Marks the address a mailed verification token was sent to verified. No login needed.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> ApiResult<UserObject> {
        Ok(app(ctx).accounts().verify_email(&token).await?.into())
    }

    /// Changes the viewer's e-mail address, given their password (`VALIDATION` on `password` when wrong,
    /// throttled like logins); the new address is unverified and gets a verification mail.
    async fn change_email(&self, ctx: &Context<'_>, password: String, email: String) -> ApiResult<UserObject> {
        let address = ctx.data_opt::<ClientAddress>().map(|a| a.0);
        let user = app(ctx).accounts().change_email(credentials(ctx)?, password, &email, address).await?;
        Ok(user.into())
    }

    /// Mails the viewer's unverified address a new verification token (at most 3 an hour). False when the
    /// address is verified already or the limit is reached.
    async fn request_email_verification(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(app(ctx).accounts().request_email_verification(scope(ctx)?.viewer).await?)
    }

    /// Deletes the viewer's account, given their password (`VALIDATION` on `password` when wrong, throttled
    /// like logins): their profile, address, sessions (every token stops working), follows, mutes, streams,
    /// notifications and memberships go; in `ANONYMIZE` their posts, comments, reactions and ballots stay, shown
    /// as by a deleted user, in `ERASE` their posts, likes, ratings and comments go too. The handle and address are free again at once.
    async fn delete_account(&self, ctx: &Context<'_>, password: String, mode: AccountDeletionMode) -> ApiResult<bool> {
        let address = ctx.data_opt::<ClientAddress>().map(|a| a.0);
        let mode = match mode {
            AccountDeletionMode::Anonymize => weco_domain::accounts::deletion::AccountDeletion::Anonymize,
            AccountDeletionMode::Erase => weco_domain::accounts::deletion::AccountDeletion::Erase,
        };
        let deleted = app(ctx).accounts().delete_account(credentials(ctx)?, password, mode, address).await?;
        scope(ctx)?.invalidate();
        Ok(deleted)
    }

    /// Leaves a user's posts out of the viewer's feeds and searches.
    async fn mute_user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).accounts().set_muted(scope.viewer, &handle, true).await?;
        scope.invalidate();
        Ok(user.into())
    }

    async fn unmute_user(&self, ctx: &Context<'_>, handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).accounts().set_muted(scope.viewer, &handle, false).await?;
        scope.invalidate();
        Ok(user.into())
    }

    /// Makes a user a member of the platform's cooperative (platform admins, named in `WECO_ADMINS`).
    async fn grant_coop_membership(&self, ctx: &Context<'_>, user_handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).accounts().set_coop_member(scope.viewer, &user_handle, true).await?;
        scope.invalidate();
        Ok(user.into())
    }

    /// Ends a user's membership of the cooperative (platform admins).
    async fn revoke_coop_membership(&self, ctx: &Context<'_>, user_handle: String) -> ApiResult<UserObject> {
        let scope = scope(ctx)?;
        let user = app(ctx).accounts().set_coop_member(scope.viewer, &user_handle, false).await?;
        scope.invalidate();
        Ok(user.into())
    }
}
