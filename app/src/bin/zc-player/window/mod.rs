//! The player's window: an xdg-shell toplevel (server-side decorations
//! where offered, else a drawn title bar with a close button, see
//! [`frame`]), a black wl_shm background, the video subsurface placed by the
//! sink at our render rectangle, and above it in wl_shm subsurfaces the
//! statistics panel ([`panel`]), the subtitles ([`subtitles`]) and the
//! on-screen display ([`osd`]). Keys and the mouse are in [`input`]. This
//! file holds the state the main loop dispatches to ([`App`]), the layout,
//! and the compositor's, output's and window's callbacks.

mod frame;
mod input;
mod osd;
mod panel;
mod subtitles;

use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use gst_video::prelude::*;
use smithay_client_toolkit::compositor::{CompositorHandler, CompositorState};
use smithay_client_toolkit::output::{OutputHandler, OutputState};
use smithay_client_toolkit::registry::{ProvidesRegistryState, RegistryState};
use smithay_client_toolkit::seat::SeatState;
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shell::xdg::XdgShell;
use smithay_client_toolkit::shell::xdg::window::{
    DecorationMode, Window, WindowConfigure, WindowDecorations, WindowHandler,
};
use smithay_client_toolkit::shm::slot::{Buffer, SlotPool};
use smithay_client_toolkit::shm::{Shm, ShmHandler};
use smithay_client_toolkit::subcompositor::SubcompositorState;
use smithay_client_toolkit::{
    delegate_compositor, delegate_keyboard, delegate_output, delegate_pointer, delegate_registry,
    delegate_seat, delegate_shm, delegate_subcompositor, delegate_xdg_shell, delegate_xdg_window,
    registry_handlers,
};
use wayland_client::globals::GlobalList;
use wayland_client::protocol::{
    wl_keyboard, wl_output, wl_pointer, wl_seat, wl_shm, wl_subsurface, wl_surface,
};
use wayland_client::{Connection, QueueHandle};
use zc_app::player::bindings::{ClickTracker, Modifiers, ScrollTracker};
use zc_app::player::ipc::Reply;
use zc_app::player::osd::Osd;
use zc_app::player::stats::Stats;
use zc_app::weston::HeadlessWeston;

use crate::playback::{Layout, Player, PlayerExit};

use frame::TITLE_BAR;
use osd::OsdLayer;
use panel::Panel;
use subtitles::SubtitleLayer;

/// Window size before the compositor says otherwise.
pub const DEFAULT_SIZE: (u32, u32) = (960, 540);

pub struct App {
    pub registry_state: RegistryState,
    pub seat_state: SeatState,
    pub output_state: OutputState,
    pub compositor: CompositorState,
    pub subcompositor: SubcompositorState,
    /// The xdg_wm_base the window was made with, kept as long as the window.
    _xdg_shell: XdgShell,
    pub shm: Shm,
    pub window: Window,
    pub pool: SlotPool,
    pub title: String,
    background: Option<Buffer>,
    /// The generation of the cover art drawn in the background, if one is
    /// (see `Player::cover_generation`).
    cover_drawn: Option<u64>,
    size: (u32, u32),
    configured: bool,
    client_side_frame: bool,
    fullscreen: bool,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    pointer: Option<wl_pointer::WlPointer>,
    seat: Option<wl_seat::WlSeat>,
    modifiers: Modifiers,
    clicks: ClickTracker,
    scrolls: ScrollTracker,
    panel: Option<Panel>,
    subtitles: Option<SubtitleLayer>,
    /// `v` hides the subtitles without changing the track.
    subtitles_visible: bool,
    osd: Osd,
    osd_layer: Option<OsdLayer>,
    pub layout: Arc<Mutex<Layout>>,
    pub player: Option<Player>,
    pub weston: Option<Rc<HeadlessWeston>>,
    pub exit: Option<PlayerExit>,
    /// The `quit` request waiting for its answer (sent after teardown).
    pub quit_reply: Option<Sender<Reply>>,
    /// Whether "no audio output" was said once already.
    pub said_no_audio: bool,
    /// Whether the user or a script asked to quit (--save-position-on-quit
    /// saves then, not at the end of the stream).
    pub quit_asked: bool,
    /// `Q`: the position is remembered as with --save-position-on-quit.
    pub save_position_asked: bool,
    queue: QueueHandle<App>,
}

impl App {
    /// Bind the globals the window needs, create the window (title, app
    /// id, minimum size, fullscreen if asked) and commit it; the
    /// compositor's configure maps it.
    pub fn create(
        globals: &GlobalList,
        qh: &QueueHandle<App>,
        title: String,
        size: (u32, u32),
        fullscreen: bool,
        layout: Arc<Mutex<Layout>>,
        weston: Option<Rc<HeadlessWeston>>,
    ) -> Result<App> {
        let compositor =
            CompositorState::bind(globals, qh).context("the compositor has no wl_compositor")?;
        let subcompositor =
            SubcompositorState::bind(compositor.wl_compositor().clone(), globals, qh)
                .context("the compositor has no wl_subcompositor")?;
        let xdg_shell =
            XdgShell::bind(globals, qh).context("the compositor has no xdg_wm_base (xdg-shell)")?;
        let shm = Shm::bind(globals, qh).context("the compositor has no wl_shm")?;
        let surface = compositor.create_surface(qh);
        let window = xdg_shell.create_window(surface, WindowDecorations::RequestServer, qh);
        window.set_title(title.clone());
        window.set_app_id("zc-player");
        window.set_min_size(Some((160, 120)));
        let size = (size.0.max(160), size.1.max(120));
        if fullscreen {
            window.set_fullscreen(None);
        }
        window.commit();
        let pool = SlotPool::new((size.0 * size.1 * 4) as usize, &shm)
            .context("cannot create shared memory for the window")?;

        Ok(App {
            registry_state: RegistryState::new(globals),
            seat_state: SeatState::new(globals, qh),
            output_state: OutputState::new(globals, qh),
            compositor,
            subcompositor,
            _xdg_shell: xdg_shell,
            shm,
            window,
            pool,
            title,
            background: None,
            cover_drawn: None,
            size,
            configured: false,
            client_side_frame: false,
            fullscreen: false,
            keyboard: None,
            pointer: None,
            seat: None,
            modifiers: Modifiers::default(),
            clicks: ClickTracker::default(),
            scrolls: ScrollTracker::default(),
            panel: None,
            subtitles: None,
            subtitles_visible: true,
            osd: Osd::default(),
            osd_layer: None,
            layout,
            player: None,
            weston,
            exit: None,
            quit_reply: None,
            said_no_audio: false,
            quit_asked: false,
            save_position_asked: false,
            queue: qh.clone(),
        })
    }

    pub fn queue_handle(&self) -> QueueHandle<App> {
        self.queue.clone()
    }

    pub fn is_configured(&self) -> bool {
        self.configured
    }

    fn title_bar(&self) -> u32 {
        if self.client_side_frame && !self.fullscreen {
            TITLE_BAR
        } else {
            0
        }
    }

    /// The part of the window the video may use.
    fn video_area(&self) -> (i32, i32, i32, i32) {
        let bar = self.title_bar();
        (
            0,
            bar as i32,
            self.size.0 as i32,
            self.size.1.saturating_sub(bar).max(1) as i32,
        )
    }

    /// The video's subsurface exists now (preroll): lay the window out
    /// again, and put the panel on top.
    pub(crate) fn video_shown(&mut self, qh: &QueueHandle<App>) {
        self.relayout();
        self.raise_panel(qh);
        self.raise_subtitles(qh);
    }

    pub(crate) fn toggle_fullscreen(&self) {
        if self.fullscreen {
            self.window.unset_fullscreen();
        } else {
            self.window.set_fullscreen(None);
        }
    }

    /// Escape: back to a window, if fullscreen (mpv's).
    pub(crate) fn leave_fullscreen(&self) {
        if self.fullscreen {
            self.window.unset_fullscreen();
        }
    }

    /// Lay the window out again: background, render rectangle, panel.
    pub fn relayout(&mut self) {
        if !self.configured {
            return;
        }
        let video = self.player.as_ref().and_then(|p| p.video_size());
        let rectangle = {
            let mut layout = crate::lock(&self.layout);
            layout.area = self.video_area();
            if video.is_some() {
                layout.video = video;
            }
            layout.render_rectangle()
        };
        if let Some(overlay) = self.player.as_ref().and_then(|p| p.overlay()) {
            let (x, y, w, h) = rectangle;
            let _ = overlay.set_render_rectangle(x, y, w, h);
        }
        self.draw_background();
        self.place_panel();
        self.update_osd();
        self.window.wl_surface().commit();
    }

    /// Fill in what the window knows in the player's statistics: the
    /// subtitle and the OSD on screen, the decorations and the video area.
    pub fn window_stats(&self, stats: &mut Stats) {
        stats.subtitle = self.subtitle_shown();
        stats.stats_panel = self.panel_shown();
        (stats.osd, stats.osd_rect) = self.osd_shown();
        stats.decorations = if self.client_side_frame {
            "client"
        } else {
            "server"
        }
        .to_owned();
        stats.fullscreen = self.fullscreen;
        let (x, y, w, h) = self.video_area();
        stats.video_area = Some([x, y, w, h]);
        let layout = crate::lock(&self.layout);
        stats.video_rect = layout.video.map(|_| {
            let (x, y, w, h) = layout.render_rectangle();
            [x, y, w, h]
        });
    }

    /// Re-check the video size (caps may change) and the cover art, and
    /// lay out if either changed.
    pub fn check_video_size(&mut self) {
        let video = self.player.as_ref().and_then(|p| p.video_size());
        let changed = video.is_some() && crate::lock(&self.layout).video != video;
        let cover = self
            .player
            .as_ref()
            .and_then(|p| p.cover().map(|_| p.cover_generation()));
        if changed || cover != self.cover_drawn {
            self.relayout();
        }
    }
}

/// A fresh ARGB8888 buffer of `size` from `pool`, or `None` once it said
/// why it cannot draw `what`.
impl App {
    /// A subsurface of the window for something drawn above the video (the
    /// panel, subtitles): desynchronised, clicks going through to the
    /// window below. Made after the video's subsurface, it is above it.
    fn overlay_subsurface(
        &self,
        qh: &QueueHandle<App>,
    ) -> (wl_subsurface::WlSubsurface, wl_surface::WlSurface) {
        let (subsurface, surface) = self
            .subcompositor
            .create_subsurface(self.window.wl_surface().clone(), qh);
        subsurface.set_desync();
        if let Ok(region) = smithay_client_toolkit::compositor::Region::new(&self.compositor) {
            surface.set_input_region(Some(region.wl_region()));
        }
        (subsurface, surface)
    }
}

fn argb_buffer(pool: &mut SlotPool, (width, height): (u32, u32), what: &str) -> Option<Buffer> {
    match pool.create_buffer(
        width as i32,
        height as i32,
        (width * 4) as i32,
        wl_shm::Format::Argb8888,
    ) {
        Ok((buffer, _)) => Some(buffer),
        Err(e) => {
            eprintln!("zc-player: cannot draw {what}: {e}");
            None
        }
    }
}

impl CompositorHandler for App {
    fn scale_factor_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: i32,
    ) {
    }

    fn transform_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: wl_output::Transform,
    ) {
    }

    fn frame(&mut self, _: &Connection, _: &QueueHandle<Self>, _: &wl_surface::WlSurface, _: u32) {}

    fn surface_enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }

    fn surface_leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
}

impl OutputHandler for App {
    fn output_state(&mut self) -> &mut OutputState {
        &mut self.output_state
    }

    fn new_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}

    fn update_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}

    fn output_destroyed(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
}

impl WindowHandler for App {
    fn request_close(&mut self, _: &Connection, _: &QueueHandle<Self>, _: &Window) {
        self.exit.get_or_insert(PlayerExit::Done);
    }

    fn configure(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &Window,
        configure: WindowConfigure,
        _: u32,
    ) {
        self.fullscreen = configure.is_fullscreen();
        self.client_side_frame = configure.decoration_mode == DecorationMode::Client;
        let (width, height) = configure.new_size;
        self.size = (
            width.map_or(self.size.0, |w| w.get()),
            height.map_or(self.size.1, |h| h.get()),
        );
        self.configured = true;
        self.relayout();
    }
}

impl ShmHandler for App {
    fn shm_state(&mut self) -> &mut Shm {
        &mut self.shm
    }
}

impl ProvidesRegistryState for App {
    fn registry(&mut self) -> &mut RegistryState {
        &mut self.registry_state
    }
    registry_handlers![OutputState, SeatState];
}

delegate_compositor!(App);
delegate_subcompositor!(App);
delegate_output!(App);
delegate_shm!(App);
delegate_seat!(App);
delegate_keyboard!(App);
delegate_pointer!(App);
delegate_xdg_shell!(App);
delegate_xdg_window!(App);
delegate_registry!(App);
