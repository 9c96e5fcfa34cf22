//! Media and URL cards: uploads through the GraphQL multipart request specification (each type, wrong types
//! and sizes refused, EXIF gone), media of private posts, deletion, and cards fetched in the background,
//! pushed live, and refused for internal addresses (docs/media.md).

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect};
use e2e::ws::{Frame, WsClient};
use e2e::{Backend, PATIENCE, TestApp, eventually};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use weco_server::config::Settings;

macro_rules! both {
    ($($name:ident => $settings:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "current_thread")]
                async fn sqlite() {
                    let dir = media_dir();
                    let adjust = |s: &mut Settings| { s.media.media_dir = Some(dir.clone()); ($settings)(s) };
                    if let Some(app) = TestApp::spawn_with(Backend::Sqlite, adjust).await {
                        super::$name(app, dir.clone()).await;
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }

                #[tokio::test(flavor = "current_thread")]
                async fn postgres() {
                    let dir = media_dir();
                    let adjust = |s: &mut Settings| { s.media.media_dir = Some(dir.clone()); ($settings)(s) };
                    if let Some(app) = TestApp::spawn_with(Backend::Postgres, adjust).await {
                        super::$name(app, dir.clone()).await;
                    }
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        )*
    };
}

both!(
    uploads_of_each_type_are_stored_re_encoded_and_served_with_caching => |_: &mut Settings| {},
    multipart_requests_need_the_preflight_header => |_: &mut Settings| {},
    wrong_types_and_sizes_are_refused_and_write_nothing => |s: &mut Settings| {
        s.media.media_max_file_bytes = 400_000;
        s.media.media_max_request_bytes = 500_000;
    },
    media_of_a_private_post_is_served_to_members_only_and_deleted_with_it => |_: &mut Settings| {},
    a_card_is_fetched_in_the_background_and_pushed_live => |s: &mut Settings| {
        s.media.cards = true;
        s.media.card_allow_private_addresses = true;
    },
);

/// Card tests whose settings name the test server's port are spawned by hand.
#[tokio::test(flavor = "current_thread")]
async fn cards_refuse_internal_addresses_sqlite() {
    cards_refuse_internal_addresses(Backend::Sqlite).await;
}

#[tokio::test(flavor = "current_thread")]
async fn cards_refuse_internal_addresses_postgres() {
    cards_refuse_internal_addresses(Backend::Postgres).await;
}

fn media_dir() -> PathBuf {
    std::env::temp_dir().join(format!("weco_test_media_{}", uuid::Uuid::now_v7().simple()))
}

const CREATE: &str = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id kinds \
                      media { id type url thumbnailUrl width height contentType bytes } } } }";

/// Sends `createPost` with `files` as a multipart request; returns the status and the JSON body.
async fn upload(
    app: &TestApp,
    token: &str,
    input: Value,
    files: Vec<(&str, Vec<u8>)>,
    preflight: bool,
) -> (StatusCode, Value) {
    let mut input = input;
    input["media"] = Value::Array(files.iter().map(|_| Value::Null).collect());
    let operations = json!({ "query": CREATE, "variables": { "i": input } });
    let map: HashMap<String, Vec<String>> =
        (0..files.len()).map(|i| (i.to_string(), vec![format!("variables.i.media.{i}")])).collect();
    let mut form = Form::new().text("operations", operations.to_string()).text("map", json!(map).to_string());
    for (i, (name, bytes)) in files.into_iter().enumerate() {
        // The declared type is a lie on purpose: the server reads the content.
        let part = Part::bytes(bytes).file_name(name.to_owned()).mime_str("image/gif").expect("mime");
        form = form.part(i.to_string(), part);
    }
    let mut request = app.client.post(app.url("/graphql")).bearer_auth(token).multipart(form);
    if preflight {
        request = request.header("Apollo-Require-Preflight", "true");
    }
    let response = request.send().await.expect("upload sent");
    let status = response.status();
    (status, response.json().await.expect("JSON"))
}

fn code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or_default().to_owned()
}

/// A JPEG of `width` × `height` with an EXIF segment holding a GPS position and a marker string.
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let mut plain = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img).write_to(&mut plain, image::ImageFormat::Jpeg).expect("jpeg");
    let plain = plain.into_inner();
    // TIFF, big-endian: IFD0 with a pointer to a GPS IFD holding GPSLatitudeRef = "N"; then a marker.
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend([0x00, 0x01, 0x88, 0x25, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1a]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend([0x00, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, b'N', 0, 0, 0]);
    tiff.extend([0, 0, 0, 0]);
    tiff.extend(b"WECO-SECRET-GPS-51.4545N-2.5879W");
    let mut payload = b"Exif\x00\x00".to_vec();
    payload.extend(tiff);
    let length = u16::try_from(payload.len() + 2).expect("small");
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(length.to_be_bytes());
    out.extend(payload);
    out.extend(&plain[2..]);
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([x as u8, y as u8, 200, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

fn mp3() -> Vec<u8> {
    let mut out = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    for _ in 0..4 {
        out.extend([0xFF, 0xFB, 0x90, 0x64]);
        out.extend([0u8; 413]);
    }
    out
}

/// The markers of a JPEG's segments before its image data.
fn jpeg_segments(bytes: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF {
        let marker = bytes[i + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        let length = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        i += 2 + length;
    }
    markers
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("GET sent")
}

fn files_in(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn uploads_of_each_type_are_stored_re_encoded_and_served_with_caching(app: TestApp, dir: PathBuf) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let original = jpeg_with_exif(120, 80);
    assert!(contains(&original, b"Exif") && contains(&original, b"WECO-SECRET-GPS"), "the test's JPEG has EXIF");
    assert!(jpeg_segments(&original).contains(&0xE1));
    let files = vec![("holiday.jpg", original), ("diagram.png", png(400, 200)), ("song.mp3", mp3())];
    let input = json!({ "spaceIds": [town], "title": "our trip" });
    let (status, body) = upload(&app, &ada, input, files, true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let post = &body["data"]["createPost"]["post"];
    assert_eq!(post["kinds"], json!(["TEXT", "IMAGE", "AUDIO"]));
    let media = post["media"].as_array().expect("media").clone();
    assert_eq!(media.len(), 3);
    assert_eq!((media[0]["type"].as_str(), media[0]["contentType"].as_str()), (Some("IMAGE"), Some("image/jpeg")));
    assert_eq!((media[0]["width"].as_i64(), media[0]["height"].as_i64()), (Some(120), Some(80)));
    assert_eq!((media[1]["contentType"].as_str(), media[1]["width"].as_i64()), (Some("image/png"), Some(400)));
    assert_eq!((media[2]["type"].as_str(), media[2]["contentType"].as_str()), (Some("AUDIO"), Some("audio/mpeg")));
    assert_eq!(media[2]["thumbnailUrl"], Value::Null);
    assert_eq!(media[2]["bytes"].as_u64(), Some(mp3().len() as u64), "audio is kept as it came");
    assert_eq!(files_in(&dir), 5, "three files and two thumbnails");

    // The JPEG as served: re-encoded, with no EXIF (no APP1 segment, no trace of the GPS marker).
    let url = media[0]["url"].as_str().expect("url");
    let served = get(&app, url, None).await;
    assert_eq!(served.status(), StatusCode::OK);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let bytes = served.bytes().await.expect("body");
    assert_eq!(bytes.len() as u64, media[0]["bytes"].as_u64().expect("bytes"));
    assert!(!contains(&bytes, b"Exif") && !contains(&bytes, b"WECO-SECRET-GPS"), "EXIF must be gone");
    assert!(!jpeg_segments(&bytes).contains(&0xE1), "no APP1 segment: {:?}", jpeg_segments(&bytes));
    let decoded = image::load_from_memory(&bytes).expect("served JPEG decodes");
    assert_eq!((decoded.width(), decoded.height()), (120, 80));

    // Cached copies are revalidated by ETag.
    let again = app.client.get(app.url(url)).header("If-None-Match", &etag).send().await.expect("sent");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let thumb = get(&app, media[1]["thumbnailUrl"].as_str().expect("thumb"), None).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let thumb = image::load_from_memory(&thumb.bytes().await.expect("body")).expect("thumb decodes");
    assert_eq!((thumb.width(), thumb.height()), (320, 160));
    let audio = get(&app, media[2]["url"].as_str().expect("url"), None).await;
    assert_eq!(audio.headers()["content-type"], "audio/mpeg");
    assert_eq!(audio.bytes().await.expect("body").as_ref(), mp3().as_slice());
    assert_eq!(get(&app, "/media/not-an-id", None).await.status(), StatusCode::NOT_FOUND);
    let unknown = format!("/media/{}", uuid::Uuid::now_v7());
    assert_eq!(get(&app, &unknown, None).await.status(), StatusCode::NOT_FOUND);

    // The post reads back with its media in order.
    let q = "query($id: ID!) { post(id: $id) { media { url } } }";
    let read = app.ok(None, q, json!({ "id": post["id"] })).await;
    assert_eq!(read["post"]["media"][2]["url"], media[2]["url"]);
}

async fn multipart_requests_need_the_preflight_header(app: TestApp, dir: PathBuf) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let input = json!({ "spaceIds": [town], "title": "forged" });
    let (status, body) = upload(&app, &ada, input, vec![("a.png", png(10, 10))], false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "VALIDATION");
    assert!(app.feed(None, "town", "").await.is_empty(), "nothing was posted");
    assert_eq!(files_in(&dir), 0);
}

async fn wrong_types_and_sizes_are_refused_and_write_nothing(app: TestApp, dir: PathBuf) {
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let input = json!({ "spaceIds": [town], "title": "refused" });
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    for (name, bytes) in [
        ("cat.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ("logo.png", svg),
        ("notes.jpg", b"just some text pretending to be a photo".to_vec()),
        ("broken.png", png(20, 20)[..40].to_vec()),
    ] {
        // A good file first: the whole post is refused, and the good file's stored bytes are removed.
        let (status, body) = upload(&app, &ada, input.clone(), vec![("ok.png", png(8, 8)), (name, bytes)], true).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(code(&body), "VALIDATION", "{name}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "input.media.1", "{name}: {body}");
    }
    // Larger than a file may be (400 kB), and a request larger than allowed (500 kB).
    let big = vec![0xFFu8; 450_000];
    let (status, body) = upload(&app, &ada, input.clone(), vec![("big.jpg", big)], true).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "VALIDATION".into()), "{body}");
    let files = vec![("a.mp3", vec![0u8; 300_000]), ("b.mp3", vec![0u8; 300_000])];
    let (status, body) = upload(&app, &ada, input.clone(), files, true).await;
    assert_eq!((status, code(&body)), (StatusCode::PAYLOAD_TOO_LARGE, "VALIDATION".into()), "{body}");
    // More files than a post holds.
    let five = (0..5).map(|_| ("x.png", png(4, 4))).collect();
    let (_, body) = upload(&app, &ada, input.clone(), five, true).await;
    assert_eq!(code(&body), "VALIDATION", "{body}");
    // A target the author may not post in: refused after the files were prepared, which are then removed.
    let (bob, _) = app.register("bob").await;
    let private = app.create_space_with(&bob, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let input = json!({ "spaceIds": [private], "title": "intruder" });
    let (_, body) = upload(&app, &ada, input, vec![("ok.png", png(8, 8))], true).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    assert!(app.feed(None, "town", "").await.is_empty(), "nothing was posted");
    assert_eq!(files_in(&dir), 0, "no file was left behind");
}

async fn media_of_a_private_post_is_served_to_members_only_and_deleted_with_it(app: TestApp, dir: PathBuf) {
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let club = app.create_space_with(&ada, json!({ "handle": "club", "name": "Club", "privacy": "PRIVATE" })).await;
    let input = json!({ "spaceIds": [club], "text": "members only" });
    let (_, body) = upload(&app, &ada, input, vec![("p.png", png(30, 30))], true).await;
    let post = body["data"]["createPost"]["post"].clone();
    let url = post["media"][0]["url"].as_str().expect("url").to_owned();
    let thumb = post["media"][0]["thumbnailUrl"].as_str().expect("thumb").to_owned();

    let member = get(&app, &url, Some(&ada)).await;
    assert_eq!(member.status(), StatusCode::OK);
    assert_eq!(member.headers()["cache-control"], "private, max-age=31536000, immutable");
    for path in [&url, &thumb] {
        assert_eq!(get(&app, path, Some(&eve)).await.status(), StatusCode::NOT_FOUND, "an outsider");
        assert_eq!(get(&app, path, None).await.status(), StatusCode::NOT_FOUND, "anonymous");
    }
    // Eve does not learn the file exists from a conditional request either.
    let etag = member.headers()["etag"].to_str().expect("etag").to_owned();
    let probe = app.client.get(app.url(&url)).bearer_auth(&eve).header("If-None-Match", etag).send().await;
    assert_eq!(probe.expect("sent").status(), StatusCode::NOT_FOUND);
    let q = "query($id: ID!) { post(id: $id) { media { url } } }";
    assert_eq!(app.ok(Some(&eve), q, json!({ "id": post["id"] })).await["post"], Value::Null);

    assert_eq!(files_in(&dir), 2);
    app.ok(Some(&ada), "mutation($id: ID!) { deletePost(id: $id) { id } }", json!({ "id": post["id"] })).await;
    assert_eq!(get(&app, &url, Some(&ada)).await.status(), StatusCode::NOT_FOUND, "gone with its post");
    eventually("the deleted post's files to be removed", async || files_in(&dir) == 0).await;
}

/// A local web server for cards: `/page` (OpenGraph tags, held until `release` is notified when `gated`),
/// `/plain` (a title only), `/to?u=…` (a redirect). Counts the requests it answers.
struct Pages {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Notify>,
}

#[derive(Clone)]
struct PagesState {
    hits: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Notify>,
    gated: bool,
}

async fn pages(gated: bool) -> Pages {
    let hits = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let state = PagesState { hits: hits.clone(), release: release.clone(), gated };
    let router = axum::Router::new()
        .route(
            "/page",
            axum::routing::get(async |State(s): State<PagesState>| {
                s.hits.fetch_add(1, Ordering::SeqCst);
                if s.gated {
                    s.release.notified().await;
                }
                Html(
                    "<html><head><title>fallback</title><meta property=\"og:title\" content=\"Community garden\">\
                     <meta property=\"og:description\" content=\"Plots &amp; tools for everyone\">\
                     <meta property=\"og:image\" content=\"/garden.jpg\"></head><body>hi</body></html>",
                )
            }),
        )
        .route(
            "/to",
            axum::routing::get(async |State(s): State<PagesState>, Query(q): Query<HashMap<String, String>>| {
                s.hits.fetch_add(1, Ordering::SeqCst);
                Redirect::temporary(q.get("u").map_or("/page", String::as_str)).into_response()
            }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Pages { addr, hits, release }
}

const CARD_EVENT: &str = "subscription($p: ID!) { postUpdates(postId: $p) { __typename \
                          ... on PostCardReady { postId card { url title description imageUrl } } } }";

async fn a_card_is_fetched_in_the_background_and_pushed_live(app: TestApp, _dir: PathBuf) {
    let site = pages(true).await;
    let (ada, _) = app.register("ada").await;
    let (eve, _) = app.register("eve").await;
    let town = app.create_space(&ada, "town", None).await;
    let url = format!("http://{}/page", site.addr);
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id card { title } } } }";
    let post =
        app.ok(Some(&ada), q, json!({ "i": { "spaceIds": [town], "url": url } })).await["createPost"]["post"].clone();
    assert_eq!(post["card"], Value::Null, "not fetched yet");
    // The fetch has started and is held by the page; subscribe, then let it finish.
    eventually("the card's fetch to start", async || site.hits.load(Ordering::SeqCst) >= 1).await;
    let mut client = WsClient::ready(app.addr, Some(&eve)).await;
    client.subscribe("c", CARD_EVENT, json!({ "p": post["id"] })).await;
    app.wait_for_subscriptions(1).await;
    site.release.notify_one();
    let Some(Frame::Json(message)) = client.next_within(PATIENCE).await else { panic!("no card was pushed") };
    let event = &message["payload"]["data"]["postUpdates"];
    assert_eq!(event["__typename"], "PostCardReady", "{message}");
    assert_eq!(event["postId"], post["id"]);
    assert_eq!(event["card"]["title"], "Community garden");
    assert_eq!(event["card"]["description"], "Plots & tools for everyone");
    assert_eq!(event["card"]["imageUrl"], format!("http://{}/garden.jpg", site.addr));
    assert_eq!(event["card"]["url"], url);

    let read = "query($id: ID!) { post(id: $id) { card { title description imageUrl fetchedAt } } }";
    let card = app.ok(None, read, json!({ "id": post["id"] })).await["post"]["card"].clone();
    assert_eq!(card["title"], "Community garden");
}

async fn card_jobs_left(app: &TestApp) -> i64 {
    let db = app.db().await;
    let sql = "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'card.fetch'";
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned())).await;
    row.expect("query").expect("a row").try_get::<i64>("", "n").expect("n")
}

/// With the address rule on: loopback, a private range, a name resolving to loopback, and a redirect from
/// an allowed host into loopback are all refused — the internal server is never reached — while the allowed
/// host itself gives a card (so the refusals are the rule's doing, not a broken fetcher).
async fn cards_refuse_internal_addresses(backend: Backend) {
    let allowed = pages(false).await;
    let internal = pages(false).await;
    let dir = media_dir();
    let allowed_host = allowed.addr.to_string();
    let adjust = |s: &mut Settings| {
        s.media.media_dir = Some(dir.clone());
        s.media.cards = true;
        s.media.card_allowed_hosts = vec![allowed_host.clone()];
        s.media.card_timeout_ms = 2_000;
    };
    let Some(app) = TestApp::spawn_with(backend, adjust).await else { return };
    let (ada, _) = app.register("ada").await;
    let town = app.create_space(&ada, "town", None).await;
    let q = "mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }";
    let port = internal.addr.port();
    let refused = [
        format!("http://127.0.0.1:{port}/page"),
        format!("http://[::ffff:127.0.0.1]:{port}/page"),
        format!("http://localhost:{port}/page"),
        "http://10.255.255.1/page".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        format!("http://{}/to?u=http://127.0.0.1:{port}/page", allowed.addr),
        format!("http://{}/to?u=http://localhost:{port}/page", allowed.addr),
    ];
    let mut ids = Vec::new();
    for url in refused.iter().chain([&format!("http://{}/page", allowed.addr)]) {
        let post = app.ok(Some(&ada), q, json!({ "i": { "spaceIds": [town], "url": url } })).await;
        ids.push(post["createPost"]["post"]["id"].clone());
    }
    eventually("every card job to finish", async || card_jobs_left(&app).await == 0).await;
    let read = "query($id: ID!) { post(id: $id) { url card { title } } }";
    for id in &ids[..refused.len()] {
        let post = app.ok(None, read, json!({ "id": id })).await["post"].clone();
        assert_eq!(post["card"], Value::Null, "a card for {}", post["url"]);
    }
    let control = app.ok(None, read, json!({ "id": ids[refused.len()] })).await;
    assert_eq!(control["post"]["card"]["title"], "Community garden", "the allowed host gives a card");
    assert_eq!(internal.hits.load(Ordering::SeqCst), 0, "the internal server was reached");
    assert_eq!(allowed.hits.load(Ordering::SeqCst), 3, "two redirects and the page");
    let failed = app.metric("weco_jobs_failed").await;
    assert_eq!(failed, 0, "refusals are final, not failures to retry");
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
