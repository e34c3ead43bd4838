//! Frames as `wl_buffer`s: a buffer's frame described as fds and a
//! validated layout ([`FdFrame`]), its `wl_buffer` made once per memory and
//! cached on it for its life, and the producer's fence for explicit sync.

use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use gst::subclass::prelude::*;
use zc_dmabuf::{FrameLayout, Modifier};
use zc_wayland::{FrameBuffer, Interlacing, Presenter, WaylandError};

use super::imp::{CAT, ZcWaylandSink};
use crate::frame::{Frame, FrameError, FrameKey, MemoryKind, PerFd, fd_reaches, sizes_fixed};
use crate::memory_cache::KeyedMemoryCache;

/// Each memory's `wl_buffer`, made once and gone with the memory.
static WL_BUFFERS: LazyLock<KeyedMemoryCache<Cached>> =
    LazyLock::new(|| KeyedMemoryCache::new("zc-wl-buffer"));

/// Each sink's key into [`WL_BUFFERS`]: sinks behind a `tee` see the same
/// memories, and each keeps its own `wl_buffer` for them (replacing another
/// sink's would destroy a `wl_buffer` its compositor may still hold).
pub(super) struct CacheKey(u64);

impl Default for CacheKey {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        CacheKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A memory's cached `wl_buffer`, valid for one presenter and one layout.
pub(super) struct Cached {
    presenter_id: u64,
    /// The inputs the frame was described from, where a buffer's key can
    /// stand for describing it again ([`ZcWaylandSink::cached_frame`]).
    key: Option<FrameKey>,
    pub frame: FdFrame,
    /// Whether the fds' sizes are fixed (dma-bufs, sealed memfds), so the
    /// frame checked against them once stays within them.
    size_fixed: bool,
    pub buffer: Arc<FrameBuffer>,
}

impl Cached {
    /// Whether this `wl_buffer` shows `frame` on `presenter_id`'s
    /// connection: a memory can come back with another layout (a pool
    /// reconfigured) or reach another sink.
    fn shows(&self, presenter_id: u64, frame: &FdFrame) -> bool {
        self.presenter_id == presenter_id
            && self.frame.layout == frame.layout
            && self.frame.fds == frame.fds
            && self.frame.interlacing == frame.interlacing
    }

    /// Whether the fd still holds the frame: always where its size is
    /// fixed, else its real size is asked again (a memfd can shrink). A
    /// frame with a key is one memory, so one fd.
    fn still_fits(&self) -> bool {
        self.size_fixed
            || self
                .frame
                .fds
                .first()
                .is_some_and(|fd| fd_reaches(*fd, self.frame.first_size))
    }
}

/// A buffer's frame as fds and a validated layout (plane offsets relative
/// to each fd), or why it is not one.
#[derive(Clone)]
pub(super) struct FdFrame {
    pub kind: MemoryKind,
    pub layout: FrameLayout,
    pub fds: PerFd<RawFd>,
    /// Total size of the first fd's region (for wl_shm pools).
    pub first_size: u64,
    /// The dma-buf flags a compositor is told (interlaced content).
    pub interlacing: Interlacing,
}

/// Whether the frame is interlaced, and which field comes first: the
/// caps' interlace mode, the buffer's flags for mixed streams, the field
/// order from the buffer (TFF) or the caps.
pub(super) fn interlacing(buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Interlacing {
    let flags = gst_video::VideoBufferFlags::from_bits_truncate(buffer.flags().bits());
    let interlaced = match info.interlace_mode() {
        gst_video::VideoInterlaceMode::Progressive => false,
        gst_video::VideoInterlaceMode::Mixed => {
            flags.contains(gst_video::VideoBufferFlags::INTERLACED)
        }
        _ => true,
    };
    let top_first = flags.contains(gst_video::VideoBufferFlags::TFF)
        || info.field_order() == gst_video::VideoFieldOrder::TopFieldFirst;
    match (interlaced, top_first) {
        (false, _) => Interlacing::Progressive,
        (true, true) => Interlacing::TopFieldFirst,
        (true, false) => Interlacing::BottomFieldFirst,
    }
}

/// The buffer's frame under the plugin's frame model ([`Frame`]).
pub(super) fn describe_frame(
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    modifier: Modifier,
) -> Result<FdFrame, FrameError> {
    let frame = Frame::from_buffer_with_modifier(buffer, info, modifier)?;
    Ok(FdFrame {
        kind: frame.kind,
        first_size: frame.sizes.first().copied().unwrap_or(0),
        layout: frame.layout,
        fds: frame.fds,
        interlacing: interlacing(buffer, info),
    })
}

/// Whether the kernel can export a dma-buf's fences as a sync_file
/// (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`, Linux 6.0): learnt once per process.
static EXPORT_SYNC_FILE_WORKS: AtomicBool = AtomicBool::new(true);

impl ZcWaylandSink {
    /// The producer's fence for a dma-buf frame on a presenter that uses
    /// explicit sync, as a sync_file: what the compositor must wait for
    /// before reading it (pending writes). One dma-buf only: several would
    /// need their sync_files merged, and those frames keep implicit sync.
    /// None where the kernel cannot export.
    pub(super) fn acquire_fence(&self, presenter: &Presenter, frame: &FdFrame) -> Option<OwnedFd> {
        if frame.kind != MemoryKind::DmaBuf || !presenter.uses_explicit_sync() {
            return None;
        }
        let [fd] = frame.fds[..] else {
            gst::trace!(
                CAT,
                imp = self,
                "{} dma-bufs in one frame: implicit sync",
                frame.fds.len()
            );
            return None;
        };
        if !EXPORT_SYNC_FILE_WORKS.load(Ordering::Relaxed) {
            return None;
        }
        // SAFETY: the fd belongs to a memory of the frame being rendered, which
        // the caller borrows for the duration of this call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        match zc_dmabuf::SyncFile::export(fd, zc_dmabuf::Access::Read) {
            Ok(sync_file) => Some(sync_file.into_fd()),
            Err(e) => {
                EXPORT_SYNC_FILE_WORKS.store(false, Ordering::Relaxed);
                gst::warning!(
                    CAT,
                    imp = self,
                    "no acquire fences (implicit sync instead): {e}"
                );
                None
            }
        }
    }

    /// The `wl_buffer` and description cached on `buffer`'s memory when it
    /// was shown before with the same inputs ([`FrameKey`]): the frame
    /// without describing it again. None for buffers of several memories,
    /// or when anything it was made from changed.
    pub(super) fn cached_frame(
        &self,
        presenter: &Presenter,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        modifier: Modifier,
    ) -> Option<Arc<Cached>> {
        let key = FrameKey::of(buffer, info, modifier)?;
        let cached = WL_BUFFERS.get(buffer.peek_memory(0), self.cache_key.0)?;
        (cached.presenter_id == presenter.id()
            && cached.key.as_ref() == Some(&key)
            && cached.frame.interlacing == interlacing(buffer, info)
            && cached.still_fits())
        .then_some(cached)
    }

    /// `frame`'s `wl_buffer`: the one cached on the buffer's first memory
    /// where it shows this frame, else a new one (which may take a
    /// compositor round trip: the caller holds none of our locks), cached
    /// with `key` (the inputs `frame` was described from, where they stand
    /// for it).
    pub(super) fn wl_buffer_for(
        &self,
        presenter: &Presenter,
        buffer: &gst::BufferRef,
        frame: &FdFrame,
        key: Option<FrameKey>,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let memory = buffer.peek_memory(0);
        if let Some(cached) = WL_BUFFERS
            .get(memory, self.cache_key.0)
            .filter(|cached| cached.shows(presenter.id(), frame))
        {
            if key.is_some() && cached.key != key {
                // The same frame from other inputs (a VideoMeta now, say):
                // the new key stands for it from now on.
                WL_BUFFERS.set(
                    memory,
                    self.cache_key.0,
                    Arc::new(Cached {
                        presenter_id: cached.presenter_id,
                        key,
                        frame: cached.frame.clone(),
                        size_fixed: cached.size_fixed,
                        buffer: cached.buffer.clone(),
                    }),
                );
            }
            return Ok(cached.buffer.clone());
        }
        // SAFETY: the fds belong to the buffer's memories, which we borrow
        // for the duration of the import (Wayland dups them when sending).
        let fds: Vec<BorrowedFd<'_>> = frame
            .fds
            .iter()
            .map(|fd| unsafe { BorrowedFd::borrow_raw(*fd) })
            .collect();
        let wl_buffer = match frame.kind {
            MemoryKind::DmaBuf => {
                let allow_implicit = crate::lock(&self.settings).allow_implicit_modifier;
                presenter.import_dmabuf(&frame.layout, &fds, allow_implicit, frame.interlacing)?
            }
            _ => presenter.import_shm(fds[0], frame.first_size, &frame.layout)?,
        };
        gst::debug!(
            CAT,
            imp = self,
            "new {:?} wl_buffer for fds {:?}: {:?}",
            wl_buffer.kind(),
            frame.fds,
            frame.layout
        );
        self.counters.wl_buffer_created();
        let size_fixed = sizes_fixed(&frame.fds);
        WL_BUFFERS.set(
            memory,
            self.cache_key.0,
            Arc::new(Cached {
                presenter_id: presenter.id(),
                key,
                frame: frame.clone(),
                size_fixed,
                buffer: wl_buffer.clone(),
            }),
        );
        Ok(wl_buffer)
    }
}
