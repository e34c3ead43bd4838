//! [`Fourcc`]: a DRM format code, how it prints, and the names it parses from.

use std::fmt;
use std::str::FromStr;

use super::{FormatInfo, LayoutError};

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
    /// Three planes Y, Cb, Cr, chroma at half width (GStreamer's Y42B).
    pub const YUV422: Fourcc = Fourcc::from_chars(*b"YU16");
    /// Three planes Y, Cb, Cr, all at full resolution (GStreamer's Y444).
    pub const YUV444: Fourcc = Fourcc::from_chars(*b"YU24");
    /// Packed 4:2:2, bytes Y0 Cb Y1 Cr (GStreamer's YUY2).
    pub const YUYV: Fourcc = Fourcc::from_chars(*b"YUYV");
    /// Packed 4:2:2, bytes Cb Y0 Cr Y1.
    pub const UYVY: Fourcc = Fourcc::from_chars(*b"UYVY");
    /// NV12 with 16-bit little-endian samples carrying 10 significant bits.
    pub const P010: Fourcc = Fourcc::from_chars(*b"P010");
    /// I420 with 16-bit little-endian samples carrying 10 bits in their low
    /// bits (GStreamer's I420_10LE, what software decoders of 10-bit H.264,
    /// HEVC, VP9 and AV1 output).
    pub const S010: Fourcc = Fourcc::from_chars(*b"S010");
    /// As S010 with chroma at full vertical resolution (GStreamer's
    /// I422_10LE).
    pub const S210: Fourcc = Fourcc::from_chars(*b"S210");
    /// As S010 with chroma at full resolution (GStreamer's Y444_10LE).
    pub const S410: Fourcc = Fourcc::from_chars(*b"S410");
    /// 32-bit xRGB, little-endian (bytes B G R x).
    pub const XRGB8888: Fourcc = Fourcc::from_chars(*b"XR24");
    /// 32-bit ARGB, little-endian (bytes B G R A).
    pub const ARGB8888: Fourcc = Fourcc::from_chars(*b"AR24");
    /// 32-bit xBGR, little-endian (bytes R G B x).
    pub const XBGR8888: Fourcc = Fourcc::from_chars(*b"XB24");
    /// 32-bit ABGR, little-endian (bytes R G B A).
    pub const ABGR8888: Fourcc = Fourcc::from_chars(*b"AB24");
    /// 32-bit xRGB with 10 bits per colour, little-endian: B in bits 0-9,
    /// G 10-19, R 20-29, 2 unused bits on top (DRM XRGB2101010).
    pub const XRGB2101010: Fourcc = Fourcc::from_chars(*b"XR30");
    /// As XR30 with 2 bits of alpha on top (DRM ARGB2101010, GStreamer's
    /// BGR10A2_LE).
    pub const ARGB2101010: Fourcc = Fourcc::from_chars(*b"AR30");
    /// 32-bit xBGR with 10 bits per colour, little-endian: R in bits 0-9,
    /// G 10-19, B 20-29, 2 unused bits on top (DRM XBGR2101010).
    pub const XBGR2101010: Fourcc = Fourcc::from_chars(*b"XB30");
    /// As XB30 with 2 bits of alpha on top (DRM ABGR2101010, GStreamer's
    /// RGB10A2_LE).
    pub const ABGR2101010: Fourcc = Fourcc::from_chars(*b"AB30");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fourcc_values_match_drm_fourcc_h() {
        assert_eq!(Fourcc::NV12.0, 0x3231_564e);
        assert_eq!(Fourcc::XRGB8888.0, 0x3432_5258);
        assert_eq!(Fourcc::YUV420.0, 0x3231_5559);
        assert_eq!(Fourcc::RGB565.0, 0x3631_4752);
        // DRM_FORMAT_XRGB2101010 and friends.
        assert_eq!(Fourcc::XRGB2101010.0, 0x3033_5258);
        assert_eq!(Fourcc::ARGB2101010.0, 0x3033_5241);
        assert_eq!(Fourcc::XBGR2101010.0, 0x3033_4258);
        assert_eq!(Fourcc::ABGR2101010.0, 0x3033_4241);
        assert_eq!(Fourcc::NV12.to_chars(), *b"NV12");
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
            ("XR30", Fourcc::XRGB2101010),
            ("argb2101010", Fourcc::ARGB2101010),
            ("AB30", Fourcc::ABGR2101010),
        ] {
            assert_eq!(name.parse::<Fourcc>(), Ok(fourcc), "{name}");
        }
        for bad in ["", "NV1", "NV12 ", "BG24", "RGBA", "nv12x"] {
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
}
