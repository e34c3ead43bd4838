//! `zcthumbnail`: thumbnails from passing frames, read through bracketed CPU
//! access, whoever allocated them.
//!
//! - A passthrough filter: every frame goes on untouched, at once; encoding
//!   never delays it.
//! - It picks a frame by `interval` (stream time), by `keyframes-only`, or
//!   when the `snapshot` action signal asks for the next one.
//! - For a picked frame it begins a READ bracket on each memory the planes
//!   live in (one per fd: `DMA_BUF_IOCTL_SYNC` START for a dma-buf, counted
//!   only for a memfd, none for system memory), box-filters the mapped planes
//!   straight into a small RGB image ([`scale`] states the rule), and ends
//!   the brackets. The brackets cover that read only.
//! - One worker thread encodes JPEG or PNG ([`output`]) and writes the file
//!   atomically, then posts a `zc-thumbnail` element message. While it is
//!   busy, picked frames are skipped and counted: nothing queues.

mod imp;
pub mod output;
pub mod scale;

use gst::glib;
use gst::prelude::*;

pub use imp::{OnError, ThumbnailFormat};

glib::wrapper! {
    pub struct ZcThumbnail(ObjectSubclass<imp::ZcThumbnail>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "zcthumbnail", gst::Rank::NONE, ZcThumbnail::static_type())
}
