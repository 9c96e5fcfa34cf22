use super::{RequestState, SpaceObject};
use crate::connection::connection;
use crate::error::{ApiError, ApiResult};
use crate::ids::to_id;
use crate::scope::scope;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use weco_domain::{DomainError, SpaceId, SpaceRequest};

/// A request to place `child` under `parent`, for the parent's moderators to answer.
#[derive(Clone)]
pub struct SpaceRequestObject(pub SpaceRequest);

async fn load_space(ctx: &Context<'_>, id: SpaceId) -> ApiResult<SpaceObject> {
    let space = scope(ctx)?.loaders.spaces.load_one(id).await?;
    space.map(SpaceObject::from).ok_or(ApiError(DomainError::NotFound("space")))
}

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
