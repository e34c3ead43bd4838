//! GPU conversion against a CPU reference, for every format x matrix x
//! range, plus layouts the importer must refuse.
//!
//! Natively (no dma-buf exporter in the kernel) the frames are memfds and
//! go through the VkBuffer path; the VM suite (tests/tests/vulkan.rs) runs
//! the same checks on dma-bufs through the image path.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use zc_dmabuf::{Allocator, Fourcc, FrameRequest, MemfdAllocator, Modifier};
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, Error, ImportPath, Matrix,
    OUTPUT_FORMATS, Range,
};

mod pattern;

use pattern::{FORMATS, check, fill};

fn converter() -> Converter {
    let ctx: Arc<Context> =
        Context::new(&DeviceChoice::Auto).expect("a Vulkan device (lavapipe: mesa-vulkan-drivers)");
    eprintln!("device {}: {:?}", ctx.info(), ctx.capabilities());
    Converter::new(ctx, ConverterOptions::default()).expect("converter")
}

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
    // One-off conversions keep no import behind.
    assert_eq!(conv.live_imports(), 0);
}

#[test]
fn every_output_format_matches_the_cpu_reference_at_its_depth() {
    let mut conv = converter();
    let colour = Colorimetry {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };
    for fourcc in [Fourcc::NV12, Fourcc::S010, Fourcc::P010, Fourcc::S410] {
        let frame = MemfdAllocator
            .allocate(&FrameRequest::new(fourcc, 37, 19))
            .expect("memfd frame");
        fill(&frame);
        for output in OUTPUT_FORMATS {
            let out = conv
                .convert_to(&frame.layout, &frame.buffers, colour, output)
                .expect("convert");
            assert_eq!(out.layout.fourcc(), output);
            // One code of 1023 is a quarter of one of 255: 10-bit outputs
            // are held to the same two codes, four times as fine.
            let worst = check(fourcc, colour, &out.layout, &out.buffer, 2)
                .unwrap_or_else(|e| panic!("{e}"));
            eprintln!("{fourcc} -> {output}: worst channel difference {worst}");
        }
    }
    // 10-bit input into a 10-bit output keeps codes an 8-bit output loses:
    // the 10-bit output of a 10-bit ramp has more distinct values.
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::S410, 64, 16))
        .expect("memfd frame");
    fill(&frame);
    let distinct = |output: Fourcc, conv: &mut Converter| {
        let out = conv
            .convert_to(&frame.layout, &frame.buffers, colour, output)
            .expect("convert");
        let packing = *out.layout.format().rgb_packing().expect("rgb");
        let data = out
            .buffer
            .begin_cpu_access(zc_dmabuf::Access::Read)
            .expect("map")
            .to_vec();
        let p = out.layout.planes()[0];
        let mut greens = std::collections::BTreeSet::new();
        for y in 0..16u64 {
            for x in 0..64u64 {
                let at = (p.offset + u64::from(p.stride) * y + x * 4) as usize;
                let word = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                greens.insert(packing.unpack(word)[1]);
            }
        }
        greens.len()
    };
    let eight = distinct(Fourcc::ABGR8888, &mut conv);
    let ten = distinct(Fourcc::XRGB2101010, &mut conv);
    eprintln!("distinct green codes: 8-bit output {eight}, 10-bit output {ten}");
    assert!(ten > eight, "10-bit {ten} vs 8-bit {eight}");
    // Not an output format: refused by name.
    let err = conv
        .convert_to(&frame.layout, &frame.buffers, colour, Fourcc::NV12)
        .expect_err("NV12 is no output");
    assert!(
        matches!(err, Error::UnsupportedOutputFormat { .. }),
        "{err}"
    );
}

#[test]
fn an_import_is_converted_many_times_and_freed_with_its_owner() {
    let mut conv = converter();
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 32, 16))
        .expect("frame");
    fill(&frame);
    let colour = Colorimetry::default_for_height(16);
    let fds_before = fds_open_on(&frame.buffers[0]);
    let import = conv.import(&frame.layout, &frame.buffers).expect("import");
    assert!(
        fds_open_on(&frame.buffers[0]) > fds_before,
        "the import holds a dup"
    );
    assert!(import.is_import_of(&conv, &frame.layout, &frame.buffers));
    assert_eq!(conv.live_imports(), 1);
    let out = conv.allocate_output(32, 16).expect("output");
    for _ in 0..20 {
        conv.convert_import_into(&import, colour, &out)
            .expect("convert");
    }
    check(Fourcc::NV12, colour, out.layout(), out.dmabuf(), 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(conv.live_imports(), 1, "converting must not import again");
    drop(import);
    assert_eq!(conv.live_imports(), 0);
    assert_eq!(
        fds_open_on(&frame.buffers[0]),
        fds_before,
        "the import's fds must close with it"
    );
}

#[test]
fn an_import_is_only_valid_for_its_own_converter_and_files() {
    let mut first = converter();
    let second = converter();
    let frame = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 32, 16))
        .expect("frame");
    let other = MemfdAllocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 32, 16))
        .expect("frame");
    let import = second
        .import(&frame.layout, &frame.buffers)
        .expect("import");
    assert!(!import.is_import_of(&first, &frame.layout, &frame.buffers));
    assert!(!import.is_import_of(&second, &other.layout, &other.buffers));
    let out = first.allocate_output(32, 16).expect("output");
    let err = first
        .convert_import_into(&import, Colorimetry::default_for_height(16), &out)
        .expect_err("another converter's import");
    assert!(err.to_string().contains("another converter"), "{err}");
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

/// How many of this process's fds are open on `file` (other tests run in
/// parallel threads, so a plain fd count would not be exact).
fn fds_open_on(file: &zc_dmabuf::DmaBuf) -> usize {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let target = std::fs::File::from(file.as_fd().try_clone_to_owned().expect("dup"))
        .metadata()
        .expect("fstat");
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::metadata(entry.path()).ok())
        .filter(|m| m.dev() == target.dev() && m.ino() == target.ino())
        .count()
}
