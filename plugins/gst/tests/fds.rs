//! fd accounting, in a process of its own so no other test opens fds while
//! this one counts (one test function: libtest runs tests on parallel threads).

// Test code: a failed expectation is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gst::prelude::*;
use gstzerocopy::allocator::{BackendSetting, ZcDmaBufAllocator};
use gstzerocopy::pool::ZcBufferPool;

use zc_dmabuf::fds::count as fd_count;

#[test]
fn memory_and_pools_close_every_fd() {
    gst::init().expect("gst::init");
    let allocator = ZcDmaBufAllocator::new(BackendSetting::Memfd);
    // The first allocation opens the backend; count from after it.
    drop(allocator.alloc(4096, None).expect("alloc"));

    let before = fd_count();
    let memories: Vec<gst::Memory> = (0..200)
        .map(|_| allocator.alloc(4096, None).expect("alloc"))
        .collect();
    assert_eq!(fd_count(), before + 200, "each memory holds its own fd");
    drop(memories);
    assert_eq!(fd_count(), before, "freeing the memories closed their fds");

    for round in 0..20 {
        let pool = ZcBufferPool::new(&allocator);
        let caps =
            gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 320 + round * 16, 240)
                .build()
                .expect("info")
                .to_caps()
                .expect("caps");
        let mut config = pool.config();
        config.set_params(Some(&caps), 0, 4, 0);
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META.as_ref());
        pool.set_config(config).expect("set_config");
        pool.set_active(true).expect("activate");
        let buffers: Vec<gst::Buffer> = (0..6)
            .map(|_| pool.acquire_buffer(None).expect("acquire"))
            .collect();
        drop(buffers);
        pool.set_active(false).expect("deactivate");
    }
    assert_eq!(
        fd_count(),
        before,
        "20 pools of changing sizes left fds behind"
    );
}
