//! `zcvulkanconvert`'s frame path: a buffer's frame imported into Vulkan
//! (once per memory, cached on it), a free output buffer, the conversion,
//! and the child buffer that goes downstream.

use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_allocators::prelude::*;
use zc_dmabuf::{DmaBuf, FrameLayout, Modifier};
use zc_vulkan::{FrameImport, OutputBuffer};

use super::imp::{CAT, State, ZcVulkanConvert};
use crate::frame::{Frame, MemoryKind};
use crate::lock;
use crate::memory_cache::MemoryCache;

/// Each input memory carries its frame's Vulkan import, freed with it.
static IMPORTS: LazyLock<MemoryCache<FrameImport>> =
    LazyLock::new(|| MemoryCache::new("zc-vulkan-import"));

impl ZcVulkanConvert {
    /// The frame's layout and one handle (a dup) per GstMemory it uses.
    pub(super) fn frame_of(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<(FrameLayout, Vec<DmaBuf>), String> {
        if let Some(memory) = buffer
            .iter_memories()
            .find(|m| !m.is_memory_type::<gst_allocators::FdMemory>())
        {
            return Err(format!(
                "a frame arrived in {} memory, not a dma-buf or fd memory; put zcexport (or a zc pool) upstream",
                memory
                    .allocator()
                    .map(|a| a.name().to_string())
                    .unwrap_or_else(|| "system".into())
            ));
        }
        // One policy for every element: real fd sizes, full rows (a short
        // last row is refused here: the GPU gets whole frames only).
        let frame =
            Frame::from_buffer_with_modifier(buffer, info, modifier).map_err(|e| e.to_string())?;
        let mut buffers = Vec::with_capacity(frame.fds.len());
        for &fd in &frame.fds {
            // SAFETY: the buffer's memory keeps `fd` open while we borrow it
            // here; the dup below is ours.
            let owned = unsafe { BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .map_err(|e| format!("dup of the frame's fd: {e}"))?;
            let handle = if frame.kind == MemoryKind::DmaBuf {
                DmaBuf::from_fd(owned)
            } else {
                DmaBuf::from_memfd(owned)
            }
            .map_err(|e| e.to_string())?;
            buffers.push(handle);
        }
        let layout = frame.layout;
        Ok((layout, buffers))
    }

    /// Most output buffers kept for reuse: a compositor holds two or three,
    /// queues downstream a few more.
    pub(super) const MAX_OUTPUTS: usize = 8;

    /// The index of an output nobody downstream holds, making one if needed.
    pub(super) fn free_output(
        &self,
        state: &mut State,
        info: &gst_video::VideoInfo,
    ) -> Result<usize, gst::FlowError> {
        if let Some(i) = state.outputs.iter().position(|(b, _)| b.is_writable()) {
            return Ok(i);
        }
        if state.outputs.len() >= Self::MAX_OUTPUTS {
            // All in use: forget the oldest (it lives on downstream and is
            // freed when released) rather than stall the stream.
            gst::debug!(
                CAT,
                imp = self,
                "all {} outputs in use downstream; making another",
                Self::MAX_OUTPUTS
            );
            state.outputs.remove(0);
        }
        // set_caps let only output formats through, each with its fourcc.
        let fourcc = crate::caps::fourcc_for(info.format()).unwrap_or(zc_vulkan::OUTPUT_FORMAT);
        let target = state
            .converter
            .allocate_output_as(fourcc, info.width(), info.height())
            .map_err(|err| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::NoSpaceLeft,
                    ("cannot make an output buffer"),
                    ["{err}"]
                );
                gst::FlowError::Error
            })?;
        let buffer = self.wrap_output(state, &target)?;
        state.outputs.push((buffer, target));
        Ok(state.outputs.len() - 1)
    }

    /// A GstBuffer over a dup of the output's fd, with its VideoMeta.
    pub(super) fn wrap_output(
        &self,
        state: &State,
        target: &OutputBuffer,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let fail = |what: String| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::Failed,
                ("cannot wrap an output buffer"),
                ["{what}"]
            );
            gst::FlowError::Error
        };
        let handle = target
            .dmabuf()
            .try_clone()
            .map_err(|e| fail(e.to_string()))?;
        let size = handle.size() as usize;
        let is_dma_buf = handle.is_dma_buf();
        let raw = handle.into_fd().into_raw_fd();
        // SAFETY: `raw` is a dup we own and give up here; the memory takes
        // ownership and closes it when freed.
        let memory = unsafe {
            if is_dma_buf {
                state.dmabuf_allocator.alloc_dmabuf(raw, size)
            } else {
                state
                    .fd_allocator
                    .alloc_fd(raw, size, gst_allocators::FdMemoryFlags::NONE)
            }
        };
        let memory = memory.map_err(|err| {
            // SAFETY: the allocator failed before taking the fd; close it.
            drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) });
            fail(err.to_string())
        })?;
        let mut buffer = gst::Buffer::new();
        let out_mut = buffer
            .get_mut()
            .ok_or_else(|| fail("new buffer not writable".into()))?;
        out_mut.append_memory(memory);
        let layout = target.layout();
        let p = layout.planes()[0];
        let output_format = crate::caps::format_for(layout.fourcc())
            .ok_or_else(|| fail(format!("no GStreamer name for {}", layout.fourcc())))?;
        gst_video::VideoMeta::add_full(
            out_mut,
            gst_video::VideoFrameFlags::empty(),
            output_format,
            layout.width(),
            layout.height(),
            &[p.offset as usize],
            &[p.stride as i32],
        )
        .map_err(|err| fail(format!("VideoMeta: {err}")))?;
        Ok(buffer)
    }

    pub(super) fn convert(&self, inbuf: &gst::BufferRef) -> Result<gst::Buffer, gst::FlowError> {
        let mut state = lock(&self.state);
        let Some(state) = state.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("not started"));
            return Err(gst::FlowError::Flushing);
        };
        let (Some(in_info), Some(out_info)) = (state.in_info.clone(), state.out_info.clone())
        else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a buffer arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let (layout, buffers) =
            self.frame_of(inbuf, &in_info, state.in_modifier)
                .map_err(|reason| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot import the frame"),
                        ["{reason}"]
                    );
                    gst::FlowError::Error
                })?;
        let index = self.free_output(state, &out_info)?;
        let (out, target) = &mut state.outputs[index];
        let converter = &mut state.converter;
        let first_memory = inbuf.peek_memory(0);
        let import = match IMPORTS
            .get(first_memory)
            .filter(|import| import.is_import_of(converter, &layout, &buffers))
        {
            Some(import) => Ok(import),
            None => converter.import(&layout, &buffers).map(|import| {
                let import = Arc::new(import);
                self.imports.fetch_add(1, Ordering::Relaxed);
                gst::debug!(CAT, imp = self, "imported {import:?}");
                // Dropped with the memory: when its pool frees it, or a
                // re-import (new layout) replaces it.
                IMPORTS.set(first_memory, import.clone());
                import
            }),
        };
        import
            .and_then(|import| converter.convert_import_into(&import, state.colorimetry, target))
            .map_err(|err| {
                if err.is_device_lost() {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Failed,
                        ("the Vulkan device was lost"),
                        ["{err}; restart the pipeline (the device is reopened on the next start)"]
                    );
                } else {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Failed,
                        ("Vulkan conversion failed"),
                        ["{err}"]
                    );
                }
                gst::FlowError::Error
            })?;
        // Downstream gets a child buffer: the same memory and VideoMeta,
        // and a ParentBufferMeta that keeps the pooled buffer referenced
        // (so not reusable) until every holder of the child lets go.
        let mut child = gst::Buffer::new();
        {
            let child_mut = child.get_mut().ok_or(gst::FlowError::Error)?;
            out.copy_into(
                child_mut,
                gst::BufferCopyFlags::MEMORY | gst::BufferCopyFlags::META,
                ..,
            )
            .map_err(|_| gst::FlowError::Error)?;
            let _ = inbuf.copy_into(
                child_mut,
                gst::BufferCopyFlags::TIMESTAMPS | gst::BufferCopyFlags::FLAGS,
                ..,
            );
            gst::ParentBufferMeta::add(child_mut, out);
        }
        let out = child;
        let n = self.frames.fetch_add(1, Ordering::Relaxed);
        gst::trace!(
            CAT,
            imp = self,
            "frame {n} converted, {} imports alive",
            state.converter.live_imports()
        );
        Ok(out)
    }
}
