//! How the shaders read each input format and write each output format:
//! the numbers that go into `Params.dims.z` (the sample layout),
//! `Params.strides.w` (the chroma shape and sample width) and
//! `Params.packing` (the output pixel), shared with
//! `shaders/yuv_common.wgsl`.

use zc_dmabuf::{FormatInfo, Fourcc};

use crate::error::{Error, Result};

/// The sample layouts the shaders know (`FORMAT_*` in yuv_common.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum Layout {
    /// Y plane and interleaved Cb/Cr plane, 8-bit samples.
    SemiPlanar8 = 0,
    /// Y, Cb and Cr planes, 8-bit or 16-bit samples (`SAMPLES_16_LSB`).
    Planar = 1,
    /// Packed Y0 Cb Y1 Cr, 8-bit samples.
    Yuyv = 2,
    /// Y plane and interleaved Cb/Cr plane, 16-bit samples with 10 bits in
    /// their high bits (P010).
    SemiPlanar16Msb = 3,
}

/// `Params.strides.w` bits (`SHAPE_*` in yuv_common.wgsl).
const HALF_WIDTH: u32 = 1;
const HALF_HEIGHT: u32 = 2;
const SAMPLES_16_LSB: u32 = 4;

const fn entry(fourcc: Fourcc, layout: Layout, shape: u32) -> ShaderFormat {
    ShaderFormat {
        fourcc,
        layout,
        shape,
    }
}

/// One input format as the shaders read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ShaderFormat {
    fourcc: Fourcc,
    layout: Layout,
    shape: u32,
}

const TABLE: [ShaderFormat; 9] = [
    entry(Fourcc::NV12, Layout::SemiPlanar8, HALF_WIDTH | HALF_HEIGHT),
    entry(Fourcc::YUV420, Layout::Planar, HALF_WIDTH | HALF_HEIGHT),
    entry(Fourcc::YUV422, Layout::Planar, HALF_WIDTH),
    entry(Fourcc::YUV444, Layout::Planar, 0),
    entry(Fourcc::YUYV, Layout::Yuyv, HALF_WIDTH),
    entry(
        Fourcc::P010,
        Layout::SemiPlanar16Msb,
        HALF_WIDTH | HALF_HEIGHT,
    ),
    entry(
        Fourcc::S010,
        Layout::Planar,
        HALF_WIDTH | HALF_HEIGHT | SAMPLES_16_LSB,
    ),
    entry(Fourcc::S210, Layout::Planar, HALF_WIDTH | SAMPLES_16_LSB),
    entry(Fourcc::S410, Layout::Planar, SAMPLES_16_LSB),
];

/// The formats the converter takes: 8-bit and 10-bit YUV in 4:2:0, 4:2:2
/// and 4:4:4, as decoders produce them.
pub const INPUT_FORMATS: [Fourcc; TABLE.len()] = {
    let mut out = [Fourcc(0); TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].fourcc;
        i += 1;
    }
    out
};

/// The formats the converter writes, the default first: RGBA8 (DRM
/// ABGR8888), and 10 bits per colour (2:10:10:10) where 10-bit video should
/// stay 10-bit: XR30 and AR30 (B in the low bits), XB30 and AB30 (R in the
/// low bits). Any 32-bit packed RGB format could be written (see
/// [`output_packing`]); these are the ones offered.
pub const OUTPUT_FORMATS: [Fourcc; 5] = [
    Fourcc::ABGR8888,
    Fourcc::XRGB2101010,
    Fourcc::ARGB2101010,
    Fourcc::XBGR2101010,
    Fourcc::ABGR2101010,
];

/// "NV12, I420 (YU12), ...": the inputs for messages, by the names people
/// know them by.
pub(crate) fn input_names() -> String {
    names(&INPUT_FORMATS)
}

/// "ABGR8888 (AB24), ...": the outputs for messages.
pub(crate) fn output_names() -> String {
    names(&OUTPUT_FORMATS)
}

fn names(formats: &[Fourcc]) -> String {
    formats
        .iter()
        .map(|&fourcc| match FormatInfo::lookup(fourcc) {
            Some(info) if info.name != fourcc.to_string() => format!("{} ({fourcc})", info.name),
            _ => fourcc.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Params.packing` for an output format: the largest colour code, the
/// lowest bits of R, G, B and alpha (a byte each, R lowest), the alpha bits
/// of an opaque pixel, 0. The bit positions are the format table's
/// ([`zc_dmabuf::RgbPacking`]); the error names the outputs there are.
pub(super) fn output_packing(fourcc: Fourcc) -> Result<[u32; 4]> {
    let packing = OUTPUT_FORMATS
        .contains(&fourcc)
        .then(|| FormatInfo::lookup(fourcc).and_then(FormatInfo::rgb_packing))
        .flatten()
        .ok_or(Error::UnsupportedOutputFormat { fourcc })?;
    let [r, g, b] = packing.shifts;
    Ok([
        packing.max_code(),
        r | g << 8 | b << 16 | packing.alpha_shift << 24,
        packing.opaque_alpha(),
        0,
    ])
}

impl ShaderFormat {
    /// How the shaders read `fourcc`, or the error naming what they take.
    pub(super) fn of(fourcc: Fourcc) -> Result<ShaderFormat> {
        TABLE
            .iter()
            .find(|f| f.fourcc == fourcc)
            .copied()
            .ok_or(Error::UnsupportedFormat { fourcc })
    }

    /// `Params.dims.z`.
    pub(super) fn layout_code(self) -> u32 {
        self.layout as u32
    }

    /// `Params.strides.w`.
    pub(super) fn shape_code(self) -> u32 {
        self.shape
    }

    /// Significant bits per sample: the code values the range maths uses.
    pub(super) fn bits(self) -> u32 {
        if self.layout == Layout::SemiPlanar16Msb || self.shape & SAMPLES_16_LSB != 0 {
            10
        } else {
            8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zc_dmabuf::FormatInfo;

    #[test]
    fn every_input_is_a_yuv_format_zc_lays_out_with_the_planes_the_shader_reads() {
        for f in TABLE {
            let info = FormatInfo::lookup(f.fourcc).expect("zc lays it out");
            assert!(info.is_yuv(), "{}", f.fourcc);
            let planes = match f.layout {
                Layout::Planar => 3,
                Layout::SemiPlanar8 | Layout::SemiPlanar16Msb => 2,
                Layout::Yuyv => 1,
            };
            assert_eq!(info.plane_count(), planes, "{}", f.fourcc);
            // The chroma plane's subsampling is the shape's.
            let chroma = &info.planes[info.plane_count() - 1];
            assert_eq!(
                chroma.v_sub == 2,
                f.shape & HALF_HEIGHT != 0,
                "{}",
                f.fourcc
            );
            // 16-bit samples: two bytes per luma pixel (so has YUYV, whose
            // 8-bit chroma is packed with its luma).
            let wide = f.shape & SAMPLES_16_LSB != 0 || f.layout == Layout::SemiPlanar16Msb;
            let luma_bytes = if wide || f.layout == Layout::Yuyv {
                8
            } else {
                4
            };
            assert_eq!(info.row_bytes(0, 4), luma_bytes, "{}", f.fourcc);
        }
        assert_eq!(
            ShaderFormat::of(Fourcc::S010).ok().map(ShaderFormat::bits),
            Some(10)
        );
        assert_eq!(
            ShaderFormat::of(Fourcc::YUV444)
                .ok()
                .map(ShaderFormat::bits),
            Some(8)
        );
        let err = ShaderFormat::of(Fourcc::XRGB8888).map(|_| ()).unwrap_err();
        assert!(matches!(err, Error::UnsupportedFormat { .. }));
        assert_eq!(
            err.to_string(),
            "XR24 is not a format the converter takes; it takes NV12, I420 (YU12), Y42B (YU16), \
             Y444 (YU24), YUYV, P010, I420_10LE (S010), I422_10LE (S210), Y444_10LE (S410)"
        );
    }

    #[test]
    fn output_packings_by_hand() {
        // RGBA8: what pack4x8unorm did (R bits 0-7 ... A 24-31).
        assert_eq!(
            output_packing(Fourcc::ABGR8888).ok(),
            Some([255, u32::from_le_bytes([0, 8, 16, 24]), 255, 0])
        );
        // XR30: B bits 0-9, G 10-19, R 20-29, the top 2 bits set.
        assert_eq!(
            output_packing(Fourcc::XRGB2101010).ok(),
            Some([1023, u32::from_le_bytes([20, 10, 0, 30]), 3, 0])
        );
        assert_eq!(
            output_packing(Fourcc::ABGR2101010).ok(),
            Some([1023, u32::from_le_bytes([0, 10, 20, 30]), 3, 0])
        );
        for fourcc in OUTPUT_FORMATS {
            assert!(output_packing(fourcc).is_ok(), "{fourcc}");
        }
        // A format the table packs but the converter does not offer, and YUV.
        for fourcc in [Fourcc::XRGB8888, Fourcc::NV12] {
            let err = output_packing(fourcc).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{fourcc} is not a format the converter writes; it writes ABGR8888 (AB24), \
                     XRGB2101010 (XR30), ARGB2101010 (AR30), XBGR2101010 (XB30), \
                     ABGR2101010 (AB30)"
                )
            );
        }
    }
}
