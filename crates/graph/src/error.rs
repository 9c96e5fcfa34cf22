//! Domain errors as GraphQL errors: every error carries `extensions.code`; internal causes are logged here
//! and reach the client as "internal error" only.

use async_graphql::ErrorExtensions;
use weco_domain::DomainError;

/// What resolvers return on failure. It deliberately does not implement `Display`, so it cannot slip into
/// async-graphql's catch-all conversion that would drop the code.
#[derive(Debug, Clone)]
pub struct ApiError(pub DomainError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(ApiError(e): ApiError) -> Self {
        if let DomainError::Internal(cause) = &e {
            tracing::error!(%cause, "internal error");
        }
        let code = e.code();
        let mut error = async_graphql::Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", code));
        if let DomainError::Validation { field, .. } = &e {
            let field = field.clone();
            error = error.extend_with(move |_, ext| ext.set("field", field.as_str()));
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions_json(e: async_graphql::Error) -> serde_json::Value {
        serde_json::to_value(e.into_server_error(Default::default())).expect("serialises")
    }

    #[test]
    fn every_domain_error_carries_its_code() {
        let json = extensions_json(ApiError(DomainError::Cycle("no".into())).into());
        assert_eq!(json["extensions"]["code"], "CYCLE");
    }

    #[test]
    fn internal_errors_reach_the_client_without_their_cause() {
        let json = extensions_json(ApiError(DomainError::internal("db", "password=hunter2 connection refused")).into());
        assert_eq!(json["message"], "internal error");
        assert_eq!(json["extensions"]["code"], "INTERNAL");
        assert!(!json.to_string().contains("hunter2"));
    }

    #[test]
    fn validation_errors_name_their_field() {
        let json = extensions_json(ApiError(DomainError::validation("input.handle", "too short")).into());
        assert_eq!(json["extensions"]["field"], "input.handle");
    }
}
