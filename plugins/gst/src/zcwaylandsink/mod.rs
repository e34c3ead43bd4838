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
//!   `frames-discarded`, `latency-us`, and posted at EOS as `zc-sink-stats`.

mod imp;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct ZcWaylandSink(ObjectSubclass<imp::ZcWaylandSink>)
        @extends gst_video::VideoSink, gst_base::BaseSink, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "zcwaylandsink",
        gst::Rank::NONE,
        ZcWaylandSink::static_type(),
    )
}
