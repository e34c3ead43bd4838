//! Image subtitles, decoded for the player's subtitle layer: DVD subtitles
//! (VobSub, GStreamer's `subpicture/x-dvd`, [`vobsub`]), Blu-ray ones
//! (PGS, `subpicture/x-pgs`, [`pgs`]) and DVB ones (`subpicture/x-dvb`,
//! [`dvb`]). Each becomes a premultiplied ARGB
//! [`Image`] placed in the video frame, drawn on the subtitle subsurface
//! as text cues are: the video frames are never touched (stock playbin
//! blends these into every frame on the CPU with `dvdspu` and
//! `dvbsuboverlay`).

use thiserror::Error;
use zc_dmabuf::color::{Matrix, Range};

pub mod dvb;
pub mod pgs;
pub mod vobsub;

/// What is wrong with a subtitle packet.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SubpictureError {
    #[error("the packet ends at byte {len}, but it needs byte {needed} ({what})")]
    Truncated {
        what: &'static str,
        needed: usize,
        len: usize,
    },
    #[error("control sequence at byte {at} has the unknown command {command:#04x}")]
    UnknownCommand { command: u8, at: usize },
    #[error(
        "control sequence at byte {at} points back to byte {next} (sequences go forwards, the last to itself)"
    )]
    SequenceLoop { at: usize, next: usize },
    #[error("more than {} control sequences", vobsub::MAX_SEQUENCES)]
    TooManySequences,
    #[error("the display area ends before it starts: x {x1}..={x2}, y {y1}..={y2}")]
    EmptyArea { x1: u32, x2: u32, y1: u32, y2: u32 },
    #[error("segment at byte {at} has the unknown type {kind:#04x} (PGS has 0x14-0x17 and 0x80)")]
    UnknownSegment { kind: u8, at: usize },
    #[error("the composition shows object {id}, which no segment defined")]
    MissingObject { id: u16 },
    #[error(
        "object {id} is {width}x{height}: at most {} pixels on a side",
        MAX_SIDE
    )]
    ObjectTooLarge { id: u16, width: u32, height: u32 },
    #[error(
        "the composition's objects span {width}x{height}: at most {} pixels on a side",
        MAX_SIDE
    )]
    CompositionTooLarge { width: u32, height: u32 },
    #[error(
        "the packet starts with {:#04x} {:#04x}, not DVB subtitles' data identifier 0x20 and stream id 0x00",
        start[0],
        start[1]
    )]
    NotDvb { start: [u8; 2] },
    #[error(
        "byte {at} is {found:#04x}: a segment (sync byte 0x0f) or the end marker 0xff belongs there"
    )]
    SyncByte { at: usize, found: u8 },
    #[error(
        "region {id} is {width}x{height}: at most {} pixels on a side",
        MAX_SIDE
    )]
    RegionTooLarge { id: u8, width: u32, height: u32 },
    #[error("the regions would have {pixels} pixels in all: at most {}", MAX_SIDE * MAX_SIDE)]
    RegionsTooLarge { pixels: usize },
    #[error("region {id} has the depth code {code} (1, 2 and 3 are 2, 4 and 8 bits a pixel)")]
    RegionDepth { id: u8, code: u8 },
    #[error(
        "object {id} is coded with method {method}: only pixels (method 0) are supported, not characters or compressed bitmaps"
    )]
    ObjectCoding { id: u16, method: u8 },
    #[error(
        "pixel data at byte {at} of its field has the unknown type {kind:#04x} (DVB has 0x10-0x12, 0x20-0x22 and 0xf0)"
    )]
    UnknownPixelData { kind: u8, at: usize },
    #[error(
        "a {bits}-bit pixel code string in a region of {depth} bits a pixel (strings may be shallower than their region, not deeper)"
    )]
    TooDeep { bits: u8, depth: u8 },
}

/// The largest side of a picture or of a part of one (an object, a
/// region): Blu-ray pictures are at most 1920x1080, DVB displays as large;
/// this bounds what a damaged size can make a decoder allocate.
pub const MAX_SIDE: u32 = 4096;

/// What a display set (PGS, DVB) shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Its objects or regions, composed into one picture.
    Picture(Image),
    /// Nothing: the screen is cleared.
    Cleared,
}

/// A decoded picture: where it goes in the video frame (in the frame's
/// pixels) and its pixels, premultiplied ARGB8888, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// The frame `x` and `y` are in, when the track says (PGS does); else
    /// the video's frame.
    pub frame: Option<(u32, u32)>,
    pub argb: Vec<u32>,
}

impl Image {
    /// Draw the image scaled (nearest neighbour) to fill a canvas of
    /// `(width, height, stride)` bytes of little-endian ARGB8888.
    pub fn draw_scaled(&self, canvas: &mut [u8], (width, height, stride): (u32, u32, u32)) {
        if self.width == 0 || self.height == 0 {
            return;
        }
        for row in 0..height {
            let source_row = (u64::from(row) * u64::from(self.height) / u64::from(height)) as usize;
            let line_start = row as usize * stride as usize;
            let Some(line) = canvas.get_mut(line_start..line_start + width as usize * 4) else {
                return;
            };
            for (column, pixel) in line.chunks_exact_mut(4).enumerate() {
                let source_column =
                    (column as u64 * u64::from(self.width) / u64::from(width)) as usize;
                let at = source_row * self.width as usize + source_column;
                let argb = self.argb.get(at).copied().unwrap_or(0);
                pixel.copy_from_slice(&argb.to_le_bytes());
            }
        }
    }
}

/// Y, Cr, Cb (limited range, `matrix`) as RGB.
fn ycrcb_to_rgb(matrix: Matrix, [y, cr, cb]: [u8; 3]) -> [u8; 3] {
    let [rv, gu, gv, bu] = matrix.coefficients();
    let [y_offset, y_scale, c_offset, c_scale] = Range::Limited.scales(8);
    let y = (f32::from(y) - y_offset) * y_scale;
    let cb = (f32::from(cb) - c_offset) * c_scale;
    let cr = (f32::from(cr) - c_offset) * c_scale;
    let to_u8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    [
        to_u8(y + rv * cr),
        to_u8(y - gu * cb - gv * cr),
        to_u8(y + bu * cb),
    ]
}

/// RGB at `alpha` (0-255) as premultiplied ARGB8888.
fn premultiplied([r, g, b]: [u8; 3], alpha: u8) -> u32 {
    let alpha = u32::from(alpha);
    let premultiply = |c: u8| (u32::from(c) * alpha + 127) / 255;
    alpha << 24 | premultiply(r) << 16 | premultiply(g) << 8 | premultiply(b)
}

fn byte(packet: &[u8], at: usize, what: &'static str) -> Result<u8, SubpictureError> {
    packet.get(at).copied().ok_or(SubpictureError::Truncated {
        what,
        needed: at,
        len: packet.len(),
    })
}

fn be16(packet: &[u8], at: usize, what: &'static str) -> Result<usize, SubpictureError> {
    Ok(usize::from(byte(packet, at, what)?) << 8 | usize::from(byte(packet, at + 1, what)?))
}

#[cfg(test)]
mod tests;
