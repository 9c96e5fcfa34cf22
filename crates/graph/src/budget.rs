//! The cost limit and the response size, held at run time, while an operation resolves.
//!
//! The cost computed before execution counts a connection as `first` times its selection, but a plain list
//! (`Space.ancestors`, `Post.spaces`) once, whatever its length, since its length is not known before it is
//! read — and anyone can make those lists long: a chain of nested spaces has as many ancestors as it is deep, a
//! post as many spaces as it was reposted into. Nested, they multiply: `ancestors { ancestors { ancestors { … }
//! } }` over a chain a thousand deep is a hundred million fields at the cost of a handful. Nor does the cost
//! know how long texts are: a query within it may ask for tens of thousands of long posts. The size limit of
//! the server checks the response once it is built, too late for the memory it took.
//!
//! So while an operation resolves, every field and every list item counts one (the engine resolves both
//! through the extensions' `resolve` hook), and every text resolved counts its bytes. Once the operation has
//! resolved more than `max_resolved` (twice the cost limit) or `max_bytes` of text (the response limit), the
//! next field fails with code `RESPONSE_TOO_LARGE` and every later one resolves to null without running, so the
//! work stops about where the limit is; the server then replaces the whole response by that error. A query's
//! cost counts each of its fields and items at least once, except for those lists, so a query without them
//! never reaches `max_resolved`. For a subscription the count starts again with each event.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Request, Response, ServerError, ServerResult, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What one operation has resolved so far; in its request data.
#[derive(Default)]
struct Spent {
    resolved: AtomicUsize,
    bytes: AtomicUsize,
    /// Whether the limit was crossed (the error is reported once; later fields are left null).
    over: AtomicBool,
}

/// The extension that keeps what each operation spends: at most `max_resolved` fields and list items, and
/// `max_bytes` of text.
pub struct ResolveBudget {
    pub max_resolved: usize,
    pub max_bytes: usize,
}

impl ResolveBudget {
    fn refusal(&self) -> ServerError {
        let mut error = ServerError::new(
            format!(
                "the response is too large: the operation resolves more than {} fields and list items or {} bytes \
                 of text, the most the server resolves for one (lists such as ancestors and spaces count by their \
                 length, which the cost limit cannot know): ask for fewer items or fields",
                self.max_resolved, self.max_bytes
            ),
            None,
        );
        error.extensions.get_or_insert_with(Default::default).set("code", "RESPONSE_TOO_LARGE");
        error
    }
}

impl ExtensionFactory for ResolveBudget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolveBudget { max_resolved: self.max_resolved, max_bytes: self.max_bytes })
    }
}

#[async_trait::async_trait]
impl Extension for ResolveBudget {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(Arc::new(Spent::default()))).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // Each event of a subscription is executed anew, with the whole budget.
        if let Some(spent) = ctx.data_opt::<Arc<Spent>>() {
            spent.resolved.store(0, Ordering::Relaxed);
            spent.bytes.store(0, Ordering::Relaxed);
            spent.over.store(false, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(spent) = ctx.data_opt::<Arc<Spent>>() else { return next.run(ctx, info).await };
        if spent.over.load(Ordering::Relaxed) {
            // Null, not nothing: a list item must have a value.
            return Ok(Some(Value::Null));
        }
        if spent.resolved.fetch_add(1, Ordering::Relaxed) >= self.max_resolved {
            return self.cross(spent);
        }
        let value = next.run(ctx, info).await?;
        if let Some(Value::String(text)) = &value
            && spent.bytes.fetch_add(text.len(), Ordering::Relaxed) + text.len() > self.max_bytes
        {
            return self.cross(spent);
        }
        Ok(value)
    }
}

impl ResolveBudget {
    /// The field that crosses the limit: the error, once; null for any other field crossing it at the same time.
    fn cross(&self, spent: &Spent) -> ServerResult<Option<Value>> {
        if spent.over.swap(true, Ordering::Relaxed) { Ok(Some(Value::Null)) } else { Err(self.refusal()) }
    }
}

#[cfg(test)]
mod tests {
    use super::ResolveBudget;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Root;

    #[Object]
    impl Root {
        /// `n` copies of `text`.
        async fn texts(&self, n: usize, text: String) -> Vec<String> {
            vec![text; n]
        }

        async fn nested(&self, n: usize) -> Vec<Root> {
            (0..n).map(|_| Root).collect()
        }
    }

    fn schema() -> Schema<Root, EmptyMutation, EmptySubscription> {
        Schema::build(Root, EmptyMutation, EmptySubscription)
            .extension(ResolveBudget { max_resolved: 1_000, max_bytes: 10_000 })
            .finish()
    }

    fn codes(response: &async_graphql::Response) -> Vec<String> {
        let json = serde_json::to_value(&response.errors).expect("JSON");
        json.as_array().into_iter().flatten().map(|e| e["extensions"]["code"].as_str().unwrap_or("").into()).collect()
    }

    #[tokio::test]
    async fn lists_that_multiply_are_stopped_once_the_operation_has_resolved_its_share() {
        let response = schema()
            .execute("{ nested(n: 30) { nested(n: 30) { nested(n: 30) { a: texts(n: 0, text: \"\") } } } }")
            .await;
        assert_eq!(codes(&response), ["RESPONSE_TOO_LARGE"], "one error, later fields null");
        let fine = schema().execute("{ nested(n: 10) { nested(n: 10) { texts(n: 2, text: \"x\") } } }").await;
        assert!(fine.errors.is_empty(), "{:?}", fine.errors);
    }

    #[tokio::test]
    async fn text_beyond_the_response_size_is_refused_while_it_resolves() {
        let long = "x".repeat(1_000);
        let query = format!("{{ texts(n: 20, text: \"{long}\") }}");
        assert_eq!(codes(&schema().execute(query.as_str()).await), ["RESPONSE_TOO_LARGE"]);
        let query = format!("{{ texts(n: 5, text: \"{long}\") }}");
        assert!(schema().execute(query.as_str()).await.errors.is_empty());
    }
}
