//! No leaks: 10,000 allocate/map/bracket/free cycles on each backend end
//! with the same fd count and RSS within 1 MiB of the start.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use zc_dmabuf::alloc::open_backend;
use zc_dmabuf::{Access, AllocatorOptions, Backend, Fourcc, FrameRequest};
use zc_vm_tests::{fd_count, load_vgem, require_vm, rss_bytes};

const CYCLES: usize = 10_000;
const RSS_SLACK: u64 = 1024 * 1024;

fn cycle(backend: Backend, options: AllocatorOptions, request: FrameRequest) {
    let allocator = open_backend(backend, &options).unwrap_or_else(|e| panic!("{backend}: {e}"));
    let one = |i: usize| {
        let frame = allocator
            .allocate(&request)
            .unwrap_or_else(|e| panic!("{backend} cycle {i}: {e}"));
        let buffer = &frame.buffers[0];
        let mut access = buffer.begin_cpu_access(Access::ReadWrite).expect("begin");
        // Touch the first and last page so the mapping is really populated.
        access.write_from(0, &[i as u8]).expect("write");
        let last = access.len() - 1;
        access.write_from(last, &[i as u8]).expect("write");
    };
    // Warm up: allocator caches, lazily grown tables, the test harness itself.
    (0..100).for_each(one);
    let (fds, rss) = (fd_count(), rss_bytes());
    (0..CYCLES).for_each(one);
    let (fds_after, rss_after) = (fd_count(), rss_bytes());
    println!(
        "{backend}: {CYCLES} cycles, fds {fds} -> {fds_after}, RSS {} KiB -> {} KiB",
        rss / 1024,
        rss_after / 1024
    );
    assert_eq!(fds_after, fds, "{backend}: fd count changed");
    assert!(
        rss_after <= rss + RSS_SLACK,
        "{backend}: RSS grew by {} KiB",
        (rss_after - rss) / 1024
    );
}

#[test]
fn heap_does_not_leak() {
    require_vm();
    cycle(
        Backend::Heap,
        AllocatorOptions::default(),
        FrameRequest::new(Fourcc::NV12, 320, 240),
    );
}

#[test]
fn udmabuf_does_not_leak() {
    require_vm();
    cycle(
        Backend::Udmabuf,
        AllocatorOptions::default(),
        FrameRequest::new(Fourcc::NV12, 320, 240),
    );
}

#[test]
fn gbm_does_not_leak() {
    let node = PathBuf::from(load_vgem());
    cycle(
        Backend::Gbm,
        AllocatorOptions {
            drm_node: Some(node),
            ..Default::default()
        },
        FrameRequest::new(Fourcc::XRGB8888, 320, 240),
    );
}
