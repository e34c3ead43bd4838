//! The subtitle layer: a wl_shm subsurface above the video, at the bottom
//! of the picture, showing the current cue's text (drawn on the CPU, white
//! on a translucent box). The video's frames stay untouched; the layer is
//! made with the first cue (the video's subsurface exists by then, so it
//! lands above it) and hidden when the position leaves the cue.

use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shm::slot::Buffer;
use wayland_client::QueueHandle;
use wayland_client::protocol::{wl_subsurface, wl_surface};
use zc_app::player::subtitles::{Cue, wrap};
use zc_app::player::text::{self, Colours, GLYPH, PADDING};

use super::{App, argb_buffer};

/// White text on black at 60 % (premultiplied ARGB).
const COLOURS: Colours = Colours {
    foreground: 0xFFFF_FFFF,
    background: 0x9900_0000,
};

/// Picture rows per glyph scale step: text grows with the video's height.
const ROWS_PER_SCALE: i32 = 240;

pub(super) struct SubtitleLayer {
    surface: wl_surface::WlSurface,
    subsurface: wl_subsurface::WlSubsurface,
    buffer: Option<Buffer>,
    cue: Option<Cue>,
    shown: bool,
}

impl App {
    /// A new cue from the pipeline: drawn now (the text sink delivers it
    /// at its start time).
    pub fn show_cue(&mut self, cue: Cue, qh: &QueueHandle<App>) {
        if self.subtitles.is_none() {
            let (subsurface, surface) = self.overlay_subsurface(qh);
            self.subtitles = Some(SubtitleLayer {
                surface,
                subsurface,
                buffer: None,
                cue: None,
                shown: false,
            });
        }
        if let Some(layer) = self.subtitles.as_mut() {
            layer.cue = Some(cue);
        }
        self.draw_subtitle();
    }

    /// On the tick: hide the cue once the position left it.
    pub fn update_subtitles(&mut self) {
        let position = self.player.as_ref().and_then(|p| p.position());
        let Some(layer) = self.subtitles.as_mut() else {
            return;
        };
        let gone = match (&layer.cue, position) {
            (Some(cue), Some(position)) => !cue.shown_at(position),
            (Some(_), None) => false,
            (None, _) => true,
        };
        if gone && layer.shown {
            layer.cue = None;
            layer.shown = false;
            layer.surface.attach(None, 0, 0);
            layer.surface.commit();
        }
    }

    /// Whether a subtitle is on screen now, and its text (for `stats`).
    pub fn subtitle_shown(&self) -> Option<String> {
        let layer = self.subtitles.as_ref()?;
        layer
            .shown
            .then(|| layer.cue.as_ref().map(|c| c.text.clone()))?
    }

    fn draw_subtitle(&mut self) {
        let (x, y, w, h) = crate::lock(&self.layout).render_rectangle();
        let Some(layer) = self.subtitles.as_mut() else {
            return;
        };
        let Some(cue) = layer.cue.as_ref() else {
            return;
        };
        let scale = (h / ROWS_PER_SCALE).clamp(1, 8) as u32;
        let columns = (w.max(0) as u32).saturating_sub(4 * PADDING) / (GLYPH * scale);
        let lines = wrap(&cue.text, columns as usize);
        if lines.is_empty() {
            return;
        }
        let (width, height) = text::box_size(&lines, scale);
        let Some(buffer) = argb_buffer(&mut self.pool, (width, height), "a subtitle") else {
            return;
        };
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            text::draw_centred_box(canvas, (width, height, width * 4), &lines, scale, COLOURS);
        }
        // Centred at the bottom of the picture, a line's height above it.
        let left = x + (w - width as i32) / 2;
        let top = y + h - height as i32 - (GLYPH * scale) as i32;
        layer.subsurface.set_position(left.max(x), top.max(y));
        if buffer.attach_to(&layer.surface).is_ok() {
            layer
                .surface
                .damage_buffer(0, 0, width as i32, height as i32);
            layer.surface.commit();
            layer.shown = true;
        }
        layer.buffer = Some(buffer);
        // The position is the parent's state: applied with its commit.
        self.window.wl_surface().commit();
    }
}
