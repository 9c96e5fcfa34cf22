//! The server's `/metrics`, as this tool reads them (the server itself: `weco_tool_support::server`).

use anyhow::bail;
use std::net::SocketAddr;

/// The counters of the server's `/metrics` this tool reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics {
    pub statements: f64,
    pub statement_errors: f64,
    pub statement_seconds: f64,
    pub operations: f64,
    pub events_published: f64,
}

impl Metrics {
    pub async fn fetch(client: &reqwest::Client, addr: SocketAddr) -> anyhow::Result<Self> {
        let text = client.get(format!("http://{addr}/metrics")).send().await?.error_for_status()?.text().await?;
        let mut m = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else { continue };
            let Ok(value) = value.parse::<f64>() else { continue };
            match name {
                "weco_db_statements_total" => m.statements = value,
                "weco_db_statement_errors_total" => m.statement_errors = value,
                "weco_db_statement_seconds_total" => m.statement_seconds = value,
                "weco_graphql_operations_total" => m.operations = value,
                "weco_events_published_total" => m.events_published = value,
                _ => {}
            }
        }
        if m.operations == 0.0 && !text.contains("weco_db_statements_total") {
            bail!("http://{addr}/metrics has no weco_db_statements_total");
        }
        Ok(m)
    }

    pub fn delta(&self, before: &Self) -> Self {
        Self {
            statements: self.statements - before.statements,
            statement_errors: self.statement_errors - before.statement_errors,
            statement_seconds: self.statement_seconds - before.statement_seconds,
            operations: self.operations - before.operations,
            events_published: self.events_published - before.events_published,
        }
    }
}
