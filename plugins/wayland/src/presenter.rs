//! A video surface on a compositor: dma-buf frames imported once as
//! `wl_buffer`s, committed at the compositor's pace, held until released.
//!
//! Threads: the caller (a GStreamer streaming thread) creates buffers and
//! presents frames; a dispatch thread reads the compositor's events (frame
//! callbacks, releases, presentation feedback, configure) and commits the
//! frame that waited for a frame callback. Both share [`Inner`] under one
//! mutex; Wayland requests are sent from either thread, which
//! wayland-client allows.

use std::any::Any;
use std::collections::{BTreeSet, HashSet};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wayland_client::globals::{GlobalList, GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer::{self, WlBuffer},
    wl_callback::{self, WlCallback},
    wl_compositor::WlCompositor,
    wl_registry::WlRegistry,
    wl_shm::{self, WlShm},
    wl_shm_pool::WlShmPool,
    wl_subcompositor::WlSubcompositor,
    wl_subsurface::WlSubsurface,
    wl_surface::WlSurface,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::wp::linux_dmabuf::zv1::client::{
    zwp_linux_buffer_params_v1::{self, ZwpLinuxBufferParamsV1},
    zwp_linux_dmabuf_feedback_v1::{self, ZwpLinuxDmabufFeedbackV1},
    zwp_linux_dmabuf_v1::{self, ZwpLinuxDmabufV1},
};
use wayland_protocols::wp::presentation_time::client::{
    wp_presentation::{self, WpPresentation},
    wp_presentation_feedback::{self, WpPresentationFeedback},
};
use wayland_protocols::wp::viewporter::client::{
    wp_viewport::WpViewport, wp_viewporter::WpViewporter,
};
use wayland_protocols::xdg::shell::client::{
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};
use zc_dmabuf::{FormatInfo, Fourcc, FrameLayout, Modifier};

use crate::error::WaylandError;
use crate::feedback::{Feedback, FormatModifier, FormatTable, Tranche, dev_from_array};

/// How long to wait for the compositor before calling it gone. Generous:
/// under software emulation one round trip can take over a second.
const COMPOSITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Which compositor to talk to.
#[derive(Clone, Debug, Default)]
pub enum DisplayTarget {
    /// `WAYLAND_DISPLAY` (default `wayland-0`) under `XDG_RUNTIME_DIR`.
    #[default]
    Environment,
    /// A display name (relative to `XDG_RUNTIME_DIR`) or an absolute socket path.
    Name(String),
    /// An application's own `struct wl_display *` (GstVideoOverlay embedding).
    Foreign(usize),
}

/// Where the video goes.
#[derive(Clone, Debug)]
pub enum WindowTarget {
    /// Its own xdg-shell toplevel.
    Toplevel { title: String, fullscreen: bool },
    /// A subsurface of an application's `struct wl_surface *`, at a rectangle
    /// of it (GstVideoOverlay's `set_window_handle` + `set_render_rectangle`).
    Embedded {
        parent_surface: usize,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
    },
}

/// Counters of what the compositor did with the frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PresentStats {
    /// Frames handed to `present`.
    pub frames_submitted: u64,
    /// Frames committed to the surface.
    pub frames_committed: u64,
    /// Frames replaced by a newer one before they could be committed
    /// (the compositor had not asked for a new frame yet).
    pub frames_replaced: u64,
    /// `wp_presentation_feedback.presented` events.
    pub frames_presented: u64,
    /// Presented frames the compositor flagged `zero_copy` (scanned out
    /// directly from the client's buffer).
    pub frames_presented_zero_copy: u64,
    /// `wp_presentation_feedback.discarded` events.
    pub frames_discarded: u64,
    /// Sum of commit-to-presentation times, for the mean latency.
    pub latency_ns_total: u64,
    /// Frames that arrived in a buffer the compositor had not released yet:
    /// its producer wrote into storage the compositor may still read. The
    /// sink holds every frame until release, so this stays 0; the counter
    /// proves it.
    pub buffers_reused_while_held: u64,
}

impl PresentStats {
    pub fn mean_latency_us(&self) -> u64 {
        self.latency_ns_total
            .checked_div(self.frames_presented)
            .map_or(0, |ns| ns / 1000)
    }
}

/// What the compositor offers for buffers.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// linux-dmabuf version bound (0: none).
    pub dmabuf_version: u32,
    /// Pairs the compositor imports (v3 events, or v4+ default feedback).
    pub dmabuf_formats: BTreeSet<FormatModifier>,
    /// The latest complete feedback (v4+), the surface's once it has one.
    pub feedback: Option<Feedback>,
    /// Fourccs wl_shm accepts.
    pub shm_formats: BTreeSet<Fourcc>,
    pub has_viewporter: bool,
    pub has_presentation: bool,
}

/// A `wl_buffer` for one frame's storage, created once and reused for as
/// long as that storage lives. Dropping it destroys the `wl_buffer`.
pub struct FrameBuffer {
    buffer: WlBuffer,
    slot: Arc<Slot>,
    presenter_id: u64,
    kind: BufferKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    DmaBuf,
    Shm,
}

impl FrameBuffer {
    /// The presenter that made it: a buffer from an earlier connection must
    /// be made again.
    pub fn presenter_id(&self) -> u64 {
        self.presenter_id
    }

    pub fn kind(&self) -> BufferKind {
        self.kind
    }

    /// Whether the compositor still holds it (attached and not released).
    pub fn is_busy(&self) -> bool {
        self.slot.is_busy()
    }
}

impl Drop for FrameBuffer {
    fn drop(&mut self) {
        self.buffer.destroy();
    }
}

/// Per-`wl_buffer` state shared with the dispatch thread: what the caller
/// handed in with the frame (e.g. a GstBuffer ref), kept until `release`.
#[derive(Default)]
struct Slot {
    /// The frame id and hold of the frame last committed in this buffer.
    hold: Mutex<Option<(u64, Box<dyn Any + Send>)>>,
}

impl Slot {
    fn is_busy(&self) -> bool {
        lock(&self.hold).is_some()
    }

    fn holds_other_frame(&self, frame_id: u64) -> bool {
        lock(&self.hold)
            .as_ref()
            .is_some_and(|(held, _)| *held != frame_id)
    }

    /// Drop what the frame held, outside the lock: dropping a GstBuffer can
    /// run a pool's release code.
    fn release(&self) {
        let hold = lock(&self.hold).take();
        drop(hold);
    }
}

struct BufferData {
    slot: Arc<Slot>,
}

impl Default for BufferData {
    fn default() -> Self {
        BufferData {
            slot: Arc::new(Slot::default()),
        }
    }
}

/// The answer to an asynchronous `create`, filled in by the dispatch thread.
#[derive(Default)]
struct ParamsData {
    result: Mutex<Option<Result<WlBuffer, ()>>>,
}

struct PresentationData {
    committed_ns: u64,
}

#[derive(Default)]
struct FeedbackBuilder {
    table: Option<FormatTable>,
    main_device: Option<libc::dev_t>,
    tranche: Tranche,
    tranches: Vec<Tranche>,
    error: Option<String>,
}

/// Whose feedback an object carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FeedbackScope {
    Default,
    Surface,
}

struct FeedbackData {
    scope: FeedbackScope,
    builder: Mutex<FeedbackBuilder>,
}

/// Everything both threads touch.
struct Inner {
    caps: Capabilities,
    /// Bumped whenever `caps.feedback` changes, so the caller can renegotiate.
    feedback_serial: u64,
    /// Pairs a `create` succeeded for: later buffers use `create_immed`.
    proven: HashSet<(Fourcc, Modifier)>,
    /// Pairs the compositor refused (`failed`).
    rejected: HashSet<(Fourcc, Modifier)>,
    window: Option<Window>,
    video_size: (i32, i32),
    frame_pending: bool,
    next: Option<(Arc<FrameBuffer>, u64, Box<dyn Any + Send>)>,
    busy: Vec<Weak<Slot>>,
    /// Every wl_buffer made, to destroy those still cached when we go.
    buffers: Vec<Weak<FrameBuffer>>,
    stats: PresentStats,
    presentation_clock: libc::clockid_t,
    lost: Option<String>,
    closed: bool,
    surface_feedback_seen: bool,
}

struct Window {
    /// The surface the window manager or the application sees; black, scaled
    /// to the window, behind the video (the bars around it).
    area: WlSurface,
    area_viewport: Option<WpViewport>,
    background: Option<WlBuffer>,
    video: WlSurface,
    video_subsurface: WlSubsurface,
    video_viewport: Option<WpViewport>,
    area_subsurface: Option<WlSubsurface>,
    /// The application's surface an embedded video lives in. Subsurface
    /// positions are parent state: they apply on the parent's commit.
    parent: Option<WlSurface>,
    toplevel: Option<(XdgSurface, XdgToplevel)>,
    configured: bool,
    /// Size of the area in surface coordinates (0: the video's own size).
    size: (i32, i32),
    /// Size asked by the last toplevel configure (0: our choice).
    pending_size: (i32, i32),
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
}

/// The dispatch state: every event handler reaches the shared state here.
struct State {
    shared: Arc<Shared>,
    globals: Globals,
}

#[derive(Clone)]
struct Globals {
    compositor: WlCompositor,
    subcompositor: WlSubcompositor,
    shm: Option<WlShm>,
    dmabuf: Option<ZwpLinuxDmabufV1>,
    wm_base: Option<XdgWmBase>,
    viewporter: Option<WpViewporter>,
    presentation: Option<WpPresentation>,
}

static NEXT_PRESENTER_ID: AtomicU64 = AtomicU64::new(1);

/// One connection and one video surface.
pub struct Presenter {
    id: u64,
    connection: Connection,
    /// False for an application's display (GstVideoOverlay embedding): its
    /// connection outlives us, so everything we made on it is destroyed
    /// explicitly, and it is never disconnected.
    owns_display: bool,
    queue_handle: QueueHandle<State>,
    globals: Globals,
    shared: Arc<Shared>,
    stop: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
    surface_feedback: Mutex<Option<ZwpLinuxDmabufFeedbackV1>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an unknown clock makes the
    // call fail, leaving zeros.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The socket path for a display name, as libwayland resolves it.
fn socket_path(name: &str) -> Result<PathBuf, WaylandError> {
    if name.starts_with('/') {
        return Ok(PathBuf::from(name));
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) => Ok(PathBuf::from(dir).join(name)),
        None => Err(WaylandError::NoDisplay {
            name: name.to_owned(),
            path: "XDG_RUNTIME_DIR is not set".to_owned(),
            reason: "the socket cannot be found".to_owned(),
        }),
    }
}

fn connect(target: &DisplayTarget) -> Result<Connection, WaylandError> {
    let name = match target {
        DisplayTarget::Foreign(pointer) => {
            // SAFETY: GstVideoOverlay/GstContext hand us the application's
            // `struct wl_display *`, which the application keeps alive for
            // as long as it uses the sink (the documented contract of
            // embedding); the foreign backend never disconnects it.
            let backend = unsafe {
                wayland_backend::client::Backend::from_foreign_display(*pointer as *mut _)
            };
            return Ok(Connection::from_backend(backend));
        }
        DisplayTarget::Name(name) => name.clone(),
        DisplayTarget::Environment => {
            std::env::var("WAYLAND_DISPLAY").unwrap_or_else(|_| "wayland-0".to_owned())
        }
    };
    let path = socket_path(&name)?;
    let stream = UnixStream::connect(&path).map_err(|e| WaylandError::NoDisplay {
        name: name.clone(),
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Connection::from_socket(stream).map_err(|e| WaylandError::NoDisplay {
        name,
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn bind_optional<I, U>(
    globals: &GlobalList,
    qh: &QueueHandle<State>,
    versions: std::ops::RangeInclusive<u32>,
    data: U,
) -> Option<I>
where
    I: Proxy + 'static,
    U: Send + Sync + 'static,
    State: Dispatch<I, U>,
{
    globals.bind::<I, State, U>(qh, versions, data).ok()
}

impl Presenter {
    /// Connect, read the compositor's globals and formats (two round
    /// trips), and start the dispatch thread.
    pub fn connect(target: &DisplayTarget) -> Result<Presenter, WaylandError> {
        let connection = connect(target)?;
        let (global_list, mut queue) = registry_queue_init::<State>(&connection)
            .map_err(|e| WaylandError::ConnectionLost(e.to_string()))?;
        let qh = queue.handle();
        let compositor = global_list
            .bind::<WlCompositor, State, ()>(&qh, 4..=6, ())
            .map_err(|_| WaylandError::MissingGlobal {
                interface: "wl_compositor",
                min: 4,
            })?;
        let subcompositor = global_list
            .bind::<WlSubcompositor, State, ()>(&qh, 1..=1, ())
            .map_err(|_| WaylandError::MissingGlobal {
                interface: "wl_subcompositor",
                min: 1,
            })?;
        let globals = Globals {
            compositor,
            subcompositor,
            shm: bind_optional(&global_list, &qh, 1..=1, ()),
            dmabuf: bind_optional(&global_list, &qh, 3..=5, ()),
            wm_base: bind_optional(&global_list, &qh, 1..=6, ()),
            viewporter: bind_optional(&global_list, &qh, 1..=1, ()),
            presentation: bind_optional(&global_list, &qh, 1..=1, ()),
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                caps: Capabilities {
                    dmabuf_version: globals.dmabuf.as_ref().map_or(0, |d| d.version()),
                    has_viewporter: globals.viewporter.is_some(),
                    has_presentation: globals.presentation.is_some(),
                    ..Capabilities::default()
                },
                feedback_serial: 0,
                proven: HashSet::new(),
                rejected: HashSet::new(),
                window: None,
                video_size: (0, 0),
                frame_pending: false,
                next: None,
                busy: Vec::new(),
                buffers: Vec::new(),
                stats: PresentStats::default(),
                presentation_clock: libc::CLOCK_MONOTONIC,
                lost: None,
                closed: false,
                surface_feedback_seen: false,
            }),
            changed: Condvar::new(),
        });
        if let Some(dmabuf) = globals.dmabuf.as_ref().filter(|d| d.version() >= 4) {
            dmabuf.get_default_feedback(
                &qh,
                FeedbackData {
                    scope: FeedbackScope::Default,
                    builder: Mutex::default(),
                },
            );
        }
        let mut state = State {
            shared: shared.clone(),
            globals: globals.clone(),
        };
        // One round trip delivers the format events; the feedback's format
        // table arrives with the second.
        for _ in 0..2 {
            queue
                .roundtrip(&mut state)
                .map_err(|e| WaylandError::ConnectionLost(e.to_string()))?;
        }
        let stop = Arc::new(eventfd()?);
        let thread = {
            let (connection, stop) = (connection.clone(), stop.clone());
            std::thread::Builder::new()
                .name("zc-wayland".into())
                .spawn(move || dispatch_loop(connection, queue, state, stop))?
        };
        Ok(Presenter {
            id: NEXT_PRESENTER_ID.fetch_add(1, Ordering::Relaxed),
            connection,
            owns_display: !matches!(target, DisplayTarget::Foreign(_)),
            queue_handle: qh,
            globals,
            shared,
            stop,
            thread: Some(thread),
            surface_feedback: Mutex::new(None),
        })
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The `struct wl_display *` this presenter talks through: its own
    /// connection's, or the application's it was given.
    pub fn display_ptr(&self) -> usize {
        self.connection.backend().display_ptr() as usize
    }

    /// Whether the connection is this presenter's own (not an application's).
    pub fn owns_display(&self) -> bool {
        self.owns_display
    }

    /// Whether a window (toplevel or embedded) exists.
    pub fn has_window(&self) -> bool {
        lock(&self.shared.inner).window.is_some()
    }

    /// The compositor's offer (formats, feedback, protocols).
    pub fn capabilities(&self) -> Capabilities {
        lock(&self.shared.inner).caps.clone()
    }

    /// Changes whenever new dma-buf feedback arrived.
    pub fn feedback_serial(&self) -> u64 {
        lock(&self.shared.inner).feedback_serial
    }

    pub fn stats(&self) -> PresentStats {
        lock(&self.shared.inner).stats
    }

    /// The connection's error, if it was lost.
    pub fn lost(&self) -> Option<String> {
        lock(&self.shared.inner).lost.clone()
    }

    /// Create the surfaces. For a toplevel, waits for the first configure.
    /// A window that already exists is destroyed first.
    ///
    /// Embedded, the video becomes a subsurface of the application's surface
    /// and that surface is committed once here, so the subsurface and its
    /// position take effect without the application's help.
    pub fn create_window(
        &self,
        target: &WindowTarget,
        video_width: i32,
        video_height: i32,
    ) -> Result<(), WaylandError> {
        self.destroy_window();
        let qh = &self.queue_handle;
        let g = &self.globals;
        // Checked before anything is created, so a bad target leaks nothing.
        let parent = match target {
            WindowTarget::Embedded { parent_surface, .. } => {
                Some(foreign_surface(&self.connection, *parent_surface)?)
            }
            WindowTarget::Toplevel { .. } => None,
        };
        let wm_base = match target {
            WindowTarget::Toplevel { .. } => {
                Some(g.wm_base.as_ref().ok_or(WaylandError::MissingGlobal {
                    interface: "xdg_wm_base",
                    min: 1,
                })?)
            }
            WindowTarget::Embedded { .. } => None,
        };
        let area = g.compositor.create_surface(qh, ());
        let video = g.compositor.create_surface(qh, ());
        let video_subsurface = g.subcompositor.get_subsurface(&video, &area, qh, ());
        // Desynchronised: video commits show without a parent commit.
        video_subsurface.set_desync();
        // Input goes to the area (the video surface takes none); embedded,
        // the area takes none either, so it reaches the application's
        // surface below, which is the application's to handle.
        let empty = g.compositor.create_region(qh, ());
        video.set_input_region(Some(&empty));
        if parent.is_some() {
            area.set_input_region(Some(&empty));
        }
        empty.destroy();
        let area_viewport = g.viewporter.as_ref().map(|v| v.get_viewport(&area, qh, ()));
        let video_viewport = g
            .viewporter
            .as_ref()
            .map(|v| v.get_viewport(&video, qh, ()));
        let background = match (&g.shm, &area_viewport) {
            (Some(shm), Some(_)) => Some(black_pixel(shm, qh)?),
            _ => None,
        };
        let (toplevel, area_subsurface, position, size) = match (target, wm_base, &parent) {
            (WindowTarget::Toplevel { title, fullscreen }, Some(wm_base), _) => {
                let xdg_surface = wm_base.get_xdg_surface(&area, qh, ());
                let toplevel = xdg_surface.get_toplevel(qh, ());
                toplevel.set_title(title.clone());
                toplevel.set_app_id("zc".to_owned());
                if *fullscreen {
                    toplevel.set_fullscreen(None);
                }
                (Some((xdg_surface, toplevel)), None, (0, 0), (0, 0))
            }
            (
                WindowTarget::Embedded {
                    x,
                    y,
                    width,
                    height,
                    ..
                },
                _,
                Some(parent),
            ) => {
                let sub = g.subcompositor.get_subsurface(&area, parent, qh, ());
                sub.set_position(*x, *y);
                sub.set_desync();
                (None, Some(sub), (*x, *y), (*width, *height))
            }
            _ => unreachable!("the parent and wm_base were chosen by the same target"),
        };
        if let (Some(dmabuf), Some(_)) = (
            g.dmabuf.as_ref().filter(|d| d.version() >= 4),
            toplevel.as_ref(),
        ) {
            *lock(&self.surface_feedback) = Some(dmabuf.get_surface_feedback(
                &video,
                qh,
                FeedbackData {
                    scope: FeedbackScope::Surface,
                    builder: Mutex::default(),
                },
            ));
        }
        area.commit();
        {
            let mut inner = lock(&self.shared.inner);
            inner.video_size = (video_width, video_height);
            inner.closed = false;
            inner.window = Some(Window {
                area,
                area_viewport,
                background,
                video,
                video_subsurface,
                video_viewport,
                area_subsurface,
                parent,
                configured: toplevel.is_none(),
                toplevel,
                size,
                pending_size: (0, 0),
            });
            if let Some(window) = inner.window.as_mut().filter(|w| w.configured) {
                layout_window(window, (video_width, video_height));
                if let Some(parent) = &window.parent {
                    log::debug!(
                        "embedded at ({}, {}) size {:?}; committing the parent",
                        position.0,
                        position.1,
                        window.size
                    );
                    parent.commit();
                }
            }
        }
        self.flush()?;
        self.wait_for("the window's first configure", |inner| {
            inner.window.as_ref().is_some_and(|w| w.configured)
        })
    }

    /// Destroy the window (if any): its surfaces go, the compositor releases
    /// what it showed (the frames stay held until it says so). An embedded
    /// video disappears from the application's surface.
    pub fn destroy_window(&self) {
        let (window, next) = {
            let mut inner = lock(&self.shared.inner);
            inner.frame_pending = false;
            inner.closed = false;
            (inner.window.take(), inner.next.take())
        };
        drop(next);
        if let Some(feedback) = lock(&self.surface_feedback).take() {
            feedback.destroy();
        }
        if let Some(window) = window {
            destroy_window_objects(window);
            let _ = self.flush();
        }
    }

    /// A new video size (caps change): the window is laid out again.
    pub fn set_video_size(&self, width: i32, height: i32) -> Result<(), WaylandError> {
        let mut inner = lock(&self.shared.inner);
        inner.video_size = (width, height);
        if let Some(window) = inner.window.as_mut().filter(|w| w.configured) {
            layout_window(window, (width, height));
        }
        drop(inner);
        self.flush()
    }

    /// Move/resize an embedded video (GstVideoOverlay's render rectangle);
    /// a width or height of 0 means the video's own size. Takes effect at
    /// once, also while no new frame comes (paused): the video and its
    /// background are committed, and so is the application's surface, since
    /// a subsurface's position is state of its parent.
    pub fn set_render_rectangle(
        &self,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
    ) -> Result<(), WaylandError> {
        let mut inner = lock(&self.shared.inner);
        let video_size = inner.video_size;
        if let Some(window) = inner.window.as_mut()
            && let (Some(sub), Some(parent)) =
                (window.area_subsurface.clone(), window.parent.clone())
        {
            sub.set_position(x, y);
            window.size = (width, height);
            layout_window(window, video_size);
            parent.commit();
        }
        drop(inner);
        self.flush()
    }

    /// Show the current frame again (GstVideoOverlay's `expose`): commit the
    /// surfaces as they are.
    pub fn expose(&self) -> Result<(), WaylandError> {
        let inner = lock(&self.shared.inner);
        if let Some(window) = inner.window.as_ref().filter(|w| w.configured) {
            window.video.damage_buffer(0, 0, i32::MAX, i32::MAX);
            window.video.commit();
            window.area.commit();
        }
        drop(inner);
        self.flush()
    }

    /// Make a `wl_buffer` for a dma-buf frame: `fds[i]` is buffer `i` of the
    /// layout. The first buffer of each format and modifier is created with
    /// a round trip so that a rejection is an error, not a disconnect;
    /// later ones use `create_immed`.
    pub fn import_dmabuf(
        &self,
        layout: &FrameLayout,
        fds: &[BorrowedFd<'_>],
        allow_implicit: bool,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let dmabuf = self
            .globals
            .dmabuf
            .as_ref()
            .ok_or(WaylandError::MissingGlobal {
                interface: "zwp_linux_dmabuf_v1",
                min: 3,
            })?;
        let (fourcc, modifier) = (layout.fourcc(), layout.modifier());
        if modifier == Modifier::INVALID && !allow_implicit {
            return Err(WaylandError::ImplicitModifier { fourcc });
        }
        let immediate = {
            let inner = lock(&self.shared.inner);
            if let Some(lost) = &inner.lost {
                return Err(WaylandError::ConnectionLost(lost.clone()));
            }
            let pair = FormatModifier { fourcc, modifier };
            if !inner.caps.dmabuf_formats.contains(&pair)
                || inner.rejected.contains(&(fourcc, modifier))
            {
                return Err(WaylandError::FormatNotOffered {
                    fourcc,
                    modifier,
                    offered: describe(&inner.caps.dmabuf_formats),
                });
            }
            inner.proven.contains(&(fourcc, modifier))
        };
        let qh = &self.queue_handle;
        let params_data = Arc::new(ParamsData::default());
        let params = dmabuf.create_params(qh, params_data.clone());
        for (index, plane) in layout.planes().iter().enumerate() {
            let fd = fds
                .get(plane.buffer)
                .ok_or_else(|| WaylandError::ShmLayout {
                    what: format!("plane {index}"),
                    why: format!(
                        "it lives in buffer {} but {} fds were given",
                        plane.buffer,
                        fds.len()
                    ),
                })?;
            params.add(
                *fd,
                index as u32,
                plane.offset as u32,
                plane.stride,
                (modifier.0 >> 32) as u32,
                modifier.0 as u32,
            );
        }
        let (width, height) = (layout.width() as i32, layout.height() as i32);
        let flags = zwp_linux_buffer_params_v1::Flags::empty();
        let buffer = if immediate {
            let buffer =
                params.create_immed(width, height, fourcc.0, flags, qh, BufferData::default());
            params.destroy();
            self.flush()?;
            buffer
        } else {
            params.create(width, height, fourcc.0, flags);
            self.flush()?;
            let mut created = None;
            self.wait_for("the compositor to create a dma-buf wl_buffer", |_| {
                created = lock(&params_data.result).take();
                created.is_some()
            })?;
            params.destroy();
            match created {
                Some(Ok(buffer)) => {
                    lock(&self.shared.inner).proven.insert((fourcc, modifier));
                    buffer
                }
                _ => {
                    lock(&self.shared.inner).rejected.insert((fourcc, modifier));
                    return Err(WaylandError::BufferRejected {
                        fourcc,
                        modifier,
                        width: layout.width(),
                        height: layout.height(),
                    });
                }
            }
        };
        let slot = buffer
            .data::<BufferData>()
            .map(|d| d.slot.clone())
            .unwrap_or_default();
        Ok(self.track(FrameBuffer {
            buffer,
            slot,
            presenter_id: self.id,
            kind: BufferKind::DmaBuf,
        }))
    }

    /// Make a `wl_buffer` over shared memory (a memfd) holding a one-plane
    /// frame, or a multi-plane one whose planes follow each other at
    /// `stride * rows` like wl_shm's YUV formats require.
    pub fn import_shm(
        &self,
        fd: BorrowedFd<'_>,
        size: u64,
        layout: &FrameLayout,
    ) -> Result<Arc<FrameBuffer>, WaylandError> {
        let shm = self
            .globals
            .shm
            .as_ref()
            .ok_or(WaylandError::MissingGlobal {
                interface: "wl_shm",
                min: 1,
            })?;
        let fourcc = layout.fourcc();
        let format = {
            let inner = lock(&self.shared.inner);
            if let Some(lost) = &inner.lost {
                return Err(WaylandError::ConnectionLost(lost.clone()));
            }
            let format = shm_format(fourcc).filter(|_| inner.caps.shm_formats.contains(&fourcc));
            let Some(format) = format else {
                let offered = inner
                    .caps
                    .shm_formats
                    .iter()
                    .map(|f| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(WaylandError::ShmFormatNotOffered { fourcc, offered });
            };
            format
        };
        shm_compatible(layout)?;
        let size = i32::try_from(size).map_err(|_| WaylandError::ShmLayout {
            what: format!("a {size}-byte buffer"),
            why: "wl_shm pools are limited to 2 GiB".to_owned(),
        })?;
        let qh = &self.queue_handle;
        let pool = shm.create_pool(fd, size, qh, ());
        let first = layout.planes()[0];
        let buffer = pool.create_buffer(
            first.offset as i32,
            layout.width() as i32,
            layout.height() as i32,
            first.stride as i32,
            format,
            qh,
            BufferData::default(),
        );
        // The buffer keeps the pool's memory mapped on the compositor side.
        pool.destroy();
        self.flush()?;
        let slot = buffer
            .data::<BufferData>()
            .map(|d| d.slot.clone())
            .unwrap_or_default();
        Ok(self.track(FrameBuffer {
            buffer,
            slot,
            presenter_id: self.id,
            kind: BufferKind::Shm,
        }))
    }

    fn track(&self, buffer: FrameBuffer) -> Arc<FrameBuffer> {
        let buffer = Arc::new(buffer);
        let mut inner = lock(&self.shared.inner);
        inner.buffers.retain(|b| b.strong_count() > 0);
        inner.buffers.push(Arc::downgrade(&buffer));
        buffer
    }

    /// Show a frame. `hold` (e.g. a GstBuffer ref) is kept until the
    /// compositor releases the buffer, so its storage is not reused while
    /// the compositor may still read it. When the compositor has not asked
    /// for a new frame yet, the frame waits; a newer one replaces it.
    ///
    /// `frame_id` tells a new frame from the same frame shown again (a
    /// re-rendered preroll frame): a new frame arriving in a buffer the
    /// compositor still holds is counted in
    /// [`PresentStats::buffers_reused_while_held`].
    pub fn present(
        &self,
        buffer: &Arc<FrameBuffer>,
        frame_id: u64,
        hold: Box<dyn Any + Send>,
    ) -> Result<(), WaylandError> {
        let replaced;
        {
            let mut inner = lock(&self.shared.inner);
            if let Some(lost) = &inner.lost {
                return Err(WaylandError::ConnectionLost(lost.clone()));
            }
            if inner.closed {
                return Err(WaylandError::WindowClosed);
            }
            inner.stats.frames_submitted += 1;
            if buffer.slot.holds_other_frame(frame_id) {
                // The producer had this storage back and wrote a new frame
                // into it while the compositor could still read the old one.
                inner.stats.buffers_reused_while_held += 1;
                log::error!("a frame arrived in a buffer the compositor still holds");
            }
            if inner.frame_pending {
                replaced = inner.next.replace((buffer.clone(), frame_id, hold));
                if replaced.is_some() {
                    inner.stats.frames_replaced += 1;
                }
            } else {
                replaced = None;
                commit_frame(
                    &mut inner,
                    &self.globals,
                    &self.queue_handle,
                    buffer.clone(),
                    frame_id,
                    hold,
                );
            }
        }
        // A replaced frame's hold is dropped here, outside the lock.
        drop(replaced);
        self.flush()
    }

    /// Wait until the compositor released every buffer (or `timeout`).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = lock(&self.shared.inner);
        loop {
            inner
                .busy
                .retain(|slot| slot.upgrade().is_some_and(|s| s.is_busy()));
            if inner.busy.is_empty() && inner.next.is_none() || inner.lost.is_some() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn flush(&self) -> Result<(), WaylandError> {
        match self.connection.flush() {
            Ok(()) => Ok(()),
            // A full socket is retried by the dispatch thread's flush.
            Err(wayland_client::backend::WaylandError::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                mark_lost(&self.shared, &reason);
                Err(WaylandError::ConnectionLost(reason))
            }
        }
    }

    /// Block until `ready` holds, the connection is lost, or the timeout.
    fn wait_for(
        &self,
        what: &'static str,
        mut ready: impl FnMut(&Inner) -> bool,
    ) -> Result<(), WaylandError> {
        let deadline = Instant::now() + COMPOSITOR_TIMEOUT;
        let mut inner = lock(&self.shared.inner);
        loop {
            if ready(&inner) {
                return Ok(());
            }
            if let Some(lost) = &inner.lost {
                return Err(WaylandError::ConnectionLost(lost.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaylandError::Timeout {
                    what,
                    seconds: COMPOSITOR_TIMEOUT.as_secs(),
                });
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, (deadline - now).min(Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Presenter {
    fn drop(&mut self) {
        // Stop the dispatch thread first, so no handler runs during teardown.
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our own eventfd.
        unsafe { libc::write(self.stop.as_raw_fd(), (&raw const one).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let (window, next, busy, buffers) = {
            let mut inner = lock(&self.shared.inner);
            (
                inner.window.take(),
                inner.next.take(),
                std::mem::take(&mut inner.busy),
                std::mem::take(&mut inner.buffers),
            )
        };
        drop(next);
        if let Some(feedback) = lock(&self.surface_feedback).take() {
            feedback.destroy();
        }
        if let Some(window) = window {
            destroy_window_objects(window);
        }
        // On an application's display the connection lives on: leave
        // nothing behind on it. wl_buffers cached on frames that outlive us
        // are destroyed now (their later drop is then a no-op), so the
        // compositor lets go of the frames' memory; the registry and
        // wl_compositor have no destructor.
        for buffer in buffers.iter().filter_map(Weak::upgrade) {
            buffer.buffer.destroy();
        }
        let g = &self.globals;
        g.subcompositor.destroy();
        if let Some(dmabuf) = &g.dmabuf {
            dmabuf.destroy();
        }
        if let Some(wm_base) = &g.wm_base {
            wm_base.destroy();
        }
        if let Some(viewporter) = &g.viewporter {
            viewporter.destroy();
        }
        if let Some(presentation) = &g.presentation {
            presentation.destroy();
        }
        let _ = self.connection.flush();
        // What the compositor still held is given back: our surfaces and
        // buffers are gone (or the connection closes with this presenter),
        // and the compositor drops its references with them.
        for slot in busy.iter().filter_map(Weak::upgrade) {
            slot.release();
        }
    }
}

/// Destroy a window's protocol objects, children before parents.
fn destroy_window_objects(window: Window) {
    if let Some(v) = window.video_viewport {
        v.destroy();
    }
    window.video_subsurface.destroy();
    window.video.destroy();
    if let Some(v) = window.area_viewport {
        v.destroy();
    }
    if let Some((xdg_surface, toplevel)) = window.toplevel {
        toplevel.destroy();
        xdg_surface.destroy();
    }
    if let Some(sub) = window.area_subsurface {
        sub.destroy();
    }
    window.area.destroy();
    if let Some(background) = window.background {
        background.destroy();
    }
    // The application's surface now shows its own content where the video
    // was; it is the application's to commit (it is destroying our part of
    // it, e.g. on stop, and will draw or commit as it sees fit).
}

fn describe(formats: &BTreeSet<FormatModifier>) -> String {
    if formats.is_empty() {
        return "nothing".to_owned();
    }
    formats
        .iter()
        .map(|f| format!("{}:{}", f.fourcc, f.modifier))
        .collect::<Vec<_>>()
        .join(", ")
}

/// wl_shm buffers have one offset and one stride: the planes must follow at
/// `stride * rows` with chroma strides derived from the luma one.
fn shm_compatible(layout: &FrameLayout) -> Result<(), WaylandError> {
    let format: &FormatInfo = layout.format();
    let planes = layout.planes();
    let first = planes[0];
    let mut expected_offset = first.offset;
    for (index, plane) in planes.iter().enumerate() {
        let expected_stride = (u64::from(first.stride) * format.row_bytes(index, 2)
            / format.row_bytes(0, 2).max(1)) as u32;
        if plane.buffer != 0 || plane.offset != expected_offset || plane.stride != expected_stride {
            return Err(WaylandError::ShmLayout {
                what: format!(
                    "a {} frame with plane {index} at offset {} stride {}",
                    layout.fourcc(),
                    plane.offset,
                    plane.stride
                ),
                why: format!(
                    "wl_shm needs it at offset {expected_offset} stride {expected_stride} in the same buffer"
                ),
            });
        }
        expected_offset +=
            u64::from(plane.stride) * u64::from(format.plane_rows(index, layout.height()));
    }
    Ok(())
}

fn shm_format(fourcc: Fourcc) -> Option<wl_shm::Format> {
    let code = match fourcc {
        Fourcc::ARGB8888 => 0,
        Fourcc::XRGB8888 => 1,
        other => other.0,
    };
    wl_shm::Format::try_from(code).ok()
}

fn fourcc_from_shm(format: WEnum<wl_shm::Format>) -> Fourcc {
    match u32::from(format) {
        0 => Fourcc::ARGB8888,
        1 => Fourcc::XRGB8888,
        code => Fourcc(code),
    }
}

/// A 1x1 black XRGB8888 buffer, scaled by the viewport to fill the window.
fn black_pixel(shm: &WlShm, qh: &QueueHandle<State>) -> Result<WlBuffer, WaylandError> {
    let fd = memfd_with_zeros(4)?;
    let pool = shm.create_pool(fd.as_fd(), 4, qh, ());
    let buffer = pool.create_buffer(
        0,
        1,
        1,
        4,
        wl_shm::Format::Xrgb8888,
        qh,
        BufferData::default(),
    );
    pool.destroy();
    Ok(buffer)
}

fn memfd_with_zeros(size: i64) -> Result<OwnedFd, WaylandError> {
    // SAFETY: a NUL-terminated name and valid flags; the returned fd is new
    // and ours alone.
    let raw = unsafe { libc::memfd_create(c"zc-black".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `raw` was just returned by memfd_create and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ftruncate on our own valid fd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size) } < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(fd)
}

fn eventfd() -> Result<OwnedFd, WaylandError> {
    // SAFETY: plain syscall with valid flags; the fd is new and ours alone.
    let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `raw` was just returned by eventfd and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn foreign_surface(connection: &Connection, pointer: usize) -> Result<WlSurface, WaylandError> {
    if pointer == 0 {
        return Err(WaylandError::BadWindowHandle {
            handle: 0,
            why: "it is null; give a `struct wl_surface *`".to_owned(),
        });
    }
    // SAFETY: the application passed its `struct wl_surface *` on the same
    // display it shared with us (GstVideoOverlay's contract), and keeps it
    // alive while the sink draws into it. `from_ptr` checks the proxy's
    // interface name before using it as a surface.
    let id = unsafe {
        wayland_backend::client::ObjectId::from_ptr(WlSurface::interface(), pointer as *mut _)
    }
    .map_err(|_| WaylandError::BadWindowHandle {
        handle: pointer,
        why: "it is not a wl_surface".to_owned(),
    })?;
    WlSurface::from_id(connection, id).map_err(|_| WaylandError::BadWindowHandle {
        handle: pointer,
        why: "the wl_surface is no longer alive".to_owned(),
    })
}

/// Fit `video` into `area` keeping its aspect ratio: (x, y, width, height).
pub fn fit(area: (i32, i32), video: (i32, i32)) -> (i32, i32, i32, i32) {
    let (aw, ah) = (i64::from(area.0.max(1)), i64::from(area.1.max(1)));
    let (vw, vh) = (i64::from(video.0.max(1)), i64::from(video.1.max(1)));
    let (w, h) = if aw * vh <= ah * vw {
        (aw, (aw * vh / vw).max(1))
    } else {
        ((ah * vw / vh).max(1), ah)
    };
    (
        ((aw - w) / 2) as i32,
        ((ah - h) / 2) as i32,
        w as i32,
        h as i32,
    )
}

/// Size the background to the window and place the video inside it. The
/// video surface is committed too: its viewport size is its own state, and
/// no new frame may come to apply it (paused).
fn layout_window(window: &mut Window, video: (i32, i32)) {
    let area = if window.size.0 > 0 && window.size.1 > 0 {
        window.size
    } else {
        video
    };
    let (x, y, w, h) = fit(area, video);
    window.video_subsurface.set_position(x, y);
    if let Some(viewport) = &window.video_viewport {
        viewport.set_destination(w, h);
        window.video.commit();
    }
    if let (Some(viewport), Some(background)) = (&window.area_viewport, &window.background) {
        window.area.attach(Some(background), 0, 0);
        viewport.set_destination(area.0, area.1);
        window.area.damage_buffer(0, 0, 1, 1);
    }
    window.area.commit();
}

fn commit_frame(
    inner: &mut Inner,
    globals: &Globals,
    qh: &QueueHandle<State>,
    buffer: Arc<FrameBuffer>,
    frame_id: u64,
    hold: Box<dyn Any + Send>,
) {
    let Some(window) = inner.window.as_ref() else {
        return;
    };
    let video = window.video.clone();
    {
        let mut slot_hold = lock(&buffer.slot.hold);
        // The previous hold of the same buffer (same storage) is replaced;
        // the compositor releases a buffer once however often it is attached.
        *slot_hold = Some((frame_id, hold));
    }
    inner.busy.retain(|slot| slot.strong_count() > 0);
    if !inner
        .busy
        .iter()
        .any(|slot| std::ptr::eq(slot.as_ptr(), Arc::as_ptr(&buffer.slot)))
    {
        inner.busy.push(Arc::downgrade(&buffer.slot));
    }
    video.attach(Some(&buffer.buffer), 0, 0);
    video.damage_buffer(0, 0, i32::MAX, i32::MAX);
    video.frame(qh, ());
    if let Some(presentation) = &globals.presentation {
        presentation.feedback(
            &video,
            qh,
            PresentationData {
                committed_ns: now_ns(inner.presentation_clock),
            },
        );
    }
    video.commit();
    inner.frame_pending = true;
    inner.stats.frames_committed += 1;
}

fn mark_lost(shared: &Shared, reason: &str) {
    let (next, busy) = {
        let mut inner = lock(&shared.inner);
        if inner.lost.is_none() {
            inner.lost = Some(reason.to_owned());
        }
        (inner.next.take(), std::mem::take(&mut inner.busy))
    };
    drop(next);
    // Nothing will be released by a compositor that is gone.
    for slot in busy.iter().filter_map(Weak::upgrade) {
        slot.release();
    }
    shared.changed.notify_all();
}

fn dispatch_loop(
    connection: Connection,
    mut queue: EventQueue<State>,
    mut state: State,
    stop: Arc<OwnedFd>,
) {
    let shared = state.shared.clone();
    loop {
        if let Err(e) = queue.dispatch_pending(&mut state) {
            mark_lost(&shared, &e.to_string());
            return;
        }
        match connection.flush() {
            Ok(()) => {}
            Err(wayland_client::backend::WaylandError::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => {
                mark_lost(&shared, &e.to_string());
                return;
            }
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        let mut fds = [
            libc::pollfd {
                fd: guard.connection_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfds for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
        if ready < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            mark_lost(&shared, &error.to_string());
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        if fds[0].revents != 0
            && let Err(e) = guard.read()
        {
            match e {
                wayland_client::backend::WaylandError::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock => {}
                other => {
                    mark_lost(&shared, &other.to_string());
                    return;
                }
            }
        }
    }
}

// ---- event handlers -------------------------------------------------------

impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSubcompositor);
delegate_noop!(State: ignore WlSubsurface);
delegate_noop!(State: ignore WlShmPool);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore WpViewporter);
delegate_noop!(State: ignore WpViewport);
delegate_noop!(State: ignore wayland_client::protocol::wl_region::WlRegion);

impl Dispatch<WlShm, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlShm,
        event: wl_shm::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_shm::Event::Format { format } = event {
            lock(&state.shared.inner)
                .caps
                .shm_formats
                .insert(fourcc_from_shm(format));
        }
    }
}

impl Dispatch<WlBuffer, BufferData> for State {
    fn event(
        state: &mut Self,
        _: &WlBuffer,
        event: wl_buffer::Event,
        data: &BufferData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            data.slot.release();
            state.shared.changed.notify_all();
        }
    }
}

impl Dispatch<WlCallback, ()> for State {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            let mut inner = lock(&state.shared.inner);
            inner.frame_pending = false;
            if let Some((buffer, frame_id, hold)) = inner.next.take() {
                commit_frame(&mut inner, &state.globals, qh, buffer, frame_id, hold);
            }
            drop(inner);
            state.shared.changed.notify_all();
        }
    }
}

impl Dispatch<XdgWmBase, ()> for State {
    fn event(
        _: &mut Self,
        wm_base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for State {
    fn event(
        state: &mut Self,
        xdg_surface: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
            let mut inner = lock(&state.shared.inner);
            let video = inner.video_size;
            if let Some(window) = inner.window.as_mut() {
                window.configured = true;
                if window.pending_size.0 > 0 && window.pending_size.1 > 0 {
                    window.size = window.pending_size;
                }
                layout_window(window, video);
            }
            drop(inner);
            state.shared.changed.notify_all();
        }
    }
}

impl Dispatch<XdgToplevel, ()> for State {
    fn event(
        state: &mut Self,
        _: &XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut inner = lock(&state.shared.inner);
        match event {
            xdg_toplevel::Event::Configure { width, height, .. } => {
                if let Some(window) = inner.window.as_mut() {
                    window.pending_size = (width, height);
                }
            }
            xdg_toplevel::Event::Close => {
                inner.closed = true;
                drop(inner);
                state.shared.changed.notify_all();
            }
            _ => {}
        }
    }
}

impl Dispatch<WpPresentation, ()> for State {
    fn event(
        state: &mut Self,
        _: &WpPresentation,
        event: wp_presentation::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wp_presentation::Event::ClockId { clk_id } = event {
            lock(&state.shared.inner).presentation_clock = clk_id as libc::clockid_t;
        }
    }
}

impl Dispatch<WpPresentationFeedback, PresentationData> for State {
    fn event(
        state: &mut Self,
        _: &WpPresentationFeedback,
        event: wp_presentation_feedback::Event,
        data: &PresentationData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut inner = lock(&state.shared.inner);
        match event {
            wp_presentation_feedback::Event::Presented {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
                flags,
                ..
            } => {
                let seconds = (u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo);
                let presented_ns = seconds * 1_000_000_000 + u64::from(tv_nsec);
                inner.stats.frames_presented += 1;
                inner.stats.latency_ns_total += presented_ns.saturating_sub(data.committed_ns);
                let zero_copy = match flags {
                    WEnum::Value(kind) => kind.contains(wp_presentation_feedback::Kind::ZeroCopy),
                    WEnum::Unknown(bits) => bits & 0x8 != 0,
                };
                if zero_copy {
                    inner.stats.frames_presented_zero_copy += 1;
                }
            }
            wp_presentation_feedback::Event::Discarded => inner.stats.frames_discarded += 1,
            _ => {}
        }
    }
}

impl Dispatch<ZwpLinuxDmabufV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufV1,
        event: zwp_linux_dmabuf_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut inner = lock(&state.shared.inner);
        match event {
            // v3: formats arrive as events (v4+ sends none of these).
            zwp_linux_dmabuf_v1::Event::Modifier {
                format,
                modifier_hi,
                modifier_lo,
            } => {
                let modifier = Modifier((u64::from(modifier_hi) << 32) | u64::from(modifier_lo));
                inner.caps.dmabuf_formats.insert(FormatModifier {
                    fourcc: Fourcc(format),
                    modifier,
                });
            }
            zwp_linux_dmabuf_v1::Event::Format { format } => {
                inner.caps.dmabuf_formats.insert(FormatModifier {
                    fourcc: Fourcc(format),
                    modifier: Modifier::INVALID,
                });
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwpLinuxBufferParamsV1, Arc<ParamsData>> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferParamsV1,
        event: zwp_linux_buffer_params_v1::Event,
        data: &Arc<ParamsData>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let result = match event {
            zwp_linux_buffer_params_v1::Event::Created { buffer } => Ok(buffer),
            zwp_linux_buffer_params_v1::Event::Failed => Err(()),
            _ => return,
        };
        *lock(&data.result) = Some(result);
        state.shared.changed.notify_all();
    }

    wayland_client::event_created_child!(State, ZwpLinuxBufferParamsV1, [
        zwp_linux_buffer_params_v1::EVT_CREATED_OPCODE => (WlBuffer, BufferData::default())
    ]);
}

impl Dispatch<ZwpLinuxDmabufFeedbackV1, FeedbackData> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxDmabufFeedbackV1,
        event: zwp_linux_dmabuf_feedback_v1::Event,
        data: &FeedbackData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwp_linux_dmabuf_feedback_v1::Event;
        let mut builder = lock(&data.builder);
        match event {
            Event::FormatTable { fd, size } => match FormatTable::read(fd, size) {
                Ok(table) => builder.table = Some(table),
                Err(e) => builder.error = Some(e.to_string()),
            },
            Event::MainDevice { device } => builder.main_device = dev_from_array(&device),
            Event::TrancheTargetDevice { device } => {
                builder.tranche.target_device = dev_from_array(&device)
            }
            Event::TrancheFlags { flags } => {
                builder.tranche.scanout = match flags {
                    WEnum::Value(f) => {
                        f.contains(zwp_linux_dmabuf_feedback_v1::TrancheFlags::Scanout)
                    }
                    WEnum::Unknown(bits) => bits & 1 != 0,
                };
            }
            Event::TrancheFormats { indices } => {
                let resolved = builder.table.as_ref().map(|t| t.resolve(&indices));
                match resolved {
                    Some(Ok(formats)) => builder.tranche.formats.extend(formats),
                    Some(Err(e)) => builder.error = Some(e.to_string()),
                    None => {
                        builder.error = Some("tranche formats before any format table".to_owned())
                    }
                }
            }
            Event::TrancheDone => {
                let tranche = std::mem::take(&mut builder.tranche);
                builder.tranches.push(tranche);
            }
            Event::Done => {
                let feedback = Feedback {
                    main_device: builder.main_device,
                    tranches: std::mem::take(&mut builder.tranches),
                };
                if let Some(error) = builder.error.take() {
                    log::warn!("ignoring dma-buf feedback: {error}");
                    return;
                }
                drop(builder);
                let mut inner = lock(&state.shared.inner);
                // Surface feedback wins over the default once it exists.
                let is_surface = data.scope == FeedbackScope::Surface;
                if is_surface {
                    inner.surface_feedback_seen = true;
                }
                if inner.caps.feedback.as_ref() != Some(&feedback)
                    && (is_surface || !inner.surface_feedback_seen)
                {
                    inner.caps.dmabuf_formats = feedback.formats();
                    inner.caps.feedback = Some(feedback);
                    inner.feedback_serial += 1;
                }
                drop(inner);
                state.shared.changed.notify_all();
            }
            _ => {}
        }
    }
}
