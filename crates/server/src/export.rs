//! The open data export (docs/commons.md#open-data-export): `GET /export/{table}.ndjson`, streamed batch by batch
//! to the response body, and `weco export --out DIR`, writing every table and its data dictionary to files. Both
//! read only public rows, in keyset batches: memory holds one batch whatever the size of the network.

use crate::config::ExportFormat;
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
use weco_domain::commons::export::{ExportRow, ExportTable, Salt, dictionary};
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

/// `weco export --out DIR`: every table as `DIR/{table}.ndjson` (or `.parquet`) and the data dictionary as
/// `DIR/README.md`, users pseudonymised with a salt of this run. Returns how many rows each table got.
pub async fn export_to_dir(
    repos: &dyn Repos,
    out: &std::path::Path,
    format: ExportFormat,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let salt = Salt::random();
    let mut counts = Vec::new();
    for table in ExportTable::ALL {
        let extension = match format {
            ExportFormat::Ndjson => "ndjson",
            #[cfg(feature = "parquet")]
            ExportFormat::Parquet => "parquet",
        };
        let path = out.join(format!("{}.{extension}", table.name()));
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut sink = Sink::new(format, table, file)?;
        let mut cursor = None;
        let mut rows = 0u64;
        loop {
            let batch = export_batch(repos, table, cursor).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            sink.write(table, &batch.rows, &salt).with_context(|| format!("writing {}", path.display()))?;
            rows += batch.rows.len() as u64;
            match batch.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        sink.finish().with_context(|| format!("writing {}", path.display()))?;
        counts.push((table.name(), rows));
    }
    let described = match format {
        ExportFormat::Ndjson => "NDJSON (one JSON object per line)",
        #[cfg(feature = "parquet")]
        ExportFormat::Parquet => "Parquet (one row group per batch of up to 1,000 rows, Snappy)",
    };
    std::fs::write(out.join("README.md"), dictionary(described)).context("writing the data dictionary")?;
    Ok(counts)
}

/// Where `weco export` writes one table.
enum Sink {
    Ndjson(std::io::BufWriter<std::fs::File>),
    #[cfg(feature = "parquet")]
    Parquet(parquet::file::writer::SerializedFileWriter<std::fs::File>),
}

impl Sink {
    fn new(format: ExportFormat, table: ExportTable, file: std::fs::File) -> anyhow::Result<Self> {
        let _ = table;
        Ok(match format {
            ExportFormat::Ndjson => Self::Ndjson(std::io::BufWriter::new(file)),
            #[cfg(feature = "parquet")]
            ExportFormat::Parquet => {
                use parquet::basic::Compression;
                use parquet::file::properties::WriterProperties;
                let schema =
                    parquet::schema::parser::parse_message_type(&weco_domain::commons::export::parquet_schema(table))?;
                let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
                Self::Parquet(parquet::file::writer::SerializedFileWriter::new(
                    file,
                    Arc::new(schema),
                    Arc::new(props),
                )?)
            }
        })
    }

    fn write(&mut self, table: ExportTable, rows: &[ExportRow], salt: &Salt) -> anyhow::Result<()> {
        match self {
            Self::Ndjson(writer) => {
                for row in rows {
                    serde_json::to_writer(&mut *writer, &row.to_json(table, salt))?;
                    writer.write_all(b"\n")?;
                }
                Ok(())
            }
            #[cfg(feature = "parquet")]
            Self::Parquet(writer) => parquet_row_group(writer, rows, salt),
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Self::Ndjson(mut writer) => Ok(writer.flush()?),
            #[cfg(feature = "parquet")]
            Self::Parquet(writer) => writer.close().map(drop).map_err(Into::into),
        }
    }
}

/// One batch as one row group: column by column, a definition level per row (0 for null).
#[cfg(feature = "parquet")]
fn parquet_row_group(
    writer: &mut parquet::file::writer::SerializedFileWriter<std::fs::File>,
    rows: &[ExportRow],
    salt: &Salt,
) -> anyhow::Result<()> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use weco_domain::commons::export::Field;
    if rows.is_empty() {
        return Ok(());
    }
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        let mut levels = Vec::with_capacity(rows.len());
        let fields = rows.iter().map(|r| &r.fields[index]);
        let numbers: Vec<Option<i64>> = fields
            .clone()
            .map(|f| match f {
                Field::Int(n) => *n,
                Field::Time(t) => t.map(|t| t.timestamp_micros()),
                _ => None,
            })
            .collect();
        let is_number = matches!(rows[0].fields[index], Field::Int(_) | Field::Time(_));
        if is_number {
            let values: Vec<i64> = numbers.iter().flatten().copied().collect();
            levels.extend(numbers.iter().map(|n| i16::from(n.is_some())));
            column.typed::<Int64Type>().write_batch(&values, Some(&levels), None)?;
        } else {
            let texts: Vec<Option<String>> = fields
                .map(|f| match weco_domain::commons::export::field_json(f, salt) {
                    serde_json::Value::String(s) => Some(s),
                    _ => None,
                })
                .collect();
            let values: Vec<ByteArray> = texts.iter().flatten().map(|s| ByteArray::from(s.as_str())).collect();
            levels.extend(texts.iter().map(|t| i16::from(t.is_some())));
            column.typed::<ByteArrayType>().write_batch(&values, Some(&levels), None)?;
        }
        column.close()?;
        index += 1;
    }
    group.close()?;
    Ok(())
}
