use crate::error::ApiResult;
use crate::scope::app;
use crate::types::UserObject;
use async_graphql::{Context, InputObject, Object, SimpleObject};
use weco_domain::services::{LoginCommand, RegisterCommand};

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

/// A bearer token (send it as `Authorization: Bearer <token>`) and its user.
#[derive(SimpleObject)]
pub struct AuthPayload {
    pub token: String,
    pub user: UserObject,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and logs in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let RegisterInput { handle, name, email, password } = input;
        let (token, user) = app(ctx).register(RegisterCommand { handle, name, email, password }).await?;
        Ok(AuthPayload { token, user: user.into() })
    }

    /// Logs in with a handle or e-mail address and a password.
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        let (token, user) = app(ctx).login(LoginCommand { login: input.login, password: input.password }).await?;
        Ok(AuthPayload { token, user: user.into() })
    }
}
