//! The window and everything the main loop does: an xdg-shell toplevel
//! (server-side decorations where offered, else a drawn title bar with a
//! close button), a black wl_shm background, the video subsurface placed by
//! the sink at our render rectangle, the statistics panel in a wl_shm
//! subsurface above it, input, the control socket's requests and the bus.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use gst_video::prelude::*;
use smithay_client_toolkit::compositor::{CompositorHandler, CompositorState};
use smithay_client_toolkit::output::{OutputHandler, OutputState};
use smithay_client_toolkit::registry::{ProvidesRegistryState, RegistryState};
use smithay_client_toolkit::seat::keyboard::{KeyEvent, KeyboardHandler, Keysym, RawModifiers};
use smithay_client_toolkit::seat::pointer::{PointerEvent, PointerEventKind, PointerHandler};
use smithay_client_toolkit::seat::{Capability, SeatHandler, SeatState};
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shell::xdg::window::{
    DecorationMode, Window, WindowConfigure, WindowHandler,
};
use smithay_client_toolkit::shm::slot::{Buffer, SlotPool};
use smithay_client_toolkit::shm::{Shm, ShmHandler};
use smithay_client_toolkit::subcompositor::SubcompositorState;
use smithay_client_toolkit::{
    delegate_compositor, delegate_keyboard, delegate_output, delegate_pointer, delegate_registry,
    delegate_seat, delegate_shm, delegate_subcompositor, delegate_xdg_shell, delegate_xdg_window,
    registry_handlers,
};
use wayland_client::protocol::{
    wl_keyboard, wl_output, wl_pointer, wl_seat, wl_shm, wl_subsurface, wl_surface,
};
use wayland_client::{Connection, QueueHandle};
use zc_app::player::controls::{self, ClickTracker, Command, Modifiers};
use zc_app::player::ipc::{Call, Reply, Request};
use zc_app::player::stats;
use zc_app::weston::HeadlessWeston;

use crate::playback::{BusEvent, Layout, Player, PlayerExit};

/// Height of the client-side title bar.
const TITLE_BAR: u32 = 28;
/// Title bar colour (opaque dark grey) and the close button's.
const TITLE_COLOUR: u32 = 0xFF30_3030;
const CLOSE_COLOUR: u32 = 0xFFB0_3030;
const TEXT_COLOUR: u32 = 0xFFE0_E0E0;
/// Window size before the compositor says otherwise.
pub const DEFAULT_SIZE: (u32, u32) = (960, 540);
/// Where the statistics panel sits, from the video area's corner.
const PANEL_MARGIN: i32 = 12;

/// The statistics panel's surface.
struct Panel {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    /// Whether it was created after the video's subsurface (so it is above it).
    above_video: bool,
}

pub struct App {
    pub registry_state: RegistryState,
    pub seat_state: SeatState,
    pub output_state: OutputState,
    pub compositor: CompositorState,
    pub subcompositor: SubcompositorState,
    pub shm: Shm,
    pub window: Window,
    pub pool: SlotPool,
    pub title: String,
    background: Option<Buffer>,
    size: (u32, u32),
    configured: bool,
    client_side_frame: bool,
    fullscreen: bool,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    pointer: Option<wl_pointer::WlPointer>,
    seat: Option<wl_seat::WlSeat>,
    modifiers: Modifiers,
    clicks: ClickTracker,
    panel: Option<Panel>,
    pub layout: Arc<Mutex<Layout>>,
    pub player: Option<Player>,
    pub weston: Option<Rc<HeadlessWeston>>,
    pub exit: Option<PlayerExit>,
    /// The `quit` request waiting for its answer (sent after teardown).
    pub quit_reply: Option<Sender<Reply>>,
    said_no_audio: bool,
    queue: QueueHandle<App>,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        registry_state: RegistryState,
        seat_state: SeatState,
        output_state: OutputState,
        compositor: CompositorState,
        subcompositor: SubcompositorState,
        shm: Shm,
        window: Window,
        pool: SlotPool,
        title: String,
        layout: Arc<Mutex<Layout>>,
        weston: Option<Rc<HeadlessWeston>>,
        queue: QueueHandle<App>,
    ) -> App {
        App {
            registry_state,
            seat_state,
            output_state,
            compositor,
            subcompositor,
            shm,
            window,
            pool,
            title,
            background: None,
            size: DEFAULT_SIZE,
            configured: false,
            client_side_frame: false,
            fullscreen: false,
            keyboard: None,
            pointer: None,
            seat: None,
            modifiers: Modifiers::default(),
            clicks: ClickTracker::default(),
            panel: None,
            layout,
            player: None,
            weston,
            exit: None,
            quit_reply: None,
            said_no_audio: false,
            queue,
        }
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

    /// Black background (and the title bar when we draw our own frame).
    fn draw_background(&mut self) {
        let (width, height) = self.size;
        let stride = width * 4;
        let buffer = match self.background.take() {
            Some(b) if b.height() as u32 == height && b.stride() as u32 == stride => b,
            _ => match self.pool.create_buffer(
                width as i32,
                height as i32,
                stride as i32,
                wl_shm::Format::Argb8888,
            ) {
                Ok((buffer, _)) => buffer,
                Err(e) => {
                    eprintln!("zc-player: cannot draw the window: {e}");
                    return;
                }
            },
        };
        let buffer = if buffer.canvas(&mut self.pool).is_some() {
            buffer
        } else {
            // The compositor still holds it: draw into a fresh one.
            match self.pool.create_buffer(
                width as i32,
                height as i32,
                stride as i32,
                wl_shm::Format::Argb8888,
            ) {
                Ok((b, _)) => b,
                Err(e) => {
                    eprintln!("zc-player: cannot draw the window: {e}");
                    return;
                }
            }
        };
        let bar = self.title_bar();
        let title = self.title.clone();
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            fill(canvas, stride, (0, 0, width, height), 0xFF00_0000);
            if bar > 0 {
                fill(canvas, stride, (0, 0, width, bar), TITLE_COLOUR);
                let close = close_button(width);
                fill(canvas, stride, close, CLOSE_COLOUR);
                text(
                    canvas,
                    stride,
                    (close.0 + 6, 6),
                    "x",
                    2,
                    TEXT_COLOUR,
                    close.2,
                );
                text(
                    canvas,
                    stride,
                    (8, 6),
                    &title,
                    2,
                    TEXT_COLOUR,
                    width.saturating_sub(close.2 + 16),
                );
            }
        }
        let surface = self.window.wl_surface();
        if buffer.attach_to(surface).is_ok() {
            surface.damage_buffer(0, 0, width as i32, height as i32);
        }
        self.background = Some(buffer);
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
        self.window.wl_surface().commit();
    }

    /// Re-check the video size (caps may change) and lay out if it did.
    pub fn check_video_size(&mut self) {
        let video = self.player.as_ref().and_then(|p| p.video_size());
        let changed = video.is_some() && crate::lock(&self.layout).video != video;
        if changed {
            self.relayout();
        }
    }

    fn place_panel(&mut self) {
        // The video's corner, not the bars beside it.
        let (x, y, _, _) = crate::lock(&self.layout).render_rectangle();
        if let Some(panel) = &self.panel {
            panel
                .subsurface
                .set_position(x + PANEL_MARGIN, y + PANEL_MARGIN);
        }
    }

    fn toggle_panel(&mut self, qh: &QueueHandle<App>) {
        if let Some(panel) = self.panel.take() {
            panel.subsurface.destroy();
            panel.surface.destroy();
        } else {
            self.create_panel(qh);
            self.update_panel();
        }
        self.window.wl_surface().commit();
    }

    fn create_panel(&mut self, qh: &QueueHandle<App>) {
        let (subsurface, surface) = self
            .subcompositor
            .create_subsurface(self.window.wl_surface().clone(), qh);
        subsurface.set_desync();
        // Clicks go through to the window below.
        if let Ok(region) = smithay_client_toolkit::compositor::Region::new(&self.compositor) {
            surface.set_input_region(Some(region.wl_region()));
        }
        let above_video = self.player.as_ref().is_some_and(|p| p.prerolled);
        self.panel = Some(Panel {
            surface,
            subsurface,
            buffer: None,
            above_video,
        });
        self.place_panel();
    }

    /// Redraw the panel with fresh statistics.
    pub fn update_panel(&mut self) {
        let Some(player) = self.player.as_mut() else {
            return;
        };
        let Some(panel) = self.panel.as_mut() else {
            return;
        };
        let lines = player.stats().panel_lines();
        let scale = 2;
        let (width, height) = stats::panel_size(&lines, scale);
        let stride = width * 4;
        let reusable = panel
            .buffer
            .take()
            .filter(|b| b.height() as u32 == height && b.stride() as u32 == stride);
        let buffer = match reusable {
            Some(b) if b.canvas(&mut self.pool).is_some() => b,
            _ => match self.pool.create_buffer(
                width as i32,
                height as i32,
                stride as i32,
                wl_shm::Format::Argb8888,
            ) {
                Ok((b, _)) => b,
                Err(e) => {
                    eprintln!("zc-player: cannot draw the statistics: {e}");
                    return;
                }
            },
        };
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            stats::draw_panel(canvas, width, height, stride, &lines, scale);
        }
        if buffer.attach_to(&panel.surface).is_ok() {
            panel
                .surface
                .damage_buffer(0, 0, width as i32, height as i32);
            panel.surface.commit();
        }
        panel.buffer = Some(buffer);
    }

    /// Called about twice a second.
    pub fn tick(&mut self) {
        if let Some(player) = self.player.as_mut() {
            player.sample_fps();
            player.expire_snapshots();
        }
        self.check_video_size();
        self.update_panel();
    }

    pub fn on_bus(&mut self, event: BusEvent, qh: &QueueHandle<App>) {
        let BusEvent::Message(message) = event;
        let Some(player) = self.player.as_mut() else {
            return;
        };
        let was_prerolled = player.prerolled;
        if let Err(exit) = player.handle_message(&message) {
            self.exit.get_or_insert(exit);
            return;
        }
        if !was_prerolled && player.prerolled {
            self.relayout();
            // A panel made before the video's subsurface existed sits below
            // it: make it again, now on top.
            if self.panel.as_ref().is_some_and(|p| !p.above_video) {
                self.toggle_panel(qh);
                self.toggle_panel(qh);
            }
        }
    }

    /// Run a command from a key, a click or the control socket.
    pub fn run_command(&mut self, command: Command, qh: &QueueHandle<App>) -> Reply {
        let mut fields = serde_json::Map::new();
        let Some(player) = self.player.as_mut() else {
            return Err("nothing is playing".to_owned());
        };
        match command {
            Command::Play => player.set_playing(true)?,
            Command::Pause => player.set_playing(false)?,
            Command::TogglePause => player.toggle_pause()?,
            Command::Seek(target) => player.seek(target, false, None)?,
            Command::ToggleMute | Command::ChangeVolume(_) if !player.audio => {
                if !self.said_no_audio {
                    eprintln!("zc-player: there is no audio output (no audio device)");
                    self.said_no_audio = true;
                }
                return Err("there is no audio output (no audio device)".to_owned());
            }
            Command::ToggleMute => {
                fields.insert("muted".into(), player.toggle_mute().into());
            }
            Command::ChangeVolume(delta) => {
                fields.insert("volume".into(), player.change_volume(delta).into());
            }
            Command::Snapshot(path) => player.snapshot(path, None)?,
            Command::ToggleFullscreen => {
                if self.fullscreen {
                    self.window.unset_fullscreen();
                } else {
                    self.window.set_fullscreen(None);
                }
            }
            Command::ToggleStats => {
                self.toggle_panel(qh);
                fields.insert("stats-panel".into(), self.panel.is_some().into());
            }
            Command::Quit => {
                self.exit.get_or_insert(PlayerExit::Done);
            }
        }
        if let Some(player) = self.player.as_ref() {
            fields.insert("state".into(), player.state_name().into());
        }
        Ok(fields)
    }

    pub fn on_call(&mut self, call: Call, qh: &QueueHandle<App>) {
        let Call { request, reply } = call;
        let answer: Reply = match request {
            Request::Quit => {
                self.exit.get_or_insert(PlayerExit::Done);
                self.quit_reply = Some(reply);
                return;
            }
            Request::Seek { target, accurate } => {
                let Some(player) = self.player.as_mut() else {
                    let _ = reply.send(Err("nothing is playing".to_owned()));
                    return;
                };
                match player.seek(target, accurate, Some(reply.clone())) {
                    // Answered at ASYNC_DONE with the position reached.
                    Ok(()) => return,
                    Err(e) => Err(e),
                }
            }
            Request::Snapshot { path } => {
                let Some(player) = self.player.as_mut() else {
                    let _ = reply.send(Err("nothing is playing".to_owned()));
                    return;
                };
                match player.snapshot(path, Some(reply.clone())) {
                    Ok(()) => return,
                    Err(e) => Err(e),
                }
            }
            Request::Play => self.run_command(Command::Play, qh),
            Request::Pause => self.run_command(Command::Pause, qh),
            Request::Position => match self.player.as_ref() {
                Some(player) => Ok(player.position_reply()),
                None => Err("nothing is playing".to_owned()),
            },
            Request::Stats => match self.player.as_mut() {
                Some(player) => serde_json::to_value(player.stats())
                    .map_err(|e| e.to_string())
                    .and_then(|v| match v {
                        serde_json::Value::Object(fields) => Ok(fields),
                        _ => Err("statistics are not an object".to_owned()),
                    }),
                None => Err("nothing is playing".to_owned()),
            },
            Request::Screenshot { path } => self.screenshot(path),
            Request::Key { name } => match controls::keysym_by_name(&name) {
                None => Err(format!(
                    "unknown key `{name}`: use space, Left, Right, Up, Down, Escape or one character"
                )),
                Some(keysym) => match controls::command_for_key(keysym, Modifiers::default()) {
                    Some(command) => self.run_command(command, qh),
                    None => Err(format!("the key `{name}` does nothing in zc-player")),
                },
            },
        };
        let _ = reply.send(answer);
    }

    fn screenshot(&self, path: PathBuf) -> Reply {
        let Some(weston) = self.weston.as_ref() else {
            return Err(
                "screenshots need the player's own headless compositor (--headless); \
                 use your desktop's screenshot tool"
                    .to_owned(),
            );
        };
        let png = weston.screenshot_png().map_err(|e| e.to_string())?;
        std::fs::copy(&png, &path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let _ = std::fs::remove_file(&png);
        let mut fields = serde_json::Map::new();
        fields.insert("path".into(), path.to_string_lossy().into_owned().into());
        Ok(fields)
    }

    fn key(&mut self, keysym: Keysym, qh: &QueueHandle<App>) {
        if let Some(command) = controls::command_for_key(keysym, self.modifiers)
            && let Err(e) = self.run_command(command, qh)
        {
            eprintln!("zc-player: {e}");
        }
    }
}

/// The close button's rectangle in the title bar.
fn close_button(width: u32) -> (u32, u32, u32, u32) {
    let size = TITLE_BAR;
    (width.saturating_sub(size), 0, size, size)
}

fn fill(canvas: &mut [u8], stride: u32, rect: (u32, u32, u32, u32), colour: u32) {
    let (x, y, w, h) = rect;
    let bytes = colour.to_le_bytes();
    for row in y..y + h {
        let start = (row * stride + x * 4) as usize;
        let end = start + (w * 4) as usize;
        if let Some(line) = canvas.get_mut(start..end) {
            for px in line.chunks_exact_mut(4) {
                px.copy_from_slice(&bytes);
            }
        }
    }
}

/// Draw `text` with the panel's font at `origin`, clipped to `max_width`.
fn text(
    canvas: &mut [u8],
    stride: u32,
    origin: (u32, u32),
    text: &str,
    scale: u32,
    colour: u32,
    max_width: u32,
) {
    let columns = (max_width / (stats::GLYPH * scale)) as usize;
    let clipped: String = text.chars().take(columns).collect();
    let (w, h) = (
        clipped.chars().count() as u32 * stats::GLYPH * scale,
        stats::GLYPH * scale,
    );
    // Render into a scratch panel without padding, then copy lit pixels.
    let lines = vec![clipped];
    let (pw, ph) = stats::panel_size(&lines, scale);
    let mut scratch = vec![0u8; (pw * ph * 4) as usize];
    stats::draw_panel(&mut scratch, pw, ph, pw * 4, &lines, scale);
    let lit = stats::FOREGROUND.to_le_bytes();
    for y in 0..h {
        for x in 0..w {
            let s = (((y + stats::PADDING) * pw + x + stats::PADDING) * 4) as usize;
            if scratch.get(s..s + 4) == Some(&lit[..]) {
                let d = ((origin.1 + y) * stride + (origin.0 + x) * 4) as usize;
                if let Some(px) = canvas.get_mut(d..d + 4) {
                    px.copy_from_slice(&colour.to_le_bytes());
                }
            }
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

impl SeatHandler for App {
    fn seat_state(&mut self) -> &mut SeatState {
        &mut self.seat_state
    }

    fn new_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}

    fn new_capability(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        seat: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard && self.keyboard.is_none() {
            match self.seat_state.get_keyboard(qh, &seat, None) {
                Ok(keyboard) => self.keyboard = Some(keyboard),
                Err(e) => eprintln!("zc-player: no keyboard input: {e}"),
            }
        }
        if capability == Capability::Pointer && self.pointer.is_none() {
            match self.seat_state.get_pointer(qh, &seat) {
                Ok(pointer) => self.pointer = Some(pointer),
                Err(e) => eprintln!("zc-player: no pointer input: {e}"),
            }
        }
        self.seat = Some(seat);
    }

    fn remove_capability(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard
            && let Some(keyboard) = self.keyboard.take()
        {
            keyboard.release();
        }
        if capability == Capability::Pointer
            && let Some(pointer) = self.pointer.take()
        {
            pointer.release();
        }
    }

    fn remove_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
}

impl KeyboardHandler for App {
    fn enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
        _: &[u32],
        _: &[Keysym],
    ) {
    }

    fn leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
    ) {
    }

    fn press_key(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.key(event.keysym, qh);
    }

    fn repeat_key(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        // Held arrows keep seeking; toggles do not repeat.
        if matches!(
            event.keysym,
            Keysym::Left | Keysym::Right | Keysym::Up | Keysym::Down
        ) {
            self.key(event.keysym, qh);
        }
    }

    fn release_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        _: KeyEvent,
    ) {
    }

    fn update_modifiers(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        modifiers: smithay_client_toolkit::seat::keyboard::Modifiers,
        _: RawModifiers,
        _: u32,
    ) {
        self.modifiers = Modifiers {
            ctrl: modifiers.ctrl,
            alt: modifiers.alt,
            shift: modifiers.shift,
            logo: modifiers.logo,
        };
    }
}

/// BTN_LEFT from linux/input-event-codes.h.
const BTN_LEFT: u32 = 0x110;

impl PointerHandler for App {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        for event in events {
            let PointerEventKind::Press {
                time,
                button,
                serial,
            } = event.kind
            else {
                continue;
            };
            if button != BTN_LEFT {
                continue;
            }
            let (x, y) = event.position;
            let on_window = &event.surface == self.window.wl_surface();
            let bar = self.title_bar() as f64;
            if on_window && y < bar {
                let close = close_button(self.size.0);
                if x >= close.0 as f64 {
                    self.exit.get_or_insert(PlayerExit::Done);
                } else if let Some(seat) = &self.seat {
                    self.window.move_(seat, serial);
                }
                continue;
            }
            if let Some(command) = self.clicks.press(time, x, y)
                && let Err(e) = self.run_command(command, qh)
            {
                eprintln!("zc-player: {e}");
            }
        }
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
