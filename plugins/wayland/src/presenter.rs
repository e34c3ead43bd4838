//! A video surface on a compositor: dma-buf frames imported once as
//! `wl_buffer`s, committed at the compositor's pace, held until released.
//!
//! Threads: the caller (a GStreamer streaming thread) creates buffers and
//! presents frames; a dispatch thread reads the compositor's events (frame
//! callbacks, releases, presentation feedback, configure) and commits the
//! frame that waited for a frame callback. Both share [`Inner`] under one
//! mutex; Wayland requests are sent from either thread, which
//! wayland-client allows.
//!
//! Explicit sync: a commit's release fence (`fenced_release`) is not waited
//! on; the dispatch thread polls it with the connection and hands the frame
//! back once it signalled. The alternative, importing it into the dma-buf
//! as a write fence so the next writer waits, was not taken: a frame's
//! pool must only get it back once every consumer is done (the project's
//! rule), and producers that ignore implicit fences (CPU writers without
//! a bracket, Vulkan with explicit sync) would not wait.
//!
//! On an application's display (embedding) the presenter has its own event
//! queue, never dispatches the application's, destroys everything it made
//! when it goes (the compositor confirms with a round trip) and never
//! disconnects.

use std::any::Any;
use std::collections::{BTreeSet, HashSet};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
use wayland_protocols::wp::linux_explicit_synchronization::zv1::client::{
    zwp_linux_buffer_release_v1::{self, ZwpLinuxBufferReleaseV1},
    zwp_linux_explicit_synchronization_v1::ZwpLinuxExplicitSynchronizationV1,
    zwp_linux_surface_synchronization_v1::ZwpLinuxSurfaceSynchronizationV1,
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
use crate::watchdog::Watchdog;

/// How long to wait for the compositor before calling it gone. Generous:
/// under software emulation one round trip can take over a second.
const COMPOSITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// How long teardown waits for the compositor to have processed our
/// destroy requests. Bounded, so a stuck compositor cannot hang a state
/// change forever (a lost one answers at once), but as generous as every
/// other wait: a busy compositor under software emulation took over 5 s.
const TEARDOWN_TIMEOUT: Duration = COMPOSITOR_TIMEOUT;

/// How long [`Presenter::connect`] waits for the compositor to answer its
/// set-up round trips before giving up (a socket whose owner accepts and
/// never answers). Generous for software emulation, where one round trip
/// can take over a second.
pub const CONNECT_TIMEOUT: Duration = COMPOSITOR_TIMEOUT;

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
    /// Commits that carried an acquire fence (explicit sync).
    pub acquire_fences: u64,
    /// Releases that came with a fence, waited for before the frame went back.
    pub fenced_releases: u64,
    /// Releases the compositor said needed no fence.
    pub immediate_releases: u64,
}

impl PresentStats {
    pub fn mean_latency_us(&self) -> u64 {
        self.latency_ns_total
            .checked_div(self.frames_presented)
            .map_or(0, |ns| ns / 1000)
    }
}

/// How a frame's lines are laid out in time: linux-dmabuf's buffer flags
/// `INTERLACED` and `BOTTOM_FIRST`. A compositor that cannot show
/// interlaced content refuses such buffers (`failed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Interlacing {
    #[default]
    Progressive,
    /// Both fields woven in one frame, the top one first.
    TopFieldFirst,
    /// Both fields woven in one frame, the bottom one first.
    BottomFieldFirst,
}

impl Interlacing {
    fn flags(self) -> zwp_linux_buffer_params_v1::Flags {
        use zwp_linux_buffer_params_v1::Flags;
        match self {
            Interlacing::Progressive => Flags::empty(),
            Interlacing::TopFieldFirst => Flags::Interlaced,
            Interlacing::BottomFieldFirst => Flags::Interlaced | Flags::BottomFirst,
        }
    }
}

impl std::fmt::Display for Interlacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interlacing::Progressive => "progressive",
            Interlacing::TopFieldFirst => "interlaced, top field first",
            Interlacing::BottomFieldFirst => "interlaced, bottom field first",
        })
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
    /// `zwp_linux_explicit_synchronization_v1` version bound (0: none).
    pub explicit_sync_version: u32,
}

/// A `wl_buffer` for one frame's storage, created once and reused for as
/// long as that storage lives. Dropping it destroys the `wl_buffer`.
pub struct FrameBuffer {
    buffer: WlBuffer,
    slot: Arc<Slot>,
    presenter_id: u64,
    kind: BufferKind,
    /// The visible width and height when the wl_buffer is taller than the
    /// picture (a decoder's padding rows): shown through the viewport's
    /// source rectangle.
    crop: Option<(u32, u32)>,
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
/// handed in with the frame (e.g. a GstBuffer ref), kept until the
/// compositor is done with the buffer.
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The frame id and hold of the frame last committed in this buffer.
    hold: Option<(u64, Box<dyn Any + Send>)>,
    /// Attached and not yet given back with `wl_buffer.release`.
    attached: bool,
    /// Explicit-sync releases still to come or to signal: one per commit
    /// that asked for a `zwp_linux_buffer_release_v1`, until its
    /// `immediate_release`, or until the fence of its `fenced_release`
    /// signalled. (The compositor sends `wl_buffer.release` as well.)
    releases_pending: usize,
}

impl Slot {
    fn is_busy(&self) -> bool {
        lock(&self.state).hold.is_some()
    }

    fn holds_other_frame(&self, frame_id: u64) -> bool {
        lock(&self.state)
            .hold
            .as_ref()
            .is_some_and(|(held, _)| *held != frame_id)
    }

    /// A commit attached the buffer with `hold`; `release_requested` when it
    /// also asked for an explicit-sync release. Returns the previous hold
    /// of the same storage, for the caller to drop outside the lock.
    fn attach(
        &self,
        frame_id: u64,
        hold: Box<dyn Any + Send>,
        release_requested: bool,
    ) -> Option<(u64, Box<dyn Any + Send>)> {
        let mut state = lock(&self.state);
        state.attached = true;
        if release_requested {
            state.releases_pending += 1;
        }
        state.hold.replace((frame_id, hold))
    }

    /// `wl_buffer.release`.
    fn buffer_released(&self) {
        let mut state = lock(&self.state);
        state.attached = false;
        let done = state.take_if_done();
        drop(state);
        drop(done);
    }

    /// One explicit-sync release completed (immediate, or its fence signalled).
    fn release_completed(&self) {
        let mut state = lock(&self.state);
        state.releases_pending = state.releases_pending.saturating_sub(1);
        let done = state.take_if_done();
        drop(state);
        drop(done);
    }

    /// Give the frame back now: the compositor is gone, or so is the
    /// window and connection. Dropped outside the lock: dropping a
    /// GstBuffer can run a pool's release code.
    fn release(&self) {
        let hold = {
            let mut state = lock(&self.state);
            state.attached = false;
            state.releases_pending = 0;
            state.hold.take()
        };
        drop(hold);
    }
}

impl SlotState {
    fn take_if_done(&mut self) -> Option<(u64, Box<dyn Any + Send>)> {
        if self.attached || self.releases_pending > 0 {
            None
        } else {
            self.hold.take()
        }
    }
}

/// The explicit-sync release of one commit of one buffer.
struct ReleaseData {
    slot: Arc<Slot>,
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
    proven: HashSet<(Fourcc, Modifier, Interlacing)>,
    /// Pairs the compositor refused (`failed`).
    rejected: HashSet<(Fourcc, Modifier, Interlacing)>,
    window: Option<Window>,
    video_size: (i32, i32),
    frame_pending: bool,
    next: Option<PendingFrame>,
    /// Use explicit sync on the next window, when the compositor has it.
    explicit_sync: bool,
    busy: Vec<Weak<Slot>>,
    /// Every wl_buffer made, to destroy those still cached when we go.
    buffers: Vec<Weak<FrameBuffer>>,
    stats: PresentStats,
    presentation_clock: libc::clockid_t,
    lost: Option<String>,
    closed: bool,
    surface_feedback_seen: bool,
}

/// A frame waiting for the compositor's frame callback.
struct PendingFrame {
    buffer: Arc<FrameBuffer>,
    frame_id: u64,
    hold: Box<dyn Any + Send>,
    /// The producer's fence (a sync_file): the compositor waits for it
    /// before reading the buffer. Closed if the frame is replaced.
    acquire_fence: Option<OwnedFd>,
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
    /// Explicit sync for the video surface, when the compositor has it.
    video_sync: Option<ZwpLinuxSurfaceSynchronizationV1>,
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
    /// The video viewport's source rectangle now (None: the whole buffer).
    video_source: Option<(u32, u32)>,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
}

/// The dispatch state: every event handler reaches the shared state here.
struct State {
    shared: Arc<Shared>,
    globals: Globals,
    /// Release fences from `fenced_release`, polled by the dispatch loop
    /// (never waited on): the frame goes back once its fence signalled.
    release_fences: Vec<(OwnedFd, Arc<Slot>)>,
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
    explicit_sync: Option<ZwpLinuxExplicitSynchronizationV1>,
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

/// What set-up hands the dispatch thread and the presenter.
type SetUp = (
    EventQueue<State>,
    State,
    Globals,
    Arc<Shared>,
    QueueHandle<State>,
);

/// A connection, and for our own socket (not an application's display) the
/// watchdog that bounds its set-up, with the socket's path.
fn connect(
    target: &DisplayTarget,
    timeout: Duration,
) -> Result<(Connection, Option<(Watchdog, String)>), WaylandError> {
    let name = match target {
        DisplayTarget::Foreign(pointer) => {
            // SAFETY: GstVideoOverlay/GstContext hand us the application's
            // `struct wl_display *`, which the application keeps alive for
            // as long as it uses the sink (the documented contract of
            // embedding); the foreign backend never disconnects it.
            let backend = unsafe {
                wayland_backend::client::Backend::from_foreign_display(*pointer as *mut _)
            };
            // No watchdog: shutting the application's socket down would
            // break the application's own connection.
            return Ok((Connection::from_backend(backend), None));
        }
        DisplayTarget::Name(name) => name.clone(),
        DisplayTarget::Environment => {
            std::env::var("WAYLAND_DISPLAY").unwrap_or_else(|_| "wayland-0".to_owned())
        }
    };
    let path = socket_path(&name)?;
    let no_display = |reason: String| WaylandError::NoDisplay {
        name: name.clone(),
        path: path.display().to_string(),
        reason,
    };
    let stream = UnixStream::connect(&path).map_err(|e| no_display(e.to_string()))?;
    let dup = stream.try_clone().map_err(|e| no_display(e.to_string()))?;
    let watchdog = Watchdog::arm(dup, timeout)?;
    let connection = Connection::from_socket(stream).map_err(|e| no_display(e.to_string()))?;
    Ok((connection, Some((watchdog, path.display().to_string()))))
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
    /// Connect, read the compositor's globals and formats (three round
    /// trips, within [`CONNECT_TIMEOUT`]), and start the dispatch thread.
    pub fn connect(target: &DisplayTarget) -> Result<Presenter, WaylandError> {
        Presenter::connect_within(target, CONNECT_TIMEOUT)
    }

    /// [`Presenter::connect`], giving up when the compositor has not
    /// answered the set-up round trips within `timeout`. (On an
    /// application's display there is no deadline: its connection is not
    /// ours to shut down.)
    pub fn connect_within(
        target: &DisplayTarget,
        timeout: Duration,
    ) -> Result<Presenter, WaylandError> {
        let (connection, watchdog) = connect(target, timeout)?;
        let set_up = Presenter::set_up(&connection);
        if let Some((watchdog, path)) = watchdog
            && watchdog.disarm()
        {
            return Err(WaylandError::ConnectTimeout { path, timeout });
        }
        let (queue, state, globals, shared, qh) = set_up?;
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

    /// Bind the globals and read the formats: the round trips of set-up.
    fn set_up(connection: &Connection) -> Result<SetUp, WaylandError> {
        let (global_list, mut queue) = registry_queue_init::<State>(connection)
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
            explicit_sync: bind_optional(&global_list, &qh, 1..=2, ()),
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                caps: Capabilities {
                    dmabuf_version: globals.dmabuf.as_ref().map_or(0, |d| d.version()),
                    has_viewporter: globals.viewporter.is_some(),
                    has_presentation: globals.presentation.is_some(),
                    explicit_sync_version: globals
                        .explicit_sync
                        .as_ref()
                        .map_or(0, |e| e.version()),
                    ..Capabilities::default()
                },
                feedback_serial: 0,
                proven: HashSet::new(),
                rejected: HashSet::new(),
                window: None,
                video_size: (0, 0),
                frame_pending: false,
                next: None,
                explicit_sync: true,
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
            release_fences: Vec::new(),
        };
        // One round trip delivers the format events; the feedback's format
        // table arrives with the second.
        for _ in 0..2 {
            queue
                .roundtrip(&mut state)
                .map_err(|e| WaylandError::ConnectionLost(e.to_string()))?;
        }
        Ok((queue, state, globals, shared, qh))
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

    /// Whether the next window uses explicit sync
    /// (`zwp_linux_explicit_synchronization_v1`) for dma-buf frames when the
    /// compositor offers it: acquire fences from [`Presenter::present`], and
    /// frames held until the compositor's release fence signalled. On by
    /// default; off, the dma-bufs' implicit fences do the job.
    pub fn set_explicit_sync(&self, enabled: bool) {
        lock(&self.shared.inner).explicit_sync = enabled;
    }

    /// Whether the current window uses explicit sync.
    pub fn uses_explicit_sync(&self) -> bool {
        lock(&self.shared.inner)
            .window
            .as_ref()
            .is_some_and(|w| w.video_sync.is_some())
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
        let video_sync = g
            .explicit_sync
            .as_ref()
            .filter(|_| lock(&self.shared.inner).explicit_sync)
            .map(|e| e.get_synchronization(&video, qh, ()));
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
                video_sync,
                area_subsurface,
                parent,
                configured: toplevel.is_none(),
                toplevel,
                size,
                pending_size: (0, 0),
                video_source: None,
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
            // Let the compositor take the window down before the caller
            // goes on (and, say, disconnects): a surface unmapped by its
            // client is the path compositors know best, and the buffers it
            // showed are let go of before their frames are reused.
            if !self.sync(TEARDOWN_TIMEOUT) {
                log::warn!(
                    "the compositor did not confirm the window's destruction within {} s",
                    TEARDOWN_TIMEOUT.as_secs()
                );
            }
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
    /// layout. The first buffer of each format, modifier and interlacing is
    /// created with a round trip so that a rejection is an error, not a
    /// disconnect; later ones use `create_immed`. A combination the
    /// compositor refused once is refused from then on without asking.
    pub fn import_dmabuf(
        &self,
        layout: &FrameLayout,
        fds: &[BorrowedFd<'_>],
        allow_implicit: bool,
        interlacing: Interlacing,
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
        let rejected = WaylandError::BufferRejected {
            fourcc,
            modifier,
            width: layout.width(),
            height: layout.height(),
            interlacing,
        };
        let key = (fourcc, modifier, interlacing);
        let immediate = {
            let inner = lock(&self.shared.inner);
            if let Some(lost) = &inner.lost {
                return Err(WaylandError::ConnectionLost(lost.clone()));
            }
            let pair = FormatModifier { fourcc, modifier };
            if !inner.caps.dmabuf_formats.contains(&pair) {
                return Err(WaylandError::FormatNotOffered {
                    fourcc,
                    modifier,
                    offered: describe(&inner.caps.dmabuf_formats),
                });
            }
            if inner.rejected.contains(&key) {
                return Err(rejected);
            }
            inner.proven.contains(&key)
        };
        if let Some((index, plane)) = layout
            .planes()
            .iter()
            .enumerate()
            .find(|(_, plane)| plane.buffer >= fds.len())
        {
            return Err(WaylandError::ShmLayout {
                what: format!("plane {index}"),
                why: format!(
                    "it lives in buffer {} but {} fds were given",
                    plane.buffer,
                    fds.len()
                ),
            });
        }
        let qh = &self.queue_handle;
        let params_data = Arc::new(ParamsData::default());
        let params = dmabuf.create_params(qh, params_data.clone());
        for (index, plane) in layout.planes().iter().enumerate() {
            params.add(
                fds[plane.buffer],
                index as u32,
                plane.offset as u32,
                plane.stride,
                (modifier.0 >> 32) as u32,
                modifier.0 as u32,
            );
        }
        let (width, height) = (layout.width() as i32, layout.height() as i32);
        let flags = interlacing.flags();
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
                    lock(&self.shared.inner).proven.insert(key);
                    buffer
                }
                _ => {
                    lock(&self.shared.inner).rejected.insert(key);
                    return Err(rejected);
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
            crop: None,
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
        let rows = shm_compatible(layout, size)?;
        let crop = (rows != layout.height()).then_some((layout.width(), layout.height()));
        if crop.is_some() && self.globals.viewporter.is_none() {
            return Err(WaylandError::ShmLayout {
                what: format!(
                    "a {} frame stored in {rows} rows for {} visible",
                    layout.fourcc(),
                    layout.height()
                ),
                why: "without wp_viewporter the padding rows cannot be cropped off".to_owned(),
            });
        }
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
            rows as i32,
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
            crop,
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
    /// compositor released the buffer (and, with explicit sync, until its
    /// release fence signalled), so its storage is not reused while the
    /// compositor may still read it. When the compositor has not asked for a
    /// new frame yet, the frame waits; a newer one replaces it.
    ///
    /// `frame_id` tells a new frame from the same frame shown again (a
    /// re-rendered preroll frame): a new frame arriving in a buffer the
    /// compositor still holds is counted in
    /// [`PresentStats::buffers_reused_while_held`].
    ///
    /// `acquire_fence`: the producer's sync_file for a dma-buf frame, which
    /// the compositor waits for before reading it when the window uses
    /// explicit sync; otherwise (or for wl_shm buffers, which take no
    /// fences) it is closed unused.
    pub fn present(
        &self,
        buffer: &Arc<FrameBuffer>,
        frame_id: u64,
        hold: Box<dyn Any + Send>,
        acquire_fence: Option<OwnedFd>,
    ) -> Result<(), WaylandError> {
        let replaced;
        let previous;
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
            let frame = PendingFrame {
                buffer: buffer.clone(),
                frame_id,
                hold,
                acquire_fence,
            };
            if inner.frame_pending {
                previous = None;
                replaced = inner.next.replace(frame);
                if replaced.is_some() {
                    inner.stats.frames_replaced += 1;
                }
            } else {
                replaced = None;
                previous = commit_frame(&mut inner, &self.globals, &self.queue_handle, frame);
            }
        }
        // Holds given up are dropped here, outside the lock.
        drop(replaced);
        drop(previous);
        self.flush()
    }

    /// Wait until the compositor released every buffer (or `timeout`).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = deadline_after(timeout);
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

    /// A round trip through the dispatch thread: once it returns, the
    /// compositor has processed every request sent before. Bounded by
    /// `timeout`; false if it did not answer in time (or is gone).
    fn sync(&self, timeout: Duration) -> bool {
        let done = Arc::new(AtomicBool::new(false));
        self.connection
            .display()
            .sync(&self.queue_handle, SyncDone(done.clone()));
        if self.flush().is_err() {
            return false;
        }
        self.wait_for_at_most("a round trip", timeout, |_| done.load(Ordering::Acquire))
            .is_ok()
    }

    /// Block until `ready` holds, the connection is lost, or the timeout.
    fn wait_for(
        &self,
        what: &'static str,
        ready: impl FnMut(&Inner) -> bool,
    ) -> Result<(), WaylandError> {
        self.wait_for_at_most(what, COMPOSITOR_TIMEOUT, ready)
    }

    fn wait_for_at_most(
        &self,
        what: &'static str,
        timeout: Duration,
        mut ready: impl FnMut(&Inner) -> bool,
    ) -> Result<(), WaylandError> {
        let deadline = deadline_after(timeout);
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
                    seconds: timeout.as_secs(),
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
        // The window and the wl_buffers go first, while the dispatch thread
        // still runs, and the compositor confirms (bounded): on an
        // application's display the connection lives on, and either way the
        // compositor lets go of the frames before they go back to their
        // pools. wl_buffers cached on frames that outlive us are destroyed
        // now; their later drop is a no-op.
        self.destroy_window();
        let buffers = std::mem::take(&mut lock(&self.shared.inner).buffers);
        for buffer in buffers.iter().filter_map(Weak::upgrade) {
            buffer.buffer.destroy();
        }
        if !buffers.is_empty() {
            let _ = self.sync(TEARDOWN_TIMEOUT);
        }
        // Then stop the dispatch thread, so no handler runs during the rest.
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to our own eventfd.
        unsafe { libc::write(self.stop.as_raw_fd(), (&raw const one).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let (next, busy) = {
            let mut inner = lock(&self.shared.inner);
            (inner.next.take(), std::mem::take(&mut inner.busy))
        };
        drop(next);
        if let Some(feedback) = lock(&self.surface_feedback).take() {
            feedback.destroy();
        }
        // Leave nothing behind on a connection that may live on (the
        // registry and wl_compositor have no destructor).
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
        if let Some(explicit_sync) = &g.explicit_sync {
            explicit_sync.destroy();
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
    // Before its surface: requests on it after that are errors. Releases
    // already asked for still arrive.
    if let Some(sync) = window.video_sync {
        sync.destroy();
    }
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
/// `stride * rows` with chroma strides derived from the luma one. `rows`
/// may exceed the picture's height (a decoder's padding below it, then
/// cropped off by the viewport): returns the rows the wl_buffer must have.
/// Compositors derive chroma offsets from the buffer's height rounded
/// down, so the rows must be a multiple of the chroma subsampling.
fn shm_compatible(layout: &FrameLayout, size: u64) -> Result<u32, WaylandError> {
    let format: &FormatInfo = layout.format();
    let planes = layout.planes();
    let first = planes[0];
    let height = layout.height();
    let rows = match planes.get(1) {
        Some(second) if second.buffer == 0 && first.stride > 0 && second.offset > first.offset => {
            let luma = second.offset - first.offset;
            let stride = u64::from(first.stride);
            let rows = u32::try_from(luma / stride).unwrap_or(0);
            let aligned = luma.is_multiple_of(stride) && rows.is_multiple_of(format.max_v_sub());
            if aligned && rows > height {
                rows
            } else {
                height
            }
        }
        _ => height,
    };
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
        // Saturating: strides and rows come from the producer; an absurd
        // pair must fail the size check below, not overflow.
        expected_offset = expected_offset.saturating_add(
            u64::from(plane.stride).saturating_mul(u64::from(format.plane_rows(index, rows))),
        );
    }
    if expected_offset > size {
        return Err(WaylandError::ShmLayout {
            what: format!("a {} frame of {expected_offset} bytes", layout.fourcc()),
            why: format!("its memory holds only {size} bytes"),
        });
    }
    Ok(rows)
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

/// When a wait of `timeout` from now ends; an absurdly long timeout waits
/// 30 days instead of overflowing `Instant`.
fn deadline_after(timeout: Duration) -> Instant {
    const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);
    Instant::now() + timeout.min(LONGEST)
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

/// Attach and commit a frame. Returns the hold the buffer had before (the
/// same storage shown again), for the caller to drop outside the lock.
fn commit_frame(
    inner: &mut Inner,
    globals: &Globals,
    qh: &QueueHandle<State>,
    frame: PendingFrame,
) -> Option<(u64, Box<dyn Any + Send>)> {
    let PendingFrame {
        buffer,
        frame_id,
        hold,
        acquire_fence,
    } = frame;
    let window = inner.window.as_mut()?;
    if buffer.crop != window.video_source {
        if let Some(viewport) = &window.video_viewport {
            match buffer.crop {
                Some((w, h)) => viewport.set_source(0.0, 0.0, f64::from(w), f64::from(h)),
                // -1 everywhere unsets it: the whole buffer again.
                None => viewport.set_source(-1.0, -1.0, -1.0, -1.0),
            }
        }
        window.video_source = buffer.crop;
    }
    let window = inner.window.as_ref()?;
    let video = window.video.clone();
    // wl_shm buffers take neither fences nor release objects (the
    // compositor raises unsupported_buffer).
    let sync = window
        .video_sync
        .clone()
        .filter(|_| buffer.kind == BufferKind::DmaBuf);
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
    if let Some(sync) = &sync {
        if let Some(fence) = &acquire_fence {
            sync.set_acquire_fence(fence.as_fd());
            inner.stats.acquire_fences += 1;
        }
        sync.get_release(
            qh,
            ReleaseData {
                slot: buffer.slot.clone(),
            },
        );
    }
    // The fd was dup'ed into the request; ours closes now.
    drop(acquire_fence);
    let previous = buffer.slot.attach(frame_id, hold, sync.is_some());
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
    previous
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
        // The connection, the stop signal, and every release fence still to
        // signal.
        let mut fds: Vec<libc::pollfd> = [guard.connection_fd().as_raw_fd(), stop.as_raw_fd()]
            .into_iter()
            .chain(
                state
                    .release_fences
                    .iter()
                    .map(|(fence, _)| fence.as_raw_fd()),
            )
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a valid array of `fds.len()` pollfds for the
        // call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 1000) };
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
        // A signalled (or broken) fence: the compositor is done with that
        // commit's buffer.
        let signalled: Vec<usize> = fds[2..]
            .iter()
            .enumerate()
            .filter(|(_, p)| p.revents != 0)
            .map(|(i, _)| i)
            .collect();
        if !signalled.is_empty() {
            let mut index = 0;
            let mut done = Vec::new();
            state.release_fences.retain(|entry| {
                let keep = !signalled.contains(&index);
                index += 1;
                if !keep {
                    done.push(entry.1.clone());
                }
                keep
            });
            for slot in done {
                slot.release_completed();
            }
            shared.changed.notify_all();
        }
        if fds[0].revents != 0 {
            if let Err(e) = guard.read() {
                match e {
                    wayland_client::backend::WaylandError::Io(io)
                        if io.kind() == std::io::ErrorKind::WouldBlock => {}
                    other => {
                        mark_lost(&shared, &other.to_string());
                        return;
                    }
                }
            }
        } else {
            drop(guard);
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
delegate_noop!(State: ignore ZwpLinuxExplicitSynchronizationV1);
delegate_noop!(State: ignore ZwpLinuxSurfaceSynchronizationV1);

impl Dispatch<ZwpLinuxBufferReleaseV1, ReleaseData> for State {
    fn event(
        state: &mut Self,
        _: &ZwpLinuxBufferReleaseV1,
        event: zwp_linux_buffer_release_v1::Event,
        data: &ReleaseData,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_linux_buffer_release_v1::Event::FencedRelease { fence } => {
                lock(&state.shared.inner).stats.fenced_releases += 1;
                // The dispatch loop polls it; the frame goes back once it
                // signalled.
                state.release_fences.push((fence, data.slot.clone()));
            }
            zwp_linux_buffer_release_v1::Event::ImmediateRelease => {
                lock(&state.shared.inner).stats.immediate_releases += 1;
                data.slot.release_completed();
                state.shared.changed.notify_all();
            }
            _ => {}
        }
    }
}
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
            data.slot.buffer_released();
            state.shared.changed.notify_all();
        }
    }
}

/// The answer to [`Presenter::sync`].
struct SyncDone(Arc<AtomicBool>);

impl Dispatch<WlCallback, SyncDone> for State {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        event: wl_callback::Event,
        data: &SyncDone,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            data.0.store(true, Ordering::Release);
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
            let previous = inner
                .next
                .take()
                .and_then(|frame| commit_frame(&mut inner, &state.globals, qh, frame));
            drop(inner);
            drop(previous);
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
                // The compositor's clock: saturating, whatever it sends.
                let presented_ns = seconds
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(tv_nsec));
                inner.stats.frames_presented += 1;
                inner.stats.latency_ns_total = inner
                    .stats
                    .latency_ns_total
                    .saturating_add(presented_ns.saturating_sub(data.committed_ns));
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

#[cfg(test)]
mod tests {
    use super::*;
    use zc_dmabuf::PlaneLayout;

    /// An I420 frame `width`x`height` whose planes are stored in `rows`
    /// luma rows (padding below the picture), tightly strided.
    fn i420(width: u32, height: u32, rows: u32, size: u64) -> FrameLayout {
        let luma = u64::from(width) * u64::from(rows);
        let chroma = u64::from(width / 2) * u64::from(rows.div_ceil(2));
        let plane = |offset, stride| PlaneLayout {
            buffer: 0,
            offset,
            stride,
        };
        FrameLayout::new(
            Fourcc::YUV420,
            Modifier::LINEAR,
            width,
            height,
            &[
                plane(0, width),
                plane(luma, width / 2),
                plane(luma + chroma, width / 2),
            ],
            &[size],
        )
        .expect("a valid layout")
    }

    #[test]
    fn tight_planes_take_the_picture_height() {
        let layout = i420(1920, 1080, 1080, 1920 * 1080 * 3 / 2);
        assert_eq!(
            shm_compatible(&layout, 1920 * 1080 * 3 / 2).ok(),
            Some(1080)
        );
    }

    #[test]
    fn padding_rows_in_whole_chroma_rows_make_a_taller_buffer() {
        // avdec's 1080p: 19 rows of padding, rounded up to 12 + 1080 = 1092.
        let size = 1920 * 1092 * 3 / 2;
        let layout = i420(1920, 1080, 1092, size);
        assert_eq!(shm_compatible(&layout, size).ok(), Some(1092));
    }

    #[test]
    fn odd_padding_rows_are_refused() {
        // A compositor would put the last plane at rows / 2 = 545 chroma
        // rows; the frame has it after 546.
        let size = 1920 * 1092 * 3 / 2;
        let layout = i420(1920, 1080, 1091, size);
        let error = shm_compatible(&layout, size).expect_err("1091 rows");
        assert!(error.to_string().contains("plane 1"), "{error}");
    }

    #[test]
    fn planes_past_the_memory_are_refused() {
        let layout = i420(640, 360, 360, 640 * 360 * 3 / 2);
        let error = shm_compatible(&layout, 1000).expect_err("too small");
        assert!(error.to_string().contains("1000 bytes"), "{error}");
    }
}
