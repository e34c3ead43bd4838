//! `zcwaylandsink`: shows dma-buf frames on a Wayland compositor without
//! copying them.
//!
//! - Caps come from what the compositor advertises: linux-dmabuf v3 format
//!   events or v4/v5 feedback (renegotiated when the feedback changes), and
//!   the wl_shm formats.
//! - It proposes zc's pool upstream, on the compositor's main device when
//!   the feedback names one and GBM can allocate there, so a decoder writes
//!   straight into buffers the compositor imports.
//! - Each frame's storage becomes one `wl_buffer`, made once and cached on
//!   the memory for its life; a frame goes back to its pool only after the
//!   compositor released it.
//! - Memfd frames (zc's `memfd` backend) are shown through wl_shm without a
//!   copy; frames in other system memory, or that the compositor refuses as
//!   dma-bufs, are copied into a pooled buffer (counted in `bytes-copied`).
//! - `wp_presentation` feedback is counted in `frames-presented`,
//!   `frames-discarded`, `latency-us`, `presentation-jitter-us`, and posted
//!   at EOS as `zc-sink-stats`, with every frame's target and actual
//!   presentation time in `zc-sink-presentations`.
//! - Where the compositor has `wp_fifo_v1` and `wp_commit_timing_v1`, frames
//!   are rendered early (the render delay) and committed at once with their
//!   target time; the compositor shows each at its time. Elsewhere, one
//!   frame per frame callback.
//! - Explicit sync where the compositor offers it (`explicit-sync`):
//!   `wp_linux_drm_syncobj_v1` timelines where it can, else
//!   `zwp_linux_explicit_synchronization_v1`; the producer's fence with each
//!   dma-buf commit, the frame held until the compositor's release
//!   signalled. The sink logs which one it uses.
//! - `rotate-method` turns or flips the video on screen through the
//!   surface's buffer transform (the compositor's work, no copy); `auto`
//!   follows the stream's `image-orientation` tag.
//! - `path-preference` (auto, dmabuf, shm, copy) restricts the way frames
//!   take, for the player and the benchmark; `path` reports the way taken.
//! - Interlaced frames are flagged as such to linux-dmabuf; a compositor that
//!   refuses them (or any dma-buf) gets copies through wl_shm, one warning.
//! - YUV streams state their matrix, range and chroma location from the caps
//!   through `wp_color_representation_v1` where the compositor supports them
//!   (`color-representation`); without it the compositor guesses, and the
//!   sink warns once when the guess differs from the stream's colorimetry.
//! - HDR streams (PQ, HLG) set their image description (primaries,
//!   transfer, mastering display, content light levels from the caps)
//!   through `wp_color_manager_v1` where the compositor has it
//!   (`image-description-set` says what the surface has); SDR ones none.
//!
//! Embedding (GstVideoOverlay), the contract of GStreamer's `waylandsink`:
//! - The display: before connecting (NULL to READY) the sink asks upstream
//!   with a context query, then posts need-context, for
//!   `GstWaylandDisplayHandleContextType` and then GStreamer 1.22's name
//!   `GstWlDisplayHandleContextType`; the application answers with
//!   `gst_element_set_context`, a context whose structure has the
//!   `wl_display *` in a G_TYPE_POINTER field `display` (`handle` is read
//!   too). On that display the sink uses its own event queue, never
//!   dispatches the application's, and never disconnects it; it answers
//!   context queries with the display in use.
//! - The surface: on the first frame, without a window handle, it posts
//!   prepare-window-handle; the application calls `set_window_handle` with
//!   its `wl_surface *` (from a sync bus handler, or before starting). The
//!   video then lives in a desynchronised subsurface of it at the render
//!   rectangle, scaled with its aspect ratio kept and black bars; without a
//!   rectangle, at (0, 0) at the video's own size.
//! - `set_render_rectangle` (or `render-rectangle`) works at any time, also
//!   while paused: the sink commits its surfaces and then the application's
//!   surface, because a subsurface's position is state of its parent. So the
//!   sink commits the parent when the window is made and on each rectangle
//!   change; call it when the parent's pending state may be applied (after
//!   drawing, or from the resize handler). Going to READY removes the video
//!   from the surface; the handle and display are kept for the next run.
//!
//! The files: `imp` (the GObject glue), `settings` (defaults, the settable
//! properties, [`PathPreference`]), `display` (connecting, the display
//! context), `overlay` (GstVideoOverlay, the window), `negotiation` (caps,
//! the pool proposed), `color` (what the compositor is told about colour),
//! `orientation` (`rotate-method`), `render` (the frame path), `import` (frames as
//! cached `wl_buffer`s, fences), `copy` (the copy fallback), `timing` (target times, the render
//! delay), `stats`.

mod color;
mod composition;
mod copy;
mod display;
mod imp;
mod import;
mod negotiation;
mod orientation;
mod overlay;
mod render;
mod settings;
mod stats;
mod timing;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct ZcWaylandSink(ObjectSubclass<imp::ZcWaylandSink>)
        @extends gst_video::VideoSink, gst_base::BaseSink, gst::Element, gst::Object,
        @implements gst_video::VideoOverlay;
}

pub use display::DISPLAY_CONTEXT_TYPES;
pub use settings::{ColorRepresentation, PathPreference};

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // Documented with the element (gst-inspect, the plugin cache).
    PathPreference::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    ColorRepresentation::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "zcwaylandsink",
        gst::Rank::NONE,
        ZcWaylandSink::static_type(),
    )
}
