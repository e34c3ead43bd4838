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
    Range,
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
