//! The surfaces the video is shown on: an xdg-shell toplevel of its own, or
//! a subsurface of an application's surface (embedding); a black background
//! scaled to the window, the video fitted inside it, and xdg-shell's
//! configure and close.

use std::os::fd::AsFd;

use wayland_client::protocol::{
    wl_buffer::WlBuffer, wl_shm::{self, WlShm}, wl_subsurface::WlSubsurface,
    wl_surface::WlSurface,
};
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle};
use wayland_protocols::wp::linux_explicit_synchronization::zv1::client::zwp_linux_surface_synchronization_v1::ZwpLinuxSurfaceSynchronizationV1;
use wayland_protocols::wp::color_management::v1::client::wp_color_management_surface_feedback_v1::WpColorManagementSurfaceFeedbackV1;
use wayland_protocols::wp::color_management::v1::client::wp_color_management_surface_v1::WpColorManagementSurfaceV1;
use wayland_protocols::wp::color_representation::v1::client::wp_color_representation_surface_v1::WpColorRepresentationSurfaceV1;
use wayland_protocols::wp::viewporter::client::wp_viewport::WpViewport;
use wayland_protocols::xdg::shell::client::{
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};

use zc_dmabuf::color::ImageDescription;

use super::capabilities::{FeedbackData, FeedbackScope};
use super::drm_syncobj::SyncobjSurface;
use super::orientation::{FrameGeometry, Orientation};
use super::overlay::{self, OverlaySurface};
use super::pacing::Pacer;
use super::preferred;
use super::representation::Representation;
use super::{Presenter, State, TEARDOWN_TIMEOUT};
use crate::error::WaylandError;
use crate::{lock, sys};

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

impl Window {
    /// The window's size, or the video's before the compositor chose one.
    pub(super) fn area_size(&self, video: (i32, i32)) -> (i32, i32) {
        if self.size.0 > 0 && self.size.1 > 0 {
            self.size
        } else {
            video
        }
    }
}

pub(super) struct Window {
    /// The surface the window manager or the application sees; black, scaled
    /// to the window, behind the video (the bars around it).
    pub(super) area: WlSurface,
    pub(super) area_viewport: Option<WpViewport>,
    pub(super) background: Option<WlBuffer>,
    pub(super) video: WlSurface,
    pub(super) video_subsurface: WlSubsurface,
    pub(super) video_viewport: Option<WpViewport>,
    /// Explicit sync for the video surface, when the compositor has it:
    /// DRM syncobj timelines where it can, else the older protocol.
    pub(super) video_syncobj: Option<SyncobjSurface>,
    pub(super) video_sync: Option<ZwpLinuxSurfaceSynchronizationV1>,
    /// The video surface's colour representation object, once one was set.
    pub(super) video_representation: Option<WpColorRepresentationSurfaceV1>,
    /// What the video surface states (as of the last commit).
    pub(super) representation_set: Option<Representation>,
    /// FIFO and commit timing for the video surface, when the compositor
    /// has both.
    pub(super) pacer: Option<Pacer>,
    /// The video surface's colour-management object, once one was set.
    pub(super) video_color: Option<WpColorManagementSurfaceV1>,
    /// The image description the video surface has (as of the last commit).
    pub(super) image_description_set: Option<ImageDescription>,
    /// Tells the compositor's preferred image description for the video
    /// surface (colour management).
    pub(super) video_preferred: Option<WpColorManagementSurfaceFeedbackV1>,
    /// Subtitles and the like above the video, once one was shown.
    pub(super) overlay: Option<OverlaySurface>,
    pub(super) area_subsurface: Option<WlSubsurface>,
    /// The application's surface an embedded video lives in. Subsurface
    /// positions are parent state: they apply on the parent's commit.
    pub(super) parent: Option<WlSurface>,
    pub(super) toplevel: Option<(XdgSurface, XdgToplevel)>,
    pub(super) configured: bool,
    /// Size of the area in surface coordinates (0: the video's own size).
    pub(super) size: (i32, i32),
    /// Size asked by the last toplevel configure (0: our choice).
    pub(super) pending_size: (i32, i32),
    /// How the video is shown, and the transform its surface has (as of
    /// the last commit).
    pub(super) orientation: Orientation,
    pub(super) transform_set: Orientation,
    /// The video viewport's source rectangle now, in surface coordinates
    /// (None: the whole buffer).
    pub(super) video_source: Option<(i64, i64, i64, i64)>,
    /// The last frame's buffer size and picture (its crop), to turn its
    /// source rectangle with the orientation while no new frame comes.
    pub(super) frame_geometry: Option<FrameGeometry>,
    /// Which of the presenter's windows this is (counted from 1): the
    /// frame objects made for it carry it (see `frame_objects`).
    pub(super) generation: u64,
}

impl Presenter {
    /// Whether a window (toplevel or embedded) exists.
    pub fn has_window(&self) -> bool {
        lock(&self.shared.inner).window.is_some()
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
        let (explicit_sync, main_device) = {
            let inner = lock(&self.shared.inner);
            let main_device = inner.caps.feedback.as_ref().and_then(|f| f.main_device);
            (inner.explicit_sync, main_device)
        };
        let video_syncobj = g
            .drm_syncobj
            .as_ref()
            .filter(|_| explicit_sync)
            .and_then(
                |manager| match SyncobjSurface::new(manager, &video, main_device, qh) {
                    Ok(syncobj) => Some(syncobj),
                    Err(why) => {
                        log::info!("wp_linux_drm_syncobj_v1 is not used: {why}");
                        None
                    }
                },
            );
        let video_sync = g
            .explicit_sync
            .as_ref()
            .filter(|_| explicit_sync && video_syncobj.is_none())
            .map(|e| e.get_synchronization(&video, qh, ()));
        let pacer = Pacer::new(g, &video, qh);
        let video_preferred = preferred::watch(g.color_manager.as_ref(), &video, qh);
        let background = match (&g.single_pixel, &g.shm, &area_viewport) {
            // Opaque black with no memory behind it.
            (Some(single_pixel), _, Some(_)) => {
                Some(single_pixel.create_u32_rgba_buffer(0, 0, 0, u32::MAX, qh, ()))
            }
            (None, Some(shm), Some(_)) => Some(black_pixel(shm, qh)?),
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
                FeedbackData::new(FeedbackScope::Surface),
            ));
        }
        area.commit();
        {
            let mut inner = lock(&self.shared.inner);
            inner.video_size = (video_width, video_height);
            let orientation = inner.orientation;
            inner.closed = false;
            inner.windows_made += 1;
            let generation = inner.windows_made;
            inner.window = Some(Window {
                area,
                area_viewport,
                background,
                video,
                video_subsurface,
                video_viewport,
                video_syncobj,
                video_sync,
                video_representation: None,
                representation_set: None,
                pacer,
                video_color: None,
                image_description_set: None,
                video_preferred,
                overlay: None,
                area_subsurface,
                parent,
                configured: toplevel.is_none(),
                toplevel,
                size,
                pending_size: (0, 0),
                orientation,
                transform_set: Orientation::Identity,
                video_source: None,
                frame_geometry: None,
                generation,
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
            inner.in_flight = 0;
            inner.closed = false;
            (inner.window.take(), inner.next.take())
        };
        drop(next);
        if let Some(feedback) = lock(&self.surface_feedback).take() {
            feedback.destroy();
        }
        if let Some(window) = window {
            let generation = window.generation;
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
            // Its frame callbacks will not come; its feedbacks said
            // discarded by now (or never will). A window made meanwhile
            // keeps its own.
            self.shared.frame_objects.destroy_up_to(generation);
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
}

/// Destroy a window's protocol objects, children before parents.
fn destroy_window_objects(window: Window) {
    // Before its surface: requests on it after that are errors. Releases
    // already asked for still arrive.
    if let Some(sync) = window.video_sync {
        sync.destroy();
    }
    if let Some(syncobj) = window.video_syncobj {
        syncobj.destroy();
    }
    if let Some(representation) = window.video_representation {
        representation.destroy();
    }
    if let Some(pacer) = window.pacer {
        pacer.destroy();
    }
    if let Some(color) = window.video_color {
        color.destroy();
    }
    if let Some(preferred) = window.video_preferred {
        preferred.destroy();
    }
    if let Some(overlay) = window.overlay {
        overlay.destroy();
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

/// A 1x1 black XRGB8888 buffer, scaled by the viewport to fill the window.
fn black_pixel(shm: &WlShm, qh: &QueueHandle<State>) -> Result<WlBuffer, WaylandError> {
    let fd = sys::memfd_with_zeros(c"zc-black", 4)?;
    let pool = shm.create_pool(fd.as_fd(), 4, qh, ());
    let buffer = pool.create_buffer(0, 1, 1, 4, wl_shm::Format::Xrgb8888, qh, ());
    pool.destroy();
    Ok(buffer)
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
pub(super) fn layout_window(window: &mut Window, video: (i32, i32)) {
    let shown = window.orientation.oriented(video);
    let area = window.area_size(shown);
    let (x, y, w, h) = fit(area, shown);
    window.video_subsurface.set_position(x, y);
    if let Some(viewport) = &window.video_viewport {
        viewport.set_destination(w, h);
        window.video.commit();
    }
    overlay::follow_video(window, (x, y, w, h), video, window.orientation);
    if let (Some(viewport), Some(background)) = (&window.area_viewport, &window.background) {
        window.area.attach(Some(background), 0, 0);
        viewport.set_destination(area.0, area.1);
        window.area.damage_buffer(0, 0, 1, 1);
    }
    window.area.commit();
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
