//! Domain errors as GraphQL errors: every error carries `extensions.code`; internal causes are logged here
//! and reach the client as "internal error" only.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{ErrorExtensions, ServerError, ServerResult};
use std::sync::Arc;
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

/// Marks async-graphql's own argument errors as bad input. The engine coerces a field's arguments before its
/// resolver runs, and an argument it cannot coerce (`first: 2147483648` or `value: 10000000000` for an `Int`, a
/// string where an enum goes) fails the field with an error that has no code, which the HTTP layer would take
/// for an `INTERNAL` one. This extension gives such errors `extensions.code = VALIDATION` and, when it can tell,
/// `extensions.field` naming the argument. They are recognised by the two messages async-graphql makes them
/// with (`InputValueError::custom` and `::expected_type`: `Failed to parse "T": …` and `Expected input type "T",
/// …`), on errors without a code: every error of Weco's own resolvers has one ([`ApiError`]).
pub struct InputErrors;

impl ExtensionFactory for InputErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InputErrors)
    }
}

#[async_trait::async_trait]
impl Extension for InputErrors {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        let (parent, name, field) = (info.parent_type, info.name, info.field);
        next.run(ctx, info).await.map_err(|mut error| {
            let Some(ty) = coerced_type(&error) else { return error };
            let declared = ctx.schema_env.registry.concrete_type_by_name(parent).and_then(|t| t.field_by_name(name));
            let argument = field
                .arguments
                .iter()
                .map(|(arg, _)| arg.node.as_str())
                .find(|arg| {
                    let declared_type = declared.and_then(|f| f.args.get(*arg)).map(|a| a.ty.as_str());
                    declared_type.is_some_and(|t| t.trim_matches(['[', ']', '!']) == ty)
                })
                .or_else(|| match field.arguments.as_slice() {
                    [(only, _)] => Some(only.node.as_str()),
                    _ => None,
                })
                .map(str::to_owned);
            let extensions = error.extensions.get_or_insert_with(Default::default);
            extensions.set("code", "VALIDATION");
            if let Some(argument) = argument {
                extensions.set("field", argument);
            }
            error
        })
    }
}

/// The type an argument error of async-graphql's own (see [`InputErrors`]) failed to coerce to, innermost
/// first; `None` for any other error, or one that has a code.
fn coerced_type(error: &ServerError) -> Option<&str> {
    if error.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
        return None;
    }
    let rest = error
        .message
        .strip_prefix("Failed to parse \"")
        .or_else(|| error.message.strip_prefix("Expected input type \""))?;
    rest.split('"').next()
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

#[cfg(test)]
mod input_errors {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Root;

    #[Object]
    impl Root {
        async fn page(&self, first: Option<i32>, label: Option<String>) -> i32 {
            first.unwrap_or_default() + label.map_or(0, |l| l.len() as i32)
        }
    }

    #[tokio::test]
    async fn arguments_the_engine_cannot_coerce_are_validation_errors_naming_the_argument() {
        let schema = Schema::build(Root, EmptyMutation, EmptySubscription).extension(super::InputErrors).finish();
        for (query, variables) in [
            ("{ page(first: 2147483648) }", serde_json::json!({})),
            ("query($f: Int) { page(first: $f, label: \"x\") }", serde_json::json!({ "f": 10_000_000_000_i64 })),
        ] {
            let request = async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables));
            let response = serde_json::to_value(schema.execute(request).await).expect("JSON");
            assert_eq!(response["errors"][0]["extensions"]["code"], "VALIDATION", "{response}");
            assert_eq!(response["errors"][0]["extensions"]["field"], "first", "{response}");
        }
        let fine = schema.execute("{ page(first: 3) }").await;
        assert!(fine.errors.is_empty());
    }
}
