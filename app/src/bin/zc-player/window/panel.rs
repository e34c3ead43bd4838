//! The statistics panel (keys `i` and `I`): a wl_shm subsurface at the
//! video's corner, above the video's subsurface, redrawn with fresh
//! statistics.

use std::time::{Duration, Instant};

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::Buffer;
use wayland_client::QueueHandle;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use zc_app::player::stats;

use super::{App, argb_buffer};

/// Where the statistics panel sits, from the video area's corner.
const PANEL_MARGIN: i32 = 12;

/// How long `i` shows the panel (mpv's stats duration).
const PANEL_BRIEFLY: Duration = Duration::from_secs(4);

/// The statistics panel's surface.
pub(super) struct Panel {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    /// Whether it was created after the video's subsurface (so it is above it).
    pub(super) above_video: bool,
    /// When it goes (shown by `i`); None: it stays until `I` (mpv's toggle).
    until: Option<Instant>,
}

impl App {
    pub(super) fn place_panel(&mut self) {
        // The video's corner, not the bars beside it.
        let (x, y, _, _) = crate::lock(&self.layout).render_rectangle();
        if let Some(panel) = &self.panel {
            panel
                .subsurface
                .set_position(x + PANEL_MARGIN, y + PANEL_MARGIN);
        }
    }

    /// `I`: show the panel until `I` again (one `i` showed stays), or
    /// hide it.
    pub(crate) fn toggle_panel(&mut self, qh: &QueueHandle<App>) {
        match self.panel.as_mut() {
            Some(panel) if panel.until.is_some() => panel.until = None,
            Some(_) => {
                self.remove_panel();
            }
            None => self.create_panel(qh, None),
        }
    }

    /// `i`: show the panel for [`PANEL_BRIEFLY`] (from now, if `i` showed
    /// it already; one `I` keeps on screen stays).
    pub(crate) fn show_panel_briefly(&mut self, qh: &QueueHandle<App>) {
        let until = Instant::now() + PANEL_BRIEFLY;
        match self.panel.as_mut() {
            Some(panel) => {
                if let Some(at) = panel.until.as_mut() {
                    *at = until;
                }
            }
            None => self.create_panel(qh, Some(until)),
        }
    }

    /// Hide the panel `i` showed once its time is up (on the wake-up
    /// [`App::next_wakeup`] arms for it: the one armed before the key
    /// may come first, up to a tick later).
    pub(super) fn expire_panel(&mut self, now: Instant) {
        if self.panel_until().is_some_and(|until| until <= now) {
            self.remove_panel();
        }
    }

    /// When the panel `i` showed goes.
    pub(super) fn panel_until(&self) -> Option<Instant> {
        self.panel.as_ref().and_then(|p| p.until)
    }

    /// A panel made before the video's subsurface existed sits below it:
    /// make it again, now on top, for as long as it was to stay.
    pub(super) fn raise_panel(&mut self, qh: &QueueHandle<App>) {
        if self.panel.as_ref().is_some_and(|p| !p.above_video)
            && let Some(until) = self.remove_panel()
        {
            self.create_panel(qh, until);
        }
    }

    /// Take the panel off the screen; returns until when it was to stay,
    /// if there was one.
    fn remove_panel(&mut self) -> Option<Option<Instant>> {
        let panel = self.panel.take()?;
        panel.subsurface.destroy();
        panel.surface.destroy();
        self.window.wl_surface().commit();
        Some(panel.until)
    }

    fn create_panel(&mut self, qh: &QueueHandle<App>, until: Option<Instant>) {
        let (subsurface, surface) = self.overlay_subsurface(qh);
        let above_video = self.player.as_ref().is_some_and(|p| p.prerolled);
        self.panel = Some(Panel {
            surface,
            subsurface,
            buffer: None,
            above_video,
            until,
        });
        self.place_panel();
        self.update_panel();
        self.window.wl_surface().commit();
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
            _ => match argb_buffer(&mut self.pool, (width, height), "the statistics") {
                Some(b) => b,
                None => return,
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

    pub(crate) fn panel_shown(&self) -> bool {
        self.panel.is_some()
    }
}
