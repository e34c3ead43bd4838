//! `zcexport`: hands frames on as dma-bufs, copying only when it must.
//!
//! - It answers upstream's ALLOCATION query with a zc pool, so decoders
//!   decode straight into dma-bufs.
//! - Frames that arrive in dma-buf (or zc) memory go on untouched: same
//!   buffer, same fds. That covers frames decoded into the zc pool and foreign
//!   dma-bufs such as `v4l2src io-mode=dmabuf`.
//! - Frames that arrive in system memory anyway are copied into a pooled
//!   dma-buf (`copy-mode` says whether that is fine, worth a warning, or an
//!   error naming the upstream element that ignored the pool).
//! - It outputs `video/x-raw(memory:DMABuf)` where downstream takes it, and
//!   plain `video/x-raw` otherwise, with VideoMeta either way.

//!
//! The files: `imp` (the GObject glue), `settings` (defaults, the settable
//! properties, [`CopyMode`]), `negotiation` (caps both ways, the caps
//! event, the pool proposed), `frames` (passing on or copying each frame),
//! `stats`.

mod frames;
mod imp;
mod negotiation;
mod settings;
mod stats;

use gst::glib;
use gst::prelude::*;

pub use settings::CopyMode;

glib::wrapper! {
    pub struct ZcExport(ObjectSubclass<imp::ZcExport>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // Documented with the element (gst-inspect, the plugin cache).
    CopyMode::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    crate::allocator::BackendSetting::static_type()
        .mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "zcexport",
        gst::Rank::NONE,
        ZcExport::static_type(),
    )
}
