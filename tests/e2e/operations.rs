//! Running the real `weco` binary as operators do: settings from a `--config` file, and traces exported to an
//! OpenTelemetry collector (a stand-in here that decodes what it receives), flushed on graceful shutdown.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use e2e::process::{ServerProcess, weco_binary};
use e2e::{Backend, TestDatabase, poll_until};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A file in the temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!("weco-e2e-{}.toml", uuid::Uuid::now_v7().simple()));
        std::fs::write(&path, text).expect("writing a temporary file");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn post_query(addr: SocketAddr, query: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request");
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "current_thread")]
async fn a_config_file_sets_the_depth_limit_of_the_real_server() {
    let Some(database) = TestDatabase::create(Backend::Sqlite).await.expect("database") else { return };
    // The environment (WECO_LISTEN=127.0.0.1:0, set by the harness) overrides the file's address.
    let file = TempFile::new("# a deployment's settings\nmax_depth = 3\nlisten = \"127.0.0.1:1\"\n");
    let server = ServerProcess::spawn_with(&database.url, |c| {
        c.arg("--config").arg(&file.0);
    })
    .expect("weco started (is the binary built?)");
    assert_ne!(server.addr.port(), 1, "the file's address won over the environment's");

    let at_the_limit = post_query(server.addr, r#"{ space(handle: "all") { ancestors { handle } } }"#).await;
    assert!(at_the_limit.get("errors").is_none(), "depth 3 is allowed: {at_the_limit}");
    let deeper = post_query(server.addr, r#"{ space(handle: "all") { children { nodes { handle } } } }"#).await;
    assert_eq!(deeper["errors"][0]["extensions"]["code"], "VALIDATION", "{deeper}");
    assert!(deeper["errors"][0]["message"].as_str().is_some_and(|m| m.contains("nested too deep")), "{deeper}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_config_file_with_an_unknown_key_stops_the_server_with_an_error_naming_it() {
    let bin = weco_binary().expect("the weco binary is built");
    let file = TempFile::new("max_depth = 3\nmax_compexity = 10\n");
    let mut child = Command::new(bin)
        .arg("serve")
        .env("WECO_CONFIG", &file.0)
        .env("DATABASE_URL", "sqlite::memory:")
        .env("WECO_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weco");
    let mut exit = None;
    poll_until(async || {
        exit = child.try_wait().expect("wait");
        exit.is_some()
    })
    .await;
    let Some(status) = exit else {
        let _ = child.kill();
        panic!("weco started despite the unknown key");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown setting `max_compexity`"), "{stderr}");
    assert!(stderr.contains(&file.0.display().to_string()), "{stderr}");
}

/// What a stand-in collector received on `POST /v1/traces`: content type and body, per request.
type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

/// An OTLP/HTTP collector on a free port that keeps every export it receives.
async fn start_collector() -> (SocketAddr, Received) {
    async fn traces(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if let Ok(mut received) = received.lock() {
            received.push((content_type, body));
        }
        StatusCode::OK
    }
    let received = Received::default();
    let app = axum::Router::new().route("/v1/traces", axum::routing::post(traces)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the collector");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, received)
}

/// A span as exported: its trace, name, and the service that sent it.
#[derive(Debug)]
struct ExportedSpan {
    trace_id: Vec<u8>,
    name: String,
    service: String,
    attributes: Vec<String>,
}

fn string_value(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Decodes everything received so far; panics on a body that is not an OTLP protobuf export.
fn exported_spans(received: &Received) -> Vec<ExportedSpan> {
    let bodies: Vec<(String, Bytes)> = received.lock().map(|r| r.clone()).unwrap_or_default();
    let mut spans = Vec::new();
    for (content_type, body) in bodies {
        assert_eq!(content_type, "application/x-protobuf");
        assert!(!body.is_empty(), "an empty export");
        let export = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
        for resource_spans in export.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .map(|kv| string_value(kv.value.as_ref()))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push(ExportedSpan {
                    trace_id: span.trace_id,
                    name: span.name,
                    service: service.clone(),
                    attributes: span
                        .attributes
                        .iter()
                        .map(|kv| format!("{}={}", kv.key, string_value(kv.value.as_ref())))
                        .collect(),
                });
            }
        }
    }
    spans
}

/// The HTTP request span for `POST /graphql` and the GraphQL execution spans in the same trace, once all
/// have arrived.
fn graphql_trace(spans: &[ExportedSpan]) -> Option<(&ExportedSpan, Vec<&ExportedSpan>)> {
    let http = spans.iter().find(|s| s.name == "request" && s.attributes.iter().any(|a| a == "uri=/graphql"))?;
    let inner: Vec<&ExportedSpan> =
        spans.iter().filter(|s| s.trace_id == http.trace_id && s.name != "request").collect();
    let has = |name: &str| inner.iter().any(|s| s.name == name);
    (has("execute") && has("field")).then_some((http, inner))
}

const QUERY: &str = r#"{ space(handle: "all") { handle children { nodes { handle } } } }"#;

#[tokio::test(flavor = "current_thread")]
async fn request_and_graphql_spans_reach_an_otlp_collector() {
    let Some(database) = TestDatabase::create(Backend::Sqlite).await.expect("database") else { return };
    let (collector, received) = start_collector().await;
    // RUST_LOG=warn (set by the harness) quiets the logs, not the exported spans.
    let server = ServerProcess::spawn_with(&database.url, |c| {
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("OTEL_RESOURCE_ATTRIBUTES");
    })
    .expect("weco started (is the binary built?)");
    let body = post_query(server.addr, QUERY).await;
    assert_eq!(body["data"]["space"]["handle"], "all", "{body}");

    poll_until(async || graphql_trace(&exported_spans(&received)).is_some()).await;
    let spans = exported_spans(&received);
    let Some((http, inner)) = graphql_trace(&spans) else {
        panic!("no complete GraphQL trace within {:?}; got {spans:?}", e2e::PATIENCE)
    };
    assert_eq!(http.service, "weco", "the default service name");
    assert!(http.attributes.iter().any(|a| a == "method=POST"), "{http:?}");
    assert!(inner.iter().any(|s| s.name == "parse"), "{inner:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn spans_still_buffered_are_sent_on_graceful_shutdown() {
    let Some(database) = TestDatabase::create(Backend::Sqlite).await.expect("database") else { return };
    let (collector, received) = start_collector().await;
    let server = ServerProcess::spawn_with(&database.url, |c| {
        c.env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"))
            .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
            .env("OTEL_SERVICE_NAME", "weco-e2e");
    })
    .expect("weco started (is the binary built?)");
    let body = post_query(server.addr, QUERY).await;
    assert_eq!(body["data"]["space"]["handle"], "all", "{body}");
    assert!(exported_spans(&received).is_empty(), "exported before the ten-minute batch delay");

    // SIGTERM, as from a container runtime; the collector runs on this test's runtime, so wait elsewhere.
    let mut server = server;
    let (exited, _server) =
        tokio::task::spawn_blocking(move || (server.terminate(Duration::from_secs(15)), server)).await.expect("join");
    assert!(exited, "weco did not exit cleanly within 15 s of SIGTERM");
    let spans = exported_spans(&received);
    let (http, _) = graphql_trace(&spans).unwrap_or_else(|| panic!("the buffered trace was not sent: {spans:?}"));
    assert_eq!(http.service, "weco-e2e", "OTEL_SERVICE_NAME names the service");
}
