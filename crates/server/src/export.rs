//! The open data export (docs/commons.md#open-data-export): `GET /export/{table}.ndjson`, streamed batch by batch
//! to the response body, and `weco export --out DIR`, writing every table and its data dictionary to files. Both
//! read only public rows, in keyset batches: memory holds one batch whatever the size of the network.

use crate::http::{MediaType2, error_response};
use crate::state::AppState;
use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::io::Write as _;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use weco_domain::commons::export::{ExportTable, Salt, dictionary};
use weco_domain::commons::{ExportCursor, export_batch};
use weco_domain::uow::Repos;

/// What guards the HTTP export: how many exports may stream at once on this server, and the secret its
/// pseudonyms are derived from.
#[derive(Clone)]
pub struct ExportGuard {
    permits: Arc<Semaphore>,
    enabled: bool,
    secret: Arc<Vec<u8>>,
}

impl ExportGuard {
    /// `concurrency` exports at once (0: the HTTP export is off); pseudonyms from `secret` and the day.
    pub fn new(concurrency: usize, secret: Vec<u8>) -> Self {
        Self { permits: Arc::new(Semaphore::new(concurrency)), enabled: concurrency > 0, secret: Arc::new(secret) }
    }

    /// The salt of today's exports: the same on every replica sharing the secret, new every UTC day, so the
    /// five tables fetched on one day join and two days' exports do not.
    fn salt(&self) -> Salt {
        Salt::derived(&self.secret, &chrono::Utc::now().format("%Y-%m-%d").to_string())
    }
}

/// How a stream of one table stands.
enum Step {
    Start,
    After(ExportCursor),
    Done,
}

/// `GET /export/{table}.ndjson`: the table's public rows, one JSON object per line, streamed. 404 for another
/// name; 429 with `RATE_LIMITED` while as many exports as allowed are streaming (or 404 when the export is off).
pub async fn export_table(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let table = file.strip_suffix(".ndjson").and_then(ExportTable::from_name);
    let (Some(table), true) = (table, state.export.enabled) else {
        return error_response(StatusCode::NOT_FOUND, MediaType2::JSON, "NOT_FOUND", "no such export");
    };
    let Ok(permit) = state.export.permits.clone().try_acquire_owned() else {
        let mut response = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            MediaType2::JSON,
            "RATE_LIMITED",
            "as many exports as this server allows are streaming; try again later",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return response;
    };
    let salt = state.export.salt();
    let app = state.app.clone();
    let stream =
        futures_util::stream::unfold((Step::Start, permit), move |(step, permit): (Step, OwnedSemaphorePermit)| {
            let (app, salt) = (app.clone(), salt.clone());
            async move {
                let cursor = match step {
                    Step::Start => None,
                    Step::After(cursor) => Some(cursor),
                    Step::Done => return None,
                };
                match app.commons().export_batch(table, cursor).await {
                    Ok(batch) => {
                        let next = batch.next.map(Step::After).unwrap_or(Step::Done);
                        if batch.rows.is_empty() {
                            return None;
                        }
                        let mut out = Vec::with_capacity(batch.rows.len() * 256);
                        for row in &batch.rows {
                            let _ = serde_json::to_writer(&mut out, &row.to_json(table, &salt));
                            out.push(b'\n');
                        }
                        Some((Ok::<Bytes, std::io::Error>(Bytes::from(out)), (next, permit)))
                    }
                    Err(e) => {
                        // The body ends without its last chunk: the client sees an incomplete transfer.
                        tracing::error!(error = ?e, table = table.name(), "export failed");
                        Some((Err(std::io::Error::other("export failed")), (Step::Done, permit)))
                    }
                }
            }
        });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `weco export --out DIR`: every table as `DIR/{table}.ndjson` and the data dictionary as `DIR/README.md`,
/// users pseudonymised with a salt of this run. Returns how many rows each table got.
pub async fn export_to_dir(repos: &dyn Repos, out: &std::path::Path) -> anyhow::Result<Vec<(&'static str, u64)>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let salt = Salt::random();
    let mut counts = Vec::new();
    for table in ExportTable::ALL {
        let path = out.join(format!("{}.ndjson", table.name()));
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        let mut cursor = None;
        let mut rows = 0u64;
        loop {
            let batch = export_batch(repos, table, cursor).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            for row in &batch.rows {
                serde_json::to_writer(&mut writer, &row.to_json(table, &salt))?;
                writer.write_all(b"\n")?;
            }
            rows += batch.rows.len() as u64;
            match batch.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        writer.flush().with_context(|| format!("writing {}", path.display()))?;
        counts.push((table.name(), rows));
    }
    std::fs::write(out.join("README.md"), dictionary("NDJSON (one JSON object per line)"))
        .context("writing the data dictionary")?;
    Ok(counts)
}
