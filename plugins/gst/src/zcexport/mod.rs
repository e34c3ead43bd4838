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

mod imp;

use gst::glib;
use gst::prelude::*;

pub use imp::CopyMode;

glib::wrapper! {
    pub struct ZcExport(ObjectSubclass<imp::ZcExport>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "zcexport",
        gst::Rank::NONE,
        ZcExport::static_type(),
    )
}
