//! A stand-in for an application that embeds `zcwaylandsink` through
//! GstVideoOverlay: its own connection, an xdg toplevel filled with one
//! colour, and a thread that dispatches its own event queue the whole time
//! (so the sink shares a display that someone else is reading, as in a real
//! toolkit's main loop).
//!
//! It hands the sink what GStreamer's `waylandsink` contract asks for: its
//! `struct wl_display *` in a GstContext and its `struct wl_surface *` as
//! the window handle.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::glib;
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_registry::WlRegistry, wl_shm,
    wl_shm::WlShm, wl_shm_pool::WlShmPool, wl_surface::WlSurface,
};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, delegate_noop};
use wayland_protocols::xdg::shell::client::{
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};

/// The context type GStreamer's `waylandsink` takes the display in.
pub const DISPLAY_CONTEXT: &str = "GstWaylandDisplayHandleContextType";

#[derive(Default)]
struct AppState {
    configured: bool,
    size: (i32, i32),
}

/// The application's window; closed (and its connection with it) on drop.
pub struct AppWindow {
    connection: Connection,
    surface: WlSurface,
    toplevel: XdgToplevel,
    xdg_surface: XdgSurface,
    buffer: WlBuffer,
    size: (i32, i32),
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AppWindow {
    /// Connect to the compositor at `socket`, open a toplevel, fill it with
    /// `rgb` once configured, and start dispatching in the background.
    pub fn open(socket: &Path, rgb: [u8; 3]) -> AppWindow {
        let stream = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
        let connection = Connection::from_socket(stream).expect("wayland connection");
        let (globals, mut queue) = registry_queue_init::<AppState>(&connection).expect("registry");
        let qh = queue.handle();
        let compositor: WlCompositor = globals.bind(&qh, 4..=6, ()).expect("wl_compositor");
        let shm: WlShm = globals.bind(&qh, 1..=1, ()).expect("wl_shm");
        let wm_base: XdgWmBase = globals.bind(&qh, 1..=6, ()).expect("xdg_wm_base");
        let surface = compositor.create_surface(&qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_title("zc embedding test".to_owned());
        surface.commit();
        let mut state = AppState::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !state.configured {
            assert!(
                Instant::now() < deadline,
                "the app window was never configured"
            );
            queue.blocking_dispatch(&mut state).expect("dispatch");
        }
        // Kiosk shell: the output's size. Anything else: ours.
        let size = match state.size {
            (w, h) if w > 0 && h > 0 => (w, h),
            _ => (320, 240),
        };
        let buffer = solid_buffer(&shm, &qh, size, rgb);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, size.0, size.1);
        surface.commit();
        queue.roundtrip(&mut state).expect("roundtrip");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (connection, stop) = (connection.clone(), stop.clone());
            std::thread::spawn(move || dispatch_until(connection, queue, state, stop))
        };
        AppWindow {
            connection,
            surface,
            toplevel,
            xdg_surface,
            buffer,
            size,
            stop,
            thread: Some(thread),
        }
    }

    /// The window's size in surface coordinates.
    pub fn size(&self) -> (i32, i32) {
        self.size
    }

    /// The application's `struct wl_display *`.
    pub fn display_ptr(&self) -> usize {
        self.connection.backend().display_ptr() as usize
    }

    /// The application's `struct wl_surface *` (the window handle).
    pub fn surface_ptr(&self) -> usize {
        self.surface.id().as_ptr() as usize
    }

    /// A display context the way applications build it for `waylandsink`
    /// (`gst_wl_display_handle_context_new`): `display`, a G_TYPE_POINTER.
    pub fn display_context(&self, context_type: &str) -> gst::Context {
        let mut context = gst::Context::new(context_type, true);
        let display = self.display_ptr() as glib::Pointer;
        // SAFETY: a G_TYPE_POINTER value holds a plain address; moving it
        // between threads touches nothing.
        let value = unsafe { glib::Value::from(display).into_send_value() };
        context
            .get_mut()
            .expect("a new context is writable")
            .structure_mut()
            .set_value("display", value);
        context
    }

    /// Whether the connection still works: no protocol error, the socket
    /// takes requests, and the main loop still runs.
    pub fn is_alive(&self) -> bool {
        self.connection.protocol_error().is_none()
            && self.connection.flush().is_ok()
            && self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Commit the application's surface, as a toolkit does when it redraws.
    pub fn commit(&self) {
        self.surface.commit();
        self.connection.flush().expect("flush");
    }
}

impl Drop for AppWindow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.toplevel.destroy();
        self.xdg_surface.destroy();
        self.surface.destroy();
        self.buffer.destroy();
        let _ = self.connection.flush();
    }
}

/// The application's main loop: read and dispatch its own queue until told
/// to stop (polling with a timeout so that it notices).
fn dispatch_until(
    connection: Connection,
    mut queue: EventQueue<AppState>,
    mut state: AppState,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        if queue.dispatch_pending(&mut state).is_err() || connection.flush().is_err() {
            return;
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        let mut fds = [libc::pollfd {
            fd: guard.connection_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd for the call's duration.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) };
        if ready > 0 {
            if guard.read().is_err() {
                return;
            }
        } else {
            drop(guard);
        }
    }
}

/// A `width`x`height` XRGB8888 wl_shm buffer filled with `rgb`.
fn solid_buffer(
    shm: &WlShm,
    qh: &QueueHandle<AppState>,
    (width, height): (i32, i32),
    [r, g, b]: [u8; 3],
) -> WlBuffer {
    let size = width as usize * height as usize * 4;
    // SAFETY: a NUL-terminated name and valid flags; the fd is new and ours.
    let raw = unsafe { libc::memfd_create(c"zc-app-window".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(
        raw >= 0,
        "memfd_create: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: `raw` was just returned by memfd_create and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let pixels: Vec<u8> = [b, g, r, 0xff].repeat(size / 4);
    std::fs::File::from(fd.try_clone().expect("dup"))
        .set_len(size as u64)
        .expect("ftruncate");
    {
        use std::io::Write;
        let mut file = std::fs::File::from(fd.try_clone().expect("dup"));
        file.write_all(&pixels).expect("fill the window");
    }
    let pool: WlShmPool = shm.create_pool(fd.as_fd(), size as i32, qh, ());
    let buffer = pool.create_buffer(
        0,
        width,
        height,
        width * 4,
        wl_shm::Format::Xrgb8888,
        qh,
        (),
    );
    pool.destroy();
    buffer
}

impl Dispatch<WlRegistry, GlobalListContents> for AppState {
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

delegate_noop!(AppState: ignore WlCompositor);
delegate_noop!(AppState: ignore WlShm);
delegate_noop!(AppState: ignore WlShmPool);
delegate_noop!(AppState: ignore WlBuffer);
delegate_noop!(AppState: ignore WlSurface);

impl Dispatch<XdgWmBase, ()> for AppState {
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

impl Dispatch<XdgSurface, ()> for AppState {
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
            state.configured = true;
        }
    }
}

impl Dispatch<XdgToplevel, ()> for AppState {
    fn event(
        state: &mut Self,
        _: &XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure { width, height, .. } = event {
            state.size = (width, height);
        }
    }
}
