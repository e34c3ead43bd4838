//! `zcvulkanconvert`: YUV dma-buf frames to RGBA dma-buf frames on the GPU.
//!
//! - Input frames (8-bit and 10-bit YUV in 4:2:0, 4:2:2 and 4:4:4 as
//!   decoders produce them: NV12, I420, Y42B, Y444, YUY2, P010_10LE,
//!   I420_10LE, I422_10LE, Y444_10LE) are imported into Vulkan
//!   once per dma-buf (cached) and converted by a compute shader with the
//!   matrix and range from the caps' colorimetry.
//! - The RGBA result is Vulkan memory exported as a dma-buf and goes
//!   downstream as GstDmaBufMemory with a VideoMeta: no CPU touches a pixel.
//! - Caps in both dialects (see `crate::dialect`): on GStreamer 1.24+ it
//!   takes `format=DMA_DRM` with every modifier the device samples and
//!   imports (each plane its own image with an explicit layout, so one
//!   dma-buf or one per plane), and offers its output as `DMA_DRM,
//!   drm-format=AB24`; DMA_DRM caps with any other modifier are refused at
//!   negotiation with a warning that names the modifier.
//! - It proposes the zc pool upstream so decoders write into dma-bufs.
//! - With `passthrough`, frames downstream takes as they are go on
//!   untouched (as through videoconvert), so it can sit in front of a sink
//!   for the formats the compositor cannot show.
//! - Where the kernel has no dma-buf exporter (memfd frames, lavapipe
//!   without udmabuf) it runs the same shader on fd memory, with plain
//!   `video/x-raw` caps, so it is testable everywhere.
//!
//! The work is done by `zc-vulkan`; this module is GStreamer glue only.

mod caps;
mod device;
mod frames;
mod imp;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct ZcVulkanConvert(ObjectSubclass<imp::ZcVulkanConvert>)
        @extends gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "zcvulkanconvert",
        gst::Rank::NONE,
        ZcVulkanConvert::static_type(),
    )
}
