//! What we draw into the window's own wl_shm buffer: the black background
//! (with the cover art of an entry that has no video) and, when the
//! compositor leaves decorations to us, a title bar with the title and a
//! close button.

use smithay_client_toolkit::shell::WaylandSurface;
use zc_app::player::text::{self, fill};

use super::{App, argb_buffer};

/// Height of the client-side title bar.
pub(super) const TITLE_BAR: u32 = 28;
/// Title bar colour (opaque dark grey) and the close button's.
const TITLE_COLOUR: u32 = 0xFF30_3030;
const CLOSE_COLOUR: u32 = 0xFFB0_3030;
const TEXT_COLOUR: u32 = 0xFFE0_E0E0;
/// The title's glyph scale.
const TEXT_SCALE: u32 = 2;

impl App {
    /// Black background with the cover art of an entry that has no video
    /// (and the title bar when we draw our own frame).
    pub(super) fn draw_background(&mut self) {
        let (width, height) = self.size;
        let stride = width * 4;
        let buffer = match self.background.take() {
            Some(b) if b.height() as u32 == height && b.stride() as u32 == stride => b,
            _ => match argb_buffer(&mut self.pool, (width, height), "the window") {
                Some(buffer) => buffer,
                None => return,
            },
        };
        let buffer = if buffer.canvas(&mut self.pool).is_some() {
            buffer
        } else {
            // The compositor still holds it: draw into a fresh one.
            match argb_buffer(&mut self.pool, (width, height), "the window") {
                Some(b) => b,
                None => return,
            }
        };
        let bar = self.title_bar();
        let title = self.title.clone();
        let area = self.video_area();
        let cover = self
            .player
            .as_ref()
            .and_then(|p| p.cover().map(|picture| (picture, p.cover_generation())));
        self.cover_drawn = None;
        if let Some(canvas) = buffer.canvas(&mut self.pool) {
            let size = (width, height, stride);
            fill(canvas, size, (0, 0, width, height), 0xFF00_0000);
            if let Some((cover, generation)) = cover {
                cover.draw_fitted(canvas, size, area);
                self.cover_drawn = Some(generation);
            }
            if bar > 0 {
                fill(canvas, size, (0, 0, width, bar), TITLE_COLOUR);
                let close = close_button(width);
                fill(canvas, size, close, CLOSE_COLOUR);
                text(canvas, size, (close.0 + 6, 6), "x", TEXT_COLOUR, close.2);
                text(
                    canvas,
                    size,
                    (8, 6),
                    &title,
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
}

/// The close button's rectangle in the title bar.
pub(super) fn close_button(width: u32) -> (u32, u32, u32, u32) {
    let size = TITLE_BAR;
    (width.saturating_sub(size), 0, size, size)
}

/// Draw `line` with the overlays' font at `origin`, clipped to `max_width`.
fn text(
    canvas: &mut [u8],
    size: (u32, u32, u32),
    origin: (u32, u32),
    line: &str,
    colour: u32,
    max_width: u32,
) {
    let columns = (max_width / (text::GLYPH * TEXT_SCALE)) as usize;
    let clipped: String = line.chars().take(columns).collect();
    text::draw_line(canvas, size, origin, &clipped, TEXT_SCALE, colour);
}
