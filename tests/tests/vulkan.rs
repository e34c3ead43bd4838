//! The Vulkan importer on real dma-bufs: lavapipe in the VM has
//! `VK_EXT_image_drm_format_modifier`, so frames go through the image path
//! with explicit plane layouts. Buffers from every backend (heap, udmabuf,
//! GBM on vgem) and from vivid are imported; conversions are checked
//! against the CPU reference shared with the native tests.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use zc_dmabuf::alloc::open_backend;
use zc_dmabuf::{
    AllocatorOptions, Backend, DmaBuf, Fourcc, Frame, FrameLayout, FrameRequest, Modifier,
    PlaneLayout,
};
use zc_vm_tests::v4l2::{Capture, PIX_FMT_YUYV};
use zc_vm_tests::{fd_count, load_vgem, load_vivid, require_vm};
use zc_vulkan::{
    Colorimetry, Context, Converter, ConverterOptions, DeviceChoice, Error, ImportPath, Matrix,
    Range,
};

#[path = "../../plugins/vulkan/tests/pattern/mod.rs"]
mod pattern;

fn context() -> Arc<Context> {
    require_vm();
    let ctx = Context::new(&DeviceChoice::Auto).expect("lavapipe in the VM");
    eprintln!("device {}: {:?}", ctx.info(), ctx.capabilities());
    ctx
}

fn converter(force_buffer_path: bool) -> Converter {
    Converter::new(context(), ConverterOptions { force_buffer_path }).expect("converter")
}

fn allocate(backend: Backend, fourcc: Fourcc, width: u32, height: u32) -> Frame {
    let allocator =
        open_backend(backend, &AllocatorOptions::default()).expect("backend opens in the VM");
    let frame = allocator
        .allocate(&FrameRequest::new(fourcc, width, height))
        .expect("allocate");
    assert!(frame.buffers[0].is_dma_buf());
    frame
}

/// Every format x matrix x range on dma-bufs from `backend`, within 2.
fn convert_all(backend: Backend, conv: &mut Converter) {
    for fourcc in pattern::FORMATS {
        let frame = allocate(backend, fourcc, 38, 22);
        pattern::fill(&frame);
        for matrix in Matrix::ALL {
            for range in Range::ALL {
                let colour = Colorimetry { matrix, range };
                let out = conv
                    .convert(&frame.layout, &frame.buffers, colour)
                    .unwrap_or_else(|e| panic!("{fourcc}: {e}"));
                let worst = pattern::check(fourcc, colour, &out.layout, &out.buffer, 2)
                    .unwrap_or_else(|e| panic!("{backend}: {e}"));
                eprintln!(
                    "{backend} {fourcc} {colour}: worst difference {worst}, output {:?}",
                    out.buffer.kind()
                );
            }
        }
    }
}

#[test]
fn lavapipe_in_the_vm_has_the_modifier_extension() {
    let ctx = context();
    assert!(
        ctx.capabilities().drm_format_modifier,
        "{:?}",
        ctx.capabilities()
    );
}

#[test]
fn image_path_matches_the_reference_on_heap_buffers() {
    let mut conv = converter(false);
    assert_eq!(conv.import_path(), ImportPath::Images);
    convert_all(Backend::Heap, &mut conv);
    eprintln!("output path {:?}", conv.output_path());
}

#[test]
fn image_path_matches_the_reference_on_udmabuf_buffers() {
    let mut conv = converter(false);
    convert_all(Backend::Udmabuf, &mut conv);
}

#[test]
fn buffer_path_matches_the_reference_on_dma_bufs() {
    let mut conv = converter(true);
    assert_eq!(conv.import_path(), ImportPath::Buffers);
    convert_all(Backend::Heap, &mut conv);
}

/// One fd per plane: NV12 with Y and CbCr in separate dma-bufs.
#[test]
fn planes_in_separate_dma_bufs_import_and_convert() {
    let mut conv = converter(false);
    let whole = allocate(Backend::Heap, Fourcc::NV12, 32, 16);
    pattern::fill(&whole);
    // Copy each plane into its own buffer, at offset 0.
    let allocator = open_backend(Backend::Heap, &AllocatorOptions::default()).expect("heap");
    let src = whole.buffers[0]
        .begin_cpu_access(zc_dmabuf::Access::Read)
        .expect("read");
    let mut buffers = Vec::new();
    let mut planes = Vec::new();
    for (i, p) in whole.layout.planes().iter().enumerate() {
        let len = whole.layout.plane_end(i) - p.offset;
        let buf = allocator
            .allocate_bytes(len, "plane")
            .expect("plane buffer");
        {
            let mut dst = buf
                .begin_cpu_access(zc_dmabuf::Access::Write)
                .expect("write");
            let mut bytes = vec![0; len as usize];
            src.read_into(p.offset as usize, &mut bytes).expect("read");
            dst.write_from(0, &bytes).expect("write");
        }
        planes.push(PlaneLayout {
            buffer: i,
            offset: 0,
            stride: p.stride,
        });
        buffers.push(buf);
    }
    drop(src);
    let sizes: Vec<u64> = buffers.iter().map(DmaBuf::size).collect();
    let layout =
        FrameLayout::new(Fourcc::NV12, Modifier::LINEAR, 32, 16, &planes, &sizes).expect("layout");
    let colour = Colorimetry {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };
    let out = conv.convert(&layout, &buffers, colour).expect("convert");
    pattern::check(Fourcc::NV12, colour, &out.layout, &out.buffer, 2).expect("matches");
}

#[test]
fn gbm_xrgb_buffers_from_vgem_import_as_images() {
    let conv = converter(false);
    let options = AllocatorOptions {
        drm_node: Some(PathBuf::from(load_vgem())),
        ..Default::default()
    };
    let allocator = open_backend(Backend::Gbm, &options).expect("gbm on vgem");
    let frame = allocator
        .allocate(&FrameRequest::new(Fourcc::XRGB8888, 640, 480))
        .expect("gbm XR24");
    assert_eq!(
        conv.check_import(&frame.layout, &frame.buffers)
            .expect("import"),
        ImportPath::Images
    );
}

#[test]
fn vivid_frames_import_and_convert() {
    let mut conv = converter(false);
    let mut capture = Capture::open(load_vivid(), 640, 480, PIX_FMT_YUYV).expect("vivid");
    let count = capture.request_mmap_buffers(2).expect("REQBUFS");
    // Read-write: lavapipe maps imports read-write (see the end of the test).
    let fds: Vec<_> = (0..count)
        .map(|i| capture.export_with(i, libc::O_RDWR).expect("EXPBUF"))
        .collect();
    (0..count).for_each(|i| capture.queue(i).expect("QBUF"));
    capture.stream_on().expect("STREAMON");
    let (index, _, _) = capture.dequeue().expect("DQBUF");
    let buffer =
        DmaBuf::from_fd(fds[index as usize].try_clone().expect("dup")).expect("vivid dma-buf");
    let planes = [PlaneLayout {
        buffer: 0,
        offset: 0,
        stride: capture.bytesperline,
    }];
    let layout = FrameLayout::new(
        Fourcc::YUYV,
        Modifier::LINEAR,
        640,
        480,
        &planes,
        &[buffer.size()],
    )
    .expect("layout");
    let out = conv
        .convert(&layout, &[buffer], Colorimetry::default_for_height(480))
        .expect("convert vivid");
    // vivid's colour bars: the output is not one flat colour.
    let guard = out
        .buffer
        .begin_cpu_access(zc_dmabuf::Access::Read)
        .expect("read");
    let data = guard.to_vec();
    let row = &data[out.layout.planes()[0].stride as usize * 240..][..640 * 4];
    let distinct: std::collections::BTreeSet<&[u8]> = row.chunks(4).collect();
    assert!(
        distinct.len() >= 4,
        "only {} colours in the middle row",
        distinct.len()
    );
    drop(guard);
    // The same frame through a read-only fd: lavapipe refuses it, and says why.
    let read_only =
        DmaBuf::from_fd(capture.export(index).expect("EXPBUF read-only")).expect("dma-buf");
    match conv.check_import(&layout, &[read_only]) {
        Ok(path) => eprintln!("read-only vivid fd imported ({path:?})"),
        Err(e) => {
            eprintln!("read-only vivid fd: {e}");
            assert!(e.to_string().contains("read-only"), "{e}");
        }
    }
    capture.stream_off().expect("STREAMOFF");
}

#[test]
fn a_tiled_modifier_is_refused_with_what_the_device_supports() {
    let mut conv = converter(false);
    let frame = allocate(Backend::Heap, Fourcc::NV12, 64, 32);
    let layout = frame.layout.with_modifier(Modifier(0x0100_0000_0000_0002));
    let err = conv
        .convert(&layout, &frame.buffers, Colorimetry::default_for_height(32))
        .expect_err("refused");
    let text = err.to_string();
    eprintln!("{text}");
    assert!(matches!(err, Error::UnsupportedLayout { .. }), "{err:?}");
    assert!(
        text.contains("NV12") && text.contains("0x0100000000000002") && text.contains("LINEAR"),
        "{text}"
    );
}

#[test]
fn a_thousand_conversions_keep_the_fd_count_flat() {
    let mut conv = converter(false);
    let frames: Vec<Frame> = (0..4)
        .map(|_| allocate(Backend::Heap, Fourcc::NV12, 64, 32))
        .collect();
    let colour = Colorimetry::default_for_height(32);
    for f in &frames {
        drop(
            conv.convert(&f.layout, &f.buffers, colour)
                .expect("warm-up"),
        );
    }
    let before = fd_count();
    let start = std::time::Instant::now();
    for i in 0..1000 {
        let f = &frames[i % frames.len()];
        drop(
            conv.convert(&f.layout, &f.buffers, colour)
                .expect("convert"),
        );
    }
    eprintln!(
        "1000 conversions of 64x32 NV12 in {:?} (VM, software emulation)",
        start.elapsed()
    );
    assert_eq!(fd_count(), before, "fds leaked over 1000 conversions");
    assert_eq!(conv.live_imports(), 0);
}

/// The producer's pending write (a vgem fence on the input) is waited for
/// before the shader reads: by the GPU through a SYNC_FD semaphore where the
/// device has one (lavapipe in the VM does).
#[test]
fn the_conversion_waits_for_the_producers_fence() {
    let mut conv = converter(false);
    eprintln!("GPU-side sync: {}", conv.gpu_sync());
    let vgem = zc_vm_tests::vgem::Vgem::open(load_vgem()).expect("vgem");
    let frame = allocate(Backend::Heap, Fourcc::NV12, 64, 32);
    pattern::fill(&frame);
    let handle = vgem
        .handle_for(&frame.buffers[0])
        .expect("import into vgem");
    let fence = vgem.attach_fence(&handle, true).expect("vgem write fence");
    let colour = Colorimetry {
        matrix: Matrix::Bt601,
        range: Range::Full,
    };
    let delay = std::time::Duration::from_millis(1500);
    let start = std::time::Instant::now();
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(delay);
            vgem.signal_fence(fence).expect("signal the vgem fence");
        });
        conv.convert(&frame.layout, &frame.buffers, colour)
            .expect("convert")
    });
    let elapsed = start.elapsed();
    eprintln!("conversion behind a {delay:?} producer fence took {elapsed:?}");
    assert!(
        elapsed >= delay,
        "converted before the producer's fence signalled ({elapsed:?})"
    );
    pattern::check(Fourcc::NV12, colour, &out.layout, &out.buffer, 2).expect("matches");
    // The output carries no unsignalled fence once handed over.
    assert!(
        out.buffer
            .wait_idle(zc_dmabuf::Access::Write, Some(std::time::Duration::ZERO))
            .expect("poll")
    );
}
