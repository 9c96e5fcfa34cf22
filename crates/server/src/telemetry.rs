//! Logging and tracing through `tracing`.
//!
//! - Logs go to standard error: readable text by default, JSON for production (`--log-format json`).
//!   `RUST_LOG` filters them as usual.
//! - Traces are exported over OTLP/HTTP (protobuf) when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, in builds with the `otel` feature (the default). The
//!   service is named by `OTEL_SERVICE_NAME` (default `weco`); the batch processor and the exporter read the
//!   other standard variables (`OTEL_BSP_SCHEDULE_DELAY`, `OTEL_EXPORTER_OTLP_HEADERS`, …). Spans at INFO and
//!   above are exported whatever `RUST_LOG` says, so quiet logs do not mean missing traces. Without the
//!   variable nothing of OpenTelemetry is set up.

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

#[cfg(feature = "otel")]
type Provider = opentelemetry_sdk::trace::SdkTracerProvider;
/// Builds without the `otel` feature never have one.
#[cfg(not(feature = "otel"))]
type Provider = std::convert::Infallible;

/// What [`init`] set up; [`Telemetry::shutdown`] flushes it.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<Provider>,
}

impl Telemetry {
    /// Whether spans leave the process, which makes detailed GraphQL spans worth their cost.
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter. It blocks (up to the exporter's timeout): call
    /// it off the async runtime, as the server does on its way out.
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "could not flush the remaining spans");
        }
    }
}

/// Sets up logging, and trace export when the environment asks for it. A second call (tests starting several
/// servers in one process) keeps the first subscriber and sets nothing up.
pub fn init(format: &str) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs: BoxedLayer =
        if format == "json" { fmt.json().with_filter(filter).boxed() } else { fmt.with_filter(filter).boxed() };
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers = vec![logs];
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut telemetry = Telemetry::default();
    #[cfg(feature = "otel")]
    if otel::requested() {
        let provider = otel::provider()?;
        layers.push(otel::layer(&provider));
        telemetry.provider = Some(provider);
    }

    if tracing_subscriber::registry().with(layers).try_init().is_err() {
        telemetry.shutdown();
        return Ok(Telemetry::default());
    }
    #[cfg(not(feature = "otel"))]
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty()) {
        tracing::warn!("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build has no trace export (cargo feature `otel`)");
    }
    if telemetry.exports_traces() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Ok(telemetry)
}

#[cfg(feature = "otel")]
mod otel {
    use super::BoxedLayer;
    use anyhow::Context as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::{Key, Value};
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::{Layer as _, Registry};

    /// Whether the standard variables name a collector.
    pub fn requested() -> bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    }

    /// A provider that batches spans and sends them over OTLP/HTTP, on a thread of its own.
    pub fn provider() -> anyhow::Result<SdkTracerProvider> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("setting up the OTLP trace exporter (check OTEL_EXPORTER_OTLP_ENDPOINT)")?;
        Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource()).build())
    }

    /// The resource the environment describes (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), named `weco`
    /// when it names no service.
    fn resource() -> Resource {
        let detected = Resource::builder().build();
        let named = detected
            .get(&Key::from_static_str("service.name"))
            .is_some_and(|name: Value| !name.as_str().starts_with("unknown_service"));
        if named { detected } else { Resource::builder().with_service_name("weco").build() }
    }

    /// Spans at INFO and above, except the exporter's own (which would feed on themselves).
    pub fn layer(provider: &SdkTracerProvider) -> BoxedLayer {
        let spans = Targets::new()
            .with_default(tracing::Level::INFO)
            .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF)
            .with_target("opentelemetry_sdk", tracing::level_filters::LevelFilter::OFF)
            .with_target("opentelemetry_otlp", tracing::level_filters::LevelFilter::OFF)
            .with_target("opentelemetry_http", tracing::level_filters::LevelFilter::OFF)
            .with_target("reqwest", tracing::level_filters::LevelFilter::OFF)
            .with_target("hyper_util", tracing::level_filters::LevelFilter::OFF);
        tracing_opentelemetry::layer::<Registry>().with_tracer(provider.tracer("weco")).with_filter(spans).boxed()
    }
}
