//! Outputs: the RGB buffers conversions write (RGBA8 or 2:10:10:10), as Vulkan memory exported as
//! a dma-buf where the driver can, else a memfd imported into Vulkan.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;

use ash::vk;
use zc_dmabuf::{Allocator, DmaBuf, FrameLayout, MemfdAllocator};

use super::Converter;
use crate::error::{Error, Result};
use crate::import::{self, OwnedBuffer};

/// How outputs are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputPath {
    /// Vulkan memory exported with `vkGetMemoryFdKHR` as a dma-buf.
    ExportedDmaBuf,
    /// A memfd imported into Vulkan: where the driver cannot export a
    /// dma-buf (lavapipe on a kernel without udmabuf).
    ImportedMemfd,
}

/// An output buffer kept for reuse: the RGBA dma-buf and the Vulkan buffer
/// over it. Dropping it releases Vulkan's side; the dma-buf lives on while
/// any fd to it (a GstMemory, a compositor) is open.
pub struct OutputBuffer {
    pub(super) layout: FrameLayout,
    pub(super) buffer: DmaBuf,
    /// Shared with the converter while a timed-out conversion into it may
    /// still run.
    pub(super) vk: Arc<OutputVk>,
}

/// An output's Vulkan side.
pub(super) struct OutputVk {
    // Destroyed before its memory (declaration order).
    pub(super) buffer: OwnedBuffer,
    pub(super) _memory: Option<import::Memory>,
}

impl std::fmt::Debug for OutputBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputBuffer")
            .field("layout", &self.layout)
            .field("buffer", &self.buffer)
            .finish()
    }
}

impl OutputBuffer {
    /// One of [`super::OUTPUT_FORMATS`] (RGBA by default), LINEAR, one
    /// buffer.
    pub fn layout(&self) -> &FrameLayout {
        &self.layout
    }

    /// The output's dma-buf (a memfd where the driver cannot export).
    pub fn dmabuf(&self) -> &DmaBuf {
        &self.buffer
    }
}

/// A converted frame: RGB (RGBA unless asked otherwise) in one buffer,
/// LINEAR.
#[derive(Debug)]
pub struct Output {
    pub layout: FrameLayout,
    pub buffer: DmaBuf,
}

impl Converter {
    /// A buffer for the RGBA result, as a dma-buf exported from Vulkan
    /// where the driver can, else a memfd imported into Vulkan.
    pub(super) fn make_output(
        &mut self,
        layout: &FrameLayout,
    ) -> Result<(OwnedBuffer, DmaBuf, Option<import::Memory>)> {
        let size = layout.buffer_size();
        if self.output_path == OutputPath::ExportedDmaBuf {
            match self.export_output(size) {
                Ok(out) => return Ok(out),
                Err(e) => {
                    log::warn!(
                        "exporting the output as a dma-buf failed ({e}); using memfd outputs from now on"
                    );
                    self.output_path = OutputPath::ImportedMemfd;
                }
            }
        }
        let memfd = MemfdAllocator.allocate_bytes(size, "zc vulkan rgba")?;
        let imported = import::import_buffer(&self.ctx, &memfd, 0)?;
        let (buffer, memory) = imported.into_parts();
        Ok((buffer, memfd, Some(memory)))
    }

    fn export_output(&self, size: u64) -> Result<(OwnedBuffer, DmaBuf, Option<import::Memory>)> {
        let ctx = &self.ctx;
        let buffer = import::create_external_buffer(ctx, size, true)?;
        // SAFETY: a buffer of this device.
        let requirements = unsafe { ctx.device.get_buffer_memory_requirements(buffer.buffer) };
        let type_index = ctx
            .memory_type(
                requirements.memory_type_bits,
                vk::MemoryPropertyFlags::DEVICE_LOCAL,
            )
            .or_else(|| {
                ctx.memory_type(
                    requirements.memory_type_bits,
                    vk::MemoryPropertyFlags::empty(),
                )
            })
            .ok_or(Error::NoMemoryType {
                buffer: 0,
                fd_types: !0,
                required: requirements.memory_type_bits,
            })?;
        let mut export = vk::ExportMemoryAllocateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        let mut dedicated = vk::MemoryDedicatedAllocateInfo::default().buffer(buffer.buffer);
        let info = vk::MemoryAllocateInfo::default()
            .allocation_size(requirements.size)
            .memory_type_index(type_index)
            .push_next(&mut export)
            .push_next(&mut dedicated);
        // SAFETY: valid allocate info whose chain lives across the call.
        let memory = unsafe { ctx.device.allocate_memory(&info, None) }
            .map_err(Error::vk("vkAllocateMemory (export)"))?;
        let memory = import::Memory::wrap(ctx, memory);
        // SAFETY: dedicated memory for this buffer, offset 0.
        unsafe {
            ctx.device
                .bind_buffer_memory(buffer.buffer, memory.memory, 0)
        }
        .map_err(Error::vk("vkBindBufferMemory"))?;
        let get = vk::MemoryGetFdInfoKHR::default()
            .memory(memory.memory)
            .handle_type(vk::ExternalMemoryHandleTypeFlags::DMA_BUF_EXT);
        // SAFETY: memory allocated exportable as DMA_BUF.
        let fd =
            unsafe { ctx.memory_fd.get_memory_fd(&get) }.map_err(Error::vk("vkGetMemoryFdKHR"))?;
        // SAFETY: vkGetMemoryFdKHR returns a new fd that the caller owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dmabuf = DmaBuf::from_fd(fd)?;
        if dmabuf.size() < size {
            return Err(Error::Import {
                buffer: 0,
                size: dmabuf.size(),
                reason: format!("exported output is smaller than {size} bytes"),
            });
        }
        Ok((buffer, dmabuf, Some(memory)))
    }
}
