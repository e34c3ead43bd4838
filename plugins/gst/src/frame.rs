//! The frame model: a GstBuffer plus its caps (`VideoInfo`) -> one validated
//! frame (layout, modifier, fds, offsets), with one policy for every element:
//!
//! - plane offsets and strides come from the buffer's `VideoMeta`, else from
//!   the caps' default layout;
//! - a negative stride (bottom-up rows) is refused, never clamped;
//! - a plane lives in the memory its first byte falls in; memory offsets
//!   into an fd are honoured (plane offsets are made relative to the fd);
//! - fd memories are checked against the fd's real size (`fstat`/`lseek`),
//!   not the size the GstMemory claims: a memfd shorter than its memory
//!   makes whoever maps it take SIGBUS;
//! - frames handed on as fds must have a full stride for every row
//!   ([`FrameError::ShortLastRow`]): Weston and wlroots kill the connection
//!   otherwise. Such a frame can still be copied safely
//!   ([`FrameError::is_copyable`]): its data lies within its fds.
//!
//! System memory is described as one buffer (the flattened GstBuffer) with
//! no fds: it can be read or copied, never imported.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use smallvec::SmallVec;
use zc_dmabuf::{FrameLayout, LayoutError, Modifier, PlaneLayout};

use crate::caps;

mod key;
pub use key::FrameKey;
pub(crate) use key::{fd_reaches, sizes_fixed};

/// What a buffer's memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Every memory is a dma-buf.
    DmaBuf,
    /// Every memory is fd-backed (memfd, or dma-bufs mixed with those).
    Fd,
    /// Anything else: mapped and copied, never imported.
    System,
}

/// Why a buffer is not a frame zc may hand on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0:?} is not a format zc lays out")]
    UnsupportedFormat(gst_video::VideoFormat),

    #[error("the buffer has no memory")]
    NoMemory,

    #[error(
        "plane {plane} has no offset or stride (the VideoMeta has fewer planes than {format:?})"
    )]
    MissingPlane {
        plane: usize,
        format: gst_video::VideoFormat,
    },

    #[error("plane {plane} has a negative stride {stride}: bottom-up rows are not supported")]
    NegativeStride { plane: usize, stride: i32 },

    #[error("plane {plane} starts at byte {offset}, past the buffer's {size} bytes")]
    OffsetPastEnd {
        plane: usize,
        offset: u64,
        size: u64,
    },

    #[error("cannot learn the real size of fd {fd}: {source}")]
    FdSize { fd: RawFd, source: io::Error },

    #[error(
        "memory {memory} claims bytes up to {claimed} of fd {fd}, but the fd has only {real} bytes: \
         reading it would crash (SIGBUS); the producer's memory is broken"
    )]
    FdTooSmall {
        memory: usize,
        fd: RawFd,
        claimed: u64,
        real: u64,
    },

    #[error("{0}")]
    Layout(#[from] LayoutError),

    #[error("{0}")]
    ShortLastRow(LayoutError),
}

impl FrameError {
    /// Whether the frame's bytes are all there (within the real size of its
    /// fds), so a copy is safe even though it may not be handed on as is.
    pub fn is_copyable(&self) -> bool {
        matches!(self, FrameError::ShortLastRow(_))
    }
}

/// A buffer's frame as a validated layout and the fds its planes live in.
#[derive(Debug)]
pub struct Frame {
    pub kind: MemoryKind,
    /// The caps' modifier (LINEAR unless DMA_DRM caps said another). Plane offsets
    /// count from the start of each fd; for system memory, from the start
    /// of the (flattened) buffer.
    pub layout: FrameLayout,
    /// One fd per layout buffer, borrowed from the buffer's memories (valid
    /// while the buffer lives); empty for system memory.
    pub fds: PerFd<RawFd>,
    /// For each fd: the end of the region the buffer's memories cover in it
    /// (checked against the fd's real size).
    pub sizes: PerFd<u64>,
}

/// One value per fd (or plane) of a frame, kept inline: frames of several
/// memories are described on every frame, and four heap vectors a frame
/// showed in `zc-bench --instructions`.
pub type PerFd<T> = SmallVec<[T; zc_dmabuf::layout::MAX_PLANES]>;

impl Frame {
    /// Describe `buffer` as a linear frame of `info`'s format and size,
    /// under the policy above.
    pub fn from_buffer(
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
    ) -> Result<Frame, FrameError> {
        Frame::from_buffer_with_modifier(buffer, info, Modifier::LINEAR)
    }

    /// [`Frame::from_buffer`] for a frame whose caps (DMA_DRM, see
    /// [`crate::dialect`]) name a DRM modifier: the planes' offsets and
    /// strides still come from the VideoMeta, the arrangement of pixels
    /// inside them from the modifier.
    pub fn from_buffer_with_modifier(
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<Frame, FrameError> {
        let fourcc =
            caps::fourcc_for(info.format()).ok_or(FrameError::UnsupportedFormat(info.format()))?;
        // Described per frame where no [`FrameKey`] stands for it: the
        // memories, offsets and strides are read where they are, not
        // collected (zc-bench --instructions counted those allocations).
        #[cfg(test)]
        key::DESCRIBED.with(|n| n.set(n.get() + 1));
        if buffer.n_memory() == 0 {
            return Err(FrameError::NoMemory);
        }
        let kind = if buffer
            .iter_memories()
            .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>())
        {
            MemoryKind::DmaBuf
        } else if buffer
            .iter_memories()
            .all(|m| m.is_memory_type::<gst_allocators::FdMemory>())
        {
            MemoryKind::Fd
        } else {
            MemoryKind::System
        };
        let meta = buffer.meta::<gst_video::VideoMeta>();
        let (offsets, strides): (&[usize], &[i32]) = match &meta {
            Some(meta) => (meta.offset(), meta.stride()),
            None => (info.offset(), info.stride()),
        };

        let mut fds: PerFd<RawFd> = SmallVec::new();
        let mut sizes: PerFd<u64> = SmallVec::new();
        // The real size of each fd, learnt once per frame.
        let mut reals: PerFd<u64> = SmallVec::new();
        let mut planes: PerFd<PlaneLayout> = SmallVec::new();
        for plane in 0..info.n_planes() as usize {
            let missing = || FrameError::MissingPlane {
                plane,
                format: info.format(),
            };
            let offset = *offsets.get(plane).ok_or_else(missing)? as u64;
            let stride = *strides.get(plane).ok_or_else(missing)?;
            let stride =
                u32::try_from(stride).map_err(|_| FrameError::NegativeStride { plane, stride })?;
            if kind == MemoryKind::System {
                planes.push(PlaneLayout {
                    buffer: 0,
                    offset,
                    stride,
                });
                continue;
            }
            // The memory holding the plane's first byte, and where in it.
            let mut start = 0u64;
            let (index, memory, skip) = buffer
                .iter_memories()
                .enumerate()
                .find_map(|(i, m)| {
                    let size = m.size() as u64;
                    let found = (offset >= start && offset - start < size).then_some((
                        i,
                        m,
                        offset - start,
                    ));
                    start += size;
                    found
                })
                .ok_or(FrameError::OffsetPastEnd {
                    plane,
                    offset,
                    size: buffer.size() as u64,
                })?;
            let fd = memory
                .downcast_memory_ref::<gst_allocators::FdMemory>()
                .map(|m| m.fd())
                .ok_or(FrameError::NoMemory)?;
            let claimed = (memory.offset() + memory.size()) as u64;
            let slot = match fds.iter().position(|f| *f == fd) {
                Some(i) => {
                    sizes[i] = sizes[i].max(claimed);
                    i
                }
                None => {
                    // SAFETY: the memory owns `fd` and `buffer` (borrowed
                    // for this call) keeps the memory alive while we look.
                    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
                    let real = zc_dmabuf::fd_real_size(borrowed)
                        .map_err(|source| FrameError::FdSize { fd, source })?;
                    fds.push(fd);
                    sizes.push(claimed);
                    reals.push(real);
                    fds.len() - 1
                }
            };
            // The fd's real size bounds what any memory of it may claim.
            if claimed > reals[slot] {
                return Err(FrameError::FdTooSmall {
                    memory: index,
                    fd,
                    claimed,
                    real: reals[slot],
                });
            }
            planes.push(PlaneLayout {
                buffer: slot,
                offset: memory.offset() as u64 + skip,
                stride,
            });
        }
        let whole = [buffer.size() as u64];
        let buffer_sizes: &[u64] = if kind == MemoryKind::System {
            &whole
        } else {
            &sizes
        };
        let layout = FrameLayout::new(
            fourcc,
            modifier,
            info.width(),
            info.height(),
            &planes,
            buffer_sizes,
        )?;
        if kind != MemoryKind::System {
            layout.check_full_rows().map_err(FrameError::ShortLastRow)?;
        }
        Ok(Frame {
            kind,
            layout,
            fds,
            sizes,
        })
    }
}

#[cfg(test)]
mod tests;
