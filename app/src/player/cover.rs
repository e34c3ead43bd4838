//! Cover art, shown where an entry has no video (music with its album's
//! picture), as mpv shows it: the picture a stream's tags carry (`image`,
//! else `preview-image`), decoded once and drawn fitted into the window's
//! video area.

use std::time::Duration;

use gst_video::prelude::*;

/// How long decoding a cover may take (GStreamer runs a small pipeline).
const DECODE_LIMIT: Duration = Duration::from_secs(5);
/// Pictures larger than this on a side are refused before they are
/// decoded (the decoder cannot negotiate a larger frame): a cover is drawn
/// into a window, and a hostile tag should not cost gigabytes.
const MAX_SIDE: u32 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    #[error("the cover picture cannot be decoded: {0}")]
    Decode(String),
    #[error("the cover picture is {width}x{height}: at most {MAX_SIDE} on a side is shown")]
    TooLarge { width: u32, height: u32 },
}

/// A decoded picture: rows of `width` pixels, each B, G, R, A in memory
/// (wl_shm's ARGB8888 on a little-endian machine), not premultiplied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    width: u32,
    height: u32,
    bgra: Vec<u8>,
}

/// The picture `tags` carry, if any: the `image` marked as the front
/// cover (an ID3 `APIC` or FLAC picture block says which is which), else
/// the first `image`, else the first `preview-image`.
pub fn picture_in(tags: &gst::TagListRef) -> Option<gst::Sample> {
    let images = || tags.iter_tag::<gst::tags::Image>().map(|value| value.get());
    images()
        .find(|sample| is_front_cover(sample))
        .or_else(|| images().next())
        .or_else(|| {
            tags.index::<gst::tags::PreviewImage>(0)
                .map(|value| value.get())
        })
}

/// Whether an image tag's sample says it is the front cover: its info's
/// `image-type` field (a `GstTagImageType`, read by its nick so that the
/// tag library's types are not needed here).
fn is_front_cover(sample: &gst::SampleRef) -> bool {
    sample
        .info()
        .and_then(|info| info.value("image-type").ok())
        .and_then(|value| gst::glib::EnumValue::from_value(value).map(|(_, kind)| kind.nick()))
        .is_some_and(|nick| nick == "front-cover")
}

/// Decode an encoded picture into one BGRA frame, with a pipeline of its
/// own (`gst_video::convert_sample` takes raw video only).
fn decode_to_bgra(sample: &gst::Sample) -> Result<gst::Sample, CoverError> {
    let error = |what: &str| CoverError::Decode(what.to_owned());
    let buffer = sample.buffer_owned().ok_or_else(|| error("no data"))?;
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src ! decodebin ! videoconvert \
         ! video/x-raw,format=BGRA,width=[1,{MAX_SIDE}],height=[1,{MAX_SIDE}] ! appsink name=sink"
    ))
    .map_err(|e| CoverError::Decode(e.to_string()))?
    .downcast::<gst::Bin>()
    .map_err(|_| error("not a bin"))?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| error("no appsrc"))?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| error("no appsink"))?;
    // Its caps where they name an image format; else decodebin finds it.
    let caps = sample.caps_owned().filter(|caps| {
        caps.structure(0)
            .is_some_and(|s| s.name().starts_with("image/"))
    });
    src.set_caps(caps.as_ref());
    let result = (|| {
        pipeline
            .set_state(gst::State::Paused)
            .map_err(|_| error("the decoder did not start"))?;
        src.push_buffer(buffer)
            .map_err(|e| CoverError::Decode(e.to_string()))?;
        src.end_of_stream()
            .map_err(|e| CoverError::Decode(e.to_string()))?;
        let limit = gst::ClockTime::from_nseconds(DECODE_LIMIT.as_nanos() as u64);
        let bus = pipeline.bus().ok_or_else(|| error("no bus"))?;
        let done = bus.timed_pop_filtered(
            limit,
            &[gst::MessageType::AsyncDone, gst::MessageType::Error],
        );
        match done.as_ref().map(|message| message.view()) {
            Some(gst::MessageView::Error(e)) => Err(CoverError::Decode(format!(
                "{} (covers larger than {MAX_SIDE} pixels on a side are not shown)",
                e.error()
            ))),
            Some(_) => sink
                .try_pull_preroll(gst::ClockTime::ZERO)
                .ok_or_else(|| error("no picture came out")),
            None => Err(error("decoding took too long")),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

impl Picture {
    /// Decode an image tag's sample (JPEG, PNG, whatever GStreamer has a
    /// decoder for).
    pub fn decode(sample: &gst::Sample) -> Result<Picture, CoverError> {
        let raw = decode_to_bgra(sample)?;
        let info = raw
            .caps()
            .and_then(|caps| gst_video::VideoInfo::from_caps(caps).ok())
            .ok_or_else(|| CoverError::Decode("no raw video caps".to_owned()))?;
        let (width, height) = (info.width(), info.height());
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(CoverError::TooLarge { width, height });
        }
        let buffer = raw
            .buffer()
            .ok_or_else(|| CoverError::Decode("no buffer".to_owned()))?;
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info)
            .map_err(|_| CoverError::Decode("the picture cannot be mapped".to_owned()))?;
        let data = frame
            .plane_data(0)
            .map_err(|e| CoverError::Decode(e.to_string()))?;
        let stride = frame.plane_stride()[0] as usize;
        let row = width as usize * 4;
        let mut bgra = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            let start = y * stride;
            let line = data
                .get(start..start + row)
                .ok_or_else(|| CoverError::Decode("a short picture".to_owned()))?;
            bgra.extend_from_slice(line);
        }
        Ok(Picture {
            width,
            height,
            bgra,
        })
    }

    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The pixel at (`x`, `y`): B, G, R, A.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = (y as usize * self.width as usize + x as usize) * 4;
        self.bgra.get(at..at + 4)?.try_into().ok()
    }

    /// Draw it into `canvas` (ARGB8888, `size` = width, height, stride in
    /// bytes), fitted into `area` (x, y, width, height) with its aspect
    /// kept and centred, nearest-neighbour scaled, over black (where it is
    /// transparent, black shows).
    pub fn draw_fitted(
        &self,
        canvas: &mut [u8],
        size: (u32, u32, u32),
        area: (i32, i32, i32, i32),
    ) {
        let (ax, ay, aw, ah) = area;
        if self.width == 0 || self.height == 0 {
            return;
        }
        let (Ok(width), Ok(height)) = (i32::try_from(self.width), i32::try_from(self.height))
        else {
            return;
        };
        let (x, y, w, h) = zc_wayland::fit((aw, ah), (width, height));
        let (canvas_w, canvas_h, stride) = (size.0 as i64, size.1 as i64, size.2 as usize);
        let (left, top) = (i64::from(ax) + i64::from(x), i64::from(ay) + i64::from(y));
        for dy in 0..i64::from(h.max(0)) {
            let cy = top + dy;
            if !(0..canvas_h).contains(&cy) {
                continue;
            }
            let sy = (dy * i64::from(self.height) / i64::from(h)) as usize;
            for dx in 0..i64::from(w.max(0)) {
                let cx = left + dx;
                if !(0..canvas_w).contains(&cx) {
                    continue;
                }
                let sx = (dx * i64::from(self.width) / i64::from(w)) as usize;
                let from = (sy * self.width as usize + sx) * 4;
                let to = cy as usize * stride + cx as usize * 4;
                if let (Some(src), Some(dst)) =
                    (self.bgra.get(from..from + 4), canvas.get_mut(to..to + 4))
                {
                    let alpha = u16::from(src[3]);
                    for (d, s) in dst[..3].iter_mut().zip(&src[..3]) {
                        *d = (u16::from(*s) * alpha / 255) as u8;
                    }
                    dst[3] = 0xFF;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // Decoding runs pipelines, whose sockets the control socket's fd
    // tests would count: those tests are in app/tests/cover.rs.
    use super::*;

    #[test]
    fn the_image_tag_is_taken_before_the_preview() {
        gst::init().expect("gst::init");
        let sample = |bytes: &[u8]| {
            gst::Sample::builder()
                .buffer(&gst::Buffer::from_slice(bytes.to_vec()))
                .caps(&gst::Caps::builder("image/png").build())
                .build()
        };
        let mut tags = gst::TagList::new();
        {
            let tags = tags.get_mut().expect("writable");
            tags.add::<gst::tags::PreviewImage>(&sample(b"preview"), gst::TagMergeMode::Append);
            assert!(picture_in(tags).is_some(), "a preview alone is taken");
            tags.add::<gst::tags::Image>(&sample(b"image"), gst::TagMergeMode::Append);
        }
        let picked = picture_in(&tags).expect("a picture");
        let bytes = picked
            .buffer()
            .expect("buffer")
            .map_readable()
            .expect("map");
        assert_eq!(bytes.as_slice(), b"image");
        assert!(picture_in(&gst::TagList::new()).is_none());
    }

    #[test]
    fn drawn_fitted_and_centred_with_its_aspect_kept() {
        // 2x1: red, blue; into a 4x4 area at (1, 1) of a 6x6 canvas.
        let picture = Picture {
            width: 2,
            height: 1,
            bgra: vec![0, 0, 255, 255, 255, 0, 0, 255],
        };
        let (w, h) = (6u32, 6u32);
        let mut canvas = vec![0u8; (w * h * 4) as usize];
        picture.draw_fitted(&mut canvas, (w, h, w * 4), (1, 1, 4, 4));
        let at = |x: u32, y: u32| -> [u8; 4] {
            let i = ((y * w + x) * 4) as usize;
            canvas[i..i + 4].try_into().expect("4 bytes")
        };
        // Fitted: 4x2, one row of the area above and below it.
        for y in [0, 1, 4, 5] {
            assert_eq!(at(2, y), [0; 4], "row {y} is not drawn");
        }
        for y in [2, 3] {
            assert_eq!(at(1, y), [0, 0, 255, 255], "red at (1, {y})");
            assert_eq!(at(2, y), [0, 0, 255, 255], "red at (2, {y})");
            assert_eq!(at(3, y), [255, 0, 0, 255], "blue at (3, {y})");
            assert_eq!(at(4, y), [255, 0, 0, 255], "blue at (4, {y})");
            assert_eq!(at(0, y), [0; 4]);
            assert_eq!(at(5, y), [0; 4]);
        }
        // An area partly off the canvas is clipped, not a panic.
        picture.draw_fitted(&mut canvas, (w, h, w * 4), (-3, 4, 8, 8));
    }
}
