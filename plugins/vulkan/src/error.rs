//! Why a Vulkan import, conversion or export failed. Each variant carries
//! what a log reader needs to act: the format and modifier that were
//! refused and what the device offers instead.

use std::fmt;

use ash::vk;
use zc_dmabuf::{Fourcc, Modifier};

/// A list of modifiers for messages, `none` when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modifiers(pub Vec<Modifier>);

impl fmt::Display for Modifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot load the Vulkan loader (libvulkan.so.1): {0}; install a Vulkan driver (e.g. mesa-vulkan-drivers)"
    )]
    /// `ash::Entry::load` failed: no libvulkan on this system.
    Loader(String),

    #[error(
        "no Vulkan device can import dma-bufs (needs VK_KHR_external_memory_fd and VK_EXT_external_memory_dma_buf and a compute queue); devices seen: {seen}"
    )]
    NoDevice { seen: String },

    #[error("no Vulkan device matches {wanted}; devices: {seen}")]
    /// The `device` choice (index or DRM node) names no usable device.
    DeviceNotFound { wanted: String, seen: String },

    #[error("{call} failed: {result}")]
    /// A Vulkan call failed; `ERROR_DEVICE_LOST` lands here too (see [`Error::is_device_lost`]).
    Vk {
        call: &'static str,
        result: vk::Result,
    },

    #[error(
        "{fourcc} is not a format the converter takes; it takes {}",
        crate::convert::input_names()
    )]
    UnsupportedFormat { fourcc: Fourcc },

    #[error(
        "{fourcc} is not a format the converter writes; it writes {}",
        crate::convert::output_names()
    )]
    /// An output format the shaders cannot pack.
    UnsupportedOutputFormat { fourcc: Fourcc },

    #[error(
        "the device cannot import {fourcc} plane {plane} as {vk_format:?} with modifier {modifier}: {reason}; modifiers it supports for that plane format: {supported}"
    )]
    /// The layout cannot be imported on this device (format, modifier, size or plane count).
    UnsupportedLayout {
        fourcc: Fourcc,
        plane: usize,
        vk_format: vk::Format,
        modifier: Modifier,
        reason: String,
        supported: Modifiers,
    },

    #[error(
        "{fourcc} with modifier {modifier} cannot be read without VK_EXT_image_drm_format_modifier, which this device lacks; without it only LINEAR (or implicit) layouts are imported, as buffers"
    )]
    /// Buffer path asked for a tiled/compressed layout.
    ModifierNeedsExtension { fourcc: Fourcc, modifier: Modifier },

    #[error("dma-buf {buffer} ({size} bytes) cannot be imported: {reason}")]
    Import {
        buffer: usize,
        size: u64,
        reason: String,
    },

    #[error(
        "no memory type fits the import of buffer {buffer} (the dma-buf allows types {fd_types:#x}, the resource needs {required:#x})"
    )]
    NoMemoryType {
        buffer: usize,
        fd_types: u32,
        required: u32,
    },

    #[error(transparent)]
    DmaBuf(#[from] zc_dmabuf::Error),

    #[error(transparent)]
    Layout(#[from] zc_dmabuf::LayoutError),

    #[error("the output is {}x{} but the frame is {}x{}", .output.0, .output.1, .input.0, .input.1)]
    OutputSize {
        output: (u32, u32),
        input: (u32, u32),
    },

    #[error("the frame was imported by another converter; import it with this one")]
    ForeignImport,

    #[error(
        "a frame or output buffer was still in use by another device (its dma-buf fences) after {0:?}"
    )]
    ProducerTimeout(std::time::Duration),

    #[error(
        "the conversion was still running on the GPU after {0:?}; the converter is not used again \
         until it finished (a hung or overloaded device)"
    )]
    GpuTimeout(std::time::Duration),
}

impl Error {
    pub(crate) fn vk(call: &'static str) -> impl FnOnce(vk::Result) -> Error {
        move |result| Error::Vk { call, result }
    }

    /// The device is gone (GPU reset, driver crash): the context must be
    /// recreated; the element reports it as an error instead of crashing.
    pub fn is_device_lost(&self) -> bool {
        matches!(
            self,
            Error::Vk {
                result: vk::Result::ERROR_DEVICE_LOST,
                ..
            }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
