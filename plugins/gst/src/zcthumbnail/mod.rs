//! `zcthumbnail`: thumbnails from passing frames, read through bracketed CPU
//! access, whoever allocated them.
//!
//! - A passthrough filter: every frame goes on untouched, at once; encoding
//!   never delays it.
//! - It picks a frame by `interval` (stream time), by `keyframes-only`, or
//!   when the `snapshot` action signal asks for the next one.
//! - A picked frame goes to one worker thread as a buffer reference (the
//!   streaming thread only picks). The worker begins a READ bracket on each
//!   memory the planes live in (one per fd: `DMA_BUF_IOCTL_SYNC` START for a
//!   dma-buf, counted only for a memfd, none for system memory), box-filters
//!   the mapped planes straight into a small RGB image ([`scale`] states the
//!   rule), ends the brackets and drops the buffer reference. The brackets
//!   cover that read only, never the encode.
//! - Then it turns the image as `rotate-method` says (`turn`; `auto`, the
//!   default, follows the stream's `image-orientation` tag), encodes JPEG
//!   or PNG ([`output`]), writes the file atomically
//!   and posts a `zc-thumbnail` element message. While the worker is busy,
//!   picked frames are skipped and counted: nothing queues.

mod imp;
pub mod output;
pub mod scale;
mod settings;
mod turn;

use gst::glib;
use gst::prelude::*;

pub use settings::{OnError, ThumbnailFormat};

glib::wrapper! {
    pub struct ZcThumbnail(ObjectSubclass<imp::ZcThumbnail>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "zcthumbnail",
        gst::Rank::NONE,
        ZcThumbnail::static_type(),
    )
}
