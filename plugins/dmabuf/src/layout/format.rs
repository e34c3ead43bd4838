//! The supported pixel formats: one [`FormatInfo`] per fourcc, saying how
//! many planes it has and how each is shaped ([`PlaneInfo`]).

use std::fmt;

use super::{Fourcc, RgbPacking};

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
    rgb: Option<RgbPacking>,
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
const CB_OR_CR_422: PlaneInfo = plane(1, 2, 1);
const PACKED_422: PlaneInfo = plane(4, 2, 1);
const Y16: PlaneInfo = plane(2, 1, 1);
const CBCR16_420: PlaneInfo = plane(4, 2, 2);
const CB_OR_CR16_420: PlaneInfo = plane(2, 2, 2);
const CB_OR_CR16_422: PlaneInfo = plane(2, 2, 1);
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
        rgb: None,
    }
}

/// A 32-bit packed RGB format: `depth` bits per colour at `shifts` (R, G,
/// B), alpha or padding at `alpha_shift`.
const fn rgb32(
    fourcc: Fourcc,
    name: &'static str,
    depth: u32,
    shifts: [u32; 3],
    alpha_shift: u32,
) -> FormatInfo {
    FormatInfo {
        fourcc,
        name,
        planes: &[RGB32],
        yuv: false,
        rgb: Some(RgbPacking::new(depth, shifts, alpha_shift)),
    }
}

static FORMATS: [FormatInfo; 22] = [
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
    format(
        Fourcc::YUV422,
        "Y42B",
        true,
        &[Y8, CB_OR_CR_422, CB_OR_CR_422],
    ),
    format(Fourcc::YUV444, "Y444", true, &[Y8, Y8, Y8]),
    format(Fourcc::YUYV, "YUYV", true, &[PACKED_422]),
    format(Fourcc::UYVY, "UYVY", true, &[PACKED_422]),
    format(Fourcc::P010, "P010", true, &[Y16, CBCR16_420]),
    format(
        Fourcc::S010,
        "I420_10LE",
        true,
        &[Y16, CB_OR_CR16_420, CB_OR_CR16_420],
    ),
    format(
        Fourcc::S210,
        "I422_10LE",
        true,
        &[Y16, CB_OR_CR16_422, CB_OR_CR16_422],
    ),
    format(Fourcc::S410, "Y444_10LE", true, &[Y16, Y16, Y16]),
    // Little-endian words: xRGB is bytes B G R x, xBGR bytes R G B x.
    rgb32(Fourcc::XRGB8888, "XRGB8888", 8, [16, 8, 0], 24),
    rgb32(Fourcc::ARGB8888, "ARGB8888", 8, [16, 8, 0], 24),
    rgb32(Fourcc::XBGR8888, "XBGR8888", 8, [0, 8, 16], 24),
    rgb32(Fourcc::ABGR8888, "ABGR8888", 8, [0, 8, 16], 24),
    // 2:10:10:10: B in bits 0-9, G 10-19, R 20-29 (xRGB), R and B
    // swapped for xBGR; 2 bits of alpha or padding on top.
    rgb32(Fourcc::XRGB2101010, "XRGB2101010", 10, [20, 10, 0], 30),
    rgb32(Fourcc::ARGB2101010, "ARGB2101010", 10, [20, 10, 0], 30),
    rgb32(Fourcc::XBGR2101010, "XBGR2101010", 10, [0, 10, 20], 30),
    rgb32(Fourcc::ABGR2101010, "ABGR2101010", 10, [0, 10, 20], 30),
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

    /// Where R, G and B lie in a pixel of a 32-bit packed RGB format (None
    /// for YUV and RGB565).
    pub fn rgb_packing(&self) -> Option<&RgbPacking> {
        self.rgb.as_ref()
    }
}

/// Renders the supported formats for error messages, naming the fourcc code
/// too where it differs from the common name ("I420 (YU12)").
pub(super) struct SupportedFormats;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_table() {
        assert_eq!(FormatInfo::all().len(), 22);
        for info in FormatInfo::all() {
            assert!(std::ptr::eq(FormatInfo::lookup(info.fourcc).unwrap(), info));
            assert!((1..=3).contains(&info.plane_count()));
        }
        assert!(FormatInfo::lookup(Fourcc::from_chars(*b"BG24")).is_none());
        assert!(FormatInfo::lookup(Fourcc::NV12).unwrap().is_yuv());
        assert!(FormatInfo::lookup(Fourcc::P010).unwrap().is_yuv());
        assert!(FormatInfo::lookup(Fourcc::YUYV).unwrap().is_yuv());
        assert!(!FormatInfo::lookup(Fourcc::XRGB8888).unwrap().is_yuv());
        assert!(!FormatInfo::lookup(Fourcc::RGB565).unwrap().is_yuv());
        let xr30 = FormatInfo::lookup(Fourcc::XRGB2101010).unwrap();
        assert!(!xr30.is_yuv());
        assert_eq!((xr30.plane_count(), xr30.row_bytes(0, 3)), (1, 12));
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
}
