//! The `SpaceRequest` type: a request to place a space under another, for the parent's moderators.

use super::{SpaceObject, load_space};
use crate::connection::connection;
use crate::enums::RequestState;
use crate::error::ApiResult;
use crate::ids::to_id;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use weco_domain::SpaceRequest;

/// A request to place `child` under `parent`, for the parent's moderators to answer.
#[derive(Clone)]
pub struct SpaceRequestObject(pub SpaceRequest);

#[Object(name = "SpaceRequest")]
impl SpaceRequestObject {
    async fn id(&self) -> ID {
        to_id(self.0.id)
    }

    /// The space asking to be placed under `parent`.
    async fn child(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.child_id).await
    }

    /// The space whose moderators decide.
    async fn parent(&self, ctx: &Context<'_>) -> ApiResult<SpaceObject> {
        load_space(ctx, self.0.parent_id).await
    }

    async fn state(&self) -> RequestState {
        self.0.state.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

connection!(SpaceRequestConnection, SpaceRequestEdge, SpaceRequestObject, "space request");
