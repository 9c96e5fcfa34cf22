//! GraphQL `ID`s are the UUIDs of the domain's ids, in their usual text form.

use crate::error::ApiError;
use async_graphql::ID;
use weco_domain::DomainError;

/// Parses `id` (the argument named `field`) into a domain id.
pub(crate) fn parse_id<T: From<uuid::Uuid>>(id: &ID, field: &str) -> Result<T, ApiError> {
    uuid::Uuid::try_parse(id.as_str())
        .map(T::from)
        .map_err(|_| ApiError(DomainError::validation(field, "is not a valid id")))
}

pub(crate) fn to_id(id: impl Into<uuid::Uuid>) -> ID {
    ID(id.into().to_string())
}
