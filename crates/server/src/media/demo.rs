//! Media of the demo data set (`weco seed --demo`): small generated images on a few posts, stored like any
//! upload (re-encoded, with thumbnails), and cards for the posts with URLs, written directly — the demo never
//! fetches the internet.

use super::{MediaSettings, ObjectMedia, process};
use sea_orm::{ConnectionTrait, Statement};
use std::io::Cursor;
use uuid::Uuid;
use weco_domain::media::ports::MediaBackend;
use weco_domain::media::{Card, Media, object_key};
use weco_domain::uow::Repos;
use weco_domain::{MediaId, PostId};
use weco_store::SeaStore;

/// How many demo posts get an image.
const IMAGES: usize = 4;

/// A small landscape: sky, hills and a sun, in colours picked by `n`.
fn picture(n: usize) -> Vec<u8> {
    let (w, h) = (480u32, 320u32);
    let hue = [(90u8, 160u8, 230u8), (240, 170, 90), (120, 200, 150), (200, 120, 200)][n % 4];
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let hill = (h as f32 * 0.62 + 30.0 * ((x as f32 / 55.0 + n as f32).sin())) as u32;
        let (sx, sy) = (w as i64 * 3 / 4 - x as i64, h as i64 / 4 - y as i64);
        if sx * sx + sy * sy < 900 {
            image::Rgb([250, 220, 80])
        } else if y > hill {
            image::Rgb([40 + (y / 8) as u8, 110 + (x / 12) as u8, 60])
        } else {
            let fade = (y * 120 / h) as u8;
            image::Rgb([hue.0.saturating_sub(fade / 2), hue.1.saturating_sub(fade / 3), hue.2])
        }
    });
    let mut out = Cursor::new(Vec::new());
    let written = image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png);
    debug_assert!(written.is_ok());
    out.into_inner()
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| url.to_owned())
}

/// Adds the demo's media and cards; returns (images, cards) written.
pub async fn seed(store: &SeaStore, settings: &MediaSettings, database_url: &str) -> anyhow::Result<(usize, usize)> {
    let conn = store.connection();
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, title, url, created_at FROM posts WHERE url IS NOT NULL AND state = 'ACTIVE' ORDER BY id",
        ))
        .await?;
    let mut cards = 0;
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        let title: Option<String> = row.try_get("", "title")?;
        let url: String = row.try_get("", "url")?;
        let at: chrono::DateTime<chrono::Utc> = row.try_get("", "created_at")?;
        let host = host_of(&url);
        let card = Card {
            post_id: PostId(id),
            url,
            title: Some(title.unwrap_or_else(|| host.clone())),
            description: Some(format!("A page on {host}, shared in the demo community.")),
            image_url: None,
            fetched_at: at + chrono::Duration::seconds(5),
        };
        store.media().put_card(&card).await?;
        cards += 1;
    }

    let media = ObjectMedia::open(settings, database_url)?;
    let rows = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT p.id, p.created_at FROM posts p WHERE p.state = 'ACTIVE' AND p.url IS NULL \
             AND p.kinds = 'TEXT' AND NOT EXISTS (SELECT 1 FROM post_media m WHERE m.post_id = p.id) \
             ORDER BY p.created_at DESC",
        ))
        .await?;
    let mut images = 0;
    for (n, row) in rows.iter().take(IMAGES).enumerate() {
        let post = PostId(row.try_get::<Uuid>("", "id")?);
        let at: chrono::DateTime<chrono::Utc> = row.try_get("", "created_at")?;
        let prepared = process::prepare(picture(n), &settings.image_limits())?;
        let id = MediaId::generate();
        let bytes = prepared.body.len() as i64;
        media.put(&object_key(id, false), prepared.body).await?;
        let mut thumb_content_type = None;
        if let Some((thumb, content_type)) = prepared.thumb {
            media.put(&object_key(id, true), thumb).await?;
            thumb_content_type = Some(content_type);
        }
        let row = Media {
            id,
            post_id: post,
            position: 0,
            kind: prepared.kind,
            content_type: prepared.content_type,
            bytes,
            width: prepared.width,
            height: prepared.height,
            thumb_content_type,
            created_at: at,
        };
        store.media().insert_media(&[row]).await?;
        let update = Statement::from_sql_and_values(
            backend,
            "UPDATE posts SET kinds = 'TEXT,IMAGE' WHERE id = $1",
            [sea_orm::Value::Uuid(Some(post.0))],
        );
        conn.execute_raw(update).await?;
        images += 1;
    }
    Ok((images, cards))
}
