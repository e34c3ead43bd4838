//! Reaching a compositor: which display, its socket (with a deadline on
//! set-up), the globals bound, and the set-up round trips.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wayland_client::globals::{GlobalList, GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_compositor::WlCompositor, wl_registry::WlRegistry, wl_shm::WlShm, wl_shm_pool::WlShmPool,
    wl_subcompositor::WlSubcompositor, wl_subsurface::WlSubsurface, wl_surface::WlSurface,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, delegate_noop};
use wayland_protocols::wp::color_management::v1::client::wp_color_manager_v1::WpColorManagerV1;
use wayland_protocols::wp::color_representation::v1::client::wp_color_representation_manager_v1::WpColorRepresentationManagerV1;
use wayland_protocols::wp::commit_timing::v1::client::wp_commit_timing_manager_v1::WpCommitTimingManagerV1;
use wayland_protocols::wp::fifo::v1::client::wp_fifo_manager_v1::WpFifoManagerV1;
use wayland_protocols::wp::linux_dmabuf::zv1::client::zwp_linux_dmabuf_v1::ZwpLinuxDmabufV1;
use wayland_protocols::wp::linux_drm_syncobj::v1::client::wp_linux_drm_syncobj_manager_v1::WpLinuxDrmSyncobjManagerV1;
use wayland_protocols::wp::linux_explicit_synchronization::zv1::client::{
    zwp_linux_explicit_synchronization_v1::ZwpLinuxExplicitSynchronizationV1,
    zwp_linux_surface_synchronization_v1::ZwpLinuxSurfaceSynchronizationV1,
};
use wayland_protocols::wp::presentation_time::client::wp_presentation::WpPresentation;
use wayland_protocols::wp::single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1;
use wayland_protocols::wp::viewporter::client::{
    wp_viewport::WpViewport, wp_viewporter::WpViewporter,
};
use wayland_protocols::xdg::shell::client::xdg_wm_base::XdgWmBase;

use super::capabilities::{Capabilities, FeedbackData, FeedbackScope};
use super::dispatch::DispatchThread;
use super::{COMPOSITOR_TIMEOUT, Inner, NEXT_PRESENTER_ID, Presenter, Shared, State};
use crate::error::WaylandError;
use crate::sys;
use crate::watchdog::Watchdog;

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

/// The globals bound at set-up (the optional ones where the compositor has
/// them).
#[derive(Clone)]
pub(super) struct Globals {
    pub(super) compositor: WlCompositor,
    pub(super) subcompositor: WlSubcompositor,
    pub(super) shm: Option<WlShm>,
    pub(super) dmabuf: Option<ZwpLinuxDmabufV1>,
    pub(super) wm_base: Option<XdgWmBase>,
    pub(super) viewporter: Option<WpViewporter>,
    pub(super) presentation: Option<WpPresentation>,
    pub(super) explicit_sync: Option<ZwpLinuxExplicitSynchronizationV1>,
    pub(super) color_representation: Option<WpColorRepresentationManagerV1>,
    pub(super) fifo: Option<WpFifoManagerV1>,
    pub(super) commit_timing: Option<WpCommitTimingManagerV1>,
    pub(super) color_manager: Option<WpColorManagerV1>,
    pub(super) drm_syncobj: Option<WpLinuxDrmSyncobjManagerV1>,
    pub(super) single_pixel: Option<WpSinglePixelBufferManagerV1>,
}

impl Globals {
    /// Destroy the globals that have a destructor (the registry and
    /// wl_compositor have none), leaving nothing behind on a connection
    /// that may live on.
    pub(super) fn destroy(&self) {
        self.subcompositor.destroy();
        if let Some(dmabuf) = &self.dmabuf {
            dmabuf.destroy();
        }
        if let Some(wm_base) = &self.wm_base {
            wm_base.destroy();
        }
        if let Some(viewporter) = &self.viewporter {
            viewporter.destroy();
        }
        if let Some(presentation) = &self.presentation {
            presentation.destroy();
        }
        if let Some(explicit_sync) = &self.explicit_sync {
            explicit_sync.destroy();
        }
        if let Some(manager) = &self.color_representation {
            manager.destroy();
        }
        if let Some(manager) = &self.fifo {
            manager.destroy();
        }
        if let Some(manager) = &self.commit_timing {
            manager.destroy();
        }
        if let Some(manager) = &self.color_manager {
            manager.destroy();
        }
        if let Some(manager) = &self.drm_syncobj {
            manager.destroy();
        }
        if let Some(manager) = &self.single_pixel {
            manager.destroy();
        }
    }
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
        let dispatch = DispatchThread::spawn(connection.clone(), queue, state)?;
        Ok(Presenter {
            id: NEXT_PRESENTER_ID.fetch_add(1, Ordering::Relaxed),
            connection,
            owns_display: !matches!(target, DisplayTarget::Foreign(_)),
            queue_handle: qh,
            globals,
            shared,
            dispatch,
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
            color_representation: bind_optional(&global_list, &qh, 1..=1, ()),
            fifo: bind_optional(&global_list, &qh, 1..=1, ()),
            commit_timing: bind_optional(&global_list, &qh, 1..=1, ()),
            color_manager: bind_optional(&global_list, &qh, 1..=2, ()),
            drm_syncobj: bind_optional(&global_list, &qh, 1..=1, ()),
            single_pixel: bind_optional(&global_list, &qh, 1..=1, ()),
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::new(Capabilities {
                dmabuf_version: globals.dmabuf.as_ref().map_or(0, |d| d.version()),
                has_viewporter: globals.viewporter.is_some(),
                has_presentation: globals.presentation.is_some(),
                has_fifo: globals.fifo.is_some(),
                has_commit_timing: globals.commit_timing.is_some(),
                explicit_sync_version: globals.explicit_sync.as_ref().map_or(0, |e| e.version()),
                has_drm_syncobj: globals.drm_syncobj.is_some(),
                ..Capabilities::default()
            })),
            changed: Condvar::new(),
            urge: sys::eventfd()?,
            frame_objects: Arc::default(),
        });
        if let Some(dmabuf) = globals.dmabuf.as_ref().filter(|d| d.version() >= 4) {
            dmabuf.get_default_feedback(&qh, FeedbackData::new(FeedbackScope::Default));
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
}

// Objects whose events the presenter does not act on (most have none).
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
delegate_noop!(State: ignore WpSinglePixelBufferManagerV1);
delegate_noop!(State: ignore WpViewport);
delegate_noop!(State: ignore ZwpLinuxExplicitSynchronizationV1);
delegate_noop!(State: ignore ZwpLinuxSurfaceSynchronizationV1);

delegate_noop!(State: ignore wayland_client::protocol::wl_region::WlRegion);
