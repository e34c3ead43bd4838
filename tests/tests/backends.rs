//! Each dma-buf backend, on the real 6.12 kernel: allocate, write a pattern
//! inside a write bracket, and read it back byte-exact through a second,
//! independent mapping of a dup'd fd inside a read bracket.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

use zc_dmabuf::alloc::{self, open_backend};
use zc_dmabuf::{
    Access, AllocatorOptions, Backend, BackendChoice, BracketStats, Error, Fourcc, FrameRequest,
};
use zc_vm_tests::{check_pattern, fill_pattern, load_vgem, require_vm};

fn gbm_options() -> AllocatorOptions {
    AllocatorOptions {
        drm_node: Some(PathBuf::from(load_vgem())),
        ..Default::default()
    }
}

fn fdinfo(fd: &impl AsFd) -> String {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_fd().as_raw_fd()))
        .expect("fdinfo")
}

fn round_trip(backend: Backend, options: &AllocatorOptions, request: FrameRequest, exporter: &str) {
    let allocator = open_backend(backend, options)
        .unwrap_or_else(|e| panic!("{backend} must open in the VM: {e}"));
    let frame = allocator
        .allocate(&request)
        .unwrap_or_else(|e| panic!("{backend}: allocate: {e}"));
    let writer = &frame.buffers[0];
    assert!(writer.is_dma_buf(), "{backend} must hand out real dma-bufs");
    assert!(writer.size() >= frame.layout.plane_end(frame.layout.planes().len() - 1));
    let info = fdinfo(writer);
    assert!(
        info.contains(&format!("exp_name:\t{exporter}")),
        "{backend} exporter in fdinfo:\n{info}"
    );
    assert!(
        info.contains(&format!(
            "name:\tzc {} {}x{}",
            request.fourcc, request.width, request.height
        )),
        "{backend}: DMA_BUF_SET_NAME:\n{info}"
    );

    let seed = backend as u8 + 7;
    {
        let mut access = writer.begin_cpu_access(Access::Write).expect("begin write");
        let mut bytes = vec![0; access.len()];
        fill_pattern(&mut bytes, seed);
        access.write_from(0, &bytes).expect("write");
    }
    let reader = writer.try_clone().expect("dup");
    assert_ne!(reader.as_fd().as_raw_fd(), writer.as_fd().as_raw_fd());
    let access = reader.begin_cpu_access(Access::Read).expect("begin read");
    assert_eq!(
        check_pattern(&access.to_vec(), seed),
        None,
        "{backend}: bytes differ through the second mapping"
    );
    drop(access);
    assert_eq!(writer.bracket_stats(), BracketStats { begun: 1, ended: 1 });
    assert_eq!(reader.bracket_stats(), BracketStats { begun: 1, ended: 1 });
}

#[test]
fn heap_round_trip() {
    require_vm();
    round_trip(
        Backend::Heap,
        &AllocatorOptions::default(),
        FrameRequest::new(Fourcc::NV12, 1920, 1080),
        "system",
    );
}

#[test]
fn udmabuf_round_trip() {
    require_vm();
    round_trip(
        Backend::Udmabuf,
        &AllocatorOptions::default(),
        FrameRequest::new(Fourcc::NV12, 1920, 1080),
        "udmabuf",
    );
}

#[test]
fn gbm_round_trip_on_vgem() {
    let options = gbm_options();
    round_trip(
        Backend::Gbm,
        &options,
        FrameRequest::new(Fourcc::XRGB8888, 1920, 1080),
        "drm",
    );
}

#[test]
fn gbm_layout_comes_from_the_driver() {
    let allocator = open_backend(Backend::Gbm, &gbm_options()).expect("gbm on vgem");
    let frame = allocator
        .allocate(&FrameRequest::new(Fourcc::XRGB8888, 333, 77))
        .expect("allocate odd size");
    let plane = frame.layout.planes()[0];
    assert!(
        u64::from(plane.stride) >= 333 * 4,
        "stride {} holds a row",
        plane.stride
    );
    assert!(frame.buffers[0].size() >= frame.layout.plane_end(0));
}

#[test]
fn gbm_refuses_what_vgem_cannot_do_with_a_clear_error() {
    let allocator = open_backend(Backend::Gbm, &gbm_options()).expect("gbm on vgem");
    // ENVIRONMENT.md: Mesa's GBM on vgem has no NV12.
    let err = allocator
        .allocate(&FrameRequest::new(Fourcc::NV12, 64, 64))
        .expect_err("vgem has no NV12");
    let message = err.to_string();
    assert!(
        message.contains("NV12") && message.contains("/dev/dri/card0"),
        "{message}"
    );
}

#[test]
fn every_backend_allocates_named_byte_buffers() {
    let gbm = gbm_options();
    for (backend, options) in [
        (Backend::Heap, AllocatorOptions::default()),
        (Backend::Udmabuf, AllocatorOptions::default()),
        (Backend::Gbm, gbm),
    ] {
        let allocator = open_backend(backend, &options).expect("open");
        let buffer = allocator
            .allocate_bytes(100_000, "zc bytes")
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        assert!(buffer.is_dma_buf());
        assert!(
            buffer.size() >= 100_000,
            "{backend}: {} bytes",
            buffer.size()
        );
        assert!(
            fdinfo(&buffer).contains("name:\tzc bytes"),
            "{backend}: {}",
            fdinfo(&buffer)
        );
        let mut access = buffer.begin_cpu_access(Access::Write).expect("begin");
        access.write_from(99_999, &[1]).expect("write");
    }
}

#[test]
fn auto_picks_the_heap_in_the_vm() {
    require_vm();
    let allocator = alloc::open(BackendChoice::Auto, &AllocatorOptions::default()).expect("auto");
    assert_eq!(allocator.backend(), Backend::Heap);
    assert_eq!(allocator.device(), "/dev/dma_heap/system");
}

#[test]
fn udmabuf_over_the_module_limit_names_the_limit() {
    require_vm();
    let limit_mib: u64 = std::fs::read_to_string("/sys/module/udmabuf/parameters/size_limit_mb")
        .expect("udmabuf size_limit_mb parameter")
        .trim()
        .parse()
        .expect("a number");
    let allocator = open_backend(Backend::Udmabuf, &AllocatorOptions::default()).expect("udmabuf");
    // 8K XRGB8888 is 127 MiB: over the default 64 MiB limit.
    let err = allocator
        .allocate(&FrameRequest::new(Fourcc::XRGB8888, 7680, 4320))
        .expect_err("over the limit");
    assert!(
        matches!(err, Error::UdmabufTooLarge { limit_mib: l, .. } if l == limit_mib),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&format!("{limit_mib} MiB")),
        "{err}"
    );
}

#[test]
fn a_missing_heap_is_reported_with_its_name() {
    require_vm();
    let options = AllocatorOptions {
        heap_name: "linux,cma".into(),
        ..Default::default()
    };
    match open_backend(Backend::Heap, &options) {
        // This kernel has no CMA heap: the error must say which node and why.
        Err(err) => assert!(err.to_string().contains("/dev/dma_heap/linux,cma"), "{err}"),
        // If it does, it must allocate from it.
        Ok(allocator) => {
            allocator
                .allocate(&FrameRequest::new(Fourcc::XRGB8888, 64, 64))
                .expect("cma allocation");
        }
    }
}
