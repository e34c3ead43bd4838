//! Text on the player's overlays (the statistics panel, subtitles, the
//! on-screen display, the drawn title bar): lines
//! drawn on the CPU with an 8x8 bitmap font, scaled, into an ARGB8888
//! (little-endian, premultiplied) canvas, on a box of one colour.

/// Glyph cell size at scale 1.
pub const GLYPH: u32 = 8;
/// Pixels of padding around a box's text.
pub const PADDING: u32 = 8;

/// A box's colours, premultiplied ARGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colours {
    pub foreground: u32,
    pub background: u32,
}

/// The size in pixels of a box holding these lines at `scale`.
pub fn box_size(lines: &[String], scale: u32) -> (u32, u32) {
    let scale = scale.max(1);
    let columns = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let line_height = (GLYPH + 2) * scale;
    (
        columns * GLYPH * scale + 2 * PADDING,
        lines.len() as u32 * line_height + 2 * PADDING,
    )
}

/// Draw `lines` (each centred when `centred`) on a box filling a canvas of
/// `(width, height, stride)`. Characters the font lacks show as `?`; text
/// that does not fit is clipped.
pub fn draw_box(
    canvas: &mut [u8],
    (width, height, stride): (u32, u32, u32),
    lines: &[String],
    scale: u32,
    colours: Colours,
) {
    draw(
        canvas,
        (width, height, stride),
        lines,
        scale,
        colours,
        false,
    );
}

/// As [`draw_box`], each line centred.
pub fn draw_centred_box(
    canvas: &mut [u8],
    size: (u32, u32, u32),
    lines: &[String],
    scale: u32,
    colours: Colours,
) {
    draw(canvas, size, lines, scale, colours, true);
}

fn draw(
    canvas: &mut [u8],
    (width, height, stride): (u32, u32, u32),
    lines: &[String],
    scale: u32,
    colours: Colours,
    centred: bool,
) {
    let scale = scale.max(1);
    fill(
        canvas,
        (width, height, stride),
        (0, 0, width, height),
        colours.background,
    );
    let line_height = (GLYPH + 2) * scale;
    for (n, line) in lines.iter().enumerate() {
        let top = PADDING + n as u32 * line_height;
        let text_width = line.chars().count() as u32 * GLYPH * scale;
        let start = if centred {
            width.saturating_sub(text_width) / 2
        } else {
            PADDING
        };
        draw_line(
            canvas,
            (width, height, stride),
            (start, top),
            line,
            scale,
            colours.foreground,
        );
    }
}

/// Fill the rectangle `(x, y, w, h)` of a canvas of `(width, height,
/// stride)` with `colour`; what lies outside the canvas is clipped.
pub fn fill(
    canvas: &mut [u8],
    (width, height, stride): (u32, u32, u32),
    (x, y, w, h): (u32, u32, u32, u32),
    colour: u32,
) {
    let bytes = colour.to_le_bytes();
    let right = x.saturating_add(w).min(width);
    let bottom = y.saturating_add(h).min(height);
    if x >= right {
        return;
    }
    for row in y..bottom {
        let start = (row * stride + x * 4) as usize;
        let end = (row * stride + right * 4) as usize;
        if let Some(line) = canvas.get_mut(start..end) {
            for px in line.chunks_exact_mut(4) {
                px.copy_from_slice(&bytes);
            }
        }
    }
}

/// Draw one line of text with its top-left corner at `origin`, lighting
/// only the glyphs' pixels in `colour` (the rest of the canvas is left as
/// it is). Text beyond `width` x `height` is clipped.
pub fn draw_line(
    canvas: &mut [u8],
    (width, height, stride): (u32, u32, u32),
    origin: (u32, u32),
    line: &str,
    scale: u32,
    colour: u32,
) {
    let scale = scale.max(1);
    let (left_edge, top) = origin;
    for (column, c) in line.chars().enumerate() {
        let left = left_edge + column as u32 * GLYPH * scale;
        if left >= width {
            break;
        }
        for (gy, bits) in glyph(c).iter().enumerate() {
            for gx in 0..GLYPH {
                // font8x8: bit 0 is the leftmost pixel.
                if bits >> gx & 1 == 0 {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        let x = left + gx * scale + sx;
                        let y = top + gy as u32 * scale + sy;
                        if x >= width || y >= height {
                            continue;
                        }
                        let i = (y * stride + x * 4) as usize;
                        if let Some(px) = canvas.get_mut(i..i + 4) {
                            px.copy_from_slice(&colour.to_le_bytes());
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn glyph(c: char) -> [u8; 8] {
    let table = &font8x8::legacy::BASIC_LEGACY;
    let index = if c.is_ascii() && !c.is_ascii_control() {
        c as usize
    } else {
        '?' as usize
    };
    table[index]
}
