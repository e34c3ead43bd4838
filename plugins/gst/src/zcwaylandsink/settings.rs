//! The sink's settings: the `DEFAULT_*` values, the [`PathPreference`]
//! enum, and the writable properties that set them (`render-rectangle` is
//! the overlay's, in `overlay.rs`; the counters are in `stats.rs`).

use gst::glib;
use gst::prelude::*;
use zc_wayland::{CONNECT_TIMEOUT, DEFAULT_EVENT_BATCH};

use super::orientation::DEFAULT_ROTATE_METHOD;
use super::overlay::RenderRectangle;

/// No display name: `$WAYLAND_DISPLAY` (default `wayland-0`).
pub(super) const DEFAULT_DISPLAY: Option<&str> = None;
/// How long the compositor has to answer while connecting.
pub(super) const DEFAULT_CONNECT_TIMEOUT_MS: u32 = CONNECT_TIMEOUT.as_millis() as u32;
pub(super) const DEFAULT_FULLSCREEN: bool = false;
/// DRM_FORMAT_MOD_INVALID is refused unless asked for: the compositor may
/// read such a buffer with the wrong layout.
pub(super) const DEFAULT_ALLOW_IMPLICIT_MODIFIER: bool = false;
pub(super) const DEFAULT_EXPLICIT_SYNC: bool = true;
pub(super) const DEFAULT_PATH_PREFERENCE: PathPreference = PathPreference::Auto;
pub(super) const DEFAULT_TITLE: &str = "zc";
pub(super) const DEFAULT_COLOR_REPRESENTATION: ColorRepresentation = ColorRepresentation::Auto;
/// How long compositor events may wait unread while paced frames queue.
pub(super) const DEFAULT_EVENT_BATCH_MS: u32 = DEFAULT_EVENT_BATCH.as_millis() as u32;
/// A batch longer than a second would hold buffers for seconds.
const MAX_EVENT_BATCH_MS: u32 = 1000;
/// Presentation feedback on every commit: the counters users read.
const DEFAULT_PRESENTATION_FEEDBACK: bool = true;

/// The `color-representation` property: whether a YUV stream's matrix,
/// range and chroma location are stated to the compositor.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcWaylandSinkColorRepresentation")]
pub enum ColorRepresentation {
    #[default]
    #[enum_value(
        name = "Auto: stated through wp_color_representation_v1 where the compositor supports the stream's matrix and range, else left to the compositor's guess with one warning",
        nick = "auto"
    )]
    Auto,
    #[enum_value(
        name = "Protocol: stated through wp_color_representation_v1, and caps the compositor cannot be told about are refused",
        nick = "protocol"
    )]
    Protocol,
    #[enum_value(
        name = "Off: never stated; the compositor guesses (for comparison)",
        nick = "off"
    )]
    Off,
}

/// The `path-preference` property: which way frames may reach the
/// compositor (the player and the benchmark choose; `path` reports).
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcWaylandSinkPathPreference")]
pub enum PathPreference {
    #[default]
    #[enum_value(
        name = "Auto: the frame's own dma-buf, else its own memfd through wl_shm, else a copy",
        nick = "auto"
    )]
    Auto,
    #[enum_value(
        name = "dma-buf only: caps and pool are dma-buf ones, other frames are copied into dma-bufs, and a format or buffer the compositor cannot import is an error",
        nick = "dmabuf"
    )]
    DmaBuf,
    #[enum_value(
        name = "wl_shm only: the memfd pool is proposed and frames go through wl_shm even where dma-buf works; dma-buf frames are copied",
        nick = "shm"
    )]
    Shm,
    #[enum_value(
        name = "Copy: no pool is proposed and every frame is copied (the comparison path)",
        nick = "copy"
    )]
    Copy,
}

impl PathPreference {
    /// The value's nick, as `path-preference=` takes it.
    pub fn nick(self) -> &'static str {
        match self {
            PathPreference::Auto => "auto",
            PathPreference::DmaBuf => "dmabuf",
            PathPreference::Shm => "shm",
            PathPreference::Copy => "copy",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub display: Option<String>,
    pub connect_timeout_ms: u32,
    pub fullscreen: bool,
    pub allow_implicit_modifier: bool,
    pub explicit_sync: bool,
    pub path_preference: PathPreference,
    pub title: String,
    pub render_rectangle: RenderRectangle,
    pub color_representation: ColorRepresentation,
    pub event_batch_ms: u32,
    pub presentation_feedback: bool,
    pub rotate_method: gst_video::VideoOrientationMethod,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            display: DEFAULT_DISPLAY.map(str::to_owned),
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            fullscreen: DEFAULT_FULLSCREEN,
            allow_implicit_modifier: DEFAULT_ALLOW_IMPLICIT_MODIFIER,
            explicit_sync: DEFAULT_EXPLICIT_SYNC,
            path_preference: DEFAULT_PATH_PREFERENCE,
            title: DEFAULT_TITLE.to_owned(),
            render_rectangle: RenderRectangle::DEFAULT,
            color_representation: DEFAULT_COLOR_REPRESENTATION,
            event_batch_ms: DEFAULT_EVENT_BATCH_MS,
            presentation_feedback: DEFAULT_PRESENTATION_FEEDBACK,
            rotate_method: DEFAULT_ROTATE_METHOD,
        }
    }
}

/// The properties [`Settings`] holds (all but `render-rectangle`).
pub(super) fn properties() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("display")
            .nick("Display")
            .blurb("Wayland display to connect to (a name under $XDG_RUNTIME_DIR or an absolute socket path); unset uses $WAYLAND_DISPLAY, default wayland-0")
            .default_value(DEFAULT_DISPLAY)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("connect-timeout")
            .nick("Connect timeout")
            .blurb("Milliseconds the compositor has to answer while connecting (NULL to READY) before that is an error")
            .minimum(1)
            .default_value(DEFAULT_CONNECT_TIMEOUT_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("fullscreen")
            .nick("Fullscreen")
            .blurb("Ask the compositor to show the window fullscreen (the video keeps its aspect ratio, with black bars)")
            .default_value(DEFAULT_FULLSCREEN)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("allow-implicit-modifier")
            .nick("Allow implicit modifier")
            .blurb("Accept dma-bufs with DRM_FORMAT_MOD_INVALID, which the compositor may read with the wrong layout (refused by default)")
            .default_value(DEFAULT_ALLOW_IMPLICIT_MODIFIER)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("path-preference", DEFAULT_PATH_PREFERENCE)
            .nick("Path preference")
            .blurb("Which way frames may reach the compositor (auto, dmabuf, shm or copy: see the values), reported by the read-only path property")
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("explicit-sync")
            .nick("Explicit sync")
            .blurb("Synchronise dma-buf frames explicitly where the compositor offers wp_linux_drm_syncobj_v1 (preferred) or zwp_linux_explicit_synchronization_v1 (the producer's fence with each commit, the frame held until the compositor's release signalled; off: implicit fences), from the next window on")
            .default_value(DEFAULT_EXPLICIT_SYNC)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("color-representation", DEFAULT_COLOR_REPRESENTATION)
            .nick("Color representation")
            .blurb("Whether a YUV stream's matrix, range and chroma location from its caps are stated to the compositor through wp_color_representation_v1 (auto, protocol or off: see the values), from the next caps on")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("event-batch")
            .nick("Event batch")
            .blurb("Milliseconds the sink's Wayland thread may leave compositor events unread while frames wait in the compositor's queue (FIFO and commit-timing pacing only): it wakes once per batch instead of twice per frame, and buffers return up to that much later; 0 reads every event as it comes; from the next window on")
            .maximum(MAX_EVENT_BATCH_MS)
            .default_value(DEFAULT_EVENT_BATCH_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("presentation-feedback")
            .nick("Presentation feedback")
            .blurb("Ask the compositor when each frame was shown (wp_presentation), which the frames-presented, frames-discarded, latency-us and presentation-jitter-us counters report; off saves a request and three events per frame and leaves those counters at 0 (windows paced by FIFO and commit timing keep it), from the next window on")
            .default_value(DEFAULT_PRESENTATION_FEEDBACK)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("rotate-method", DEFAULT_ROTATE_METHOD)
            .nick("Rotate method")
            .blurb("How the compositor turns or flips the video on screen (wl_surface.set_buffer_transform: no copy); auto follows the stream's image-orientation tag, as phones tag portrait video; custom shows it as it is; takes effect at once")
            .mutable_playing()
            .build(),
        glib::ParamSpecString::builder("title")
            .nick("Title")
            .blurb("Title of the sink's own toplevel window (unused when embedded in an application's surface)")
            .default_value(Some(DEFAULT_TITLE))
            .mutable_ready()
            .build(),
    ]
}

impl Settings {
    /// Set the property `name` from `value`; false when it is not one of
    /// [`properties`].
    pub(super) fn set(&mut self, name: &str, value: &glib::Value) -> bool {
        match name {
            "display" => self.display = value.get().ok().flatten(),
            "connect-timeout" => {
                self.connect_timeout_ms = value.get().unwrap_or(self.connect_timeout_ms)
            }
            "fullscreen" => self.fullscreen = value.get().unwrap_or(DEFAULT_FULLSCREEN),
            "allow-implicit-modifier" => {
                self.allow_implicit_modifier =
                    value.get().unwrap_or(DEFAULT_ALLOW_IMPLICIT_MODIFIER)
            }
            "explicit-sync" => self.explicit_sync = value.get().unwrap_or(DEFAULT_EXPLICIT_SYNC),
            "path-preference" => {
                self.path_preference = value.get().unwrap_or(DEFAULT_PATH_PREFERENCE)
            }
            "color-representation" => {
                self.color_representation = value.get().unwrap_or(DEFAULT_COLOR_REPRESENTATION)
            }
            "event-batch" => self.event_batch_ms = value.get().unwrap_or(DEFAULT_EVENT_BATCH_MS),
            "presentation-feedback" => {
                self.presentation_feedback = value.get().unwrap_or(DEFAULT_PRESENTATION_FEEDBACK)
            }
            "rotate-method" => self.rotate_method = value.get().unwrap_or(DEFAULT_ROTATE_METHOD),
            "title" => {
                self.title = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| DEFAULT_TITLE.to_owned())
            }
            _ => return false,
        }
        true
    }

    /// The value of the property `name`, when it is one of [`properties`].
    pub(super) fn get(&self, name: &str) -> Option<glib::Value> {
        Some(match name {
            "display" => self.display.to_value(),
            "connect-timeout" => self.connect_timeout_ms.to_value(),
            "fullscreen" => self.fullscreen.to_value(),
            "allow-implicit-modifier" => self.allow_implicit_modifier.to_value(),
            "explicit-sync" => self.explicit_sync.to_value(),
            "path-preference" => self.path_preference.to_value(),
            "color-representation" => self.color_representation.to_value(),
            "event-batch" => self.event_batch_ms.to_value(),
            "presentation-feedback" => self.presentation_feedback.to_value(),
            "rotate-method" => self.rotate_method.to_value(),
            "title" => self.title.to_value(),
            _ => return None,
        })
    }
}
