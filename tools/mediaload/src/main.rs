//! `weco-mediaload`: `--clients` clients upload one image each, back to back, through the GraphQL multipart
//! request specification (`createPost` with `media`), for `--duration`; it reports uploads per second, latency
//! and the server's resident memory (sampled every 20 ms, and its peak, `VmHWM`), next to the bound docs/media.md
//! derives from the settings. Loopback only.
//!
//! ```sh
//! export CARGO_TARGET_DIR=/var/tmp/weco-target
//! cargo build --release -p weco-server -p weco-mediaload
//! $CARGO_TARGET_DIR/release/weco-mediaload --clients 16 --image-bytes 2000000 --duration 20s
//! ```

use anyhow::{Context as _, bail};
use clap::Parser;
use rand::Rng as _;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weco_tool_support::proc;
use weco_tool_support::server::{Server, SpawnOptions, default_binary};

#[derive(Parser, Debug)]
#[command(name = "weco-mediaload", version, about = "Image uploads against Weco: throughput and server memory")]
struct Cli {
    /// The server binary [default: $CARGO_TARGET_DIR/release/weco].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// The database [default: a fresh SQLite file in the temporary directory].
    #[arg(long)]
    database_url: Option<String>,
    /// Clients uploading at once.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Size of the JPEG each upload sends (noise, so it does not compress: about this many bytes).
    #[arg(long, default_value_t = 2_000_000)]
    image_bytes: usize,
    /// How long to upload, e.g. `20s`.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Extra server settings, `KEY=VALUE` (`WECO_MEDIA_PROCESSING_CONCURRENCY=4`).
    #[arg(long = "server-env")]
    server_env: Vec<String>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.trim_end_matches('s').parse().map_err(|e| format!("{s}: {e}"))?;
    Ok(Duration::from_secs_f64(secs))
}

/// A JPEG of random pixels of about `target` bytes.
fn noise_jpeg(target: usize) -> anyhow::Result<(Vec<u8>, u32, u32)> {
    let mut rng = rand::rng();
    let (mut w, mut h) = (1000u32, 750u32);
    for _ in 0..4 {
        let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb([rng.random(), rng.random(), rng.random()]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img)?;
        let bytes = out.into_inner();
        let ratio = target as f64 / bytes.len() as f64;
        if (0.95..1.05).contains(&ratio) {
            return Ok((bytes, w, h));
        }
        w = ((w as f64) * ratio.sqrt()).round() as u32;
        h = ((h as f64) * ratio.sqrt()).round() as u32;
    }
    let img = image::RgbImage::from_fn(w, h, |_, _| image::Rgb([rng.random(), rng.random(), rng.random()]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img)?;
    Ok((out.into_inner(), w, h))
}

async fn gql(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> anyhow::Result<Value> {
    let mut request = client.post(format!("{base}/graphql")).json(&json!({ "query": query, "variables": vars }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await?.json().await?;
    if body.get("errors").is_some() {
        bail!("GraphQL errors: {body}");
    }
    Ok(body["data"].clone())
}

const CREATE: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";

async fn upload(client: &reqwest::Client, base: &str, token: &str, space: &str, image: &[u8]) -> anyhow::Result<()> {
    let operations = json!({ "query": CREATE, "variables": { "i": { "spaceIds": [space], "media": [null] } } });
    let part = reqwest::multipart::Part::bytes(image.to_vec()).file_name("photo.jpg");
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.i.media.0"] }).to_string())
        .part("0", part);
    let response = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header("Apollo-Require-Preflight", "true")
        .multipart(form)
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() || body.get("errors").is_some() {
        bail!("upload refused ({status}): {body}");
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let tmp = std::env::temp_dir().join(format!("weco-mediaload-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&tmp)?;
    let database_url =
        cli.database_url.clone().unwrap_or_else(|| format!("sqlite://{}?mode=rwc", tmp.join("weco.db").display()));
    let binary = cli.server_bin.clone().unwrap_or_else(default_binary);
    let mut env: Vec<(String, String)> = vec![
        ("WECO_RATE_LIMIT_PER_MINUTE".into(), "0".into()),
        ("WECO_CARDS".into(), "false".into()),
        ("WECO_MEDIA_DIR".into(), tmp.join("media").display().to_string()),
        ("RUST_LOG".into(), "warn".into()),
    ];
    for pair in &cli.server_env {
        let (k, v) = pair.split_once('=').context("--server-env takes KEY=VALUE")?;
        env.push((k.into(), v.into()));
    }
    let log = tmp.join("server.log");
    let options = SpawnOptions {
        binary: &binary,
        database_url: &database_url,
        redis_url: None,
        jwt_secret: "mediaload",
        log: &log,
        env: &env,
    };
    let server = Server::spawn(&options).await?;
    let pid = server.pid.context("the server's pid")?;
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::new();

    let mut tokens = Vec::new();
    for i in 0..cli.clients {
        let q = "mutation($i: RegisterInput!) { register(input: $i) { token } }";
        let input = json!({ "handle": format!("up{i}"), "name": "Uploader", "email": format!("up{i}@example.org"), "password": "password-123" });
        let data = gql(&client, &base, None, q, json!({ "i": input })).await?;
        tokens.push(data["register"]["token"].as_str().context("token")?.to_owned());
    }
    let q = "mutation { createSpace(input: {handle: \"photos\", name: \"Photos\"}) { space { id } } }";
    let space = gql(&client, &base, Some(&tokens[0]), q, json!({})).await?["createSpace"]["space"]["id"]
        .as_str()
        .context("space id")?
        .to_owned();
    let (image, w, h) = noise_jpeg(cli.image_bytes)?;
    let image = Arc::new(image);
    // One upload first, so the idle figure includes what the first upload allocates once.
    upload(&client, &base, &tokens[0], &space, &image).await?;
    let idle = proc::rss(pid).unwrap_or(0);

    let stop = Arc::new(AtomicBool::new(false));
    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak_sampled.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(rss) = proc::rss(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let deadline = started + cli.duration;
    let mut tasks = Vec::new();
    for token in tokens.clone() {
        let (client, base, space, image) = (client.clone(), base.clone(), space.clone(), image.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match upload(&client, &base, &token, &space, &image).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("{e:#}");
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let hwm = proc::status_bytes(pid, "VmHWM").unwrap_or(0);
    let after = proc::rss(pid).unwrap_or(0);
    server.stop().await;
    latencies.sort();
    let q = |p: f64| {
        latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let n = latencies.len();
    println!(
        "| clients | image | uploads | errors | uploads/s | MB/s in | p50 ms | p95 ms | RSS idle | RSS peak (sampled) | VmHWM | RSS after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:.2} MB JPEG, {w}×{h} | {n} | {errors} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} MiB | {:.0} MiB | {:.0} MiB | {:.0} MiB |",
        cli.clients,
        image.len() as f64 / 1e6,
        n as f64 / elapsed,
        n as f64 * image.len() as f64 / 1e6 / elapsed,
        q(0.5),
        q(0.95),
        mib(idle),
        mib(peak_sampled.load(Ordering::Relaxed)),
        mib(hwm),
        mib(after),
    );
    let _ = std::fs::remove_dir_all(&tmp);
    if n == 0 {
        bail!("no upload succeeded; see the server log");
    }
    Ok(())
}
