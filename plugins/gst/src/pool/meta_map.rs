//! Decoding into pool memory without the copy GStreamer 1.22 makes.
//!
//! avdec_* (gst-libav) maps each pool frame READWRITE for libav and keeps it
//! mapped while libav references the picture. On output, GstVideoDecoder's
//! `finish_frame` calls `gst_buffer_make_writable()` unconditionally; the
//! buffer is still referenced, so it is copied, and because the memory is
//! write-locked the copy cannot share it: every frame is deep-copied into
//! system memory (measured: 2 of 60 frames stayed in the pool).
//!
//! The GstVideoMeta on zc's pool buffers therefore maps through these
//! functions: for a buffer that belongs to a zc pool, a WRITE map takes only
//! a READ lock on the memory, so `make_writable` can make a shallow copy that
//! shares the very same dma-buf. libav still gets a writable pointer, because
//! zc's memory is mapped read-write once, when allocated, and kept mapped.
//! The CPU-access rule still holds: these functions bracket the dma-buf with
//! DMA_BUF_IOCTL_SYNC START/END for READ|WRITE around every such mapping.
//!
//! This relies on libav not writing a picture after it has output it (it
//! marks output reference pictures read-only), which is what GStreamer's own
//! vpxdec relies on when it remaps read-only to avoid the same copy.
//!
//! Memory that is not a dma-buf (memfd) needs no bracket: such a pool's
//! buffers get the same functions without it ([`install`]), which saves the
//! per-plane lookups on every map of every frame (`zc-bench --instructions`).
//!
//! The shortcut is taken only where a WRITE map would be granted anyway:
//! - a WRITE map of a buffer that is not writable (someone else holds a
//!   reference) fails, as `gst_buffer_map_range` fails it;
//! - a WRITE map of memory flagged READONLY (the allocator flags memory it
//!   could not map read-write, e.g. a read-only dma-buf) fails with an error,
//!   instead of handing out a read-only mapping to a writer;
//! - a WRITE map of memory another buffer shares (a copy a sink or the
//!   compositor still holds) asks GStreamer for a real WRITE map, which gives
//!   the writer its own copy of that memory: the holder's pixels never change.

use std::os::fd::BorrowedFd;

use gst::glib;
use gst::glib::translate::IntoGlib;
use gst::prelude::*;
use zc_dmabuf::Access;

use super::ZcBufferPool;

/// Whether `buffer` is currently held from a zc pool (copies made by
/// `make_writable` have no pool and map normally).
///
/// # Safety
/// `buffer` must point to a live GstBuffer.
unsafe fn from_zc_pool(buffer: *mut gst::ffi::GstBuffer) -> bool {
    // SAFETY: the caller guarantees a live buffer; `pool` is read once.
    let pool = unsafe { (*buffer).pool };
    // SAFETY: a non-null pool field points to a live GstBufferPool instance.
    !pool.is_null()
        && unsafe {
            glib::gobject_ffi::g_type_check_instance_is_a(
                pool as *mut glib::gobject_ffi::GTypeInstance,
                ZcBufferPool::static_type().into_glib(),
            ) != glib::ffi::GFALSE
        }
}

/// Whether maps of `buffer` bracket its dma-bufs: always on a pool of
/// dma-bufs (`BRACKET`), and on any buffer whose memories were replaced
/// while it was out of the pool (`TAG_MEMORY`: they may be dma-bufs now;
/// the pool drops such a buffer when it comes back).
///
/// # Safety
/// `buffer` must point to a live GstBuffer.
unsafe fn brackets<const BRACKET: bool>(buffer: *mut gst::ffi::GstBuffer) -> bool {
    // SAFETY: the caller guarantees a live buffer; flags are plain bits.
    BRACKET || unsafe { (*buffer).mini_object.flags } & gst::ffi::GST_BUFFER_FLAG_TAG_MEMORY != 0
}

/// Begin or end a READ|WRITE bracket on every dma-buf memory in `idx..idx+len`.
///
/// # Safety
/// `buffer` must be live and `idx..idx+len` within its memories.
unsafe fn bracket(buffer: *mut gst::ffi::GstBuffer, idx: u32, len: u32, start: bool) {
    for i in idx..idx.saturating_add(len) {
        // SAFETY: `i` is within the buffer's memories (caller's guarantee).
        let memory = unsafe { gst::ffi::gst_buffer_peek_memory(buffer, i) };
        // SAFETY: `memory` is a live memory of the buffer.
        if unsafe { gst_allocators::ffi::gst_is_dmabuf_memory(memory) } == glib::ffi::GFALSE {
            continue;
        }
        // SAFETY: a dma-buf memory owns its fd for its whole life, which
        // spans this call.
        let fd = unsafe {
            BorrowedFd::borrow_raw(gst_allocators::ffi::gst_dmabuf_memory_get_fd(memory))
        };
        let result = if start {
            zc_dmabuf::sync_start(fd, Access::ReadWrite)
        } else {
            zc_dmabuf::sync_end(fd, Access::ReadWrite)
        };
        if let Err(err) = result {
            gst::warning!(super::imp::CAT, "bracketing a decoder's mapping: {err}");
        }
    }
}

/// Whether a WRITE map of memories `idx..idx+len` of `buffer` may be
/// granted, and whether the read-lock shortcut may serve it (no other buffer
/// shares those memories). `Err` says why it may not be granted.
///
/// # Safety
/// `buffer` must be live and `idx..idx+len` within its memories.
unsafe fn write_map_check(
    buffer: *mut gst::ffi::GstBuffer,
    idx: u32,
    len: u32,
) -> Result<bool, String> {
    // SAFETY: the caller guarantees a live buffer.
    let buffer_writable =
        unsafe { gst::ffi::gst_mini_object_is_writable(buffer.cast()) } != glib::ffi::GFALSE;
    if !buffer_writable {
        return Err(
            "the buffer is not writable (another reference to it is held): \
                    make it writable first (gst_buffer_make_writable)"
                .to_owned(),
        );
    }
    let mut exclusive = true;
    for i in idx..idx.saturating_add(len) {
        // SAFETY: `i` is within the buffer's memories (caller's guarantee).
        let memory = unsafe { gst::ffi::gst_buffer_peek_memory(buffer, i) };
        // SAFETY: `memory` is a live memory of the buffer; flags are plain bits.
        let flags = unsafe { (*memory).mini_object.flags };
        if flags & gst::ffi::GST_MEMORY_FLAG_READONLY != 0 {
            return Err(format!(
                "memory {i} can only be mapped read-only (a read-only dma-buf): \
                 write into a writable copy instead"
            ));
        }
        // SAFETY: as above; a memory is writable when no other buffer shares it.
        exclusive &=
            unsafe { gst::ffi::gst_mini_object_is_writable(memory.cast()) } != glib::ffi::GFALSE;
    }
    Ok(exclusive)
}

/// Find the memories that hold `plane` (what GstVideoMeta's default map does).
///
/// # Safety
/// `meta` must point to a live GstVideoMeta attached to a live buffer.
unsafe fn plane_memory(
    meta: *mut gst_video::ffi::GstVideoMeta,
    plane: u32,
) -> Option<(u32, u32, usize)> {
    // SAFETY: the caller guarantees `meta` and its buffer are live.
    let (buffer, offset) = unsafe { ((*meta).buffer, *(*meta).offset.get(plane as usize)?) };
    let (mut idx, mut len, mut skip) = (0u32, 0u32, 0usize);
    // SAFETY: out-pointers to locals; `buffer` is live.
    let found = unsafe {
        gst::ffi::gst_buffer_find_memory(buffer, offset, 1, &mut idx, &mut len, &mut skip)
    };
    (found != glib::ffi::GFALSE).then_some((idx, len, skip))
}

/// GstVideoMeta `map` for zc pool buffers; `BRACKET`: whether the pool's
/// memories are dma-bufs, whose CPU access is bracketed.
///
/// # Safety
/// Called by GStreamer with the arguments of `GstVideoMeta::map`.
unsafe extern "C" fn map<const BRACKET: bool>(
    meta: *mut gst_video::ffi::GstVideoMeta,
    plane: u32,
    info: *mut gst::ffi::GstMapInfo,
    data: *mut glib::ffi::gpointer,
    stride: *mut i32,
    flags: gst::ffi::GstMapFlags,
) -> glib::ffi::gboolean {
    // SAFETY: GStreamer passes a live meta on a live buffer.
    let buffer = unsafe { (*meta).buffer };
    // SAFETY: as above.
    let Some((idx, len, skip)) = (unsafe { plane_memory(meta, plane) }) else {
        return glib::ffi::GFALSE;
    };
    let write = flags & gst::ffi::GST_MAP_WRITE != 0;
    // SAFETY: idx..idx+len came from gst_buffer_find_memory on this live buffer.
    let exclusive = match write.then(|| unsafe { write_map_check(buffer, idx, len) }) {
        None => true,
        Some(Ok(exclusive)) => exclusive,
        Some(Err(reason)) => {
            gst::error!(
                super::imp::CAT,
                "refusing a WRITE map of plane {plane}: {reason}"
            );
            return glib::ffi::GFALSE;
        }
    };
    // SAFETY: as above.
    let shortcut = exclusive && unsafe { from_zc_pool(buffer) };
    // SAFETY: as above.
    let bracketed = shortcut && unsafe { brackets::<BRACKET>(buffer) };
    let flags = if shortcut {
        if bracketed {
            // SAFETY: idx..idx+len came from gst_buffer_find_memory on this buffer.
            unsafe { bracket(buffer, idx, len, true) };
        }
        // Memory not flagged READONLY was mapped read-write at allocation
        // and stays mapped: the pointer a READ lock returns is writable.
        flags & !gst::ffi::GST_MAP_WRITE
    } else {
        flags
    };
    // SAFETY: `info` is GStreamer's out-parameter; the range is the buffer's.
    if unsafe { gst::ffi::gst_buffer_map_range(buffer, idx, len as i32, info, flags) }
        == glib::ffi::GFALSE
    {
        if bracketed {
            // SAFETY: ends the bracket begun above on the same range.
            unsafe { bracket(buffer, idx, len, false) };
        }
        return glib::ffi::GFALSE;
    }
    // SAFETY: out-parameters from GStreamer; `info.data` maps `len` memories
    // whose first `skip` bytes precede the plane.
    unsafe {
        *stride = (*meta).stride[plane as usize];
        *data = (*info).data.add(skip).cast();
    }
    glib::ffi::GTRUE
}

/// GstVideoMeta `unmap` for zc pool buffers, after [`map`] with the same
/// `BRACKET`.
///
/// # Safety
/// Called by GStreamer with the arguments of `GstVideoMeta::unmap`, after a
/// successful `map` of the same plane.
unsafe extern "C" fn unmap<const BRACKET: bool>(
    meta: *mut gst_video::ffi::GstVideoMeta,
    plane: u32,
    info: *mut gst::ffi::GstMapInfo,
) -> glib::ffi::gboolean {
    // SAFETY: GStreamer passes the meta and the info of a successful map.
    unsafe {
        let buffer = (*meta).buffer;
        if !brackets::<BRACKET>(buffer) {
            gst::ffi::gst_buffer_unmap(buffer, info);
            return glib::ffi::GTRUE;
        }
        // Only the shortcut maps a WRITE request without WRITE, and only the
        // shortcut brackets: a real WRITE map has the flag in its info.
        let shortcut = (*info).flags & gst::ffi::GST_MAP_WRITE == 0;
        gst::ffi::gst_buffer_unmap(buffer, info);
        // The buffer's pool does not change while one of its planes is mapped.
        if shortcut
            && from_zc_pool(buffer)
            && let Some((idx, len, _)) = plane_memory(meta, plane)
        {
            bracket(buffer, idx, len, false);
        }
    }
    glib::ffi::GTRUE
}

/// Route a pool buffer's VideoMeta through [`map`]/[`unmap`]; `dma_bufs`:
/// whether any of the buffer's memories is a dma-buf. A pool buffer keeps
/// its memories for its life (else it carries `TAG_MEMORY`, which
/// [`brackets`] honours); copies of it have no pool, and these functions
/// bracket only pool buffers.
pub(super) fn install(
    meta: &mut gst::MetaRefMut<'_, gst_video::VideoMeta, gst::meta::Standalone>,
    dma_bufs: bool,
) {
    let raw = meta.as_mut_ptr();
    // SAFETY: `raw` is the GstVideoMeta just added to a buffer we hold
    // exclusively; replacing its function pointers is what GstVideoMeta's
    // `map`/`unmap` fields are for.
    unsafe {
        if dma_bufs {
            (*raw).map = Some(map::<true>);
            (*raw).unmap = Some(unmap::<true>);
        } else {
            (*raw).map = Some(map::<false>);
            (*raw).unmap = Some(unmap::<false>);
        }
    }
}
