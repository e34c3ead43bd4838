//! What a one-memory buffer's frame description depends on, read without
//! describing it. A memory that comes back (a pool buffer) with the same key
//! describes the same frame, so an element that needs only the verdict
//! ([`Frame::check_with_modifier`], zcexport) or cached what it made from
//! the description (zcwaylandsink's `wl_buffer`) compares keys instead of
//! describing every frame again: `zc-bench --instructions` counted the
//! description at about 1.5k instructions a frame, the key at about 50.
//!
//! The key leaves out the memory itself: the caches it is kept in live on
//! the memory (qdata), so the memory, and with it its fd, is the same
//! object. Buffers of several memories have no key: nothing ties their
//! other memories to the cache, so they are described every time. Of what
//! the description reads, only the fd's size can change under a key (a
//! memfd shrunk by its producer): it is asked again unless it is fixed
//! ([`zc_dmabuf::fd_size_is_fixed`]). What a user of the key adds of its
//! own (the sink: the buffer's interlacing flags, its compositor
//! connection) it compares itself.

use std::os::fd::{BorrowedFd, RawFd};
use std::sync::LazyLock;

use zc_dmabuf::Modifier;
use zc_dmabuf::layout::MAX_PLANES;

use super::{Frame, FrameError};
use crate::memory_cache::MemoryCache;

#[cfg(test)]
thread_local! {
    /// How many frames this thread described: tests see the key stand for
    /// a description.
    pub(super) static DESCRIBED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The inputs of [`super::Frame::from_buffer_with_modifier`] for a buffer of
/// one memory: the caps' format, size and modifier, the plane offsets and
/// strides (the VideoMeta's, else the caps'), and the region of its fd the
/// memory covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameKey {
    format: gst_video::VideoFormat,
    width: u32,
    height: u32,
    modifier: Modifier,
    planes: usize,
    offsets: [usize; MAX_PLANES],
    strides: [i32; MAX_PLANES],
    memory_offset: usize,
    memory_size: usize,
}

impl FrameKey {
    /// The key of `buffer` under `info` and `modifier`; None for a buffer
    /// that is not exactly one memory, or whose VideoMeta (or caps) lack a
    /// plane of the format (describing it says why).
    pub fn of(
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Option<FrameKey> {
        if buffer.n_memory() != 1 {
            return None;
        }
        let memory = buffer.peek_memory(0);
        let meta = buffer.meta::<gst_video::VideoMeta>();
        let (offsets, strides): (&[usize], &[i32]) = match &meta {
            Some(meta) => (meta.offset(), meta.stride()),
            None => (info.offset(), info.stride()),
        };
        let planes = info.n_planes() as usize;
        if planes > MAX_PLANES || offsets.len() < planes || strides.len() < planes {
            return None;
        }
        let mut key = FrameKey {
            format: info.format(),
            width: info.width(),
            height: info.height(),
            modifier,
            planes,
            offsets: [0; MAX_PLANES],
            strides: [0; MAX_PLANES],
            memory_offset: memory.offset(),
            memory_size: memory.size(),
        };
        key.offsets[..planes].copy_from_slice(&offsets[..planes]);
        key.strides[..planes].copy_from_slice(&strides[..planes]);
        Some(key)
    }
}

/// A one-memory frame that was described without error: its key, and
/// whether its fd's size is fixed (else asked again each time).
struct Checked {
    key: FrameKey,
    /// The memory's fd (the memory's for its life), and the end of the
    /// region the memory covers in it.
    fd: RawFd,
    claimed: u64,
    size_fixed: bool,
}

/// Frames checked before, on their memory (any element's: the check does
/// not depend on who asks, and the key holds everything it depends on).
static CHECKED: LazyLock<MemoryCache<Checked>> =
    LazyLock::new(|| MemoryCache::new("zc-frame-checked"));

impl Frame {
    /// Whether `buffer` is a valid frame under the frame model, as
    /// [`Frame::from_buffer_with_modifier`] says, for an element that needs
    /// only the verdict: a one-memory buffer whose memory passed with the
    /// same inputs ([`FrameKey`]) is not described again, only its fd's
    /// size asked again where it can change.
    pub fn check_with_modifier(
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Result<(), FrameError> {
        // A key means one memory, which the check is kept on.
        let key = FrameKey::of(buffer, info, modifier);
        if let Some(key) = &key
            && let Some(checked) = CHECKED.get(buffer.peek_memory(0))
            && checked.key == *key
            && (checked.size_fixed || fd_reaches(checked.fd, checked.claimed))
        {
            return Ok(());
        }
        let frame = Frame::from_buffer_with_modifier(buffer, info, modifier)?;
        if let (Some(key), [fd], [claimed]) = (key, &frame.fds[..], &frame.sizes[..]) {
            CHECKED.set(
                buffer.peek_memory(0),
                std::sync::Arc::new(Checked {
                    key,
                    fd: *fd,
                    claimed: *claimed,
                    size_fixed: sizes_fixed(&frame.fds),
                }),
            );
        }
        Ok(())
    }
}

/// Whether `fd`, borrowed from a memory the caller holds, still reaches
/// `claimed` bytes (a memfd can shrink under its memory).
pub(crate) fn fd_reaches(fd: RawFd, claimed: u64) -> bool {
    // SAFETY: the caller's buffer holds the memory that owns the fd.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    zc_dmabuf::fd_real_size(fd).is_ok_and(|real| real >= claimed)
}

/// Whether every fd's size is fixed ([`zc_dmabuf::fd_size_is_fixed`]), so
/// a frame checked against them once stays within them.
pub(crate) fn sizes_fixed(fds: &[RawFd]) -> bool {
    fds.iter().all(|fd| {
        // SAFETY: the fds belong to memories of a buffer the caller holds.
        let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
        zc_dmabuf::fd_size_is_fixed(fd).unwrap_or(false)
    })
}
