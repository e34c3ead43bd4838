//! The statistics panel (key `i`): a wl_shm subsurface at the video's
//! corner, above the video's subsurface, redrawn with fresh statistics.

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::Buffer;
use wayland_client::QueueHandle;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use zc_app::player::stats;

use super::{App, argb_buffer};

/// Where the statistics panel sits, from the video area's corner.
const PANEL_MARGIN: i32 = 12;

/// The statistics panel's surface.
pub(super) struct Panel {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    /// Whether it was created after the video's subsurface (so it is above it).
    pub(super) above_video: bool,
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

    pub(crate) fn toggle_panel(&mut self, qh: &QueueHandle<App>) {
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
        let (subsurface, surface) = self.overlay_subsurface(qh);
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
