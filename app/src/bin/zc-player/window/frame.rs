//! What we draw into the window's own wl_shm buffer: the black background
//! and, when the compositor leaves decorations to us, a title bar with the
//! title and a close button.

use smithay_client_toolkit::shell::WaylandSurface;
use zc_app::player::stats;

use super::{App, argb_buffer};

/// Height of the client-side title bar.
pub(super) const TITLE_BAR: u32 = 28;
/// Title bar colour (opaque dark grey) and the close button's.
const TITLE_COLOUR: u32 = 0xFF30_3030;
const CLOSE_COLOUR: u32 = 0xFFB0_3030;
const TEXT_COLOUR: u32 = 0xFFE0_E0E0;

impl App {
    /// Black background (and the title bar when we draw our own frame).
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
}

/// The close button's rectangle in the title bar.
pub(super) fn close_button(width: u32) -> (u32, u32, u32, u32) {
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
