//! GPU conversion against a CPU reference, for every format x matrix x
//! range, plus layouts the importer must refuse.
//!
//! Natively (no dma-buf exporter in the kernel) the frames are memfds and
//! go through the VkBuffer path; the VM suite (tests/tests/vulkan.rs) runs
//! the same checks on dma-bufs through the image path.

use std::sync::Arc;

use zc_dmabuf::{
    Access, Allocator, DmaBuf, Fourcc, Frame, FrameLayout, FrameRequest, MemfdAllocator, Modifier,
};
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, Error, ImportPath, Matrix,
    Range,
};

mod reference {
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
        let q = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        [q(red), q(green), q(blue), 255]
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

/// The Y, Cb, Cr the test pattern has at (x, y) (chroma per 2x2 or 2x1 block).
fn yuv_at(fourcc: Fourcc, x: u32, y: u32) -> (u32, u32, u32) {
    let bits = if fourcc == Fourcc::P010 { 10 } else { 8 };
    let cy = if fourcc == Fourcc::YUYV { y } else { y / 2 };
    (
        sample(x, y, 1, bits),
        sample(x / 2, cy, 2, bits),
        sample(x / 2, cy, 3, bits),
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
        let data = guards[p.buffer].data_mut().expect("writable mapping");
        let start = (p.offset + at) as usize;
        data[start..start + bytes.len()].copy_from_slice(bytes);
    };
    for y in 0..h {
        for x in 0..w {
            let (luma, cb, cr) = yuv_at(fourcc, x, y);
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
                Fourcc::YUV420 => {
                    put(0, row(0, y) + u64::from(x), &[luma as u8]);
                    put(1, row(1, y / 2) + u64::from(x / 2), &[cb as u8]);
                    put(2, row(2, y / 2) + u64::from(x / 2), &[cr as u8]);
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
/// difference, and the first pixel over `tolerance` if any.
pub fn check(
    fourcc: Fourcc,
    colour: Colorimetry,
    out_layout: &FrameLayout,
    out: &DmaBuf,
    tolerance: u8,
) -> Result<u8, String> {
    let bits = if fourcc == Fourcc::P010 { 10 } else { 8 };
    let guard = out
        .begin_cpu_access(Access::Read)
        .map_err(|e| e.to_string())?;
    let data = guard.data();
    let p = out_layout.planes()[0];
    let mut worst = 0u8;
    for y in 0..out_layout.height() {
        for x in 0..out_layout.width() {
            let (luma, cb, cr) = yuv_at(fourcc, x, y);
            let want = reference::to_rgba(luma, cb, cr, bits, colour.matrix, colour.range);
            let at = (p.offset + u64::from(p.stride) * u64::from(y) + u64::from(x) * 4) as usize;
            let got = &data[at..at + 4];
            for c in 0..4 {
                let diff = want[c].abs_diff(got[c]);
                worst = worst.max(diff);
                if diff > tolerance {
                    return Err(format!(
                        "{fourcc} {colour}: pixel ({x},{y}) YCbCr ({luma},{cb},{cr}) got {got:?}, reference {want:?}"
                    ));
                }
            }
        }
    }
    Ok(worst)
}

fn converter() -> Converter {
    let ctx: Arc<Context> =
        Context::new(&DeviceChoice::Auto).expect("a Vulkan device (lavapipe: mesa-vulkan-drivers)");
    eprintln!("device {}: {:?}", ctx.info(), ctx.capabilities());
    Converter::new(ctx, ConverterOptions::default()).expect("converter")
}

const FORMATS: [Fourcc; 4] = [Fourcc::NV12, Fourcc::YUV420, Fourcc::YUYV, Fourcc::P010];

#[test]
fn every_format_matrix_and_range_matches_the_cpu_reference() {
    let mut conv = converter();
    // Odd sizes exercise the rounded-up chroma and partial workgroups.
    for (w, h) in [(64, 32), (37, 19)] {
        for fourcc in FORMATS {
            let frame = MemfdAllocator
                .allocate(&FrameRequest::new(fourcc, w, h))
                .expect("memfd frame");
            fill(&frame);
            for matrix in Matrix::ALL {
                for range in Range::ALL {
                    let colour = Colorimetry { matrix, range };
                    let out = conv
                        .convert(&frame.layout, &frame.buffers, colour)
                        .expect("convert");
                    assert_eq!(out.layout.width(), w);
                    let worst = check(fourcc, colour, &out.layout, &out.buffer, 2)
                        .unwrap_or_else(|e| panic!("{e}"));
                    eprintln!("{fourcc} {w}x{h} {colour}: worst channel difference {worst}");
                }
            }
        }
    }
    eprintln!(
        "import path {:?}, output path {:?}",
        conv.import_path(),
        conv.output_path()
    );
    if !conv.context().capabilities().drm_format_modifier {
        assert_eq!(conv.import_path(), ImportPath::Buffers);
    }
    // One import per frame, however many conversions.
    assert_eq!(conv.cached_imports(), 8);
}

#[test]
fn conversions_of_one_frame_reuse_its_import() {
    let mut conv = converter();
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 32, 16))
        .expect("frame");
    fill(&frame);
    for _ in 0..20 {
        conv.convert(
            &frame.layout,
            &frame.buffers,
            Colorimetry::default_for_height(16),
        )
        .expect("convert");
    }
    assert_eq!(conv.cached_imports(), 1);
    conv.forget(&frame.buffers);
    assert_eq!(conv.cached_imports(), 0);
}

#[test]
fn a_tiled_modifier_without_the_extension_is_refused_naming_it() {
    let mut conv = converter();
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 64, 32))
        .expect("frame");
    // I915_FORMAT_MOD_Y_TILED
    let tiled = Modifier(0x0100_0000_0000_0002);
    let layout = frame.layout.with_modifier(tiled);
    let err = conv
        .convert(&layout, &frame.buffers, Colorimetry::default_for_height(32))
        .expect_err("tiled refused");
    let text = err.to_string();
    eprintln!("{text}");
    assert!(text.contains("NV12"), "{text}");
    assert!(text.contains("0x0100000000000002"), "{text}");
    if conv.context().capabilities().drm_format_modifier {
        assert!(matches!(err, Error::UnsupportedLayout { .. }), "{err:?}");
        assert!(text.contains("LINEAR"), "supported list missing: {text}");
    } else {
        assert!(
            matches!(err, Error::ModifierNeedsExtension { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn a_format_the_shader_does_not_know_is_refused() {
    let mut conv = converter();
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV21, 16, 16))
        .expect("frame");
    let err = conv
        .convert(
            &frame.layout,
            &frame.buffers,
            Colorimetry::default_for_height(16),
        )
        .expect_err("NV21");
    assert!(
        matches!(
            err,
            Error::UnsupportedFormat {
                fourcc: Fourcc::NV21
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("NV12, I420"), "{err}");
}

#[test]
fn device_choice_parses_index_path_and_auto() {
    assert_eq!("".parse::<DeviceChoice>().ok(), Some(DeviceChoice::Auto));
    assert_eq!(
        "1".parse::<DeviceChoice>().ok(),
        Some(DeviceChoice::Index(1))
    );
    assert_eq!(
        "/dev/dri/renderD128".parse::<DeviceChoice>().ok(),
        Some(DeviceChoice::DrmNode("/dev/dri/renderD128".into()))
    );
    assert!("gpu".parse::<DeviceChoice>().is_err());
    let err = Context::new(&DeviceChoice::Index(99)).expect_err("no 99th device");
    assert!(matches!(err, Error::DeviceNotFound { .. }), "{err:?}");
}
