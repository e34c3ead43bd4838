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
//!
//! The files, one job each; every event handler lives with the job it
//! serves:
//! - here: the [`Presenter`] and the state both threads share, the waits
//!   and round trips, teardown;
//! - `connection`: which display, the socket, the globals, set-up;
//! - `capabilities`: what the compositor imports (linux-dmabuf v3 events,
//!   v4+ feedback);
//! - `window`: the surfaces (toplevel or embedded), their layout, xdg-shell;
//! - `orientation`: turning and flipping the video (the buffer transform);
//! - `buffer`: a frame's `wl_buffer` and the hold kept until its release;
//! - `dmabuf`, `shm`: making `wl_buffer`s from dma-bufs and from memfds;
//! - `commit`: presenting, frame callbacks, the frame that waits for one;
//! - `surface_requests`: a frame's attach, damage and commit, sent through
//!   libwayland directly (fewer instructions than through wayland-rs);
//! - `frame_objects`: a frame's `wl_buffer`, callback and presentation
//!   feedback, made and listened to through libwayland directly (likewise);
//! - `pacing`: FIFO and commit timing, frames committed ahead of their time;
//! - `explicit_sync`: acquire fences and release events;
//! - `drm_syncobj`: explicit sync with DRM timeline syncobjs (preferred);
//! - `representation`: a YUV surface's matrix, range and chroma location;
//! - `color_management`: an HDR surface's image description;
//! - `dispatch`: the thread that reads the compositor's events, and acts on
//!   what the frame objects reported;
//! - `stats`: the counters and the presentations that feed them.

mod buffer;
mod capabilities;
mod color_management;
mod commit;
mod connection;
mod dispatch;
mod dmabuf;
mod drm_syncobj;
mod explicit_sync;
mod frame_objects;
mod orientation;
mod overlay;
mod pacing;
mod preferred;
mod representation;
mod shm;
mod stats;
mod surface_requests;
mod window;

use std::collections::{HashSet, VecDeque};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use wayland_client::protocol::wl_callback::{self, WlCallback};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_feedback_v1::ZwpLinuxDmabufFeedbackV1;
use zc_dmabuf::{Fourcc, Modifier};

use crate::error::WaylandError;
use crate::{lock, sys};

pub use buffer::{BufferKind, FrameBuffer};
pub use capabilities::Capabilities;
pub use color_management::ColorManagementSupport;
pub use connection::{CONNECT_TIMEOUT, DisplayTarget};
pub use dmabuf::Interlacing;
pub use orientation::Orientation;
pub use overlay::OverlayImage;
pub use pacing::{PRESENTATIONS_KEPT, Presentation};
pub use preferred::PreferredDescription;
pub use representation::{ASSUMED_WITHOUT_PROTOCOL, Representation, RepresentationSupport};
pub use stats::PresentStats;
pub use window::{WindowTarget, fit};

use buffer::Slot;
use commit::PendingFrame;
use connection::Globals;
use dispatch::{DispatchThread, mark_lost, would_block};
use frame_objects::FrameObjects;
use window::Window;

/// How long to wait for the compositor before calling it gone. Generous:
/// under software emulation one round trip can take over a second.
const COMPOSITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// How long teardown waits for the compositor to have processed our
/// destroy requests. Bounded, so a stuck compositor cannot hang a state
/// change forever (a lost one answers at once), but as generous as every
/// other wait: a busy compositor under software emulation took over 5 s.
const TEARDOWN_TIMEOUT: Duration = COMPOSITOR_TIMEOUT;

/// How long, by default, the dispatch thread may leave the compositor's
/// events unread while paced frames wait in its queue: a frame's buffer
/// comes back up to this much later, and the thread wakes about once per
/// batch instead of twice per frame (release, then presentation). 50 ms is
/// 1.5 frames at 30 fps; the sink's pools have no maximum, and a frame that
/// has to wait for the queue, or any caller waiting on the compositor,
/// ends a batch at once.
pub const DEFAULT_EVENT_BATCH: Duration = Duration::from_millis(50);

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
    /// How many windows were made (the latest one's `generation`).
    windows_made: u64,
    video_size: (i32, i32),
    /// How the video is shown on the next window (see
    /// [`Presenter::set_orientation`]).
    orientation: Orientation,
    frame_pending: bool,
    /// Frames committed ahead (compositor pacing) not yet presented or
    /// discarded.
    in_flight: u32,
    /// How long the dispatch thread may leave events unread while frames
    /// wait in the compositor's queue (see `dispatch::may_batch`).
    event_batch: Duration,
    /// Ask for presentation feedback on every commit (see
    /// [`Presenter::set_presentation_feedback`]).
    presentation_feedback: bool,
    /// Threads blocked in a wait on the compositor: events are then read
    /// as they come.
    waiters: u32,
    next: Option<PendingFrame>,
    /// Use explicit sync on the next window, when the compositor has it.
    explicit_sync: bool,
    /// How frames presented from now on are to be shown (colour
    /// representation), when the compositor supports it.
    representation: Option<Representation>,
    /// The image description of frames presented from now on (HDR).
    described: Option<color_management::Described>,
    /// The compositor's preferred image description for the video surface,
    /// and the one being received.
    preferred: Option<PreferredDescription>,
    preferred_building: PreferredDescription,
    /// Release points' eventfds of DRM syncobj commits, for the dispatch
    /// thread to poll (moved to its `release_fences`).
    syncobj_releases: Vec<(OwnedFd, Arc<Slot>)>,
    busy: Vec<Weak<Slot>>,
    stats: PresentStats,
    /// The latest presentations, for [`Presenter::presentations`].
    presentations: VecDeque<Presentation>,
    presentation_clock: libc::clockid_t,
    lost: Option<String>,
    closed: bool,
    surface_feedback_seen: bool,
}

impl Inner {
    /// The state at connection, with the globals' part of `caps` known.
    fn new(caps: Capabilities) -> Inner {
        Inner {
            caps,
            feedback_serial: 0,
            proven: HashSet::new(),
            rejected: HashSet::new(),
            window: None,
            windows_made: 0,
            video_size: (0, 0),
            orientation: Orientation::Identity,
            frame_pending: false,
            in_flight: 0,
            event_batch: DEFAULT_EVENT_BATCH,
            presentation_feedback: true,
            waiters: 0,
            next: None,
            explicit_sync: true,
            representation: None,
            described: None,
            preferred: None,
            preferred_building: PreferredDescription::default(),
            syncobj_releases: Vec::new(),
            busy: Vec::new(),
            stats: PresentStats::default(),
            presentations: VecDeque::new(),
            presentation_clock: libc::CLOCK_MONOTONIC,
            lost: None,
            closed: false,
            surface_feedback_seen: false,
        }
    }

    /// The connection's loss as an error, if it was lost.
    fn check_lost(&self) -> Result<(), WaylandError> {
        match &self.lost {
            Some(lost) => Err(WaylandError::ConnectionLost(lost.clone())),
            None => Ok(()),
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// Signalled when someone needs the compositor's events now (a frame
    /// waits to be committed, a thread waits on the compositor): ends the
    /// dispatch thread's batching early.
    urge: OwnedFd,
    /// The frame buffers, callbacks and presentation feedbacks alive, made
    /// through libwayland directly (`frame_objects`); each `FrameBuffer`
    /// keeps them too, to destroy its own.
    frame_objects: Arc<FrameObjects>,
}

impl Shared {
    /// Have the dispatch thread read the compositor's events now.
    fn urge(&self) {
        sys::eventfd_signal(self.urge.as_fd());
    }
}

/// The dispatch state: every event handler reaches the shared state here.
struct State {
    shared: Arc<Shared>,
    globals: Globals,
    /// Release fences from `fenced_release`, polled by the dispatch loop
    /// (never waited on): the frame goes back once its fence signalled.
    release_fences: Vec<(OwnedFd, Arc<Slot>)>,
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
    dispatch: DispatchThread,
    surface_feedback: Mutex<Option<ZwpLinuxDmabufFeedbackV1>>,
}

impl Presenter {
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

    fn flush(&self) -> Result<(), WaylandError> {
        match self.connection.flush() {
            Ok(()) => Ok(()),
            // A full socket is retried by the dispatch thread's flush.
            Err(e) if would_block(&e) => Ok(()),
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
        inner.waiters += 1;
        self.shared.urge();
        let outcome = loop {
            if ready(&inner) {
                break Ok(());
            }
            if let Err(lost) = inner.check_lost() {
                break Err(lost);
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(WaylandError::Timeout {
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
        };
        inner.waiters -= 1;
        outcome
    }

    /// How long the dispatch thread may leave the compositor's events
    /// unread while paced frames wait in its queue (0: read each as it
    /// comes). Only windows paced by the compositor batch.
    pub fn set_event_batch(&self, batch: Duration) {
        lock(&self.shared.inner).event_batch = batch;
        self.shared.urge();
    }

    /// Whether each commit asks for `wp_presentation` feedback (on by
    /// default): when each frame was shown, on which path, how far from its
    /// target. Off saves a request and three events per frame (more than
    /// a quarter of the sink's per-frame instructions) and leaves the
    /// presentation counters at 0, except on windows paced by the
    /// compositor, whose queue bound needs the feedback.
    pub fn set_presentation_feedback(&self, on: bool) {
        lock(&self.shared.inner).presentation_feedback = on;
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
        if self.shared.frame_objects.destroy_buffers() {
            let _ = self.sync(TEARDOWN_TIMEOUT);
        }
        // Then stop the dispatch thread, so no handler runs during the rest,
        // and destroy the frame objects while the connection is still there.
        self.dispatch.stop();
        self.shared.frame_objects.destroy_all();
        let (next, busy) = {
            let mut inner = lock(&self.shared.inner);
            (inner.next.take(), std::mem::take(&mut inner.busy))
        };
        drop(next);
        if let Some(feedback) = lock(&self.surface_feedback).take() {
            feedback.destroy();
        }
        if let Some(described) = lock(&self.shared.inner).described.take() {
            described.destroy();
        }
        // Leave nothing behind on a connection that may live on.
        self.globals.destroy();
        let _ = self.connection.flush();
        // What the compositor still held is given back: our surfaces and
        // buffers are gone (or the connection closes with this presenter),
        // and the compositor drops its references with them.
        for slot in busy.iter().filter_map(Weak::upgrade) {
            slot.release();
        }
    }
}

/// When a wait of `timeout` from now ends; an absurdly long timeout waits
/// 30 days instead of overflowing `Instant`.
fn deadline_after(timeout: Duration) -> Instant {
    const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);
    Instant::now() + timeout.min(LONGEST)
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
        qh: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            // Whoever waits for the round trip sees every event sent
            // before its end acted on, the frame objects' too (their
            // dispatchers ran before wayland-rs's handlers).
            state.handle_frame_events(qh);
            data.0.store(true, Ordering::Release);
            state.shared.changed.notify_all();
        }
    }
}
