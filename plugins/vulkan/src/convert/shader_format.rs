//! How the shaders read each input format: the numbers that go into
//! `Params.dims.z` (the sample layout) and `Params.strides.w` (the chroma
//! shape and sample width), shared with `shaders/yuv_common.wgsl`.

use zc_dmabuf::Fourcc;

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

/// "NV12, I420 (YU12), ...": the inputs for messages, by the names people
/// know them by.
pub(crate) fn input_names() -> String {
    INPUT_FORMATS
        .iter()
        .map(|&fourcc| match zc_dmabuf::FormatInfo::lookup(fourcc) {
            Some(info) if info.name != fourcc.to_string() => format!("{} ({fourcc})", info.name),
            _ => fourcc.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
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
        assert_eq!(
            err.to_string(),
            "XR24 is not a format the converter takes; it takes NV12, I420 (YU12), Y42B (YU16), \
             Y444 (YU24), YUYV, P010, I420_10LE (S010), I422_10LE (S210), Y444_10LE (S410)"
        );
    }
}
