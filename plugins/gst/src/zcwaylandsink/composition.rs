//! Subtitles without touching the video: the sink takes
//! `GstVideoOverlayCompositionMeta` (caps with the
//! `meta:GstVideoOverlayComposition` feature, the meta in the allocation
//! query), so `textoverlay`, `assrender`, `dvdspu` and `subtitleoverlay`
//! attach their pictures to the frames instead of blending them in. The
//! sink shows each new composition in an overlay subsurface above the video
//! (`Presenter::set_overlay`); the frames go to the compositor unchanged,
//! dma-bufs included.

use gst::subclass::prelude::*;
use gst_video::{VideoOverlayCompositionMeta, VideoOverlayFormatFlags};
use zc_wayland::{OverlayImage, Presenter};

use super::imp::{CAT, ZcWaylandSink};
use crate::lock;

/// The caps feature upstream overlay elements look for.
pub(super) const OVERLAY_FEATURE: &str = "meta:GstVideoOverlayComposition";

/// `caps`, and after them the same structures with the overlay feature
/// added: what the sink takes when it can show overlays.
pub(super) fn with_overlay_feature(caps: gst::Caps) -> gst::Caps {
    let mut out = caps.clone();
    {
        let out = out.make_mut();
        for (structure, features) in caps.iter_with_features() {
            let mut features = features.to_owned();
            features.add(OVERLAY_FEATURE);
            out.append_structure_full(structure.to_owned(), Some(features));
        }
    }
    out
}

/// One rectangle of a composition, clipped to the frame: its pixels, and
/// which of them show where (frame coordinates, all inside the frame).
struct Part {
    pixels: gst::Buffer,
    stride: usize,
    /// The first pixel column and row of `pixels` that shows.
    skip: (usize, usize),
    /// Where that pixel goes, and how many columns and rows show.
    at: (u32, u32),
    size: (u32, u32),
    /// The rectangle's global alpha, 0-255.
    alpha: u32,
}

/// A rectangle as a [`Part`]: None when it is unreadable, or nothing of it
/// lies inside the `frame` (width, height). Clipping here bounds the
/// picture by the frame's size whatever positions upstream gives.
fn clip(rectangle: &gst_video::VideoOverlayRectangleRef, frame: (u32, u32)) -> Option<Part> {
    let (x, y, width, height) = rectangle.render_rectangle();
    let pixels = rectangle.pixels_argb(VideoOverlayFormatFlags::PREMULTIPLIED_ALPHA);
    let meta = pixels.meta::<gst_video::VideoMeta>()?;
    let stride = usize::try_from(*meta.stride().first()?).ok()?;
    if (meta.width(), meta.height()) != (width, height) || stride < width as usize * 4 {
        return None;
    }
    // In i64: positions near i32::MAX plus a width do not overflow.
    let span = |start: i32, len: u32, limit: u32| {
        let from = i64::from(start).max(0);
        let to = (i64::from(start) + i64::from(len)).min(i64::from(limit));
        (from < to).then(|| {
            (
                (from - i64::from(start)) as usize,
                from as u32,
                (to - from) as u32,
            )
        })
    };
    let (skip_x, at_x, w) = span(x, width, frame.0)?;
    let (skip_y, at_y, h) = span(y, height, frame.1)?;
    let alpha = (rectangle.global_alpha().clamp(0.0, 1.0) * 255.0).round() as u32;
    Some(Part {
        pixels,
        stride,
        skip: (skip_x, skip_y),
        at: (at_x, at_y),
        size: (w, h),
        alpha,
    })
}

/// One composition's rectangles, clipped to the `frame` (width, height),
/// blended into one picture over their bounding box (premultiplied "over",
/// in order), in video pixels. None: nothing to show (no rectangle, none
/// readable, or none inside the frame).
fn flatten(
    composition: &gst_video::VideoOverlayCompositionRef,
    frame: (u32, u32),
) -> Option<OverlayImage> {
    let parts: Vec<Part> = composition.iter().filter_map(|r| clip(&r, frame)).collect();
    let left = parts.iter().map(|p| p.at.0).min()?;
    let top = parts.iter().map(|p| p.at.1).min()?;
    let right = parts.iter().map(|p| p.at.0 + p.size.0).max()?;
    let bottom = parts.iter().map(|p| p.at.1 + p.size.1).max()?;
    let (width, height) = (right - left, bottom - top);
    let mut canvas = vec![0u8; width as usize * height as usize * 4];
    for part in &parts {
        let Ok(map) = part.pixels.map_readable() else {
            continue;
        };
        let (w, h) = (part.size.0 as usize, part.size.1 as usize);
        for row in 0..h {
            let first = (part.skip.1 + row) * part.stride + part.skip.0 * 4;
            let Some(src) = map.get(first..first + w * 4) else {
                break;
            };
            let at = (part.at.1 - top) as usize + row;
            let at = at * width as usize + (part.at.0 - left) as usize;
            let dst = &mut canvas[at * 4..(at + w) * 4];
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                // Premultiplied: every channel scales with the global alpha.
                let s = [0, 1, 2, 3].map(|i| u32::from(s[i]) * part.alpha / 255);
                let keep = 255 - s[3];
                for i in 0..4 {
                    d[i] = (s[i] + u32::from(d[i]) * keep / 255).min(255) as u8;
                }
            }
        }
    }
    Some(OverlayImage {
        x: left as i32,
        y: top as i32,
        width,
        height,
        pixels: canvas,
    })
}

impl ZcWaylandSink {
    /// Show the frame's overlay composition above it (clipped to the
    /// frame `info` describes), when it differs from the one shown (or
    /// remove it when the frame has none). A failure is a warning: the
    /// video goes on without the overlay.
    pub(super) fn show_composition(
        &self,
        presenter: &Presenter,
        buffer: &gst::Buffer,
        info: &gst_video::VideoInfo,
    ) {
        let meta = buffer.meta::<VideoOverlayCompositionMeta>();
        let seqnum = meta.as_ref().map(|m| m.overlay().seqnum());
        {
            let mut shown = lock(&self.overlay_shown);
            if *shown == seqnum {
                return;
            }
            *shown = seqnum;
        }
        let frame = (info.width(), info.height());
        let image = meta.as_ref().and_then(|m| flatten(m.overlay(), frame));
        match presenter.set_overlay(image.as_ref()) {
            Ok(()) if image.is_none() => {
                gst::debug!(CAT, imp = self, "overlay removed");
            }
            Ok(()) => {
                if let Some(image) = &image {
                    self.counters.overlay_shown();
                    gst::debug!(
                        CAT,
                        imp = self,
                        "overlay {}x{} at ({}, {}) above the video",
                        image.width,
                        image.height,
                        image.x,
                        image.y
                    );
                }
            }
            Err(e) => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    ("cannot show the subtitle overlay: {e}")
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rectangle(
        x: i32,
        y: i32,
        w: u32,
        h: u32,
        bgra: [u8; 4],
    ) -> gst_video::VideoOverlayRectangle {
        let mut buffer = gst::Buffer::from_mut_slice(bgra.repeat((w * h) as usize));
        gst_video::VideoMeta::add(
            buffer.get_mut().expect("new buffer"),
            gst_video::VideoFrameFlags::empty(),
            gst_video::VideoFormat::Bgra,
            w,
            h,
        )
        .expect("video meta");
        gst_video::VideoOverlayRectangle::new_raw(
            &buffer,
            x,
            y,
            w,
            h,
            VideoOverlayFormatFlags::PREMULTIPLIED_ALPHA,
        )
    }

    #[test]
    fn rectangles_are_blended_over_their_bounding_box() {
        gst::init().expect("gst");
        let rectangles = [
            rectangle(10, 20, 4, 2, [0, 0, 255, 255]),
            // Half-transparent white, premultiplied, overlapping the first.
            rectangle(12, 21, 4, 2, [128, 128, 128, 128]),
        ];
        let composition =
            gst_video::VideoOverlayComposition::new(&rectangles).expect("composition");
        let image = flatten(&composition, (64, 48)).expect("an image");
        assert_eq!(
            (image.x, image.y, image.width, image.height),
            (10, 20, 6, 3)
        );
        let px = |x: usize, y: usize| &image.pixels[(y * 6 + x) * 4..(y * 6 + x) * 4 + 4];
        assert_eq!(px(0, 0), [0, 0, 255, 255], "red alone");
        assert_eq!(px(5, 2), [128, 128, 128, 128], "white alone");
        // White over red: 128 + 0.5 * 0 = 128 blue, 128 + 255 * 127/255.
        assert_eq!(px(2, 1), [128, 128, 255, 255]);
        assert_eq!(px(5, 0), [0, 0, 0, 0], "outside both: transparent");
    }

    #[test]
    fn rectangles_are_clipped_to_the_frame() {
        gst::init().expect("gst");
        let rectangles = [
            // Half outside the left and top edges: its lower right quarter shows.
            rectangle(-2, -1, 4, 2, [1, 2, 3, 255]),
            // Past i32::MAX once its width is added: nothing of it shows.
            rectangle(i32::MAX - 1, 0, 4, 2, [9, 9, 9, 255]),
        ];
        let composition =
            gst_video::VideoOverlayComposition::new(&rectangles).expect("composition");
        let image = flatten(&composition, (64, 48)).expect("an image");
        assert_eq!((image.x, image.y, image.width, image.height), (0, 0, 2, 1));
        assert_eq!(image.pixels, [1, 2, 3, 255, 1, 2, 3, 255]);
        let outside = [rectangle(64, 0, 4, 2, [1, 2, 3, 255])];
        let composition = gst_video::VideoOverlayComposition::new(&outside).expect("composition");
        assert!(flatten(&composition, (64, 48)).is_none(), "nothing inside");
    }

    #[test]
    fn the_overlay_feature_is_added_to_every_structure() {
        gst::init().expect("gst");
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "NV12")
            .build();
        let both = with_overlay_feature(caps);
        assert_eq!(both.size(), 2);
        let (_, features) = both.iter_with_features().nth(1).expect("second");
        assert!(features.contains(OVERLAY_FEATURE));
        assert_eq!(
            OVERLAY_FEATURE,
            gst_video::CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION.as_str()
        );
    }
}
