//! `ZcBufferPool`: video frames in zc memory, laid out by zc-dmabuf.
//!
//! - Caps become a validated `FrameLayout` (stride alignment 256 by default,
//!   larger where a `GstVideoAlignment` asks, padding honoured); each buffer
//!   carries a `VideoMeta` with the real offsets and strides.
//! - A buffer goes back out only when nobody reads it any more: GStreamer
//!   consumers by dropping their reference (the pool's normal recycling),
//!   devices by the fences on the dma-buf, which `acquire` waits for.

mod imp;
mod meta_map;

use gst::glib;
use gst::subclass::prelude::*;

use crate::allocator::ZcDmaBufAllocator;

glib::wrapper! {
    pub struct ZcBufferPool(ObjectSubclass<imp::ZcBufferPool>) @extends gst::BufferPool, gst::Object;
}

impl ZcBufferPool {
    pub fn new(allocator: &ZcDmaBufAllocator) -> Self {
        let pool: Self = glib::Object::new();
        pool.imp().set_allocator(allocator.clone());
        pool
    }

    /// The allocator whose memory this pool hands out.
    pub fn allocator(&self) -> ZcDmaBufAllocator {
        self.imp().allocator()
    }

    /// How many acquired buffers were still in use by a device (unsignalled
    /// fences) and had to be waited for.
    pub fn fence_waits(&self) -> u64 {
        self.imp().fence_waits()
    }
}
