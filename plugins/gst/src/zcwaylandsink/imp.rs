use std::collections::HashSet;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use gst::glib;
use gst::glib::translate::IntoGlib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use zc_dmabuf::{Fourcc, FrameLayout, FrameRequest, Modifier, PlaneLayout};
use zc_wayland::{DisplayTarget, FrameBuffer, Presenter, WaylandError, WindowTarget};

use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::pool::ZcBufferPool;
use crate::{caps, lock};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "zcwaylandsink",
        gst::DebugColorFlags::empty(),
        Some("zc Wayland dma-buf sink"),
    )
});

const DMABUF_FEATURE: &str = "memory:DMABuf";

/// The qdata key under which a memory carries its cached `wl_buffer`.
static CACHE_QUARK: LazyLock<glib::Quark> = LazyLock::new(|| glib::Quark::from_str("zc-wl-buffer"));

#[derive(Debug, Clone)]
struct Settings {
    display: Option<String>,
    fullscreen: bool,
    allow_implicit_modifier: bool,
    title: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            display: None,
            fullscreen: false,
            allow_implicit_modifier: false,
            title: "zc".to_owned(),
        }
    }
}

/// How frames reach the compositor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// The frame's own dma-buf, imported with linux-dmabuf.
    DmaBuf,
    /// The frame's own memfd, through wl_shm.
    Shm,
    /// A copy into a pooled buffer (system memory, or a refused dma-buf).
    Copy,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::DmaBuf => "dmabuf",
            Path::Shm => "shm",
            Path::Copy => "copy",
        }
    }
}

/// Negotiated per-stream state.
struct Stream {
    info: gst_video::VideoInfo,
    fourcc: Fourcc,
    /// Where copies go: memfd when wl_shm takes the format, else a dma-buf.
    upload_pool: Option<ZcBufferPool>,
    window_created: bool,
    feedback_serial: u64,
    last_path: Option<Path>,
    /// Formats the compositor refused as dma-bufs: copied from then on.
    refused: HashSet<Fourcc>,
}

#[derive(Default)]
struct Counters {
    frames_copied: AtomicU64,
    bytes_copied: AtomicU64,
}

#[derive(Default)]
pub struct ZcWaylandSink {
    settings: Mutex<Settings>,
    presenter: Mutex<Option<Arc<Presenter>>>,
    stream: Mutex<Option<Stream>>,
    counters: Counters,
}

/// A memory's cached `wl_buffer`, valid for one presenter and one layout.
struct Cached {
    presenter_id: u64,
    layout: FrameLayout,
    fds: Vec<RawFd>,
    buffer: Arc<FrameBuffer>,
}

unsafe extern "C" fn drop_cached(data: glib::ffi::gpointer) {
    // SAFETY: `data` is the `Box<Cached>` leaked by `store_cached`; GStreamer
    // calls this exactly once, when the qdata is replaced or the memory freed.
    drop(unsafe { Box::from_raw(data as *mut Cached) });
}

fn cached_buffer(
    memory: &gst::MemoryRef,
    presenter_id: u64,
    layout: &FrameLayout,
    fds: &[RawFd],
) -> Option<Arc<FrameBuffer>> {
    // SAFETY: the memory is alive (we borrow it); the qdata under our quark
    // is only ever a `Cached` set by `store_cached`, which stays valid until
    // replaced (only this element's streaming thread replaces it) or the
    // memory is freed.
    let data = unsafe {
        gst::ffi::gst_mini_object_get_qdata(
            memory.as_ptr() as *mut gst::ffi::GstMiniObject,
            CACHE_QUARK.into_glib(),
        )
    };
    if data.is_null() {
        return None;
    }
    // SAFETY: see above; a shared borrow for the duration of this call.
    let cached = unsafe { &*(data as *const Cached) };
    (cached.presenter_id == presenter_id && &cached.layout == layout && cached.fds == fds)
        .then(|| cached.buffer.clone())
}

fn store_cached(memory: &gst::MemoryRef, cached: Cached) {
    let data = Box::into_raw(Box::new(cached));
    // SAFETY: the memory is alive; GStreamer takes ownership of `data` and
    // frees it with `drop_cached` (also the previous value, if any).
    unsafe {
        gst::ffi::gst_mini_object_set_qdata(
            memory.as_ptr() as *mut gst::ffi::GstMiniObject,
            CACHE_QUARK.into_glib(),
            data.cast(),
            Some(drop_cached),
        );
    }
}

/// What a buffer's memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MemoryKind {
    DmaBuf,
    Fd,
    System,
}

/// A buffer's frame as fds and a validated layout (plane offsets relative
/// to each fd), or why it is not one.
struct FdFrame {
    kind: MemoryKind,
    layout: FrameLayout,
    fds: Vec<RawFd>,
    /// Total size of the first fd's region (for wl_shm pools).
    first_size: u64,
}

fn describe_frame(
    buffer: &gst::BufferRef,
    info: &gst_video::VideoInfo,
    fourcc: Fourcc,
) -> Result<FdFrame, String> {
    let memories: Vec<&gst::MemoryRef> = buffer.iter_memories().collect();
    let kind = if memories
        .iter()
        .all(|m| m.is_memory_type::<gst_allocators::DmaBufMemory>())
    {
        MemoryKind::DmaBuf
    } else if memories
        .iter()
        .all(|m| m.is_memory_type::<gst_allocators::FdMemory>())
    {
        MemoryKind::Fd
    } else {
        MemoryKind::System
    };
    let (offsets, strides): (Vec<usize>, Vec<i32>) = match buffer.meta::<gst_video::VideoMeta>() {
        Some(meta) => (meta.offset().to_vec(), meta.stride().to_vec()),
        None => (info.offset().to_vec(), info.stride().to_vec()),
    };
    let mut fds: Vec<RawFd> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    let mut planes = Vec::new();
    for plane in 0..info.n_planes() as usize {
        let offset = *offsets
            .get(plane)
            .ok_or("VideoMeta has fewer planes than the format")?;
        let stride = strides.get(plane).copied().unwrap_or(0);
        let stride = u32::try_from(stride)
            .map_err(|_| format!("plane {plane} has a negative stride {stride}"))?;
        // The memory holding the plane's first byte.
        let mut start = 0usize;
        let (memory, skip) = memories
            .iter()
            .find_map(|m| {
                let found =
                    (offset >= start && offset < start + m.size()).then_some((*m, offset - start));
                start += m.size();
                found
            })
            .ok_or_else(|| {
                format!(
                    "plane {plane} starts at {offset}, past the buffer's {} bytes",
                    buffer.size()
                )
            })?;
        let fd = memory
            .downcast_memory_ref::<gst_allocators::FdMemory>()
            .map(|m| m.fd())
            .unwrap_or(-1);
        let index = match fds.iter().position(|f| *f == fd) {
            Some(i) => i,
            None => {
                fds.push(fd);
                sizes.push((memory.offset() + memory.size()) as u64);
                fds.len() - 1
            }
        };
        planes.push(PlaneLayout {
            buffer: index,
            offset: (memory.offset() + skip) as u64,
            stride,
        });
    }
    let layout = FrameLayout::new(
        fourcc,
        Modifier::LINEAR,
        info.width(),
        info.height(),
        &planes,
        &sizes,
    )
    .map_err(|e| {
        format!(
            "a {}-byte buffer does not hold its frame: {e}",
            buffer.size()
        )
    })?;
    Ok(FdFrame {
        kind,
        layout,
        fds,
        first_size: sizes.first().copied().unwrap_or(0),
    })
}

/// Tells a new frame from the same buffer shown again (the preroll frame is
/// rendered twice): pool buffers are recycled objects, so the pointer alone
/// is not enough.
fn frame_id(buffer: &gst::Buffer) -> u64 {
    let pts = buffer.pts().map_or(u64::MAX, |t| t.nseconds());
    (buffer.as_ptr() as u64).rotate_left(32) ^ pts
}

impl ZcWaylandSink {
    fn presenter(&self) -> Option<Arc<Presenter>> {
        lock(&self.presenter).clone()
    }

    fn connect(&self) -> Result<(), gst::ErrorMessage> {
        let target = match lock(&self.settings).display.clone() {
            Some(name) => DisplayTarget::Name(name),
            None => DisplayTarget::Environment,
        };
        let presenter = Presenter::connect(&target).map_err(|e| match e {
            WaylandError::NoDisplay { .. } => {
                gst::error_msg!(gst::ResourceError::OpenRead, ["{e}"])
            }
            other => gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["cannot use the compositor: {other}"]
            ),
        })?;
        let caps = presenter.capabilities();
        gst::info!(
            CAT,
            imp = self,
            "connected: linux-dmabuf v{} ({} format/modifier pairs{}), {} wl_shm formats, viewporter {}, presentation {}",
            caps.dmabuf_version,
            caps.dmabuf_formats.len(),
            caps.feedback
                .as_ref()
                .map(|f| format!(
                    ", feedback with {} tranches, main device {:?}",
                    f.tranches.len(),
                    f.main_device
                ))
                .unwrap_or_default(),
            caps.shm_formats.len(),
            caps.has_viewporter,
            caps.has_presentation
        );
        *lock(&self.presenter) = Some(Arc::new(presenter));
        Ok(())
    }

    /// Caps for what the compositor takes: dma-buf formats (LINEAR, or
    /// implicit when allowed) in dma-buf memory; those and wl_shm's in system
    /// memory (copied or shown from memfds).
    fn compositor_caps(&self, presenter: &Presenter) -> gst::Caps {
        let offered = presenter.capabilities();
        let allow_implicit = lock(&self.settings).allow_implicit_modifier;
        let dmabuf: Vec<gst_video::VideoFormat> = caps::FORMATS
            .iter()
            .filter(|(_, fourcc)| {
                offered.dmabuf_formats.iter().any(|f| {
                    f.fourcc == *fourcc
                        && (f.modifier == Modifier::LINEAR
                            || allow_implicit && f.modifier == Modifier::INVALID)
                })
            })
            .map(|(format, _)| *format)
            .collect();
        let system: Vec<gst_video::VideoFormat> = caps::FORMATS
            .iter()
            .filter(|(format, fourcc)| {
                dmabuf.contains(format) || offered.shm_formats.contains(fourcc)
            })
            .map(|(format, _)| *format)
            .collect();
        let mut out = gst::Caps::new_empty();
        let max = zc_dmabuf::layout::MAX_DIMENSION as i32;
        if !dmabuf.is_empty() {
            out.merge(
                gst_video::VideoCapsBuilder::new()
                    .features([DMABUF_FEATURE])
                    .format_list(dmabuf)
                    .width_range(1..=max)
                    .height_range(1..=max)
                    .build(),
            );
        }
        if !system.is_empty() {
            out.merge(
                gst_video::VideoCapsBuilder::new()
                    .format_list(system)
                    .width_range(1..=max)
                    .height_range(1..=max)
                    .build(),
            );
        }
        out
    }

    /// The allocator to propose: on the compositor's main device when the
    /// feedback names one and GBM can allocate this frame there, else the
    /// first working backend (heap, udmabuf, then memfd for wl_shm).
    fn proposal_allocator(
        &self,
        presenter: &Presenter,
        fourcc: Fourcc,
        info: &gst_video::VideoInfo,
    ) -> ZcDmaBufAllocator {
        let offered = presenter.capabilities();
        let main_device = offered.feedback.as_ref().and_then(|f| f.main_device);
        for node in main_device
            .map(zc_wayland::drm_nodes_for)
            .unwrap_or_default()
        {
            let allocator = ZcDmaBufAllocator::new(BackendSetting::Gbm);
            allocator.set_property("drm-node", node.display().to_string());
            match allocator.allocate_frame(&FrameRequest::new(fourcc, info.width(), info.height()))
            {
                Ok(_) => {
                    gst::info!(
                        CAT,
                        imp = self,
                        "allocating on the compositor's main device ({})",
                        node.display()
                    );
                    return allocator;
                }
                Err(e) => gst::info!(
                    CAT,
                    imp = self,
                    "GBM cannot allocate {fourcc} on {}: {e}",
                    node.display()
                ),
            }
        }
        let allocator = ZcDmaBufAllocator::new(BackendSetting::Auto);
        let takes_dmabuf = offered
            .dmabuf_formats
            .iter()
            .any(|f| f.fourcc == fourcc && f.modifier == Modifier::LINEAR);
        let backend = allocator.backend().ok();
        if backend.is_some_and(|b| b != zc_dmabuf::Backend::Memfd) && !takes_dmabuf {
            // Dma-bufs the compositor cannot import would all be copied:
            // memfds go to wl_shm as they are.
            return ZcDmaBufAllocator::new(BackendSetting::Memfd);
        }
        allocator
    }

    fn make_upload_pool(
        &self,
        presenter: &Presenter,
        fourcc: Fourcc,
        info: &gst_video::VideoInfo,
    ) -> Result<ZcBufferPool, String> {
        let backend = if presenter.capabilities().shm_formats.contains(&fourcc) {
            BackendSetting::Memfd
        } else {
            BackendSetting::Auto
        };
        let pool = ZcBufferPool::new(&ZcDmaBufAllocator::new(backend));
        let mut config = pool.config();
        config.set_params(
            Some(&info.to_caps().map_err(|e| e.to_string())?),
            info.size() as u32,
            2,
            0,
        );
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        pool.set_config(config).map_err(|_| {
            "the upload pool refused the caps (see the zcpool debug category)".to_owned()
        })?;
        pool.set_active(true)
            .map_err(|e| format!("activating the upload pool: {e}"))?;
        Ok(pool)
    }

    fn copy_frame(
        &self,
        input: &gst::Buffer,
        info: &gst_video::VideoInfo,
        pool: &ZcBufferPool,
    ) -> Result<gst::Buffer, String> {
        let mut out = pool
            .acquire_buffer(None)
            .map_err(|e| format!("no buffer to copy into: {e:?}"))?;
        {
            let out_mut = out.get_mut().ok_or("a fresh pool buffer is not writable")?;
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(input.as_ref(), info)
                .map_err(|_| "cannot map the frame for reading")?;
            let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out_mut, info)
                .map_err(|_| "cannot map a pooled buffer for writing")?;
            src.copy(&mut dst)
                .map_err(|e| format!("copying the frame: {e}"))?;
        }
        self.counters.frames_copied.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_copied
            .fetch_add(info.size() as u64, Ordering::Relaxed);
        Ok(out)
    }

    /// The cached `wl_buffer` for `buffer`, or a new one.
    fn wl_buffer_for(
        &self,
        presenter: &Presenter,
        buffer: &gst::BufferRef,
        frame: &FdFrame,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let memory = buffer.peek_memory(0);
        if let Some(cached) = cached_buffer(memory, presenter.id(), &frame.layout, &frame.fds) {
            return Ok(cached);
        }
        // SAFETY: the fds belong to the buffer's memories, which we borrow
        // for the duration of the import (Wayland dups them when sending).
        let fds: Vec<BorrowedFd<'_>> = frame
            .fds
            .iter()
            .map(|fd| unsafe { BorrowedFd::borrow_raw(*fd) })
            .collect();
        let wl_buffer = match frame.kind {
            MemoryKind::DmaBuf => presenter.import_dmabuf(
                &frame.layout,
                &fds,
                lock(&self.settings).allow_implicit_modifier,
            )?,
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
        store_cached(
            memory,
            Cached {
                presenter_id: presenter.id(),
                layout: frame.layout.clone(),
                fds: frame.fds.clone(),
                buffer: wl_buffer.clone(),
            },
        );
        Ok(wl_buffer)
    }

    fn note_path(&self, stream: &mut Stream, path: Path, why: &str) {
        if stream.last_path != Some(path) {
            gst::info!(
                CAT,
                imp = self,
                "showing {} frames via {}: {why}",
                stream.fourcc,
                path.name()
            );
            stream.last_path = Some(path);
        }
    }

    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let presenter = self.presenter().ok_or_else(|| {
            gst::element_imp_error!(
                self,
                gst::CoreError::StateChange,
                ("no compositor connection")
            );
            gst::FlowError::Error
        })?;
        let mut stream_guard = lock(&self.stream);
        let Some(stream) = stream_guard.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a frame arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        if !stream.window_created {
            let settings = lock(&self.settings).clone();
            let target = WindowTarget::Toplevel {
                title: settings.title,
                fullscreen: settings.fullscreen,
            };
            presenter
                .create_window(
                    &target,
                    stream.info.width() as i32,
                    stream.info.height() as i32,
                )
                .map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::OpenWrite,
                        ("cannot create the window: {e}")
                    );
                    gst::FlowError::Error
                })?;
            stream.window_created = true;
        }
        // Feedback changed (e.g. the surface moved to a scanout-capable
        // output): ask upstream to negotiate again.
        let serial = presenter.feedback_serial();
        if serial != stream.feedback_serial {
            if stream.feedback_serial != 0 {
                gst::info!(CAT, imp = self, "dma-buf feedback changed: renegotiating");
                self.obj()
                    .sink_pad()
                    .push_event(gst::event::Reconfigure::new());
            }
            stream.feedback_serial = serial;
        }

        let info = stream.info.clone();
        let fourcc = stream.fourcc;
        let direct = describe_frame(buffer.as_ref(), &info, fourcc);
        let mut shown = buffer.clone();
        let mut wl_buffer = None;
        match &direct {
            Ok(frame) if frame.kind == MemoryKind::DmaBuf && stream.refused.contains(&fourcc) => {}
            Ok(frame) if frame.kind != MemoryKind::System => {
                match self.wl_buffer_for(&presenter, buffer.as_ref(), frame) {
                    Ok(b) => {
                        let path = if frame.kind == MemoryKind::DmaBuf {
                            Path::DmaBuf
                        } else {
                            Path::Shm
                        };
                        self.note_path(stream, path, "the frame's own memory is importable");
                        wl_buffer = Some(b);
                    }
                    Err(e @ (WaylandError::ConnectionLost(_) | WaylandError::Timeout { .. })) => {
                        gst::element_imp_error!(
                            self,
                            gst::ResourceError::Write,
                            ("the compositor went away: {e}")
                        );
                        return Err(gst::FlowError::Error);
                    }
                    Err(e) => {
                        if frame.kind == MemoryKind::DmaBuf {
                            gst::element_imp_warning!(
                                self,
                                gst::ResourceError::Write,
                                ("falling back to copies into shared memory: {e}")
                            );
                            stream.refused.insert(fourcc);
                        } else {
                            gst::debug!(CAT, imp = self, "cannot show the memfd directly: {e}");
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(reason) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("invalid frame"),
                    ["{reason}"]
                );
                return Err(gst::FlowError::Error);
            }
        }
        let wl_buffer = match wl_buffer {
            Some(b) => b,
            None => {
                if stream.upload_pool.is_none() {
                    let pool = self
                        .make_upload_pool(&presenter, fourcc, &info)
                        .map_err(|e| {
                            gst::element_imp_error!(
                                self,
                                gst::ResourceError::NoSpaceLeft,
                                ("cannot copy frames: {e}")
                            );
                            gst::FlowError::Error
                        })?;
                    stream.upload_pool = Some(pool);
                }
                let Some(pool) = stream.upload_pool.as_ref() else {
                    return Err(gst::FlowError::Error);
                };
                shown = self.copy_frame(buffer, &info, pool).map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("cannot copy a frame: {e}")
                    );
                    gst::FlowError::Error
                })?;
                let frame = describe_frame(shown.as_ref(), &info, fourcc).map_err(|e| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("invalid pooled frame"),
                        ["{e}"]
                    );
                    gst::FlowError::Error
                })?;
                self.note_path(
                    stream,
                    Path::Copy,
                    "the frame is in memory the compositor cannot import",
                );
                self.wl_buffer_for(&presenter, shown.as_ref(), &frame)
                    .map_err(|e| {
                        gst::element_imp_error!(
                            self,
                            gst::ResourceError::Write,
                            ("the compositor cannot show {fourcc} frames: {e}")
                        );
                        gst::FlowError::Error
                    })?
            }
        };
        drop(stream_guard);
        presenter
            .present(&wl_buffer, frame_id(buffer), Box::new(shown))
            .map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::Write,
                    ("the compositor went away: {e}")
                );
                gst::FlowError::Error
            })?;
        Ok(gst::FlowSuccess::Ok)
    }

    fn path_name(&self) -> &'static str {
        lock(&self.stream)
            .as_ref()
            .and_then(|s| s.last_path)
            .map_or("none", Path::name)
    }

    fn stats_structure(&self) -> gst::Structure {
        let stats = self.presenter().map(|p| p.stats()).unwrap_or_default();
        let path = self.path_name();
        gst::Structure::builder("zc-sink-stats")
            .field("frames-submitted", stats.frames_submitted)
            .field("frames-committed", stats.frames_committed)
            .field("frames-replaced", stats.frames_replaced)
            .field("frames-presented", stats.frames_presented)
            .field(
                "frames-presented-zero-copy",
                stats.frames_presented_zero_copy,
            )
            .field("frames-discarded", stats.frames_discarded)
            .field("latency-us", stats.mean_latency_us())
            .field("buffers-reused-while-held", stats.buffers_reused_while_held)
            .field(
                "frames-copied",
                self.counters.frames_copied.load(Ordering::Relaxed),
            )
            .field(
                "bytes-copied",
                self.counters.bytes_copied.load(Ordering::Relaxed),
            )
            .field("path", path)
            .build()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for ZcWaylandSink {
    const NAME: &'static str = "GstZcWaylandSink";
    type Type = super::ZcWaylandSink;
    type ParentType = gst_video::VideoSink;
}

impl ObjectImpl for ZcWaylandSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            let counter = |name: &'static str, nick: &'static str, blurb: &'static str| {
                glib::ParamSpecUInt64::builder(name)
                    .nick(nick)
                    .blurb(blurb)
                    .read_only()
                    .build()
            };
            vec![
                glib::ParamSpecString::builder("display")
                    .nick("Display")
                    .blurb("Wayland display to connect to: a name under $XDG_RUNTIME_DIR or an absolute socket path; unset uses $WAYLAND_DISPLAY (default wayland-0)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("fullscreen")
                    .nick("Fullscreen")
                    .blurb("Ask the compositor to show the window fullscreen (the video keeps its aspect ratio, with black bars)")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("allow-implicit-modifier")
                    .nick("Allow implicit modifier")
                    .blurb("Accept dma-bufs with DRM_FORMAT_MOD_INVALID, whose layout only the driver knows; refused by default because the compositor may read them with the wrong layout")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("title")
                    .nick("Title")
                    .blurb("Window title")
                    .default_value(Some("zc"))
                    .mutable_ready()
                    .build(),
                counter("frames-presented", "Frames presented", "Frames the compositor reports as shown (wp_presentation)"),
                counter("frames-discarded", "Frames discarded", "Frames the compositor reports as never shown (wp_presentation)"),
                counter("latency-us", "Latency (us)", "Mean time from commit to presentation, in microseconds"),
                counter("frames-copied", "Frames copied", "Frames copied because the compositor could not import their memory"),
                counter("bytes-copied", "Bytes copied", "Bytes the CPU copied for those frames"),
                glib::ParamSpecString::builder("path")
                    .nick("Path")
                    .blurb("How the last frame reached the compositor: dmabuf (its own dma-buf), shm (its own memfd, through wl_shm), copy (copied into a pooled buffer), or none yet")
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "display" => settings.display = value.get().ok().flatten(),
            "fullscreen" => settings.fullscreen = value.get().unwrap_or(false),
            "allow-implicit-modifier" => {
                settings.allow_implicit_modifier = value.get().unwrap_or(false)
            }
            "title" => {
                settings.title = value
                    .get::<Option<String>>()
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "zc".to_owned())
            }
            other => gst::warning!(CAT, imp = self, "no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let stats = || self.presenter().map(|p| p.stats()).unwrap_or_default();
        match pspec.name() {
            "display" => lock(&self.settings).display.to_value(),
            "fullscreen" => lock(&self.settings).fullscreen.to_value(),
            "allow-implicit-modifier" => lock(&self.settings).allow_implicit_modifier.to_value(),
            "title" => lock(&self.settings).title.to_value(),
            "frames-presented" => stats().frames_presented.to_value(),
            "frames-discarded" => stats().frames_discarded.to_value(),
            "latency-us" => stats().mean_latency_us().to_value(),
            "frames-copied" => self
                .counters
                .frames_copied
                .load(Ordering::Relaxed)
                .to_value(),
            "bytes-copied" => self
                .counters
                .bytes_copied
                .load(Ordering::Relaxed)
                .to_value(),
            "path" => self.path_name().to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for ZcWaylandSink {}

impl ElementImpl for ZcWaylandSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "zc Wayland dma-buf sink",
                "Sink/Video",
                "Shows video on a Wayland compositor by importing dma-buf frames (linux-dmabuf v3-v5), \
                 falling back to wl_shm, with presentation feedback",
                "zc developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let mut caps = caps::raw_caps(Some(DMABUF_FEATURE));
            caps.merge(caps::raw_caps(None));
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid sink template"), // ok: static caps
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::NullToReady
            && let Err(message) = self.connect()
        {
            self.post_error_message(message);
            return Err(gst::StateChangeError);
        }
        let result = self.parent_change_state(transition)?;
        match transition {
            gst::StateChange::PausedToReady => {
                if let Some(pool) = lock(&self.stream).take().and_then(|s| s.upload_pool) {
                    let _ = pool.set_active(false);
                }
            }
            gst::StateChange::ReadyToNull => {
                // Dropping the presenter closes the window and the connection
                // and gives back every frame the compositor still held.
                *lock(&self.presenter) = None;
            }
            _ => {}
        }
        Ok(result)
    }
}

impl BaseSinkImpl for ZcWaylandSink {
    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        let caps = match self.presenter() {
            Some(presenter) => self.compositor_caps(&presenter),
            None => self.obj().sink_pad().pad_template_caps(),
        };
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let fail = |reason: String| {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("cannot show {caps}: {reason}")
            );
            gst::loggable_error!(CAT, "{reason}")
        };
        let structure = caps
            .structure(0)
            .ok_or_else(|| fail("empty caps".to_owned()))?;
        let (width, height) = (
            structure.get::<i32>("width").unwrap_or(0),
            structure.get::<i32>("height").unwrap_or(0),
        );
        if width <= 0 || height <= 0 {
            return Err(fail(format!(
                "the frame size {width}x{height} is empty; width and height must be at least 1"
            )));
        }
        let max = zc_dmabuf::layout::MAX_DIMENSION as i32;
        if width > max || height > max {
            return Err(fail(format!(
                "{width}x{height} is larger than the {max}x{max} a compositor texture can be"
            )));
        }
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| fail("not raw video caps".to_owned()))?;
        let fourcc = caps::fourcc_for(info.format()).ok_or_else(|| {
            fail(format!(
                "format {} is not supported; zcwaylandsink takes {}",
                info.format().to_str(),
                caps::supported_list()
            ))
        })?;
        let presenter = self
            .presenter()
            .ok_or_else(|| fail("no compositor connection".to_owned()))?;
        if !self.compositor_caps(&presenter).can_intersect(caps) {
            return Err(fail(format!(
                "the compositor does not offer {}; it takes {}",
                info.format().to_str(),
                self.compositor_caps(&presenter)
            )));
        }
        let mut stream = lock(&self.stream);
        let window_created = stream.as_ref().is_some_and(|s| s.window_created);
        if let Some(pool) = stream.take().and_then(|s| s.upload_pool) {
            let _ = pool.set_active(false);
        }
        if window_created && let Err(e) = presenter.set_video_size(width, height) {
            return Err(fail(format!("resizing the window: {e}")));
        }
        gst::info!(CAT, imp = self, "showing {caps}");
        *stream = Some(Stream {
            info,
            fourcc,
            upload_pool: None,
            window_created,
            feedback_serial: 0,
            last_path: None,
            refused: HashSet::new(),
        });
        Ok(())
    }

    fn propose_allocation(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        let (Some(caps), _need_pool) = query.get_owned() else {
            return Err(gst::loggable_error!(CAT, "allocation query without caps"));
        };
        let info = gst_video::VideoInfo::from_caps(&caps)
            .map_err(|_| gst::loggable_error!(CAT, "{caps} are not raw video caps"))?;
        let fourcc = caps::fourcc_for(info.format()).ok_or_else(|| {
            gst::loggable_error!(CAT, "no zc layout for {}", info.format().to_str())
        })?;
        let presenter = self
            .presenter()
            .ok_or_else(|| gst::loggable_error!(CAT, "no compositor connection"))?;
        let allocator = self.proposal_allocator(&presenter, fourcc, &info);
        let pool = ZcBufferPool::new(&allocator);
        let mut config = pool.config();
        let mut plain = caps.clone();
        plain.make_mut().set_features_simple(None);
        config.set_params(Some(&plain), info.size() as u32, 2, 0);
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        pool.set_config(config)
            .map_err(|_| gst::loggable_error!(CAT, "zc pool refused {caps} (see zcpool)"))?;
        let size = pool
            .config()
            .params()
            .map(|(_, size, _, _)| size)
            .unwrap_or(info.size() as u32);
        // max 0: the compositor holds frames for a while, and libav drops
        // pools that cap their buffers.
        query.add_allocation_pool(Some(&pool), size, 2, 0);
        query.add_allocation_param(Some(&allocator), gst::AllocationParams::default());
        query.add_allocation_meta::<gst_video::VideoMeta>(None);
        gst::debug!(
            CAT,
            imp = self,
            "proposed a zc pool ({:?}) for {caps}",
            allocator.backend().ok()
        );
        Ok(())
    }

    fn event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            if let Some(presenter) = self.presenter() {
                // Let the last frames reach the screen before counting.
                presenter.wait_idle(std::time::Duration::from_secs(2));
            }
            let stats = self.stats_structure();
            gst::info!(CAT, imp = self, "{stats}");
            let _ = self.obj().post_message(
                gst::message::Element::builder(stats)
                    .src(&*self.obj())
                    .build(),
            );
        }
        self.parent_event(event)
    }
}

impl VideoSinkImpl for ZcWaylandSink {
    fn show_frame(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.render(buffer)
    }
}
