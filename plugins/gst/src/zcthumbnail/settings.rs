//! `zcthumbnail`'s properties: their values, defaults, checks and specs.

use gst::glib;
use gst::prelude::*;

use super::output::{self, ImageFormat};

pub(super) const DEFAULT_LOCATION: &str = "thumbnail-%05d.jpg";
pub(super) const DEFAULT_QUALITY: u32 = 85;
pub(super) const DEFAULT_WIDTH: u32 = 320;
pub(super) const DEFAULT_HEIGHT: u32 = 180;
pub(super) const DEFAULT_INTERVAL: u64 = 10 * gst::ClockTime::SECOND.nseconds();
/// Thumbnails upright as the video is shown, tagged phone video included.
pub(super) const DEFAULT_ROTATE_METHOD: gst_video::VideoOrientationMethod =
    gst_video::VideoOrientationMethod::Auto;

/// The `format` property.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcThumbnailFormat")]
pub enum ThumbnailFormat {
    #[default]
    #[enum_value(name = "JPEG (baseline, `quality` applies)", nick = "jpeg")]
    Jpeg,
    #[enum_value(name = "PNG (lossless, 8-bit RGB)", nick = "png")]
    Png,
}

impl From<ThumbnailFormat> for ImageFormat {
    fn from(f: ThumbnailFormat) -> Self {
        match f {
            ThumbnailFormat::Jpeg => ImageFormat::Jpeg,
            ThumbnailFormat::Png => ImageFormat::Png,
        }
    }
}

/// The `on-error` property.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcThumbnailOnError")]
pub enum OnError {
    #[default]
    #[enum_value(
        name = "Stop: post an error naming the path and stop the stream",
        nick = "stop"
    )]
    Stop,
    #[enum_value(
        name = "Skip: post a warning naming the path, count it, and go on",
        nick = "skip"
    )]
    Skip,
}

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub(super) location: String,
    pub(super) format: ThumbnailFormat,
    pub(super) quality: u32,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) interval: u64,
    pub(super) keyframes_only: bool,
    pub(super) on_error: OnError,
    pub(super) keep_last_frame: bool,
    pub(super) rotate_method: gst_video::VideoOrientationMethod,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            location: DEFAULT_LOCATION.to_owned(),
            format: ThumbnailFormat::default(),
            quality: DEFAULT_QUALITY,
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            interval: DEFAULT_INTERVAL,
            keyframes_only: false,
            on_error: OnError::default(),
            keep_last_frame: false,
            rotate_method: DEFAULT_ROTATE_METHOD,
        }
    }
}

impl Settings {
    /// Settings that can never work are an error whatever `on-error` says.
    pub(super) fn check(&self) -> Result<(), gst::ErrorMessage> {
        let settings_error =
            |reason: String| gst::error_msg!(gst::ResourceError::Settings, ("{reason}"));
        output::expand_location(&self.location, 0, Some(0))
            .map_err(|err| settings_error(format!("location {}: {err}", self.location)))?;
        // With both given, width x height bounds every thumbnail.
        if self.width > 0 && self.height > 0 {
            output::check_size(self.width, self.height)
                .map_err(|reason| settings_error(format!("width and height: {reason}")))?;
        }
        Ok(())
    }
}

/// Every property of the element.
pub(super) fn param_specs() -> Vec<glib::ParamSpec> {
    let counter = |name: &'static str, nick: &'static str, blurb: &'static str| {
        glib::ParamSpecUInt64::builder(name)
            .nick(nick)
            .blurb(blurb)
            .read_only()
            .build()
    };
    vec![
        glib::ParamSpecString::builder("location")
            .nick("Location")
            .blurb(
                "Where thumbnails go: %d or %0Nd is the thumbnail's index (from 0), %t or %0Nt the \
                 frame's timestamp in milliseconds (N at most 32), %% a percent sign. Each file is \
                 written to a new temporary file beside it (created exclusively, never through a \
                 symlink) and renamed over <name>: an existing file or symlink there is replaced",
            )
            .default_value(Some(DEFAULT_LOCATION))
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<ThumbnailFormat>("format")
            .nick("Format")
            .blurb("Image format of the files written")
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("quality")
            .nick("JPEG quality")
            .blurb("JPEG quality, 1 (smallest) to 100 (best); ignored for PNG")
            .minimum(1)
            .maximum(100)
            .default_value(DEFAULT_QUALITY)
            .mutable_playing()
            .build(),
        size_property("width", "Width", "height", DEFAULT_WIDTH),
        size_property("height", "Height", "width", DEFAULT_HEIGHT),
        glib::ParamSpecUInt64::builder("interval")
            .nick("Interval")
            .blurb(
                "Stream time in nanoseconds between thumbnails: the first frame with a timestamp is \
                 taken, then the first at least this much later. 0 turns time-based picking off \
                 (then only keyframes-only and the snapshot signal pick frames)",
            )
            .default_value(DEFAULT_INTERVAL)
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("keyframes-only")
            .nick("Keyframes only")
            .blurb(
                "Consider only keyframes (buffers without the DELTA_UNIT flag); with interval 0, \
                 every keyframe makes a thumbnail",
            )
            .default_value(false)
            .mutable_playing()
            .build(),
        glib::ParamSpecEnum::builder::<OnError>("on-error")
            .nick("On error")
            .blurb(
                "What a missing or unwritable folder, or a thumbnail that cannot be encoded or \
                 written, does: an error that stops the stream, or a warning and a skip",
            )
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("keep-last-frame")
            .nick("Keep last frame")
            .blurb(
                "Keep a reference to the frame that passed last, so the snapshot-last action can take \
                 it at once (a paused pipeline sends no next frame). It holds one buffer of the \
                 upstream pool, usually the one the sink shows anyway",
            )
            .default_value(false)
            .mutable_playing()
            .build(),
        glib::ParamSpecEnum::builder_with_default("rotate-method", DEFAULT_ROTATE_METHOD)
            .nick("Rotate method")
            .blurb(
                "How thumbnails are turned or flipped (zcwaylandsink's rotate-method shows the \
                 video the same way); auto follows the stream's image-orientation tag, as phones \
                 tag portrait video; custom writes the frame as it is",
            )
            .mutable_playing()
            .build(),
        counter("thumbnails-written", "Thumbnails written", "Files written and renamed into place"),
        counter(
            "frames-skipped",
            "Frames skipped",
            "Frames picked for a thumbnail but skipped because the encoder was still busy",
        ),
        counter(
            "thumbnails-failed",
            "Thumbnails failed",
            "Picked frames that could not be read, encoded or written",
        ),
        counter(
            "cpu-brackets",
            "CPU brackets",
            "CPU-access brackets completed (begin and end), one per fd-backed memory read; \
             DMA_BUF_IOCTL_SYNC START/END on dma-bufs",
        ),
        counter(
            "cpu-brackets-begun",
            "CPU brackets begun",
            "CPU-access brackets begun; equals cpu-brackets whenever no frame is being read",
        ),
    ]
}

/// `width` or `height`: the thumbnail's bound in that dimension.
fn size_property(
    name: &'static str,
    nick: &'static str,
    other: &str,
    default: u32,
) -> glib::ParamSpec {
    glib::ParamSpecUInt::builder(name)
        .nick(nick)
        .blurb(&format!(
            "Thumbnail {name} in pixels, at most; the aspect ratio is kept. 0 follows `{other}`; \
             0 for both is the frame's own size (a full-size snapshot). A thumbnail has at \
             most 67108864 pixels (8192x8192): larger sizes stop the stream with an error"
        ))
        .maximum(65535)
        .default_value(default)
        .mutable_playing()
        .build()
}
