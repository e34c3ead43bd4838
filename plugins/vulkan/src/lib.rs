//! zc's Vulkan layer: dma-buf frames imported into Vulkan, converted from
//! YUV to RGB (RGBA8, or 10 bits per colour) by a compute shader, and
//! handed on as a dma-buf again.
//! No GStreamer in here; the `zcvulkanconvert` element wraps it.
//!
//! ```text
//! Context::new(&DeviceChoice::Auto)  -> the device (DRM node or first that imports)
//! Converter::new(ctx, options)       -> pipelines, command buffer
//! converter.import(&layout, &fds)    -> FrameImport (keep it while the buffers live)
//! converter.convert_import_into(&import, colorimetry, &output)
//! converter.convert(&layout, &fds, colorimetry) -> Output { RGBA layout, DmaBuf } (one-off)
//! converter.convert_to(&layout, &fds, colorimetry, Fourcc::XRGB2101010) -> the same in XR30
//! ```
//!
//! Import: with `VK_EXT_image_drm_format_modifier`, each plane is an image
//! with an explicit layout; without it (lavapipe on a kernel without
//! udmabuf), the dma-buf (or memfd) is a storage buffer read by offset and
//! stride. Export: the output is Vulkan memory exported as a dma-buf where
//! the driver can, else a memfd imported into Vulkan (see [`OutputPath`]).
//!
//! Lifetimes: [`Context`] is shared by `Arc` and every Vulkan object holds
//! one, so the device outlives its images, buffers and pipelines.

mod convert;
mod device;
mod error;
mod import;

pub use convert::{
    Converter, ConverterOptions, FrameImport, INPUT_FORMATS, ImportPath, OUTPUT_FORMAT,
    OUTPUT_FORMATS, Output, OutputBuffer, OutputPath,
};
pub use device::{Capabilities, Context, DeviceChoice, DeviceInfo, list_devices};
pub use error::{Error, Modifiers, Result};
/// The colour parameters live in the core ([`zc_dmabuf::color`]).
pub use zc_dmabuf::color::{Colorimetry, Matrix, Range};
