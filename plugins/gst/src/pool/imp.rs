use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use zc_dmabuf::{Access, FormatInfo, FrameRequest, StrideAlign, SyncFile};

use crate::allocator::ZcDmaBufAllocator;
use crate::{caps, lock};

pub(super) static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcpool",
        gst::DebugColorFlags::empty(),
        Some("zc dma-buf video buffer pool"),
    )
});

/// How long `acquire` waits for a device still reading a recycled buffer
/// before giving up with an error (a GPU hang, not a slow frame).
const FENCE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `set_config` worked out once, for every `alloc_buffer` after it.
#[derive(Debug, Clone)]
struct Layout {
    info: gst_video::VideoInfo,
    request: FrameRequest,
    /// Bytes from a plane's start to its first visible pixel (padding top/left).
    visible_offsets: [u64; 4],
}

#[derive(Default)]
pub struct ZcBufferPool {
    allocator: Mutex<Option<ZcDmaBufAllocator>>,
    layout: Mutex<Option<Layout>>,
    fence_waits: AtomicU64,
    /// Released buffers whose memory is still shared (a decoder's output
    /// went downstream as a shallow copy of it). GstBufferPool would discard
    /// them and allocate anew; they wait here until the sharing ends.
    parked: Mutex<Vec<gst::Buffer>>,
}

impl ZcBufferPool {
    pub(super) fn set_allocator(&self, allocator: ZcDmaBufAllocator) {
        *lock(&self.allocator) = Some(allocator);
    }

    pub(super) fn allocator(&self) -> ZcDmaBufAllocator {
        lock(&self.allocator).clone().unwrap_or_default()
    }

    pub(super) fn fence_waits(&self) -> u64 {
        self.fence_waits.load(Ordering::Relaxed)
    }

    /// Caps (and the alignment the producer asks for) to a frame request.
    fn plan(&self, config: &gst::BufferPoolConfigRef) -> Result<(Layout, u32, u32), String> {
        let (caps, _size, min, max) = config.params().ok_or("the config has no parameters")?;
        let caps = caps.ok_or("the config has no caps")?;
        let info = gst_video::VideoInfo::from_caps(&caps)
            .map_err(|_| format!("caps {caps} are not raw video caps"))?;
        let fourcc = caps::fourcc_for(info.format()).ok_or_else(|| {
            format!(
                "format {} is not one zc lays out; supported: {}",
                info.format().to_str(),
                caps::supported_list()
            )
        })?;
        let format =
            FormatInfo::lookup(fourcc).ok_or("format table out of step with caps table")?;

        let with_meta = config.has_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        let alignment = config
            .has_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_ref())
            .then(|| config.video_alignment())
            .flatten();
        let (top, bottom, left, right) = alignment
            .as_ref()
            .map(|a| {
                (
                    a.padding_top(),
                    a.padding_bottom(),
                    a.padding_left(),
                    a.padding_right(),
                )
            })
            .unwrap_or_default();
        // A producer that sends a GstVideoAlignment gets exactly its stride
        // alignment (masks are "alignment - 1"): avdec, for one, refuses a
        // pool whose strides differ from libav's own and falls back to system
        // memory. Otherwise zc's 256 (what GPU importers want), or GStreamer's
        // default 4 for producers that cannot read VideoMeta strides.
        let align = match &alignment {
            Some(a) => a
                .stride_align()
                .iter()
                .map(|mask| mask.saturating_add(1))
                .max()
                .unwrap_or(1),
            None if with_meta => StrideAlign::DEFAULT.get(),
            None => 4,
        };
        // Downstream's masks: one past 2^31 has no power of two in a u32.
        let align = align
            .checked_next_power_of_two()
            .ok_or("the stride alignment asked for is too large")?;
        let align = StrideAlign::new(align).map_err(|e| e.to_string())?;

        let padded = |size: u32, a: u32, b: u32| size.checked_add(a).and_then(|s| s.checked_add(b));
        let mut width = padded(info.width(), left, right).ok_or("width plus padding overflows")?;
        if alignment.is_some() {
            width = aligned_width(format, width, align.get())
                .ok_or("width plus alignment padding overflows")?;
        }
        let mut height =
            padded(info.height(), top, bottom).ok_or("height plus padding overflows")?;
        if top > 0 || bottom > 0 {
            // Padding rows (avdec asks for 19 below the picture) are storage
            // only: round them up to whole chroma rows, so the planes sit
            // where a wl_shm buffer of that height has them (compositors
            // derive chroma offsets from height / 2) and the frame can be
            // shown from its own memfd, cropped, instead of copied.
            height = height
                .checked_next_multiple_of(format.max_v_sub())
                .ok_or("height plus padding overflows")?;
        }
        let mut request = FrameRequest::new(fourcc, width, height);
        request.align = align;
        let layout = zc_dmabuf::FrameLayout::compute(fourcc, width, height, align)
            .map_err(|e| e.to_string())?;

        let mut visible_offsets = [0u64; 4];
        for (plane, offset) in visible_offsets
            .iter_mut()
            .enumerate()
            .take(format.plane_count())
        {
            let stride = u64::from(layout.planes()[plane].stride);
            *offset = u64::from(format.plane_rows(plane, top))
                .saturating_mul(stride)
                .saturating_add(format.row_bytes(plane, left));
        }

        if !with_meta {
            // The producer will assume GStreamer's default layout: ours must match it.
            for plane in 0..format.plane_count() {
                let ours = (
                    layout.planes()[plane].offset,
                    layout.planes()[plane].stride as i32,
                );
                let theirs = (info.offset()[plane] as u64, info.stride()[plane]);
                if ours != theirs || top > 0 || left > 0 {
                    return Err(format!(
                        "the producer cannot take VideoMeta, and zc's layout of {} {}x{} differs from GStreamer's \
                         default at plane {plane} (offset/stride {ours:?} vs {theirs:?}): enable VideoMeta upstream",
                        info.format().to_str(),
                        info.width(),
                        info.height()
                    ));
                }
            }
        }
        Ok((
            Layout {
                info,
                request,
                visible_offsets,
            },
            min,
            max,
        ))
    }

    /// Hand parked buffers whose memory nobody shares any more back to the free list.
    fn unpark_writable(&self) {
        let ready: Vec<gst::Buffer> = {
            let mut parked = lock(&self.parked);
            if parked.is_empty() {
                // The usual case, on every acquire: nothing to sort.
                return;
            }
            let (ready, waiting): (Vec<_>, Vec<_>) =
                parked.drain(..).partition(|b| b.is_all_memory_writable());
            *parked = waiting;
            ready
        };
        for buffer in ready {
            self.parent_release_buffer(buffer);
        }
    }

    /// Wait until no device still uses the buffer's dma-bufs (their fences).
    fn wait_for_devices(&self, buffer: &gst::BufferRef) -> Result<(), gst::FlowError> {
        for memory in buffer.iter_memories() {
            let Some(dmabuf) = memory.downcast_memory_ref::<gst_allocators::DmaBufMemory>() else {
                continue;
            };
            // SAFETY: the memory owns this fd and is alive for this borrow.
            let fd = unsafe { BorrowedFd::borrow_raw(dmabuf.fd()) };
            let Ok(fence) = SyncFile::export(fd, Access::Write) else {
                // Kernels before 6.0 lack the export; implicit sync still holds for devices.
                continue;
            };
            if fence.is_signaled().unwrap_or(true) {
                continue;
            }
            self.fence_waits.fetch_add(1, Ordering::Relaxed);
            gst::debug!(
                CAT,
                imp = self,
                "buffer still in use by a device; waiting for its fence"
            );
            match fence.wait(Some(FENCE_TIMEOUT)) {
                Ok(true) => {}
                Ok(false) => {
                    gst::error!(
                        CAT,
                        imp = self,
                        "a device held a pooled buffer for over {FENCE_TIMEOUT:?}"
                    );
                    return Err(gst::FlowError::Error);
                }
                Err(err) => gst::warning!(CAT, imp = self, "waiting for a buffer's fence: {err}"),
            }
        }
        Ok(())
    }
}

/// The storage width GStreamer's own video pools give a frame of `width`
/// for a stride alignment (`gst_video_info_align`): grown by its lowest set
/// bit until every plane's row (rounded to 4 bytes, GStreamer's default
/// stride) is a multiple of `align`. A producer aligning its own pool the
/// same way compares strides with ours: avdec copies every frame into its
/// own pool when they differ (a 320-wide I420 frame: GStreamer's strides
/// 384/192, a plane-by-plane alignment 320/192).
fn aligned_width(format: &FormatInfo, width: u32, align: u32) -> Option<u32> {
    let aligned = |w: u32| {
        (0..format.plane_count()).all(|plane| {
            format
                .row_bytes(plane, w)
                .next_multiple_of(4)
                .is_multiple_of(u64::from(align))
        })
    };
    let mut width = width.max(1);
    while !aligned(width) {
        width = width.checked_add(1 << width.trailing_zeros())?;
    }
    Some(width)
}

#[glib::object_subclass]
impl ObjectSubclass for ZcBufferPool {
    const NAME: &'static str = "GstZcBufferPool";
    type Type = super::ZcBufferPool;
    type ParentType = gst::BufferPool;

    fn class_init(klass: &mut Self::Class) {
        // gstreamer-rs routes `reset_buffer`, which runs for every buffer
        // that comes back, through a trampoline that only chains up to
        // GstBufferPool's: 0.3k instructions a frame in `zc-bench
        // --instructions`. The pool resets nothing of its own, so
        // GstBufferPool's function is called directly (and a
        // `reset_buffer` in BufferPoolImpl below would never be called).
        //
        // SAFETY: the class struct starts with GstBufferPoolClass, and so
        // does its parent's (GstBufferPool's own, initialised before any
        // subclass); class_init runs once, before any instance exists.
        unsafe {
            let pool_class = (klass as *mut Self::Class).cast::<gst::ffi::GstBufferPoolClass>();
            let parent = glib::gobject_ffi::g_type_class_peek_parent(pool_class.cast())
                .cast::<gst::ffi::GstBufferPoolClass>();
            if !parent.is_null() {
                (*pool_class).reset_buffer = (*parent).reset_buffer;
            }
        }
    }
}

impl ObjectImpl for ZcBufferPool {}
impl GstObjectImpl for ZcBufferPool {}

impl BufferPoolImpl for ZcBufferPool {
    fn options() -> &'static [&'static str] {
        static OPTIONS: LazyLock<[&'static str; 2]> = LazyLock::new(|| {
            [
                gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_str(),
                gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_str(),
            ]
        });
        OPTIONS.as_ref()
    }

    fn set_config(&self, config: &mut gst::BufferPoolConfigRef) -> bool {
        match self.plan(config) {
            Ok((layout, min, max)) => {
                let size = match zc_dmabuf::FrameLayout::compute(
                    layout.request.fourcc,
                    layout.request.width,
                    layout.request.height,
                    layout.request.align,
                ) {
                    Ok(computed) => computed.buffer_size(),
                    Err(err) => {
                        gst::error!(CAT, imp = self, "cannot lay out the frame: {err}");
                        return false;
                    }
                };
                let Ok(size) = u32::try_from(size) else {
                    gst::error!(
                        CAT,
                        imp = self,
                        "a {size}-byte frame is too large for a buffer pool"
                    );
                    return false;
                };
                gst::info!(
                    CAT,
                    imp = self,
                    "configured {} {}x{} as {:?} ({size} bytes, {min}..{max} buffers)",
                    layout.info.format().to_str(),
                    layout.info.width(),
                    layout.info.height(),
                    layout.request
                );
                let caps = layout.info.to_caps().ok();
                config.set_params(caps.as_ref(), size, min, max);
                *lock(&self.layout) = Some(layout);
                self.parent_set_config(config)
            }
            Err(reason) => {
                gst::error!(CAT, imp = self, "refusing the pool config: {reason}");
                false
            }
        }
    }

    fn alloc_buffer(
        &self,
        _params: Option<&gst::BufferPoolAcquireParams>,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let Some(layout) = lock(&self.layout).clone() else {
            gst::error!(
                CAT,
                imp = self,
                "alloc_buffer before a successful set_config"
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        let frame = self
            .allocator()
            .allocate_frame(&layout.request)
            .map_err(|err| {
                gst::error!(
                    CAT,
                    imp = self,
                    "allocating a {:?} frame: {err}",
                    layout.request
                );
                gst::FlowError::Error
            })?;

        let mut buffer = gst::Buffer::new();
        let buffer_mut = buffer.get_mut().ok_or(gst::FlowError::Error)?;
        // VideoMeta offsets count from the start of the buffer's first memory.
        let mut memory_starts = Vec::with_capacity(frame.memories.len());
        let mut total = 0u64;
        for memory in frame.memories {
            memory_starts.push(total);
            total += memory.size() as u64;
            buffer_mut.append_memory(memory);
        }
        let planes = frame.layout.planes();
        let offsets = planes
            .iter()
            .zip(layout.visible_offsets)
            .map(|(p, visible)| {
                let start = memory_starts.get(p.buffer).copied().ok_or_else(|| {
                    gst::error!(
                        CAT,
                        imp = self,
                        "plane in buffer {} of a {}-buffer frame",
                        p.buffer,
                        memory_starts.len()
                    );
                    gst::FlowError::Error
                })?;
                usize::try_from(start + p.offset + visible).map_err(|_| gst::FlowError::Error)
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let strides: Vec<i32> = planes.iter().map(|p| p.stride as i32).collect();
        let dma_bufs = buffer_mut
            .iter_memories()
            .any(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>());
        let mut meta = gst_video::VideoMeta::add_full(
            buffer_mut,
            gst_video::VideoFrameFlags::empty(),
            layout.info.format(),
            layout.info.width(),
            layout.info.height(),
            &offsets,
            &strides,
        )
        .map_err(|err| {
            gst::error!(CAT, imp = self, "adding VideoMeta: {err}");
            gst::FlowError::Error
        })?;
        super::meta_map::install(&mut meta, dma_bufs);
        Ok(buffer)
    }

    fn release_buffer(&self, buffer: gst::Buffer) {
        if buffer.is_all_memory_writable() {
            self.parent_release_buffer(buffer);
        } else {
            gst::trace!(
                CAT,
                imp = self,
                "memory still shared downstream; parking the buffer"
            );
            lock(&self.parked).push(buffer);
        }
    }

    fn stop(&self) -> bool {
        // Parked buffers are no longer the pool's (their pool field is
        // cleared on release): dropping them frees them.
        lock(&self.parked).clear();
        self.parent_stop()
    }

    fn acquire_buffer(
        &self,
        params: Option<&gst::BufferPoolAcquireParams>,
    ) -> Result<gst::Buffer, gst::FlowError> {
        self.unpark_writable();
        let buffer = self.parent_acquire_buffer(params)?;
        self.wait_for_devices(&buffer)?;
        Ok(buffer)
    }
}
