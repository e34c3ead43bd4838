//! The `zcdmabuf` allocator natively: memfd backend, registration, params,
//! and errors that name what is missing. The dma-buf backends are exercised
//! in the VM suite.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use gstzerocopy::allocator::{ALLOCATOR_NAME, BackendSetting, ZcDmaBufAllocator};
use zc_dmabuf::{Backend, Fourcc, FrameRequest};

fn init() {
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("registering the zerocopy plugin");
}

#[test]
fn registered_under_its_name() {
    init();
    let found =
        gst::Allocator::find(Some(ALLOCATOR_NAME)).expect("gst_allocator_find(\"zcdmabuf\")");
    assert!(found.is::<ZcDmaBufAllocator>());
    assert!(found.is::<gst_allocators::DmaBufAllocator>());
}

#[test]
fn memfd_memory_round_trips_and_is_not_passed_off_as_dma_buf() {
    init();
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Memfd);
    let mut memory = allocator.alloc(10_000, None).expect("alloc");
    assert!(
        memory.is_memory_type::<gst_allocators::FdMemory>(),
        "memfd memory is GstFdMemory"
    );
    assert!(
        !memory.is_memory_type::<gst_allocators::DmaBufMemory>(),
        "a memfd must never look like a dma-buf"
    );
    assert_eq!(memory.size(), 10_000);
    {
        let memory = memory.get_mut().expect("writable");
        let mut map = memory.map_writable().expect("map writable");
        map.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i % 253) as u8);
    }
    let map = memory.map_readable().expect("map readable");
    assert!(map.iter().enumerate().all(|(i, b)| *b == (i % 253) as u8));
}

#[test]
fn allocation_params_prefix_and_padding_are_honoured() {
    init();
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Memfd);
    let params = gst::AllocationParams::new(gst::MemoryFlags::empty(), 0, 64, 128);
    let memory = allocator.alloc(1000, Some(&params)).expect("alloc");
    let (offset, max_size) = (memory.offset(), memory.maxsize());
    assert_eq!((memory.size(), offset), (1000, 64));
    assert!(max_size >= 64 + 1000 + 128, "maxsize {max_size}");
}

#[test]
fn frames_get_zc_layouts_and_one_memory_per_buffer() {
    init();
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Memfd);
    assert_eq!(allocator.backend().expect("memfd opens"), Backend::Memfd);
    let frame = allocator
        .allocate_frame(&FrameRequest::new(Fourcc::NV12, 1920, 1080))
        .expect("allocate");
    assert_eq!(frame.memories.len(), 1);
    assert_eq!(frame.layout.planes()[0].stride, 2048);
    assert_eq!(frame.memories[0].size() as u64, frame.layout.buffer_size());
}

#[test]
fn a_missing_heap_is_an_error_that_names_it() {
    init();
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Heap);
    allocator.set_property("heap-name", "zc-no-such-heap");
    assert!(
        allocator.alloc(4096, None).is_err(),
        "alloc must fail, not crash"
    );
    let err = allocator
        .allocate_frame(&FrameRequest::new(Fourcc::NV12, 64, 64))
        .expect_err("no such heap");
    assert!(
        err.to_string().contains("/dev/dma_heap/zc-no-such-heap"),
        "{err}"
    );
    // Changing a property re-opens the backend.
    allocator.set_property("backend", BackendSetting::Memfd);
    assert!(allocator.alloc(4096, None).is_ok());
}

#[test]
fn properties_read_back() {
    init();
    let allocator = ZcDmaBufAllocator::default();
    assert_eq!(
        allocator.property::<BackendSetting>("backend"),
        BackendSetting::Auto
    );
    assert_eq!(allocator.property::<String>("heap-name"), "system");
    assert_eq!(allocator.property::<Option<String>>("drm-node"), None);
    allocator.set_property("drm-node", "/dev/dri/card0");
    assert_eq!(
        allocator.property::<Option<String>>("drm-node").as_deref(),
        Some("/dev/dri/card0")
    );
}
