use std::collections::HashSet;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use zc_dmabuf::{Fourcc, FrameLayout, FrameRequest, Modifier};
use zc_wayland::{
    CONNECT_TIMEOUT, DisplayTarget, FrameBuffer, Interlacing, Presenter, WaylandError, WindowTarget,
};

use crate::allocator::{BackendSetting, ZcDmaBufAllocator};
use crate::dialect::{self, Dialect, DrmFormat};
use crate::frame::{Frame, FrameError, MemoryKind};
use crate::main_device;
use crate::memory_cache::KeyedMemoryCache;
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

/// The GstContext type that carries an application's `struct wl_display *`
/// (field "display", a G_TYPE_POINTER), as GStreamer's `waylandsink` takes it.
const DISPLAY_CONTEXT: &str = "GstWaylandDisplayHandleContextType";
/// The same context under the name GStreamer 1.22's libgstwayland gives it
/// (`gst_wl_display_handle_context_new`); later releases accept both.
const DISPLAY_CONTEXT_1_22: &str = "GstWlDisplayHandleContextType";
const DISPLAY_CONTEXT_TYPES: [&str; 2] = [DISPLAY_CONTEXT, DISPLAY_CONTEXT_1_22];

/// Largest render rectangle side: no output is larger, so a bigger one is a
/// caller's mistake (an uninitialised size, a unit mix-up).
const MAX_RECTANGLE: i32 = zc_dmabuf::layout::MAX_DIMENSION as i32;

/// Each memory's `wl_buffer`, made once and gone with the memory.
static WL_BUFFERS: LazyLock<KeyedMemoryCache<Cached>> =
    LazyLock::new(|| KeyedMemoryCache::new("zc-wl-buffer"));

/// Each sink's key into [`WL_BUFFERS`]: sinks behind a `tee` see the same
/// memories, and each keeps its own `wl_buffer` for them (replacing another
/// sink's would destroy a `wl_buffer` its compositor may still hold).
struct CacheKey(u64);

impl Default for CacheKey {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        CacheKey(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Where an embedded video goes in the application's surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RenderRectangle {
    x: i32,
    y: i32,
    /// 0 (with `height` 0): the video's own size.
    width: i32,
    height: i32,
}

impl RenderRectangle {
    /// Without one: the surface's top-left corner, at the video's own size.
    const DEFAULT: RenderRectangle = RenderRectangle {
        x: 0,
        y: 0,
        width: 0,
        height: 0,
    };

    /// GstVideoOverlay's arguments, checked: a size of -1 x -1 means the
    /// default, anything else must be 1..=MAX_RECTANGLE on both sides.
    fn new(x: i32, y: i32, width: i32, height: i32) -> Result<RenderRectangle, String> {
        if (width, height) == (-1, -1) {
            return Ok(RenderRectangle {
                x,
                y,
                ..RenderRectangle::DEFAULT
            });
        }
        if !(1..=MAX_RECTANGLE).contains(&width) || !(1..=MAX_RECTANGLE).contains(&height) {
            return Err(format!(
                "a {width}x{height} render rectangle is refused: width and height must be \
                 1 to {MAX_RECTANGLE} (or both -1 for the video's own size)"
            ));
        }
        Ok(RenderRectangle {
            x,
            y,
            width,
            height,
        })
    }

    /// As the `render-rectangle` property shows it (-1 x -1: the default size).
    fn to_array(self) -> gst::Array {
        let (width, height) = if self.width == 0 {
            (-1, -1)
        } else {
            (self.width, self.height)
        };
        gst::Array::new([self.x, self.y, width, height])
    }
}

#[derive(Debug, Clone)]
struct Settings {
    display: Option<String>,
    connect_timeout_ms: u32,
    fullscreen: bool,
    allow_implicit_modifier: bool,
    explicit_sync: bool,
    path_preference: PathPreference,
    title: String,
    render_rectangle: RenderRectangle,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            display: None,
            connect_timeout_ms: CONNECT_TIMEOUT.as_millis() as u32,
            fullscreen: false,
            allow_implicit_modifier: false,
            explicit_sync: true,
            path_preference: PathPreference::Auto,
            title: "zc".to_owned(),
            render_rectangle: RenderRectangle::DEFAULT,
        }
    }
}

/// What the application handed over through GstContext and GstVideoOverlay.
/// Both outlive a run: like GStreamer's `waylandsink`, the sink keeps them
/// from NULL to NULL, so a restarted pipeline does not ask again.
#[derive(Debug, Default)]
struct Embedding {
    /// The application's `struct wl_display *`.
    display: Option<usize>,
    /// The application's `struct wl_surface *` to embed the video in.
    window_handle: Option<usize>,
}

/// The `path-preference` property: which way frames may reach the
/// compositor (the player and the benchmark choose; `path` reports).
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstZcWaylandSinkPathPreference")]
pub enum PathPreference {
    #[default]
    #[enum_value(
        name = "Auto: the frame's own dma-buf, else its own memfd through wl_shm, else a copy",
        nick = "auto"
    )]
    Auto,
    #[enum_value(
        name = "dma-buf only: caps and pool are dma-buf ones, other frames are copied into dma-bufs, and a format or buffer the compositor cannot import is an error",
        nick = "dmabuf"
    )]
    DmaBuf,
    #[enum_value(
        name = "wl_shm only: the memfd pool is proposed and frames go through wl_shm even where dma-buf works; dma-buf frames are copied",
        nick = "shm"
    )]
    Shm,
    #[enum_value(
        name = "Copy: no pool is proposed and every frame is copied (the comparison path)",
        nick = "copy"
    )]
    Copy,
}

impl PathPreference {
    fn nick(self) -> &'static str {
        match self {
            PathPreference::Auto => "auto",
            PathPreference::DmaBuf => "dmabuf",
            PathPreference::Shm => "shm",
            PathPreference::Copy => "copy",
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
    /// From DMA_DRM caps; LINEAR otherwise. Frames with another modifier
    /// are only ever imported, never read by the CPU.
    modifier: Modifier,
    path_preference: PathPreference,
    /// Where copies go: memfd when wl_shm takes the format, else a dma-buf.
    upload_pool: Option<ZcBufferPool>,
    feedback_serial: u64,
    last_path: Option<Path>,
    /// Formats the compositor refused as dma-bufs: copied from then on.
    refused: HashSet<Fourcc>,
    /// Whether a frame that could only be copied (short last row) was
    /// warned about: once per stream.
    warned_copyable: bool,
}

/// Whether the kernel can export a dma-buf's fences as a sync_file
/// (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`, Linux 6.0): learnt once per process.
static EXPORT_SYNC_FILE_WORKS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(true);

/// The producer's fence for a dma-buf frame, as a sync_file: what the
/// compositor must wait for before reading it (pending writes). One
/// dma-buf only: several would need their sync_files merged, and those
/// frames keep implicit sync. None where the kernel cannot export.
fn acquire_fence(imp: &ZcWaylandSink, fds: &[RawFd]) -> Option<std::os::fd::OwnedFd> {
    let [fd] = fds else {
        gst::trace!(
            CAT,
            imp = imp,
            "{} dma-bufs in one frame: implicit sync",
            fds.len()
        );
        return None;
    };
    if !EXPORT_SYNC_FILE_WORKS.load(Ordering::Relaxed) {
        return None;
    }
    // SAFETY: the fd belongs to a memory of the frame being rendered, which
    // the caller borrows for the duration of this call.
    let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
    match zc_dmabuf::SyncFile::export(fd, zc_dmabuf::Access::Read) {
        Ok(sync_file) => Some(sync_file.into_fd()),
        Err(e) => {
            EXPORT_SYNC_FILE_WORKS.store(false, Ordering::Relaxed);
            gst::warning!(
                CAT,
                imp = imp,
                "no acquire fences (implicit sync instead): {e}"
            );
            None
        }
    }
}

#[derive(Default)]
struct Counters {
    frames_copied: AtomicU64,
    bytes_copied: AtomicU64,
    wl_buffers_created: AtomicU64,
}

#[derive(Default)]
pub struct ZcWaylandSink {
    settings: Mutex<Settings>,
    embedding: Mutex<Embedding>,
    presenter: Mutex<Option<Arc<Presenter>>>,
    stream: Mutex<Option<Stream>>,
    counters: Counters,
    cache_key: CacheKey,
    /// DMA_DRM caps already refused with a warning (once each).
    refused_caps: Mutex<HashSet<String>>,
}

/// A memory's cached `wl_buffer`, valid for one presenter and one layout.
struct Cached {
    presenter_id: u64,
    layout: FrameLayout,
    fds: Vec<RawFd>,
    interlacing: Interlacing,
    buffer: Arc<FrameBuffer>,
}

impl Cached {
    /// Whether this `wl_buffer` shows `frame` on `presenter_id`'s
    /// connection: a memory can come back with another layout (a pool
    /// reconfigured) or reach another sink.
    fn shows(&self, presenter_id: u64, frame: &FdFrame) -> bool {
        self.presenter_id == presenter_id
            && self.layout == frame.layout
            && self.fds == frame.fds
            && self.interlacing == frame.interlacing
    }
}

/// A buffer's frame as fds and a validated layout (plane offsets relative
/// to each fd), or why it is not one.
struct FdFrame {
    kind: MemoryKind,
    layout: FrameLayout,
    fds: Vec<RawFd>,
    /// Total size of the first fd's region (for wl_shm pools).
    first_size: u64,
    /// The dma-buf flags a compositor is told (interlaced content).
    interlacing: Interlacing,
}

/// Whether the frame is interlaced, and which field comes first: the
/// caps' interlace mode, the buffer's flags for mixed streams, the field
/// order from the buffer (TFF) or the caps.
fn interlacing(buffer: &gst::BufferRef, info: &gst_video::VideoInfo) -> Interlacing {
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
fn describe_frame(
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

fn describe_formats(formats: &std::collections::BTreeSet<zc_wayland::FormatModifier>) -> String {
    if formats.is_empty() {
        return "nothing (no linux-dmabuf)".to_owned();
    }
    formats
        .iter()
        .map(|f| format!("{}:{}", f.fourcc, f.modifier))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a frame in `kind` memory may be shown as it is (no copy).
fn shown_as_is(preference: PathPreference, kind: MemoryKind) -> bool {
    !matches!(
        (preference, kind),
        (_, MemoryKind::System)
            | (PathPreference::Copy, _)
            | (PathPreference::Shm, MemoryKind::DmaBuf)
            | (PathPreference::DmaBuf, MemoryKind::Fd)
    )
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
        if lock(&self.embedding).display.is_none() {
            self.ask_for_display();
        }
        let target = match lock(&self.embedding).display {
            Some(display) => DisplayTarget::Foreign(display),
            None => match lock(&self.settings).display.clone() {
                Some(name) => DisplayTarget::Name(name),
                None => DisplayTarget::Environment,
            },
        };
        let timeout = Duration::from_millis(lock(&self.settings).connect_timeout_ms.into());
        let presenter = Presenter::connect_within(&target, timeout).map_err(|e| match e {
            WaylandError::NoDisplay { .. } | WaylandError::ConnectTimeout { .. } => {
                gst::error_msg!(gst::ResourceError::OpenRead, ["{e}"])
            }
            other => gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["cannot use the compositor: {other}"]
            ),
        })?;
        if !presenter.owns_display() {
            gst::info!(
                CAT,
                imp = self,
                "using the application's wl_display {:#x}",
                presenter.display_ptr()
            );
        }
        let caps = presenter.capabilities();
        gst::info!(
            CAT,
            imp = self,
            "connected: linux-dmabuf v{} ({} format/modifier pairs{}), {} wl_shm formats, viewporter {}, presentation {}, explicit sync v{}",
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
            caps.has_presentation,
            caps.explicit_sync_version
        );
        *lock(&self.presenter) = Some(Arc::new(presenter));
        Ok(())
    }

    /// Ask for an application's display the way GStreamer's `waylandsink`
    /// does: a context query upstream, then a need-context message, which
    /// the application answers from a sync bus handler with
    /// `gst_element_set_context` (or a bin holding such a context answers).
    /// Both context type names are asked for, the current one first.
    fn ask_for_display(&self) {
        let obj = self.obj();
        for context_type in DISPLAY_CONTEXT_TYPES {
            let mut query = gst::query::Context::new(context_type);
            if obj.sink_pad().peer_query(&mut query)
                && let Some(context) = query.context_owned()
            {
                self.take_display_context(&context);
            }
            if lock(&self.embedding).display.is_some() {
                return;
            }
            gst::debug!(CAT, imp = self, "posting need-context {context_type}");
            let _ = obj.post_message(
                gst::message::NeedContext::builder(context_type)
                    .src(&*obj)
                    .build(),
            );
            if lock(&self.embedding).display.is_some() {
                return;
            }
        }
        gst::debug!(
            CAT,
            imp = self,
            "no application display: connecting our own"
        );
    }

    /// Keep the `wl_display *` of a display context; false when `context`
    /// is not one.
    fn take_display_context(&self, context: &gst::ContextRef) -> bool {
        let context_type = context.context_type();
        if !DISPLAY_CONTEXT_TYPES.contains(&context_type) {
            return false;
        }
        let structure = context.structure();
        // "display" since GStreamer 1.22, "handle" before.
        let display = ["display", "handle"]
            .iter()
            .find_map(|field| structure.get::<glib::Pointer>(*field).ok())
            .filter(|pointer| !pointer.is_null());
        let Some(display) = display else {
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("ignoring a {context_type} context without a display"),
                [
                    "it should carry the wl_display pointer in a G_TYPE_POINTER field \"display\": {structure}"
                ]
            );
            return true;
        };
        let display = display as usize;
        if let Some(presenter) = self.presenter()
            && presenter.display_ptr() != display
        {
            gst::warning!(
                CAT,
                imp = self,
                "a new display {display:#x} takes effect after the sink went back to NULL"
            );
        }
        gst::debug!(
            CAT,
            imp = self,
            "display {display:#x} from a {context_type} context"
        );
        lock(&self.embedding).display = Some(display);
        true
    }

    /// A display context for `context_type` with the display in use.
    fn display_context(&self, context_type: &str) -> Option<gst::Context> {
        let display = self.presenter()?.display_ptr() as glib::Pointer;
        let mut context = gst::Context::new(context_type, true);
        {
            let context = context.get_mut()?;
            let structure = context.structure_mut();
            // SAFETY: a G_TYPE_POINTER value holds a plain address and no
            // thread-bound data; moving it between threads is harmless.
            structure.set_value("display", unsafe {
                glib::Value::from(display).into_send_value()
            });
        }
        Some(context)
    }

    /// Create the window on the first frame: embedded in the application's
    /// surface when it gave one (asked with prepare-window-handle, as every
    /// GstVideoOverlay sink does), else a toplevel of our own.
    fn create_window(&self, presenter: &Presenter) -> Result<(), gst::FlowError> {
        let Some((width, height)) = lock(&self.stream)
            .as_ref()
            .map(|s| (s.info.width() as i32, s.info.height() as i32))
        else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a frame arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        if lock(&self.embedding).window_handle.is_none() {
            // The application may answer from its sync bus handler, on this
            // thread, with set_window_handle and set_render_rectangle: no
            // lock of ours is held here.
            self.obj().prepare_window_handle();
        }
        let window_handle = lock(&self.embedding).window_handle;
        let settings = lock(&self.settings).clone();
        let target = match window_handle {
            Some(_) if presenter.owns_display() => {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::OpenReadWrite,
                    ("the application gave a window handle but not its Wayland display"),
                    [
                        "a wl_surface can only be used on its own display: share the wl_display \
                         through a GstContext of type {DISPLAY_CONTEXT} with a G_TYPE_POINTER field \
                         \"display\" (gst_element_set_context, or in answer to need-context)"
                    ]
                );
                return Err(gst::FlowError::Error);
            }
            Some(parent_surface) => {
                let r = settings.render_rectangle;
                WindowTarget::Embedded {
                    parent_surface,
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                }
            }
            None => WindowTarget::Toplevel {
                title: settings.title,
                fullscreen: settings.fullscreen,
            },
        };
        presenter.set_explicit_sync(settings.explicit_sync);
        presenter
            .create_window(&target, width, height)
            .map_err(|e| {
                gst::element_imp_error!(
                    self,
                    gst::ResourceError::OpenWrite,
                    ("cannot create the window: {e}")
                );
                gst::FlowError::Error
            })?;
        if let WindowTarget::Embedded {
            parent_surface,
            x,
            y,
            width,
            height,
        } = target
        {
            gst::info!(
                CAT,
                imp = self,
                "embedded in the application's wl_surface {parent_surface:#x} at ({x}, {y}) size {width}x{height} (0: the video's)"
            );
            // A rectangle set while the window was being made.
            let now = lock(&self.settings).render_rectangle;
            if now != settings.render_rectangle {
                self.apply_render_rectangle(presenter, now);
            }
        }
        Ok(())
    }

    fn apply_render_rectangle(&self, presenter: &Presenter, r: RenderRectangle) {
        if let Err(e) = presenter.set_render_rectangle(r.x, r.y, r.width, r.height) {
            gst::warning!(CAT, imp = self, "cannot move the video: {e}");
        }
    }

    /// GstVideoOverlay::set_window_handle: the application's `wl_surface *`.
    fn set_window_handle(&self, handle: usize) {
        let mut embedding = lock(&self.embedding);
        if self.presenter().is_some_and(|p| p.has_window())
            && embedding.window_handle != Some(handle)
        {
            gst::warning!(
                CAT,
                imp = self,
                "changing the window handle while showing video is not supported; \
                 it takes effect after the sink went back to READY"
            );
        }
        gst::debug!(CAT, imp = self, "window handle {handle:#x}");
        embedding.window_handle = (handle != 0).then_some(handle);
    }

    /// GstVideoOverlay::set_render_rectangle, and the `render-rectangle`
    /// property: takes effect at once, also while paused.
    fn set_render_rectangle(&self, x: i32, y: i32, width: i32, height: i32) {
        let rectangle = match RenderRectangle::new(x, y, width, height) {
            Ok(r) => r,
            Err(reason) => {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Settings,
                    ("render rectangle ignored"),
                    ["{reason}"]
                );
                return;
            }
        };
        gst::debug!(CAT, imp = self, "render rectangle {rectangle:?}");
        lock(&self.settings).render_rectangle = rectangle;
        if let Some(presenter) = self.presenter() {
            self.apply_render_rectangle(&presenter, rectangle);
        }
    }

    /// GstVideoOverlay::expose: show the current frame again.
    fn expose(&self) {
        if let Some(presenter) = self.presenter()
            && let Err(e) = presenter.expose()
        {
            gst::warning!(CAT, imp = self, "cannot redraw: {e}");
        }
    }

    /// Say once per caps why fixed DMA_DRM caps were refused (a modifier
    /// or format the compositor does not import): upstream only sees
    /// not-negotiated, which names neither.
    fn explain_refusal(&self, caps: &gst::CapsRef) {
        let Some(presenter) = self.presenter() else {
            return;
        };
        let Some(why) = dialect::refusal(caps, &compositor_drm_formats(&presenter)) else {
            return;
        };
        if !lock(&self.refused_caps).insert(caps.to_string()) {
            return;
        }
        gst::element_imp_warning!(
            self,
            gst::CoreError::Negotiation,
            ("refused {caps}"),
            ["the compositor's linux-dmabuf table: {why}"]
        );
    }

    /// Caps for what the compositor takes: dma-buf formats (LINEAR, or
    /// implicit when allowed) in dma-buf memory; those and wl_shm's in system
    /// memory (copied or shown from memfds).
    fn compositor_caps(&self, presenter: &Presenter, preference: PathPreference) -> gst::Caps {
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
            .filter(|(format, fourcc)| match preference {
                // System memory is copied into dma-bufs, or written into the
                // proposed dma-buf pool.
                PathPreference::DmaBuf => dmabuf.contains(format),
                PathPreference::Shm => offered.shm_formats.contains(fourcc),
                PathPreference::Auto | PathPreference::Copy => {
                    dmabuf.contains(format) || offered.shm_formats.contains(fourcc)
                }
            })
            .map(|(format, _)| *format)
            .collect();
        // wl_shm only: dma-buf frames would all be copied, so none are asked
        // for (those that come anyway are copied).
        let dmabuf = if preference == PathPreference::Shm {
            Vec::new()
        } else {
            dmabuf
        };
        let mut out = gst::Caps::new_empty();
        // GStreamer 1.24+: DMA_DRM first, with every modifier the compositor
        // imports (a VA or V4L2 decoder's tiled frames go straight in).
        if preference != PathPreference::Shm && Dialect::runtime() == Dialect::DmaDrm {
            out.merge(dialect::dma_drm_caps(&compositor_drm_formats(presenter)));
        }
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
    ) -> Option<ZcDmaBufAllocator> {
        let preference = lock(&self.settings).path_preference;
        match preference {
            PathPreference::Copy => return None,
            PathPreference::Shm => return Some(ZcDmaBufAllocator::new(BackendSetting::Memfd)),
            PathPreference::Auto | PathPreference::DmaBuf => {}
        }
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
                    return Some(allocator);
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
        let backend = allocator.backend().ok();
        if preference == PathPreference::DmaBuf {
            // dma-bufs or nothing: without a dma-buf backend, upstream's own
            // dma-bufs still work; anything else fails when copied.
            if backend.is_none_or(|b| b == zc_dmabuf::Backend::Memfd) {
                gst::warning!(
                    CAT,
                    imp = self,
                    "path-preference=dmabuf but no dma-buf allocator works here: proposing no pool"
                );
                return None;
            }
            return Some(allocator);
        }
        let takes_dmabuf = offered
            .dmabuf_formats
            .iter()
            .any(|f| f.fourcc == fourcc && f.modifier == Modifier::LINEAR);
        if backend.is_some_and(|b| b != zc_dmabuf::Backend::Memfd) && !takes_dmabuf {
            // Dma-bufs the compositor cannot import would all be copied:
            // memfds go to wl_shm as they are.
            return Some(ZcDmaBufAllocator::new(BackendSetting::Memfd));
        }
        Some(allocator)
    }

    /// Where copies go: a memfd for wl_shm when it takes the format (or the
    /// preference is shm), else a dma-buf (always, for dmabuf).
    fn make_upload_pool(
        &self,
        presenter: &Presenter,
        fourcc: Fourcc,
        info: &gst_video::VideoInfo,
        preference: PathPreference,
    ) -> Result<ZcBufferPool, String> {
        let shm_takes_it = presenter.capabilities().shm_formats.contains(&fourcc);
        let allocator = match preference {
            PathPreference::DmaBuf => {
                let allocator = ZcDmaBufAllocator::new(BackendSetting::Auto);
                match allocator.backend() {
                    Ok(zc_dmabuf::Backend::Memfd) => {
                        return Err(
                            "path-preference=dmabuf, but the only allocator that works here is \
                             memfd (no /dev/dma_heap, /dev/udmabuf or GBM device); use auto or shm"
                                .to_owned(),
                        );
                    }
                    Ok(_) => allocator,
                    Err(e) => return Err(format!("path-preference=dmabuf: {e}")),
                }
            }
            PathPreference::Shm => ZcDmaBufAllocator::new(BackendSetting::Memfd),
            PathPreference::Auto | PathPreference::Copy if shm_takes_it => {
                ZcDmaBufAllocator::new(BackendSetting::Memfd)
            }
            PathPreference::Auto | PathPreference::Copy => {
                ZcDmaBufAllocator::new(BackendSetting::Auto)
            }
        };
        let for_shm = allocator
            .backend()
            .is_ok_and(|b| b == zc_dmabuf::Backend::Memfd);
        let pool = ZcBufferPool::new(&allocator);
        let mut config = pool.config();
        config.set_params(
            Some(&info.to_caps().map_err(|e| e.to_string())?),
            info.size() as u32,
            2,
            0,
        );
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        if for_shm {
            // wl_shm takes one stride, with the chroma planes' derived from
            // it and the planes back to back: no stride padding (zc's
            // default 256-byte alignment would pad I420's chroma rows and
            // make every copy unshowable).
            config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT.as_ref());
            config.set_video_alignment(&gst_video::VideoAlignment::new(0, 0, 0, 0, &[0; 4]));
        }
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
        if let Some(cached) = WL_BUFFERS
            .get(memory, self.cache_key.0)
            .filter(|cached| cached.shows(presenter.id(), frame))
        {
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
            MemoryKind::DmaBuf => presenter.import_dmabuf(
                &frame.layout,
                &fds,
                lock(&self.settings).allow_implicit_modifier,
                frame.interlacing,
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
        self.counters
            .wl_buffers_created
            .fetch_add(1, Ordering::Relaxed);
        WL_BUFFERS.set(
            memory,
            self.cache_key.0,
            Arc::new(Cached {
                presenter_id: presenter.id(),
                layout: frame.layout.clone(),
                fds: frame.fds.clone(),
                interlacing: frame.interlacing,
                buffer: wl_buffer.clone(),
            }),
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
        if !presenter.has_window() {
            self.create_window(&presenter)?;
        }
        let mut stream_guard = lock(&self.stream);
        let Some(stream) = stream_guard.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                ("a frame arrived before caps")
            );
            return Err(gst::FlowError::NotNegotiated);
        };
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
        let modifier = stream.modifier;
        let preference = stream.path_preference;
        let direct = describe_frame(buffer.as_ref(), &info, modifier);
        let mut shown = buffer.clone();
        let mut wl_buffer = None;
        let mut fence = None;
        let mut copy_reason = "the frame is in memory the compositor cannot import";
        match &direct {
            Ok(frame) if !shown_as_is(preference, frame.kind) => {
                copy_reason = match preference {
                    PathPreference::Copy => "path-preference=copy",
                    PathPreference::Shm => "path-preference=shm: dma-bufs are copied into memfds",
                    PathPreference::DmaBuf => "path-preference=dmabuf: copied into dma-bufs",
                    PathPreference::Auto => copy_reason,
                };
            }
            Ok(frame) if frame.kind == MemoryKind::DmaBuf && stream.refused.contains(&fourcc) => {}
            Ok(frame) => match self.wl_buffer_for(&presenter, buffer.as_ref(), frame) {
                Ok(b) => {
                    let path = if frame.kind == MemoryKind::DmaBuf {
                        Path::DmaBuf
                    } else {
                        Path::Shm
                    };
                    self.note_path(stream, path, "the frame's own memory is importable");
                    if frame.kind == MemoryKind::DmaBuf && presenter.uses_explicit_sync() {
                        fence = acquire_fence(self, &frame.fds);
                    }
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
                Err(e) if preference == PathPreference::DmaBuf => {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("the compositor cannot show this dma-buf, and path-preference=dmabuf allows no fallback: {e}")
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
            },
            Err(reason) if reason.is_copyable() => {
                // Its bytes are all there, but a compositor would kill the
                // connection for it: copied, with one warning.
                if !std::mem::replace(&mut stream.warned_copyable, true) {
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ("copying frames the compositor would refuse"),
                        ["{reason}"]
                    );
                }
                copy_reason = "the frame's planes lack full rows";
            }
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
            None if modifier != Modifier::LINEAR => {
                // The CPU cannot read a tiled or compressed frame as rows.
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Format,
                    ("the compositor did not take a {fourcc} frame with modifier {modifier}, and such frames cannot be copied by the CPU"),
                    ["{copy_reason}"]
                );
                return Err(gst::FlowError::Error);
            }
            None => {
                if stream.upload_pool.is_none() {
                    let pool = self
                        .make_upload_pool(&presenter, fourcc, &info, preference)
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
                let mut frame =
                    describe_frame(shown.as_ref(), &info, Modifier::LINEAR).map_err(|e| {
                        gst::element_imp_error!(
                            self,
                            gst::StreamError::Format,
                            ("invalid pooled frame"),
                            ["{e}"]
                        );
                        gst::FlowError::Error
                    })?;
                // The copy has the content, not the buffer's flags. When the
                // compositor refused the original (interlaced, say), the copy
                // is shown as it is: fields woven, as a progressive frame.
                frame.interlacing = if stream.refused.contains(&fourcc) {
                    Interlacing::Progressive
                } else {
                    interlacing(buffer.as_ref(), &info)
                };
                self.note_path(stream, Path::Copy, copy_reason);
                if frame.kind == MemoryKind::DmaBuf && presenter.uses_explicit_sync() {
                    fence = acquire_fence(self, &frame.fds);
                }
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
            .present(&wl_buffer, frame_id(buffer), Box::new(shown), fence)
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
            .field("acquire-fences", stats.acquire_fences)
            .field("fenced-releases", stats.fenced_releases)
            .field("immediate-releases", stats.immediate_releases)
            .field(
                "frames-copied",
                self.counters.frames_copied.load(Ordering::Relaxed),
            )
            .field(
                "bytes-copied",
                self.counters.bytes_copied.load(Ordering::Relaxed),
            )
            .field(
                "wl-buffers-created",
                self.counters.wl_buffers_created.load(Ordering::Relaxed),
            )
            .field("path", path)
            .build()
    }
}

/// The DMA_DRM formats the compositor imports, best first (with v4+
/// feedback: the main device's tranches, scanout before composited, in the
/// compositor's order): its explicit modifiers (INVALID cannot be said in
/// DMA_DRM caps) of formats zc lays out.
fn compositor_drm_formats(presenter: &Presenter) -> Vec<DrmFormat> {
    let offered = presenter.capabilities();
    let pairs = match &offered.feedback {
        Some(feedback) => feedback.preferred_formats(),
        None => offered.dmabuf_formats.iter().copied().collect(),
    };
    pairs
        .iter()
        .filter(|f| f.modifier != Modifier::INVALID && caps::format_for(f.fourcc).is_some())
        .map(|f| DrmFormat {
            fourcc: f.fourcc,
            modifier: f.modifier,
        })
        .collect()
}

#[glib::object_subclass]
impl ObjectSubclass for ZcWaylandSink {
    const NAME: &'static str = "GstZcWaylandSink";
    type Type = super::ZcWaylandSink;
    type ParentType = gst_video::VideoSink;
    type Interfaces = (gst_video::VideoOverlay,);
}

// GstVideoOverlay, by hand: gstreamer-video has no subclassing trait for
// it. glib's interface machinery registers it (g_type_add_interface_static)
// and calls `interface_init` with our type's copy of the vtable.
// SAFETY: the vtable gets only functions with GstVideoOverlayInterface's
// signatures, called by GObject on instances of this type (see overlay_imp).
unsafe impl IsImplementable<ZcWaylandSink> for gst_video::VideoOverlay {
    fn interface_init(iface: &mut glib::Interface<Self>) {
        let iface = iface.as_mut();
        iface.set_window_handle = Some(overlay_set_window_handle);
        iface.set_render_rectangle = Some(overlay_set_render_rectangle);
        iface.expose = Some(overlay_expose);
        // handle_events stays unset: the sink takes no input (its surfaces
        // have empty input regions), so events reach the application.
    }
}

/// The sink behind a GstVideoOverlay vfunc's instance pointer.
///
/// # Safety
/// `overlay` must be the instance a GstVideoOverlay vfunc was called on.
unsafe fn overlay_imp<'a>(overlay: *mut gst_video::ffi::GstVideoOverlay) -> &'a ZcWaylandSink {
    // SAFETY: GObject calls this interface's vfuncs only on instances of a
    // type that implements it with the vtable filled in above: ours or a
    // subclass, whose instance struct starts with ours. The caller holds a
    // reference for the duration of the call.
    let instance = unsafe { &*(overlay as *const <ZcWaylandSink as ObjectSubclass>::Instance) };
    instance.imp()
}

unsafe extern "C" fn overlay_set_window_handle(
    overlay: *mut gst_video::ffi::GstVideoOverlay,
    handle: libc::uintptr_t,
) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.set_window_handle(handle);
}

unsafe extern "C" fn overlay_set_render_rectangle(
    overlay: *mut gst_video::ffi::GstVideoOverlay,
    x: libc::c_int,
    y: libc::c_int,
    width: libc::c_int,
    height: libc::c_int,
) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.set_render_rectangle(x, y, width, height);
}

unsafe extern "C" fn overlay_expose(overlay: *mut gst_video::ffi::GstVideoOverlay) {
    // SAFETY: called by GObject as this interface's vfunc (see overlay_imp).
    unsafe { overlay_imp(overlay) }.expose();
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
                glib::ParamSpecUInt::builder("connect-timeout")
                    .nick("Connect timeout")
                    .blurb("Milliseconds to wait for the compositor to answer while connecting (NULL to READY); a compositor that accepts the connection but does not answer within it is an error")
                    .minimum(1)
                    .default_value(CONNECT_TIMEOUT.as_millis() as u32)
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
                glib::ParamSpecEnum::builder_with_default("path-preference", PathPreference::Auto)
                    .nick("Path preference")
                    .blurb("Which way frames may reach the compositor: auto (the frame's own dma-buf, else its own memfd through wl_shm, else a copy), dmabuf (dma-bufs only: only importable formats are offered, a dma-buf pool is proposed, other frames are copied into dma-bufs, and a refusal is an error), shm (the memfd pool is proposed and frames go through wl_shm even where dma-buf works), copy (no pool is proposed and every frame is copied: the comparison path). The read-only path property reports what happened")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecBoolean::builder("explicit-sync")
                    .nick("Explicit sync")
                    .blurb("Synchronise dma-buf frames explicitly when the compositor offers zwp_linux_explicit_synchronization_v1: each commit carries the producer's fence (a sync_file exported from the frame's dma-buf), and a frame goes back to its pool only after the compositor's release fence signalled. Off: the dma-bufs' implicit fences do it (for comparison). wl_shm frames never take fences. Applies to the next window")
                    .default_value(true)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("title")
                    .nick("Title")
                    .blurb("Title of the sink's own toplevel window (unused when embedded in an application's surface)")
                    .default_value(Some("zc"))
                    .mutable_ready()
                    .build(),
                gst::ParamSpecArray::builder("render-rectangle")
                    .nick("Render rectangle")
                    .blurb("Where the video goes in the application's wl_surface when embedded (GstVideoOverlay): <x, y, width, height> in surface coordinates, the video scaled into it with its aspect ratio kept and black bars; width and height -1 (the default <0, 0, -1, -1>) mean the video's own size at x, y. Takes effect at once, also while paused; the sink commits the application's surface for it. Same as gst_video_overlay_set_render_rectangle")
                    .element_spec(
                        &glib::ParamSpecInt::builder("rect-value")
                            .nick("Rectangle value")
                            .blurb("One of x, y, width or height")
                            .minimum(i32::MIN)
                            .maximum(i32::MAX)
                            .default_value(-1)
                            .build(),
                    )
                    .mutable_playing()
                    .build(),
                counter("frames-presented", "Frames presented", "Frames the compositor reports as shown (wp_presentation)"),
                counter("frames-discarded", "Frames discarded", "Frames the compositor reports as never shown (wp_presentation)"),
                counter("latency-us", "Latency (us)", "Mean time from commit to presentation, in microseconds"),
                counter("acquire-fences", "Acquire fences", "Commits that carried the producer's fence (explicit sync)"),
                counter("fenced-releases", "Fenced releases", "Frames the compositor released with a fence, held until it signalled (explicit sync)"),
                counter("frames-copied", "Frames copied", "Frames copied because the compositor could not import their memory"),
                counter("bytes-copied", "Bytes copied", "Bytes the CPU copied for those frames"),
                counter("wl-buffers-created", "wl_buffers created", "wl_buffers made for frames' memories (dma-buf imports, wl_shm pools). Each memory keeps its wl_buffer while it lives, so with a buffer pool upstream this stops at the pool's size instead of growing with every frame"),
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
        if pspec.name() == "render-rectangle" {
            let values: Vec<i32> = value
                .get::<gst::Array>()
                .map(|a| a.iter().filter_map(|v| v.get::<i32>().ok()).collect())
                .unwrap_or_default();
            match values[..] {
                [x, y, width, height] => self.set_render_rectangle(x, y, width, height),
                _ => gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Settings,
                    ("render-rectangle ignored"),
                    ["it takes four integers <x, y, width, height>, not {values:?}"]
                ),
            }
            return;
        }
        let mut settings = lock(&self.settings);
        match pspec.name() {
            "display" => settings.display = value.get().ok().flatten(),
            "connect-timeout" => {
                settings.connect_timeout_ms = value.get().unwrap_or(settings.connect_timeout_ms)
            }
            "fullscreen" => settings.fullscreen = value.get().unwrap_or(false),
            "allow-implicit-modifier" => {
                settings.allow_implicit_modifier = value.get().unwrap_or(false)
            }
            "explicit-sync" => settings.explicit_sync = value.get().unwrap_or(true),
            "path-preference" => {
                settings.path_preference = value.get().unwrap_or_default();
                gst::debug!(
                    CAT,
                    imp = self,
                    "path preference {}",
                    settings.path_preference.nick()
                );
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
            "connect-timeout" => lock(&self.settings).connect_timeout_ms.to_value(),
            "fullscreen" => lock(&self.settings).fullscreen.to_value(),
            "allow-implicit-modifier" => lock(&self.settings).allow_implicit_modifier.to_value(),
            "explicit-sync" => lock(&self.settings).explicit_sync.to_value(),
            "path-preference" => lock(&self.settings).path_preference.to_value(),
            "acquire-fences" => stats().acquire_fences.to_value(),
            "fenced-releases" => stats().fenced_releases.to_value(),
            "title" => lock(&self.settings).title.to_value(),
            "render-rectangle" => lock(&self.settings).render_rectangle.to_array().to_value(),
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
            "wl-buffers-created" => self
                .counters
                .wl_buffers_created
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

    #[allow(clippy::expect_used)] // ok: templates from static caps
    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            // DMA_DRM (GStreamer 1.24+) with any drm-format: the real list
            // comes from the compositor once connected.
            let mut caps = dialect::dma_drm_template();
            caps.merge(caps::raw_caps(Some(DMABUF_FEATURE)));
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
                // The window goes with the stream (an embedded video leaves
                // the application's surface); the next run makes a new one.
                if let Some(presenter) = self.presenter() {
                    presenter.destroy_window();
                }
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

    fn set_context(&self, context: &gst::Context) {
        self.take_display_context(context);
        self.parent_set_context(context)
    }
}

impl BaseSinkImpl for ZcWaylandSink {
    fn query(&self, query: &mut gst::QueryRef) -> bool {
        // Upstream elements asking for a Wayland display get the one in use.
        if let gst::QueryViewMut::Context(q) = query.view_mut()
            && DISPLAY_CONTEXT_TYPES.contains(&q.context_type())
            && let Some(context) = self.display_context(q.context_type())
        {
            q.set_context(&context);
            return true;
        }
        // An upstream converter picking its GPU asks for the display's.
        if let Some(presenter) = self.presenter() {
            let main_device = presenter
                .capabilities()
                .feedback
                .and_then(|f| f.main_device);
            let mut nodes = main_device
                .map(zc_wayland::drm_nodes_for)
                .unwrap_or_default();
            // Render nodes first: a GPU user opens those, not the card.
            nodes.sort_by_key(|n| !n.to_string_lossy().contains("renderD"));
            if main_device::answer(query, &nodes) {
                gst::debug!(CAT, imp = self, "told upstream the main device: {nodes:?}");
                return true;
            }
        }
        let accept_caps = match query.view() {
            gst::QueryView::AcceptCaps(q) => Some(q.caps_owned()),
            _ => None,
        };
        let answered = BaseSinkImplExt::parent_query(self, query);
        if let (Some(caps), gst::QueryView::AcceptCaps(q)) = (accept_caps, query.view())
            && !q.result()
        {
            self.explain_refusal(&caps);
        }
        answered
    }

    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        let intersect = |caps: gst::Caps| match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        };
        let Some(presenter) = self.presenter() else {
            return Some(intersect(self.obj().sink_pad().pad_template_caps()));
        };
        let preference = lock(&self.settings).path_preference;
        let preferred = intersect(self.compositor_caps(&presenter, preference));
        if !preferred.is_empty() || preference == PathPreference::Auto {
            return Some(preferred);
        }
        // Nothing upstream can send fits the preference: offer what the
        // compositor takes at all, so that set_caps can say why it refuses
        // instead of a bare not-negotiated.
        Some(intersect(
            self.compositor_caps(&presenter, PathPreference::Auto),
        ))
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
        // Either dialect (1.22's format=NV12, 1.24's DMA_DRM) in one place.
        let (info, drm) = dialect::video_info(caps).map_err(|e| fail(e.to_string()))?;
        let fourcc = drm.fourcc;
        let presenter = self
            .presenter()
            .ok_or_else(|| fail("no compositor connection".to_owned()))?;
        let preference = lock(&self.settings).path_preference;
        if !self
            .compositor_caps(&presenter, preference)
            .can_intersect(caps)
        {
            let offered = presenter.capabilities();
            let why = match preference {
                PathPreference::DmaBuf => format!(
                    "path-preference=dmabuf, but the compositor does not import {fourcc} as a \
                     dma-buf{}; linux-dmabuf v{} offers {}",
                    if lock(&self.settings).allow_implicit_modifier {
                        ""
                    } else {
                        " with the LINEAR modifier"
                    },
                    offered.dmabuf_version,
                    describe_formats(&offered.dmabuf_formats)
                ),
                PathPreference::Shm => format!(
                    "path-preference=shm, but wl_shm does not take {fourcc}; it takes {}",
                    offered
                        .shm_formats
                        .iter()
                        .map(|f| f.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => format!(
                    "the compositor does not offer {}; it takes {}",
                    info.format().to_str(),
                    self.compositor_caps(&presenter, preference)
                ),
            };
            return Err(fail(why));
        }
        let mut stream = lock(&self.stream);
        if let Some(pool) = stream.take().and_then(|s| s.upload_pool) {
            let _ = pool.set_active(false);
        }
        if let Err(e) = presenter.set_video_size(width, height) {
            return Err(fail(format!("resizing the window: {e}")));
        }
        gst::info!(CAT, imp = self, "showing {caps}");
        *stream = Some(Stream {
            info,
            fourcc,
            modifier: drm.modifier,
            path_preference: lock(&self.settings).path_preference,
            upload_pool: None,
            feedback_serial: 0,
            last_path: None,
            refused: HashSet::new(),
            warned_copyable: false,
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
        let (info, drm) = dialect::video_info(&caps)
            .map_err(|e| gst::loggable_error!(CAT, "no zc layout for {caps}: {e}"))?;
        let fourcc = drm.fourcc;
        if drm.modifier != Modifier::LINEAR {
            // zc allocates linear frames only: the producer keeps its own.
            query.add_allocation_meta::<gst_video::VideoMeta>(None);
            gst::debug!(
                CAT,
                imp = self,
                "no pool for {caps}: zc allocates linear frames only"
            );
            return Ok(());
        }
        let presenter = self
            .presenter()
            .ok_or_else(|| gst::loggable_error!(CAT, "no compositor connection"))?;
        let Some(allocator) = self.proposal_allocator(&presenter, fourcc, &info) else {
            // path-preference=copy (or dmabuf without a dma-buf allocator):
            // no pool, so upstream allocates its own memory.
            query.add_allocation_meta::<gst_video::VideoMeta>(None);
            gst::debug!(CAT, imp = self, "proposing no pool for {caps}");
            return Ok(());
        };
        let pool = ZcBufferPool::new(&allocator);
        let mut config = pool.config();
        // Classic caps from the VideoInfo: the pool reads 1.22's dialect.
        let plain = info
            .to_caps()
            .map_err(|_| gst::loggable_error!(CAT, "no caps for {caps}"))?;
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
