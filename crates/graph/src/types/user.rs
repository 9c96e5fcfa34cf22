use super::PostConnection;
use crate::connection::{connection, page_request_in};
use crate::error::ApiResult;
use crate::ids::to_id;
use crate::scope::{app, scope};
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use weco_domain::User;

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

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The user's posts that the viewer may see, newest first.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(20)")] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<PostConnection> {
        let page = page_request_in(ctx, first, after.as_deref())?;
        let page = app(ctx).user_posts(scope(ctx)?.viewer, self.0.id, page).await?;
        Ok(PostConnection::from_page(page))
    }
}

connection!(UserConnection, UserEdge, UserObject, "user");
