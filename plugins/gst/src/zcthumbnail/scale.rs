//! Pixel work for thumbnails, with no GStreamer in it: read a frame's mapped
//! planes, box-filter them down (or up) to the target size, convert to RGB.
//!
//! # The scaling rule (what the exact tests rely on)
//!
//! 1. Each channel (Y, U, V, or R, G, B) is scaled on its own plane's grid.
//!    A channel subsampled by `sx` x `sy` has `ceil(w / sx)` x `ceil(h / sy)`
//!    samples.
//! 2. Output pixel `x` of `dw` covers channel columns `floor(x * cw / dw)` up
//!    to, not including, `max(that + 1, floor((x + 1) * cw / dw))`; rows the
//!    same. Its value is the mean of the samples it covers, rounded half up:
//!    `(sum + n / 2) / n`. Shrinking, every source sample lands in exactly one
//!    output pixel (an area average); enlarging, this is nearest-neighbour.
//! 3. 16-bit samples (P010) are averaged at 16 bits and then reduced to 8 bits
//!    (`(v + 128) >> 8`, saturating). The planar 10-bit formats (S010, S210,
//!    S410: GStreamer's I420_10LE, I422_10LE, Y444_10LE) keep their 10 bits in
//!    the low bits of a 16-bit word: they are averaged at 10 bits (the high
//!    bits ignored) and reduced the same way, `(v + 2) >> 2`, saturating (a
//!    10-bit video code is the 8-bit one times 4). RGB565 channels are widened to 8 bits
//!    by bit replication (`r5 << 3 | r5 >> 2`) before averaging. The 10-bit
//!    channels of 2:10:10:10 RGB (XR30, AR30, XB30, AB30: where each lies
//!    comes from [`zc_dmabuf::RgbPacking`]) are averaged at 10 bits and then
//!    rounded to the nearest 8-bit value, `(v * 255 + 511) / 1023`: 0 and
//!    1023 stay black and full, and an 8-bit value packed to 10 bits by
//!    [`zc_dmabuf::RgbPacking::pack`] comes back unchanged.
//! 4. Averaged Y'CbCr becomes R'G'B' with the frame's matrix (BT.601, BT.709
//!    or BT.2020) and range (limited 16-235/16-240, or full): in `f32`,
//!    rounded to the nearest integer, clamped to 0..=255. RGB formats are
//!    copied through unchanged (so a solid RGB region comes out exactly);
//!    alpha (and padding) is ignored.

use std::fmt;

use zc_dmabuf::{FormatInfo, RgbPacking};

/// The layouts the thumbnailer reads: the formats zc allocates, and the
/// planar 4:2:2 and 4:4:4 ones and planar 10-bit YUV that software
/// decoders output (Theora's Y444, 10-bit H.264, HEVC, VP9 and AV1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Nv12,
    Nv21,
    Nv16,
    I420,
    Yv12,
    /// Planar 4:2:2 (GStreamer's Y42B).
    Y42b,
    /// Planar 4:4:4.
    Y444,
    /// Planar 4:2:0, 4:2:2 and 4:4:4 with 10 bits in the low bits of each
    /// little-endian 16-bit sample (I420_10LE, I422_10LE, Y444_10LE).
    S010,
    S210,
    S410,
    Yuy2,
    Uyvy,
    P010,
    Bgrx,
    Bgra,
    Rgbx,
    Rgba,
    Rgb565,
    /// 2:10:10:10 RGB in a 32-bit little-endian word (XR30, AR30, XB30,
    /// AB30), its channels where the core's packing puts them.
    Rgb30(RgbPacking),
}

impl PixelFormat {
    /// The layout of a DRM fourcc, if the thumbnailer reads it.
    pub fn from_fourcc(fourcc: zc_dmabuf::Fourcc) -> Option<PixelFormat> {
        use zc_dmabuf::Fourcc as F;
        Some(match fourcc {
            F::NV12 => PixelFormat::Nv12,
            F::NV21 => PixelFormat::Nv21,
            F::NV16 => PixelFormat::Nv16,
            F::YUV420 => PixelFormat::I420,
            F::YVU420 => PixelFormat::Yv12,
            F::YUV422 => PixelFormat::Y42b,
            F::YUV444 => PixelFormat::Y444,
            F::S010 => PixelFormat::S010,
            F::S210 => PixelFormat::S210,
            F::S410 => PixelFormat::S410,
            F::YUYV => PixelFormat::Yuy2,
            F::UYVY => PixelFormat::Uyvy,
            F::P010 => PixelFormat::P010,
            F::XRGB8888 => PixelFormat::Bgrx,
            F::ARGB8888 => PixelFormat::Bgra,
            F::XBGR8888 => PixelFormat::Rgbx,
            F::ABGR8888 => PixelFormat::Rgba,
            F::RGB565 => PixelFormat::Rgb565,
            F::XRGB2101010 | F::ARGB2101010 | F::XBGR2101010 | F::ABGR2101010 => {
                PixelFormat::Rgb30(*FormatInfo::lookup(fourcc)?.rgb_packing()?)
            }
            _ => return None,
        })
    }
}

pub use zc_dmabuf::color::{Colorimetry, Matrix, Range};

/// One frame's mapped planes: `planes[i]` starts at plane `i`'s first byte
/// and `strides[i]` is its line length in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub format: PixelFormat,
    pub width: u32,
    pub height: u32,
    pub planes: &'a [&'a [u8]],
    pub strides: &'a [usize],
    pub colour: Colorimetry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleError {
    EmptyFrame,
    MissingPlane {
        plane: usize,
    },
    PlaneTooSmall {
        plane: usize,
        needed: usize,
        have: usize,
    },
}

impl fmt::Display for ScaleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleError::EmptyFrame => write!(f, "the frame or the target size is empty"),
            ScaleError::MissingPlane { plane } => write!(f, "plane {plane} is missing"),
            ScaleError::PlaneTooSmall {
                plane,
                needed,
                have,
            } => {
                write!(
                    f,
                    "plane {plane} holds {have} bytes, its stride and height need {needed}"
                )
            }
        }
    }
}

impl std::error::Error for ScaleError {}

/// An RGB image, 3 bytes per pixel, rows packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Rgb {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// How one channel's samples sit in memory.
#[derive(Clone, Copy, Debug)]
struct Channel {
    plane: usize,
    /// Byte offset of the first sample in a line.
    offset: usize,
    /// Bytes from one sample of this channel to the next on a line.
    step: usize,
    sub_x: u32,
    sub_y: u32,
    depth: Depth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Depth {
    U8,
    /// Little-endian 16 bits, significant bits high (P010).
    U16,
    /// Little-endian 16 bits, 10 significant bits low (S010, S210, S410).
    U16Low10,
    /// One field of a little-endian RGB565 word: (shift, bits).
    Packed565(u32, u32),
    /// One channel of a little-endian 32-bit RGB word: its lowest bit and
    /// its largest code (from [`RgbPacking`]).
    Packed32 {
        shift: u32,
        max: u32,
    },
}

impl Depth {
    fn bytes(self) -> usize {
        match self {
            Depth::U8 => 1,
            Depth::U16 | Depth::U16Low10 | Depth::Packed565(..) => 2,
            Depth::Packed32 { .. } => 4,
        }
    }
}

const fn ch(plane: usize, offset: usize, step: usize, sub_x: u32, sub_y: u32) -> Channel {
    Channel {
        plane,
        offset,
        step,
        sub_x,
        sub_y,
        depth: Depth::U8,
    }
}

impl PixelFormat {
    pub fn is_rgb(self) -> bool {
        matches!(
            self,
            Self::Bgrx | Self::Bgra | Self::Rgbx | Self::Rgba | Self::Rgb565 | Self::Rgb30(_)
        )
    }

    /// The three channels: Y, U, V for YUV formats; R, G, B for RGB ones.
    fn channels(self) -> [Channel; 3] {
        use PixelFormat::*;
        let wide = |c: Channel| Channel {
            depth: Depth::U16,
            ..c
        };
        let low10 = |c: Channel| Channel {
            depth: Depth::U16Low10,
            ..c
        };
        let rgb565 = |shift, bits| Channel {
            depth: Depth::Packed565(shift, bits),
            ..ch(0, 0, 2, 1, 1)
        };
        match self {
            Nv12 => [ch(0, 0, 1, 1, 1), ch(1, 0, 2, 2, 2), ch(1, 1, 2, 2, 2)],
            Nv21 => [ch(0, 0, 1, 1, 1), ch(1, 1, 2, 2, 2), ch(1, 0, 2, 2, 2)],
            Nv16 => [ch(0, 0, 1, 1, 1), ch(1, 0, 2, 2, 1), ch(1, 1, 2, 2, 1)],
            I420 => [ch(0, 0, 1, 1, 1), ch(1, 0, 1, 2, 2), ch(2, 0, 1, 2, 2)],
            Yv12 => [ch(0, 0, 1, 1, 1), ch(2, 0, 1, 2, 2), ch(1, 0, 1, 2, 2)],
            Y42b => [ch(0, 0, 1, 1, 1), ch(1, 0, 1, 2, 1), ch(2, 0, 1, 2, 1)],
            Y444 => [ch(0, 0, 1, 1, 1), ch(1, 0, 1, 1, 1), ch(2, 0, 1, 1, 1)],
            S010 => [ch(0, 0, 2, 1, 1), ch(1, 0, 2, 2, 2), ch(2, 0, 2, 2, 2)].map(low10),
            S210 => [ch(0, 0, 2, 1, 1), ch(1, 0, 2, 2, 1), ch(2, 0, 2, 2, 1)].map(low10),
            S410 => [ch(0, 0, 2, 1, 1), ch(1, 0, 2, 1, 1), ch(2, 0, 2, 1, 1)].map(low10),
            Yuy2 => [ch(0, 0, 2, 1, 1), ch(0, 1, 4, 2, 1), ch(0, 3, 4, 2, 1)],
            Uyvy => [ch(0, 1, 2, 1, 1), ch(0, 0, 4, 2, 1), ch(0, 2, 4, 2, 1)],
            P010 => [
                wide(ch(0, 0, 2, 1, 1)),
                wide(ch(1, 0, 4, 2, 2)),
                wide(ch(1, 2, 4, 2, 2)),
            ],
            Bgrx | Bgra => [ch(0, 2, 4, 1, 1), ch(0, 1, 4, 1, 1), ch(0, 0, 4, 1, 1)],
            Rgbx | Rgba => [ch(0, 0, 4, 1, 1), ch(0, 1, 4, 1, 1), ch(0, 2, 4, 1, 1)],
            Rgb565 => [rgb565(11, 5), rgb565(5, 6), rgb565(0, 5)],
            Rgb30(packing) => packing.shifts.map(|shift| Channel {
                depth: Depth::Packed32 {
                    shift,
                    max: packing.max_code(),
                },
                ..ch(0, 0, 4, 1, 1)
            }),
        }
    }

    /// Number of planes the format has.
    pub fn plane_count(self) -> usize {
        self.channels()
            .iter()
            .map(|c| c.plane + 1)
            .max()
            .unwrap_or(1)
    }
}

/// The size of a thumbnail of a `width` x `height` frame whose pixels are
/// `par_n:par_d` wide, fitted into `target_w` x `target_h` with the display
/// aspect ratio kept. 0 for both means the frame's own size; 0 for one of
/// them means "follow the other". Never less than 1x1.
pub fn fit(width: u32, height: u32, par: (u32, u32), target_w: u32, target_h: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (1, 1);
    }
    if target_w == 0 && target_h == 0 {
        return (width, height);
    }
    let (par_n, par_d) = if par.0 == 0 || par.1 == 0 {
        (1, 1)
    } else {
        par
    };
    let display_w = f64::from(width) * f64::from(par_n) / f64::from(par_d);
    let display_h = f64::from(height);
    let scale = match (target_w, target_h) {
        (0, h) => f64::from(h) / display_h,
        (w, 0) => f64::from(w) / display_w,
        (w, h) => (f64::from(w) / display_w).min(f64::from(h) / display_h),
    };
    let clamp = |v: f64| (v.round() as u32).max(1);
    let w = match (target_w, target_h) {
        (w, 0) => w,
        (0, _) => clamp(display_w * scale),
        (w, _) => clamp(display_w * scale).min(w),
    };
    let h = match (target_w, target_h) {
        (0, h) => h,
        (_, 0) => clamp(display_h * scale),
        (_, h) => clamp(display_h * scale).min(h),
    };
    (w, h)
}

/// Column (or row) ranges of a channel with `src` samples that each of `dst`
/// output pixels covers (rule 2).
fn spans(src: u32, dst: u32) -> Vec<(usize, usize)> {
    (0..u64::from(dst))
        .map(|i| {
            let (src, dst) = (u64::from(src), u64::from(dst));
            let start = (i * src / dst).min(src - 1);
            let end = ((i + 1) * src / dst).max(start + 1).min(src);
            (start as usize, end as usize)
        })
        .collect()
}

/// Check that every sample the channel reads is inside its plane.
fn check(frame: &Frame<'_>, c: &Channel) -> Result<(u32, u32), ScaleError> {
    let plane = frame
        .planes
        .get(c.plane)
        .ok_or(ScaleError::MissingPlane { plane: c.plane })?;
    let stride = *frame
        .strides
        .get(c.plane)
        .ok_or(ScaleError::MissingPlane { plane: c.plane })?;
    let cw = frame.width.div_ceil(c.sub_x);
    let chh = frame.height.div_ceil(c.sub_y);
    let needed = (chh as usize - 1)
        .checked_mul(stride)
        .and_then(|v| v.checked_add(c.offset + (cw as usize - 1) * c.step + c.depth.bytes()))
        .unwrap_or(usize::MAX);
    if needed > plane.len() {
        return Err(ScaleError::PlaneTooSmall {
            plane: c.plane,
            needed,
            have: plane.len(),
        });
    }
    Ok((cw, chh))
}

#[inline]
fn sample(line: &[u8], at: usize, depth: Depth) -> u32 {
    match depth {
        Depth::U8 => u32::from(line[at]),
        Depth::U16 => u32::from(u16::from_le_bytes([line[at], line[at + 1]])),
        Depth::U16Low10 => u32::from(u16::from_le_bytes([line[at], line[at + 1]]) & 0x3ff),
        Depth::Packed565(shift, bits) => {
            let word = u32::from(u16::from_le_bytes([line[at], line[at + 1]]));
            let v = (word >> shift) & ((1 << bits) - 1);
            (v << (8 - bits)) | (v >> (2 * bits - 8))
        }
        Depth::Packed32 { shift, max } => {
            let word = u32::from_le_bytes([line[at], line[at + 1], line[at + 2], line[at + 3]]);
            (word >> shift) & max
        }
    }
}

/// Area-average one channel to `dw` x `dh` 8-bit values.
fn scale_channel(frame: &Frame<'_>, c: &Channel, dw: u32, dh: u32) -> Result<Vec<u8>, ScaleError> {
    let (cw, chh) = check(frame, c)?;
    let plane = frame.planes[c.plane];
    let stride = frame.strides[c.plane];
    let xs = spans(cw, dw);
    let ys = spans(chh, dh);
    let mut out = Vec::with_capacity(dw as usize * dh as usize);
    let mut sums = vec![0u64; dw as usize];
    if c.depth == Depth::U8 {
        // Rows first: add the span's lines element-wise (vectorised), then
        // sum each output pixel's columns in that one accumulated line.
        let len = c.offset + (cw as usize - 1) * c.step + 1;
        let mut acc = vec![0u32; len];
        for &(y0, y1) in &ys {
            acc.iter_mut().for_each(|a| *a = 0);
            for row in y0..y1 {
                for (a, &v) in acc.iter_mut().zip(&plane[row * stride..row * stride + len]) {
                    *a += u32::from(v);
                }
            }
            for &(x0, x1) in &xs {
                let first = c.offset + x0 * c.step;
                let last = c.offset + (x1 - 1) * c.step;
                let sum: u64 = acc[first..=last]
                    .iter()
                    .step_by(c.step)
                    .map(|&v| u64::from(v))
                    .sum();
                let n = ((x1 - x0) * (y1 - y0)) as u64;
                out.push(((sum + n / 2) / n).min(255) as u8);
            }
        }
        return Ok(out);
    }
    for &(y0, y1) in &ys {
        sums.iter_mut().for_each(|s| *s = 0);
        for row in y0..y1 {
            let line = &plane[row * stride..];
            for (sum, &(x0, x1)) in sums.iter_mut().zip(&xs) {
                let first = c.offset + x0 * c.step;
                *sum += (0..x1 - x0)
                    .map(|i| u64::from(sample(line, first + i * c.step, c.depth)))
                    .sum::<u64>();
            }
        }
        for (sum, &(x0, x1)) in sums.iter().zip(&xs) {
            let n = ((x1 - x0) * (y1 - y0)) as u64;
            let mean = (sum + n / 2) / n;
            out.push(match c.depth {
                Depth::U16 => ((mean + 128) >> 8).min(255) as u8,
                Depth::U16Low10 => ((mean + 2) >> 2).min(255) as u8,
                // Rounded to the nearest 8-bit value (rule 3); max(1) never
                // divides by zero.
                Depth::Packed32 { max, .. } => {
                    let max = u64::from(max.max(1));
                    ((mean * 255 + max / 2) / max).min(255) as u8
                }
                _ => mean.min(255) as u8,
            });
        }
    }
    Ok(out)
}

/// Scale `frame` to `dw` x `dh` RGB by the rule in the module docs.
pub fn scale_to_rgb(frame: &Frame<'_>, dw: u32, dh: u32) -> Result<Rgb, ScaleError> {
    if frame.width == 0 || frame.height == 0 || dw == 0 || dh == 0 {
        return Err(ScaleError::EmptyFrame);
    }
    let channels = frame.format.channels();
    // Check all before reading any.
    for c in &channels {
        check(frame, c)?;
    }
    let a = scale_channel(frame, &channels[0], dw, dh)?;
    let b = scale_channel(frame, &channels[1], dw, dh)?;
    let c = scale_channel(frame, &channels[2], dw, dh)?;
    let mut data = Vec::with_capacity(a.len() * 3);
    if frame.format.is_rgb() {
        for i in 0..a.len() {
            data.extend_from_slice(&[a[i], b[i], c[i]]);
        }
    } else {
        let convert = Converter::new(frame.colour);
        for i in 0..a.len() {
            data.extend_from_slice(&convert.rgb(a[i], b[i], c[i]));
        }
    }
    Ok(Rgb {
        width: dw,
        height: dh,
        data,
    })
}

/// Y'CbCr -> R'G'B' (rule 4).
#[derive(Clone, Copy, Debug)]
pub struct Converter {
    y_offset: f32,
    y_scale: f32,
    c_scale: f32,
    r_cr: f32,
    g_cb: f32,
    g_cr: f32,
    b_cb: f32,
}

impl Converter {
    pub fn new(colour: Colorimetry) -> Self {
        let [r_cr, g_cb, g_cr, b_cb] = colour.matrix.coefficients();
        // The ranges normalise samples to 0..1; this works in 0..255.
        let [y_offset, y_scale, _, c_scale] = colour.range.scales(8);
        Self {
            y_offset,
            y_scale: 255.0 * y_scale,
            c_scale: 255.0 * c_scale,
            r_cr,
            g_cb,
            g_cr,
            b_cb,
        }
    }

    pub fn rgb(&self, y: u8, u: u8, v: u8) -> [u8; 3] {
        let y = (f32::from(y) - self.y_offset) * self.y_scale;
        let cb = (f32::from(u) - 128.0) * self.c_scale;
        let cr = (f32::from(v) - 128.0) * self.c_scale;
        // Round half up without f32::round (a libm call on baseline x86-64).
        let to_u8 = |v: f32| (v.clamp(0.0, 255.0) + 0.5) as u8;
        [
            to_u8(y + self.r_cr * cr),
            to_u8(y - self.g_cb * cb - self.g_cr * cr),
            to_u8(y + self.b_cb * cb),
        ]
    }
}

#[cfg(test)]
mod tests;
