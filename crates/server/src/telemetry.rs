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

use tracing_subscriber::EnvFilter;

const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

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

    #[cfg(feature = "otel")]
    if otel::requested() {
        return otel::init(format, filter);
    }

    // Without export, one global filter: disabled callsites cost nothing.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
    #[cfg(not(feature = "otel"))]
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty()) {
        tracing::warn!("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this build has no trace export (cargo feature `otel`)");
    }
    Ok(Telemetry::default())
}

#[cfg(feature = "otel")]
mod otel {
    use super::Telemetry;
    use anyhow::Context as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::{Key, Value};
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing::level_filters::LevelFilter;
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Metadata};
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::{Context, Filter, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer, Registry};

    type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

    /// Logs filtered by `logs` (RUST_LOG) and spans exported, each layer with a filter of its own.
    pub fn init(format: &str, logs: EnvFilter) -> anyhow::Result<Telemetry> {
        let provider = provider()?;
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let fmt: BoxedLayer = if format == "json" { fmt.json().boxed() } else { fmt.boxed() };
        let layers = vec![fmt.with_filter(Fresh(logs)).boxed(), layer(&provider)];
        let telemetry = Telemetry { provider: Some(provider) };
        if tracing_subscriber::registry().with(layers).try_init().is_err() {
            telemetry.shutdown();
            return Ok(Telemetry::default());
        }
        tracing::info!("exporting traces over OTLP/HTTP");
        Ok(telemetry)
    }

    /// Whether the standard variables name a collector.
    pub fn requested() -> bool {
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    }

    /// A provider that batches spans and sends them over OTLP/HTTP, on a thread of its own.
    fn provider() -> anyhow::Result<SdkTracerProvider> {
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
    fn layer(provider: &SdkTracerProvider) -> BoxedLayer {
        let spans = Targets::new()
            .with_default(Level::INFO)
            .with_target("opentelemetry", LevelFilter::OFF)
            .with_target("opentelemetry_sdk", LevelFilter::OFF)
            .with_target("opentelemetry_otlp", LevelFilter::OFF)
            .with_target("opentelemetry_http", LevelFilter::OFF)
            .with_target("reqwest", LevelFilter::OFF)
            .with_target("hyper_util", LevelFilter::OFF);
        tracing_opentelemetry::layer::<Registry>()
            .with_tracer(provider.tracer("weco"))
            .with_filter(Fresh(spans))
            .boxed()
    }

    /// A per-layer filter that never lets a callsite cache "always": `enabled` then runs before every span
    /// and event, so the per-layer decision read afterwards is always the current one. With cached interest,
    /// a `log_enabled!` check passed through `tracing-log` between two spans (sqlx makes one after each query)
    /// leaves a stale decision behind, and the next span or event silently misses its layer
    /// (tokio-rs/tracing#2519). The cost is one filter check per span or event.
    struct Fresh<F>(F);

    impl<F: Filter<Registry>> Filter<Registry> for Fresh<F> {
        fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, Registry>) -> bool {
            self.0.enabled(meta, cx)
        }

        fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
            if self.0.callsite_enabled(meta).is_never() { Interest::never() } else { Interest::sometimes() }
        }

        fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, Registry>) -> bool {
            self.0.event_enabled(event, cx)
        }

        fn max_level_hint(&self) -> Option<LevelFilter> {
            self.0.max_level_hint()
        }

        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, cx: Context<'_, Registry>) {
            self.0.on_new_span(attrs, id, cx);
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, cx: Context<'_, Registry>) {
            self.0.on_record(id, values, cx);
        }

        fn on_enter(&self, id: &Id, cx: Context<'_, Registry>) {
            self.0.on_enter(id, cx);
        }

        fn on_exit(&self, id: &Id, cx: Context<'_, Registry>) {
            self.0.on_exit(id, cx);
        }

        fn on_close(&self, id: Id, cx: Context<'_, Registry>) {
            self.0.on_close(id, cx);
        }
    }
}
