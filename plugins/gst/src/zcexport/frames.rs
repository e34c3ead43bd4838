//! zcexport's frame path: frames in dma-buf or zc memory passed on
//! untouched, the rest copied into the copy pool as `copy-mode` allows
//! (the frame checked against its memory first).

use gst::prelude::*;
use gst::subclass::prelude::*;
use zc_dmabuf::Modifier;

use super::imp::{CAT, ZcExport};
use super::settings::CopyMode;
use super::stats::Fate;
use crate::allocator::is_zc_memory;
use crate::frame::{Frame, FrameError};
use crate::lock;
use crate::pool::ZcBufferPool;

/// `buffer` with a VideoMeta (the layout `info` describes) if it has none:
/// readers of DMA_DRM caps take plane offsets and strides only from it.
fn with_video_meta(
    mut buffer: gst::Buffer,
    info: &gst_video::VideoInfo,
) -> Result<gst::Buffer, gst::FlowError> {
    if buffer.meta::<gst_video::VideoMeta>().is_some() {
        return Ok(buffer);
    }
    gst_video::VideoMeta::add_full(
        buffer.make_mut(),
        gst_video::VideoFrameFlags::empty(),
        info.format(),
        info.width(),
        info.height(),
        info.offset(),
        info.stride(),
    )
    .map_err(|_| gst::FlowError::Error)?;
    Ok(buffer)
}

impl ZcExport {
    pub(super) fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        match self.export(buffer) {
            Ok((out, fate)) => {
                self.counters.record(fate);
                self.srcpad.push(out)
            }
            Err(err) => {
                self.counters.record(Fate::Refused);
                Err(err)
            }
        }
    }

    /// The frame to push for `buffer` (itself, or its copy in a dma-buf)
    /// and what was done to it.
    fn export(&self, buffer: gst::Buffer) -> Result<(gst::Buffer, Fate), gst::FlowError> {
        let (info, copy_pool, modifier, dma_drm_out, pass_on) = {
            let state = lock(&self.state);
            let Some(state) = state.as_ref() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("received a buffer before caps")
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            (
                state.info.clone(),
                state.copy_pool.clone(),
                state.modifier,
                state.dma_drm_out,
                state.pass_on,
            )
        };
        if pass_on {
            return Ok((buffer, Fate::PassedOn));
        }
        let full_rows = self.validate_layout(&buffer, &info, modifier)?;

        let zero_copy = full_rows
            && buffer.n_memory() > 0
            && buffer
                .iter_memories()
                .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>() || is_zc_memory(m));
        if zero_copy {
            gst::trace!(
                CAT,
                imp = self,
                "passing {:?} through untouched",
                buffer.pts()
            );
            let buffer = if dma_drm_out {
                with_video_meta(buffer, &info)?
            } else {
                buffer
            };
            return Ok((buffer, Fate::ZeroCopy));
        }
        if modifier != Modifier::LINEAR {
            // Tiled or compressed pixels: the CPU cannot copy them as rows.
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("a frame with modifier {modifier} is not a dma-buf zcexport can pass on"),
                [
                    "{} produced it in memory that is neither a dma-buf nor zc's, and such frames cannot be copied by the CPU",
                    self.upstream_name()
                ]
            );
            return Err(gst::FlowError::Error);
        }

        self.check_copy_allowed(full_rows)?;
        let Some(pool) = copy_pool else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("no pool for copies: caps were not set up")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let out = self.copy_into_pool(&buffer, &info, &pool)?;
        let out = if dma_drm_out {
            with_video_meta(out, &info)?
        } else {
            out
        };
        Ok((out, Fate::Copied(info.size() as u64)))
    }

    /// Whether `copy-mode` lets a frame be copied: an error naming the
    /// upstream element (forbid), a warning the first time (warn). Frames
    /// lacking full rows (`full_rows` false) were warned about already.
    fn check_copy_allowed(&self, full_rows: bool) -> Result<(), gst::FlowError> {
        let mode = lock(&self.settings).copy_mode;
        let upstream = self.upstream_name();
        match mode {
            // Frames lacking full rows: warned about once already.
            CopyMode::Forbid if !full_rows => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("a frame lacks full rows and copy-mode=forbid"),
                    [
                        "{upstream} produced planes whose last row is short; set copy-mode=allow (or warn) to copy them"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            _ if !full_rows => {}
            CopyMode::Forbid => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Failed,
                    ("a frame arrived in system memory and copy-mode=forbid"),
                    [
                        "{upstream} ignored the dma-buf pool zcexport proposed and produced system memory; \
                      let it allocate from the pool, or set copy-mode=allow (or warn) to copy"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            CopyMode::Warn => {
                let first = {
                    let mut state = lock(&self.state);
                    state
                        .as_mut()
                        .map(|s| !std::mem::replace(&mut s.warned_copy, true))
                        .unwrap_or(false)
                };
                if first {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames from system memory into dma-bufs"),
                        [
                            "{upstream} ignored the dma-buf pool zcexport proposed; every frame costs a CPU copy"
                        ]
                    );
                }
            }
            CopyMode::Allow => {}
        }
        Ok(())
    }

    /// Check the frame under the plugin's frame model ([`Frame`]): refuse
    /// one whose planes or memories reach past the real end of its memory
    /// or fds (nobody may read past a buffer, least of all a GPU, and a
    /// memfd shorter than its memory claims crashes whoever maps it, so not
    /// even a copy is safe). `Ok(false)`: its bytes are all there but its
    /// planes lack full rows, so it is copied (one warning), not passed on.
    fn validate_layout(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<bool, gst::FlowError> {
        match Frame::check_with_modifier(buffer, info, modifier) {
            Ok(_) | Err(FrameError::UnsupportedFormat(_)) => Ok(true),
            Err(err) if err.is_copyable() => {
                let first = lock(&self.state)
                    .as_mut()
                    .map(|s| !std::mem::replace(&mut s.warned_rows, true))
                    .unwrap_or(false);
                if first {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames whose planes lack full rows"),
                        ["{err}; the frames came from {}", self.upstream_name()]
                    );
                }
                Ok(false)
            }
            Err(err) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    (
                        "a {}-byte buffer does not hold the frame its layout describes",
                        buffer.size()
                    ),
                    ["{err}; the frame came from {}", self.upstream_name()]
                );
                Err(gst::FlowError::Error)
            }
        }
    }

    fn copy_into_pool(
        &self,
        input: &gst::Buffer,
        info: &gst_video::VideoInfo,
        pool: &ZcBufferPool,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let mut out = pool.acquire_buffer(None).inspect_err(|err| {
            gst::element_imp_error!(
                self,
                gst::ResourceError::NoSpaceLeft,
                ("no dma-buf for a copy: {err:?}")
            );
        })?;
        {
            let out_mut = out.get_mut().ok_or(gst::FlowError::Error)?;
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot map an input frame for reading")
                    );
                    gst::FlowError::Error
                })?;
            let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out_mut, info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("cannot map a pooled dma-buf for writing")
                    );
                    gst::FlowError::Error
                })?;
            src.copy(&mut dst).map_err(|err| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ("copying a frame: {err}"));
                gst::FlowError::Error
            })?;
        }
        let out_mut = out.get_mut().ok_or(gst::FlowError::Error)?;
        out_mut.set_pts(input.pts());
        out_mut.set_dts(input.dts());
        out_mut.set_duration(input.duration());
        out_mut.set_offset(input.offset());
        out_mut.set_offset_end(input.offset_end());
        out_mut.set_flags(input.flags() & !gst::BufferFlags::TAG_MEMORY);
        Ok(out)
    }
}
