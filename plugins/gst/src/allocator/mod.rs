//! `zcdmabuf`: a GstDmaBufAllocator over zc's allocation backends.
//!
//! Its memory is ordinary GstDmaBufMemory (`gst_is_dmabuf_memory()` is true),
//! so every stock element that imports dma-bufs takes it. The memfd backend
//! is the exception by design: its memory is plain GstFdMemory, because a
//! memfd is not a dma-buf and must not be offered to importers as one.

mod imp;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::{Backend, FrameLayout, FrameRequest};

pub use imp::BackendSetting;

/// The name `gst_allocator_find()` knows the allocator by.
pub const ALLOCATOR_NAME: &str = "zcdmabuf";

glib::wrapper! {
    pub struct ZcDmaBufAllocator(ObjectSubclass<imp::ZcDmaBufAllocator>)
        @extends gst_allocators::DmaBufAllocator, gst_allocators::FdAllocator, gst::Allocator, gst::Object;
}

/// A frame allocated by the backend: its validated layout and one GstMemory
/// per buffer the layout's planes refer to.
#[derive(Debug)]
pub struct AllocatedFrame {
    pub layout: FrameLayout,
    pub memories: Vec<gst::Memory>,
}

impl ZcDmaBufAllocator {
    pub fn new(backend: BackendSetting) -> Self {
        glib::Object::builder().property("backend", backend).build()
    }

    /// Allocate one frame laid out by the backend (GBM's layout comes from
    /// the driver; the others use zc's computed layout).
    pub fn allocate_frame(
        &self,
        request: &FrameRequest,
    ) -> Result<AllocatedFrame, zc_dmabuf::Error> {
        self.imp().allocate_frame(request)
    }

    /// The backend in use, opening it if needed.
    pub fn backend(&self) -> Result<Backend, zc_dmabuf::Error> {
        self.imp().backend()
    }

    /// The backend's device, for messages ("/dev/dma_heap/system").
    pub fn device(&self) -> Result<String, zc_dmabuf::Error> {
        self.imp().device()
    }
}

pub fn register() {
    // A default instance for gst_allocator_find("zcdmabuf"); elements make
    // their own so each can be configured.
    gst::Allocator::register(ALLOCATOR_NAME, ZcDmaBufAllocator::new(BackendSetting::Auto));
}

impl Default for ZcDmaBufAllocator {
    fn default() -> Self {
        Self::new(BackendSetting::Auto)
    }
}

/// Whether a memory came from a zc allocator (dma-buf or memfd backend).
pub fn is_zc_memory(memory: &gst::MemoryRef) -> bool {
    memory
        .allocator()
        .is_some_and(|a| a.is::<ZcDmaBufAllocator>())
        || memory
            .allocator()
            .is_some_and(|a| a.name().starts_with(imp::MEMFD_WRAPPER_PREFIX))
}
