//! Pixel formats and frame layouts.
//!
//! A dma-buf frame is only usable if every party agrees on where each plane
//! starts and how its rows are spaced. Layouts come from two places: the ones
//! zc allocates itself ([`FrameLayout::compute`]) and the ones handed to us by a
//! compositor, GBM, a V4L2 driver or a `GstVideoMeta` ([`FrameLayout::new`]).
//! Both paths validate once, up front, so that code holding a [`FrameLayout`]
//! can map, copy and import without re-checking bounds, and so that a bad
//! layout is reported where it entered rather than as a GPU fault later.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Page size used to round allocation sizes: dma-buf exporters hand out whole
/// pages, and importers may map whole pages, so a computed buffer claims them.
pub const PAGE_SIZE: u64 = 4096;

/// Largest width or height accepted. Keeps every size computation far from
/// overflow and matches what display and video hardware can actually scan out.
pub const MAX_DIMENSION: u32 = 16384;

/// DRM (and the dma-buf import APIs built on it) carry at most four planes and
/// four buffers per frame.
pub const MAX_PLANES: usize = 4;

/// A DRM fourcc code (as in `drm_fourcc.h`), e.g. [`Fourcc::NV12`].
///
/// Kept as the raw kernel value so it can be passed to ioctls, EGL and Vulkan
/// unchanged; [`FormatInfo::lookup`] says whether zc knows how to lay it out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fourcc(pub u32);

impl Fourcc {
    /// Y plane followed by interleaved Cb/Cr at half resolution both ways.
    pub const NV12: Fourcc = Fourcc::from_chars(*b"NV12");
    /// As NV12 with Cr before Cb.
    pub const NV21: Fourcc = Fourcc::from_chars(*b"NV21");
    /// As NV12 with chroma at full vertical resolution (4:2:2).
    pub const NV16: Fourcc = Fourcc::from_chars(*b"NV16");
    /// Three planes Y, Cb, Cr (GStreamer's I420).
    pub const YUV420: Fourcc = Fourcc::from_chars(*b"YU12");
    /// Three planes Y, Cr, Cb (GStreamer's YV12).
    pub const YVU420: Fourcc = Fourcc::from_chars(*b"YV12");
    /// Packed 4:2:2, bytes Y0 Cb Y1 Cr (GStreamer's YUY2).
    pub const YUYV: Fourcc = Fourcc::from_chars(*b"YUYV");
    /// Packed 4:2:2, bytes Cb Y0 Cr Y1.
    pub const UYVY: Fourcc = Fourcc::from_chars(*b"UYVY");
    /// NV12 with 16-bit little-endian samples carrying 10 significant bits.
    pub const P010: Fourcc = Fourcc::from_chars(*b"P010");
    /// 32-bit xRGB, little-endian (bytes B G R x).
    pub const XRGB8888: Fourcc = Fourcc::from_chars(*b"XR24");
    /// 32-bit ARGB, little-endian (bytes B G R A).
    pub const ARGB8888: Fourcc = Fourcc::from_chars(*b"AR24");
    /// 32-bit xBGR, little-endian (bytes R G B x).
    pub const XBGR8888: Fourcc = Fourcc::from_chars(*b"XB24");
    /// 32-bit ABGR, little-endian (bytes R G B A).
    pub const ABGR8888: Fourcc = Fourcc::from_chars(*b"AB24");
    /// 16-bit RGB 5:6:5, little-endian.
    pub const RGB565: Fourcc = Fourcc::from_chars(*b"RG16");

    /// Builds a code the way the kernel's `fourcc_code()` macro does (first
    /// character in the lowest byte), so the values match `drm_fourcc.h`.
    pub const fn from_chars(code: [u8; 4]) -> Self {
        Fourcc(u32::from_le_bytes(code))
    }

    /// The four characters, first character first.
    pub fn to_chars(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }
}

impl fmt::Display for Fourcc {
    /// Prints the characters (trailing padding spaces trimmed) because that is
    /// how formats are named in logs and tools; codes that are not printable
    /// (e.g. with the big-endian flag set) fall back to hex so nothing is lost.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars = self.to_chars();
        let printable = chars.iter().all(|c| (0x20..0x7f).contains(c));
        let text = std::str::from_utf8(&chars).map(|s| s.trim_end_matches(' '));
        match text {
            Ok(s) if printable && !s.is_empty() => f.write_str(s),
            _ => write!(f, "0x{:08x}", self.0),
        }
    }
}

impl fmt::Debug for Fourcc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Extra spellings people use for supported formats, besides the fourcc code
/// and [`FormatInfo::name`].
const ALIASES: &[(&str, Fourcc)] = &[
    ("YUY2", Fourcc::YUYV),
    ("YUV420", Fourcc::YUV420),
    ("YVU420", Fourcc::YVU420),
];

impl FromStr for Fourcc {
    type Err = LayoutError;

    /// Accepts only formats zc can lay out, so a typo in a pipeline
    /// description fails here with the list of choices instead of later.
    /// Matching is case-insensitive; among supported formats that is never
    /// ambiguous.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let by_code_or_name = FormatInfo::all().iter().find(|info| {
            s.as_bytes().eq_ignore_ascii_case(&info.fourcc.to_chars())
                || s.eq_ignore_ascii_case(info.name)
        });
        if let Some(info) = by_code_or_name {
            return Ok(info.fourcc);
        }
        ALIASES
            .iter()
            .find(|(alias, _)| s.eq_ignore_ascii_case(alias))
            .map(|&(_, fourcc)| fourcc)
            .ok_or_else(|| LayoutError::UnknownFormatName { name: s.to_owned() })
    }
}

/// A DRM format modifier: says how pixels are arranged in memory beyond the
/// fourcc (linear, tiled, compressed).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Modifier(pub u64);

impl Modifier {
    /// Rows stored one after the other; the only arrangement the CPU can read
    /// directly and the one zc allocates.
    pub const LINEAR: Modifier = Modifier(0);
    /// `DRM_FORMAT_MOD_INVALID`: "no explicit modifier", i.e. whatever the
    /// driver chose implicitly. Sizes are still validated for it.
    pub const INVALID: Modifier = Modifier(0x00ff_ffff_ffff_ffff);

    /// Whether the layout relies on a driver-private, implicit arrangement, in
    /// which case importers must not be told a modifier.
    pub fn is_implicit(self) -> bool {
        self == Modifier::INVALID
    }

    /// The vendor whose arrangement this is (the top byte, as in
    /// drm_fourcc.h's `DRM_FORMAT_MOD_VENDOR_*`), for messages. `None` for
    /// LINEAR, INVALID and unknown vendors.
    pub fn vendor(self) -> Option<&'static str> {
        if self == Modifier::LINEAR || self.is_implicit() {
            return None;
        }
        Some(match self.0 >> 56 {
            0x01 => "Intel",
            0x02 => "AMD",
            0x03 => "NVIDIA",
            0x04 => "Samsung",
            0x05 => "Qualcomm",
            0x06 => "Vivante",
            0x07 => "Broadcom",
            0x08 => "Arm",
            0x09 => "Allwinner",
            0x0a => "Amlogic",
            0x0b => "MediaTek",
            _ => return None,
        })
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Modifier::LINEAR => f.write_str("LINEAR"),
            Modifier::INVALID => f.write_str("INVALID (implicit)"),
            Modifier(m) => match self.vendor() {
                Some(vendor) => write!(f, "{m:#018x} ({vendor} tiling)"),
                None => write!(f, "{m:#018x}"),
            },
        }
    }
}

/// How one plane of a format is shaped, enough to size its rows.
///
/// Rows are measured in blocks rather than pixels so that packed formats
/// (YUYV: 2 pixels in 4 bytes) and subsampled chroma (NV12 UV: 2 pixels of
/// width per 2-byte Cb/Cr pair) use the same rule, and odd widths round up to
/// a whole block.
#[derive(Debug, PartialEq, Eq)]
pub struct PlaneInfo {
    /// Bytes of one block.
    pub bytes_per_block: u32,
    /// Frame pixels (of luma width) one block covers horizontally.
    pub block_width: u32,
    /// Frame rows per plane row: 2 for vertically subsampled chroma.
    pub v_sub: u32,
}

/// How a format's planes are shaped. One static table entry per supported
/// fourcc, so callers can size and validate frames without matching on codes.
#[derive(Debug, PartialEq, Eq)]
pub struct FormatInfo {
    /// The DRM code.
    pub fourcc: Fourcc,
    /// The name people know it by ("I420" rather than "YU12").
    pub name: &'static str,
    /// Planes in the memory order of the DRM format (YV12: Y, V, U).
    pub planes: &'static [PlaneInfo],
    yuv: bool,
}

const fn plane(bytes_per_block: u32, block_width: u32, v_sub: u32) -> PlaneInfo {
    PlaneInfo {
        bytes_per_block,
        block_width,
        v_sub,
    }
}

const Y8: PlaneInfo = plane(1, 1, 1);
const CBCR_420: PlaneInfo = plane(2, 2, 2);
const CBCR_422: PlaneInfo = plane(2, 2, 1);
const CB_OR_CR_420: PlaneInfo = plane(1, 2, 2);
const PACKED_422: PlaneInfo = plane(4, 2, 1);
const Y16: PlaneInfo = plane(2, 1, 1);
const CBCR16_420: PlaneInfo = plane(4, 2, 2);
const RGB32: PlaneInfo = plane(4, 1, 1);
const RGB16: PlaneInfo = plane(2, 1, 1);

const fn format(
    fourcc: Fourcc,
    name: &'static str,
    yuv: bool,
    planes: &'static [PlaneInfo],
) -> FormatInfo {
    FormatInfo {
        fourcc,
        name,
        planes,
        yuv,
    }
}

static FORMATS: [FormatInfo; 13] = [
    format(Fourcc::NV12, "NV12", true, &[Y8, CBCR_420]),
    format(Fourcc::NV21, "NV21", true, &[Y8, CBCR_420]),
    format(Fourcc::NV16, "NV16", true, &[Y8, CBCR_422]),
    format(
        Fourcc::YUV420,
        "I420",
        true,
        &[Y8, CB_OR_CR_420, CB_OR_CR_420],
    ),
    format(
        Fourcc::YVU420,
        "YV12",
        true,
        &[Y8, CB_OR_CR_420, CB_OR_CR_420],
    ),
    format(Fourcc::YUYV, "YUYV", true, &[PACKED_422]),
    format(Fourcc::UYVY, "UYVY", true, &[PACKED_422]),
    format(Fourcc::P010, "P010", true, &[Y16, CBCR16_420]),
    format(Fourcc::XRGB8888, "XRGB8888", false, &[RGB32]),
    format(Fourcc::ARGB8888, "ARGB8888", false, &[RGB32]),
    format(Fourcc::XBGR8888, "XBGR8888", false, &[RGB32]),
    format(Fourcc::ABGR8888, "ABGR8888", false, &[RGB32]),
    format(Fourcc::RGB565, "RGB565", false, &[RGB16]),
];

impl FormatInfo {
    /// `None` means zc cannot lay the format out, not that it is invalid DRM.
    pub fn lookup(fourcc: Fourcc) -> Option<&'static FormatInfo> {
        FORMATS.iter().find(|info| info.fourcc == fourcc)
    }

    /// Every supported format, e.g. to advertise them in caps.
    pub fn all() -> &'static [FormatInfo] {
        &FORMATS
    }

    pub fn plane_count(&self) -> usize {
        self.planes.len()
    }

    /// Minimum bytes of one row of plane `plane` for a frame `width` pixels
    /// wide: the least stride a layout may use. Never overflows: any `u32`
    /// width fits comfortably in `u64`.
    ///
    /// # Panics
    /// If `plane >= self.plane_count()`.
    pub fn row_bytes(&self, plane: usize, width: u32) -> u64 {
        let p = &self.planes[plane];
        u64::from(width.div_ceil(p.block_width)) * u64::from(p.bytes_per_block)
    }

    /// Rows of plane `plane` for a frame `height` pixels tall; subsampled
    /// chroma rounds up so the last odd luma row still has chroma.
    ///
    /// # Panics
    /// If `plane >= self.plane_count()`.
    pub fn plane_rows(&self, plane: usize, height: u32) -> u32 {
        height.div_ceil(self.planes[plane].v_sub)
    }

    /// The largest vertical chroma subsampling of its planes (2 for 4:2:0,
    /// 1 for 4:2:2 and RGB): storage heights are multiples of it.
    pub fn max_v_sub(&self) -> u32 {
        self.planes.iter().map(|p| p.v_sub).max().unwrap_or(1)
    }

    /// Whether the format needs a colour-space conversion to be displayed.
    pub fn is_yuv(&self) -> bool {
        self.yuv
    }
}

/// Renders the supported formats for error messages, naming the fourcc code
/// too where it differs from the common name ("I420 (YU12)").
struct SupportedFormats;

impl fmt::Display for SupportedFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, info) in FORMATS.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(info.name)?;
            if info.fourcc.to_string() != info.name {
                write!(f, " ({})", info.fourcc)?;
            }
        }
        Ok(())
    }
}

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
    /// From [`Fourcc::from_str`]: the text names no supported format.
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
    /// From [`FrameLayout::check_full_rows`]: the plane fits under the DRM
    /// rule (last row only its pixels) but not with a full stride for every
    /// row, which the strictest importers require.
    ShortLastRow {
        plane: usize,
        buffer: usize,
        end: u64,
        buffer_size: u64,
    },

    #[error("stride alignment {bytes} is not a power of two (such as 1, 64 or 256)")]
    /// From [`StrideAlign::new`].
    InvalidAlignment { bytes: u32 },
}

/// One plane of a frame: where it lives and how its rows are spaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PlaneLayout {
    /// Index into the frame's buffers (its dma-buf fds).
    pub buffer: usize,
    /// Byte offset of the plane's first row within that buffer.
    pub offset: u64,
    /// Bytes from the start of one row to the start of the next.
    pub stride: u32,
}

impl PlaneLayout {
    /// Filler for unused slots, kept identical everywhere so derived equality
    /// on [`FrameLayout`] only depends on the planes in use.
    const UNUSED: PlaneLayout = PlaneLayout {
        buffer: 0,
        offset: 0,
        stride: 0,
    };
}

/// Alignment, in bytes, of each plane's stride and offset in computed layouts.
///
/// A newtype so that a non-power-of-two can never reach the rounding code.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StrideAlign(u32);

impl StrideAlign {
    /// 256 bytes: the pitch alignment AMD and NVIDIA importers require for
    /// linear buffers, and enough for everyone else.
    pub const DEFAULT: StrideAlign = StrideAlign(256);

    /// Rejects 0 and non-powers of two, which no hardware asks for and which
    /// would make "rounded up to the alignment" ill-defined.
    pub fn new(bytes: u32) -> Result<Self, LayoutError> {
        if bytes.is_power_of_two() {
            Ok(StrideAlign(bytes))
        } else {
            Err(LayoutError::InvalidAlignment { bytes })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for StrideAlign {
    fn default() -> Self {
        StrideAlign::DEFAULT
    }
}

/// A validated frame layout: fourcc, modifier, size, and where each plane
/// lives.
///
/// It can only be obtained through [`FrameLayout::compute`] or
/// [`FrameLayout::new`], both of which validate, so holders can trust that
/// every plane fits in its buffer and no two planes overlap. Fixed-size
/// storage keeps it allocation-free and cheap to clone per frame.
#[derive(Clone, PartialEq, Eq)]
pub struct FrameLayout {
    format: &'static FormatInfo,
    modifier: Modifier,
    width: u32,
    height: u32,
    planes: [PlaneLayout; MAX_PLANES],
    plane_count: usize,
    buffer_sizes: [u64; MAX_PLANES],
    buffer_count: usize,
}

impl fmt::Debug for FrameLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameLayout")
            .field("fourcc", &self.fourcc())
            .field("modifier", &self.modifier)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("planes", &self.planes())
            .field("buffer_sizes", &self.buffer_sizes())
            .finish()
    }
}

/// The DRM core's rule for the bytes a plane needs: the last row only needs
/// its pixels, not a full stride. `None` on overflow.
fn checked_plane_end(offset: u64, stride: u32, rows: u32, row_bytes: u64) -> Option<u64> {
    u64::from(stride)
        .checked_mul(u64::from(rows.saturating_sub(1)))?
        .checked_add(row_bytes)?
        .checked_add(offset)
}

fn check_dimensions(width: u32, height: u32) -> Result<(), LayoutError> {
    if width == 0 || height == 0 {
        Err(LayoutError::ZeroSize { width, height })
    } else if width > MAX_DIMENSION || height > MAX_DIMENSION {
        Err(LayoutError::TooLarge { width, height })
    } else {
        Ok(())
    }
}

fn lookup_format(fourcc: Fourcc) -> Result<&'static FormatInfo, LayoutError> {
    FormatInfo::lookup(fourcc).ok_or(LayoutError::UnknownFormat { fourcc })
}

impl FrameLayout {
    /// The layout zc allocates: all planes in buffer 0, each stride the row
    /// size rounded up to `align`, each plane starting at the aligned end of
    /// the previous one (the first at 0), modifier LINEAR. The buffer size is
    /// the end of the last plane rounded up to [`PAGE_SIZE`].
    ///
    /// Full strides are reserved for every row, last rows included, so that
    /// importers which assume `stride * rows` bytes per plane are also safe.
    pub fn compute(
        fourcc: Fourcc,
        width: u32,
        height: u32,
        align: StrideAlign,
    ) -> Result<FrameLayout, LayoutError> {
        let format = lookup_format(fourcc)?;
        check_dimensions(width, height)?;
        let too_large = || LayoutError::TooLarge { width, height };
        let align = u64::from(align.get());

        let count = format.plane_count();
        let mut planes = [PlaneLayout::UNUSED; MAX_PLANES];
        let mut end = 0u64;
        for (i, slot) in planes.iter_mut().enumerate().take(count) {
            let stride = format
                .row_bytes(i, width)
                .checked_next_multiple_of(align)
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(too_large)?;
            let offset = end.checked_next_multiple_of(align).ok_or_else(too_large)?;
            end = u64::from(stride)
                .checked_mul(u64::from(format.plane_rows(i, height)))
                .and_then(|bytes| bytes.checked_add(offset))
                .ok_or_else(too_large)?;
            *slot = PlaneLayout {
                buffer: 0,
                offset,
                stride,
            };
        }
        let size = end
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or_else(too_large)?;

        // Goes through the same checks as a received layout, so a mistake in
        // the arithmetic above surfaces as an error rather than a bad buffer.
        Self::new(
            fourcc,
            Modifier::LINEAR,
            width,
            height,
            &planes[..count],
            &[size],
        )
    }

    /// A layout received from elsewhere (a compositor, GBM, a V4L2 driver, a
    /// `GstVideoMeta`), checked against the real sizes of the buffers it
    /// refers to, because importing or mapping past a buffer's end faults or
    /// reads foreign memory.
    ///
    /// Sizes are checked for every modifier, INVALID (implicit) included;
    /// the plane count must be the format's own.
    pub fn new(
        fourcc: Fourcc,
        modifier: Modifier,
        width: u32,
        height: u32,
        planes: &[PlaneLayout],
        buffer_sizes: &[u64],
    ) -> Result<FrameLayout, LayoutError> {
        let format = lookup_format(fourcc)?;
        check_dimensions(width, height)?;
        if planes.len() != format.plane_count() {
            return Err(LayoutError::PlaneCount {
                fourcc,
                expected: format.plane_count(),
                got: planes.len(),
            });
        }
        if buffer_sizes.len() > MAX_PLANES {
            return Err(LayoutError::TooManyBuffers {
                got: buffer_sizes.len(),
            });
        }

        let mut ranges = [const { 0..0 }; MAX_PLANES];
        for (i, p) in planes.iter().enumerate() {
            let buffer_size = *buffer_sizes
                .get(p.buffer)
                .ok_or(LayoutError::NoSuchBuffer {
                    plane: i,
                    buffer: p.buffer,
                    buffers: buffer_sizes.len(),
                })?;
            let row_bytes = format.row_bytes(i, width);
            if u64::from(p.stride) < row_bytes {
                return Err(LayoutError::StrideTooSmall {
                    plane: i,
                    stride: p.stride,
                    min: row_bytes,
                });
            }
            let end =
                checked_plane_end(p.offset, p.stride, format.plane_rows(i, height), row_bytes)
                    .ok_or(LayoutError::OffsetOverflow {
                        plane: i,
                        offset: p.offset,
                    })?;
            if end > buffer_size {
                return Err(LayoutError::PlaneOutOfBounds {
                    plane: i,
                    buffer: p.buffer,
                    end,
                    buffer_size,
                });
            }
            ranges[i] = p.offset..end;
        }

        for (first, (a, ra)) in planes.iter().zip(&ranges).enumerate() {
            for (second, (b, rb)) in planes.iter().zip(&ranges).enumerate().skip(first + 1) {
                if a.buffer == b.buffer && ra.start < rb.end && rb.start < ra.end {
                    return Err(LayoutError::PlanesOverlap {
                        first,
                        second,
                        buffer: a.buffer,
                        first_range: ra.clone(),
                        second_range: rb.clone(),
                    });
                }
            }
        }

        let mut plane_slots = [PlaneLayout::UNUSED; MAX_PLANES];
        plane_slots[..planes.len()].copy_from_slice(planes);
        let mut size_slots = [0; MAX_PLANES];
        size_slots[..buffer_sizes.len()].copy_from_slice(buffer_sizes);
        Ok(FrameLayout {
            format,
            modifier,
            width,
            height,
            planes: plane_slots,
            plane_count: planes.len(),
            buffer_sizes: size_slots,
            buffer_count: buffer_sizes.len(),
        })
    }

    pub fn fourcc(&self) -> Fourcc {
        self.format.fourcc
    }

    pub fn modifier(&self) -> Modifier {
        self.modifier
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The format's plane shapes, so callers need no second lookup (which
    /// could not fail anyway: layouts only exist for known formats).
    pub fn format(&self) -> &'static FormatInfo {
        self.format
    }

    pub fn planes(&self) -> &[PlaneLayout] {
        &self.planes[..self.plane_count]
    }

    /// Sizes of the buffers the planes index into; one entry, the
    /// page-rounded allocation size, for computed layouts.
    pub fn buffer_sizes(&self) -> &[u64] {
        &self.buffer_sizes[..self.buffer_count]
    }

    /// Size of buffer 0: the whole allocation for computed layouts.
    pub fn buffer_size(&self) -> u64 {
        // Every format has a plane, so a valid layout has a buffer 0.
        self.buffer_sizes[0]
    }

    /// Bytes plane `plane` actually needs within its buffer: offset +
    /// stride * (rows - 1) + row bytes, the DRM core's rule (the last row need
    /// not be a full stride). Use it for bounds, not for copying whole strides.
    ///
    /// # Panics
    /// If `plane >= self.planes().len()`.
    pub fn plane_end(&self, plane: usize) -> u64 {
        let p = self.planes()[plane];
        // Validated at construction, so this never saturates.
        checked_plane_end(
            p.offset,
            p.stride,
            self.format.plane_rows(plane, self.height),
            self.format.row_bytes(plane, self.width),
        )
        .unwrap_or(u64::MAX)
    }

    /// Bytes plane `plane` needs under the strictest importers' rule: offset
    /// + stride * rows, a full stride for every row, the last one included.
    ///
    /// # Panics
    /// If `plane >= self.planes().len()`.
    pub fn plane_end_full_rows(&self, plane: usize) -> u64 {
        let p = self.planes()[plane];
        u64::from(p.stride)
            .checked_mul(u64::from(self.format.plane_rows(plane, self.height)))
            .and_then(|bytes| bytes.checked_add(p.offset))
            .unwrap_or(u64::MAX)
    }

    /// Check that every plane has a full stride for every row within its
    /// buffer ([`FrameLayout::plane_end_full_rows`]), not only the DRM
    /// rule [`FrameLayout::new`] checks. Weston and wlroots kill the client's
    /// connection for a short last row; computed layouts always pass.
    pub fn check_full_rows(&self) -> Result<(), LayoutError> {
        for (plane, p) in self.planes().iter().enumerate() {
            let end = self.plane_end_full_rows(plane);
            let buffer_size = self.buffer_sizes()[p.buffer];
            if end > buffer_size {
                return Err(LayoutError::ShortLastRow {
                    plane,
                    buffer: p.buffer,
                    end,
                    buffer_size,
                });
            }
        }
        Ok(())
    }

    /// The same layout under another modifier, e.g. to advertise an allocated
    /// linear buffer as implicit. Nothing else changes, so nothing is
    /// re-validated.
    pub fn with_modifier(&self, modifier: Modifier) -> FrameLayout {
        FrameLayout {
            modifier,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn align(bytes: u32) -> StrideAlign {
        StrideAlign::new(bytes).unwrap()
    }

    /// fourcc, width, height, alignment, (offset, stride) per plane, buffer size.
    type Case = (Fourcc, u32, u32, u32, &'static [(u64, u32)], u64);

    /// Expected `compute` results, worked out by hand from the per-format
    /// rules (row bytes -> aligned stride x rows @ offset; end -> page size).
    #[rustfmt::skip]
    const COMPUTED: &[Case] = &[
        // 1920->2048 x1080 @0; 1920->2048 x540 @2211840; end 3317760 -> 3317760
        (Fourcc::NV12, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 3317760),
        // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
        (Fourcc::NV12, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 3112960),
        // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
        (Fourcc::NV12, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 3112960),
        // 1921->2048 x1081 @0; 1922->2048 x541 @2213888; end 3321856 -> 3321856
        (Fourcc::NV12, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 3321856),
        // 1921->1921 x1081 @0; 1922->1922 x541 @2076601; end 3116403 -> 3117056
        (Fourcc::NV12, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 3117056),
        // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
        (Fourcc::NV12, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
        // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
        (Fourcc::NV12, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
        // 1920->2048 x1080 @0; 1920->2048 x540 @2211840; end 3317760 -> 3317760
        (Fourcc::NV21, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 3317760),
        // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
        (Fourcc::NV21, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 3112960),
        // 1920->1920 x1080 @0; 1920->1920 x540 @2073600; end 3110400 -> 3112960
        (Fourcc::NV21, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 3112960),
        // 1921->2048 x1081 @0; 1922->2048 x541 @2213888; end 3321856 -> 3321856
        (Fourcc::NV21, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 3321856),
        // 1921->1921 x1081 @0; 1922->1922 x541 @2076601; end 3116403 -> 3117056
        (Fourcc::NV21, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 3117056),
        // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
        (Fourcc::NV21, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
        // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
        (Fourcc::NV21, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
        // 1920->2048 x1080 @0; 1920->2048 x1080 @2211840; end 4423680 -> 4423680
        (Fourcc::NV16, 1920, 1080, 256, &[(0, 2048), (2211840, 2048)], 4423680),
        // 1920->1920 x1080 @0; 1920->1920 x1080 @2073600; end 4147200 -> 4149248
        (Fourcc::NV16, 1920, 1080, 128, &[(0, 1920), (2073600, 1920)], 4149248),
        // 1920->1920 x1080 @0; 1920->1920 x1080 @2073600; end 4147200 -> 4149248
        (Fourcc::NV16, 1920, 1080, 1, &[(0, 1920), (2073600, 1920)], 4149248),
        // 1921->2048 x1081 @0; 1922->2048 x1081 @2213888; end 4427776 -> 4427776
        (Fourcc::NV16, 1921, 1081, 256, &[(0, 2048), (2213888, 2048)], 4427776),
        // 1921->1921 x1081 @0; 1922->1922 x1081 @2076601; end 4154283 -> 4157440
        (Fourcc::NV16, 1921, 1081, 1, &[(0, 1921), (2076601, 1922)], 4157440),
        // 1->256 x1 @0; 2->256 x1 @256; end 512 -> 4096
        (Fourcc::NV16, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
        // 1->1 x1 @0; 2->2 x1 @1; end 3 -> 4096
        (Fourcc::NV16, 1, 1, 1, &[(0, 1), (1, 2)], 4096),
        // 1920->2048 x1080 @0; 960->1024 x540 @2211840; 960->1024 x540 @2764800; end 3317760 -> 3317760
        (Fourcc::YUV420, 1920, 1080, 256, &[(0, 2048), (2211840, 1024), (2764800, 1024)], 3317760),
        // 1920->1920 x1080 @0; 960->1024 x540 @2073600; 960->1024 x540 @2626560; end 3179520 -> 3182592
        (Fourcc::YUV420, 1920, 1080, 128, &[(0, 1920), (2073600, 1024), (2626560, 1024)], 3182592),
        // 1920->1920 x1080 @0; 960->960 x540 @2073600; 960->960 x540 @2592000; end 3110400 -> 3112960
        (Fourcc::YUV420, 1920, 1080, 1, &[(0, 1920), (2073600, 960), (2592000, 960)], 3112960),
        // 1921->2048 x1081 @0; 961->1024 x541 @2213888; 961->1024 x541 @2767872; end 3321856 -> 3321856
        (Fourcc::YUV420, 1921, 1081, 256, &[(0, 2048), (2213888, 1024), (2767872, 1024)], 3321856),
        // 1921->1921 x1081 @0; 961->961 x541 @2076601; 961->961 x541 @2596502; end 3116403 -> 3117056
        (Fourcc::YUV420, 1921, 1081, 1, &[(0, 1921), (2076601, 961), (2596502, 961)], 3117056),
        // 1->256 x1 @0; 1->256 x1 @256; 1->256 x1 @512; end 768 -> 4096
        (Fourcc::YUV420, 1, 1, 256, &[(0, 256), (256, 256), (512, 256)], 4096),
        // 1->1 x1 @0; 1->1 x1 @1; 1->1 x1 @2; end 3 -> 4096
        (Fourcc::YUV420, 1, 1, 1, &[(0, 1), (1, 1), (2, 1)], 4096),
        // 1920->2048 x1080 @0; 960->1024 x540 @2211840; 960->1024 x540 @2764800; end 3317760 -> 3317760
        (Fourcc::YVU420, 1920, 1080, 256, &[(0, 2048), (2211840, 1024), (2764800, 1024)], 3317760),
        // 1920->1920 x1080 @0; 960->1024 x540 @2073600; 960->1024 x540 @2626560; end 3179520 -> 3182592
        (Fourcc::YVU420, 1920, 1080, 128, &[(0, 1920), (2073600, 1024), (2626560, 1024)], 3182592),
        // 1920->1920 x1080 @0; 960->960 x540 @2073600; 960->960 x540 @2592000; end 3110400 -> 3112960
        (Fourcc::YVU420, 1920, 1080, 1, &[(0, 1920), (2073600, 960), (2592000, 960)], 3112960),
        // 1921->2048 x1081 @0; 961->1024 x541 @2213888; 961->1024 x541 @2767872; end 3321856 -> 3321856
        (Fourcc::YVU420, 1921, 1081, 256, &[(0, 2048), (2213888, 1024), (2767872, 1024)], 3321856),
        // 1921->1921 x1081 @0; 961->961 x541 @2076601; 961->961 x541 @2596502; end 3116403 -> 3117056
        (Fourcc::YVU420, 1921, 1081, 1, &[(0, 1921), (2076601, 961), (2596502, 961)], 3117056),
        // 1->256 x1 @0; 1->256 x1 @256; 1->256 x1 @512; end 768 -> 4096
        (Fourcc::YVU420, 1, 1, 256, &[(0, 256), (256, 256), (512, 256)], 4096),
        // 1->1 x1 @0; 1->1 x1 @1; 1->1 x1 @2; end 3 -> 4096
        (Fourcc::YVU420, 1, 1, 1, &[(0, 1), (1, 1), (2, 1)], 4096),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::YUYV, 1920, 1080, 256, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::YUYV, 1920, 1080, 128, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::YUYV, 1920, 1080, 1, &[(0, 3840)], 4149248),
        // 3844->4096 x1081 @0; end 4427776 -> 4427776
        (Fourcc::YUYV, 1921, 1081, 256, &[(0, 4096)], 4427776),
        // 3844->3844 x1081 @0; end 4155364 -> 4157440
        (Fourcc::YUYV, 1921, 1081, 1, &[(0, 3844)], 4157440),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::YUYV, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::YUYV, 1, 1, 1, &[(0, 4)], 4096),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::UYVY, 1920, 1080, 256, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::UYVY, 1920, 1080, 128, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::UYVY, 1920, 1080, 1, &[(0, 3840)], 4149248),
        // 3844->4096 x1081 @0; end 4427776 -> 4427776
        (Fourcc::UYVY, 1921, 1081, 256, &[(0, 4096)], 4427776),
        // 3844->3844 x1081 @0; end 4155364 -> 4157440
        (Fourcc::UYVY, 1921, 1081, 1, &[(0, 3844)], 4157440),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::UYVY, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::UYVY, 1, 1, 1, &[(0, 4)], 4096),
        // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
        (Fourcc::P010, 1920, 1080, 256, &[(0, 3840), (4147200, 3840)], 6221824),
        // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
        (Fourcc::P010, 1920, 1080, 128, &[(0, 3840), (4147200, 3840)], 6221824),
        // 3840->3840 x1080 @0; 3840->3840 x540 @4147200; end 6220800 -> 6221824
        (Fourcc::P010, 1920, 1080, 1, &[(0, 3840), (4147200, 3840)], 6221824),
        // 3842->4096 x1081 @0; 3844->4096 x541 @4427776; end 6643712 -> 6643712
        (Fourcc::P010, 1921, 1081, 256, &[(0, 4096), (4427776, 4096)], 6643712),
        // 3842->3842 x1081 @0; 3844->3844 x541 @4153202; end 6232806 -> 6234112
        (Fourcc::P010, 1921, 1081, 1, &[(0, 3842), (4153202, 3844)], 6234112),
        // 2->256 x1 @0; 4->256 x1 @256; end 512 -> 4096
        (Fourcc::P010, 1, 1, 256, &[(0, 256), (256, 256)], 4096),
        // 2->2 x1 @0; 4->4 x1 @2; end 6 -> 4096
        (Fourcc::P010, 1, 1, 1, &[(0, 2), (2, 4)], 4096),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XRGB8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XRGB8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XRGB8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
        // 7684->7936 x1081 @0; end 8578816 -> 8581120
        (Fourcc::XRGB8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
        // 7684->7684 x1081 @0; end 8306404 -> 8306688
        (Fourcc::XRGB8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::XRGB8888, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::XRGB8888, 1, 1, 1, &[(0, 4)], 4096),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ARGB8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ARGB8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ARGB8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
        // 7684->7936 x1081 @0; end 8578816 -> 8581120
        (Fourcc::ARGB8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
        // 7684->7684 x1081 @0; end 8306404 -> 8306688
        (Fourcc::ARGB8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::ARGB8888, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::ARGB8888, 1, 1, 1, &[(0, 4)], 4096),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XBGR8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XBGR8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::XBGR8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
        // 7684->7936 x1081 @0; end 8578816 -> 8581120
        (Fourcc::XBGR8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
        // 7684->7684 x1081 @0; end 8306404 -> 8306688
        (Fourcc::XBGR8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::XBGR8888, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::XBGR8888, 1, 1, 1, &[(0, 4)], 4096),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ABGR8888, 1920, 1080, 256, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ABGR8888, 1920, 1080, 128, &[(0, 7680)], 8294400),
        // 7680->7680 x1080 @0; end 8294400 -> 8294400
        (Fourcc::ABGR8888, 1920, 1080, 1, &[(0, 7680)], 8294400),
        // 7684->7936 x1081 @0; end 8578816 -> 8581120
        (Fourcc::ABGR8888, 1921, 1081, 256, &[(0, 7936)], 8581120),
        // 7684->7684 x1081 @0; end 8306404 -> 8306688
        (Fourcc::ABGR8888, 1921, 1081, 1, &[(0, 7684)], 8306688),
        // 4->256 x1 @0; end 256 -> 4096
        (Fourcc::ABGR8888, 1, 1, 256, &[(0, 256)], 4096),
        // 4->4 x1 @0; end 4 -> 4096
        (Fourcc::ABGR8888, 1, 1, 1, &[(0, 4)], 4096),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::RGB565, 1920, 1080, 256, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::RGB565, 1920, 1080, 128, &[(0, 3840)], 4149248),
        // 3840->3840 x1080 @0; end 4147200 -> 4149248
        (Fourcc::RGB565, 1920, 1080, 1, &[(0, 3840)], 4149248),
        // 3842->4096 x1081 @0; end 4427776 -> 4427776
        (Fourcc::RGB565, 1921, 1081, 256, &[(0, 4096)], 4427776),
        // 3842->3842 x1081 @0; end 4153202 -> 4153344
        (Fourcc::RGB565, 1921, 1081, 1, &[(0, 3842)], 4153344),
        // 2->256 x1 @0; end 256 -> 4096
        (Fourcc::RGB565, 1, 1, 256, &[(0, 256)], 4096),
        // 2->2 x1 @0; end 2 -> 4096
        (Fourcc::RGB565, 1, 1, 1, &[(0, 2)], 4096),
    ];

    #[test]
    fn compute_matches_hand_computed_layouts() {
        for &(fourcc, w, h, a, planes, size) in COMPUTED {
            let layout = FrameLayout::compute(fourcc, w, h, align(a)).unwrap();
            let got: Vec<(u64, u32)> = layout
                .planes()
                .iter()
                .map(|p| (p.offset, p.stride))
                .collect();
            assert_eq!(got, planes, "{fourcc} {w}x{h} align {a}");
            assert!(
                layout.planes().iter().all(|p| p.buffer == 0),
                "{fourcc} {w}x{h} align {a}"
            );
            assert_eq!(layout.buffer_size(), size, "{fourcc} {w}x{h} align {a}");
            assert_eq!(layout.buffer_sizes(), &[size]);
            assert_eq!(layout.modifier(), Modifier::LINEAR);
            assert_eq!(
                (layout.fourcc(), layout.width(), layout.height()),
                (fourcc, w, h)
            );
            assert_eq!(layout.format().fourcc, fourcc);
        }
    }

    #[test]
    fn every_format_has_hand_computed_cases() {
        for info in FormatInfo::all() {
            for (w, h, a) in [
                (1920, 1080, 256),
                (1921, 1081, 256),
                (1921, 1081, 1),
                (1, 1, 1),
            ] {
                assert!(
                    COMPUTED
                        .iter()
                        .any(|c| (c.0, c.1, c.2, c.3) == (info.fourcc, w, h, a)),
                    "no case for {} {w}x{h} align {a}",
                    info.name
                );
            }
        }
    }

    #[test]
    fn new_accepts_every_computed_layout() {
        for &(fourcc, w, h, a, _, _) in COMPUTED {
            let computed = FrameLayout::compute(fourcc, w, h, align(a)).unwrap();
            let received = FrameLayout::new(
                fourcc,
                Modifier::LINEAR,
                w,
                h,
                computed.planes(),
                computed.buffer_sizes(),
            )
            .unwrap();
            assert_eq!(received, computed);
        }
    }

    #[test]
    fn row_bytes_and_rows_by_hand() {
        let nv12 = FormatInfo::lookup(Fourcc::NV12).unwrap();
        assert_eq!(
            (nv12.row_bytes(0, 1921), nv12.plane_rows(0, 1081)),
            (1921, 1081)
        );
        assert_eq!(
            (nv12.row_bytes(1, 1921), nv12.plane_rows(1, 1081)),
            (1922, 541)
        );
        let i420 = FormatInfo::lookup(Fourcc::YUV420).unwrap();
        assert_eq!((i420.row_bytes(2, 3), i420.plane_rows(2, 3)), (2, 2));
        let yuyv = FormatInfo::lookup(Fourcc::YUYV).unwrap();
        assert_eq!((yuyv.row_bytes(0, 3), yuyv.plane_rows(0, 3)), (8, 3));
        let p010 = FormatInfo::lookup(Fourcc::P010).unwrap();
        assert_eq!((p010.row_bytes(0, 3), p010.row_bytes(1, 3)), (6, 8));
        let nv16 = FormatInfo::lookup(Fourcc::NV16).unwrap();
        assert_eq!(nv16.plane_rows(1, 1081), 1081);
        // Any u32 is fine, no overflow.
        assert_eq!(
            FormatInfo::lookup(Fourcc::ARGB8888)
                .unwrap()
                .row_bytes(0, u32::MAX),
            4 * u64::from(u32::MAX)
        );
        assert_eq!(nv12.plane_rows(1, u32::MAX), 1 << 31);
        assert_eq!(p010.row_bytes(1, u32::MAX), 4 * (1u64 << 31));
    }

    #[test]
    fn format_table() {
        assert_eq!(FormatInfo::all().len(), 13);
        for info in FormatInfo::all() {
            assert!(std::ptr::eq(FormatInfo::lookup(info.fourcc).unwrap(), info));
            assert!((1..=3).contains(&info.plane_count()));
        }
        assert!(FormatInfo::lookup(Fourcc::from_chars(*b"AB30")).is_none());
        assert!(FormatInfo::lookup(Fourcc::NV12).unwrap().is_yuv());
        assert!(FormatInfo::lookup(Fourcc::P010).unwrap().is_yuv());
        assert!(FormatInfo::lookup(Fourcc::YUYV).unwrap().is_yuv());
        assert!(!FormatInfo::lookup(Fourcc::XRGB8888).unwrap().is_yuv());
        assert!(!FormatInfo::lookup(Fourcc::RGB565).unwrap().is_yuv());
    }

    #[test]
    fn fourcc_values_match_drm_fourcc_h() {
        assert_eq!(Fourcc::NV12.0, 0x3231_564e);
        assert_eq!(Fourcc::XRGB8888.0, 0x3432_5258);
        assert_eq!(Fourcc::YUV420.0, 0x3231_5559);
        assert_eq!(Fourcc::RGB565.0, 0x3631_4752);
        assert_eq!(Fourcc::NV12.to_chars(), *b"NV12");
    }

    fn nv12_1080p() -> FrameLayout {
        FrameLayout::compute(Fourcc::NV12, 1920, 1080, StrideAlign::DEFAULT).unwrap()
    }

    #[test]
    fn new_rejects_small_stride() {
        let l = nv12_1080p();
        let mut planes = l.planes().to_vec();
        planes[1].stride = 960;
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            l.buffer_sizes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::StrideTooSmall {
                plane: 1,
                stride: 960,
                min: 1920
            }
        );
        assert_eq!(
            err.to_string(),
            "plane 1: stride 960 is too small for a row of 1920 bytes (needs at least 1920)"
        );
        planes[1].stride = 0;
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            l.buffer_sizes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::StrideTooSmall {
                plane: 1,
                stride: 0,
                min: 1920
            }
        );
    }

    #[test]
    fn new_rejects_plane_past_end() {
        // Y 2048 x 1080 at 0, UV 2048 x 540 at 2211840; UV ends at
        // 2211840 + 2048 * 539 + 1920 = 3317632.
        let l = nv12_1080p();
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            l.planes(),
            &[3_000_000],
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlaneOutOfBounds {
                plane: 1,
                buffer: 0,
                end: 3_317_632,
                buffer_size: 3_000_000
            }
        );
        assert_eq!(
            err.to_string(),
            "plane 1 ends at byte 3317632, 317632 bytes past the end of buffer 0 \
             (3000000 bytes); the buffer needs at least 3317632 bytes"
        );
    }

    #[test]
    fn last_row_need_not_be_a_full_stride() {
        // RGB565 3x2 with stride 8: row 6 bytes, needs 8 * 1 + 6 = 14 bytes.
        let planes = [PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: 8,
        }];
        let l = FrameLayout::new(Fourcc::RGB565, Modifier::LINEAR, 3, 2, &planes, &[14]).unwrap();
        assert_eq!(l.plane_end(0), 14);
        let err =
            FrameLayout::new(Fourcc::RGB565, Modifier::LINEAR, 3, 2, &planes, &[13]).unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlaneOutOfBounds {
                plane: 0,
                buffer: 0,
                end: 14,
                buffer_size: 13
            }
        );
        assert!(
            err.to_string()
                .contains(", 1 bytes past the end of buffer 0 (13 bytes)"),
            "{err}"
        );

        // Same for a chroma plane at an offset: NV12 4x4 stride 8, UV at 32,
        // 2 rows of 4 bytes: needs 32 + 8 + 4 = 44.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 8,
            },
            PlaneLayout {
                buffer: 0,
                offset: 32,
                stride: 8,
            },
        ];
        assert!(FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 4, 4, &planes, &[44]).is_ok());
        assert!(matches!(
            FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 4, 4, &planes, &[43]),
            Err(LayoutError::PlaneOutOfBounds {
                plane: 1,
                end: 44,
                buffer_size: 43,
                ..
            })
        ));
    }

    #[test]
    fn plane_end_of_computed_layouts() {
        let l = nv12_1080p();
        assert_eq!(l.plane_end(0), 2048 * 1079 + 1920);
        assert_eq!(l.plane_end(1), 2_211_840 + 2048 * 539 + 1920);
        let l = FrameLayout::compute(Fourcc::YUV420, 1, 1, align(1)).unwrap();
        assert_eq!((l.plane_end(0), l.plane_end(1), l.plane_end(2)), (1, 2, 3));
    }

    #[test]
    fn new_rejects_unknown_buffer() {
        let l = nv12_1080p();
        let mut planes = l.planes().to_vec();
        planes[1].buffer = 1;
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            l.buffer_sizes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::NoSuchBuffer {
                plane: 1,
                buffer: 1,
                buffers: 1
            }
        );
        let err =
            FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 1920, 1080, &planes, &[]).unwrap_err();
        assert_eq!(
            err,
            LayoutError::NoSuchBuffer {
                plane: 0,
                buffer: 0,
                buffers: 0
            }
        );
    }

    #[test]
    fn separate_buffers_may_share_offsets() {
        // Y and UV each at offset 0 of their own dma-buf, as V4L2 MPLANE gives them.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 1920,
            },
            PlaneLayout {
                buffer: 1,
                offset: 0,
                stride: 1920,
            },
        ];
        let l = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            &[2_073_600, 1_036_800],
        )
        .unwrap();
        assert_eq!(l.buffer_sizes(), &[2_073_600, 1_036_800]);
        assert_eq!(l.buffer_size(), 2_073_600);
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            &[2_073_600, 1_036_799],
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlaneOutOfBounds {
                plane: 1,
                buffer: 1,
                end: 1_036_800,
                buffer_size: 1_036_799
            }
        );
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &planes,
            &[1 << 30; 5],
        )
        .unwrap_err();
        assert_eq!(err, LayoutError::TooManyBuffers { got: 5 });
    }

    #[test]
    fn new_rejects_wrong_plane_count() {
        let l = nv12_1080p();
        let err = FrameLayout::new(
            Fourcc::YUV420,
            Modifier::LINEAR,
            1920,
            1080,
            l.planes(),
            l.buffer_sizes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlaneCount {
                fourcc: Fourcc::YUV420,
                expected: 3,
                got: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "YU12 has 3 plane(s), but the layout describes 2"
        );
        let err = FrameLayout::new(
            Fourcc::NV12,
            Modifier::LINEAR,
            1920,
            1080,
            &[],
            l.buffer_sizes(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlaneCount {
                fourcc: Fourcc::NV12,
                expected: 2,
                got: 0
            }
        );
    }

    #[test]
    fn new_rejects_overlapping_planes() {
        // I420 4x2: Y 4x2, U 2x1, V 2x1, all stride 4. U and V both at 8.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 8,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 9,
                stride: 4,
            },
        ];
        let err =
            FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[64]).unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlanesOverlap {
                first: 1,
                second: 2,
                buffer: 0,
                first_range: 8..10,
                second_range: 9..11
            }
        );
        assert!(err.to_string().contains("overlap by 1 bytes"), "{err}");
        assert!(
            err.to_string().contains("must start at byte 10 or after"),
            "{err}"
        );

        // Planes need not be in offset order: Y 10..18, U 0..2, V 9..11.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 10,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 9,
                stride: 4,
            },
        ];
        let err =
            FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[64]).unwrap_err();
        assert_eq!(
            err,
            LayoutError::PlanesOverlap {
                first: 0,
                second: 2,
                buffer: 0,
                first_range: 10..18,
                second_range: 9..11
            }
        );
        assert!(err.to_string().contains("overlap by 1 bytes"), "{err}");
        assert!(
            err.to_string().contains("must start at byte 11 or after"),
            "{err}"
        );

        // Touching planes are fine, in any order: Y 4..12, U 0..2, V 2..4.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 4,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 4,
            },
            PlaneLayout {
                buffer: 0,
                offset: 2,
                stride: 4,
            },
        ];
        assert!(FrameLayout::new(Fourcc::YUV420, Modifier::LINEAR, 4, 2, &planes, &[12]).is_ok());
    }

    #[test]
    fn zero_and_too_large_sizes() {
        for (w, h) in [(0, 1080), (1920, 0), (0, 0)] {
            assert_eq!(
                FrameLayout::compute(Fourcc::NV12, w, h, StrideAlign::DEFAULT),
                Err(LayoutError::ZeroSize {
                    width: w,
                    height: h
                })
            );
            assert_eq!(
                FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, w, h, &[], &[]),
                Err(LayoutError::ZeroSize {
                    width: w,
                    height: h
                })
            );
        }
        for (w, h) in [
            (16385, 1),
            (1, 16385),
            (u32::MAX, u32::MAX),
            (u32::MAX, 1),
            (1, u32::MAX),
        ] {
            for info in FormatInfo::all() {
                assert_eq!(
                    FrameLayout::compute(info.fourcc, w, h, align(1 << 31)),
                    Err(LayoutError::TooLarge {
                        width: w,
                        height: h
                    })
                );
            }
            let planes = [PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: u32::MAX,
            }];
            assert_eq!(
                FrameLayout::new(
                    Fourcc::XRGB8888,
                    Modifier::LINEAR,
                    w,
                    h,
                    &planes,
                    &[u64::MAX]
                ),
                Err(LayoutError::TooLarge {
                    width: w,
                    height: h
                })
            );
        }
        // The largest accepted size, with the largest alignment, still computes.
        for info in FormatInfo::all() {
            let l = FrameLayout::compute(info.fourcc, 16384, 16384, align(1 << 31)).unwrap();
            assert!(l.planes().iter().all(|p| p.stride == 1 << 31));
        }
    }

    #[test]
    fn huge_offsets_and_strides_do_not_panic() {
        let planes = [PlaneLayout {
            buffer: 0,
            offset: u64::MAX - 10,
            stride: u32::MAX,
        }];
        let err = FrameLayout::new(
            Fourcc::XRGB8888,
            Modifier::LINEAR,
            16384,
            16384,
            &planes,
            &[u64::MAX],
        )
        .unwrap_err();
        assert_eq!(
            err,
            LayoutError::OffsetOverflow {
                plane: 0,
                offset: u64::MAX - 10
            }
        );
        let planes = [PlaneLayout {
            buffer: 0,
            offset: 0,
            stride: u32::MAX,
        }];
        let l = FrameLayout::new(
            Fourcc::XRGB8888,
            Modifier::LINEAR,
            16384,
            16384,
            &planes,
            &[u64::MAX],
        )
        .unwrap();
        assert_eq!(l.plane_end(0), u64::from(u32::MAX) * 16383 + 65536);
    }

    #[test]
    fn unknown_format() {
        let ab30 = Fourcc::from_chars(*b"AB30");
        let err = FrameLayout::compute(ab30, 16, 16, StrideAlign::DEFAULT).unwrap_err();
        assert_eq!(err, LayoutError::UnknownFormat { fourcc: ab30 });
        let msg = err.to_string();
        assert!(
            msg.starts_with("unsupported pixel format AB30; supported formats: NV12, "),
            "{msg}"
        );
        assert!(msg.contains("I420 (YU12), YV12, YUYV"), "{msg}");
        assert!(msg.ends_with("RGB565 (RG16)"), "{msg}");
        assert_eq!(
            FrameLayout::new(ab30, Modifier::LINEAR, 16, 16, &[], &[]),
            Err(LayoutError::UnknownFormat { fourcc: ab30 })
        );
    }

    #[test]
    fn implicit_modifier_still_validates_sizes() {
        let l = nv12_1080p();
        assert!(
            FrameLayout::new(
                Fourcc::NV12,
                Modifier::INVALID,
                1920,
                1080,
                l.planes(),
                &[3_317_632]
            )
            .is_ok()
        );
        assert!(matches!(
            FrameLayout::new(
                Fourcc::NV12,
                Modifier::INVALID,
                1920,
                1080,
                l.planes(),
                &[3_317_631]
            ),
            Err(LayoutError::PlaneOutOfBounds { end: 3_317_632, .. })
        ));
        let implicit = l.with_modifier(Modifier::INVALID);
        assert!(implicit.modifier().is_implicit());
        assert!(!l.modifier().is_implicit());
        assert_eq!(implicit.planes(), l.planes());
        assert_eq!(implicit.buffer_sizes(), l.buffer_sizes());
        assert_ne!(implicit, l);
        assert_eq!(implicit.with_modifier(Modifier::LINEAR), l);
    }

    #[test]
    fn stride_align() {
        assert_eq!(StrideAlign::default(), StrideAlign::DEFAULT);
        assert_eq!(StrideAlign::DEFAULT.get(), 256);
        assert_eq!(align(1).get(), 1);
        assert_eq!(align(1 << 31).get(), 1 << 31);
        for bad in [0, 3, 255, 257, u32::MAX] {
            assert_eq!(
                StrideAlign::new(bad),
                Err(LayoutError::InvalidAlignment { bytes: bad })
            );
        }
        assert_eq!(
            LayoutError::InvalidAlignment { bytes: 3 }.to_string(),
            "stride alignment 3 is not a power of two (such as 1, 64 or 256)"
        );
    }

    #[test]
    fn fourcc_display_and_parse_round_trip() {
        for info in FormatInfo::all() {
            let code = info.fourcc.to_string();
            assert_eq!(code.len(), 4);
            assert_eq!(code.as_bytes(), info.fourcc.to_chars());
            assert_eq!(format!("{:?}", info.fourcc), code);
            assert_eq!(code.parse::<Fourcc>(), Ok(info.fourcc));
            assert_eq!(info.name.parse::<Fourcc>(), Ok(info.fourcc));
            assert_eq!(info.name.to_lowercase().parse::<Fourcc>(), Ok(info.fourcc));
        }
        assert_eq!(Fourcc::NV12.to_string(), "NV12");
        assert_eq!(Fourcc::XRGB8888.to_string(), "XR24");
        assert_eq!(Fourcc::YVU420.to_string(), "YV12");
        for (name, fourcc) in [
            ("I420", Fourcc::YUV420),
            ("YU12", Fourcc::YUV420),
            ("i420", Fourcc::YUV420),
            ("YV12", Fourcc::YVU420),
            ("XR24", Fourcc::XRGB8888),
            ("xrgb8888", Fourcc::XRGB8888),
            ("ARGB8888", Fourcc::ARGB8888),
            ("AB24", Fourcc::ABGR8888),
            ("XBGR8888", Fourcc::XBGR8888),
            ("RGB565", Fourcc::RGB565),
            ("RG16", Fourcc::RGB565),
            ("YUY2", Fourcc::YUYV),
            ("yuy2", Fourcc::YUYV),
            ("P010", Fourcc::P010),
        ] {
            assert_eq!(name.parse::<Fourcc>(), Ok(fourcc), "{name}");
        }
        for bad in ["", "NV1", "NV12 ", "AB30", "RGBA", "nv12x"] {
            let err = bad.parse::<Fourcc>().unwrap_err();
            assert_eq!(
                err,
                LayoutError::UnknownFormatName {
                    name: bad.to_owned()
                }
            );
            assert!(
                err.to_string().contains("supported formats: NV12, NV21"),
                "{err}"
            );
        }
    }

    #[test]
    fn fourcc_display_of_odd_codes() {
        assert_eq!(Fourcc::from_chars(*b"R8  ").to_string(), "R8");
        assert_eq!(
            Fourcc(0x8000_0000 | Fourcc::XRGB8888.0).to_string(),
            "0xb4325258"
        );
        assert_eq!(Fourcc(0).to_string(), "0x00000000");
        assert_eq!(format!("{:?}", Fourcc(1)), "0x00000001");
        assert_eq!(Fourcc::from_chars(*b"    ").to_string(), "0x20202020");
    }

    #[test]
    fn modifier_display() {
        assert_eq!(Modifier::LINEAR.to_string(), "LINEAR");
        assert_eq!(Modifier::INVALID.to_string(), "INVALID (implicit)");
        assert!(Modifier::INVALID.is_implicit());
        assert!(!Modifier::LINEAR.is_implicit());
        // I915_FORMAT_MOD_Y_TILED
        assert_eq!(
            Modifier(0x0100_0000_0000_0002).to_string(),
            "0x0100000000000002 (Intel tiling)"
        );
        // NVIDIA block-linear, an AMD layout, an unknown vendor.
        assert_eq!(Modifier(0x0300_0000_0060_6010).vendor(), Some("NVIDIA"));
        assert_eq!(Modifier(0x0200_0000_0000_0001).vendor(), Some("AMD"));
        assert_eq!(Modifier(1).to_string(), "0x0000000000000001");
        assert_eq!(Modifier(1).vendor(), None);
        assert_eq!(Modifier::LINEAR.vendor(), None);
    }

    #[test]
    fn debug_shows_only_used_planes() {
        let l = FrameLayout::compute(Fourcc::RGB565, 1, 1, align(1)).unwrap();
        assert_eq!(
            format!("{l:?}"),
            "FrameLayout { fourcc: RG16, modifier: Modifier(0), width: 1, height: 1, \
             planes: [PlaneLayout { buffer: 0, offset: 0, stride: 2 }], buffer_sizes: [4096] }"
        );
    }

    #[test]
    fn full_rows_are_checked_beyond_the_drm_rule() {
        // NV12 64x64, stride 128: the DRM rule needs 8192 + 128 * 31 + 64.
        let planes = [
            PlaneLayout {
                buffer: 0,
                offset: 0,
                stride: 128,
            },
            PlaneLayout {
                buffer: 0,
                offset: 8192,
                stride: 128,
            },
        ];
        let short =
            FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 64, 64, &planes, &[12224]).unwrap();
        assert_eq!(short.plane_end(1), 12224);
        assert_eq!(short.plane_end_full_rows(1), 12288);
        assert_eq!(
            short.check_full_rows(),
            Err(LayoutError::ShortLastRow {
                plane: 1,
                buffer: 0,
                end: 12288,
                buffer_size: 12224
            })
        );
        let full =
            FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 64, 64, &planes, &[12288]).unwrap();
        assert_eq!(full.check_full_rows(), Ok(()));
        let computed = FrameLayout::compute(Fourcc::NV12, 1920, 1080, align(256)).unwrap();
        assert_eq!(computed.check_full_rows(), Ok(()));
    }

    #[test]
    fn real_size_of_a_memfd_is_its_length_not_a_claim() {
        let fd = crate::sys::memfd_create(c"zc-size", 4096).unwrap();
        assert_eq!(
            crate::fd_real_size(std::os::fd::AsFd::as_fd(&fd)).unwrap(),
            4096
        );
    }
}
