//! The `zcdmabuf` GStreamer allocator on the real kernel: its memory is
//! GstDmaBufMemory, and bytes written through GStreamer's own map (which
//! GstDmaBufAllocator brackets with DMA_BUF_IOCTL_SYNC) read back through an
//! independent mapping of a dup'd fd inside a zc read bracket.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::BorrowedFd;

use gst::prelude::*;
use gstzerocopy::allocator::{BackendSetting, ZcDmaBufAllocator};
use zc_dmabuf::{Access, Backend, DmaBuf, Fourcc, FrameRequest};
use zc_vm_tests::{check_pattern, fd_count, fill_pattern, require_vm};

fn round_trip(setting: BackendSetting, expected: Backend) {
    require_vm();
    gst::init().expect("gst::init");
    let allocator = ZcDmaBufAllocator::new(setting);
    assert_eq!(
        allocator.backend().expect("backend opens in the VM"),
        expected
    );
    let fds_before = fd_count();
    {
        let frame = allocator
            .allocate_frame(&FrameRequest::new(Fourcc::NV12, 1280, 720))
            .expect("allocate_frame");
        let mut memory = frame.memories.into_iter().next().expect("one memory");
        let dmabuf = memory
            .downcast_memory_ref::<gst_allocators::DmaBufMemory>()
            .expect("GstDmaBufMemory");
        let raw_fd = dmabuf.fd();
        {
            let memory = memory.get_mut().expect("writable");
            let mut map = memory.map_writable().expect("gst map");
            fill_pattern(&mut map, 9);
        }
        // SAFETY: the memory owns `raw_fd` and outlives this borrow; we only dup it.
        let fd = unsafe { BorrowedFd::borrow_raw(raw_fd) }
            .try_clone_to_owned()
            .expect("dup");
        let second = DmaBuf::from_fd(fd).expect("the memory's fd is a real dma-buf");
        let access = second.begin_cpu_access(Access::Read).expect("read bracket");
        assert_eq!(
            check_pattern(&access.to_vec()[..memory.size()], 9),
            None,
            "bytes differ through the second mapping"
        );
    }
    assert_eq!(
        fd_count(),
        fds_before,
        "the memory closed its fd when freed"
    );
}

#[test]
fn heap_memory_is_a_real_dma_buf() {
    round_trip(BackendSetting::Heap, Backend::Heap);
}

#[test]
fn udmabuf_memory_is_a_real_dma_buf() {
    round_trip(BackendSetting::Udmabuf, Backend::Udmabuf);
}

#[test]
fn auto_is_registered_and_allocates_dma_bufs() {
    require_vm();
    gst::init().expect("gst::init");
    gstzerocopy::plugin_register_static().expect("register");
    let allocator = gst::Allocator::find(Some("zcdmabuf")).expect("registered");
    let memory = allocator.alloc(100_000, None).expect("alloc");
    assert!(memory.is_memory_type::<gst_allocators::DmaBufMemory>());
    assert_eq!(memory.size(), 100_000);
}
