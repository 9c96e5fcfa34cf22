//! What an upload is, read from its first bytes (never from its name or declared type), and how an image is
//! made safe to serve: decoded within bounds (a decompression bomb is refused from its header, before any
//! pixel is allocated), turned upright, and re-encoded from its pixels alone, so EXIF, GPS, XMP and comments
//! are gone; with a thumbnail.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use weco_domain::DomainError;
use weco_domain::media::{MediaKind, Prepared};

/// The formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Jpeg,
    Png,
    Mp3,
    Ogg,
    Wav,
    Flac,
    M4a,
}

impl Sniffed {
    pub fn content_type(self) -> &'static str {
        match self {
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Png => "image/png",
            Sniffed::Mp3 => "audio/mpeg",
            Sniffed::Ogg => "audio/ogg",
            Sniffed::Wav => "audio/wav",
            Sniffed::Flac => "audio/flac",
            Sniffed::M4a => "audio/mp4",
        }
    }
}

/// The format of a file by its magic bytes.
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(Sniffed::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Sniffed::Png)
    } else if starts(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0 && head[1] & 0x06 != 0) {
        // An ID3 tag, or an MPEG audio frame sync with a valid layer.
        Some(Sniffed::Mp3)
    } else if starts(b"OggS") {
        Some(Sniffed::Ogg)
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        Some(Sniffed::Wav)
    } else if starts(b"fLaC") {
        Some(Sniffed::Flac)
    } else if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && matches!(&head[8..12], b"M4A " | b"M4B " | b"mp42" | b"isom")
    {
        Some(Sniffed::M4a)
    } else {
        None
    }
}

/// Bounds of image decoding.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Largest width or height.
    pub max_side: u32,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Largest side of a thumbnail.
    pub thumb_side: u32,
}

/// The most bytes decoding an image of `max_pixels` may allocate: four bytes a pixel (8-bit RGBA) and room
/// for the decoder's own buffers.
pub fn decode_budget(limits: &ImageLimits) -> u64 {
    limits.max_pixels * 4 + 16 * 1024 * 1024
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::validation("input.media", message)
}

/// Checks an upload and prepares what is stored. CPU-bound: run it on a blocking thread.
pub fn prepare(content: Vec<u8>, limits: &ImageLimits) -> Result<Prepared, DomainError> {
    let Some(format) = sniff(&content) else {
        return Err(invalid("not a file type this server accepts (JPEG, PNG, MP3, Ogg, WAV, FLAC, M4A)"));
    };
    match format {
        Sniffed::Jpeg | Sniffed::Png => prepare_image(&content, format, limits),
        audio => Ok(Prepared {
            kind: MediaKind::Audio,
            content_type: audio.content_type().to_owned(),
            width: None,
            height: None,
            body: content,
            thumb: None,
        }),
    }
}

fn prepare_image(content: &[u8], format: Sniffed, limits: &ImageLimits) -> Result<Prepared, DomainError> {
    let image_format = if format == Sniffed::Jpeg { ImageFormat::Jpeg } else { ImageFormat::Png };
    let mut reader = ImageReader::with_format(Cursor::new(content), image_format);
    let mut bounds = Limits::default();
    bounds.max_image_width = Some(limits.max_side);
    bounds.max_image_height = Some(limits.max_side);
    bounds.max_alloc = Some(decode_budget(limits));
    reader.limits(bounds);
    let too_large = || {
        invalid(format!(
            "the image is too large: at most {} pixels a side and {} pixels in all",
            limits.max_side, limits.max_pixels
        ))
    };
    let mut decoder = reader.into_decoder().map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        other => invalid(format!("the image cannot be read: {other}")),
    })?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(invalid("the image is empty"));
    }
    if width > limits.max_side || height > limits.max_side || u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(too_large());
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(),
        other => invalid(format!("the image cannot be read: {other}")),
    })?;
    img.apply_orientation(orientation);
    let thumb = img.thumbnail(limits.thumb_side, limits.thumb_side);
    let body = encode(&img, format)?;
    let thumb = encode(&thumb, format)?;
    let content_type = format.content_type().to_owned();
    Ok(Prepared {
        kind: MediaKind::Image,
        content_type: content_type.clone(),
        width: i32::try_from(img.width()).ok(),
        height: i32::try_from(img.height()).ok(),
        body,
        thumb: Some((thumb, content_type)),
    })
}

/// Encodes pixels alone: no metadata is written.
fn encode(img: &DynamicImage, format: Sniffed) -> Result<Vec<u8>, DomainError> {
    let mut out = Cursor::new(Vec::new());
    let written = if format == Sniffed::Jpeg {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        rgb.write_with_encoder(encoder)
    } else {
        let img = match img {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => img.clone(),
            _ => DynamicImage::ImageRgba8(img.to_rgba8()),
        };
        img.write_to(&mut out, ImageFormat::Png)
    };
    written.map_err(|e| DomainError::internal("encoding an image", e))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits { max_side: 4096, max_pixels: 4_000_000, thumb_side: 64 };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        }));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    #[test]
    fn types_are_read_from_the_content() {
        assert_eq!(sniff(&png(2, 2)), Some(Sniffed::Png));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0\0\0"), Some(Sniffed::Mp3));
        assert_eq!(sniff(b"OggS\0\x02"), Some(Sniffed::Ogg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some(Sniffed::Wav));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some(Sniffed::Flac));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some(Sniffed::M4a));
        assert_eq!(sniff(b"<svg xmlns="), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn images_are_re_encoded_with_a_thumbnail() {
        let prepared = prepare(png(300, 150), &LIMITS).expect("prepared");
        assert_eq!(prepared.content_type, "image/png");
        assert_eq!((prepared.width, prepared.height), (Some(300), Some(150)));
        let (thumb, _) = prepared.thumb.expect("thumb");
        let thumb = image::load_from_memory(&thumb).expect("thumb decodes");
        assert_eq!((thumb.width(), thumb.height()), (64, 32));
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        // More pixels than allowed, whatever the file's size: refused before decoding.
        let small = ImageLimits { max_side: 4096, max_pixels: 10_000, thumb_side: 64 };
        let refused = prepare(png(200, 100), &small).expect_err("refused");
        assert_eq!(refused.code(), "VALIDATION");
        let tall = ImageLimits { max_side: 50, max_pixels: 1_000_000, thumb_side: 64 };
        let refused = prepare(png(10, 60), &tall).expect_err("refused");
        assert_eq!(refused.code(), "VALIDATION");
    }

    #[test]
    fn a_truncated_image_is_refused() {
        let mut bytes = png(50, 50);
        bytes.truncate(60);
        assert_eq!(prepare(bytes, &LIMITS).expect_err("refused").code(), "VALIDATION");
    }
}
