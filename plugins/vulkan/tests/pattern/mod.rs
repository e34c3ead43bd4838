//! The test pattern and the CPU reference conversion, shared by the native
//! tests (plugins/vulkan/tests/convert.rs) and the VM suite
//! (tests/tests/vulkan.rs, which includes this file by path).
#![allow(dead_code)]

use zc_dmabuf::{Access, DmaBuf, Fourcc, Frame, FrameLayout};
use zc_vulkan::Colorimetry;

pub const FORMATS: [Fourcc; 9] = [
    Fourcc::NV12,
    Fourcc::YUV420,
    Fourcc::YUV422,
    Fourcc::YUV444,
    Fourcc::YUYV,
    Fourcc::P010,
    Fourcc::S010,
    Fourcc::S210,
    Fourcc::S410,
];

/// Significant bits of a sample.
fn bits(fourcc: Fourcc) -> u32 {
    match fourcc {
        Fourcc::P010 | Fourcc::S010 | Fourcc::S210 | Fourcc::S410 => 10,
        _ => 8,
    }
}

/// Frame pixels per chroma sample, across and down.
fn chroma_block(fourcc: Fourcc) -> (u32, u32) {
    match fourcc {
        Fourcc::YUV444 | Fourcc::S410 => (1, 1),
        Fourcc::YUYV | Fourcc::YUV422 | Fourcc::S210 => (2, 1),
        _ => (2, 2),
    }
}

pub mod reference {
    //! An independent CPU implementation of the standards' equations
    //! (E'y, E'pb, E'pr -> R, G, B), in f64, for checking the shader.
    use zc_vulkan::{Matrix, Range};

    fn kr_kb(m: Matrix) -> (f64, f64) {
        match m {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }

    /// Y, Cb, Cr code values of `bits` depth to RGBA8.
    pub fn to_rgba(y: u32, cb: u32, cr: u32, bits: u32, m: Matrix, r: Range) -> [u8; 4] {
        let [red, green, blue] = to_rgb(y, cb, cr, bits, m, r);
        let q = |v: f64| (v * 255.0).round() as u8;
        [q(red), q(green), q(blue), 255]
    }

    /// Y, Cb, Cr code values of `bits` depth to R, G, B in 0..=1.
    pub fn to_rgb(y: u32, cb: u32, cr: u32, bits: u32, m: Matrix, r: Range) -> [f64; 3] {
        let scale = f64::from(1u32 << (bits - 8));
        let (ey, epb, epr) = match r {
            Range::Limited => (
                (f64::from(y) - 16.0 * scale) / (219.0 * scale),
                (f64::from(cb) - 128.0 * scale) / (224.0 * scale),
                (f64::from(cr) - 128.0 * scale) / (224.0 * scale),
            ),
            Range::Full => {
                let max = f64::from((1u32 << bits) - 1);
                (
                    f64::from(y) / max,
                    (f64::from(cb) - 128.0 * scale) / max,
                    (f64::from(cr) - 128.0 * scale) / max,
                )
            }
        };
        let (kr, kb) = kr_kb(m);
        let kg = 1.0 - kr - kb;
        let red = ey + 2.0 * (1.0 - kr) * epr;
        let blue = ey + 2.0 * (1.0 - kb) * epb;
        let green = (ey - kr * red - kb * blue) / kg;
        [red, green, blue].map(|v| v.clamp(0.0, 1.0))
    }
}

/// Deterministic sample values covering the whole code range, out-of-range
/// codes included (so clamping is exercised).
fn sample(x: u32, y: u32, salt: u32, bits: u32) -> u32 {
    let h = (x.wrapping_mul(0x9e37_79b1)
        ^ y.wrapping_mul(0x85eb_ca77)
        ^ salt.wrapping_mul(0xc2b2_ae3d))
    .rotate_left(13);
    let h = h.wrapping_mul(0x27d4_eb2f);
    (h >> 7) % (1 << bits)
}

/// The Y, Cb, Cr the test pattern has at (x, y) (chroma per 2x2, 2x1 or
/// 1x1 block).
pub fn yuv_at(fourcc: Fourcc, x: u32, y: u32) -> (u32, u32, u32) {
    let bits = bits(fourcc);
    let (dx, dy) = chroma_block(fourcc);
    (
        sample(x, y, 1, bits),
        sample(x / dx, y / dy, 2, bits),
        sample(x / dx, y / dy, 3, bits),
    )
}

/// Write the pattern into `frame` by its layout.
pub fn fill(frame: &Frame) {
    let layout = &frame.layout;
    let fourcc = layout.fourcc();
    let (w, h) = (layout.width(), layout.height());
    let planes = layout.planes();
    let mut guards: Vec<_> = frame
        .buffers
        .iter()
        .map(|b| b.begin_cpu_access(Access::Write).expect("begin write"))
        .collect();
    let mut put = |plane: usize, at: u64, bytes: &[u8]| {
        let p = planes[plane];
        let start = (p.offset + at) as usize;
        guards[p.buffer]
            .write_from(start, bytes)
            .expect("write inside the mapping");
    };
    let (dx, dy) = chroma_block(fourcc);
    for y in 0..h {
        for x in 0..w {
            let (luma, cb, cr) = yuv_at(fourcc, x, y);
            let (cx, cy) = (u64::from(x / dx), y / dy);
            let row = |plane: usize, r: u32| u64::from(planes[plane].stride) * u64::from(r);
            match fourcc {
                Fourcc::NV12 => {
                    put(0, row(0, y) + u64::from(x), &[luma as u8]);
                    put(
                        1,
                        row(1, y / 2) + u64::from(x / 2) * 2,
                        &[cb as u8, cr as u8],
                    );
                }
                Fourcc::YUV420 | Fourcc::YUV422 | Fourcc::YUV444 => {
                    put(0, row(0, y) + u64::from(x), &[luma as u8]);
                    put(1, row(1, cy) + cx, &[cb as u8]);
                    put(2, row(2, cy) + cx, &[cr as u8]);
                }
                // 16-bit little-endian, the code in the low bits.
                Fourcc::S010 | Fourcc::S210 | Fourcc::S410 => {
                    let le = |v: u32| (v as u16).to_le_bytes();
                    put(0, row(0, y) + u64::from(x) * 2, &le(luma));
                    put(1, row(1, cy) + cx * 2, &le(cb));
                    put(2, row(2, cy) + cx * 2, &le(cr));
                }
                Fourcc::YUYV => {
                    let base = row(0, y) + u64::from(x / 2) * 4;
                    put(0, base + u64::from(x & 1) * 2, &[luma as u8]);
                    put(0, base + 1, &[cb as u8]);
                    put(0, base + 3, &[cr as u8]);
                }
                Fourcc::P010 => {
                    put(
                        0,
                        row(0, y) + u64::from(x) * 2,
                        &((luma as u16) << 6).to_le_bytes(),
                    );
                    let c = row(1, y / 2) + u64::from(x / 2) * 4;
                    put(1, c, &((cb as u16) << 6).to_le_bytes());
                    put(1, c + 2, &((cr as u16) << 6).to_le_bytes());
                }
                other => panic!("no pattern for {other}"),
            }
        }
    }
}

/// Compare the converted output with the reference; the worst channel
/// difference in codes of the output's depth (8 or 10 bits: the output's
/// format, from its layout, says where each channel lies), and the first
/// pixel over `tolerance` if any.
pub fn check(
    fourcc: Fourcc,
    colour: Colorimetry,
    out_layout: &FrameLayout,
    out: &DmaBuf,
    tolerance: u32,
) -> Result<u32, String> {
    let bits = bits(fourcc);
    let packing = *out_layout
        .format()
        .rgb_packing()
        .ok_or_else(|| format!("output {} is not packed RGB", out_layout.fourcc()))?;
    let max = f64::from(packing.max_code());
    let guard = out
        .begin_cpu_access(Access::Read)
        .map_err(|e| e.to_string())?;
    // The device wrote it: copied out, never borrowed as a slice.
    let data = guard.to_vec();
    let p = out_layout.planes()[0];
    let mut worst = 0u32;
    for y in 0..out_layout.height() {
        for x in 0..out_layout.width() {
            let (luma, cb, cr) = yuv_at(fourcc, x, y);
            let rgb = reference::to_rgb(luma, cb, cr, bits, colour.matrix, colour.range);
            let want = rgb.map(|v| (v * max).round() as u32);
            let at = (p.offset + u64::from(p.stride) * u64::from(y) + u64::from(x) * 4) as usize;
            let word = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            let got = packing.unpack(word);
            let alpha = packing.alpha(word);
            if alpha != packing.opaque_alpha() {
                return Err(format!(
                    "{fourcc} to {} {colour}: pixel ({x},{y}) alpha {alpha}, not opaque",
                    out_layout.fourcc()
                ));
            }
            for c in 0..3 {
                let diff = want[c].abs_diff(got[c]);
                worst = worst.max(diff);
                if diff > tolerance {
                    return Err(format!(
                        "{fourcc} to {} {colour}: pixel ({x},{y}) YCbCr ({luma},{cb},{cr}) got {got:?}, reference {want:?}",
                        out_layout.fourcc()
                    ));
                }
            }
        }
    }
    Ok(worst)
}
