//! [`LayoutError`]: why a layout, a format name or an alignment was refused.

use std::ops::Range;

use super::format::SupportedFormats;
use super::{Fourcc, MAX_DIMENSION, MAX_PLANES};

fn excess(end: &u64, size: &u64) -> u64 {
    end.saturating_sub(*size)
}

fn overlap_len(a: &Range<u64>, b: &Range<u64>) -> u64 {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}

/// Where the later-starting of two overlapping planes would have to begin.
fn first_free_byte(a: &Range<u64>, b: &Range<u64>) -> u64 {
    if a.start <= b.start { a.end } else { b.end }
}

/// Why a layout (or a format name, or an alignment) was refused. Each message
/// says what was wrong, by how much, and what would have been accepted, since
/// these usually surface in a log far from the code that built the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "unsupported pixel format {fourcc}; supported formats: {}",
        SupportedFormats
    )]
    /// The fourcc is valid DRM but not one zc can lay out.
    UnknownFormat { fourcc: Fourcc },

    #[error(
        "unknown pixel format name {name:?}; supported formats: {}",
        SupportedFormats
    )]
    /// From [`Fourcc`]'s `from_str`: the text names no supported format.
    UnknownFormatName { name: String },

    #[error("frame size {width}x{height} is empty; width and height must both be at least 1")]
    ZeroSize { width: u32, height: u32 },

    #[error(
        "frame size {width}x{height} is too large; width and height must both be at most {MAX_DIMENSION}"
    )]
    /// Beyond [`MAX_DIMENSION`]; bounding dimensions is what keeps every size
    /// computation here overflow-free.
    TooLarge { width: u32, height: u32 },

    #[error("{fourcc} has {expected} plane(s), but the layout describes {got}")]
    /// Modifiers that add auxiliary planes (compression metadata) are not
    /// supported: the count must be the format's own.
    PlaneCount {
        fourcc: Fourcc,
        expected: usize,
        got: usize,
    },

    #[error("{got} buffers given, but a frame can use at most {MAX_PLANES}")]
    /// More buffer sizes than any frame can have planes.
    TooManyBuffers { got: usize },

    #[error(
        "plane {plane}: stride {stride} is too small for a row of {min} bytes (needs at least {min})"
    )]
    /// Rows would overlap each other (a stride of 0 included).
    StrideTooSmall { plane: usize, stride: u32, min: u64 },

    #[error(
        "plane {plane}: offset {offset} puts the end of the plane past the largest 64-bit size"
    )]
    /// The offset is so large that the plane's end does not fit in `u64`;
    /// no real buffer is that big.
    OffsetOverflow { plane: usize, offset: u64 },

    #[error(
        "plane {plane} ends at byte {end}, {} bytes past the end of buffer {buffer} ({buffer_size} bytes); the buffer needs at least {end} bytes",
        excess(.end, .buffer_size)
    )]
    /// Reading the plane would run off the end of its dma-buf.
    PlaneOutOfBounds {
        plane: usize,
        buffer: usize,
        end: u64,
        buffer_size: u64,
    },

    #[error(
        "plane {plane} refers to buffer {buffer}, but only {buffers} buffer(s) were given (valid buffer indices are below {buffers})"
    )]
    /// The plane names a buffer (fd) that was not supplied.
    NoSuchBuffer {
        plane: usize,
        buffer: usize,
        buffers: usize,
    },

    #[error(
        "planes {first} and {second} overlap by {} bytes in buffer {buffer} (plane {first} spans bytes {first_range:?}, plane {second} spans bytes {second_range:?}); the later one must start at byte {} or after",
        overlap_len(.first_range, .second_range),
        first_free_byte(.first_range, .second_range)
    )]
    /// Two planes of the same buffer share bytes, so writing one would
    /// corrupt the other. Planes in different buffers never overlap.
    PlanesOverlap {
        first: usize,
        second: usize,
        buffer: usize,
        first_range: Range<u64>,
        second_range: Range<u64>,
    },

    #[error(
        "plane {plane} needs {end} bytes of buffer {buffer} for full rows, but it has {buffer_size}: the last row is {} bytes short (Weston and wlroots reject such a buffer with a fatal protocol error)",
        excess(.end, .buffer_size)
    )]
    /// From [`super::FrameLayout::check_full_rows`]: the plane fits under the DRM
    /// rule (last row only its pixels) but not with a full stride for every
    /// row, which the strictest importers require.
    ShortLastRow {
        plane: usize,
        buffer: usize,
        end: u64,
        buffer_size: u64,
    },

    #[error("stride alignment {bytes} is not a power of two (such as 1, 64 or 256)")]
    /// From [`super::StrideAlign::new`].
    InvalidAlignment { bytes: u32 },
}
