//! Logging through `tracing`: readable text by default, JSON for production (`--log-format json`).
//! `RUST_LOG` filters as usual.

use tracing_subscriber::EnvFilter;

pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests starting several servers) is harmless: the first subscriber stays.
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
