//! `ZcBufferPool` on the real kernel: its buffers are dma-bufs, and a buffer
//! that a device still reads (an unsignalled fence on its dma-buf, here a
//! vgem read fence standing in for a compositor or GPU) is not handed out
//! again until that fence signals.

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstzerocopy::allocator::{BackendSetting, ZcDmaBufAllocator};
use gstzerocopy::pool::ZcBufferPool;
use zc_dmabuf::DmaBuf;
use zc_vm_tests::vgem::Vgem;
use zc_vm_tests::{load_vgem, require_vm};

fn single_buffer_pool() -> ZcBufferPool {
    gst::init().expect("gst::init");
    let pool = ZcBufferPool::new(&ZcDmaBufAllocator::new(BackendSetting::Heap));
    let caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 640, 480)
        .build()
        .expect("info")
        .to_caps()
        .expect("caps");
    let mut config = pool.config();
    // One buffer only, so the next acquire must be the very buffer released.
    config.set_params(Some(&caps), 0, 1, 1);
    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
    pool.set_config(config).expect("set_config");
    pool.set_active(true).expect("activate");
    pool
}

fn dup_of_first_memory(buffer: &gst::Buffer) -> DmaBuf {
    let memory = buffer.peek_memory(0);
    let dmabuf = memory
        .downcast_memory_ref::<gst_allocators::DmaBufMemory>()
        .expect("pool memory is GstDmaBufMemory");
    // SAFETY: the memory owns the fd and outlives this borrow; we only dup it.
    let fd = unsafe { BorrowedFd::borrow_raw(dmabuf.fd()) }
        .try_clone_to_owned()
        .expect("dup");
    DmaBuf::from_fd(fd).expect("a real dma-buf")
}

#[test]
fn heap_pool_hands_out_dma_bufs() {
    require_vm();
    let pool = single_buffer_pool();
    let buffer = pool.acquire_buffer(None).expect("acquire");
    let dup = dup_of_first_memory(&buffer);
    assert!(dup.size() >= 640 * 480 * 3 / 2);
    drop(buffer);
    assert_eq!(pool.fence_waits(), 0);
    pool.set_active(false).expect("deactivate");
}

#[test]
fn a_buffer_a_device_still_reads_is_not_reused_until_its_fence_signals() {
    let card = load_vgem();
    let pool = single_buffer_pool();
    let vgem = Vgem::open(card).expect("open vgem");

    let buffer = pool.acquire_buffer(None).expect("acquire");
    let dup = dup_of_first_memory(&buffer);
    let handle = vgem.handle_for(&dup).expect("import into vgem");
    // The "compositor" starts reading the frame...
    let fence = vgem
        .attach_fence(&handle, false)
        .expect("attach a read fence");
    // ...and GStreamer is done with it: it goes back to the pool.
    drop(buffer);

    let signal_after = Duration::from_millis(700);
    let started = Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(signal_after);
            vgem.signal_fence(fence).expect("signal");
        });
        let again = pool.acquire_buffer(None).expect("acquire after the fence");
        let waited = started.elapsed();
        assert!(
            waited >= signal_after - Duration::from_millis(50),
            "acquire returned after {waited:?}, before the reader was done"
        );
        assert_eq!(pool.fence_waits(), 1);
        drop(again);
    });
    drop(handle);
    pool.set_active(false).expect("deactivate");
}
