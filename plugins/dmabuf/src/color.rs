//! The YUV->RGB equations' parameters: matrix coefficients (BT.601, BT.709,
//! BT.2020) and quantisation range (limited, full). The one statement of
//! them for every layer: the Vulkan shader's push constants and the CPU
//! thumbnailer both take them from here.

use std::fmt;

/// The matrix coefficients (ITU-R BT.601, BT.709, BT.2020 non-constant
/// luminance), given by their luma weights Kr and Kb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Matrix {
    Bt601,
    Bt709,
    Bt2020,
}

impl Matrix {
    pub const ALL: [Matrix; 3] = [Matrix::Bt601, Matrix::Bt709, Matrix::Bt2020];

    /// (Kr, Kb) as the standards define them.
    pub fn kr_kb(self) -> (f32, f32) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }

    /// (rv, gu, gv, bu): R = Y + rv Cr, G = Y - gu Cb - gv Cr, B = Y + bu Cb
    /// for Y in 0..1 and Cb, Cr in -0.5..0.5.
    pub fn coefficients(self) -> [f32; 4] {
        let (kr, kb) = self.kr_kb();
        let kg = 1.0 - kr - kb;
        [
            2.0 * (1.0 - kr),
            2.0 * kb * (1.0 - kb) / kg,
            2.0 * kr * (1.0 - kr) / kg,
            2.0 * (1.0 - kb),
        ]
    }

    /// What to use when the caps do not say: BT.709 for HD (720 lines and
    /// more), BT.601 below, as players and GStreamer itself assume.
    pub fn default_for_height(height: u32) -> Matrix {
        if height >= 720 {
            Matrix::Bt709
        } else {
            Matrix::Bt601
        }
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Matrix::Bt601 => "BT.601",
            Matrix::Bt709 => "BT.709",
            Matrix::Bt2020 => "BT.2020",
        })
    }
}

/// Quantisation range of the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Range {
    /// "TV" range: Y 16-235, Cb/Cr 16-240 (8 bits; scaled by 4 for 10 bits).
    Limited,
    /// "PC" range: every code value used.
    Full,
}

impl Range {
    pub const ALL: [Range; 2] = [Range::Limited, Range::Full];

    /// (y_offset, y_scale, c_offset, c_scale) in code values of `bits`
    /// depth, so that (Y - y_offset) * y_scale is 0..1 and
    /// (C - c_offset) * c_scale is -0.5..0.5.
    pub fn scales(self, bits: u32) -> [f32; 4] {
        let unit = (1u32 << (bits - 8)) as f32;
        let max = ((1u32 << bits) - 1) as f32;
        let c_offset = 128.0 * unit;
        match self {
            Range::Limited => [
                16.0 * unit,
                1.0 / (219.0 * unit),
                c_offset,
                1.0 / (224.0 * unit),
            ],
            Range::Full => [0.0, 1.0 / max, c_offset, 1.0 / max],
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Range::Limited => "limited",
            Range::Full => "full",
        })
    }
}

/// Matrix and range: what the conversion needs from the caps' colorimetry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Colorimetry {
    pub matrix: Matrix,
    pub range: Range,
}

/// BT.601, limited range: the default for a frame of unknown size (what
/// [`Colorimetry::default_for_height`] gives below 720 lines).
impl Default for Colorimetry {
    fn default() -> Self {
        Self::default_for_height(0)
    }
}

impl Colorimetry {
    /// The stated default for frames whose colorimetry is unknown: see
    /// [`Matrix::default_for_height`], limited range.
    pub fn default_for_height(height: u32) -> Self {
        Self {
            matrix: Matrix::default_for_height(height),
            range: Range::Limited,
        }
    }
}

impl fmt::Display for Colorimetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} range", self.matrix, self.range)
    }
}

/// Where the chroma samples of 4:2:0 YCbCr sit relative to the luma ones:
/// H.273's Chroma420SampleLocType 0-5 (the names say horizontal, then
/// vertical position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChromaLocation {
    /// Type 0: co-sited with the left luma sample, between two rows (MPEG-2,
    /// H.264's default).
    LeftCenter,
    /// Type 1: between the four luma samples (JPEG, MPEG-1).
    Center,
    /// Type 2: co-sited with the top-left luma sample (BT.2020's, DV's
    /// 4:2:0 is type 2 too).
    TopLeft,
    /// Type 3: between two luma samples of the top row.
    TopCenter,
    /// Type 4: co-sited with the bottom-left luma sample.
    BottomLeft,
    /// Type 5: between two luma samples of the bottom row.
    BottomCenter,
}

impl ChromaLocation {
    /// H.273's Chroma420SampleLocType code point.
    pub fn h273(self) -> u32 {
        match self {
            ChromaLocation::LeftCenter => 0,
            ChromaLocation::Center => 1,
            ChromaLocation::TopLeft => 2,
            ChromaLocation::TopCenter => 3,
            ChromaLocation::BottomLeft => 4,
            ChromaLocation::BottomCenter => 5,
        }
    }

    /// The location from whether the chroma sample is co-sited with a luma
    /// sample horizontally and vertically (top), as GStreamer's chroma-site
    /// flags say it; no flag says bottom.
    pub fn from_cosited(horizontal: bool, vertical: bool) -> ChromaLocation {
        match (horizontal, vertical) {
            (true, false) => ChromaLocation::LeftCenter,
            (false, false) => ChromaLocation::Center,
            (true, true) => ChromaLocation::TopLeft,
            (false, true) => ChromaLocation::TopCenter,
        }
    }
}

impl fmt::Display for ChromaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chroma location type {}", self.h273())
    }
}

/// The colour primaries (and white point) of a picture's RGB: what its
/// colours mean, as the compositor must know for wide-gamut content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Primaries {
    /// BT.709 / sRGB.
    Bt709,
    /// BT.601 625 lines (PAL, BT.470 BG).
    Bt601Pal,
    /// BT.601 525 lines (NTSC, SMPTE 170M).
    Bt601Ntsc,
    /// BT.2020 / BT.2100.
    Bt2020,
    /// DCI-P3 (SMPTE RP 431-2).
    DciP3,
    /// Display P3 (SMPTE EG 432-1).
    DisplayP3,
}

/// The transfer function (OETF/EOTF) of a picture's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transfer {
    /// BT.709 / BT.601 / BT.2020 SDR camera curve, shown with BT.1886.
    Bt709,
    /// IEC 61966-2-1 sRGB.
    Srgb,
    /// Linear light.
    Linear,
    /// SMPTE ST 2084 perceptual quantizer (HDR10).
    Pq,
    /// ARIB STD-B67 hybrid log-gamma.
    Hlg,
}

impl Transfer {
    /// Whether the curve is a high-dynamic-range one (PQ, HLG).
    pub fn is_hdr(self) -> bool {
        matches!(self, Transfer::Pq | Transfer::Hlg)
    }
}

/// A CIE 1931 xy chromaticity, in units of 1/1,000,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chromaticity {
    pub x: u32,
    pub y: u32,
}

/// SMPTE ST 2086 mastering display colour volume: the display the content
/// was graded on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MasteringDisplay {
    /// Red, green, blue.
    pub primaries: [Chromaticity; 3],
    pub white: Chromaticity,
    /// Peak luminance in cd/m².
    pub max_luminance: u32,
    /// Black level in 1/10,000 cd/m².
    pub min_luminance: u32,
}

/// CTA-861.3 content light levels, in cd/m².
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentLight {
    /// MaxCLL: the brightest pixel.
    pub max_cll: u32,
    /// MaxFALL: the brightest frame's average.
    pub max_fall: u32,
}

/// What a compositor needs to show an HDR (or wide-gamut) picture right:
/// primaries, transfer function and the optional HDR10 static metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageDescription {
    pub primaries: Primaries,
    pub transfer: Transfer,
    pub mastering: Option<MasteringDisplay>,
    pub content_light: Option<ContentLight>,
}

impl fmt::Display for ImageDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "primaries {:?}, transfer {:?}",
            self.primaries, self.transfer
        )?;
        if let Some(m) = &self.mastering {
            let [r, g, b] = m.primaries;
            write!(
                f,
                ", mastering display R ({}, {}) G ({}, {}) B ({}, {}) W ({}, {}) x1e-6, {}-{} cd/m2 (min x1e-4)",
                r.x,
                r.y,
                g.x,
                g.y,
                b.x,
                b.y,
                m.white.x,
                m.white.y,
                m.min_luminance,
                m.max_luminance
            )?;
        }
        if let Some(c) = &self.content_light {
            write!(f, ", MaxCLL {} MaxFALL {} cd/m2", c.max_cll, c.max_fall)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 4], b: [f32; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn coefficients_are_the_textbook_ones() {
        assert!(close(
            Matrix::Bt601.coefficients(),
            [1.402, 0.344_136, 0.714_136, 1.772]
        ));
        assert!(close(
            Matrix::Bt709.coefficients(),
            [1.5748, 0.187_324, 0.468_124, 1.8556]
        ));
        assert!(close(
            Matrix::Bt2020.coefficients(),
            [1.4746, 0.164_553, 0.571_353, 1.8814]
        ));
    }

    #[test]
    fn ranges_map_code_values_to_unit_intervals() {
        let [y0, ys, c0, cs] = Range::Limited.scales(8);
        assert_eq!((y0, c0), (16.0, 128.0));
        assert!(((235.0 - y0) * ys - 1.0).abs() < 1e-6);
        assert!(((240.0 - c0) * cs - 0.5).abs() < 1e-6);
        let [y0, ys, c0, _] = Range::Limited.scales(10);
        assert_eq!((y0, c0), (64.0, 512.0));
        assert!(((940.0 - y0) * ys - 1.0).abs() < 1e-6);
        assert_eq!(
            Range::Full.scales(8),
            [0.0, 1.0 / 255.0, 128.0, 1.0 / 255.0]
        );
        assert_eq!(
            Colorimetry::default_for_height(1080).to_string(),
            "BT.709 limited range"
        );
        assert_eq!(Colorimetry::default_for_height(480).matrix, Matrix::Bt601);
    }

    #[test]
    fn chroma_sites_are_h273_types() {
        assert_eq!(ChromaLocation::from_cosited(true, false).h273(), 0);
        assert_eq!(ChromaLocation::from_cosited(false, false).h273(), 1);
        assert_eq!(ChromaLocation::from_cosited(true, true).h273(), 2);
        assert_eq!(ChromaLocation::from_cosited(false, true).h273(), 3);
        assert_eq!(ChromaLocation::BottomCenter.h273(), 5);
    }
}
